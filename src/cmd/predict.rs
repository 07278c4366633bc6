//! `digits predict`: classify WAV files, one line per file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use digits::audio::{Audio, WavReader};
use digits::model::{ModelFile, Prediction};
use digits::predict::{LongRecording, Predictor, LONG_FRAMES};
use serde_json::json;

use super::{BadInput, EXIT_BAD_INPUT};

/// What a failed write of the results was doing (as `say!` puts it).
const WRITING: &str = "writing the results to standard output";

#[derive(Debug, clap::Args)]
pub struct PredictArgs {
    /// WAV files to classify; `-` reads one WAV from standard input
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Model file [default: the embedded model]
    #[arg(long, short)]
    pub model: Option<PathBuf>,
    /// Print one JSON object per file
    #[arg(long)]
    pub json: bool,
    /// Also show the K most likely digits with their probabilities
    #[arg(long, default_value_t = 1, value_name = "K", value_parser = clap::value_parser!(u8).range(1..=10))]
    pub top: u8,
}

pub fn run(args: PredictArgs) -> anyhow::Result<ExitCode> {
    let stdin_count = args
        .files
        .iter()
        .filter(|f| matches!(Input::of(f), Input::Stdin))
        .count();
    if stdin_count > 1 {
        return Err(BadInput("`-` (standard input) can be given only once".into()).into());
    }
    let model = ModelFile::load_or_embedded(args.model.as_deref())?;
    // Results are written in blocks, not a write per line; stdout is
    // flushed before anything goes to stderr, so the two stay in order.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed = 0usize;
    let mut print = |done: Done| -> anyhow::Result<()> {
        if done.warning.is_some() || done.line.is_err() {
            out.flush().context(WRITING)?;
        }
        if let Some(w) = &done.warning {
            super::warning(w);
        }
        match done.line {
            Ok(line) => writeln!(out, "{line}").context(WRITING)?,
            Err((message, json_line)) => {
                failed += 1;
                if let Some(j) = json_line {
                    writeln!(out, "{j}").context(WRITING)?;
                    out.flush().context(WRITING)?;
                }
                super::error(&message);
            }
        }
        Ok(())
    };
    let workers = worker_count(args.files.len());
    if workers <= 1 {
        let mut predictor = Predictor::new(model)?;
        for file in &args.files {
            print(one_file(&mut predictor, file, &args))?;
        }
    } else {
        in_parallel(&model, workers, &args, &mut print)?;
    }
    out.flush().context(WRITING)?;
    if failed > 0 {
        super::error(&format!(
            "{failed} of {} files could not be classified",
            args.files.len()
        ));
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}

/// Files per worker thread before another is worth its start-up (its own
/// copy of the model and front end, a fraction of a millisecond).
const FILES_PER_WORKER: usize = 16;

/// How many threads classify `n` files: one for a few files, then up to
/// one per core.
fn worker_count(n: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    cores.min(n / FILES_PER_WORKER).max(1)
}

/// One file's outcome, ready to print.
struct Done {
    /// The warning for stderr, if any (without the `digits: warning: `).
    warning: Option<String>,
    /// The result line, or the error message and, with `--json`, its line.
    line: Result<String, (String, Option<String>)>,
}

/// Reads, checks and classifies one file.
fn one_file(predictor: &mut Predictor, file: &Path, args: &PredictArgs) -> Done {
    let name = file.display().to_string();
    let input = Input::of(file);
    let started = Instant::now();
    let answer = input.load().and_then(|loaded| {
        match loaded {
            Loaded::Memory(audio) => predictor.answer(&audio),
            Loaded::Long(mut long) => predictor.answer_long(&mut long),
        }
        .map_err(|e| BadInput(format!("{}: {e}", input.name())).into())
    });
    let ms = started.elapsed().as_secs_f64() * 1e3;
    match answer {
        Ok(a) => Done {
            warning: (a.words > 1).then(|| {
                format!(
                    "{}: this sounds like {} words, and predict names one digit per file; for a digit string use `digits listen --auto --fast --from-wav FILE`",
                    input.name(),
                    a.words
                )
            }),
            line: Ok(line(
                &name,
                &a.prediction,
                args.top as usize,
                ms,
                args.json,
                a.words,
            )),
        },
        Err(e) => {
            let message = format!("{e:#}");
            let json_line = args
                .json
                .then(|| json!({ "file": name, "error": message }).to_string());
            Done {
                warning: None,
                line: Err((message, json_line)),
            }
        }
    }
}

/// Classifies the files on `workers` threads, each building its own copy
/// of the model (in parallel), and hands the outcomes to `print` in the
/// order the files were given, each as soon as those before it are out.
fn in_parallel(
    model: &ModelFile,
    workers: usize,
    args: &PredictArgs,
    print: &mut dyn FnMut(Done) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Done)>();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let (tx, next) = (tx.clone(), &next);
                s.spawn(move || -> anyhow::Result<()> {
                    let mut predictor = Predictor::new(model.clone())?;
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(file) = args.files.get(i) else {
                            return Ok(());
                        };
                        if tx.send((i, one_file(&mut predictor, file, args))).is_err() {
                            return Ok(()); // printing failed; stop
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        // Outcomes arrive in any order; print them in the files' order.
        let mut waiting = std::collections::BTreeMap::new();
        let mut at = 0;
        for (i, done) in rx {
            waiting.insert(i, done);
            while let Some(done) = waiting.remove(&at) {
                at += 1;
                if let Err(e) = print(done) {
                    // Stop the workers: nothing more can be written.
                    next.store(args.files.len(), std::sync::atomic::Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        // A worker that could not build its copy of the model took no
        // files; the others took them all. Its error is still reported.
        for h in handles {
            h.join().expect("predict worker panicked")?;
        }
        Ok(())
    })
}

/// One input of `predict`: a file, or `-` for standard input.
enum Input<'a> {
    Stdin,
    File(&'a std::path::Path),
}

impl<'a> Input<'a> {
    fn of(file: &'a std::path::Path) -> Self {
        if file.as_os_str() == "-" {
            Self::Stdin
        } else {
            Self::File(file)
        }
    }

    /// How error lines name the input.
    fn name(&self) -> String {
        match self {
            Self::Stdin => "standard input".into(),
            Self::File(file) => file.display().to_string(),
        }
    }

    fn load(&self) -> anyhow::Result<Loaded> {
        let reader = match self {
            Self::Stdin => {
                WavReader::from_stream(std::io::stdin().lock()).context("standard input")?
            }
            // A folder is asked about only when opening fails: a stat per
            // file is a cost every file would pay.
            Self::File(file) => WavReader::open(file).map_err(|e| -> anyhow::Error {
                if file.is_dir() {
                    BadInput(format!(
                        "{}: is a folder; pass WAV files (e.g. {}/*.wav)",
                        file.display(),
                        file.display()
                    ))
                    .into()
                } else {
                    e.into()
                }
            })?,
        };
        let name = self.name();
        if reader.frames() <= LONG_FRAMES {
            return Ok(Loaded::Memory(reader.read_all().context(name)?));
        }
        Ok(Loaded::Long(LongRecording::survey(reader).context(name)?))
    }
}

/// A file's audio: in memory, or (a long file) read in passes.
enum Loaded {
    Memory(Audio),
    Long(LongRecording),
}

/// One result line; `words` is how many words the file sounds like (more
/// than one: `"words"` in the JSON object, as the warning on stderr says).
fn line(name: &str, p: &Prediction, top: usize, ms: f64, as_json: bool, words: usize) -> String {
    if as_json {
        return digits::predict::prediction_json(name, p, top, ms, words).to_string();
    }
    let mut s = format!("{name}: {} ({:.2})", p.digit, p.confidence);
    if top > 1 {
        let ranked: Vec<String> = p
            .top(top)
            .iter()
            .map(|(d, s)| format!("{d} {s:.2}"))
            .collect();
        s += &format!("  top: {}", ranked.join(", "));
    }
    s
}
