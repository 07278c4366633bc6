//! What one client may cost the server: sizes, counts and timeouts, and
//! the answers when a limit is hit (413, 408, 503 and a closed stream).
//! Every limit has a default that is safe on a laptop and a flag or field
//! to change it.

use std::time::Duration;

/// The server's limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Largest `POST /api/predict` body (bytes): 10 MB, five minutes of
    /// 16-bit audio at 16 kHz.
    pub max_body_bytes: usize,
    /// Largest WebSocket message (bytes): 1 MiB, over five seconds of
    /// 48 kHz audio in one message; a browser sends a few kilobytes.
    pub max_message_bytes: usize,
    /// Live WebSocket streams at once (`--max-streams`); one more gets 503.
    pub max_streams: usize,
    /// Open HTTP connections at once; more wait in the listen queue.
    pub max_connections: usize,
    /// `POST /api/predict` decoding and classifying at once; more wait
    /// (within the request timeout).
    pub max_predictions: usize,
    /// A stream that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// A new stream must say its rate within this.
    pub start_timeout: Duration,
    /// A request (headers to response) must be done within this.
    pub request_timeout: Duration,
    /// A connection must send its request headers within this.
    pub header_timeout: Duration,
    /// At shutdown, streams get this long to finish and close.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    /// 10 MB bodies, 1 MiB messages, 64 streams, 256 connections, 2
    /// predictions at once, 30 s idle, 10 s to start, 30 s per request,
    /// 10 s for headers, 2 s to close at shutdown.
    fn default() -> Self {
        Self {
            max_body_bytes: 10 * 1000 * 1000,
            max_message_bytes: 1 << 20,
            max_streams: 64,
            max_connections: 256,
            max_predictions: 2,
            idle_timeout: Duration::from_secs(30),
            start_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(2),
        }
    }
}

impl Limits {
    pub fn check(&self) -> Result<(), String> {
        if self.max_streams == 0 || self.max_streams > 100_000 {
            return Err(format!(
                "--max-streams {} must be from 1 to 100000",
                self.max_streams
            ));
        }
        if self.max_body_bytes < 1024 || self.max_message_bytes < 1024 {
            return Err("body and message limits must be at least 1 KiB".into());
        }
        if self.max_connections == 0 || self.max_predictions == 0 {
            return Err("connection and prediction limits must be at least 1".into());
        }
        Ok(())
    }
}
