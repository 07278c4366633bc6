//! `listen`: the live loop — audio in, digits out, as the words end.
//!
//! This module owns everything between an audio source and a [`Heard`]
//! result, one concern per file:
//! - `source`: [`Source`], a stream of mono `f32` blocks at a fixed rate
//!   over a `std::sync::mpsc` channel, and the [`Event`]s on it. A
//!   microphone (cpal, behind the `mic` feature) and a WAV file
//!   ([`Source::from_wav`], paced in real time, or as fast as the loop asks
//!   for it, [`Pace`]) produce the same events, so tests drive exactly the
//!   code a microphone does.
//! - `vad`: [`Vad`], hands-free segmentation. Energy per 10 ms frame,
//!   measured against an adaptive noise floor, with hysteresis, a hangover
//!   that ends an utterance after ~120 ms of silence (200 ms until room
//!   tone has been heard), and minimum / maximum lengths; each utterance is
//!   cut with ~100 ms of context on both sides. Until the floor has a full
//!   window, frames are judged again each time it falls: a word at the very
//!   start of a stream sets the first floor itself.
//! - `heard`: [`classify`], one utterance to one [`Heard`] answer.
//! - `run`: [`run_auto`] (hands-free) and [`run_press_to_talk`], the two
//!   loops, with their settings ([`ListenConfig`]) and reports ([`Notice`]).
//! - `devices` and `mic`: listing and opening input devices (cpal).
//!
//! What is *not* here: resampling, trimming and gain. Every utterance goes
//! to [`Recognizer::recognize`](crate::model::Recognizer::recognize) at the
//! source's own rate, untouched, because the recognizer's front end
//! resamples to 8 kHz and finds the word itself with the same code that
//! prepared the training clips. The VAD only decides *where* utterances are
//! and how much context comes with them; it never changes the samples.
//!
//! The library never prints; the loops report through a callback and the
//! `digits listen` command formats.

mod devices;
mod heard;
#[cfg(feature = "mic")]
mod mic;
mod run;
mod source;
#[cfg(test)]
mod test_signal;
mod vad;

pub use devices::{list_devices, open_device, DeviceInfo};
pub use heard::{classify, Heard};
pub use run::{run_auto, run_press_to_talk, ListenConfig, Notice, Stop};
pub use source::{Event, Pace, Source, CHANNEL_BLOCKS};
pub use vad::{Utterance, Vad, VadConfig};

use crate::audio::AudioError;
use crate::model::ModelError;

/// Errors from opening a source or running a listening loop.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(
        "this digits was built without microphone support; rebuild it with \
         `cargo build --release --features mic` (needs libasound2-dev on Linux), \
         or listen to a file with --from-wav FILE"
    )]
    MicDisabled,
    #[error(
        "no input device found; connect a microphone, or pick a device from \
         `digits listen --list-devices` and pass --device NAME"
    )]
    NoInputDevice,
    #[error("no input device named \"{0}\"; see `digits listen --list-devices`")]
    DeviceNotFound(String),
    #[error(
        "input device \"{0}\" is busy (another program is using it); close that program, \
         or pick another device from `digits listen --list-devices`"
    )]
    DeviceBusy(String),
    #[error(
        "cannot open input device \"{name}\": {reason}; pick another with --device NAME \
         (see `digits listen --list-devices`)"
    )]
    DeviceUnavailable { name: String, reason: String },
    #[error(
        "input device \"{name}\" cannot record with its default configuration ({reason}); \
         pick another with --device NAME (see `digits listen --list-devices`)"
    )]
    UnsupportedConfig { name: String, reason: String },
    #[error("cannot list audio devices: {0}")]
    Devices(String),
    #[error("the audio stream failed: {0}")]
    Stream(String),
    #[error("invalid listen setting: {0}")]
    Config(String),
    #[error("writing the results to standard output")]
    Output(#[from] std::io::Error),
}

impl ListenError {
    /// A problem with what the user gave us (a file, a device name that
    /// does not exist, a setting) rather than a failure of the job itself:
    /// no microphone, a busy or failing device, a model or an output that
    /// cannot be used (exit 1, not 2).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            ListenError::Audio(_)
                | ListenError::MicDisabled
                | ListenError::DeviceNotFound(_)
                | ListenError::Config(_)
        )
    }
}

pub type Result<T> = std::result::Result<T, ListenError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_busy_microphone_is_a_failed_job_not_bad_input() {
        assert!(!ListenError::NoInputDevice.is_bad_input());
        assert!(!ListenError::DeviceBusy("hw:0".into()).is_bad_input());
        assert!(!ListenError::Stream("device unplugged".into()).is_bad_input());
        assert!(ListenError::DeviceNotFound("no-such".into()).is_bad_input());
        assert!(ListenError::Config("block_ms 0".into()).is_bad_input());
    }
}
