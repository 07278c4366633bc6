//! Principal component analysis for the projection between the scaler and
//! the SVM: fewer dimensions make every kernel evaluation (and training)
//! cheaper, and drop directions that mostly carry speaker and channel noise.
//!
//! The covariance matrix is small (features × features), so a cyclic Jacobi
//! eigen-solver in f64 is exact enough and needs no LAPACK.

use ndarray::ArrayView2;

use super::Projection;

/// Fits the top-`k` principal axes of `x` (rows are samples).
pub fn fit_pca(x: ArrayView2<f32>, k: usize) -> Projection {
    let (n, d) = x.dim();
    let k = k.min(d);
    let mean: Vec<f64> = (0..d)
        .map(|j| x.column(j).iter().map(|&v| v as f64).sum::<f64>() / n as f64)
        .collect();
    let mut cov = vec![0.0f64; d * d];
    let mut centred = vec![0.0f64; d];
    for row in x.rows() {
        for j in 0..d {
            centred[j] = row[j] as f64 - mean[j];
        }
        for a in 0..d {
            let ca = centred[a];
            if ca == 0.0 {
                continue;
            }
            let line = &mut cov[a * d..a * d + d];
            for b in a..d {
                line[b] += ca * centred[b];
            }
        }
    }
    for a in 0..d {
        for b in a..d {
            let v = cov[a * d + b] / (n.max(2) - 1) as f64;
            cov[a * d + b] = v;
            cov[b * d + a] = v;
        }
    }
    let (values, vectors) = jacobi_eigen(cov, d);
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    let mut weights = Vec::with_capacity(k * d);
    for &e in order.iter().take(k) {
        // Column e of the eigenvector matrix, with a fixed sign so refits agree.
        let col: Vec<f64> = (0..d).map(|r| vectors[r * d + e]).collect();
        let sign = if col
            .iter()
            .fold(0.0, |m: f64, &v| if v.abs() > m.abs() { v } else { m })
            < 0.0
        {
            -1.0
        } else {
            1.0
        };
        weights.extend(col.iter().map(|&v| (sign * v) as f32));
    }
    Projection::new(mean.iter().map(|&m| m as f32).collect(), weights, k)
}

/// Eigen-decomposition of a symmetric `d × d` matrix (row-major) by cyclic
/// Jacobi rotations. Returns eigenvalues and eigenvectors (as columns).
fn jacobi_eigen(mut a: Vec<f64>, d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0f64; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    let total: f64 = a.iter().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
    for _sweep in 0..60 {
        let off: f64 = (0..d)
            .flat_map(|p| (0..d).filter(move |&q| q != p).map(move |q| (p, q)))
            .map(|(p, q)| a[p * d + q].powi(2))
            .sum();
        if off <= 1e-22 * total {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A ← Jᵀ A J, touching rows and columns p and q only.
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[k * d + p], v[k * d + q]);
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..d).map(|i| a[i * d + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn finds_the_axis_of_an_elongated_cloud() {
        // Points spread along (1, 1, 0)/√2 with small noise on the other axes.
        let x = Array2::from_shape_fn((200, 3), |(i, j)| {
            let t = (i as f32 - 100.0) / 10.0;
            let wobble = ((i * 7 + j * 3) % 11) as f32 / 110.0;
            match j {
                0 | 1 => t + wobble,
                _ => wobble,
            }
        });
        let p = fit_pca(x.view(), 1);
        let w = &p.weights;
        let r = std::f32::consts::FRAC_1_SQRT_2;
        assert!(
            (w[0] - r).abs() < 0.01 && (w[1] - r).abs() < 0.01 && w[2].abs() < 0.01,
            "{w:?}"
        );
    }

    #[test]
    fn jacobi_diagonalises_a_known_matrix() {
        // [[2,1],[1,2]] has eigenvalues 1 and 3.
        let (mut vals, _) = jacobi_eigen(vec![2.0, 1.0, 1.0, 2.0], 2);
        vals.sort_by(f64::total_cmp);
        assert!((vals[0] - 1.0).abs() < 1e-12 && (vals[1] - 3.0).abs() < 1e-12);
    }
}
