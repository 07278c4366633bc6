//! Turning pairwise SVM decisions into class probabilities.
//!
//! One Platt sigmoid, fitted on held-out decision values (never on test data),
//! maps each pairwise decision to P(pos beats neg); the pairwise
//! probabilities are coupled into ten class probabilities with the method of
//! Wu, Lin and Weng (2004), as libsvm's `multiclass_probability` does. The
//! result gives `predict --top K` its scores and `listen` its confidence.

use serde::{Deserialize, Serialize};

use super::svm::{PairMachine, N_CLASSES};

/// `P(pos) = 1 / (1 + exp(a·f + b))` for a decision value `f`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    pub a: f32,
    pub b: f32,
}

impl Default for Platt {
    /// An uncalibrated but sensible mapping (decision ±1 ≈ 88 % / 12 %).
    fn default() -> Self {
        Self { a: -2.0, b: 0.0 }
    }
}

impl Platt {
    pub fn prob(&self, f: f32) -> f32 {
        let z = self.a * f + self.b;
        let p = if z >= 0.0 {
            (-z).exp() / (1.0 + (-z).exp())
        } else {
            1.0 / (1.0 + z.exp())
        };
        p.clamp(1e-7, 1.0 - 1e-7)
    }

    /// Fits the sigmoid to decision values and whether the positive class
    /// was right (Lin, Lin & Weng's Newton method with backtracking, as in
    /// libsvm's `sigmoid_train`).
    pub fn fit(decisions: &[f32], positive: &[bool]) -> Self {
        let n1 = positive.iter().filter(|&&p| p).count() as f64;
        let n0 = positive.len() as f64 - n1;
        if n1 == 0.0 || n0 == 0.0 {
            return Self::default();
        }
        let hi = (n1 + 1.0) / (n1 + 2.0);
        let lo = 1.0 / (n0 + 2.0);
        let t: Vec<f64> = positive.iter().map(|&p| if p { hi } else { lo }).collect();
        let f: Vec<f64> = decisions.iter().map(|&d| d as f64).collect();
        let objective = |a: f64, b: f64| -> f64 {
            f.iter()
                .zip(&t)
                .map(|(&fi, &ti)| {
                    let z = fi * a + b;
                    if z >= 0.0 {
                        ti * z + (-z).exp().ln_1p()
                    } else {
                        (ti - 1.0) * z + z.exp().ln_1p()
                    }
                })
                .sum()
        };
        let (mut a, mut b) = (0.0f64, ((n0 + 1.0) / (n1 + 1.0)).ln());
        let mut fval = objective(a, b);
        for _ in 0..100 {
            let (mut h11, mut h22, mut h21, mut g1, mut g2) = (1e-12, 1e-12, 0.0, 0.0, 0.0);
            for (&fi, &ti) in f.iter().zip(&t) {
                let z = fi * a + b;
                let (p, q) = if z >= 0.0 {
                    let e = (-z).exp();
                    (e / (1.0 + e), 1.0 / (1.0 + e))
                } else {
                    let e = z.exp();
                    (1.0 / (1.0 + e), e / (1.0 + e))
                };
                let d2 = p * q;
                h11 += fi * fi * d2;
                h22 += d2;
                h21 += fi * d2;
                let d1 = ti - p;
                g1 += fi * d1;
                g2 += d1;
            }
            if g1.abs() < 1e-5 && g2.abs() < 1e-5 {
                break;
            }
            let det = h11 * h22 - h21 * h21;
            let da = -(h22 * g1 - h21 * g2) / det;
            let db = -(-h21 * g1 + h11 * g2) / det;
            let gd = g1 * da + g2 * db;
            let mut step = 1.0;
            while step >= 1e-10 {
                let (na, nb) = (a + step * da, b + step * db);
                let nf = objective(na, nb);
                if nf < fval + 1e-4 * step * gd {
                    (a, b, fval) = (na, nb, nf);
                    break;
                }
                step /= 2.0;
            }
            if step < 1e-10 {
                break;
            }
        }
        Self {
            a: a as f32,
            b: b as f32,
        }
    }

    /// Ten class probabilities from the pairwise decision values.
    pub fn class_probabilities(
        &self,
        pairs: &[PairMachine],
        decisions: &[f32],
    ) -> [f32; N_CLASSES] {
        let mut r = [[0.0f64; N_CLASSES]; N_CLASSES];
        for (p, &d) in pairs.iter().zip(decisions) {
            let pr = self.prob(d) as f64;
            r[p.pos as usize][p.neg as usize] = pr;
            r[p.neg as usize][p.pos as usize] = 1.0 - pr;
        }
        couple(&r)
    }
}

/// Wu–Lin–Weng pairwise coupling (their second method), as in libsvm.
fn couple(r: &[[f64; N_CLASSES]; N_CLASSES]) -> [f32; N_CLASSES] {
    let k = N_CLASSES;
    let mut q = [[0.0f64; N_CLASSES]; N_CLASSES];
    for t in 0..k {
        for j in 0..k {
            if j != t {
                q[t][t] += r[j][t] * r[j][t];
                q[t][j] = -r[j][t] * r[t][j];
            }
        }
    }
    let mut p = [1.0 / k as f64; N_CLASSES];
    let mut qp = [0.0f64; N_CLASSES];
    let eps = 0.005 / k as f64;
    for _ in 0..100.max(k) {
        let mut pqp = 0.0;
        for t in 0..k {
            qp[t] = (0..k).map(|j| q[t][j] * p[j]).sum();
            pqp += p[t] * qp[t];
        }
        if (0..k).all(|t| (qp[t] - pqp).abs() < eps) {
            break;
        }
        for t in 0..k {
            let diff = (-qp[t] + pqp) / q[t][t];
            p[t] += diff;
            pqp = (pqp + diff * (diff * q[t][t] + 2.0 * qp[t])) / (1.0 + diff) / (1.0 + diff);
            for j in 0..k {
                qp[j] = (qp[j] + diff * q[t][j]) / (1.0 + diff);
                p[j] /= 1.0 + diff;
            }
        }
    }
    p.map(|v| v as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platt_fit_recovers_a_sigmoid() {
        // Decisions with P(pos) = sigmoid(2f): a ≈ -2, b ≈ 0.
        let mut d = Vec::new();
        let mut y = Vec::new();
        for i in 0..2000 {
            let f = (i as f32 / 2000.0) * 6.0 - 3.0;
            let p = 1.0 / (1.0 + (-2.0 * f).exp());
            // Deterministic "sampling": a low-discrepancy sequence.
            let u = ((i as f32) * 0.618_034).fract();
            d.push(f);
            y.push(u < p);
        }
        let s = Platt::fit(&d, &y);
        assert!((s.a + 2.0).abs() < 0.25 && s.b.abs() < 0.15, "{s:?}");
    }

    #[test]
    fn coupling_sums_to_one_and_favours_the_winner() {
        let pairs: Vec<PairMachine> = (0..10u8)
            .flat_map(|a| {
                (a + 1..10).map(move |b| PairMachine {
                    pos: a,
                    neg: b,
                    coef: vec![],
                    rho: 0.0,
                })
            })
            .collect();
        // Digit 3 wins all its pairs clearly; the rest are coin flips.
        let d: Vec<f32> = pairs
            .iter()
            .map(|p| {
                if p.pos == 3 {
                    3.0
                } else if p.neg == 3 {
                    -3.0
                } else {
                    0.0
                }
            })
            .collect();
        let probs = Platt::default().class_probabilities(&pairs, &d);
        let sum: f32 = probs.iter().sum();
        assert!((sum - 1.0).abs() < 1e-3, "{sum}");
        let best = (0..10)
            .max_by(|&a, &b| probs[a].total_cmp(&probs[b]))
            .unwrap();
        assert_eq!(best, 3);
        assert!(probs[3] > 0.5, "{probs:?}");
    }
}
