//! Front-end tests: agreement with librosa 0.11 (fixtures made by
//! `tests/fixtures/make_reference.py`) and the end-to-end invariances the
//! front end promises.

use super::*;
use crate::audio::read_wav;
use crate::data::shared_fsdd_dir;

fn fixture(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn matrix(v: &serde_json::Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

/// Largest |a - b| and where it is, so a failure says which value drifted.
fn max_abs_diff(
    ours: &[f32],
    dim: usize,
    offset: usize,
    theirs: &[Vec<f64>],
) -> (f64, usize, usize) {
    let mut worst = (0.0, 0, 0);
    for (t, row) in theirs.iter().enumerate() {
        for (k, &r) in row.iter().enumerate() {
            let d = (ours[t * dim + offset + k] as f64 - r).abs();
            if d > worst.0 {
                worst = (d, t, k);
            }
        }
    }
    worst
}

#[test]
fn mel_filterbank_matches_librosa() {
    let ours = mfcc::mel_filterbank(&MfccConfig::default());
    let theirs = matrix(&fixture("mel_filterbank.json")["weights"]);
    assert_eq!((ours.len(), ours[0].len()), (theirs.len(), theirs[0].len()));
    for (m, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        for (k, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() < 1e-7, "band {m} bin {k}: {x} vs librosa {y}");
        }
    }
}

#[test]
fn mfcc_and_deltas_match_librosa() {
    let cfg = MfccConfig {
        drop_c0: false,
        ..MfccConfig::default()
    };
    let mut extractor = Mfcc::new(&cfg).unwrap();
    let mut out = Vec::new();
    for clip in ["0_george_0", "3_nicolas_4", "6_theo_2", "9_yweweler_1"] {
        let reference = fixture(&format!("{clip}.mfcc.json"));
        let audio = read_wav(&shared_fsdd_dir().join(format!("{clip}.wav"))).unwrap();
        let n = extractor.compute(&audio.samples, &mut out);
        let mfcc = matrix(&reference["mfcc"]);
        assert_eq!(n, mfcc.len(), "{clip}: frame count");
        let dim = cfg.frame_dim();
        for (offset, key, tol) in [(0, "mfcc", 1e-3), (13, "delta", 1e-3), (26, "delta2", 1e-3)] {
            let (err, t, k) = max_abs_diff(&out, dim, offset, &matrix(&reference[key]));
            // Shown with --nocapture; prompts/ quotes these figures.
            eprintln!("{clip} {key}: max |diff| {err:.2e}");
            assert!(
                err < tol,
                "{clip} {key}: max |diff| {err:.2e} at frame {t}, coefficient {k}"
            );
        }
    }
}

fn clip(name: &str) -> crate::audio::Audio {
    read_wav(&shared_fsdd_dir().join(name)).unwrap()
}

fn front_end() -> FrontEnd {
    let cfg = FrontEndConfig::default();
    FrontEnd::new(&cfg, Standardizer::identity(cfg.mfcc.frame_dim())).unwrap()
}

#[test]
fn default_front_end_makes_144_values() {
    let mut fe = front_end();
    let mut v = Vec::new();
    let a = clip("5_jackson_3.wav");
    fe.features(&a.samples, a.sample_rate, &mut v).unwrap();
    assert_eq!(v.len(), 144);
    assert!(v.iter().all(|x| x.is_finite()));
}

/// The largest element-wise difference of two feature vectors.
fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max)
}

#[test]
fn gain_does_not_change_features() {
    let mut fe = front_end();
    let a = clip("8_lucas_2.wav");
    let quiet: Vec<f32> = a.samples.iter().map(|x| x * 0.1).collect();
    let (mut v1, mut v2) = (Vec::new(), Vec::new());
    fe.features(&a.samples, 8000, &mut v1).unwrap();
    fe.features(&quiet, 8000, &mut v2).unwrap();
    let err = largest_difference(&v1, &v2);
    assert!(err < 1e-2, "max difference {err}");
}

/// A DC offset of a tenth of full scale (a cheap sound card) cost the
/// model before version 5 a third of the test clips; it must not reach the
/// features, at 8 kHz or through the resampler.
#[test]
fn dc_offset_does_not_change_features() {
    let mut fe = FrontEnd::new(
        &FrontEndConfig::recommended(),
        Standardizer::identity(FrontEndConfig::recommended().mfcc.frame_dim()),
    )
    .unwrap();
    let a = clip("8_lucas_2.wav");
    let shifted: Vec<f32> = a.samples.iter().map(|x| x + 0.1).collect();
    let (mut v1, mut v2) = (Vec::new(), Vec::new());
    fe.features(&a.samples, 8000, &mut v1).unwrap();
    fe.features(&shifted, 8000, &mut v2).unwrap();
    let err = largest_difference(&v1, &v2);
    assert!(err < 1e-2, "max difference {err} at 8 kHz");
    let up = crate::augment::speed(&a.samples, 0.5);
    let up_shifted: Vec<f32> = up.iter().map(|x| x + 0.1).collect();
    fe.features(&up, 16_000, &mut v1).unwrap();
    fe.features(&up_shifted, 16_000, &mut v2).unwrap();
    let err = largest_difference(&v1, &v2);
    assert!(err < 1e-2, "max difference {err} at 16 kHz");
}

#[test]
fn relative_c0_keeps_the_loudness_contour_but_not_the_level() {
    let a = clip("6_george_1.wav");
    let quiet: Vec<f32> = a.samples.iter().map(|x| x * 0.1).collect();
    let diff = |c0_relative: bool| {
        let mut cfg = FrontEndConfig::recommended();
        cfg.mfcc.drop_c0 = false;
        cfg.mfcc.c0_relative = c0_relative;
        let mut fe = FrontEnd::new(&cfg, Standardizer::identity(cfg.mfcc.frame_dim())).unwrap();
        let (mut v1, mut v2) = (Vec::new(), Vec::new());
        fe.features(&a.samples, 8000, &mut v1).unwrap();
        fe.features(&quiet, 8000, &mut v2).unwrap();
        // Whole-word mean of c0 is value 0; its std is value `frame_dim`.
        let std_c0 = v1[cfg.mfcc.frame_dim()];
        let err = largest_difference(&v1, &v2);
        (err, std_c0)
    };
    let (absolute, _) = diff(false);
    let (relative, std_c0) = diff(true);
    // 20 dB quieter lowers every log-mel value by 20 dB: absolute c0 shifts by √40 × 20.
    assert!(absolute > 10.0, "absolute c0 moved only {absolute}");
    assert!(relative < 1e-2, "relative c0 moved {relative}");
    assert!(std_c0 > 5.0, "c0 contour std {std_c0}: loudness shape lost");
}

#[test]
fn empty_input_is_an_error() {
    let mut fe = front_end();
    let err = fe.features(&[], 8000, &mut Vec::new()).unwrap_err();
    assert_eq!(err.to_string(), "no audio to classify (0 samples)");
}

#[test]
fn recommended_front_end_makes_510_values_from_a_real_clip() {
    // 39 per frame (relative c0, c1-c12, Δ, ΔΔ): 156 whole-word, 234 over
    // three segments, 12 values at 10 steps — what pooling actually writes,
    // every value finite.
    let cfg = FrontEndConfig::recommended();
    let mut fe = FrontEnd::new(&cfg, Standardizer::identity(cfg.mfcc.frame_dim())).unwrap();
    let audio = read_wav(&shared_fsdd_dir().join("6_theo_2.wav")).unwrap();
    let mut v = Vec::new();
    fe.features(&audio.samples, audio.sample_rate, &mut v)
        .unwrap();
    assert_eq!(v.len(), 156 + 234 + 120);
    assert_eq!(v.len(), cfg.feature_dim());
    assert!(v.iter().all(|x| x.is_finite()));
}

#[test]
fn pooling_dims_add_up() {
    let p = PoolingConfig {
        whole_word: true,
        segments: 3,
        course_steps: 10,
        course_dims: 12,
    };
    assert_eq!(p.dim(36), 144 + 216 + 120);
    let frames: Vec<f32> = (0..5 * 36).map(|i| i as f32).collect();
    let mut out = Vec::new();
    pool(&p, &frames, 5, 36, &mut out);
    assert_eq!(out.len(), p.dim(36));
    // Whole-word mean of value 0 over frames 0..5 is (0+36+72+108+144)/5.
    assert_eq!(out[0], 72.0);
    // The course starts at frame 0 and ends at the last frame.
    assert_eq!(out[144 + 216], 0.0);
    assert_eq!(out[out.len() - 12], 144.0);
}

#[test]
fn standardizer_statistics_span_every_block_and_leave_zero_mean_unit_variance() {
    // Two blocks of 2-wide rows; the second column never varies.
    let blocks: [&[f32]; 2] = [&[1.0, 5.0, 3.0, 5.0], &[5.0, 5.0]];
    let s = Standardizer::fit(2, blocks);
    assert_eq!(s.mean, vec![3.0, 5.0]);
    // Population std of 1, 3, 5 is sqrt(8/3); a constant keeps scale 1.
    assert!((s.inv_std[0] - (3.0f32 / 8.0).sqrt()).abs() < 1e-6);
    assert_eq!(s.inv_std[1], 1.0);
    let mut rows = vec![1.0, 5.0, 3.0, 5.0, 5.0, 5.0];
    s.apply(&mut rows);
    let col: Vec<f32> = rows.iter().step_by(2).copied().collect();
    assert!((col.iter().sum::<f32>()).abs() < 1e-6);
    assert!((col.iter().map(|v| v * v).sum::<f32>() / 3.0 - 1.0).abs() < 1e-5);
    assert_eq!(rows.iter().skip(1).step_by(2).sum::<f32>(), 0.0);
}

/// A crafted model's pooling sizes are refused before their product is
/// taken (it overflowed, a panic where overflow is checked: debug builds,
/// the fuzz targets).
#[test]
fn huge_pooling_sizes_are_refused_before_multiplying() {
    let p = PoolingConfig {
        whole_word: true,
        segments: usize::MAX / 2,
        course_steps: usize::MAX / 2,
        course_dims: usize::MAX / 2,
    };
    assert!(p.check(36).is_err());
}
