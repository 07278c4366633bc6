//! Downloading the Free Spoken Digit Dataset (`mteb/free-spoken-digit-dataset`
//! on Hugging Face) into the local Hugging Face cache: this module owns the
//! talk to the hub (hf-hub 0.4.3, blocking ureq), the cache lookups with and
//! without network, the check that every file it hands out opens as dataset
//! parquet (a file that does not is removed from the cache, never trusted),
//! and turning hub and network failures into one-line errors.
//!
//! Where things go: the endpoint is `HF_ENDPOINT` (default
//! `https://huggingface.co`) and the cache `$HF_HOME/hub` (default
//! `~/.cache/huggingface/hub`), the same cache Python's `huggingface_hub`
//! uses. Once both files are cached, [`fetch`] makes no requests at all.

use std::cell::Cell;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use hf_hub::api::sync::{ApiBuilder, ApiError};
use hf_hub::{Cache, Repo, RepoType};

use crate::data::{PARQUET_AUDIO_COLUMN, PARQUET_LABEL_COLUMN};

/// The dataset repository on the hub.
pub const DATASET_REPO: &str = "mteb/free-spoken-digit-dataset";
/// The revision fetched unless told otherwise.
pub const DEFAULT_REVISION: &str = "main";
/// The hub used when `HF_ENDPOINT` is not set.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
/// The dataset's files, train first.
pub const DATASET_FILES: [&str; 2] = [
    "data/train-00000-of-00001.parquet",
    "data/test-00000-of-00001.parquet",
];

/// Errors from fetching the dataset. Each message is one line naming the
/// problem and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{file} is not in the cache at {cache_dir}; run `digits fetch` with network first")]
    NotCached { file: String, cache_dir: PathBuf },
    #[error("download of {file} failed: HTTP {status} from {url}; {hint}")]
    Http {
        file: String,
        status: u16,
        url: String,
        hint: &'static str,
    },
    #[error("download of {file} failed: cannot reach {endpoint} ({reason}); check the network and HF_ENDPOINT, or use --offline if the data was fetched before")]
    Unreachable {
        file: String,
        endpoint: String,
        reason: String,
    },
    #[error("download of {file} failed: the connection broke off after {received} of {size} bytes ({reason}); run `digits fetch` again to resume")]
    Interrupted {
        file: String,
        received: u64,
        size: u64,
        reason: String,
    },
    #[error("download of {file} failed: {endpoint} does not answer like a Hugging Face hub ({reason}); check HF_ENDPOINT")]
    NotAHub {
        file: String,
        endpoint: String,
        reason: String,
    },
    #[error("downloaded {file} is not a usable dataset file ({reason}); it was removed from the cache, run `digits fetch` again")]
    Corrupt { file: String, reason: String },
    #[error("cached {file} is damaged ({reason}); it was removed from the cache, run `digits fetch` with network to download it again")]
    DamagedCache { file: String, reason: String },
    #[error("HF_ENDPOINT `{endpoint}` is not an http(s) URL; set it to e.g. {DEFAULT_ENDPOINT}, or unset it")]
    BadEndpoint { endpoint: String },
    #[error(
        "revision `{revision}` is not a branch, tag or commit name; pass e.g. `--revision main`"
    )]
    BadRevision { revision: String },
    #[error("another download is writing {path}; wait for it to finish, or delete that file if none is running")]
    Locked { path: PathBuf },
    #[error("cannot use the Hugging Face cache at {cache_dir} ({reason}); check its permissions and free space, or point HF_HOME elsewhere")]
    Cache { cache_dir: PathBuf, reason: String },
}

impl FetchError {
    /// True when the error is in what the user passed (flags, environment)
    /// rather than in the network, the hub or the cache.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            FetchError::BadEndpoint { .. } | FetchError::BadRevision { .. }
        )
    }
}

/// What to fetch and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// Dataset repository id; [`DATASET_REPO`] by default.
    pub repo: String,
    /// Branch, tag or commit; [`DEFAULT_REVISION`] by default.
    pub revision: String,
    /// Use only the cache; never touch the network.
    pub offline: bool,
    /// Hub URL; `None` = `HF_ENDPOINT`, else [`DEFAULT_ENDPOINT`].
    pub endpoint: Option<String>,
    /// Cache directory (the `hub` folder); `None` = [`default_cache_dir`].
    pub cache_dir: Option<PathBuf>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            repo: DATASET_REPO.to_string(),
            revision: DEFAULT_REVISION.to_string(),
            offline: false,
            endpoint: None,
            cache_dir: None,
        }
    }
}

/// One dataset file, ready to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedFile {
    /// The file's name in the repository, e.g. `data/train-00000-of-00001.parquet`.
    pub name: String,
    /// Where it is on disk (a link in the cache's `snapshots` folder).
    pub path: PathBuf,
    /// Rows (clips) in the file.
    pub rows: usize,
    /// True when it was already cached and nothing was downloaded.
    pub from_cache: bool,
}

/// What [`fetch`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchReport {
    pub repo: String,
    pub revision: String,
    /// The commit the revision resolved to, when the cache records it.
    pub commit: Option<String>,
    /// The Hugging Face cache directory used (the `hub` folder).
    pub cache_dir: PathBuf,
    /// Train file first, then test.
    pub files: Vec<FetchedFile>,
}

impl FetchReport {
    /// The local paths of all files, train first.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.files.iter().map(|f| f.path.clone()).collect()
    }

    /// Rows in all files together.
    pub fn total_rows(&self) -> usize {
        self.files.iter().map(|f| f.rows).sum()
    }

    /// True when every file came from the cache (no download happened).
    pub fn all_from_cache(&self) -> bool {
        self.files.iter().all(|f| f.from_cache)
    }
}

/// Receives download progress. All methods default to doing nothing, so `()`
/// is the silent implementation.
pub trait FetchProgress {
    /// A download of `file` starts (or restarts), `total` bytes in all; an
    /// earlier partial download is reported through `advance` right after.
    fn start(&mut self, _file: &str, _total: u64) {}
    /// `bytes` more bytes arrived.
    fn advance(&mut self, _bytes: u64) {}
    /// The current download ended, successfully or not.
    fn finish(&mut self, _ok: bool) {}
}

impl FetchProgress for () {}

/// An indicatif progress bar on stderr, drawn only when stderr is a terminal.
#[derive(Debug, Default)]
pub struct StderrProgress {
    bar: Option<indicatif::ProgressBar>,
}

impl StderrProgress {
    pub fn new() -> Self {
        Self::default()
    }
}

impl FetchProgress for StderrProgress {
    fn start(&mut self, file: &str, total: u64) {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(total),
                indicatif::ProgressDrawTarget::stderr(),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ({eta})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        bar.set_length(total);
        bar.set_position(0);
        let short = file.rsplit('/').next().unwrap_or(file);
        bar.set_message(short.to_string());
    }

    fn advance(&mut self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    fn finish(&mut self, _ok: bool) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// The cache directory used when none is given: `$HF_HOME/hub`, else
/// `~/.cache/huggingface/hub` (hf-hub's `Cache::from_env`).
pub fn default_cache_dir() -> PathBuf {
    Cache::from_env().path().clone()
}

/// The dataset files at [`DEFAULT_REVISION`] in the default cache, train
/// first, when both are there. Makes no requests.
pub fn cached_dataset_files() -> Option<Vec<PathBuf>> {
    cached_files_at(&default_cache_dir(), DEFAULT_REVISION)
}

/// The dataset files at `revision` in the cache at `cache_dir`, when both are
/// there. Makes no requests and does not open the files.
pub fn cached_files_at(cache_dir: &Path, revision: &str) -> Option<Vec<PathBuf>> {
    if check_revision(revision).is_err() {
        return None;
    }
    let cached = Cache::new(cache_dir.to_path_buf()).repo(dataset_repo(DATASET_REPO, revision));
    DATASET_FILES.iter().map(|f| cached.get(f)).collect()
}

/// Makes both dataset files available locally and checks that they open as
/// dataset parquet. Files already cached are used as they are, with no
/// request; the rest are downloaded (unless `opts.offline`), and a download
/// that does not open is removed from the cache again.
pub fn fetch(
    opts: &FetchOptions,
    progress: &mut dyn FetchProgress,
) -> Result<FetchReport, FetchError> {
    check_revision(&opts.revision)?;
    let cache_dir = opts.cache_dir.clone().unwrap_or_else(default_cache_dir);
    let repo = dataset_repo(&opts.repo, &opts.revision);
    let cached = Cache::new(cache_dir.clone()).repo(repo.clone());
    let cache_err = |e: &dyn std::fmt::Display| FetchError::Cache {
        cache_dir: cache_dir.clone(),
        reason: e.to_string(),
    };

    let mut files = Vec::with_capacity(DATASET_FILES.len());
    let mut api = None;
    for name in DATASET_FILES {
        if let Some(path) = cached.get(name) {
            match quick_check(&path) {
                Ok(rows) => {
                    files.push(FetchedFile {
                        name: name.to_string(),
                        path,
                        rows,
                        from_cache: true,
                    });
                    continue;
                }
                Err(reason) => {
                    evict(&path, &cache_dir).map_err(|e| cache_err(&e))?;
                    if opts.offline {
                        return Err(FetchError::DamagedCache {
                            file: name.to_string(),
                            reason,
                        });
                    }
                }
            }
        }
        if opts.offline {
            return Err(FetchError::NotCached {
                file: name.to_string(),
                cache_dir,
            });
        }
        if api.is_none() {
            api = Some(Hub::new(opts, &cache_dir, repo.clone())?);
        }
        let hub = api.as_ref().expect("just set");
        let path = hub.download(name, progress)?;
        let rows = match crate::data::read_parquet(&path) {
            Ok(data) => data.len(),
            Err(e) => {
                evict(&path, &cache_dir).map_err(|e| cache_err(&e))?;
                return Err(FetchError::Corrupt {
                    file: name.to_string(),
                    reason: parquet_reason(e),
                });
            }
        };
        files.push(FetchedFile {
            name: name.to_string(),
            path,
            rows,
            from_cache: false,
        });
    }

    let commit = std::fs::read_to_string(
        cache_dir
            .join(repo.folder_name())
            .join("refs")
            .join(&opts.revision),
    )
    .ok()
    .map(|s| s.trim().to_string())
    .filter(|s| !s.is_empty());
    Ok(FetchReport {
        repo: opts.repo.clone(),
        revision: opts.revision.clone(),
        commit,
        cache_dir,
        files,
    })
}

fn dataset_repo(id: &str, revision: &str) -> Repo {
    Repo::with_revision(id.to_string(), RepoType::Dataset, revision.to_string())
}

/// A revision becomes a path under the cache's `refs` folder and part of a
/// URL, so only plain names are allowed: no `..`, no leading or trailing `/`.
fn check_revision(revision: &str) -> Result<(), FetchError> {
    let ok = !revision.is_empty()
        && revision.len() <= 255
        && revision
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && revision
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if ok {
        Ok(())
    } else {
        Err(FetchError::BadRevision {
            revision: revision.to_string(),
        })
    }
}

/// Opens the footer only: the file is complete parquet with the dataset's
/// columns. Returns the row count. Audio is checked when the data is loaded.
fn quick_check(path: &Path) -> Result<usize, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| format!("not parquet: {e}"))?;
    for column in [PARQUET_AUDIO_COLUMN, PARQUET_LABEL_COLUMN] {
        if builder.schema().field_with_name(column).is_err() {
            return Err(format!("no `{column}` column"));
        }
    }
    usize::try_from(builder.metadata().file_metadata().num_rows())
        .map_err(|_| "negative row count".to_string())
}

fn parquet_reason(e: crate::data::DataError) -> String {
    match e {
        crate::data::DataError::Parquet { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// Removes a cached file: the snapshot link and the blob it points to (when
/// the blob is inside the cache). A missing file is not an error.
fn evict(link: &Path, cache_dir: &Path) -> std::io::Result<()> {
    let ignore_missing = |r: std::io::Result<()>| match r {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    };
    if let (Ok(blob), Ok(root)) = (
        std::fs::canonicalize(link),
        std::fs::canonicalize(cache_dir),
    ) {
        if blob.starts_with(&root) && blob != link {
            ignore_missing(std::fs::remove_file(&blob))?;
        }
    }
    ignore_missing(std::fs::remove_file(link))
}

/// The hub client for one fetch.
struct Hub {
    api: hf_hub::api::sync::ApiRepo,
    endpoint: String,
    blobs_dir: PathBuf,
    cache_dir: PathBuf,
}

impl Hub {
    fn new(opts: &FetchOptions, cache_dir: &Path, repo: Repo) -> Result<Self, FetchError> {
        let endpoint = match &opts.endpoint {
            Some(e) => e.clone(),
            None => std::env::var("HF_ENDPOINT").unwrap_or_else(|_| DEFAULT_ENDPOINT.to_string()),
        };
        let endpoint = endpoint.trim().trim_end_matches('/').to_string();
        let host = endpoint
            .strip_prefix("https://")
            .or_else(|| endpoint.strip_prefix("http://"));
        if host.is_none_or(|h| h.is_empty() || h.starts_with('/')) {
            return Err(FetchError::BadEndpoint { endpoint });
        }
        let api = ApiBuilder::from_env()
            .with_endpoint(endpoint.clone())
            .with_cache_dir(cache_dir.to_path_buf())
            .with_progress(false)
            .with_retries(0)
            .build()
            .map_err(|e| FetchError::Cache {
                cache_dir: cache_dir.to_path_buf(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            blobs_dir: cache_dir.join(repo.folder_name()).join("blobs"),
            api: api.repo(repo),
            endpoint,
            cache_dir: cache_dir.to_path_buf(),
        })
    }

    /// Downloads one file into the cache and returns its snapshot path.
    fn download(
        &self,
        name: &str,
        progress: &mut dyn FetchProgress,
    ) -> Result<PathBuf, FetchError> {
        let mut result = self.download_once(name, progress);
        if let Err(ApiError::InvalidResume) = result.as_ref().map_err(|(e, _)| e) {
            // A leftover `.part` is longer than the file: start over.
            self.remove_partials();
            result = self.download_once(name, progress);
        }
        result.map_err(|(e, (received, size))| self.explain(name, e, received, size))
    }

    #[allow(clippy::type_complexity)]
    fn download_once(
        &self,
        name: &str,
        progress: &mut dyn FetchProgress,
    ) -> Result<PathBuf, (ApiError, (u64, u64))> {
        let received = Cell::new(0u64);
        let size = Cell::new(0u64);
        let tracker = Tracker {
            inner: &mut *progress,
            received: &received,
            size: &size,
        };
        let result = self.api.download_with_progress(name, tracker);
        if result.is_err() {
            progress.finish(false);
        }
        result.map_err(|e| (e, (received.get(), size.get())))
    }

    /// Deletes `*.part` files of this repository (interrupted downloads).
    fn remove_partials(&self) {
        if let Ok(entries) = std::fs::read_dir(&self.blobs_dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "part") {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }

    fn explain(&self, file: &str, e: ApiError, received: u64, size: u64) -> FetchError {
        let file = file.to_string();
        let endpoint = self.endpoint.clone();
        match e {
            ApiError::RequestError(err) => {
                // hf-hub does not re-export ureq; its Display is
                // "<url>: status code <n>" or "<url>: <kind>: <detail>".
                let text = err.to_string();
                if let Some((url, status)) = parse_status(&text) {
                    return FetchError::Http {
                        file,
                        status,
                        url: url.to_string(),
                        hint: status_hint(status),
                    };
                }
                let reason = strip_url(&text).to_string();
                if size > 0 {
                    FetchError::Interrupted {
                        file,
                        received,
                        size,
                        reason,
                    }
                } else if reason.starts_with("Bad Status") || reason.starts_with("Bad Header") {
                    FetchError::NotAHub {
                        file,
                        endpoint,
                        reason,
                    }
                } else {
                    FetchError::Unreachable {
                        file,
                        endpoint,
                        reason,
                    }
                }
            }
            ApiError::MissingHeader(h) => FetchError::NotAHub {
                file,
                endpoint,
                reason: format!("the reply has no {h} header"),
            },
            ApiError::InvalidHeader(h) => FetchError::NotAHub {
                file,
                endpoint,
                reason: format!("the reply's {h} header is invalid"),
            },
            ApiError::ParseIntError(_) => FetchError::NotAHub {
                file,
                endpoint,
                reason: "the reply's Content-Range header has no valid size".into(),
            },
            ApiError::IoError(io) if size > 0 && is_network_io(&io) => FetchError::Interrupted {
                file,
                received,
                size,
                reason: io.to_string(),
            },
            ApiError::TooManyRetries(inner) => self.explain(&file, *inner, received, size),
            ApiError::LockAcquisition(mut path) => {
                path.set_extension("lock");
                FetchError::Locked { path }
            }
            other => FetchError::Cache {
                cache_dir: self.cache_dir.clone(),
                reason: other.to_string(),
            },
        }
    }
}

/// Forwards hf-hub's progress calls and counts what arrived.
struct Tracker<'a> {
    inner: &'a mut dyn FetchProgress,
    received: &'a Cell<u64>,
    size: &'a Cell<u64>,
}

impl hf_hub::api::Progress for Tracker<'_> {
    fn init(&mut self, size: usize, filename: &str) {
        // hf-hub calls this before each request, then `update(offset)`
        // for bytes kept from an earlier interrupted download.
        self.size.set(size as u64);
        self.received.set(0);
        self.inner.start(filename, size as u64);
    }

    fn update(&mut self, size: usize) {
        self.received.set(self.received.get() + size as u64);
        self.inner.advance(size as u64);
    }

    fn finish(&mut self) {
        self.inner.finish(true);
    }
}

/// `("<url>", 404)` from ureq's "<url>: status code 404[ (redirected from …)]".
fn parse_status(text: &str) -> Option<(&str, u16)> {
    let (url, rest) = text.split_once(": status code ")?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some((url, digits.parse().ok()?))
}

/// ureq prefixes transport errors with the URL; the caller names the endpoint.
fn strip_url(text: &str) -> &str {
    if text.starts_with("http://") || text.starts_with("https://") {
        if let Some((_, rest)) = text.split_once(": ") {
            return rest;
        }
    }
    text
}

fn status_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => "the repository or revision does not exist or needs a token; check HF_ENDPOINT and --revision",
        404 => "check HF_ENDPOINT and --revision",
        429 => "the hub is rate-limiting; wait a minute and run `digits fetch` again",
        500..=599 => "the hub has a problem; try again later",
        _ => "check HF_ENDPOINT and --revision",
    }
}

fn is_network_io(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe | TimedOut | WouldBlock
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_must_be_plain_names() {
        for ok in [
            "main",
            "v1.0",
            "refs/pr/1",
            "c34455c99604d35cb8d27328c267be1478efc903",
        ] {
            assert!(check_revision(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "..",
            "../../etc",
            "/main",
            "main/",
            "a b",
            "a//b",
            "x\n",
        ] {
            assert!(check_revision(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ureq_status_text_is_parsed() {
        assert_eq!(
            parse_status("http://h/x: status code 404"),
            Some(("http://h/x", 404))
        );
        assert_eq!(
            parse_status("http://h/x: status code 302 (redirected from http://h/y)"),
            Some(("http://h/x", 302))
        );
        assert_eq!(parse_status("http://h/x: Connection Failed: refused"), None);
        assert_eq!(
            strip_url("http://127.0.0.1:9/x: Connection Failed: refused"),
            "Connection Failed: refused"
        );
    }

    #[test]
    fn empty_cache_offline_names_the_file_and_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let opts = FetchOptions {
            offline: true,
            cache_dir: Some(dir.path().to_path_buf()),
            ..FetchOptions::default()
        };
        let err = fetch(&opts, &mut ()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "data/train-00000-of-00001.parquet is not in the cache at {}; run `digits fetch` with network first",
                dir.path().display()
            )
        );
        assert_eq!(cached_files_at(dir.path(), DEFAULT_REVISION), None);
    }

    #[test]
    fn bad_endpoint_and_revision_are_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let opts = FetchOptions {
            endpoint: Some("ftp://example".into()),
            cache_dir: Some(dir.path().to_path_buf()),
            ..FetchOptions::default()
        };
        let err = fetch(&opts, &mut ()).unwrap_err();
        assert!(matches!(err, FetchError::BadEndpoint { .. }), "{err}");
        assert!(err.is_bad_input());
        let opts = FetchOptions {
            revision: "../x".into(),
            ..opts
        };
        assert!(fetch(&opts, &mut ()).unwrap_err().is_bad_input());
    }
}
