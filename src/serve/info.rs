//! The small JSON answers: `GET /api/model` (the model card's facts),
//! `GET /api/health`, and 404 for anything else.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::error_response;
use super::state::AppState;
use crate::audio::MODEL_RATE;
use crate::model::{ModelFile, FORMAT_VERSION, N_CLASSES};

/// The model's facts, as the model card gives them: where it came from,
/// its file (`file_bytes` long), the front end, the classifier and how it
/// was trained.
pub fn model_facts(model: &ModelFile, source: &str, file_bytes: usize) -> Value {
    let fe = &model.front_end;
    let m = &fe.mfcc;
    let svm = &model.svm;
    let meta = &model.meta;
    json!({
        "source": source,
        "format_version": FORMAT_VERSION,
        "file_bytes": file_bytes,
        "sample_rate": MODEL_RATE,
        "front_end": {
            "n_mfcc": m.n_mfcc,
            "n_mels": m.n_mels,
            "n_fft": m.n_fft,
            "frame_ms": 1000.0 * m.win_length as f64 / m.sample_rate as f64,
            "hop_ms": 1000.0 * m.hop_length as f64 / m.sample_rate as f64,
            "frame_values": fe.mfcc.frame_dim(),
            "features": fe.feature_dim(),
        },
        "classifier": {
            "kind": "one-vs-one RBF SVM, Platt-calibrated",
            "classes": N_CLASSES,
            "support_vectors": svm.sq_norms.len(),
            "dimensions": svm.dim,
            "projection": model.projection.as_ref().map(|p| json!({"from": p.in_dim(), "to": p.out_dim()})),
            "c": svm.params.c,
            "gamma": svm.params.gamma,
        },
        // The personal stage of a model `digits adapt` made: whose takes.
        "personal": model.personal.as_ref().map(|p| json!({
            "takes": p.templates().len(),
            "speakers": p.speakers().into_iter().map(|(s, n)| json!({"speaker": s, "takes": n})).collect::<Vec<_>>(),
        })),
        "training": {
            "data": meta.data,
            "split": meta.split,
            "clips": meta.n_train,
            "augment": meta.augment,
            "validation_accuracy": meta.validation_accuracy,
            "seed": meta.seed,
            "digits_version": meta.digits_version,
        },
    })
}

pub(super) async fn model(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.current().info.clone())
}

pub(super) async fn health(State(state): State<Arc<AppState>>) -> Json<Value> {
    let limits = &state.limits;
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": (state.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        "streams": state.sessions.live(),
        "max_streams": limits.max_streams,
    }))
}

pub(super) async fn not_found(uri: Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        format!(
            "no such endpoint {}; try GET /, POST /api/predict, POST /api/adapt, GET /api/listen (WebSocket), GET /api/model or GET /api/health",
            uri.path()
        ),
    )
    .into_response()
}
