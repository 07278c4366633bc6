//! `digits eval`: accuracy, macro-F1, per-class report, confusion matrix and
//! speed of a model on a test split, or leave-one-speaker-out folds; with
//! `--snr`, accuracy under seeded added noise; with `--plot`, charts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;
use digits::augment::NoiseKind;
use digits::data::Dataset;
use digits::eval::{self, BabblePool, Metrics, Miss, SnrPoint, Timing, NOISE_SEED};
use digits::model::{AdaptOptions, ModelFile, TrainOptions};
use digits::plot::{self, PlotError};
use serde_json::json;

use super::{data_sources, round, BadInput};

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Model file [default: the embedded model]
    #[arg(long, short)]
    pub model: Option<PathBuf>,
    /// FSDD data: folders of `{digit}_{speaker}_{take}.wav` and/or .parquet files,
    /// each optionally labelled with the kind of voices it holds
    /// (real=DIR), which --split voice reports apart
    /// [default: the files `digits fetch` downloaded]
    #[arg(long, num_args = 1.., value_name = "[KIND=]DIR|PARQUET")]
    pub data: Vec<PathBuf>,
    /// official: test the model on the 300 official test clips;
    /// all: test it on every clip given (recordings of your own);
    /// speaker: train and test all leave-one-speaker-out folds;
    /// voice: the same over every source given, reported by kind of voice
    #[arg(long, value_enum, default_value_t = EvalSplit::Official)]
    pub split: EvalSplit,
    /// Also measure accuracy with noise added at these signal-to-noise ratios
    /// (dB, -50 to 100, relative to each clip's power), e.g. --snr 30,20,10,5,0.
    /// The noise is seeded: the same every run (see --noise-seed)
    #[arg(
        long,
        value_delimiter = ',',
        allow_hyphen_values = true,
        value_name = "DB,..."
    )]
    pub snr: Vec<String>,
    /// Noise for --snr; babble mixes training clips of other speakers
    #[arg(long, value_enum, default_value_t = NoiseArg::White, requires = "snr")]
    pub noise: NoiseArg,
    /// Seed of the noise --snr adds: another seed draws other noise, so
    /// a few seeds show how much a figure moves with the noise alone
    #[arg(long, value_name = "N", default_value_t = NOISE_SEED, requires = "snr")]
    pub noise_seed: u64,
    /// Write charts into this folder (created if needed): confusion.png/.svg,
    /// with --snr snr.png/.svg, with --split speaker speakers.png/.svg
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// With --split speaker: adapt each fold's model to its held-out speaker
    /// with K of his takes per digit (takes 5, 6, …), as `digits adapt`
    /// would, and test on his takes from 10 on; several K give the curve,
    /// e.g. --enroll 0,1,3
    #[arg(long, value_delimiter = ',', value_name = "K,...")]
    pub enroll: Vec<usize>,
    /// With --enroll or --split voice: hold out only these speakers or
    /// voices (default: each in turn)
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    pub held_out: Vec<String>,
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
    /// Every clip given: a folder of your own `{digit}_{speaker}_{take}.wav`
    All,
    /// Leave one speaker out, for every speaker
    Speaker,
    /// Leave one voice out over every source, reported by kind of voice
    Voice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NoiseArg {
    /// Gaussian white noise
    White,
    /// 1/f noise
    Pink,
    /// Up to four training clips of other speakers, summed
    Babble,
}

impl NoiseArg {
    fn kind(self) -> NoiseKind {
        match self {
            Self::White => NoiseKind::White,
            Self::Pink => NoiseKind::Pink,
            Self::Babble => NoiseKind::Babble,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::White => "white",
            Self::Pink => "pink",
            Self::Babble => "babble",
        }
    }
}

pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let levels = parse_snr(&args.snr)?;
    if args.split != EvalSplit::Speaker && !args.enroll.is_empty() {
        return Err(BadInput("--enroll needs --split speaker".into()).into());
    }
    if !args.held_out.is_empty() && args.enroll.is_empty() && args.split != EvalSplit::Voice {
        return Err(BadInput("--held-out needs --split voice, or --enroll".into()).into());
    }
    if !args.enroll.is_empty() && !levels.is_empty() {
        return Err(
            BadInput("--enroll and --snr cannot be combined; run them separately".into()).into(),
        );
    }
    if let Some(dir) = &args.plot {
        plot::prepare_dir(dir).map_err(plot_error)?;
    }
    let (data, kinds) = Dataset::load_sources(&data_sources(&args.data)?)?;
    let (out, plots) = match args.split {
        EvalSplit::Official | EvalSplit::All => test_split(&args, &data, &levels)?,
        EvalSplit::Speaker if !args.enroll.is_empty() => enrolled(&args, &data)?,
        EvalSplit::Speaker => speaker(&args, &data, &levels, None)?,
        EvalSplit::Voice => {
            let kinds = voice_kinds(&data, &kinds)?;
            speaker(&args, &data, &levels, Some(&kinds))?
        }
    };
    super::write_stdout(out.as_bytes())?;
    // On stderr, so `--json` output stays one object.
    if !args.quiet && !plots.is_empty() {
        let names: Vec<String> = plots.iter().map(|p| p.display().to_string()).collect();
        note!("wrote {}", names.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

/// The SNR levels `--snr` accepts, in dB: -50 dB is noise 100,000 times
/// the clip's power, 100 dB noise below the 16-bit floor; beyond them every
/// answer is the same.
const SNR_RANGE: std::ops::RangeInclusive<f64> = -50.0..=100.0;

/// The `--snr` values as dB; anything not a number in [`SNR_RANGE`] is bad
/// input.
fn parse_snr(raw: &[String]) -> anyhow::Result<Vec<f64>> {
    raw.iter()
        .map(|s| {
            let Some(v) = s.trim().parse::<f64>().ok().filter(|v| v.is_finite()) else {
                return Err(BadInput(format!(
                    "--snr: `{s}` is not a number of decibels; pass a comma-separated list such as --snr 30,20,10,5,0"
                ))
                .into());
            };
            if !SNR_RANGE.contains(&v) {
                return Err(BadInput(format!(
                    "--snr: {s} dB is out of range; pass levels from {} to {} dB, such as --snr 30,20,10,5,0",
                    SNR_RANGE.start(),
                    SNR_RANGE.end()
                ))
                .into());
            }
            Ok(v)
        })
        .collect()
}

/// A bad `--plot` folder is bad input (exit 2); a full disk or a drawing
/// failure is the job failing (exit 1). The message names its cause
/// already, so the chain under it is not printed again.
fn plot_error(e: PlotError) -> anyhow::Error {
    if e.is_bad_path() {
        BadInput(e.to_string()).into()
    } else {
        anyhow::anyhow!("{e}")
    }
}

/// A chart writer: given the `--plot` folder, the files it wrote.
type ChartFn<'a> = &'a dyn Fn(&Path) -> plot::Result<Vec<PathBuf>>;

/// Writes the charts into the `--plot` folder, if given; returns the files.
fn write_plots(args: &EvalArgs, charts: &[ChartFn]) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    if let Some(dir) = &args.plot {
        for chart in charts {
            written.extend(chart(dir).map_err(plot_error)?);
        }
    }
    Ok(written)
}

/// The report text and the chart files written.
type Report = (String, Vec<PathBuf>);

/// The model on one test set: the official test clips, or every clip given.
fn test_split(args: &EvalArgs, data: &Dataset, levels: &[f64]) -> anyhow::Result<Report> {
    let model = ModelFile::load_or_embedded(args.model.as_deref())?;
    let official;
    // Babble comes from the clips not under test, or with `all` from the
    // other speakers' clips in the same data.
    let (babble_clips, test, split, label) = match args.split {
        EvalSplit::All => (&data.clips, &data.clips, "all", "all clips given"),
        _ => {
            official = data.official_sides()?;
            if official.1.is_empty() {
                return Err(BadInput(
                    "--data has no official test clips (takes 0-4); to score every clip given, add --split all".into(),
                )
                .into());
            }
            (
                &official.0.clips,
                &official.1.clips,
                "official",
                "official split, takes 0-4",
            )
        }
    };
    // Clips with no word in them are left out, as `train` leaves them out.
    let (test, no_word) = eval::without_wordless(&model.front_end, test)?;
    let test = test.as_ref();
    if !no_word.is_empty() {
        super::notice(&super::no_word_note(&no_word, "left out of the score"));
    }
    let scored = eval::score(&model, test)?;
    let kind = args.noise.kind();
    let snr = if levels.is_empty() {
        Vec::new()
    } else {
        let babble = match kind {
            NoiseKind::Babble => BabblePool::new(babble_clips)?,
            NoiseKind::White | NoiseKind::Pink => BabblePool::default(),
        };
        eval::snr_sweep(&model, test, &babble, kind, levels, args.noise_seed)?
    };
    let size = model.file_size();
    let name = args
        .model
        .as_ref()
        .map_or("embedded".to_string(), |p| p.display().to_string());
    let short = args
        .model
        .as_ref()
        .and_then(|p| p.file_name())
        .map_or("embedded model".to_string(), |f| {
            format!("model {}", f.to_string_lossy())
        });
    let confusion_title = format!(
        "{short}, {split} split: {:.1}% of {} correct",
        100.0 * scored.metrics.accuracy,
        scored.metrics.n
    );
    let snr_title = format!("{short}, {split} split, {} noise added", args.noise.name());
    let clean = scored.metrics.accuracy;
    let mut charts: Vec<ChartFn> = Vec::new();
    let draw_confusion = |d: &Path| plot::confusion(d, &scored.metrics, &confusion_title);
    let draw_snr = |d: &Path| plot::snr_curve(d, &snr, clean, args.noise.name(), &snr_title);
    charts.push(&draw_confusion);
    if !snr.is_empty() {
        charts.push(&draw_snr);
    }
    let plots = write_plots(args, &charts)?;
    if args.json {
        let mut v = metrics_json(&scored.metrics);
        v["split"] = json!(split);
        v["model"] =
            json!({ "file": name, "bytes": size, "support_vectors": model.svm.n_support() });
        v["ms_per_utt"] = timing_json(&scored.timing);
        v["real_time_factor"] = json!(scored.timing.real_time_factor);
        v["errors"] = misses_json(&scored.misses);
        add_no_word_json(&mut v, &no_word);
        add_snr_json(&mut v, args, &snr);
        return Ok((format!("{v}\n"), plots));
    }
    let mut s = String::new();
    writeln!(
        s,
        "model: {name} ({} support vectors, {size} bytes = {:.1} KiB)",
        model.svm.n_support(),
        size as f64 / 1024.0
    )?;
    writeln!(
        s,
        "test clips: {} ({label}{})",
        test.len(),
        left_out_text(&no_word, "; ", "")
    )?;
    s += &metrics_text(&scored.metrics);
    s += &misses_text(&scored.misses, scored.metrics.n);
    writeln!(
        s,
        "ms per utterance: features {:.4}, predict {:.4}; real-time factor {:.6}",
        scored.timing.features, scored.timing.predict, scored.timing.real_time_factor
    )?;
    s += &snr_text(args, clean, &snr);
    Ok((s, plots))
}

/// `--split speaker --enroll K,...`: the enrolment curve.
fn enrolled(args: &EvalArgs, data: &Dataset) -> anyhow::Result<Report> {
    if args.model.is_some() {
        super::notice("--split speaker trains a fresh model per fold; --model is not used");
    }
    if args.plot.is_some() {
        return Err(BadInput("--plot is not drawn with --enroll; leave it out".into()).into());
    }
    let quiet = args.quiet;
    let report = eval::speaker_folds_enrolled(
        data,
        &TrainOptions::default(),
        &AdaptOptions::default(),
        &args.enroll,
        &args.held_out,
        &|s| {
            if !quiet {
                note!("fold: testing on {s}, training on the other speakers, then enrolling {s}");
            }
        },
    )?;
    if !report.no_word.is_empty() {
        super::notice(&super::no_word_note(
            &report.no_word,
            "left out of the score",
        ));
    }
    let last = report.ks.len() - 1;
    let (mean, worst, worst_speaker) = report.summary(Some(last));
    let (mean0, worst0, _) = report.summary(None);
    if args.json {
        let v = json!({
            "split": "speaker",
            "enroll": report.ks,
            "enrol_takes_from": eval::ENROL_FIRST_TAKE,
            "test_takes_from": report.first_test_take,
            "mean_accuracy": mean,
            "worst_accuracy": worst,
            "mean_accuracy_without_enrolment": mean0,
            "worst_accuracy_without_enrolment": worst0,
            "curve": report.ks.iter().enumerate().map(|(i, k)| {
                let (m, w, s) = report.summary(Some(i));
                json!({"k": k, "mean_accuracy": m, "worst_accuracy": w, "worst_speaker": s})
            }).collect::<Vec<_>>(),
            "folds": report.folds.iter().map(|f| json!({
                "speaker": f.speaker,
                "n": f.n,
                "accuracy": f.accuracy[last],
                "accuracy_without_enrolment": f.accuracy_without_enrolment,
                "curve": f.accuracy,
                "adapt_seconds": f.adapt_seconds.iter().map(|s| super::round(*s, 3)).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "no_word": report.no_word,
        });
        return Ok((format!("{v}\n"), Vec::new()));
    }
    let mut s = String::new();
    writeln!(
        s,
        "leave-one-speaker-out with enrolment: K takes per digit from take {} on, tested on takes {} and later",
        eval::ENROL_FIRST_TAKE,
        report.first_test_take
    )?;
    let head: Vec<String> = report
        .ks
        .iter()
        .map(|k| format!("{:>8}", format!("K = {k}")))
        .collect();
    writeln!(s, "  {:<10} {:>6} {}", "speaker", "clips", head.join(" "))?;
    for f in &report.folds {
        let cells: Vec<String> = f
            .accuracy
            .iter()
            .map(|a| format!("{:>7.2}%", 100.0 * a))
            .collect();
        writeln!(s, "  {:<10} {:>6} {}", f.speaker, f.n, cells.join(" "))?;
    }
    for (label, pick) in [("mean", 0), ("worst", 1)] {
        let cells: Vec<String> = (0..report.ks.len())
            .map(|i| {
                let (m, w, _) = report.summary(Some(i));
                format!("{:>7.2}%", 100.0 * if pick == 0 { m } else { w })
            })
            .collect();
        writeln!(s, "  {:<10} {:>6} {}", label, "", cells.join(" "))?;
    }
    writeln!(
        s,
        "with K = {}: mean {:.2}%, worst {:.2}% ({worst_speaker}); without enrolment {:.2}% / {:.2}%",
        report.ks[last],
        100.0 * mean,
        100.0 * worst,
        100.0 * mean0,
        100.0 * worst0
    )?;
    Ok((s, Vec::new()))
}

/// Each voice's kind (the kind of the first source it appears in); every
/// `--held-out` name must be a voice of the data.
fn voice_kinds(data: &Dataset, kinds: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (c, k) in data.clips.iter().zip(kinds) {
        let Some(voice) = &c.speaker else {
            return Err(digits::data::DataError::NoSpeaker {
                origin: c.origin.clone(),
            }
            .into());
        };
        out.entry(voice.clone()).or_insert_with(|| k.clone());
    }
    Ok(out)
}

/// A kind's held-out voices: how many, their mean and worst accuracy.
struct KindSummary<'a> {
    kind: &'a str,
    folds: Vec<&'a eval::Fold>,
}

impl KindSummary<'_> {
    fn mean(&self) -> f64 {
        self.folds.iter().map(|f| f.accuracy).sum::<f64>() / self.folds.len().max(1) as f64
    }

    fn worst(&self) -> &eval::Fold {
        self.folds
            .iter()
            .min_by(|a, b| a.accuracy.total_cmp(&b.accuracy))
            .expect("a kind has a fold")
    }
}

fn kind_summaries<'a>(
    folds: &'a [eval::Fold],
    kinds: &'a BTreeMap<String, String>,
) -> Vec<KindSummary<'a>> {
    let mut out: Vec<KindSummary> = Vec::new();
    for f in folds {
        let kind = kinds.get(&f.speaker).map_or("", String::as_str);
        match out.iter_mut().find(|k| k.kind == kind) {
            Some(k) => k.folds.push(f),
            None => out.push(KindSummary {
                kind,
                folds: vec![f],
            }),
        }
    }
    out
}

/// `--split speaker`, or with `kinds` `--split voice`: one fold per speaker
/// (voice), each scored by a model trained on all the others.
fn speaker(
    args: &EvalArgs,
    data: &Dataset,
    levels: &[f64],
    kinds: Option<&BTreeMap<String, String>>,
) -> anyhow::Result<Report> {
    let (split, who, name) = match kinds {
        Some(_) => ("voice", "voices", "leave-one-voice-out"),
        None => ("speaker", "speakers", "leave-one-speaker-out"),
    };
    if args.model.is_some() {
        super::notice(&format!(
            "--split {split} trains a fresh model per fold; --model is not used"
        ));
    }
    if let Some(kinds) = kinds {
        for v in &args.held_out {
            if !kinds.contains_key(v) {
                let names: Vec<&str> = kinds.keys().map(String::as_str).collect();
                return Err(BadInput(format!(
                    "--held-out: no voice `{}` in the data (voices: {})",
                    digits::text::one_line(v),
                    names.join(", ")
                ))
                .into());
            }
        }
    }
    let opts = TrainOptions::default();
    let quiet = args.quiet;
    let report = eval::speaker_folds_with_noise(
        data,
        &opts,
        args.noise.kind(),
        levels,
        args.noise_seed,
        &args.held_out,
        &|s| {
            if !quiet {
                note!("fold: testing on {s}, training on the other {who}");
            }
        },
    )?;
    if !report.no_word.is_empty() {
        super::notice(&super::no_word_note(
            &report.no_word,
            "left out of the score",
        ));
    }
    let (folds, pooled, snr) = (&report.folds, &report.pooled, &report.snr);
    let mean = report.mean_accuracy();
    let worst = report
        .worst()
        .expect("speaker_folds makes one fold or more");
    let confusion_title = format!(
        "{name}, pooled: {:.1}% of {} correct",
        100.0 * pooled.accuracy,
        pooled.n
    );
    let snr_title = format!("{name}, pooled, {} noise added", args.noise.name());
    let speakers_title = format!("{name}: held-out accuracy, mean {:.1}%", 100.0 * mean);
    let draw_confusion = |d: &Path| plot::confusion(d, pooled, &confusion_title);
    let draw_speakers = |d: &Path| plot::speakers(d, folds, &speakers_title);
    let draw_snr =
        |d: &Path| plot::snr_curve(d, snr, pooled.accuracy, args.noise.name(), &snr_title);
    let mut charts: Vec<ChartFn> = vec![&draw_confusion, &draw_speakers];
    if !snr.is_empty() {
        charts.push(&draw_snr);
    }
    let plots = write_plots(args, &charts)?;
    let folds = folds.as_slice();
    let by_kind = kinds.map(|k| kind_summaries(folds, k));
    let kind_of = |f: &eval::Fold| kinds.and_then(|k| k.get(&f.speaker)).cloned();
    if args.json {
        let mut v = metrics_json(pooled);
        v["split"] = json!(split);
        v["folds"] = json!(folds
            .iter()
            .map(|f| {
                let mut o = json!({"speaker": f.speaker, "accuracy": f.accuracy, "n": f.n});
                if let Some(k) = kind_of(f) {
                    o["kind"] = json!(k);
                }
                o
            })
            .collect::<Vec<_>>());
        v["mean_accuracy"] = json!(mean);
        v["worst_accuracy"] = json!(worst.accuracy);
        if let Some(by_kind) = &by_kind {
            v["kinds"] = json!(by_kind
                .iter()
                .map(|k| json!({
                    "kind": k.kind,
                    "voices": k.folds.len(),
                    "clips": k.folds.iter().map(|f| f.n).sum::<usize>(),
                    "mean_accuracy": k.mean(),
                    "worst_accuracy": k.worst().accuracy,
                    "worst_voice": k.worst().speaker,
                }))
                .collect::<Vec<_>>());
        }
        v["errors"] = misses_json(&report.misses);
        add_no_word_json(&mut v, &report.no_word);
        add_snr_json(&mut v, args, snr);
        return Ok((format!("{v}\n"), plots));
    }
    let mut s = String::new();
    writeln!(s, "{name} ({} folds)", folds.len())?;
    for f in folds {
        let kind = kind_of(f).map(|k| format!("  {k}")).unwrap_or_default();
        writeln!(
            s,
            "  {:<10} {:>6.2}%  ({} clips){kind}",
            f.speaker,
            100.0 * f.accuracy,
            f.n
        )?;
    }
    if let Some(by_kind) = &by_kind {
        for k in by_kind {
            writeln!(
                s,
                "{}: {} {}, mean {:.2}%, worst {:.2}% ({})",
                k.kind,
                k.folds.len(),
                if k.folds.len() == 1 {
                    "voice"
                } else {
                    "voices"
                },
                100.0 * k.mean(),
                100.0 * k.worst().accuracy,
                k.worst().speaker
            )?;
        }
    }
    writeln!(
        s,
        "mean accuracy {:.2}%, worst {:.2}% ({})",
        100.0 * mean,
        100.0 * worst.accuracy,
        worst.speaker
    )?;
    writeln!(
        s,
        "pooled over all held-out clips{}:",
        left_out_text(&report.no_word, " (", ")")
    )?;
    s += &metrics_text(pooled);
    s += &misses_text(&report.misses, pooled.n);
    s += &snr_text(args, pooled.accuracy, snr);
    Ok((s, plots))
}

/// `[{"file", "truth", "digit", "confidence"}, ..]`: the clips it got
/// wrong, confidences rounded as `predict` rounds them.
fn misses_json(misses: &[Miss]) -> serde_json::Value {
    json!(misses
        .iter()
        .map(|m| json!({
            "file": m.file,
            "truth": m.truth,
            "digit": m.digit,
            "confidence": round(f64::from(m.confidence), 4),
        }))
        .collect::<Vec<_>>())
}

/// The clips it got wrong, one line each: which file, the digit said, the
/// digit heard and how sure the model was of it.
fn misses_text(misses: &[Miss], n: usize) -> String {
    if misses.is_empty() {
        return format!("wrong: none of {n}\n");
    }
    let mut s = format!(
        "wrong: {} of {n} (file: said -> heard, confidence)\n",
        misses.len()
    );
    for m in misses {
        let _ = writeln!(
            s,
            "  {}: {} -> {} ({:.2})",
            m.file, m.truth, m.digit, m.confidence
        );
    }
    s
}

/// `"no_word": [file, ..]`: the clips left out of the score because no word
/// rises in them, when there are any.
fn add_no_word_json(v: &mut serde_json::Value, no_word: &[String]) {
    if !no_word.is_empty() {
        v["no_word"] = json!(no_word);
    }
}

/// `"{before}N with no word left out{after}"` for the report, or nothing
/// when no clip was left out.
fn left_out_text(no_word: &[String], before: &str, after: &str) -> String {
    match no_word.len() {
        0 => String::new(),
        n => format!("{before}{n} with no word left out{after}"),
    }
}

/// `"noise"` and `"snr": [{"db": .., "accuracy": ..}, ..]`, when --snr was given.
fn add_snr_json(v: &mut serde_json::Value, args: &EvalArgs, snr: &[SnrPoint]) {
    if !snr.is_empty() {
        v["noise"] = json!(args.noise.name());
        v["noise_seed"] = json!(args.noise_seed);
        v["snr"] = json!(snr);
    }
}

/// The `SNR dB | accuracy` table, when --snr was given.
fn snr_text(args: &EvalArgs, clean: f64, snr: &[SnrPoint]) -> String {
    if snr.is_empty() {
        return String::new();
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "accuracy with {} noise added (noise seed {}; SNR relative to each clip's power)",
        args.noise.name(),
        args.noise_seed
    );
    let _ = writeln!(s, "SNR dB | accuracy");
    let _ = writeln!(s, "-------+---------");
    let _ = writeln!(s, "{:>6} | {:>7.2}%", "clean", 100.0 * clean);
    for p in snr {
        let _ = writeln!(
            s,
            "{:>6} | {:>7.2}%",
            eval::db_label(p.db),
            100.0 * p.accuracy
        );
    }
    s
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
