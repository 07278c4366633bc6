//! Audio input: every way samples enter `digits` ends here as mono `f32` at
//! the model's rate.
//!
//! One concern per file:
//! - `riff`: the RIFF/WAVE container, its `fmt ` fields and the sizes
//!   streaming writers leave unknown; the canonical header the decoders see;
//! - `pcm`: integer PCM of up to 32 bits in containers of 1 to 4 bytes, and
//!   32-bit float (hound checks the header, the samples are read directly);
//! - `compressed`: μ-law, A-law, IMA and Microsoft ADPCM, 64-bit float,
//!   through symphonia, with the checks that keep its arithmetic in range;
//! - `reader`: [`WavReader`], a WAV as mono blocks decoded as they are asked
//!   for (any channel count, downmixed), so a recording of any length is
//!   read in bounded memory;
//! - `resample`: [`Resampler8k`] and [`StreamResampler`] to [`MODEL_RATE`]
//!   with rubato;
//! - `kind`: what a file that is not a WAV looks like, for its error;
//! - `error`: [`AudioError`].
//!
//! Feature extraction (`features`) never sees anything but the output of
//! these resamplers, so training, evaluation, `predict` and `listen` all
//! hear the same signal.

mod compressed;
mod error;
mod input;
mod kind;
mod pcm;
mod reader;
mod resample;
mod riff;

use std::path::Path;

pub use error::{AudioError, Result};
pub use reader::WavReader;
pub use resample::{Resampler8k, StreamResampler};

/// The sample rate every front end works at (FSDD's own rate).
pub const MODEL_RATE: u32 = 8_000;

/// Lowest and highest input rate accepted. Below 4 kHz a digit is not
/// intelligible; above 384 kHz the header is almost certainly corrupt.
pub const MIN_RATE: u32 = 4_000;
pub const MAX_RATE: u32 = 384_000;
/// More channels than this is a corrupt header, not a microphone.
pub const MAX_CHANNELS: u16 = 64;

/// Mono samples in [-1, 1] and the rate they were recorded at.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
}

impl Audio {
    /// Duration in seconds.
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / self.sample_rate as f64
    }

    /// No sound at all: every sample within one 16-bit step of the others
    /// (a muted microphone, an empty take). The model would still name a
    /// digit for it, with confidence, so callers that take files refuse it.
    pub fn is_silent(&self) -> bool {
        let (lo, hi) = self
            .samples
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        is_silent_range(lo, hi)
    }
}

/// [`Audio::is_silent`] from the lowest and highest sample.
pub fn is_silent_range(lo: f32, hi: f32) -> bool {
    hi - lo <= 1.0 / 32768.0
}

/// Samples delivered in blocks, from the start, as many times as asked: a
/// recording too long to hold, read again from its file for each pass.
pub trait Replay {
    /// The samples' rate.
    fn sample_rate(&self) -> u32;
    /// Calls `block` with every sample, in order, in blocks of any size.
    fn replay(&mut self, block: &mut dyn FnMut(&[f32])) -> Result<()>;
}

impl Replay for WavReader<'_> {
    fn sample_rate(&self) -> u32 {
        WavReader::sample_rate(self)
    }

    fn replay(&mut self, block: &mut dyn FnMut(&[f32])) -> Result<()> {
        self.rewind()?;
        let mut buf = Vec::new();
        while self.read_block(&mut buf, 1 << 14)? > 0 {
            block(&buf);
        }
        Ok(())
    }
}

/// In-memory audio replays itself in blocks of `block` samples (tests).
impl Replay for (&Audio, usize) {
    fn sample_rate(&self) -> u32 {
        self.0.sample_rate
    }

    fn replay(&mut self, block: &mut dyn FnMut(&[f32])) -> Result<()> {
        for b in self.0.samples.chunks(self.1.max(1)) {
            block(b);
        }
        Ok(())
    }
}

/// Reads a WAV file from disk, a block at a time. Its header is checked
/// before any sample is read: a file that is not a WAV (a 2 GB disk image,
/// `/dev/zero`) is refused at once instead of read whole.
pub fn read_wav(path: &Path) -> Result<Audio> {
    WavReader::open(path)?
        .read_all()
        .map_err(|e| reader::in_file(e, path))
}

/// Reads a WAV from a stream (standard input, a pipe) to its end and decodes
/// it. Its first 12 bytes are checked before the rest is read, so a stream
/// that is not a WAV (`< /dev/zero`) is refused at once, not read forever.
pub fn read_wav_stream(reader: impl std::io::Read) -> Result<Audio> {
    WavReader::from_stream(reader)?.read_all()
}

/// Decodes WAV bytes into mono `f32` samples at the file's own rate.
pub fn decode_wav(bytes: &[u8]) -> Result<Audio> {
    WavReader::from_bytes(bytes)?.read_all()
}

/// [`check_spec`] for the rate and channel count a WAV header declares,
/// with the fix for a file.
fn check_header(sample_rate: u32, channels: u16) -> Result<()> {
    check_spec(sample_rate, channels).map_err(|e| match e {
        AudioError::BadRate(rate) => AudioError::WavRate(rate),
        AudioError::BadChannels(n) => AudioError::WavChannels(n),
        other => other,
    })
}

/// Rejects rates and channel counts no real recording has.
pub fn check_spec(sample_rate: u32, channels: u16) -> Result<()> {
    if !(MIN_RATE..=MAX_RATE).contains(&sample_rate) {
        return Err(AudioError::BadRate(sample_rate));
    }
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(AudioError::BadChannels(channels));
    }
    Ok(())
}

/// Averages interleaved channels into one.
pub fn downmix(interleaved: &[f32], channels: usize) -> Vec<f32> {
    if channels <= 1 {
        return interleaved.to_vec();
    }
    let inv = 1.0 / channels as f32;
    interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() * inv)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn wav_bytes(
        spec: hound::WavSpec,
        write: impl FnOnce(&mut hound::WavWriter<Cursor<&mut Vec<u8>>>),
    ) -> Vec<u8> {
        let mut buf = Vec::new();
        {
            let mut w = hound::WavWriter::new(Cursor::new(&mut buf), spec).unwrap();
            write(&mut w);
            w.finalize().unwrap();
        }
        buf
    }

    #[test]
    fn downmix_averages_channels() {
        assert_eq!(downmix(&[1.0, 0.0, 0.5, 0.5], 2), vec![0.5, 0.5]);
    }

    #[test]
    fn resampling_keeps_a_tone_and_its_length() {
        let rate = 44_100;
        let tone: Vec<f32> = (0..rate)
            .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate as f32).sin() * 0.5)
            .collect();
        let mut out = Vec::new();
        let mut r = Resampler8k::new();
        r.to_model_rate(&tone, rate, &mut out).unwrap();
        assert!((out.len() as i64 - 8000).abs() <= 1, "{}", out.len());
        // Compare the middle against the ideal 440 Hz tone at 8 kHz.
        let err = (1000..7000)
            .map(|i| {
                (out[i] - (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 8000.0).sin() * 0.5)
                    .abs()
            })
            .fold(0.0f32, f32::max);
        // About 0.1 sample of fractional delay is left by the resampler: 3 % of the amplitude.
        assert!(err < 0.03, "max error {err}");
    }

    #[test]
    fn eight_bit_is_scaled_like_sixteen() {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 8,
            sample_format: hound::SampleFormat::Int,
        };
        let bytes = wav_bytes(spec, |w| {
            w.write_sample(64i8).unwrap();
            w.write_sample(-128i8).unwrap();
        });
        assert_eq!(decode_wav(&bytes).unwrap().samples, vec![0.5, -1.0]);
    }

    /// A mono 8 kHz integer PCM WAV of the given containers (`width` bytes
    /// each, little-endian): under WAVE_FORMAT_EXTENSIBLE with
    /// `wBitsPerSample` = 8 × `width` and `wValidBitsPerSample` = `valid`,
    /// or under a plain PCM header with `wBitsPerSample` = `valid` (as
    /// `arecord -f S24_LE` writes 24 bits in 4 bytes).
    fn int_wav(extensible: bool, width: u16, valid: u16, containers: &[u32]) -> Vec<u8> {
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&(if extensible { 0xFFFEu16 } else { 1 }).to_le_bytes());
        fmt.extend_from_slice(&1u16.to_le_bytes());
        fmt.extend_from_slice(&8000u32.to_le_bytes());
        fmt.extend_from_slice(&(8000 * u32::from(width)).to_le_bytes());
        fmt.extend_from_slice(&width.to_le_bytes());
        if extensible {
            fmt.extend_from_slice(&(8 * width).to_le_bytes());
            fmt.extend_from_slice(&22u16.to_le_bytes());
            fmt.extend_from_slice(&valid.to_le_bytes());
            fmt.extend_from_slice(&4u32.to_le_bytes());
            // KSDATAFORMAT_SUBTYPE_PCM
            fmt.extend_from_slice(&[
                1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71,
            ]);
        } else {
            fmt.extend_from_slice(&valid.to_le_bytes());
        }
        let data: Vec<u8> = containers
            .iter()
            .flat_map(|c| c.to_le_bytes()[..usize::from(width)].to_vec())
            .collect();
        let mut body = b"WAVEfmt ".to_vec();
        body.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
        body.extend_from_slice(&fmt);
        body.extend_from_slice(b"data");
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&data);
        let mut wav = b"RIFF".to_vec();
        wav.extend_from_slice(&(body.len() as u32).to_le_bytes());
        wav.extend_from_slice(&body);
        wav
    }

    /// Full scale both ways, a value using every bit, -1 and 0, as `valid`-bit
    /// integers, and what they decode to.
    fn signal(valid: u16) -> (Vec<i32>, Vec<f32>) {
        let max = ((1i64 << (valid - 1)) - 1) as i32;
        let values = vec![max, -max - 1, 0x0123_4567 >> (32 - valid), -1, 0];
        let scale = 1.0 / (1u64 << (valid - 1)) as f32;
        let expected = values.iter().map(|&v| v as f32 * scale).collect();
        (values, expected)
    }

    fn decoded(wav: &[u8]) -> Vec<f32> {
        decode_wav(wav).unwrap().samples
    }

    /// WAVE_FORMAT_EXTENSIBLE puts the valid bits at the top of the
    /// container (sox, ffmpeg, Windows): every container hound reads, and
    /// the ones it refuses, decode at the valid bits' scale.
    #[test]
    fn extensible_samples_sit_at_the_top_of_their_container() {
        for (width, valid) in [(4, 24), (4, 16), (4, 20), (3, 16), (3, 20), (2, 12), (2, 8)] {
            let (values, expected) = signal(valid);
            let pad = 8 * u32::from(width) - u32::from(valid);
            let containers: Vec<u32> = values.iter().map(|&v| (v as u32) << pad).collect();
            assert_eq!(
                decoded(&int_wav(true, width, valid, &containers)),
                expected,
                "{valid} bits in {width} bytes"
            );
        }
    }

    /// Files written with the valid bits at the bottom of the container
    /// instead: hound's own writer (top byte zero), cpal's old I24 (sign
    /// extended), and `arecord -f S24_LE` (ALSA's layout, under a plain PCM
    /// header, where it is the convention). Where the data can only be read
    /// one way, it is read that way; a plain header's 24 bits at the top
    /// too.
    #[test]
    fn samples_at_the_bottom_of_their_container_are_recognised() {
        let (values, expected) = signal(24);
        let zero_top: Vec<u32> = values.iter().map(|&v| v as u32 & 0x00FF_FFFF).collect();
        let sign_top: Vec<u32> = values.iter().map(|&v| v as u32).collect();
        let at_top: Vec<u32> = values.iter().map(|&v| (v as u32) << 8).collect();
        for extensible in [true, false] {
            for (layout, containers) in [
                ("zero top", &zero_top),
                ("sign top", &sign_top),
                ("at top", &at_top),
            ] {
                assert_eq!(
                    decoded(&int_wav(extensible, 4, 24, containers)),
                    expected,
                    "{layout}, extensible {extensible}"
                );
            }
        }
        // hound's writer, as a Rust program would make such a file.
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 24,
            sample_format: hound::SampleFormat::Int,
        };
        let mut buf = Vec::new();
        {
            let spec = hound::WavSpecEx {
                spec,
                bytes_per_sample: 4,
            };
            let mut w = hound::WavWriter::new_with_spec_ex(Cursor::new(&mut buf), spec).unwrap();
            for &v in &values {
                w.write_sample(v).unwrap();
            }
            w.finalize().unwrap();
        }
        assert_eq!(riff::field(&buf[20..], 0), Some(0xFFFE));
        assert_eq!(decoded(&buf), expected);
    }

    /// The usual containers keep their exact values.
    #[test]
    fn full_containers_decode_exactly() {
        for (width, valid) in [(1u16, 8u16), (2, 16), (3, 24), (4, 32)] {
            let (values, expected) = signal(valid);
            let containers: Vec<u32> = values
                .iter()
                .map(|&v| {
                    if width == 1 {
                        (v + 128) as u32
                    } else {
                        v as u32
                    }
                })
                .collect();
            for extensible in [true, false] {
                assert_eq!(
                    decoded(&int_wav(extensible, width, valid, &containers)),
                    expected,
                    "{valid} bits, extensible {extensible}"
                );
            }
        }
    }
}
