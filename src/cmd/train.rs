//! `digits train`: fit a model on FSDD clips and write it to a file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use digits::data::Dataset;
use digits::model::{train, FeatureWeights, ModelFile, TrainOptions};

use super::progress::TrainProgress;
use super::{data_paths, BadInput};

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// FSDD data: folders of `{digit}_{speaker}_{take}.wav` and/or .parquet files;
    /// a `KIND=` label (real=DIR), as eval takes it, is accepted and ignored
    /// [default: the files `digits fetch` downloaded]
    #[arg(long, num_args = 1.., value_name = "[KIND=]DIR|PARQUET")]
    pub data: Vec<PathBuf>,
    /// Which clips of --data to train on: the official training split (takes
    /// 5-49) or all
    #[arg(long, value_enum, default_value_t = TrainSplit::Official)]
    pub split: TrainSplit,
    /// More voices to train on, every clip whatever --split says: folders of
    /// `{digit}_{voice}_{take}.wav` (such as models/corpus/build.sh makes)
    #[arg(long, num_args = 1.., value_name = "[KIND=]DIR")]
    pub voices: Vec<PathBuf>,
    /// Where to write the model (an existing file is replaced only if it is
    /// a digits model)
    #[arg(long, short, default_value = "digits.model")]
    pub out: PathBuf,
    /// SVM soft-margin penalty C, a positive number [default: 2]
    #[arg(long, allow_negative_numbers = true)]
    pub c: Option<f64>,
    /// RBF kernel gamma, a positive number [default: 1 × scikit-learn's
    /// "scale", 1 / (dimensions × variance)]
    #[arg(long, allow_negative_numbers = true)]
    pub gamma: Option<f64>,
    /// Pooling: mean and std over this many equal time segments of the word,
    /// beside the whole-word statistics (0: the 144-value design)
    #[arg(long, allow_negative_numbers = true, default_value_t = TrainOptions::default().front_end.pooling.segments, value_name = "N")]
    pub segments: usize,
    /// Pooling: the word's time course, resampled to this many steps (0: off)
    #[arg(long, allow_negative_numbers = true, default_value_t = TrainOptions::default().front_end.pooling.course_steps, value_name = "N")]
    pub course_steps: usize,
    /// Pooling: how many values of each frame the time course keeps
    /// (the first N: cepstra, then deltas)
    #[arg(long, allow_negative_numbers = true, default_value_t = TrainOptions::default().front_end.pooling.course_dims, value_name = "N")]
    pub course_dims: usize,
    /// Project the standardised features onto their first K principal axes
    /// before the SVM (smaller, faster model)
    /// (0: no projection)
    #[arg(long, allow_negative_numbers = true, value_name = "K", default_value_t = TrainOptions::default().pca.unwrap_or(0))]
    pub pca: usize,
    /// Add N perturbed copies of every training clip: vocal-tract-length and
    /// speed perturbation, channel tilt, gain, room-tone padding, and white,
    /// pink or babble noise at 0-30 dB SNR (seeded)
    #[arg(long, allow_negative_numbers = true, default_value_t = TrainOptions::default().augment.copies, value_name = "N")]
    pub augment: usize,
    /// Add N more copies of every training clip in a higher voice (a shorter
    /// vocal tract and a higher pitch, as in women's and children's voices;
    /// FSDD's speakers are all men), perturbed like --augment's
    #[arg(long, allow_negative_numbers = true, default_value_t = TrainOptions::default().augment.higher_voices, value_name = "N")]
    pub higher_voices: usize,
    /// Every pooled value counts the same in the kernel (by default the higher
    /// cepstra, c7 up, and the whole-word minima and maxima count half)
    #[arg(long)]
    pub uniform_weights: bool,
    /// Seed for the validation split and the augmentation
    #[arg(long, allow_negative_numbers = true, default_value_t = TrainOptions::default().seed)]
    pub seed: u64,
    /// No progress bar
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TrainSplit {
    /// FSDD's training split (takes 5-49; the 300 test clips stay unseen)
    Official,
    /// Every clip given
    All,
}

pub fn run(args: TrainArgs) -> anyhow::Result<ExitCode> {
    for (flag, v) in [("--c", args.c), ("--gamma", args.gamma)] {
        if let Some(v) = v {
            if !(v.is_finite() && v > 0.0) {
                return Err(BadInput(format!("{flag} must be a positive number, got {v}")).into());
            }
        }
    }
    ModelFile::check_destination(&args.out)
        .with_context(|| "--out cannot be written (checked before training)")?;
    let paths = data_paths(&args.data)?;
    let progress = TrainProgress::new(args.quiet);
    let all = Dataset::load(&paths)?;
    let mut data = match args.split {
        TrainSplit::Official => all.official_training_side()?,
        TrainSplit::All => all,
    };
    let voices: Vec<PathBuf> = args
        .voices
        .iter()
        .map(|p| digits::data::Source::parse(p).path)
        .collect();
    if !voices.is_empty() {
        data.clips.extend(Dataset::load(&voices)?.clips);
    }
    let mut front_end = TrainOptions::default().front_end;
    front_end.pooling.segments = args.segments;
    front_end.pooling.course_steps = args.course_steps;
    front_end.pooling.course_dims = if args.course_steps > 0 {
        args.course_dims
    } else {
        0
    };
    front_end.check().map_err(|e| {
        BadInput(format!(
            "{e} (check --segments/--course-steps/--course-dims)"
        ))
    })?;
    let opts = TrainOptions {
        front_end,
        pca: (args.pca > 0).then_some(args.pca),
        weights: if args.uniform_weights {
            FeatureWeights::uniform()
        } else {
            FeatureWeights::recommended()
        },
        augment: digits::augment::AugmentConfig {
            copies: args.augment,
            higher_voices: args.higher_voices,
            ..Default::default()
        },
        c: args.c,
        gamma: args.gamma,
        seed: args.seed,
        data_label: paths
            .iter()
            .chain(&voices)
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        split_label: format!("{:?}", args.split).to_lowercase(),
        ..TrainOptions::default()
    };
    let speakers = match data.speakers().len() {
        0 => "speakers not named".to_string(),
        1 => "1 speaker".to_string(),
        n => format!("{n} speakers"),
    };
    progress.note(&format!("training on {} clips ({speakers})", data.len()));
    let report = train(&data, &opts, &|e| progress.event(e))?;
    progress.finish();
    if !report.no_word.is_empty() {
        super::notice(&super::no_word_note(&report.no_word, "left out"));
    }
    report
        .model
        .save(&args.out)
        .with_context(|| "saving the model (choose another path with --out)")?;
    for g in &report.grid {
        note!(
            "  C={:<6} gamma={:<8.5} validation accuracy {:.2}%  {} support vectors",
            g.params.c,
            g.params.gamma,
            100.0 * g.validation_accuracy,
            g.n_support
        );
    }
    say!(
        "trained in {:.2} s (features {:.2} s): C={} gamma={:.5}, {} support vectors, {} bytes -> {}",
        report.seconds,
        report.feature_seconds,
        report.chosen.c,
        report.chosen.gamma,
        report.model.svm.n_support(),
        report.model.file_size(),
        args.out.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
