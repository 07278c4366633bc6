//! What `digits predict` costs per file over FSDD's 300 test clips (takes
//! 0–4), one process for all of them:
//! - `predict_files/answer`: the library path per file, one thread: the
//!   checks, the digit, the word rise and the multi-word count of a clip
//!   already decoded ([`Predictor::answer`]);
//! - `predict_files/read_and_answer`: the same with each file read and
//!   decoded from disk ([`read_wav`]), as `predict` does;
//! - `predict_files/binary_per_extra_file`: the `digits` binary, what one
//!   more file adds to a run: (time for 300 files − time for 1) / 299,
//!   output to a pipe, every core it finds.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use digits::audio::read_wav;
use digits::data::shared_fsdd_dir;
use digits::model::ModelFile;
use digits::predict::Predictor;

/// The 300 official test clips, in name order.
fn test_clips() -> Vec<PathBuf> {
    let mut clips: Vec<PathBuf> = std::fs::read_dir(shared_fsdd_dir())
        .expect("FSDD beside the repository")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            let take = name
                .strip_suffix(".wav")
                .and_then(|s| s.rsplit('_').next())
                .and_then(|t| t.parse::<u32>().ok());
            take.is_some_and(|t| t <= 4)
        })
        .collect();
    clips.sort();
    assert_eq!(clips.len(), 300, "FSDD's 300 test clips");
    clips
}

/// Runs `digits predict FILES` to a pipe and returns how long it took.
fn run_binary(files: &[PathBuf]) -> Duration {
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_digits"))
        .arg("predict")
        .args(files)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .expect("digits runs")
        .status;
    let took = started.elapsed();
    assert!(status.success());
    took
}

fn bench(c: &mut Criterion) {
    let clips = test_clips();
    let audio: Vec<_> = clips
        .iter()
        .map(|p| read_wav(p).expect("a test clip"))
        .collect();
    let mut predictor =
        Predictor::new(ModelFile::embedded().expect("embedded model")).expect("valid model");
    let mut group = c.benchmark_group("predict_files");
    group.throughput(Throughput::Elements(clips.len() as u64));
    group.bench_function("answer", |b| {
        b.iter(|| {
            for a in &audio {
                black_box(predictor.answer(black_box(a)).expect("a digit").words);
            }
        })
    });
    group.bench_function("read_and_answer", |b| {
        b.iter(|| {
            for p in &clips {
                let a = read_wav(black_box(p)).expect("a test clip");
                black_box(predictor.answer(&a).expect("a digit").words);
            }
        })
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("binary_per_extra_file", |b| {
        b.iter_custom(|iters| {
            let mut extra = Duration::ZERO;
            for _ in 0..iters {
                let all = run_binary(&clips);
                let one = run_binary(&clips[..1]);
                extra += all.saturating_sub(one) / (clips.len() as u32 - 1);
            }
            extra
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
