//! Training-data augmentation and test-time noise: seeded perturbations that
//! teach the model voices, rooms and microphones FSDD does not have.
//!
//! This module owns the noise generators (white, pink, babble) and mixing at
//! a given SNR relative to the clip's own power — used both by `train
//! --augment` and by `eval --snr` — and the perturbations: speed, vocal-tract
//! length (a warped mel filterbank, applied by the front end's extractor),
//! pitch (a formant-preserving shift, for the higher voices FSDD's six men
//! lack), channel tilt, room and microphone responses, gain, and
//! leading/trailing room tone that the endpoint detector must remove.
//! Everything is driven by one seeded RNG, so a run is reproducible.

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
    // Talk in the background has no DC offset, whatever the sources had.
    let dc = out.iter().sum::<f32>() / n.max(1) as f32;
    out.iter_mut().for_each(|v| *v -= dc);
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

/// Hop of the pitch tracker and of unvoiced grains (10 ms at 8 kHz).
const PITCH_HOP: usize = 80;
/// Pitch periods the tracker considers: 400 Hz down to 60 Hz at 8 kHz.
const MIN_PERIOD: usize = 20;
const MAX_PERIOD: usize = 133;

/// The pitch period (samples) of each [`PITCH_HOP`] of `x`, `None` where
/// the hop is unvoiced: the lag of the highest normalised autocorrelation
/// over a 40 ms window, taking the shortest lag within 10 % of the best so
/// that a multiple of the period is not mistaken for it.
fn pitch_periods(x: &[f32]) -> Vec<Option<usize>> {
    const WIN: usize = 320;
    let hops = x.len().div_ceil(PITCH_HOP);
    let loudest = (0..hops)
        .map(|h| power(&x[h * PITCH_HOP..((h + 1) * PITCH_HOP).min(x.len())]))
        .fold(0.0f64, f64::max);
    let mut ncc = vec![0.0f64; MAX_PERIOD + 2];
    (0..hops)
        .map(|h| {
            let centre = h * PITCH_HOP + PITCH_HOP / 2;
            let start = centre.saturating_sub(WIN / 2);
            let end = (start + WIN).min(x.len());
            if end < start + 2 * MAX_PERIOD + 2 {
                return None;
            }
            let w = &x[start..end];
            // Quiet hops are room tone, whatever their periodicity.
            if power(&w[WIN / 2 - PITCH_HOP / 2..(WIN / 2 + PITCH_HOP / 2).min(w.len())])
                < loudest * 1e-3
            {
                return None;
            }
            let n = w.len() - MAX_PERIOD - 1;
            let e0: f64 = w[..n].iter().map(|&v| (v as f64).powi(2)).sum();
            for lag in MIN_PERIOD - 1..=MAX_PERIOD + 1 {
                let (a, b) = (&w[..n], &w[lag..lag + n]);
                let (mut xy, mut yy) = (0.0f32, 0.0f32);
                for (u, v) in a.iter().zip(b) {
                    xy += u * v;
                    yy += v * v;
                }
                ncc[lag] = xy as f64 / (e0 * yy as f64).sqrt().max(1e-20);
            }
            let best = ncc[MIN_PERIOD..=MAX_PERIOD]
                .iter()
                .cloned()
                .fold(f64::MIN, f64::max);
            if best < 0.5 {
                return None;
            }
            (MIN_PERIOD..=MAX_PERIOD)
                .find(|&l| ncc[l] >= 0.9 * best && ncc[l] >= ncc[l - 1] && ncc[l] >= ncc[l + 1])
        })
        .collect()
}

/// Formant-preserving pitch shift (TD-PSOLA): the voice's pitch is
/// multiplied by `factor` while its spectral envelope and the clip's length
/// stay. FSDD has six male voices; this is what teaches the model higher
/// (and lower) ones without also moving the vocal tract, which VTLP does
/// separately. Unvoiced stretches are copied as they are.
pub fn pitch_shift(x: &[f32], factor: f64) -> Vec<f32> {
    if x.len() < 2 * MAX_PERIOD + 2 || !(0.5..=2.5).contains(&factor) {
        return x.to_vec();
    }
    let periods = pitch_periods(x);
    let period_at = |i: usize| periods[(i / PITCH_HOP).min(periods.len() - 1)];
    // Analysis marks: in voiced runs one per period, each moved to the
    // largest sample near where the period predicts it (so every grain is
    // centred on the same point of its glottal cycle); elsewhere one per half hop.
    let mut marks: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < x.len() {
        match period_at(i) {
            Some(p) => {
                let (lo, hi) = (i.saturating_sub(p / 4), (i + p / 4 + 1).min(x.len()));
                let at = lo + argmax(&x[lo..hi]);
                let at = if marks.last().is_some_and(|m| m.0 >= at) {
                    i
                } else {
                    at
                };
                marks.push((at, p));
                i = at + p;
            }
            None => {
                marks.push((i, PITCH_HOP / 2));
                i += PITCH_HOP / 2;
            }
        }
    }
    // Synthesis: Hann grains two periods long, cut around the analysis mark
    // nearest each synthesis mark, laid down one new period apart.
    // Dividing by the summed windows keeps the level whether grains overlap
    // more (higher pitch) or less.
    let mut y = vec![0.0f32; x.len()];
    let mut weight = vec![0.0f32; x.len()];
    let mut t = marks[0].0 as f64;
    while (t as usize) < x.len() {
        let ti = t as usize;
        let k = marks.partition_point(|m| m.0 < ti);
        let (m, half) = match (k.checked_sub(1).map(|j| marks[j]), marks.get(k)) {
            (Some(a), Some(b)) => {
                if ti - a.0 <= b.0 - ti {
                    a
                } else {
                    *b
                }
            }
            (Some(a), None) => a,
            (None, Some(b)) => *b,
            (None, None) => break,
        };
        for j in 0..2 * half + 1 {
            let w = 0.5 - 0.5 * (std::f32::consts::TAU * j as f32 / (2 * half + 1) as f32).cos();
            let (src, dst) = (
                (m + j) as isize - half as isize,
                (ti + j) as isize - half as isize,
            );
            if src < 0 || dst < 0 || src as usize >= x.len() || dst as usize >= x.len() {
                continue;
            }
            y[dst as usize] += w * x[src as usize];
            weight[dst as usize] += w;
        }
        t += match period_at(ti) {
            Some(p) => p as f64 / factor,
            None => (PITCH_HOP / 2) as f64,
        };
    }
    for (v, w) in y.iter_mut().zip(&weight) {
        if *w > 1e-3 {
            *v /= w;
        }
    }
    let scale = (power(x) / power(&y).max(1e-30)).sqrt() as f32;
    for v in &mut y {
        *v *= scale;
    }
    y
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::MIN), |b, (i, &x)| if x > b.1 { (i, x) } else { b })
        .0
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
    /// Probability a copy is played in a synthetic room (reverberation time
    /// 0.1–0.5 s).
    pub reverb_prob: f64,
    /// Probability a copy goes through a random microphone/loudspeaker
    /// response (two peaking filters, ±9 dB).
    pub eq_prob: f64,
    /// Further copies per clip in a higher voice (women's, children's):
    /// a shorter vocal tract (filterbank warp drawn from `higher_warp`)
    /// and a higher pitch (`higher_pitch` semitones, formants kept).
    pub higher_voices: usize,
    pub higher_warp: (f64, f64),
    pub higher_pitch: (f64, f64),
}

impl AugmentConfig {
    /// Probabilities in 0..=1, ranges finite and in order, warps and speeds
    /// that keep a clip a clip.
    pub fn check(&self) -> Result<(), String> {
        for (name, p) in [
            ("noise_prob", self.noise_prob),
            ("tilt_prob", self.tilt_prob),
            ("pad_prob", self.pad_prob),
            ("reverb_prob", self.reverb_prob),
            ("eq_prob", self.eq_prob),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} {p} is not a probability (0..=1)"));
            }
        }
        for (name, v) in [("vtlp", self.vtlp), ("speed", self.speed)] {
            if !(0.0..0.5).contains(&v) {
                return Err(format!(
                    "{name} {v} must be in 0..0.5 (a factor of 1 ± {name})"
                ));
            }
        }
        for (name, (lo, hi)) in [
            ("snr_db", self.snr_db),
            ("higher_warp", self.higher_warp),
            ("higher_pitch", self.higher_pitch),
        ] {
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                return Err(format!(
                    "{name} range {lo}..{hi} must be finite and in order"
                ));
            }
        }
        if self.higher_warp.0 <= 0.0 {
            return Err(format!(
                "higher_warp {} must be positive",
                self.higher_warp.0
            ));
        }
        Ok(())
    }
}

/// Which voice a perturbed copy speaks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voice {
    /// The speaker's own, nudged: VTLP within `1 ± vtlp`.
    Near,
    /// A higher voice: see [`AugmentConfig::higher_voices`].
    Higher,
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
            reverb_prob: 0.3,
            eq_prob: 0.3,
            higher_voices: 0,
            higher_warp: (1.04, 1.25),
            higher_pitch: (2.0, 10.0),
        }
    }
}

impl AugmentConfig {
    pub fn is_enabled(&self) -> bool {
        self.copies + self.higher_voices > 0
    }

    /// The voice of copy `k` of a clip: the near copies first, then the
    /// higher voices.
    pub fn voice_of_copy(&self, k: usize) -> Voice {
        if k < self.copies {
            Voice::Near
        } else {
            Voice::Higher
        }
    }

    /// One-line summary for the model metadata.
    pub fn describe(&self) -> String {
        if !self.is_enabled() {
            return "none".into();
        }
        format!(
            "{} copies/clip: VTLP ±{}, speed ±{}, noise p={} at {}..{} dB (white/pink/babble), tilt p={}, room-tone padding p={}, reverb p={}, EQ p={}; {} higher-voice copies/clip: VTLP {}..{}, pitch +{}..+{} semitones",
            self.copies, self.vtlp, self.speed, self.noise_prob, self.snr_db.0, self.snr_db.1, self.tilt_prob, self.pad_prob, self.reverb_prob, self.eq_prob,
            self.higher_voices, self.higher_warp.0, self.higher_warp.1, self.higher_pitch.0, self.higher_pitch.1
        )
    }
}

/// A peaking filter (RBJ cookbook biquad) at `f0` Hz (8 kHz rate) with
/// `gain_db` and quality `q`: one resonance or notch of a cheap microphone.
pub fn peaking_eq(x: &mut [f32], f0: f64, gain_db: f64, q: f64) {
    let a = 10f64.powf(gain_db / 40.0);
    let w0 = 2.0 * std::f64::consts::PI * f0 / 8000.0;
    let alpha = w0.sin() / (2.0 * q);
    let a0 = 1.0 + alpha / a;
    let b = [
        (1.0 + alpha * a) / a0,
        -2.0 * w0.cos() / a0,
        (1.0 - alpha * a) / a0,
    ];
    let fb = [-2.0 * w0.cos() / a0, (1.0 - alpha / a) / a0];
    let (mut x1, mut x2, mut y1, mut y2) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for v in x.iter_mut() {
        let x0 = *v as f64;
        let y0 = b[0] * x0 + b[1] * x1 + b[2] * x2 - fb[0] * y1 - fb[1] * y2;
        (x2, x1, y2, y1) = (x1, x0, y1, y0);
        *v = y0 as f32;
    }
}

/// A synthetic room impulse response at 8 kHz: the direct sound, then after
/// 2–10 ms an exponentially decaying noise tail reaching −60 dB after `rt60`
/// seconds, `drr_db` below the direct sound in energy.
pub fn room_response(rt60: f64, drr_db: f64, rng: &mut impl Rng) -> Vec<f32> {
    let len = (rt60 * 8000.0) as usize;
    let delay = rng.gen_range(16..80);
    let mut h = vec![0.0f32; delay + len];
    h[0] = 1.0;
    let decay = -6.9 / (rt60 * 8000.0);
    for (n, v) in h[delay..].iter_mut().enumerate() {
        let g: f32 = StandardNormal.sample(rng);
        *v = g * (decay * n as f64).exp() as f32;
    }
    let tail: f64 = h[1..].iter().map(|&v| (v as f64).powi(2)).sum();
    let scale = (10f64.powf(-drr_db / 10.0) / tail.max(1e-12)).sqrt() as f32;
    for v in &mut h[1..] {
        *v *= scale;
    }
    h
}

/// `x` convolved with `h` (FFT), trimmed to `x`'s length plus the tail and
/// rescaled to `x`'s power.
pub fn reverberate(x: &[f32], h: &[f32]) -> Vec<f32> {
    if x.is_empty() || h.is_empty() {
        return x.to_vec();
    }
    let n = (x.len() + h.len() - 1).next_power_of_two();
    let mut planner = realfft::RealFftPlanner::<f32>::new();
    let (fwd, inv) = (planner.plan_fft_forward(n), planner.plan_fft_inverse(n));
    let spectrum = |v: &[f32]| {
        let mut buf = vec![0.0f32; n];
        buf[..v.len()].copy_from_slice(v);
        let mut out = fwd.make_output_vec();
        fwd.process(&mut buf, &mut out)
            .expect("sizes from the plan");
        out
    };
    let (sx, sh) = (spectrum(x), spectrum(h));
    let mut prod: Vec<_> = sx.iter().zip(&sh).map(|(a, b)| a * b).collect();
    let mut y = vec![0.0f32; n];
    inv.process(&mut prod, &mut y).expect("sizes from the plan");
    y.truncate(x.len() + h.len() - 1);
    let scale = (power(x) / power(&y).max(1e-30)).sqrt() as f32;
    for v in &mut y {
        *v *= scale;
    }
    y
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
    voice: Voice,
    x: &[f32],
    babble_sources: &[&[f32]],
    rng: &mut impl Rng,
) -> Perturbed {
    let (warp, pitch) = match voice {
        Voice::Near => (1.0 + rng.gen_range(-cfg.vtlp..=cfg.vtlp), None),
        Voice::Higher => (
            rng.gen_range(cfg.higher_warp.0..=cfg.higher_warp.1),
            Some(rng.gen_range(cfg.higher_pitch.0..=cfg.higher_pitch.1)),
        ),
    };
    let mut y = if cfg.speed > 0.0 {
        speed(x, 1.0 + rng.gen_range(-cfg.speed..=cfg.speed))
    } else {
        x.to_vec()
    };
    if let Some(semitones) = pitch {
        y = pitch_shift(&y, 2f64.powf(semitones / 12.0));
    }
    if rng.gen_bool(cfg.tilt_prob) {
        tilt(&mut y, rng.gen_range(-0.6..0.9));
    }
    if rng.gen_bool(cfg.eq_prob) {
        for _ in 0..2 {
            let f0 = rng.gen_range(150.0..3500.0);
            peaking_eq(
                &mut y,
                f0,
                rng.gen_range(-9.0..9.0),
                rng.gen_range(0.7..2.5),
            );
        }
    }
    if rng.gen_bool(cfg.reverb_prob) {
        let rir = room_response(rng.gen_range(0.1..0.5), rng.gen_range(-3.0..12.0), rng);
        y = reverberate(&y, &rir);
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
    fn babble_from_offset_recordings_has_no_offset() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(SEED);
        let talk: Vec<f32> = (0..3000).map(|i| 0.3 + (i as f32 * 0.07).sin()).collect();
        let n = babble(4000, &[&talk, &talk[500..]], &mut rng);
        let dc = n.iter().sum::<f32>() / n.len() as f32;
        assert!(dc.abs() < 1e-4, "babble's mean is {dc}");
        assert!((power(&n) - 1.0).abs() < 1e-4, "unit power");
    }

    #[test]
    fn peaking_filter_has_its_gain_at_its_centre_and_none_far_away() {
        let sine = |f: f32| -> Vec<f32> {
            (0..16000)
                .map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / 8000.0).sin())
                .collect()
        };
        for gain_db in [-9.0, 6.0] {
            for (f, want) in [(1000.0, gain_db), (3900.0, 0.0)] {
                let mut y = sine(f);
                peaking_eq(&mut y, 1000.0, gain_db, 2.0);
                // Skip the filter's start-up transient.
                let got = 10.0 * (power(&y[4000..]) / power(&sine(f)[4000..])).log10();
                assert!(
                    (got - want).abs() < 0.3,
                    "{gain_db} dB filter at {f} Hz: {got:.2} dB"
                );
            }
        }
    }

    #[test]
    fn reverberation_keeps_power_and_adds_the_tail() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(SEED);
        let h = room_response(0.3, 6.0, &mut rng);
        let tail: f64 = h[1..].iter().map(|&v| (v as f64).powi(2)).sum();
        assert!(
            (10.0 * tail.log10() + 6.0).abs() < 1e-3,
            "DRR {}",
            -10.0 * tail.log10()
        );
        let x = white(4000, &mut rng);
        let y = reverberate(&x, &h);
        assert_eq!(y.len(), x.len() + h.len() - 1);
        assert!((power(&y) / power(&x) - 1.0).abs() < 1e-4);
        // The direct path is still there: y correlates with x.
        let corr: f64 = x.iter().zip(&y).map(|(a, b)| (a * b) as f64).sum::<f64>()
            / (power(&x) * power(&y[..4000])).sqrt()
            / 4000.0;
        assert!(corr > 0.7 && corr < 0.99, "correlation {corr}");
    }

    /// 0.1 s of silence, then 0.5 s of a vowel: a glottal pulse train at
    /// `f0` Hz through two resonances (700 and 1,200 Hz), then 0.1 s of silence.
    fn vowel(f0: f64) -> Vec<f32> {
        let mut x = vec![0.0f32; 6400];
        let period = 8000.0 / f0;
        let mut t = 800.0;
        while t < 4800.0 {
            x[t as usize] = 1.0;
            t += period;
        }
        for (f, bw) in [(700.0, 80.0), (1200.0, 100.0)] {
            let r = (-std::f64::consts::PI * bw / 8000.0).exp();
            let c = 2.0 * r * (std::f64::consts::TAU * f / 8000.0).cos();
            let (mut y1, mut y2) = (0.0f64, 0.0f64);
            for v in x.iter_mut() {
                let y0 = *v as f64 + c * y1 - r * r * y2;
                (y2, y1) = (y1, y0);
                *v = y0 as f32;
            }
        }
        x
    }

    /// F0 of the middle of a clip by plain autocorrelation (independent of
    /// `pitch_periods`).
    fn f0_of(x: &[f32]) -> f64 {
        let w = &x[2000..3600];
        let ac = |lag: usize| -> f64 {
            w[..w.len() - lag]
                .iter()
                .zip(&w[lag..])
                .map(|(a, b)| (a * b) as f64)
                .sum()
        };
        let lag = (16..140).max_by(|&a, &b| ac(a).total_cmp(&ac(b))).unwrap();
        8000.0 / lag as f64
    }

    /// Frequency below which half the power under 2 kHz lies: where the
    /// formants are.
    fn median_frequency(x: &[f32]) -> f64 {
        let n = 2048;
        let mut buf = x[1600..1600 + n].to_vec();
        let mut spectrum = realfft::RealFftPlanner::<f32>::new()
            .plan_fft_forward(n)
            .make_output_vec();
        realfft::RealFftPlanner::<f32>::new()
            .plan_fft_forward(n)
            .process(&mut buf, &mut spectrum)
            .unwrap();
        let top = 2000 * n / 8000;
        let p: Vec<f64> = spectrum[..top]
            .iter()
            .map(|c| c.norm_sqr() as f64)
            .collect();
        let half = p.iter().sum::<f64>() / 2.0;
        let mut acc = 0.0;
        let k = p.iter().position(|v| {
            acc += v;
            acc >= half
        });
        k.unwrap() as f64 * 8000.0 / n as f64
    }

    #[test]
    fn pitch_tracker_finds_the_period_and_no_pitch_in_silence() {
        let periods = pitch_periods(&vowel(125.0));
        assert_eq!(periods[2], None, "silence");
        let voiced: Vec<usize> = periods[14..56].iter().map(|p| p.unwrap()).collect();
        assert!(voiced.iter().all(|&p| p == 64), "{voiced:?}");
    }

    #[test]
    fn pitch_shift_moves_the_pitch_but_not_the_formants() {
        let x = vowel(120.0);
        for factor in [0.8, 1.0, 1.5, 1.9] {
            let y = pitch_shift(&x, factor);
            assert_eq!(y.len(), x.len());
            let want = 120.0 * factor;
            assert!(
                (f0_of(&y) / want - 1.0).abs() < 0.04,
                "factor {factor}: F0 {} Hz, want {want}",
                f0_of(&y)
            );
            let (before, after) = (median_frequency(&x), median_frequency(&y));
            assert!(
                (after / before - 1.0).abs() < 0.1,
                "factor {factor}: formants moved from {before} to {after} Hz"
            );
        }
        // Playing faster moves the formants too: the measure can tell.
        let faster = speed(&x, 1.5);
        assert!(median_frequency(&faster) / median_frequency(&x) > 1.3);
    }

    #[test]
    fn pitch_shift_leaves_unvoiced_sound_alone() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(SEED);
        let mut x = vec![0.0f32; 800];
        x.extend(white(3200, &mut rng));
        let y = pitch_shift(&x, 1.5);
        let corr: f64 = x.iter().zip(&y).map(|(a, b)| (a * b) as f64).sum::<f64>()
            / (power(&x) * power(&y)).sqrt()
            / x.len() as f64;
        assert!(corr > 0.999, "correlation {corr}");
    }

    #[test]
    fn speed_changes_length() {
        assert_eq!(speed(&vec![0.0; 1000], 1.25).len(), 800);
        assert_eq!(speed(&vec![0.0; 1000], 0.8).len(), 1250);
    }
}
