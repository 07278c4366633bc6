//! `digits predict` through the binary: what it says when its results
//! cannot be written, and the multi-word warning in `--json`.

use crate::util::{digits_cmd, recordings, write_two_words};

/// Results that cannot be written (a full disk) name what was being
/// written, as `eval` and `train` do, and exit 1.
#[test]
fn predict_to_a_full_disk_says_what_it_was_writing() {
    for json in [false, true] {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("digits"));
        cmd.arg("predict");
        if json {
            cmd.arg("--json");
        }
        let out = cmd
            .arg(recordings().join("7_theo_0.wav"))
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "--json {json}");
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            "digits: writing the results to standard output: No space left on device (os error 28)\n",
            "--json {json}"
        );
    }
}

/// A file that sounds like several words says so in its JSON object too
/// (`"words": 2`), beside the fields it always has; a single word has no
/// `words` field.
#[test]
fn predict_json_counts_the_words_of_a_multi_word_file() {
    let dir = tempfile::tempdir().unwrap();
    write_two_words(&dir.path().join("two.wav"));
    let one = recordings().join("7_theo_0.wav");
    let out = digits_cmd()
        .current_dir(dir.path())
        .args(["predict", "--json", "two.wav"])
        .arg(&one)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(lines[0]["file"], "two.wav");
    assert_eq!(lines[0]["words"], 2);
    assert_eq!(
        keys(&lines[0]),
        ["confidence", "digit", "file", "ms", "top", "words"]
    );
    assert_eq!(lines[1]["file"], one.display().to_string());
    assert_eq!(
        keys(&lines[1]),
        ["confidence", "digit", "file", "ms", "top"]
    );
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "digits: warning: two.wav: this sounds like 2 words, and predict names one digit per file; \
         for a digit string use `digits listen --auto --fast --from-wav FILE`\n"
    );
}

/// Many files are classified on several threads; the results still come
/// out in the order given, a bad file's error and a multi-word file's
/// warning at their places, and the answers are the single-file answers.
#[test]
fn predict_keeps_the_order_of_many_files() {
    let dir = tempfile::tempdir().unwrap();
    write_two_words(&dir.path().join("two.wav"));
    std::fs::write(dir.path().join("bad.wav"), b"not a wav at all").unwrap();
    let mut files: Vec<String> = (0..60)
        .map(|i| {
            let (digit, speaker) = (i % 10, ["george", "jackson", "lucas"][i / 20]);
            recordings()
                .join(format!("{digit}_{speaker}_{}.wav", i % 5))
                .display()
                .to_string()
        })
        .collect();
    files.insert(17, "bad.wav".into());
    files.insert(41, "two.wav".into());
    let out = digits_cmd()
        .current_dir(dir.path())
        .arg("predict")
        .args(&files)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let named: Vec<&str> = stdout
        .lines()
        .map(|l| l.split(": ").next().unwrap())
        .collect();
    let expected: Vec<&str> = files
        .iter()
        .map(String::as_str)
        .filter(|f| *f != "bad.wav")
        .collect();
    assert_eq!(named, expected);
    for line in stdout.lines().filter(|l| l.starts_with('/')) {
        let file = line.split(": ").next().unwrap();
        let digit = &file[file.rfind('/').unwrap() + 1..][..1];
        assert!(line.contains(&format!(": {digit} (")), "{line}");
    }
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(lines[0].starts_with("digits: bad.wav: "), "{stderr}");
    assert!(
        lines[1].starts_with("digits: warning: two.wav: "),
        "{stderr}"
    );
    assert_eq!(lines[2], "digits: 1 of 62 files could not be classified");

    // The same with --json: one object per file, the error's in place.
    let out = digits_cmd()
        .current_dir(dir.path())
        .args(["predict", "--json"])
        .args(&files)
        .output()
        .unwrap();
    let objects: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let named: Vec<&str> = objects
        .iter()
        .map(|o| o["file"].as_str().unwrap())
        .collect();
    assert_eq!(named, files);
    assert!(objects[17]["error"].is_string());
    assert_eq!(objects[41]["words"], 2);
}
