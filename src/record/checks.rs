//! The checks a take must pass — one word, plausible length, not clipped,
//! loud enough — their thresholds, measures and messages.

use super::{Answer, RecordConfig, Result, Word};
use crate::audio::MODEL_RATE;
use crate::features::endpoint::{word_rise_db, EndpointConfig};
use crate::features::Conditioner;
use crate::listen::{ListenError, Vad, VadConfig};

/// The thresholds a take must meet. Each was set on FSDD's 3,000 clips,
/// each between stretches of room tone (prompts/record.md): none of them
/// refuses a word there.
#[derive(Debug, Clone, PartialEq)]
pub struct Checks {
    /// Least speech in a take (s), from the first word's start to the
    /// last one's end as the VAD measures them: the VAD's own minimum
    /// (`min_speech_ms`). FSDD's shortest words (a quick "six": the VAD
    /// hears its vowel, not its /s/ sounds) have 0.09 s in a quiet room
    /// and less in a noisier one, so no higher bound is safe.
    pub min_speech_s: f64,
    /// Most speech in a take (s). FSDD's longest is 1.02 s.
    pub max_speech_s: f64,
    /// Words are counted by `listen`'s VAD with this shorter hangover
    /// (ms), so words run together closer than `listen` separates them
    /// still count as two...
    pub word_hangover_ms: f32,
    /// ...each with at least this much speech (s): shorter stretches are
    /// the burst after a stop's closure ("eight", "six"), a click or a
    /// breath, not a word.
    pub min_word_s: f64,
    /// A sample at least this close to full scale (absolute value) is at
    /// full scale.
    pub clip_level: f32,
    /// A take with this much audio at full scale (ms) is clipped. FSDD
    /// has at most 0.25 ms; a word overdriven by 3 dB, 0.5 ms or more.
    pub max_clipped_ms: f64,
    /// The word must rise this far above the room tone around it (dB;
    /// the no-word measure, [`word_rise_db`]). The VAD hears words from
    /// about 12 dB; below 15 the base model's accuracy on them falls to
    /// 92 % (noise already hides the word), above 21 it is 99 %.
    pub min_rise_db: f32,
}

impl Default for Checks {
    /// Speech 0.06–1.5 s; words of 0.15 s or more counted with an 80 ms
    /// hangover; clipped from 1 ms at 0.999 of full scale; the word 15 dB
    /// above the room.
    fn default() -> Self {
        Self {
            min_speech_s: 0.06,
            max_speech_s: 1.5,
            word_hangover_ms: 80.0,
            min_word_s: 0.15,
            clip_level: 0.999,
            max_clipped_ms: 1.0,
            min_rise_db: 15.0,
        }
    }
}

/// Why a take was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Two or more words close together.
    TwoWords { words: usize },
    /// More speech than a digit has (s), or cut at the VAD's longest.
    TooLong { speech_s: f64 },
    /// Less speech than a digit has (s).
    TooShort { speech_s: f64 },
    /// Audio at full scale (ms).
    Clipped { ms: f64 },
    /// How far the word rises above the room tone (dB).
    TooQuiet { rise_db: f32 },
}

impl Refusal {
    /// What was wrong and what to do, for a take of `word`.
    pub fn message(&self, word: Word, checks: &Checks) -> String {
        let w = word.spoken();
        match self {
            Refusal::TwoWords { .. } => format!("that sounded like two words; say {w} once"),
            Refusal::TooLong { speech_s } => format!(
                "too long for one word ({speech_s:.1} s of sound, a digit takes at most {:.1} s); say {w} once, on its own",
                checks.max_speech_s
            ),
            Refusal::TooShort { speech_s } => format!(
                "too short for a word ({:.0} ms of sound, a digit takes {:.0} ms or more); say {w} clearly",
                speech_s * 1000.0,
                checks.min_speech_s * 1000.0
            ),
            Refusal::Clipped { .. } => {
                "clipped: speak a little further from the microphone, or lower the input level"
                    .to_string()
            }
            // Rounded down, so 11.96 dB never reads as the 12 it missed.
            Refusal::TooQuiet { rise_db } => format!(
                "too quiet: move closer or raise the input level (the word rises {:.1} dB above the room's noise, a take needs {})",
                (rise_db * 10.0).floor() / 10.0,
                checks.min_rise_db
            ),
        }
    }
}

/// What the checks measured on a take.
#[derive(Debug, Clone, PartialEq)]
pub struct Measures {
    /// Words of at least `min_word_s` ([`Checks`]), or 1.
    pub words: usize,
    pub speech_s: f64,
    /// Audio at full scale (ms).
    pub clipped_ms: f64,
    /// The loudest 10 ms of the speech (dBFS), DC offset removed.
    pub peak_dbfs: f32,
    /// How far the word rises above the room tone (dB), on the take
    /// at the model rate: [`word_rise_db`].
    pub rise_db: f32,
}

impl Measures {
    /// The first check the take fails, in the order they are reported.
    pub fn refusal(&self, checks: &Checks, too_long: bool) -> Option<Refusal> {
        if self.words > 1 {
            return Some(Refusal::TwoWords { words: self.words });
        }
        if too_long || self.speech_s > checks.max_speech_s {
            return Some(Refusal::TooLong {
                speech_s: self.speech_s,
            });
        }
        if self.speech_s < checks.min_speech_s {
            return Some(Refusal::TooShort {
                speech_s: self.speech_s,
            });
        }
        if self.clipped_ms >= checks.max_clipped_ms {
            return Some(Refusal::Clipped {
                ms: self.clipped_ms,
            });
        }
        if self.rise_db < checks.min_rise_db {
            return Some(Refusal::TooQuiet {
                rise_db: self.rise_db,
            });
        }
        None
    }
}

/// Measures and checks takes; holds the scratch the measures need.
#[derive(Debug)]
pub struct Meter {
    vad: VadConfig,
    checks: Checks,
    conditioner: Conditioner,
    endpoint: EndpointConfig,
    scratch: Vec<f32>,
}

impl Meter {
    pub fn new(cfg: &RecordConfig) -> Result<Self> {
        cfg.check()?;
        Ok(Self {
            vad: cfg.vad.clone(),
            checks: cfg.checks.clone(),
            conditioner: Conditioner::new(),
            endpoint: EndpointConfig::default(),
            scratch: Vec::new(),
        })
    }

    pub fn checks(&self) -> &Checks {
        &self.checks
    }

    /// The measures of `answer` (samples at `rate`), or why it is refused.
    pub fn check(
        &mut self,
        answer: &Answer,
        rate: u32,
    ) -> Result<std::result::Result<Measures, Refusal>> {
        let m = self.measure(answer, rate)?;
        Ok(match m.refusal(&self.checks, answer.too_long) {
            Some(r) => Err(r),
            None => Ok(m),
        })
    }

    /// The measures of `answer` (samples at `rate`).
    pub fn measure(&mut self, answer: &Answer, rate: u32) -> Result<Measures> {
        let checks = &self.checks;
        let speech = &answer.samples[answer.speech.clone()];
        let clipped = speech
            .iter()
            .filter(|x| x.abs() >= checks.clip_level)
            .count();
        let peak_dbfs = peak_dbfs(speech, rate);
        let rise_db = if answer.samples.is_empty() {
            0.0
        } else {
            let at_8k = self
                .conditioner
                .condition(&answer.samples, rate)
                .map_err(ListenError::from)?;
            word_rise_db(&self.endpoint, at_8k, MODEL_RATE, &mut self.scratch)
        };
        Ok(Measures {
            words: count_words(answer, rate, &self.vad, checks)?,
            speech_s: answer.speech_s(),
            clipped_ms: clipped as f64 * 1000.0 / f64::from(rate),
            peak_dbfs,
            rise_db,
        })
    }
}

/// The words in an answer: `listen`'s VAD with the checks' shorter
/// hangover, over the answer with its room tone; stretches of at least
/// `min_word_s` count. At least 1: the answer is there.
fn count_words(answer: &Answer, rate: u32, vad: &VadConfig, checks: &Checks) -> Result<usize> {
    let cfg = VadConfig {
        hangover_ms: checks.word_hangover_ms,
        early_hangover_ms: checks.word_hangover_ms,
        ..vad.clone()
    };
    let mut vad = Vad::new(cfg, rate)?;
    let mut found = Vec::new();
    vad.push(&answer.samples, &mut found);
    vad.flush(&mut found);
    let words = found
        .iter()
        .filter(|u| u.end_s - u.start_s >= checks.min_word_s - 1e-9)
        .count();
    Ok(words.max(1))
}

/// The loudest 10 ms RMS of `x` (at `rate`) in dBFS, its mean taken out.
fn peak_dbfs(x: &[f32], rate: u32) -> f32 {
    if x.is_empty() {
        return f32::NEG_INFINITY;
    }
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len() as f64;
    let frame = (rate as usize / 100).max(1);
    let loudest = x
        .chunks(frame)
        .map(|c| {
            c.iter()
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum::<f64>()
                / c.len() as f64
        })
        .fold(0.0f64, f64::max);
    (10.0 * (loudest + 1e-20).log10()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_refuse_with_the_reason() {
        let checks = Checks::default();
        let good = Measures {
            words: 1,
            speech_s: 0.5,
            clipped_ms: 0.0,
            peak_dbfs: -20.0,
            rise_db: 30.0,
        };
        assert_eq!(good.refusal(&checks, false), None);
        let with = |f: fn(&mut Measures)| {
            let mut m = good.clone();
            f(&mut m);
            m.refusal(&checks, false)
                .unwrap()
                .message(Word::Digit(7), &checks)
        };
        assert_eq!(
            with(|m| m.words = 2),
            "that sounded like two words; say SEVEN once"
        );
        assert_eq!(
            with(|m| m.clipped_ms = 3.0),
            "clipped: speak a little further from the microphone, or lower the input level"
        );
        assert_eq!(
            with(|m| m.speech_s = 1.83),
            "too long for one word (1.8 s of sound, a digit takes at most 1.5 s); say SEVEN once, on its own"
        );
        assert_eq!(
            with(|m| m.speech_s = 0.05),
            "too short for a word (50 ms of sound, a digit takes 60 ms or more); say SEVEN clearly"
        );
        assert_eq!(
            with(|m| m.rise_db = 14.96),
            "too quiet: move closer or raise the input level (the word rises 14.9 dB above the room's noise, a take needs 15)"
        );
    }
}
