//! Text that came from outside (a file name, a field name in a parquet
//! file, a crate's error message) made safe for a one-line message.
//!
//! Every error `digits` prints is one line; a control character from a
//! file (a newline, an escape sequence that repaints the terminal) would
//! break it or hide it. They are shown escaped instead, as Rust writes
//! them (`\n`, `\u{1b}`).

use std::borrow::Cow;
use std::path::Path;

/// `s` with every control character escaped; borrowed when there is none.
pub fn one_line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A path for a message: as [`Path::display`] shows it, control characters
/// escaped.
pub fn path(p: &Path) -> String {
    one_line(&p.display().to_string()).into_owned()
}

/// Control characters (C0, DEL, C1) and the bidirectional-text controls,
/// which reorder what a terminal shows.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(one_line("plain naïve ±1"), "plain naïve ±1");
        assert!(matches!(one_line("plain"), Cow::Borrowed(_)));
        assert_eq!(one_line("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(
            one_line("\u{1b}[2J\u{7f}\u{85}"),
            "\\u{1b}[2J\\u{7f}\\u{85}"
        );
        assert_eq!(one_line("x\u{202E}y"), "x\\u{202e}y");
        assert_eq!(path(Path::new("dir/a\nb.wav")), "dir/a\\nb.wav");
    }
}
