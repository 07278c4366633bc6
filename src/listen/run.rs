//! The two listening loops, [`run_auto`] (hands-free) and
//! [`run_press_to_talk`], their settings ([`ListenConfig`]), what they
//! report as they run ([`Notice`]) and why they stop ([`Stop`]). Both share
//! one bookkeeping of the clock, the stop rules and dropped-audio warnings.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use super::heard::decide;
use super::{classify, Event, Heard, ListenError, Result, Source, Utterance, Vad, VadConfig};
use crate::model::Recognizer;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listen::test_signal::{burst, mix, noise, RATE};

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
