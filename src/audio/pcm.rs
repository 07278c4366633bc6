//! Integer PCM of up to 32 bits in containers of 1 to 4 bytes, and 32-bit
//! float: hound checks the header, the samples are read straight from the
//! data chunk a block at a time (hound's per-sample reader costs more than
//! the whole front end, and reads 24 valid bits in a 32-bit container from
//! the wrong end).

use std::io::Cursor;

use super::input::Input;
use super::riff::{field, Header};
use super::{check_header, AudioError, Result};

/// How the data chunk's bytes become samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Integer containers of `width` bytes, shifted left by `shift` bits
    /// (valid bits kept at the bottom of their container move to the top).
    Int {
        width: usize,
        shift: u32,
    },
    Float32,
}

impl Plan {
    /// Bytes per sample (one channel).
    pub fn width(self) -> usize {
        match self {
            Self::Int { width, .. } => width,
            Self::Float32 => 4,
        }
    }
}

/// What hound makes of the header (the canonical one: the file's `fmt `
/// chunk and the data chunk's header), and how to read the samples: the
/// plan, the channel count, the rate and the number of whole frames.
pub(crate) fn plan(header: &Header, input: &mut Input<'_>) -> Result<(Plan, usize, u32, u64)> {
    let canonical = header.canonical(false);
    let reader = hound::WavReader::new(Cursor::new(&canonical)).map_err(map_hound)?;
    let spec = reader.spec();
    check_header(spec.sample_rate, spec.channels)?;
    let channels = usize::from(spec.channels);
    let n = u64::from(reader.len());
    let plan = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => Plan::Float32,
        (hound::SampleFormat::Int, valid) => int_plan(header, input, channels, valid, n)?,
        (hound::SampleFormat::Float, bits) => {
            return Err(AudioError::Unsupported(format!("{bits}-bit float")))
        }
    };
    let width = plan.width() as u64;
    let held = header.present / width;
    if held < n {
        return Err(AudioError::Corrupt(format!(
            "the data chunk declares {n} samples, the file holds {held}"
        )));
    }
    Ok((plan, channels, spec.sample_rate, n / channels as u64))
}

/// Each sample is scaled by its valid bits: `valid` (hound's
/// `bits_per_sample`: `wValidBitsPerSample` of an extensible header, or
/// `wBitsPerSample`) of a container of `nBlockAlign / nChannels` bytes.
fn int_plan(
    header: &Header,
    input: &mut Input<'_>,
    channels: usize,
    valid: u16,
    n: u64,
) -> Result<Plan> {
    let width = usize::from(header.block_align()) / channels.max(1);
    if width == 0 {
        return Err(AudioError::Corrupt(
            "nBlockAlign is smaller than nChannels".into(),
        ));
    }
    if width > 4 {
        return Err(AudioError::Unsupported(format!(
            "{}-bit integer",
            8 * width as u32
        )));
    }
    let pad = (8 * width as u32).saturating_sub(u32::from(valid));
    let extensible = field(&header.fmt, 0) == Some(0xFFFE);
    // Shifting a container left by its pad bits moves valid bits kept at
    // its bottom to the top, where the scale expects them.
    let shift =
        if pad > 0 && valid_bits_at_bottom(input, header.data.start, n, width, pad, extensible)? {
            pad
        } else {
            0
        };
    Ok(Plan::Int { width, shift })
}

/// Converts whole samples of `bytes` by `plan` into `out` (appended).
pub(crate) fn convert(plan: Plan, bytes: &[u8], out: &mut Vec<f32>) {
    match plan {
        Plan::Int { width: 1, shift } => scaled::<1>(bytes, shift, out),
        Plan::Int { width: 2, shift } => scaled::<2>(bytes, shift, out),
        Plan::Int { width: 3, shift } => scaled::<3>(bytes, shift, out),
        Plan::Int { shift, .. } => scaled::<4>(bytes, shift, out),
        Plan::Float32 => out.extend(
            bytes
                .as_chunks::<4>()
                .0
                .iter()
                .map(|b| f32::from_le_bytes(*b)),
        ),
    }
}

/// Every `W`-byte container of `data` at the top of an `i32`, shifted left
/// by `shift`, scaled to [-1, 1]. One copy per width, so that each loop
/// knows its width (one loop for all widths took 14 times as long).
fn scaled<const W: usize>(data: &[u8], shift: u32, out: &mut Vec<f32>) {
    let scale = 1.0 / 2_147_483_648.0;
    out.extend(
        data.as_chunks::<W>()
            .0
            .iter()
            .map(|c| (at_top(c) << shift) as f32 * scale),
    );
}

/// A little-endian integer container of 1 to 4 bytes at the top of an
/// `i32` (8-bit WAV samples are unsigned, the rest signed), so that every
/// width has the same scale, 2³¹.
fn at_top(container: &[u8]) -> i32 {
    match *container {
        [a] => i32::from_le_bytes([0, 0, 0, a ^ 0x80]),
        [a, b] => i32::from_le_bytes([0, 0, a, b]),
        [a, b, c] => i32::from_le_bytes([0, a, b, c]),
        [a, b, c, d] => i32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// Whether samples narrower than their container (`pad` unused bits) sit
/// at its bottom. WAVE_FORMAT_EXTENSIBLE puts them at the top, the low bits
/// zero (Microsoft's definition of `wValidBitsPerSample`), but hound's own
/// writer puts them at the bottom, the top bits zero (some capture code
/// fills them with copies of the sign instead). A plain
/// PCM header with 24 bits in 4 bytes is ALSA's `S24_LE` (`arecord`), also
/// at the bottom. When the data can only be read one way (bits used below
/// the top `valid` ones, or above the bottom ones), it is read that way;
/// when either would do (quiet audio, or none), the header's convention
/// decides. The `n` samples from `start` are read a block at a time, until
/// both are seen.
fn valid_bits_at_bottom(
    input: &mut Input<'_>,
    start: u64,
    n: u64,
    width: usize,
    pad: u32,
    extensible: bool,
) -> Result<bool> {
    let (mut low_used, mut high_used) = (false, false);
    let mut buf = vec![0u8; 1 << 16];
    let (mut at, end) = (start, start + n * width as u64);
    while at < end && !(low_used && high_used) {
        let want = ((end - at) as usize).min(buf.len() / width * width);
        let got = input
            .read_at(at, &mut buf[..want])
            .map_err(AudioError::Stream)?;
        if got < width {
            break;
        }
        for c in buf[..got].chunks_exact(width) {
            let v = at_top(c);
            // The pad bits at the bottom of the container, and the pad bits at
            // its top with the valid bits' sign bit below them.
            low_used |= (v as u32 >> (32 - 8 * width as u32)) & ((1 << pad) - 1) != 0;
            let top = v >> (31 - pad);
            high_used |= top != 0 && top != -1 && (v as u32 >> (32 - pad)) != 0;
        }
        at += got as u64;
    }
    Ok(match (low_used, high_used) {
        (true, false) => true,
        (false, true) => false,
        _ => !extensible,
    })
}

fn map_hound(e: hound::Error) -> AudioError {
    match e {
        hound::Error::IoError(io) => AudioError::Corrupt(io.to_string()),
        hound::Error::FormatError(msg) => AudioError::Corrupt(msg.to_string()),
        hound::Error::Unsupported => AudioError::Unsupported("a compressed encoding".into()),
        hound::Error::TooWide => AudioError::Unsupported("sample width over 32 bits".into()),
        hound::Error::UnfinishedSample => AudioError::Corrupt("file ends inside a sample".into()),
        hound::Error::InvalidSampleFormat => {
            AudioError::Unsupported("invalid sample format".into())
        }
    }
}
