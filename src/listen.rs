//! `listen`: the live loop — audio in, digits out, as the words end.
//!
//! This module owns everything between an audio source and a [`Heard`]
//! result:
//! - [`Source`]: a stream of mono `f32` blocks at a fixed rate over a
//!   `std::sync::mpsc` channel. A microphone (cpal, behind the `mic` feature)
//!   and a WAV file ([`Source::from_wav`], paced in real time, or as fast as
//!   the loop asks for it) produce the same [`Event`]s, so tests drive
//!   exactly the code a microphone does.
//! - [`Vad`]: hands-free segmentation. Energy per 10 ms frame, measured
//!   against an adaptive noise floor, with hysteresis, a hangover that ends
//!   an utterance after ~120 ms of silence (200 ms until room tone has
//!   been heard), and minimum / maximum lengths;
//!   each utterance is cut with ~100 ms of context on both sides. Until the
//!   floor has a full window, frames are judged again each time it falls:
//!   a word at the very start of a stream sets the first floor itself.
//! - [`run_auto`] (hands-free) and [`run_press_to_talk`]: the two loops.
//!
//! What is *not* here: resampling, trimming and gain. Every utterance goes
//! to [`Recognizer::recognize`] at the source's own rate, untouched, because
//! the recognizer's front end resamples to 8 kHz and finds the word itself
//! with the same code that prepared the training clips. The VAD only
//! decides *where* utterances are and how much context comes with them; it
//! never changes the samples.
//!
//! The library never prints; the loops report through a callback and the
//! `digits listen` command formats.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::audio::{self, AudioError};
use crate::model::{ModelError, Prediction, Recognizer};

/// Errors from opening a source or running a listening loop.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(
        "this digits was built without microphone support; rebuild it with \
         `cargo build --release --features mic` (needs libasound2-dev on Linux), \
         or listen to a file with --from-wav FILE"
    )]
    MicDisabled,
    #[error(
        "no input device found; connect a microphone, or pick a device from \
         `digits listen --list-devices` and pass --device NAME"
    )]
    NoInputDevice,
    #[error("no input device named \"{0}\"; see `digits listen --list-devices`")]
    DeviceNotFound(String),
    #[error(
        "input device \"{0}\" is busy (another program is using it); close that program, \
         or pick another device from `digits listen --list-devices`"
    )]
    DeviceBusy(String),
    #[error(
        "cannot open input device \"{name}\": {reason}; pick another with --device NAME \
         (see `digits listen --list-devices`)"
    )]
    DeviceUnavailable { name: String, reason: String },
    #[error(
        "input device \"{name}\" cannot record with its default configuration ({reason}); \
         pick another with --device NAME (see `digits listen --list-devices`)"
    )]
    UnsupportedConfig { name: String, reason: String },
    #[error("cannot list audio devices: {0}")]
    Devices(String),
    #[error("the audio stream failed: {0}")]
    Stream(String),
    #[error("invalid listen setting: {0}")]
    Config(String),
    #[error("writing the results to standard output")]
    Output(#[from] std::io::Error),
}

impl ListenError {
    /// A problem with what the user gave us (a file, a device name that
    /// does not exist, a setting) rather than a failure of the job itself:
    /// no microphone, a busy or failing device, a model or an output that
    /// cannot be used (exit 1, not 2).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            ListenError::Audio(_)
                | ListenError::MicDisabled
                | ListenError::DeviceNotFound(_)
                | ListenError::Config(_)
        )
    }
}

pub type Result<T> = std::result::Result<T, ListenError>;

/// What travels over a source's channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Mono samples in [-1, 1] at the source's rate, in order.
    Audio(Vec<f32>),
    /// The press-to-talk key (Enter) was pressed.
    Press,
    /// The user asked to quit (end of the key input, e.g. Ctrl-D).
    Quit,
    /// The source has no more audio (end of a file).
    End,
    /// Something went wrong but the stream goes on (e.g. an overrun).
    Warning(String),
    /// The stream died; nothing more will arrive.
    Failed(String),
}

/// Blocks the channel holds before a capture callback starts dropping
/// audio: several seconds at any realistic block size, so a drop means the
/// main thread is stuck, not merely busy with one utterance.
pub const CHANNEL_BLOCKS: usize = 1024;

/// An audio source: the receiving end of the channel, the rate, and
/// whatever must stay alive for audio to keep coming (a cpal stream, a
/// reader thread).
pub struct Source {
    rx: Receiver<Event>,
    tx: SyncSender<Event>,
    sample_rate: u32,
    description: String,
    dropped: Arc<AtomicU64>,
    // An on-demand source (a WAV file fed fast): asks its reader for
    // samples; see [`Source::want`].
    demand: Option<Sender<u64>>,
    // Dropped last: stops the stream once nobody listens any more.
    _keep_alive: Option<Box<dyn std::any::Any>>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("sample_rate", &self.sample_rate)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// How a WAV file is fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// One block every block length, like a microphone.
    RealTime,
    /// As fast as the loop takes them, and only when the loop asks for
    /// them ([`Source::want`]): hands-free asks for the whole file,
    /// press-to-talk for one capture per press. With no real time to
    /// pass, a file fed this way never runs ahead of the keys.
    Fast,
}

impl Source {
    /// A source fed by the caller: send [`Event`]s on [`Source::sender`].
    pub fn channel(sample_rate: u32, description: impl Into<String>) -> Result<Self> {
        audio::check_spec(sample_rate, 1)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(CHANNEL_BLOCKS);
        Ok(Self {
            rx,
            tx,
            sample_rate,
            description: description.into(),
            dropped: Arc::new(AtomicU64::new(0)),
            demand: None,
            _keep_alive: None,
        })
    }

    /// Reads a WAV file and feeds it in `block_ms` blocks from a thread,
    /// then sends [`Event::End`]. With [`Pace::Fast`] the file is on
    /// demand: it sends only the samples asked for with [`Source::want`],
    /// and [`Event::End`] only when asked for more than is left.
    pub fn from_wav(path: &Path, pace: Pace, block_ms: f32) -> Result<Self> {
        // Decoded a block at a time as the thread sends it: a recording of
        // any length in bounded memory. Its header is checked here.
        let mut reader = audio::WavReader::open(path)?;
        let rate = reader.sample_rate();
        let source = Self::channel(rate, path.display().to_string())?;
        let tx = source.sender();
        let block = ((block_ms / 1000.0 * rate as f32).round() as usize).max(1);
        let block_time = Duration::from_secs_f64(block as f64 / rate as f64);
        let (demand, asked) = std::sync::mpsc::channel::<u64>();
        let name = crate::text::path(path);
        let handle = std::thread::Builder::new()
            .name("digits-wav-source".into())
            .spawn(move || {
                let start = Instant::now();
                // Decoded samples not sent yet, and whether the file has more.
                let (mut decoded, mut more) = (std::collections::VecDeque::new(), true);
                let mut scratch = Vec::new();
                // Samples asked for and not sent yet (on demand only).
                let mut allowed = 0u64;
                let wait_for_demand = |allowed: &mut u64| -> bool {
                    while *allowed == 0 {
                        match asked.recv() {
                            Ok(n) => *allowed = n,
                            // The loop has gone.
                            Err(_) => return false,
                        }
                    }
                    true
                };
                let mut i = 0u32;
                loop {
                    while more && decoded.len() < block {
                        match reader.read_block(&mut scratch, block.max(4096)) {
                            Ok(0) => more = false,
                            Ok(_) => decoded.extend(scratch.iter().copied()),
                            Err(e) => {
                                let _ = tx.send(Event::Failed(format!("{name}: {e}")));
                                return;
                            }
                        }
                    }
                    if decoded.is_empty() {
                        break;
                    }
                    let mut n = block.min(decoded.len());
                    match pace {
                        Pace::RealTime => {
                            // Sleep to an absolute deadline so the pace does not drift.
                            let due = start + block_time * i;
                            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                                std::thread::sleep(wait);
                            }
                        }
                        Pace::Fast => {
                            if !wait_for_demand(&mut allowed) {
                                return;
                            }
                            n = n.min(usize::try_from(allowed).unwrap_or(usize::MAX));
                            allowed -= n as u64;
                        }
                    }
                    // A blocking send is right here (this is not an audio
                    // callback): it gives --fast back-pressure, and it fails
                    // once the loop has gone, which ends the thread.
                    if tx.send(Event::Audio(decoded.drain(..n).collect())).is_err() {
                        return;
                    }
                    i += 1;
                }
                if pace == Pace::Fast && !wait_for_demand(&mut allowed) {
                    return;
                }
                let _ = tx.send(Event::End);
            })
            .map_err(|e| ListenError::Stream(format!("cannot start the WAV reader: {e}")))?;
        Ok(Self {
            demand: (pace == Pace::Fast).then_some(demand),
            _keep_alive: Some(Box::new(handle)),
            ..source
        })
    }

    /// Asks an on-demand source for `samples` more samples (added to what
    /// was asked before and not sent yet). Other sources deliver whatever
    /// comes; for them this does nothing.
    pub fn want(&self, samples: u64) {
        if let Some(demand) = &self.demand {
            // The reader may have ended (end of file); nothing to ask then.
            let _ = demand.send(samples);
        }
    }

    /// Whether the source sends only what is asked for ([`Source::want`]).
    pub fn on_demand(&self) -> bool {
        self.demand.is_some()
    }

    /// Another sender into this source's channel (e.g. for key presses).
    pub fn sender(&self) -> SyncSender<Event> {
        self.tx.clone()
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The file or device name and format, for messages.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Audio blocks a capture callback had to drop because the channel was full.
    pub fn dropped_blocks(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn recv(&self, timeout: Duration) -> std::result::Result<Event, RecvTimeoutError> {
        self.rx.recv_timeout(timeout)
    }
}

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

/// The frames kept while the floor is not sure (see `Vad::frame_unsure`),
/// from stream position `start`, and what the VAD was before the first.
#[derive(Debug, Default)]
struct Unsure {
    from: Resume,
    start: u64,
    samples: Vec<f32>,
    levels: Vec<f32>,
    /// The floor they were last judged against.
    floor: Option<f32>,
}

/// The VAD's state between utterances: enough to judge frames again.
#[derive(Debug, Default)]
struct Resume {
    state: VadState,
    silent_frames: usize,
    quiet_frames: usize,
    rejected: u64,
    history: Vec<f32>,
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

    /// Level (dBFS) of one frame after the high-pass, and whether the
    /// frame is mostly exact zeros (digital silence: a muted or idle
    /// virtual source, not a room). Updates the filter.
    fn level(&mut self, frame: &[f32]) -> (f32, bool) {
        let a = self.hp_a;
        let mut sum = 0.0f32;
        let mut zeros = 0;
        for &x in frame {
            let y = a * (self.hp_y + x - self.hp_x);
            self.hp_x = x;
            self.hp_y = y;
            sum += y * y;
            zeros += usize::from(x == 0.0);
        }
        (energy_db(sum / frame.len() as f32), 2 * zeros > frame.len())
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

    /// A frame while the floor is not sure yet. The floor is the minimum
    /// over the frames seen so far, so it can only fall as the window
    /// fills; and a word that starts with the stream sets it at first:
    /// measured against itself, it is not heard. So until the window is
    /// full, the frames since the last utterance out are kept and, each
    /// time the floor falls, judged again from there against the new one.
    /// An utterance found is out for good; one rejected (too short or quiet
    /// for this floor) may still be heard against a lower one.
    fn frame_unsure(
        &mut self,
        mut u: Unsure,
        frame: &[f32],
        level: f32,
        digital_silence: bool,
        out: &mut Vec<Utterance>,
    ) {
        let n = self.frame_len;
        if self.floor_db.is_none() && digital_silence && u.levels.is_empty() {
            // Nothing heard yet: an idle source's zeros are no word.
            self.remember(frame);
            self.restart_unsure(&mut u, self.frame_start + n as u64);
            self.unsure = Some(u);
            return;
        }
        u.samples.extend_from_slice(frame);
        u.levels.push(level);
        let floor = self.floor_db;
        let from = if floor == u.floor {
            u.levels.len() - 1
        } else {
            u.floor = floor;
            self.state = u.from.state;
            self.silent_frames = u.from.silent_frames;
            self.quiet_frames = u.from.quiet_frames;
            self.rejected = u.from.rejected;
            self.history.clear();
            self.history.extend(u.from.history.iter());
            0
        };
        let mut settled = 0;
        for i in from..u.levels.len() {
            let emitted = out.len();
            let start = u.start + (i * n) as u64;
            self.step(&u.samples[i * n..][..n], u.levels[i], floor, start, out);
            if out.len() > emitted {
                // Out for good: judge again only what follows it.
                settled = i + 1;
                u.from = self.resume();
            }
        }
        u.samples.drain(..settled * n);
        u.levels.drain(..settled);
        u.start += (settled * n) as u64;
        // Sure once the window is full (or, against a source that keeps
        // sending zeros, after twice as many frames).
        let full = self.window.len() == self.window_len;
        if !full && u.levels.len() < 2 * self.window_len {
            self.unsure = Some(u);
        }
    }

    /// The state between utterances, to judge frames again from.
    fn resume(&self) -> Resume {
        Resume {
            state: self.state,
            silent_frames: self.silent_frames,
            quiet_frames: self.quiet_frames,
            rejected: self.rejected,
            history: self.history.iter().copied().collect(),
        }
    }

    /// Empties `u` to keep frames from stream position `start` on, from
    /// the VAD's present state.
    fn restart_unsure(&self, u: &mut Unsure, start: u64) {
        u.from = self.resume();
        u.start = start;
        u.samples.clear();
        u.levels.clear();
        u.floor = self.floor_db;
    }

    /// The state machine: one frame at stream position `start` and `level`
    /// (dBFS), against `floor`.
    fn step(
        &mut self,
        frame: &[f32],
        level: f32,
        floor: Option<f32>,
        start: u64,
        out: &mut Vec<Utterance>,
    ) {
        let end = start + frame.len() as u64;
        // Until some sound was heard there is nothing to compare against.
        let Some(floor) = floor else {
            self.remember(frame);
            return;
        };
        match self.state {
            VadState::Idle => {
                if level > floor + self.cfg.start_db {
                    self.state = VadState::Speech;
                    self.utt.clear();
                    self.utt.extend(self.history.iter());
                    self.utt_first = start - self.history.len() as u64;
                    self.utt.extend_from_slice(frame);
                    self.first_speech = start;
                    self.last_speech_end = end;
                    self.speech_frames = 1;
                    self.peak_db = level;
                    self.silent_frames = 0;
                } else {
                    self.remember(frame);
                    self.quiet_frames = (self.quiet_frames + 1).min(self.room_tone_frames);
                }
            }
            VadState::Speech => {
                self.utt.extend_from_slice(frame);
                if level > floor + self.cfg.continue_db {
                    self.speech_frames += 1;
                    self.last_speech_end = end;
                    self.peak_db = self.peak_db.max(level);
                    self.silent_frames = 0;
                } else {
                    self.silent_frames += 1;
                }
                if self.silent_frames >= self.hangover() {
                    self.finish(end, false, false, out);
                    self.state = VadState::Idle;
                } else if (end - self.first_speech) as usize >= self.max_len {
                    self.finish(end, true, false, out);
                    self.state = VadState::WaitSilence;
                    self.silent_frames = 0;
                }
            }
            VadState::WaitSilence => {
                self.remember(frame);
                if level > floor + self.cfg.continue_db {
                    self.silent_frames = 0;
                } else {
                    self.silent_frames += 1;
                    if self.silent_frames >= self.hangover() {
                        self.state = VadState::Idle;
                    }
                }
            }
        }
    }

    /// Silent frames that end an utterance: the longer count until room
    /// tone has been heard.
    fn hangover(&self) -> usize {
        if self.quiet_frames >= self.room_tone_frames {
            self.hangover_frames
        } else {
            self.early_hangover_frames
        }
    }

    /// Keeps the last `pad_len` samples for the next utterance's pre-roll.
    fn remember(&mut self, frame: &[f32]) {
        self.history.extend(frame.iter().copied());
        let excess = self.history.len().saturating_sub(self.pad_len);
        self.history.drain(..excess);
    }

    /// Noise floor: the minimum of 30 ms-smoothed energy over the window —
    /// minimum statistics. The pauses between words keep it at room level
    /// while someone talks; it follows a falling floor at once and a rising
    /// one (a fan switched on, or a source that starts with a ramp) within
    /// the window. It is known after three frames of sound, so one odd frame
    /// at the start (half silence, half room) cannot set it.
    fn track_floor(&mut self, level: f32) {
        let e = db_to_energy(level);
        self.last3 = [self.last3[1], self.last3[2], e];
        self.seen_sound += 1;
        if self.seen_sound < 3 {
            return;
        }
        let smoothed = self.last3.iter().sum::<f32>() / 3.0;
        if self.window.len() == self.window_len {
            self.window.pop_front();
        }
        self.window.push_back(smoothed);
        let min = self.window.iter().copied().fold(f32::INFINITY, f32::min);
        self.floor_db = Some(energy_db(min).max(self.cfg.floor_min_db));
    }

    /// Closes the utterance at stream position `now` and emits it if it is
    /// long and loud enough. `at_end`: the stream ended inside it.
    fn finish(&mut self, now: u64, too_long: bool, at_end: bool, out: &mut Vec<Utterance>) {
        let cut_end = if too_long {
            now
        } else {
            (self.last_speech_end + self.pad_len as u64).min(now)
        };
        let len = (cut_end - self.utt_first) as usize;
        let floor = self.floor_db.unwrap_or(self.cfg.floor_min_db);
        // When the stream is this utterance and nothing else (a clip cut
        // tight around one word), the floor is the word's own quietest part,
        // no measure of the room: starting well above it is enough.
        let whole_stream = at_end && self.first_sound.is_some_and(|s| self.utt_first <= s);
        let need = if whole_stream {
            self.cfg.start_db
        } else {
            self.cfg.min_peak_db
        };
        let loud = self.peak_db >= floor + need;
        let long = self.speech_frames >= self.min_speech_frames;
        // Keep the tail as pre-roll, so a word that follows soon still gets
        // its context.
        self.history.clear();
        let tail_from = self.utt.len().saturating_sub(self.pad_len);
        self.history.extend(self.utt[tail_from..].iter().copied());
        if loud && long {
            let mut samples = std::mem::take(&mut self.utt);
            samples.truncate(len.min(samples.len()));
            out.push(Utterance {
                samples,
                start_s: self.first_speech as f64 / self.rate as f64,
                end_s: self.last_speech_end as f64 / self.rate as f64,
                // Later than `now` when the floor fell after the word.
                detected_s: self.now.max(now) as f64 / self.rate as f64,
                detected_at: Instant::now(),
                too_long,
            });
        } else {
            self.rejected += 1;
            self.utt.clear();
        }
    }
}

fn energy_db(e: f32) -> f32 {
    10.0 * (e + 1e-12).log10()
}

fn db_to_energy(db: f32) -> f32 {
    10f32.powf(db / 10.0)
}

/// Settings of a listening loop.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenConfig {
    pub vad: VadConfig,
    /// Below this confidence a digit is reported as unrecognised (`?`).
    pub threshold: f32,
    /// Stop after this many seconds of capture: stream time, or wall clock
    /// since the first audio block (since the start if none ever comes),
    /// whichever is first. Devices can take seconds to deliver anything.
    pub max_seconds: Option<f64>,
    /// Press-to-talk capture length (s).
    pub capture_seconds: f64,
}

impl Default for ListenConfig {
    /// Default VAD, threshold 0.5, no time limit, 1.5 s captures.
    fn default() -> Self {
        Self {
            vad: VadConfig::default(),
            threshold: 0.5,
            max_seconds: None,
            capture_seconds: 1.5,
        }
    }
}

impl ListenConfig {
    pub fn check(&self) -> Result<()> {
        self.vad.check()?;
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(ListenError::Config(format!(
                "--threshold {} is not a probability (0..=1)",
                self.threshold
            )));
        }
        if self.capture_seconds.is_nan()
            || self.capture_seconds <= 0.0
            || self.capture_seconds > 60.0
        {
            return Err(ListenError::Config(format!(
                "--seconds {} must be more than 0 and at most 60",
                self.capture_seconds
            )));
        }
        if let Some(s) = self.max_seconds {
            if s.is_nan() || s <= 0.0 {
                return Err(ListenError::Config(format!(
                    "--max-seconds {s} must be more than 0"
                )));
            }
        }
        Ok(())
    }
}

/// One answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Heard {
    /// `None`: heard something, but not confidently a digit (`?`).
    pub digit: Option<u8>,
    /// Probability of the best digit (0 when nothing was classified).
    pub confidence: f32,
    /// Stream time (s) of the speech.
    pub start_s: f64,
    pub end_s: f64,
    /// Milliseconds from the end of the utterance being detected to this
    /// answer (the compute the user waits for).
    pub ms: f64,
    /// End-of-speech detection delay in stream time (s): hangover plus
    /// frame rounding (0 in press-to-talk).
    pub detect_delay_s: f64,
    /// The full ranking, when a classification ran.
    pub prediction: Option<Prediction>,
}

/// Classifies one utterance.
pub fn classify(
    recognizer: &mut Recognizer,
    utterance: &Utterance,
    rate: u32,
    threshold: f32,
) -> Result<Heard> {
    let prediction = if utterance.too_long {
        None
    } else {
        Some(recognizer.recognize(&utterance.samples, rate)?)
    };
    let (digit, confidence) = decide(prediction.as_ref(), threshold);
    Ok(Heard {
        digit,
        confidence,
        start_s: utterance.start_s,
        end_s: utterance.end_s,
        ms: utterance.detected_at.elapsed().as_secs_f64() * 1000.0,
        detect_delay_s: utterance.detected_s - utterance.end_s,
        prediction,
    })
}

/// What a loop reports as it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// The first audio block arrived this long after the loop started
    /// (devices can take seconds to start).
    FirstAudio(Duration),
    /// Press-to-talk: waiting for the key.
    Ready,
    /// Press-to-talk: capturing for up to this many seconds.
    Capturing(f64),
    /// A result.
    Heard(Heard),
    /// Something the user should know, e.g. an overrun or dropped audio.
    Warning(String),
}

/// Why a loop ended normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The source ran out (end of file).
    EndOfInput,
    /// `max_seconds` elapsed.
    MaxSeconds,
    /// The user quit (end of key input).
    Quit,
    /// The stop flag was raised (Ctrl-C).
    Interrupted,
}

/// How often a waiting loop looks at the stop flag and the clock. Audio
/// wakes it far more often; this only bounds the reaction to Ctrl-C when
/// the source is silent, at a negligible idle cost.
const POLL: Duration = Duration::from_millis(50);

/// Dropped audio is reported at most this often.
const DROP_REPORT_EVERY: Duration = Duration::from_secs(1);

/// Shared bookkeeping of both loops: the clock, the stop rules, warnings.
struct Run<'a> {
    source: &'a Source,
    cfg: &'a ListenConfig,
    stop: &'a AtomicBool,
    started: Instant,
    received: u64,
    first_audio: Option<Instant>,
    dropped_seen: u64,
    /// When dropped audio was last reported: a device that outruns the
    /// loop (ALSA's `null` delivers silence as fast as it can) drops blocks
    /// continuously, and one line a second says as much as thousands.
    dropped_reported: Option<Instant>,
}

impl<'a> Run<'a> {
    fn new(source: &'a Source, cfg: &'a ListenConfig, stop: &'a AtomicBool) -> Result<Self> {
        cfg.check()?;
        Ok(Self {
            source,
            cfg,
            stop,
            started: Instant::now(),
            received: 0,
            first_audio: None,
            dropped_seen: 0,
            dropped_reported: None,
        })
    }

    /// The next event, or why to stop. Audio is counted; stream failures
    /// become errors.
    fn next(&mut self, on: &mut impl FnMut(Notice) -> std::io::Result<()>) -> Result<Next> {
        let next = self.next_event(on)?;
        if matches!(next, Next::Stop(_)) {
            self.report_drops(on, true)?;
        }
        Ok(next)
    }

    /// Warns about audio dropped since the last report, at most once a
    /// second unless `now`.
    fn report_drops(
        &mut self,
        on: &mut impl FnMut(Notice) -> std::io::Result<()>,
        now: bool,
    ) -> Result<()> {
        let dropped = self.source.dropped_blocks();
        let due = now
            || self
                .dropped_reported
                .is_none_or(|t| t.elapsed() >= DROP_REPORT_EVERY);
        if dropped > self.dropped_seen && due {
            on(Notice::Warning(format!(
                "{} audio blocks dropped: the recogniser fell behind the device",
                dropped - self.dropped_seen
            )))?;
            self.dropped_seen = dropped;
            self.dropped_reported = Some(Instant::now());
        }
        Ok(())
    }

    fn next_event(&mut self, on: &mut impl FnMut(Notice) -> std::io::Result<()>) -> Result<Next> {
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return Ok(Next::Stop(Stop::Interrupted));
            }
            if let Some(max) = self.cfg.max_seconds {
                let stream = self.received as f64 / self.source.sample_rate as f64;
                let since = self.first_audio.unwrap_or(self.started);
                if since.elapsed().as_secs_f64() >= max || stream >= max {
                    return Ok(Next::Stop(Stop::MaxSeconds));
                }
            }
            self.report_drops(on, false)?;
            match self.source.recv(POLL) {
                Ok(Event::Audio(block)) => {
                    if self.first_audio.is_none() {
                        self.first_audio = Some(Instant::now());
                        on(Notice::FirstAudio(self.started.elapsed()))?;
                    }
                    self.received += block.len() as u64;
                    return Ok(Next::Audio(block));
                }
                Ok(Event::Press) => return Ok(Next::Press),
                Ok(Event::Quit) => return Ok(Next::Stop(Stop::Quit)),
                Ok(Event::End) | Err(RecvTimeoutError::Disconnected) => {
                    return Ok(Next::Stop(Stop::EndOfInput))
                }
                Ok(Event::Warning(m)) => on(Notice::Warning(m))?,
                Ok(Event::Failed(m)) => return Err(ListenError::Stream(m)),
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }
}

enum Next {
    Audio(Vec<f32>),
    Press,
    Stop(Stop),
}

/// Runs the recognizer once on 100 ms of silence at the source rate, so the
/// resampler for that rate and the FFT plans are built before the first
/// word, not while the user waits for it (~4 ms at 44.1 kHz).
fn warm_up(recognizer: &mut Recognizer, rate: u32) -> Result<()> {
    let silence = vec![0.0f32; (rate / 10) as usize];
    recognizer.recognize(&silence, rate)?;
    Ok(())
}

/// Hands-free: segments the stream and reports every utterance as soon as
/// it ends. Returns when the source ends, time is up, the user quits or
/// `stop` is raised (Ctrl-C); an utterance still open is finished first in
/// every case, so a digit said just before Ctrl-C, inside the hangover that
/// ends an utterance, is still reported.
pub fn run_auto(
    source: &Source,
    recognizer: &mut Recognizer,
    cfg: &ListenConfig,
    stop: &AtomicBool,
    mut on: impl FnMut(Notice) -> std::io::Result<()>,
) -> Result<Stop> {
    let mut run = Run::new(source, cfg, stop)?;
    let rate = source.sample_rate();
    warm_up(recognizer, rate)?;
    let mut vad = Vad::new(cfg.vad.clone(), rate)?;
    let mut done = Vec::new();
    // All of it: hands-free listens to everything.
    source.want(u64::MAX);
    loop {
        let why = match run.next(&mut on)? {
            Next::Audio(block) => {
                vad.push(&block, &mut done);
                None
            }
            Next::Press => None,
            Next::Stop(why) => {
                vad.flush(&mut done);
                Some(why)
            }
        };
        for u in done.drain(..) {
            on(Notice::Heard(classify(
                recognizer,
                &u,
                rate,
                cfg.threshold,
            )?))?;
        }
        if let Some(why) = why {
            return Ok(why);
        }
    }
}

/// Press-to-talk: on each [`Event::Press`], captures `capture_seconds` of
/// audio (or until the next press, or the end of the source) and
/// classifies the captured buffer whole. The [`Vad`] runs all along (so it
/// knows the room's floor) and only gates: a capture in which it finds no
/// utterance — room tone, the click of the Enter key — reports
/// `digit: None` without classifying. From an on-demand source
/// ([`Pace::Fast`]) the audio is asked for at each press, so the captures
/// are the source's consecutive `capture_seconds` however the presses and
/// the audio interleave; there a press during a capture starts the next
/// capture once this one is full, rather than stopping it.
pub fn run_press_to_talk(
    source: &Source,
    recognizer: &mut Recognizer,
    cfg: &ListenConfig,
    stop: &AtomicBool,
    mut on: impl FnMut(Notice) -> std::io::Result<()>,
) -> Result<Stop> {
    let mut run = Run::new(source, cfg, stop)?;
    let rate = source.sample_rate();
    warm_up(recognizer, rate)?;
    let mut vad = Vad::new(cfg.vad.clone(), rate)?;
    let mut ignored = Vec::new();
    // At least one sample: an on-demand source sends nothing for a capture
    // that wants none.
    let want = ((cfg.capture_seconds * rate as f64).round() as usize).max(1);
    let mut capture: Option<Capture> = None;
    // Quit (end of key input) during a capture lets the capture finish, so
    // `printf '\n' | digits listen` still classifies one capture.
    let mut quit_after = false;
    // Presses waiting for the capture in progress (on-demand sources).
    let mut queued = 0usize;
    on(Notice::Ready)?;
    loop {
        let mut finish = false;
        let mut why = None;
        match run.next(&mut on)? {
            Next::Audio(block) => match capture.as_mut() {
                Some(c) => {
                    let take = (want - c.samples.len()).min(block.len());
                    vad.push(&block[..take], &mut c.heard);
                    c.samples.extend_from_slice(&block[..take]);
                    finish = c.samples.len() >= want;
                    if finish {
                        vad.flush(&mut c.heard);
                    }
                    vad.push(&block[take..], &mut ignored);
                }
                None => vad.push(&block, &mut ignored),
            },
            Next::Press => match capture.as_mut() {
                Some(_) if source.on_demand() => queued += 1,
                Some(c) => {
                    vad.flush(&mut c.heard);
                    finish = true;
                }
                None => {
                    capture = Some(start_capture(source, &vad, want, cfg, &mut on)?);
                }
            },
            Next::Stop(Stop::Quit) if capture.is_some() => quit_after = true,
            Next::Stop(w) => {
                if let Some(c) = capture.as_mut() {
                    vad.flush(&mut c.heard);
                    finish = w != Stop::Interrupted;
                }
                why = Some(w);
            }
        }
        ignored.clear();
        if finish {
            let c = capture.take().expect("finishing a capture");
            let heard = classify_capture(recognizer, c, rate, cfg.threshold)?;
            on(Notice::Heard(heard))?;
            if quit_after && queued == 0 {
                why = why.or(Some(Stop::Quit));
            }
            if why.is_none() {
                on(Notice::Ready)?;
                if queued > 0 {
                    queued -= 1;
                    capture = Some(start_capture(source, &vad, want, cfg, &mut on)?);
                }
            }
        }
        if let Some(why) = why {
            return Ok(why);
        }
    }
}

/// Starts a press-to-talk capture of `want` samples (asking an on-demand
/// source for them).
fn start_capture(
    source: &Source,
    vad: &Vad,
    want: usize,
    cfg: &ListenConfig,
    on: &mut impl FnMut(Notice) -> std::io::Result<()>,
) -> Result<Capture> {
    source.want(want as u64);
    on(Notice::Capturing(cfg.capture_seconds))?;
    Ok(Capture {
        start_s: vad.stream_time(),
        samples: Vec::with_capacity(want),
        heard: Vec::new(),
    })
}

/// A press-to-talk capture in progress.
struct Capture {
    start_s: f64,
    samples: Vec<f32>,
    /// What the VAD found in it.
    heard: Vec<Utterance>,
}

/// Classifies a capture, if the VAD heard speech in it. The times reported
/// are those of the longest utterance (the capture's when none).
fn classify_capture(
    recognizer: &mut Recognizer,
    capture: Capture,
    rate: u32,
    threshold: f32,
) -> Result<Heard> {
    let ended = Instant::now();
    let longest = capture
        .heard
        .iter()
        .max_by(|a, b| (a.end_s - a.start_s).total_cmp(&(b.end_s - b.start_s)));
    let (start_s, end_s, prediction) = match longest {
        Some(u) if !capture.samples.is_empty() => (
            u.start_s,
            u.end_s,
            Some(recognizer.recognize(&capture.samples, rate)?),
        ),
        _ => (
            capture.start_s,
            capture.start_s + capture.samples.len() as f64 / rate as f64,
            None,
        ),
    };
    let (digit, confidence) = decide(prediction.as_ref(), threshold);
    Ok(Heard {
        digit,
        confidence,
        start_s,
        end_s,
        ms: ended.elapsed().as_secs_f64() * 1000.0,
        detect_delay_s: 0.0,
        prediction,
    })
}

/// The digit to report (none below `threshold`) and its confidence.
fn decide(prediction: Option<&Prediction>, threshold: f32) -> (Option<u8>, f32) {
    match prediction {
        Some(p) if p.confidence >= threshold => (Some(p.digit), p.confidence),
        Some(p) => (None, p.confidence),
        None => (None, 0.0),
    }
}

/// An input device, for `--list-devices`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// What to pass to `--device` (cpal's device id, e.g. `alsa:default`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// The default input configuration, or why there is none.
    pub default_config: std::result::Result<String, String>,
    pub is_default: bool,
}

/// The input devices of the default host.
#[cfg(not(feature = "mic"))]
pub fn list_devices() -> Result<Vec<DeviceInfo>> {
    Err(ListenError::MicDisabled)
}

/// Opens an input device (the default one, or the one named) at its own
/// default configuration.
#[cfg(not(feature = "mic"))]
pub fn open_device(_name: Option<&str>) -> Result<Source> {
    Err(ListenError::MicDisabled)
}

#[cfg(feature = "mic")]
pub use mic::{list_devices, open_device};

/// cpal capture. The callback converts, downmixes and sends; everything
/// else happens on the loop's thread.
#[cfg(feature = "mic")]
mod mic {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::mpsc::{SyncSender, TrySendError};
    use std::sync::Arc;

    use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
    use cpal::{ErrorKind, FromSample, SampleFormat, SizedSample};

    use super::{DeviceInfo, Event, ListenError, Result, Source};

    /// Sends from the real-time callback: never blocks; a full channel
    /// drops the block and counts it.
    fn send_nonblocking(tx: &SyncSender<Event>, dropped: &AtomicU64, event: Event) {
        if let Err(TrySendError::Full(_)) = tx.try_send(event) {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn list_devices() -> Result<Vec<DeviceInfo>> {
        quiet_alsa();
        // Probing every device opens ALSA's JACK plugin, whose client
        // library prints five lines ("jack server is not running …") that
        // no handler can switch off; the list says which devices failed.
        let _quiet = SilencedStderr::new();
        let host = cpal::default_host();
        let default_id = host
            .default_input_device()
            .and_then(|d| d.id().ok())
            .map(|id| id.to_string());
        let devices = host
            .input_devices()
            .map_err(|e| ListenError::Devices(e.to_string()))?;
        let mut out = Vec::new();
        for device in devices {
            let Ok(id) = device.id().map(|id| id.to_string()) else {
                continue;
            };
            out.push(DeviceInfo {
                name: device
                    .description()
                    .map(|d| d.name().to_string())
                    .unwrap_or_else(|_| id.clone()),
                default_config: device
                    .default_input_config()
                    .map(|c| {
                        format!(
                            "{} Hz, {} ch, {}",
                            c.sample_rate(),
                            c.channels(),
                            c.sample_format()
                        )
                    })
                    .map_err(|e| e.to_string()),
                is_default: default_id.as_deref() == Some(id.as_str()),
                id,
            });
        }
        Ok(out)
    }

    /// `name` matches a device id (`alsa:default`), the part after the
    /// host (`default`) or the human-readable name, ignoring case.
    fn find(host: &cpal::Host, name: &str) -> Result<cpal::Device> {
        let devices = host
            .input_devices()
            .map_err(|e| ListenError::Devices(e.to_string()))?;
        for device in devices {
            let Ok(id) = device.id() else { continue };
            let desc = device.description().map(|d| d.name().to_string());
            let matches = id.to_string().eq_ignore_ascii_case(name)
                || id.id().eq_ignore_ascii_case(name)
                || desc.is_ok_and(|d| d.eq_ignore_ascii_case(name));
            if matches {
                return Ok(device);
            }
        }
        Err(ListenError::DeviceNotFound(name.to_string()))
    }

    fn open_error(name: &str, e: cpal::Error) -> ListenError {
        // cpal's texts are sentences ("The requested ... disconnected.");
        // they sit inside ours.
        let text = e.to_string();
        let text = text.trim_end_matches('.');
        let mut chars = text.chars();
        let reason = match chars.next() {
            Some(c) => c.to_lowercase().chain(chars).collect(),
            None => format!("{:?}", e.kind()),
        };
        match e.kind() {
            ErrorKind::DeviceBusy => ListenError::DeviceBusy(name.to_string()),
            ErrorKind::UnsupportedConfig | ErrorKind::UnsupportedOperation => {
                ListenError::UnsupportedConfig {
                    name: name.to_string(),
                    reason,
                }
            }
            _ => ListenError::DeviceUnavailable {
                name: name.to_string(),
                reason,
            },
        }
    }

    pub fn open_device(name: Option<&str>) -> Result<Source> {
        quiet_alsa();
        let host = cpal::default_host();
        let device = match name {
            Some(n) => find(&host, n)?,
            None => host
                .default_input_device()
                .ok_or(ListenError::NoInputDevice)?,
        };
        let label = device
            .id()
            .map(|id| id.to_string())
            .unwrap_or_else(|_| name.unwrap_or("default").to_string());
        let config = device
            .default_input_config()
            .map_err(|e| open_error(&label, e))?;
        let rate = config.sample_rate();
        let channels = config.channels() as usize;
        let format = config.sample_format();
        if channels == 0 {
            return Err(ListenError::UnsupportedConfig {
                name: label,
                reason: "0 channels".into(),
            });
        }
        let description = format!("{label} ({rate} Hz, {channels} ch, {format})");
        let source =
            Source::channel(rate, description).map_err(|e| ListenError::UnsupportedConfig {
                name: label.clone(),
                reason: e.to_string(),
            })?;
        let tx = source.sender();
        let dropped = source.dropped.clone();
        let stream_config: cpal::StreamConfig = config.into();
        // One arm per sample format, as in cpal's record_wav example: the
        // callback is monomorphised for the device's native format.
        macro_rules! build {
            ($t:ty) => {
                build_stream::<$t>(&device, stream_config, channels, tx, dropped)
            };
        }
        let stream = match format {
            SampleFormat::I8 => build!(i8),
            SampleFormat::I16 => build!(i16),
            SampleFormat::I24 => build!(cpal::I24),
            SampleFormat::I32 => build!(i32),
            SampleFormat::I64 => build!(i64),
            SampleFormat::U8 => build!(u8),
            SampleFormat::U16 => build!(u16),
            SampleFormat::U24 => build!(cpal::U24),
            SampleFormat::U32 => build!(u32),
            SampleFormat::U64 => build!(u64),
            SampleFormat::F32 => build!(f32),
            SampleFormat::F64 => build!(f64),
            other => {
                return Err(ListenError::UnsupportedConfig {
                    name: label,
                    reason: format!("sample format {other} is not PCM"),
                })
            }
        }
        .map_err(|e| open_error(&label, e))?;
        stream.play().map_err(|e| open_error(&label, e))?;
        Ok(Source {
            _keep_alive: Some(Box::new(stream)),
            ..source
        })
    }

    /// alsa-lib prints its own diagnostics to stderr ("ALSA lib pcm.c:2666:
    /// Unknown PCM default", several lines per failed open) before cpal
    /// returns an error. Our error line already carries cpal's reason, so
    /// they are switched off for this thread — the one that enumerates and
    /// opens devices. The handler receives a `va_list`, which every Linux
    /// ABI passes as a pointer; it is never read.
    #[cfg(target_os = "linux")]
    fn quiet_alsa() {
        use std::os::raw::{c_char, c_int, c_void};
        type Handler = unsafe extern "C" fn(
            *const c_char,
            c_int,
            *const c_char,
            c_int,
            *const c_char,
            *mut c_void,
        );
        extern "C" {
            // alsa-lib >= 1.1.6; libasound is linked through cpal's alsa-sys.
            fn snd_lib_error_set_local(func: Option<Handler>) -> Option<Handler>;
        }
        unsafe extern "C" fn ignore(
            _file: *const c_char,
            _line: c_int,
            _func: *const c_char,
            _err: c_int,
            _fmt: *const c_char,
            _args: *mut c_void,
        ) {
        }
        // SAFETY: installs a thread-local handler that does nothing.
        unsafe {
            snd_lib_error_set_local(Some(ignore));
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn quiet_alsa() {}

    /// Standard error pointed at /dev/null until dropped, for libraries
    /// that write to file descriptor 2 directly. Nothing of ours is printed
    /// while it lives.
    struct SilencedStderr {
        #[cfg(unix)]
        saved: Option<std::os::raw::c_int>,
    }

    impl SilencedStderr {
        #[cfg(unix)]
        fn new() -> Self {
            use std::os::fd::AsRawFd;
            let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else {
                return Self { saved: None };
            };
            // SAFETY: plain descriptor calls on descriptors we own or on 2;
            // a failed dup leaves standard error as it was.
            let saved = unsafe {
                let saved = libc::dup(2);
                if saved >= 0 && libc::dup2(null.as_raw_fd(), 2) < 0 {
                    libc::close(saved);
                    return Self { saved: None };
                }
                saved
            };
            Self {
                saved: (saved >= 0).then_some(saved),
            }
        }

        #[cfg(not(unix))]
        fn new() -> Self {
            Self {}
        }
    }

    impl Drop for SilencedStderr {
        fn drop(&mut self) {
            #[cfg(unix)]
            if let Some(fd) = self.saved {
                // SAFETY: `fd` is the duplicate made in `new`, closed once.
                unsafe {
                    libc::dup2(fd, 2);
                    libc::close(fd);
                }
            }
        }
    }

    fn build_stream<T>(
        device: &cpal::Device,
        config: cpal::StreamConfig,
        channels: usize,
        tx: SyncSender<Event>,
        dropped: Arc<AtomicU64>,
    ) -> std::result::Result<cpal::Stream, cpal::Error>
    where
        T: SizedSample,
        f32: FromSample<T>,
    {
        let err_tx = tx.clone();
        let err_dropped = dropped.clone();
        let on_error = move |err: cpal::Error| {
            let event = match err.kind() {
                // The stream goes on after these.
                ErrorKind::Xrun | ErrorKind::DeviceChanged | ErrorKind::RealtimeDenied => {
                    Event::Warning(err.to_string())
                }
                _ => Event::Failed(err.to_string()),
            };
            send_nonblocking(&err_tx, &err_dropped, event);
        };
        let inv = 1.0 / channels as f32;
        device.build_input_stream(
            config,
            move |data: &[T], _: &cpal::InputCallbackInfo| {
                // Convert and downmix only; the allocation is one Vec per
                // device period. Never blocks: a full channel drops the block.
                let mono: Vec<f32> = data
                    .chunks_exact(channels)
                    .map(|frame| frame.iter().map(|&s| s.to_sample::<f32>()).sum::<f32>() * inv)
                    .collect();
                send_nonblocking(&tx, &dropped, Event::Audio(mono));
            },
            on_error,
            None,
        )
    }
}

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
                    + 0.5 * (2.0 * std::f32::consts::PI * 600.0 * t).sin())
            })
            .collect()
    }

    fn mix(base: &mut [f32], at_ms: usize, add: &[f32]) {
        let at = at_ms * RATE as usize / 1000;
        for (b, a) in base[at..].iter_mut().zip(add) {
            *b += a;
        }
    }

    fn segment(signal: &[f32], block: usize) -> Vec<Utterance> {
        let mut vad = Vad::new(VadConfig::default(), RATE).unwrap();
        let mut out = Vec::new();
        for c in signal.chunks(block) {
            vad.push(c, &mut out);
        }
        vad.flush(&mut out);
        out
    }

    #[test]
    fn finds_words_separated_by_short_pauses() {
        let mut seed = 7;
        let mut x = noise(RATE as usize * 3, 0.002, &mut seed);
        mix(&mut x, 500, &burst(400, 0.3));
        mix(&mut x, 1200, &burst(300, 0.2)); // 300 ms pause
        mix(&mut x, 2000, &burst(200, 0.3));
        // Block size must not matter.
        for block in [1, 37, 160, 4096] {
            let u = segment(&x, block);
            assert_eq!(u.len(), 3, "block {block}: {u:?}");
            for (u, (s, e)) in u.iter().zip([(0.5, 0.9), (1.2, 1.5), (2.0, 2.2)]) {
                assert!((u.start_s - s).abs() < 0.02, "{} vs {s}", u.start_s);
                assert!((u.end_s - e).abs() < 0.02, "{} vs {e}", u.end_s);
                // pad_ms of context each side.
                let len = u.samples.len() as f64 / RATE as f64;
                assert!((len - (e - s + 0.2)).abs() < 0.02, "len {len}");
                // End found after the (early) hangover, not later.
                assert!(u.detected_s - u.end_s <= 0.22, "{}", u.detected_s - u.end_s);
                assert!(!u.too_long);
            }
        }
    }

    #[test]
    fn words_150_ms_apart_are_two_words_after_room_tone() {
        // A quick "one two": a pause shorter than the old 200 ms hangover,
        // after 300 ms of room tone.
        let mut seed = 8;
        let mut x = noise(RATE as usize * 2, 0.002, &mut seed);
        mix(&mut x, 300, &burst(400, 0.3));
        mix(&mut x, 850, &burst(400, 0.3)); // 150 ms pause
        for block in [1, 160, 4096] {
            let u = segment(&x, block);
            assert_eq!(u.len(), 2, "block {block}: {u:?}");
            assert!((u[1].start_s - 0.85).abs() < 0.02, "{}", u[1].start_s);
            assert!(u[0].detected_s - u[0].end_s <= 0.14, "{u:?}");
        }
        // With no room tone before them (a clip cut tight around the
        // words) the floor may be a word's own, and the pause is taken for
        // a gap inside one word.
        let mut y = noise(RATE as usize * 2, 0.002, &mut seed);
        mix(&mut y, 100, &burst(400, 0.3));
        mix(&mut y, 650, &burst(400, 0.3));
        assert_eq!(segment(&y, 160).len(), 1);
    }

    #[test]
    fn ignores_room_tone_clicks_and_quiet_breaths() {
        let mut seed = 11;
        let mut x = noise(RATE as usize * 4, 0.002, &mut seed);
        mix(&mut x, 1000, &burst(20, 0.5)); // click
        mix(&mut x, 2000, &noise(400, 0.006, &mut seed)); // breath: +~10 dB
        let u = segment(&x, 160);
        assert!(u.is_empty(), "{u:?}");
    }

    #[test]
    fn digital_silence_then_room_tone_is_not_speech() {
        // A virtual source idles at exact zeros before audio starts; the
        // first frame of room tone may be partly zeros.
        for offset in [0, 70, 150] {
            let mut seed = 3;
            let mut x = vec![0.0; RATE as usize + offset];
            x.extend(noise(RATE as usize * 2 - offset, 0.003, &mut seed));
            let at = x.len();
            x.extend(noise(RATE as usize, 0.003, &mut seed));
            mix(&mut x, at * 1000 / RATE as usize, &burst(300, 0.3));
            let u = segment(&x, 480);
            assert_eq!(u.len(), 1, "offset {offset}: {u:?}");
            assert!((u[0].start_s - 3.0).abs() < 0.02);
        }
    }

    #[test]
    fn a_word_at_the_start_of_the_stream_is_heard() {
        // The first floor is the word's own level; the room comes after.
        for block in [1, 37, 160, 4096] {
            let mut seed = 12;
            let mut x = noise(RATE as usize * 2, 0.002, &mut seed);
            mix(&mut x, 0, &burst(300, 0.3));
            let u = segment(&x, block);
            assert_eq!(u.len(), 1, "block {block}: {u:?}");
            assert!(u[0].start_s < 0.01, "{}", u[0].start_s);
            assert!((u[0].end_s - 0.3).abs() < 0.02, "{}", u[0].end_s);
            // From the first sample to pad_ms after the word, untouched.
            assert_eq!(u[0].samples[..100], x[..100]);
            let len = u[0].samples.len() as f64 / RATE as f64;
            assert!((len - 0.4).abs() < 0.02, "len {len}");
            // Found when the (early) hangover ends, as anywhere else.
            assert!(u[0].detected_s - u[0].end_s <= 0.22);
        }
        // A steady sound from the start, and nothing else, is no word.
        assert!(segment(&burst(1000, 0.3), 160).is_empty());
    }

    #[test]
    fn too_long_is_cut_and_flagged() {
        // Talk without real pauses: 450 ms sounds, 80 ms dips, for 4 s.
        let mut seed = 5;
        let mut x = noise(RATE as usize * 7, 0.002, &mut seed);
        for k in 0..8 {
            mix(&mut x, 500 + k * 530, &burst(450, 0.3));
        }
        let u = segment(&x, 160);
        assert!(!u.is_empty());
        assert!(u[0].too_long, "{u:?}");
        assert!((u[0].start_s - 0.5).abs() < 0.02);
    }

    #[test]
    fn a_fan_switched_on_becomes_the_new_floor() {
        let mut seed = 6;
        let mut x = noise(RATE as usize, 0.002, &mut seed);
        x.extend(noise(RATE as usize * 5, 0.01, &mut seed)); // +14 dB, steady
        let at = x.len();
        x.extend(noise(RATE as usize, 0.01, &mut seed));
        mix(&mut x, at * 1000 / RATE as usize + 300, &burst(300, 0.3));
        let u = segment(&x, 160);
        assert_eq!(u.len(), 1, "{u:?}");
        assert!((u[0].start_s - 6.3).abs() < 0.02, "{}", u[0].start_s);
    }

    #[test]
    fn a_word_said_just_before_ctrl_c_is_still_reported() {
        // A word, then 100 ms of room tone (inside the 120 ms hangover that
        // would end it), then Ctrl-C: the word used to be dropped.
        let source = Source::channel(RATE, "test").unwrap();
        let tx = source.sender();
        let mut seed = 11;
        let mut x = noise(RATE as usize, 0.002, &mut seed);
        mix(&mut x, 500, &burst(300, 0.3));
        x.truncate(RATE as usize * 9 / 10);
        for block in x.chunks(160) {
            tx.send(Event::Audio(block.to_vec())).unwrap();
        }
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let raise = stop.clone();
        // The loop takes the 90 blocks in milliseconds, then waits for more.
        let ctrl_c = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            raise.store(true, Ordering::SeqCst);
        });
        let mut r = Recognizer::new(crate::model::ModelFile::embedded().unwrap()).unwrap();
        let mut heard = Vec::new();
        let why = run_auto(&source, &mut r, &ListenConfig::default(), &stop, |n| {
            if let Notice::Heard(h) = n {
                heard.push(h);
            }
            Ok(())
        })
        .unwrap();
        ctrl_c.join().unwrap();
        assert_eq!(why, Stop::Interrupted);
        assert_eq!(heard.len(), 1, "{heard:?}");
        assert!((heard[0].start_s - 0.5).abs() < 0.15, "{:?}", heard[0]);
    }

    #[test]
    fn a_missing_or_busy_microphone_is_a_failed_job_not_bad_input() {
        assert!(!ListenError::NoInputDevice.is_bad_input());
        assert!(!ListenError::DeviceBusy("hw:0".into()).is_bad_input());
        assert!(!ListenError::Stream("device unplugged".into()).is_bad_input());
        assert!(ListenError::DeviceNotFound("no-such".into()).is_bad_input());
        assert!(ListenError::Config("block_ms 0".into()).is_bad_input());
    }

    #[test]
    fn dropped_audio_is_reported_once_a_second_and_at_the_end() {
        // A device that outruns the loop drops a block for every one it
        // delivers (ALSA's `null`); each drop used to be its own warning.
        let source = Source::channel(RATE, "test").unwrap();
        let (tx, dropped) = (source.sender(), source.dropped.clone());
        let feeder = std::thread::spawn(move || {
            for _ in 0..200 {
                dropped.fetch_add(1, Ordering::Relaxed);
                tx.send(Event::Audio(vec![0.0; 160])).unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
            tx.send(Event::End).unwrap();
        });
        let mut r = Recognizer::new(crate::model::ModelFile::embedded().unwrap()).unwrap();
        let mut warnings = Vec::new();
        let stop = AtomicBool::new(false);
        let why = run_auto(&source, &mut r, &ListenConfig::default(), &stop, |n| {
            if let Notice::Warning(w) = n {
                warnings.push(w);
            }
            Ok(())
        })
        .unwrap();
        feeder.join().unwrap();
        assert_eq!(why, Stop::EndOfInput);
        // About 0.2 s of drops: the first report, then the rest at the end
        // (a third if the machine is slow enough to take over a second).
        assert!((1..=3).contains(&warnings.len()), "{warnings:?}");
        let total: u64 = warnings
            .iter()
            .map(|w| w.split(' ').next().unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(total, 200, "{warnings:?}");
    }

    /// Runs press-to-talk over `events` sent up front.
    fn press_to_talk(events: Vec<Event>) -> Vec<Heard> {
        let source = Source::channel(RATE, "test").unwrap();
        let tx = source.sender();
        for e in events {
            tx.send(e).unwrap();
        }
        let mut r = Recognizer::new(crate::model::ModelFile::embedded().unwrap()).unwrap();
        let mut heard = Vec::new();
        let stop = AtomicBool::new(false);
        let why = run_press_to_talk(&source, &mut r, &ListenConfig::default(), &stop, |n| {
            if let Notice::Heard(h) = n {
                heard.push(h);
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(why, Stop::EndOfInput);
        heard
    }

    #[test]
    fn press_to_talk_reports_nothing_heard_in_room_tone() {
        let mut seed = 9;
        let room = noise(RATE as usize, 0.002, &mut seed);
        let capture = noise(RATE as usize * 2, 0.002, &mut seed);
        let heard = press_to_talk(vec![
            Event::Audio(room),
            Event::Press,
            Event::Audio(capture),
            Event::End,
        ]);
        assert_eq!(heard.len(), 1);
        assert_eq!(heard[0].digit, None);
        assert!(heard[0].prediction.is_none());
    }

    #[test]
    fn press_to_talk_captures_only_after_the_press_and_for_s_seconds() {
        let mut seed = 10;
        let mut before = noise(RATE as usize, 0.002, &mut seed);
        mix(&mut before, 300, &burst(300, 0.3)); // said before Enter: ignored
        let mut during = noise(RATE as usize * 3, 0.002, &mut seed);
        mix(&mut during, 400, &burst(300, 0.3)); // inside the 1.5 s capture
        mix(&mut during, 2000, &burst(300, 0.3)); // after it: ignored
        let heard = press_to_talk(vec![
            Event::Audio(before),
            Event::Press,
            Event::Audio(during),
            Event::End,
        ]);
        assert_eq!(heard.len(), 1);
        assert!(heard[0].prediction.is_some());
        assert!(
            (heard[0].start_s - 1.4).abs() < 0.03,
            "{}",
            heard[0].start_s
        );
    }

    #[test]
    fn a_fast_wav_sends_only_what_is_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ramp.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..1000 {
            w.write_sample(i as i16).unwrap();
        }
        w.finalize().unwrap();
        let source = Source::from_wav(&path, Pace::Fast, 10.0).unwrap();
        assert!(source.on_demand());
        let next = || source.rx.recv().unwrap();
        let audio = |e: Event| match e {
            Event::Audio(a) => a,
            other => panic!("{other:?}"),
        };
        // 80-sample blocks, cut where the request ends.
        source.want(100);
        assert_eq!(audio(next()).len(), 80);
        assert_eq!(audio(next()).len(), 20);
        // The rest of the file, then its end only once more is asked for.
        source.want(900);
        let mut rest = Vec::new();
        while rest.len() < 900 {
            rest.extend(audio(next()));
        }
        assert_eq!(rest.len(), 900);
        assert_eq!((rest[0] * 32768.0).round(), 100.0);
        assert!(matches!(
            source.rx.recv_timeout(Duration::from_millis(20)),
            Err(RecvTimeoutError::Timeout)
        ));
        source.want(1);
        assert_eq!(next(), Event::End);
    }

    #[test]
    fn bad_settings_are_refused() {
        let cfg = ListenConfig {
            threshold: 1.5,
            ..ListenConfig::default()
        };
        assert!(matches!(cfg.check(), Err(ListenError::Config(_))));
        let vad = VadConfig {
            continue_db: 20.0,
            ..VadConfig::default()
        };
        assert!(Vad::new(vad, RATE).is_err());
    }
}
