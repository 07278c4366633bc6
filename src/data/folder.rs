//! Folders of labelled WAVs: FSDD's `{digit}_{speaker}_{take}.wav` names
//! (AudioMNIST's too, in per-speaker subfolders), or Speech Commands' layout,
//! one folder per digit word (`zero/` … `nine/`, or `0/` … `9/`) holding
//! `{speaker}_nohash_{n}.wav` or any other name (no take: score such folders
//! with `--split all` or `speaker`).

use std::path::{Path, PathBuf};

use super::{Clip, DataError, Dataset, Result};
use crate::audio;

/// The fields of an FSDD file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsddName {
    pub digit: u8,
    pub speaker: String,
    pub take: u32,
}

/// Parses `7_theo_12.wav` (any directory prefix) into its fields.
pub fn parse_fsdd_name(name: &str) -> Option<FsddName> {
    let file = name.rsplit(['/', '\\']).next()?;
    let stem = file
        .strip_suffix(".wav")
        .or_else(|| file.strip_suffix(".WAV"))?;
    let mut parts = stem.split('_');
    let digit: u8 = parts.next()?.parse().ok()?;
    let speaker = parts.next()?.to_string();
    let take: u32 = parts.next()?.parse().ok()?;
    if digit > 9 || speaker.is_empty() || parts.next().is_some() {
        return None;
    }
    Some(FsddName {
        digit,
        speaker,
        take,
    })
}

/// The label of a WAV found under a data folder, and what its name says
/// about speaker and take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderLabel {
    pub digit: u8,
    pub speaker: Option<String>,
    pub take: Option<u32>,
}

impl From<FsddName> for FolderLabel {
    fn from(n: FsddName) -> Self {
        Self {
            digit: n.digit,
            speaker: Some(n.speaker),
            take: Some(n.take),
        }
    }
}

const DIGIT_WORDS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

/// A WAV's label: its FSDD-style name, or else the digit its folder is
/// named after (Speech Commands: `seven/0a7c2a8d_nohash_1.wav`).
pub fn folder_label(path: &Path) -> Option<FolderLabel> {
    let file = path.file_name()?.to_str()?;
    if let Some(n) = parse_fsdd_name(file) {
        return Some(n.into());
    }
    let stem = file
        .strip_suffix(".wav")
        .or_else(|| file.strip_suffix(".WAV"))?;
    let folder = path.parent()?.file_name()?.to_str()?.to_ascii_lowercase();
    let digit = DIGIT_WORDS
        .iter()
        .position(|w| *w == folder)
        .or_else(|| folder.parse::<usize>().ok().filter(|d| *d <= 9))?;
    // Speech Commands' `_nohash_N` counts repetitions, not FSDD's takes: the
    // official split (takes 0–4 test) does not apply, so no take is kept.
    let speaker = stem.split_once("_nohash_").map(|(s, _)| s.to_string());
    Some(FolderLabel {
        digit: digit as u8,
        speaker,
        take: None,
    })
}

/// Loads every labelled WAV under `dir` ([`folder_label`]; subfolders
/// included, symbolic links not followed), sorted by path. Other files are
/// ignored; bad WAVs among the labelled ones are an error naming them
/// (all of them are read first, so one run names every file to fix).
pub fn read_folder(dir: &Path) -> Result<Dataset> {
    let mut labelled = Vec::new();
    collect_labelled(dir, &mut labelled)?;
    if labelled.is_empty() {
        return Err(DataError::NoClips {
            path: dir.to_path_buf(),
        });
    }
    labelled.sort_by(|a, b| a.0.cmp(&b.0));
    let total = labelled.len();
    let mut clips = Vec::with_capacity(total);
    let mut failed = Vec::new();
    for (path, label) in labelled {
        match clip_from(&path, label) {
            Ok(clip) => clips.push(clip),
            Err(e) => failed.push(e),
        }
    }
    match failed.len() {
        0 => Ok(Dataset { clips }),
        1 => Err(failed.remove(0)),
        count => Err(DataError::Unreadable {
            dir: dir.to_path_buf(),
            count,
            total,
            list: unreadable_list(&failed),
        }),
    }
}

/// The first few failures as `path: reason; …`, then how many more.
fn unreadable_list(failed: &[DataError]) -> String {
    const SHOWN: usize = 3;
    let mut parts: Vec<String> = failed
        .iter()
        .take(SHOWN)
        .map(|e| {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        })
        .collect();
    if failed.len() > SHOWN {
        parts.push(format!("and {} more", failed.len() - SHOWN));
    }
    parts.join("; ")
}

fn collect_labelled(dir: &Path, out: &mut Vec<(PathBuf, FolderLabel)>) -> Result<()> {
    let io = |source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        if entry.file_type().map_err(io)?.is_dir() {
            collect_labelled(&path, out)?;
        } else if let Some(label) = folder_label(&path) {
            out.push((path, label));
        }
    }
    Ok(())
}

/// Reads one WAV named in the FSDD layout as a labelled clip.
pub fn read_fsdd_clip(path: &Path) -> Result<Clip> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(parse_fsdd_name)
        .ok_or_else(|| DataError::NoClips {
            path: path.to_path_buf(),
        })?;
    clip_from(path, name.into())
}

fn clip_from(path: &Path, label: FolderLabel) -> Result<Clip> {
    let a = audio::read_wav(path)?;
    Ok(Clip {
        samples: a.samples,
        sample_rate: a.sample_rate,
        digit: label.digit,
        speaker: label.speaker,
        take: label.take,
        origin: path.display().to_string(),
        source_split: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_unreadable_wavs_are_counted_and_the_first_three_named() {
        let dir = tempfile::tempdir().unwrap();
        for d in 0..5 {
            std::fs::write(dir.path().join(format!("{d}_x_0.wav")), b"RIFF").unwrap();
        }
        let err = read_folder(dir.path()).unwrap_err().to_string();
        let d = dir.path().display();
        assert!(
            err.starts_with(&format!(
                "5 of the 5 labelled WAVs under {d} cannot be read; fix or remove them: {d}/0_x_0.wav: "
            )),
            "{err}"
        );
        assert!(err.contains(&format!("; {d}/2_x_0.wav: ")), "{err}");
        assert!(!err.contains("3_x_0.wav"), "{err}");
        assert!(err.ends_with("; and 2 more"), "{err}");
    }

    #[test]
    fn parses_fsdd_names() {
        assert_eq!(
            parse_fsdd_name("recordings/7_theo_12.wav"),
            Some(FsddName {
                digit: 7,
                speaker: "theo".into(),
                take: 12
            })
        );
        assert_eq!(parse_fsdd_name("12_theo_1.wav"), None);
        assert_eq!(parse_fsdd_name("7_theo.wav"), None);
        assert_eq!(parse_fsdd_name("7_theo_1.mp3"), None);
    }

    #[test]
    fn labels_come_from_the_name_or_the_digit_folder() {
        let label = |p: &str| folder_label(Path::new(p));
        assert_eq!(
            label("data/01/3_01_7.wav"),
            Some(FolderLabel {
                digit: 3,
                speaker: Some("01".into()),
                take: Some(7)
            })
        );
        assert_eq!(
            label("sc/Seven/0a7c2a8d_nohash_1.wav"),
            Some(FolderLabel {
                digit: 7,
                speaker: Some("0a7c2a8d".into()),
                take: None
            })
        );
        assert_eq!(
            label("mine/4/take.wav"),
            Some(FolderLabel {
                digit: 4,
                speaker: None,
                take: None
            })
        );
        assert_eq!(label("sc/yes/0a7c2a8d_nohash_1.wav"), None);
        assert_eq!(label("sc/12/x.wav"), None);
        assert_eq!(label("sc/seven/notes.txt"), None);
    }
}
