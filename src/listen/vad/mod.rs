//! The hands-free segmenter ([`Vad`]): energy per 10 ms frame, measured
//! against an adaptive noise floor, with hysteresis, a hangover that ends
//! an utterance after ~120 ms of silence (200 ms until room tone has been
//! heard), and minimum / maximum lengths; each [`Utterance`] is cut with
//! ~100 ms of context on both sides.
//!
//! This file owns the settings ([`VadConfig`]), the segmenter's state and
//! its public face (push samples, flush, what it knows); the work per frame
//! lives beside it:
//! - `level`: the frame's level after a high-pass, and the noise floor;
//! - `machine`: the state machine that opens, extends and closes utterances;
//! - `unsure`: judging frames again while the floor's window is not full,
//!   so a word at the very start of a stream sets the first floor itself.
//!
//! The VAD only decides *where* utterances are and how much context comes
//! with them; it never changes the samples.

mod level;
mod machine;
#[cfg(test)]
mod tests;
mod unsure;

use std::collections::VecDeque;
use std::time::Instant;

use super::{ListenError, Result};
use crate::audio;
use unsure::Unsure;

/// Voice-activity-detector settings. Levels are in dB relative to full
/// scale, measured on 10 ms frames after a gentle high-pass.
#[derive(Debug, Clone, PartialEq)]
pub struct VadConfig {
    /// Analysis frame length (ms).
    pub frame_ms: f32,
    /// A frame starts an utterance this far above the noise floor (dB).
    pub start_db: f32,
    /// Inside an utterance, a frame counts as speech this far above the
    /// floor (dB); lower than `start_db` so word tails are not chopped.
    pub continue_db: f32,
    /// The floor is never assumed lower than this (dBFS): below it, a
    /// whisper of electrical noise would count as speech.
    pub floor_min_db: f32,
    /// The floor is the lowest (30 ms-smoothed) level over this window (s).
    pub floor_window_s: f32,
    /// This much silence ends an utterance (ms). As long as the longest
    /// quiet stretch inside a word that the endpoint detector bridges (a
    /// stop's closure in "six" or "eight", `EndpointConfig::max_gap_ms`):
    /// a longer one is a pause between words (prompts/listen.md, tenth
    /// session: 200 ms ran words said 150-200 ms apart together).
    pub hangover_ms: f32,
    /// The hangover until `room_tone_ms` of sound outside any word has
    /// been heard (ms). Until then the floor may be a word's own quietest
    /// part (a clip cut tight around one word), against which the weak /v/
    /// of "seven" or /f/ of "four" is silence: 120 ms split 19 of FSDD's
    /// 3,000 clips in two.
    pub early_hangover_ms: f32,
    /// This much sound outside any word (ms) shows the floor is the room's,
    /// not a word's: from then on `hangover_ms` applies.
    pub room_tone_ms: f32,
    /// Utterances with less speech than this are clicks (ms).
    pub min_speech_ms: f32,
    /// Utterances whose loudest frame is less than this above the floor are
    /// breaths or rustle (dB). Not applied to a stream that holds one
    /// utterance and nothing else (a clip cut tight around a word): its
    /// floor is the word's own quietest part, so `start_db` is all it needs.
    pub min_peak_db: f32,
    /// Longer than this is not one digit (ms): reported as unrecognised.
    pub max_ms: f32,
    /// Context kept before and after the speech (ms), so a weak onset or
    /// tail below the VAD's thresholds still reaches the recognizer, which
    /// trims again. This relies on the model having been trained with room
    /// tone around the words (`train --augment`): the first embedded model,
    /// trained on FSDD's tightly cut clips only, lost 3 points of digit
    /// accuracy with 100 ms of context (prompts/listen.md).
    pub pad_ms: f32,
    /// High-pass corner for the level measurement only (Hz): hum and
    /// rumble are not speech.
    pub highpass_hz: f32,
}

impl Default for VadConfig {
    /// frame 10 ms, start +10 dB, continue +6 dB over the floor, floor at
    /// least −70 dBFS over a 2 s window, hangover 120 ms (200 ms until 250 ms
    /// of room tone was heard), speech ≥ 60 ms,
    /// peak ≥ +15 dB, at most 2.5 s, pad 100 ms, high-pass 120 Hz.
    fn default() -> Self {
        Self {
            frame_ms: 10.0,
            start_db: 10.0,
            continue_db: 6.0,
            floor_min_db: -70.0,
            floor_window_s: 2.0,
            hangover_ms: 120.0,
            early_hangover_ms: 200.0,
            room_tone_ms: 250.0,
            min_speech_ms: 60.0,
            min_peak_db: 15.0,
            max_ms: 2500.0,
            pad_ms: 100.0,
            highpass_hz: 120.0,
        }
    }
}

impl VadConfig {
    pub fn check(&self) -> Result<()> {
        let bad = |s: &str| Err(ListenError::Config(s.into()));
        if !(1.0..=100.0).contains(&self.frame_ms) {
            return bad("frame_ms must be 1..=100");
        }
        if self.continue_db > self.start_db || self.continue_db < 0.0 {
            return bad("continue_db must be between 0 and start_db");
        }
        if self.hangover_ms < self.frame_ms
            || self.early_hangover_ms < self.frame_ms
            || self.max_ms <= self.min_speech_ms
        {
            return bad(
                "need hangover_ms and early_hangover_ms >= frame_ms and max_ms > min_speech_ms",
            );
        }
        if self.floor_window_s * 1000.0 < 3.0 * self.frame_ms
            || self.pad_ms < 0.0
            || self.room_tone_ms < 0.0
        {
            return bad("floor_window_s too short, or pad_ms or room_tone_ms negative");
        }
        Ok(())
    }
}

/// One stretch of speech, cut from the stream.
#[derive(Debug, Clone)]
pub struct Utterance {
    /// Mono samples at the source rate: the speech plus up to `pad_ms` of
    /// context on each side.
    pub samples: Vec<f32>,
    /// Stream time (s) of the first and last speech frame's edges (without
    /// the padding).
    pub start_s: f64,
    pub end_s: f64,
    /// Stream time (s) at which the end was detected (`end_s` + hangover).
    pub detected_s: f64,
    /// Wall-clock moment the end was detected.
    pub detected_at: Instant,
    /// Cut at `max_ms`: too long to be one digit.
    pub too_long: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum VadState {
    #[default]
    Idle,
    Speech,
    /// After an over-long utterance: ignore sound until a real pause.
    WaitSilence,
}

/// The hands-free segmenter: push blocks in, get [`Utterance`]s out.
#[derive(Debug)]
pub struct Vad {
    cfg: VadConfig,
    rate: u32,
    frame_len: usize,
    pad_len: usize,
    hangover_frames: usize,
    early_hangover_frames: usize,
    room_tone_frames: usize,
    min_speech_frames: usize,
    max_len: usize,
    // Frame assembly.
    pending: Vec<f32>,
    frame_start: u64,
    // Level measurement: one-pole high-pass state.
    hp_a: f32,
    hp_x: f32,
    hp_y: f32,
    // Noise floor: last 3 frame energies (linear) and the window of their means.
    last3: [f32; 3],
    seen_sound: usize,
    window: VecDeque<f32>,
    window_len: usize,
    floor_db: Option<f32>,
    // Samples just before the current frame (pre-roll).
    history: VecDeque<f32>,
    // While the floor window is not full yet: the frames, to judge again
    // each time the floor falls.
    unsure: Option<Unsure>,
    // Start of the first frame that was not digital silence.
    first_sound: Option<u64>,
    // Stream position analysed so far (when an utterance's end was found).
    now: u64,
    // The utterance being collected.
    state: VadState,
    utt: Vec<f32>,
    utt_first: u64,
    first_speech: u64,
    last_speech_end: u64,
    speech_frames: usize,
    peak_db: f32,
    silent_frames: usize,
    rejected: u64,
    /// Frames heard outside any word (up to `room_tone_frames`).
    quiet_frames: usize,
}

impl Vad {
    /// How many utterances the default VAD finds in a whole recording:
    /// `predict` warns when a file seems to hold more than one word.
    pub fn count_in(samples: &[f32], rate: u32) -> Result<usize> {
        let mut vad = Self::new(VadConfig::default(), rate)?;
        let mut out = Vec::new();
        vad.push(samples, &mut out);
        vad.flush(&mut out);
        Ok(out.len())
    }

    pub fn new(cfg: VadConfig, rate: u32) -> Result<Self> {
        cfg.check()?;
        audio::check_spec(rate, 1)?;
        let ms = |v: f32| (v / 1000.0 * rate as f32).round() as usize;
        let frame_len = ms(cfg.frame_ms).max(1);
        let frames = |v: f32| (v / cfg.frame_ms).ceil() as usize;
        let window_len = frames(cfg.floor_window_s * 1000.0);
        Ok(Self {
            rate,
            frame_len,
            pad_len: ms(cfg.pad_ms),
            hangover_frames: frames(cfg.hangover_ms),
            early_hangover_frames: frames(cfg.early_hangover_ms),
            room_tone_frames: frames(cfg.room_tone_ms),
            quiet_frames: 0,
            min_speech_frames: frames(cfg.min_speech_ms),
            max_len: ms(cfg.max_ms),
            pending: Vec::with_capacity(frame_len),
            frame_start: 0,
            hp_a: (-2.0 * std::f32::consts::PI * cfg.highpass_hz / rate as f32).exp(),
            hp_x: 0.0,
            hp_y: 0.0,
            last3: [0.0; 3],
            seen_sound: 0,
            window: VecDeque::with_capacity(window_len),
            window_len,
            floor_db: None,
            history: VecDeque::with_capacity(ms(cfg.pad_ms) + frame_len),
            unsure: Some(Unsure::default()),
            first_sound: None,
            now: 0,
            state: VadState::Idle,
            utt: Vec::new(),
            utt_first: 0,
            first_speech: 0,
            last_speech_end: 0,
            speech_frames: 0,
            peak_db: f32::NEG_INFINITY,
            silent_frames: 0,
            rejected: 0,
            cfg,
        })
    }

    pub fn config(&self) -> &VadConfig {
        &self.cfg
    }

    /// The current noise-floor estimate (dBFS), once any sound was heard.
    pub fn floor_db(&self) -> Option<f32> {
        self.floor_db
    }

    /// Stretches of sound thrown away as clicks, breaths or room tone.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Whether an utterance is being collected right now.
    pub fn in_speech(&self) -> bool {
        self.state == VadState::Speech
    }

    /// Samples pushed so far, as stream time (s).
    pub fn stream_time(&self) -> f64 {
        (self.frame_start + self.pending.len() as u64) as f64 / self.rate as f64
    }

    /// Feeds samples; finished utterances are appended to `out`.
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<Utterance>) {
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (self.frame_len - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == self.frame_len {
                let frame = std::mem::take(&mut self.pending);
                self.frame(&frame, out);
                self.pending = frame;
                self.pending.clear();
            }
        }
    }

    /// Ends the stream: an utterance still open is finished as if silence
    /// followed.
    pub fn flush(&mut self, out: &mut Vec<Utterance>) {
        if self.state == VadState::Speech {
            let now = self.frame_start + self.pending.len() as u64;
            self.now = now;
            let pending = std::mem::take(&mut self.pending);
            self.utt.extend_from_slice(&pending);
            self.finish(now, false, true, out);
            self.frame_start = now;
        }
        self.state = VadState::Idle;
        // What was kept while the floor is unsure is settled: the next
        // frames are judged from here.
        if let Some(mut u) = self.unsure.take() {
            self.restart_unsure(&mut u, self.frame_start);
            self.unsure = Some(u);
        }
    }

    fn frame(&mut self, frame: &[f32], out: &mut Vec<Utterance>) {
        let start = self.frame_start;
        let end = start + frame.len() as u64;
        self.now = end;
        let (level, digital_silence) = self.level(frame);
        let floor = self.floor_db;
        if !digital_silence {
            self.first_sound.get_or_insert(start);
            self.track_floor(level);
        }
        match self.unsure.take() {
            Some(unsure) => self.frame_unsure(unsure, frame, level, digital_silence, out),
            None => self.step(frame, level, floor, start, out),
        }
        self.frame_start = end;
    }
}
