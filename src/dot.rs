//! Dot products the compiler vectorises without fast-math: `LANES`
//! independent running sums (a serial chain of adds cannot be reordered).
//! The lane count fixes the order of additions, so a given `LANES` always
//! gives the same bits; the front end uses 8 (short DCT and filterbank rows),
//! the SVM 16 (two AVX registers over 128-dimensional vectors).

/// `Σ a[i]·b[i]` over the shorter of the two, in `LANES` running sums.
#[inline(always)]
pub(crate) fn dot_lanes<const LANES: usize>(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..LANES {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::dot_lanes;

    #[test]
    fn lanes_agree_with_a_serial_sum_in_f64() {
        for n in [0, 1, 7, 8, 9, 40, 128, 131] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let want: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            for got in [dot_lanes::<8>(&a, &b), dot_lanes::<16>(&a, &b)] {
                assert!((got as f64 - want).abs() < 1e-4, "n={n}: {got} vs {want}");
            }
        }
    }
}
