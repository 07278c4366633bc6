//! The RIFF/WAVE container: walking its chunks (a header at a time, so a
//! file is never read whole to find its data), the `fmt ` fields, the sizes
//! a streaming writer leaves unknown, and the canonical header the decoders
//! are given: `RIFF`, `WAVE`, the file's `fmt ` chunk, the `data` header
//! with its real size, nothing else. Neither hound nor symphonia ever sees a
//! chunk size of the file's own: no odd chunk before the data (hound lost
//! its place after one), no size that overflows their arithmetic.

use std::ops::Range;

use super::input::Input;
use super::{AudioError, Result};

/// The encoding a WAV file's `fmt ` chunk declares (`wFormatTag`, or the
/// sub-format of an extensible header): it picks the decoder, and names the
/// encoding when neither decoder has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WavEncoding {
    Pcm,
    Float { bits: u16 },
    Other(u16),
}

impl WavEncoding {
    fn of(fmt: &[u8]) -> Option<Self> {
        let mut tag = field(fmt, 0)?;
        if tag == 0xFFFE {
            // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with the tag.
            tag = field(fmt, 24)?;
        }
        Some(match tag {
            1 => Self::Pcm,
            3 => Self::Float {
                bits: field(fmt, 14)?,
            },
            other => Self::Other(other),
        })
    }

    /// A name for an encoding neither decoder reads.
    pub(crate) fn describe(self) -> String {
        let name = match self {
            Self::Pcm => "PCM",
            Self::Float { .. } => "floating point",
            Self::Other(0x0031) => "GSM 6.10",
            Self::Other(0x0050) => "MPEG audio",
            Self::Other(0x0055) => "MP3",
            Self::Other(0x0040 | 0x0064 | 0x0045) => "G.721/G.726 ADPCM",
            Self::Other(0x00FF | 0x1610) => "AAC",
            Self::Other(0x0160..=0x0163) => "Windows Media Audio",
            Self::Other(_) => "a compressed encoding",
        };
        match self {
            Self::Float { bits } => format!("{bits}-bit {name}"),
            Self::Other(tag) => format!("{name} (format tag 0x{tag:04X})"),
            Self::Pcm => name.into(),
        }
    }
}

/// The little-endian 16-bit field at byte `at` of a `fmt ` chunk's body:
/// 0 `wFormatTag`, 2 `nChannels`, 12 `nBlockAlign`, 14 `wBitsPerSample`,
/// 16 `cbSize`, 18 samples per block (ADPCM) or valid bits (extensible),
/// 24 an extensible header's sub-format tag.
pub(crate) fn field(fmt: &[u8], at: usize) -> Option<u16> {
    fmt.get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
}

/// The little-endian 32-bit field at byte `at` of a `fmt ` body: 4
/// `nSamplesPerSec`.
pub(crate) fn field32(fmt: &[u8], at: usize) -> Option<u32> {
    fmt.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// What the header of a WAV file says, and where its data lies.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// The body of the `fmt ` chunk, as in the file.
    pub fmt: Vec<u8>,
    pub encoding: Option<WavEncoding>,
    /// The data chunk's bytes: from its start, its declared size (a
    /// streaming writer's placeholder replaced by what is there).
    pub data: Range<u64>,
    /// Bytes of the input after the data chunk's header.
    pub present: u64,
}

impl Header {
    /// `nBlockAlign`.
    pub fn block_align(&self) -> u16 {
        field(&self.fmt, 12).unwrap_or(0)
    }

    pub fn channels(&self) -> u16 {
        field(&self.fmt, 2).unwrap_or(0)
    }

    pub fn rate(&self) -> u32 {
        field32(&self.fmt, 4).unwrap_or(0)
    }

    /// The data chunk's bytes that the input holds.
    pub fn data_present(&self) -> Range<u64> {
        self.data.start..self.data.end.min(self.data.start + self.present)
    }

    /// The canonical header for the decoders: `RIFF`, `WAVE`, this `fmt `
    /// chunk (grown to 18 bytes with `cbSize` = 0 when `cb_size` asks and
    /// it has 16: older writers omit it for μ-law and A-law, symphonia
    /// insists on it), and the data chunk's header.
    pub fn canonical(&self, cb_size: bool) -> Vec<u8> {
        let mut fmt = self.fmt.clone();
        if cb_size && fmt.len() == 16 {
            fmt.extend_from_slice(&[0, 0]);
        }
        let data_len = (self.data.end - self.data.start).min(u64::from(u32::MAX)) as u32;
        let riff = (4 + 8 + fmt.len() + fmt.len() % 2 + 8) as u64 + u64::from(data_len);
        let mut out = Vec::with_capacity(fmt.len() + 28);
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(riff.min(u64::from(u32::MAX)) as u32).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
        out.extend_from_slice(&fmt);
        if fmt.len() % 2 == 1 {
            out.push(0);
        }
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data_len.to_le_bytes());
        out
    }
}

/// A `fmt ` chunk larger than this is no format description.
const MAX_FMT_BYTES: u64 = 1 << 16;

/// A data chunk size at or above this (2 GiB less 16 MiB) that overruns the
/// input is a placeholder left by a writer that could not seek back, not a
/// length: sox writes 0x7FFFF000 to a pipe, arecord 0x80000000, ffmpeg
/// 0xFFFFFFFF. No digit clip comes near it.
const PLACEHOLDER_SIZE: u32 = 0x7F00_0000;

/// Refuses bytes that do not start with `RIFF....WAVE`, saying what they
/// look like instead.
pub(crate) fn check_riff(head: &[u8]) -> Result<()> {
    if head.is_empty() {
        return Err(AudioError::NoBytes);
    }
    if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err(AudioError::NotWav {
            kind: super::kind::sniff(head),
            convert: super::kind::convert_command(None),
        });
    }
    Ok(())
}

/// Reads the header of the WAV file in `input`: its chunks up to `data`.
pub(crate) fn read_header(input: &mut Input<'_>) -> Result<Header> {
    let len = input.len();
    let mut head = [0u8; 12];
    let n = input.read_at(0, &mut head).map_err(AudioError::Stream)?;
    check_riff(&head[..n])?;
    let id_at = |input: &mut Input<'_>, pos: u64| -> Result<bool> {
        let mut id = [0u8; 4];
        let n = input.read_at(pos, &mut id).map_err(AudioError::Stream)?;
        Ok(n == 4 && id.iter().all(|b| (b' '..=b'~').contains(b)))
    };
    let mut fmt: Option<Vec<u8>> = None;
    let mut at = 12u64;
    loop {
        let mut header = [0u8; 8];
        if at.checked_add(8).is_none_or(|end| end > len)
            || input.read_at(at, &mut header).map_err(AudioError::Stream)? < 8
        {
            return Err(AudioError::Corrupt(if fmt.is_some() {
                "no data chunk".into()
            } else {
                "no fmt chunk".into()
            }));
        }
        let id = [header[0], header[1], header[2], header[3]];
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let body = at + 8;
        if &id == b"data" {
            let Some(fmt) = fmt else {
                return Err(AudioError::Corrupt("no fmt chunk before the data".into()));
            };
            return data_header(input, fmt, body, size, len);
        }
        if &id == b"fmt " && fmt.is_none() {
            if u64::from(size) > MAX_FMT_BYTES {
                return Err(AudioError::Corrupt(format!("a fmt chunk of {size} bytes")));
            }
            if body + u64::from(size) > len {
                return Err(AudioError::Corrupt("the fmt chunk is cut short".into()));
            }
            let mut bytes = vec![0u8; size as usize];
            input
                .read_exact_at(body, &mut bytes)
                .map_err(AudioError::Stream)?;
            fmt = Some(bytes);
        }
        // RIFF follows an odd-sized chunk with a pad byte; where a writer
        // left it out (an id right after the body, none a byte later), the
        // walk follows the writer.
        let end = body + u64::from(size);
        let padded = size % 2 == 1 && (!id_at(input, end)? || id_at(input, end + 1)?);
        at = end + u64::from(padded);
    }
}

/// The header with the data chunk at `body` declaring `declared` bytes:
/// when that is a placeholder (0 with audio after it, or
/// [`PLACEHOLDER_SIZE`] and up, past the end of the input) the data runs to
/// the end of the input, less any trailing partial frame (`nBlockAlign`).
/// A finished file cut short (a size below the placeholders) keeps its size
/// and stays an error.
fn data_header(
    input: &mut Input<'_>,
    fmt: Vec<u8>,
    body: u64,
    declared: u32,
    len: u64,
) -> Result<Header> {
    let present = len.saturating_sub(body);
    let placeholder = if declared == 0 {
        present > 0 && !starts_with_chunk(input, body, present)?
    } else {
        declared >= PLACEHOLDER_SIZE && u64::from(declared) > present
    };
    let size = if placeholder {
        let frame = field(&fmt, 12).filter(|&b| b > 0).map_or(1, u64::from);
        present.min(u64::from(u32::MAX)) / frame * frame
    } else {
        u64::from(declared)
    };
    Ok(Header {
        encoding: WavEncoding::of(&fmt),
        fmt,
        data: body..body + size,
        present,
    })
}

/// Whether the data at `at` begins with what looks like another chunk (four
/// printable characters and a size that fits), as after a genuinely empty
/// data chunk, rather than with audio.
fn starts_with_chunk(input: &mut Input<'_>, at: u64, present: u64) -> Result<bool> {
    let mut h = [0u8; 8];
    if present < 8 || input.read_at(at, &mut h).map_err(AudioError::Stream)? < 8 {
        return Ok(false);
    }
    Ok(h[..4].iter().all(|b| (b' '..=b'~').contains(b))
        && u64::from(u32::from_le_bytes([h[4], h[5], h[6], h[7]])) <= present - 8)
}
