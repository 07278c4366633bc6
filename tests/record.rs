//! `digits record` end to end. Sessions are read from recordings built at
//! test time from FSDD clips (theo's takes 5 and 6 of each digit, and a few
//! others), joined by 300-600 ms of low room noise the way
//! `tests/listen.rs` builds its recordings, then fed through
//! `--from-wav`, which runs the session loop a microphone does. The checks
//! are also measured on all 3,000 FSDD clips, each in room tone: a check
//! that refuses real words is wrong. One test records from a PulseAudio
//! virtual microphone and runs only with `DIGITS_PULSE_TEST=1` (see
//! .ci/pulse-mic.sh).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use digits::listen::{Event, Source};
use digits::record::{self, Finish, Meter, Notice, RecordConfig, Refusal, Segmenter, Word};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::util::{digits_cmd, recordings, wav_bytes};

const RATE: u32 = 8_000;
/// Room noise (RMS, dBFS): a quiet room through an ordinary interface.
const ROOM_DB: f32 = -65.0;
const SEED: u64 = 0x7ec0_4d17;

fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(SEED ^ seed)
}

/// Uniform white noise at `rms_db` dBFS RMS.
fn white(n: usize, rms_db: f32, rng: &mut Xoshiro256PlusPlus) -> Vec<f32> {
    let amp = 3f32.sqrt() * 10f32.powf(rms_db / 20.0);
    (0..n).map(|_| amp * rng.gen_range(-1.0f32..1.0)).collect()
}

/// An FSDD clip at its own level.
fn clip(digit: u8, speaker: &str, take: u32) -> Vec<f32> {
    let path = recordings().join(format!("{digit}_{speaker}_{take}.wav"));
    let audio = digits::audio::read_wav(&path).unwrap();
    assert_eq!(audio.sample_rate, RATE);
    audio.samples
}

/// Adds room noise at [`ROOM_DB`].
fn add_room(x: &mut [f32], rng: &mut Xoshiro256PlusPlus) {
    let noise = white(x.len(), ROOM_DB, rng);
    for (v, n) in x.iter_mut().zip(noise) {
        *v += n;
    }
}

fn scaled(x: &[f32], db: f32) -> Vec<f32> {
    let k = 10f32.powf(db / 20.0);
    x.iter().map(|v| v * k).collect()
}

/// A recording of words read from a list: 0.5 s of room, each word
/// followed by a 300-600 ms pause, 0.5 s of room; room noise over
/// everything, clipped like a converter.
struct Recording {
    samples: Vec<f32>,
    /// Each word's first and last sample.
    words: Vec<(usize, usize)>,
    rng: Xoshiro256PlusPlus,
}

impl Recording {
    fn new(seed: u64) -> Self {
        Self {
            samples: vec![0.0; RATE as usize / 2],
            words: Vec::new(),
            rng: rng(seed),
        }
    }

    fn word(&mut self, x: &[f32]) -> &mut Self {
        let start = self.samples.len();
        self.samples.extend_from_slice(x);
        self.words.push((start, self.samples.len()));
        let pause = self.rng.gen_range(0.3..0.6);
        self.silence(pause)
    }

    fn silence(&mut self, seconds: f64) -> &mut Self {
        let n = (seconds * RATE as f64) as usize;
        self.samples.extend(std::iter::repeat_n(0.0, n));
        self
    }

    /// Writes it as 16-bit mono at 8 kHz; returns the samples written.
    fn write(&mut self, path: &Path) -> Vec<i16> {
        self.silence(0.5);
        let noise = white(self.samples.len(), ROOM_DB, &mut self.rng);
        let x: Vec<f32> = self
            .samples
            .iter()
            .zip(&noise)
            .map(|(s, n)| (s + n).clamp(-1.0, 1.0))
            .collect();
        std::fs::write(path, wav_bytes(&x, RATE, 1, 16, false)).unwrap();
        read_i16(path)
    }
}

fn read_i16(path: &Path) -> Vec<i16> {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (1, RATE, 16),
        "{}",
        path.display()
    );
    r.samples::<i16>().map(Result::unwrap).collect()
}

/// Theo's takes `takes` of each digit, in session order.
fn theo(takes: &[u32]) -> Vec<(u8, Vec<f32>)> {
    takes
        .iter()
        .flat_map(|&t| (0..10).map(move |d| (d, clip(d, "theo", t))))
        .collect()
}

fn record_cmd(dir: &Path, wav: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    digits_cmd()
        .args(["record", "--speaker", "theo", "--out"])
        .arg(dir)
        .arg("--from-wav")
        .arg(wav)
        .args(extra)
        .assert()
}

fn stdout_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stdout.clone()).unwrap()
}

fn stderr_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stderr.clone()).unwrap()
}

/// The `.wav` names in `dir`, sorted.
fn names_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn expected_names(digits: impl IntoIterator<Item = u8>, takes: &[u32]) -> BTreeSet<String> {
    let digits: Vec<u8> = digits.into_iter().collect();
    takes
        .iter()
        .flat_map(|t| digits.iter().map(move |d| format!("{d}_theo_{t}.wav")))
        .collect()
}

/// Where `take` lies in `source`: the saved take is the recording's own
/// samples, unchanged, so it is found by matching them.
fn offset_in(source: &[i16], take: &[i16]) -> Option<usize> {
    (0..=source.len().checked_sub(take.len())?).find(|&o| source[o..o + take.len()] == *take)
}

/// Asserts the take saved at `path` is the stretch of `source` around
/// word `w` of `words` (with room tone either side, and no other word).
fn assert_take_is_word(path: &Path, source: &[i16], words: &[(usize, usize)], w: usize) {
    let take = read_i16(path);
    let at = offset_in(source, &take)
        .unwrap_or_else(|| panic!("{}: not a stretch of the recording", path.display()));
    let (start, end) = words[w];
    let len_s = take.len() as f64 / RATE as f64;
    let word_s = (end - start) as f64 / RATE as f64;
    assert!(
        at <= start + RATE as usize / 20 && at + take.len() + RATE as usize / 20 >= end,
        "{}: samples {at}..{} do not hold the word at {start}..{end}",
        path.display(),
        at + take.len()
    );
    if w > 0 {
        assert!(
            at >= words[w - 1].1,
            "{}: reaches back into the word before",
            path.display()
        );
    }
    if let Some(next) = words.get(w + 1) {
        assert!(
            at + take.len() <= next.0,
            "{}: reaches into the next word",
            path.display()
        );
    }
    // The clip and at most 250 ms of room tone either side (FSDD's clips
    // hold some silence of their own, which the VAD leaves out, so the
    // take may hold less).
    assert!(
        (word_s - 0.1..=word_s + 0.55).contains(&len_s),
        "{}: {len_s:.2} s for a {word_s:.2} s word",
        path.display()
    );
}

/// The digits `digits predict` hears in `files`, against their labels.
fn predicted_correctly(files: &[PathBuf]) -> usize {
    let out = digits_cmd().arg("predict").args(files).assert().success();
    stdout_of(&out)
        .lines()
        .filter(|l| {
            // `DIR/7_theo_1.wav: 7 (0.99)`
            let (path, rest) = l.rsplit_once(": ").unwrap();
            let name = Path::new(path).file_name().unwrap().to_string_lossy();
            name[..1] == rest[..1]
        })
        .count()
}

#[test]
fn from_wav_saves_twenty_takes_each_its_own_word() {
    let dir = tempfile::tempdir().unwrap();
    let mut rec = Recording::new(1);
    for (_, w) in theo(&[5, 6]) {
        rec.word(&w);
    }
    let wav = dir.path().join("session.wav");
    let source = rec.write(&wav);
    let out_dir = dir.path().join("theo");
    let out = record_cmd(&out_dir, &wav, &[]).success();
    let expected = expected_names(0..10, &[0, 1]);
    assert_eq!(names_in(&out_dir), expected);
    // The saved files on stdout, in the order said.
    let listed: Vec<String> = stdout_of(&out).lines().map(String::from).collect();
    let said: Vec<String> = [0, 1]
        .iter()
        .flat_map(|t| (0..10).map(move |d| format!("{d}_theo_{t}.wav")))
        .map(|name| out_dir.join(name))
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(listed, said);
    assert_eq!(
        stderr_of(&out),
        format!(
            "recording theo into {d}: 20 of 20 takes\ndone: {d} holds 20 of 20 takes of theo\n",
            d = out_dir.display()
        )
    );
    for (i, path) in said.iter().enumerate() {
        assert_take_is_word(Path::new(path), &source, &rec.words, i);
    }
    let files: Vec<PathBuf> = said.iter().map(PathBuf::from).collect();
    let correct = predicted_correctly(&files);
    assert!(correct >= 18, "predict hears {correct} of 20 takes right");
    // `eval --split all` reads the folder as twenty labelled clips.
    let eval = digits_cmd()
        .args(["eval", "--json", "--split", "all", "--data"])
        .arg(&out_dir)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_str(&stdout_of(&eval)).unwrap();
    assert_eq!(v["n"].as_u64(), Some(20), "{v}");
    assert!(v["accuracy"].as_f64().unwrap() >= 0.9, "{v}");
}

#[test]
fn a_rerun_keeps_what_was_saved_and_records_only_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("theo");
    let words = theo(&[5, 6]);
    // The first file stops after thirteen words.
    let mut first = Recording::new(2);
    for (_, w) in &words[..13] {
        first.word(w);
    }
    let wav1 = dir.path().join("first.wav");
    first.write(&wav1);
    let out = record_cmd(&out_dir, &wav1, &[]).code(2);
    assert_eq!(
        stderr_of(&out).lines().last().unwrap(),
        format!(
            "digits: 7 takes missing: {} ran out of words before THREE take 2 of 2; a re-run records only the missing ones (from a WAV of just those words, in order, or from the microphone)",
            wav1.display()
        )
    );
    let kept: BTreeSet<String> = expected_names(0..10, &[0])
        .union(&expected_names(0..3, &[1]))
        .cloned()
        .collect();
    assert_eq!(names_in(&out_dir), kept);
    let before: Vec<(String, Vec<u8>)> = kept
        .iter()
        .map(|n| (n.clone(), std::fs::read(out_dir.join(n)).unwrap()))
        .collect();

    // The second holds the seven words still missing.
    let mut second = Recording::new(3);
    for (_, w) in &words[13..] {
        second.word(w);
    }
    let wav2 = dir.path().join("second.wav");
    let source = second.write(&wav2);
    let out = record_cmd(&out_dir, &wav2, &[]).success();
    let d = out_dir.display();
    assert!(
        stderr_of(&out).starts_with(&format!(
            "recording theo into {d}: 7 of 20 takes (13 already there and kept)\n"
        )),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(names_in(&out_dir), expected_names(0..10, &[0, 1]));
    for (name, bytes) in &before {
        assert_eq!(
            &std::fs::read(out_dir.join(name)).unwrap(),
            bytes,
            "{name} changed"
        );
    }
    for (i, d) in (3..10).enumerate() {
        assert_take_is_word(
            &out_dir.join(format!("{d}_theo_1.wav")),
            &source,
            &second.words,
            i,
        );
    }
    assert_eq!(stdout_of(&out).lines().count(), 7);

    // Nothing left: the file is not even needed.
    let out = record_cmd(&out_dir, &wav2, &[]).success().stdout("");
    assert_eq!(
        stderr_of(&out),
        format!(
            "nothing to record: {d} holds all 20 takes of theo (--redo DIGIT records a digit again, a larger --takes adds more)\n"
        )
    );
}

#[test]
fn redo_rewrites_only_that_digit() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("theo");
    let mut rec = Recording::new(4);
    for (_, w) in theo(&[5, 6]) {
        rec.word(&w);
    }
    let wav = dir.path().join("session.wav");
    rec.write(&wav);
    record_cmd(&out_dir, &wav, &[]).success();
    let before: Vec<(String, Vec<u8>)> = names_in(&out_dir)
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(out_dir.join(&n)).unwrap();
            (n, bytes)
        })
        .collect();

    // Two sevens from other takes.
    let mut sevens = Recording::new(5);
    sevens.word(&clip(7, "theo", 7)).word(&clip(7, "theo", 8));
    let wav7 = dir.path().join("sevens.wav");
    let source = sevens.write(&wav7);
    let out = record_cmd(&out_dir, &wav7, &["--redo", "7"]).success();
    assert_eq!(
        stdout_of(&out),
        format!(
            "{}\n{}\n",
            out_dir.join("7_theo_0.wav").display(),
            out_dir.join("7_theo_1.wav").display()
        )
    );
    for (name, bytes) in &before {
        let now = std::fs::read(out_dir.join(name)).unwrap();
        assert_eq!(now != *bytes, name.starts_with("7_"), "{name}");
    }
    assert_take_is_word(&out_dir.join("7_theo_0.wav"), &source, &sevens.words, 0);
    assert_take_is_word(&out_dir.join("7_theo_1.wav"), &source, &sevens.words, 1);
    assert_eq!(names_in(&out_dir).len(), 20);
}

#[test]
fn oh_is_saved_as_a_zero_every_reader_labels_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("theo");
    let mut rec = Recording::new(6);
    for (_, w) in theo(&[5]) {
        rec.word(&w);
    }
    // FSDD has no "oh"; a zero stands in for it.
    rec.word(&clip(0, "theo", 9));
    let wav = dir.path().join("session.wav");
    let source = rec.write(&wav);
    let out = record_cmd(&out_dir, &wav, &["--takes", "1", "--oh"]).success();
    assert!(stderr_of(&out).starts_with(&format!(
        "recording theo into {}: 11 of 11 takes; OH is saved as a zero\n",
        out_dir.display()
    )));
    let mut expected = expected_names(0..10, &[0]);
    expected.insert("0_theo_100.wav".into());
    assert_eq!(names_in(&out_dir), expected);
    assert_take_is_word(&out_dir.join("0_theo_100.wav"), &source, &rec.words, 10);
    let eval = digits_cmd()
        .args(["eval", "--json", "--split", "all", "--data"])
        .arg(&out_dir)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_str(&stdout_of(&eval)).unwrap();
    assert_eq!(v["per_class"][0]["support"].as_u64(), Some(2), "{v}");
}

/// The time a refusal line gives for a word (`… at 3.52 s (…`).
fn time_in(line: &str) -> f64 {
    let (_, rest) = line.split_once(" at ").unwrap();
    rest.split_once(" s (").unwrap().0.parse().unwrap()
}

#[test]
fn words_that_fail_a_check_are_named_with_their_time_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("theo");
    let mut rec = Recording::new(7);
    for (d, w) in theo(&[5]) {
        match d {
            // Overdriven 6 dB past full scale.
            3 => {
                let peak = w.iter().fold(0f32, |m, v| m.max(v.abs()));
                rec.word(&scaled(&w, 6.0 - 20.0 * peak.log10()))
            }
            // About 13.5 dB above the room (22 at its own level): heard,
            // but too faint.
            5 => rec.word(&scaled(&w, -8.5)),
            // "eight eight", 150 ms apart.
            8 => {
                let mut two = w.clone();
                two.extend(std::iter::repeat_n(0.0, 1200));
                two.extend(clip(8, "theo", 7));
                rec.word(&two)
            }
            _ => rec.word(&w),
        };
    }
    let wav = dir.path().join("session.wav");
    rec.write(&wav);
    let out = record_cmd(&out_dir, &wav, &["--takes", "1"]).code(2);
    let stderr = stderr_of(&out);
    let lines: Vec<&str> = stderr.lines().collect();
    let f = wav.display();
    let reasons = [
        (3, "(THREE, take 1 of 1): clipped: speak a little further from the microphone, or lower the input level"),
        (5, "(FIVE, take 1 of 1): too quiet: move closer or raise the input level (the word rises "),
        (8, "(EIGHT, take 1 of 1): that sounded like two words; say EIGHT once"),
    ];
    assert_eq!(lines.len(), 5, "{stderr}");
    for (line, (w, reason)) in lines[1..4].iter().zip(&reasons) {
        assert!(line.starts_with(&format!("{f} at ")), "{line}");
        assert!(line.contains(reason), "{line}");
        // The time is the word's, in the file.
        let said = rec.words[*w].0 as f64 / RATE as f64;
        assert!(
            (time_in(line) - said).abs() < 0.1,
            "{line}: said at {said:.2} s"
        );
    }
    assert!(
        lines[2].ends_with(" dB above the room's noise, a take needs 15)"),
        "{}",
        lines[2]
    );
    assert_eq!(
        lines[4],
        "digits: 3 takes missing: 3 refused above; a re-run records only the missing ones (from a WAV of just those words, in order, or from the microphone)"
    );
    // The other seven are saved, each under its own digit.
    assert_eq!(
        names_in(&out_dir),
        expected_names([0, 1, 2, 4, 6, 7, 9], &[0])
    );
}

/// A word of the file not heard at all (here: left out) moves every later
/// word onto the prompt before its own; the base model hears the shift.
#[test]
fn a_word_missing_from_the_file_is_named_as_a_shift() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("theo");
    let mut rec = Recording::new(16);
    for (d, w) in theo(&[5, 6]).iter().enumerate() {
        if d != 3 {
            rec.word(&w.1);
        }
    }
    let wav = dir.path().join("session.wav");
    rec.write(&wav);
    let out = record_cmd(&out_dir, &wav, &[]).code(2);
    let stderr = stderr_of(&out);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    let f = wav.display();
    // FOUR, said where THREE was asked for.
    let said = rec.words[3].0 as f64 / RATE as f64;
    let (head, rest) = lines[1].split_once(" s in ").unwrap();
    assert_eq!(
        head.rsplit_once(" (").unwrap().0,
        "digits: warning: the takes from THREE take 1 of 2 on"
    );
    let at: f64 = head.rsplit_once(" (").unwrap().1.parse().unwrap();
    assert!((at - said).abs() < 0.1, "{}: FOUR at {said:.2} s", lines[1]);
    assert!(
        rest.starts_with(&format!(
            "{f}) sound like the word asked for after theirs ("
        )),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with("): a word was probably not heard before it (too quiet?), so each went to the prompt before its own; check them with `digits predict`, remove the wrong ones and record them again"), "{}", lines[1]);
    assert_eq!(
        lines[2],
        format!("digits: 1 take missing: {f} ran out of words before NINE take 2 of 2; a re-run records only the missing ones (from a WAV of just those words, in order, or from the microphone)")
    );
}

#[test]
fn bad_input_is_one_clear_line_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("takes");
    let wav = dir.path().join("no-such.wav");
    let one_line = |args: &[&str], code: i32, expected: &str| {
        let out = digits_cmd()
            .arg("record")
            .args(args)
            .assert()
            .code(code)
            .stdout("");
        let stderr = stderr_of(&out);
        assert!(stderr.starts_with(expected), "{args:?}: {stderr}");
        // clap's usage errors too are one line (ending with where --help is).
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    };
    let o = out_dir.to_str().unwrap();
    one_line(
        &["--speaker", "the_o", "--out", o, "--from-wav", "x.wav"],
        2,
        "digits: --speaker \"the_o\": use letters, digits and `-` only (`_` separates the fields of the file names), at most 64\n",
    );
    one_line(
        &[
            "--speaker",
            "theo",
            "--out",
            o,
            "--from-wav",
            wav.to_str().unwrap(),
        ],
        2,
        &format!(
            "digits: cannot read {}: No such file or directory",
            wav.display()
        ),
    );
    one_line(
        &["--speaker", "theo", "--out", o, "--redo", "oh"],
        2,
        "digits: --redo oh records the \"oh\" takes again: add --oh\n",
    );
    one_line(
        &["--speaker", "theo", "--out", o, "--redo", "10"],
        2,
        "digits: invalid value '10' for '--redo <DIGIT>': `10` is not a digit 0-9 or `oh`",
    );
    one_line(
        &["--speaker", "theo", "--out", o, "--takes", "0"],
        2,
        "digits: invalid value '0' for '--takes <K>': 0 is not in 1..=99",
    );
    let device = if cfg!(feature = "mic") {
        "digits: no input device named \"no-such-device-7\"; see `digits listen --list-devices`\n"
    } else {
        "digits: this digits was built without microphone support"
    };
    one_line(
        &[
            "--speaker",
            "theo",
            "--out",
            o,
            "--device",
            "no-such-device-7",
        ],
        2,
        device,
    );
    assert!(!out_dir.exists());
    // A file where the folder should be.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let mut rec = Recording::new(8);
    rec.word(&clip(0, "theo", 5));
    let good = dir.path().join("one.wav");
    rec.write(&good);
    one_line(
        &[
            "--speaker",
            "theo",
            "--out",
            file.to_str().unwrap(),
            "--from-wav",
            good.to_str().unwrap(),
        ],
        2,
        &format!(
            "digits: --out {}: it exists and is not a folder; pass a folder for the takes\n",
            file.display()
        ),
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

/// A live source (a channel, as a microphone's) fed up front; `stop` is
/// raised once the loop has taken everything.
fn live_session(audio: &[f32], plan: &record::Plan) -> (record::Outcome, Vec<String>) {
    let source = Source::channel(RATE, "test").unwrap();
    let tx = source.sender();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let raise = stop.clone();
    let blocks: Vec<Vec<f32>> = audio.chunks(160).map(<[f32]>::to_vec).collect();
    let feeder = std::thread::spawn(move || {
        for b in blocks {
            tx.send(Event::Audio(b)).unwrap();
        }
        // Ctrl-C, once the loop has had time to take it all.
        std::thread::sleep(Duration::from_millis(500));
        raise.store(true, Ordering::SeqCst);
    });
    let cfg = RecordConfig::default();
    let mut notices = Vec::new();
    let outcome = record::run(&source, plan, &cfg, &stop, |n| {
        notices.push(match n {
            Notice::Prompt { take, attempt } => format!("{} #{attempt}", take.prompt()),
            Notice::Refused { take, refusal, .. } => refusal.message(take.word, &cfg.checks),
            Notice::Saved { take, .. } => {
                format!("saved {}", take.path.file_name().unwrap().to_string_lossy())
            }
            other => format!("{other:?}"),
        });
        Ok(())
    })
    .unwrap();
    feeder.join().unwrap();
    (outcome, notices)
}

/// From a microphone a refused answer is asked for again; Ctrl-C ends the
/// session with what was saved kept.
#[test]
fn live_a_refused_take_is_asked_again_and_ctrl_c_keeps_what_was_saved() {
    let dir = tempfile::tempdir().unwrap();
    let plan = record::plan(dir.path(), "theo", 1, false, &[]).unwrap();
    let mut x = white(RATE as usize, ROOM_DB, &mut rng(9));
    let mut say = |w: &[f32], pause_s: f64| {
        x.extend_from_slice(w);
        x.extend(std::iter::repeat_n(0.0, (pause_s * RATE as f64) as usize));
    };
    say(&clip(0, "theo", 5), 1.2);
    // "one … one": the second 400 ms after the first, before the next prompt.
    say(&clip(1, "theo", 5), 0.4);
    say(&clip(1, "theo", 6), 1.2);
    say(&clip(1, "theo", 7), 1.2);
    say(&clip(2, "theo", 5), 1.2);
    let noise = white(x.len(), ROOM_DB, &mut rng(10));
    for (v, n) in x.iter_mut().zip(noise) {
        *v += n;
    }
    let (outcome, notices) = live_session(&x, &plan);
    assert!(notices[0].starts_with("FirstAudio("), "{notices:?}");
    assert_eq!(
        notices[1..],
        [
            "say ZERO (take 1 of 1) #1",
            "saved 0_theo_0.wav",
            "say ONE (take 1 of 1) #1",
            "that sounded like two words; say ONE once",
            "say ONE (take 1 of 1) #2",
            "saved 1_theo_0.wav",
            "say TWO (take 1 of 1) #1",
            "saved 2_theo_0.wav",
            "say THREE (take 1 of 1) #1",
        ]
    );
    assert_eq!(outcome.finish, Finish::Interrupted);
    assert_eq!(outcome.saved, 3);
    assert_eq!(outcome.unreached.len(), 7);
    assert!(outcome.refused.is_empty());
    assert_eq!(
        names_in(dir.path()),
        ["0_theo_0.wav", "1_theo_0.wav", "2_theo_0.wav"]
            .map(String::from)
            .into()
    );
}

/// Every FSDD clip, 0.5 s of room tone either side: what each check
/// refuses. Measured (prompts/record.md): none but a handful of theo's
/// quietest takes, 17-20 dB above this room at their loudest.
#[test]
fn the_checks_pass_fsdd_words() {
    let cfg = RecordConfig::default();
    let mut meter = Meter::new(&cfg).unwrap();
    let mut rng = rng(11);
    let mut names: Vec<PathBuf> = std::fs::read_dir(recordings())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 3000);
    let mut refused = Vec::new();
    for path in &names {
        let word = digits::audio::read_wav(path).unwrap().samples;
        let mut x = vec![0.0; RATE as usize / 2];
        x.extend(&word);
        x.extend(std::iter::repeat_n(0.0, RATE as usize / 2));
        add_room(&mut x, &mut rng);
        let mut seg = Segmenter::new(&cfg, RATE, false).unwrap();
        let mut answers = Vec::new();
        for b in x.chunks(80) {
            seg.push(b, &mut answers);
        }
        seg.finish(&mut answers);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(answers.len(), 1, "{name}: {answers:?}");
        if let Err(r) = meter.check(&answers[0], RATE).unwrap() {
            refused.push((name, r));
        }
    }
    eprintln!("{} of 3000 refused: {refused:?}", refused.len());
    assert!(refused.len() <= 6, "{refused:?}");
    for (name, r) in &refused {
        assert!(
            matches!(r, Refusal::TooQuiet { rise_db } if *rise_db > 13.0)
                && name.contains("_theo_"),
            "{name}: {r:?}"
        );
    }
}

/// Two FSDD words of one speaker run together, 100 ms apart (closer than
/// `listen` separates words): most are refused as two words.
#[test]
fn two_words_100_ms_apart_are_mostly_heard_as_two() {
    let cfg = RecordConfig::default();
    let mut meter = Meter::new(&cfg).unwrap();
    let mut rng = rng(12);
    let speakers = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"];
    let (mut two, mut total) = (0, 0);
    for k in 0..120 {
        let s = speakers[k % 6];
        let (a, b) = (rng.gen_range(0..10u8), rng.gen_range(0..10u8));
        let mut x = vec![0.0; RATE as usize / 2];
        x.extend(clip(a, s, rng.gen_range(0..50)));
        x.extend(std::iter::repeat_n(0.0, 800));
        x.extend(clip(b, s, rng.gen_range(0..50)));
        x.extend(std::iter::repeat_n(0.0, RATE as usize / 2));
        add_room(&mut x, &mut rng);
        let mut seg = Segmenter::new(&cfg, RATE, false).unwrap();
        let mut answers = Vec::new();
        for block in x.chunks(80) {
            seg.push(block, &mut answers);
        }
        seg.finish(&mut answers);
        total += 1;
        if answers.len() == 1 {
            let refusal = meter.check(&answers[0], RATE).unwrap().err();
            two += usize::from(matches!(refusal, Some(Refusal::TwoWords { .. })));
        }
    }
    eprintln!("{two} of {total} pairs refused as two words");
    // 88 % of 528 when measured (prompts/record.md).
    assert!(two * 100 >= total * 75, "{two} of {total}");
}

/// Words overdriven past full scale are refused; at their own level, none.
#[test]
fn clipped_words_are_refused() {
    let cfg = RecordConfig::default();
    let mut meter = Meter::new(&cfg).unwrap();
    let mut rng = rng(13);
    let mut refused = [0, 0];
    for (i, over_db) in [None, Some(3.0f32)].into_iter().enumerate() {
        for d in 0..10 {
            for s in ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"] {
                let mut w = clip(d, s, 0);
                if let Some(db) = over_db {
                    let peak = w.iter().fold(0f32, |m, v| m.max(v.abs()));
                    w = scaled(&w, db - 20.0 * peak.log10());
                }
                let mut x = vec![0.0; RATE as usize / 2];
                x.extend(&w);
                x.extend(std::iter::repeat_n(0.0, RATE as usize / 2));
                add_room(&mut x, &mut rng);
                x.iter_mut().for_each(|v| *v = v.clamp(-1.0, 1.0));
                let mut seg = Segmenter::new(&cfg, RATE, false).unwrap();
                let mut answers = Vec::new();
                seg.push(&x, &mut answers);
                seg.finish(&mut answers);
                let r = meter.check(&answers[0], RATE).unwrap().err();
                refused[i] += usize::from(matches!(r, Some(Refusal::Clipped { .. })));
            }
        }
    }
    // Overdriven by 3 dB: 286 of 300 test clips when measured.
    assert_eq!(refused[0], 0);
    assert!(refused[1] >= 54, "{} of 60", refused[1]);
}

#[test]
fn words_parse_as_redo_takes_them() {
    assert_eq!(Word::parse("oh"), Some(Word::Oh));
    assert_eq!(Word::parse("9"), Some(Word::Digit(9)));
    assert_eq!(Word::parse("x"), None);
}

/// A null sink of its own on the PulseAudio daemon of .ci/pulse-mic.sh, so
/// this test hears only what it plays (`tests/listen.rs` plays into the
/// default sink at the same time). Unloaded when dropped.
struct OwnSink {
    name: String,
    module: String,
}

impl OwnSink {
    fn new() -> Self {
        let name = format!("digits_record_{}", std::process::id());
        let out = Command::new("pactl")
            .args(["load-module", "module-null-sink"])
            .arg(format!("sink_name={name}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "pactl: {out:?}");
        let module = String::from_utf8(out.stdout).unwrap().trim().to_string();
        Self { name, module }
    }

    /// `digits record …` with the sink's monitor as its microphone: the
    /// ALSA pulse plugin records from `PULSE_SOURCE`.
    fn record(&self, out_dir: &Path, takes: &str) -> Live {
        let mut child = Command::new(env!("CARGO_BIN_EXE_digits"))
            .args(["record", "--speaker", "theo", "--takes", takes, "--out"])
            .arg(out_dir)
            .env("PULSE_SOURCE", format!("{}.monitor", self.name))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let mut readers = Vec::new();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let stderr = BufReader::new(child.stderr.take().unwrap());
        for (tag, stream) in [
            ("out", Box::new(stdout) as Box<dyn BufRead + Send>),
            ("err", Box::new(stderr)),
        ] {
            let tx = tx.clone();
            readers.push(std::thread::spawn(move || {
                for line in stream.lines().map_while(Result::ok) {
                    let _ = tx.send(format!("{tag}: {line}"));
                }
            }));
        }
        Live {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn play(&self, wav: &Path) {
        let played = Command::new("paplay")
            .arg(format!("--device={}", self.name))
            .arg(wav)
            .status()
            .unwrap();
        assert!(played.success(), "paplay failed: {played}");
    }
}

impl Drop for OwnSink {
    fn drop(&mut self) {
        let _ = Command::new("pactl")
            .args(["unload-module", &self.module])
            .status();
    }
}

/// A running `digits record` and the lines it printed (`out: …`, `err: …`).
struct Live {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Live {
    /// Waits up to `secs` for a line starting with `prefix`.
    fn wait_for(&mut self, prefix: &str, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                let hit = line.starts_with(prefix);
                self.seen.push(line);
                if hit {
                    return true;
                }
            }
        }
        false
    }

    /// Waits up to `secs` for the exit; then the lines left.
    fn wait(&mut self, secs: u64) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break Some(s);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        // The readers end with the process.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.seen.push(line);
        }
        status
    }

    fn ctrl_c(&self) {
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    fn transcript(&self) -> String {
        self.seen.join("\n")
    }
}

/// Words said 1.2-1.5 s apart, as someone answering prompts does (the
/// next prompt shows 0.6 s after a word).
fn answers_wav(path: &Path, words: &[Vec<f32>], seed: u64) {
    let mut r = rng(seed);
    let mut x = vec![0.0; RATE as usize / 2];
    for w in words {
        x.extend(w);
        x.extend(std::iter::repeat_n(
            0.0,
            (r.gen_range(1.2..1.5) * RATE as f64) as usize,
        ));
    }
    add_room(&mut x, &mut r);
    std::fs::write(path, wav_bytes(&x, RATE, 1, 16, false)).unwrap();
}

/// The real capture path: cpal → ALSA → PulseAudio, recording from the
/// monitor of a null sink that `paplay` plays into. A whole session of
/// ten takes, then one stopped with Ctrl-C after two. Needs the daemon
/// from .ci/pulse-mic.sh; runs only with DIGITS_PULSE_TEST=1.
#[test]
fn pulse_virtual_microphone_records_a_session_and_ctrl_c_keeps_it() {
    if std::env::var_os("DIGITS_PULSE_TEST").is_none_or(|v| v != "1") {
        eprintln!("skipped: set DIGITS_PULSE_TEST=1 after `. .ci/pulse-mic.sh` to run");
        return;
    }
    if !cfg!(feature = "mic") {
        eprintln!("skipped: built without the `mic` feature");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sink = OwnSink::new();
    let words: Vec<Vec<f32>> = theo(&[5]).into_iter().map(|(_, w)| w).collect();
    let wav = dir.path().join("say.wav");
    answers_wav(&wav, &words, 14);

    // A whole session: it ends by itself once the ten takes are in.
    let out_dir = dir.path().join("session");
    let mut live = sink.record(&out_dir, "1");
    // The first prompt shows once audio flows (the first callback can
    // take seconds); words said before it would be lost.
    assert!(live.wait_for("err: say ZERO", 20), "{}", live.transcript());
    sink.play(&wav);
    let status = live.wait(20);
    let transcript = live.transcript();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{transcript}");
    assert_eq!(
        names_in(&out_dir),
        expected_names(0..10, &[0]),
        "{transcript}"
    );
    let files: Vec<PathBuf> = (0..10)
        .map(|d| out_dir.join(format!("{d}_theo_0.wav")))
        .collect();
    let correct = predicted_correctly(&files);
    assert!(correct >= 8, "predict hears {correct} of 10:\n{transcript}");

    // Ctrl-C after two takes: exit 130, the two kept.
    let out_dir = dir.path().join("stopped");
    let two = dir.path().join("two.wav");
    answers_wav(&two, &words[..2], 15);
    let mut live = sink.record(&out_dir, "1");
    assert!(live.wait_for("err: say ZERO", 20), "{}", live.transcript());
    sink.play(&two);
    assert!(live.wait_for("err: say TWO", 10), "{}", live.transcript());
    live.ctrl_c();
    let status = live.wait(10);
    let transcript = live.transcript();
    assert_eq!(status.and_then(|s| s.code()), Some(130), "{transcript}");
    assert!(
        transcript.ends_with(&format!(
            "err: stopped (Ctrl-C): {} holds 2 of 10 takes of theo; run the same command again to record the other 8",
            out_dir.display()
        )),
        "{transcript}"
    );
    assert_eq!(names_in(&out_dir), expected_names(0..2, &[0]));
}
