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
        if d == 0 || d.checked_mul(s.out_dim) != Some(s.q.len()) || s.scale.len() != s.out_dim {
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
        let (model, used) =
            decode_payload(payload).map_err(|e| corrupt(decode_error_words(&e, payload.len())))?;
        if used != payload.len() {
            return Err(corrupt(format!(
                "{} bytes follow the model",
                payload.len() - used
            )));
        }
        model.check().map_err(|e| corrupt(e.to_string()))?;
        Ok(model)
    }

    /// Reads and decodes the model file at `path`. Reading stops past
    /// [`MAX_MODEL_BYTES`]: a larger file is no model, and is refused
    /// without being read whole.
    pub fn load(path: &Path) -> Result<Self> {
        use std::io::Read as _;
        let name = crate::text::path(path);
        let read_err = |source| ModelError::Read {
            path: name.clone(),
            source,
        };
        let too_big = |name: String| ModelError::Corrupt {
            path: name,
            reason: format!(
                "it is larger than {} MB, and no digits model is",
                MAX_MODEL_BYTES >> 20
            ),
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        if file.metadata().is_ok_and(|m| m.len() > MAX_MODEL_BYTES) {
            return Err(too_big(name));
        }
        // A pipe or a device has no length to check: reading stops past the limit.
        let mut bytes = Vec::new();
        file.take(MAX_MODEL_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
        if bytes.len() as u64 > MAX_MODEL_BYTES {
            return Err(too_big(name));
        }
        Self::from_bytes(&bytes, &name)
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
    /// milliseconds rather than after training. The folder is tried with a
    /// temporary file of this run's own (a unique name, removed again), so
    /// another run writing the same path at the same time is not disturbed.
    pub fn check_destination(path: &Path) -> Result<()> {
        let target = save_target(path)?;
        temporary_beside(&target).map_err(|source| ModelError::Write {
            path: crate::text::path(path),
            source,
        })?;
        Ok(())
    }

    /// Writes atomically: to a temporary file of this run's own beside the
    /// target (a unique name, created exclusively), then renamed over it,
    /// so an interrupted or failed write never leaves a half model behind,
    /// nor the temporary file, and two runs writing the same path each
    /// leave a whole model (the last rename wins). A symbolic link is
    /// written through, not replaced.
    pub fn save(&self, path: &Path) -> Result<()> {
        use std::io::Write as _;
        let err = |source| ModelError::Write {
            path: crate::text::path(path),
            source,
        };
        let target = save_target(path)?;
        let mut tmp = temporary_beside(&target).map_err(err)?;
        // Through the plain file: `NamedTempFile`'s own writes add its
        // hidden name to the error.
        tmp.as_file_mut()
            .write_all(&self.to_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(err)?;
        // On failure the temporary file is dropped, which removes it.
        tmp.persist(&target).map_err(|e| err(e.error))?;
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
                if p.mean.len() != fd || p.out_dim.checked_mul(fd) != Some(p.weights.len()) {
                    return bad("projection shape does not match the features".into());
                }
                p.out_dim
            }
            None => fd,
        };
        let s = &self.svm;
        let n_sv = s.sq_norms.len();
        if s.dim != svm_in || n_sv.checked_mul(s.dim) != Some(s.support.len()) {
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

/// Largest file [`ModelFile::load`] reads. The shipped model is 0.5 MB;
/// one trained on every FSDD clip with 16 augmented copies and no
/// projection stays far below this.
pub const MAX_MODEL_BYTES: u64 = 256 << 20;

/// Bytes bincode may claim while decoding, per byte of payload. bincode
/// counts every value it reads (in memory size) and every buffer it is
/// about to allocate; a model's values take at most 4 bytes in memory per
/// byte stored (a 16-bit coefficient stored as a 1-byte varint takes 2, a
/// `usize` 8 but there are 11 of them), so a claim beyond this is a length
/// the payload cannot hold, refused before anything is allocated for it.
const CLAIM_PER_PAYLOAD_BYTE: usize = 8;

/// Decodes a model payload with bincode's limit set from the payload's
/// size: the smallest of a ladder of limits (bincode takes the limit as a
/// type parameter) that covers [`CLAIM_PER_PAYLOAD_BYTE`] per byte.
fn decode_payload(
    payload: &[u8],
) -> std::result::Result<(ModelFile, usize), bincode::error::DecodeError> {
    fn with_limit<const N: usize>(
        payload: &[u8],
    ) -> std::result::Result<(ModelFile, usize), bincode::error::DecodeError> {
        bincode::serde::decode_from_slice(payload, bincode::config::standard().with_limit::<N>())
    }
    match payload.len().saturating_mul(CLAIM_PER_PAYLOAD_BYTE) {
        0..=0x1_0000 => with_limit::<0x1_0000>(payload),
        0x1_0001..=0x4_0000 => with_limit::<0x4_0000>(payload),
        0x4_0001..=0x10_0000 => with_limit::<0x10_0000>(payload),
        0x10_0001..=0x40_0000 => with_limit::<0x40_0000>(payload),
        0x40_0001..=0x100_0000 => with_limit::<0x100_0000>(payload),
        0x100_0001..=0x400_0000 => with_limit::<0x400_0000>(payload),
        0x400_0001..=0x1000_0000 => with_limit::<0x1000_0000>(payload),
        0x1000_0001..=0x4000_0000 => with_limit::<0x4000_0000>(payload),
        _ => with_limit::<0x8000_0000>(payload),
    }
}

/// What a bincode error says about a model payload of `len` bytes, in
/// words (bincode's own text is its debug structure).
fn decode_error_words(e: &bincode::error::DecodeError, len: usize) -> String {
    use bincode::error::DecodeError as E;
    match e {
        E::UnexpectedEnd { .. } | E::Io { .. } => "it ends in the middle of the model".into(),
        E::LimitExceeded => {
            format!("it declares more values than its {len} bytes can hold")
        }
        E::InvalidIntegerType { .. } | E::OutsideUsizeRange(_) => {
            "a number in it is malformed".into()
        }
        E::NonZeroTypeIsZero { .. } | E::InvalidBooleanValue(_) | E::InvalidCharEncoding(_) => {
            "a value in it is malformed".into()
        }
        E::UnexpectedVariant { .. } | E::EmptyEnum { .. } => {
            "a setting in it has a value this build does not know".into()
        }
        E::Utf8 { .. } => "a text field in it is not UTF-8".into(),
        E::ArrayLengthMismatch { .. } => "an array in it has the wrong length".into(),
        // The shape checks of the stored forms (`StoredSvm`, `StoredProjection`).
        E::OtherString(reason) => crate::text::one_line(reason).into_owned(),
        _ => "its contents do not decode as a model".into(),
    }
}

/// Where [`ModelFile::save`] writes for `path`: the file itself, or the file
/// a symbolic link points to; never a folder or a device, nor a file that
/// is not a model (empty files excepted).
fn save_target(path: &Path) -> Result<std::path::PathBuf> {
    let refuse = |reason: String| ModelError::Destination {
        path: crate::text::path(path),
        reason,
    };
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(refuse("it is a folder; pass a file path".into())),
        Ok(m) if !m.is_file() => Err(refuse(
            "it is not a regular file (a device or a pipe); pass a file path".into(),
        )),
        Ok(_) => {
            let write_err = |source| ModelError::Write {
                path: crate::text::path(path),
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
                    crate::text::path(a)
                ))),
                _ => Err(refuse(format!(
                    "its folder {} does not exist; create it first",
                    crate::text::path(parent)
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

/// A new temporary file in `target`'s folder, named after it
/// (`.x.model.` + random characters + `.partial`) and created exclusively,
/// so it is this run's alone. Dropped unpersisted, it is removed.
fn temporary_beside(target: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let folder = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(target.file_name().unwrap_or_default());
    prefix.push(".");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".partial");
    // As `std::fs::write` creates files: readable by all, less the umask
    // (tempfile's default is the owner only).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(folder)
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

    /// [`Self::recognize`] for a recording too long to hold in memory,
    /// read in passes from `source` (see
    /// [`crate::features::FrontEnd::features_replayed`]): the same answer.
    pub fn recognize_replayed(
        &mut self,
        source: &mut dyn crate::audio::Replay,
    ) -> Result<Prediction> {
        self.front_end
            .features_replayed(source, &mut self.features)?;
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

    /// A model file fuzzing found, its header brought to this build's
    /// format version (the checksum made to match): its payload is what
    /// reached the decoder, the version only what the format was then.
    fn fuzz_find(name: &str) -> Vec<u8> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
        let found = std::fs::read(dir.join(name)).unwrap();
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        with_payload(&header, found[16..].to_vec())
    }

    /// `bytes` (a model file) with its payload replaced and the checksum
    /// made to match: what a crafted file that passes the header checks is.
    fn with_payload(bytes: &[u8], payload: Vec<u8>) -> Vec<u8> {
        let mut out = bytes[..12].to_vec();
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend(payload);
        out
    }

    /// A text field's declared length was allocated as declared: 2^48 bytes
    /// aborted the process (found by fuzzing), 2^63 and more panicked on
    /// capacity overflow. Every such length is now refused before anything
    /// is allocated for it.
    #[test]
    fn a_declared_length_the_payload_cannot_hold_is_refused() {
        let err = ModelFile::from_bytes(&fuzz_find("oom_min.model"), "oom_min.model").unwrap_err();
        assert_eq!(
            err.to_string(),
            "oom_min.model is truncated or corrupt (it declares more values than its 155 bytes \
             can hold); retrain it with `digits train`"
        );
        // The embedded model with the length of its last text field (the
        // version string, a one-byte varint before its bytes, then the
        // personal stage's `None`) declared huge.
        let payload = &EMBEDDED_MODEL[16..];
        let version = ModelFile::embedded().unwrap().meta.digits_version;
        assert_eq!(payload.last(), Some(&0), "no personal stage");
        let at = payload.len() - 1 - version.len() - 1;
        assert_eq!(usize::from(payload[at]), version.len());
        for declared in [1u64 << 48, 1 << 63, u64::MAX, payload.len() as u64] {
            let mut crafted = payload[..at].to_vec();
            crafted.push(0xFD); // bincode's varint: a u64 follows
            crafted.extend_from_slice(&declared.to_le_bytes());
            crafted.extend_from_slice(&payload[at + 1..]);
            let err = ModelFile::from_bytes(&with_payload(EMBEDDED_MODEL, crafted), "x.model")
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("x.model is truncated or corrupt (")
                    && !err.contains('{')
                    && !err.contains('\n'),
                "{declared}: {err}"
            );
        }
    }

    /// The personal stage goes through the same bounded decode and checks:
    /// a template count it cannot hold, and a template of a digit that does
    /// not exist, are each one error in words.
    #[test]
    fn a_crafted_personal_stage_is_refused_in_words() {
        let payload = &EMBEDDED_MODEL[16..];
        let base = &payload[..payload.len() - 1]; // without its `None`
        let mut huge = base.to_vec();
        huge.push(1); // Some
        huge.extend_from_slice(&1.0f32.to_le_bytes()); // weight
        huge.push(personal::TEMPLATE_DIMS as u8); // the scale
        for _ in 0..personal::TEMPLATE_DIMS {
            huge.extend_from_slice(&1.0f32.to_le_bytes());
        }
        huge.extend_from_slice(&[1, 0]); // one template, of digit 0
        huge.push(0xFD); // its speaker's length: a u64 follows
        huge.extend_from_slice(&(1u64 << 48).to_le_bytes());
        let n = huge.len();
        assert_eq!(
            ModelFile::from_bytes(&with_payload(EMBEDDED_MODEL, huge), "x.model")
                .unwrap_err()
                .to_string(),
            format!(
                "x.model is truncated or corrupt (it declares more values than its {n} bytes \
                 can hold); retrain it with `digits train`"
            )
        );
        let mut crafted = base.to_vec();
        crafted.push(1);
        crafted.extend_from_slice(&1.0f32.to_le_bytes());
        crafted.push(personal::TEMPLATE_DIMS as u8);
        for _ in 0..personal::TEMPLATE_DIMS {
            crafted.extend_from_slice(&1.0f32.to_le_bytes());
        }
        crafted.push(1); // one template
        crafted.push(12); // of digit 12
        crafted.extend_from_slice(b"\x02a\n"); // speaker "a\n"
        crafted.push(personal::TEMPLATE_DIMS as u8);
        crafted.extend(std::iter::repeat_n(1u8, personal::TEMPLATE_DIMS));
        let err = ModelFile::from_bytes(&with_payload(EMBEDDED_MODEL, crafted), "x.model")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("x.model is truncated or corrupt (")
                && err.contains("personal template of digit 12")
                && !err.contains('\n'),
            "{err}"
        );
    }

    /// `out_dim × in_dim` of a crafted projection overflowed (a panic in a
    /// debug build; found by fuzzing): the shapes are compared with checked
    /// arithmetic.
    #[test]
    fn a_projection_whose_shape_overflows_is_refused() {
        let err = ModelFile::from_bytes(&fuzz_find("projection_overflow.model"), "p.model")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "p.model is truncated or corrupt (projection of 40800 weights does not fit \
             16141180387274583290 × 510); retrain it with `digits train`"
        );
    }

    /// Every way the payload can be cut or stretched is one error in words:
    /// no bincode debug structure ("UnexpectedEnd { additional: 1 }").
    #[test]
    fn a_payload_that_does_not_decode_is_described_in_words() {
        let payload = &EMBEDDED_MODEL[16..];
        let cut = with_payload(EMBEDDED_MODEL, payload[..payload.len() / 2].to_vec());
        assert_eq!(
            ModelFile::from_bytes(&cut, "x.model")
                .unwrap_err()
                .to_string(),
            "x.model is truncated or corrupt (it ends in the middle of the model); \
             retrain it with `digits train`"
        );
        let mut longer = payload.to_vec();
        longer.extend_from_slice(&[0; 3]);
        assert_eq!(
            ModelFile::from_bytes(&with_payload(EMBEDDED_MODEL, longer), "x.model")
                .unwrap_err()
                .to_string(),
            "x.model is truncated or corrupt (3 bytes follow the model); \
             retrain it with `digits train`"
        );
        for at in (0..payload.len()).step_by(997) {
            let mut damaged = payload.to_vec();
            damaged[at] ^= 0xA5;
            if let Err(e) = ModelFile::from_bytes(&with_payload(EMBEDDED_MODEL, damaged), "x") {
                let e = e.to_string();
                assert!(!e.contains('{') && !e.contains('\n'), "byte {at}: {e}");
            }
        }
    }

    /// A file larger than any model is refused without being read.
    #[test]
    fn a_file_larger_than_any_model_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.model");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_MODEL_BYTES + 1).unwrap();
        assert_eq!(
            ModelFile::load(&path).unwrap_err().to_string(),
            format!(
                "{} is truncated or corrupt (it is larger than 256 MB, and no digits model is); \
                 retrain it with `digits train`",
                path.display()
            )
        );
    }

    /// Another run's temporary file in the folder (whatever its name) is
    /// never opened, truncated or removed: before, every run wrote
    /// `x.model.partial`, and the start-up check truncated and removed it.
    #[test]
    fn saving_leaves_other_runs_temporary_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.model");
        let others = [
            dir.path().join("x.model.partial"),
            dir.path().join(".x.model.AbC123.partial"),
        ];
        for (i, other) in others.iter().enumerate() {
            std::fs::write(other, format!("another run, {i}")).unwrap();
        }
        let model = ModelFile::embedded().unwrap();
        ModelFile::check_destination(&path).unwrap();
        model.save(&path).unwrap();
        assert_eq!(ModelFile::load(&path).unwrap(), model);
        for (i, other) in others.iter().enumerate() {
            assert_eq!(
                std::fs::read_to_string(other).unwrap(),
                format!("another run, {i}")
            );
        }
        // Nothing of this run's is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    /// Two runs writing the same path at once (`digits train --out x.model`
    /// twice): every check and every save succeeds, and the file is always
    /// one run's whole model. Before, one run's check removed or truncated
    /// the other's `x.model.partial` between its write and its rename: a
    /// failed save, or a corrupt model while the save returned success.
    #[test]
    fn two_runs_saving_one_path_at_once_each_leave_a_whole_model() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.model");
        let first = ModelFile::embedded().unwrap();
        let mut second = first.clone();
        second.meta.seed += 1;
        let barrier = std::sync::Barrier::new(2);
        std::thread::scope(|s| {
            for model in [&first, &second] {
                let (path, barrier, first, second) = (&path, &barrier, &first, &second);
                s.spawn(move || {
                    barrier.wait();
                    for round in 0..40 {
                        ModelFile::check_destination(path)
                            .unwrap_or_else(|e| panic!("check, round {round}: {e}"));
                        model
                            .save(path)
                            .unwrap_or_else(|e| panic!("save, round {round}: {e}"));
                        let now = ModelFile::load(path)
                            .unwrap_or_else(|e| panic!("load, round {round}: {e}"));
                        assert!(now == *first || now == *second, "round {round}");
                    }
                });
            }
        });
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
