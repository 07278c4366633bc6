//! `record`: a guided enrolment session — each digit said K times, each
//! take checked and saved as `DIR/{digit}_{speaker}_{index}.wav`.
//!
//! This module owns:
//! - the session's plan ([`plan`]): which takes a session has, which are
//!   already in the folder (kept), which are to be recorded, and their file
//!   names, which every reader of FSDD's naming understands;
//! - [`Segmenter`]: the answers in a stream. The words are found by
//!   `listen`'s [`Vad`]; words that follow each other closer than
//!   [`RecordConfig::join_gap_ms`] are one answer (two words run together),
//!   and each answer is cut with [`RecordConfig::context_ms`] of room tone
//!   either side, so the front end sees what it sees in `predict`;
//! - the checks ([`check`]): one word, plausible length, not clipped,
//!   loud enough, with the thresholds of [`Checks`] (prompts/record.md);
//! - the session loop ([`run`]) over a `listen` [`Source`] — a microphone or
//!   a WAV file, the same code — and the atomic writing of each take.
//!
//! The library never prints; the loop reports through a callback and the
//! `digits record` command formats.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::audio::{self, MODEL_RATE};
use crate::features::endpoint::{word_rise_db, EndpointConfig};
use crate::features::Conditioner;
use crate::listen::{Event, ListenError, Source, Utterance, Vad, VadConfig};

/// Errors of a recording session.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error(
        "--speaker {0:?}: use letters, digits and `-` only (`_` separates the fields of the file names), at most 64"
    )]
    BadSpeaker(String),
    #[error("--takes {0}: record 1 to {MAX_ROUNDS} takes of each digit")]
    BadTakes(u32),
    #[error("--out {path}: {reason}")]
    BadFolder { path: String, reason: String },
    #[error("cannot create the folder {path}")]
    CreateFolder {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the folder {path}")]
    ReadFolder {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write into the folder {path}")]
    WriteFolder {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot save {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid record setting: {0}")]
    Config(String),
}

impl RecordError {
    /// A problem with what the user gave (a name, a folder, a file, a
    /// setting) rather than a failure of the job (no microphone, a full
    /// disk): exit 2, not 1.
    pub fn is_bad_input(&self) -> bool {
        match self {
            RecordError::Listen(e) => e.is_bad_input(),
            RecordError::CreateFolder { source, .. }
            | RecordError::ReadFolder { source, .. }
            | RecordError::WriteFolder { source, .. }
            | RecordError::Write { source, .. } => !crate::model::is_job_failure(source),
            RecordError::BadSpeaker(_)
            | RecordError::BadTakes(_)
            | RecordError::BadFolder { .. }
            | RecordError::Config(_) => true,
        }
    }
}

pub type Result<T> = std::result::Result<T, RecordError>;

/// The most takes of each digit one session records.
pub const MAX_ROUNDS: u32 = 99;

/// "Oh" takes are saved as zeros with indices from here on
/// (`0_{speaker}_100.wav`, `0_{speaker}_101.wav`, …): a zero to every
/// reader, and never confused with the "zero" takes (0 to
/// [`MAX_ROUNDS`] − 1).
pub const OH_FIRST_INDEX: u32 = 100;

/// The longest speaker name (file names stay short).
pub const MAX_SPEAKER_LEN: usize = 64;

const WORDS: [&str; 10] = [
    "ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE",
];

/// What a take asks the speaker to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Word {
    Digit(u8),
    /// "Oh", the other way to say zero; saved as a zero.
    Oh,
}

impl Word {
    /// The digit the take is labelled with.
    pub fn digit(self) -> u8 {
        match self {
            Word::Digit(d) => d,
            Word::Oh => 0,
        }
    }

    /// The word as prompted: `SEVEN`, `OH`.
    pub fn spoken(self) -> &'static str {
        match self {
            Word::Digit(d) => WORDS[d as usize],
            Word::Oh => "OH",
        }
    }

    /// `0`..`9` or `oh` (any case), as `--redo` takes it.
    pub fn parse(s: &str) -> Option<Word> {
        if s.eq_ignore_ascii_case("oh") {
            return Some(Word::Oh);
        }
        match s.parse::<u8>() {
            Ok(d) if d <= 9 && s.len() == 1 => Some(Word::Digit(d)),
            _ => None,
        }
    }
}

/// One take of a session: a word in a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Take {
    pub word: Word,
    /// 1-based.
    pub round: u32,
    /// Rounds in the session.
    pub rounds: u32,
    /// Where it is saved.
    pub path: PathBuf,
}

impl Take {
    /// The index in the file name: round − 1 for a digit, from
    /// [`OH_FIRST_INDEX`] for "oh".
    pub fn index(&self) -> u32 {
        take_index(self.word, self.round)
    }

    /// `say SEVEN (take 2 of 3)`.
    pub fn prompt(&self) -> String {
        format!(
            "say {} (take {} of {})",
            self.word.spoken(),
            self.round,
            self.rounds
        )
    }
}

fn take_index(word: Word, round: u32) -> u32 {
    match word {
        Word::Digit(_) => round - 1,
        Word::Oh => OH_FIRST_INDEX + round - 1,
    }
}

/// The file name of a take: `{digit}_{speaker}_{index}.wav`.
pub fn file_name(speaker: &str, word: Word, round: u32) -> String {
    format!("{}_{speaker}_{}.wav", word.digit(), take_index(word, round))
}

/// A speaker name fit for file names: letters, digits and `-`.
pub fn check_speaker(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_SPEAKER_LEN
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(RecordError::BadSpeaker(name.to_string()))
    }
}

/// What a session records.
#[derive(Debug, Clone)]
pub struct Plan {
    pub dir: PathBuf,
    pub speaker: String,
    pub rounds: u32,
    /// Every take of the session, in the order they are asked for.
    pub all: usize,
    /// Takes already in the folder and kept.
    pub kept: usize,
    /// Takes in the folder that cannot be read: recorded again.
    pub unreadable: Vec<PathBuf>,
    /// Takes to record, in order.
    pub takes: Vec<Take>,
    /// Takes of the session neither in the folder nor in `takes` (they
    /// are missing, but `--redo` asked for others).
    pub missing_elsewhere: usize,
    /// Every take's file, in the order asked.
    pub paths: Vec<PathBuf>,
}

/// Plans a session: `rounds` rounds of ZERO..NINE (and OH after NINE when
/// `oh`). A take whose file is in `dir` and reads as a WAV is kept;
/// the others are to record. With `redo`, only the takes of those words
/// are recorded, all of them again. Nothing is written: see
/// [`Plan::prepare`].
pub fn plan(dir: &Path, speaker: &str, rounds: u32, oh: bool, redo: &[Word]) -> Result<Plan> {
    check_speaker(speaker)?;
    if !(1..=MAX_ROUNDS).contains(&rounds) {
        return Err(RecordError::BadTakes(rounds));
    }
    let shown = || dir.display().to_string();
    if std::fs::metadata(dir).is_ok_and(|m| !m.is_dir()) {
        return Err(RecordError::BadFolder {
            path: shown(),
            reason: "it exists and is not a folder; pass a folder for the takes".into(),
        });
    }
    let mut plan = Plan {
        dir: dir.to_path_buf(),
        speaker: speaker.to_string(),
        rounds,
        all: 0,
        kept: 0,
        unreadable: Vec::new(),
        takes: Vec::new(),
        missing_elsewhere: 0,
        paths: Vec::new(),
    };
    for round in 1..=rounds {
        let words = (0..10).map(Word::Digit).chain(oh.then_some(Word::Oh));
        for word in words {
            plan.all += 1;
            let path = dir.join(file_name(speaker, word, round));
            plan.paths.push(path.clone());
            let state = take_state(&path).map_err(|source| RecordError::ReadFolder {
                path: shown(),
                source,
            })?;
            let take = Take {
                word,
                round,
                rounds,
                path,
            };
            let redone = redo.contains(&word);
            match state {
                TakeState::Good if redone => plan.takes.push(take),
                TakeState::Good => plan.kept += 1,
                TakeState::Unreadable | TakeState::Missing if !redo.is_empty() && !redone => {
                    plan.missing_elsewhere += 1
                }
                TakeState::Unreadable => {
                    plan.unreadable.push(take.path.clone());
                    plan.takes.push(take);
                }
                TakeState::Missing => plan.takes.push(take),
            }
        }
    }
    Ok(plan)
}

impl Plan {
    /// Makes the folder ready: creates it if missing, removes temporary
    /// files an interrupted save left there, and makes sure a take can be
    /// written, before anyone speaks a word.
    pub fn prepare(&self) -> Result<()> {
        let shown = || self.dir.display().to_string();
        if !self.dir.is_dir() {
            std::fs::create_dir_all(&self.dir).map_err(|source| RecordError::CreateFolder {
                path: shown(),
                source,
            })?;
        }
        remove_partials(&self.dir, &self.speaker)?;
        let probe = self.dir.join(format!(".{}.probe.partial", self.speaker));
        let written = std::fs::write(&probe, b"");
        let _ = std::fs::remove_file(&probe);
        written.map_err(|source| RecordError::WriteFolder {
            path: shown(),
            source,
        })
    }

    /// Takes of the session in the folder now.
    pub fn held(&self) -> usize {
        self.paths.iter().filter(|p| p.is_file()).count()
    }
}

enum TakeState {
    Missing,
    Good,
    Unreadable,
}

fn take_state(path: &Path) -> std::io::Result<TakeState> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TakeState::Missing),
        Err(e) => Err(e),
        // A folder or a device by a take's name is not ours to replace.
        Ok(m) if !m.is_file() && !m.file_type().is_symlink() => Err(std::io::Error::other(
            format!("{} is not a file; move it away", path.display()),
        )),
        Ok(_) => Ok(match audio::read_wav(path) {
            Ok(a) if !a.samples.is_empty() => TakeState::Good,
            _ => TakeState::Unreadable,
        }),
    }
}

/// A take's temporary file: hidden, and not named `.wav`, so no reader of
/// the folder ever takes it for a clip.
fn partial_path(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("take");
    path.with_file_name(format!(".{name}.partial"))
}

/// Removes what a save cut short left (`.{digit}_{speaker}_{n}.wav.partial`).
fn remove_partials(dir: &Path, speaker: &str) -> Result<()> {
    let err = |source| RecordError::ReadFolder {
        path: dir.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let ours = name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(".wav.partial"))
            .and_then(|stem| crate::data::parse_fsdd_name(&format!("{stem}.wav")))
            .is_some_and(|n| n.speaker == speaker);
        if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Writes a take as 16-bit mono PCM at `rate`, atomically: a temporary
/// file beside it, flushed to disk, then renamed over the name. An
/// interrupted session leaves the take whole or not at all.
pub fn save_take(path: &Path, samples: &[f32], rate: u32) -> Result<()> {
    let err = |source| RecordError::Write {
        path: path.display().to_string(),
        source,
    };
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut bytes = Vec::with_capacity(44 + 2 * samples.len());
    {
        let mut w = hound::WavWriter::new(std::io::Cursor::new(&mut bytes), spec)
            .map_err(|e| err(std::io::Error::other(e)))?;
        for &x in samples {
            // The inverse of the reader's i16 / 32768: a 16-bit source is
            // saved sample for sample.
            let v = (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
            w.write_sample(v)
                .map_err(|e| err(std::io::Error::other(e)))?;
        }
        w.finalize().map_err(|e| err(std::io::Error::other(e)))?;
    }
    let tmp = partial_path(path);
    let written = (|| {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(())
}

/// The thresholds a take must meet. Each was set on FSDD's 3,000 clips,
/// each between stretches of room tone (prompts/record.md): none of them
/// refuses a word there.
#[derive(Debug, Clone, PartialEq)]
pub struct Checks {
    /// Least speech in a take (s), from the first word's start to the
    /// last one's end as the VAD measures them: the VAD's own minimum
    /// (`min_speech_ms`). FSDD's shortest words (a quick "six": the VAD
    /// hears its vowel, not its /s/ sounds) have 0.09 s in a quiet room
    /// and less in a noisier one, so no higher bound is safe.
    pub min_speech_s: f64,
    /// Most speech in a take (s). FSDD's longest is 1.02 s.
    pub max_speech_s: f64,
    /// Words are counted by `listen`'s VAD with this shorter hangover
    /// (ms), so words run together closer than `listen` separates them
    /// still count as two...
    pub word_hangover_ms: f32,
    /// ...each with at least this much speech (s): shorter stretches are
    /// the burst after a stop's closure ("eight", "six"), a click or a
    /// breath, not a word.
    pub min_word_s: f64,
    /// A sample at least this close to full scale (absolute value) is at
    /// full scale.
    pub clip_level: f32,
    /// A take with this much audio at full scale (ms) is clipped. FSDD
    /// has at most 0.25 ms; a word overdriven by 3 dB, 0.5 ms or more.
    pub max_clipped_ms: f64,
    /// The word must rise this far above the room tone around it (dB;
    /// the no-word measure, [`word_rise_db`]). The VAD hears words from
    /// about 12 dB; below 15 the base model's accuracy on them falls to
    /// 92 % (noise already hides the word), above 21 it is 99 %.
    pub min_rise_db: f32,
}

impl Default for Checks {
    /// Speech 0.06–1.5 s; words of 0.15 s or more counted with an 80 ms
    /// hangover; clipped from 1 ms at 0.999 of full scale; the word 15 dB
    /// above the room.
    fn default() -> Self {
        Self {
            min_speech_s: 0.06,
            max_speech_s: 1.5,
            word_hangover_ms: 80.0,
            min_word_s: 0.15,
            clip_level: 0.999,
            max_clipped_ms: 1.0,
            min_rise_db: 15.0,
        }
    }
}

/// Settings of a session.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordConfig {
    /// `listen`'s VAD, as `listen` uses it.
    pub vad: VadConfig,
    pub checks: Checks,
    /// Room tone kept before and after the speech in a saved take (ms).
    pub context_ms: f32,
    /// A word that starts less than this after the last one ended is part
    /// of the same answer (ms), in a file: shorter than any pause between
    /// two words read from a list.
    pub join_gap_ms: f32,
    /// The same from a live source (ms): the next prompt shows this long
    /// after the word, so a word sooner than that, and sooner than anyone
    /// reacts to the prompt, is a second word in the same answer.
    pub live_join_gap_ms: f32,
    /// From a live source, a reminder after this long without an answer (s).
    pub remind_after_s: f64,
}

impl Default for RecordConfig {
    /// `listen`'s VAD; default checks; 250 ms of room tone either side;
    /// words closer than 250 ms joined (600 ms live); a reminder after 5 s.
    fn default() -> Self {
        Self {
            vad: VadConfig::default(),
            checks: Checks::default(),
            context_ms: 250.0,
            join_gap_ms: 250.0,
            live_join_gap_ms: 600.0,
            remind_after_s: 5.0,
        }
    }
}

impl RecordConfig {
    pub fn check(&self) -> Result<()> {
        self.vad.check()?;
        let c = &self.checks;
        let finite_pos = |v: f64| v.is_finite() && v >= 0.0;
        if !(finite_pos(self.context_ms.into())
            && finite_pos(self.join_gap_ms.into())
            && finite_pos(self.live_join_gap_ms.into())
            && finite_pos(c.word_hangover_ms.into())
            && finite_pos(c.min_word_s)
            && finite_pos(self.remind_after_s)
            && finite_pos(c.min_speech_s)
            && finite_pos(c.max_speech_s)
            && finite_pos(c.max_clipped_ms)
            && c.min_speech_s < c.max_speech_s
            && c.clip_level > 0.0
            && c.clip_level <= 1.0
            && c.min_rise_db.is_finite())
        {
            return Err(RecordError::Config(format!("{self:?}")));
        }
        // The word counter is a VAD too.
        VadConfig {
            hangover_ms: c.word_hangover_ms,
            early_hangover_ms: c.word_hangover_ms,
            ..self.vad.clone()
        }
        .check()?;
        Ok(())
    }
}

/// One answer: a word, or words run together, with room tone around it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Mono samples at the source rate: the speech and up to `context_ms`
    /// of what came before and after it.
    pub samples: Vec<f32>,
    /// Stream time (s) of the first word's start and the last word's end.
    pub start_s: f64,
    pub end_s: f64,
    /// The words (VAD utterances) in it: stream times (s) of their
    /// speech.
    pub words: Vec<(f64, f64)>,
    /// The VAD cut a word at its longest (`max_ms`).
    pub too_long: bool,
    /// Where the speech lies in `samples`.
    pub speech: std::ops::Range<usize>,
}

impl Answer {
    /// Speech from the first word's start to the last one's end (s).
    pub fn speech_s(&self) -> f64 {
        self.end_s - self.start_s
    }
}

/// Finds the answers in a stream: push blocks, get [`Answer`]s as soon as
/// the room tone after them is in.
#[derive(Debug)]
pub struct Segmenter {
    vad: Vad,
    rate: u32,
    context: u64,
    join_gap: u64,
    /// Stream samples from `buffer_start` on.
    buffer: Vec<f32>,
    buffer_start: u64,
    received: u64,
    /// Samples kept when no answer is open: the longest utterance, its
    /// context and the VAD's detection delay.
    keep: u64,
    open: Option<Open>,
    utterances: Vec<Utterance>,
}

/// An answer whose end is not sure yet (another word may follow).
#[derive(Debug)]
struct Open {
    start: u64,
    end: u64,
    words: Vec<(f64, f64)>,
    too_long: bool,
}

impl Segmenter {
    /// A segmenter for a stream at `rate`; `live`: a microphone's
    /// ([`RecordConfig::live_join_gap_ms`]).
    pub fn new(cfg: &RecordConfig, rate: u32, live: bool) -> Result<Self> {
        cfg.check()?;
        let vad = Vad::new(cfg.vad.clone(), rate)?;
        let samples = |ms: f32| (f64::from(ms) / 1000.0 * f64::from(rate)).round() as u64;
        let context = samples(cfg.context_ms);
        Ok(Self {
            vad,
            rate,
            context,
            join_gap: samples(if live {
                cfg.live_join_gap_ms
            } else {
                cfg.join_gap_ms
            }),
            buffer: Vec::new(),
            buffer_start: 0,
            received: 0,
            keep: samples(cfg.vad.max_ms + 1000.0) + context,
            open: None,
            utterances: Vec::new(),
        })
    }

    /// Samples pushed so far, as stream time (s).
    pub fn stream_time(&self) -> f64 {
        self.received as f64 / f64::from(self.rate)
    }

    /// Whether a word is being heard or waits for the room tone after it.
    pub fn busy(&self) -> bool {
        self.open.is_some() || self.vad.in_speech()
    }

    /// Feeds samples; finished answers are appended to `out`.
    pub fn push(&mut self, block: &[f32], out: &mut Vec<Answer>) {
        self.buffer.extend_from_slice(block);
        self.received += block.len() as u64;
        let mut found = std::mem::take(&mut self.utterances);
        self.vad.push(block, &mut found);
        for u in found.drain(..) {
            self.add(&u, out);
        }
        self.utterances = found;
        // The answer is out once the room tone after it is in and no word
        // has started within the join gap (a word still being heard may
        // have: its start is known only when it ends).
        if let Some(open) = &self.open {
            let settled = open.end + self.context.max(self.join_gap);
            if self.received >= settled && !self.vad.in_speech() {
                self.close(out);
            }
        }
        self.trim();
    }

    /// Ends the stream: a word still open is finished, and the last
    /// answer is out with whatever room tone followed it.
    pub fn finish(&mut self, out: &mut Vec<Answer>) {
        let mut found = std::mem::take(&mut self.utterances);
        self.vad.flush(&mut found);
        for u in found.drain(..) {
            self.add(&u, out);
        }
        self.utterances = found;
        self.close(out);
    }

    fn add(&mut self, u: &Utterance, out: &mut Vec<Answer>) {
        let at = |s: f64| (s * f64::from(self.rate)).round() as u64;
        let (start, end) = (at(u.start_s), at(u.end_s));
        match &mut self.open {
            Some(open) if start < open.end + self.join_gap => {
                open.end = open.end.max(end);
                open.words.push((u.start_s, u.end_s));
                open.too_long |= u.too_long;
            }
            _ => {
                self.close(out);
                self.open = Some(Open {
                    start,
                    end,
                    words: vec![(u.start_s, u.end_s)],
                    too_long: u.too_long,
                });
            }
        }
    }

    fn close(&mut self, out: &mut Vec<Answer>) {
        let Some(open) = self.open.take() else { return };
        let from = open
            .start
            .saturating_sub(self.context)
            .max(self.buffer_start);
        let to = (open.end + self.context).min(self.received);
        let index = |t: u64| (t - self.buffer_start) as usize;
        let samples = self.buffer[index(from)..index(to.max(from))].to_vec();
        let speech_start = (open.start.max(from) - from) as usize;
        let speech_end = ((open.end.min(to) - from) as usize).max(speech_start);
        out.push(Answer {
            samples,
            start_s: open.start as f64 / f64::from(self.rate),
            end_s: open.end as f64 / f64::from(self.rate),
            words: open.words,
            too_long: open.too_long,
            speech: speech_start..speech_end,
        });
    }

    /// Drops samples no answer can need any more (in one go once they
    /// are many, so the buffer is not shifted for every block).
    fn trim(&mut self) {
        let needed_from = match &self.open {
            Some(open) => open.start.saturating_sub(self.context),
            None => self.received.saturating_sub(self.keep),
        };
        let drop = needed_from.saturating_sub(self.buffer_start) as usize;
        if drop > 0 && drop >= self.buffer.len() / 2 {
            self.buffer.drain(..drop);
            self.buffer_start += drop as u64;
        }
    }
}

/// Why a take was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Two or more words close together.
    TwoWords { words: usize },
    /// More speech than a digit has (s), or cut at the VAD's longest.
    TooLong { speech_s: f64 },
    /// Less speech than a digit has (s).
    TooShort { speech_s: f64 },
    /// Audio at full scale (ms).
    Clipped { ms: f64 },
    /// How far the word rises above the room tone (dB).
    TooQuiet { rise_db: f32 },
}

impl Refusal {
    /// What was wrong and what to do, for a take of `word`.
    pub fn message(&self, word: Word, checks: &Checks) -> String {
        let w = word.spoken();
        match self {
            Refusal::TwoWords { .. } => format!("that sounded like two words; say {w} once"),
            Refusal::TooLong { speech_s } => format!(
                "too long for one word ({speech_s:.1} s of sound, a digit takes at most {:.1} s); say {w} once, on its own",
                checks.max_speech_s
            ),
            Refusal::TooShort { speech_s } => format!(
                "too short for a word ({:.0} ms of sound, a digit takes {:.0} ms or more); say {w} clearly",
                speech_s * 1000.0,
                checks.min_speech_s * 1000.0
            ),
            Refusal::Clipped { .. } => {
                "clipped: speak a little further from the microphone, or lower the input level"
                    .to_string()
            }
            // Rounded down, so 11.96 dB never reads as the 12 it missed.
            Refusal::TooQuiet { rise_db } => format!(
                "too quiet: move closer or raise the input level (the word rises {:.1} dB above the room's noise, a take needs {})",
                (rise_db * 10.0).floor() / 10.0,
                checks.min_rise_db
            ),
        }
    }
}

/// What the checks measured on a take.
#[derive(Debug, Clone, PartialEq)]
pub struct Measures {
    /// Words of at least `min_word_s` ([`Checks`]), or 1.
    pub words: usize,
    pub speech_s: f64,
    /// Audio at full scale (ms).
    pub clipped_ms: f64,
    /// The loudest 10 ms of the speech (dBFS), DC offset removed.
    pub peak_dbfs: f32,
    /// How far the word rises above the room tone (dB), on the take
    /// at the model rate: [`word_rise_db`].
    pub rise_db: f32,
}

impl Measures {
    /// The first check the take fails, in the order they are reported.
    pub fn refusal(&self, checks: &Checks, too_long: bool) -> Option<Refusal> {
        if self.words > 1 {
            return Some(Refusal::TwoWords { words: self.words });
        }
        if too_long || self.speech_s > checks.max_speech_s {
            return Some(Refusal::TooLong {
                speech_s: self.speech_s,
            });
        }
        if self.speech_s < checks.min_speech_s {
            return Some(Refusal::TooShort {
                speech_s: self.speech_s,
            });
        }
        if self.clipped_ms >= checks.max_clipped_ms {
            return Some(Refusal::Clipped {
                ms: self.clipped_ms,
            });
        }
        if self.rise_db < checks.min_rise_db {
            return Some(Refusal::TooQuiet {
                rise_db: self.rise_db,
            });
        }
        None
    }
}

/// Measures and checks takes; holds the scratch the measures need.
#[derive(Debug)]
pub struct Meter {
    vad: VadConfig,
    checks: Checks,
    conditioner: Conditioner,
    endpoint: EndpointConfig,
    scratch: Vec<f32>,
}

impl Meter {
    pub fn new(cfg: &RecordConfig) -> Result<Self> {
        cfg.check()?;
        Ok(Self {
            vad: cfg.vad.clone(),
            checks: cfg.checks.clone(),
            conditioner: Conditioner::new(),
            endpoint: EndpointConfig::default(),
            scratch: Vec::new(),
        })
    }

    pub fn checks(&self) -> &Checks {
        &self.checks
    }

    /// The measures of `answer` (samples at `rate`), or why it is refused.
    pub fn check(
        &mut self,
        answer: &Answer,
        rate: u32,
    ) -> Result<std::result::Result<Measures, Refusal>> {
        let m = self.measure(answer, rate)?;
        Ok(match m.refusal(&self.checks, answer.too_long) {
            Some(r) => Err(r),
            None => Ok(m),
        })
    }

    /// The measures of `answer` (samples at `rate`).
    pub fn measure(&mut self, answer: &Answer, rate: u32) -> Result<Measures> {
        let checks = &self.checks;
        let speech = &answer.samples[answer.speech.clone()];
        let clipped = speech
            .iter()
            .filter(|x| x.abs() >= checks.clip_level)
            .count();
        let peak_dbfs = peak_dbfs(speech, rate);
        let rise_db = if answer.samples.is_empty() {
            0.0
        } else {
            let at_8k = self
                .conditioner
                .condition(&answer.samples, rate)
                .map_err(ListenError::from)?;
            word_rise_db(&self.endpoint, at_8k, MODEL_RATE, &mut self.scratch)
        };
        Ok(Measures {
            words: count_words(answer, rate, &self.vad, checks)?,
            speech_s: answer.speech_s(),
            clipped_ms: clipped as f64 * 1000.0 / f64::from(rate),
            peak_dbfs,
            rise_db,
        })
    }
}

/// The words in an answer: `listen`'s VAD with the checks' shorter
/// hangover, over the answer with its room tone; stretches of at least
/// `min_word_s` count. At least 1: the answer is there.
fn count_words(answer: &Answer, rate: u32, vad: &VadConfig, checks: &Checks) -> Result<usize> {
    let cfg = VadConfig {
        hangover_ms: checks.word_hangover_ms,
        early_hangover_ms: checks.word_hangover_ms,
        ..vad.clone()
    };
    let mut vad = Vad::new(cfg, rate)?;
    let mut found = Vec::new();
    vad.push(&answer.samples, &mut found);
    vad.flush(&mut found);
    let words = found
        .iter()
        .filter(|u| u.end_s - u.start_s >= checks.min_word_s - 1e-9)
        .count();
    Ok(words.max(1))
}

/// The loudest 10 ms RMS of `x` (at `rate`) in dBFS, its mean taken out.
fn peak_dbfs(x: &[f32], rate: u32) -> f32 {
    if x.is_empty() {
        return f32::NEG_INFINITY;
    }
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len() as f64;
    let frame = (rate as usize / 100).max(1);
    let loudest = x
        .chunks(frame)
        .map(|c| {
            c.iter()
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum::<f64>()
                / c.len() as f64
        })
        .fold(0.0f64, f64::max);
    (10.0 * (loudest + 1e-20).log10()) as f32
}

/// What a session reports as it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice<'a> {
    /// The first audio arrived this long after the start.
    FirstAudio(Duration),
    /// The next take is wanted (`attempt` 1, then 2, … after refusals).
    Prompt { take: &'a Take, attempt: u32 },
    /// An answer was refused; `start_s` is its time in the stream.
    Refused {
        take: &'a Take,
        refusal: Refusal,
        start_s: f64,
        end_s: f64,
    },
    /// A take was saved.
    Saved {
        take: &'a Take,
        seconds: f64,
        start_s: f64,
        measures: Measures,
    },
    /// A live source has heard no answer for this long since the prompt.
    NothingHeard { take: &'a Take, waited_s: f64 },
    /// Something the user should know (dropped audio, an overrun).
    Warning(String),
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Every take of the plan was recorded or refused.
    Done,
    /// The source ended first (the file ran out of words).
    EndOfInput,
    /// The stop flag was raised (Ctrl-C).
    Interrupted,
}

/// How a session went.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub finish: Finish,
    pub saved: usize,
    /// Where each take of the plan came from: the answer's stream time (s)
    /// for those saved, in plan order.
    pub saved_at: Vec<Option<f64>>,
    /// From an on-demand source: takes whose word was refused.
    pub refused: Vec<Take>,
    /// Takes the source ended (or Ctrl-C came) before.
    pub unreached: Vec<Take>,
    /// Answers after the plan's last take (from an on-demand source,
    /// which is read to its end), and the time of the first.
    pub extra_answers: usize,
    pub extra_from_s: Option<f64>,
}

impl Outcome {
    /// Takes of the plan not saved.
    pub fn missing(&self) -> usize {
        self.refused.len() + self.unreached.len()
    }
}

/// How often the loop looks at the stop flag when no audio comes.
const POLL: Duration = Duration::from_millis(50);
/// Dropped audio is reported at most this often.
const DROP_REPORT_EVERY: Duration = Duration::from_secs(1);

/// Runs a session: prompts for each take of `plan`, takes the next answer
/// in `source`, checks and saves it.
///
/// From a live source a refused answer is asked for again. From an
/// on-demand source (a WAV file) each answer is the next take in order,
/// whether it is saved or refused, so one bad word never shifts the later
/// ones onto the wrong digits; the file is read to its end, and answers
/// beyond the plan are counted. Returns when the plan is done (a live
/// source) or the source ends, or when `stop` is raised (Ctrl-C); what was
/// saved stays saved.
pub fn run(
    source: &Source,
    plan: &Plan,
    cfg: &RecordConfig,
    stop: &AtomicBool,
    mut on: impl FnMut(Notice) -> std::io::Result<()>,
) -> Result<Outcome> {
    let io = |e: std::io::Error| RecordError::Listen(ListenError::Output(e));
    let rate = source.sample_rate();
    let live = !source.on_demand();
    let mut segmenter = Segmenter::new(cfg, rate, live)?;
    let mut meter = Meter::new(cfg)?;
    let mut answers = Vec::new();
    let mut outcome = Outcome {
        finish: Finish::Done,
        saved: 0,
        saved_at: vec![None; plan.takes.len()],
        refused: Vec::new(),
        unreached: Vec::new(),
        extra_answers: 0,
        extra_from_s: None,
    };
    let mut next = 0usize;
    let mut attempt = 1u32;
    // Stream time of the prompt (or the last reminder).
    let mut asked_at = 0.0f64;
    let started = Instant::now();
    let mut first_audio = false;
    let mut dropped_seen = 0u64;
    let mut dropped_reported: Option<Instant> = None;
    if plan.takes.is_empty() {
        return Ok(outcome);
    }
    source.want(u64::MAX);
    let finish = loop {
        if stop.load(Ordering::SeqCst) {
            break Finish::Interrupted;
        }
        let dropped = source.dropped_blocks();
        if dropped > dropped_seen
            && dropped_reported.is_none_or(|t| t.elapsed() >= DROP_REPORT_EVERY)
        {
            on(Notice::Warning(format!(
                "{} audio blocks dropped: the session fell behind the device",
                dropped - dropped_seen
            )))
            .map_err(io)?;
            dropped_seen = dropped;
            dropped_reported = Some(Instant::now());
        }
        let ended = match source.recv(POLL) {
            Ok(Event::Audio(block)) => {
                if !first_audio {
                    // The first prompt once the device delivers: a word
                    // said before that would be lost.
                    first_audio = true;
                    on(Notice::FirstAudio(started.elapsed())).map_err(io)?;
                    on(Notice::Prompt {
                        take: &plan.takes[0],
                        attempt,
                    })
                    .map_err(io)?;
                }
                segmenter.push(&block, &mut answers);
                false
            }
            Ok(Event::End) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                segmenter.finish(&mut answers);
                true
            }
            Ok(Event::Warning(w)) => {
                on(Notice::Warning(w)).map_err(io)?;
                false
            }
            Ok(Event::Failed(m)) => return Err(ListenError::Stream(m).into()),
            Ok(Event::Press | Event::Quit) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                false
            }
        };
        for answer in answers.drain(..) {
            let Some(take) = plan.takes.get(next) else {
                outcome.extra_answers += 1;
                outcome.extra_from_s.get_or_insert(answer.start_s);
                continue;
            };
            let saved = match meter.check(&answer, rate)? {
                Ok(measures) => {
                    save_take(&take.path, &answer.samples, rate)?;
                    outcome.saved += 1;
                    outcome.saved_at[next] = Some(answer.start_s);
                    on(Notice::Saved {
                        take,
                        seconds: answer.samples.len() as f64 / f64::from(rate),
                        start_s: answer.start_s,
                        measures,
                    })
                    .map_err(io)?;
                    true
                }
                Err(refusal) => {
                    on(Notice::Refused {
                        take,
                        refusal,
                        start_s: answer.start_s,
                        end_s: answer.end_s,
                    })
                    .map_err(io)?;
                    if !live {
                        outcome.refused.push(take.clone());
                    }
                    false
                }
            };
            if saved || !live {
                next += 1;
                attempt = 1;
            } else {
                attempt += 1;
            }
            asked_at = segmenter.stream_time();
            if let Some(take) = plan.takes.get(next) {
                on(Notice::Prompt { take, attempt }).map_err(io)?;
            }
        }
        if ended {
            break if next >= plan.takes.len() {
                Finish::Done
            } else {
                Finish::EndOfInput
            };
        }
        if next >= plan.takes.len() && live {
            break Finish::Done;
        }
        if live && first_audio && !segmenter.busy() {
            let waited = segmenter.stream_time() - asked_at;
            if waited >= cfg.remind_after_s {
                on(Notice::NothingHeard {
                    take: &plan.takes[next],
                    waited_s: waited,
                })
                .map_err(io)?;
                // Once per prompt: someone who stepped away comes back to
                // one reminder, not a screenful.
                asked_at = f64::INFINITY;
            }
        }
    };
    outcome.finish = finish;
    outcome
        .unreached
        .extend(plan.takes.iter().skip(next).cloned());
    Ok(outcome)
}

/// A stretch of takes that hold the word asked for one prompt later
/// (`by` = 1: a word of the recording was not heard, so each later answer
/// went to the prompt before its own) or earlier (`by` = −1: a sound was
/// taken for an answer, or a word heard as two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    /// The plan index of the first take of the stretch.
    pub from: usize,
    pub by: i8,
    /// Takes in the stretch the model hears as the shifted word, and
    /// takes it hears at all.
    pub shifted: usize,
    pub of: usize,
}

/// Looks for a shift in a recording read in order: `heard[i]` is the
/// digit the base model hears in the take of `plan.takes[i]`, for those
/// saved. A shift shows as a stretch to the end in which the model hears
/// the neighbouring prompt's digit at least [`SHIFT_MIN_EXCESS`] times
/// more often than the take's own. The model need not hear the speaker
/// well: for a voice it gets 60 % of, the own digit outnumbers the
/// neighbour's by far unless the takes are shifted.
pub fn find_shift(plan: &Plan, heard: &[Option<u8>]) -> Option<Shift> {
    let label = |i: usize| plan.takes.get(i).map(|t| t.word.digit());
    let mut best: Option<(i64, Shift)> = None;
    for by in [1i8, -1] {
        let (mut excess, mut shifted, mut of) = (0i64, 0usize, 0usize);
        // From the end backwards: the stretch is every take from `i` on.
        for i in (0..heard.len().min(plan.takes.len())).rev() {
            let Some(h) = heard[i] else { continue };
            let Some(neighbour) = i.checked_add_signed(by.into()).and_then(label) else {
                continue;
            };
            let own = label(i).expect("a take of the plan");
            if neighbour == own {
                continue;
            }
            of += 1;
            if h == neighbour {
                excess += 1;
                shifted += 1;
            } else if h == own {
                excess -= 1;
            }
            let better = best.as_ref().is_none_or(|(e, _)| excess > *e);
            if excess >= SHIFT_MIN_EXCESS && better {
                best = Some((
                    excess,
                    Shift {
                        from: i,
                        by,
                        shifted,
                        of,
                    },
                ));
            }
        }
    }
    best.map(|(_, s)| s)
}

/// How many more takes must sound like the neighbouring prompt's digit
/// than like their own before [`find_shift`] calls a stretch shifted.
pub const SHIFT_MIN_EXCESS: i64 = 3;

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 16_000;

    /// Deterministic low noise (xorshift), amplitude `amp`.
    fn noise(n: usize, amp: f32, seed: &mut u64) -> Vec<f32> {
        (0..n)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                ((*seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0 * amp
            })
            .collect()
    }

    /// A vowel-ish burst: a 200 Hz harmonic tone.
    fn burst(ms: usize, amp: f32) -> Vec<f32> {
        let n = ms * RATE as usize / 1000;
        (0..n)
            .map(|i| {
                let t = i as f32 / RATE as f32;
                amp * ((2.0 * std::f32::consts::PI * 200.0 * t).sin()
                    + 0.5 * (2.0 * std::f32::consts::PI * 1200.0 * t).sin())
            })
            .collect()
    }

    fn mix(base: &mut [f32], at_ms: usize, add: &[f32]) {
        let at = at_ms * RATE as usize / 1000;
        for (b, a) in base[at..].iter_mut().zip(add) {
            *b += a;
        }
    }

    fn answers(signal: &[f32], block: usize) -> Vec<Answer> {
        let mut s = Segmenter::new(&RecordConfig::default(), RATE, false).unwrap();
        let mut out = Vec::new();
        for c in signal.chunks(block) {
            s.push(c, &mut out);
        }
        s.finish(&mut out);
        out
    }

    #[test]
    fn words_apart_are_answers_with_room_tone_and_words_close_are_one() {
        let mut seed = 3;
        let mut x = noise(RATE as usize * 4, 0.002, &mut seed);
        mix(&mut x, 500, &burst(400, 0.3));
        mix(&mut x, 1400, &burst(300, 0.3)); // 500 ms after the first
        mix(&mut x, 1850, &burst(300, 0.3)); // 150 ms after the second
        for block in [1, 160, 4096] {
            let a = answers(&x, block);
            assert_eq!(a.len(), 2, "block {block}: {a:?}");
            assert_eq!((a[0].words.len(), a[1].words.len()), (1, 2));
            assert!((a[0].start_s - 0.5).abs() < 0.02 && (a[0].end_s - 0.9).abs() < 0.02);
            assert!((a[1].start_s - 1.4).abs() < 0.02 && (a[1].end_s - 2.15).abs() < 0.02);
            // 250 ms of room tone either side, exactly the stream's samples.
            let len = a[0].samples.len() as f64 / RATE as f64;
            assert!((len - 0.9).abs() < 0.03, "{len}");
            let from = (a[0].start_s - 0.25) * RATE as f64;
            let from = from.round() as usize;
            assert_eq!(a[0].samples[..100], x[from..from + 100]);
            assert_eq!(a[0].speech.start, RATE as usize / 4);
        }
    }

    #[test]
    fn a_word_at_the_start_keeps_what_room_tone_there_is() {
        let mut seed = 4;
        let mut x = noise(RATE as usize * 2, 0.002, &mut seed);
        mix(&mut x, 100, &burst(300, 0.3));
        let a = answers(&x, 160);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].samples[..50], x[..50]);
        assert_eq!(a[0].speech.start, RATE as usize / 10);
    }

    #[test]
    fn checks_refuse_with_the_reason() {
        let checks = Checks::default();
        let good = Measures {
            words: 1,
            speech_s: 0.5,
            clipped_ms: 0.0,
            peak_dbfs: -20.0,
            rise_db: 30.0,
        };
        assert_eq!(good.refusal(&checks, false), None);
        let with = |f: fn(&mut Measures)| {
            let mut m = good.clone();
            f(&mut m);
            m.refusal(&checks, false)
                .unwrap()
                .message(Word::Digit(7), &checks)
        };
        assert_eq!(
            with(|m| m.words = 2),
            "that sounded like two words; say SEVEN once"
        );
        assert_eq!(
            with(|m| m.clipped_ms = 3.0),
            "clipped: speak a little further from the microphone, or lower the input level"
        );
        assert_eq!(
            with(|m| m.speech_s = 1.83),
            "too long for one word (1.8 s of sound, a digit takes at most 1.5 s); say SEVEN once, on its own"
        );
        assert_eq!(
            with(|m| m.speech_s = 0.05),
            "too short for a word (50 ms of sound, a digit takes 60 ms or more); say SEVEN clearly"
        );
        assert_eq!(
            with(|m| m.rise_db = 14.96),
            "too quiet: move closer or raise the input level (the word rises 14.9 dB above the room's noise, a take needs 15)"
        );
    }

    #[test]
    fn a_word_not_heard_shows_as_a_shift() {
        let dir = tempfile::tempdir().unwrap();
        let p = plan(dir.path(), "ann", 2, false, &[]).unwrap();
        let labels: Vec<Option<u8>> = p.takes.iter().map(|t| Some(t.word.digit())).collect();
        assert_eq!(find_shift(&p, &labels), None);
        // A voice the model gets 60 % of, its errors spread: no shift.
        let mut poor = labels.clone();
        for (i, h) in poor.iter_mut().enumerate() {
            if i % 5 >= 3 {
                *h = h.map(|d| (d + 5) % 10);
            }
        }
        assert_eq!(find_shift(&p, &poor), None);
        // The word for THREE (take 1) was not heard: from there on each
        // take holds the next prompt's word, the last one never came.
        let mut shifted = labels.clone();
        shifted[3..19].copy_from_slice(&labels[4..20]);
        shifted[19] = None;
        let s = find_shift(&p, &shifted).unwrap();
        assert_eq!((s.from, s.by, s.shifted, s.of), (3, 1, 16, 16));
        // A cough taken for SIX (take 2): the later takes hold the word
        // before theirs.
        let mut extra = labels.clone();
        for i in (17..20).rev() {
            extra[i] = labels[i - 1];
        }
        extra[16] = Some(1);
        assert_eq!(
            find_shift(&p, &extra).map(|s| (s.from, s.by)),
            Some((17, -1))
        );
    }

    #[test]
    fn speaker_names_are_letters_digits_and_dashes() {
        for ok in ["theo", "Anna-Lena", "user2", "x"] {
            assert!(check_speaker(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(65);
        for bad in ["", "the_o", "a b", "a/b", "..", "é", long.as_str()] {
            assert!(check_speaker(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn words_parse_and_name_their_files() {
        assert_eq!(Word::parse("7"), Some(Word::Digit(7)));
        assert_eq!(Word::parse("OH"), Some(Word::Oh));
        assert_eq!(Word::parse("10"), None);
        assert_eq!(Word::parse("07"), None);
        assert_eq!(file_name("theo", Word::Digit(7), 2), "7_theo_1.wav");
        assert_eq!(file_name("theo", Word::Oh, 1), "0_theo_100.wav");
        let n = crate::data::parse_fsdd_name("0_theo_100.wav").unwrap();
        assert_eq!((n.digit, n.take), (0, 100));
    }

    #[test]
    fn a_plan_keeps_good_takes_and_redoes_what_is_asked() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("new");
        let p = plan(&d, "ann", 2, true, &[]).unwrap();
        assert!(!d.exists());
        p.prepare().unwrap();
        assert!(d.is_dir());
        assert_eq!((p.all, p.kept, p.takes.len()), (22, 0, 22));
        assert_eq!(p.takes[10].word, Word::Oh);
        assert_eq!(p.takes[11].prompt(), "say ZERO (take 2 of 2)");
        save_take(&p.takes[3].path, &[0.1, -0.1, 0.2], 8000).unwrap();
        std::fs::write(&p.takes[4].path, b"not a wav").unwrap();
        std::fs::write(d.join(".5_ann_0.wav.partial"), b"half").unwrap();
        let p = plan(&d, "ann", 2, true, &[]).unwrap();
        p.prepare().unwrap();
        assert_eq!((p.kept, p.takes.len()), (1, 21));
        assert_eq!(p.unreadable, [d.join("4_ann_0.wav")]);
        assert!(!d.join(".5_ann_0.wav.partial").exists());
        let p = plan(&d, "ann", 2, true, &[Word::Digit(3)]).unwrap();
        let names: Vec<String> = p
            .takes
            .iter()
            .map(|t| t.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["3_ann_0.wav", "3_ann_1.wav"]);
        assert_eq!(p.missing_elsewhere, 20);
        let a = audio::read_wav(&d.join("3_ann_0.wav")).unwrap();
        assert_eq!(
            a.samples,
            [0.1f32, -0.1, 0.2].map(|v| (v * 32768.0f32).round() / 32768.0)
        );
    }
}
