//! Load benchmark of `digits serve` (not a test): N WebSocket streams at
//! once, each playing a multi-digit recording at real-time pace in 20 ms
//! messages, as browsers would. For N = 1, 10, 100, 500 (or the Ns given)
//! it reports the digits heard right, the end-of-word → message latency
//! (p50, p99), and the server's CPU and memory. It also measures the
//! memory of idle streams and the time from starting the server to its
//! first answer.
//!
//! ```text
//! cargo bench --bench serve_load                  # N = 1 10 100 500, 48 kHz
//! cargo bench --bench serve_load -- 1 250 750     # other Ns
//! DIGITS_LOAD_RATE=16000 cargo bench --bench serve_load
//! ```
//!
//! The recordings: all 300 FSDD test clips in 25 recordings of 12 digits
//! (peaks -20 ± 6 dBFS, 250-500 ms apart, white room noise at -60 dBFS),
//! resampled to the stream rate; stream k plays recording k mod 25,
//! starting at a random moment in its first second. "Right" counts words
//! against the recording's truth, and against what one stream alone hears
//! in it (which `tests/serve.rs` checks is what `listen --auto --from-wav`
//! hears). Latency: from sending the message that holds the end of the
//! word's 120 ms hangover (the audio the server needs to know the word has
//! ended) to receiving the word's message. The client runs on the same
//! machine and shares its cores; its CPU is reported too.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// The VAD's hangover once room tone has been heard (s): a word's end is
/// known this long after it.
const HANGOVER_S: f64 = 0.12;
/// Audio per message (s).
const BLOCK_S: f64 = 0.02;
const SPEAKERS: [&str; 6] = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"];

struct Recording {
    samples: Vec<f32>,
    truth: String,
    /// What one stream alone hears in it.
    reference: String,
}

/// xorshift64*.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }
}

fn recordings(rate: u32) -> Vec<Recording> {
    let dir = digits::data::shared_fsdd_dir();
    let mut rng = Rng(0x10ad_5eed);
    let mut clips: Vec<(u8, &str, u8)> = (0..10u8)
        .flat_map(|d| {
            SPEAKERS
                .iter()
                .flat_map(move |&s| (0..5u8).map(move |t| (d, s, t)))
        })
        .collect();
    for i in (1..clips.len()).rev() {
        clips.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    clips
        .chunks(12)
        .map(|group| {
            let mut x = vec![0.0f32; 4000];
            let mut truth = String::new();
            for &(d, s, t) in group {
                let audio = digits::audio::read_wav(&dir.join(format!("{d}_{s}_{t}.wav"))).unwrap();
                let peak = audio
                    .samples
                    .chunks(80)
                    .map(|c| c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32)
                    .fold(0.0f32, f32::max);
                let gain = (10f32.powf(rng.range(-26.0, -14.0) / 10.0) / peak).sqrt();
                x.extend(audio.samples.iter().map(|v| v * gain));
                let pause = (rng.range(0.25, 0.5) * 8000.0) as usize;
                x.extend(std::iter::repeat_n(0.0, pause));
                truth.push(char::from(b'0' + d));
            }
            x.extend(std::iter::repeat_n(0.0, 4000));
            let amp = 3f32.sqrt() * 10f32.powf(-60.0 / 20.0);
            for v in &mut x {
                *v += amp * (2.0 * rng.unit() - 1.0);
            }
            Recording {
                samples: resample(&x, 8000, rate),
                truth,
                reference: String::new(),
            }
        })
        .collect()
}

/// Linear interpolation (the recordings only need to sound the same).
fn resample(x: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to {
        return x.to_vec();
    }
    let n = (x.len() as u64 * to as u64 / from as u64) as usize;
    (0..n)
        .map(|i| {
            let pos = i as f64 * from as f64 / to as f64;
            let i0 = (pos as usize).min(x.len() - 1);
            let i1 = (i0 + 1).min(x.len() - 1);
            let w = (pos - i0 as f64) as f32;
            x[i0] * (1.0 - w) + x[i1] * w
        })
        .collect()
}

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(args: &[&str]) -> (Self, Duration) {
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_digits"))
            .args(["serve", "--port", "0"])
            .args(args)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let line = lines.next().unwrap().unwrap();
        let addr = line
            .strip_prefix("serving http://")
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_string();
        // Keep reading stderr so the server never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        // First answer: /api/health over a fresh connection.
        loop {
            if health(&addr) {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let first_answer = started.elapsed();
        (Self { child, addr }, first_answer)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn health(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut tcp) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let req = format!("GET /api/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if tcp.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut reply = String::new();
    tcp.read_to_string(&mut reply).is_ok() && reply.starts_with("HTTP/1.1 200")
}

/// CPU seconds (user + system) and resident / peak memory (kB) of `pid`.
fn usage(pid: u32) -> (f64, u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command's closing parenthesis; utime, stime are 14, 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    // CLK_TCK is 100 on Linux.
    (ticks / 100.0, kb("VmRSS:"), kb("VmHWM:"))
}

/// What one stream saw.
struct StreamResult {
    heard: String,
    latencies_ms: Vec<f64>,
}

/// Plays `samples` at `rate` over one WebSocket, in real time if `paced`,
/// starting at `start`.
async fn play(
    addr: String,
    samples: Arc<Vec<f32>>,
    rate: u32,
    start: tokio::time::Instant,
    paced: bool,
) -> StreamResult {
    // No Nagle delay on the client's sends, as browsers do for WebSockets.
    let (ws, _) =
        tokio_tungstenite::connect_async_with_config(format!("ws://{addr}/api/listen"), None, true)
            .await
            .expect("connect");
    let (mut tx, mut rx) = ws.split();
    tx.send(Message::Text(json!({ "rate": rate }).to_string().into()))
        .await
        .unwrap();
    let block = (BLOCK_S * rate as f64).round() as usize;
    let n_blocks = samples.len().div_ceil(block);
    // When each block left; read by the receiver as words come back.
    let sent: Arc<Vec<std::sync::OnceLock<Instant>>> =
        Arc::new((0..n_blocks).map(|_| std::sync::OnceLock::new()).collect());
    let sent_r = sent.clone();
    let receiver = tokio::spawn(async move {
        let mut heard = String::new();
        let mut latencies_ms = Vec::new();
        while let Some(Ok(msg)) = rx.next().await {
            let Message::Text(t) = msg else { continue };
            let now = Instant::now();
            let v: Value = serde_json::from_str(&t).unwrap();
            if v.get("digit").is_none() {
                continue;
            }
            heard.push(
                v["digit"]
                    .as_u64()
                    .map_or('?', |d| char::from(b'0' + d as u8)),
            );
            let end_s = v["end_s"].as_f64().unwrap();
            let needed = ((end_s + HANGOVER_S) * rate as f64).round() as usize;
            let b = (needed.saturating_sub(1) / block).min(n_blocks - 1);
            if let Some(at) = sent_r[b].get() {
                let ms = now.saturating_duration_since(*at).as_secs_f64() * 1e3;
                if paced && std::env::var_os("DIGITS_LOAD_VERBOSE").is_some() && ms > 10.0 {
                    eprintln!(
                        "slow word: end {end_s} s, {ms:.1} ms, server compute {} ms",
                        v["ms"]
                    );
                }
                latencies_ms.push(ms);
            }
        }
        StreamResult {
            heard,
            latencies_ms,
        }
    });
    tokio::time::sleep_until(start).await;
    for (k, chunk) in samples.chunks(block).enumerate() {
        if paced {
            tokio::time::sleep_until(start + Duration::from_secs_f64(k as f64 * BLOCK_S)).await;
        }
        let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
        let _ = sent[k].set(Instant::now());
        if tx.send(Message::Binary(bytes.into())).await.is_err() {
            break;
        }
    }
    let _ = tx
        .send(Message::Text(json!({"end": true}).to_string().into()))
        .await;
    receiver.await.unwrap()
}

/// Levenshtein distance: digits right = length - edits.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for j in 1..=b.len() {
            let cur = row[j];
            row[j] = (row[j] + 1)
                .min(row[j - 1] + 1)
                .min(prev + usize::from(ca != b[j - 1]));
            prev = cur;
        }
    }
    row[b.len()]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i]
}

fn main() {
    let mut ns: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if ns.is_empty() {
        ns = vec![1, 10, 100, 500];
    }
    let rate: u32 = std::env::var("DIGITS_LOAD_RATE")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(48_000);
    let max = ns.iter().copied().max().unwrap_or(1).max(500);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    eprintln!("building 25 recordings at {rate} Hz ...");
    let mut recs = recordings(rate);

    // Server start to first answer, five times.
    let mut starts: Vec<f64> = (0..5)
        .map(|_| Server::start(&[]).1.as_secs_f64() * 1e3)
        .collect();
    starts.sort_by(f64::total_cmp);

    let max_streams = (max + 10).to_string();
    let (server, _) = Server::start(&["--max-streams", &max_streams]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    // What one stream alone hears in each recording (fed fast).
    for r in &mut recs {
        let samples = Arc::new(r.samples.clone());
        let result = runtime.block_on(play(
            server.addr.clone(),
            samples,
            rate,
            tokio::time::Instant::now(),
            false,
        ));
        r.reference = result.heard;
    }
    let ref_right: usize = recs
        .iter()
        .map(|r| {
            r.truth
                .len()
                .saturating_sub(edit_distance(&r.truth, &r.reference))
        })
        .sum();
    let ref_exact = recs.iter().filter(|r| r.reference == r.truth).count();
    eprintln!("one stream alone: {ref_right}/300 digits right, {ref_exact}/25 recordings exact");

    let mut rows = Vec::new();
    for &n in &ns {
        let shared: Vec<Arc<Vec<f32>>> = recs.iter().map(|r| Arc::new(r.samples.clone())).collect();
        let mut rng = Rng(0x5eed ^ n as u64);
        let (cpu0, _, _) = usage(server.pid());
        let me0 = usage(std::process::id()).0;
        let t0 = Instant::now();
        let base = tokio::time::Instant::now() + Duration::from_millis(500);
        let results: Vec<(usize, StreamResult)> = runtime.block_on(async {
            let tasks: Vec<_> = (0..n)
                .map(|k| {
                    let start = base + Duration::from_secs_f32(rng.unit());
                    let rec = k % recs.len();
                    let h = tokio::spawn(play(
                        server.addr.clone(),
                        shared[rec].clone(),
                        rate,
                        start,
                        true,
                    ));
                    (rec, h)
                })
                .collect();
            let mut out = Vec::new();
            for (rec, h) in tasks {
                out.push((rec, h.await.unwrap()));
            }
            out
        });
        let wall = t0.elapsed().as_secs_f64();
        let (cpu1, rss, hwm) = usage(server.pid());
        let me1 = usage(std::process::id()).0;
        let mut latencies: Vec<f64> = results
            .iter()
            .flat_map(|(_, r)| r.latencies_ms.iter().copied())
            .collect();
        latencies.sort_by(f64::total_cmp);
        let words: usize = results.iter().map(|(rec, _)| recs[*rec].truth.len()).sum();
        let same_as_alone = results
            .iter()
            .filter(|(rec, r)| r.heard == recs[*rec].reference)
            .count();
        let right: usize = results
            .iter()
            .map(|(rec, r)| {
                let t = &recs[*rec].truth;
                t.len().saturating_sub(edit_distance(t, &r.heard))
            })
            .sum();
        let row = format!(
            "| {n} | {right}/{words} ({:.1} %) | {same_as_alone}/{n} | {:.1} | {:.1} | {:.1} | {:.0} % | {:.0} % | {:.0} / {:.0} |",
            100.0 * right as f64 / words as f64,
            percentile(&latencies, 50.0),
            percentile(&latencies, 99.0),
            latencies.last().copied().unwrap_or(f64::NAN),
            100.0 * (cpu1 - cpu0) / wall,
            100.0 * (me1 - me0) / wall,
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0,
        );
        eprintln!("{row}");
        rows.push(row);
    }

    // Idle streams: connected, rate sent, nothing else.
    let idle_n = 500;
    let (idle_server, _) = Server::start(&["--max-streams", "600"]);
    std::thread::sleep(Duration::from_millis(300));
    let (_, rss0, _) = usage(idle_server.pid());
    let idle_addr = idle_server.addr.clone();
    let kept = runtime.block_on(async move {
        let mut kept = Vec::new();
        for _ in 0..idle_n {
            let (mut ws, _) =
                tokio_tungstenite::connect_async(format!("ws://{idle_addr}/api/listen"))
                    .await
                    .unwrap();
            ws.send(Message::Text(json!({ "rate": rate }).to_string().into()))
                .await
                .unwrap();
            let _ready = ws.next().await;
            kept.push(ws);
        }
        kept
    });
    std::thread::sleep(Duration::from_millis(300));
    let (_, rss1, _) = usage(idle_server.pid());
    drop(kept);

    println!(
        "\ndigits serve under load: {rate} Hz streams in {:.0} ms messages, {cores} cores, server and client on the same machine\n",
        BLOCK_S * 1e3
    );
    println!("| streams | digits right | streams as one alone hears | latency p50 (ms) | p99 (ms) | max (ms) | server CPU | client CPU | server RSS / peak (MiB) |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!("{r}");
    }
    println!(
        "\none stream alone (the reference): {ref_right}/300 digits right, {ref_exact}/25 recordings exact"
    );
    println!(
        "idle streams: {idle_n} cost {:.1} MiB, {:.0} KiB each",
        (rss1 as f64 - rss0 as f64) / 1024.0,
        (rss1 as f64 - rss0 as f64) / idle_n as f64
    );
    println!(
        "server start to first answer (spawn to GET /api/health): median {:.1} ms, min {:.1}, max {:.1} (5 starts)",
        starts[2], starts[0], starts[4]
    );
}
