//! `digits fetch` against a fake Hugging Face hub on 127.0.0.1: a small
//! HTTP/1.1 server that answers the requests hf-hub 0.4.3 makes (a
//! `Range: bytes=0-0` GET that must carry ETag, X-Repo-Commit and
//! Content-Range, then a ranged GET for the body), serving two small parquet
//! files written with `digits::data::write_parquet`. No internet is used.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use digits::data::{Clip, Dataset, SourceSplit};
use digits::fetch::{self, FetchOptions, DATASET_FILES};

const COMMIT: &str = "c34455c99604d35cb8d27328c267be1478efc903";
const TRAIN: &str = "data/train-00000-of-00001.parquet";
const TEST: &str = "data/test-00000-of-00001.parquet";
const TRAIN_CLIPS: [&str; 6] = [
    "0_george_10.wav",
    "1_jackson_20.wav",
    "2_lucas_30.wav",
    "3_nicolas_40.wav",
    "4_theo_45.wav",
    "5_yweweler_49.wav",
];
const TEST_CLIPS: [&str; 3] = ["6_george_0.wav", "7_jackson_1.wav", "8_theo_4.wav"];

/// How the fake hub answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Like the real hub.
    Normal,
    /// Every request gets 404.
    NotFound,
    /// Body GETs send a Content-Length, half the bytes, then close.
    DropMidBody,
    /// Body GETs send no Content-Length and half the bytes, then close, so a
    /// client cannot tell the body is short.
    TruncateWithoutLength,
}

struct HubState {
    files: HashMap<String, Vec<u8>>,
    mode: Mutex<Mode>,
    requests: AtomicUsize,
    log: Mutex<Vec<String>>,
}

struct FakeHub {
    url: String,
    state: Arc<HubState>,
}

impl FakeHub {
    fn start(files: HashMap<String, Vec<u8>>) -> FakeHub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(HubState {
            files,
            mode: Mutex::new(Mode::Normal),
            requests: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
        });
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || {
                    let _ = answer(stream, &state);
                });
            }
        });
        FakeHub { url, state }
    }

    fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    fn log(&self) -> Vec<String> {
        self.state.log.lock().unwrap().clone()
    }
}

fn etag(bytes: &[u8]) -> String {
    // FNV-1a: any stable content hash will do for a test ETag.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}{:08x}", bytes.len())
}

/// `bytes=a-b` or `bytes=a-` against a body of `size` bytes.
fn parse_range(range: &str, size: usize) -> Option<(usize, usize)> {
    let (a, b) = range.strip_prefix("bytes=")?.split_once('-')?;
    let start: usize = a.trim().parse().ok()?;
    let end = if b.trim().is_empty() {
        size.saturating_sub(1)
    } else {
        b.trim().parse::<usize>().ok()?.min(size.saturating_sub(1))
    };
    Some((start, end))
}

fn answer(mut stream: TcpStream, state: &HubState) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(());
    }
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("range") {
                range = Some(v.trim().to_string());
            }
        }
    }
    let mut words = request_line.split_whitespace();
    let method = words.next().unwrap_or("").to_string();
    let target = words.next().unwrap_or("").to_string();
    state.requests.fetch_add(1, Ordering::SeqCst);
    state.log.lock().unwrap().push(format!(
        "{method} {target} range={}",
        range.as_deref().unwrap_or("-")
    ));
    let mode = *state.mode.lock().unwrap();

    let body = target
        .strip_prefix("/datasets/mteb/free-spoken-digit-dataset/resolve/")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(rev, _)| *rev == "main" || *rev == COMMIT)
        .and_then(|(_, file)| state.files.get(file))
        .filter(|_| method == "GET" && mode != Mode::NotFound);
    let Some(body) = body else {
        let msg = "Entry not found";
        write!(
            stream,
            "HTTP/1.1 404 Not Found\r\nX-Error-Code: EntryNotFound\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{msg}",
            msg.len()
        )?;
        return stream.flush();
    };
    let size = body.len();
    let common = format!(
        "ETag: \"{}\"\r\nX-Repo-Commit: {COMMIT}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n",
        etag(body)
    );
    let Some(range) = range else {
        write!(
            stream,
            "HTTP/1.1 200 OK\r\n{common}Content-Length: {size}\r\n\r\n"
        )?;
        stream.write_all(body)?;
        return stream.flush();
    };
    let Some((start, end)) = parse_range(&range, size).filter(|(s, e)| s <= e && *s < size) else {
        write!(
            stream,
            "HTTP/1.1 416 Range Not Satisfiable\r\n{common}Content-Range: bytes */{size}\r\nContent-Length: 0\r\n\r\n"
        )?;
        return stream.flush();
    };
    let part = &body[start..=end];
    let is_probe = start == 0 && end == 0;
    let head = format!(
        "HTTP/1.1 206 Partial Content\r\n{common}Content-Range: bytes {start}-{end}/{size}\r\n"
    );
    match mode {
        Mode::DropMidBody if !is_probe => {
            write!(stream, "{head}Content-Length: {}\r\n\r\n", part.len())?;
            stream.write_all(&part[..part.len() / 2])?;
            stream.flush()?;
            stream.shutdown(std::net::Shutdown::Both)
        }
        Mode::TruncateWithoutLength if !is_probe => {
            write!(stream, "{head}\r\n")?;
            stream.write_all(&part[..part.len() / 2])?;
            stream.flush()?;
            stream.shutdown(std::net::Shutdown::Both)
        }
        _ => {
            write!(stream, "{head}Content-Length: {}\r\n\r\n", part.len())?;
            stream.write_all(part)?;
            stream.flush()
        }
    }
}

fn recordings() -> PathBuf {
    digits::data::shared_fsdd_dir()
}

fn clip(name: &str) -> Clip {
    digits::data::read_fsdd_clip(&recordings().join(name)).unwrap()
}

/// The two dataset files, as the hub would serve them.
fn fixture_files() -> HashMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let mut files = HashMap::new();
    for (name, clips) in [(TRAIN, &TRAIN_CLIPS[..]), (TEST, &TEST_CLIPS[..])] {
        let path = dir.path().join(name.rsplit('/').next().unwrap());
        let clips: Vec<Clip> = clips.iter().map(|n| clip(n)).collect();
        digits::data::write_parquet(&path, &clips).unwrap();
        files.insert(name.to_string(), std::fs::read(&path).unwrap());
    }
    files
}

fn digits_fetch(home: &Path, endpoint: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("digits");
    cmd.arg("fetch")
        .args(args)
        .env("HF_HOME", home)
        .env("HF_ENDPOINT", endpoint)
        .env_remove("HF_HUB_OFFLINE")
        .env_remove("HF_HUB_CACHE")
        .timeout(Duration::from_secs(120));
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn not_cached_line(home: &Path, file: &str) -> String {
    format!(
        "digits: {file} is not in the cache at {}; run `digits fetch` with network first\n",
        home.join("hub").display()
    )
}

/// Files in the cache's blob store that are not partial downloads or locks.
fn complete_blobs(home: &Path) -> Vec<PathBuf> {
    let blobs = home.join("hub/datasets--mteb--free-spoken-digit-dataset/blobs");
    std::fs::read_dir(blobs)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_none())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn fetch_downloads_then_reruns_from_cache_with_no_requests() {
    let hub = FakeHub::start(fixture_files());
    let home = tempfile::tempdir().unwrap();

    let out = digits_fetch(home.path(), &hub.url, &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let cache = home.path().join("hub");
    assert!(
        stdout.contains(&format!("in the Hugging Face cache at {}", cache.display())),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("commit {COMMIT}")), "{stdout}");
    assert!(stdout.contains("    6 rows  "), "{stdout}");
    assert!(stdout.contains("    3 rows  "), "{stdout}");
    // `digits train` reads the cached files by itself: the hint is short.
    assert!(
        stdout
            .ends_with("\nnext: digits train   (it reads these files when --data is not given)\n"),
        "{stdout}"
    );
    for file in DATASET_FILES {
        let local = cache
            .join("datasets--mteb--free-spoken-digit-dataset/snapshots")
            .join(COMMIT)
            .join(file);
        assert!(local.exists(), "{}", local.display());
        assert!(stdout.contains(&local.display().to_string()), "{stdout}");
        assert!(
            stderr.contains(&format!("{file}: downloaded and checked")),
            "{stderr}"
        );
    }
    // hf-hub 0.4.3: one `bytes=0-0` probe and one ranged body GET per file.
    assert_eq!(hub.requests(), 4, "{:#?}", hub.log());

    let out = digits_fetch(home.path(), &hub.url, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(hub.requests(), 4, "a second run must not touch the network");
    assert!(text(&out.stderr).contains("already in the cache, nothing downloaded"));
    assert!(text(&out.stdout).contains("    6 rows  "));

    // Offline works from the cache even with the hub answering nothing.
    hub.set_mode(Mode::NotFound);
    let out = digits_fetch(home.path(), &hub.url, &["--offline", "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "--quiet prints nothing on stderr");
    assert!(text(&out.stdout).contains("    3 rows  "));
    assert_eq!(hub.requests(), 4);
}

#[test]
fn offline_with_an_empty_cache_fails_with_the_exact_message() {
    let hub = FakeHub::start(fixture_files());
    let home = tempfile::tempdir().unwrap();
    let out = digits_fetch(home.path(), &hub.url, &["--offline"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), not_cached_line(home.path(), TRAIN));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(hub.requests(), 0);
}

#[test]
fn not_found_is_exit_code_1_and_one_line() {
    let hub = FakeHub::start(fixture_files());
    let home = tempfile::tempdir().unwrap();
    // An unknown revision: the fake hub, like the real one, answers 404.
    let out = digits_fetch(home.path(), &hub.url, &["--revision", "no-such-branch"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr,
        format!(
            "digits: download of {TRAIN} failed: HTTP 404 from {}/datasets/mteb/free-spoken-digit-dataset/resolve/no-such-branch/{TRAIN}; check HF_ENDPOINT and --revision\n",
            hub.url
        )
    );
    hub.set_mode(Mode::NotFound);
    let out = digits_fetch(home.path(), &hub.url, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr).lines().count(), 1);
    assert!(text(&out.stderr).contains("HTTP 404 from"));
    assert!(complete_blobs(home.path()).is_empty());
}

#[test]
fn unreachable_hub_is_exit_1_and_bad_flags_or_endpoint_exit_2() {
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let home = tempfile::tempdir().unwrap();
    let out = digits_fetch(home.path(), &closed, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "digits: download of {TRAIN} failed: cannot reach {closed} ("
        )),
        "{stderr}"
    );

    let out = digits_fetch(home.path(), "ftp://example.org", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("HF_ENDPOINT `ftp://example.org` is not an http(s) URL"));

    let out = digits_fetch(home.path(), &closed, &["--revision", "../../etc"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("revision `../../etc` is not a branch, tag or commit name"));

    let out = digits_fetch(home.path(), &closed, &["--bogus"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn dropped_connection_leaves_nothing_trusted_and_a_rerun_resumes() {
    let hub = FakeHub::start(fixture_files());
    let size = hub.state.files[TRAIN].len();
    let home = tempfile::tempdir().unwrap();
    hub.set_mode(Mode::DropMidBody);

    let out = digits_fetch(home.path(), &hub.url, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "digits: download of {TRAIN} failed: the connection broke off after {} of {size} bytes (",
            size / 2
        )),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("run `digits fetch` again to resume\n"),
        "{stderr}"
    );
    assert!(complete_blobs(home.path()).is_empty());

    let out = digits_fetch(home.path(), &hub.url, &["--offline"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), not_cached_line(home.path(), TRAIN));
    assert_eq!(
        fetch::cached_files_at(&home.path().join("hub"), "main"),
        None
    );

    // Back to normal: hf-hub resumes the `.part` file from where it stopped.
    hub.set_mode(Mode::Normal);
    let out = digits_fetch(home.path(), &hub.url, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("    6 rows  "));
    let resumed = format!("range=bytes={}-", size / 2);
    assert!(
        hub.log()
            .iter()
            .any(|l| l.contains(TRAIN) && l.ends_with(&resumed)),
        "{:#?}",
        hub.log()
    );
}

#[test]
fn truncated_body_without_length_is_removed_not_trusted() {
    let hub = FakeHub::start(fixture_files());
    let home = tempfile::tempdir().unwrap();
    hub.set_mode(Mode::TruncateWithoutLength);

    let out = digits_fetch(home.path(), &hub.url, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "digits: downloaded {TRAIN} is not a usable dataset file (cannot open it as parquet"
        )),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("it was removed from the cache, run `digits fetch` again\n"),
        "{stderr}"
    );
    // hf-hub itself cannot tell: it renamed the short body into a blob and
    // linked it. `fetch` removed both again.
    assert!(complete_blobs(home.path()).is_empty());
    let out = digits_fetch(home.path(), &hub.url, &["--offline"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), not_cached_line(home.path(), TRAIN));

    hub.set_mode(Mode::Normal);
    let out = digits_fetch(home.path(), &hub.url, &["--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(complete_blobs(home.path()).len(), 2);
}

#[test]
fn fetched_files_load_with_speaker_and_take() {
    let hub = FakeHub::start(fixture_files());
    let home = tempfile::tempdir().unwrap();
    let opts = FetchOptions {
        endpoint: Some(hub.url.clone()),
        cache_dir: Some(home.path().join("hub")),
        ..FetchOptions::default()
    };
    let report = fetch::fetch(&opts, &mut ()).unwrap();
    assert_eq!(report.commit.as_deref(), Some(COMMIT));
    assert_eq!(report.total_rows(), 9);
    assert!(!report.all_from_cache());
    assert_eq!(
        fetch::cached_files_at(&home.path().join("hub"), "main"),
        Some(report.paths())
    );

    let data = Dataset::load(&report.paths()).unwrap();
    assert_eq!(data.len(), TRAIN_CLIPS.len() + TEST_CLIPS.len());
    let names: Vec<String> = data
        .clips
        .iter()
        .map(|c| {
            format!(
                "{}_{}_{}.wav",
                c.digit,
                c.speaker.as_deref().unwrap(),
                c.take.unwrap()
            )
        })
        .collect();
    let expected: Vec<&str> = TRAIN_CLIPS.iter().chain(&TEST_CLIPS).copied().collect();
    assert_eq!(names, expected);
    let train = data
        .clips
        .iter()
        .filter(|c| c.source_split == Some(SourceSplit::Train))
        .count();
    assert_eq!(train, TRAIN_CLIPS.len());
    assert!(data.clips[0]
        .origin
        .ends_with("train-00000-of-00001.parquet#0"));
    let (fit, test) = data.official_split().unwrap();
    assert_eq!((fit.len(), test.len()), (6, 3));

    let before = hub.requests();
    let again = fetch::fetch(&opts, &mut ()).unwrap();
    assert!(again.all_from_cache());
    assert_eq!(again.paths(), report.paths());
    assert_eq!(hub.requests(), before);
}
