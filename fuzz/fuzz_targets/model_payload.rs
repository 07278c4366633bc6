//! A mutated payload behind a valid header and checksum (so the mutations
//! reach the decoder, not the checksum test) → a loaded model → a
//! prediction with it.
#![no_main]

mod common;

use digits::model::{ModelFile, Recognizer, FORMAT_VERSION, MAGIC};

libfuzzer_sys::fuzz_target!(|payload: &[u8]| {
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&crc32(payload).to_le_bytes());
    bytes.extend_from_slice(payload);
    match ModelFile::from_bytes(&bytes, "fuzz.model") {
        Ok(model) => match Recognizer::new(model) {
            Ok(mut r) => common::check_recognition(&mut r, &common::tone(), 8000),
            Err(e) => common::assert_one_line(&e),
        },
        Err(e) => common::assert_one_line(&e),
    }
});

/// CRC-32 (IEEE), as the model file's checksum.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
