//! The multi-class RBF SVM: one-vs-one training over linfa-svm's binary
//! machines, and the compact form every prediction runs through.
//!
//! linfa's `MultiClassModel` cannot be serialised, and its binary models each
//! keep their own copy of shared support vectors, so a 45-pair model stores
//! and evaluates the same rows up to nine times. [`SvmClassifier`] keeps every
//! distinct support vector once, computes the kernel row once per input, and
//! lets all pairwise decisions share it (as libsvm does).
//!
//! - [`classifier`]: the compact classifier and its pairwise decisions;
//! - [`quantized`]: the file form, 8-bit support vectors and 16-bit
//!   coefficients, and the codes the integer kernel rows read;
//! - [`kernels`]: the dot products and exponential a kernel row is made of,
//!   portable and AVX2, with identical results;
//! - [`fit`]: fitting the 45 one-vs-one machines with linfa-svm and merging
//!   them into the compact form.

mod classifier;
mod fit;
mod kernels;
mod quantized;

use serde::{Deserialize, Serialize};

pub use classifier::{Decisions, PairMachine, SvmClassifier};
pub use fit::{train_ovo, LinfaPair};
pub(crate) use kernels::{dot, mat_vec};

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

#[cfg(test)]
mod tests {
    use super::*;

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
