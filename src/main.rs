//! The `digits` binary: parse the command line, dispatch to one subcommand,
//! print an error once as one line, and exit with a code that means something.

mod cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            if cmd::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("digits: {err:#}");
            cmd::exit_code_for(&err)
        }
    }
}
