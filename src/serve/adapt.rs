//! `POST /api/adapt`: "teach it your voice" from the page. The body holds
//! one or more takes of each digit as WAV files; the server builds a
//! personal model from the model in use with [`crate::model::adapt`] (as
//! `digits adapt` does) and answers with it from then on. `DELETE
//! /api/adapt` goes back to the model the server started with.
//!
//! The body is JSON, `{"speaker": "ann", "takes": [{"digit": 0, "wav":
//! BASE64}, …]}`: one request holds every take, so the switch is all or
//! nothing, and the page needs no form encoding.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::state::{AppState, Current};
use super::{error_response, model_facts, round};
use crate::audio::decode_wav;
use crate::data::Clip;
use crate::model::{adapt, AdaptOptions};

/// Most takes in one request: three of each digit.
pub const MAX_TAKES: usize = 30;
/// Longest speaker name.
const MAX_SPEAKER_CHARS: usize = 40;
/// The speaker's name when the request gives none.
pub const DEFAULT_SPEAKER: &str = "you";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdaptRequest {
    speaker: Option<String>,
    takes: Vec<Take>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Take {
    digit: u8,
    /// A WAV file (any encoding `predict` reads), base64.
    wav: String,
}

/// The takes as clips, or the message saying which take is wrong and why.
fn clips_of(body: &[u8]) -> Result<(String, Vec<Clip>), String> {
    let req: AdaptRequest = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the body is not {{\"speaker\": NAME, \"takes\": [{{\"digit\": D, \"wav\": BASE64}}, …]}}: {e}"
        )
    })?;
    let speaker = req.speaker.unwrap_or_else(|| DEFAULT_SPEAKER.into());
    if speaker.is_empty()
        || speaker.chars().count() > MAX_SPEAKER_CHARS
        || !speaker
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "speaker names are 1 to {MAX_SPEAKER_CHARS} letters, digits, - or _"
        ));
    }
    if req.takes.is_empty() || req.takes.len() > MAX_TAKES {
        return Err(format!(
            "{} takes; send 1 to {MAX_TAKES} (one to three of each digit 0-9)",
            req.takes.len()
        ));
    }
    let mut clips = Vec::with_capacity(req.takes.len());
    for (i, take) in req.takes.into_iter().enumerate() {
        let name = format!("take {} (digit {})", i + 1, take.digit);
        if take.digit > 9 {
            return Err(format!("{name}: a digit is 0 to 9"));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(take.wav.as_bytes())
            .map_err(|e| format!("{name}: \"wav\" is not base64 ({e})"))?;
        let audio = decode_wav(&bytes).map_err(|e| format!("{name}: {e}"))?;
        clips.push(Clip {
            samples: audio.samples,
            sample_rate: audio.sample_rate,
            digit: take.digit,
            speaker: Some(speaker.clone()),
            take: Some(i as u32),
            origin: name,
            source_split: None,
        });
    }
    Ok((speaker, clips))
}

pub(super) async fn handler(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    // One personal model at a time, each from the model in use.
    let _adapting = state.adapting.lock().await;
    let work_state = state.clone();
    let work = tokio::task::spawn_blocking(move || {
        let (speaker, clips) = clips_of(&body).map_err(|m| (StatusCode::BAD_REQUEST, m))?;
        let base = work_state.current();
        let report = adapt(base.pool.model(), &clips, &AdaptOptions::default()).map_err(|e| {
            let status = if e.is_bad_input() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            (status, e.to_string())
        })?;
        let from = work_state.started_with.info["source"]
            .as_str()
            .unwrap_or("the model")
            .to_string();
        let source = format!("personal, adapted from {from}");
        let info = model_facts(&report.model, &source, report.model.file_size());
        let personal = Arc::new(Current::new(report.model.clone(), info));
        // Ready before the switch, so the next word waits for nothing.
        let _ = personal.pool.warm(1, &[16_000, 44_100, 48_000]);
        Ok::<_, (StatusCode, String)>((speaker, report, personal))
    });
    let (speaker, report, personal) = match work.await {
        Ok(Ok(done)) => done,
        Ok(Err((status, message))) => return error_response(status, message),
        Err(_) => {
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "building the personal model failed".into(),
            )
        }
    };
    let takes = report
        .added
        .iter()
        .find(|(s, _)| *s == speaker)
        .map_or(0, |(_, n)| *n);
    let answer = json!({
        "model": "personal",
        "speaker": speaker,
        "takes": takes,
        "replaced": !report.replaced.is_empty(),
        "held_out_checked": report.held_out_checked,
        "held_out_correct": report.held_out_correct,
        "misheard": report.misheard.iter().map(|m| json!({"take": m.origin, "digit": m.digit, "heard": m.heard})).collect::<Vec<Value>>(),
        "no_word": report.no_word,
        "file_bytes": report.model.file_size(),
        "seconds": round(report.seconds, 3),
    });
    state.switch_to(personal);
    (StatusCode::OK, axum::Json(answer)).into_response()
}

/// `DELETE /api/adapt`: back to the model the server started with.
pub(super) async fn reset(State(state): State<Arc<AppState>>) -> Response {
    let _adapting = state.adapting.lock().await;
    state.switch_to(state.started_with.clone());
    (StatusCode::OK, axum::Json(state.started_with.info.clone())).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_requests_name_the_problem() {
        let err = |b: &str| clips_of(b.as_bytes()).unwrap_err();
        assert!(err("[]").starts_with("the body is not {\"speaker\""));
        assert_eq!(
            err(r#"{"takes": []}"#),
            "0 takes; send 1 to 30 (one to three of each digit 0-9)"
        );
        assert_eq!(
            err(r#"{"speaker": "a b", "takes": []}"#),
            "speaker names are 1 to 40 letters, digits, - or _"
        );
        assert_eq!(
            err(r#"{"takes": [{"digit": 12, "wav": ""}]}"#),
            "take 1 (digit 12): a digit is 0 to 9"
        );
        assert!(err(r#"{"takes": [{"digit": 1, "wav": "%%"}]}"#)
            .starts_with("take 1 (digit 1): \"wav\" is not base64"));
        assert!(
            err(r#"{"takes": [{"digit": 1, "wav": "AAAA"}]}"#).starts_with("take 1 (digit 1): ")
        );
    }
}
