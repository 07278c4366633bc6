//! Command-line layer: clap definitions, one file per subcommand. Each
//! subcommand parses its flags into an options struct and calls the library;
//! nothing here computes features or trains models.

mod adapt;
mod completions;
mod eval;
mod fetch;
mod listen;
mod man;
mod predict;
mod progress;
mod record;
mod serve;
mod train;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Exit code: the job ran and succeeded.
#[allow(dead_code)] // documents the code `ExitCode::SUCCESS` gives
pub const EXIT_OK: u8 = 0;
/// Exit code: the job ran but failed (network, disk; inputs that could not be
/// classified are bad input, 2).
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad usage or bad input (a missing or corrupt file, a bad flag).
pub const EXIT_BAD_INPUT: u8 = 2;

const AFTER_HELP: &str = "\
Exit codes: 0 success, 1 the job failed (network, full disk), 2 bad usage or
bad input, 130 stopped with Ctrl-C.

Examples:
  digits predict recording.wav
  digits listen --auto
  digits fetch && digits train --out my.model
  digits completions bash > ~/.local/share/bash-completion/completions/digits";

/// Hear a spoken digit (0-9) and say which one.
///
/// MFCC front end + RBF SVM; the default model is built in, so `predict`
/// and `listen` work offline with no data.
#[derive(Debug, Parser)]
#[command(name = "digits", version, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download the Free Spoken Digit Dataset from Hugging Face into the local cache
    #[command(after_help = "Example:\n  digits fetch            # then: digits train")]
    Fetch(fetch::FetchArgs),
    /// Train a model on FSDD (a folder of WAVs or the fetched parquet files)
    #[command(
        after_help = "Example:\n  digits train --data ../shared/fsdd/recordings --out my.model"
    )]
    Train(train::TrainArgs),
    /// Measure a model: accuracy, macro-F1, per-class report, confusion matrix, speed
    #[command(
        after_help = "Example:\n  digits eval --data ../shared/fsdd/recordings --split official"
    )]
    Eval(eval::EvalArgs),
    /// Classify WAV files: one line per file
    #[command(after_help = "Example:\n  digits predict --top 3 one.wav two.wav")]
    Predict(predict::PredictArgs),
    /// Listen to the microphone and print the digits you say
    #[command(after_help = listen::AFTER_HELP)]
    Listen(listen::ListenArgs),
    /// Record your own takes of each digit, checked, for `digits adapt`
    #[command(
        after_help = "Example:\n  digits record --speaker ann --out my-voice     # then: digits adapt --data my-voice --out me.model"
    )]
    Record(record::RecordArgs),
    /// Serve a page and an HTTP/WebSocket API that recognize digits
    #[command(after_help = serve::AFTER_HELP)]
    Serve(serve::ServeArgs),
    /// Teach a model your voice: a personal model from your own takes
    #[command(
        after_help = "Example:\n  digits adapt --data my-voice --out me.model && digits predict --model me.model clip.wav"
    )]
    Adapt(adapt::AdaptArgs),
    /// Print a shell completion script
    #[command(after_long_help = completions::AFTER_LONG_HELP)]
    Completions(completions::CompletionsArgs),
    /// Print the manual page (roff), of digits or of one command
    #[command(after_help = "Example:\n  digits man > digits.1 && man ./digits.1")]
    Man(man::ManArgs),
}

/// Parses the command line. Help and the version go out as clap writes
/// them (exit 0); a usage error becomes one line in the style of every
/// other error, `digits: PROBLEM; FIX` (exit 2).
pub fn parse() -> Result<Cli, ExitCode> {
    use clap::error::ErrorKind;
    Cli::try_parse().map_err(|e| match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(EXIT_BAD_INPUT))
        }
        _ => {
            error(&usage_error_line(&e));
            ExitCode::from(EXIT_BAD_INPUT)
        }
    })
}

/// Prints an error on standard error: `digits: MESSAGE`, one line. The
/// same style for every error, clap's usage errors included, with no
/// colour, so a terminal, a pipe and `NO_COLOR` all read the same.
pub fn error(msg: &str) {
    note!("digits: {msg}");
}

/// Prints a warning on standard error: `digits: warning: MESSAGE`.
pub fn warning(msg: &str) {
    note!("digits: warning: {msg}");
}

/// Prints a note on standard error: `digits: note: MESSAGE`.
pub fn notice(msg: &str) {
    note!("digits: note: {msg}");
}

/// clap's usage error as one line without its `error:` prefix or colour:
/// the problem, clap's tips, the usage, and where the full help is.
fn usage_error_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let (mut problem, mut tips, mut usage) = (String::new(), Vec::new(), String::new());
    for block in text.split("\n\n") {
        let joined = block
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if let Some(rest) = joined.strip_prefix("error: ") {
            problem = rest.to_string();
        } else if let Some(rest) = joined.strip_prefix("tip: ") {
            tips.push(rest.to_string());
        } else if let Some(rest) = joined.strip_prefix("Usage: ") {
            usage = rest.to_string();
        }
    }
    if problem.is_empty() {
        problem = text.trim().replace('\n', " ");
    }
    // The subcommand given, if any, for its own --help.
    let sub = std::env::args()
        .nth(1)
        .filter(|a| Cli::command().get_subcommands().any(|c| c.get_name() == a));
    let command = match sub {
        Some(sub) => format!("digits {sub}"),
        None => "digits".to_string(),
    };
    let mut line = problem;
    for tip in tips {
        line += &format!("; {tip}");
    }
    if !usage.is_empty() {
        line += &format!("; usage: {usage}");
    }
    line + &format!("; see `{command} --help`")
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Fetch(args) => fetch::run(args),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Listen(args) => listen::run(args),
        Command::Record(args) => record::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Adapt(args) => adapt::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
    }
}

/// The `--data` paths, or the files `digits fetch` downloaded when none are given.
pub fn data_paths(given: &[std::path::PathBuf]) -> anyhow::Result<Vec<std::path::PathBuf>> {
    Ok(data_sources(given)?.into_iter().map(|s| s.path).collect())
}

/// The `--data` sources with their kinds (`KIND=PATH`), or the files
/// `digits fetch` downloaded (kind `fsdd`).
pub fn data_sources(given: &[std::path::PathBuf]) -> anyhow::Result<Vec<digits::data::Source>> {
    use digits::data::Source;
    if !given.is_empty() {
        return Ok(given.iter().map(|p| Source::parse(p)).collect());
    }
    let files = digits::fetch::cached_dataset_files().ok_or_else(|| {
        BadInput("no data: pass --data DIR|PARQUET (e.g. --data ../shared/fsdd/recordings) or run `digits fetch` first".into())
    })?;
    Ok(files
        .into_iter()
        .map(|path| Source {
            kind: "fsdd".into(),
            path,
        })
        .collect())
}

/// `v` rounded to `places` decimals, for `--json` output: probabilities to
/// 4, times to 3, the same in every command.
pub fn round(v: f64, places: i32) -> f64 {
    let k = 10f64.powi(places);
    (v * k).round() / k
}

/// An error in the input (file, flag, data) rather than in the job itself.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// The note naming clips in which no word rises (silence, hiss),
/// which `train` and `eval` leave out; `what` ends the sentence ("left out",
/// "left out of the score"). Five names at most, then how many more.
pub fn no_word_note(names: &[String], what: &str) -> String {
    let n = names.len();
    let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
    let more = n - shown.len();
    format!(
        "{n} {} no word (silence or steady noise) and {} {what}: {}{}",
        if n == 1 { "clip holds" } else { "clips hold" },
        if n == 1 { "was" } else { "were" },
        shown.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )
}

/// Writes `bytes` to standard output; a failure (a full disk) is an error
/// that says what was being written.
pub fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("writing the results to standard output")
}

/// Exit code 2 for bad input anywhere in the chain, 1 otherwise (a model or
/// chart that could not be written for want of disk space is the job
/// failing, 1).
pub fn exit_code_for(err: &anyhow::Error) -> ExitCode {
    let bad_input = err.chain().any(|e| {
        e.is::<BadInput>()
            || e.is::<digits::audio::AudioError>()
            || e.is::<digits::data::DataError>()
            || e.downcast_ref::<digits::model::ModelError>()
                .is_some_and(|m| m.is_bad_input())
            || e.is::<digits::features::FeatureError>()
            || e.is::<digits::eval::EvalError>()
            || e.downcast_ref::<digits::listen::ListenError>()
                .is_some_and(|l| l.is_bad_input())
    });
    ExitCode::from(if bad_input {
        EXIT_BAD_INPUT
    } else {
        EXIT_FAILED
    })
}

/// Writing to a closed pipe (`digits predict *.wav | head`) is not an error.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_model_that_cannot_be_written_for_want_of_space_exits_1() {
        let write = |errno| {
            anyhow::Error::from(digits::model::ModelError::Write {
                path: "x.model".into(),
                source: std::io::Error::from_raw_os_error(errno),
            })
            .context("saving the model")
        };
        assert_eq!(exit_code_for(&write(28)), ExitCode::from(EXIT_FAILED));
        assert_eq!(exit_code_for(&write(13)), ExitCode::from(EXIT_BAD_INPUT));
        let corrupt = anyhow::Error::from(digits::model::ModelError::NotAModel("x".into()));
        assert_eq!(exit_code_for(&corrupt), ExitCode::from(EXIT_BAD_INPUT));
    }

    #[test]
    fn the_no_word_note_names_five_clips_at_most() {
        let names: Vec<String> = (0..7).map(|i| format!("{i}_x_0.wav")).collect();
        assert_eq!(
            no_word_note(&names[..1], "left out"),
            "1 clip holds no word (silence or steady noise) and was left out: 0_x_0.wav"
        );
        assert_eq!(
            no_word_note(&names, "left out of the score"),
            "7 clips hold no word (silence or steady noise) and were left out of the score: \
             0_x_0.wav, 1_x_0.wav, 2_x_0.wav, 3_x_0.wav, 4_x_0.wav and 2 more"
        );
    }
}
