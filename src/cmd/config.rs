//! `universe config`: the effective configuration, one key a line, with where each value
//! came from (default, file, environment variable or flag). Passwords are redacted.

use std::io::Write as _;
use std::path::Path;

use serde_json::json;

use crate::exit::ExitCode;
use crate::settings::Settings;

pub fn run(settings: &Settings, file: Option<&Path>, as_json: bool) -> anyhow::Result<ExitCode> {
    if as_json {
        super::print_json(&json!({"config_file": file, "entries": settings.entries}))?;
        return Ok(ExitCode::Success);
    }
    let mut out = crate::output::stdout();
    match file {
        Some(path) => writeln!(out, "# config file: {}", path.display())?,
        None => writeln!(out, "# no config file (--config, UNIVERSE_CONFIG)")?,
    }
    let width = settings
        .entries
        .iter()
        .map(|e| e.key.len() + e.value.to_string().len())
        .max()
        .unwrap_or(0)
        + 3;
    for entry in &settings.entries {
        let line = format!("{} = {}", entry.key, entry.value);
        writeln!(out, "{line:<width$}# {}", entry.origin)?;
    }
    Ok(ExitCode::Success)
}
