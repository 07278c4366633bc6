//! One answer per utterance: [`Heard`], what [`classify`] makes of an
//! [`Utterance`] with the [`Recognizer`], and the threshold below which a
//! digit is reported as unrecognised.

use super::{Result, Utterance};
use crate::model::{Prediction, Recognizer};

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

/// The digit to report (none below `threshold`) and its confidence.
pub(super) fn decide(prediction: Option<&Prediction>, threshold: f32) -> (Option<u8>, f32) {
    match prediction {
        Some(p) if p.confidence >= threshold => (Some(p.digit), p.confidence),
        Some(p) => (None, p.confidence),
        None => (None, 0.0),
    }
}
