//! FSDD folder layout: `{digit}_{speaker}_{take}.wav`, mono 16-bit 8 kHz.

use std::path::Path;

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

/// Loads every FSDD-named WAV in `dir` (not recursive), sorted by file name.
/// Other files are ignored; a bad WAV among them is an error naming it.
pub fn read_folder(dir: &Path) -> Result<Dataset> {
    let io = |source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut named = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(parse_fsdd_name)
        {
            named.push((path, name));
        }
    }
    if named.is_empty() {
        return Err(DataError::NoClips {
            path: dir.to_path_buf(),
        });
    }
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let mut clips = Vec::with_capacity(named.len());
    for (path, name) in named {
        clips.push(clip_from(&path, name)?);
    }
    Ok(Dataset { clips })
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
    clip_from(path, name)
}

fn clip_from(path: &Path, name: FsddName) -> Result<Clip> {
    let a = audio::read_wav(path)?;
    Ok(Clip {
        samples: a.samples,
        sample_rate: a.sample_rate,
        digit: name.digit,
        speaker: Some(name.speaker),
        take: Some(name.take),
        origin: path.display().to_string(),
        source_split: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
