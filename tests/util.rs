//! Shared helpers: where FSDD is, the binary under test, WAV writers.

use std::io::Cursor;
use std::path::PathBuf;

pub fn recordings() -> PathBuf {
    digits::data::shared_fsdd_dir()
}

pub fn digits_cmd() -> assert_cmd::Command {
    assert_cmd::cargo::cargo_bin_cmd!("digits")
}

/// Writes "seven", half a second of silence and "three" (two FSDD clips)
/// to `path`: a file that sounds like two words.
pub fn write_two_words(path: &std::path::Path) {
    let read = |n: &str| {
        digits::audio::read_wav(&recordings().join(n))
            .unwrap()
            .samples
    };
    let mut two = read("7_theo_0.wav");
    two.extend(std::iter::repeat_n(0.0, 4000));
    two.extend(read("3_lucas_1.wav"));
    std::fs::write(path, wav_bytes(&two, 8000, 1, 16, false)).unwrap();
}

/// Writes `samples` (interleaved, in [-1, 1]) as a WAV of the given format.
pub fn wav_bytes(samples: &[f32], rate: u32, channels: u16, bits: u16, float: bool) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut buf = Vec::new();
    {
        let mut w = hound::WavWriter::new(Cursor::new(&mut buf), spec).unwrap();
        for &s in samples {
            if float {
                w.write_sample(s).unwrap();
            } else {
                let max = ((1i64 << (bits - 1)) - 1) as f32;
                let v = (s * max).round() as i32;
                match bits {
                    8 => w.write_sample(v as i8).unwrap(),
                    16 => w.write_sample(v as i16).unwrap(),
                    _ => w.write_sample(v).unwrap(),
                }
            }
        }
        w.finalize().unwrap();
    }
    buf
}

/// Linear-interpolation resampling, independent of the crate's rubato path.
pub fn resample_linear(x: &[f32], from: u32, to: u32) -> Vec<f32> {
    let n = (x.len() as u64 * to as u64 / from as u64) as usize;
    (0..n)
        .map(|i| {
            let pos = i as f64 * from as f64 / to as f64;
            let i0 = (pos.floor() as usize).min(x.len() - 1);
            let i1 = (i0 + 1).min(x.len() - 1);
            let w = (pos - i0 as f64) as f32;
            x[i0] * (1.0 - w) + x[i1] * w
        })
        .collect()
}

/// A canonical 44-byte WAV header with the given fields: the 16-byte `fmt `
/// chunk (no `cbSize`, as older writers leave it for G.711 too), then the
/// `data` chunk's header. Append `data_len` bytes of samples.
pub fn wav_header(format: u16, channels: u16, rate: u32, bits: u16, data_len: u32) -> Vec<u8> {
    let block = channels as u32 * bits as u32 / 8;
    let mut h = Vec::new();
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + data_len).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&format.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * block).to_le_bytes());
    h.extend_from_slice(&(block as u16).to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}

/// `wav` with its RIFF size set to `riff` and its `data` chunk's size to
/// `data`, as a writer that cannot seek back leaves them (ffmpeg to a pipe:
/// 0xFFFFFFFF; sox: 0x7FFFF000; arecord: 0x80000000; some writers 0).
pub fn reheaded(wav: &[u8], riff: u32, data: u32) -> Vec<u8> {
    let mut out = wav.to_vec();
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    let mut pos = 12;
    while &out[pos..pos + 4] != b"data" {
        let size = u32::from_le_bytes(out[pos + 4..pos + 8].try_into().unwrap()) as usize;
        pos += 8 + size + size % 2;
    }
    out[pos + 4..pos + 8].copy_from_slice(&data.to_le_bytes());
    out
}

/// Writes `word` in espeak-ng's `voice` at `rate` words a minute and
/// `pitch` (0-99) to the WAV file `out`.
pub fn espeak(voice: &str, rate: u32, pitch: u32, word: &str, out: &std::path::Path) {
    let status = std::process::Command::new("espeak-ng")
        .args([
            "-v",
            voice,
            "-s",
            &rate.to_string(),
            "-p",
            &pitch.to_string(),
        ])
        .arg("-w")
        .arg(out)
        .arg(word)
        .status()
        .unwrap_or_else(|e| panic!("espeak-ng: {e}; apt-get install -y espeak-ng"));
    assert!(status.success(), "espeak-ng {voice} failed");
}
