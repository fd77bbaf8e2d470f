//! The settings table's flags on the command line: a subcommand flattens
//! `Knobs<{ on::MARKET | on::STORE }>` and gets every knob of those groups as a flag with
//! its variable, value name, help and default, all from [`crate::settings::knobs`].

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use toml::Value;

use crate::settings::knobs::{KNOBS, Kind, Knob, Text};
use crate::settings::{Origin, Overrides};

/// The knobs of the groups `ON` that the command line or the environment set.
#[derive(Debug, Clone, Default)]
pub struct Knobs<const ON: u8> {
    overrides: Overrides,
}

impl<const ON: u8> Knobs<ON> {
    /// The values given, by config key, with where each came from.
    pub fn overrides(&self) -> Overrides {
        self.overrides.clone()
    }

    fn knobs() -> impl Iterator<Item = &'static Knob> {
        KNOBS
            .iter()
            .filter(|k| k.flag.is_some_and(|f| f.on & ON != 0))
    }
}

impl<const ON: u8> clap::Args for Knobs<ON> {
    fn augment_args(command: Command) -> Command {
        Self::knobs().fold(command, |command, knob| command.arg(arg(knob)))
    }

    fn augment_args_for_update(command: Command) -> Command {
        Self::augment_args(command)
    }
}

impl<const ON: u8> clap::FromArgMatches for Knobs<ON> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut overrides = Overrides::default();
        for knob in Self::knobs() {
            if let Some((value, origin)) = given(knob, matches) {
                overrides.set(knob.key, value, origin);
            }
        }
        Ok(Self { overrides })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// The flag of `knob`: typed by its kind, so `--top many` is clap's usage error.
fn arg(knob: &'static Knob) -> Arg {
    let flag = knob.flag.expect("only knobs with a flag");
    let arg = Arg::new(knob.key)
        .long(flag.long)
        .env(flag.env)
        .help(help(knob))
        .hide_env_values(knob.kind == Kind::Text(Text::Secret));
    match knob.kind {
        Kind::Switch => arg.action(ArgAction::SetTrue),
        Kind::Number { .. } => arg
            .value_name(flag.value_name)
            .value_parser(value_parser!(f64)),
        Kind::Whole { .. } => arg
            .value_name(flag.value_name)
            .value_parser(value_parser!(u64)),
        _ => arg.value_name(flag.value_name),
    }
}

/// The knob's help as a sentence, with its default.
fn help(knob: &Knob) -> String {
    use std::fmt::Write as _;
    let mut text = knob.help.to_owned();
    if !text.ends_with('.') {
        text.push('.');
    }
    let default = knob.default.trim_matches('"');
    if knob.kind != Kind::Switch && !default.is_empty() {
        let _ = write!(text, " [default: {default}]");
    }
    text
}

/// The value the command line or the environment gave `knob`, as the TOML value the
/// resolver checks.
fn given(knob: &Knob, matches: &ArgMatches) -> Option<(Value, Origin)> {
    let flag = knob.flag?;
    let origin = match matches.value_source(knob.key)? {
        ValueSource::DefaultValue => return None,
        ValueSource::EnvVariable => Origin::Env(flag.env.to_owned()),
        _ => Origin::Flag(format!("--{}", flag.long)),
    };
    let value = match knob.kind {
        Kind::Switch if matches.get_flag(knob.key) => Value::Boolean(knob.switch_value()),
        Kind::Switch => return None,
        Kind::Number { .. } => Value::Float(*matches.get_one::<f64>(knob.key)?),
        Kind::Whole { .. } => {
            Value::Integer(i64::try_from(*matches.get_one::<u64>(knob.key)?).unwrap_or(i64::MAX))
        }
        _ => Value::String(matches.get_one::<String>(knob.key)?.clone()),
    };
    Some((value, origin))
}
