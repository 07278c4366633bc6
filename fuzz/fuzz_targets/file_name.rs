//! Arbitrary file names (bytes, any control character) given to every
//! loader: each error names the file on one line.
#![no_main]

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::PathBuf;

libfuzzer_sys::fuzz_target!(|name: &[u8]| {
    if name.is_empty() || name.contains(&0) {
        return;
    }
    // Inside a folder that does not exist, so no name reaches a real file:
    // the bytes are appended, not joined (`Path::join` with a name that
    // starts with `/` would replace the folder, and the loaders would read,
    // and check_destination write in, real folders).
    let mut bytes = b"/nonexistent-digits-fuzz/".to_vec();
    bytes.extend_from_slice(name);
    let path = PathBuf::from(OsStr::from_bytes(&bytes));
    let check = |e: &(dyn std::error::Error + 'static)| {
        common::assert_one_line_naming(e, Some(&path));
    };
    if let Err(e) = digits::audio::read_wav(&path) {
        check(&e);
    }
    if let Err(e) = digits::model::ModelFile::load(&path) {
        check(&e);
    }
    if let Err(e) = digits::data::read_parquet(&path) {
        check(&e);
    }
    if let Err(e) = digits::model::ModelFile::check_destination(&path) {
        check(&e);
    }
});
