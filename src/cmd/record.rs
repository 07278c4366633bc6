//! `digits record`: a guided enrolment session — the microphone (or a WAV
//! file of the words in order) in, checked takes
//! `DIR/{digit}_{speaker}_{index}.wav` out.
//!
//! Parses the flags, plans the session ([`digits::record::plan`]), opens the
//! source and runs the library loop ([`digits::record::run`]); formats what
//! it reports: the saved files on stdout, prompts and refusals on stderr.
//! Ctrl-C stops cleanly (exit 130) and keeps every take saved; a re-run
//! records only what is missing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use digits::listen::{self, Pace, Source};
use digits::model::{ModelFile, Recognizer};
use digits::record::{self, Finish, Notice, Outcome, Plan, RecordConfig, RecordError, Word};

use super::listen::{sigint, EXIT_INTERRUPTED};
use super::BadInput;

/// Blocks a WAV file is fed in, like a microphone's periods.
const WAV_BLOCK_MS: f32 = 10.0;

#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// Your name in the file names: letters, digits and `-`
    #[arg(long, value_name = "NAME")]
    pub speaker: String,
    /// Folder for the takes (created if missing); takes already there are kept
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Takes of each digit: ZERO to NINE, K times over
    #[arg(long, value_name = "K", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=record::MAX_ROUNDS as i64))]
    pub takes: u32,
    /// Input device: an id or name from `digits listen --list-devices` [default: the system default]
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// Read the words from a WAV file instead of a device, in the order asked (ZERO to NINE, then again)
    #[arg(long, value_name = "FILE", conflicts_with = "device")]
    pub from_wav: Option<PathBuf>,
    /// Record this digit's takes again, replacing them (0-9, or `oh`; repeat or separate with commas)
    #[arg(long, value_name = "DIGIT", value_parser = parse_word, value_delimiter = ',')]
    pub redo: Vec<Word>,
    /// After each NINE, one more word: "oh", saved as a zero (0_NAME_100.wav, 0_NAME_101.wav, …)
    #[arg(long)]
    pub oh: bool,
}

fn parse_word(s: &str) -> Result<Word, String> {
    Word::parse(s).ok_or_else(|| format!("`{s}` is not a digit 0-9 or `oh`"))
}

pub fn run(args: RecordArgs) -> anyhow::Result<ExitCode> {
    record::check_speaker(&args.speaker).map_err(classify)?;
    if args.redo.contains(&Word::Oh) && !args.oh {
        return Err(BadInput("--redo oh records the \"oh\" takes again: add --oh".into()).into());
    }
    // A file is read (and refused if it cannot be) before anything is
    // created; a microphone is opened only when there is something to record.
    let file_source = match &args.from_wav {
        Some(path) => Some(Source::from_wav(path, Pace::Fast, WAV_BLOCK_MS)?),
        None => None,
    };
    let plan = record::plan(&args.out, &args.speaker, args.takes, args.oh, &args.redo)
        .map_err(classify)?;
    let dir = args.out.display();
    for path in &plan.unreadable {
        super::notice(&format!(
            "{} cannot be read as a WAV; it is recorded again",
            path.display()
        ));
    }
    if plan.takes.is_empty() {
        note!(
            "nothing to record: {dir} holds all {} takes of {} (--redo DIGIT records a digit again, a larger --takes adds more)",
            plan.all,
            plan.speaker
        );
        return Ok(ExitCode::SUCCESS);
    }
    let source = match file_source {
        Some(s) => s,
        None => listen::open_device(args.device.as_deref())?,
    };
    plan.prepare().map_err(classify)?;
    let live = !source.on_demand();
    note!("{}", header(&plan, &args));
    if live {
        note!(
            "listening to {}; say each word when asked (Ctrl-C stops; run the same command again to go on)",
            source.description()
        );
    }
    sigint::install();
    let cfg = RecordConfig::default();
    let mut out = Printer {
        live,
        file: args.from_wav.as_deref(),
        cfg: &cfg,
    };
    let outcome =
        record::run(&source, &plan, &cfg, &sigint::RAISED, |n| out.notice(n)).map_err(classify)?;
    finish(&plan, &outcome, &args, live)
}

/// The session's first line: who, where, how many.
fn header(plan: &Plan, args: &RecordArgs) -> String {
    let mut s = format!(
        "recording {} into {}: {} of {} takes",
        plan.speaker,
        args.out.display(),
        plan.takes.len(),
        plan.all
    );
    if plan.kept > 0 {
        s += &format!(" ({} already there and kept)", plan.kept);
    }
    if args.oh {
        s += "; OH is saved as a zero";
    }
    s
}

/// What the session ends with: a line, and the exit code.
fn finish(
    plan: &Plan,
    outcome: &Outcome,
    args: &RecordArgs,
    live: bool,
) -> anyhow::Result<ExitCode> {
    let dir = args.out.display();
    let missing = outcome.missing();
    let held = plan.held();
    if outcome.finish == Finish::Interrupted {
        note!(
            "stopped (Ctrl-C): {dir} holds {held} of {} takes of {}; run the same command again to record the other {}",
            plan.all,
            plan.speaker,
            plan.all - held
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    if let (Some(file), n @ 1..) = (&args.from_wav, outcome.extra_answers) {
        super::warning(&format!(
            "{} holds {n} more {} after the last take (from {:.2} s on), not used; if a word was said twice or heard as two, the takes after it are labelled wrongly",
            file.display(),
            if n == 1 { "word" } else { "words" },
            outcome.extra_from_s.unwrap_or_default()
        ));
    }
    let shift = match &args.from_wav {
        Some(file) if outcome.saved > 0 => shift_text(plan, outcome, file)?,
        _ => None,
    };
    if let (Some(text), 0) = (&shift, missing) {
        return Err(BadInput(text.clone()).into());
    }
    if let Some(text) = &shift {
        super::warning(text);
    }
    if missing > 0 {
        let mut why = Vec::new();
        if !outcome.refused.is_empty() {
            why.push(format!("{} refused above", outcome.refused.len()));
        }
        if let Some(first) = outcome.unreached.first() {
            let what = match &args.from_wav {
                Some(file) => format!("{} ran out of words", file.display()),
                None => "the audio stream ended".into(),
            };
            why.push(format!(
                "{what} before {} take {} of {}",
                first.word.spoken(),
                first.round,
                first.rounds
            ));
        }
        // With --redo a take not recorded again keeps its old file.
        let text = format!(
            "{missing} {} {}: {}; {}",
            if missing == 1 { "take" } else { "takes" },
            if args.redo.is_empty() {
                "missing"
            } else {
                "not recorded again"
            },
            why.join(", and "),
            if live {
                "run the same command again to record only the missing ones"
            } else {
                "a re-run records only the missing ones (from a WAV of just those words, in order, or from the microphone)"
            }
        );
        // A file short of good words is bad input; a device that stops
        // is the job failing.
        return Err(if live {
            anyhow::anyhow!(text)
        } else {
            BadInput(text).into()
        });
    }
    let mut done = format!(
        "done: {dir} holds {held} of {} takes of {}",
        plan.all, plan.speaker
    );
    if plan.missing_elsewhere > 0 {
        done += &format!(
            "; {} others are missing: run without --redo to record them",
            plan.missing_elsewhere
        );
    }
    note!("{done}");
    Ok(ExitCode::SUCCESS)
}

/// From a file, a word not heard (or a sound taken for one) moves every
/// later word onto the wrong prompt. The base model hears each take saved;
/// a stretch of them that sounds like the neighbouring prompt's digit is
/// named ([`record::find_shift`]).
fn shift_text(plan: &Plan, outcome: &Outcome, file: &Path) -> anyhow::Result<Option<String>> {
    let mut recognizer = Recognizer::new(ModelFile::embedded()?)?;
    let mut heard = Vec::with_capacity(plan.takes.len());
    for (take, at) in plan.takes.iter().zip(&outcome.saved_at) {
        heard.push(match at {
            Some(_) => {
                let a = digits::audio::read_wav(&take.path)?;
                Some(recognizer.recognize(&a.samples, a.sample_rate)?.digit)
            }
            None => None,
        });
    }
    let Some(shift) = record::find_shift(plan, &heard) else {
        return Ok(None);
    };
    let first = &plan.takes[shift.from];
    let (whose, cause) = if shift.by > 0 {
        ("after", "a word was probably not heard before it (too quiet?), so each went to the prompt before its own")
    } else {
        ("before", "a sound was probably taken for a word before it, or a word heard as two, so each went to the prompt after its own")
    };
    Ok(Some(format!(
        "the takes from {} take {} of {} on ({:.2} s in {}) sound like the word asked for {whose} theirs ({} of {}): {cause}; check them with `digits predict`, remove the wrong ones and record them again",
        first.word.spoken(),
        first.round,
        first.rounds,
        outcome.saved_at[shift.from].unwrap_or_default(),
        file.display(),
        shift.shifted,
        shift.of
    )))
}

/// A library error with the exit code it deserves: a listen error keeps
/// its own classification; others are bad input (2) or a failed job (1).
fn classify(e: RecordError) -> anyhow::Error {
    match e {
        RecordError::Listen(l) => l.into(),
        e if e.is_bad_input() => BadInput(format!("{:#}", anyhow::Error::from(e))).into(),
        e => e.into(),
    }
}

/// Formats notices: saved files on stdout, the rest on stderr.
struct Printer<'a> {
    live: bool,
    file: Option<&'a Path>,
    cfg: &'a RecordConfig,
}

impl Printer<'_> {
    fn notice(&mut self, n: Notice) -> std::io::Result<()> {
        match n {
            Notice::FirstAudio(after) if self.live => note!(
                "audio is flowing (first block after {:.2} s)",
                after.as_secs_f64()
            ),
            Notice::FirstAudio(_) => {}
            Notice::Prompt { take, .. } if self.live => note!("{}", take.prompt()),
            Notice::Prompt { .. } => {}
            Notice::Refused {
                take,
                refusal,
                start_s,
                ..
            } => {
                let why = refusal.message(take.word, &self.cfg.checks);
                match self.file {
                    Some(file) => note!(
                        "{} at {start_s:.2} s ({}, take {} of {}): {why}",
                        file.display(),
                        take.word.spoken(),
                        take.round,
                        take.rounds
                    ),
                    None => note!("{why}"),
                }
            }
            Notice::Saved { take, .. } => {
                let mut stdout = std::io::stdout().lock();
                writeln!(stdout, "{}", take.path.display())?;
                stdout.flush()?;
            }
            Notice::NothingHeard { take, waited_s } => note!(
                "nothing heard for {waited_s:.0} s: {}; if you did, move closer or raise the input level",
                take.prompt()
            ),
            Notice::Warning(w) => super::warning(&w),
        }
        Ok(())
    }
}
