//! What every target checks: an error is one line of words (no control
//! characters, no debug structure), and a result is usable.

// Each target includes this file with `mod common;` and uses only some of
// its helpers; the rest would warn as dead code in that target's build.
#![allow(dead_code)]

use std::cell::RefCell;
use std::path::Path;

use digits::model::{ModelFile, Recognizer};

/// Panics unless `err` and every error under it print as one line with no
/// control character and no `Name {` debug structure.
pub fn assert_one_line(err: &(dyn std::error::Error + 'static)) {
    assert_one_line_naming(err, None);
}

/// [`assert_one_line`] for an error that may name `path` (or a folder
/// above it), a name that came from the input: it is checked for control
/// characters like the rest, but its own text is no debug structure, so a
/// file named `Take(2).wav` or `Bmj(d` is not taken for one.
pub fn assert_one_line_naming(err: &(dyn std::error::Error + 'static), path: Option<&Path>) {
    // Longest first: the path, then each folder above it, as errors show them.
    let names: Vec<String> = path
        .into_iter()
        .flat_map(Path::ancestors)
        .map(digits::text::path)
        .filter(|n| !n.is_empty() && n != "/")
        .collect();
    let mut e: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cur) = e {
        let text = cur.to_string();
        assert!(
            !text.chars().any(char::is_control),
            "control character in an error: {text:?}"
        );
        let words = names
            .iter()
            .fold(text.clone(), |t, name| t.replace(name.as_str(), "<path>"));
        assert!(
            !looks_like_debug(&words),
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
