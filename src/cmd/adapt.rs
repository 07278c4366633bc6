//! `digits adapt`: a personal model from a base model and your own takes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use digits::data::Dataset;
use digits::model::{adapt, AdaptOptions, ModelFile};
use serde_json::json;

use super::BadInput;

#[derive(Debug, clap::Args)]
pub struct AdaptArgs {
    /// Folders of your takes, `{digit}_{name}_{take}.wav` (what `digits
    /// record` writes); several folders, or several names in one, make a
    /// household model
    #[arg(long, num_args = 1.., required = true, value_name = "DIR")]
    pub data: Vec<PathBuf>,
    /// Model to adapt [default: the embedded model]; adapting a personal
    /// model again replaces the takes of the names in --data and keeps the others
    #[arg(long, short)]
    pub model: Option<PathBuf>,
    /// Where to write the personal model (an existing file is replaced only
    /// if it is a digits model)
    #[arg(long, short)]
    pub out: PathBuf,
    /// How much your takes count against the built-in model (0-100)
    #[arg(long, default_value_t = AdaptOptions::default().weight, value_name = "W")]
    pub weight: f32,
    /// Print one JSON object instead of text
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: AdaptArgs) -> anyhow::Result<ExitCode> {
    let opts = AdaptOptions {
        weight: args.weight,
    };
    opts.check()
        .map_err(|e| BadInput(format!("--weight: {e}")))?;
    ModelFile::check_destination(&args.out)
        .with_context(|| "--out cannot be written (checked before adapting)")?;
    let base = ModelFile::load_or_embedded(args.model.as_deref())?;
    for dir in &args.data {
        if !dir.is_dir() {
            return Err(BadInput(format!(
                "--data {}: not a folder; pass the folder `digits record --out` wrote",
                dir.display()
            ))
            .into());
        }
    }
    let data = Dataset::load(&args.data)?;
    let report = adapt(&base, &data.clips, &opts)?;
    report
        .model
        .save(&args.out)
        .with_context(|| "saving the personal model")?;
    if !report.no_word.is_empty() {
        note!(
            "{}",
            super::no_word_note(&report.no_word, "left out; record them again")
        );
    }
    let templates = report
        .model
        .personal
        .as_ref()
        .map_or(0, |p| p.templates().len());
    if args.json {
        let v = json!({
            "out": args.out.display().to_string(),
            "added": report.added.iter().map(|(s, n)| json!({"speaker": s, "takes": n})).collect::<Vec<_>>(),
            "replaced": report.replaced,
            "templates": templates,
            "held_out_checked": report.held_out_checked,
            "held_out_correct": report.held_out_correct,
            "misheard": report.misheard.iter().map(|m| json!({"file": m.origin, "digit": m.digit, "heard": m.heard})).collect::<Vec<_>>(),
            "no_word": report.no_word,
            "bytes": report.model.file_size(),
            "seconds": super::round(report.seconds, 3),
        });
        say!("{v}")?;
        return Ok(ExitCode::SUCCESS);
    }
    let added: Vec<String> = report
        .added
        .iter()
        .map(|(s, n)| format!("{s} ({n} takes)"))
        .collect();
    say!(
        "personal model: {} in {:.2} s, {} takes in all, {} bytes → {}",
        added.join(", "),
        report.seconds,
        templates,
        report.model.file_size(),
        args.out.display()
    )?;
    if !report.replaced.is_empty() {
        say!(
            "replaced the earlier takes of {}",
            report.replaced.join(", ")
        )?;
    }
    if report.held_out_checked > 0 {
        say!(
            "each take heard against the others: {} of {} right",
            report.held_out_correct,
            report.held_out_checked
        )?;
        for m in &report.misheard {
            say!(
                "  {} ({}) heard as {}: say it again with `digits record --redo {}`, or keep it",
                m.origin,
                m.digit,
                m.heard,
                m.digit
            )?;
        }
    }
    say!(
        "use it: digits listen --auto --model {}",
        args.out.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
