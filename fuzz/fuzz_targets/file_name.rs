//! Arbitrary file names (bytes, any control character) given to every
//! loader: each error names the file on one line.
#![no_main]

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

libfuzzer_sys::fuzz_target!(|name: &[u8]| {
    if name.is_empty() || name.contains(&0) {
        return;
    }
    // Inside a folder that does not exist, so no name reaches a real file.
    let dir = Path::new("/nonexistent-digits-fuzz");
    let path = dir.join(OsStr::from_bytes(name));
    if let Err(e) = digits::audio::read_wav(&path) {
        common::assert_one_line(&e);
    }
    if let Err(e) = digits::model::ModelFile::load(&path) {
        common::assert_one_line(&e);
    }
    if let Err(e) = digits::data::read_parquet(&path) {
        common::assert_one_line(&e);
    }
    if let Err(e) = digits::model::ModelFile::check_destination(&path) {
        common::assert_one_line(&e);
    }
});
