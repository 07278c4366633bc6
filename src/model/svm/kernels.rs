//! The arithmetic of a kernel row: exact integer dot products over the
//! 8-bit codes, `f32` dot products four rows at a time, and a vectorised
//! exponential. Each has a portable loop and an AVX2 build picked at run
//! time that gives bit-identical results, so a model predicts (and trains)
//! the same on every CPU.

use super::quantized::BLOCK_ROWS;

/// `out[i] = Σ_d q_i[d] · xq[d]` for support vector `i` of the blocked
/// codes `q` (see [`Codes`]), exactly, as `f32`.
#[inline(always)]
pub(super) fn int_dots_portable(q: &[i8], stride: usize, xq: &[i16], out: &mut [f32]) {
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
pub(super) fn int_dots_avx2(q: &[i8], stride: usize, xq: &[i16], out: &mut [f32]) {
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
pub(super) fn dot_rows(
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
pub(super) fn dots4_portable(x: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
    rows.map(|r| dot(r, x))
}

/// [`dots4_portable`] with the four rows' lane sums in eight AVX registers:
/// each 16-value chunk of `x` is loaded once, and the four rows' additions
/// overlap instead of each waiting on the latency of its own. Multiply then
/// add (no FMA), lane for lane as [`dot`], so the results are identical.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) fn dots4_avx2(x: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
