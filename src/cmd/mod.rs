//! Command-line layer: clap definitions, one file per subcommand. Each
//! subcommand parses its flags into an options struct and calls the library;
//! nothing here computes features or trains models.

mod adapt;
mod eval;
mod fetch;
mod listen;
mod predict;
mod progress;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code: the job ran and succeeded.
#[allow(dead_code)] // documents the code `ExitCode::SUCCESS` gives
pub const EXIT_OK: u8 = 0;
/// Exit code: the job ran but failed (network, disk; inputs that could not be
/// classified are bad input, 2).
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad usage or bad input (a missing or corrupt file, a bad flag).
pub const EXIT_BAD_INPUT: u8 = 2;

const AFTER_HELP: &str = "\
Exit codes: 0 success, 1 the job failed, 2 bad usage or bad input.

Examples:
  digits predict recording.wav
  digits listen --auto
  digits fetch && digits train --out my.model";

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
    #[command(after_help = "Example:\n  digits listen --auto")]
    Listen(listen::ListenArgs),
    /// Teach a model your voice: a personal model from your own takes
    #[command(
        after_help = "Example:\n  digits record --speaker ann --out takes/ && digits adapt --data takes/ --out ann.model"
    )]
    Adapt(adapt::AdaptArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Fetch(args) => fetch::run(args),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Listen(args) => listen::run(args),
        Command::Adapt(args) => adapt::run(args),
    }
}

/// The `--data` paths, or the files `digits fetch` downloaded when none are given.
pub fn data_paths(given: &[std::path::PathBuf]) -> anyhow::Result<Vec<std::path::PathBuf>> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    digits::fetch::cached_dataset_files().ok_or_else(|| {
        BadInput("no data: pass --data DIR|PARQUET (e.g. --data ../shared/fsdd/recordings) or run `digits fetch` first".into())
            .into()
    })
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

/// The `note:` line naming clips in which no word rises (silence, hiss),
/// which `train` and `eval` leave out; `what` ends the sentence ("left out",
/// "left out of the score"). Five names at most, then how many more.
pub fn no_word_note(names: &[String], what: &str) -> String {
    let n = names.len();
    let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
    let more = n - shown.len();
    format!(
        "note: {n} {} no word (silence or steady noise) and {} {what}: {}{}",
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
    use clap::CommandFactory;

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
            "note: 1 clip holds no word (silence or steady noise) and was left out: 0_x_0.wav"
        );
        assert_eq!(
            no_word_note(&names, "left out of the score"),
            "note: 7 clips hold no word (silence or steady noise) and were left out of the score: \
             0_x_0.wav, 1_x_0.wav, 2_x_0.wav, 3_x_0.wav, 4_x_0.wav and 2 more"
        );
    }
}
