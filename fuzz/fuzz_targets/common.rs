//! What every target checks: an error is one line of words (no control
//! characters, no debug structure), and a result is usable.

use std::cell::RefCell;

use digits::model::{ModelFile, Recognizer};

/// Panics unless `err` and every error under it print as one line with no
/// control character and no `Name {` debug structure.
pub fn assert_one_line(err: &(dyn std::error::Error + 'static)) {
    let mut e: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cur) = e {
        let text = cur.to_string();
        assert!(
            !text.chars().any(char::is_control),
            "control character in an error: {text:?}"
        );
        assert!(
            !looks_like_debug(&text),
            "debug structure in an error: {text:?}"
        );
        e = cur.source();
    }
}

/// `Name {` or `Name(` right after a word boundary with no space: how
/// `{:?}` prints a struct or a tuple variant.
fn looks_like_debug(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(2).enumerate().any(|(i, w)| {
        (w == b" {" || w[1] == b'(')
            && w[0].is_ascii_alphanumeric()
            && {
                // The identifier before it starts with a capital letter.
                let start = b[..=i]
                    .iter()
                    .rposition(|c| !c.is_ascii_alphanumeric() && *c != b'_')
                    .map_or(0, |p| p + 1);
                b[start].is_ascii_uppercase() && i + 1 - start >= 3
            }
    })
}

thread_local! {
    static EMBEDDED: RefCell<Recognizer> =
        RefCell::new(Recognizer::new(ModelFile::embedded().unwrap()).unwrap());
}

/// Runs the embedded model on `samples`; whatever it answers must be a
/// probability ranking of the ten digits.
pub fn recognize_embedded(samples: &[f32], rate: u32) {
    EMBEDDED.with_borrow_mut(|r| check_recognition(r, samples, rate));
}

pub fn check_recognition(r: &mut Recognizer, samples: &[f32], rate: u32) {
    match r.recognize(samples, rate) {
        Ok(p) => {
            assert!(p.digit <= 9);
            assert_eq!(p.ranking.len(), 10);
            let _ = r.word_rise_db();
        }
        Err(e) => assert_one_line(&e),
    }
}

/// Half a second of a 300 Hz tone at 8 kHz, to run a loaded model on.
pub fn tone() -> Vec<f32> {
    (0..4000)
        .map(|i| 0.3 * (i as f32 * std::f32::consts::TAU * 300.0 / 8000.0).sin())
        .collect()
}
