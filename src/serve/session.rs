//! `GET /api/listen`: one WebSocket stream, heard exactly as `listen
//! --auto` hears a microphone. The session feeds the client's samples to a
//! [`StreamRecognizer`] (the VAD and the recognizer `listen` runs) and
//! sends each word as it ends.
//!
//! A stream takes one of `--max-streams` permits (503 when none is left)
//! and keeps it until it closes. A malformed message, an idle stream, or
//! the server shutting down ends it with an `{"error": …}` (or, at
//! shutdown, the last words) and a close frame; nothing a client sends can
//! reach another stream.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use tokio::sync::OwnedSemaphorePermit;

use super::error_response;
use super::protocol::{self, ClientMessage, Frame, ProtocolError};
use super::state::AppState;
use crate::listen::{Found, StreamRecognizer};

/// Close codes (RFC 6455): normal, going away (shutdown), protocol error,
/// policy (idle, limits), too big, internal error.
const CLOSE_NORMAL: u16 = 1000;
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_PROTOCOL: u16 = 1002;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_INTERNAL: u16 = 1011;

/// How long a closing stream waits for the client's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// A client that does not take a message within this is gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) async fn upgrade(State(state): State<Arc<AppState>>, ws: WebSocketUpgrade) -> Response {
    let Ok(permit) = state.streams.clone().try_acquire_owned() else {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "all {} streams are in use; try again later, or start the server with a higher --max-streams",
                state.limits.max_streams
            ),
        );
    };
    let limits = &state.limits;
    // Small buffers: an idle stream costs little; a message a browser
    // sends (a few kB) still fits in one read.
    ws.max_message_size(limits.max_message_bytes)
        .max_frame_size(limits.max_message_bytes)
        .read_buffer_size(16 * 1024)
        .write_buffer_size(4 * 1024)
        .on_upgrade(move |socket| session(state, socket, permit))
}

/// Why a session ends.
enum End {
    /// The client sent `{"end": true}`: flush, answer, close normally.
    Finished,
    /// The client closed or vanished.
    Gone,
    /// The server is shutting down: flush, answer, close (going away).
    Shutdown,
    /// Refused: an error message, then a close with this code.
    Refused(u16, String),
}

async fn session(state: Arc<AppState>, mut socket: WebSocket, _permit: OwnedSemaphorePermit) {
    let _live = state.sessions.enter();
    let mut shutdown = state.shutdown.clone();
    let mut stream: Option<StreamRecognizer> = None;
    let mut found = Vec::new();
    let limits = &state.limits;
    let end = loop {
        let wait = if stream.is_some() {
            limits.idle_timeout
        } else {
            limits.start_timeout
        };
        let next = tokio::select! {
            next = tokio::time::timeout(wait, socket.recv()) => next,
            _ = super::http::down(&mut shutdown) => break End::Shutdown,
        };
        let msg = match next {
            Err(_) if stream.is_none() => {
                break End::Refused(
                    CLOSE_POLICY,
                    format!(
                        "no {{\"rate\": N}} within {} s of connecting; send the sample rate first",
                        wait.as_secs()
                    ),
                )
            }
            Err(_) => {
                break End::Refused(
                    CLOSE_POLICY,
                    format!("no audio for {} s; closing the stream", wait.as_secs()),
                )
            }
            Ok(None) | Ok(Some(Ok(Message::Close(_)))) => break End::Gone,
            Ok(Some(Err(e))) => {
                let e = e.to_string();
                break if e.contains("too long") {
                    End::Refused(
                        CLOSE_TOO_BIG,
                        format!(
                            "message too large ({e}); send audio in messages of at most {} bytes",
                            limits.max_message_bytes
                        ),
                    )
                } else {
                    End::Refused(CLOSE_PROTOCOL, format!("unreadable message: {e}"))
                };
            }
            Ok(Some(Ok(m))) => m,
        };
        let parsed = match &msg {
            Message::Text(t) => protocol::parse_client_message(Frame::Text(t.as_str())),
            Message::Binary(b) => protocol::parse_client_message(Frame::Binary(b)),
            // Pings are answered by the socket itself.
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(_) => break End::Gone,
        };
        let parsed = match (parsed, &stream) {
            (Err(e), _) => break refused(e),
            (Ok(ClientMessage::Audio(_)), None) => break refused(ProtocolError::AudioBeforeRate),
            (Ok(ClientMessage::Start { .. }), Some(s)) => {
                break refused(ProtocolError::RateTwice(s.sample_rate()))
            }
            (Ok(m), _) => m,
        };
        match parsed {
            ClientMessage::Start { rate } => match StreamRecognizer::new(&state.listen, rate) {
                Ok(s) => {
                    stream = Some(s);
                    if send(&mut socket, protocol::ready_message(rate))
                        .await
                        .is_err()
                    {
                        break End::Gone;
                    }
                }
                Err(e) => break End::Refused(CLOSE_INTERNAL, e.to_string()),
            },
            ClientMessage::Audio(samples) => {
                let s = stream.as_mut().expect("checked above");
                s.push(&samples);
                if let Err(why) = answer(&state, s, &mut found, &mut socket).await {
                    break why;
                }
            }
            ClientMessage::End => break End::Finished,
        }
    };
    let (code, reason) = match end {
        End::Gone => return,
        End::Refused(code, message) => {
            let _ = send(&mut socket, protocol::error_message(&message)).await;
            (code, close_reason(&message))
        }
        End::Finished | End::Shutdown => {
            // The last word, said just before the end, still counts.
            if let Some(s) = stream.as_mut() {
                s.flush();
                if answer(&state, s, &mut found, &mut socket).await.is_err() {
                    return;
                }
            }
            if matches!(end, End::Finished) {
                (CLOSE_NORMAL, "end of stream".to_string())
            } else {
                (CLOSE_GOING_AWAY, "the server is shutting down".to_string())
            }
        }
    };
    close(&mut socket, code, reason).await;
}

fn refused(e: ProtocolError) -> End {
    End::Refused(e.close_code(), e.to_string())
}

/// Classifies what the stream found (with a recognizer from the pool) and
/// sends it.
async fn answer(
    state: &AppState,
    stream: &mut StreamRecognizer,
    found: &mut Vec<Found>,
    socket: &mut WebSocket,
) -> Result<(), End> {
    if !stream.has_answers() {
        return Ok(());
    }
    let classified = state.current().pool.with(|r| stream.answer(r, found));
    match classified {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(End::Refused(CLOSE_INTERNAL, e.to_string())),
        Err(e) => return Err(End::Refused(CLOSE_INTERNAL, e.to_string())),
    }
    for f in found.drain(..) {
        let text = match &f {
            Found::Heard(h) => protocol::word_message(h),
            Found::TooQuiet(q) => protocol::too_quiet_message(q),
        };
        if send(socket, text).await.is_err() {
            return Err(End::Gone);
        }
    }
    Ok(())
}

async fn send(socket: &mut WebSocket, text: String) -> Result<(), ()> {
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// A close frame's reason is at most 123 bytes.
fn close_reason(message: &str) -> String {
    let mut end = message.len().min(123);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message[..end].to_string()
}

/// Sends a close frame and waits (briefly) for the client's.
async fn close(socket: &mut WebSocket, code: u16, reason: String) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if send_close(socket, frame).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(_)) = socket.recv().await {}
    })
    .await;
}

async fn send_close(socket: &mut WebSocket, frame: CloseFrame) -> Result<(), ()> {
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(frame)))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}
