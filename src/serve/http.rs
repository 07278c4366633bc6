//! The HTTP/1.1 connections: hyper serves each one with the router, with
//! a deadline for the request headers (a client that trickles them cannot
//! hold a connection), at most `max_connections` at once, `TCP_NODELAY`
//! (a word's message leaves at once), and upgrades to WebSocket.
//!
//! This is `axum::serve` with those three settings, which it does not
//! offer.

use std::sync::Arc;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use super::limits::Limits;

/// Returns once the server is shutting down.
pub(super) async fn down(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|&down| down).await;
}

/// Accepts connections until `shutdown` turns `true`, then lets the open
/// ones finish their requests; returns when they have (WebSocket sessions,
/// once upgraded, are not connections any more: the sessions count them).
pub(super) async fn accept_loop(
    listener: TcpListener,
    app: Router,
    limits: &Limits,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let header_timeout = limits.header_timeout;
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(1);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("never closed"),
            _ = down(&mut shutdown) => break,
        };
        let (tcp, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of descriptors and the like: wait, then go on.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = down(&mut shutdown) => break,
        };
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let mut shutdown = shutdown.clone();
        let done = done_tx.clone();
        tokio::spawn(async move {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = down(&mut shutdown) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(permit);
            drop(done);
        });
    }
    drop(listener);
    drop(done_tx);
    // Every connection task holds a sender; all gone = all done.
    let _ = done_rx.recv().await;
}
