//! Capture sources: a stream of mono `f32` blocks at a fixed rate over a
//! `std::sync::mpsc` channel, with the key presses, warnings and end of
//! input that travel beside them ([`Event`]).
//!
//! A microphone (the cpal module, behind the `mic` feature) and a WAV file
//! ([`Source::from_wav`], paced in real time, or as fast as the loop asks
//! for it, [`Pace`]) produce the same events, so tests drive exactly the
//! code a microphone does.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ListenError, Result};
use crate::audio;

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
    pub(super) rx: Receiver<Event>,
    pub(super) tx: SyncSender<Event>,
    pub(super) sample_rate: u32,
    pub(super) description: String,
    pub(super) dropped: Arc<AtomicU64>,
    // An on-demand source (a WAV file fed fast): asks its reader for
    // samples; see [`Source::want`].
    pub(super) demand: Option<Sender<u64>>,
    // Dropped last: stops the stream once nobody listens any more.
    pub(super) _keep_alive: Option<Box<dyn std::any::Any>>,
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

    /// The next event, waiting at most `timeout` (for loops outside this
    /// module, such as `record`'s).
    pub fn recv(&self, timeout: Duration) -> std::result::Result<Event, RecvTimeoutError> {
        self.rx.recv_timeout(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
