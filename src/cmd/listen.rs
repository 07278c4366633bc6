//! `digits listen`: the microphone (or a WAV file) in, digits out.
//!
//! Parses the flags, opens the source and the model, runs the library loop
//! ([`digits::listen::run_auto`] or [`digits::listen::run_press_to_talk`])
//! and formats what it reports: results on stdout, prompts and diagnostics
//! on stderr. Ctrl-C stops the loop cleanly: a word already said is still
//! reported, then exit 130, as for any program Ctrl-C stops.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use digits::listen::{self, Heard, ListenConfig, Notice, Pace, Source, Stop, TooQuiet, VadConfig};
use digits::model::{ModelFile, Recognizer};
use serde_json::json;

use super::round;

/// Blocks a WAV file is fed in, like a microphone's periods.
const WAV_BLOCK_MS: f32 = 10.0;
/// Hands-free on a terminal: a pause this long starts a new group of digits.
const GROUP_PAUSE_S: f64 = 1.5;

#[derive(Debug, clap::Args)]
pub struct ListenArgs {
    /// Model file [default: the embedded model]
    #[arg(long, short)]
    pub model: Option<PathBuf>,
    /// Input device: an id or name from --list-devices [default: the system default]
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// List the input devices and exit
    #[arg(long)]
    pub list_devices: bool,
    /// Press-to-talk: seconds captured after Enter (Enter again stops early)
    #[arg(long, value_name = "S", default_value_t = 1.5)]
    pub seconds: f64,
    /// Press-to-talk: show the K most likely digits
    #[arg(long, value_name = "K", default_value_t = 3,
          value_parser = clap::value_parser!(u8).range(1..=10))]
    pub top: u8,
    /// Hands-free: print each digit as you say it (pause briefly between digits)
    #[arg(long)]
    pub auto: bool,
    /// Below this confidence, print `?` instead of a digit
    #[arg(long, value_name = "P", default_value_t = 0.5)]
    pub threshold: f32,
    /// One JSON object per utterance: {"digit", "confidence", "start_s", "end_s", "ms"}
    #[arg(long)]
    pub json: bool,
    /// Listen to a WAV file instead of a device (paced like a microphone)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["device", "list_devices"])]
    pub from_wav: Option<PathBuf>,
    /// With --from-wav: feed the file as fast as possible (press-to-talk: each Enter takes its next S seconds)
    #[arg(long, requires = "from_wav")]
    pub fast: bool,
    /// No prompts or diagnostics on stderr
    #[arg(long, short)]
    pub quiet: bool,
    /// Stop after N seconds (for tests and scripts)
    #[arg(long, value_name = "N", hide = true)]
    pub max_seconds: Option<f64>,
}

/// Exit code after Ctrl-C: 128 + SIGINT, as shells report it.
pub(super) const EXIT_INTERRUPTED: u8 = 130;

/// `digits listen --help`'s closing lines.
pub const AFTER_HELP: &str = "\
Exit codes: 0 success, 1 the job failed (no microphone, a device error), 2 bad usage or bad input,
130 stopped with Ctrl-C (a word said just before it is still printed).

Examples:
  digits listen --auto
  digits listen --auto --fast --from-wav digits.wav";

pub fn run(args: ListenArgs) -> anyhow::Result<ExitCode> {
    if args.list_devices {
        return list_devices();
    }
    let cfg = ListenConfig {
        vad: VadConfig::default(),
        threshold: args.threshold,
        max_seconds: args.max_seconds,
        capture_seconds: args.seconds,
    };
    cfg.check()?;
    // The model first: a bad --model should fail before a device is opened.
    let model = ModelFile::load_or_embedded(args.model.as_deref())?;
    let mut recognizer = Recognizer::new(model)?;
    let source = match &args.from_wav {
        Some(path) => {
            let pace = if args.fast {
                Pace::Fast
            } else {
                Pace::RealTime
            };
            Source::from_wav(path, pace, WAV_BLOCK_MS)
        }
        None => listen::open_device(args.device.as_deref()),
    }?;
    sigint::install();

    let mut out = Printer::new(&args);
    let stop = if args.auto {
        if out.from_file {
            out.note(&format!("listening to {} hands-free", source.description()));
        } else {
            out.note(&format!(
                "listening to {}; say digits with a short pause between them (Ctrl-C to stop)",
                source.description()
            ));
        }
        listen::run_auto(&source, &mut recognizer, &cfg, &sigint::RAISED, |n| {
            out.notice(n)
        })
    } else {
        out.note(&format!("listening to {}", source.description()));
        spawn_key_reader(&source);
        listen::run_press_to_talk(&source, &mut recognizer, &cfg, &sigint::RAISED, |n| {
            out.notice(n)
        })
    };
    // Whatever happened, leave the terminal on a fresh line.
    let closed = out.finish();
    let stop = stop?;
    closed?;
    if stop == Stop::Interrupted {
        // The documented way to stop, not bad input: the shell's code for
        // a program Ctrl-C ended (the second Ctrl-C exits with it too).
        out.note("stopped (Ctrl-C)");
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    // A whole file with no word in it would otherwise end in silence.
    if let (Some(path), true, 0) = (&args.from_wav, args.auto, out.words) {
        let vad = &cfg.vad;
        out.note(&format!(
            "no word heard in {} (a word must rise {} dB above the sound around it, to a 10 ms level of {} dBFS or more); \
             `digits predict {}` classifies a file that holds one word",
            path.display(),
            vad.start_db,
            vad.floor_min_db + vad.start_db,
            path.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

fn list_devices() -> anyhow::Result<ExitCode> {
    let devices = listen::list_devices()?;
    let (usable, unusable): (Vec<_>, Vec<_>) =
        devices.into_iter().partition(|d| d.default_config.is_ok());
    let mut stdout = std::io::stdout().lock();
    if usable.is_empty() {
        writeln!(stdout, "no input device can record right now")?;
    }
    // `*` marks the default; the first column is what --device takes.
    for d in &usable {
        let mark = if d.is_default { "*" } else { " " };
        let config = d.default_config.as_deref().unwrap_or_default();
        writeln!(stdout, "{mark} {}  {}  [{config}]", d.id, d.name)?;
    }
    stdout.flush()?;
    if !unusable.is_empty() {
        // Plugins ALSA lists that cannot open as a microphone (rate
        // converters, JACK or OSS without a server): noise, but say so.
        let names: Vec<&str> = unusable.iter().map(|d| d.id.as_str()).collect();
        note!("also listed, but cannot record now: {}", names.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

/// Press-to-talk keys: every line on stdin is a press; its end is a quit.
fn spawn_key_reader(source: &Source) {
    let tx = source.sender();
    // Reading stdin blocks; a detached thread ends with the process.
    let _ = std::thread::Builder::new()
        .name("digits-keys".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                if line.is_err() || tx.send(listen::Event::Press).is_err() {
                    return;
                }
            }
            let _ = tx.send(listen::Event::Quit);
        });
}

/// Formats notices: results to stdout, the rest to stderr.
struct Printer {
    auto: bool,
    json: bool,
    top: usize,
    quiet: bool,
    tty: bool,
    /// Hands-free digits printed on the current line.
    line_open: bool,
    last_end_s: f64,
    /// Words heard (digits and `?`) in the whole run.
    words: usize,
    /// Listening to a file (`--from-wav`), not a microphone: no talk of
    /// speaking, of audio flowing or of Ctrl-C.
    from_file: bool,
    /// With `--fast`: a file's captures are taken whole, Enter queues.
    fast: bool,
    /// Press-to-talk capture length (s).
    seconds: f64,
}

impl Printer {
    fn new(args: &ListenArgs) -> Self {
        Self {
            auto: args.auto,
            json: args.json,
            top: args.top as usize,
            quiet: args.quiet,
            tty: std::io::stdout().is_terminal(),
            line_open: false,
            last_end_s: 0.0,
            words: 0,
            from_file: args.from_wav.is_some(),
            fast: args.fast,
            seconds: args.seconds,
        }
    }

    fn note(&self, msg: &str) {
        if !self.quiet {
            note!("{msg}");
        }
    }

    fn warn(&self, w: &str) {
        if !self.quiet {
            // Keep a warning off the line of digits (which goes on after it).
            let nl = if self.line_open && self.tty { "\n" } else { "" };
            note!("{nl}digits: warning: {w}");
        }
    }

    fn notice(&mut self, n: Notice) -> std::io::Result<()> {
        match n {
            // A device can take seconds to start; a file cannot.
            Notice::FirstAudio(_) if self.from_file => {}
            Notice::FirstAudio(after) => self.note(&format!(
                "audio is flowing (first block after {:.2} s)",
                after.as_secs_f64()
            )),
            Notice::Ready if self.from_file => self.note(&format!(
                "press Enter to classify the next {} s of the file (Ctrl-D quits)",
                self.seconds
            )),
            Notice::Ready => self.note("press Enter, then say a digit (Ctrl-D quits)"),
            Notice::Capturing(s) if self.from_file && self.fast => {
                self.note(&format!("classifying the next {s} s"))
            }
            Notice::Capturing(s) => self.note(&format!("listening for {s} s (Enter stops early)")),
            Notice::TooQuiet(q) => self.warn(&too_quiet_text(&q, self.from_file)),
            Notice::Warning(w) => self.warn(&w),
            Notice::Heard(h) => self.heard(&h)?,
        }
        Ok(())
    }

    fn heard(&mut self, h: &Heard) -> std::io::Result<()> {
        self.words += 1;
        let mut stdout = std::io::stdout().lock();
        if self.json {
            let v = json!({
                "digit": h.digit,
                "confidence": round(h.confidence as f64, 4),
                "start_s": round(h.start_s, 3),
                "end_s": round(h.end_s, 3),
                "ms": round(h.ms, 3),
            });
            writeln!(stdout, "{v}")?;
        } else if self.auto {
            if self.tty && self.line_open && h.start_s - self.last_end_s >= GROUP_PAUSE_S {
                write!(stdout, " ")?;
            }
            write!(stdout, "{}", symbol(h.digit))?;
            self.line_open = true;
        } else {
            write!(stdout, "{}", press_to_talk_text(h, self.top))?;
        }
        self.last_end_s = h.end_s;
        stdout.flush()
    }

    /// Ends the hands-free line.
    fn finish(&mut self) -> std::io::Result<()> {
        if self.line_open {
            self.line_open = false;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout)?;
            stdout.flush()?;
        }
        Ok(())
    }
}

/// What a sound too quiet to be a word was missing, in numbers, and what
/// to do if it was a digit. Against a background at the VAD's lowest floor
/// the input is too quiet as a whole (turn it up); above it, the word is
/// too close to the noise (speak up, or move away from the noise).
fn too_quiet_text(q: &TooQuiet, from_file: bool) -> String {
    let when = format!("a sound at {:.2}-{:.2} s", q.start_s, q.end_s);
    let quiet_input = q.floor_db <= VadConfig::default().floor_min_db + 0.05;
    if quiet_input {
        let fix = if from_file {
            "the recording is too quiet: raise its level"
        } else {
            "speak louder, or turn the microphone's input level up"
        };
        format!(
            "{when} was too quiet to take for a word (its loudest 10 ms reached {:.1} dBFS; \
             a word reaches {:.1} dBFS); if it was a digit, {fix}",
            q.peak_db,
            q.floor_db + q.rise_needed_db
        )
    } else {
        let fix = if from_file {
            "it is lost in the recording's background noise"
        } else {
            "speak louder or closer to the microphone, or away from the noise"
        };
        format!(
            "{when} was too quiet to take for a word (it rose {:.1} dB above the background \
             noise at {:.1} dBFS; a word rises {:.0} dB); if it was a digit, {fix}",
            q.peak_db - q.floor_db,
            q.floor_db,
            q.rise_needed_db
        )
    }
}

fn symbol(digit: Option<u8>) -> String {
    digit.map_or("?".to_string(), |d| d.to_string())
}

/// The press-to-talk answer: the digit, the top-k with bars, the time.
fn press_to_talk_text(h: &Heard, top: usize) -> String {
    let Some(p) = &h.prediction else {
        return "?  (nothing heard)\n".to_string();
    };
    let mut s = format!("{}  ({:.1} ms)\n", symbol(h.digit), h.ms);
    for &(d, prob) in p.top(top) {
        s += &format!("  {d}  {prob:.2} {}\n", bar(prob, 10));
    }
    s
}

/// A text bar `width` cells long at probability 1, in eighths of a cell.
fn bar(p: f32, width: usize) -> String {
    const PARTIAL: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = (p.clamp(0.0, 1.0) * (width * 8) as f32).round() as usize;
    let mut s = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        s.push(PARTIAL[eighths % 8]);
    }
    s
}

/// Ctrl-C: the first one raises a flag the loop polls, so the stream
/// stops, the line of digits is finished and the exit is a clean 2; a second
/// one exits at once. Done with the C library's `signal` (always linked on
/// Unix) rather than a new dependency; only async-signal-safe work happens
/// in the handler (an atomic swap, `_exit`).
#[cfg(unix)]
pub(super) mod sigint {
    use std::os::raw::c_int;
    use std::sync::atomic::{AtomicBool, Ordering};

    pub static RAISED: AtomicBool = AtomicBool::new(false);

    /// SIGINT is 2 on every Unix.
    const SIGINT: c_int = 2;

    extern "C" {
        fn signal(signum: c_int, handler: usize) -> usize;
        fn _exit(status: c_int) -> !;
    }

    extern "C" fn on_sigint(_: c_int) {
        if RAISED.swap(true, Ordering::SeqCst) {
            // SAFETY: _exit is async-signal-safe.
            unsafe { _exit(super::EXIT_INTERRUPTED.into()) }
        }
    }

    pub fn install() {
        let handler = on_sigint as extern "C" fn(c_int);
        // SAFETY: installs a handler that only touches an atomic or calls _exit.
        unsafe {
            signal(SIGINT, handler as usize);
        }
    }
}

/// Elsewhere Ctrl-C keeps its default (the process ends at once).
#[cfg(not(unix))]
pub(super) mod sigint {
    use std::sync::atomic::AtomicBool;

    pub static RAISED: AtomicBool = AtomicBool::new(false);

    pub fn install() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_in_eighths() {
        assert_eq!(bar(1.0, 10), "██████████");
        assert_eq!(bar(0.0, 10), "");
        assert_eq!(bar(0.05, 10), "▌");
        // 0.93 of 80 eighths is 74.4: nine full blocks and two eighths.
        assert_eq!(bar(0.93, 10), "█████████▎");
    }
}
