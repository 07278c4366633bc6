//! Hands-free recognition of one stream, whoever drives it: the
//! [`StreamRecognizer`] is fed blocks of samples and answers with what it
//! found, a [`Found::Heard`] per word and a [`Found::TooQuiet`] per sound
//! that was too soft to take for one. `listen --auto` (through
//! [`run_auto`](super::run_auto)) and every WebSocket stream of
//! `digits serve` run this one type, so a browser hears exactly what the
//! command line hears.
//!
//! Segmenting ([`StreamRecognizer::push`]) and classifying
//! ([`StreamRecognizer::answer`]) are separate steps: segmenting is cheap
//! and needs only the stream's own state, while classifying needs a
//! [`Recognizer`] (the model and its buffers), which a server shares
//! between many streams.

use super::{classify, Heard, ListenConfig, Result, TooQuiet, Utterance, Vad};
use crate::model::Recognizer;

/// What a stream yields, in the order it was said.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// A word, classified (`digit: None` below the threshold).
    Heard(Heard),
    /// A sound long enough for a word but too quiet to take for one.
    TooQuiet(TooQuiet),
}

impl Found {
    /// Stream time (s) the sound starts at.
    pub fn start_s(&self) -> f64 {
        match self {
            Found::Heard(h) => h.start_s,
            Found::TooQuiet(q) => q.start_s,
        }
    }
}

/// One stream's hands-free state: the VAD and what it found and has not
/// answered yet.
#[derive(Debug)]
pub struct StreamRecognizer {
    vad: Vad,
    rate: u32,
    threshold: f32,
    utterances: Vec<Utterance>,
    quiet: Vec<TooQuiet>,
}

impl StreamRecognizer {
    /// A stream of mono samples at `rate`, segmented with `cfg.vad` and
    /// answered with `cfg.threshold`.
    pub fn new(cfg: &ListenConfig, rate: u32) -> Result<Self> {
        cfg.check()?;
        Ok(Self {
            vad: Vad::new(cfg.vad.clone(), rate)?,
            rate,
            threshold: cfg.threshold,
            utterances: Vec::new(),
            quiet: Vec::new(),
        })
    }

    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// The segmenter, for what it knows (the floor, stream time).
    pub fn vad(&self) -> &Vad {
        &self.vad
    }

    /// Feeds samples (any block size); what ends in them waits for
    /// [`Self::answer`].
    pub fn push(&mut self, samples: &[f32]) {
        self.vad.push(samples, &mut self.utterances);
        self.vad.take_too_quiet(&mut self.quiet);
    }

    /// Ends the stream: a word still open is finished as if silence
    /// followed (a word said just before Ctrl-C, or before the end of a
    /// file, is still answered).
    pub fn flush(&mut self) {
        self.vad.flush(&mut self.utterances);
        self.vad.take_too_quiet(&mut self.quiet);
    }

    /// Whether [`Self::answer`] has anything to say (and so needs a
    /// recognizer).
    pub fn has_answers(&self) -> bool {
        !self.utterances.is_empty() || !self.quiet.is_empty()
    }

    /// Classifies the words found so far and appends them, with the sounds
    /// too quiet to be words, to `out` in the order they started.
    pub fn answer(&mut self, recognizer: &mut Recognizer, out: &mut Vec<Found>) -> Result<()> {
        let from = out.len();
        for u in self.utterances.drain(..) {
            out.push(Found::Heard(classify(
                recognizer,
                &u,
                self.rate,
                self.threshold,
            )?));
        }
        out.extend(self.quiet.drain(..).map(Found::TooQuiet));
        // Both lists are in order; this only interleaves them.
        out[from..].sort_by(|a, b| a.start_s().total_cmp(&b.start_s()));
        Ok(())
    }
}
