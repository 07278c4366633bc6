//! [`WavReader`]: a WAV file (or WAV bytes) as mono blocks at the file's
//! own rate, decoded as they are asked for, so a recording of any length
//! is read in bounded memory.

use std::path::Path;

use super::compressed::Compressed;
use super::input::Input;
use super::pcm::{self, Plan};
use super::riff::{self, Header, WavEncoding};
use super::{downmix, AudioError, Result};

/// Frames decoded per step of a PCM file (and at most per block handed out).
const STEP_FRAMES: usize = 1 << 14;

/// A WAV, read a block of mono samples at a time.
#[derive(Debug)]
pub struct WavReader<'a> {
    input: Input<'a>,
    header: Header,
    decoder: Decoder,
    channels: usize,
    rate: u32,
    /// Interleaved samples decoded and not yet handed out.
    pending: Vec<f32>,
    /// Frames handed out so far.
    done: u64,
    /// Bytes and scratch of the PCM path.
    scratch: Vec<u8>,
    interleaved: Vec<f32>,
}

#[derive(Debug)]
enum Decoder {
    /// Integer PCM or 32-bit float: `frames` whole frames from the data
    /// chunk's start, `next` the next one to read.
    Pcm {
        plan: Plan,
        frames: u64,
        next: u64,
    },
    Compressed(Box<Compressed>),
}

impl WavReader<'static> {
    /// Opens the WAV file at `path`: its header is read and checked; no
    /// samples are decoded yet. Errors name the file.
    pub fn open(path: &Path) -> Result<Self> {
        let name = || crate::text::path(path);
        let io = |source| AudioError::Io {
            path: name(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            // A named pipe or a device: read as a stream.
            return Self::from_stream(file).map_err(|e| in_file(e, path));
        }
        Self::new(Input::File {
            file,
            len: meta.len(),
        })
        .map_err(|e| in_file(e, path))
    }

    /// A reader over a stream (standard input, a pipe): its first 12 bytes
    /// are checked before the rest is read, so a stream that is not a WAV
    /// (`< /dev/zero`) is refused at once, not read forever; the rest is
    /// spooled to an unnamed temporary file, read from there a block at a
    /// time.
    pub fn from_stream(mut stream: impl std::io::Read) -> Result<Self> {
        use std::io::{Read as _, Seek as _, Write as _};
        let mut head = Vec::with_capacity(12);
        (&mut stream)
            .take(12)
            .read_to_end(&mut head)
            .map_err(AudioError::Stream)?;
        riff::check_riff(&head)?;
        let mut spool = tempfile::tempfile().map_err(AudioError::Stream)?;
        spool.write_all(&head).map_err(AudioError::Stream)?;
        std::io::copy(&mut stream, &mut spool).map_err(AudioError::Stream)?;
        spool.rewind().map_err(AudioError::Stream)?;
        Self::from_file(spool)
    }

    /// A reader over an open file (a spooled stream, say); errors do not
    /// name it.
    pub fn from_file(file: std::fs::File) -> Result<Self> {
        let len = file.metadata().map_err(AudioError::Stream)?.len();
        Self::new(Input::File { file, len })
    }
}

impl<'a> WavReader<'a> {
    /// A reader over WAV bytes in memory.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self> {
        Self::new(Input::Bytes(bytes))
    }

    fn new(mut input: Input<'a>) -> Result<Self> {
        let header = riff::read_header(&mut input)?;
        let (decoder, channels, rate) = match header.encoding {
            Some(WavEncoding::Pcm | WavEncoding::Float { bits: 32 }) | None => {
                let (plan, channels, rate, frames) = pcm::plan(&header, &mut input)?;
                if frames == 0 {
                    return Err(AudioError::Empty);
                }
                (
                    Decoder::Pcm {
                        plan,
                        frames,
                        next: 0,
                    },
                    channels,
                    rate,
                )
            }
            Some(_) => {
                let c = Compressed::open(&header, &input)?;
                let data = header.data_present();
                if data.end - data.start < u64::from(header.block_align().max(1)) {
                    return Err(AudioError::Empty);
                }
                let (channels, rate) = (c.channels, c.rate);
                (Decoder::Compressed(Box::new(c)), channels, rate)
            }
        };
        Ok(Self {
            input,
            header,
            decoder,
            channels,
            rate,
            pending: Vec::new(),
            done: 0,
            scratch: Vec::new(),
            interleaved: Vec::new(),
        })
    }

    /// The file's sample rate.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Channels in the file (blocks are their average).
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Frames in the file, when the header says exactly (PCM and 32-bit
    /// float); for the compressed encodings an estimate from its blocks.
    pub fn frames(&self) -> u64 {
        match &self.decoder {
            Decoder::Pcm { frames, .. } => *frames,
            Decoder::Compressed(_) => {
                let data = self.header.data_present();
                let bytes = data.end - data.start;
                let align = u64::from(self.header.block_align().max(1));
                let per_block = match self.header.encoding {
                    // ADPCM: two codes per byte after each channel's preamble.
                    Some(WavEncoding::Other(0x0002 | 0x0011)) => {
                        2 * align / self.channels.max(1) as u64
                    }
                    _ => 1,
                };
                bytes / align * per_block
            }
        }
    }

    /// Replaces `out` with the next block of mono samples (at most
    /// `max_frames`, at least one unless the file has ended). Returns the
    /// block's length, 0 at the end.
    pub fn read_block(&mut self, out: &mut Vec<f32>, max_frames: usize) -> Result<usize> {
        out.clear();
        let max_frames = max_frames.max(1);
        while self.pending.len() < self.channels * max_frames {
            if !self.decode_more()? {
                break;
            }
        }
        let frames = (self.pending.len() / self.channels).min(max_frames);
        let taken = frames * self.channels;
        check_float_range(
            &self.pending[..taken],
            self.channels,
            self.done,
            self.is_pcm_int(),
        )?;
        out.extend(downmix(&self.pending[..taken], self.channels));
        self.pending.drain(..taken);
        self.done += frames as u64;
        Ok(frames)
    }

    fn is_pcm_int(&self) -> bool {
        matches!(
            self.decoder,
            Decoder::Pcm {
                plan: Plan::Int { .. },
                ..
            }
        )
    }

    /// Decodes another step into `pending`; false at the end.
    fn decode_more(&mut self) -> Result<bool> {
        match &mut self.decoder {
            Decoder::Pcm { plan, frames, next } => {
                if *next >= *frames {
                    return Ok(false);
                }
                let n = (*frames - *next).min(STEP_FRAMES as u64);
                let frame_bytes = plan.width() * self.channels;
                let at = self.header.data.start + *next * frame_bytes as u64;
                self.scratch.resize(n as usize * frame_bytes, 0);
                self.input
                    .read_exact_at(at, &mut self.scratch)
                    .map_err(|e| AudioError::Corrupt(e.to_string()))?;
                pcm::convert(*plan, &self.scratch, &mut self.pending);
                *next += n;
                Ok(true)
            }
            Decoder::Compressed(c) => {
                self.interleaved.clear();
                let more = c.next(&mut self.interleaved)?;
                self.pending.extend_from_slice(&self.interleaved);
                Ok(more)
            }
        }
    }

    /// Starts again from the first sample (for another pass over a long
    /// file).
    pub fn rewind(&mut self) -> Result<()> {
        self.pending.clear();
        self.done = 0;
        match &mut self.decoder {
            Decoder::Pcm { next, .. } => *next = 0,
            Decoder::Compressed(c) => **c = Compressed::open(&self.header, &self.input)?,
        }
        Ok(())
    }

    /// Every remaining sample, as [`super::Audio`].
    pub fn read_all(mut self) -> Result<super::Audio> {
        let mut samples = Vec::with_capacity(self.frames().min(1 << 26) as usize);
        let mut block = Vec::new();
        while self.read_block(&mut block, STEP_FRAMES)? > 0 {
            samples.extend_from_slice(&block);
        }
        if samples.is_empty() {
            return Err(AudioError::Empty);
        }
        Ok(super::Audio {
            samples,
            sample_rate: self.rate,
        })
    }
}

/// `e` from reading the file at `path`, naming it.
pub(crate) fn in_file(e: AudioError, path: &Path) -> AudioError {
    match e {
        AudioError::Stream(source) => AudioError::Io {
            path: crate::text::path(path),
            source,
        },
        AudioError::Io { .. } | AudioError::InFile { .. } => e,
        e => AudioError::InFile {
            path: crate::text::path(path),
            source: Box::new(match e {
                AudioError::NoBytes => AudioError::EmptyFile,
                AudioError::NotWav { kind, .. } => AudioError::NotWav {
                    kind,
                    convert: super::kind::convert_command(Some(path)),
                },
                e => e,
            }),
        },
    }
}

/// Float encodings can hold NaN, infinity or values whose square overflows
/// f32; no front end survives them. Real float audio lies near ±1 (a little
/// above where it clips), so a million is far past any of it. Integer PCM
/// cannot hold them. `first` is the frame index of `interleaved`'s start.
fn check_float_range(interleaved: &[f32], channels: usize, first: u64, int: bool) -> Result<()> {
    if int {
        return Ok(());
    }
    let Some(i) = interleaved
        .iter()
        .position(|v| !v.is_finite() || v.abs() > 1e6)
    else {
        return Ok(());
    };
    let v = interleaved[i];
    let frame = first + (i / channels) as u64;
    Err(AudioError::Corrupt(if v.is_finite() {
        format!("sample {frame} is {v:e}, far outside ±1")
    } else {
        format!("sample {frame} is not a finite number")
    }))
}
