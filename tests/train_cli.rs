//! `digits train` through the binary: what `--out` may replace.

use std::path::Path;

use crate::util::{digits_cmd, recordings};

/// 40 clips (george and jackson, takes 5-6, every digit) copied into
/// `dir/data`: enough to train in a few seconds.
fn small_data(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    for d in 0..10 {
        for speaker in ["george", "jackson"] {
            for take in [5, 6] {
                let name = format!("{d}_{speaker}_{take}.wav");
                std::fs::copy(recordings().join(&name), data.join(&name)).unwrap();
            }
        }
    }
    data
}

/// `--out` naming one of the training recordings (or any file that is not a
/// model) is refused before training, and the file is left as it was; a
/// file on the way to `--out` is named as not a folder.
#[test]
fn train_never_replaces_a_file_that_is_not_a_model() {
    let dir = tempfile::tempdir().unwrap();
    small_data(dir.path());
    let wav = "data/0_george_5.wav";
    let before = std::fs::read(dir.path().join(wav)).unwrap();
    for (out, why) in [
        (
            wav.to_string(),
            "it exists and is not a digits model; choose another path or remove it first"
                .to_string(),
        ),
        (
            format!("{wav}/x.model"),
            format!("{wav} is not a folder; pass a path inside a folder"),
        ),
    ] {
        digits_cmd()
            .current_dir(dir.path())
            .args(["train", "-q", "--split", "all", "--data", "data", "--out"])
            .arg(&out)
            .assert()
            .code(2)
            .stdout("")
            .stderr(format!(
                "digits: --out cannot be written (checked before training): cannot write model {out}: {why}\n"
            ));
    }
    assert_eq!(std::fs::read(dir.path().join(wav)).unwrap(), before);
}
