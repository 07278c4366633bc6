//! Input devices: what `--list-devices` shows and opening one. The cpal
//! code lives in the `mic` module; without the `mic` feature both
//! functions say how to get it.

#[cfg(not(feature = "mic"))]
use super::{ListenError, Result, Source};

/// An input device, for `--list-devices`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// What to pass to `--device` (cpal's device id, e.g. `alsa:default`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// The default input configuration, or why there is none.
    pub default_config: std::result::Result<String, String>,
    pub is_default: bool,
}

/// The input devices of the default host.
#[cfg(not(feature = "mic"))]
pub fn list_devices() -> Result<Vec<DeviceInfo>> {
    Err(ListenError::MicDisabled)
}

/// Opens an input device (the default one, or the one named) at its own
/// default configuration.
#[cfg(not(feature = "mic"))]
pub fn open_device(_name: Option<&str>) -> Result<Source> {
    Err(ListenError::MicDisabled)
}

/// With the `mic` feature: cpal's.
#[cfg(feature = "mic")]
pub use super::mic::{list_devices, open_device};
