//! The trained model: everything between a pooled feature vector and a digit,
//! and the file it lives in.
//!
//! This module owns the [`ModelFile`] (front-end config, CMVN, scaler,
//! optional projection, the compact SVM, probability calibration, training
//! metadata and an optional personal stage, behind a magic header and a
//! format version), the [`Recognizer`] that runs samples → digit, and the
//! embedded default model.

pub mod adapt;
pub mod calibration;
pub mod pca;
pub mod personal;
pub mod svm;
pub mod train;
pub mod weights;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use adapt::{adapt, AdaptOptions, AdaptReport};
pub use calibration::Platt;
pub use personal::Personal;
pub use svm::{SvmClassifier, SvmParams, N_CLASSES};
pub use train::{train, TrainOptions, TrainReport};
pub use weights::FeatureWeights;

use crate::features::{FeatureError, FrontEnd, FrontEndConfig, Standardizer};

/// First bytes of every model file.
pub const MAGIC: &[u8; 8] = b"DIGITSMD";
/// Bumped whenever the stored layout changes, or what the stored front-end
/// settings compute (5: the clip's DC offset is removed first; 6: the
/// endpoint detector ignores clicks; 7: and breaths next to the word; 8: a
/// CRC-32 of the payload follows the version; 9: the endpoint detector
/// takes each block's polynomial trend out, so rumble is not the word; 10:
/// an optional personal stage follows the metadata); older
/// files are refused,
/// since their model learned from other features.
pub const FORMAT_VERSION: u32 = 10;

/// The model built into the binary (trained by `digits train` on FSDD's
/// official training split; see models/README.md).
pub static EMBEDDED_MODEL: &[u8] = include_bytes!("../../models/digits.model");

/// Errors from reading, writing or using a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read model {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write model {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write model {path}: {reason}")]
    Destination { path: String, reason: String },
    #[error("{0} is not a digits model file (bad header); pass a file written by `digits train`")]
    NotAModel(String),
    #[error("{path} is a digits model of format version {found}, this build reads version {expected}; retrain it with `digits train`")]
    Version {
        path: String,
        found: u32,
        expected: u32,
    },
    #[error("{path} is truncated or corrupt ({reason}); retrain it with `digits train`")]
    Corrupt { path: String, reason: String },
    #[error("model is inconsistent: {0}")]
    Inconsistent(String),
    #[error("invalid training setting: {0}")]
    Setting(String),
    #[error("cannot train: {0}")]
    TrainingData(String),
    #[error("cannot adapt: {0}")]
    Adapt(String),
    #[error(transparent)]
    Features(#[from] FeatureError),
}

pub type Result<T> = std::result::Result<T, ModelError>;

impl ModelError {
    /// True when the input is at fault (a missing, corrupt or foreign file,
    /// a path that cannot be a model, a bad setting or data): exit 2. False
    /// when the job itself failed, e.g. the disk filled up while the model
    /// was written: exit 1.
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::Read { source, .. } | Self::Write { source, .. } => !is_job_failure(source),
            _ => true,
        }
    }
}

/// True for an I/O error that says the machine failed the job, not that the
/// path was wrong: a full disk or quota, a file over the size limit, a device
/// error. Permission denied, a missing folder, a read-only file system and
/// the like are the path's fault (bad input).
pub fn is_job_failure(err: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    /// EIO on Linux, macOS and the BSDs; its `ErrorKind` is not stable.
    const EIO: i32 = 5;
    matches!(
        err.kind(),
        K::StorageFull
            | K::QuotaExceeded
            | K::FileTooLarge
            | K::WriteZero
            | K::Interrupted
            | K::OutOfMemory
            | K::TimedOut
    ) || (cfg!(unix) && err.raw_os_error() == Some(EIO))
}

/// A linear projection after scaling (e.g. PCA): `y = W (x − mean)`.
/// Stored with 8-bit weights (one scale per output row); [`Projection::quantized`]
/// applies the same rounding in memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "StoredProjection", try_from = "StoredProjection")]
pub struct Projection {
    mean: Vec<f32>,
    /// `out_dim × in_dim`, row-major.
    weights: Vec<f32>,
    out_dim: usize,
    /// `W · mean`, so applying is one vectorised dot product per row
    /// (derived, not stored).
    offset: Vec<f32>,
}

/// The file form of [`Projection`]: `weights[r][j] ≈ q[r][j] · scale[r]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredProjection {
    mean: Vec<f32>,
    q: Vec<i8>,
    scale: Vec<f32>,
    out_dim: usize,
}

impl From<Projection> for StoredProjection {
    fn from(p: Projection) -> Self {
        let d = p.mean.len().max(1);
        let mut q = Vec::with_capacity(p.weights.len());
        let mut scale = Vec::with_capacity(p.out_dim);
        for row in p.weights.chunks(d) {
            let max = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let s = if max > 0.0 { max / 127.0 } else { 1.0 };
            q.extend(row.iter().map(|v| (v / s).round() as i8));
            scale.push(s);
        }
        Self {
            mean: p.mean,
            q,
            scale,
            out_dim: p.out_dim,
        }
    }
}

impl TryFrom<StoredProjection> for Projection {
    type Error = String;
    fn try_from(s: StoredProjection) -> std::result::Result<Self, String> {
        let d = s.mean.len();
        if d == 0 || s.q.len() != d * s.out_dim || s.scale.len() != s.out_dim {
            return Err(format!(
                "projection of {} weights does not fit {} × {d}",
                s.q.len(),
                s.out_dim
            ));
        }
        let weights =
            s.q.iter()
                .enumerate()
                .map(|(i, &q)| q as f32 * s.scale[i / d])
                .collect();
        Ok(Self::new(s.mean, weights, s.out_dim))
    }
}

impl Projection {
    /// `y = W (x − mean)` with `weights` = W (`out_dim × mean.len()`, row-major).
    pub fn new(mean: Vec<f32>, weights: Vec<f32>, out_dim: usize) -> Self {
        let d = mean.len().max(1);
        let offset = weights
            .chunks_exact(d)
            .map(|r| svm::dot(r, &mean))
            .collect();
        Self {
            mean,
            weights,
            out_dim,
            offset,
        }
    }

    /// Input dimensions.
    pub fn in_dim(&self) -> usize {
        self.mean.len()
    }

    /// Output dimensions.
    pub fn out_dim(&self) -> usize {
        self.out_dim
    }

    /// This projection with its weights rounded as the file stores them.
    pub fn quantized(self) -> Self {
        Self::try_from(StoredProjection::from(self)).expect("a projection always round-trips")
    }

    /// `out = W x − W·mean`, each row bit for bit `svm::dot(row, x) − offset`
    /// (training projects its rows with this too, so the trained model does
    /// not depend on which CPU path ran).
    pub fn apply(&self, x: &[f32], out: &mut Vec<f32>) {
        out.clear();
        out.resize(self.out_dim, 0.0);
        svm::mat_vec(&self.weights, self.mean.len(), x, out);
        for (v, o) in out.iter_mut().zip(&self.offset) {
            *v -= o;
        }
    }
}

/// What the model was trained on and how; shown by `eval` and the model card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingMeta {
    pub data: String,
    pub split: String,
    pub n_train: usize,
    pub augment: String,
    pub validation_accuracy: f64,
    pub seed: u64,
    pub digits_version: String,
}

/// Everything stored in a model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    pub front_end: FrontEndConfig,
    /// CMVN of the frames.
    pub cmvn: Standardizer,
    /// Standardisation of the pooled vector, with the feature weights folded in.
    pub scaler: Standardizer,
    pub projection: Option<Projection>,
    pub svm: SvmClassifier,
    pub calibration: Platt,
    pub meta: TrainingMeta,
    /// Enrolled takes of the user's own voice (`digits adapt`), matched by
    /// DTW after the SVM; `None` in a model `digits train` wrote.
    pub personal: Option<Personal>,
}

impl ModelFile {
    pub fn to_bytes(&self) -> Vec<u8> {
        let payload = bincode::serde::encode_to_vec(self, bincode::config::standard())
            .expect("a model always encodes");
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend(payload);
        out
    }

    /// Decodes a model; `name` is used in error messages.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Self> {
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err(ModelError::NotAModel(name.to_string()));
        }
        let found = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if found != FORMAT_VERSION {
            return Err(ModelError::Version {
                path: name.to_string(),
                found,
                expected: FORMAT_VERSION,
            });
        }
        let corrupt = |reason: String| ModelError::Corrupt {
            path: name.to_string(),
            reason,
        };
        // A flipped byte in the weights would still decode, and answer
        // wrongly; the checksum catches it before anything is decoded.
        let Some((stored, payload)) = bytes.get(12..).and_then(|b| b.split_first_chunk::<4>())
        else {
            return Err(corrupt("no checksum".into()));
        };
        let (stored, computed) = (u32::from_le_bytes(*stored), crc32fast::hash(payload));
        if stored != computed {
            return Err(corrupt(format!(
                "checksum {computed:08x}, the file says {stored:08x}"
            )));
        }
        let (model, used): (ModelFile, usize) =
            bincode::serde::decode_from_slice(payload, bincode::config::standard())
                .map_err(|e| corrupt(format!("undecodable: {e}")))?;
        if used != payload.len() {
            return Err(corrupt(format!("{} trailing bytes", payload.len() - used)));
        }
        model.check().map_err(|e| corrupt(e.to_string()))?;
        Ok(model)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    /// The model built into the binary.
    pub fn embedded() -> Result<Self> {
        Self::from_bytes(EMBEDDED_MODEL, "the embedded model")
    }

    /// Loads `path`, or the embedded model when `None`.
    pub fn load_or_embedded(path: Option<&Path>) -> Result<Self> {
        path.map_or_else(Self::embedded, Self::load)
    }

    /// Checks that [`Self::save`] can write `path`, without touching a file
    /// already there: call it before long work, so a bad path fails in
    /// milliseconds rather than after training.
    pub fn check_destination(path: &Path) -> Result<()> {
        let target = save_target(path)?;
        let tmp = partial_path(&target);
        // Not `create_new`: a `.partial` left by a killed run is ours to
        // overwrite, as `save` would.
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|source| ModelError::Write {
                path: path.display().to_string(),
                source,
            })?;
        // Best effort: `save` replaces it anyway.
        let _ = std::fs::remove_file(&tmp);
        Ok(())
    }

    /// Writes atomically (temporary file beside it, then rename), so an
    /// interrupted or failed write never leaves a half model behind, nor
    /// the temporary file. A symbolic link is written through, not replaced.
    pub fn save(&self, path: &Path) -> Result<()> {
        let err = |source| ModelError::Write {
            path: path.display().to_string(),
            source,
        };
        let target = save_target(path)?;
        let tmp = partial_path(&target);
        let written =
            std::fs::write(&tmp, self.to_bytes()).and_then(|()| std::fs::rename(&tmp, &target));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(err(e));
        }
        Ok(())
    }

    /// Shapes agree with each other (a decoded file could be crafted).
    pub fn check(&self) -> Result<()> {
        let bad = |s: String| Err(ModelError::Inconsistent(s));
        self.front_end.check()?;
        self.svm.params.check().map_err(ModelError::Inconsistent)?;
        let Platt { a, b } = self.calibration;
        if !(a.is_finite() && b.is_finite()) {
            return bad(format!("calibration ({a}, {b}) is not finite"));
        }
        let fd = self.front_end.feature_dim();
        let frame_dim = self.front_end.mfcc.frame_dim();
        if self.cmvn.mean.len() != frame_dim || self.cmvn.inv_std.len() != frame_dim {
            return bad(format!(
                "CMVN has {} values, frames have {frame_dim}",
                self.cmvn.mean.len()
            ));
        }
        if self.scaler.mean.len() != fd || self.scaler.inv_std.len() != fd {
            return bad(format!(
                "scaler has {} values, features have {fd}",
                self.scaler.mean.len()
            ));
        }
        let svm_in = match &self.projection {
            Some(p) => {
                if p.mean.len() != fd || p.weights.len() != p.out_dim * fd {
                    return bad("projection shape does not match the features".into());
                }
                p.out_dim
            }
            None => fd,
        };
        let s = &self.svm;
        let n_sv = s.sq_norms.len();
        if s.dim != svm_in || s.support.len() != n_sv * s.dim {
            return bad(format!("SVM expects {} values, gets {svm_in}", s.dim));
        }
        if s.class_start.len() != N_CLASSES + 1
            || s.class_start[0] != 0
            || s.class_start[N_CLASSES] != n_sv
            || s.class_start.windows(2).any(|w| w[0] > w[1])
        {
            return bad("support-vector class ranges are malformed".into());
        }
        for p in &s.pairs {
            let (a, b) = (p.pos as usize, p.neg as usize);
            if a >= N_CLASSES || b >= N_CLASSES || a == b {
                return bad(format!("pair ({a}, {b}) is not a pair of digits"));
            }
            let len = (s.class_start[a + 1] - s.class_start[a])
                + (s.class_start[b + 1] - s.class_start[b]);
            if p.coef.len() != len {
                return bad(format!(
                    "pair ({a}, {b}) has {} coefficients, expected {len}",
                    p.coef.len()
                ));
            }
        }
        if s.pairs.len() != svm::N_PAIRS {
            return bad(format!("{} pair machines, expected 45", s.pairs.len()));
        }
        if let Some(p) = &self.personal {
            p.check().map_err(ModelError::Inconsistent)?;
            if frame_dim < personal::TEMPLATE_DIMS {
                return bad(format!(
                    "frames of {frame_dim} values cannot feed personal templates of {}",
                    personal::TEMPLATE_DIMS
                ));
            }
        }
        Ok(())
    }

    /// Size of the serialised file in bytes.
    pub fn file_size(&self) -> usize {
        self.to_bytes().len()
    }
}

/// Where [`ModelFile::save`] writes for `path`: the file itself, or the file
/// a symbolic link points to; never a folder or a device, nor a file that
/// is not a model (empty files excepted).
fn save_target(path: &Path) -> Result<std::path::PathBuf> {
    let refuse = |reason: String| ModelError::Destination {
        path: path.display().to_string(),
        reason,
    };
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(refuse("it is a folder; pass a file path".into())),
        Ok(m) if !m.is_file() => Err(refuse(
            "it is not a regular file (a device or a pipe); pass a file path".into(),
        )),
        Ok(_) => {
            let write_err = |source| ModelError::Write {
                path: path.display().to_string(),
                source,
            };
            let target = std::fs::canonicalize(path).map_err(write_err)?;
            // A recording, a text file, anything else: not ours to replace
            // (`--out data/0_george_5.wav` would destroy a training clip).
            if !holds_a_model_or_nothing(&target).map_err(write_err)? {
                return Err(refuse(
                    "it exists and is not a digits model; choose another path or remove it first"
                        .into(),
                ));
            }
            Ok(target)
        }
        Err(_) => {
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            if parent.is_dir() {
                return Ok(path.to_path_buf());
            }
            // The nearest part of the path that exists: a file there (`a.wav`
            // in `a.wav/x.model`) is the problem, not a missing folder.
            let existing = parent
                .ancestors()
                .filter(|a| !a.as_os_str().is_empty())
                .find(|a| std::fs::metadata(a).is_ok());
            match existing {
                Some(a) if !a.is_dir() => Err(refuse(format!(
                    "{} is not a folder; pass a path inside a folder",
                    a.display()
                ))),
                _ => Err(refuse(format!(
                    "its folder {} does not exist; create it first",
                    parent.display()
                ))),
            }
        }
    }
}

/// True when the file at `path` is a digits model (it starts with [`MAGIC`];
/// any format version, even a corrupt one) or is empty: the files `train`
/// may replace.
fn holds_a_model_or_nothing(path: &Path) -> std::io::Result<bool> {
    use std::io::Read as _;
    let mut head = Vec::with_capacity(MAGIC.len());
    std::fs::File::open(path)?
        .take(MAGIC.len() as u64)
        .read_to_end(&mut head)?;
    Ok(head.is_empty() || head == MAGIC)
}

/// `x.model` → `x.model.partial`, beside it.
fn partial_path(target: &Path) -> std::path::PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    target.with_file_name(name)
}

/// One classification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub digit: u8,
    /// Probability of `digit` (pairwise-coupled, calibrated on validation data).
    pub confidence: f32,
    /// Every digit ranked best first, with its probability.
    pub ranking: Vec<(u8, f32)>,
}

impl Prediction {
    pub fn top(&self, k: usize) -> &[(u8, f32)] {
        &self.ranking[..k.min(self.ranking.len())]
    }
}

/// Samples in, [`Prediction`] out: the front end and the classifier with
/// their buffers, built once and reused.
#[derive(Debug)]
pub struct Recognizer {
    model: ModelFile,
    front_end: FrontEnd,
    features: Vec<f32>,
    scaled: Vec<f32>,
    projected: Vec<f32>,
    kernel_row: Vec<f32>,
    personal: personal::Scratch,
}

impl Recognizer {
    pub fn new(model: ModelFile) -> Result<Self> {
        let front_end = FrontEnd::new(&model.front_end, model.cmvn.clone())?;
        Ok(Self {
            model,
            front_end,
            features: Vec::new(),
            scaled: Vec::new(),
            projected: Vec::new(),
            kernel_row: Vec::new(),
            personal: personal::Scratch::default(),
        })
    }

    pub fn model(&self) -> &ModelFile {
        &self.model
    }

    /// Classifies mono samples at any rate.
    pub fn recognize(&mut self, samples: &[f32], rate: u32) -> Result<Prediction> {
        self.front_end.features(samples, rate, &mut self.features)?;
        Ok(self.classify_features())
    }

    /// How far the clip last recognized rose above its background (dB):
    /// noise alone a few dB, any word more (see
    /// [`crate::features::endpoint::word_rise_db`]).
    pub fn word_rise_db(&mut self) -> f32 {
        self.front_end.word_rise_db()
    }

    /// The pooled feature vector (for timing the front end alone).
    pub fn features(&mut self, samples: &[f32], rate: u32) -> Result<&[f32]> {
        self.front_end.features(samples, rate, &mut self.features)?;
        Ok(&self.features)
    }

    /// The SVM's calibrated probabilities for a pooled vector (no personal
    /// stage).
    pub fn svm_probabilities_of(&mut self, pooled: &[f32]) -> [f32; N_CLASSES] {
        self.scaled.clear();
        self.scaled.extend_from_slice(pooled);
        svm_probabilities(
            &self.model,
            &mut self.scaled,
            &mut self.projected,
            &mut self.kernel_row,
        )
        .0
    }

    /// Classifies the word last measured by [`Self::features`]: the SVM on
    /// its pooled vector, then, in a personal model, the enrolled takes on
    /// its frames. A copy of the vector is standardised, so it stays as
    /// pooled and a second call gives the same answer.
    pub fn classify_features(&mut self) -> Prediction {
        self.scaled.clear();
        self.scaled.extend_from_slice(&self.features);
        let (mut probs, d) = svm_probabilities(
            &self.model,
            &mut self.scaled,
            &mut self.projected,
            &mut self.kernel_row,
        );
        if let Some(p) = &self.model.personal {
            let dist = p.distances(
                self.front_end.normalized_frames(),
                self.model.front_end.mfcc.frame_dim(),
                &probs,
                &mut self.personal,
            );
            probs = p.combine(&probs, &dist);
        }
        prediction(ranked(&probs, &d.votes))
    }
}

/// Every digit, best first, by calibrated probability (votes break exact
/// ties), so the digit printed is always the most probable one and a
/// `--top` list is in order. Voting instead measured the same within
/// noise (`prompts/which-digit.md`). Training's validation ranks with this
/// too, so it scores what `classify` answers.
pub(crate) fn rank(calibration: &Platt, svm: &SvmClassifier, d: &svm::Decisions) -> Vec<(u8, f32)> {
    ranked(
        &calibration.class_probabilities(&svm.pairs, &d.values),
        &d.votes,
    )
}

/// Every digit, best first, by `probs` (votes break exact ties).
fn ranked(probs: &[f32; N_CLASSES], votes: &[u32; N_CLASSES]) -> Vec<(u8, f32)> {
    let mut ranking: Vec<(u8, f32)> = (0..N_CLASSES as u8)
        .map(|c| (c, probs[c as usize]))
        .collect();
    ranking.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then(votes[b.0 as usize].cmp(&votes[a.0 as usize]))
    });
    ranking
}

fn prediction(ranking: Vec<(u8, f32)>) -> Prediction {
    Prediction {
        digit: ranking[0].0,
        confidence: ranking[0].1,
        ranking,
    }
}

/// Standardise → project → SVM → calibrated probabilities, on a pooled
/// vector (scaled in place); also the decisions, whose votes break ties.
fn svm_probabilities(
    model: &ModelFile,
    features: &mut [f32],
    projected: &mut Vec<f32>,
    row: &mut Vec<f32>,
) -> ([f32; N_CLASSES], svm::Decisions) {
    model.scaler.apply(features);
    let x: &[f32] = match &model.projection {
        Some(p) => {
            p.apply(features, projected);
            projected
        }
        None => features,
    };
    let d = model.svm.decide(x, row);
    (
        model
            .calibration
            .class_probabilities(&model.svm.pairs, &d.values),
        d,
    )
}

/// The SVM's answer for a pooled vector (scaled in place), without a
/// personal stage: [`Recognizer`] runs the whole model.
pub fn classify(
    model: &ModelFile,
    features: &mut [f32],
    projected: &mut Vec<f32>,
    row: &mut Vec<f32>,
) -> Prediction {
    let (probs, d) = svm_probabilities(model, features, projected, row);
    prediction(ranked(&probs, &d.votes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifying_the_pooled_vector_twice_gives_one_answer() {
        let audio =
            crate::audio::read_wav(&crate::data::shared_fsdd_dir().join("8_lucas_3.wav")).unwrap();
        let mut rec = Recognizer::new(ModelFile::embedded().unwrap()).unwrap();
        let pooled = rec
            .features(&audio.samples, audio.sample_rate)
            .unwrap()
            .to_vec();
        let first = rec.classify_features();
        assert_eq!(rec.classify_features(), first);
        assert_eq!(rec.features, pooled, "the pooled vector is left as it was");
        assert_eq!(first.digit, 8);
    }

    #[test]
    fn a_full_disk_is_a_failed_job_a_bad_path_or_file_is_bad_input() {
        let write = |errno| ModelError::Write {
            path: "x.model".into(),
            source: std::io::Error::from_raw_os_error(errno),
        };
        // ENOSPC, EDQUOT, EFBIG, EIO: the job failed (exit 1).
        for errno in [28, 122, 27, 5] {
            assert!(!write(errno).is_bad_input(), "errno {errno}");
        }
        // EACCES, ENOENT, EROFS: the path given is at fault (exit 2).
        for errno in [13, 2, 30] {
            assert!(write(errno).is_bad_input(), "errno {errno}");
        }
        assert!(ModelError::NotAModel("x".into()).is_bad_input());
        assert!(ModelError::Destination {
            path: "x.wav".into(),
            reason: "it exists and is not a digits model".into()
        }
        .is_bad_input());
        assert!(ModelError::Corrupt {
            path: "x".into(),
            reason: "no checksum".into()
        }
        .is_bad_input());
    }

    #[test]
    fn save_replaces_a_model_or_an_empty_file_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let model = ModelFile::embedded().unwrap();
        let (empty, old, wav) = (
            dir.path().join("empty"),
            dir.path().join("old.model"),
            dir.path().join("0_george_5.wav"),
        );
        std::fs::write(&empty, b"").unwrap();
        // Another format version, truncated: still a digits model.
        std::fs::write(&old, b"DIGITSMD\x02\0\0\0").unwrap();
        let recording = b"RIFF\x24\0\0\0WAVEfmt ";
        std::fs::write(&wav, recording).unwrap();
        for path in [&empty, &old] {
            ModelFile::check_destination(path).unwrap();
            model.save(path).unwrap();
            assert_eq!(ModelFile::load(path).unwrap(), model);
        }
        for refused in [
            ModelFile::check_destination(&wav).unwrap_err(),
            model.save(&wav).unwrap_err(),
        ] {
            assert_eq!(
                refused.to_string(),
                format!(
                    "cannot write model {}: it exists and is not a digits model; \
                     choose another path or remove it first",
                    wav.display()
                )
            );
        }
        assert_eq!(std::fs::read(&wav).unwrap(), recording, "left as it was");
        let inside = wav.join("sub/x.model");
        assert_eq!(
            ModelFile::check_destination(&inside)
                .unwrap_err()
                .to_string(),
            format!(
                "cannot write model {}: {} is not a folder; pass a path inside a folder",
                inside.display(),
                wav.display()
            )
        );
    }
}
