//! Who may use the server: a page on another site must not turn a local
//! server into its recognizer. Requests that carry an `Origin` (browsers
//! send one with every WebSocket and every cross-site POST) are served
//! only from the server's own origin or one named with `--allow-origin`;
//! anything else gets 403. Requests without one (curl, scripts) are served.
//!
//! Bound to a loopback address, the server also refuses a `Host` that is
//! not a loopback name: a site that points its own name at 127.0.0.1 (DNS
//! rebinding) is then still another origin.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::error_response;
use super::state::AppState;

/// The origin policy of one server.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginPolicy {
    /// Origins allowed besides the server's own (`--allow-origin`),
    /// normalised: scheme and host lowercased, no trailing slash.
    pub allowed: Vec<String>,
    /// Only loopback `Host` names are accepted (the server is bound to a
    /// loopback address).
    pub loopback_only: bool,
}

impl OriginPolicy {
    pub fn new(allowed: &[String], bind: IpAddr) -> Result<Self, String> {
        let allowed = allowed
            .iter()
            .map(|o| normalise_origin(o))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            allowed,
            loopback_only: bind.is_loopback(),
        })
    }

    /// `None` when the request may go on; otherwise why not.
    pub fn refuse(&self, host: Option<&str>, origin: Option<&str>) -> Option<String> {
        if self.loopback_only {
            match host {
                Some(h) if is_loopback_host(h) => {}
                Some(h) => {
                    return Some(format!(
                        "Host {h} is not this machine's loopback name; open the page at http://127.0.0.1 or http://localhost"
                    ))
                }
                None => return Some("a request without a Host header".into()),
            }
        }
        let origin = origin?;
        let Ok(norm) = normalise_origin(origin) else {
            return Some(format!("cross-origin request from {origin} refused"));
        };
        let own = host.map(|h| format!("http://{}", h.to_ascii_lowercase()));
        if own.as_deref() == Some(norm.as_str()) || self.allowed.contains(&norm) {
            return None;
        }
        Some(format!(
            "cross-origin request from {origin} refused; to let that page use this server, start it with --allow-origin {origin}"
        ))
    }
}

/// `http://Example.com:8080/` → `http://example.com:8080`; a path, query
/// or anything but http(s) is refused.
pub fn normalise_origin(origin: &str) -> Result<String, String> {
    let bad = || {
        format!("--allow-origin {origin} is not an origin; give scheme, host and port, e.g. https://example.com or http://localhost:3000")
    };
    let o = origin.trim_end_matches('/');
    let (scheme, rest) = o.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    if !(scheme == "http" || scheme == "https")
        || rest.is_empty()
        || rest.contains(['/', '?', '#', '@', ' '])
    {
        return Err(bad());
    }
    Ok(format!("{scheme}://{}", rest.to_ascii_lowercase()))
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The middleware: 403 with `{"error": …}` for a refused request.
pub(super) async fn check(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let refused = {
        let get = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
        state.origins.refuse(get(header::HOST), get(header::ORIGIN))
    };
    if let Some(why) = refused {
        return error_response(StatusCode::FORBIDDEN, why);
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_origin_and_allowed_ones_pass_others_are_refused() {
        let p =
            OriginPolicy::new(&["https://App.example.com/".into()], [127, 0, 0, 1].into()).unwrap();
        let host = Some("127.0.0.1:8080");
        assert_eq!(p.refuse(host, None), None);
        assert_eq!(p.refuse(host, Some("http://127.0.0.1:8080")), None);
        assert_eq!(p.refuse(host, Some("https://app.example.com")), None);
        assert_eq!(
            p.refuse(host, Some("https://evil.example")).unwrap(),
            "cross-origin request from https://evil.example refused; to let that page use this server, start it with --allow-origin https://evil.example"
        );
        // Another port on this machine is another origin.
        assert!(p.refuse(host, Some("http://127.0.0.1:3000")).is_some());
        assert!(p
            .refuse(Some("localhost:8080"), Some("http://localhost:8080"))
            .is_none());
        assert!(p.refuse(Some("[::1]:8080"), None).is_none());
        // DNS rebinding: the attacker's name, pointed at 127.0.0.1.
        assert!(p
            .refuse(Some("evil.example:8080"), Some("http://evil.example:8080"))
            .is_some());
        // Bound to all interfaces, any Host is fine; the Origin still counts.
        let open = OriginPolicy::new(&[], [0, 0, 0, 0].into()).unwrap();
        assert!(open
            .refuse(Some("box.lan:8080"), Some("http://box.lan:8080"))
            .is_none());
        assert!(open
            .refuse(Some("box.lan:8080"), Some("http://evil.example"))
            .is_some());
    }

    #[test]
    fn allow_origin_takes_origins_only() {
        assert_eq!(
            normalise_origin("HTTP://Localhost:3000/").unwrap(),
            "http://localhost:3000"
        );
        for bad in ["example.com", "ftp://x", "https://x/path", "https://", "*"] {
            assert!(normalise_origin(bad).is_err(), "{bad}");
        }
    }
}
