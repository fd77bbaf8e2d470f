//! The `universe` binary: parse, run, print the error once, exit with its code.

use clap::{CommandFactory as _, FromArgMatches as _};

fn main() -> std::process::ExitCode {
    let parsed = universe::cli::Cli::command()
        .try_get_matches()
        .and_then(|matches| universe::cli::Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            if let Some(message) = from_variable(&error) {
                universe::warn!("universe: error: {message}");
                return std::process::ExitCode::from(universe::ExitCode::Usage.code());
            }
            // --help and --version are "errors" that exit 0; usage errors exit 2
            let _ = error.print();
            return std::process::ExitCode::from(error.exit_code() as u8);
        }
    };
    let code = match universe::run(cli) {
        Ok(code) => code,
        // the reader went away (`universe show | head`): nothing left to say
        Err(error) if is_broken_pipe(&error) => universe::ExitCode::Success,
        Err(error) => {
            universe::warn!("universe: error: {error:#}");
            universe::exit::classify(&error)
        }
    };
    std::process::ExitCode::from(code.code())
}

/// clap names the flag when a bad value came from its environment variable
/// (`UNIVERSE_TOP=abc` reads "invalid value 'abc' for '--top <N>'"): say the variable.
fn from_variable(error: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        error.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let text = |kind| match error.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let flag = text(ContextKind::InvalidArg)?;
    let value = text(ContextKind::InvalidValue)?;
    let long = flag
        .split_whitespace()
        .next()?
        .strip_prefix("--")?
        .to_owned();
    let given_as_flag =
        std::env::args().any(|a| a == format!("--{long}") || a.starts_with(&format!("--{long}=")));
    if given_as_flag {
        return None;
    }
    let mut command = universe::cli::Cli::command();
    command.build();
    let env = all_args(&command)
        .find(|a| a.get_long() == Some(long.as_str()))?
        .get_env()?
        .to_string_lossy()
        .into_owned();
    if std::env::var(&env).ok().as_deref() != Some(value.as_str()) {
        return None;
    }
    let reason = error
        .to_string()
        .lines()
        .next()
        .and_then(|l| l.rsplit_once(": ").map(|(_, r)| r.to_owned()))
        .unwrap_or_default();
    Some(format!(
        "{env}={value:?}: not a valid value for --{long}: {reason}"
    ))
}

/// Every argument of `command` and its subcommands.
fn all_args(command: &clap::Command) -> Box<dyn Iterator<Item = &clap::Arg> + '_> {
    Box::new(
        command
            .get_arguments()
            .chain(command.get_subcommands().flat_map(all_args)),
    )
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
