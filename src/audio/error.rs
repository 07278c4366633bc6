//! [`AudioError`]: every way a file, a stream or a setting can fail to
//! become samples, each with the fix in its message.

use super::{MAX_CHANNELS, MAX_RATE, MIN_RATE};

/// Errors from reading or converting audio.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Bytes that do not start with `RIFF....WAVE`: what they look like
    /// instead (`an MP3 file`), when the first bytes tell, and the
    /// conversion command for this file (its name, when known).
    #[error(
        "not a WAV file ({}); convert it first, e.g. `{convert}`",
        kind.map_or("no RIFF/WAVE header".to_string(), |k| format!("it looks like {k}"))
    )]
    NotWav {
        kind: Option<&'static str>,
        convert: String,
    },
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
