//! Per-utterance cost of the shipped pipeline, on one core, batch of one:
//! the front end (samples → pooled vector), the classifier (vector →
//! prediction), and end to end from WAV bytes. Inputs are built outside the
//! timed closures; the clips are FSDD test clips (takes 0–4).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use digits::audio::decode_wav;
use digits::data::{shared_fsdd_dir, Clip};
use digits::model::{adapt, AdaptOptions, ModelFile, Recognizer};

/// Short, median and long test clips.
const CLIPS: [&str; 3] = ["1_jackson_0.wav", "5_theo_3.wav", "7_nicolas_2.wav"];

fn bench(c: &mut Criterion) {
    // DIGITS_BENCH_MODEL=FILE times another model on the same clips, so two
    // models compare on one machine in one hour.
    let model = match std::env::var_os("DIGITS_BENCH_MODEL") {
        Some(path) => {
            ModelFile::load(std::path::Path::new(&path)).expect("DIGITS_BENCH_MODEL loads")
        }
        None => ModelFile::embedded().expect("embedded model loads"),
    };
    let mut recognizer = Recognizer::new(model.clone()).expect("the model is valid");
    let mut group = c.benchmark_group("per_utterance");
    for name in CLIPS {
        let bytes =
            std::fs::read(shared_fsdd_dir().join(name)).expect("FSDD beside the repository");
        let audio = decode_wav(&bytes).expect("valid WAV");
        let id = format!("{name}-{}ms", audio.samples.len() / 8);
        group.bench_with_input(BenchmarkId::new("front_end", &id), &audio, |b, a| {
            b.iter(|| {
                black_box(
                    recognizer
                        .features(black_box(&a.samples), a.sample_rate)
                        .unwrap()
                        .len(),
                )
            })
        });
        let features = recognizer
            .features(&audio.samples, audio.sample_rate)
            .unwrap()
            .to_vec();
        group.bench_with_input(BenchmarkId::new("predict", &id), &features, |b, f| {
            let (mut v, mut proj, mut row) = (Vec::new(), Vec::new(), Vec::new());
            b.iter(|| {
                v.clear();
                v.extend_from_slice(f);
                black_box(digits::model::classify(&model, &mut v, &mut proj, &mut row).digit)
            })
        });
        group.bench_with_input(
            BenchmarkId::new("end_to_end_wav_bytes", &id),
            &bytes,
            |b, bytes| {
                b.iter(|| {
                    let a = decode_wav(black_box(bytes)).unwrap();
                    black_box(
                        recognizer
                            .recognize(&a.samples, a.sample_rate)
                            .unwrap()
                            .digit,
                    )
                })
            },
        );
    }
    group.finish();
    personal(c, &model);
    c.bench_function("model_load_embedded", |b| {
        b.iter(|| black_box(ModelFile::embedded().unwrap().svm.n_support()))
    });
}

/// A personal model's extra cost: end to end from WAV bytes on george's
/// clips, by the embedded model and by that model adapted with three of
/// his takes per digit (30 templates, takes 5-7).
fn personal(c: &mut Criterion, base: &ModelFile) {
    let read = |name: &str| std::fs::read(shared_fsdd_dir().join(name)).expect("FSDD clip");
    let takes: Vec<Clip> = (0..10u8)
        .flat_map(|digit| (5..8u32).map(move |take| (digit, take)))
        .map(|(digit, take)| {
            let a = decode_wav(&read(&format!("{digit}_george_{take}.wav"))).unwrap();
            Clip {
                samples: a.samples,
                sample_rate: a.sample_rate,
                digit,
                speaker: Some("george".into()),
                take: Some(take),
                origin: format!("{digit}_george_{take}.wav"),
                source_split: None,
            }
        })
        .collect();
    let adapted = adapt(base, &takes, &AdaptOptions::default()).unwrap().model;
    let mut group = c.benchmark_group("personal_end_to_end_wav_bytes");
    for (label, model) in [("base", base.clone()), ("personal_30_takes", adapted)] {
        let mut recognizer = Recognizer::new(model).unwrap();
        for name in ["3_george_12.wav", "6_george_30.wav", "9_george_45.wav"] {
            let bytes = read(name);
            group.bench_with_input(BenchmarkId::new(label, name), &bytes, |b, bytes| {
                b.iter(|| {
                    let a = decode_wav(black_box(bytes)).unwrap();
                    black_box(
                        recognizer
                            .recognize(&a.samples, a.sample_rate)
                            .unwrap()
                            .digit,
                    )
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
