//! Per-utterance cost of the shipped pipeline, on one core, batch of one:
//! the front end (samples → pooled vector), the classifier (vector →
//! prediction), and end to end from WAV bytes. Inputs are built outside the
//! timed closures; the clips are FSDD test clips (takes 0–4).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use digits::audio::decode_wav;
use digits::data::shared_fsdd_dir;
use digits::model::{ModelFile, Recognizer};

/// Short, median and long test clips.
const CLIPS: [&str; 3] = ["1_jackson_0.wav", "5_theo_3.wav", "7_nicolas_2.wav"];

fn bench(c: &mut Criterion) {
    let model = ModelFile::embedded().expect("embedded model loads");
    let mut recognizer = Recognizer::new(model.clone()).expect("embedded model is valid");
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
    c.bench_function("model_load_embedded", |b| {
        b.iter(|| black_box(ModelFile::embedded().unwrap().svm.n_support()))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
