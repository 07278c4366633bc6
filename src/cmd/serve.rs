//! `digits serve`: the page, the HTTP API and the WebSocket stream.
//!
//! Parses the flags, loads the model, binds, prints the URL on stderr and
//! serves ([`digits::serve::Server`]) until Ctrl-C: then the streams get
//! their last words and a close, and the exit is 130, as for any program
//! Ctrl-C stops (a second Ctrl-C exits at once).

use std::path::PathBuf;
use std::process::ExitCode;

use digits::listen::ListenConfig;
use digits::model::ModelFile;
use digits::serve::{Limits, ServeConfig, ServeError, Server};

use super::BadInput;

/// Exit code after Ctrl-C: 128 + SIGINT, as shells report it.
const EXIT_INTERRUPTED: u8 = 130;

/// `digits serve --help`'s closing lines.
pub const AFTER_HELP: &str = "\
Endpoints: GET / (the page), POST /api/predict (a WAV file -> predict --json's object),
GET /api/listen (WebSocket: {\"rate\": N}, then f32 audio; one message per word),
GET /api/model, GET /api/health.

Exit codes: 0 success, 1 the job failed, 2 bad usage or bad input (a busy port),
130 stopped with Ctrl-C.

Examples:
  digits serve                      # then open http://127.0.0.1:8080/
  curl --data-binary @clip.wav http://127.0.0.1:8080/api/predict";

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; anything but a loopback address is reachable from other machines
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub host: String,
    /// Port to listen on (0: any free port)
    #[arg(long, short, default_value_t = 8080)]
    pub port: u16,
    /// Model file [default: the embedded model]
    #[arg(long, short)]
    pub model: Option<PathBuf>,
    /// Also let pages from this origin call the server (repeat for more), e.g. https://example.com
    #[arg(long, value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,
    /// Live WebSocket streams at once; one more is refused with 503
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_streams)]
    pub max_streams: usize,
    /// Below this confidence a word is sent with "digit": null
    #[arg(long, value_name = "P", default_value_t = 0.5)]
    pub threshold: f32,
    /// Close a stream that sends nothing for S seconds (for tests)
    #[arg(long, value_name = "S", hide = true)]
    pub idle_seconds: Option<u64>,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let listen = ListenConfig {
        threshold: args.threshold,
        ..ListenConfig::default()
    };
    listen.check()?;
    let idle = match args.idle_seconds {
        Some(0) => return Err(BadInput("--idle-seconds must be at least 1".into()).into()),
        s => s.map(std::time::Duration::from_secs),
    };
    let model = ModelFile::load_or_embedded(args.model.as_deref())?;
    let (model_source, model_bytes) = match &args.model {
        // Loaded above, so it can be measured.
        Some(p) => (
            p.display().to_string(),
            std::fs::metadata(p).map_or(0, |m| m.len() as usize),
        ),
        None => ("embedded".to_string(), digits::model::EMBEDDED_MODEL.len()),
    };
    let cfg = ServeConfig {
        host: args.host.clone(),
        port: args.port,
        model,
        model_source,
        model_bytes,
        allow_origins: args.allow_origin.clone(),
        limits: Limits {
            max_streams: args.max_streams,
            max_connections: Limits::default().max_connections.max(args.max_streams + 64),
            idle_timeout: idle.unwrap_or(Limits::default().idle_timeout),
            start_timeout: idle.unwrap_or(Limits::default().start_timeout),
            ..Limits::default()
        },
        listen,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("digits-serve")
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the server's threads: {e}"))?;
    runtime.block_on(serve(cfg))
}

async fn serve(cfg: ServeConfig) -> anyhow::Result<ExitCode> {
    let server = Server::bind(cfg).await.map_err(|e| match e {
        e @ ServeError::Model(_) => anyhow::Error::from(e),
        e => BadInput(e.to_string()).into(),
    })?;
    let url = server.url();
    note!("serving {url} (Ctrl-C to stop)");
    if !server.is_loopback() {
        super::warning(&format!(
            "{} is reachable from other machines, without HTTPS; a browser allows the \
             microphone only on localhost or over HTTPS, so elsewhere the page can classify \
             dropped files but not listen",
            server.local_addr()
        ));
    }
    server
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
            note!("stopping (Ctrl-C): closing the streams");
            // A second Ctrl-C does not wait for them.
            tokio::spawn(async {
                let _ = tokio::signal::ctrl_c().await;
                std::process::exit(EXIT_INTERRUPTED.into());
            });
        })
        .await?;
    Ok(ExitCode::from(EXIT_INTERRUPTED))
}
