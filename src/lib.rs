//! `digits`: hear a spoken digit (0–9) and say which one.
//!
//! The library holds all the logic; the `digits` binary only parses flags and
//! calls it. Modules by concern:
//! - [`audio`]: WAV decoding, downmixing, resampling to the model rate;
//! - [`features`]: the one MFCC front end shared by training and inference;
//! - [`model`]: the multi-class RBF SVM, its compact inference form and file;
//! - [`augment`]: the seeded perturbations training copies and noisy
//!   evaluation are made with;
//! - [`data`]: FSDD folders and parquet files, splits;
//! - [`fetch`]: downloading the dataset from Hugging Face;
//! - [`eval`]: metrics and reports;
//! - [`plot`]: the accuracy-against-SNR chart;
//! - [`predict`]: one recording's checks and answer, as `digits predict` gives it;
//! - [`listen`]: the live microphone loop;
//! - [`record`]: guided enrolment (a speaker's own takes);
//! - [`serve`]: the page, the HTTP API and the WebSocket stream.

pub mod audio;
pub mod augment;
pub mod data;
mod dot;
pub mod eval;
pub mod features;
pub mod fetch;
pub mod listen;
pub mod model;
pub mod plot;
pub mod predict;
pub mod record;
pub mod serve;
pub mod text;
