//! The one front end: samples at any rate in, one pooled feature vector out.
//!
//! Training, evaluation, `predict` and `listen` all run this code, so what the
//! model hears live is exactly what it learned from:
//! remove the DC offset → resample to 8 kHz → find the word ([`endpoint`]) →
//! MFCC, Δ, ΔΔ ([`mfcc`]) → CMVN with training-set statistics ([`Standardizer`]) →
//! pooling over time ([`PoolingConfig`]). All settings live in one [`FrontEndConfig`], stored
//! in the model file.

pub mod endpoint;
mod long;
pub mod mfcc;

use serde::{Deserialize, Serialize};

pub use endpoint::EndpointConfig;
pub use long::MAX_WORD_SECONDS;
pub use mfcc::{Mfcc, MfccConfig, MfccConfigError};

use crate::audio::{AudioError, Resampler8k, MODEL_RATE};

/// Errors from the front end.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    #[error(transparent)]
    Config(#[from] MfccConfigError),
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error("invalid pooling setting: {0}")]
    Pooling(String),
    #[error("invalid endpoint setting: {0}")]
    Endpoint(String),
    #[error("no audio to classify (0 samples)")]
    Empty,
    #[error("CMVN statistics have {got} dimensions, the front end makes {expected}")]
    CmvnShape { expected: usize, got: usize },
    /// A long recording whose loudest sound (what the endpoint detector
    /// takes for the word) lasts longer than [`MAX_WORD_SECONDS`].
    #[error("its loudest sound lasts {seconds:.0} s without a pause, not one spoken digit; for a string of digits use `digits listen --auto --fast --from-wav FILE`")]
    LongWord { seconds: f64 },
}

pub type Result<T> = std::result::Result<T, FeatureError>;

/// How frames become one fixed-length vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolingConfig {
    /// Mean, std, min and max of every frame value over the whole word.
    pub whole_word: bool,
    /// Mean and std over this many equal time segments of the word (0 = none).
    /// Statistics over the whole word forget the order of sounds; segments keep it.
    pub segments: usize,
    /// The word's time course: the first `course_dims` frame values
    /// resampled (linear interpolation) to this many steps (0 = none).
    pub course_steps: usize,
    pub course_dims: usize,
}

impl Default for PoolingConfig {
    /// The user's design: mean, std, min, max over time (144 values).
    fn default() -> Self {
        Self {
            whole_word: true,
            segments: 0,
            course_steps: 0,
            course_dims: 0,
        }
    }
}

impl PoolingConfig {
    /// Output length for frames of `frame_dim` values.
    pub fn dim(&self, frame_dim: usize) -> usize {
        usize::from(self.whole_word) * 4 * frame_dim
            + self.segments * 2 * frame_dim
            + self.course_steps * self.course_dims
    }

    pub fn check(&self, frame_dim: usize) -> Result<()> {
        // The bounds come before `dim`, whose products a crafted model file
        // could otherwise overflow.
        if self.segments > 32 || self.course_steps > 200 {
            return Err(FeatureError::Pooling(format!(
                "{} segments and {} time-course steps; at most 32 and 200",
                self.segments, self.course_steps
            )));
        }
        if self.course_dims > frame_dim {
            return Err(FeatureError::Pooling(format!(
                "course_dims {} exceeds the {frame_dim} values per frame",
                self.course_dims
            )));
        }
        if self.dim(frame_dim) == 0 {
            return Err(FeatureError::Pooling("pooling produces no values".into()));
        }
        Ok(())
    }
}

/// Which statistic a pooled value is (see [`PoolingConfig::layout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PooledStat {
    WordMean,
    WordStd,
    WordMin,
    WordMax,
    SegmentMean(usize),
    SegmentStd(usize),
    /// The time course at this step.
    Course(usize),
}

impl PoolingConfig {
    /// The statistic and the frame value (index into a frame) behind each
    /// pooled value, in the order [`pool`] writes them.
    pub fn layout(&self, frame_dim: usize) -> Vec<(PooledStat, usize)> {
        let mut out = Vec::with_capacity(self.dim(frame_dim));
        let mut group = |stat: PooledStat, n: usize| out.extend((0..n).map(|k| (stat, k)));
        if self.whole_word {
            group(PooledStat::WordMean, frame_dim);
            group(PooledStat::WordStd, frame_dim);
            group(PooledStat::WordMin, frame_dim);
            group(PooledStat::WordMax, frame_dim);
        }
        for s in 0..self.segments {
            group(PooledStat::SegmentMean(s), frame_dim);
            group(PooledStat::SegmentStd(s), frame_dim);
        }
        for j in 0..self.course_steps {
            group(PooledStat::Course(j), self.course_dims);
        }
        out
    }
}

/// Every front-end setting; stored in the model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FrontEndConfig {
    pub mfcc: MfccConfig,
    pub endpoint: EndpointConfig,
    pub pooling: PoolingConfig,
}

impl FrontEndConfig {
    /// The shipped front end: the user's design plus mean and std over three
    /// equal segments of the word and the first 12 frame values at 10 evenly
    /// spaced points (510 values), which keep the order of sounds that
    /// whole-word statistics forget. c0 is kept, measured from the word's
    /// loudest frame: the loudness contour (the closure in "six", the voiced
    /// run of "seven") without the recording level. The log-mel floor is
    /// 60 dB below the word's peak (librosa's 80 lets digital silence at
    /// the word's edges, as in synthetic or noise-gated audio, make extreme
    /// deltas that no microphone recording has).
    pub fn recommended() -> Self {
        let pooling = PoolingConfig {
            whole_word: true,
            segments: 3,
            course_steps: 10,
            course_dims: 12,
        };
        let mfcc = MfccConfig {
            drop_c0: false,
            c0_relative: true,
            top_db: 60.0,
            ..MfccConfig::default()
        };
        Self {
            mfcc,
            pooling,
            ..Self::default()
        }
    }

    pub fn check(&self) -> Result<()> {
        self.mfcc.check()?;
        if self.mfcc.sample_rate != MODEL_RATE {
            return Err(MfccConfigError(format!(
                "sample rate {} Hz; the front end runs at {MODEL_RATE} Hz",
                self.mfcc.sample_rate
            ))
            .into());
        }
        self.endpoint.check().map_err(FeatureError::Endpoint)?;
        self.pooling.check(self.mfcc.frame_dim())
    }

    /// Length of the pooled feature vector.
    pub fn feature_dim(&self) -> usize {
        self.pooling.dim(self.mfcc.frame_dim())
    }
}

/// Per-value standardisation with statistics from the training set: the
/// CMVN of frames (over all training frames, not per utterance: in a one-word
/// clip the mean cepstrum is the word) and the scaler of pooled vectors
/// (scikit-learn's `StandardScaler`) are both this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    pub mean: Vec<f32>,
    /// Reciprocal standard deviation (1 where a value never varies).
    pub inv_std: Vec<f32>,
}

impl Standardizer {
    /// Identity standardisation for `dim` values.
    pub fn identity(dim: usize) -> Self {
        Self {
            mean: vec![0.0; dim],
            inv_std: vec![1.0; dim],
        }
    }

    /// Statistics over every row of every block (each block row-major,
    /// `dim` wide; e.g. one clip's frames, or a whole matrix of vectors).
    pub fn fit<'a>(dim: usize, blocks: impl IntoIterator<Item = &'a [f32]>) -> Self {
        let mut sum = vec![0.0f64; dim];
        let mut sq = vec![0.0f64; dim];
        let mut n = 0usize;
        for block in blocks {
            for row in block.chunks_exact(dim) {
                for (k, &v) in row.iter().enumerate() {
                    sum[k] += v as f64;
                    sq[k] += (v as f64) * (v as f64);
                }
                n += 1;
            }
        }
        let n = n.max(1) as f64;
        let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
        let inv_std = sum
            .iter()
            .zip(&sq)
            .map(|(s, q)| {
                let var = (q / n - (s / n).powi(2)).max(0.0);
                if var > 1e-12 {
                    (1.0 / var.sqrt()) as f32
                } else {
                    1.0
                }
            })
            .collect();
        Self { mean, inv_std }
    }

    /// Number of values per row.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Standardises every row of `rows` (row-major, [`Self::dim`] wide).
    pub fn apply(&self, rows: &mut [f32]) {
        for row in rows.chunks_exact_mut(self.dim()) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.inv_std) {
                *v = (*v - m) * s;
            }
        }
    }
}

/// The first step of every path from samples to features: the clip's DC
/// offset out, then the model rate. Training perturbs its copies after this
/// step, and `eval --snr` adds its noise after it, so both start from what a
/// recording gets.
#[derive(Debug, Default)]
pub struct Conditioner {
    resampler: Resampler8k,
    /// The input without its DC offset, at its own rate (scratch).
    centred: Vec<f32>,
    at_model_rate: Vec<f32>,
}

impl Conditioner {
    pub fn new() -> Self {
        Self::default()
    }

    /// `samples` (at `rate`) without their mean, at [`MODEL_RATE`].
    pub fn condition(&mut self, samples: &[f32], rate: u32) -> crate::audio::Result<&[f32]> {
        // A DC offset (cheap microphones and sound cards have one) is not
        // speech, but it would raise the endpoint detector's noise floor and
        // the lowest mel band. It comes out before resampling, which would
        // turn the offset's start and end into steps, and before any
        // augmentation, which would do the same at padded edges.
        let dc = mean(samples);
        if rate == MODEL_RATE {
            self.at_model_rate.clear();
            self.at_model_rate.extend(samples.iter().map(|v| v - dc));
        } else {
            self.centred.clear();
            self.centred.extend(samples.iter().map(|v| v - dc));
            self.resampler
                .to_model_rate(&self.centred, rate, &mut self.at_model_rate)?;
        }
        Ok(&self.at_model_rate)
    }

    /// What the last [`Self::condition`] returned.
    pub fn conditioned(&self) -> &[f32] {
        &self.at_model_rate
    }
}

/// Conditioning, endpoint detection and MFCC frames — everything before CMVN.
#[derive(Debug)]
pub struct FrameExtractor {
    config: FrontEndConfig,
    mfcc: Mfcc,
    conditioner: Conditioner,
    energies: Vec<f32>,
    /// [`endpoint::word_rise_db`] of the last clip, once asked for (only
    /// `predict` and training's check ask, so recognition does not pay for it).
    word_rise_db: Option<f32>,
}

impl FrameExtractor {
    pub fn new(config: &FrontEndConfig) -> Result<Self> {
        Self::with_warp(config, 1.0)
    }

    /// An extractor with a vocal-tract-length warped filterbank (training
    /// augmentation only).
    pub fn with_warp(config: &FrontEndConfig, warp: f64) -> Result<Self> {
        config.check()?;
        Ok(Self {
            mfcc: Mfcc::new_warped(&config.mfcc, warp)?,
            config: config.clone(),
            conditioner: Conditioner::new(),
            energies: Vec::new(),
            word_rise_db: None,
        })
    }

    pub fn config(&self) -> &FrontEndConfig {
        &self.config
    }

    /// Values per frame.
    pub fn frame_dim(&self) -> usize {
        self.config.mfcc.frame_dim()
    }

    /// Frames (frame-major, [`Self::frame_dim`] wide) of the word in `samples`,
    /// into `out`; returns the frame count.
    pub fn frames(&mut self, samples: &[f32], rate: u32, out: &mut Vec<f32>) -> Result<usize> {
        if samples.is_empty() {
            return Err(FeatureError::Empty);
        }
        let at_8k = self.conditioner.condition(samples, rate)?;
        let word =
            endpoint::find_word(&self.config.endpoint, at_8k, MODEL_RATE, &mut self.energies);
        self.word_rise_db = None;
        Ok(self.mfcc.compute(&at_8k[word.range], out))
    }

    /// How far the last clip's loudest stretch rose above its background
    /// (dB; see [`endpoint::word_rise_db`]). Infinite before any clip.
    pub fn word_rise_db(&mut self) -> f32 {
        let (config, conditioned) = (&self.config.endpoint, self.conditioner.conditioned());
        *self.word_rise_db.get_or_insert_with(|| {
            endpoint::word_rise_db(config, conditioned, MODEL_RATE, &mut self.energies)
        })
    }
}

/// Mean of `x`, summed in eight lanes (a single running `f32` sum is one
/// chain of dependent additions, which the compiler may not reorder).
fn mean(x: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            *l += v;
        }
    }
    (lanes.iter().sum::<f32>() + tail) / x.len().max(1) as f32
}

/// The complete front end: [`FrameExtractor`], CMVN and pooling.
#[derive(Debug)]
pub struct FrontEnd {
    extractor: FrameExtractor,
    cmvn: Standardizer,
    frames: Vec<f32>,
}

impl FrontEnd {
    pub fn new(config: &FrontEndConfig, cmvn: Standardizer) -> Result<Self> {
        let extractor = FrameExtractor::new(config)?;
        if cmvn.mean.len() != extractor.frame_dim() || cmvn.inv_std.len() != extractor.frame_dim() {
            return Err(FeatureError::CmvnShape {
                expected: extractor.frame_dim(),
                got: cmvn.mean.len(),
            });
        }
        Ok(Self {
            extractor,
            cmvn,
            frames: Vec::new(),
        })
    }

    pub fn config(&self) -> &FrontEndConfig {
        self.extractor.config()
    }

    pub fn feature_dim(&self) -> usize {
        self.config().feature_dim()
    }

    /// The pooled feature vector of `samples` (any rate) into `out`.
    pub fn features(&mut self, samples: &[f32], rate: u32, out: &mut Vec<f32>) -> Result<()> {
        let n = self.extractor.frames(samples, rate, &mut self.frames)?;
        self.pool(n, out);
        Ok(())
    }

    /// How far the last clip's loudest stretch rose above its background
    /// (dB; see [`endpoint::word_rise_db`]).
    pub fn word_rise_db(&mut self) -> f32 {
        self.extractor.word_rise_db()
    }

    /// The last word's frames after CMVN (frame-major, the front end's
    /// frame width): what its pooled vector was made from.
    pub fn normalized_frames(&self) -> &[f32] {
        &self.frames
    }

    /// Pools frames already extracted (e.g. cached during training).
    pub fn features_from_frames(&mut self, frames: &[f32], out: &mut Vec<f32>) {
        self.frames.clear();
        self.frames.extend_from_slice(frames);
        let n = frames.len() / self.extractor.frame_dim();
        self.pool(n, out);
    }

    fn pool(&mut self, n_frames: usize, out: &mut Vec<f32>) {
        self.cmvn.apply(&mut self.frames);
        let cfg = &self.extractor.config.pooling;
        pool(cfg, &self.frames, n_frames, self.extractor.frame_dim(), out);
    }
}

/// Appends the pooled statistics of `frames` (`n` × `dim`) to `out` (cleared first).
pub fn pool(cfg: &PoolingConfig, frames: &[f32], n: usize, dim: usize, out: &mut Vec<f32>) {
    out.clear();
    if cfg.whole_word {
        let start = out.len();
        out.resize(start + 4 * dim, 0.0);
        let (mean_std, min_max) = out[start..].split_at_mut(2 * dim);
        mean_and_std(frames, 0, n, dim, mean_std);
        let (mins, maxs) = min_max.split_at_mut(dim);
        mins.fill(f32::INFINITY);
        maxs.fill(f32::NEG_INFINITY);
        for f in frames[..n * dim].chunks_exact(dim) {
            for k in 0..dim {
                mins[k] = mins[k].min(f[k]);
                maxs[k] = maxs[k].max(f[k]);
            }
        }
    }
    for s in 0..cfg.segments {
        let a = s * n / cfg.segments;
        let b = ((s + 1) * n / cfg.segments).max(a + 1).min(n);
        let start = out.len();
        out.resize(start + 2 * dim, 0.0);
        mean_and_std(frames, a.min(n - 1), b, dim, &mut out[start..]);
    }
    if cfg.course_steps > 0 {
        for j in 0..cfg.course_steps {
            // Sample the frame sequence at evenly spaced points, end to end.
            let pos = if cfg.course_steps == 1 {
                (n - 1) as f32 / 2.0
            } else {
                j as f32 * (n - 1) as f32 / (cfg.course_steps - 1) as f32
            };
            let i0 = pos.floor() as usize;
            let i1 = (i0 + 1).min(n - 1);
            let w = pos - i0 as f32;
            for k in 0..cfg.course_dims {
                out.push(frames[i0 * dim + k] * (1.0 - w) + frames[i1 * dim + k] * w);
            }
        }
    }
}

/// Mean then std (population) of frames `a..b` into `out[..2*dim]`.
fn mean_and_std(frames: &[f32], a: usize, b: usize, dim: usize, out: &mut [f32]) {
    let (mean, std) = out[..2 * dim].split_at_mut(dim);
    mean.fill(0.0);
    std.fill(0.0);
    let count = (b - a) as f32;
    for f in frames[a * dim..b * dim].chunks_exact(dim) {
        for k in 0..dim {
            mean[k] += f[k];
        }
    }
    for m in mean.iter_mut() {
        *m /= count;
    }
    for f in frames[a * dim..b * dim].chunks_exact(dim) {
        for k in 0..dim {
            let d = f[k] - mean[k];
            std[k] += d * d;
        }
    }
    for s in std.iter_mut() {
        *s = (*s / count).sqrt();
    }
}

#[cfg(test)]
mod tests;
