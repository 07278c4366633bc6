//! `digits predict`: classify WAV files, one line per file.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use digits::audio::{read_wav, read_wav_stream, Audio};
use digits::features::endpoint::MIN_WORD_RISE_DB;
use digits::listen::Vad;
use digits::model::{ModelFile, Prediction, Recognizer};
use serde_json::json;

use super::{round, BadInput, EXIT_BAD_INPUT};

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
    let mut recognizer = Recognizer::new(model)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = 0usize;
    for file in &args.files {
        let name = file.display().to_string();
        let input = Input::of(file);
        let started = Instant::now();
        let result = input.load().and_then(|a| {
            // Shorter than the stretch the word is sought in: nothing can rise.
            let stretch_ms = recognizer.model().front_end.endpoint.seed_ms;
            let clip_ms = 1e3 * a.seconds();
            if clip_ms < f64::from(stretch_ms) {
                return Err(BadInput(format!(
                    "{}: too short to hold a word ({clip_ms:.0} ms of audio; a spoken digit lasts a few hundred ms)",
                    input.name()
                ))
                .into());
            }
            let p = recognizer
                .recognize(&a.samples, a.sample_rate)
                .with_context(|| format!("{}: cannot classify", input.name()))?;
            let rise = recognizer.word_rise_db();
            if rise < MIN_WORD_RISE_DB {
                // Rounded down, so 2.96 dB never reads as the 3 dB it missed.
                let shown = (rise * 10.0).floor() / 10.0;
                return Err(BadInput(format!(
                    "{}: no word heard (its loudest {stretch_ms} ms is {shown:.1} dB above the background, a word rises {MIN_WORD_RISE_DB} dB or more); check that the recording holds a spoken digit",
                    input.name()
                ))
                .into());
            }
            // One digit per file: say so when the file sounds like more
            // (and with --json, in the object: `"words": n`).
            let words = match Vad::count_in(&a.samples, a.sample_rate) {
                Ok(n @ 2..) => {
                    super::warning(&format!(
                        "{}: this sounds like {n} words, and predict names one digit per file; for a digit string use `digits listen --auto --fast --from-wav FILE`",
                        input.name()
                    ));
                    n
                }
                _ => 1,
            };
            Ok((p, words))
        });
        let ms = started.elapsed().as_secs_f64() * 1e3;
        let printed = match result {
            Ok((p, words)) => {
                let text = line(&name, &p, args.top as usize, ms, args.json, words);
                writeln!(out, "{text}")
            }
            Err(e) => {
                failed += 1;
                let printed = if args.json {
                    writeln!(
                        out,
                        "{}",
                        json!({ "file": name, "error": format!("{e:#}") })
                    )
                } else {
                    Ok(())
                };
                super::error(&format!("{e:#}"));
                printed
            }
        };
        printed.context(WRITING)?;
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

    fn load(&self) -> anyhow::Result<Audio> {
        let audio = match self {
            Self::Stdin => read_wav_stream(std::io::stdin().lock()).context("standard input")?,
            Self::File(file) if file.is_dir() => {
                return Err(BadInput(format!(
                    "{}: is a folder; pass WAV files (e.g. {}/*.wav)",
                    file.display(),
                    file.display()
                ))
                .into());
            }
            Self::File(file) => read_wav(file)?,
        };
        if audio.is_silent() {
            return Err(BadInput(format!(
                "{}: no sound (every sample the same, within one 16-bit step); check that the microphone was on and not muted",
                self.name()
            ))
            .into());
        }
        Ok(audio)
    }
}

/// One result line; `words` is how many words the file sounds like (more
/// than one: `"words"` in the JSON object, as the warning on stderr says).
fn line(name: &str, p: &Prediction, top: usize, ms: f64, as_json: bool, words: usize) -> String {
    if as_json {
        let top: Vec<_> = p
            .top(top.max(1))
            .iter()
            .map(|&(d, s)| json!([d, round(f64::from(s), 4)]))
            .collect();
        let mut v = json!({
            "file": name,
            "digit": p.digit,
            "confidence": round(f64::from(p.confidence), 4),
            "top": top,
            "ms": round(ms, 3),
        });
        if words > 1 {
            v["words"] = json!(words);
        }
        return v.to_string();
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
