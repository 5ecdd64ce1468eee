//! The `supplywatch` command: parse, set up logging, run, map to an exit code.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::parse();
    cli::init_tracing(&args);
    match cli::run(args) {
        Ok(code) => code.into(),
        Err(error) => {
            let code = cli::report_error(&error);
            ExitCode::from(code)
        }
    }
}
