//! The compact one-vs-one classifier: every distinct support vector once,
//! one kernel row per input shared by the 45 pairwise decisions, and the
//! votes those decisions cast.

use serde::{Deserialize, Serialize};

use super::kernels::{dot, dot_rows, dots4_portable, exp_in_place, int_dots_portable};
#[cfg(target_arch = "x86_64")]
use super::kernels::{dots4_avx2, int_dots_avx2};
use super::quantized::{quantize_query, Codes, StoredSvm, MAX_INT_DIM};
use super::{SvmParams, N_CLASSES, N_PAIRS};

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
/// In the model file the support vectors are stored as 8-bit integers with
/// one scale per dimension and the pairwise coefficients as 16-bit integers
/// with one scale per pair (a quarter of the size; on standardised features
/// the rounding moves a squared distance by well under 0.1 % of its typical
/// size). [`SvmClassifier::quantized`] applies the same rounding in memory, so
/// a freshly trained model and its reloaded file predict identically.
///
/// A freshly trained model computes its kernel rows in `f32` from `support`
/// (training relies on those exact values). A quantized or loaded one also
/// keeps the 8-bit codes and computes kernel rows with integer dot products
/// (see [`Codes`]): four times less memory to stream and exact arithmetic.
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
    /// The file's 8-bit form of `support`, when the model has one.
    pub(super) codes: Option<Codes>,
}

/// Decision values of every pair, and the votes they cast.
#[derive(Debug, Clone, PartialEq)]
pub struct Decisions {
    /// One per pair machine, in [`SvmClassifier::pairs`] order.
    pub values: [f32; N_PAIRS],
    pub votes: [u32; N_CLASSES],
}

impl SvmClassifier {
    pub(super) fn assemble(
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
            codes: None,
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
        // Every value is overwritten, so a buffer of the right length is
        // reused as it is.
        if row.len() != self.n_support() {
            row.clear();
            row.resize(self.n_support(), 0.0);
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, the only feature `decide_avx2` needs.
            return unsafe { self.decide_avx2(x, row) };
        }
        self.decide_with(x, row, int_dots_portable, dots4_portable)
    }

    /// [`Self::decide`] compiled for AVX2 and picked at run time, so one
    /// portable binary runs at the speed of the CPU it is on. FMA is left
    /// out on purpose: both paths do the same float operations in the same
    /// order and so give identical results.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn decide_avx2(&self, x: &[f32], row: &mut [f32]) -> Decisions {
        self.decide_with(
            x,
            row,
            |q, stride, xq, out| int_dots_avx2(q, stride, xq, out),
            |x, rows| dots4_avx2(x, rows),
        )
    }

    #[inline(always)]
    fn decide_with(
        &self,
        x: &[f32],
        row: &mut [f32],
        int_dots: impl Fn(&[i8], usize, &[i16], &mut [f32]),
        dots4: impl Fn(&[f32], [&[f32]; 4]) -> [f32; 4],
    ) -> Decisions {
        self.kernel_row(x, row, int_dots, &dots4);
        let cs = &self.class_start;
        let pairs = &self.pairs[..self.pairs.len().min(N_PAIRS)];
        // Each pair's decision is a dot product over its positive class's
        // kernel values plus one over its negative class's. Grouping these
        // halves by class lets four that share a slice of `row` run together.
        // `order` lists halves (2·pair + side) class by class.
        let mut start = [0usize; N_CLASSES + 1];
        for p in pairs {
            start[p.pos as usize + 1] += 1;
            start[p.neg as usize + 1] += 1;
        }
        for c in 0..N_CLASSES {
            start[c + 1] += start[c];
        }
        let mut order = [0usize; 2 * N_PAIRS];
        let mut next = start;
        for (i, p) in pairs.iter().enumerate() {
            for (side, class) in [p.pos, p.neg].into_iter().enumerate() {
                order[next[class as usize]] = 2 * i + side;
                next[class as usize] += 1;
            }
        }
        let coef = |half: usize| {
            let p = &pairs[half / 2];
            let (a, b) = p.coef.split_at(cs[p.pos as usize + 1] - cs[p.pos as usize]);
            if half.is_multiple_of(2) {
                a
            } else {
                b
            }
        };
        let mut halves = [0.0f32; 2 * N_PAIRS];
        for c in 0..N_CLASSES {
            let k = &row[cs[c]..cs[c + 1]];
            let mut group = order[start[c]..start[c + 1]].chunks_exact(4);
            for g in group.by_ref() {
                let d = dots4(k, [coef(g[0]), coef(g[1]), coef(g[2]), coef(g[3])]);
                for (&h, v) in g.iter().zip(d) {
                    halves[h] = v;
                }
            }
            for &h in group.remainder() {
                halves[h] = dot(coef(h), k);
            }
        }
        let mut values = [0.0f32; N_PAIRS];
        let mut votes = [0u32; N_CLASSES];
        for ((p, value), h) in pairs.iter().zip(&mut values).zip(halves.chunks_exact(2)) {
            let v = h[0] + h[1] - p.rho;
            votes[if v >= 0.0 { p.pos } else { p.neg } as usize] += 1;
            *value = v;
        }
        Decisions { values, votes }
    }

    /// `row[i] = exp(−γ ‖x − sv_i‖²)`: nearly all of a prediction's time.
    #[inline(always)]
    fn kernel_row(
        &self,
        x: &[f32],
        row: &mut [f32],
        int_dots: impl Fn(&[i8], usize, &[i16], &mut [f32]),
        dots4: impl Fn(&[f32], [&[f32]; 4]) -> [f32; 4],
    ) {
        let x_sq = dot(x, x);
        let gamma = self.params.gamma as f32;
        match &self.codes {
            Some(c) => {
                let mut xq = [0i16; MAX_INT_DIM];
                let xq = &mut xq[..c.stride];
                let step = quantize_query(x, &c.scale, xq);
                int_dots(&c.q, c.stride, xq, row);
                let two_step = 2.0 * step;
                for (k, &sv_sq) in row.iter_mut().zip(&self.sq_norms) {
                    *k = -gamma * (sv_sq + x_sq - two_step * *k).max(0.0);
                }
            }
            None => {
                dot_rows(&self.support, self.dim, x, row, dots4);
                for (k, &sv_sq) in row.iter_mut().zip(&self.sq_norms) {
                    *k = -gamma * (sv_sq + x_sq - 2.0 * *k).max(0.0);
                }
            }
        }
        exp_in_place(row);
    }
}

#[cfg(test)]
mod tests {
    use super::super::kernels::mat_vec;
    use super::*;
    use rand::{Rng, SeedableRng};

    const SEED: u64 = 7;

    /// Random support vectors split over the ten classes, with random pair
    /// coefficients: enough structure for `decide`, no training needed.
    fn random_classifier(rng: &mut impl Rng, n_sv: usize, dim: usize) -> SvmClassifier {
        let support: Vec<f32> = (0..n_sv * dim).map(|_| rng.gen_range(-3.0..3.0)).collect();
        let class_start: Vec<usize> = (0..=N_CLASSES).map(|c| c * n_sv / N_CLASSES).collect();
        let size = |c: usize| class_start[c + 1] - class_start[c];
        let pairs = (0..N_CLASSES)
            .flat_map(|a| (a + 1..N_CLASSES).map(move |b| (a, b)))
            .map(|(a, b)| PairMachine {
                pos: a as u8,
                neg: b as u8,
                coef: (0..size(a) + size(b))
                    .map(|_| rng.gen_range(-10.0..10.0))
                    .collect(),
                rho: rng.gen_range(-1.0..1.0),
            })
            .collect();
        let params = SvmParams {
            c: 10.0,
            // 1 / (dim · variance), as training picks it.
            gamma: 1.0 / (dim as f64 * 3.0),
        };
        SvmClassifier::assemble(params, dim, support, class_start, pairs)
    }

    #[test]
    fn integer_kernel_row_agrees_with_an_f64_reference() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(SEED);
        // Neither a whole number of 16-value chunks nor of 8-row blocks.
        let (n_sv, dim) = (203, 100);
        let q = random_classifier(&mut rng, n_sv, dim).quantized();
        assert!(q.codes.is_some(), "a quantized model runs integer rows");
        let (mut simd, mut portable) = (Vec::new(), vec![0.0; n_sv]);
        let mut worst = 0.0f64;
        for i in 0..200 {
            // Half the probes sit near a support vector, where the kernel
            // is close to 1 and ‖x‖² + ‖sv‖² − 2 x·sv cancels most.
            let x: Vec<f32> = if i % 2 == 0 {
                (0..dim).map(|_| rng.gen_range(-3.0..3.0)).collect()
            } else {
                let sv = &q.support[(i % n_sv) * dim..][..dim];
                sv.iter().map(|v| v + rng.gen_range(-0.3..0.3)).collect()
            };
            let d = q.decide(&x, &mut simd);
            let e = q.decide_with(&x, &mut portable, int_dots_portable, dots4_portable);
            assert_eq!(simd, portable, "SIMD and portable rows are identical");
            assert_eq!(d, e);
            for (k, sv) in simd.iter().zip(q.support.chunks_exact(dim)) {
                let d2: f64 = sv
                    .iter()
                    .zip(&x)
                    .map(|(&s, &v)| (s as f64 - v as f64).powi(2))
                    .sum();
                let want = (-q.params.gamma * d2).exp();
                worst = worst.max((*k as f64 - want).abs());
            }
        }
        // Integer sums are exact; the error is the query's rounding (half a
        // step, 1/65534 of its largest scaled value, per dimension, times
        // the codes) and the fast exponential's 3e-6. About 1e-5 here, 5e-5
        // on the embedded model; the f32 path it replaced was within 1e-6.
        assert!(worst < 5e-5, "kernel values off by {worst}");
    }

    #[test]
    fn f32_paths_are_identical_to_plain_dot_products() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(SEED);
        // Training relies on these values exactly (the trained file must not
        // depend on the CPU), so compare bits, not tolerances.
        for (rows, dim) in [(7, 37), (128, 480), (5, 16), (3, 5)] {
            let m: Vec<f32> = (0..rows * dim).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let x: Vec<f32> = (0..dim).map(|_| rng.gen_range(-4.0..4.0)).collect();
            let mut out = vec![0.0; rows];
            mat_vec(&m, dim, &x, &mut out);
            let want: Vec<f32> = m.chunks_exact(dim).map(|r| dot(r, &x)).collect();
            assert_eq!(out, want, "{rows} × {dim}");
        }
        let fresh = random_classifier(&mut rng, 97, 24);
        assert!(fresh.codes.is_none(), "a trained model runs f32 rows");
        let (mut simd, mut portable) = (Vec::new(), vec![0.0; 97]);
        for _ in 0..20 {
            let x: Vec<f32> = (0..24).map(|_| rng.gen_range(-3.0..3.0)).collect();
            let d = fresh.decide(&x, &mut simd);
            let e = fresh.decide_with(&x, &mut portable, int_dots_portable, dots4_portable);
            assert_eq!(d, e);
            assert_eq!(simd, portable);
            // The straightforward per-pair form.
            for (p, v) in fresh.pairs.iter().zip(&d.values) {
                let (a, b) = (p.pos as usize, p.neg as usize);
                let cs = &fresh.class_start;
                let (ka, kb) = (&simd[cs[a]..cs[a + 1]], &simd[cs[b]..cs[b + 1]]);
                let (ca, cb) = p.coef.split_at(ka.len());
                assert_eq!(*v, dot(ca, ka) + dot(cb, kb) - p.rho);
            }
        }
    }
}
