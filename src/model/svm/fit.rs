//! Fitting the one-vs-one machines: the 45 digit pairs trained with
//! linfa-svm on all cores, then merged into the compact
//! [`SvmClassifier`] (each support vector once, class by class).

use linfa::prelude::*;
use linfa_svm::Svm;
use ndarray::{Array1, Array2, ArrayView2};

use super::{PairMachine, SvmClassifier, SvmParams, N_CLASSES};

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
}
