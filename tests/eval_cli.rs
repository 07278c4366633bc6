//! `digits eval` end to end: the embedded model on FSDD's official test
//! split (the recordings beside the repository), accuracy under seeded noise
//! (`--snr`), charts (`--plot`), and the one-line errors for bad flags.

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;

fn fsdd() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fsdd/recordings")
}

/// Runs `digits eval --data FSDD ARGS`, expects success, returns stdout.
fn eval_ok(args: &[&str]) -> String {
    eval_data_ok(&fsdd(), args)
}

/// Runs `digits eval --data DATA ARGS`, expects success, returns stdout.
fn eval_data_ok(data: &Path, args: &[&str]) -> String {
    let out = cargo_bin_cmd!("digits")
        .arg("eval")
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("digits runs");
    assert!(
        out.status.success(),
        "digits eval {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn eval_json(args: &[&str]) -> Value {
    let mut all = vec!["--json", "--quiet"];
    all.extend_from_slice(args);
    serde_json::from_str(&eval_ok(&all)).expect("one JSON object")
}

#[test]
fn eval_json_reports_accuracy_confusion_and_timing() {
    let v = eval_json(&[]);
    let accuracy = v["accuracy"].as_f64().unwrap();
    assert!(accuracy >= 0.99, "accuracy {accuracy}");
    assert_eq!(v["n"], 300);
    let confusion = v["confusion"].as_array().unwrap();
    assert_eq!(confusion.len(), 10);
    for row in confusion {
        let row = row.as_array().unwrap();
        assert_eq!(row.len(), 10);
        assert_eq!(row.iter().map(|c| c.as_u64().unwrap()).sum::<u64>(), 30);
    }
    assert_eq!(v["per_class"].as_array().unwrap().len(), 10);
    for stage in ["features", "predict"] {
        let ms = v["ms_per_utt"][stage].as_f64().unwrap();
        assert!(ms > 0.0, "{stage}: {ms} ms");
    }
    // No --snr: no noise keys.
    assert!(v.get("snr").is_none() && v.get("noise").is_none());
}

#[test]
fn eval_snr_json_reports_each_level() {
    let v = eval_json(&["--snr", "20,0"]);
    assert_eq!(v["noise"], "white");
    let snr = v["snr"].as_array().unwrap();
    assert_eq!(snr.len(), 2);
    assert_eq!(snr[0]["db"].as_f64(), Some(20.0));
    assert_eq!(snr[1]["db"].as_f64(), Some(0.0));
    let acc: Vec<f64> = snr
        .iter()
        .map(|p| p["accuracy"].as_f64().unwrap())
        .collect();
    assert!(acc.iter().all(|a| (0.0..=1.0).contains(a)), "{acc:?}");
    assert!(acc[0] >= acc[1], "20 dB {} < 0 dB {}", acc[0], acc[1]);
    // Seeded: the same noise, so the same figures, every run.
    assert_eq!(eval_json(&["--snr", "20,0"])["snr"], v["snr"]);
    assert_eq!(v["noise_seed"], 219_551_573);
    // Another seed draws other noise: at 0 dB that moves the figure.
    let other = eval_json(&["--snr", "20,0", "--noise-seed", "1"]);
    assert_eq!(other["noise_seed"], 1);
    assert_ne!(other["snr"][1], v["snr"][1]);
}

/// A folder of the user's own recordings need not follow FSDD's takes;
/// `--split all` scores every clip in it. Here: 40 training takes, so the
/// official split has nothing to test and says how to score them.
#[test]
fn eval_split_all_scores_every_clip_of_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    for d in 0..10 {
        for speaker in ["jackson", "theo"] {
            for take in [20, 40] {
                let name = format!("{d}_{speaker}_{take}.wav");
                std::fs::copy(fsdd().join(&name), dir.path().join(&name)).unwrap();
            }
        }
    }
    let v: Value = serde_json::from_str(&eval_data_ok(
        dir.path(),
        &["--quiet", "--json", "--split", "all"],
    ))
    .unwrap();
    assert_eq!(
        (v["split"].as_str(), v["n"].as_u64()),
        (Some("all"), Some(40))
    );
    let accuracy = v["accuracy"].as_f64().unwrap();
    assert!(accuracy >= 0.95, "accuracy {accuracy}");
    cargo_bin_cmd!("digits")
        .args(["eval", "--quiet", "--data"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr("digits: --data has no official test clips (takes 0-4); to score every clip given, add --split all\n");
}

/// Other corpora's layouts: Speech Commands' folder per digit word
/// (`seven/{speaker}_nohash_{n}.wav`) and AudioMNIST's folder per speaker
/// of FSDD-style names, side by side under one `--data`; files that are not
/// labelled WAVs are skipped. Folder labels carry no take, so the official
/// split says to use `--split all`. A folder with no labelled WAVs says how
/// to name them.
#[test]
fn eval_reads_digit_word_folders_and_nested_speaker_folders() {
    let dir = tempfile::tempdir().unwrap();
    const WORDS: [&str; 10] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    for (d, word) in WORDS.iter().enumerate() {
        let words = dir.path().join("speech_commands").join(word);
        let speaker = dir.path().join("audiomnist").join("theo");
        for folder in [&words, &speaker] {
            std::fs::create_dir_all(folder).unwrap();
        }
        let take = |t: u32| fsdd().join(format!("{d}_jackson_{t}.wav"));
        std::fs::copy(take(30), words.join(format!("0a7c2a8d_nohash_{d}.wav"))).unwrap();
        std::fs::copy(take(31), words.join("second.wav")).unwrap();
        std::fs::write(words.join("README.txt"), "not audio").unwrap();
        std::fs::copy(
            fsdd().join(format!("{d}_theo_30.wav")),
            speaker.join(format!("{d}_theo_30.wav")),
        )
        .unwrap();
    }
    std::fs::create_dir_all(dir.path().join("yes")).unwrap();
    std::fs::copy(fsdd().join("0_theo_30.wav"), dir.path().join("yes/a.wav")).unwrap();
    let v: Value = serde_json::from_str(&eval_data_ok(
        dir.path(),
        &["--quiet", "--json", "--split", "all"],
    ))
    .unwrap();
    assert_eq!(v["n"].as_u64(), Some(30));
    let accuracy = v["accuracy"].as_f64().unwrap();
    assert!(accuracy >= 0.95, "accuracy {accuracy}");
    let words = dir.path().join("speech_commands");
    cargo_bin_cmd!("digits")
        .args(["eval", "--quiet", "--data"])
        .arg(&words)
        .assert()
        .code(2)
        .stderr(format!(
            "digits: the official split needs take numbers, but {} has none; use --split all or data whose file names carry the take\n",
            words.join("eight/0a7c2a8d_nohash_8.wav").display()
        ));
    let empty = tempfile::tempdir().unwrap();
    cargo_bin_cmd!("digits")
        .args(["eval", "--quiet", "--split", "all", "--data"])
        .arg(empty.path())
        .assert()
        .code(2)
        .stderr(format!(
            "digits: {}: no labelled WAVs found in this folder or below; name them `{{digit}}_{{speaker}}_{{take}}.wav` (FSDD), or put them in folders named zero … nine\n",
            empty.path().display()
        ));
}

#[test]
fn eval_snr_rejects_non_numbers() {
    cargo_bin_cmd!("digits")
        .arg("eval")
        .arg("--data")
        .arg(fsdd())
        .args(["--snr", "abc"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            "digits: --snr: `abc` is not a number of decibels; \
             pass a comma-separated list such as --snr 30,20,10,5,0\n",
        );
}

/// One WAV is not a dataset, and the same folder twice is one folder.
#[test]
fn eval_data_is_a_folder_counted_once() {
    let wav = fsdd().join("7_theo_0.wav");
    cargo_bin_cmd!("digits")
        .arg("eval")
        .arg("--data")
        .arg(&wav)
        .assert()
        .code(2)
        .stdout("")
        .stderr(format!(
            "digits: {} is one WAV file; --data takes a folder of labelled WAVs or .parquet files \
             (to classify one file, use `digits predict`)\n",
            wav.display()
        ));
    let twice = fsdd().join(".");
    let v: Value =
        serde_json::from_str(&eval_ok(&["--json", "--data", twice.to_str().unwrap()])).unwrap();
    assert_eq!(v["n"], 300);
}

#[test]
fn eval_plot_writes_png_and_svg() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plots");
    let out = eval_ok(&["--snr", "10", "--plot", dir.to_str().unwrap()]);
    assert!(out.contains("SNR dB | accuracy"), "{out}");
    for stem in ["confusion", "snr"] {
        let png = std::fs::read(dir.join(format!("{stem}.png"))).unwrap();
        assert!(png.len() > 1000, "{stem}.png: {} bytes", png.len());
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}.png is not a PNG");
        let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{stem}.svg");
        assert!(svg.contains("<text"), "{stem}.svg has no labels");
    }
}

#[test]
fn eval_plot_into_a_file_is_a_one_line_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let dir = file.join("plots");
    let out = cargo_bin_cmd!("digits")
        .arg("eval")
        .arg("--data")
        .arg(fsdd())
        .arg("--plot")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "no report before the error");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("digits: {}: ", dir.display())),
        "{err}"
    );
    assert!(
        err.contains("pass --plot a folder you can write to"),
        "{err}"
    );
}

/// Results that cannot be written (a full disk) are an error with a
/// message and exit 1, never a panic; a closed standard error loses only
/// the diagnostics.
#[test]
fn unwritable_output_is_an_error_not_a_panic() {
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin!("digits"))
        .args(["eval", "-q", "--data"])
        .arg(fsdd())
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .expect("digits runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "digits: writing the results to standard output: No space left on device (os error 28)\n"
    );
    // Standard error closed at once: the missing file is still exit 2.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("digits"))
        .args(["predict", "no-such-file.wav"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    assert_eq!(child.wait().unwrap().code(), Some(2));
}

/// A parquet file whose corruption makes the parquet crate panic (an
/// `expect` in its dictionary decoder) is one line on standard error, with
/// no panic message or backtrace before it. The fixture is four synthetic
/// tones written by pyarrow, then randomly mutated until the reader panicked.
#[test]
fn a_parquet_file_that_panics_the_reader_is_one_line() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corrupt-dictionary.parquet");
    let out = cargo_bin_cmd!("digits")
        .args(["eval", "--split", "all", "-q", "--data"])
        .arg(&fixture)
        .output()
        .expect("digits runs");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "digits: {}: not a dataset parquet file: the header of page 1 of column `label` is \
             corrupt (field 2 of a PageHeader has the wrong type (9))\n",
            fixture.display()
        )
    );
}

/// Every unreadable WAV in a folder is named in one run, not only the first:
/// a user with five broken files should not need five runs to find them.
#[test]
fn every_unreadable_wav_in_a_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for d in 0..10 {
        let name = format!("{d}_theo_1.wav");
        std::fs::copy(fsdd().join(&name), dir.path().join(&name)).unwrap();
    }
    let good = std::fs::read(fsdd().join("3_theo_1.wav")).unwrap();
    std::fs::write(dir.path().join("4_theo_2.wav"), &good[..30]).unwrap();
    std::fs::write(dir.path().join("5_theo_2.wav"), b"").unwrap();
    let d = dir.path().display();
    let out = dir.path().join("never.model");
    for cmd in ["eval", "train"] {
        let mut digits = cargo_bin_cmd!("digits");
        digits
            .args([cmd, "-q", "--split", "all", "--data"])
            .arg(dir.path());
        if cmd == "train" {
            digits.arg("--out").arg(&out);
        }
        digits.assert().code(2).stdout("").stderr(format!(
            "digits: 2 of the 12 labelled WAVs under {d} cannot be read; fix or remove them: \
                 {d}/4_theo_2.wav: truncated or corrupt WAV data (the fmt chunk is cut short); \
                 re-record or re-export the file; \
                 {d}/5_theo_2.wav: the file is empty (0 bytes); re-record or re-export it\n"
        ));
    }
    assert!(!out.exists(), "no model from a folder with unreadable WAVs");
}

/// `dir/data` with one clip of each digit (theo, take 1), for quick runs.
fn ten_clips(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    for d in 0..10 {
        let name = format!("{d}_theo_1.wav");
        std::fs::copy(fsdd().join(&name), data.join(&name)).unwrap();
    }
    data
}

/// The x-axis labels of an SNR chart's SVG: the centred texts that are
/// numbers (the y-axis labels are right-aligned, the point labels end in %).
fn x_tick_labels(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter(|t| t.contains("text-anchor=\"middle\""))
        .filter_map(|t| {
            let body = t.split_once('>')?.1.split_once("</text>")?.0.trim();
            body.parse::<f64>().is_ok().then(|| body.to_string())
        })
        .collect()
}

/// Ticks of the SNR chart sit at the levels measured: one level is one
/// label, not `9 9 9 10 10 10 10 10 11 11 11`.
#[test]
fn eval_snr_chart_ticks_are_the_levels_measured() {
    let tmp = tempfile::tempdir().unwrap();
    let data = ten_clips(tmp.path());
    for (snr, ticks) in [
        ("10", vec!["10"]),
        ("20,0,10,2.5", vec!["0", "2.5", "10", "20"]),
    ] {
        let dir = tmp.path().join(format!("plots-{snr}"));
        eval_data_ok(
            &data,
            &[
                "-q",
                "--split",
                "all",
                "--snr",
                snr,
                "--plot",
                dir.to_str().unwrap(),
            ],
        );
        let svg = std::fs::read_to_string(dir.join("snr.svg")).unwrap();
        assert_eq!(x_tick_labels(&svg), ticks, "--snr {snr}");
    }
}

#[test]
fn eval_snr_rejects_levels_out_of_range() {
    for level in ["1e308", "-51", "100.5"] {
        cargo_bin_cmd!("digits")
            .args(["eval", "--snr", &format!("20,{level}"), "--data"])
            .arg(fsdd())
            .assert()
            .code(2)
            .stdout("")
            .stderr(format!(
                "digits: --snr: {level} dB is out of range; pass levels from -50 to 100 dB, \
                 such as --snr 30,20,10,5,0\n"
            ));
    }
}

/// A chart that cannot be written for want of space (here the file-size
/// limit, `ulimit -f`, which fails the write as a full disk does) is the
/// job failing, exit 1, and leaves no empty, truncated or temporary chart.
#[test]
fn eval_plot_out_of_space_exits_1_and_leaves_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = ten_clips(tmp.path());
    let dir = tmp.path().join("plots");
    // 512 bytes at most per file; SIGXFSZ ignored, so the write fails with
    // EFBIG instead of killing the process.
    let out = std::process::Command::new("sh")
        .args(["-c", "ulimit -f 1; trap '' XFSZ; exec \"$0\" \"$@\""])
        .arg(assert_cmd::cargo::cargo_bin!("digits"))
        .args(["eval", "-q", "--split", "all", "--data"])
        .arg(&data)
        .arg("--plot")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "digits: {}: cannot write plots here (File too large (os error 27)); \
             free some space or pass --plot another folder\n",
            dir.join("confusion.png").display()
        )
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no report after a failed chart");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Clips with no word in them (a muted microphone: all zeros) are left out
/// of the score and named on stderr, as `train` leaves them out; `--json`
/// lists them too, and stdout stays one JSON object. A folder of nothing
/// else has nothing to score.
#[test]
fn eval_leaves_out_and_names_clips_with_no_word() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("m");
    std::fs::create_dir(&data).unwrap();
    for name in ["0_george_0.wav", "1_george_0.wav"] {
        std::fs::copy(fsdd().join(name), data.join(name)).unwrap();
    }
    let muted = data.join("3_bob_0.wav");
    std::fs::write(
        &muted,
        crate::util::wav_bytes(&[0.0; 16000], 8000, 1, 16, false),
    )
    .unwrap();
    let note = format!(
        "digits: note: 1 clip holds no word (silence or steady noise) and was left out of the score: {}\n",
        muted.display()
    );
    let out = cargo_bin_cmd!("digits")
        .args(["eval", "--split", "all", "--json", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stderr).unwrap(), note);
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(
        (v["n"].as_u64(), v["accuracy"].as_f64()),
        (Some(2), Some(1.0))
    );
    assert_eq!(
        v["no_word"],
        serde_json::json!([muted.display().to_string()])
    );
    assert_eq!(v["confusion"][3][9], 0);

    let out = cargo_bin_cmd!("digits")
        .args(["eval", "--split", "all", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stderr).unwrap(), note);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("\ntest clips: 2 (all clips given; 1 with no word left out)\n"),
        "{text}"
    );

    for name in ["0_george_0.wav", "1_george_0.wav"] {
        std::fs::remove_file(data.join(name)).unwrap();
    }
    cargo_bin_cmd!("digits")
        .args(["eval", "--split", "all", "--data"])
        .arg(&data)
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            "digits: the one clip to test holds no word (silence or steady noise), so there is \
             nothing to score; check that the recordings hold spoken digits\n",
        );
}

/// `eval` names the clips it got wrong: the file, the digit said, the digit
/// heard and the confidence, in the report and in `--json` (`errors`).
#[test]
fn eval_lists_the_clips_it_got_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("mine");
    std::fs::create_dir(&data).unwrap();
    std::fs::copy(fsdd().join("1_george_0.wav"), data.join("1_george_0.wav")).unwrap();
    // A seven filed as a three: the model hears 7.
    let wrong = data.join("3_theo_0.wav");
    std::fs::copy(fsdd().join("7_theo_0.wav"), &wrong).unwrap();

    let v: Value =
        serde_json::from_str(&eval_data_ok(&data, &["--split", "all", "--json"])).unwrap();
    let errors = v["errors"].as_array().expect("an errors array");
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert_eq!(e["file"], wrong.display().to_string());
    assert_eq!(
        (e["truth"].as_u64(), e["digit"].as_u64()),
        (Some(3), Some(7))
    );
    let confidence = e["confidence"].as_f64().unwrap();
    assert!(confidence > 0.5 && confidence <= 1.0, "{confidence}");

    let text = eval_data_ok(&data, &["--split", "all"]);
    assert!(
        text.contains(&format!(
            "\nwrong: 1 of 2 (file: said -> heard, confidence)\n  {}: 3 -> 7 ({confidence:.2})\n",
            wrong.display()
        )),
        "{text}"
    );

    // All right: an empty list, and the report says so.
    std::fs::remove_file(&wrong).unwrap();
    let v: Value =
        serde_json::from_str(&eval_data_ok(&data, &["--split", "all", "--json"])).unwrap();
    assert_eq!(v["errors"], serde_json::json!([]));
    let text = eval_data_ok(&data, &["--split", "all"]);
    assert!(text.contains("\nwrong: none of 1\n"), "{text}");
}

/// `--plot` naming an existing file says it is a file and what to pass
/// instead, not "File exists (os error 17)".
#[test]
fn eval_plot_on_an_existing_file_says_what_to_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("chart.png");
    std::fs::write(&file, b"x").unwrap();
    cargo_bin_cmd!("digits")
        .arg("eval")
        .arg("--data")
        .arg(fsdd())
        .arg("--plot")
        .arg(&file)
        .assert()
        .code(2)
        .stdout("")
        .stderr(format!(
            "digits: {}: is a file, not a folder; pass --plot a folder to write the charts into \
             (created if needed), e.g. --plot plots\n",
            file.display()
        ));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"x",
        "the file is left alone"
    );
}
