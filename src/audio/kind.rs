//! What a file that is not a WAV looks like, from its first bytes, so the
//! error can say so and give the conversion command for that very file.

use std::path::Path;

/// The kind of audio (or other) file `head` (the first 12 bytes or fewer)
/// starts like, as a phrase (`an MP3 file`), if it is a common one.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    let at = |i: usize, tag: &[u8]| head.get(i..i + tag.len()) == Some(tag);
    Some(
        if at(0, b"ID3") || (head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0) {
            "an MP3 file"
        } else if at(0, b"OggS") {
            "an Ogg file (Vorbis or Opus)"
        } else if at(0, b"fLaC") {
            "a FLAC file"
        } else if at(0, b"FORM") && (at(8, b"AIFF") || at(8, b"AIFC")) {
            "an AIFF file"
        } else if at(4, b"ftyp") {
            "an MP4/M4A file"
        } else if at(0, b"\x1A\x45\xDF\xA3") {
            "a WebM/Matroska file"
        } else if at(0, b"#!AMR") {
            "an AMR file"
        } else if at(0, b"caff") {
            "a Core Audio (CAF) file"
        } else if at(0, b"RF64") || at(0, b"BW64") {
            "a 64-bit WAV (RF64) file, which is not read"
        } else if at(0, b"RIFF") {
            "a RIFF file that holds no WAVE audio"
        } else if at(0, b"MThd") {
            "a MIDI file"
        } else {
            return None;
        },
    )
}

/// `ffmpeg -i NAME STEM.wav` for the file at `path` (quoted for a shell
/// where it needs to be), or with placeholders when there is no name.
pub fn convert_command(path: Option<&Path>) -> String {
    let Some(path) = path.filter(|p| p.file_name().is_some()) else {
        return "ffmpeg -i in.mp3 out.wav".into();
    };
    let input = shell_word(&crate::text::path(path));
    let output = shell_word(&crate::text::path(&path.with_extension("wav")));
    // `x.wav` that is not a WAV: write the converted one beside it.
    let output = if output == input {
        shell_word(&crate::text::path(&path.with_extension("converted.wav")))
    } else {
        output
    };
    format!("ffmpeg -i {input} {output}")
}

/// `word` as one shell word: as is when it is plain, else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = word
        .chars()
        .all(|c| c.is_alphanumeric() || "-_./+,:@%".contains(c));
    if plain && !word.is_empty() {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_formats_are_named_and_the_command_names_the_file() {
        assert_eq!(sniff(b"ID3\x03\0\0\0\0"), Some("an MP3 file"));
        assert_eq!(sniff(&[0xFF, 0xFB, 0x90, 0]), Some("an MP3 file"));
        assert_eq!(sniff(b"OggS\0\x02"), Some("an Ogg file (Vorbis or Opus)"));
        assert_eq!(sniff(b"fLaC\0\0\0\x22"), Some("a FLAC file"));
        assert_eq!(sniff(b"\0\0\0\x20ftypM4A "), Some("an MP4/M4A file"));
        assert_eq!(sniff(b"hello"), None);
        assert_eq!(
            convert_command(Some(Path::new("takes/one.mp3"))),
            "ffmpeg -i takes/one.mp3 takes/one.wav"
        );
        assert_eq!(
            convert_command(Some(Path::new("my take.ogg"))),
            "ffmpeg -i 'my take.ogg' 'my take.wav'"
        );
        assert_eq!(
            convert_command(Some(Path::new("x.wav"))),
            "ffmpeg -i x.wav x.converted.wav"
        );
        assert_eq!(convert_command(None), "ffmpeg -i in.mp3 out.wav");
    }
}
