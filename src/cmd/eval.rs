//! `digits eval`: accuracy, macro-F1, per-class report, confusion matrix and
//! speed of a model on a test split, or leave-one-speaker-out folds.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use digits::data::Dataset;
use digits::eval::{self, Fold, Metrics, Timing};
use digits::model::{ModelFile, TrainOptions};
use serde_json::json;

use super::data_paths;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Model file [default: the embedded model]
    #[arg(long, short)]
    pub model: Option<PathBuf>,
    /// FSDD data: folders of `{digit}_{speaker}_{take}.wav` and/or .parquet files
    /// [default: the files `digits fetch` downloaded]
    #[arg(long, num_args = 1.., value_name = "DIR|PARQUET")]
    pub data: Vec<PathBuf>,
    /// official: test the model on the 300 official test clips;
    /// speaker: train and test all leave-one-speaker-out folds
    #[arg(long, value_enum, default_value_t = EvalSplit::Official)]
    pub split: EvalSplit,
    /// Print one JSON object instead of tables
    #[arg(long)]
    pub json: bool,
    /// No progress messages
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EvalSplit {
    /// Takes 0-4 of every digit and speaker (300 clips)
    Official,
    /// Leave one speaker out, for every speaker
    Speaker,
}

pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let paths = data_paths(&args.data)?;
    let data = Dataset::load(&paths)?;
    let out = match args.split {
        EvalSplit::Official => official(&args, &data)?,
        EvalSplit::Speaker => speaker(&args, &data)?,
    };
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

fn official(args: &EvalArgs, data: &Dataset) -> anyhow::Result<String> {
    let model = ModelFile::load_or_embedded(args.model.as_deref())?;
    let (_, test) = data.official_split()?;
    let scored = eval::score(&model, &test.clips)?;
    let size = model.file_size();
    let name = args
        .model
        .as_ref()
        .map_or("embedded".to_string(), |p| p.display().to_string());
    if args.json {
        let mut v = metrics_json(&scored.metrics);
        v["split"] = json!("official");
        v["model"] =
            json!({ "file": name, "bytes": size, "support_vectors": model.svm.n_support() });
        v["ms_per_utt"] = timing_json(&scored.timing);
        v["real_time_factor"] = json!(scored.timing.real_time_factor);
        return Ok(format!("{v}\n"));
    }
    let mut s = String::new();
    writeln!(
        s,
        "model: {name} ({} support vectors, {:.1} KB)",
        model.svm.n_support(),
        size as f64 / 1024.0
    )?;
    writeln!(s, "test clips: {} (official split, takes 0-4)", test.len())?;
    s += &metrics_text(&scored.metrics);
    writeln!(
        s,
        "ms per utterance: features {:.4}, predict {:.4}; real-time factor {:.6}",
        scored.timing.features, scored.timing.predict, scored.timing.real_time_factor
    )?;
    Ok(s)
}

fn speaker(args: &EvalArgs, data: &Dataset) -> anyhow::Result<String> {
    if args.model.is_some() {
        eprintln!("note: --split speaker trains a fresh model per fold; --model is not used");
    }
    let opts = TrainOptions::default();
    let quiet = args.quiet;
    let (folds, pooled) = eval::speaker_folds(data, &opts, &|s| {
        if !quiet {
            eprintln!("fold: testing on {s}, training on the other speakers");
        }
    })?;
    let mean = folds.iter().map(|f| f.accuracy).sum::<f64>() / folds.len() as f64;
    if args.json {
        let mut v = metrics_json(&pooled);
        v["split"] = json!("speaker");
        v["folds"] = json!(folds
            .iter()
            .map(|f| json!({"speaker": f.speaker, "accuracy": f.accuracy, "n": f.n}))
            .collect::<Vec<_>>());
        v["mean_accuracy"] = json!(mean);
        v["worst_accuracy"] = json!(worst(&folds).accuracy);
        return Ok(format!("{v}\n"));
    }
    let mut s = String::new();
    writeln!(s, "leave-one-speaker-out ({} folds)", folds.len())?;
    for f in &folds {
        writeln!(
            s,
            "  {:<10} {:>6.2}%  ({} clips)",
            f.speaker,
            100.0 * f.accuracy,
            f.n
        )?;
    }
    writeln!(
        s,
        "mean accuracy {:.2}%, worst {:.2}% ({})",
        100.0 * mean,
        100.0 * worst(&folds).accuracy,
        worst(&folds).speaker
    )?;
    writeln!(s, "pooled over all held-out clips:")?;
    s += &metrics_text(&pooled);
    Ok(s)
}

fn worst(folds: &[Fold]) -> &Fold {
    folds
        .iter()
        .min_by(|a, b| a.accuracy.total_cmp(&b.accuracy))
        .expect("at least two folds")
}

fn metrics_json(m: &Metrics) -> serde_json::Value {
    json!({
        "n": m.n,
        "accuracy": m.accuracy,
        "macro_f1": m.macro_f1,
        "per_class": m.per_class,
        "confusion": m.confusion,
    })
}

fn timing_json(t: &Timing) -> serde_json::Value {
    json!({ "features": t.features, "predict": t.predict })
}

fn metrics_text(m: &Metrics) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "accuracy {:.2}% ({}/{}), macro-F1 {:.4}",
        100.0 * m.accuracy,
        (m.accuracy * m.n as f64).round(),
        m.n,
        m.macro_f1
    );
    let _ = writeln!(s, "digit  precision  recall     F1  support");
    for c in &m.per_class {
        let _ = writeln!(
            s,
            "{:>5}  {:>9.3}  {:>6.3}  {:>5.3}  {:>7}",
            c.digit, c.precision, c.recall, c.f1, c.support
        );
    }
    let _ = writeln!(
        s,
        "confusion matrix (rows: spoken digit, columns: predicted)"
    );
    let _ = writeln!(
        s,
        "     {}",
        (0..10).map(|d| format!("{d:>4}")).collect::<String>()
    );
    for (t, row) in m.confusion.iter().enumerate() {
        let _ = writeln!(
            s,
            "{t:>4} {}",
            row.iter().map(|v| format!("{v:>4}")).collect::<String>()
        );
    }
    s
}
