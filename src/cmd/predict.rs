//! `digits predict`: classify WAV files, one line per file.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use digits::audio::{Audio, WavReader};
use digits::features::endpoint::MIN_WORD_RISE_DB;
use digits::listen::{Vad, VadConfig};
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
            let mut a = a;
            if clip_ms < f64::from(stretch_ms) {
                return Err(BadInput(format!(
                    "{}: too short to hold a word ({clip_ms:.0} ms of audio; a spoken digit lasts a few hundred ms)",
                    input.name()
                ))
                .into());
            }
            let p = match &mut a {
                Loaded::Memory(a) => recognizer.recognize(&a.samples, a.sample_rate),
                Loaded::Long { reader, .. } => recognizer.recognize_replayed(reader.as_mut()),
            }
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
            let counted = match &a {
                Loaded::Memory(a) => Vad::count_in(&a.samples, a.sample_rate).ok(),
                Loaded::Long { words, .. } => *words,
            };
            let words = match counted {
                Some(n @ 2..) => {
                    note!(
                        "digits: {}: warning: this sounds like {n} words, and predict names one digit per file; for a digit string use `digits listen --auto --fast --from-wav FILE`",
                        input.name()
                    );
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
                note!("digits: {e:#}");
                printed
            }
        };
        printed.context(WRITING)?;
    }
    out.flush().context(WRITING)?;
    if failed > 0 {
        note!(
            "digits: {failed} of {} files could not be classified",
            args.files.len()
        );
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

    fn load(&self) -> anyhow::Result<Loaded> {
        let reader = match self {
            Self::Stdin => {
                WavReader::from_stream(std::io::stdin().lock()).context("standard input")?
            }
            Self::File(file) if file.is_dir() => {
                return Err(BadInput(format!(
                    "{}: is a folder; pass WAV files (e.g. {}/*.wav)",
                    file.display(),
                    file.display()
                ))
                .into());
            }
            Self::File(file) => WavReader::open(file)?,
        };
        let name = self.name();
        if reader.frames() <= LONG_FRAMES {
            let audio = reader.read_all().context(name)?;
            return self.checked(Loaded::Memory(audio));
        }
        self.checked(Loaded::survey(reader).context(name)?)
    }

    /// `loaded`, unless it is silent.
    fn checked(&self, loaded: Loaded) -> anyhow::Result<Loaded> {
        let silent = match &loaded {
            Loaded::Memory(audio) => audio.is_silent(),
            Loaded::Long { silent, .. } => *silent,
        };
        let name = self.name();
        if silent {
            return Err(BadInput(format!(
                "{name}: no sound (every sample the same, within one 16-bit step); check that the microphone was on and not muted"
            ))
            .into());
        }
        Ok(loaded)
    }
}

/// Files longer than this many frames (87 s at 48 kHz, 8.7 min at 8 kHz)
/// are not held in memory: they are read in passes (see [`Loaded::Long`]).
const LONG_FRAMES: u64 = 1 << 22;

/// A file's audio: in memory, or (a long file) its reader, what a first
/// pass over it found, and read again in passes when classified.
enum Loaded {
    Memory(Audio),
    Long {
        // Boxed: the reader is large beside `Audio`.
        reader: Box<WavReader<'static>>,
        frames: u64,
        /// Words the listening loop's detector finds in it (as
        /// `Vad::count_in` for a file in memory).
        words: Option<usize>,
        /// Every sample within one 16-bit step of the others.
        silent: bool,
    },
}

impl Loaded {
    /// The first pass over a long file: its length, whether it is silent
    /// (lowest and highest sample), and the words in it.
    fn survey(mut reader: WavReader<'static>) -> digits::audio::Result<Self> {
        use digits::audio::Replay as _;
        let rate = reader.sample_rate();
        let mut vad = Vad::new(VadConfig::default(), rate).ok();
        let (mut frames, mut lo, mut hi, mut words) = (0u64, f32::INFINITY, f32::NEG_INFINITY, 0);
        let mut heard = Vec::new();
        reader.replay(&mut |block| {
            frames += block.len() as u64;
            for &v in block {
                lo = lo.min(v);
                hi = hi.max(v);
            }
            if let Some(vad) = vad.as_mut() {
                vad.push(block, &mut heard);
                words += heard.len();
                heard.clear();
            }
        })?;
        if let Some(vad) = vad.as_mut() {
            vad.flush(&mut heard);
            words += heard.len();
        }
        let silent = digits::audio::is_silent_range(lo, hi);
        let words = vad.is_some().then_some(words);
        Ok(Self::Long {
            reader: Box::new(reader),
            frames,
            words,
            silent,
        })
    }

    fn seconds(&self) -> f64 {
        match self {
            Self::Memory(a) => a.seconds(),
            Self::Long { reader, frames, .. } => *frames as f64 / f64::from(reader.sample_rate()),
        }
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
