//! `serve`: the recognizer in a browser and over HTTP — a page, a JSON
//! API and a WebSocket stream, on axum and tokio.
//!
//! One concern per file:
//! - `state`: what the handlers share ([`AppState`]: the model's
//!   recognizers, the limits, the stream permits) and the router with its
//!   tower layers (body limit, timeout, CORS, headers);
//! - `http`: the accept loop (hyper, header deadline, connection limit);
//! - `page`: `GET /`, one self-contained HTML file embedded in the binary;
//! - [`predict`]: `POST /api/predict`, `digits predict --json` over HTTP;
//! - `adapt`: `POST /api/adapt`, a personal model from the takes the page
//!   recorded, switched to at once (`DELETE` goes back);
//! - `session`: `GET /api/listen`, one WebSocket stream heard through the
//!   same [`StreamRecognizer`](crate::listen::StreamRecognizer) as
//!   `listen --auto`;
//! - [`protocol`]: the stream's messages, parsed by a pure function;
//! - [`origin`]: who may call (own origin, `--allow-origin`, loopback
//!   `Host` names);
//! - [`limits`]: sizes, counts and timeouts;
//! - `info`: `GET /api/model` and `GET /api/health`.
//!
//! The library never prints: [`Server::bind`] returns the address, and the
//! `digits serve` command says it.

pub mod limits;
pub mod origin;
pub mod page;
pub mod predict;
pub mod protocol;

mod adapt;
mod http;
mod info;
mod session;
mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use info::model_facts;
pub use limits::Limits;
pub use origin::OriginPolicy;
pub use state::{AppState, Current, RecognizerPool};

use crate::listen::ListenConfig;
use crate::model::{ModelError, ModelFile};

/// Errors from starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}; pick another --port (0 lets the system choose) or stop the program using it")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("--host {0} is not an address or a name this machine can resolve; try 127.0.0.1")]
    Host(String),
    #[error("invalid serve setting: {0}")]
    Config(String),
    #[error(transparent)]
    Model(#[from] ModelError),
}

impl ServeError {
    /// The user's input is at fault (a flag, a busy port), not the job.
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::Model(e) => e.is_bad_input(),
            _ => true,
        }
    }
}

pub type Result<T> = std::result::Result<T, ServeError>;

/// What `digits serve` serves, and how.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// An address or a name (`127.0.0.1`, `localhost`, `0.0.0.0`).
    pub host: String,
    /// 0: any free port (the bound one is [`Server::local_addr`]).
    pub port: u16,
    pub model: ModelFile,
    /// Where the model came from, for `/api/model` ("embedded" or a path).
    pub model_source: String,
    /// The size of its file (bytes).
    pub model_bytes: usize,
    /// Origins besides the server's own that may call it (`--allow-origin`).
    pub allow_origins: Vec<String>,
    pub limits: Limits,
    /// The hands-free settings every stream runs with (as `listen --auto`).
    pub listen: ListenConfig,
}

/// A bound server, not yet serving.
pub struct Server {
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    addr: SocketAddr,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

impl Server {
    /// Checks the settings and binds the port.
    pub async fn bind(cfg: ServeConfig) -> Result<Self> {
        cfg.limits.check().map_err(ServeError::Config)?;
        cfg.listen
            .check()
            .map_err(|e| ServeError::Config(e.to_string()))?;
        let addr = tokio::net::lookup_host((cfg.host.as_str(), cfg.port))
            .await
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| ServeError::Host(cfg.host.clone()))?;
        let origins =
            OriginPolicy::new(&cfg.allow_origins, addr.ip()).map_err(ServeError::Config)?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let model_info = model_facts(&cfg.model, &cfg.model_source, cfg.model_bytes);
        let state = Arc::new(AppState::new(
            Current::new(cfg.model, model_info),
            cfg.listen,
            cfg.limits,
            origins,
            shutdown_rx,
        ));
        Ok(Self {
            listener,
            state,
            shutdown,
            addr,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Bound to a loopback address: only this machine can connect (and a
    /// browser allows the microphone only there, or over HTTPS).
    pub fn is_loopback(&self) -> bool {
        self.addr.ip().is_loopback()
    }

    /// Serves until `stop` completes, then stops accepting, lets requests
    /// finish and closes every stream (its last word answered first),
    /// waiting at most [`Limits::shutdown_grace`] for them.
    pub async fn run(self, stop: impl Future<Output = ()>) -> Result<()> {
        let Self {
            listener,
            state,
            shutdown,
            ..
        } = self;
        // Recognizers ready for the usual rates, off the async threads,
        // while the first requests are already being served.
        let warm = state.clone();
        tokio::task::spawn_blocking(move || {
            let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
            let _ = warm.current().pool.warm(workers, &[16_000, 44_100, 48_000]);
        });
        let app = state::router(state.clone());
        let limits = state.limits.clone();
        let accepting = http::accept_loop(listener, app, &limits, shutdown.subscribe());
        let mut accepting = std::pin::pin!(accepting);
        tokio::select! {
            _ = stop => {}
            _ = accepting.as_mut() => {}
        }
        let _ = shutdown.send(true);
        let drained = async {
            accepting.await;
            state.sessions.all_closed().await;
        };
        let _ = tokio::time::timeout(limits.shutdown_grace, drained).await;
        Ok(())
    }
}

/// `{"error": message}` with `status`.
pub(crate) fn error_response(status: StatusCode, message: String) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// Answers the layers give in plain text (a body over the limit, a
/// timeout, a wrong method, a WebSocket request without its headers) as
/// `{"error": …}` like every other error, each saying what to do.
async fn json_errors(State(state): State<Arc<AppState>>, res: Response) -> Response {
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let limits = &state.limits;
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => format!(
            "the body is over the {} byte limit; send a shorter recording",
            limits.max_body_bytes
        ),
        StatusCode::REQUEST_TIMEOUT => format!(
            "the request took over {} s; send the whole body at once",
            limits.request_timeout.as_secs()
        ),
        StatusCode::METHOD_NOT_ALLOWED => {
            "method not allowed: POST /api/predict, POST or DELETE /api/adapt; GET /, /api/listen, /api/model, /api/health"
                .to_string()
        }
        _ => {
            let text = axum::body::to_bytes(res.into_body(), 4096)
                .await
                .map(|b| String::from_utf8_lossy(&b).trim().to_string())
                .unwrap_or_default();
            if text.is_empty() {
                status
                    .canonical_reason()
                    .unwrap_or("request refused")
                    .to_lowercase()
            } else {
                text
            }
        }
    };
    let mut out = error_response(status, message);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        out.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, POST, DELETE"));
    }
    out
}

/// `v` rounded to `places` decimals, as every `--json` output rounds.
pub(crate) fn round(v: f64, places: i32) -> f64 {
    let k = 10f64.powi(places);
    (v * k).round() / k
}
