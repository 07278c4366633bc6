//! The inputs fuzzing found to break the release binary (a crafted model,
//! parquet files that spin the parquet crate): each is one line saying what
//! is wrong, naming the file, exit 2.

use crate::util::{digits_cmd, recordings};

fn fuzz_find(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(name)
}

/// A 171-byte model declaring a 2^48-byte text field aborted `predict`,
/// `eval` and `listen` (exit 134, "memory allocation of 281474976710655
/// bytes failed").
#[test]
fn a_crafted_model_is_one_line_and_exit_2_for_every_command() {
    // The find's payload behind this build's header (format version and
    // checksum), so that it reaches the decoder.
    let found = std::fs::read(fuzz_find("oom_min.model")).unwrap();
    let mut bytes = digits::model::MAGIC.to_vec();
    bytes.extend_from_slice(&digits::model::FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&found[16..]).to_le_bytes());
    bytes.extend_from_slice(&found[16..]);
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("oom_min.model");
    std::fs::write(&model, bytes).unwrap();
    let clip = recordings().join("7_theo_0.wav");
    let expected = format!(
        "digits: {} is truncated or corrupt (it declares more values than its 155 bytes can \
         hold); retrain it with `digits train`\n",
        model.display()
    );
    let runs: [Vec<std::ffi::OsString>; 3] = [
        vec![
            "predict".into(),
            "--model".into(),
            model.clone().into(),
            clip.clone().into(),
        ],
        vec![
            "eval".into(),
            "--model".into(),
            model.clone().into(),
            "--data".into(),
            recordings().into(),
        ],
        vec![
            "listen".into(),
            "--model".into(),
            model.clone().into(),
            "--from-wav".into(),
            clip.clone().into(),
            "--fast".into(),
        ],
    ];
    for args in runs {
        let out = digits_cmd().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8(out.stderr).unwrap(), expected, "{args:?}");
    }
}

/// Parquet files whose footers declare lists of booleans they do not
/// hold: `eval` spun 5 s on the 20-byte one and about an hour and a half on
/// the 6 KB one before its error. Now the error comes at once.
#[test]
fn parquet_files_that_spun_the_reader_are_errors_at_once() {
    for name in ["hang_list1.parquet", "hang_nested.parquet"] {
        let path = fuzz_find(name);
        let out = digits_cmd()
            .args(["eval", "--split", "all", "--data"])
            .arg(&path)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            format!(
                "digits: {}: not a dataset parquet file: its metadata is corrupt (a list in a \
                 FileMetaData declares 2147483647 values it does not hold)\n",
                path.display()
            ),
            "{name}"
        );
    }
}
