//! Real voices FSDD does not have: the spoken digits that Debian packages
//! ship (an IVR voice, a game's umpire, a talking clock, a chess program).
//! Four people, none of them in FSDD, recorded on other microphones, at 8,
//! 11.025 and 16 kHz. `.ci/run` installs the packages; the README says how
//! to install them by hand.

use std::path::{Path, PathBuf};

use digits::audio::{decode_wav, read_wav, Audio};
use digits::model::{ModelFile, Recognizer};

use crate::util::wav_header;

const PACKAGES: &str = "asterisk-core-sounds-en-wav csmash-data saytime scid-data";
const WORDS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

/// The recording of `digit` in each package, where it has one.
fn clip(voice: &str, digit: usize) -> Option<PathBuf> {
    let path = match voice {
        // Allison Smith, a woman: Asterisk's US English prompts (CC BY-SA 3.0).
        "allison" => format!("/usr/share/asterisk/sounds/en_US_f_Allison/digits/{digit}.wav"),
        // Cannon Smash's umpire calling the score (GPL).
        "csmash" => format!("/usr/share/games/csmash/wav/{}.wav", WORDS[digit]),
        // saytime's talking clock, David C Dawson (GPL): headerless μ-law.
        "saytime" => format!("/usr/share/saytime/{digit}.au"),
        // Scid reading out chess moves: ranks 1–8 only (GPL).
        "scid" if (1..=8).contains(&digit) => format!("/usr/share/scid/sounds/{digit}.wav"),
        "scid" => return None,
        _ => unreachable!(),
    };
    Some(PathBuf::from(path))
}

fn load(path: &Path) -> Audio {
    if !path.exists() {
        panic!(
            "{} is missing: apt-get install -y {PACKAGES}",
            path.display()
        );
    }
    if path.extension().is_some_and(|e| e == "au") {
        // Raw 8 kHz μ-law: wrapped in a WAV header, it goes through the same
        // decoder as any μ-law WAV.
        let raw = std::fs::read(path).unwrap();
        let mut wav = wav_header(7, 1, 8000, 8, raw.len() as u32);
        wav.extend_from_slice(&raw);
        decode_wav(&wav).unwrap()
    } else {
        read_wav(path).unwrap()
    }
}

#[test]
fn real_voices_from_debian_packages_are_heard() {
    let mut rec = Recognizer::new(ModelFile::embedded().unwrap()).unwrap();
    let (mut right, mut total) = (0, 0);
    for voice in ["allison", "csmash", "saytime", "scid"] {
        let mut missed = Vec::new();
        let mut n = 0;
        for digit in 0..10 {
            let Some(path) = clip(voice, digit) else {
                continue;
            };
            let audio = load(&path);
            n += 1;
            let heard = rec
                .recognize(&audio.samples, audio.sample_rate)
                .unwrap()
                .digit;
            if heard as usize != digit {
                missed.push(format!("{digit}→{heard}"));
            }
        }
        eprintln!("{voice}: {}/{n} {missed:?}", n - missed.len());
        // The shipped model misses two of Allison's (2→0, 5→9), none of the rest.
        assert!(missed.len() <= 3, "{voice}: missed {missed:?}");
        right += n - missed.len();
        total += n;
    }
    assert_eq!(total, 38);
    assert!(right >= 35, "{right}/{total}");
}
