//! WAV bytes → decoded audio → the embedded model's prediction.
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    match digits::audio::decode_wav(bytes) {
        Ok(audio) => {
            assert!(audio.samples.iter().all(|v| v.is_finite()));
            // Long enough files only: recognition of every short one is
            // covered, and a long one would only be slow.
            if audio.samples.len() <= 1 << 17 {
                common::recognize_embedded(&audio.samples, audio.sample_rate);
            }
        }
        Err(e) => common::assert_one_line(&e),
    }
});
