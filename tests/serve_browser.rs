//! The page in a real browser: Debian's `chromium`, headless, with a fake
//! microphone that plays a multi-digit WAV built from FSDD test clips. The
//! test presses the page's microphone button (a mouse click through the
//! DevTools protocol, spoken over a WebSocket with tungstenite), waits for
//! the digits to appear on the page, and saves a screenshot.
//!
//! Skipped, saying so, when no chromium is installed (CI installs it).
//! `DIGITS_SCREENSHOT=assets/serve-page.png cargo test --release --test
//! integration page_in_chromium` also writes the screenshot there (the
//! README's picture).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::listen::{recording, write_wav, Rng, RATE, SEED};
use crate::serve::Served;

/// The browser: `$DIGITS_CHROMIUM`, or `chromium` / `chromium-browser`
/// on the PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("DIGITS_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|n| dir.join(n)))
        .find(|p| p.is_file())
}

/// A headless chromium, killed when dropped.
struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    port: u16,
}

impl Browser {
    /// Starts `exe` with a fake microphone playing `wav` (in a loop).
    fn start(exe: &Path, wav: &Path) -> Self {
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(exe)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                "--autoplay-policy=no-user-gesture-required",
                "--remote-debugging-port=0",
                "--window-size=1180,900",
            ])
            .arg(format!(
                "--use-file-for-fake-audio-capture={}",
                wav.display()
            ))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Chromium writes the port it chose into the profile.
        let file = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            if let Some(port) = std::fs::read_to_string(&file)
                .ok()
                .and_then(|s| s.lines().next().and_then(|l| l.trim().parse().ok()))
            {
                break port;
            }
            assert!(
                Instant::now() < deadline,
                "chromium opened no DevTools port"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Self {
            child,
            _profile: profile,
            port,
        }
    }

    /// The DevTools session of the first tab.
    fn tab(&self) -> Cdp {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let list = ureq::get(&format!("http://127.0.0.1:{}/json/list", self.port))
                .call()
                .ok()
                .and_then(|r| r.into_string().ok())
                .and_then(|t| serde_json::from_str::<Value>(&t).ok());
            let page = list.as_ref().and_then(|l| {
                l.as_array()?.iter().find(|t| t["type"] == "page")?["webSocketDebuggerUrl"]
                    .as_str()
                    .map(str::to_string)
            });
            if let Some(url) = page {
                let (ws, _) = tungstenite::connect(url).unwrap();
                if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
                    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                }
                return Cdp { ws, id: 0 };
            }
            assert!(Instant::now() < deadline, "chromium lists no tab");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Chrome DevTools protocol over one tab's WebSocket.
struct Cdp {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    id: u64,
}

impl Cdp {
    /// Sends a command and returns its result (events in between are
    /// skipped).
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.id += 1;
        let id = self.id;
        let msg = json!({ "id": id, "method": method, "params": params });
        self.ws.send(Message::Text(msg.to_string().into())).unwrap();
        loop {
            let Message::Text(t) = self.ws.read().unwrap() else {
                continue;
            };
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {}", v["error"]);
                return v["result"].clone();
            }
        }
    }

    /// Evaluates JavaScript in the page and returns its value.
    fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        assert!(
            r.get("exceptionDetails").is_none(),
            "{expression}: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// Waits until `expression` is truthy.
    fn wait_for(&mut self, expression: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.eval(expression).as_bool() == Some(true) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// A left click at the centre of the element `selector`, as a person's.
    fn click(&mut self, selector: &str) {
        let rect = self.eval(&format!(
            "(() => {{ const r = document.querySelector('{selector}').getBoundingClientRect(); \
             return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
        ));
        let (x, y) = (rect[0].as_f64().unwrap(), rect[1].as_f64().unwrap());
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
    }
}

#[test]
fn page_in_chromium_hears_a_fake_microphone() {
    let Some(exe) = chromium() else {
        eprintln!(
            "skipped: no chromium on the PATH (apt-get install chromium, or set DIGITS_CHROMIUM); \
             CI installs it"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Five digits, then 1.5 s of room before the file loops.
    let mut rng = Rng(SEED ^ 30);
    let clips = [
        (3, "george", 2),
        (1, "theo", 0),
        (4, "lucas", 3),
        (1, "nicolas", 1),
        (5, "jackson", 4),
    ];
    let (mut x, truth) = recording(&clips, -60.0, &mut rng);
    let mut tail = vec![0.0f32; RATE as usize * 3 / 2];
    crate::listen::add_noise(&mut tail, -60.0, &mut rng);
    x.extend(tail);
    let wav = dir.path().join("say.wav");
    write_wav(&wav, &x, RATE, false);

    let server = Served::start(&[]);
    let browser = Browser::start(&exe, &wav);
    let mut tab = browser.tab();
    tab.call(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 1180, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
    );
    tab.call("Page.enable", json!({}));
    tab.call("Page.navigate", json!({ "url": server.url }));
    assert!(
        tab.wait_for(
            "document.readyState === 'complete' && document.querySelectorAll('#model dt').length > 1",
            Duration::from_secs(20)
        ),
        "the page (and its model facts) did not load"
    );
    tab.click("#mic");
    // The file loops every few seconds; the whole string must show up.
    let seen = tab.wait_for(
        &format!("document.querySelector('#digits').textContent.includes('{truth}')"),
        Duration::from_secs(40),
    );
    let shown = tab.eval("document.querySelector('#digits').textContent");
    let note = tab.eval("document.querySelector('#note').textContent");
    let status = tab.eval("document.querySelector('#status-text').textContent");
    eprintln!("said {truth}; the page shows {shown} (status {status}, note {note:?})");
    assert!(seen, "said {truth}, the page shows {shown}; note {note:?}");
    assert_eq!(note, "", "a message on the page");
    assert!(
        status.as_str().unwrap().starts_with("listening · "),
        "{status}"
    );
    // The last word's top 3 and time are on the page too.
    let last = tab.eval("document.querySelector('#last-digit').textContent");
    assert!(shown.as_str().unwrap().ends_with(last.as_str().unwrap()));
    let bars = tab.eval("[...document.querySelectorAll('#top .p')].map(e => e.textContent)");
    assert!(bars[0].as_str().unwrap().ends_with(" %"), "{bars}");
    assert!(tab
        .eval("document.querySelector('#confidence').textContent")
        .as_str()
        .unwrap()
        .contains(" ms compute"),);

    let shot = tab.call("Page.captureScreenshot", json!({ "format": "png" }));
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let saved = dir.path().join("serve-page.png");
    std::fs::write(&saved, &png).unwrap();
    if let Some(dest) = std::env::var_os("DIGITS_SCREENSHOT") {
        std::fs::write(&dest, &png).unwrap();
        eprintln!("screenshot written to {}", Path::new(&dest).display());
    }

    // Stopping ends the stream cleanly.
    tab.click("#mic");
    assert!(tab.wait_for(
        "document.querySelector('#status-text').textContent === 'ready'",
        Duration::from_secs(10)
    ));
}

/// Firefox: `firefox-esr` or `firefox` on the PATH, or `$DIGITS_FIREFOX`.
fn firefox() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("DIGITS_FIREFOX") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["firefox-esr", "firefox"].map(|n| dir.join(n)))
        .find(|p| p.is_file())
}

/// WebDriver BiDi (Firefox's remote protocol) over its WebSocket.
struct Bidi {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    id: u64,
    context: String,
}

impl Bidi {
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.id += 1;
        let id = self.id;
        let msg = json!({ "id": id, "method": method, "params": params });
        self.ws.send(Message::Text(msg.to_string().into())).unwrap();
        loop {
            let Message::Text(t) = self.ws.read().unwrap() else {
                continue;
            };
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["id"] == id {
                assert_eq!(v["type"], "success", "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// Evaluates JavaScript in the page; its value (strings, numbers,
    /// booleans).
    fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "script.evaluate",
            json!({
                "expression": expression,
                "target": { "context": self.context },
                "awaitPromise": true,
            }),
        );
        assert_eq!(r["type"], "success", "{expression}: {r}");
        r["result"]["value"].clone()
    }

    fn wait_for(&mut self, expression: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.eval(expression).as_bool() == Some(true) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    fn click(&mut self, selector: &str) {
        let at = self.eval(&format!(
            "(() => {{ const r = document.querySelector('{selector}').getBoundingClientRect(); \
             return JSON.stringify([Math.round(r.x + r.width / 2), Math.round(r.y + r.height / 2)]); }})()"
        ));
        let at: Vec<i64> = serde_json::from_str(at.as_str().unwrap()).unwrap();
        self.call(
            "input.performActions",
            json!({
                "context": self.context,
                "actions": [{
                    "type": "pointer", "id": "mouse", "parameters": { "pointerType": "mouse" },
                    "actions": [
                        { "type": "pointerMove", "x": at[0], "y": at[1] },
                        { "type": "pointerDown", "button": 0 },
                        { "type": "pointerUp", "button": 0 }
                    ]
                }]
            }),
        );
    }
}

/// Firefox hears the same page through a PulseAudio virtual microphone
/// (`.ci/pulse-mic.sh`; Firefox has no WAV-fed fake device): `paplay`
/// plays the recording into the sink whose monitor is the default source.
/// Runs with `DIGITS_PULSE_TEST=1` when Firefox is installed; skipped,
/// saying so, otherwise.
#[test]
fn page_in_firefox_hears_a_virtual_microphone() {
    let Some(exe) = firefox() else {
        eprintln!("skipped: no firefox-esr or firefox on the PATH (or set DIGITS_FIREFOX)");
        return;
    };
    if std::env::var_os("DIGITS_PULSE_TEST").is_none_or(|v| v != "1") {
        eprintln!("skipped: needs the PulseAudio virtual microphone (`. .ci/pulse-mic.sh`, DIGITS_PULSE_TEST=1)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(SEED ^ 31);
    let clips = [
        (2, "theo", 3),
        (7, "george", 1),
        (1, "jackson", 2),
        (8, "lucas", 4),
    ];
    let (x, truth) = recording(&clips, -60.0, &mut rng);
    let wav = dir.path().join("say.wav");
    write_wav(&wav, &x, RATE, false);

    let server = Served::start(&[]);
    let profile = tempfile::tempdir().unwrap();
    std::fs::write(
        profile.path().join("user.js"),
        [
            "media.navigator.permission.disabled\", true",
            "media.autoplay.default\", 0",
            "media.autoplay.blocking_policy\", 0",
            "browser.shell.checkDefaultBrowser\", false",
            "datareporting.policy.dataSubmissionEnabled\", false",
            "toolkit.telemetry.reportingpolicy.firstRun\", false",
            "browser.aboutwelcome.enabled\", false",
        ]
        .map(|p| format!("user_pref(\"{p});\n"))
        .concat(),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(&exe)
        .args(["--headless", "--no-remote", "--remote-debugging-port"])
        .arg(port.to_string())
        .arg("--profile")
        .arg(profile.path())
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let ws = loop {
        if let Ok((ws, _)) = tungstenite::connect(format!("ws://127.0.0.1:{port}/session")) {
            break ws;
        }
        assert!(Instant::now() < deadline, "firefox opened no BiDi port");
        std::thread::sleep(Duration::from_millis(200));
    };
    if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    }
    let mut ff = Bidi {
        ws,
        id: 0,
        context: String::new(),
    };
    ff.call("session.new", json!({ "capabilities": {} }));
    let tree = ff.call("browsingContext.getTree", json!({}));
    ff.context = tree["contexts"][0]["context"].as_str().unwrap().to_string();
    ff.call(
        "browsingContext.setViewport",
        json!({ "context": ff.context, "viewport": { "width": 1180, "height": 900 } }),
    );
    ff.call(
        "browsingContext.navigate",
        json!({ "context": ff.context, "url": server.url, "wait": "complete" }),
    );
    assert!(ff.wait_for(
        "document.querySelectorAll('#model dt').length > 1",
        Duration::from_secs(20)
    ));
    ff.click("#mic");
    assert!(
        ff.wait_for(
            "document.querySelector('#status-text').textContent.startsWith('listening')",
            Duration::from_secs(20)
        ),
        "not listening: {}",
        ff.eval("document.querySelector('#note').textContent")
    );
    // Play the recording into the virtual microphone until the page has
    // heard it (at most three times).
    let mut seen = false;
    for _ in 0..3 {
        let played = Command::new("paplay").arg(&wav).status().unwrap();
        assert!(played.success());
        seen = ff.wait_for(
            &format!("document.querySelector('#digits').textContent.includes('{truth}')"),
            Duration::from_secs(2),
        );
        if seen {
            break;
        }
    }
    let shown = ff.eval("document.querySelector('#digits').textContent");
    let note = ff.eval("document.querySelector('#note').textContent");
    eprintln!("Firefox: said {truth}; the page shows {shown} (note {note:?})");
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen, "said {truth}, the page shows {shown}; note {note:?}");
}
