//! Data sources: every labelled clip `digits` trains or evaluates on.
//!
//! This module owns the [`Dataset`] of [`Clip`]s, the loaders that fill it —
//! a folder in the FSDD layout (`folder`) and parquet files in the layout of
//! the Hugging Face dataset `mteb/free-spoken-digit-dataset` (`parquet`) —
//! and the splits: FSDD's official one, leave-one-speaker-out, and a seeded
//! stratified validation split carved from training data. Each `--data`
//! source may carry a kind (`real=DIR`), so leave-one-voice-out can report
//! FSDD's speakers, real voices and synthetic ones apart.

mod folder;
mod parquet;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

pub use self::parquet::{read_parquet, write_parquet, PARQUET_AUDIO_COLUMN, PARQUET_LABEL_COLUMN};
pub use folder::{
    folder_label, parse_fsdd_name, read_folder, read_fsdd_clip, FolderLabel, FsddName,
};

/// Takes 0..=4 of every digit and speaker are FSDD's official test set.
pub const OFFICIAL_TEST_TAKES: std::ops::RangeInclusive<u32> = 0..=4;

/// Errors from finding or reading a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: no such file or folder; pass a folder of FSDD WAVs or .parquet files to --data, or run `digits fetch`", crate::text::path(path))]
    Missing { path: PathBuf },
    #[error("cannot read {}", crate::text::path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: no labelled WAVs found in this folder or below; name them `{{digit}}_{{speaker}}_{{take}}.wav` (FSDD), or put them in folders named zero … nine", crate::text::path(path))]
    NoClips { path: PathBuf },
    #[error(transparent)]
    Wav(#[from] crate::audio::AudioError),
    #[error(
        "{count} of the {total} labelled WAVs under {} cannot be read; fix or remove them: {list}",
        crate::text::path(dir)
    )]
    Unreadable {
        dir: PathBuf,
        count: usize,
        total: usize,
        /// The first few, each `path: reason`.
        list: String,
    },
    #[error("{} is one WAV file; --data takes a folder of labelled WAVs or .parquet files (to classify one file, use `digits predict`)", crate::text::path(path))]
    SingleWav { path: PathBuf },
    #[error("{}: not a dataset parquet file: {reason}", crate::text::path(path))]
    Parquet { path: PathBuf, reason: String },
    #[error("the speaker split needs speaker names, but {origin} has none; use a folder of FSDD WAVs or parquet whose `path` column carries `{{digit}}_{{speaker}}_{{take}}.wav`")]
    NoSpeaker { origin: String },
    #[error("the official split needs take numbers, but {origin} has none; use --split all or data whose file names carry the take")]
    NoTake { origin: String },
    #[error("split `{split}` leaves no {side} clips; {fix}")]
    EmptySplit {
        split: String,
        side: &'static str,
        fix: &'static str,
    },
}

pub type Result<T> = std::result::Result<T, DataError>;

/// One labelled recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// Mono samples in [-1, 1] at `sample_rate`.
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    /// The spoken digit, 0..=9.
    pub digit: u8,
    /// Speaker name, when the source carries one.
    pub speaker: Option<String>,
    /// Take (recording index) of this digit by this speaker, when known.
    pub take: Option<u32>,
    /// Where the clip came from: a file path, or `file.parquet#row`.
    pub origin: String,
    /// The source's own train/test assignment, where it has one (parquet files
    /// named `train-*` / `test-*`); `None` for folders.
    pub source_split: Option<SourceSplit>,
}

/// Which side of a source's own split a clip came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceSplit {
    Train,
    Test,
}

/// A list of clips, in a stable order (sorted by origin within each source).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    pub clips: Vec<Clip>,
}

/// One `--data` argument: a folder or parquet file, and the kind of voices
/// it holds (`fsdd`, `real`, `synthetic`, …), which leave-one-voice-out
/// reports apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub kind: String,
    pub path: PathBuf,
}

impl Source {
    /// `KIND=PATH`, or a bare path whose kind is its own name (`recordings`
    /// for `../shared/fsdd/recordings`). An existing path that contains `=`
    /// is taken as a path.
    pub fn parse(arg: &Path) -> Source {
        let bare = || Source {
            kind: arg
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "data".into()),
            path: arg.to_path_buf(),
        };
        let Some(text) = arg.to_str() else {
            return bare();
        };
        match text.split_once('=') {
            Some((kind, path))
                if !arg.exists()
                    && !path.is_empty()
                    && !kind.is_empty()
                    && kind
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                Source {
                    kind: kind.to_owned(),
                    path: PathBuf::from(path),
                }
            }
            _ => bare(),
        }
    }
}

impl Dataset {
    /// Loads every source, and says which kind each clip's source is
    /// (parallel to the clips).
    pub fn load_sources(sources: &[Source]) -> Result<(Dataset, Vec<String>)> {
        let mut clips = Vec::new();
        let mut kinds = Vec::new();
        let mut seen = BTreeSet::new();
        for s in sources {
            if s.path.exists()
                && !seen.insert(std::fs::canonicalize(&s.path).unwrap_or_else(|_| s.path.clone()))
            {
                continue;
            }
            let part = Dataset::load(std::slice::from_ref(&s.path))?;
            kinds.extend(std::iter::repeat_n(s.kind.clone(), part.len()));
            clips.extend(part.clips);
        }
        Ok((Dataset { clips }, kinds))
    }

    /// Loads every path: folders of labelled WAVs (`folder`) and `.parquet` files.
    pub fn load(paths: &[PathBuf]) -> Result<Dataset> {
        let mut clips = Vec::new();
        let mut seen = BTreeSet::new();
        for path in paths {
            if !path.exists() {
                return Err(DataError::Missing { path: path.clone() });
            }
            // The same folder twice (`--data R --data R`) would count every
            // clip twice.
            if !seen.insert(std::fs::canonicalize(path).unwrap_or_else(|_| path.clone())) {
                continue;
            }
            let is_wav = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
            if path.is_dir() {
                clips.extend(read_folder(path)?.clips);
            } else if is_wav {
                return Err(DataError::SingleWav { path: path.clone() });
            } else {
                clips.extend(read_parquet(path)?.clips);
            }
        }
        Ok(Dataset { clips })
    }

    pub fn len(&self) -> usize {
        self.clips.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clips.is_empty()
    }

    /// Distinct speakers, sorted; clips without one are not counted.
    pub fn speakers(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self
            .clips
            .iter()
            .filter_map(|c| c.speaker.as_ref())
            .collect();
        set.into_iter().cloned().collect()
    }

    fn subset(&self, keep: impl Fn(&Clip) -> bool) -> Dataset {
        Dataset {
            clips: self.clips.iter().filter(|c| keep(c)).cloned().collect(),
        }
    }

    /// FSDD's official split: takes 0–4 test, the rest train. Where a source
    /// has its own train/test files (the Hugging Face parquet) and no take
    /// numbers, that assignment is used. Both sides must have clips.
    pub fn official_split(&self) -> Result<(Dataset, Dataset)> {
        let (train, test) = self.official_sides()?;
        if train.is_empty() {
            return Err(no_official_training_clips());
        }
        if test.is_empty() {
            return Err(DataError::EmptySplit {
                split: "official".into(),
                side: "test",
                fix: "use --split all to score every clip, or add takes 0-4",
            });
        }
        Ok((train, test))
    }

    /// [`Self::official_split`]'s training side alone (training needs no
    /// test clips).
    pub fn official_training_side(&self) -> Result<Dataset> {
        let (train, _) = self.official_sides()?;
        if train.is_empty() {
            return Err(no_official_training_clips());
        }
        Ok(train)
    }

    /// [`Self::official_split`]'s two sides, either of them possibly empty
    /// (scoring a model needs only the test side).
    pub fn official_sides(&self) -> Result<(Dataset, Dataset)> {
        let is_test = |c: &Clip| -> Result<bool> {
            match (c.take, c.source_split) {
                (Some(t), _) => Ok(OFFICIAL_TEST_TAKES.contains(&t)),
                (None, Some(s)) => Ok(s == SourceSplit::Test),
                (None, None) => Err(DataError::NoTake {
                    origin: c.origin.clone(),
                }),
            }
        };
        let mut train = Vec::new();
        let mut test = Vec::new();
        for c in &self.clips {
            if is_test(c)? {
                test.push(c.clone())
            } else {
                train.push(c.clone())
            }
        }
        Ok((Dataset { clips: train }, Dataset { clips: test }))
    }

    /// Leave-one-speaker-out: one (speaker, train, test) fold per speaker.
    pub fn speaker_folds(&self) -> Result<Vec<(String, Dataset, Dataset)>> {
        if let Some(c) = self.clips.iter().find(|c| c.speaker.is_none()) {
            return Err(DataError::NoSpeaker {
                origin: c.origin.clone(),
            });
        }
        let mut folds = Vec::new();
        for s in self.speakers() {
            let train = self.subset(|c| c.speaker.as_deref() != Some(&s));
            let test = self.subset(|c| c.speaker.as_deref() == Some(&s));
            if train.is_empty() {
                return Err(DataError::EmptySplit {
                    split: "speaker".into(),
                    side: "training",
                    fix: "leave-one-speaker-out needs clips by two speakers or more",
                });
            }
            folds.push((s, train, test));
        }
        Ok(folds)
    }

    /// A seeded split stratified by digit: about `fraction` of each digit's
    /// clips go to validation. Returns (fit, validation).
    pub fn stratified_split(&self, fraction: f64, seed: u64) -> (Dataset, Dataset) {
        let labels: Vec<u8> = self.clips.iter().map(|c| c.digit).collect();
        let (fit, val) = stratified_indices(&labels, fraction, seed);
        let pick = |ix: Vec<usize>| Dataset {
            clips: ix.into_iter().map(|i| self.clips[i].clone()).collect(),
        };
        (pick(fit), pick(val))
    }
}

/// Seeded split of indices into `labels`, stratified by label: about
/// `fraction` of each label's indices go to the second list. Both sorted.
pub fn stratified_indices(labels: &[u8], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let (mut fit, mut val) = (Vec::new(), Vec::new());
    for digit in 0..10u8 {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == digit).collect();
        idx.shuffle(&mut rng);
        // At least one held-out clip per digit that has two: otherwise a
        // small dataset is validated on nothing and reports 0 %.
        let n_val = ((idx.len() as f64 * fraction).round() as usize)
            .max(usize::from(idx.len() >= 2 && fraction > 0.0));
        val.extend_from_slice(&idx[..n_val]);
        fit.extend_from_slice(&idx[n_val..]);
    }
    fit.sort_unstable();
    val.sort_unstable();
    (fit, val)
}

/// The official split left nothing to train on, and how to mend it.
fn no_official_training_clips() -> DataError {
    DataError::EmptySplit {
        split: "official".into(),
        side: "training",
        fix: "use --split all, or add takes 5-49 (FSDD names: `{digit}_{speaker}_{take}.wav`)",
    }
}

/// Where tests and benches find FSDD on this machine kind.
pub fn shared_fsdd_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fsdd/recordings")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file name with a newline and a terminal escape (found by fuzzing
    /// `read_parquet`) is shown escaped, on one line.
    #[test]
    fn sources_take_an_optional_kind() {
        let parse = |s: &str| {
            let src = Source::parse(Path::new(s));
            (src.kind, src.path.display().to_string())
        };
        assert_eq!(
            parse("real=/tmp/v/real"),
            ("real".into(), "/tmp/v/real".into())
        );
        assert_eq!(parse("/tmp/v/real"), ("real".into(), "/tmp/v/real".into()));
        assert_eq!(
            parse("dir/train.parquet"),
            ("train".into(), "dir/train.parquet".into())
        );
        // Not a kind: a path separator before the `=`, or nothing after it.
        assert_eq!(parse("a/b=c"), ("b=c".into(), "a/b=c".into()));
        assert_eq!(parse("real="), ("real=".into(), "real=".into()));
    }

    #[test]
    fn paths_in_errors_are_escaped() {
        let path = PathBuf::from("dir/a\nb\u{1b}[2J.wav");
        let io = DataError::Io {
            path: path.clone(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert_eq!(io.to_string(), "cannot read dir/a\\nb\\u{1b}[2J.wav");
        for e in [
            DataError::Missing { path: path.clone() },
            DataError::NoClips { path: path.clone() },
            DataError::SingleWav { path: path.clone() },
        ] {
            assert!(!e.to_string().chars().any(char::is_control), "{e}");
        }
    }
}
