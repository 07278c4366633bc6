//! Parquet bytes → a dataset's clips.
#![no_main]

mod common;

use std::io::Write as _;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let mut file = tempfile::Builder::new()
        .suffix(".parquet")
        .tempfile()
        .unwrap();
    file.write_all(bytes).unwrap();
    match digits::data::read_parquet(file.path()) {
        Ok(data) => {
            for clip in &data.clips {
                assert!(clip.digit <= 9);
                assert!(clip.samples.iter().all(|v| v.is_finite()));
            }
        }
        Err(e) => common::assert_one_line(&e),
    }
});
