//! Training-data augmentation and test-time noise: seeded perturbations that
//! teach the model voices, rooms and microphones FSDD does not have.
//!
//! This module owns the noise generators (white, pink, babble) and mixing at
//! a given SNR relative to the clip's own power — used both by `train
//! --augment` and by `eval --snr` — and the perturbations: speed, vocal-tract
//! length (a warped mel filterbank, applied by the front end's extractor),
//! channel tilt, gain, and leading/trailing room tone that the endpoint
//! detector must remove. Everything is driven by one seeded RNG, so a run is
//! reproducible.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Kinds of additive noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoiseKind {
    White,
    Pink,
    /// Other speakers' clips mixed together.
    Babble,
}

impl std::str::FromStr for NoiseKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "white" => Ok(Self::White),
            "pink" => Ok(Self::Pink),
            "babble" => Ok(Self::Babble),
            _ => Err(format!(
                "unknown noise `{s}` (expected white, pink or babble)"
            )),
        }
    }
}

/// Mean square of `x`.
pub fn power(x: &[f32]) -> f64 {
    x.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() / x.len().max(1) as f64
}

/// Gaussian white noise of unit variance.
pub fn white(n: usize, rng: &mut impl Rng) -> Vec<f32> {
    (0..n).map(|_| StandardNormal.sample(rng)).collect()
}

/// Pink (1/f) noise of roughly unit variance (Paul Kellet's filter).
pub fn pink(n: usize, rng: &mut impl Rng) -> Vec<f32> {
    let mut b = [0.0f32; 7];
    let mut out: Vec<f32> = (0..n)
        .map(|_| {
            let w: f32 = StandardNormal.sample(rng);
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.96900 * b[2] + w * 0.153_852;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            let y = b.iter().sum::<f32>() + w * 0.5362;
            b[6] = w * 0.115926;
            y
        })
        .collect();
    normalise(&mut out);
    out
}

/// Several clips summed, looped to `n` samples, each from a random offset.
pub fn babble(n: usize, sources: &[&[f32]], rng: &mut impl Rng) -> Vec<f32> {
    let mut out = vec![0.0f32; n];
    for src in sources.iter().filter(|s| !s.is_empty()) {
        let off = rng.gen_range(0..src.len());
        for (i, o) in out.iter_mut().enumerate() {
            *o += src[(off + i) % src.len()];
        }
    }
    normalise(&mut out);
    out
}

fn normalise(x: &mut [f32]) {
    let p = power(x).sqrt() as f32;
    if p > 0.0 {
        for v in x.iter_mut() {
            *v /= p;
        }
    }
}

/// Adds `noise` (at least as long as `x`) at `snr_db` relative to `x`'s power.
pub fn mix_at_snr(x: &mut [f32], noise: &[f32], snr_db: f64) {
    let px = power(x);
    let pn = power(&noise[..x.len()]);
    if px <= 0.0 || pn <= 0.0 {
        return;
    }
    let scale = (px / pn / 10f64.powf(snr_db / 10.0)).sqrt() as f32;
    for (v, n) in x.iter_mut().zip(noise) {
        *v += scale * n;
    }
}

/// Resamples by linear interpolation so the clip plays `factor` times faster
/// (pitch, formants and tempo all scale).
pub fn speed(x: &[f32], factor: f64) -> Vec<f32> {
    let n_out = ((x.len() as f64) / factor).floor().max(1.0) as usize;
    (0..n_out)
        .map(|i| {
            let pos = i as f64 * factor;
            let i0 = (pos.floor() as usize).min(x.len() - 1);
            let i1 = (i0 + 1).min(x.len() - 1);
            let w = (pos - i0 as f64) as f32;
            x[i0] * (1.0 - w) + x[i1] * w
        })
        .collect()
}

/// A first-order tilt `y[n] = x[n] − b·x[n−1]`: b > 0 brightens (thin
/// microphones), b < 0 darkens (muffled rooms).
pub fn tilt(x: &mut [f32], b: f32) {
    let mut prev = 0.0;
    for v in x.iter_mut() {
        let cur = *v;
        *v = cur - b * prev;
        prev = cur;
    }
}

/// What `train --augment` adds per training clip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AugmentConfig {
    /// Perturbed copies per clip (0: no augmentation).
    pub copies: usize,
    /// Vocal-tract-length warp factor range (1 ± this).
    pub vtlp: f64,
    /// Speed factor range (1 ± this).
    pub speed: f64,
    /// Probability a copy gets additive noise, and its SNR range (dB).
    pub noise_prob: f64,
    pub snr_db: (f64, f64),
    /// Probability a copy gets a channel tilt.
    pub tilt_prob: f64,
    /// Probability a copy gets 0.1–0.6 s of room tone before and after.
    pub pad_prob: f64,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            copies: 0,
            vtlp: 0.12,
            speed: 0.1,
            noise_prob: 0.5,
            snr_db: (0.0, 30.0),
            tilt_prob: 0.5,
            pad_prob: 0.3,
        }
    }
}

impl AugmentConfig {
    pub fn is_enabled(&self) -> bool {
        self.copies > 0
    }

    /// One-line summary for the model metadata.
    pub fn describe(&self) -> String {
        if !self.is_enabled() {
            return "none".into();
        }
        format!(
            "{} copies/clip: VTLP ±{}, speed ±{}, noise p={} at {}..{} dB (white/pink/babble), tilt p={}, room-tone padding p={}",
            self.copies, self.vtlp, self.speed, self.noise_prob, self.snr_db.0, self.snr_db.1, self.tilt_prob, self.pad_prob
        )
    }
}

/// One perturbed copy: new samples (8 kHz) and the filterbank warp to use.
#[derive(Debug, Clone)]
pub struct Perturbed {
    pub samples: Vec<f32>,
    pub warp: f64,
}

/// Makes one perturbed copy of `x` (at 8 kHz). `babble_sources` are clips of
/// other speakers.
pub fn perturb(
    cfg: &AugmentConfig,
    x: &[f32],
    babble_sources: &[&[f32]],
    rng: &mut impl Rng,
) -> Perturbed {
    let warp = 1.0 + rng.gen_range(-cfg.vtlp..=cfg.vtlp);
    let mut y = if cfg.speed > 0.0 {
        speed(x, 1.0 + rng.gen_range(-cfg.speed..=cfg.speed))
    } else {
        x.to_vec()
    };
    if rng.gen_bool(cfg.tilt_prob) {
        tilt(&mut y, rng.gen_range(-0.6..0.9));
    }
    let gain = 10f32.powf(rng.gen_range(-12.0..6.0) / 20.0);
    for v in &mut y {
        *v *= gain;
    }
    if rng.gen_bool(cfg.pad_prob) {
        let speech = power(&y);
        let before = rng.gen_range(800..4800);
        let after = rng.gen_range(800..4800);
        let mut padded = vec![0.0f32; before];
        padded.extend_from_slice(&y);
        padded.resize(before + y.len() + after, 0.0);
        // Room tone 30–50 dB below the speech.
        let level = (speech / 10f64.powf(rng.gen_range(30.0..50.0) / 10.0)).sqrt() as f32;
        for (v, n) in padded.iter_mut().zip(pink(before + y.len() + after, rng)) {
            *v += level * n;
        }
        y = padded;
    }
    if rng.gen_bool(cfg.noise_prob) {
        let kind = match rng.gen_range(0..3) {
            0 => NoiseKind::White,
            1 => NoiseKind::Pink,
            _ if !babble_sources.is_empty() => NoiseKind::Babble,
            _ => NoiseKind::Pink,
        };
        let noise = make_noise(kind, y.len(), babble_sources, rng);
        mix_at_snr(&mut y, &noise, rng.gen_range(cfg.snr_db.0..=cfg.snr_db.1));
    }
    Perturbed { samples: y, warp }
}

/// Noise of `kind`, `n` samples, unit power.
pub fn make_noise(
    kind: NoiseKind,
    n: usize,
    babble_sources: &[&[f32]],
    rng: &mut impl Rng,
) -> Vec<f32> {
    match kind {
        NoiseKind::White => white(n, rng),
        NoiseKind::Pink => pink(n, rng),
        NoiseKind::Babble => {
            let k = babble_sources.len().min(4);
            let picks: Vec<&[f32]> = (0..k)
                .map(|_| babble_sources[rng.gen_range(0..babble_sources.len())])
                .collect();
            babble(n, &picks, rng)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const SEED: u64 = 11;

    #[test]
    fn mixing_hits_the_requested_snr() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(SEED);
        let clean: Vec<f32> = (0..8000).map(|i| (i as f32 * 0.05).sin()).collect();
        for kind in [NoiseKind::White, NoiseKind::Pink] {
            let noise = make_noise(kind, 8000, &[], &mut rng);
            let mut noisy = clean.clone();
            mix_at_snr(&mut noisy, &noise, 10.0);
            let resid: Vec<f32> = noisy.iter().zip(&clean).map(|(a, b)| a - b).collect();
            let snr = 10.0 * (power(&clean) / power(&resid)).log10();
            assert!((snr - 10.0).abs() < 1e-3, "{kind:?}: {snr}");
        }
    }

    #[test]
    fn speed_changes_length() {
        assert_eq!(speed(&vec![0.0; 1000], 1.25).len(), 800);
        assert_eq!(speed(&vec![0.0; 1000], 0.8).len(), 1250);
    }
}
