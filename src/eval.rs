//! Evaluation: how right and how fast a model is.
//!
//! This module owns the metrics (accuracy, macro-F1, per-class precision,
//! recall and F1, the confusion matrix), the per-utterance timing (batch of
//! one, after warm-up), leave-one-speaker-out folds, and accuracy under
//! seeded additive noise. It returns reports; the binary prints them.

use std::borrow::Cow;
use std::time::Instant;

use serde::Serialize;

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::audio::{AudioError, MODEL_RATE};
use crate::augment::{make_noise, mix_at_snr, NoiseKind};
use crate::data::{Clip, DataError, Dataset};
use crate::features::{Conditioner, FrontEndConfig};
use crate::model::{ModelError, ModelFile, Recognizer, N_CLASSES};

/// Errors from evaluating.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error("no clips to evaluate")]
    NoClips,
    #[error(
        "{} (silence or steady noise), so there is nothing to score; check that the recordings hold spoken digits",
        if *n == 1 { "the one clip to test holds no word".to_string() } else { format!("none of the {n} clips to test holds a word") }
    )]
    NoWord { n: usize },
    #[error("{origin}: babble noise needs training clips of other speakers, and there are none; use --noise white or pink, or data with more speakers")]
    NoBabble { origin: String },
    #[error("{0}")]
    Enrolment(String),
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
    /// The clips it got wrong, in test order.
    pub misses: Vec<Miss>,
}

/// A clip the model got wrong.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Miss {
    /// The clip's `origin`: its file, or `file.parquet#row`.
    pub file: String,
    /// The digit said.
    pub truth: u8,
    /// The digit heard.
    pub digit: u8,
    /// The model's probability of the digit heard.
    pub confidence: f32,
}

/// `clips` without those in which no word rises above the background, and
/// the `origin`s of those left out: [`crate::model::train::without_wordless`],
/// the test `train` and `predict` apply. An error when no clip is left.
pub fn without_wordless<'a>(
    config: &FrontEndConfig,
    clips: &'a [Clip],
) -> Result<(Cow<'a, [Clip]>, Vec<String>)> {
    let (kept, left_out) = crate::model::train::without_wordless(config, clips)?;
    if kept.is_empty() {
        return Err(EvalError::NoWord { n: clips.len() });
    }
    Ok((kept, left_out))
}

/// An SNR level as tables and charts show it: at most two decimals, no
/// trailing zeros (`10`, `2.5`, `-3.25`).
pub fn db_label(db: f64) -> String {
    let s = format!("{db:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
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
    let mut misses = Vec::new();
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
        if p.digit != c.digit {
            misses.push(Miss {
                file: c.origin.clone(),
                truth: c.digit,
                digit: p.digit,
                confidence: p.confidence,
            });
        }
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
        misses,
    })
}

/// Seed of the test-time noise: every run of `eval --snr` adds the same noise.
pub const NOISE_SEED: u64 = 0x0d16_1755;

/// Accuracy with noise at one signal-to-noise ratio.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnrPoint {
    /// SNR in dB, relative to each clip's own power.
    pub db: f64,
    pub accuracy: f64,
}

/// Training clips at 8 kHz, ready to be mixed into babble.
#[derive(Debug, Clone, Default)]
pub struct BabblePool {
    clips: Vec<(Option<String>, Vec<f32>)>,
}

impl BabblePool {
    /// Conditions `clips` (normally the training side of the split) as the
    /// front end does: DC out, 8 kHz.
    pub fn new(clips: &[Clip]) -> Result<Self> {
        let mut conditioner = Conditioner::new();
        let mut out = Vec::with_capacity(clips.len());
        for c in clips {
            let x = conditioner.condition(&c.samples, c.sample_rate)?;
            if !x.is_empty() {
                out.push((c.speaker.clone(), x.to_vec()));
            }
        }
        Ok(Self { clips: out })
    }

    /// Sources for babble under a clip by `speaker`: every pool clip by
    /// someone else. A clip with no speaker name gets the whole pool.
    fn sources_for(&self, speaker: Option<&str>) -> Vec<&[f32]> {
        self.clips
            .iter()
            .filter(|(s, _)| speaker.is_none() || s.as_deref() != speaker)
            .map(|(_, x)| x.as_slice())
            .collect()
    }
}

/// Each clip conditioned (DC out, 8 kHz), with its noise (unit power, as
/// long as the clip). One RNG seeded with `seed` draws all of it in clip
/// order, so a seed always gives the same noise, and every SNR gets the same
/// waveform (only its level changes): the accuracy-against-SNR curve
/// compares like with like.
fn noise_per_clip(
    clips: &[Clip],
    babble: &BabblePool,
    kind: NoiseKind,
    seed: u64,
) -> Result<Vec<(Vec<f32>, Vec<f32>)>> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut conditioner = Conditioner::new();
    let mut out = Vec::with_capacity(clips.len());
    for c in clips {
        let x = conditioner.condition(&c.samples, c.sample_rate)?.to_vec();
        let sources = match kind {
            NoiseKind::Babble => {
                let s = babble.sources_for(c.speaker.as_deref());
                if s.is_empty() {
                    return Err(EvalError::NoBabble {
                        origin: c.origin.clone(),
                    });
                }
                s
            }
            NoiseKind::White | NoiseKind::Pink => Vec::new(),
        };
        let noise = make_noise(kind, x.len(), &sources, &mut rng);
        out.push((x, noise));
    }
    Ok(out)
}

/// `clips` with `kind` noise added at `snr_db`, seeded by `seed`.
///
/// Mixing happens after the front end's [`Conditioner`] (DC out, 8 kHz: what
/// the recognizer would do anyway), and the noisy copy is returned at 8 kHz.
/// The SNR is relative to each clip's own power (silence included). Babble
/// mixes up to four of `babble`'s clips whose speaker differs from the test
/// clip's; pass the training side of the split so no test clip is heard
/// twice.
pub fn add_noise(
    clips: &[Clip],
    babble: &BabblePool,
    kind: NoiseKind,
    snr_db: f64,
    seed: u64,
) -> Result<Vec<Clip>> {
    let noise = noise_per_clip(clips, babble, kind, seed)?;
    Ok(clips
        .iter()
        .zip(noise)
        .map(|(c, (mut x, n))| {
            mix_at_snr(&mut x, &n, snr_db);
            Clip {
                samples: x,
                sample_rate: MODEL_RATE,
                ..c.clone()
            }
        })
        .collect())
}

/// Scores `model` on `clips` with `kind` noise at `snr_db` (see [`add_noise`]).
pub fn score_with_noise(
    model: &ModelFile,
    clips: &[Clip],
    babble: &BabblePool,
    kind: NoiseKind,
    snr_db: f64,
    seed: u64,
) -> Result<Scored> {
    score(model, &add_noise(clips, babble, kind, snr_db, seed)?)
}

/// Accuracy of `model` on `clips` at each SNR in `levels`, same noise
/// waveform at every level.
pub fn snr_sweep(
    model: &ModelFile,
    clips: &[Clip],
    babble: &BabblePool,
    kind: NoiseKind,
    levels: &[f64],
    seed: u64,
) -> Result<Vec<SnrPoint>> {
    Ok(snr_predictions(model, clips, babble, kind, levels, seed)?
        .into_iter()
        .zip(levels)
        .map(|(predicted, &db)| SnrPoint {
            db,
            accuracy: accuracy(clips, &predicted),
        })
        .collect())
}

/// Predictions at each SNR in `levels`.
fn snr_predictions(
    model: &ModelFile,
    clips: &[Clip],
    babble: &BabblePool,
    kind: NoiseKind,
    levels: &[f64],
    seed: u64,
) -> Result<Vec<Vec<u8>>> {
    if clips.is_empty() {
        return Err(EvalError::NoClips);
    }
    let noise = noise_per_clip(clips, babble, kind, seed)?;
    let mut rec = Recognizer::new(model.clone())?;
    let mut out = Vec::with_capacity(levels.len());
    for &db in levels {
        let mut predicted = Vec::with_capacity(clips.len());
        for (x, n) in &noise {
            let mut y = x.clone();
            mix_at_snr(&mut y, n, db);
            predicted.push(rec.recognize(&y, MODEL_RATE)?.digit);
        }
        out.push(predicted);
    }
    Ok(out)
}

fn accuracy(clips: &[Clip], predicted: &[u8]) -> f64 {
    let correct = clips
        .iter()
        .zip(predicted)
        .filter(|(c, &p)| c.digit == p)
        .count();
    correct as f64 / clips.len().max(1) as f64
}

/// Leave-one-speaker-out results.
#[derive(Debug, Clone)]
pub struct SpeakerReport {
    pub folds: Vec<Fold>,
    /// Metrics over all held-out clips.
    pub pooled: Metrics,
    /// Pooled accuracy over all held-out clips at each SNR asked for (empty
    /// if none was).
    pub snr: Vec<SnrPoint>,
    /// Held-out clips in which no word rises, left out of the score (see
    /// [`without_wordless`]); a speaker with no other clips has no fold.
    pub no_word: Vec<String>,
    /// The held-out clips each fold's model got wrong, fold by fold.
    pub misses: Vec<Miss>,
}

impl SpeakerReport {
    /// Mean of the folds' accuracies (each speaker counts the same).
    pub fn mean_accuracy(&self) -> f64 {
        self.folds.iter().map(|f| f.accuracy).sum::<f64>() / self.folds.len().max(1) as f64
    }

    /// The fold with the lowest accuracy.
    pub fn worst(&self) -> Option<&Fold> {
        self.folds
            .iter()
            .min_by(|a, b| a.accuracy.total_cmp(&b.accuracy))
    }
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
    let r = speaker_folds_with_noise(data, opts, NoiseKind::White, &[], NOISE_SEED, &[], on_fold)?;
    Ok((r.folds, r.pooled))
}

/// [`speaker_folds`], and each fold's model also scored on its held-out
/// clips with `kind` noise at each SNR in `levels` (babble from that fold's
/// training speakers); the noisy accuracies are pooled over all folds.
/// With `held_out` names, only those speakers' folds are run.
pub fn speaker_folds_with_noise(
    data: &Dataset,
    opts: &crate::model::TrainOptions,
    kind: NoiseKind,
    levels: &[f64],
    seed: u64,
    held_out: &[String],
    on_fold: &dyn Fn(&str),
) -> Result<SpeakerReport> {
    let mut folds = data.speaker_folds()?;
    if !held_out.is_empty() {
        folds.retain(|(s, _, _)| held_out.contains(s));
    }
    let mut out = Vec::new();
    let (mut truth, mut predicted) = (Vec::new(), Vec::new());
    let mut correct = vec![0usize; levels.len()];
    let (mut no_word, mut held_out, mut misses) = (Vec::new(), 0, Vec::new());
    for (speaker, train, test) in folds {
        held_out += test.len();
        let test = match without_wordless(&opts.front_end, &test.clips) {
            Ok((kept, left_out)) => {
                no_word.extend(left_out);
                kept.into_owned()
            }
            Err(EvalError::NoWord { .. }) => {
                no_word.extend(test.clips.iter().map(|c| c.origin.clone()));
                continue;
            }
            Err(e) => return Err(e),
        };
        on_fold(&speaker);
        let report = crate::model::train(&train, opts, &|_| {})?;
        let s = score(&report.model, &test)?;
        if !levels.is_empty() {
            let babble = match kind {
                NoiseKind::Babble => BabblePool::new(&train.clips)?,
                NoiseKind::White | NoiseKind::Pink => BabblePool::default(),
            };
            let noisy = snr_predictions(&report.model, &test, &babble, kind, levels, seed)?;
            for (k, p) in correct.iter_mut().zip(noisy) {
                *k += test.iter().zip(&p).filter(|(c, &d)| c.digit == d).count();
            }
        }
        truth.extend(test.iter().map(|c| c.digit));
        predicted.extend(s.predicted);
        misses.extend(s.misses);
        out.push(Fold {
            speaker,
            accuracy: s.metrics.accuracy,
            n: test.len(),
        });
    }
    if out.is_empty() {
        return Err(EvalError::NoWord { n: held_out });
    }
    let n = truth.len().max(1) as f64;
    Ok(SpeakerReport {
        folds: out,
        pooled: Metrics::new(&truth, &predicted),
        snr: levels
            .iter()
            .zip(correct)
            .map(|(&db, k)| SnrPoint {
                db,
                accuracy: k as f64 / n,
            })
            .collect(),
        no_word,
        misses,
    })
}

/// The first take [`speaker_folds_enrolled`] tests on: enrolment takes
/// start at 5 (0–4 are FSDD's official test takes), and testing starts
/// after them, at 10 or later, so every K of one run is scored on the
/// same clips.
pub fn first_test_take(ks: &[usize]) -> u32 {
    ENROL_FIRST_TAKE + ks.iter().copied().max().unwrap_or(0).max(5) as u32
}

/// The first take used for enrolment.
pub const ENROL_FIRST_TAKE: u32 = 5;

/// One held-out speaker with and without enrolment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnrolledFold {
    pub speaker: String,
    /// Test clips (takes from [`first_test_take`] on).
    pub n: usize,
    /// The fold's model as trained, without any of the speaker's takes.
    pub accuracy_without_enrolment: f64,
    /// With K takes per digit enrolled, for each K asked for, in order.
    pub accuracy: Vec<f64>,
    /// Seconds `adapt` took, for each K.
    pub adapt_seconds: Vec<f64>,
}

/// Leave-one-speaker-out folds, each fold's model adapted to its held-out
/// speaker with K of his takes per digit.
#[derive(Debug, Clone)]
pub struct EnrolReport {
    pub ks: Vec<usize>,
    pub first_test_take: u32,
    pub folds: Vec<EnrolledFold>,
    /// Held-out clips in which no word rises, left out.
    pub no_word: Vec<String>,
}

impl EnrolReport {
    /// Mean and worst accuracy over the folds with the `i`-th K of
    /// [`Self::ks`] (`None`: without enrolment), and the worst speaker.
    pub fn summary(&self, i: Option<usize>) -> (f64, f64, &str) {
        let acc = |f: &EnrolledFold| i.map_or(f.accuracy_without_enrolment, |i| f.accuracy[i]);
        let mean = self.folds.iter().map(acc).sum::<f64>() / self.folds.len().max(1) as f64;
        let worst = self
            .folds
            .iter()
            .min_by(|a, b| acc(a).total_cmp(&acc(b)))
            .expect("at least one fold");
        (mean, acc(worst), &worst.speaker)
    }
}

/// For each held-out speaker (all, or those in `only`): the fold's model
/// trained without him, then adapted ([`crate::model::adapt`]) with takes
/// `5..5+K` of each digit by him, tested on his takes from
/// [`first_test_take`] on — never on a take it enrolled.
pub fn speaker_folds_enrolled(
    data: &Dataset,
    opts: &crate::model::TrainOptions,
    adapt_opts: &crate::model::AdaptOptions,
    ks: &[usize],
    only: &[String],
    on_fold: &dyn Fn(&str),
) -> Result<EnrolReport> {
    if let Some(c) = data.clips.iter().find(|c| c.take.is_none()) {
        return Err(EvalError::Enrolment(format!(
            "{} has no take number; --enroll needs FSDD-named clips ({{digit}}_{{speaker}}_{{take}}.wav)",
            c.origin
        )));
    }
    let first_test = first_test_take(ks);
    let folds = data.speaker_folds()?;
    for s in only {
        if !folds.iter().any(|(f, _, _)| f == s) {
            let names: Vec<&str> = folds.iter().map(|(f, _, _)| f.as_str()).collect();
            return Err(EvalError::Enrolment(format!(
                "no speaker {s} in the data (speakers: {})",
                names.join(", ")
            )));
        }
    }
    let mut out = Vec::new();
    let mut no_word = Vec::new();
    for (speaker, train, held_out) in folds {
        if !only.is_empty() && !only.contains(&speaker) {
            continue;
        }
        let take = |c: &Clip| c.take.expect("checked above");
        let test: Vec<Clip> = held_out
            .clips
            .iter()
            .filter(|c| take(c) >= first_test)
            .cloned()
            .collect();
        let (test, left_out) = match without_wordless(&opts.front_end, &test) {
            Ok((kept, left_out)) => (kept.into_owned(), left_out),
            Err(EvalError::NoWord { .. }) => (Vec::new(), Vec::new()),
            Err(e) => return Err(e),
        };
        no_word.extend(left_out);
        if test.is_empty() {
            return Err(EvalError::Enrolment(format!(
                "{speaker} has no takes numbered {first_test} or more to test on; ask for fewer enrolment takes"
            )));
        }
        on_fold(&speaker);
        let model = crate::model::train(&train, opts, &|_| {})?.model;
        let accuracy_without_enrolment = score(&model, &test)?.metrics.accuracy;
        let (mut accuracy, mut adapt_seconds) = (Vec::new(), Vec::new());
        for &k in ks {
            if k == 0 {
                accuracy.push(accuracy_without_enrolment);
                adapt_seconds.push(0.0);
                continue;
            }
            let takes = ENROL_FIRST_TAKE..ENROL_FIRST_TAKE + k as u32;
            let enrol: Vec<Clip> = held_out
                .clips
                .iter()
                .filter(|c| takes.contains(&take(c)))
                .cloned()
                .collect();
            let adapted = crate::model::adapt(&model, &enrol, adapt_opts)?;
            accuracy.push(score(&adapted.model, &test)?.metrics.accuracy);
            adapt_seconds.push(adapted.seconds);
        }
        out.push(EnrolledFold {
            speaker,
            n: test.len(),
            accuracy_without_enrolment,
            accuracy,
            adapt_seconds,
        });
    }
    Ok(EnrolReport {
        ks: ks.to_vec(),
        first_test_take: first_test,
        folds: out,
        no_word,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::power;

    fn clip(samples: Vec<f32>, speaker: &str, digit: u8) -> Clip {
        Clip {
            samples,
            sample_rate: MODEL_RATE,
            digit,
            speaker: Some(speaker.into()),
            take: Some(0),
            origin: format!("{digit}_{speaker}_0.wav"),
            source_split: None,
        }
    }

    fn tone(n: usize, step: f32) -> Vec<f32> {
        (0..n).map(|i| 0.3 * (i as f32 * step).sin()).collect()
    }

    #[test]
    fn noise_is_seeded_and_at_the_asked_snr() {
        let clips = vec![
            clip(tone(4000, 0.05), "a", 1),
            clip(tone(6000, 0.11), "b", 2),
        ];
        let pool = BabblePool::default();
        let once = add_noise(&clips, &pool, NoiseKind::Pink, 10.0, NOISE_SEED).unwrap();
        let again = add_noise(&clips, &pool, NoiseKind::Pink, 10.0, NOISE_SEED).unwrap();
        let other = add_noise(&clips, &pool, NoiseKind::Pink, 10.0, NOISE_SEED + 1).unwrap();
        assert_eq!(once, again);
        assert_ne!(once[0].samples, other[0].samples);
        for (noisy, clean) in once.iter().zip(&clips) {
            assert_eq!((noisy.digit, noisy.sample_rate), (clean.digit, MODEL_RATE));
            // Noise is added to the clip as the front end conditions it:
            // without its DC offset.
            let dc = clean.samples.iter().sum::<f32>() / clean.samples.len() as f32;
            let centred: Vec<f32> = clean.samples.iter().map(|v| v - dc).collect();
            let resid: Vec<f32> = noisy
                .samples
                .iter()
                .zip(&centred)
                .map(|(a, b)| a - b)
                .collect();
            let snr = 10.0 * (power(&centred) / power(&resid)).log10();
            assert!((snr - 10.0).abs() < 1e-3, "{snr}");
        }
    }

    #[test]
    fn babble_never_uses_the_test_speaker() {
        // The pool holds only speaker "a": a clip by "a" has no babble
        // source, a clip by "b" does.
        let pool = BabblePool::new(&[clip(tone(3000, 0.2), "a", 5)]).unwrap();
        let by_a = [clip(tone(2000, 0.05), "a", 1)];
        let by_b = [clip(tone(2000, 0.05), "b", 1)];
        assert!(matches!(
            add_noise(&by_a, &pool, NoiseKind::Babble, 0.0, NOISE_SEED),
            Err(EvalError::NoBabble { .. })
        ));
        let noisy = add_noise(&by_b, &pool, NoiseKind::Babble, 0.0, NOISE_SEED).unwrap();
        assert_ne!(noisy[0].samples, by_b[0].samples);
    }

    #[test]
    fn a_sweep_hears_the_noise_one_level_does_and_the_seed_picks_it() {
        let data =
            Dataset::load(&[crate::data::shared_fsdd_dir()]).expect("FSDD beside the repository");
        let (train, test) = data.official_split().unwrap();
        let model = ModelFile::embedded().unwrap();
        let pool = BabblePool::new(&train.clips).unwrap();
        for kind in [NoiseKind::White, NoiseKind::Babble] {
            let one = score_with_noise(&model, &test.clips, &pool, kind, 5.0, NOISE_SEED).unwrap();
            // Same waveform at every level of a sweep, so its 5 dB point is
            // the single-level score, whatever levels come before it.
            let sweep =
                snr_sweep(&model, &test.clips, &pool, kind, &[20.0, 5.0], NOISE_SEED).unwrap();
            assert_eq!(sweep[1].accuracy, one.metrics.accuracy, "{kind:?}");
            // Another seed is other noise: at 5 dB some answer changes.
            let other =
                score_with_noise(&model, &test.clips, &pool, kind, 5.0, NOISE_SEED + 1).unwrap();
            assert_ne!(one.predicted, other.predicted, "{kind:?}");
        }
    }

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
