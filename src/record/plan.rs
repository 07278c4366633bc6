//! A session's plan and its files: which takes it has, which the folder
//! already holds, their FSDD names, and each take written atomically.

use std::path::{Path, PathBuf};

use super::{RecordError, Result};
use crate::audio;

/// The most takes of each digit one session records.
pub const MAX_ROUNDS: u32 = 99;

/// "Oh" takes are saved as zeros with indices from here on
/// (`0_{speaker}_100.wav`, `0_{speaker}_101.wav`, …): a zero to every
/// reader, and never confused with the "zero" takes (0 to
/// [`MAX_ROUNDS`] − 1).
pub const OH_FIRST_INDEX: u32 = 100;

/// The longest speaker name (file names stay short).
pub const MAX_SPEAKER_LEN: usize = 64;

const WORDS: [&str; 10] = [
    "ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE",
];

/// What a take asks the speaker to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Word {
    Digit(u8),
    /// "Oh", the other way to say zero; saved as a zero.
    Oh,
}

impl Word {
    /// The digit the take is labelled with.
    pub fn digit(self) -> u8 {
        match self {
            Word::Digit(d) => d,
            Word::Oh => 0,
        }
    }

    /// The word as prompted: `SEVEN`, `OH`.
    pub fn spoken(self) -> &'static str {
        match self {
            Word::Digit(d) => WORDS[d as usize],
            Word::Oh => "OH",
        }
    }

    /// `0`..`9` or `oh` (any case), as `--redo` takes it.
    pub fn parse(s: &str) -> Option<Word> {
        if s.eq_ignore_ascii_case("oh") {
            return Some(Word::Oh);
        }
        match s.parse::<u8>() {
            Ok(d) if d <= 9 && s.len() == 1 => Some(Word::Digit(d)),
            _ => None,
        }
    }
}

/// One take of a session: a word in a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Take {
    pub word: Word,
    /// 1-based.
    pub round: u32,
    /// Rounds in the session.
    pub rounds: u32,
    /// Where it is saved.
    pub path: PathBuf,
}

impl Take {
    /// The index in the file name: round − 1 for a digit, from
    /// [`OH_FIRST_INDEX`] for "oh".
    pub fn index(&self) -> u32 {
        take_index(self.word, self.round)
    }

    /// `say SEVEN (take 2 of 3)`.
    pub fn prompt(&self) -> String {
        format!(
            "say {} (take {} of {})",
            self.word.spoken(),
            self.round,
            self.rounds
        )
    }
}

fn take_index(word: Word, round: u32) -> u32 {
    match word {
        Word::Digit(_) => round - 1,
        Word::Oh => OH_FIRST_INDEX + round - 1,
    }
}

/// The file name of a take: `{digit}_{speaker}_{index}.wav`.
pub fn file_name(speaker: &str, word: Word, round: u32) -> String {
    format!("{}_{speaker}_{}.wav", word.digit(), take_index(word, round))
}

/// A speaker name fit for file names: letters, digits and `-`.
pub fn check_speaker(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_SPEAKER_LEN
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(RecordError::BadSpeaker(name.to_string()))
    }
}

/// What a session records.
#[derive(Debug, Clone)]
pub struct Plan {
    pub dir: PathBuf,
    pub speaker: String,
    pub rounds: u32,
    /// Every take of the session, in the order they are asked for.
    pub all: usize,
    /// Takes already in the folder and kept.
    pub kept: usize,
    /// Takes in the folder that cannot be read: recorded again.
    pub unreadable: Vec<PathBuf>,
    /// Takes to record, in order.
    pub takes: Vec<Take>,
    /// Takes of the session neither in the folder nor in `takes` (they
    /// are missing, but `--redo` asked for others).
    pub missing_elsewhere: usize,
    /// Every take's file, in the order asked.
    pub paths: Vec<PathBuf>,
}

/// Plans a session: `rounds` rounds of ZERO..NINE (and OH after NINE when
/// `oh`). A take whose file is in `dir` and reads as a WAV is kept;
/// the others are to record. With `redo`, only the takes of those words
/// are recorded, all of them again. Nothing is written: see
/// [`Plan::prepare`].
pub fn plan(dir: &Path, speaker: &str, rounds: u32, oh: bool, redo: &[Word]) -> Result<Plan> {
    check_speaker(speaker)?;
    if !(1..=MAX_ROUNDS).contains(&rounds) {
        return Err(RecordError::BadTakes(rounds));
    }
    let shown = || dir.display().to_string();
    if std::fs::metadata(dir).is_ok_and(|m| !m.is_dir()) {
        return Err(RecordError::BadFolder {
            path: shown(),
            reason: "it exists and is not a folder; pass a folder for the takes".into(),
        });
    }
    let mut plan = Plan {
        dir: dir.to_path_buf(),
        speaker: speaker.to_string(),
        rounds,
        all: 0,
        kept: 0,
        unreadable: Vec::new(),
        takes: Vec::new(),
        missing_elsewhere: 0,
        paths: Vec::new(),
    };
    for round in 1..=rounds {
        let words = (0..10).map(Word::Digit).chain(oh.then_some(Word::Oh));
        for word in words {
            plan.all += 1;
            let path = dir.join(file_name(speaker, word, round));
            plan.paths.push(path.clone());
            let state = take_state(&path).map_err(|source| RecordError::ReadFolder {
                path: shown(),
                source,
            })?;
            let take = Take {
                word,
                round,
                rounds,
                path,
            };
            let redone = redo.contains(&word);
            match state {
                TakeState::Good if redone => plan.takes.push(take),
                TakeState::Good => plan.kept += 1,
                TakeState::Unreadable | TakeState::Missing if !redo.is_empty() && !redone => {
                    plan.missing_elsewhere += 1
                }
                TakeState::Unreadable => {
                    plan.unreadable.push(take.path.clone());
                    plan.takes.push(take);
                }
                TakeState::Missing => plan.takes.push(take),
            }
        }
    }
    Ok(plan)
}

impl Plan {
    /// Makes the folder ready: creates it if missing, removes temporary
    /// files an interrupted save left there, and makes sure a take can be
    /// written, before anyone speaks a word.
    pub fn prepare(&self) -> Result<()> {
        let shown = || self.dir.display().to_string();
        if !self.dir.is_dir() {
            std::fs::create_dir_all(&self.dir).map_err(|source| RecordError::CreateFolder {
                path: shown(),
                source,
            })?;
        }
        remove_partials(&self.dir, &self.speaker)?;
        let probe = self.dir.join(format!(".{}.probe.partial", self.speaker));
        let written = std::fs::write(&probe, b"");
        let _ = std::fs::remove_file(&probe);
        written.map_err(|source| RecordError::WriteFolder {
            path: shown(),
            source,
        })
    }

    /// Takes of the session in the folder now.
    pub fn held(&self) -> usize {
        self.paths.iter().filter(|p| p.is_file()).count()
    }
}

enum TakeState {
    Missing,
    Good,
    Unreadable,
}

fn take_state(path: &Path) -> std::io::Result<TakeState> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TakeState::Missing),
        Err(e) => Err(e),
        // A folder or a device by a take's name is not ours to replace.
        Ok(m) if !m.is_file() && !m.file_type().is_symlink() => Err(std::io::Error::other(
            format!("{} is not a file; move it away", path.display()),
        )),
        Ok(_) => Ok(match audio::read_wav(path) {
            Ok(a) if !a.samples.is_empty() => TakeState::Good,
            _ => TakeState::Unreadable,
        }),
    }
}

/// A take's temporary file: hidden, and not named `.wav`, so no reader of
/// the folder ever takes it for a clip.
fn partial_path(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("take");
    path.with_file_name(format!(".{name}.partial"))
}

/// Removes what a save cut short left (`.{digit}_{speaker}_{n}.wav.partial`).
fn remove_partials(dir: &Path, speaker: &str) -> Result<()> {
    let err = |source| RecordError::ReadFolder {
        path: dir.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let ours = name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(".wav.partial"))
            .and_then(|stem| crate::data::parse_fsdd_name(&format!("{stem}.wav")))
            .is_some_and(|n| n.speaker == speaker);
        if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Writes a take as 16-bit mono PCM at `rate`, atomically: a temporary
/// file beside it, flushed to disk, then renamed over the name. An
/// interrupted session leaves the take whole or not at all.
pub fn save_take(path: &Path, samples: &[f32], rate: u32) -> Result<()> {
    let err = |source| RecordError::Write {
        path: path.display().to_string(),
        source,
    };
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut bytes = Vec::with_capacity(44 + 2 * samples.len());
    {
        let mut w = hound::WavWriter::new(std::io::Cursor::new(&mut bytes), spec)
            .map_err(|e| err(std::io::Error::other(e)))?;
        for &x in samples {
            // The inverse of the reader's i16 / 32768: a 16-bit source is
            // saved sample for sample.
            let v = (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
            w.write_sample(v)
                .map_err(|e| err(std::io::Error::other(e)))?;
        }
        w.finalize().map_err(|e| err(std::io::Error::other(e)))?;
    }
    let tmp = partial_path(path);
    let written = (|| {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speaker_names_are_letters_digits_and_dashes() {
        for ok in ["theo", "Anna-Lena", "user2", "x"] {
            assert!(check_speaker(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(65);
        for bad in ["", "the_o", "a b", "a/b", "..", "é", long.as_str()] {
            assert!(check_speaker(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn words_parse_and_name_their_files() {
        assert_eq!(Word::parse("7"), Some(Word::Digit(7)));
        assert_eq!(Word::parse("OH"), Some(Word::Oh));
        assert_eq!(Word::parse("10"), None);
        assert_eq!(Word::parse("07"), None);
        assert_eq!(file_name("theo", Word::Digit(7), 2), "7_theo_1.wav");
        assert_eq!(file_name("theo", Word::Oh, 1), "0_theo_100.wav");
        let n = crate::data::parse_fsdd_name("0_theo_100.wav").unwrap();
        assert_eq!((n.digit, n.take), (0, 100));
    }

    #[test]
    fn a_plan_keeps_good_takes_and_redoes_what_is_asked() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("new");
        let p = plan(&d, "ann", 2, true, &[]).unwrap();
        assert!(!d.exists());
        p.prepare().unwrap();
        assert!(d.is_dir());
        assert_eq!((p.all, p.kept, p.takes.len()), (22, 0, 22));
        assert_eq!(p.takes[10].word, Word::Oh);
        assert_eq!(p.takes[11].prompt(), "say ZERO (take 2 of 2)");
        save_take(&p.takes[3].path, &[0.1, -0.1, 0.2], 8000).unwrap();
        std::fs::write(&p.takes[4].path, b"not a wav").unwrap();
        std::fs::write(d.join(".5_ann_0.wav.partial"), b"half").unwrap();
        let p = plan(&d, "ann", 2, true, &[]).unwrap();
        p.prepare().unwrap();
        assert_eq!((p.kept, p.takes.len()), (1, 21));
        assert_eq!(p.unreadable, [d.join("4_ann_0.wav")]);
        assert!(!d.join(".5_ann_0.wav.partial").exists());
        let p = plan(&d, "ann", 2, true, &[Word::Digit(3)]).unwrap();
        let names: Vec<String> = p
            .takes
            .iter()
            .map(|t| t.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["3_ann_0.wav", "3_ann_1.wav"]);
        assert_eq!(p.missing_elsewhere, 20);
        let a = audio::read_wav(&d.join("3_ann_0.wav")).unwrap();
        assert_eq!(
            a.samples,
            [0.1f32, -0.1, 0.2].map(|v| (v * 32768.0f32).round() / 32768.0)
        );
    }
}
