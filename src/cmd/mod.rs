//! One module per subcommand; each `run` reads like the table of contents of its job.

pub mod diff_hash;
pub mod generate;
pub mod proof;
pub mod show;
pub mod snapshot;

use std::io::Write;

/// Writes `value` as pretty JSON and a newline on stdout.
fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}
