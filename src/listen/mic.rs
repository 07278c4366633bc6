//! cpal capture (the `mic` feature). The callback converts, downmixes and
//! sends; everything else happens on the loop's thread. Also owns listing
//! the devices and quieting what ALSA and JACK print on their own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{ErrorKind, FromSample, SampleFormat, SizedSample};

use super::{DeviceInfo, Event, ListenError, Result, Source};

/// Sends from the real-time callback: never blocks; a full channel
/// drops the block and counts it.
fn send_nonblocking(tx: &SyncSender<Event>, dropped: &AtomicU64, event: Event) {
    if let Err(TrySendError::Full(_)) = tx.try_send(event) {
        dropped.fetch_add(1, Ordering::Relaxed);
    }
}

pub fn list_devices() -> Result<Vec<DeviceInfo>> {
    quiet_alsa();
    // Probing every device opens ALSA's JACK plugin, whose client
    // library prints five lines ("jack server is not running …") that
    // no handler can switch off; the list says which devices failed.
    let _quiet = SilencedStderr::new();
    let host = cpal::default_host();
    let default_id = host
        .default_input_device()
        .and_then(|d| d.id().ok())
        .map(|id| id.to_string());
    let devices = host
        .input_devices()
        .map_err(|e| ListenError::Devices(e.to_string()))?;
    let mut out = Vec::new();
    for device in devices {
        let Ok(id) = device.id().map(|id| id.to_string()) else {
            continue;
        };
        out.push(DeviceInfo {
            name: device
                .description()
                .map(|d| d.name().to_string())
                .unwrap_or_else(|_| id.clone()),
            default_config: device
                .default_input_config()
                .map(|c| {
                    format!(
                        "{} Hz, {} ch, {}",
                        c.sample_rate(),
                        c.channels(),
                        c.sample_format()
                    )
                })
                .map_err(|e| e.to_string()),
            is_default: default_id.as_deref() == Some(id.as_str()),
            id,
        });
    }
    Ok(out)
}

/// `name` matches a device id (`alsa:default`), the part after the
/// host (`default`) or the human-readable name, ignoring case.
fn find(host: &cpal::Host, name: &str) -> Result<cpal::Device> {
    let devices = host
        .input_devices()
        .map_err(|e| ListenError::Devices(e.to_string()))?;
    for device in devices {
        let Ok(id) = device.id() else { continue };
        let desc = device.description().map(|d| d.name().to_string());
        let matches = id.to_string().eq_ignore_ascii_case(name)
            || id.id().eq_ignore_ascii_case(name)
            || desc.is_ok_and(|d| d.eq_ignore_ascii_case(name));
        if matches {
            return Ok(device);
        }
    }
    Err(ListenError::DeviceNotFound(name.to_string()))
}

fn open_error(name: &str, e: cpal::Error) -> ListenError {
    // cpal's texts are sentences ("The requested ... disconnected.");
    // they sit inside ours.
    let text = e.to_string();
    let text = text.trim_end_matches('.');
    let mut chars = text.chars();
    let reason = match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => format!("{:?}", e.kind()),
    };
    match e.kind() {
        ErrorKind::DeviceBusy => ListenError::DeviceBusy(name.to_string()),
        ErrorKind::UnsupportedConfig | ErrorKind::UnsupportedOperation => {
            ListenError::UnsupportedConfig {
                name: name.to_string(),
                reason,
            }
        }
        _ => ListenError::DeviceUnavailable {
            name: name.to_string(),
            reason,
        },
    }
}

pub fn open_device(name: Option<&str>) -> Result<Source> {
    quiet_alsa();
    let host = cpal::default_host();
    let device = match name {
        Some(n) => find(&host, n)?,
        None => host
            .default_input_device()
            .ok_or(ListenError::NoInputDevice)?,
    };
    let label = device
        .id()
        .map(|id| id.to_string())
        .unwrap_or_else(|_| name.unwrap_or("default").to_string());
    let config = device
        .default_input_config()
        .map_err(|e| open_error(&label, e))?;
    let rate = config.sample_rate();
    let channels = config.channels() as usize;
    let format = config.sample_format();
    if channels == 0 {
        return Err(ListenError::UnsupportedConfig {
            name: label,
            reason: "0 channels".into(),
        });
    }
    let description = format!("{label} ({rate} Hz, {channels} ch, {format})");
    let source =
        Source::channel(rate, description).map_err(|e| ListenError::UnsupportedConfig {
            name: label.clone(),
            reason: e.to_string(),
        })?;
    let tx = source.sender();
    let dropped = source.dropped.clone();
    let stream_config: cpal::StreamConfig = config.into();
    // One arm per sample format, as in cpal's record_wav example: the
    // callback is monomorphised for the device's native format.
    macro_rules! build {
        ($t:ty) => {
            build_stream::<$t>(&device, stream_config, channels, tx, dropped)
        };
    }
    let stream = match format {
        SampleFormat::I8 => build!(i8),
        SampleFormat::I16 => build!(i16),
        SampleFormat::I24 => build!(cpal::I24),
        SampleFormat::I32 => build!(i32),
        SampleFormat::I64 => build!(i64),
        SampleFormat::U8 => build!(u8),
        SampleFormat::U16 => build!(u16),
        SampleFormat::U24 => build!(cpal::U24),
        SampleFormat::U32 => build!(u32),
        SampleFormat::U64 => build!(u64),
        SampleFormat::F32 => build!(f32),
        SampleFormat::F64 => build!(f64),
        other => {
            return Err(ListenError::UnsupportedConfig {
                name: label,
                reason: format!("sample format {other} is not PCM"),
            })
        }
    }
    .map_err(|e| open_error(&label, e))?;
    stream.play().map_err(|e| open_error(&label, e))?;
    Ok(Source {
        _keep_alive: Some(Box::new(stream)),
        ..source
    })
}

/// alsa-lib prints its own diagnostics to stderr ("ALSA lib pcm.c:2666:
/// Unknown PCM default", several lines per failed open) before cpal
/// returns an error. Our error line already carries cpal's reason, so
/// they are switched off for this thread — the one that enumerates and
/// opens devices. The handler receives a `va_list`, which every Linux
/// ABI passes as a pointer; it is never read.
#[cfg(target_os = "linux")]
fn quiet_alsa() {
    use std::os::raw::{c_char, c_int, c_void};
    type Handler = unsafe extern "C" fn(
        *const c_char,
        c_int,
        *const c_char,
        c_int,
        *const c_char,
        *mut c_void,
    );
    extern "C" {
        // alsa-lib >= 1.1.6; libasound is linked through cpal's alsa-sys.
        fn snd_lib_error_set_local(func: Option<Handler>) -> Option<Handler>;
    }
    unsafe extern "C" fn ignore(
        _file: *const c_char,
        _line: c_int,
        _func: *const c_char,
        _err: c_int,
        _fmt: *const c_char,
        _args: *mut c_void,
    ) {
    }
    // SAFETY: installs a thread-local handler that does nothing.
    unsafe {
        snd_lib_error_set_local(Some(ignore));
    }
}

#[cfg(not(target_os = "linux"))]
fn quiet_alsa() {}

/// Standard error pointed at /dev/null until dropped, for libraries
/// that write to file descriptor 2 directly. Nothing of ours is printed
/// while it lives.
struct SilencedStderr {
    #[cfg(unix)]
    saved: Option<std::os::raw::c_int>,
}

impl SilencedStderr {
    #[cfg(unix)]
    fn new() -> Self {
        use std::os::fd::AsRawFd;
        let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else {
            return Self { saved: None };
        };
        // SAFETY: plain descriptor calls on descriptors we own or on 2;
        // a failed dup leaves standard error as it was.
        let saved = unsafe {
            let saved = libc::dup(2);
            if saved >= 0 && libc::dup2(null.as_raw_fd(), 2) < 0 {
                libc::close(saved);
                return Self { saved: None };
            }
            saved
        };
        Self {
            saved: (saved >= 0).then_some(saved),
        }
    }

    #[cfg(not(unix))]
    fn new() -> Self {
        Self {}
    }
}

impl Drop for SilencedStderr {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(fd) = self.saved {
            // SAFETY: `fd` is the duplicate made in `new`, closed once.
            unsafe {
                libc::dup2(fd, 2);
                libc::close(fd);
            }
        }
    }
}

fn build_stream<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    channels: usize,
    tx: SyncSender<Event>,
    dropped: Arc<AtomicU64>,
) -> std::result::Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let err_tx = tx.clone();
    let err_dropped = dropped.clone();
    let on_error = move |err: cpal::Error| {
        let event = match err.kind() {
            // The stream goes on after these.
            ErrorKind::Xrun | ErrorKind::DeviceChanged | ErrorKind::RealtimeDenied => {
                Event::Warning(err.to_string())
            }
            _ => Event::Failed(err.to_string()),
        };
        send_nonblocking(&err_tx, &err_dropped, event);
    };
    let inv = 1.0 / channels as f32;
    device.build_input_stream(
        config,
        move |data: &[T], _: &cpal::InputCallbackInfo| {
            // Convert and downmix only; the allocation is one Vec per
            // device period. Never blocks: a full channel drops the block.
            let mono: Vec<f32> = data
                .chunks_exact(channels)
                .map(|frame| frame.iter().map(|&s| s.to_sample::<f32>()).sum::<f32>() * inv)
                .collect();
            send_nonblocking(&tx, &dropped, Event::Audio(mono));
        },
        on_error,
        None,
    )
}
