//! The `digits` binary: parse the command line, dispatch to one subcommand,
//! print an error once as one line, and exit with a code that means something.

/// `eprintln!` that never panics: when standard error is closed, the
/// diagnostics are lost, not the job.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `println!` that returns the write error instead of panicking: a full
/// disk is an error with a message, a closed pipe (`| head`) a success.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        anyhow::Context::context(
            writeln!(std::io::stdout(), $($arg)*),
            "writing the results to standard output",
        )
    }};
}

mod cmd;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match cmd::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            if cmd::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            cmd::error(&format!("{err:#}"));
            cmd::exit_code_for(&err)
        }
    }
}
