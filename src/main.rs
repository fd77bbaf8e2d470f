//! The `universe` binary: parse, run, print the error once, exit with its code.

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let cli = match universe::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version are "errors" that exit 0; usage errors exit 2
            let _ = error.print();
            return std::process::ExitCode::from(error.exit_code() as u8);
        }
    };
    let code = match universe::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("universe: error: {error:#}");
            universe::exit::classify(&error)
        }
    };
    std::process::ExitCode::from(code.code())
}
