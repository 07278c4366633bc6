//! `POST /api/predict`: one WAV in the body, the object `digits predict
//! --json` prints for it out.
//!
//! [`classify_clip`] runs `predict`'s checks (`digits::predict::answer`: no sound,
//! too short, no word rising above the background) and counts the words,
//! with the same messages; [`prediction_json`] builds `predict --json`'s
//! object. The handler decodes and classifies on a blocking thread, a few
//! at a time, so a 10 MB upload never stalls the live streams.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error_response;
use super::state::AppState;
use crate::audio::{decode_wav, Audio};
use crate::model::{Prediction, Recognizer};
pub use crate::predict::prediction_json;
use crate::predict::PredictError;

/// Why a clip got no digit: the message `predict` prints for it, and
/// whether the clip (400) or the server (500) is at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipError {
    pub message: String,
    pub bad_input: bool,
}

impl ClipError {
    fn bad(message: String) -> Self {
        Self {
            message,
            bad_input: true,
        }
    }
}

/// `predict`'s verdict on one decoded clip named `name` (its checks, its
/// messages): the prediction and how many words the clip sounds like
/// (more than one: `"words"` in the JSON object, as `predict` warns).
pub fn classify_clip(
    recognizer: &mut Recognizer,
    audio: &Audio,
    name: &str,
) -> Result<(Prediction, usize), ClipError> {
    crate::predict::answer(recognizer, audio)
        .map(|a| (a.prediction, a.words))
        .map_err(|e| ClipError {
            bad_input: !matches!(&e, PredictError::Classify(m) if !m.is_bad_input()),
            message: format!("{name}: {e}"),
        })
}

/// `?name=` (what the answer and its errors call the clip; `-` by default,
/// as `predict -` calls standard input) and `?top=K` (1 to 10, as
/// `predict --top`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PredictQuery {
    name: Option<String>,
    top: Option<String>,
}

/// Longest `?name=` kept.
const MAX_NAME_CHARS: usize = 200;

pub(super) async fn handler(
    State(state): State<Arc<AppState>>,
    query: Result<Query<PredictQuery>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> Response {
    let Ok(Query(query)) = query else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "unknown query parameter; /api/predict takes ?name=NAME and ?top=K (1 to 10)".into(),
        );
    };
    let top = match query.top.as_deref().map(str::parse::<u8>) {
        None => 1,
        Some(Ok(k @ 1..=10)) => k as usize,
        Some(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                format!(
                    "?top={} is not a number from 1 to 10",
                    query.top.unwrap_or_default()
                ),
            )
        }
    };
    let name = match query.name {
        Some(n) if !n.is_empty() => n
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_NAME_CHARS)
            .collect(),
        _ => "-".to_string(),
    };
    if body.is_empty() {
        return error_response(
            StatusCode::BAD_REQUEST,
            "empty body; send a WAV file, e.g. curl --data-binary @clip.wav".into(),
        );
    }
    // Decoding and the front end are CPU work: off the async threads, and
    // only a few at a time (the rest wait, within the request timeout).
    let Ok(_slot) = state.predict_slots.clone().acquire_owned().await else {
        return error_response(StatusCode::SERVICE_UNAVAILABLE, "shutting down".into());
    };
    let work = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        // Errors name the clip as `predict` names a file.
        let said = if name == "-" {
            "the request body"
        } else {
            &name
        };
        let result = decode_wav(&body)
            .map_err(|e| ClipError::bad(format!("{said}: {e}")))
            .and_then(|audio| {
                state
                    .current()
                    .pool
                    .with(|r| classify_clip(r, &audio, said))
                    .unwrap_or_else(|e| {
                        Err(ClipError {
                            message: e.to_string(),
                            bad_input: false,
                        })
                    })
            });
        let ms = started.elapsed().as_secs_f64() * 1e3;
        result.map(|(p, words)| prediction_json(&name, &p, top, ms, words))
    });
    match work.await {
        Ok(Ok(v)) => (StatusCode::OK, axum::Json(v)).into_response(),
        Ok(Err(e)) if e.bad_input => error_response(StatusCode::BAD_REQUEST, e.message),
        Ok(Err(e)) => error_response(StatusCode::INTERNAL_SERVER_ERROR, e.message),
        Err(_) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the recognizer failed on this clip".into(),
        ),
    }
}
