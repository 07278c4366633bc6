//! The recognizer end to end on real FSDD data: the dataset and its splits,
//! the embedded model's accuracy, robustness to rate and room tone, model
//! files, and the train → eval → predict round trip through the binary.

use std::os::unix::fs::FileTypeExt;

use digits::augment::pink;
use digits::augment::NoiseKind;
use digits::data::Dataset;
use digits::eval::{add_noise, score, BabblePool};
use digits::model::{ModelFile, Recognizer, FORMAT_VERSION, MAGIC};
use rand::SeedableRng;

use crate::util::{digits_cmd, recordings, resample_linear, wav_bytes, write_two_words};

const SEED: u64 = 5;

fn fsdd() -> Dataset {
    Dataset::load(&[recordings()]).unwrap()
}

#[test]
fn fsdd_folder_loads_with_its_official_and_speaker_splits() {
    let data = fsdd();
    assert_eq!(data.len(), 3000);
    assert_eq!(
        data.speakers(),
        ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
    );
    let (train, test) = data.official_split().unwrap();
    assert_eq!((train.len(), test.len()), (2700, 300));
    assert!(test.clips.iter().all(|c| c.take.unwrap() <= 4));
    let folds = data.speaker_folds().unwrap();
    assert_eq!(folds.len(), 6);
    for (speaker, train, test) in &folds {
        assert_eq!((train.len(), test.len()), (2500, 500), "{speaker}");
        assert!(train
            .clips
            .iter()
            .all(|c| c.speaker.as_deref() != Some(speaker.as_str())));
    }
    let (fit, val) = train.stratified_split(0.2, SEED);
    assert_eq!((fit.len(), val.len()), (2160, 540));
    assert!((0..10).all(|d| val.clips.iter().filter(|c| c.digit == d).count() == 54));
    assert_eq!(
        train.stratified_split(0.2, SEED).1,
        val,
        "seeded: the same split every time"
    );

    // Two clips of each digit: still one of each held out, not none.
    let small = Dataset {
        clips: test
            .clips
            .iter()
            .filter(|c| c.speaker.as_deref() == Some("theo") && c.take.unwrap() < 2)
            .cloned()
            .collect(),
    };
    let (fit, val) = small.stratified_split(0.2, SEED);
    assert_eq!((fit.len(), val.len()), (10, 10));
    assert!((0..10).all(|d| val.clips.iter().any(|c| c.digit == d)));

    // Training needs no test takes; scoring and leave-one-speaker-out say
    // what is missing and how to mend it.
    assert_eq!(train.official_training_side().unwrap(), train);
    assert_eq!(
        train.official_split().unwrap_err().to_string(),
        "split `official` leaves no test clips; use --split all to score every clip, or add takes 0-4"
    );
    assert_eq!(
        test.official_training_side().unwrap_err().to_string(),
        "split `official` leaves no training clips; use --split all, or add takes 5-49 (FSDD names: `{digit}_{speaker}_{take}.wav`)"
    );
    let george = Dataset {
        clips: test
            .clips
            .iter()
            .filter(|c| c.speaker.as_deref() == Some("george"))
            .cloned()
            .collect(),
    };
    assert_eq!(
        george.speaker_folds().unwrap_err().to_string(),
        "split `speaker` leaves no training clips; leave-one-speaker-out needs clips by two speakers or more"
    );
}

#[test]
fn embedded_model_scores_at_least_99_percent_on_the_official_test_split() {
    let model = ModelFile::embedded().unwrap();
    let (_, test) = fsdd().official_split().unwrap();
    let s = score(&model, &test.clips).unwrap();
    assert!(
        s.metrics.accuracy >= 0.99,
        "accuracy {}",
        s.metrics.accuracy
    );
    assert!(
        s.metrics.macro_f1 >= 0.99,
        "macro-F1 {}",
        s.metrics.macro_f1
    );
}

/// `word` with `pad` samples before and after it, and pink room tone over
/// the whole recording, 40 dB below the recording's speech power (the
/// word's energy spread over its length).
fn in_room_tone(word: &[f32], pad: usize, rng: &mut impl rand::Rng) -> Vec<f32> {
    let mut x = vec![0.0f32; pad];
    x.extend_from_slice(word);
    x.extend(std::iter::repeat_n(0.0, pad));
    let speech_power = digits::augment::power(word) * word.len() as f64 / x.len() as f64;
    let level = (speech_power / 1e4).sqrt() as f32;
    let tone = pink(x.len(), rng);
    for (v, n) in x.iter_mut().zip(tone) {
        *v += level * n;
    }
    x
}

/// A clip recorded at 44.1 kHz with a second of room tone either side must
/// score like the clean clip: the endpoint detector and resampler are in the
/// shared front end.
#[test]
fn room_tone_and_44k_rate_do_not_change_the_answer() {
    let (_, test) = fsdd().official_split().unwrap();
    let mut rec = Recognizer::new(ModelFile::embedded().unwrap()).unwrap();
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(SEED);
    let (mut clean_ok, mut roomy_ok) = (0, 0);
    for clip in &test.clips {
        clean_ok += usize::from(rec.recognize(&clip.samples, 8000).unwrap().digit == clip.digit);
        let up = resample_linear(&clip.samples, 8000, 44_100);
        let roomy = in_room_tone(&up, 44_100, &mut rng);
        roomy_ok += usize::from(rec.recognize(&roomy, 44_100).unwrap().digit == clip.digit);
    }
    assert!(clean_ok >= 297, "clean {clean_ok}/300");
    assert!(
        roomy_ok + 3 >= clean_ok,
        "with room tone at 44.1 kHz {roomy_ok}/300, clean {clean_ok}/300"
    );
}

/// A mouse click or a key tap near the word (here two, each a millisecond
/// at 80 % of the word's peak, 150-400 ms before and after it, in half a
/// second of room tone either side) must not become part of the word: the
/// endpoint detector seeks the loudest stretch, not the loudest block, and
/// bridges only long runs across a gap. (With the detector's previous rule,
/// seeded at the loudest block and bridging any run, 88 of the 300 answers
/// change.)
#[test]
fn clicks_around_the_word_do_not_change_the_answer() {
    use rand::Rng;
    let changed = answers_changed_by(|word, x, rng| {
        let peak = word.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for at in [
            PAD - rng.gen_range(1200..3200),
            PAD + word.len() + rng.gen_range(1200..3200),
        ] {
            x[at..at + 8].fill(0.8 * peak);
        }
    });
    assert!(changed.len() <= 2, "answers changed by clicks: {changed:?}");
}

/// Room tone either side of each test clip, in samples (half a second).
const PAD: usize = 4000;

/// The test clips whose answer changes when the clip is put in [`PAD`]
/// samples of room tone either side and `disturb` then adds to that
/// recording (given the clip, the recording and the random source).
fn answers_changed_by(
    mut disturb: impl FnMut(&[f32], &mut [f32], &mut rand_xoshiro::Xoshiro256PlusPlus),
) -> Vec<String> {
    let (_, test) = fsdd().official_split().unwrap();
    let mut rec = Recognizer::new(ModelFile::embedded().unwrap()).unwrap();
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(SEED);
    let mut changed = Vec::new();
    for clip in &test.clips {
        let clean = rec.recognize(&clip.samples, 8000).unwrap().digit;
        let mut x = in_room_tone(&clip.samples, PAD, &mut rng);
        disturb(&clip.samples, &mut x, &mut rng);
        if rec.recognize(&x, 8000).unwrap().digit != clean {
            changed.push(clip.origin.clone());
        }
    }
    changed
}

/// `predict` refuses a clip whose loudest 50 ms barely rises above its
/// background (noise, no word). White and pink noise alone, of any length
/// and at any rate, and clicks in faint hiss must fall below the threshold;
/// every clean test clip must clear it by 2 dB, and words in white noise as
/// loud as they are (0 dB SNR) must almost all clear it too: they are still
/// words, and the model still gets most of them right.
#[test]
fn noise_alone_is_no_word_but_a_word_in_noise_is() {
    use digits::augment::{mix_at_snr, white};
    use digits::features::endpoint::MIN_WORD_RISE_DB;
    let (_, test) = fsdd().official_split().unwrap();
    let mut rec = Recognizer::new(ModelFile::embedded().unwrap()).unwrap();
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(SEED);
    let mut rise = |x: &[f32], rate: u32| {
        rec.recognize(x, rate).unwrap();
        rec.word_rise_db()
    };
    for (n, rate) in [
        (2_400, 8_000),
        (8_000, 8_000),
        (40_000, 8_000),
        (48_000, 48_000),
    ] {
        for _ in 0..10 {
            let r = rise(&white(n, &mut rng), rate);
            assert!(
                r < MIN_WORD_RISE_DB,
                "white noise alone ({n} samples at {rate} Hz) rises {r} dB"
            );
            // A fan: pink noise swells slowly (it rose 4-12 dB by the
            // measure before the high-pass).
            let r = rise(&pink(n, &mut rng), rate);
            assert!(
                r < MIN_WORD_RISE_DB,
                "pink noise alone ({n} samples at {rate} Hz) rises {r} dB"
            );
            // Three taps on the desk, 5 ms each, 40 dB over faint hiss.
            let mut taps = white(n, &mut rng);
            for k in 1..=3 {
                let at = k * n / 4;
                for (i, v) in taps[at..at + rate as usize / 200].iter_mut().enumerate() {
                    *v *= 100.0 * (-(i as f32) / (rate as f32 / 500.0)).exp();
                }
            }
            let r = rise(&taps, rate);
            assert!(
                r < MIN_WORD_RISE_DB,
                "taps in hiss ({n} samples at {rate} Hz) rise {r} dB"
            );
        }
    }
    let mut below_at_0db = Vec::new();
    for clip in &test.clips {
        let r = rise(&clip.samples, 8000);
        assert!(r >= MIN_WORD_RISE_DB + 2.0, "{} rises {r} dB", clip.origin);
        let mut noisy = clip.samples.clone();
        let noise = white(noisy.len(), &mut rng);
        mix_at_snr(&mut noisy, &noise, 0.0);
        if rise(&noisy, 8000) < MIN_WORD_RISE_DB {
            below_at_0db.push(clip.origin.clone());
        }
    }
    assert!(
        below_at_0db.len() <= 3,
        "words at 0 dB taken for noise: {below_at_0db:?}"
    );
}

/// A breath taken just before speaking and one let out just after (here
/// 300 ms of brightened noise each, 15 dB below the word's power, 100-150 ms
/// from it, in half a second of room tone either side) must not become part
/// of the word: the endpoint detector bridges only gaps as short as a stop
/// closure. (With the fourth session's rule, which bridged 250 ms either
/// side, 229 of the 300 answers change.)
#[test]
fn breaths_around_the_word_do_not_change_the_answer() {
    use rand::Rng;
    let n = 2400;
    let changed = answers_changed_by(|word, x, rng| {
        for start in [
            PAD - rng.gen_range(800..1200) - n,
            PAD + word.len() + rng.gen_range(800..1200),
        ] {
            let noise = digits::augment::white(n + 1, rng);
            let breath: Vec<f32> = (0..n)
                .map(|i| {
                    let hann = (std::f32::consts::PI * i as f32 / n as f32).sin().powi(2);
                    (noise[i + 1] - 0.7 * noise[i]) * hann
                })
                .collect();
            let gain =
                (digits::augment::power(word) / 10f64.powf(1.5) / digits::augment::power(&breath))
                    .sqrt() as f32;
            for (v, b) in x[start..start + n].iter_mut().zip(&breath) {
                *v += gain * b;
            }
        }
    });
    assert!(
        changed.len() <= 2,
        "answers changed by breaths: {changed:?}"
    );
}

/// FSDD's six speakers are all men. Played 1.25 times faster, a test clip
/// has a shorter vocal tract and a higher voice, nearer a woman's or a
/// child's; the embedded model, trained with higher-voice copies (a warped
/// filterbank and a pitch shift, not this), must still hear most of them.
/// (The model trained without them scored 81.0 % here; the shipped one
/// scores 286/300.)
#[test]
fn a_higher_faster_voice_is_still_heard() {
    let (_, test) = fsdd().official_split().unwrap();
    let mut rec = Recognizer::new(ModelFile::embedded().unwrap()).unwrap();
    let ok = test
        .clips
        .iter()
        .filter(|c| {
            let faster = digits::augment::speed(&c.samples, 1.25);
            rec.recognize(&faster, 8000).unwrap().digit == c.digit
        })
        .count();
    assert!(ok >= 280, "{ok}/300 played 1.25 times faster");
}

#[test]
fn model_files_from_elsewhere_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = ModelFile::embedded().unwrap().to_bytes();
    let mut old = good.clone();
    old[8..12].copy_from_slice(&(FORMAT_VERSION - 1).to_le_bytes());
    // Crafted files: they decode, but their settings are out of range.
    let mut nan_gamma = ModelFile::embedded().unwrap();
    nan_gamma.svm.params.gamma = f64::NAN;
    let mut huge_fft = ModelFile::embedded().unwrap();
    huge_fft.front_end.mfcc.n_fft = 1 << 30;
    // One byte of the weights changed: it would decode and answer wrongly.
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x40;
    let cases: [(&str, Vec<u8>, String); 7] = [
        ("flipped.model", flipped, "flipped.model is truncated or corrupt (checksum ".into()),
        ("nan.model", nan_gamma.to_bytes(), "nan.model is truncated or corrupt (model is inconsistent: gamma must be a positive number, got NaN); retrain it with `digits train`".into()),
        ("fft.model", huge_fft.to_bytes(), "fft.model is truncated or corrupt (invalid MFCC setting: n_fft 1073741824 must be a power of two in 16..=8192); retrain it with `digits train`".into()),
        ("old.model", old, format!("old.model is a digits model of format version {}, this build reads version {FORMAT_VERSION}; retrain it with `digits train`", FORMAT_VERSION - 1)),
        ("short.model", good[..good.len() / 2].to_vec(), "short.model is truncated or corrupt".into()),
        ("notes.model", b"just some text".to_vec(), "notes.model is not a digits model file (bad header); pass a file written by `digits train`".into()),
        ("magic.model", MAGIC.to_vec(), "magic.model is not a digits model file (bad header); pass a file written by `digits train`".into()),
    ];
    let wav = recordings().join("0_theo_0.wav");
    for (name, bytes, expected) in cases {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        let out = digits_cmd()
            .current_dir(dir.path())
            .args(["predict", "--model", name])
            .arg(&wav)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.starts_with(&format!("digits: {expected}")),
            "{name}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{name}: one line: {stderr}");
    }
    let out = digits_cmd()
        .current_dir(dir.path())
        .args(["predict", "--model", "absent.model"])
        .arg(&wav)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "digits: cannot read model absent.model: No such file or directory (os error 2)\n"
    );
}

/// The digit printed is the most probable one and `--top` is in order, even
/// where the pairwise votes disagree with the probabilities (noisy input:
/// ranking by votes broke this for 27 of 546 clips at 0 and −5 dB).
#[test]
fn the_answer_is_the_most_probable_digit() {
    let (train, test) = fsdd().official_split().unwrap();
    let babble = BabblePool::new(&train.clips).unwrap();
    let mut rec = Recognizer::new(ModelFile::embedded().unwrap()).unwrap();
    let mut checked = 0;
    for db in [0.0, -5.0] {
        for c in add_noise(&test.clips, &babble, NoiseKind::White, db, SEED).unwrap() {
            let p = rec.recognize(&c.samples, c.sample_rate).unwrap();
            assert_eq!((p.digit, p.confidence), p.ranking[0], "{}", c.origin);
            assert!(
                p.ranking.windows(2).all(|w| w[0].1 >= w[1].1),
                "{} at {db} dB: {:?}",
                c.origin,
                p.ranking
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 600);
}

/// A path `train` cannot write is refused before any work, in one line.
#[test]
fn train_refuses_an_unwritable_out_before_training() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("adir")).unwrap();
    for (out, why) in [
        (
            "nodir/x.model",
            "its folder nodir does not exist; create it first",
        ),
        ("adir", "it is a folder; pass a file path"),
        (
            "/dev/full",
            "it is not a regular file (a device or a pipe); pass a file path",
        ),
    ] {
        let o = digits_cmd()
            .current_dir(dir.path())
            .args(["train", "-q", "--out", out, "--data"])
            .arg(recordings())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{out}");
        assert_eq!(
            String::from_utf8(o.stderr).unwrap(),
            format!("digits: --out cannot be written (checked before training): cannot write model {out}: {why}\n")
        );
    }
    assert!(std::fs::metadata("/dev/full")
        .unwrap()
        .file_type()
        .is_char_device());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["adir"], "no probe or partial file is left behind");
}

/// Train on a small slice of FSDD through the binary, then evaluate and
/// predict with the file it wrote.
#[test]
fn train_eval_predict_round_trip_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // Two speakers, takes 0-14: 100 test clips (takes 0-4) and 200 training clips.
    for d in 0..10 {
        for speaker in ["jackson", "theo"] {
            for take in 0..15 {
                let name = format!("{d}_{speaker}_{take}.wav");
                std::fs::copy(recordings().join(&name), data.join(&name)).unwrap();
            }
        }
    }
    // A file named like another run's temporary file neither blocks this
    // run nor is touched by it.
    std::fs::write(dir.path().join("small.model.partial"), b"half a model").unwrap();
    // Two training "clips" with no word in them: left out, and named.
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(SEED);
    let hiss: Vec<f32> = digits::augment::white(8000, &mut rng)
        .iter()
        .map(|v| 0.05 * v)
        .collect();
    std::fs::write(
        data.join("5_theo_41.wav"),
        wav_bytes(&hiss, 8000, 1, 16, false),
    )
    .unwrap();
    std::fs::write(
        data.join("3_jackson_40.wav"),
        wav_bytes(&vec![0.0; 4000], 8000, 1, 16, false),
    )
    .unwrap();
    let out = digits_cmd()
        .current_dir(dir.path())
        .args([
            "train",
            "--data",
            "data",
            "--out",
            "small.model",
            "--segments",
            "3",
            "--course-steps",
            "0",
            "--c",
            "10",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("trained in ") && stdout.contains("support vectors"),
        "{stdout}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(
            "digits: note: 2 clips hold no word (silence or steady noise) and were left out: "
        ),
        "{stderr}"
    );
    assert!(stderr.contains("3_jackson_40.wav") && stderr.contains("5_theo_41.wav"));
    let model = ModelFile::load(&dir.path().join("small.model")).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("small.model.partial")).unwrap(),
        b"half a model"
    );
    assert_eq!(model.meta.n_train, 200);
    // 39 values a frame (c0 from the loudest frame, c1-c12, their deltas)
    // × (4 whole-word + 2 × 3 segment statistics).
    assert_eq!(model.front_end.feature_dim(), 390);

    let out = digits_cmd()
        .current_dir(dir.path())
        .args(["eval", "--model", "small.model", "--data", "data", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["n"], 100);
    assert!(v["accuracy"].as_f64().unwrap() >= 0.95, "{v}");
    let confusion = v["confusion"].as_array().unwrap();
    assert_eq!(confusion.len(), 10);
    assert!(confusion.iter().all(|row| row
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .sum::<u64>()
        == 10));

    let out = digits_cmd()
        .current_dir(dir.path())
        .args([
            "predict",
            "--model",
            "small.model",
            "--json",
            "--top",
            "3",
            "data/8_theo_2.wav",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["file"], "data/8_theo_2.wav");
    assert_eq!(v["digit"], 8);
    assert_eq!(v["top"].as_array().unwrap().len(), 3);
    assert_eq!(v["top"][0][0], 8);
    let c = v["confidence"].as_f64().unwrap();
    assert!(c > 0.5 && c <= 1.0, "{c}");
    assert!(v["ms"].as_f64().unwrap() > 0.0);
    // Probabilities to 4 decimals and times to 3, as `listen --json` has them.
    assert_eq!(c, (c * 1e4).round() / 1e4, "{c}");
    assert_eq!(v["top"][0][1], v["confidence"]);
    let ms = v["ms"].as_f64().unwrap();
    assert_eq!(ms, (ms * 1e3).round() / 1e3, "{ms}");
}

#[test]
fn a_wav_at_any_format_is_classified_like_the_original() {
    let clip = digits::audio::read_wav(&recordings().join("6_yweweler_3.wav")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let up = resample_linear(&clip.samples, 8000, 48_000);
    let stereo: Vec<f32> = up.iter().flat_map(|&v| [v, v]).collect();
    std::fs::write(
        dir.path().join("48k-stereo-f32.wav"),
        wav_bytes(&stereo, 48_000, 2, 32, true),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("8k-24bit.wav"),
        wav_bytes(&clip.samples, 8000, 1, 24, false),
    )
    .unwrap();
    let out = digits_cmd()
        .current_dir(dir.path())
        .args(["predict", "48k-stereo-f32.wav", "8k-24bit.wav"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let digits: Vec<&str> = stdout
        .lines()
        .map(|l| l.split(": ").nth(1).unwrap().split(' ').next().unwrap())
        .collect();
    assert_eq!(digits, ["6", "6"], "{stdout}");
}

#[test]
fn help_lists_the_five_subcommands_with_examples() {
    let out = digits_cmd().arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for cmd in ["fetch", "train", "eval", "predict", "listen"] {
        assert!(
            help.contains(&format!("\n  {cmd} ")),
            "{cmd} missing from:\n{help}"
        );
        let sub = digits_cmd().args([cmd, "--help"]).output().unwrap();
        assert!(
            String::from_utf8(sub.stdout)
                .unwrap()
                .contains(&format!("digits {cmd}")),
            "{cmd} --help has no example"
        );
    }
    assert!(help.contains(
        "Exit codes: 0 success, 1 the job failed (network, full disk), 2 bad usage or\n\
         bad input, 130 stopped with Ctrl-C."
    ));
    let bad = digits_cmd()
        .args(["predict", "--top", "0", "x.wav"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn missing_data_names_the_flag_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = digits_cmd()
        .env("HF_HOME", dir.path())
        .args(["train", "--data", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "digits: nowhere: no such file or folder; pass a folder of FSDD WAVs or .parquet files to --data, or run `digits fetch`\n"
    );
    let out = digits_cmd()
        .env("HF_HOME", dir.path())
        .args(["eval"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "digits: no data: pass --data DIR|PARQUET (e.g. --data ../shared/fsdd/recordings) or run `digits fetch` first\n"
    );
}

/// `predict` names one digit per file; a file that sounds like a string of
/// words gets a warning that says where strings go (and still its answer),
/// a single word none.
#[test]
fn predict_warns_when_a_file_sounds_like_several_words() {
    let dir = tempfile::tempdir().unwrap();
    write_two_words(&dir.path().join("two.wav"));
    let out = digits_cmd()
        .current_dir(dir.path())
        .args(["predict", "two.wav"])
        .arg(recordings().join("7_theo_0.wav"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "digits: warning: two.wav: this sounds like 2 words, and predict names one digit per file; \
         for a digit string use `digits listen --auto --fast --from-wav FILE`\n"
    );
}
