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
    codes: Option<Codes>,
}

/// Support vectors as the file's 8-bit codes, for integer kernel rows.
///
/// `x · sv = Σ_d (x_d · scale_d) · q_d`: the per-dimension scale moves onto
/// the query, which is rounded once per prediction to 16-bit integers with a
/// single step; every dot product is then an exact integer sum (8 × 16-bit
/// products into 32-bit accumulators), so the SIMD and portable paths agree
/// bit for bit.
#[derive(Debug, Clone, PartialEq)]
struct Codes {
    /// Blocks of [`BLOCK_ROWS`] support vectors, each stored chunk by chunk:
    /// value `j` of chunk `k` of row `r` of block `b` is at
    /// `((b·chunks + k)·BLOCK_ROWS + r)·16 + j`. A block's rows are read
    /// together, so this keeps each step's loads at fixed offsets from one
    /// pointer. Zero beyond `dim` and in the rows that pad the last block.
    q: Vec<i8>,
    /// Dimensions rounded up to whole 16-value chunks.
    stride: usize,
    /// Per-dimension step: `support[i][d] = q[i][d] · scale[d]`.
    scale: Vec<f32>,
}

/// Support vectors per block of [`Codes`].
const BLOCK_ROWS: usize = 8;

impl Codes {
    /// From the file's row-major codes (`n_sv × dim`).
    fn new(file_q: &[i8], dim: usize, scale: Vec<f32>) -> Self {
        let stride = dim.next_multiple_of(16);
        let chunks = stride / 16;
        let n_sv = file_q.len() / dim;
        let mut q = vec![0i8; n_sv.div_ceil(BLOCK_ROWS) * BLOCK_ROWS * stride];
        for (i, row) in file_q.chunks_exact(dim).enumerate() {
            let (b, r) = (i / BLOCK_ROWS, i % BLOCK_ROWS);
            for (k, chunk) in row.chunks(16).enumerate() {
                let at = ((b * chunks + k) * BLOCK_ROWS + r) * 16;
                q[at..at + chunk.len()].copy_from_slice(chunk);
            }
        }
        Self { q, stride, scale }
    }
}

/// Widest input the integer path takes: the rounded query lives in a stack
/// buffer of this many values, and `MAX_INT_DIM × 128 × 32767 < 2³¹` keeps
/// every 32-bit sum exact (even for a code of −128, which the file format
/// allows though `quantized` never writes it). Wider models use the `f32` path.
const MAX_INT_DIM: usize = 512;
/// Largest magnitude of a rounded query value.
const QUERY_MAX: f32 = i16::MAX as f32;

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
        let mut m = Self::assemble(s.params, s.dim, support, s.class_start, pairs);
        if s.dim <= MAX_INT_DIM {
            m.codes = Some(Codes::new(&s.q, s.dim, s.scale));
        }
        Ok(m)
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

/// Rounds `x_d · scale_d` to integers in ±[`QUERY_MAX`] with one step for
/// all dimensions, into `out` (zeros beyond `x.len()` are left alone), and
/// returns the step. The rounding error is at most half a step, 1/65534 of
/// the largest scaled value.
fn quantize_query(x: &[f32], scale: &[f32], out: &mut [i16]) -> f32 {
    let max = x
        .iter()
        .zip(scale)
        .fold(0.0f32, |m, (v, s)| m.max((v * s).abs()));
    if !(max > 0.0 && max.is_finite()) {
        // All zero: every dot product is 0. Not finite: so is ‖x‖², which
        // carries that into the kernel row.
        out.fill(0);
        return 0.0;
    }
    let step = max / QUERY_MAX;
    let inv = 1.0 / step;
    for ((o, v), s) in out.iter_mut().zip(x).zip(scale) {
        *o = (v * s * inv).round().clamp(-QUERY_MAX, QUERY_MAX) as i16;
    }
    step
}

/// `out[i] = Σ_d q_i[d] · xq[d]` for support vector `i` of the blocked
/// codes `q` (see [`Codes`]), exactly, as `f32`.
#[inline(always)]
fn int_dots_portable(q: &[i8], stride: usize, xq: &[i16], out: &mut [f32]) {
    let block_len = BLOCK_ROWS * stride;
    for (block, o) in q.chunks_exact(block_len).zip(out.chunks_mut(BLOCK_ROWS)) {
        let mut sums = [0i32; BLOCK_ROWS];
        for (step, x) in block.chunks_exact(BLOCK_ROWS * 16).zip(xq.chunks_exact(16)) {
            for (s, codes) in sums.iter_mut().zip(step.chunks_exact(16)) {
                *s += codes
                    .iter()
                    .zip(x)
                    .map(|(&a, &b)| i32::from(a) * i32::from(b))
                    .sum::<i32>();
            }
        }
        for (o, s) in o.iter_mut().zip(sums) {
            *o = s as f32;
        }
    }
}

/// [`int_dots_portable`] with AVX2: per block of eight support vectors and
/// per 16-value chunk, the query chunk is loaded once, each row's codes are
/// sign-extended to 16 bits and multiplied pairwise into 32-bit lanes
/// (`vpmaddwd`), and the eight accumulators are reduced together. Integer
/// sums are exact, so the result is identical to the portable loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn int_dots_avx2(q: &[i8], stride: usize, xq: &[i16], out: &mut [f32]) {
    use std::arch::x86_64::*;
    let block_len = BLOCK_ROWS * stride;
    assert!(
        stride.is_multiple_of(16)
            && xq.len() == stride
            && q.len() == out.len().div_ceil(BLOCK_ROWS) * block_len
    );
    for (block, o) in q.chunks_exact(block_len).zip(out.chunks_mut(BLOCK_ROWS)) {
        let mut acc = [_mm256_setzero_si256(); BLOCK_ROWS];
        for (step, x) in block.chunks_exact(BLOCK_ROWS * 16).zip(xq.chunks_exact(16)) {
            // SAFETY: `x` is 16 `i16`s and `step` is 8 × 16 `i8`s, so every
            // load below is in bounds; unaligned loads need no alignment.
            unsafe {
                let x = _mm256_loadu_si256(x.as_ptr().cast());
                for (r, a) in acc.iter_mut().enumerate() {
                    let codes = _mm_loadu_si128(step.as_ptr().add(r * 16).cast());
                    let v = _mm256_cvtepi8_epi16(codes);
                    *a = _mm256_add_epi32(*a, _mm256_madd_epi16(v, x));
                }
            }
        }
        // Horizontal sums of the eight accumulators into one vector, row
        // order kept: pairwise adds, then the two 128-bit halves.
        let h01 = _mm256_hadd_epi32(acc[0], acc[1]);
        let h23 = _mm256_hadd_epi32(acc[2], acc[3]);
        let h45 = _mm256_hadd_epi32(acc[4], acc[5]);
        let h67 = _mm256_hadd_epi32(acc[6], acc[7]);
        let h0123 = _mm256_hadd_epi32(h01, h23);
        let h4567 = _mm256_hadd_epi32(h45, h67);
        let sums = _mm256_add_epi32(
            _mm256_permute2x128_si256::<0x20>(h0123, h4567),
            _mm256_permute2x128_si256::<0x31>(h0123, h4567),
        );
        let sums = _mm256_cvtepi32_ps(sums);
        if o.len() == BLOCK_ROWS {
            // SAFETY: `o` is eight `f32`s; unaligned store.
            unsafe { _mm256_storeu_ps(o.as_mut_ptr(), sums) };
        } else {
            // The last block, partly padding.
            let mut f = [0.0f32; BLOCK_ROWS];
            // SAFETY: `f` is eight `f32`s; unaligned store.
            unsafe { _mm256_storeu_ps(f.as_mut_ptr(), sums) };
            o.copy_from_slice(&f[..o.len()]);
        }
    }
}

/// `out[r] = dot(m[r·dim..(r+1)·dim], x)` for every row of `m`, four rows
/// at a time with `dots4` ([`dots4_portable`] or [`dots4_avx2`]).
#[inline(always)]
fn dot_rows(
    m: &[f32],
    dim: usize,
    x: &[f32],
    out: &mut [f32],
    dots4: impl Fn(&[f32], [&[f32]; 4]) -> [f32; 4],
) {
    let mut blocks = m.chunks_exact(4 * dim);
    let mut outs = out.chunks_exact_mut(4);
    for (block, o) in blocks.by_ref().zip(outs.by_ref()) {
        let (r01, r23) = block.split_at(2 * dim);
        let ((r0, r1), (r2, r3)) = (r01.split_at(dim), r23.split_at(dim));
        o.copy_from_slice(&dots4(x, [r0, r1, r2, r3]));
    }
    let rest = blocks.remainder().chunks_exact(dim);
    for (r, o) in rest.zip(outs.into_remainder()) {
        *o = dot(r, x);
    }
}

/// `[dot(r0, x), dot(r1, x), dot(r2, x), dot(r3, x)]`, each bit for bit what
/// [`dot`] gives: the same sixteen lane sums, each added to in chunk order,
/// then summed in lane order, plus the tail.
#[inline(always)]
fn dots4_portable(x: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
    rows.map(|r| dot(r, x))
}

/// [`dots4_portable`] with the four rows' lane sums in eight AVX registers:
/// each 16-value chunk of `x` is loaded once, and the four rows' additions
/// overlap instead of each waiting on the latency of its own. Multiply then
/// add (no FMA), lane for lane as [`dot`], so the results are identical.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dots4_avx2(x: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
    use std::arch::x86_64::*;
    assert!(
        rows.iter().all(|r| r.len() == x.len()),
        "dot products of equal lengths"
    );
    let full = x.len() / 16 * 16;
    let mut lo = [_mm256_setzero_ps(); 4];
    let mut hi = [_mm256_setzero_ps(); 4];
    for c in (0..full).step_by(16) {
        // SAFETY: `c + 16 <= full <= x.len() == r.len()` for every row;
        // unaligned loads have no alignment requirement.
        unsafe {
            let xl = _mm256_loadu_ps(x.as_ptr().add(c));
            let xh = _mm256_loadu_ps(x.as_ptr().add(c + 8));
            for ((l, h), r) in lo.iter_mut().zip(&mut hi).zip(rows) {
                let w = r.as_ptr().add(c);
                *l = _mm256_add_ps(*l, _mm256_mul_ps(_mm256_loadu_ps(w), xl));
                *h = _mm256_add_ps(*h, _mm256_mul_ps(_mm256_loadu_ps(w.add(8)), xh));
            }
        }
    }
    std::array::from_fn(|i| {
        let mut acc = [0.0f32; 16];
        let (al, ah) = acc.split_at_mut(8);
        // SAFETY: `al` and `ah` are eight `f32`s each; unaligned stores.
        unsafe {
            _mm256_storeu_ps(al.as_mut_ptr(), lo[i]);
            _mm256_storeu_ps(ah.as_mut_ptr(), hi[i]);
        }
        let tail: f32 = rows[i][full..]
            .iter()
            .zip(&x[full..])
            .map(|(w, v)| w * v)
            .sum();
        acc.iter().sum::<f32>() + tail
    })
}

/// `out[r] = dot(row r of m, x)` for a row-major `m` with `dim` columns
/// (the projection's matrix-vector product), bit for bit what [`dot`] gives,
/// with an AVX2 build picked at run time.
pub(crate) fn mat_vec(m: &[f32], dim: usize, x: &[f32], out: &mut [f32]) {
    debug_assert!(x.len() == dim && m.len() == out.len() * dim);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, the only feature `mat_vec_avx2` needs.
        unsafe { mat_vec_avx2(m, dim, x, out) };
        return;
    }
    dot_rows(m, dim, x, out, dots4_portable);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn mat_vec_avx2(m: &[f32], dim: usize, x: &[f32], out: &mut [f32]) {
    dot_rows(m, dim, x, out, |x, rows| dots4_avx2(x, rows));
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

/// Sixteen running sums: two AVX or four SSE registers.
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    crate::dot::dot_lanes::<16>(a, b)
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
        return Err(format!(
            "no training clips of digit {c}; every digit 0-9 needs clips in --data"
        ));
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
        // The quantized model runs integer kernel rows; on the very same
        // (dequantised) vectors in f32 its decisions agree far more closely.
        let same_vectors = SvmClassifier::assemble(
            q.params,
            q.dim,
            q.support.clone(),
            q.class_start.clone(),
            q.pairs.clone(),
        );
        for i in 0..n {
            let a = same_vectors.decide(x.row(i).as_slice().unwrap(), &mut r1);
            let b = q.decide(x.row(i).as_slice().unwrap(), &mut r2);
            for (u, v) in a.values.iter().zip(&b.values) {
                assert!((u - v).abs() < 1e-3, "row {i}: {u} vs {v}");
            }
        }
    }

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
