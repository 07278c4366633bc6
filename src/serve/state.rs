//! What every handler shares (one [`AppState`] in an `Arc`) and the router
//! that ties the routes to their handlers and the limits to the routes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::{watch, Notify, Semaphore};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use super::limits::Limits;
use super::origin::OriginPolicy;
use super::{adapt, info, origin, page, predict, session};
use crate::listen::ListenConfig;
use crate::model::{ModelError, ModelFile, Recognizer};

/// Recognizers shared by all streams and uploads. A recognizer is the
/// model plus its buffers; a stream needs one only while it classifies a
/// word (microseconds), so a few serve hundreds of streams: one is taken,
/// used without awaiting anything, and put back.
#[derive(Debug)]
pub struct RecognizerPool {
    model: ModelFile,
    free: Mutex<Vec<Recognizer>>,
}

impl RecognizerPool {
    pub fn new(model: ModelFile) -> Self {
        Self {
            model,
            free: Mutex::new(Vec::new()),
        }
    }

    pub fn model(&self) -> &ModelFile {
        &self.model
    }

    /// Runs `f` with a recognizer (a free one, or a new one when all are
    /// busy).
    pub fn with<R>(&self, f: impl FnOnce(&mut Recognizer) -> R) -> Result<R, ModelError> {
        let taken = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut recognizer = match taken {
            Some(r) => r,
            None => Recognizer::new(self.model.clone())?,
        };
        let out = f(&mut recognizer);
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(recognizer);
        Ok(out)
    }

    /// Builds `n` recognizers with their resamplers for `rates` ready, so
    /// the first words of the first streams do not wait for that.
    pub fn warm(&self, n: usize, rates: &[u32]) -> Result<(), ModelError> {
        let mut ready = Vec::with_capacity(n);
        for _ in 0..n {
            let mut r = Recognizer::new(self.model.clone())?;
            for &rate in rates {
                r.recognize(&vec![0.0; (rate / 10) as usize], rate)?;
            }
            ready.push(r);
        }
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(ready);
        Ok(())
    }
}

/// Live WebSocket sessions, so shutdown can wait for them to close.
#[derive(Debug, Default)]
pub struct Sessions {
    live: AtomicUsize,
    gone: Notify,
}

impl Sessions {
    pub fn enter(self: &Arc<Self>) -> SessionGuard {
        self.live.fetch_add(1, Ordering::SeqCst);
        SessionGuard(self.clone())
    }

    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Returns once no session is live.
    pub async fn all_closed(&self) {
        loop {
            let notified = self.gone.notified();
            if self.live() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One live session; counted out when dropped.
#[derive(Debug)]
pub struct SessionGuard(Arc<Sessions>);

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
        self.0.gone.notify_waiters();
    }
}

/// The model the server answers with: its recognizers and
/// `GET /api/model`'s answer (made once per model).
#[derive(Debug)]
pub struct Current {
    pub pool: RecognizerPool,
    pub info: Value,
}

impl Current {
    pub fn new(model: ModelFile, info: Value) -> Self {
        Self {
            pool: RecognizerPool::new(model),
            info,
        }
    }
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The model in use: the one the server started with, or a personal
    /// model `POST /api/adapt` built from it. A request or a word takes the
    /// `Arc` and keeps it to the end, so a switch never splits one.
    current: RwLock<Arc<Current>>,
    /// The model the server started with (`DELETE /api/adapt` goes back).
    pub started_with: Arc<Current>,
    /// One personal model built at a time.
    pub adapting: tokio::sync::Mutex<()>,
    pub listen: ListenConfig,
    pub limits: Limits,
    pub origins: OriginPolicy,
    /// One permit per live stream (`--max-streams`).
    pub streams: Arc<Semaphore>,
    /// One permit per prediction being computed.
    pub predict_slots: Arc<Semaphore>,
    pub sessions: Arc<Sessions>,
    /// Becomes `true` when the server is shutting down.
    pub shutdown: watch::Receiver<bool>,
    pub started: Instant,
}

impl AppState {
    pub fn new(
        model: Current,
        listen: ListenConfig,
        limits: Limits,
        origins: OriginPolicy,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let model = Arc::new(model);
        Self {
            current: RwLock::new(model.clone()),
            started_with: model,
            adapting: Default::default(),
            listen,
            streams: Arc::new(Semaphore::new(limits.max_streams)),
            predict_slots: Arc::new(Semaphore::new(limits.max_predictions)),
            limits,
            origins,
            sessions: Default::default(),
            shutdown,
            started: Instant::now(),
        }
    }

    /// The model in use now.
    pub fn current(&self) -> Arc<Current> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Answers with `model` from now on (streams from their next word).
    pub fn switch_to(&self, model: Arc<Current>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = model;
    }
}

/// The routes: the page, the API, and the layers that bound them.
pub fn router(state: Arc<AppState>) -> Router {
    let limits = &state.limits;
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(
            state
                .origins
                .allowed
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        ))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE]);
    let predict = Router::new()
        .route("/api/predict", post(predict::handler))
        .route("/api/adapt", post(adapt::handler).delete(adapt::reset))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(RequestBodyLimitLayer::new(limits.max_body_bytes));
    let http_api = Router::new()
        .merge(predict)
        .route("/api/model", get(info::model))
        .route("/api/health", get(info::health))
        .route("/", get(page::index))
        // Not the WebSocket: a stream lives as long as it is fed.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ));
    Router::new()
        .route("/api/listen", get(session::upgrade))
        .merge(http_api)
        .fallback(info::not_found)
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            super::json_errors,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            origin::check,
        ))
        .layer(cors)
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .with_state(state)
}
