//! `digits fetch`.

use std::process::ExitCode;

use digits::fetch::{self, FetchOptions, FetchProgress, StderrProgress};

use super::BadInput;

const AFTER_LONG_HELP: &str = "\
Files go to the Hugging Face cache: $HF_HOME/hub (default ~/.cache/huggingface/hub).
HF_ENDPOINT picks the server (default https://huggingface.co). Once both files are
cached, `digits fetch` makes no requests, and `digits train` / `digits eval` use
them when --data is not given.

Example:
  digits fetch            # then: digits train";

#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_LONG_HELP)]
pub struct FetchArgs {
    /// Branch, tag or commit of the dataset repository to download
    #[arg(long, value_name = "REV", default_value = fetch::DEFAULT_REVISION)]
    revision: String,
    /// Use only the local cache, never the network (also: HF_HUB_OFFLINE=1)
    #[arg(long)]
    offline: bool,
    /// No progress bar or status lines on stderr (results still go to stdout)
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: FetchArgs) -> anyhow::Result<ExitCode> {
    let opts = FetchOptions {
        revision: args.revision,
        offline: args.offline || env_flag("HF_HUB_OFFLINE"),
        ..FetchOptions::default()
    };
    let mut bar = StderrProgress::new();
    let progress: &mut dyn FetchProgress = if args.quiet { &mut () } else { &mut bar };
    let report = match fetch::fetch(&opts, progress) {
        Ok(report) => report,
        Err(e) if e.is_bad_input() => return Err(BadInput(e.to_string()).into()),
        Err(e) => return Err(e.into()),
    };

    if !args.quiet {
        for f in &report.files {
            let how = if f.from_cache {
                "already in the cache, nothing downloaded"
            } else {
                "downloaded and checked"
            };
            note!("{}: {how}", f.name);
        }
    }
    let commit = report
        .commit
        .as_deref()
        .map(|c| format!(", commit {c}"))
        .unwrap_or_default();
    say!(
        "{} (revision {}{commit}) is in the Hugging Face cache at {}",
        report.repo,
        report.revision,
        report.cache_dir.display()
    )?;
    for f in &report.files {
        say!("  {:>5} rows  {}", f.rows, f.path.display())?;
    }
    // `train` and `eval` read the default revision's files from the cache
    // by themselves; another revision's need naming.
    if report.revision == fetch::DEFAULT_REVISION {
        say!("next: digits train   (it reads these files when --data is not given)")?;
    } else {
        let data_args: Vec<String> = report
            .files
            .iter()
            .map(|f| format!("--data {}", shell_quote(&f.path.display().to_string())))
            .collect();
        say!("next: digits train {}", data_args.join(" "))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `HF_HUB_OFFLINE=1` (or true/yes/on), as in Python's `huggingface_hub`.
fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// Quotes a path for a POSIX shell when it needs it.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
