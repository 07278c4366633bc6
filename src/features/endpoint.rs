//! Energy-based endpoint detection: find the spoken word in a clip.
//!
//! FSDD clips are already trimmed; microphone recordings are not. Trimming
//! runs inside the front end, identically for training and inference, so a
//! clip with a second of room tone around the word gives the same frames as
//! the clean clip.
//!
//! Method: block energies (10 ms at 8 kHz; when the background is rumble,
//! each block's polynomial trend of degree 5 is taken out first, a
//! high-pass near 250 Hz that keeps a voice's formants) in dB; the noise
//! floor is a low percentile of them. Speech is what rises
//! `floor_margin_db` above the floor and is within `range_db` of the word's
//! loudest block. Starting from the
//! loudest block of the loudest `seed_ms` stretch (not the loudest block,
//! which may be a click), the word grows outwards across speech blocks,
//! bridging gaps up to `max_gap_ms` after it (stop closures in "eight",
//! "six", not the pause before a breath) and `max_lead_gap_ms` before it
//! (no digit has a closure there; a breath in does), then
//! gains `margin_ms` on each side. A run of speech blocks shorter than
//! `min_run_ms` is a stop's burst when it follows a closure, but a click or
//! a tap when it comes later: it joins the word only across a gap up to
//! `short_run_gap_ms`.
//!
//! [`word_rise_db`] says whether there is a word at all: how far the clip's
//! loudest sustained stretch rises above its background, above 250 Hz.
//! Noise with no word in it (hiss, a fan, rumble, clicks) barely rises.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::dot::dot_lanes;

/// Endpoint-detector settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointConfig {
    /// Off: keep every sample.
    pub enabled: bool,
    /// Block length in samples at the model rate.
    pub block: usize,
    /// Speech must be this far above the noise floor (dB).
    pub floor_margin_db: f32,
    /// ...and no more than this far below the loudest block (dB).
    pub range_db: f32,
    /// Quiet stretches shorter than this after the loudest stretch are
    /// kept: the stop closures of "six" and "eight", but not the gap before
    /// a breath out.
    pub max_gap_ms: f32,
    /// ...and before it, where no digit has a closure: a breath taken just
    /// before speaking must not join the word.
    pub max_lead_gap_ms: f32,
    /// Kept on each side of the detected word.
    pub margin_ms: f32,
    /// The word is never trimmed shorter than this.
    pub min_ms: f32,
    /// The word is sought in the loudest stretch this long, not at the
    /// loudest block, which may be a click.
    pub seed_ms: f32,
    /// Stretches above the threshold shorter than this (a click, a tap, a
    /// stop's burst) extend the word only across gaps up to
    /// `short_run_gap_ms`; longer ones across gaps up to `max_gap_ms`.
    pub min_run_ms: f32,
    pub short_run_gap_ms: f32,
    /// Each block's best-fitting polynomial of this degree (at most
    /// [`MAX_DETREND_DEGREE`]) is taken out before its energy is measured;
    /// `None`: raw energies. On 10 ms blocks degree 5 is a high-pass near
    /// the no-word measure's 250 Hz (−45 dB at 80 Hz, −17 dB at 150 Hz,
    /// −2 dB at 250 Hz, within 1 dB above 300 Hz) that costs a few dot
    /// products per block and does not ring on into the next. Rumble
    /// (traffic, air conditioning, wind, handling) lies below a voice's
    /// formants, and its slow swings in a long recording otherwise rise
    /// above the floor and join the word: 2 s of it either side of the test
    /// clips, 15 dB below the word, took accuracy to 62 %
    /// (prompts/endpoint-detection.md, "Rumble around the word").
    pub detrend_degree: Option<u8>,
    /// ...used only when the background is rumble: when taking the trend
    /// out lowers the floor (10th-percentile block, measured on every
    /// `DETREND_PROBE_STEP`th block) by more than this (dB). White noise
    /// loses about 1 dB, a fan's pink noise 3, rumble 15; above 250 Hz a
    /// man's voice loses its fundamental, so in white noise the word would
    /// rise less above the floor.
    pub rumble_margin_db: f32,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            block: 80,
            floor_margin_db: 9.0,
            range_db: 30.0,
            max_gap_ms: 120.0,
            max_lead_gap_ms: 100.0,
            margin_ms: 30.0,
            min_ms: 120.0,
            seed_ms: 50.0,
            min_run_ms: 30.0,
            short_run_gap_ms: 100.0,
            detrend_degree: Some(5),
            rumble_margin_db: 10.0,
        }
    }
}

/// Longest duration an [`EndpointConfig`] setting may give (ms): a minute,
/// far beyond any word, and far from overflowing a sample count.
pub const MAX_SETTING_MS: f32 = 60_000.0;

impl EndpointConfig {
    /// A block of 1..=8000 samples, every level and duration a finite,
    /// non-negative number, and no duration over [`MAX_SETTING_MS`].
    pub fn check(&self) -> Result<(), String> {
        if !(1..=8000).contains(&self.block) {
            return Err(format!("block {} must be in 1..=8000 samples", self.block));
        }
        for (name, v) in [
            ("floor_margin_db", self.floor_margin_db),
            ("range_db", self.range_db),
            ("max_gap_ms", self.max_gap_ms),
            ("max_lead_gap_ms", self.max_lead_gap_ms),
            ("margin_ms", self.margin_ms),
            ("min_ms", self.min_ms),
            ("seed_ms", self.seed_ms),
            ("min_run_ms", self.min_run_ms),
            ("short_run_gap_ms", self.short_run_gap_ms),
            ("rumble_margin_db", self.rumble_margin_db),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} {v} must be a non-negative number"));
            }
            // A duration in blocks must stay far from `usize::MAX`: a model
            // file with `margin_ms` 1e30 overflowed the word's end (fuzzing).
            if name.ends_with("_ms") && v > MAX_SETTING_MS {
                return Err(format!(
                    "{name} {v} must be at most {MAX_SETTING_MS} ms (a minute)"
                ));
            }
        }
        if let Some(d) = self.detrend_degree.filter(|&d| d > MAX_DETREND_DEGREE) {
            return Err(format!(
                "detrend_degree {d} must be at most {MAX_DETREND_DEGREE}"
            ));
        }
        Ok(())
    }
}

/// What [`find_word`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    /// The word's samples.
    pub range: std::ops::Range<usize>,
}

/// Below this [`word_rise_db`] a clip holds no word, only noise.
/// Measured (`prompts/endpoint-detection.md`, "Steady noise with no word in it"): white, pink
/// noise and clicks alone rise at most 2.7 dB; the 3,000 FSDD clips 5.0 dB
/// or more; with white noise at 0 dB SNR, 1 of the 300 test clips falls
/// below 3 dB.
pub const MIN_WORD_RISE_DB: f32 = 3.0;

/// [`word_rise_db`] looks above this frequency: rumble, hum and the slow
/// swells of pink or brown noise lie below it, a voice's formants above.
pub const RISE_HIGHPASS_HZ: f32 = 250.0;

/// Block marks, kept in the scratch's second half.
const QUIET: f32 = 0.0;
const SHORT_RUN: f32 = 1.0;
const LONG_RUN: f32 = 2.0;

/// Finds the word in `samples` (at `rate`). `energies` is scratch space,
/// reused across calls.
pub fn find_word(
    cfg: &EndpointConfig,
    samples: &[f32],
    rate: u32,
    energies: &mut Vec<f32>,
) -> Word {
    let n = samples.len();
    if !cfg.enabled || n == 0 {
        return Word { range: 0..n };
    }
    let block = cfg.block.max(1);
    energies.clear();
    energies.extend(
        samples
            .chunks(block)
            .map(|c| c.iter().map(|x| x * x).sum::<f32>() / c.len() as f32),
    );
    let nb = energies.len();
    if let Some(degree) = cfg.detrend_degree {
        // How far the detrend lowers the floor (10th percentile), on every
        // fourth block (a quarter of the work), raw then detrended, after
        // the energies; only a background of rumble has all blocks detrended.
        for i in (0..nb).step_by(DETREND_PROBE_STEP) {
            let raw = energies[i];
            energies.push(raw);
        }
        let probes = energies.len() - nb;
        let probe = |i: usize| i.is_multiple_of(DETREND_PROBE_STEP);
        detrended_powers(samples, block, degree.into(), probe, |p| energies.push(p));
        let raw_floor = quantile_in_place(&mut energies[nb..nb + probes], 0.1);
        let detrended_floor = quantile_in_place(&mut energies[nb + probes..], 0.1);
        energies.truncate(nb);
        if is_rumble(cfg, raw_floor, detrended_floor) {
            energies.clear();
            detrended_powers(
                samples,
                block,
                degree.into(),
                |_| true,
                |p| energies.push(p),
            );
        }
    }
    word_from_powers(cfg, energies, n, rate)
}

/// The rest of [`find_word`], from the blocks' powers (mean squares, raw or
/// detrended as the background asks; `energies` holds one per block, and
/// is used as scratch) of a clip of `n` samples at `rate`. Shared with the
/// front end over a recording too long to hold, which measures the powers
/// a block at a time.
pub(crate) fn word_from_powers(
    cfg: &EndpointConfig,
    energies: &mut Vec<f32>,
    n: usize,
    rate: u32,
) -> Word {
    let block = cfg.block.max(1);
    let nb = energies.len();
    let ms_to_blocks = |ms: f32| ((ms / 1000.0 * rate as f32) / block as f32).round() as usize;
    let seed = loudest_stretch(energies, ms_to_blocks(cfg.seed_ms));
    for e in energies.iter_mut() {
        *e = db(*e);
    }
    let (peak_ix, peak) = seed
        .map(|i| (i, energies[i]))
        .fold((0, f32::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a });
    // The floor is found on a copy in the scratch's second half, so the
    // energies keep their order and nothing is allocated per call.
    energies.extend_from_within(..nb);
    let floor = quantile_in_place(&mut energies[nb..], 0.1);
    let threshold = (floor + cfg.floor_margin_db).max(peak - cfg.range_db);
    // The second half now marks each block: quiet, or above the threshold
    // in a short run (a click, or a stop's burst) or a long one.
    let min_run = ms_to_blocks(cfg.min_run_ms).max(1);
    let mut i = 0;
    while i < nb {
        let mut j = i;
        while j < nb && energies[j] > threshold {
            j += 1;
        }
        let mark = if j - i >= min_run {
            LONG_RUN
        } else {
            SHORT_RUN
        };
        energies[nb + i..nb + j].fill(mark);
        if j < nb {
            energies[nb + j] = QUIET;
        }
        i = j + 1;
    }
    let short_gap = ms_to_blocks(cfg.short_run_gap_ms);
    // Grows the word from `from` over `blocks` (outwards, in order),
    // bridging quiet stretches up to `max_gap` blocks.
    let grow = |blocks: &mut dyn Iterator<Item = usize>, from: usize, max_gap: usize| {
        let (mut edge, mut gap) = (from, 0);
        for i in blocks {
            let mark = energies[nb + i];
            if mark == LONG_RUN || (mark == SHORT_RUN && gap <= short_gap) {
                (edge, gap) = (i, 0);
            } else {
                gap += 1;
                if gap > max_gap {
                    break;
                }
            }
        }
        edge
    };
    let first = grow(
        &mut (0..peak_ix).rev(),
        peak_ix,
        ms_to_blocks(cfg.max_lead_gap_ms),
    );
    let last = grow(
        &mut (peak_ix + 1..nb),
        peak_ix,
        ms_to_blocks(cfg.max_gap_ms),
    );
    let margin = ms_to_blocks(cfg.margin_ms);
    let mut start = first.saturating_sub(margin) * block;
    let mut end = (last + 1)
        .saturating_add(margin)
        .saturating_mul(block)
        .min(n);
    let min_len = ((cfg.min_ms / 1000.0) * rate as f32) as usize;
    if end - start < min_len {
        let centre = (start + end) / 2;
        start = centre.saturating_sub(min_len / 2);
        end = (start + min_len).min(n);
        start = end.saturating_sub(min_len);
    }
    energies.truncate(nb);
    Word { range: start..end }
}

/// How far the clip's loudest sustained stretch rises above its background
/// (dB), above [`RISE_HIGHPASS_HZ`]: the highest median block energy of any
/// `seed_ms` stretch (a click fills one or two blocks of it, a word all of
/// them) over the 10th-percentile block. Steady noise of any colour rises
/// a few dB at most, any word more ([`MIN_WORD_RISE_DB`]). Infinite when
/// detection is off (nothing is measured). `scratch` is reused across calls.
pub fn word_rise_db(
    cfg: &EndpointConfig,
    samples: &[f32],
    rate: u32,
    scratch: &mut Vec<f32>,
) -> f32 {
    if !cfg.enabled || samples.is_empty() {
        return f32::INFINITY;
    }
    let block = cfg.block.max(1);
    // Two second-order sections (24 dB per octave): the block energies of
    // the high-passed clip, computed on the fly.
    HighPass::new(RISE_HIGHPASS_HZ, rate).block_powers_twice(samples, block, scratch);
    for p in scratch.iter_mut() {
        *p = db(*p);
    }
    rise_from_block_dbs(cfg, scratch, rate)
}

/// The rest of [`word_rise_db`], from the high-passed blocks' levels (dB;
/// `scratch` holds one per block, and is used as scratch).
pub(crate) fn rise_from_block_dbs(cfg: &EndpointConfig, scratch: &mut Vec<f32>, rate: u32) -> f32 {
    let block = cfg.block.max(1);
    let nb = scratch.len();
    if nb == 0 {
        return f32::INFINITY;
    }
    let width =
        (((cfg.seed_ms / 1000.0 * rate as f32) / block as f32).round() as usize).clamp(1, nb);
    scratch.extend_from_within(..nb);
    let floor = quantile_in_place(&mut scratch[nb..], 0.1);
    let mut loudest = f32::NEG_INFINITY;
    for start in 0..=nb - width {
        scratch.truncate(nb);
        scratch.extend_from_within(start..start + width);
        loudest = loudest.max(quantile_in_place(&mut scratch[nb..], 0.5));
    }
    scratch.truncate(nb);
    loudest - floor
}

/// The measures [`find_word`] and [`word_rise_db`] take of each block of a
/// clip, taken a block at a time from a recording too long to hold (at the
/// model rate, conditioned), with the same arithmetic in the same order:
/// the word and its rise come out as they would for the whole clip.
pub(crate) struct BlockMeasures {
    block: usize,
    degree: Option<u8>,
    /// Samples of the block being filled.
    carry: Vec<f32>,
    raw: Vec<f32>,
    /// Every block detrended (the whole-clip path detrends a quarter of
    /// them, and all only when the background is rumble).
    detrended: Vec<f32>,
    /// The high-passed blocks' levels (dB), for the rise.
    rise: Vec<f32>,
    sections: [HighPassSection; 2],
    n: usize,
}

impl BlockMeasures {
    pub fn new(cfg: &EndpointConfig, rate: u32) -> Self {
        Self {
            block: cfg.block.max(1),
            degree: cfg.detrend_degree,
            carry: Vec::new(),
            raw: Vec::new(),
            detrended: Vec::new(),
            rise: Vec::new(),
            sections: [
                HighPassSection::new(HighPass::new(RISE_HIGHPASS_HZ, rate)),
                HighPassSection::new(HighPass::new(RISE_HIGHPASS_HZ, rate)),
            ],
            n: 0,
        }
    }

    /// The next samples.
    pub fn push(&mut self, mut samples: &[f32]) {
        self.n += samples.len();
        while !samples.is_empty() {
            let take = (self.block - self.carry.len()).min(samples.len());
            self.carry.extend_from_slice(&samples[..take]);
            samples = &samples[take..];
            if self.carry.len() == self.block {
                self.measure();
            }
        }
    }

    fn measure(&mut self) {
        let c = std::mem::take(&mut self.carry);
        self.raw
            .push(c.iter().map(|x| x * x).sum::<f32>() / c.len() as f32);
        if let Some(degree) = self.degree {
            let detrended = &mut self.detrended;
            detrended_powers(
                &c,
                self.block,
                degree.into(),
                |_| true,
                |p| detrended.push(p),
            );
        }
        let sections = &mut self.sections;
        let power = c
            .iter()
            .map(|&x| {
                let y = sections.iter_mut().fold(x, |v, s| s.step(v));
                y * y
            })
            .sum::<f32>()
            / c.len() as f32;
        self.rise.push(db(power));
        self.carry = c;
        self.carry.clear();
    }

    /// The word (as [`find_word`] finds it) and the rise (as
    /// [`word_rise_db`] measures it) of everything pushed.
    pub fn finish(mut self, cfg: &EndpointConfig, rate: u32) -> (Word, f32) {
        if !self.carry.is_empty() {
            self.measure();
        }
        let n = self.n;
        if !cfg.enabled || n == 0 {
            return (Word { range: 0..n }, f32::INFINITY);
        }
        let mut energies = std::mem::take(&mut self.raw);
        if self.degree.is_some() {
            let probe = |v: &[f32]| -> f32 {
                let mut p: Vec<f32> = v.iter().step_by(DETREND_PROBE_STEP).copied().collect();
                quantile_in_place(&mut p, 0.1)
            };
            if is_rumble(cfg, probe(&energies), probe(&self.detrended)) {
                energies = std::mem::take(&mut self.detrended);
            }
        }
        let word = word_from_powers(cfg, &mut energies, n, rate);
        let rise = rise_from_block_dbs(cfg, &mut self.rise, rate);
        (word, rise)
    }
}

/// Every this many blocks is detrended to tell rumble from other
/// backgrounds.
const DETREND_PROBE_STEP: usize = 4;

/// Whether taking the trend out lowers the floor (the 10th percentile of
/// the probed blocks, raw and detrended) by more than the rumble margin.
fn is_rumble(cfg: &EndpointConfig, raw_floor: f32, detrended_floor: f32) -> bool {
    db(raw_floor) - db(detrended_floor) > cfg.rumble_margin_db
}

/// The highest [`EndpointConfig::detrend_degree`] (on 10 ms blocks, 6 is a
/// high-pass near 300 Hz; more would take the voice's first formant).
pub const MAX_DETREND_DEGREE: u8 = 6;

/// The mean square of each `block` of `samples` that `keep` selects (by
/// index), less its least-squares polynomial of `degree`, handed to `emit`:
/// the energy left after projecting out an orthonormal basis of 1, t, …,
/// t^degree, in dot products that vectorise. The bases are built once per
/// thread, length and degree.
fn detrended_powers(
    samples: &[f32],
    block: usize,
    degree: usize,
    keep: impl Fn(usize) -> bool,
    mut emit: impl FnMut(f32),
) {
    thread_local! {
        /// Bases by (length, degree), built on first use: the full block's
        /// and each short last block's (at most `block` lengths), so no
        /// clip after the first few builds one.
        static BASES: RefCell<HashMap<(usize, usize), Vec<f32>>> = RefCell::default();
    }
    BASES.with_borrow_mut(|bases| {
        let tail = samples.len() % block;
        for len in [block, tail] {
            if len > 0 {
                bases
                    .entry((len, degree))
                    .or_insert_with(|| polynomial_basis(len, degree));
            }
        }
        // Looked up once per call, not per block.
        let (full, short) = (&bases[&(block, degree)], bases.get(&(tail, degree)));
        for (_, chunk) in samples.chunks(block).enumerate().filter(|(i, _)| keep(*i)) {
            let basis = if chunk.len() == block {
                full
            } else {
                short.expect("built above")
            };
            let mut energy = f64::from(dot_lanes::<8>(chunk, chunk));
            for q in basis.chunks_exact(chunk.len()) {
                energy -= f64::from(dot_lanes::<8>(q, chunk)).powi(2);
            }
            emit((energy.max(0.0) / chunk.len() as f64) as f32);
        }
    });
}

/// Orthonormal vectors spanning 1, t, …, t^degree on `len` points (t scaled
/// to −1..=1; at most `len` of them), one after another: Gram-Schmidt in
/// f64, twice over for accuracy.
fn polynomial_basis(len: usize, degree: usize) -> Vec<f32> {
    let centre = (len as f64 - 1.0) / 2.0;
    let scale = 1.0 / centre.max(1.0);
    let mut basis: Vec<Vec<f64>> = Vec::new();
    for p in 0..=degree.min(len - 1) {
        let mut v: Vec<f64> = (0..len)
            .map(|i| ((i as f64 - centre) * scale).powi(p as i32))
            .collect();
        for _ in 0..2 {
            for u in &basis {
                let d: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(u).for_each(|(a, b)| *a -= d * b);
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        v.iter_mut().for_each(|a| *a /= norm);
        basis.push(v);
    }
    basis.concat().into_iter().map(|v| v as f32).collect()
}

/// [`HighPass`] with its state, a sample at a time, for a recording read in
/// blocks: the same arithmetic in the same order as
/// [`HighPass::block_powers_twice`], so the same values.
struct HighPassSection {
    filter: HighPass,
    x: [f32; 2],
    y: [f32; 2],
}

impl HighPassSection {
    fn new(filter: HighPass) -> Self {
        Self {
            filter,
            x: [0.0; 2],
            y: [0.0; 2],
        }
    }

    fn step(&mut self, x: f32) -> f32 {
        let ([b0, b1, b2], [a1, a2]) = (self.filter.b, self.filter.a);
        let y = b0 * x + b1 * self.x[0] + b2 * self.x[1] - a1 * self.y[0] - a2 * self.y[1];
        self.x = [x, self.x[0]];
        self.y = [y, self.y[0]];
        y
    }
}

/// A second-order Butterworth high-pass (RBJ's biquad, Q = 1/√2).
struct HighPass {
    b: [f32; 3],
    a: [f32; 2],
}

impl HighPass {
    fn new(cutoff_hz: f32, rate: u32) -> Self {
        let w0 = std::f32::consts::TAU * cutoff_hz / rate as f32;
        let alpha = w0.sin() / std::f32::consts::SQRT_2;
        let (cos, a0) = (w0.cos(), 1.0 + alpha);
        let b0 = (1.0 + cos) / 2.0 / a0;
        Self {
            b: [b0, -2.0 * b0, b0],
            a: [-2.0 * cos / a0, (1.0 - alpha) / a0],
        }
    }

    /// `out` = the mean square of each `block` of `samples` after this
    /// filter twice in series, from rest (direct form I, each section
    /// `y = b0 x + b1 x1 + b2 x2 − a1 y1 − a2 y2` in that order). The filter
    /// is one chain of dependent operations per sample, so its state lives
    /// in locals (registers): kept in memory, each sample's stores and
    /// reloads lengthened that chain and made this a large share of a
    /// `predict`.
    fn block_powers_twice(&self, samples: &[f32], block: usize, out: &mut Vec<f32>) {
        let ([b0, b1, b2], [a1, a2]) = (self.b, self.a);
        let (mut x1, mut x2, mut y1, mut y2) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        let (mut u1, mut u2, mut z1, mut z2) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        out.clear();
        for chunk in samples.chunks(block) {
            let mut sum = 0.0f32;
            for &x in chunk {
                let y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
                (x2, x1, y2, y1) = (x1, x, y1, y);
                let z = b0 * y + b1 * u1 + b2 * u2 - a1 * z1 - a2 * z2;
                (u2, u1, z2, z1) = (u1, y, z1, z);
                sum += z * z;
            }
            out.push(sum / chunk.len() as f32);
        }
    }
}

fn db(power: f32) -> f32 {
    10.0 * (power + 1e-12).log10()
}

/// The `width` blocks with the most energy (`powers`: mean squares).
fn loudest_stretch(powers: &[f32], width: usize) -> std::ops::Range<usize> {
    let n = powers.len();
    let width = width.clamp(1, n);
    let mut sum: f32 = powers[..width].iter().sum();
    let (mut best, mut best_start) = (sum, 0);
    for start in 1..=n - width {
        sum += powers[start + width - 1] - powers[start - 1];
        if sum > best {
            (best, best_start) = (sum, start);
        }
    }
    best_start..best_start + width
}

/// The `q` quantile (0..=1) of `values`, which it reorders.
fn quantile_in_place(values: &mut [f32], q: f32) -> f32 {
    let k = ((values.len() - 1) as f32 * q).round() as usize;
    *values.select_nth_unstable_by(k, |a, b| a.total_cmp(b)).1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model file's endpoint settings come from outside: a finite but
    /// huge duration (`margin_ms` 1e30, from fuzzing the model payload)
    /// overflowed the word's end; it is refused in words, and the word
    /// found with it stays inside the clip.
    #[test]
    fn a_duration_beyond_a_minute_is_refused() {
        for name in ["margin_ms", "max_gap_ms", "min_ms", "seed_ms"] {
            let mut cfg = EndpointConfig::default();
            let v = match name {
                "margin_ms" => &mut cfg.margin_ms,
                "max_gap_ms" => &mut cfg.max_gap_ms,
                "min_ms" => &mut cfg.min_ms,
                _ => &mut cfg.seed_ms,
            };
            *v = 1e30;
            assert_eq!(
                cfg.check().unwrap_err(),
                format!(
                    "{name} 1000000000000000000000000000000 must be at most 60000 ms (a minute)"
                )
            );
        }
        let cfg = EndpointConfig {
            margin_ms: MAX_SETTING_MS,
            ..EndpointConfig::default()
        };
        assert!(cfg.check().is_ok());
    }

    fn tone(n: usize, amp: f32) -> Vec<f32> {
        (0..n).map(|i| amp * (i as f32 * 0.3).sin()).collect()
    }

    #[test]
    fn finds_a_tone_between_silences() {
        let mut x = vec![0.0f32; 8000];
        x.extend(tone(4000, 0.5));
        x.extend(vec![0.0f32; 8000]);
        let r = find_word(&EndpointConfig::default(), &x, 8000, &mut Vec::new()).range;
        // 30 ms margin = 3 blocks of 80 samples.
        assert_eq!(r, 8000 - 240..12000 + 240);
    }

    #[test]
    fn bridges_a_short_gap_but_not_a_long_one() {
        let mut x = tone(2000, 0.5);
        x.extend(vec![0.0; 800]); // 100 ms: bridged
        x.extend(tone(2000, 0.4));
        x.extend(vec![0.0; 8000]); // 1 s: not bridged
        x.extend(tone(2000, 0.3));
        let r = find_word(&EndpointConfig::default(), &x, 8000, &mut Vec::new()).range;
        assert_eq!(r, 0..4800 + 240);
    }

    /// A click: 10 samples at `amp`, a millisecond.
    fn click(x: &mut [f32], at: usize, amp: f32) {
        x[at..at + 10].fill(amp);
    }

    #[test]
    fn a_click_louder_than_the_word_is_not_the_word() {
        // 1 s quiet, a 300 ms word, 1 s quiet; a full-scale click 400 ms
        // before the word and one 200 ms after it (gaps up to 250 ms were
        // once bridged after the word, which reached it).
        let mut x = vec![0.0f32; 8000];
        x.extend(tone(2400, 0.3));
        x.extend(vec![0.0f32; 8000]);
        click(&mut x, 8000 - 3200, 1.0);
        click(&mut x, 10_400 + 1600, 1.0);
        let r = find_word(&EndpointConfig::default(), &x, 8000, &mut Vec::new()).range;
        assert_eq!(r, 8000 - 240..10_400 + 240);
    }

    #[test]
    fn a_stop_burst_after_its_closure_stays_in_the_word() {
        // "eight": the vowel, an 80 ms closure, a 20 ms burst well below
        // the vowel.
        let mut x = vec![0.0f32; 8000];
        x.extend(tone(2400, 0.5));
        x.extend(vec![0.0f32; 640]);
        x.extend(tone(160, 0.1));
        x.extend(vec![0.0f32; 8000]);
        let r = find_word(&EndpointConfig::default(), &x, 8000, &mut Vec::new()).range;
        assert_eq!(r, 8000 - 240..8000 + 2400 + 640 + 160 + 240);
    }

    #[test]
    fn a_breath_before_the_word_is_not_the_word() {
        // A 300 ms breath (noise about 21 dB below the word's power),
        // 150 ms of quiet, then the word: the breath is a long
        // run, but before the loudest stretch only gaps up to 100 ms are
        // bridged.
        use rand::SeedableRng;
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
        let mut x = vec![0.0f32; 8000];
        let breath = crate::augment::white(2400, &mut rng);
        for (v, b) in x[8000 - 1200 - 2400..8000 - 1200].iter_mut().zip(breath) {
            *v = 0.03 * b;
        }
        x.extend(tone(2400, 0.5));
        x.extend(vec![0.0f32; 8000]);
        let cfg = EndpointConfig::default();
        let r = find_word(&cfg, &x, 8000, &mut Vec::new()).range;
        assert_eq!(r, 8000 - 240..10_400 + 240);
        // With the older rule (250 ms either side), the breath
        // joined the word.
        let old = EndpointConfig {
            max_lead_gap_ms: 250.0,
            max_gap_ms: 250.0,
            ..cfg
        };
        let r = find_word(&old, &x, 8000, &mut Vec::new()).range;
        assert_eq!(r, 8000 - 1200 - 2400 - 240..10_400 + 240);
    }

    #[test]
    fn the_cubic_detrend_is_a_high_pass() {
        // Attenuation of a sine on one 80-sample block at 8 kHz, averaged
        // over 16 phases, against numpy's least-squares fit (np.linalg.qr
        // on 1, t, t², t³): −42.61, −20.21, −4.24, −0.43 and −0.05 dB.
        let fit = |x: &[f32]| {
            let mut out = Vec::new();
            detrended_powers(x, x.len(), 3, |_| true, |p| out.push(p));
            out[0]
        };
        for (hz, want_db) in [
            (40.0, -42.61),
            (80.0, -20.21),
            (150.0, -4.24),
            (300.0, -0.43),
            (1000.0, -0.05),
        ] {
            let (mut kept, mut all) = (0.0f64, 0.0f64);
            for p in 0..16 {
                let phase = std::f32::consts::PI * p as f32 / 16.0;
                let x: Vec<f32> = (0..80)
                    .map(|i| (std::f32::consts::TAU * hz * i as f32 / 8000.0 + phase).sin())
                    .collect();
                kept += f64::from(fit(&x));
                all += x.iter().map(|v| f64::from(v * v)).sum::<f64>() / 80.0;
            }
            let got_db = 10.0 * (kept / all).log10();
            assert!((got_db - want_db).abs() < 0.05, "{hz} Hz: {got_db:.3} dB");
        }
        // A cubic is taken out whole (to f32's precision); a short last
        // block is fitted on its own.
        let cubic: Vec<f32> = (0..80)
            .map(|i| 0.3 + 0.01 * i as f32 - 1e-6 * (i * i * i) as f32)
            .collect();
        let power = cubic.iter().map(|v| v * v).sum::<f32>() / 80.0;
        let r = fit(&cubic);
        assert!(r < 1e-6 * power, "{r} of {power}");
        let mut short = Vec::new();
        detrended_powers(&[0.5, -0.2, 0.9, 0.4], 3, 3, |_| true, |p| short.push(p));
        assert!(
            short.len() == 2 && short.iter().all(|&p| p < 1e-6),
            "{short:?}"
        );
    }

    #[test]
    fn rumble_around_the_word_is_not_the_word() {
        // 2 s of rumble (white noise through two one-pole low-passes at
        // 80 Hz, 25 dB below a steady tone: a spoken word's loudest blocks
        // stand 10 dB or so above its average) either side of a 500 ms word.
        use rand::SeedableRng;
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
        let mut x = crate::augment::white(16_000 + 4000 + 16_000, &mut rng);
        let a = (-std::f32::consts::TAU * 80.0 / 8000.0).exp();
        let (mut s1, mut s2) = (0.0f32, 0.0f32);
        for v in x.iter_mut() {
            s1 = a * s1 + (1.0 - a) * *v;
            s2 = a * s2 + (1.0 - a) * s1;
            *v = s2;
        }
        let word = tone(4000, 0.5);
        let rms = |v: &[f32]| (v.iter().map(|x| x * x).sum::<f32>() / v.len() as f32).sqrt();
        let gain = rms(&word) * 10f32.powf(-25.0 / 20.0) / rms(&x);
        for v in x.iter_mut() {
            *v *= gain;
        }
        for (v, w) in x[16_000..20_000].iter_mut().zip(&word) {
            *v += w;
        }
        let cfg = EndpointConfig::default();
        let r = find_word(&cfg, &x, 8000, &mut Vec::new()).range;
        assert!(
            r.start.abs_diff(16_000) <= 400 && r.end.abs_diff(20_000) <= 400,
            "{r:?}"
        );
        // With raw energies the rumble's swings join the word.
        let raw = EndpointConfig {
            detrend_degree: None,
            ..cfg
        };
        let r = find_word(&raw, &x, 8000, &mut Vec::new()).range;
        assert!(r.len() > 4000 + 1600, "{r:?}");
    }

    #[test]
    fn hiss_around_the_word_keeps_the_raw_energies() {
        // White noise loses about 1 dB to the detrend, under the rumble
        // margin: the word is found as with raw energies (which keep the
        // voice below 250 Hz, so it rises further above hiss).
        use rand::SeedableRng;
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(4);
        let mut x: Vec<f32> = crate::augment::white(24_000, &mut rng)
            .into_iter()
            .map(|v| 0.05 * v)
            .collect();
        // A vowel, then 200 ms of a low hum-like tail (100 Hz: a man's
        // fundamental, which the detrend takes out).
        let tail =
            (0..1600).map(|i| 0.3 * (std::f32::consts::TAU * 100.0 * i as f32 / 8000.0).sin());
        for (v, w) in x[8000..12_000]
            .iter_mut()
            .zip(tone(2400, 0.5).into_iter().chain(tail))
        {
            *v += w;
        }
        let cfg = EndpointConfig::default();
        let raw = EndpointConfig {
            detrend_degree: None,
            ..cfg.clone()
        };
        let always = EndpointConfig {
            rumble_margin_db: 0.0,
            ..cfg.clone()
        };
        let found = |c: &EndpointConfig| find_word(c, &x, 8000, &mut Vec::new()).range;
        assert_eq!(found(&cfg), found(&raw));
        assert_ne!(found(&always), found(&raw));
    }

    #[test]
    fn disabled_keeps_everything() {
        let cfg = EndpointConfig {
            enabled: false,
            ..EndpointConfig::default()
        };
        assert_eq!(
            find_word(&cfg, &[0.0; 100], 8000, &mut Vec::new()).range,
            0..100
        );
    }

    #[test]
    fn block_powers_are_the_two_sections_sample_by_sample() {
        // Noise, a tone, silence and a partial last block; at 8 and 44.1 kHz.
        let mut x: Vec<f32> = (0..3000u32)
            .map(|i| ((i.wrapping_mul(2_654_435_761) >> 8) as f32 / 8_388_608.0 - 1.0) * 0.3)
            .collect();
        x.extend(tone(2000, 0.5));
        x.extend(vec![0.0; 517]);
        for rate in [8000, 44_100] {
            let filter = HighPass::new(RISE_HIGHPASS_HZ, rate);
            let mut fast = Vec::new();
            filter.block_powers_twice(&x, 80, &mut fast);
            // Each section's state as ([x1, x2], [y1, y2]), stepped one
            // sample at a time.
            let (b, a) = (filter.b, filter.a);
            let step = |(xs, ys): &mut ([f32; 2], [f32; 2]), v: f32| {
                let y = b[0] * v + b[1] * xs[0] + b[2] * xs[1] - a[0] * ys[0] - a[1] * ys[1];
                *xs = [v, xs[0]];
                *ys = [y, ys[0]];
                y
            };
            let mut sections = [([0.0f32; 2], [0.0f32; 2]); 2];
            let reference: Vec<f32> = x
                .chunks(80)
                .map(|chunk| {
                    chunk
                        .iter()
                        .map(|&v| {
                            let y = sections.iter_mut().fold(v, |v, s| step(s, v));
                            y * y
                        })
                        .sum::<f32>()
                        / chunk.len() as f32
                })
                .collect();
            let bits = |v: &[f32]| v.iter().map(|p| p.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&reference), "{rate} Hz");
        }
    }
}
