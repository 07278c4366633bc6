//! The file form of the classifier and its quantisation: support vectors as
//! 8-bit integers with one scale per dimension, pairwise coefficients as
//! 16-bit integers with one scale per pair, and the blocked 8-bit codes and
//! rounded query the integer kernel rows are computed from.

use serde::{Deserialize, Serialize};

use super::classifier::{PairMachine, SvmClassifier};
use super::SvmParams;

/// Support vectors as the file's 8-bit codes, for integer kernel rows.
///
/// `x · sv = Σ_d (x_d · scale_d) · q_d`: the per-dimension scale moves onto
/// the query, which is rounded once per prediction to 16-bit integers with a
/// single step; every dot product is then an exact integer sum (8 × 16-bit
/// products into 32-bit accumulators), so the SIMD and portable paths agree
/// bit for bit.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Codes {
    /// Blocks of [`BLOCK_ROWS`] support vectors, each stored chunk by chunk:
    /// value `j` of chunk `k` of row `r` of block `b` is at
    /// `((b·chunks + k)·BLOCK_ROWS + r)·16 + j`. A block's rows are read
    /// together, so this keeps each step's loads at fixed offsets from one
    /// pointer. Zero beyond `dim` and in the rows that pad the last block.
    pub(super) q: Vec<i8>,
    /// Dimensions rounded up to whole 16-value chunks.
    pub(super) stride: usize,
    /// Per-dimension step: `support[i][d] = q[i][d] · scale[d]`.
    pub(super) scale: Vec<f32>,
}

/// Support vectors per block of [`Codes`].
pub(super) const BLOCK_ROWS: usize = 8;

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
pub(super) const MAX_INT_DIM: usize = 512;
/// Largest magnitude of a rounded query value.
const QUERY_MAX: f32 = i16::MAX as f32;

/// The file form of [`SvmClassifier`]: 8-bit support vectors, 16-bit
/// pairwise coefficients.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredSvm {
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

/// Rounds `x_d · scale_d` to integers in ±[`QUERY_MAX`] with one step for
/// all dimensions, into `out` (zeros beyond `x.len()` are left alone), and
/// returns the step. The rounding error is at most half a step, 1/65534 of
/// the largest scaled value.
pub(super) fn quantize_query(x: &[f32], scale: &[f32], out: &mut [i16]) -> f32 {
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

#[cfg(test)]
mod tests {
    use super::super::{train_ovo, N_CLASSES};
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};

    const SEED: u64 = 7;

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
}
