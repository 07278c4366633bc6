//! MFCCs with deltas, following librosa 0.11 exactly:
//! `librosa.feature.mfcc(y, sr=8000, n_mfcc=13, n_fft=256, hop_length=80,
//! win_length=200, n_mels=40, fmin=20, fmax=4000, htk=True)` (centred frames,
//! zero padding, periodic Hann window, power spectrum, Slaney-normalised HTK
//! mel filterbank, `power_to_db(ref=1, amin=1e-10, top_db=80)`, orthonormal
//! DCT-II) and `librosa.feature.delta(width=9, order=1|2)` (Savitzky–Golay,
//! `mode="interp"`). `tests/fixtures/make_reference.py` makes the reference.
//!
//! The extractor plans its FFT and precomputes window, filterbank and DCT once;
//! [`Mfcc::compute`] allocates nothing once its output buffer has grown.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

/// MFCC settings. Defaults are the Python prototype's librosa settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MfccConfig {
    /// `sr`
    pub sample_rate: u32,
    /// `n_fft`
    pub n_fft: usize,
    /// `win_length`
    pub win_length: usize,
    /// `hop_length`
    pub hop_length: usize,
    /// `n_mels`
    pub n_mels: usize,
    /// `fmin`, Hz
    pub fmin: f32,
    /// `fmax`, Hz
    pub fmax: f32,
    /// `n_mfcc` (c0 included)
    pub n_mfcc: usize,
    /// Drop c0 (frame loudness), keeping c1.. only.
    pub drop_c0: bool,
    /// `width` of `librosa.feature.delta`; odd, ≥ 3.
    pub delta_width: usize,
    /// `top_db` of `power_to_db`.
    pub top_db: f32,
    /// With c0 kept: measure it from the word's loudest frame (c0 − max c0),
    /// so it carries the loudness contour but not the recording level.
    pub c0_relative: bool,
}

impl Default for MfccConfig {
    fn default() -> Self {
        Self {
            sample_rate: 8_000,
            n_fft: 256,
            win_length: 200,
            hop_length: 80,
            n_mels: 40,
            fmin: 20.0,
            fmax: 4_000.0,
            n_mfcc: 13,
            drop_c0: true,
            delta_width: 9,
            top_db: 80.0,
            c0_relative: false,
        }
    }
}

/// An invalid [`MfccConfig`].
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid MFCC setting: {0}")]
pub struct MfccConfigError(pub String);

impl MfccConfig {
    /// Checks the settings hang together.
    pub fn check(&self) -> Result<(), MfccConfigError> {
        let bad = |s: String| Err(MfccConfigError(s));
        // Upper bounds too: a model file carries these, and a crafted one
        // must not make the front end allocate without limit.
        if !(16..=8192).contains(&self.n_fft) || !self.n_fft.is_power_of_two() {
            return bad(format!(
                "n_fft {} must be a power of two in 16..=8192",
                self.n_fft
            ));
        }
        if self.win_length == 0 || self.win_length > self.n_fft {
            return bad(format!(
                "win_length {} must be in 1..={}",
                self.win_length, self.n_fft
            ));
        }
        if self.hop_length == 0 || self.hop_length > self.n_fft {
            return bad(format!(
                "hop_length {} must be in 1..={}",
                self.hop_length, self.n_fft
            ));
        }
        if !(0.0 <= self.fmin
            && self.fmin < self.fmax
            && self.fmax <= self.sample_rate as f32 / 2.0)
        {
            return bad(format!(
                "need 0 ≤ fmin ({}) < fmax ({}) ≤ sr/2",
                self.fmin, self.fmax
            ));
        }
        if !(2..=256).contains(&self.n_mels) || self.n_mfcc == 0 || self.n_mfcc > self.n_mels {
            return bad(format!(
                "need 2 ≤ n_mels ({}) ≤ 256 and 1 ≤ n_mfcc ({}) ≤ n_mels",
                self.n_mels, self.n_mfcc
            ));
        }
        if self.drop_c0 && self.n_mfcc < 2 {
            return bad("dropping c0 needs n_mfcc ≥ 2".into());
        }
        if !(3..=99).contains(&self.delta_width) || self.delta_width.is_multiple_of(2) {
            return bad(format!(
                "delta width {} must be odd and in 3..=99",
                self.delta_width
            ));
        }
        if !(self.top_db.is_finite() && self.top_db > 0.0) {
            return bad(format!("top_db {} must be a positive number", self.top_db));
        }
        Ok(())
    }

    /// Cepstra kept per frame.
    pub fn n_ceps(&self) -> usize {
        self.n_mfcc - usize::from(self.drop_c0)
    }

    /// Values per frame: cepstra, Δ and ΔΔ.
    pub fn frame_dim(&self) -> usize {
        3 * self.n_ceps()
    }

    /// The cepstrum (0 = c0) that frame value `k` is, or is the Δ or ΔΔ of.
    pub fn cepstrum_of(&self, k: usize) -> usize {
        k % self.n_ceps() + usize::from(self.drop_c0)
    }

    /// Frames librosa makes for `n` samples (`center=True`).
    pub fn n_frames(&self, n: usize) -> usize {
        1 + n / self.hop_length
    }
}

/// HTK mel scale.
fn hz_to_mel(f: f64) -> f64 {
    2595.0 * (1.0 + f / 700.0).log10()
}

fn mel_to_hz(m: f64) -> f64 {
    700.0 * (10f64.powf(m / 2595.0) - 1.0)
}

/// `librosa.filters.mel(..., htk=True, norm="slaney")` as dense rows
/// (`n_mels` × `n_fft/2+1`).
pub fn mel_filterbank(cfg: &MfccConfig) -> Vec<Vec<f64>> {
    mel_filterbank_warped(cfg, 1.0)
}

/// The filterbank read through a vocal-tract-length warp of the frequency
/// axis (piecewise linear, fixed at 0 and Nyquist, as in Kaldi's VTLN):
/// a bin at `f` is treated as if it were at `warp·f`. Training augmentation
/// only; inference always uses `warp = 1`.
pub fn mel_filterbank_warped(cfg: &MfccConfig, warp: f64) -> Vec<Vec<f64>> {
    let n_bins = cfg.n_fft / 2 + 1;
    let sr = cfg.sample_rate as f64;
    let nyquist = sr / 2.0;
    let knee = 0.8 * nyquist * warp.recip().min(1.0);
    let warp_hz = |f: f64| {
        if f <= knee {
            f * warp
        } else {
            warp * knee + (nyquist - warp * knee) * (f - knee) / (nyquist - knee)
        }
    };
    let fft_freqs: Vec<f64> = (0..n_bins)
        .map(|k| warp_hz(k as f64 * sr / cfg.n_fft as f64))
        .collect();
    let (lo, hi) = (hz_to_mel(cfg.fmin as f64), hz_to_mel(cfg.fmax as f64));
    let mel_f: Vec<f64> = (0..cfg.n_mels + 2)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (cfg.n_mels + 1) as f64))
        .collect();
    (0..cfg.n_mels)
        .map(|i| {
            let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
            fft_freqs
                .iter()
                .map(|&f| {
                    let lower = (f - mel_f[i]) / (mel_f[i + 1] - mel_f[i]);
                    let upper = (mel_f[i + 2] - f) / (mel_f[i + 2] - mel_f[i + 1]);
                    lower.min(upper).max(0.0) * enorm
                })
                .collect()
        })
        .collect()
}

/// Savitzky–Golay derivative weights over `width` points (polynomial of
/// degree `order`, derivative `order`), as `scipy.signal.savgol_coeffs`
/// gives for `deriv == polyorder` ∈ {1, 2}: `w[j]` multiplies `x[t - h + j]`.
fn savgol_weights(width: usize, order: usize) -> Vec<f32> {
    let h = (width / 2) as f64;
    let n: Vec<f64> = (0..width).map(|j| j as f64 - h).collect();
    match order {
        1 => {
            let s2: f64 = n.iter().map(|v| v * v).sum();
            n.iter().map(|v| (v / s2) as f32).collect()
        }
        _ => {
            let m = n.iter().map(|v| v * v).sum::<f64>() / width as f64;
            let s: f64 = n.iter().map(|v| (v * v - m).powi(2)).sum();
            n.iter().map(|v| (2.0 * (v * v - m) / s) as f32).collect()
        }
    }
}

/// A planned MFCC extractor.
pub struct Mfcc {
    cfg: MfccConfig,
    fft: Arc<dyn RealToComplex<f32>>,
    /// Periodic Hann of `win_length`, centred in `n_fft`.
    window: Vec<f32>,
    /// Per mel band: first FFT bin and its non-zero weights.
    filters: Vec<(usize, Vec<f32>)>,
    /// `n_ceps` × `n_mels`, orthonormal DCT-II rows for the kept cepstra.
    dct: Vec<f32>,
    d1: Vec<f32>,
    d2: Vec<f32>,
    frame: Vec<f32>,
    spectrum: Vec<realfft::num_complex::Complex<f32>>,
    scratch: Vec<realfft::num_complex::Complex<f32>>,
    power: Vec<f32>,
    /// log-mel of every frame, `n_frames` × `n_mels`.
    log_mel: Vec<f32>,
    /// The cepstra alone, `n_frames` × `n_ceps`: contiguous input for the deltas.
    ceps: Vec<f32>,
}

impl std::fmt::Debug for Mfcc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mfcc")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl Mfcc {
    /// Plans the FFT and precomputes tables. The config must pass [`MfccConfig::check`].
    pub fn new(cfg: &MfccConfig) -> Result<Self, MfccConfigError> {
        Self::new_warped(cfg, 1.0)
    }

    /// An extractor whose filterbank is warped by `warp` (see
    /// [`mel_filterbank_warped`]); for training augmentation.
    pub fn new_warped(cfg: &MfccConfig, warp: f64) -> Result<Self, MfccConfigError> {
        cfg.check()?;
        if !(0.5..=2.0).contains(&warp) {
            return Err(MfccConfigError(format!(
                "warp factor {warp} outside 0.5..=2"
            )));
        }
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(cfg.n_fft);
        let mut window = vec![0.0f32; cfg.n_fft];
        let left = (cfg.n_fft - cfg.win_length) / 2;
        for i in 0..cfg.win_length {
            let phase = 2.0 * std::f64::consts::PI * i as f64 / cfg.win_length as f64;
            window[left + i] = (0.5 - 0.5 * phase.cos()) as f32;
        }
        let filters = mel_filterbank_warped(cfg, warp)
            .into_iter()
            .map(|row| {
                let first = row.iter().position(|&w| w > 0.0).unwrap_or(0);
                let last = row.iter().rposition(|&w| w > 0.0).map_or(first, |l| l + 1);
                (first, row[first..last].iter().map(|&w| w as f32).collect())
            })
            .collect();
        let first_ceps = usize::from(cfg.drop_c0);
        let mut dct = Vec::with_capacity(cfg.n_ceps() * cfg.n_mels);
        let n = cfg.n_mels as f64;
        for k in first_ceps..cfg.n_mfcc {
            let scale = if k == 0 {
                (1.0 / n).sqrt()
            } else {
                (2.0 / n).sqrt()
            };
            for m in 0..cfg.n_mels {
                let angle = std::f64::consts::PI * k as f64 * (2 * m + 1) as f64 / (2.0 * n);
                dct.push((scale * angle.cos()) as f32);
            }
        }
        Ok(Self {
            d1: savgol_weights(cfg.delta_width, 1),
            d2: savgol_weights(cfg.delta_width, 2),
            frame: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            power: vec![0.0; cfg.n_fft / 2 + 1],
            log_mel: Vec::new(),
            ceps: Vec::new(),
            cfg: cfg.clone(),
            fft,
            window,
            filters,
            dct,
        })
    }

    pub fn config(&self) -> &MfccConfig {
        &self.cfg
    }

    /// Computes frames of `[cepstra | Δ | ΔΔ]` (each `n_ceps` wide) for
    /// `samples` at the configured rate into `out` (frame-major, resized).
    /// Returns the number of frames.
    pub fn compute(&mut self, samples: &[f32], out: &mut Vec<f32>) -> usize {
        let n_frames = self.cfg.n_frames(samples.len());
        self.log_mel_frames(samples, n_frames);
        let nc = self.cfg.n_ceps();
        let dim = 3 * nc;
        out.clear();
        out.resize(n_frames * dim, 0.0);
        let n_mels = self.cfg.n_mels;
        for t in 0..n_frames {
            let lm = &self.log_mel[t * n_mels..(t + 1) * n_mels];
            let row = &mut out[t * dim..t * dim + nc];
            for (k, c) in row.iter_mut().enumerate() {
                *c = dot(&self.dct[k * n_mels..(k + 1) * n_mels], lm);
            }
        }
        if self.cfg.c0_relative && !self.cfg.drop_c0 && n_frames > 0 {
            let max = (0..n_frames)
                .map(|t| out[t * dim])
                .fold(f32::NEG_INFINITY, f32::max);
            for t in 0..n_frames {
                out[t * dim] -= max;
            }
        }
        self.ceps.clear();
        self.ceps
            .extend(out.chunks_exact(dim).flat_map(|row| &row[..nc]));
        add_deltas(&self.ceps, out, n_frames, nc, &self.d1, &self.d2);
        n_frames
    }

    /// Fills `self.log_mel` with `power_to_db` of the mel spectrogram.
    fn log_mel_frames(&mut self, samples: &[f32], n_frames: usize) {
        let n_fft = self.cfg.n_fft;
        let pad = n_fft / 2;
        let hop = self.cfg.hop_length;
        let n_mels = self.cfg.n_mels;
        self.log_mel.clear();
        self.log_mel.resize(n_frames * n_mels, 0.0);
        let mut max_db = f32::NEG_INFINITY;
        for t in 0..n_frames {
            // Frame t covers padded[t*hop .. t*hop+n_fft], i.e. samples[t*hop - pad ..].
            let start = (t * hop) as isize - pad as isize;
            // Only the first and last frames reach into the zero padding.
            let lo = (-start).max(0) as usize;
            let hi = ((samples.len() as isize - start).max(0) as usize).min(n_fft);
            if lo >= hi {
                self.frame.fill(0.0);
            } else {
                self.frame[..lo].fill(0.0);
                self.frame[hi..].fill(0.0);
                let src = &samples[(start + lo as isize) as usize..(start + hi as isize) as usize];
                for ((x, w), s) in self.frame[lo..hi]
                    .iter_mut()
                    .zip(&self.window[lo..hi])
                    .zip(src)
                {
                    *x = s * w;
                }
            }
            self.fft
                .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch)
                .expect("buffers come from the plan");
            for (p, c) in self.power.iter_mut().zip(&self.spectrum) {
                *p = c.norm_sqr();
            }
            let row = &mut self.log_mel[t * n_mels..(t + 1) * n_mels];
            for (e, (first, weights)) in row.iter_mut().zip(&self.filters) {
                *e = dot(weights, &self.power[*first..*first + weights.len()]);
            }
            power_to_db(row);
            max_db = row.iter().fold(max_db, |m, &v| m.max(v));
        }
        let floor = max_db - self.cfg.top_db;
        for v in &mut self.log_mel {
            *v = v.max(floor);
        }
    }
}

/// `10 log10(max(e, 1e-10))` in place, to about 1e-6 dB, in a loop the
/// compiler vectorises (the library `log10` is a call per value and was
/// most of the front end's time): e = m·2^k with m in [√½, √2), and
/// ln m = 2 atanh((m − 1)/(m + 1)) by its odd series to s⁹.
#[inline]
fn power_to_db(v: &mut [f32]) {
    const DB_PER_LN: f32 = 10.0 * std::f32::consts::LOG10_E;
    const DB_PER_OCTAVE: f32 = 10.0 * std::f32::consts::LOG10_2;
    for x in v.iter_mut() {
        let e = x.max(1e-10);
        let bits = e.to_bits();
        // Shift the mantissa range from [1, 2) to [√½, √2): subtract the bits of √½.
        let shifted = bits.wrapping_sub(0x3f35_04f3);
        let k = (shifted as i32) >> 23;
        let m = f32::from_bits(bits.wrapping_sub((k as u32) << 23));
        let s = (m - 1.0) / (m + 1.0);
        let s2 = s * s;
        let ln_m = 2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 * (1.0 / 7.0 + s2 / 9.0))));
        *x = DB_PER_LN * ln_m + DB_PER_OCTAVE * k as f32;
    }
}

/// Eight running sums: the DCT's 40-term rows vectorise.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    crate::dot::dot_lanes::<8>(a, b)
}

/// Fills the Δ and ΔΔ blocks of each frame from its cepstra, with librosa's
/// `mode="interp"` edges: a window that would run off the ends is moved
/// inside, which for these derivative orders means edge frames take the
/// value of the nearest full window. Fewer frames than the window: the window
/// shrinks to the frames there are (still a least-squares fit).
fn add_deltas(ceps: &[f32], out: &mut [f32], n_frames: usize, nc: usize, d1: &[f32], d2: &[f32]) {
    if n_frames >= d1.len() {
        apply_delta_weights(ceps, out, n_frames, nc, d1, d2);
    } else if n_frames >= 3 {
        // An odd window no longer than the frames.
        let short = savgol_weights(n_frames - 1 + n_frames % 2, 1);
        let short2 = savgol_weights(short.len(), 2);
        apply_delta_weights(ceps, out, n_frames, nc, &short, &short2);
    } else {
        let dim = 3 * nc;
        for t in 0..n_frames {
            out[t * dim + nc..t * dim + 3 * nc].fill(0.0);
        }
    }
}

/// Δ and ΔΔ of every frame with windows `d1`, `d2` (no longer than the
/// frames), from the cepstra `ceps` (`n_frames` × `nc`) into `out`.
fn apply_delta_weights(
    ceps: &[f32],
    out: &mut [f32],
    n_frames: usize,
    nc: usize,
    d1: &[f32],
    d2: &[f32],
) {
    let dim = 3 * nc;
    let h = d1.len() / 2;
    for (t, row) in out.chunks_exact_mut(dim).enumerate().take(n_frames) {
        let centre = t.clamp(h, n_frames - 1 - h);
        let (a, b) = row[nc..].split_at_mut(nc);
        a.fill(0.0);
        b.fill(0.0);
        // Coefficient-inner, so the loop runs over contiguous values.
        for (j, (&w1, &w2)) in d1.iter().zip(d2).enumerate() {
            let x = &ceps[(centre + j - h) * nc..(centre + j - h + 1) * nc];
            for ((a, b), &x) in a.iter_mut().zip(b.iter_mut()).zip(x) {
                *a += w1 * x;
                *b += w2 * x;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_makes_librosas_frame_count() {
        // librosa.feature.mfcc(y of 4000 samples, hop 80, centred) gives
        // 51 frames of 12 cepstra (c0 dropped), Δ and ΔΔ.
        let c = MfccConfig::default();
        let mut m = Mfcc::new(&c).unwrap();
        let mut out = Vec::new();
        let x: Vec<f32> = (0..4000).map(|i| (i as f32 * 0.3).sin()).collect();
        assert_eq!(m.compute(&x, &mut out), 51);
        assert_eq!(c.n_frames(4000), 51);
        assert_eq!(out.len(), 51 * 36);
    }

    #[test]
    fn fast_decibels_agree_with_f64_log10() {
        // Every power of two from 2^-40 to 2^40 and the values between, plus
        // the 1e-10 floor and zero.
        let mut v: Vec<f32> = (-40 * 64..=40 * 64)
            .map(|i| 2f32.powf(i as f32 / 64.0))
            .collect();
        v.extend([0.0, 1e-12, 1e-10, 1.0, std::f32::consts::SQRT_2]);
        let want: Vec<f64> = v
            .iter()
            .map(|&x| 10.0 * (x.max(1e-10) as f64).log10())
            .collect();
        power_to_db(&mut v);
        let worst = v
            .iter()
            .zip(&want)
            .map(|(&a, &b)| (a as f64 - b).abs())
            .fold(0.0, f64::max);
        assert!(worst < 2e-5, "max error {worst} dB");
    }

    #[test]
    fn bad_configs_are_named() {
        let c = MfccConfig {
            n_fft: 200,
            ..MfccConfig::default()
        };
        assert_eq!(
            c.check().unwrap_err().to_string(),
            "invalid MFCC setting: n_fft 200 must be a power of two in 16..=8192"
        );
        let c = MfccConfig {
            delta_width: 4,
            ..MfccConfig::default()
        };
        assert!(c.check().is_err());
    }

    #[test]
    fn dct_of_a_constant_is_only_c0() {
        let cfg = MfccConfig {
            drop_c0: false,
            ..MfccConfig::default()
        };
        let m = Mfcc::new(&cfg).unwrap();
        let ones = vec![1.0f32; cfg.n_mels];
        let c0 = dot(&m.dct[..cfg.n_mels], &ones);
        assert!((c0 - (cfg.n_mels as f32).sqrt()).abs() < 1e-4);
        for k in 1..cfg.n_mfcc {
            assert!(dot(&m.dct[k * cfg.n_mels..(k + 1) * cfg.n_mels], &ones).abs() < 1e-4);
        }
    }

    #[test]
    fn short_clips_get_finite_deltas() {
        let mut m = Mfcc::new(&MfccConfig::default()).unwrap();
        let mut out = Vec::new();
        for n in [1, 80, 250, 500] {
            let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.2).sin()).collect();
            let frames = m.compute(&x, &mut out);
            assert_eq!(frames, 1 + n / 80);
            assert!(out.iter().all(|v| v.is_finite()), "{n} samples");
        }
    }

    #[test]
    fn delta_of_a_ramp_is_its_slope() {
        let w1 = savgol_weights(9, 1);
        let w2 = savgol_weights(9, 2);
        let ramp: Vec<f32> = (0..9).map(|i| 3.0 * i as f32 + 1.0).collect();
        let parabola: Vec<f32> = (0..9).map(|i| (i * i) as f32).collect();
        assert!((dot(&w1, &ramp) - 3.0).abs() < 1e-5);
        assert!(dot(&w2, &ramp).abs() < 1e-5);
        assert!((dot(&w2, &parabola) - 2.0).abs() < 1e-4);
    }
}
