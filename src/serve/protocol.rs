//! The WebSocket protocol of `GET /api/listen`, as pure functions: a
//! client's message in, a typed [`ClientMessage`] or a [`ProtocolError`]
//! out ([`parse_client_message`], what a fuzz target calls), and the
//! server's messages out.
//!
//! The client sends a text message `{"rate": N}`, then binary messages of
//! little-endian `f32` mono samples at that rate, and may end with the text
//! message `{"end": true}`. The server answers `{"ready": true, "rate": N}`,
//! then one text message per word with the fields of `digits listen
//! --json` (`digit`, null when unsure, `confidence`, `start_s`, `end_s`,
//! `ms`) and the `top` three `[digit, probability]` pairs; a
//! `{"too_quiet": true, …}` message for a sound too soft to take for a
//! word; and `{"error": "…"}` before it closes a stream it cannot serve.

use serde_json::{json, Map, Value};

use super::round;
use crate::listen::{Heard, TooQuiet};

/// Sample rates a stream may declare: the usual audio rates. Any other
/// would make the recognizer build (and keep) a resampler for it; a
/// browser's `AudioContext` runs at one of these.
pub const RATES: [u32; 12] = [
    8_000, 11_025, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000, 88_200, 96_000, 176_400, 192_000,
];

/// Samples beyond this magnitude are refused: audio is in [-1, 1] and a
/// little over at most; 12 000.0 is a 16-bit sample sent unscaled.
pub const MAX_SAMPLE: f32 = 4.0;

/// A WebSocket message as it arrived.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Frame<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

/// What the client asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    /// `{"rate": N}`: the stream's sample rate; audio follows.
    Start { rate: u32 },
    /// Mono samples at the stream's rate.
    Audio(Vec<f32>),
    /// `{"end": true}`: finish the last word, answer, close.
    End,
}

/// Why a client's message was refused. The stream is closed after it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtocolError {
    #[error(
        "audio message of {0} bytes is not a whole number of 4-byte samples; \
         send little-endian f32 mono samples"
    )]
    OddLength(usize),
    #[error("sample {index} is {value}, not a number; send finite f32 samples in [-1, 1]")]
    NotFinite { index: usize, value: f32 },
    #[error(
        "sample {index} is {value}, far outside [-1, 1]; send samples scaled to [-1, 1] \
         (not 16-bit integers)"
    )]
    OutOfRange { index: usize, value: f32 },
    #[error("text message is not JSON ({0}); send {{\"rate\": N}}, then binary audio, then {{\"end\": true}}")]
    NotJson(String),
    #[error(
        "rate {0} is not a supported sample rate; send one of 8000, 11025, 16000, 22050, \
         24000, 32000, 44100, 48000, 88200, 96000, 176400, 192000 (and samples at that rate)"
    )]
    Rate(String),
    #[error(
        "unknown message {0}; the client sends {{\"rate\": N}}, binary audio, and {{\"end\": true}}"
    )]
    Unknown(String),
    #[error("audio came before {{\"rate\": N}}; send the sample rate first")]
    AudioBeforeRate,
    #[error("the sample rate was already set to {0}; one stream has one rate")]
    RateTwice(u32),
    #[error("text where audio belongs: after {{\"rate\": N}} the audio goes in binary messages")]
    TextAudio,
}

impl ProtocolError {
    /// The WebSocket close code that goes with it: 1007 for audio that is
    /// not valid samples, 1003 for a message the protocol does not have,
    /// 1008 for messages out of order.
    pub fn close_code(&self) -> u16 {
        match self {
            Self::OddLength(_) | Self::NotFinite { .. } | Self::OutOfRange { .. } => 1007,
            Self::NotJson(_) | Self::Unknown(_) | Self::TextAudio => 1003,
            Self::Rate(_) | Self::AudioBeforeRate | Self::RateTwice(_) => 1008,
        }
    }
}

/// Longest excerpt of a refused text message quoted back.
const QUOTE_CHARS: usize = 60;

fn quote(text: &str) -> String {
    let mut s: String = text.chars().take(QUOTE_CHARS).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

/// Parses one message from a client, with no state: what a message *is*.
/// Whether it comes in the right order is the session's business.
pub fn parse_client_message(frame: Frame<'_>) -> Result<ClientMessage, ProtocolError> {
    match frame {
        Frame::Binary(bytes) => parse_audio(bytes).map(ClientMessage::Audio),
        Frame::Text(text) => parse_text(text),
    }
}

fn parse_audio(bytes: &[u8]) -> Result<Vec<f32>, ProtocolError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(ProtocolError::OddLength(bytes.len()));
    }
    let mut samples = Vec::with_capacity(bytes.len() / 4);
    for (index, b) in bytes.chunks_exact(4).enumerate() {
        let value = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if !value.is_finite() {
            return Err(ProtocolError::NotFinite { index, value });
        }
        if value.abs() > MAX_SAMPLE {
            return Err(ProtocolError::OutOfRange { index, value });
        }
        samples.push(value);
    }
    Ok(samples)
}

fn parse_text(text: &str) -> Result<ClientMessage, ProtocolError> {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        // A text message of numbers is audio sent as text.
        Err(_) if looks_like_numbers(text) => return Err(ProtocolError::TextAudio),
        Err(e) => return Err(ProtocolError::NotJson(e.to_string())),
    };
    let unknown = || ProtocolError::Unknown(quote(text));
    let Value::Object(map) = &value else {
        return Err(match value {
            Value::Array(_) | Value::Number(_) => ProtocolError::TextAudio,
            _ => unknown(),
        });
    };
    match only_key(map) {
        Some(("rate", rate)) => match rate.as_u64() {
            Some(r) if RATES.iter().any(|&ok| u64::from(ok) == r) => {
                Ok(ClientMessage::Start { rate: r as u32 })
            }
            _ => Err(ProtocolError::Rate(quote(&rate.to_string()))),
        },
        Some(("end", Value::Bool(true))) => Ok(ClientMessage::End),
        _ => Err(unknown()),
    }
}

/// The one key of an object and its value.
fn only_key(map: &Map<String, Value>) -> Option<(&str, &Value)> {
    let mut it = map.iter();
    match (it.next(), it.next()) {
        (Some((k, v)), None) => Some((k.as_str(), v)),
        _ => None,
    }
}

fn looks_like_numbers(text: &str) -> bool {
    let t = text.trim();
    !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_digit() || " ,.-+eE\n\t[]".contains(c))
}

/// `{"ready": true, "rate": N}`: the stream is open.
pub fn ready_message(rate: u32) -> String {
    json!({ "ready": true, "rate": rate }).to_string()
}

/// One word: `digits listen --json`'s object, plus the `top` three.
pub fn word_message(h: &Heard) -> String {
    let top: Vec<Value> = h
        .prediction
        .as_ref()
        .map(|p| {
            p.top(3)
                .iter()
                .map(|&(d, s)| json!([d, round(f64::from(s), 4)]))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "digit": h.digit,
        "confidence": round(f64::from(h.confidence), 4),
        "start_s": round(h.start_s, 3),
        "end_s": round(h.end_s, 3),
        "ms": round(h.ms, 3),
        "top": top,
    })
    .to_string()
}

/// A sound too soft to take for a word: when, its loudest 10 ms and the
/// level a word reaches there (dBFS).
pub fn too_quiet_message(q: &TooQuiet) -> String {
    json!({
        "too_quiet": true,
        "start_s": round(q.start_s, 3),
        "end_s": round(q.end_s, 3),
        "peak_dbfs": round(f64::from(q.peak_db), 1),
        "needed_dbfs": round(f64::from(q.floor_db + q.rise_needed_db), 1),
    })
    .to_string()
}

/// `{"error": "…"}`.
pub fn error_message(message: &str) -> String {
    json!({ "error": message }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Result<ClientMessage, ProtocolError> {
        parse_client_message(Frame::Text(s))
    }

    #[test]
    fn good_messages_parse() {
        assert_eq!(
            text(r#"{"rate": 48000}"#),
            Ok(ClientMessage::Start { rate: 48_000 })
        );
        assert_eq!(text(r#"{"end":true}"#), Ok(ClientMessage::End));
        let bytes: Vec<u8> = [0.5f32, -1.0, 0.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        assert_eq!(
            parse_client_message(Frame::Binary(&bytes)),
            Ok(ClientMessage::Audio(vec![0.5, -1.0, 0.0]))
        );
        assert_eq!(
            parse_client_message(Frame::Binary(&[])),
            Ok(ClientMessage::Audio(vec![]))
        );
    }

    #[test]
    fn bad_messages_say_what_is_wrong() {
        assert_eq!(
            parse_client_message(Frame::Binary(&[0, 0, 0, 0, 1])),
            Err(ProtocolError::OddLength(5))
        );
        let nan: Vec<u8> = [0.1f32, f32::NAN]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        assert!(matches!(
            parse_client_message(Frame::Binary(&nan)),
            Err(ProtocolError::NotFinite { index: 1, .. })
        ));
        let int16 = 12_000f32.to_le_bytes();
        assert_eq!(
            parse_client_message(Frame::Binary(&int16)).unwrap_err().to_string(),
            "sample 0 is 12000, far outside [-1, 1]; send samples scaled to [-1, 1] (not 16-bit integers)"
        );
        for absurd in [
            r#"{"rate": 0}"#,
            r#"{"rate": 44101}"#,
            r#"{"rate": 1e12}"#,
            r#"{"rate": -8000}"#,
            r#"{"rate": "48000"}"#,
            r#"{"rate": 48000.5}"#,
        ] {
            assert!(
                matches!(text(absurd), Err(ProtocolError::Rate(_))),
                "{absurd}"
            );
        }
        assert!(matches!(
            text("0.1, 0.2, 0.3"),
            Err(ProtocolError::TextAudio)
        ));
        assert!(matches!(text("[0.1, 0.2]"), Err(ProtocolError::TextAudio)));
        assert!(matches!(text("hello"), Err(ProtocolError::NotJson(_))));
        assert!(matches!(
            text(r#"{"end": false}"#),
            Err(ProtocolError::Unknown(_))
        ));
        assert!(matches!(
            text(r#"{"rate": 8000, "x": 1}"#),
            Err(ProtocolError::Unknown(_))
        ));
        let long = format!(r#"{{"x": "{}"}}"#, "a".repeat(10_000));
        let msg = text(&long).unwrap_err().to_string();
        assert!(msg.len() < 200, "{msg}");
    }
}
