//! `GET /`: the page. One self-contained file (HTML, CSS and JavaScript,
//! no CDN, no build step) embedded in the binary with `include_str!`.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// The page's source: `src/serve/page.html`.
pub const PAGE: &str = include_str!("page.html");

/// What the page may load and connect to: itself only (its own inline
/// script and style, its AudioWorklet from a `blob:` URL, its own
/// WebSocket), and no framing by other sites.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline' blob:; style-src 'unsafe-inline'; \
                   connect-src 'self' ws: wss:; img-src data:; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

pub(super) async fn index() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        PAGE,
    )
        .into_response()
}
