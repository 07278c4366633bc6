//! `digits serve` end to end, as a client would use it: the binary is
//! started on a free port on 127.0.0.1 (it prints the URL it bound on
//! stderr), then driven over HTTP (ureq) and WebSocket (tungstenite) with
//! FSDD's test clips and multi-digit recordings built from them.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::client::IntoClientRequest;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::listen::{edit_distance, recording, test_clips, write_wav, Rng, RATE, SEED, SPEAKERS};
use crate::util::{digits_cmd, recordings, resample_linear, wav_bytes, write_two_words};

/// A `digits serve` process on a free port; interrupted (or killed) when
/// dropped.
pub(crate) struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT/`
    pub url: String,
    /// `127.0.0.1:PORT`
    pub addr: String,
    stderr: Arc<Mutex<String>>,
}

impl Served {
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_digits"))
            .args(["serve", "--port", "0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let all = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                all.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
                if let Some(rest) = line.strip_prefix("serving ") {
                    let url = rest.split(' ').next().unwrap().to_string();
                    let addr = url
                        .trim_start_matches("http://")
                        .trim_end_matches('/')
                        .to_string();
                    return Self {
                        child,
                        url,
                        addr,
                        stderr,
                    };
                }
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "digits serve printed no URL in 30 s:\n{}",
            stderr.lock().unwrap()
        );
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/api/listen", self.addr)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Ctrl-C, then the exit status (within 10 s).
    pub fn interrupt(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "no exit 10 s after Ctrl-C");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build()
}

/// A request's status, JSON body and response headers.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn reply(r: std::result::Result<ureq::Response, ureq::Error>) -> Reply {
    let resp = match r {
        Ok(resp) => resp,
        Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => panic!("{e}"),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .map(|k| {
            let v = resp.header(&k).unwrap_or_default().to_string();
            (k, v)
        })
        .collect();
    let text = resp.into_string().unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    Reply {
        status,
        body,
        headers,
    }
}

/// `POST path` with `body` and extra headers.
pub(crate) fn post(s: &Served, path: &str, body: &[u8], headers: &[(&str, &str)]) -> Reply {
    let mut req = agent().post(&format!("{}{}", s.url, path.trim_start_matches('/')));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    reply(req.send_bytes(body))
}

pub(crate) fn get(s: &Served, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = agent().get(&format!("{}{}", s.url, path.trim_start_matches('/')));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    reply(req.call())
}

/// Sends `head` and as much of `body` as the server reads, over a plain
/// socket (an HTTP client stops at the first write the server refuses),
/// and returns the status and JSON body of the answer.
fn raw_request(s: &Served, head: &str, body: &[u8]) -> (u16, Value) {
    use std::io::{Read, Write};
    let mut tcp = TcpStream::connect(&s.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    tcp.write_all(head.as_bytes()).unwrap();
    // The server may answer and close before the body is all sent.
    let _ = tcp.write_all(body);
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    let split = loop {
        if let Some(i) = reply.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = tcp.read(&mut buf).unwrap();
        assert!(n > 0, "no answer: {}", String::from_utf8_lossy(&reply));
        reply.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&reply[..split]).to_string();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .unwrap();
    while reply.len() < split + len {
        let n = tcp.read(&mut buf).unwrap();
        assert!(n > 0);
        reply.extend_from_slice(&buf[..n]);
    }
    (
        status,
        serde_json::from_slice(&reply[split..split + len]).unwrap(),
    )
}

fn error_of(r: &Reply) -> &str {
    r.body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {}", r.body))
}

type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

/// Opens `/api/listen` (with an `Origin`, as a browser would, if given).
fn connect(s: &Served, origin: Option<&str>) -> Result<Ws, tungstenite::Error> {
    let mut req = s.ws_url().into_client_request().unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("Origin", o.parse().unwrap());
    }
    let (ws, _) = tungstenite::connect(req)?;
    if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    }
    Ok(ws)
}

fn send_text(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).unwrap();
}

fn send_audio(ws: &mut Ws, samples: &[f32]) {
    let bytes: Vec<u8> = samples.iter().flat_map(|x| x.to_le_bytes()).collect();
    ws.send(Message::Binary(bytes.into())).unwrap();
}

/// The next text message as JSON, or the close frame's code and reason.
fn next(ws: &mut Ws) -> Result<Value, (u16, String)> {
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => return Ok(serde_json::from_str(&t).unwrap()),
            Ok(Message::Close(frame)) => {
                return Err(frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                }))
            }
            Ok(_) => {}
            Err(e) => return Err((0, e.to_string())),
        }
    }
}

/// Streams `samples` at `rate` in `block`-sample messages, as fast as the
/// socket takes them, then `{"end": true}`; returns every message after
/// `ready`, and the close code.
fn stream(s: &Served, samples: &[f32], rate: u32, block: usize) -> (Vec<Value>, u16) {
    let mut ws = connect(s, None).unwrap();
    send_text(&mut ws, json!({ "rate": rate }));
    assert_eq!(next(&mut ws).unwrap(), json!({"ready": true, "rate": rate}));
    for chunk in samples.chunks(block) {
        send_audio(&mut ws, chunk);
    }
    send_text(&mut ws, json!({"end": true}));
    let mut out = Vec::new();
    loop {
        match next(&mut ws) {
            Ok(m) => out.push(m),
            Err((code, _)) => return (out, code),
        }
    }
}

/// `0`..`9` for each word message, `?` for a null digit.
fn digits_of(messages: &[Value]) -> String {
    messages
        .iter()
        .filter(|m| m.get("digit").is_some())
        .map(|m| {
            m["digit"]
                .as_u64()
                .map_or('?', |d| char::from(b'0' + d as u8))
        })
        .collect()
}

/// `POST /api/predict` answers each of the 300 official test clips with
/// the very object `digits predict --json` prints for it (the `ms` aside):
/// same digit, same probabilities, same top 3.
#[test]
fn predict_endpoint_answers_as_predict_json_does() {
    let s = Served::start(&[]);
    let mut clips: Vec<String> = (0..10u8)
        .flat_map(|d| {
            SPEAKERS
                .iter()
                .flat_map(move |sp| (0..5u8).map(move |t| format!("{d}_{sp}_{t}.wav")))
        })
        .collect();
    clips.sort();
    let paths: Vec<String> = clips
        .iter()
        .map(|c| recordings().join(c).display().to_string())
        .collect();
    let out = digits_cmd()
        .args(["predict", "--json", "--top", "3"])
        .args(&paths)
        .assert()
        .success();
    let expected: Vec<Value> = String::from_utf8(out.get_output().stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(expected.len(), 300);
    let mut right = 0;
    for ((clip, path), want) in clips.iter().zip(&paths).zip(&expected) {
        let bytes = std::fs::read(path).unwrap();
        let name = format!("?top=3&name={path}");
        let r = post(&s, &format!("api/predict{name}"), &bytes, &[]);
        assert_eq!(r.status, 200, "{clip}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("application/json"));
        let (mut got, mut want) = (r.body.clone(), want.clone());
        assert!(got["ms"].as_f64().unwrap() > 0.0);
        got.as_object_mut().unwrap().remove("ms");
        want.as_object_mut().unwrap().remove("ms");
        assert_eq!(got, want, "{clip}");
        right += usize::from(got["digit"].as_u64() == clip[..1].parse().ok());
    }
    eprintln!("POST /api/predict: {right}/300 right");
    assert!(right >= 297, "{right}/300");
    // Without ?name, the clip is "-" (as `predict -` calls standard
    // input), and the top is one digit long.
    let bytes = std::fs::read(&paths[0]).unwrap();
    let r = post(&s, "api/predict", &bytes, &[]);
    assert_eq!(r.body["file"], "-");
    assert_eq!(r.body["top"].as_array().unwrap().len(), 1);
}

/// Every way a POST can go wrong: a 4xx with `{"error": …}` naming the
/// problem (and predict's own words for the audio's problems).
#[test]
fn predict_endpoint_errors_name_the_problem() {
    let s = Served::start(&[]);
    let cases: Vec<(&str, Vec<u8>, u16, String)> = vec![
        (
            "api/predict",
            vec![],
            400,
            "empty body; send a WAV file, e.g. curl --data-binary @clip.wav".into(),
        ),
        (
            "api/predict?name=notes.txt",
            b"hello, this is not audio".to_vec(),
            400,
            "notes.txt: not a WAV file (no RIFF/WAVE header); convert it first, e.g. `ffmpeg -i in.mp3 out.wav`".into(),
        ),
        (
            "api/predict",
            wav_bytes(&vec![0.0; 8000], 8000, 1, 16, false),
            400,
            "the request body: no sound (every sample the same, within one 16-bit step); check that the microphone was on and not muted".into(),
        ),
        (
            "api/predict?top=11",
            vec![1],
            400,
            "?top=11 is not a number from 1 to 10".into(),
        ),
        (
            "api/predict?model=x",
            vec![1],
            400,
            "unknown query parameter; /api/predict takes ?name=NAME and ?top=K (1 to 10)".into(),
        ),
    ];
    for (path, body, status, message) in &cases {
        let r = post(&s, path, body, &[]);
        assert_eq!(
            (r.status, error_of(&r)),
            (*status, message.as_str()),
            "{path}"
        );
        assert_eq!(r.body.as_object().unwrap().len(), 1, "{}", r.body);
    }
    // predict's own messages, for the same files.
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.wav");
    std::fs::write(
        &short,
        wav_bytes(&[0.1, -0.1, 0.2, 0.0], 8000, 1, 16, false),
    )
    .unwrap();
    let mut rng = Rng(SEED ^ 20);
    let (hiss, _) = recording(&[], -40.0, &mut rng);
    let noise = dir.path().join("hiss.wav");
    write_wav(&noise, &hiss, RATE, false);
    for file in [&short, &noise] {
        let name = file.display().to_string();
        let out = digits_cmd()
            .args(["predict", "--json"])
            .arg(file)
            .assert()
            .code(2);
        let line: Value =
            serde_json::from_str(String::from_utf8_lossy(&out.get_output().stdout).trim()).unwrap();
        let r = post(
            &s,
            &format!("api/predict?name={name}"),
            &std::fs::read(file).unwrap(),
            &[],
        );
        assert_eq!(r.status, 400);
        assert_eq!(error_of(&r), line["error"].as_str().unwrap());
    }
    // Two words in one file: answered, with "words": 2, as predict does.
    let two = dir.path().join("two.wav");
    write_two_words(&two);
    let r = post(&s, "api/predict", &std::fs::read(&two).unwrap(), &[]);
    assert_eq!((r.status, &r.body["words"]), (200, &json!(2)));
    // Over the 10 MB limit: said as soon as the headers announce it, and
    // when a chunked body grows past it.
    let too_big = (
        413,
        json!({"error": "the body is over the 10000000 byte limit; send a shorter recording"}),
    );
    let head = format!(
        "POST /api/predict HTTP/1.1\r\nHost: {}\r\nContent-Length: 10000001\r\n\r\n",
        s.addr
    );
    assert_eq!(raw_request(&s, &head, &[]), too_big);
    let head = format!(
        "POST /api/predict HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        s.addr
    );
    let mut chunked = Vec::new();
    for _ in 0..11 {
        chunked.extend_from_slice(b"F4240\r\n");
        chunked.extend(std::iter::repeat_n(0u8, 1_000_000));
        chunked.extend_from_slice(b"\r\n");
    }
    assert_eq!(raw_request(&s, &head, &chunked), too_big);
    // Wrong method, unknown path, a WebSocket path without the upgrade.
    let r = reply(agent().put(&format!("{}api/predict", s.url)).call());
    assert_eq!(r.status, 405);
    assert_eq!(
        error_of(&r),
        "method not allowed: POST /api/predict, POST or DELETE /api/adapt; GET /, /api/listen, /api/model, /api/health"
    );
    let r = get(&s, "api/nothing", &[]);
    assert_eq!(
        (r.status, error_of(&r)),
        (404, "no such endpoint /api/nothing; try GET /, POST /api/predict, POST /api/adapt, GET /api/listen (WebSocket), GET /api/model or GET /api/health")
    );
    let r = get(&s, "api/listen", &[]);
    assert_eq!(r.status, 400);
    assert!(error_of(&r).contains("upgrade"), "{}", r.body);
}

/// `/api/health` and `/api/model` (the model card's facts, from the model
/// itself), and the page.
#[test]
fn health_model_and_page() {
    let s = Served::start(&[]);
    let h = get(&s, "api/health", &[]);
    assert_eq!(h.status, 200);
    assert_eq!(h.body["status"], "ok");
    assert_eq!(h.body["streams"], 0);
    assert_eq!(h.body["max_streams"], 64);
    let m = get(&s, "api/model", &[]).body;
    let model = digits::model::ModelFile::embedded().unwrap();
    assert_eq!(m["source"], "embedded");
    assert_eq!(m["format_version"], digits::model::FORMAT_VERSION);
    assert_eq!(m["file_bytes"], digits::model::EMBEDDED_MODEL.len());
    assert_eq!(m["classifier"]["support_vectors"], model.svm.sq_norms.len());
    assert_eq!(m["front_end"]["features"], model.front_end.feature_dim());
    assert_eq!(m["training"]["clips"], model.meta.n_train);
    assert_eq!(m["training"]["seed"], model.meta.seed);
    let page = agent().get(&s.url).call().unwrap();
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.header("content-security-policy").is_some());
    let html = page.into_string().unwrap();
    assert_eq!(html, digits::serve::page::PAGE);
    // Self-contained: nothing loaded from elsewhere.
    for external in ["src=\"http", "href=\"http", "@import", "cdn"] {
        assert!(!html.contains(external), "{external}");
    }
}

/// The WebSocket hears what `listen --auto --from-wav` hears in the same
/// file: the same words, digits, probabilities and times. All 300 test
/// clips in 25 recordings of 12 digits, every eighth at 44.1 kHz stereo,
/// sent in 1024-sample messages as a browser does.
#[test]
fn websocket_hears_what_listen_auto_hears() {
    let s = Served::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(SEED ^ 21);
    let clips = test_clips(&mut rng);
    let (mut errors, mut total) = (0, 0);
    for (k, group) in clips.chunks(12).enumerate() {
        let (x, truth) = recording(group, rng.range(-65.0, -55.0), &mut rng);
        let path = dir.path().join(format!("digits{k}.wav"));
        if k % 8 == 7 {
            write_wav(&path, &resample_linear(&x, RATE, 44_100), 44_100, true);
        } else {
            write_wav(&path, &x, RATE, false);
        }
        let out = digits_cmd()
            .args([
                "listen",
                "--auto",
                "--fast",
                "--quiet",
                "--json",
                "--from-wav",
            ])
            .arg(&path)
            .assert()
            .success();
        let listened: Vec<Value> = String::from_utf8(out.get_output().stdout.clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // The file as listen reads it (mono, at its rate).
        let audio = digits::audio::read_wav(&path).unwrap();
        let (messages, code) = stream(&s, &audio.samples, audio.sample_rate, 1024);
        assert_eq!(code, 1000, "{messages:?}");
        let words: Vec<&Value> = messages
            .iter()
            .filter(|m| m.get("digit").is_some())
            .collect();
        assert_eq!(
            words.len(),
            listened.len(),
            "{k}: {messages:?} vs {listened:?}"
        );
        for (w, l) in words.iter().zip(&listened) {
            for key in ["digit", "confidence", "start_s", "end_s"] {
                assert_eq!(w[key], l[key], "{k}: {key}: {w} vs {l}");
            }
            let top = w["top"].as_array().unwrap();
            assert_eq!(top.len(), 3);
            if !w["digit"].is_null() {
                assert_eq!(top[0][0], w["digit"]);
                assert_eq!(top[0][1], w["confidence"]);
            }
        }
        let heard = digits_of(&messages);
        errors += edit_distance(&truth, &heard);
        total += truth.len();
    }
    let accuracy = 1.0 - errors as f64 / total as f64;
    eprintln!("WebSocket: {errors} edits in {total} digits ({accuracy:.3})");
    assert!(accuracy >= 0.95, "{accuracy}");
}

/// A soft voice at -20 dB: the server says which sounds were too quiet,
/// as `listen` does, instead of dropping them silently.
#[test]
fn websocket_says_when_a_word_was_too_quiet() {
    let s = Served::start(&[]);
    let (soft, starts) = crate::listen::soft_voice_417290(-20.0);
    let (messages, code) = stream(&s, &soft, RATE, 800);
    assert_eq!(code, 1000);
    assert_eq!(digits_of(&messages), "4172");
    let quiet: Vec<&Value> = messages.iter().filter(|m| m["too_quiet"] == true).collect();
    assert_eq!(quiet.len(), 2, "{messages:?}");
    for (q, start) in quiet.iter().zip(&starts[4..]) {
        assert!((q["start_s"].as_f64().unwrap() - start).abs() < 0.15, "{q}");
        assert_eq!(q["needed_dbfs"], -55.0);
        assert!(q["peak_dbfs"].as_f64().unwrap() < -55.0);
    }
}

/// Malformed messages get an `{"error": …}` and a close with a code that
/// says why; meanwhile a good stream on the same server is not disturbed.
#[test]
fn malformed_messages_get_an_error_and_a_close() {
    let s = Served::start(&["--idle-seconds", "1"]);
    // A good stream, fed in real time beside the bad ones.
    let mut rng = Rng(SEED ^ 22);
    let (x, truth) = recording(
        &[(3, "theo", 1), (8, "george", 2), (5, "lucas", 0)],
        -60.0,
        &mut rng,
    );
    let good = {
        let url = s.ws_url();
        std::thread::spawn(move || {
            let (mut ws, _) = tungstenite::connect(url).unwrap();
            send_text(&mut ws, json!({"rate": RATE}));
            for chunk in x.chunks(160) {
                send_audio(&mut ws, chunk);
                std::thread::sleep(Duration::from_millis(2));
            }
            send_text(&mut ws, json!({"end": true}));
            let mut heard = Vec::new();
            while let Ok(m) = next(&mut ws) {
                heard.push(m);
            }
            heard
        })
    };
    let ok_rate = json!({"rate": 16000});
    let f32s = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
    type Case = (Vec<Message>, &'static str, u16);
    let cases: Vec<Case> = vec![
        (
            vec![Message::Binary(f32s(&[0.0; 16]).into())],
            "audio came before {\"rate\": N}; send the sample rate first",
            1008,
        ),
        (
            vec![Message::Text(r#"{"rate": 44101}"#.into())],
            "rate 44101 is not a supported sample rate; send one of 8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 176400, 192000 (and samples at that rate)",
            1008,
        ),
        (
            vec![Message::Text(r#"{"rate": 1e12}"#.into())],
            "rate 1000000000000.0 is not a supported sample rate; send one of 8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 176400, 192000 (and samples at that rate)",
            1008,
        ),
        (
            vec![
                Message::Text(ok_rate.to_string().into()),
                Message::Binary(vec![0u8; 4 * 100 + 3].into()),
            ],
            "audio message of 403 bytes is not a whole number of 4-byte samples; send little-endian f32 mono samples",
            1007,
        ),
        (
            vec![
                Message::Text(ok_rate.to_string().into()),
                Message::Binary(f32s(&[0.0, 0.1, f32::NAN]).into()),
            ],
            "sample 2 is NaN, not a number; send finite f32 samples in [-1, 1]",
            1007,
        ),
        (
            vec![
                Message::Text(ok_rate.to_string().into()),
                Message::Binary(f32s(&[0.0, 12000.0]).into()),
            ],
            "sample 1 is 12000, far outside [-1, 1]; send samples scaled to [-1, 1] (not 16-bit integers)",
            1007,
        ),
        (
            vec![
                Message::Text(ok_rate.to_string().into()),
                Message::Text("0.01, 0.02, -0.01".into()),
            ],
            "text where audio belongs: after {\"rate\": N} the audio goes in binary messages",
            1003,
        ),
        (
            vec![
                Message::Text(ok_rate.to_string().into()),
                Message::Text(ok_rate.to_string().into()),
            ],
            "the sample rate was already set to 16000; one stream has one rate",
            1008,
        ),
        (
            vec![Message::Text("hello".into())],
            "text message is not JSON (expected value at line 1 column 1); send {\"rate\": N}, then binary audio, then {\"end\": true}",
            1003,
        ),
        (
            vec![Message::Text(r#"{"rate": 16000, "model": "big"}"#.into())],
            "unknown message {\"rate\": 16000, \"model\": \"big\"}; the client sends {\"rate\": N}, binary audio, and {\"end\": true}",
            1003,
        ),
        (
            vec![
                Message::Text(ok_rate.to_string().into()),
                Message::Binary(vec![0u8; (1 << 20) + 4].into()),
            ],
            "",
            1009,
        ),
        // Connected, and never a word: the start timeout (1 s here).
        (
            vec![],
            "no {\"rate\": N} within 1 s of connecting; send the sample rate first",
            1008,
        ),
        // Started, then silent: the idle timeout.
        (
            vec![Message::Text(ok_rate.to_string().into())],
            "no audio for 1 s; closing the stream",
            1008,
        ),
    ];
    let ok_rate_text = ok_rate.to_string();
    for (messages, error, code) in cases {
        let mut ws = connect(&s, None).unwrap();
        let started = messages
            .first()
            .is_some_and(|m| matches!(m, Message::Text(t) if t.as_str() == ok_rate_text));
        for m in messages {
            // The server may already have answered and closed: what it
            // said is still read below.
            if ws.send(m).is_err() {
                break;
            }
        }
        if started {
            assert_eq!(next(&mut ws).unwrap()["ready"], true);
        }
        let reply = next(&mut ws).unwrap();
        if error.is_empty() {
            assert!(
                reply["error"]
                    .as_str()
                    .unwrap()
                    .starts_with("message too large"),
                "{reply}"
            );
        } else {
            assert_eq!(reply, json!({ "error": error }));
        }
        let (got_code, _) = next(&mut ws).unwrap_err();
        assert_eq!(got_code, code, "{error}");
    }
    let heard = good.join().unwrap();
    assert_eq!(digits_of(&heard), truth, "{heard:?}");
    // And the server still answers, every stream counted out once its
    // task has seen the close (a moment after the client has).
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut streams = get(&s, "api/health", &[]).body["streams"].clone();
    while streams != 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        streams = get(&s, "api/health", &[]).body["streams"].clone();
    }
    assert_eq!(streams, 0);
}

/// Another origin may not use the server (403), unless --allow-origin
/// names it; the server's own origin may; a foreign Host (DNS rebinding)
/// may not.
#[test]
fn other_origins_are_refused_unless_allowed() {
    let s = Served::start(&["--allow-origin", "https://app.example"]);
    let clip = std::fs::read(recordings().join("2_nicolas_1.wav")).unwrap();
    let evil = "https://evil.example";
    let refusal = "cross-origin request from https://evil.example refused; to let that page use this server, start it with --allow-origin https://evil.example";
    let r = post(&s, "api/predict", &clip, &[("Origin", evil)]);
    assert_eq!((r.status, error_of(&r)), (403, refusal));
    match connect(&s, Some(evil)) {
        Err(tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 403);
            let body: Value = serde_json::from_slice(resp.body().as_ref().unwrap()).unwrap();
            assert_eq!(body, json!({ "error": refusal }));
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    // Its own origin, and the one allowed.
    let own = format!("http://{}", s.addr);
    for origin in [own.as_str(), "https://app.example"] {
        let r = post(&s, "api/predict", &clip, &[("Origin", origin)]);
        assert_eq!((r.status, &r.body["digit"]), (200, &json!(2)), "{origin}");
        let mut ws = connect(&s, Some(origin)).unwrap();
        send_text(&mut ws, json!({"rate": 8000}));
        assert_eq!(next(&mut ws).unwrap()["ready"], true);
    }
    let r = post(
        &s,
        "api/predict",
        &clip,
        &[("Origin", "https://app.example")],
    );
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    // A page elsewhere that names itself "localhost": DNS rebinding.
    let r = get(&s, "api/health", &[("Host", "evil.example:8080")]);
    assert_eq!(
        (r.status, error_of(&r)),
        (403, "Host evil.example:8080 is not this machine's loopback name; open the page at http://127.0.0.1 or http://localhost")
    );
}

/// `--max-streams N`: the N+1-th stream gets 503 with a message; a slot
/// frees when a stream closes.
#[test]
fn the_stream_limit_answers_503() {
    let s = Served::start(&["--max-streams", "2"]);
    let mut open: Vec<Ws> = (0..2)
        .map(|_| {
            let mut ws = connect(&s, None).unwrap();
            send_text(&mut ws, json!({"rate": 16000}));
            assert_eq!(next(&mut ws).unwrap()["ready"], true);
            ws
        })
        .collect();
    assert_eq!(get(&s, "api/health", &[]).body["streams"], 2);
    match connect(&s, None) {
        Err(tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 503);
            let body: Value = serde_json::from_slice(resp.body().as_ref().unwrap()).unwrap();
            assert_eq!(
                body,
                json!({"error": "all 2 streams are in use; try again later, or start the server with a higher --max-streams"})
            );
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    let mut first = open.remove(0);
    send_text(&mut first, json!({"end": true}));
    assert_eq!(next(&mut first).unwrap_err().0, 1000);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match connect(&s, None) {
            Ok(_) => break,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("no slot after a stream closed: {e}"),
        }
    }
}

/// Ctrl-C: a word still being said is answered, every stream gets a close
/// (1001, going away), and the exit is 130.
#[test]
fn ctrl_c_answers_the_last_word_closes_streams_and_exits_130() {
    let mut s = Served::start(&[]);
    let mut ws = connect(&s, None).unwrap();
    send_text(&mut ws, json!({"rate": 8000}));
    assert_eq!(next(&mut ws).unwrap()["ready"], true);
    // Room tone, then a word, and no silence after it: still open.
    let mut rng = Rng(SEED ^ 23);
    let (mut x, _) = recording(&[(6, "jackson", 3)], -60.0, &mut rng);
    x.truncate(x.len() - RATE as usize * 4 / 5);
    send_audio(&mut ws, &x);
    std::thread::sleep(Duration::from_millis(300));
    let status = s.interrupt();
    assert_eq!(status.code(), Some(130), "{}", s.stderr());
    let word = next(&mut ws).unwrap();
    assert_eq!(word["digit"], 6, "{word}");
    let (code, reason) = next(&mut ws).unwrap_err();
    assert_eq!(
        (code, reason.as_str()),
        (1001, "the server is shutting down")
    );
    assert!(
        s.stderr()
            .ends_with("stopping (Ctrl-C): closing the streams\n"),
        "{}",
        s.stderr()
    );
}

/// Off loopback: a warning; a busy port: one line, exit 2.
#[test]
fn host_and_port_problems_are_said_plainly() {
    let mut s = Served::start(&["--host", "0.0.0.0"]);
    assert!(s.url.starts_with("http://0.0.0.0:"), "{}", s.url);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(s.interrupt().code(), Some(130));
    let stderr = s.stderr();
    let warning = stderr.lines().nth(1).unwrap();
    assert!(
        warning.starts_with("digits: warning: 0.0.0.0:")
            && warning.ends_with(
                "is reachable from other machines, without HTTPS; a browser allows the microphone only on localhost or over HTTPS, so elsewhere the page can classify dropped files but not listen"
            ),
        "{stderr}"
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = digits_cmd()
        .args(["serve", "--port", &port])
        .timeout(Duration::from_secs(30))
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.starts_with(&format!("digits: cannot listen on 127.0.0.1:{port}: "))
            && stderr.ends_with(
                "; pick another --port (0 lets the system choose) or stop the program using it\n"
            )
            && stderr.lines().count() == 1,
        "{stderr}"
    );
    digits_cmd()
        .args(["serve", "--allow-origin", "example.com"])
        .assert()
        .code(2)
        .stderr("digits: invalid serve setting: --allow-origin example.com is not an origin; give scheme, host and port, e.g. https://example.com or http://localhost:3000\n");
}

/// "Teach it your voice" over the API: one take of each digit by george
/// (take 5, never an official test clip) posted to `/api/adapt` switches
/// the server to a personal model — `/api/model` says so — and
/// `/api/predict` then answers exactly as `digits predict` does with the
/// model `digits adapt` makes from the same takes. `DELETE` goes back.
#[test]
fn adapt_endpoint_switches_to_a_personal_model() {
    use base64::Engine;
    let s = Served::start(&[]);
    let enrol = tempfile::tempdir().unwrap();
    let mut takes = Vec::new();
    for d in 0..10u8 {
        let name = format!("{d}_george_5.wav");
        let bytes = std::fs::read(recordings().join(&name)).unwrap();
        std::fs::write(enrol.path().join(&name), &bytes).unwrap();
        takes.push(json!({
            "digit": d,
            "wav": base64::engine::general_purpose::STANDARD.encode(&bytes),
        }));
    }
    let body = json!({ "speaker": "george", "takes": takes }).to_string();

    // Refused from another origin (before the body is read: a small one,
    // so the client is not cut off mid-write), and when a digit has no take.
    let r = post(
        &s,
        "api/adapt",
        br#"{"takes": []}"#,
        &[("origin", "https://evil.example")],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let nine = json!({ "speaker": "george", "takes": takes[..9] }).to_string();
    let r = post(&s, "api/adapt", nine.as_bytes(), &[]);
    assert_eq!(r.status, 400);
    assert!(error_of(&r).contains("no take of digit 9"), "{}", r.body);
    assert_eq!(get(&s, "api/model", &[]).body["source"], "embedded");
    assert_eq!(get(&s, "api/model", &[]).body["personal"], Value::Null);

    let r = post(&s, "api/adapt", body.as_bytes(), &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["model"], "personal");
    assert_eq!(r.body["speaker"], "george");
    assert_eq!(r.body["takes"], 10);
    let m = get(&s, "api/model", &[]).body;
    assert_eq!(m["source"], "personal, adapted from embedded");
    assert_eq!(m["personal"]["takes"], 10);
    assert_eq!(
        m["personal"]["speakers"],
        json!([{"speaker": "george", "takes": 10}])
    );

    // The same personal model as `digits adapt` makes from these takes.
    let model = enrol.path().join("george.model");
    digits_cmd()
        .args(["adapt", "--data"])
        .arg(enrol.path())
        .arg("--out")
        .arg(&model)
        .assert()
        .success();
    let paths: Vec<String> = (0..10u8)
        .flat_map(|d| (0..5u8).map(move |t| format!("{d}_george_{t}.wav")))
        .map(|c| recordings().join(c).display().to_string())
        .collect();
    let out = digits_cmd()
        .args(["predict", "--json", "--top", "3", "--model"])
        .arg(&model)
        .args(&paths)
        .assert()
        .success();
    let expected: Vec<Value> = String::from_utf8(out.get_output().stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(expected.len(), 50);
    let mut right = 0;
    for (path, want) in paths.iter().zip(&expected) {
        let bytes = std::fs::read(path).unwrap();
        let r = post(&s, &format!("api/predict?top=3&name={path}"), &bytes, &[]);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let (mut got, mut want) = (r.body.clone(), want.clone());
        got.as_object_mut().unwrap().remove("ms");
        want.as_object_mut().unwrap().remove("ms");
        assert_eq!(got, want, "{path}");
        let truth: u64 = path.rsplit('/').next().unwrap()[..1].parse().unwrap();
        right += usize::from(got["digit"].as_u64() == Some(truth));
    }
    eprintln!("POST /api/predict with george's personal model: {right}/50 of his test clips right");
    assert!(right >= 48, "{right}/50");

    // Back to the model the server started with.
    let r = reply(agent().delete(&format!("{}api/adapt", s.url)).call());
    assert_eq!(r.status, 200);
    assert_eq!(r.body["source"], "embedded");
    assert_eq!(get(&s, "api/model", &[]).body["personal"], Value::Null);
}
