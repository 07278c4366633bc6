//! `predict`'s answer for one recording: the checks a file gets before its
//! digit is trusted (some sound, long enough to hold a word, a word that
//! rises above the background), the digit, and how many words the file
//! sounds like. The binary reads the files and prints; this is the work in
//! between, which the benchmark `predict_files` times over the test clips.
//! A long recording is never held whole: it is read in passes
//! ([`LongRecording`]).

use crate::audio::{Audio, Replay as _, WavReader};
use crate::features::endpoint::MIN_WORD_RISE_DB;
use crate::listen::{Vad, VadConfig};
use crate::model::{ModelError, ModelFile, Prediction, Recognizer};

/// Recordings longer than this many frames (87 s at 48 kHz, 8.7 min at
/// 8 kHz) are not held in memory: they are read in passes.
pub const LONG_FRAMES: u64 = 1 << 22;

/// A long recording: its reader and what a first pass over it found. It is
/// classified by reading it again ([`Predictor::answer_long`]), so memory
/// stays bounded whatever its length.
pub struct LongRecording {
    // Boxed: the reader is large.
    reader: Box<WavReader<'static>>,
    frames: u64,
    /// Words the listening loop's detector finds in it (as `Vad::count_in`
    /// for a recording in memory).
    words: Option<usize>,
    /// Every sample within one 16-bit step of the others.
    silent: bool,
}

impl LongRecording {
    /// The first pass: the length, whether it is silent (lowest and
    /// highest sample), and the words in it.
    pub fn survey(mut reader: WavReader<'static>) -> crate::audio::Result<Self> {
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
        Ok(Self {
            silent: crate::audio::is_silent_range(lo, hi),
            words: vad.is_some().then_some(words),
            reader: Box::new(reader),
            frames,
        })
    }

    pub fn seconds(&self) -> f64 {
        self.frames as f64 / f64::from(self.reader.sample_rate())
    }
}

/// Why a recording gets no digit. The messages name no file: the caller
/// puts the file's name first.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error("no sound (every sample the same, within one 16-bit step); check that the microphone was on and not muted")]
    Silent,
    #[error(
        "too short to hold a word ({ms:.0} ms of audio; a spoken digit lasts a few hundred ms)"
    )]
    TooShort { ms: f64 },
    #[error(
        "no word heard (its loudest {stretch_ms} ms is {:.1} dB above the background, a word rises {MIN_WORD_RISE_DB} dB or more); check that the recording holds a spoken digit",
        // Rounded down, so 2.96 dB never reads as the 3 dB it missed.
        (rise_db * 10.0).floor() / 10.0
    )]
    NoWord { rise_db: f32, stretch_ms: f32 },
    #[error("cannot classify: {0}")]
    Classify(ModelError),
}

/// A recording's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub prediction: Prediction,
    /// How many words the recording sounds like (1 unless it sounds like
    /// more): `predict` names one digit per file and warns when it is more.
    pub words: usize,
}

/// The recognizer and its buffers, built once and reused for every file.
pub struct Predictor {
    recognizer: Recognizer,
}

impl Predictor {
    pub fn new(model: ModelFile) -> Result<Self, ModelError> {
        Ok(Self {
            recognizer: Recognizer::new(model)?,
        })
    }

    pub fn model(&self) -> &ModelFile {
        self.recognizer.model()
    }

    /// The digit in `audio`, or why it has none.
    pub fn answer(&mut self, audio: &Audio) -> Result<Answer, PredictError> {
        answer(&mut self.recognizer, audio)
    }

    /// [`Self::answer`] for a long recording, read again in passes: the
    /// same checks and, bit for bit, the same features.
    pub fn answer_long(&mut self, long: &mut LongRecording) -> Result<Answer, PredictError> {
        let (silent, seconds) = (long.silent, long.seconds());
        let reader = long.reader.as_mut();
        let prediction = checked(&mut self.recognizer, silent, seconds, |r| {
            r.recognize_replayed(reader)
        })?;
        Ok(Answer {
            prediction,
            words: long.words.map_or(1, |n| n.max(1)),
        })
    }
}

/// The digit in `audio`, or why it has none, by `recognizer`: what
/// `predict` answers for a file and `POST /api/predict` for a body.
pub fn answer(recognizer: &mut Recognizer, audio: &Audio) -> Result<Answer, PredictError> {
    let prediction = checked(recognizer, audio.is_silent(), audio.seconds(), |r| {
        r.recognize(&audio.samples, audio.sample_rate)
    })?;
    // The VAD `listen --auto` splits a stream with: one digit per file
    // is named, with a warning when the file sounds like more.
    let words = Vad::count_in(&audio.samples, audio.sample_rate).map_or(1, |n| n.max(1));
    Ok(Answer { prediction, words })
}

/// `predict`'s checks around `recognize`, in its order: some sound, long
/// enough to hold a word, a word that rises above the background.
fn checked(
    recognizer: &mut Recognizer,
    silent: bool,
    seconds: f64,
    recognize: impl FnOnce(&mut Recognizer) -> Result<Prediction, ModelError>,
) -> Result<Prediction, PredictError> {
    if silent {
        return Err(PredictError::Silent);
    }
    // Shorter than the stretch the word is sought in: nothing can rise.
    let stretch_ms = recognizer.model().front_end.endpoint.seed_ms;
    let ms = 1e3 * seconds;
    if ms < f64::from(stretch_ms) {
        return Err(PredictError::TooShort { ms });
    }
    let prediction = recognize(recognizer).map_err(PredictError::Classify)?;
    let rise_db = recognizer.word_rise_db();
    if rise_db < MIN_WORD_RISE_DB {
        return Err(PredictError::NoWord {
            rise_db,
            stretch_ms,
        });
    }
    Ok(prediction)
}

/// The object `digits predict --json` prints for a file (and `POST
/// /api/predict` answers): `file`, `digit`, `confidence`, the `top` K as
/// `[digit, probability]` pairs, `ms`, and `words` when the clip sounds
/// like more than one.
pub fn prediction_json(
    name: &str,
    p: &Prediction,
    top: usize,
    ms: f64,
    words: usize,
) -> serde_json::Value {
    use serde_json::json;
    let round = |v: f64, places: i32| {
        let k = 10f64.powi(places);
        (v * k).round() / k
    };
    let top: Vec<serde_json::Value> = p
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
    v
}
