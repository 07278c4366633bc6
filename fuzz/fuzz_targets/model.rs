//! Model-file bytes → a loaded model → a prediction with it.
#![no_main]

mod common;

use digits::model::{ModelFile, Recognizer};

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    match ModelFile::from_bytes(bytes, "fuzz.model") {
        Ok(model) => match Recognizer::new(model) {
            Ok(mut r) => common::check_recognition(&mut r, &common::tone(), 8000),
            Err(e) => common::assert_one_line(&e),
        },
        Err(e) => common::assert_one_line(&e),
    }
});
