//! Teaching a model a voice: a base model and labelled takes in, a
//! personal model out.
//!
//! The base model is kept whole (front end, SVM, calibration); the takes
//! become the templates of its [`Personal`] stage. Nothing but the base
//! model and the takes is needed — no training data, no network — and it
//! takes milliseconds per take. Adapting a personal model again replaces
//! the takes of the speakers given and keeps everyone else's, so one model
//! can hold a household.

use std::time::Instant;

use super::personal::{self, Personal, DEFAULT_WEIGHT, MAX_TEMPLATES};
use super::{ModelError, ModelFile, Recognizer, Result};
use crate::data::Clip;
use crate::features::FrontEnd;

/// Name given to takes whose file name carries no speaker.
pub const UNNAMED_SPEAKER: &str = "unnamed";

/// How to adapt.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptOptions {
    /// [`Personal::weight`]: how strongly the nearest take's DTW distance
    /// sharpens the SVM's probabilities (default [`DEFAULT_WEIGHT`]).
    pub weight: f32,
}

impl Default for AdaptOptions {
    fn default() -> Self {
        Self {
            weight: DEFAULT_WEIGHT,
        }
    }
}

impl AdaptOptions {
    pub fn check(&self) -> Result<()> {
        if !(self.weight.is_finite() && (0.0..=100.0).contains(&self.weight)) {
            return Err(ModelError::Setting(format!(
                "weight {} must be a number from 0 to 100",
                self.weight
            )));
        }
        Ok(())
    }
}

/// A take the personal model itself mishears when that take is left out
/// of it: a sign of a take said differently from the rest, or a wrong label.
#[derive(Debug, Clone, PartialEq)]
pub struct Misheard {
    pub origin: String,
    pub digit: u8,
    pub heard: u8,
}

/// What adapting did.
#[derive(Debug, Clone)]
pub struct AdaptReport {
    pub model: ModelFile,
    /// Takes added, per speaker (sorted by name).
    pub added: Vec<(String, usize)>,
    /// Speakers whose earlier takes in the base model were replaced.
    pub replaced: Vec<String>,
    /// Clips left out because no word rises in them (`origin`s).
    pub no_word: Vec<String>,
    /// Each added take classified by the personal model without that take
    /// (a speaker's only take of a digit cannot be): how many were, how
    /// many of them it hears right, and the ones it does not.
    pub held_out_checked: usize,
    pub held_out_correct: usize,
    pub misheard: Vec<Misheard>,
    pub seconds: f64,
}

/// Builds a personal model from `base` and the labelled takes in `clips`.
pub fn adapt(base: &ModelFile, clips: &[Clip], opts: &AdaptOptions) -> Result<AdaptReport> {
    let start = Instant::now();
    opts.check()?;
    if clips.is_empty() {
        return Err(ModelError::Adapt(
            "no takes given; record some with `digits record`".into(),
        ));
    }
    let (clips, no_word) = super::train::without_wordless(&base.front_end, clips)?;
    if clips.is_empty() {
        return Err(ModelError::Adapt(format!(
            "none of the {} takes holds a word (silence or steady noise); record them again",
            no_word.len()
        )));
    }
    let speaker_of = |c: &Clip| c.speaker.clone().unwrap_or_else(|| UNNAMED_SPEAKER.into());
    let mut personal = base
        .personal
        .clone()
        .unwrap_or_else(|| Personal::new(opts.weight));
    personal.weight = opts.weight;
    let mut replaced = Vec::new();
    let mut added: std::collections::BTreeMap<String, usize> = Default::default();
    for c in clips.iter() {
        added.entry(speaker_of(c)).or_default();
    }
    for s in added.keys() {
        if personal.templates().iter().any(|t| &t.speaker == s) {
            personal.remove_speaker(s);
            replaced.push(s.clone());
        }
    }
    let kept = personal.templates().len();
    if kept + clips.len() > MAX_TEMPLATES {
        return Err(ModelError::Adapt(format!(
            "{} takes in all, at most {MAX_TEMPLATES}; enrol fewer takes per digit",
            kept + clips.len()
        )));
    }
    let frame_dim = base.front_end.mfcc.frame_dim();
    let mut front_end = FrontEnd::new(&base.front_end, base.cmvn.clone())?;
    // Each take's pooled vector and frames, kept for the check below.
    let mut pooled = Vec::with_capacity(clips.len());
    let mut frames = Vec::with_capacity(clips.len());
    let mut v = Vec::new();
    for c in clips.iter() {
        front_end.features(&c.samples, c.sample_rate, &mut v)?;
        personal.add(
            c.digit,
            &speaker_of(c),
            front_end.normalized_frames(),
            frame_dim,
        );
        pooled.push(v.clone());
        frames.push(front_end.normalized_frames().to_vec());
        *added.get_mut(&speaker_of(c)).expect("counted above") += 1;
    }
    let personal = personal.quantized();
    let missing = personal.missing_digits();
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(u8::to_string).collect();
        return Err(ModelError::Adapt(format!(
            "no take of digit {}: every digit 0-9 needs at least one take (`digits record` prompts for each)",
            list.join(", ")
        )));
    }
    let mut model = base.clone();
    model.personal = Some(personal);
    model.check()?;

    // Each new take against the model without it.
    let mut misheard = Vec::new();
    let mut rec = Recognizer::new(model.clone())?;
    let mut scratch = personal::Scratch::default();
    let p = model.personal.as_ref().expect("just set");
    let mut checked = 0;
    for (i, c) in clips.iter().enumerate() {
        // A speaker's only take of a digit cannot be checked: against
        // another voice's takes it would say nothing about this one.
        let speaker = speaker_of(c);
        let others = p
            .templates()
            .iter()
            .filter(|t| t.digit == c.digit && t.speaker == speaker)
            .count()
            - 1;
        if others == 0 {
            continue;
        }
        checked += 1;
        let probs = rec.svm_probabilities_of(&pooled[i]);
        let dist = p.distances_without(&frames[i], frame_dim, &probs, &mut scratch, Some(kept + i));
        let combined = p.combine(&probs, &dist);
        let heard = (0..combined.len())
            .max_by(|a, b| combined[*a].total_cmp(&combined[*b]))
            .expect("ten digits") as u8;
        if heard != c.digit {
            misheard.push(Misheard {
                origin: c.origin.clone(),
                digit: c.digit,
                heard,
            });
        }
    }
    Ok(AdaptReport {
        held_out_checked: checked,
        held_out_correct: checked - misheard.len(),
        misheard,
        model,
        added: added.into_iter().collect(),
        replaced,
        no_word,
        seconds: start.elapsed().as_secs_f64(),
    })
}
