//! `digits train` through the binary: what `--out` may replace, and how a
//! model that cannot be written for want of space fails.

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

/// A model that cannot be written for want of space (here the file-size
/// limit, `ulimit -f`, which fails the write as a full disk does) is the
/// job failing, exit 1, not bad input; the model already at `--out` is
/// left whole and no partial file stays. Then, with room, the existing
/// model is replaced.
#[test]
fn train_out_of_space_exits_1_and_an_old_model_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    small_data(dir.path());
    let model = dir.path().join("x.model");
    let old =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/digits.model")).unwrap();
    std::fs::write(&model, &old).unwrap();
    // 512 bytes at most per file; SIGXFSZ ignored, so the write fails with
    // EFBIG instead of killing the process.
    let out = std::process::Command::new("sh")
        .current_dir(dir.path())
        .args(["-c", "ulimit -f 1; trap '' XFSZ; exec \"$0\" \"$@\""])
        .arg(assert_cmd::cargo::cargo_bin!("digits"))
        .args([
            "train", "-q", "--split", "all", "--data", "data", "--out", "x.model",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "training on 40 clips (2 speakers)\n\
         digits: saving the model (choose another path with --out): \
         cannot write model x.model: File too large (os error 27)\n"
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read(&model).unwrap(),
        old,
        "the old model is whole"
    );
    assert!(!dir.path().join("x.model.partial").exists());

    digits_cmd()
        .current_dir(dir.path())
        .args([
            "train", "-q", "--split", "all", "--data", "data", "--out", "x.model",
        ])
        .assert()
        .success();
    let new = std::fs::read(&model).unwrap();
    assert_ne!(new, old);
    digits::model::ModelFile::from_bytes(&new, "x.model").unwrap();
}
