//! The `universe` binary: parse, run, print the error once, exit with its code.

use clap::{CommandFactory as _, FromArgMatches as _};

fn main() -> std::process::ExitCode {
    let parsed = universe::cli::Cli::command()
        .try_get_matches()
        .and_then(|matches| Ok((universe::cli::Cli::from_arg_matches(&matches)?, matches)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            // --help and --version are "errors" that exit 0; usage errors exit 2
            let _ = error.print();
            return std::process::ExitCode::from(error.exit_code() as u8);
        }
    };
    let code = match universe::run(cli, &matches) {
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

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
