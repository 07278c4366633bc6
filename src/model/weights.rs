//! Feature weights: how much each kind of pooled value counts in the RBF
//! kernel's distance.
//!
//! After standardisation every pooled value has unit variance, so each
//! counts the same, though some kinds tell speakers apart more than
//! words. Two kinds count half by default: the higher
//! cepstra (c7 up, in every statistic: the fine shape of the spectrum, where
//! a voice's own resonances and harmonics live) and the whole word's minima
//! and maxima (one frame's extreme each). Leave-one-speaker-out and the
//! higher-voice stand-ins both gained (prompts/feature-weights.md).
//!
//! The weights are folded into the stored [`Standardizer`] of the pooled vector, so a model file and
//! the prediction path are the same with or without them.

use crate::features::{FrontEndConfig, PooledStat, Standardizer};

/// Weights by kind of pooled value; 1 leaves a value as standardised.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureWeights {
    /// Cepstra numbered this or higher (c0 = 0) — their values, Δ and ΔΔ —
    /// count [`Self::high_cepstra`].
    pub high_cepstra_from: usize,
    pub high_cepstra: f32,
    /// The whole word's minima and maxima.
    pub min_max: f32,
}

impl FeatureWeights {
    /// Every value counts the same (the plain design).
    pub fn uniform() -> Self {
        Self {
            high_cepstra_from: usize::MAX,
            high_cepstra: 1.0,
            min_max: 1.0,
        }
    }

    /// The shipped weights: c7 and up, and the whole-word minima and maxima,
    /// count half.
    pub fn recommended() -> Self {
        Self {
            high_cepstra_from: 7,
            high_cepstra: 0.5,
            min_max: 0.5,
        }
    }

    pub fn check(&self) -> Result<(), String> {
        for (name, w) in [
            ("high_cepstra", self.high_cepstra),
            ("min_max", self.min_max),
        ] {
            if !(w.is_finite() && w > 0.0) {
                return Err(format!("feature weight {name} must be positive, got {w}"));
            }
        }
        Ok(())
    }

    /// One weight per pooled value of `front_end`, in pooling order.
    pub fn per_value(&self, front_end: &FrontEndConfig) -> Vec<f32> {
        let mfcc = &front_end.mfcc;
        front_end
            .pooling
            .layout(mfcc.frame_dim())
            .into_iter()
            .map(|(stat, k)| {
                let high = if mfcc.cepstrum_of(k) >= self.high_cepstra_from {
                    self.high_cepstra
                } else {
                    1.0
                };
                let extreme = match stat {
                    PooledStat::WordMin | PooledStat::WordMax => self.min_max,
                    _ => 1.0,
                };
                high * extreme
            })
            .collect()
    }

    /// Scales `scaler`'s output by the weights.
    pub fn fold_into(&self, front_end: &FrontEndConfig, scaler: &mut Standardizer) {
        for (s, w) in scaler.inv_std.iter_mut().zip(self.per_value(front_end)) {
            *s *= w;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{pool, FrontEndConfig};

    #[test]
    fn weights_land_on_the_values_they_name() {
        let fe = FrontEndConfig::recommended();
        let (dim, n) = (fe.mfcc.frame_dim(), 7);
        // Frame value k is k everywhere, so every pooled statistic of it
        // (mean, min, max, a step of the course) is k again, and std is 0.
        let frames: Vec<f32> = (0..n * dim).map(|i| (i % dim) as f32).collect();
        let mut pooled = Vec::new();
        pool(&fe.pooling, &frames, n, dim, &mut pooled);
        let layout = fe.pooling.layout(dim);
        assert_eq!(layout.len(), pooled.len());
        for ((stat, k), v) in layout.iter().zip(&pooled) {
            let expected = match stat {
                PooledStat::WordStd | PooledStat::SegmentStd(_) => 0.0,
                _ => *k as f32,
            };
            assert_eq!(*v, expected, "{stat:?} of value {k}");
        }

        let w = FeatureWeights::recommended().per_value(&fe);
        // c0..c12 kept: values 0-12 are cepstra, 13-25 their Δ, 26-38 ΔΔ.
        let at =
            |stat: PooledStat, k: usize| w[layout.iter().position(|&e| e == (stat, k)).unwrap()];
        assert_eq!(at(PooledStat::WordMean, 6), 1.0);
        assert_eq!(at(PooledStat::WordMean, 7), 0.5);
        assert_eq!(at(PooledStat::SegmentStd(2), 13 + 12), 0.5);
        assert_eq!(at(PooledStat::SegmentMean(1), 26 + 3), 1.0);
        assert_eq!(at(PooledStat::WordMax, 0), 0.5);
        assert_eq!(at(PooledStat::WordMin, 26 + 7), 0.25);
        assert_eq!(at(PooledStat::Course(9), 11), 0.5);
        // At full weight: c0-c6 with their Δ and ΔΔ (21 values) in the
        // whole-word mean and std and the three segments' mean and std, and
        // c0-c6 at each of the course's 10 steps.
        let full = w.iter().filter(|&&x| x == 1.0).count();
        assert_eq!(full, 2 * 21 + 3 * 2 * 21 + 10 * 7);
        assert!(FeatureWeights::uniform()
            .per_value(&fe)
            .iter()
            .all(|&x| x == 1.0));
    }

    #[test]
    fn weights_must_be_positive() {
        let mut w = FeatureWeights::recommended();
        w.min_max = 0.0;
        assert_eq!(
            w.check().unwrap_err(),
            "feature weight min_max must be positive, got 0"
        );
        w.min_max = f32::NAN;
        assert!(w.check().is_err());
    }
}
