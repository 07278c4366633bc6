//! Audio input: every way samples enter `digits` ends here as mono `f32` at
//! the model's rate.
//!
//! This module owns WAV decoding (hound reads the header and 32-bit float,
//! integer PCM of up to 32 bits in containers of 1 to 4 bytes is read
//! straight from the data chunk, symphonia decodes the WAV encodings hound
//! lacks: μ-law, A-law, IMA and Microsoft ADPCM, 64-bit float; any channel
//! count, downmixed to mono), the checks that turn a bad file into one
//! clear error, and resampling to [`MODEL_RATE`] with rubato.
//! Feature extraction (`features`) never sees anything but the output of
//! [`Resampler8k`], so training, evaluation, `predict` and `listen` all hear
//! the same signal.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Cursor;
use std::path::Path;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// The sample rate every front end works at (FSDD's own rate).
pub const MODEL_RATE: u32 = 8_000;

/// Lowest and highest input rate accepted. Below 4 kHz a digit is not
/// intelligible; above 384 kHz the header is almost certainly corrupt.
pub const MIN_RATE: u32 = 4_000;
pub const MAX_RATE: u32 = 384_000;
/// More channels than this is a corrupt header, not a microphone.
pub const MAX_CHANNELS: u16 = 64;

/// Errors from reading or converting audio.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "not a WAV file (no RIFF/WAVE header); convert it first, e.g. `ffmpeg -i in.mp3 out.wav`"
    )]
    NotWav,
    #[error("truncated or corrupt WAV data ({0}); re-record or re-export the file")]
    Corrupt(String),
    /// A file of 0 bytes.
    #[error("the file is empty (0 bytes); re-record or re-export it")]
    EmptyFile,
    /// Bytes to decode that are none at all: standard input that got
    /// nothing, as when the recorder failed before writing its header.
    #[error(
        "nothing arrived (0 bytes); check what the recorder or the command writing it printed"
    )]
    NoBytes,
    /// Reading a stream (standard input) failed.
    #[error("reading failed")]
    Stream(#[source] std::io::Error),
    #[error("the WAV file holds no samples; re-record or re-export it")]
    Empty,
    #[error("unsupported WAV encoding: {0}; convert it to PCM, e.g. `ffmpeg -i in.wav -c:a pcm_s16le out.wav`")]
    Unsupported(String),
    #[error("implausible sample rate {0} Hz (accepted: {MIN_RATE}..={MAX_RATE} Hz)")]
    BadRate(u32),
    #[error("implausible channel count {0} (accepted: 1..={MAX_CHANNELS})")]
    BadChannels(u16),
    /// [`AudioError::BadRate`] in a WAV header: a corrupt file or a bad export.
    #[error(
        "implausible sample rate {0} Hz (accepted: {MIN_RATE}..={MAX_RATE} Hz); re-record or re-export the file"
    )]
    WavRate(u32),
    /// [`AudioError::BadChannels`] in a WAV header.
    #[error("implausible channel count {0} (accepted: 1..={MAX_CHANNELS}); re-record or re-export the file")]
    WavChannels(u16),
    #[error("{path}")]
    InFile {
        path: String,
        #[source]
        source: Box<AudioError>,
    },
    #[error("resampling from {from} Hz failed: {reason}")]
    Resample { from: u32, reason: String },
}

pub type Result<T> = std::result::Result<T, AudioError>;

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
        hi - lo <= 1.0 / 32768.0
    }
}

/// Reads a WAV file from disk. Its first 12 bytes are checked before the
/// rest is read: a file that is not a WAV (a 2 GB disk image, `/dev/zero`)
/// is refused at once instead of read whole.
pub fn read_wav(path: &Path) -> Result<Audio> {
    let name = || path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| AudioError::Io {
        path: name(),
        source,
    })?;
    // `File::read_to_end` reserves the rest of the file in one allocation.
    read_wav_stream(file).map_err(|e| match e {
        AudioError::Stream(source) => AudioError::Io {
            path: name(),
            source,
        },
        e => AudioError::InFile {
            path: name(),
            source: Box::new(match e {
                AudioError::NoBytes => AudioError::EmptyFile,
                e => e,
            }),
        },
    })
}

/// Reads a WAV from a stream (standard input, a pipe) to its end and decodes
/// it. Its first 12 bytes are checked before the rest is read, so a stream
/// that is not a WAV (`< /dev/zero`) is refused at once, not read forever.
pub fn read_wav_stream(mut reader: impl std::io::Read) -> Result<Audio> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    (&mut reader)
        .take(12)
        .read_to_end(&mut bytes)
        .map_err(AudioError::Stream)?;
    check_riff(&bytes)?;
    reader.read_to_end(&mut bytes).map_err(AudioError::Stream)?;
    decode_wav(&bytes)
}

/// Refuses bytes that do not start with `RIFF....WAVE`.
fn check_riff(bytes: &[u8]) -> Result<()> {
    if bytes.is_empty() {
        return Err(AudioError::NoBytes);
    }
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(AudioError::NotWav);
    }
    Ok(())
}

/// Decodes WAV bytes into mono `f32` samples at the file's own rate.
pub fn decode_wav(bytes: &[u8]) -> Result<Audio> {
    check_riff(bytes)?;
    let even = with_even_chunks(bytes);
    let sized = with_stream_sizes(&even);
    let bytes = &*sized;
    let encoding = WavEncoding::of(bytes);
    let (interleaved, channels, sample_rate) = match encoding {
        Some(WavEncoding::Pcm | WavEncoding::Float { bits: 32 }) | None => decode_hound(bytes)?,
        Some(_) => decode_symphonia(bytes, encoding)?,
    };
    if interleaved.len() < channels {
        return Err(AudioError::Empty);
    }
    if encoding != Some(WavEncoding::Pcm) {
        check_float_range(&interleaved, channels)?;
    }
    Ok(Audio {
        samples: downmix(&interleaved, channels),
        sample_rate,
    })
}

/// Float encodings can hold NaN, infinity or values whose square overflows
/// f32; no front end survives them. Real float audio lies near ±1 (a little
/// above where it clips), so a million is far past any of it.
fn check_float_range(interleaved: &[f32], channels: usize) -> Result<()> {
    let Some(i) = interleaved
        .iter()
        .position(|v| !v.is_finite() || v.abs() > 1e6)
    else {
        return Ok(());
    };
    let v = interleaved[i];
    Err(AudioError::Corrupt(if v.is_finite() {
        format!("sample {} is {v:e}, far outside ±1", i / channels)
    } else {
        format!("sample {} is not a finite number", i / channels)
    }))
}

/// The encoding a WAV file's `fmt ` chunk declares (`wFormatTag`, or the
/// sub-format of an extensible header): it picks the decoder, and names the
/// encoding when neither decoder has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WavEncoding {
    Pcm,
    Float { bits: u16 },
    Other(u16),
}

impl WavEncoding {
    fn of(bytes: &[u8]) -> Option<Self> {
        let mut tag = fmt_field(bytes, 0)?;
        if tag == 0xFFFE {
            // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with the tag.
            tag = fmt_field(bytes, 24)?;
        }
        Some(match tag {
            1 => Self::Pcm,
            3 => Self::Float {
                bits: fmt_field(bytes, 14)?,
            },
            other => Self::Other(other),
        })
    }

    /// A name for an encoding neither decoder reads.
    fn describe(self) -> String {
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

/// Integer PCM and 32-bit float, through hound.
fn decode_hound(bytes: &[u8]) -> Result<(Vec<f32>, usize, u32)> {
    let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(map_hound)?;
    let spec = reader.spec();
    check_header(spec.sample_rate, spec.channels)?;
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => collect(reader.into_samples::<f32>(), |s| s)?,
        (hound::SampleFormat::Int, valid) => pcm(reader, bytes, spec.channels, valid)?,
        (hound::SampleFormat::Float, bits) => {
            return Err(AudioError::Unsupported(format!("{bits}-bit float")))
        }
    };
    Ok((interleaved, spec.channels as usize, spec.sample_rate))
}

/// Every other WAV encoding symphonia decodes (μ-law, A-law, ADPCM, 64-bit
/// float); the rest get an error naming the encoding.
fn decode_symphonia(bytes: &[u8], encoding: Option<WavEncoding>) -> Result<(Vec<f32>, usize, u32)> {
    use symphonia::core::audio::SampleBuffer;
    use symphonia::core::codecs::DecoderOptions;
    use symphonia::core::errors::Error as SymError;
    use symphonia::core::formats::FormatOptions;
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;
    use symphonia::core::probe::Hint;

    let unsupported = || {
        AudioError::Unsupported(encoding.map_or_else(|| "unknown".into(), WavEncoding::describe))
    };
    let map = |e: SymError| match e {
        SymError::Unsupported(_) => unsupported(),
        other => AudioError::Corrupt(other.to_string()),
    };
    // symphonia panics on a rate of 0 (a time base of 1/0): the header's
    // rate and channel count are checked before it sees them.
    if let (Some(rate), Some(channels)) = (fmt_u32(bytes, 4), fmt_field(bytes, 2)) {
        check_header(rate, channels)?;
    }
    // symphonia's ADPCM decoder reads one or two channels of 4-bit codes
    // and panics on more channels: refuse the rest here.
    if let Some(WavEncoding::Other(tag @ (0x0002 | 0x0011))) = encoding {
        let field = |at| fmt_field(bytes, at).unwrap_or(0);
        let (channels, bits) = (field(2), field(14));
        if !(1..=2).contains(&channels) || bits != 4 {
            let name = if tag == 0x0002 { "Microsoft" } else { "IMA" };
            return Err(AudioError::Unsupported(format!(
                "{name} ADPCM with {channels} channels of {bits}-bit codes (1 or 2 channels of 4 bits are read)"
            )));
        }
    }
    let source = MediaSourceStream::new(
        Box::new(Cursor::new(with_cb_size(bytes))),
        Default::default(),
    );
    let mut format = symphonia::default::get_probe()
        .format(
            Hint::new().with_extension("wav"),
            source,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(map)?
        .format;
    let params = format
        .default_track()
        .ok_or_else(unsupported)?
        .codec_params
        .clone();
    let (Some(rate), Some(layout)) = (params.sample_rate, params.channels) else {
        return Err(unsupported());
    };
    let channels = layout.count();
    check_header(rate, channels.try_into().unwrap_or(u16::MAX))?;
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(map)?;
    let mut out = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            // The end of the data chunk.
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(map(e)),
        };
        let decoded = decoder.decode(&packet).map_err(map)?;
        let mut buf = SampleBuffer::<f32>::new(decoded.capacity() as u64, *decoded.spec());
        buf.copy_interleaved_ref(decoded);
        out.extend_from_slice(buf.samples());
    }
    Ok((out, channels, rate))
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

/// One chunk of a RIFF file: where its header starts, its id, its declared
/// size, and whether a pad byte follows its body.
struct Chunk {
    at: usize,
    id: [u8; 4],
    size: usize,
    padded: bool,
}

/// The chunks of a WAV file after `RIFF....WAVE`, up to the first header
/// that does not fit in `bytes`. RIFF follows an odd-sized chunk with a pad
/// byte; where a writer left it out (an id right after the body, none a
/// byte later), the walk follows the writer.
fn chunks(bytes: &[u8]) -> impl Iterator<Item = Chunk> + '_ {
    let id_at = |pos: usize| bytes.get(pos..).is_some_and(starts_with_id);
    let mut next = Some(12usize);
    std::iter::from_fn(move || {
        let at = next?;
        let header = bytes.get(at..at.checked_add(8)?)?;
        let id = [header[0], header[1], header[2], header[3]];
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let end = (at + 8).checked_add(size);
        let padded = size % 2 == 1 && !end.is_some_and(|e| id_at(e) && !id_at(e + 1));
        next = end.and_then(|e| e.checked_add(usize::from(padded)));
        Some(Chunk {
            at,
            id,
            size,
            padded,
        })
    })
}

/// Where the body of the `fmt ` chunk lies in `bytes`, if the file has one.
fn fmt_range(bytes: &[u8]) -> Option<std::ops::Range<usize>> {
    let fmt = chunks(bytes).find(|c| &c.id == b"fmt ")?;
    Some(fmt.at + 8..(fmt.at + 8).saturating_add(fmt.size).min(bytes.len()))
}

/// `bytes` with every odd-sized chunk before `data` (but `fmt `) grown by
/// one byte to an even size, taking in the pad byte that follows it (or a
/// zero byte inserted where the writer left the pad out). hound skips a
/// chunk's declared size and no pad byte, so it lost its place after such a
/// chunk ("Failed to read enough bytes"); symphonia skips the pad byte even
/// where it is missing. With even sizes both find the data. Borrowed when
/// no chunk before the data is odd.
fn with_even_chunks(bytes: &[u8]) -> Cow<'_, [u8]> {
    let before_data = || chunks(bytes).take_while(|c| &c.id != b"data");
    let odd = |c: &Chunk| {
        c.size % 2 == 1
            && c.size < u32::MAX as usize
            && &c.id != b"fmt "
            && (c.at + 8)
                .checked_add(c.size)
                .is_some_and(|end| end <= bytes.len())
    };
    if !before_data().any(|c| odd(&c)) {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() + 16);
    let mut copied = 0;
    for c in before_data().filter(odd) {
        let end = c.at + 8 + c.size;
        out.extend_from_slice(&bytes[copied..c.at + 4]);
        out.extend_from_slice(&(c.size as u32 + 1).to_le_bytes());
        out.extend_from_slice(&bytes[c.at + 8..end]);
        out.push(0);
        // The pad byte, where there is one (the input may end before it).
        copied = (end + usize::from(c.padded)).min(bytes.len());
    }
    out.extend_from_slice(&bytes[copied..]);
    let inserted = (out.len() - bytes.len()) as u32;
    let riff = u32::from_le_bytes([out[4], out[5], out[6], out[7]]).saturating_add(inserted);
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    Cow::Owned(out)
}

/// A data chunk size at or above this (2 GiB less 16 MiB) that overruns the
/// input is a placeholder left by a writer that could not seek back, not a
/// length: sox writes 0x7FFFF000 to a pipe, arecord 0x80000000, ffmpeg
/// 0xFFFFFFFF. No digit clip comes near it.
const PLACEHOLDER_SIZE: u32 = 0x7F00_0000;

/// `bytes` with the sizes a streaming writer leaves unknown made real. When
/// the data chunk's size is a placeholder (0 with bytes after it, or
/// [`PLACEHOLDER_SIZE`] and up, past the end of the input) the data runs to
/// the end of the input, less any trailing partial frame (`nBlockAlign`); a
/// RIFF size short of the data chunk's end (0 again) is raised to it. Both
/// decoders then read the file as if it had been finished. A finished file
/// cut short (a size below the placeholders) is left alone and stays an
/// error. Borrowed, with no copy, when the header needs no change.
fn with_stream_sizes(bytes: &[u8]) -> Cow<'_, [u8]> {
    let Some(at) = data_chunk(bytes) else {
        return Cow::Borrowed(bytes);
    };
    let size_at = |pos: usize| {
        u32::from_le_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]])
    };
    let (riff, declared) = (size_at(4), size_at(at + 4));
    let present = bytes.len() - (at + 8);
    let placeholder = if declared == 0 {
        present > 0 && !starts_with_chunk(&bytes[at + 8..])
    } else {
        declared >= PLACEHOLDER_SIZE && declared as usize > present
    };
    let data = if placeholder {
        let frame = block_align(bytes).filter(|&b| b > 0).map_or(1, usize::from);
        let whole = present.min(u32::MAX as usize) / frame * frame;
        whole as u32
    } else {
        declared
    };
    // The RIFF chunk must hold the data chunk (its pad byte aside).
    let riff_needed = (at as u64 + u64::from(data)).min(u64::from(u32::MAX)) as u32;
    if data == declared && riff >= riff_needed {
        return Cow::Borrowed(bytes);
    }
    let mut out = bytes.to_vec();
    out[at + 4..at + 8].copy_from_slice(&data.to_le_bytes());
    if placeholder || riff < riff_needed {
        out[4..8].copy_from_slice(&riff_needed.to_le_bytes());
    }
    Cow::Owned(out)
}

/// Where the `data` chunk's header starts in `bytes`, if the file has one.
fn data_chunk(bytes: &[u8]) -> Option<usize> {
    chunks(bytes).find(|c| &c.id == b"data").map(|c| c.at)
}

/// Whether `rest` begins with four printable characters, as a chunk id.
fn starts_with_id(rest: &[u8]) -> bool {
    rest.get(..4)
        .is_some_and(|id| id.iter().all(|b| (b' '..=b'~').contains(b)))
}

/// Whether `rest` begins with what looks like another chunk (four printable
/// characters and a size that fits), as after a genuinely empty data chunk,
/// rather than with audio.
fn starts_with_chunk(rest: &[u8]) -> bool {
    rest.len() >= 8
        && starts_with_id(rest)
        && u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize <= rest.len() - 8
}

/// `bytes` with a 16-byte `fmt ` chunk grown to 18 (`cbSize` = 0). Older
/// writers (saytime's, many telephone systems') omit `cbSize` for μ-law and
/// A-law; symphonia insists on it, as WAVEFORMATEX does for non-PCM data.
fn with_cb_size(bytes: &[u8]) -> Vec<u8> {
    let Some(fmt) = fmt_range(bytes).filter(|r| r.len() == 16) else {
        return bytes.to_vec();
    };
    let end = fmt.end;
    let mut out = Vec::with_capacity(bytes.len() + 2);
    out.extend_from_slice(&bytes[..end]);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&bytes[end..]);
    out[fmt.start - 4..fmt.start].copy_from_slice(&18u32.to_le_bytes());
    let riff = u32::from_le_bytes([out[4], out[5], out[6], out[7]]).saturating_add(2);
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    out
}

/// The little-endian 16-bit field at byte `at` of the `fmt ` chunk:
/// 0 `wFormatTag`, 2 `nChannels`, 12 `nBlockAlign`, 14 `wBitsPerSample`,
/// 24 an extensible header's sub-format tag.
fn fmt_field(bytes: &[u8], at: usize) -> Option<u16> {
    bytes[fmt_range(bytes)?]
        .get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
}

/// The little-endian 32-bit field at byte `at` of the `fmt ` chunk: 4
/// `nSamplesPerSec`.
fn fmt_u32(bytes: &[u8], at: usize) -> Option<u32> {
    bytes[fmt_range(bytes)?]
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// `nBlockAlign` of the `fmt ` chunk (bytes per frame), if the chunk is there.
fn block_align(bytes: &[u8]) -> Option<u16> {
    fmt_field(bytes, 12)
}

/// Integer PCM from the data chunk hound has just located, read straight
/// from the bytes (hound's per-sample reader costs more than the whole
/// front end, and reads 24 valid bits in a 32-bit container from the wrong
/// end). Each sample is scaled by its valid bits: `valid` (hound's
/// `bits_per_sample`: `wValidBitsPerSample` of an extensible header, or
/// `wBitsPerSample`) of a container of `nBlockAlign / nChannels` bytes.
fn pcm(
    reader: hound::WavReader<Cursor<&[u8]>>,
    bytes: &[u8],
    channels: u16,
    valid: u16,
) -> Result<Vec<f32>> {
    let n = reader.len() as usize;
    let start = reader.into_inner().position() as usize;
    let width = usize::from(block_align(bytes).unwrap_or(0) / channels.max(1));
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
    let data = bytes.get(start..).unwrap_or_default();
    if data.len() / width < n {
        return Err(AudioError::Corrupt(format!(
            "the data chunk declares {n} samples, the file holds {}",
            data.len() / width
        )));
    }
    let data = &data[..n * width];
    let pad = (8 * width as u32).saturating_sub(u32::from(valid));
    let extensible = fmt_field(bytes, 0) == Some(0xFFFE);
    // Shifting a container left by its pad bits moves valid bits kept at
    // its bottom to the top, where the scale expects them.
    let shift = if pad > 0 && valid_bits_at_bottom(data, width, pad, extensible) {
        pad
    } else {
        0
    };
    Ok(match width {
        1 => scaled::<1>(data, shift),
        2 => scaled::<2>(data, shift),
        3 => scaled::<3>(data, shift),
        _ => scaled::<4>(data, shift),
    })
}

/// Every `W`-byte container of `data` at the top of an `i32`, shifted left
/// by `shift`, scaled to [-1, 1]. One copy per width, so that each loop
/// knows its width (one loop for all widths took 14 times as long).
fn scaled<const W: usize>(data: &[u8], shift: u32) -> Vec<f32> {
    let scale = 1.0 / 2_147_483_648.0;
    data.as_chunks::<W>()
        .0
        .iter()
        .map(|c| (at_top(c) << shift) as f32 * scale)
        .collect()
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
/// decides.
fn valid_bits_at_bottom(data: &[u8], width: usize, pad: u32, extensible: bool) -> bool {
    let (mut low_used, mut high_used) = (false, false);
    for c in data.chunks_exact(width) {
        let v = at_top(c);
        // The pad bits at the bottom of the container, and the pad bits at
        // its top with the valid bits' sign bit below them.
        low_used |= (v as u32 >> (32 - 8 * width as u32)) & ((1 << pad) - 1) != 0;
        let top = v >> (31 - pad);
        high_used |= top != 0 && top != -1 && (v as u32 >> (32 - pad)) != 0;
        if low_used && high_used {
            break;
        }
    }
    match (low_used, high_used) {
        (true, false) => true,
        (false, true) => false,
        _ => !extensible,
    }
}

fn collect<S>(
    samples: hound::WavIntoSamples<Cursor<&[u8]>, S>,
    convert: impl Fn(S) -> f32,
) -> Result<Vec<f32>>
where
    S: hound::Sample,
{
    let mut out = Vec::with_capacity(samples.len());
    for s in samples {
        out.push(convert(s.map_err(map_hound)?));
    }
    Ok(out)
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

/// Converts any input rate to [`MODEL_RATE`], building one rubato resampler
/// per input rate the first time it is seen and reusing it after.
#[derive(Default)]
pub struct Resampler8k {
    by_rate: HashMap<u32, Fft<f32>>,
}

impl std::fmt::Debug for Resampler8k {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler8k")
            .field("rates", &self.by_rate.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Resampler8k {
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns `samples` at [`MODEL_RATE`], writing into `out` (cleared first).
    /// At 8 kHz already this is a copy.
    pub fn to_model_rate(&mut self, samples: &[f32], rate: u32, out: &mut Vec<f32>) -> Result<()> {
        out.clear();
        if rate == MODEL_RATE {
            out.extend_from_slice(samples);
            return Ok(());
        }
        check_spec(rate, 1)?;
        if samples.is_empty() {
            return Ok(());
        }
        let fail = |reason: String| AudioError::Resample { from: rate, reason };
        let resampler = match self.by_rate.entry(rate) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let r =
                    Fft::<f32>::new(rate as usize, MODEL_RATE as usize, 1024, 1, FixedSync::Both)
                        .map_err(|err| fail(err.to_string()))?;
                e.insert(r)
            }
        };
        resampler.reset();
        let needed = resampler.process_all_needed_output_len(samples.len());
        out.resize(needed, 0.0);
        let input =
            InterleavedSlice::new(samples, 1, samples.len()).map_err(|e| fail(e.to_string()))?;
        let mut output = InterleavedSlice::new_mut(out.as_mut_slice(), 1, needed)
            .map_err(|e| fail(e.to_string()))?;
        let (_, produced) = resampler
            .process_all_into_buffer(&input, &mut output, samples.len(), None)
            .map_err(|e| fail(e.to_string()))?;
        let expected = (samples.len() as u64 * MODEL_RATE as u64).div_ceil(rate as u64) as usize;
        out.truncate(produced.min(expected));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(fmt_field(&buf, 0), Some(0xFFFE));
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
