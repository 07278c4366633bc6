//! The WAV encodings hound lacks, through symphonia: μ-law, A-law, IMA and
//! Microsoft ADPCM, 64-bit float. symphonia is given the canonical header
//! (see `riff`) and the data chunk, read a packet at a time; the header is
//! checked first, and every ADPCM block before it is decoded, for what
//! would overflow symphonia's arithmetic (a panic in a debug build, garbage
//! in a release one) or index past its buffers.

use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{Decoder, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::input::Input;
use super::riff::{field, Header, WavEncoding};
use super::{check_header, AudioError, Result};

const MS_ADPCM: u16 = 0x0002;
const IMA_ADPCM: u16 = 0x0011;

/// A symphonia decoder over a WAV's data chunk, a packet at a time.
pub(crate) struct Compressed {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    /// Set for Microsoft ADPCM: each block is checked before decoding.
    ms_adpcm: Option<MsAdpcm>,
    pub channels: usize,
    pub rate: u32,
    /// Blocks decoded so far, for messages.
    blocks: u64,
}

impl std::fmt::Debug for Compressed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressed")
            .field("channels", &self.channels)
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

/// The Microsoft ADPCM block layout.
#[derive(Debug, Clone, Copy)]
struct MsAdpcm {
    block_align: usize,
    channels: usize,
}

impl Compressed {
    /// Checks the header and opens symphonia on it and the data chunk.
    pub fn open(header: &Header, input: &Input<'_>) -> Result<Self> {
        let unsupported = || {
            AudioError::Unsupported(
                header
                    .encoding
                    .map_or_else(|| "unknown".into(), WavEncoding::describe),
            )
        };
        let map = |e: SymError| match e {
            SymError::Unsupported(_) => unsupported(),
            other => AudioError::Corrupt(other.to_string()),
        };
        // symphonia panics on a rate of 0 (a time base of 1/0): the
        // header's rate and channel count are checked before it sees them.
        check_header(header.rate(), header.channels())?;
        let ms_adpcm = check_adpcm_header(header)?;
        let source: Box<dyn MediaSource> = match input {
            Input::Bytes(bytes) => {
                let data = header.data_present();
                let mut all = header.canonical(true);
                all.extend_from_slice(&bytes[data.start as usize..data.end as usize]);
                Box::new(Cursor::new(all))
            }
            Input::File { file, .. } => Box::new(
                Spliced::new(
                    header.canonical(true),
                    file.try_clone().map_err(AudioError::Stream)?,
                    header.data_present(),
                )
                .map_err(AudioError::Stream)?,
            ),
        };
        let format = symphonia::default::get_probe()
            .format(
                Hint::new().with_extension("wav"),
                MediaSourceStream::new(source, Default::default()),
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
        let decoder = symphonia::default::get_codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(map)?;
        Ok(Self {
            format,
            decoder,
            ms_adpcm,
            channels,
            rate,
            blocks: 0,
        })
    }

    /// Appends the next packet's samples (interleaved) to `out`; false at
    /// the end of the data.
    pub fn next(&mut self, out: &mut Vec<f32>) -> Result<bool> {
        let packet = match self.format.next_packet() {
            Ok(p) => p,
            // The end of the data chunk.
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Ok(false)
            }
            Err(e) => return Err(AudioError::Corrupt(e.to_string())),
        };
        if let Some(layout) = self.ms_adpcm {
            for block in packet.buf().chunks(layout.block_align) {
                check_ms_adpcm_block(block, layout.channels).map_err(|reason| {
                    AudioError::Corrupt(format!(
                        "Microsoft ADPCM block {} is corrupt: {reason}",
                        self.blocks
                    ))
                })?;
                self.blocks += 1;
            }
        }
        // A decoding error here is corrupt data, never an unsupported
        // encoding (that was settled when the decoder was made).
        let decoded = self
            .decoder
            .decode(&packet)
            .map_err(|e| AudioError::Corrupt(e.to_string()))?;
        let mut buf = SampleBuffer::<f32>::new(decoded.capacity() as u64, *decoded.spec());
        buf.copy_interleaved_ref(decoded);
        out.extend_from_slice(buf.samples());
        Ok(true)
    }
}

/// symphonia's ADPCM decoders read one or two channels of 4-bit codes and
/// panic on more channels; their block sizes are computed in 16 bits
/// (`(nBlockAlign − 7·nChannels) · 8`, which overflowed on a crafted
/// header), and IMA's stereo layout indexes past its buffer unless the
/// codes fill whole 8-byte groups. Refused here, with words.
fn check_adpcm_header(header: &Header) -> Result<Option<MsAdpcm>> {
    let Some(WavEncoding::Other(tag @ (MS_ADPCM | IMA_ADPCM))) = header.encoding else {
        return Ok(None);
    };
    let name = if tag == MS_ADPCM { "Microsoft" } else { "IMA" };
    let (channels, bits) = (header.channels(), field(&header.fmt, 14).unwrap_or(0));
    if !(1..=2).contains(&channels) || bits != 4 {
        return Err(AudioError::Unsupported(format!(
            "{name} ADPCM with {channels} channels of {bits}-bit codes (1 or 2 channels of 4 bits are read)"
        )));
    }
    let align = u32::from(header.block_align());
    let preamble = if tag == MS_ADPCM { 7 } else { 4 } * u32::from(channels);
    let codes = align.saturating_sub(preamble);
    let stereo_ima_ragged = tag == IMA_ADPCM && channels == 2 && codes % 8 != 0;
    if align <= preamble || codes * 8 > u32::from(u16::MAX) || stereo_ima_ragged {
        return Err(AudioError::Corrupt(format!(
            "a {name} ADPCM block of {align} bytes for {channels} channels"
        )));
    }
    Ok((tag == MS_ADPCM).then_some(MsAdpcm {
        block_align: align as usize,
        channels: usize::from(channels),
    }))
}

/// Microsoft ADPCM's step adaptation (as symphonia and the format have it).
const MS_ADAPTATION: [i64; 16] = [
    230, 230, 230, 230, 307, 409, 512, 614, 768, 614, 512, 409, 307, 230, 230, 230,
];

/// The largest step symphonia can adapt without overflowing `i32`
/// (ffmpeg clamps here too): no real signal comes near it.
const MS_MAX_DELTA: i64 = i32::MAX as i64 / 768;

/// One Microsoft ADPCM block: each channel's predictor index (0..=6) and
/// the step size it adapts to, nibble by nibble.
fn check_ms_adpcm_block(block: &[u8], channels: usize) -> std::result::Result<(), String> {
    let preamble = 7 * channels;
    if block.len() < preamble {
        // A short last block: symphonia does not decode it.
        return Ok(());
    }
    let mut delta = [0i64; 2];
    for c in 0..channels {
        let predictor = block[c];
        if predictor > 6 {
            return Err(format!("predictor {predictor} (0..=6 exist)"));
        }
        let at = channels + 2 * c;
        delta[c] = i64::from(i16::from_le_bytes([block[at], block[at + 1]]));
    }
    for &byte in &block[preamble..] {
        for (c, nibble) in [(0, byte >> 4), (channels - 1, byte & 0x0F)] {
            delta[c] = (MS_ADAPTATION[usize::from(nibble)] * delta[c] / 256).max(16);
            if delta[c] > MS_MAX_DELTA {
                return Err("its step size grows past any real signal".into());
            }
        }
    }
    Ok(())
}

/// The canonical header in memory, then the data chunk's bytes from the
/// file: what symphonia reads.
struct Spliced {
    head: Vec<u8>,
    file: File,
    data_start: u64,
    data_len: u64,
    pos: u64,
}

impl Spliced {
    fn new(head: Vec<u8>, mut file: File, data: std::ops::Range<u64>) -> std::io::Result<Self> {
        file.seek(SeekFrom::Start(data.start))?;
        Ok(Self {
            head,
            file,
            data_start: data.start,
            data_len: data.end - data.start,
            pos: 0,
        })
    }

    fn total(&self) -> u64 {
        self.head.len() as u64 + self.data_len
    }
}

impl Read for Spliced {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let head = self.head.len() as u64;
        if self.pos < head {
            let from = &self.head[self.pos as usize..];
            let n = from.len().min(buf.len());
            buf[..n].copy_from_slice(&from[..n]);
            self.pos += n as u64;
            return Ok(n);
        }
        let left = self.total() - self.pos;
        let want = (buf.len() as u64).min(left) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read(&mut buf[..want])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Spliced {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.total().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .filter(|&p| p <= self.total())
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        let head = self.head.len() as u64;
        self.file.seek(SeekFrom::Start(
            self.data_start + target.saturating_sub(head),
        ))?;
        self.pos = target;
        Ok(target)
    }
}

impl MediaSource for Spliced {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.total())
    }
}
