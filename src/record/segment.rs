//! The answers in a stream: `listen`'s VAD finds the words, words close
//! together are one answer, and each is cut with room tone either side.

use super::{RecordConfig, Result};
use crate::listen::{Utterance, Vad};

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
}
