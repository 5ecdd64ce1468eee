//! The `supplywatch` command: parse, set up logging, run, map to an exit code.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::parse();
    cli::init_tracing(&args);
    match cli::run(args) {
        // An answer that could not be written is a runtime failure: a
        // script must not read a success it never saw.
        Ok(_) if cli::output_lost() => ExitCode::from(3),
        Ok(code) => code.into(),
        Err(error) => {
            let code = cli::report_error(&error);
            ExitCode::from(code)
        }
    }
}
