//! Evaluation: how right and how fast a model is.
//!
//! This module owns the metrics (accuracy, macro-F1, per-class precision,
//! recall and F1, the confusion matrix), the per-utterance timing (batch of
//! one, after warm-up), leave-one-speaker-out folds, and accuracy under
//! seeded additive noise. It returns reports; the binary prints them.

use std::time::Instant;

use serde::Serialize;

use crate::data::{Clip, DataError, Dataset};
use crate::model::{ModelError, ModelFile, Recognizer, N_CLASSES};

/// Errors from evaluating.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("no clips to evaluate")]
    NoClips,
}

pub type Result<T> = std::result::Result<T, EvalError>;

/// Precision, recall and F1 of one digit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    pub digit: u8,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

/// Classification metrics over a test set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub n: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[truth][predicted]`.
    pub confusion: Vec<Vec<usize>>,
}

impl Metrics {
    pub fn new(truth: &[u8], predicted: &[u8]) -> Self {
        let mut confusion = vec![vec![0usize; N_CLASSES]; N_CLASSES];
        for (&t, &p) in truth.iter().zip(predicted) {
            confusion[t as usize][p as usize] += 1;
        }
        let n = truth.len();
        let correct: usize = (0..N_CLASSES).map(|c| confusion[c][c]).sum();
        let per_class: Vec<ClassMetrics> = (0..N_CLASSES)
            .map(|c| {
                let tp = confusion[c][c] as f64;
                let support: usize = confusion[c].iter().sum();
                let predicted_c: usize = (0..N_CLASSES).map(|t| confusion[t][c]).sum();
                let precision = if predicted_c > 0 {
                    tp / predicted_c as f64
                } else {
                    0.0
                };
                let recall = if support > 0 {
                    tp / support as f64
                } else {
                    0.0
                };
                let f1 = if precision + recall > 0.0 {
                    2.0 * precision * recall / (precision + recall)
                } else {
                    0.0
                };
                ClassMetrics {
                    digit: c as u8,
                    precision,
                    recall,
                    f1,
                    support,
                }
            })
            .collect();
        let present: Vec<&ClassMetrics> = per_class.iter().filter(|m| m.support > 0).collect();
        let macro_f1 = present.iter().map(|m| m.f1).sum::<f64>() / present.len().max(1) as f64;
        Self {
            n,
            accuracy: correct as f64 / n.max(1) as f64,
            macro_f1,
            per_class,
            confusion,
        }
    }
}

/// Milliseconds per utterance, one at a time, after warm-up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timing {
    /// Samples → pooled feature vector.
    pub features: f64,
    /// Feature vector → prediction.
    pub predict: f64,
    /// Compute time over audio duration.
    pub real_time_factor: f64,
}

/// A test set classified: metrics, timing and the predictions.
#[derive(Debug, Clone)]
pub struct Scored {
    pub metrics: Metrics,
    pub timing: Timing,
    pub predicted: Vec<u8>,
}

/// Classifies every clip one at a time with `model`, timing each stage.
pub fn score(model: &ModelFile, clips: &[Clip]) -> Result<Scored> {
    if clips.is_empty() {
        return Err(EvalError::NoClips);
    }
    let mut rec = Recognizer::new(model.clone())?;
    // Warm-up: first calls build resamplers and grow buffers.
    if let Some(c) = clips.first() {
        rec.recognize(&c.samples, c.sample_rate)?;
    }
    let (mut t_feat, mut t_pred, mut audio_s) = (0.0f64, 0.0f64, 0.0f64);
    let mut predicted = Vec::with_capacity(clips.len());
    for c in clips {
        let t0 = Instant::now();
        rec.features(&c.samples, c.sample_rate)?;
        let t1 = Instant::now();
        let p = rec.classify_features();
        let t2 = Instant::now();
        t_feat += (t1 - t0).as_secs_f64();
        t_pred += (t2 - t1).as_secs_f64();
        audio_s += c.samples.len() as f64 / c.sample_rate as f64;
        predicted.push(p.digit);
    }
    let n = clips.len().max(1) as f64;
    let truth: Vec<u8> = clips.iter().map(|c| c.digit).collect();
    Ok(Scored {
        metrics: Metrics::new(&truth, &predicted),
        timing: Timing {
            features: 1e3 * t_feat / n,
            predict: 1e3 * t_pred / n,
            real_time_factor: (t_feat + t_pred) / audio_s.max(1e-9),
        },
        predicted,
    })
}

/// One leave-one-speaker-out fold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fold {
    pub speaker: String,
    pub accuracy: f64,
    pub n: usize,
}

/// Trains on all speakers but one and tests on that one, for each speaker.
/// Returns the folds and the pooled metrics over all held-out clips.
pub fn speaker_folds(
    data: &Dataset,
    opts: &crate::model::TrainOptions,
    on_fold: &dyn Fn(&str),
) -> Result<(Vec<Fold>, Metrics)> {
    let folds = data.speaker_folds()?;
    let mut out = Vec::new();
    let (mut truth, mut predicted) = (Vec::new(), Vec::new());
    for (speaker, train, test) in folds {
        on_fold(&speaker);
        let report = crate::model::train(&train, opts, &|_| {})?;
        let s = score(&report.model, &test.clips)?;
        truth.extend(test.clips.iter().map(|c| c.digit));
        predicted.extend(s.predicted);
        out.push(Fold {
            speaker,
            accuracy: s.metrics.accuracy,
            n: test.len(),
        });
    }
    Ok((out, Metrics::new(&truth, &predicted)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_by_hand() {
        // Two classes seen: 0 (3 clips, one called 1) and 1 (1 clip).
        let m = Metrics::new(&[0, 0, 0, 1], &[0, 0, 1, 1]);
        assert_eq!(m.accuracy, 0.75);
        assert_eq!(m.confusion[0][1], 1);
        assert_eq!(m.per_class[0].recall, 2.0 / 3.0);
        assert_eq!(m.per_class[1].precision, 0.5);
        // F1(0) = 0.8, F1(1) = 2/3; classes with no clips are left out.
        assert!((m.macro_f1 - (0.8 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
    }
}
