//! Real voices FSDD does not have: the spoken digits that Debian packages
//! ship (an IVR voice, a game's umpire, a talking clock, a chess program).
//! Four people, none of them in FSDD, recorded on other microphones, at 8,
//! 11.025 and 16 kHz. `.ci/run` installs the packages; the README says how
//! to install them by hand.

use std::path::{Path, PathBuf};

use digits::audio::{decode_wav, read_wav, Audio};
use digits::model::{ModelFile, Recognizer};

use crate::util::{digits_cmd, espeak, recordings, wav_header};

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
        // The shipped model misses one of Allison's (2→0), none of the rest.
        assert!(missed.len() <= 3, "{voice}: missed {missed:?}");
        right += n - missed.len();
        total += n;
    }
    assert_eq!(total, 38);
    assert!(right >= 35, "{right}/{total}");
}

/// `dir/fsdd`: FSDD's takes 0-5 of every speaker (360 clips, for a quick
/// fold), and `dir/real`: the Debian voices that ship WAVs, FSDD-named.
fn fsdd_and_real(dir: &Path) -> (PathBuf, PathBuf) {
    let (fsdd, real) = (dir.join("fsdd"), dir.join("real"));
    std::fs::create_dir(&fsdd).unwrap();
    std::fs::create_dir(&real).unwrap();
    for entry in std::fs::read_dir(recordings()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let take: Option<u32> = name
            .trim_end_matches(".wav")
            .rsplit('_')
            .next()
            .and_then(|t| t.parse().ok());
        if take.is_some_and(|t| t < 6) {
            std::fs::copy(recordings().join(&name), fsdd.join(&name)).unwrap();
        }
    }
    for voice in ["allison", "csmash", "scid"] {
        for digit in 0..10 {
            if let Some(path) = clip(voice, digit) {
                load(&path); // names the packages when a file is missing
                std::fs::copy(&path, real.join(format!("{digit}_{voice}_0.wav"))).unwrap();
            }
        }
    }
    (fsdd, real)
}

/// `digits eval ARGS --data DATA...`, expected to succeed: its stdout.
fn eval_stdout(args: &[&str], data: &[impl AsRef<std::ffi::OsStr>]) -> Vec<u8> {
    digits_cmd()
        .arg("eval")
        .args(args)
        .arg("--data")
        .args(data)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone()
}

/// Leave-one-voice-out over every source: each held-out voice is scored by
/// a model that never heard it, and the report says which kind it is.
#[test]
fn eval_split_voice_holds_out_each_voice_and_reports_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let (fsdd, real) = fsdd_and_real(dir.path());
    let sources = [
        format!("fsdd={}", fsdd.display()),
        format!("real={}", real.display()),
    ];
    let out = eval_stdout(
        &[
            "--split",
            "voice",
            "--held-out",
            "csmash,theo",
            "--json",
            "--quiet",
        ],
        &sources,
    );
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["split"], "voice");
    let folds = v["folds"].as_array().unwrap();
    let fold = |name: &str| folds.iter().find(|f| f["speaker"] == name).unwrap();
    assert_eq!(folds.len(), 2);
    assert_eq!(fold("csmash")["kind"], "real");
    assert_eq!(fold("csmash")["n"], 10);
    assert_eq!(fold("theo")["kind"], "fsdd");
    assert_eq!(fold("theo")["n"], 60);
    let acc = |name: &str| fold(name)["accuracy"].as_f64().unwrap();
    eprintln!("csmash {}, theo {}", acc("csmash"), acc("theo"));
    assert!(acc("csmash") >= 0.8, "{v}");
    assert!(acc("theo") >= 0.75, "{v}");
    let kinds = v["kinds"].as_array().unwrap();
    assert_eq!(kinds.len(), 2);
    for k in kinds {
        let name = k["kind"].as_str().unwrap();
        let held_out = if name == "real" { "csmash" } else { "theo" };
        assert_eq!(k["voices"], 1);
        assert_eq!(k["worst_voice"], held_out);
        assert_eq!(k["mean_accuracy"].as_f64(), Some(acc(held_out)));
    }

    // In text: one line per kind.
    let text = eval_stdout(
        &["--split", "voice", "--held-out", "scid", "--quiet"],
        &sources,
    );
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("real: 1 voice, mean ") && l.ends_with("(scid)")),
        "{text}"
    );

    // A voice that is not in the data is named, with the voices there are.
    digits_cmd()
        .args(["eval", "--split", "voice", "--held-out", "nobody", "--data"])
        .args(&sources)
        .assert()
        .code(2)
        .stderr(
            "digits: --held-out: no voice `nobody` in the data (voices: allison, csmash, george, \
             jackson, lucas, nicolas, scid, theo, yweweler)\n",
        );
    digits_cmd()
        .args([
            "eval",
            "--split",
            "official",
            "--held-out",
            "theo",
            "--data",
        ])
        .arg(&fsdd)
        .assert()
        .code(2)
        .stderr("digits: --held-out needs --split voice, or --enroll\n");
}

/// The embedded model is trained on espeak-ng's voices among others
/// (`models/corpus/build.sh`): two of them, at rates and pitches of their
/// own, are heard as well as FSDD's test clips. A model of FSDD's men alone
/// hears 50 % and 28 % of these clips.
#[test]
fn synthetic_voices_it_was_trained_on_are_heard() {
    let dir = tempfile::tempdir().unwrap();
    for voice in ["en-us+f1", "en+m3"] {
        let out = dir.path().join(voice);
        std::fs::create_dir(&out).unwrap();
        for (digit, word) in WORDS.iter().enumerate() {
            for (take, (rate, pitch)) in [(120, 35), (150, 60), (175, 35)].iter().enumerate() {
                espeak(
                    voice,
                    *rate,
                    *pitch,
                    word,
                    &out.join(format!("{digit}_es_{take}.wav")),
                );
            }
        }
        let json = eval_stdout(&["--split", "all", "--json", "--quiet"], &[&out]);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let accuracy = v["accuracy"].as_f64().unwrap();
        assert!(accuracy >= 0.95, "{voice}: {accuracy}");
    }
}
