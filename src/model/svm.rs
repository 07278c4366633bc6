//! The multi-class RBF SVM: one-vs-one training over linfa-svm's binary
//! machines, and the compact form every prediction runs through.
//!
//! linfa's `MultiClassModel` cannot be serialised, and its binary models each
//! keep their own copy of shared support vectors, so a 45-pair model stores
//! and evaluates the same rows up to nine times. [`SvmClassifier`] keeps every
//! distinct support vector once, computes the kernel row once per input, and
//! lets all pairwise decisions share it (as libsvm does).

use linfa::prelude::*;
use linfa_svm::Svm;
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// Number of classes: the digits 0–9.
pub const N_CLASSES: usize = 10;
/// One-vs-one machines: one per pair of digits.
pub const N_PAIRS: usize = N_CLASSES * (N_CLASSES - 1) / 2;

/// Hyperparameters of one SVM fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SvmParams {
    /// Soft-margin penalty.
    pub c: f64,
    /// RBF width: k(x, y) = exp(-gamma ‖x − y‖²).
    pub gamma: f64,
}

/// A checked [`SvmParams`].
impl SvmParams {
    pub fn check(&self) -> Result<(), String> {
        if !(self.c.is_finite() && self.c > 0.0) {
            return Err(format!("C must be a positive number, got {}", self.c));
        }
        if !(self.gamma.is_finite() && self.gamma > 0.0) {
            return Err(format!(
                "gamma must be a positive number, got {}",
                self.gamma
            ));
        }
        Ok(())
    }
}

/// One pairwise machine in the compact form: decision
/// `Σ coef[i] k(sv[i], x) − rho` over the support vectors of its two classes
/// (positive favours `pos`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairMachine {
    pub pos: u8,
    pub neg: u8,
    /// Coefficients for the support vectors of class `pos` then class `neg`
    /// (zero where a vector is not a support vector of this pair).
    pub coef: Vec<f32>,
    pub rho: f32,
}

/// The compact one-vs-one RBF SVM.
///
/// In memory the support vectors are `f32`; in the model file they are
/// stored as 8-bit integers with one scale per dimension and the pairwise
/// coefficients as 16-bit integers with one scale per pair (a quarter of the
/// size; on standardised features the rounding moves a squared distance by
/// well under 0.1 % of its typical size). [`SvmClassifier::quantized`] applies
/// the same rounding in memory, so a freshly trained model and its reloaded
/// file predict identically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "StoredSvm", try_from = "StoredSvm")]
pub struct SvmClassifier {
    pub params: SvmParams,
    pub dim: usize,
    /// Distinct support vectors, grouped by class, row-major `n_sv × dim`.
    pub support: Vec<f32>,
    /// `class_start[c]..class_start[c+1]` are class `c`'s support vectors.
    pub class_start: Vec<usize>,
    pub pairs: Vec<PairMachine>,
    /// ‖sv‖² per support vector, so a kernel row costs one dot product each.
    pub sq_norms: Vec<f32>,
}

/// Decision values of every pair, and the votes they cast.
#[derive(Debug, Clone, PartialEq)]
pub struct Decisions {
    /// One per pair machine, in [`SvmClassifier::pairs`] order.
    pub values: [f32; N_PAIRS],
    pub votes: [u32; N_CLASSES],
}

/// The file form of [`SvmClassifier`]: 8-bit support vectors, 16-bit
/// pairwise coefficients.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSvm {
    params: SvmParams,
    dim: usize,
    /// `support[i] ≈ q[i] · scale[i % dim]`.
    q: Vec<i8>,
    scale: Vec<f32>,
    class_start: Vec<usize>,
    pairs: Vec<StoredPair>,
}

/// A [`PairMachine`] with `coef[i] ≈ q[i] · scale`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredPair {
    pos: u8,
    neg: u8,
    q: Vec<i16>,
    scale: f32,
    rho: f32,
}

impl From<PairMachine> for StoredPair {
    fn from(p: PairMachine) -> Self {
        let max = p.coef.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = if max > 0.0 {
            max / i16::MAX as f32
        } else {
            1.0
        };
        let q = p.coef.iter().map(|v| (v / scale).round() as i16).collect();
        Self {
            pos: p.pos,
            neg: p.neg,
            q,
            scale,
            rho: p.rho,
        }
    }
}

impl From<StoredPair> for PairMachine {
    fn from(p: StoredPair) -> Self {
        Self {
            pos: p.pos,
            neg: p.neg,
            coef: p.q.iter().map(|&q| q as f32 * p.scale).collect(),
            rho: p.rho,
        }
    }
}

impl From<SvmClassifier> for StoredSvm {
    fn from(m: SvmClassifier) -> Self {
        let scale = quant_scales(&m.support, m.dim);
        let q = m
            .support
            .iter()
            .enumerate()
            .map(|(i, &v)| (v / scale[i % m.dim]).round().clamp(-127.0, 127.0) as i8)
            .collect();
        let pairs = m.pairs.into_iter().map(StoredPair::from).collect();
        Self {
            params: m.params,
            dim: m.dim,
            q,
            scale,
            class_start: m.class_start,
            pairs,
        }
    }
}

impl TryFrom<StoredSvm> for SvmClassifier {
    type Error = String;
    fn try_from(s: StoredSvm) -> Result<Self, String> {
        if s.dim == 0 || s.scale.len() != s.dim || !s.q.len().is_multiple_of(s.dim) {
            return Err(format!(
                "support vectors of {} values do not fit dimension {}",
                s.q.len(),
                s.dim
            ));
        }
        let support: Vec<f32> =
            s.q.iter()
                .enumerate()
                .map(|(i, &q)| q as f32 * s.scale[i % s.dim])
                .collect();
        let pairs = s.pairs.into_iter().map(PairMachine::from).collect();
        Ok(Self::assemble(
            s.params,
            s.dim,
            support,
            s.class_start,
            pairs,
        ))
    }
}

/// Per-dimension step so the largest magnitude maps to ±127.
fn quant_scales(support: &[f32], dim: usize) -> Vec<f32> {
    let mut max = vec![0.0f32; dim];
    for row in support.chunks_exact(dim) {
        for (m, v) in max.iter_mut().zip(row) {
            *m = m.max(v.abs());
        }
    }
    max.into_iter()
        .map(|m| if m > 0.0 { m / 127.0 } else { 1.0 })
        .collect()
}

impl SvmClassifier {
    fn assemble(
        params: SvmParams,
        dim: usize,
        support: Vec<f32>,
        class_start: Vec<usize>,
        pairs: Vec<PairMachine>,
    ) -> Self {
        let sq_norms = support
            .chunks_exact(dim)
            .map(|r| r.iter().map(|v| v * v).sum())
            .collect();
        Self {
            params,
            dim,
            support,
            class_start,
            pairs,
            sq_norms,
        }
    }

    /// This classifier with its support vectors rounded as the file stores them.
    pub fn quantized(self) -> Self {
        Self::try_from(StoredSvm::from(self)).expect("a classifier always round-trips")
    }

    pub fn n_support(&self) -> usize {
        self.sq_norms.len()
    }

    /// Kernel row for `x` into `row` (resized), then every pair's decision.
    pub fn decide(&self, x: &[f32], row: &mut Vec<f32>) -> Decisions {
        debug_assert_eq!(x.len(), self.dim);
        let n_sv = self.n_support();
        row.clear();
        row.resize(n_sv, 0.0);
        self.kernel_row(x, row);
        let mut values = [0.0f32; N_PAIRS];
        let mut votes = [0u32; N_CLASSES];
        for (p, value) in self.pairs.iter().zip(values.iter_mut()) {
            let (a, b) = (p.pos as usize, p.neg as usize);
            let ka = &row[self.class_start[a]..self.class_start[a + 1]];
            let kb = &row[self.class_start[b]..self.class_start[b + 1]];
            let (ca, cb) = p.coef.split_at(ka.len());
            let v = dot(ca, ka) + dot(cb, kb) - p.rho;
            votes[if v >= 0.0 { a } else { b }] += 1;
            *value = v;
        }
        Decisions { values, votes }
    }
}

impl SvmClassifier {
    /// `row[i] = exp(−γ ‖x − sv_i‖²)`: nearly all of a prediction's time.
    /// Compiled twice — for the baseline x86-64 (SSE2) and for AVX2 + FMA —
    /// and picked at run time, so one portable binary runs at the speed of
    /// the CPU it is on.
    fn kernel_row(&self, x: &[f32], row: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has the features `kernel_row_avx2` is compiled for.
            unsafe { self.kernel_row_avx2(x, row) };
            return;
        }
        self.kernel_row_portable(x, row);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn kernel_row_avx2(&self, x: &[f32], row: &mut [f32]) {
        self.kernel_row_portable(x, row);
    }

    #[inline(always)]
    fn kernel_row_portable(&self, x: &[f32], row: &mut [f32]) {
        let x_sq = dot(x, x);
        let gamma = self.params.gamma as f32;
        for ((sv, &sv_sq), k) in self
            .support
            .chunks_exact(self.dim)
            .zip(&self.sq_norms)
            .zip(row.iter_mut())
        {
            *k = -gamma * (sv_sq + x_sq - 2.0 * dot(sv, x)).max(0.0);
        }
        exp_in_place(row);
    }
}

/// `v = exp(v)` for `v ≤ 0`, to about 3e-6 relative error, in a loop the
/// compiler vectorises (the library `expf` is a call per value and was a
/// large share of a prediction): 2^t = 2^n · 2^f with n = round(t) and a
/// degree-6 Taylor polynomial for 2^f on [-½, ½].
#[inline(always)]
pub(crate) fn exp_in_place(v: &mut [f32]) {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // Adding 1.5·2^23 rounds to the nearest integer, which then sits in the
    // low mantissa bits (the sum's bits are `ROUND_BITS + n`).
    const ROUND: f32 = 12_582_912.0;
    const ROUND_BITS: i32 = 0x4B40_0000;
    const C: [f32; 6] = [
        std::f32::consts::LN_2,
        0.240_226_5,
        0.055_504_11,
        0.009_618_129,
        0.001_333_355_8,
        0.000_154_035_3,
    ];
    for x in v.iter_mut() {
        let t = (*x * LOG2_E).clamp(-126.0, 0.0);
        let shifted = t + ROUND;
        let n = shifted - ROUND;
        let f = t - n;
        let p = 1.0 + f * (C[0] + f * (C[1] + f * (C[2] + f * (C[3] + f * (C[4] + f * C[5])))));
        // n from the bits rather than `n as i32`, whose saturating
        // conversion kept this loop from vectorising.
        let n_int = shifted.to_bits() as i32 - ROUND_BITS;
        let scale = f32::from_bits(((n_int + 127) as u32) << 23);
        *x = p * scale;
    }
}

#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Sixteen independent accumulators let the compiler vectorise without
    // fast-math (two AVX or four SSE registers).
    let mut acc = [0.0f32; 16];
    let ca = a.chunks_exact(16);
    let cb = b.chunks_exact(16);
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..16 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Trains one-vs-one machines with linfa-svm on scaled features `x` with
/// labels `y` (0..10), then converts them into the compact form.
/// Also returns linfa's own machines, for tests that compare the two.
pub fn train_ovo(
    x: ArrayView2<f32>,
    y: &[u8],
    params: SvmParams,
) -> Result<(SvmClassifier, Vec<LinfaPair>), String> {
    params.check()?;
    let dim = x.ncols();
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); N_CLASSES];
    for (i, &c) in y.iter().enumerate() {
        by_class[c as usize].push(i);
    }
    if let Some(c) = by_class.iter().position(|v| v.is_empty()) {
        return Err(format!("no training clips of digit {c}"));
    }
    let pair_list: Vec<(usize, usize)> = (0..N_CLASSES)
        .flat_map(|a| (a + 1..N_CLASSES).map(move |b| (a, b)))
        .collect();
    // Pairs are independent: fit them on all cores.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(pair_list.len());
    let fitted: Vec<(usize, LinfaPair)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (by_class, pair_list, x) = (&by_class, &pair_list, &x);
                s.spawn(move || {
                    pair_list
                        .iter()
                        .enumerate()
                        .skip(t)
                        .step_by(threads)
                        .map(|(k, &(a, b))| {
                            (k, fit_pair(*x, &by_class[a], &by_class[b], a, b, params))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("SVM fit thread panicked"))
            .collect()
    });
    let mut machines: Vec<Option<LinfaPair>> = (0..pair_list.len()).map(|_| None).collect();
    for (k, m) in fitted {
        machines[k] = Some(m);
    }
    let machines: Vec<LinfaPair> = machines
        .into_iter()
        .map(|m| m.expect("every pair fitted"))
        .collect();
    Ok((compact(x, y, &by_class, &machines, params, dim), machines))
}

/// One binary machine as linfa trained it, with the training rows it used.
pub struct LinfaPair {
    pub pos: usize,
    pub neg: usize,
    /// Row indices into the training matrix, positive class first.
    pub rows: Vec<usize>,
    pub svm: Svm<f64, bool>,
}

fn fit_pair(
    x: ArrayView2<f32>,
    pos: &[usize],
    neg: &[usize],
    a: usize,
    b: usize,
    params: SvmParams,
) -> LinfaPair {
    let rows: Vec<usize> = pos.iter().chain(neg).copied().collect();
    let records: Array2<f64> = x.select(ndarray::Axis(0), &rows).mapv(|v| v as f64);
    let targets: Array1<bool> = rows
        .iter()
        .enumerate()
        .map(|(i, _)| i < pos.len())
        .collect();
    let dataset = DatasetBase::new(records, targets);
    let svm = Svm::<f64, bool>::params()
        .gaussian_kernel(1.0 / params.gamma)
        .pos_neg_weights(params.c, params.c)
        // libsvm's tolerance; linfa's default 1e-7 costs many times the
        // iterations for no change in predictions.
        .eps(1e-3)
        .fit(&dataset)
        .expect("parameters were checked");
    LinfaPair {
        pos: a,
        neg: b,
        rows,
        svm,
    }
}

/// Merges the pair machines' support vectors into one shared, class-grouped set.
fn compact(
    x: ArrayView2<f32>,
    y: &[u8],
    by_class: &[Vec<usize>],
    machines: &[LinfaPair],
    params: SvmParams,
    dim: usize,
) -> SvmClassifier {
    let threshold = 100.0 * f64::EPSILON;
    let mut is_sv = vec![false; y.len()];
    for m in machines {
        for (&r, &a) in m.rows.iter().zip(&m.svm.alpha) {
            if a.abs() > threshold {
                is_sv[r] = true;
            }
        }
    }
    // Position of each training row in the compact support set.
    let mut slot = vec![usize::MAX; y.len()];
    let mut support = Vec::new();
    let mut class_start = vec![0usize];
    let mut n = 0;
    for rows in by_class {
        for &r in rows {
            if is_sv[r] {
                slot[r] = n;
                n += 1;
                support.extend(x.row(r).iter().copied());
            }
        }
        class_start.push(n);
    }
    let pairs = machines
        .iter()
        .map(|m| {
            let (sa, sb) = (class_start[m.pos], class_start[m.neg]);
            let len_a = class_start[m.pos + 1] - sa;
            let len_b = class_start[m.neg + 1] - sb;
            let mut coef = vec![0.0f32; len_a + len_b];
            for (&r, &a) in m.rows.iter().zip(&m.svm.alpha) {
                if a.abs() > threshold {
                    let s = slot[r];
                    let ix = if s >= sa && s < sa + len_a {
                        s - sa
                    } else {
                        len_a + (s - sb)
                    };
                    coef[ix] = a as f32;
                }
            }
            PairMachine {
                pos: m.pos as u8,
                neg: m.neg as u8,
                coef,
                rho: m.svm.rho as f32,
            }
        })
        .collect();
    SvmClassifier::assemble(params, dim, support, class_start, pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    const SEED: u64 = 7;

    #[test]
    fn compact_form_predicts_exactly_what_linfa_predicts() {
        // Ten overlapping Gaussian clusters, so many vectors are shared by pairs.
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(SEED);
        let (n, dim) = (400, 12);
        let centres: Vec<Vec<f32>> = (0..10)
            .map(|_| (0..dim).map(|_| rng.gen_range(-1.0..1.0)).collect())
            .collect();
        let y: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        let x = Array2::from_shape_fn((n, dim), |(i, j)| {
            centres[y[i] as usize][j] + rng.gen_range(-1.5..1.5)
        });
        let params = SvmParams {
            c: 10.0,
            gamma: 1.0 / dim as f64,
        };
        let (model, linfa) = train_ovo(x.view(), &y, params).unwrap();
        let total_rows: usize = linfa.iter().map(|m| m.svm.nsupport()).sum();
        assert!(
            model.n_support() < total_rows,
            "shared vectors are stored once"
        );
        let mut row = Vec::new();
        let mut disagreements = 0;
        for i in 0..60 {
            let probe: Vec<f32> = (0..dim)
                .map(|j| centres[i % 10][j] + rng.gen_range(-2.0..2.0))
                .collect();
            let d = model.decide(&probe, &mut row);
            let p64 = ndarray::Array1::from_iter(probe.iter().map(|&v| v as f64));
            for (k, m) in linfa.iter().enumerate() {
                let theirs = m.svm.weighted_sum(&p64) - m.svm.rho;
                assert!(
                    (theirs as f32 - d.values[k]).abs() < 1e-3,
                    "pair {k}: {theirs} vs {}",
                    d.values[k]
                );
                if (theirs >= 0.0) != (d.values[k] >= 0.0) {
                    disagreements += 1;
                }
            }
        }
        assert_eq!(disagreements, 0);
    }

    #[test]
    fn quantized_file_form_keeps_decisions() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(SEED);
        let (n, dim) = (300, 16);
        let y: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        let x = Array2::from_shape_fn((n, dim), |(i, j)| {
            (y[i] as f32 * 0.3 * ((j % 3) as f32 - 1.0)) + rng.gen_range(-1.0..1.0)
        });
        let (model, _) = train_ovo(
            x.view(),
            &y,
            SvmParams {
                c: 10.0,
                gamma: 0.5 / dim as f64,
            },
        )
        .unwrap();
        let q = model.clone().quantized();
        let bytes = bincode::serde::encode_to_vec(&model, bincode::config::standard()).unwrap();
        let (back, _): (SvmClassifier, usize) =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
        assert_eq!(back, q, "the file holds exactly the quantized form");
        // Decision values are of order 1 (the margin); rounding moves them a
        // few hundredths and changes next to no predicted digit.
        let (mut r1, mut r2) = (Vec::new(), Vec::new());
        let mut flipped = 0;
        for i in 0..n {
            let a = model.decide(x.row(i).as_slice().unwrap(), &mut r1);
            let b = q.decide(x.row(i).as_slice().unwrap(), &mut r2);
            let worst = a
                .values
                .iter()
                .zip(&b.values)
                .map(|(u, v)| (u - v).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 0.2, "row {i}: decisions moved by {worst}");
            let winner =
                |v: &[u32; N_CLASSES]| (0..N_CLASSES).max_by_key(|&c| (v[c], std::cmp::Reverse(c)));
            flipped += usize::from(winner(&a.votes) != winner(&b.votes));
        }
        assert!(flipped <= n / 100, "{flipped} of {n} predictions changed");
    }

    #[test]
    fn fast_exp_keeps_its_values_when_n_comes_from_the_bits() {
        // The loop as it was before it vectorised: n converted with `as i32`.
        let old = |x: f32| {
            const C: [f32; 6] = [
                std::f32::consts::LN_2,
                0.240_226_5,
                0.055_504_11,
                0.009_618_129,
                0.001_333_355_8,
                0.000_154_035_3,
            ];
            let t = (x * std::f32::consts::LOG2_E).clamp(-126.0, 0.0);
            let n = (t + 12_582_912.0) - 12_582_912.0;
            let f = t - n;
            let p = 1.0 + f * (C[0] + f * (C[1] + f * (C[2] + f * (C[3] + f * (C[4] + f * C[5])))));
            p * f32::from_bits(((n as i32 + 127) as u32) << 23)
        };
        let xs: Vec<f32> = (0..200_000).map(|i| -(i as f32) * 0.000_5).collect();
        let mut fast = xs.clone();
        exp_in_place(&mut fast);
        for (x, f) in xs.iter().zip(&fast) {
            assert_eq!(f.to_bits(), old(*x).to_bits(), "exp({x})");
        }
    }

    #[test]
    fn fast_exp_agrees_with_the_library() {
        let xs: Vec<f32> = (0..20_000).map(|i| -(i as f32) * 0.005).collect();
        let mut fast = xs.clone();
        exp_in_place(&mut fast);
        for (x, f) in xs.iter().zip(&fast) {
            let want = x.exp();
            assert!(
                (f - want).abs() <= 4e-6 * want + 1e-37,
                "exp({x}) = {want}, fast {f}"
            );
        }
    }

    #[test]
    fn bad_hyperparameters_are_named() {
        assert_eq!(
            SvmParams { c: 0.0, gamma: 1.0 }.check().unwrap_err(),
            "C must be a positive number, got 0"
        );
        assert!(SvmParams {
            c: 1.0,
            gamma: f64::NAN
        }
        .check()
        .is_err());
    }
}
