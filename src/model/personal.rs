//! The personal stage: templates of enrolled speakers' own words, matched
//! by dynamic time warping and combined with the SVM's probabilities.
//!
//! A speaker-independent SVM learns what a digit sounds like across the
//! voices it was trained on; a voice far from those gets words wrong in
//! ways no amount of the SVM's own data fixes (see
//! `prompts/adaptation.md`). A few takes of the user's own words fix most
//! of it, the way voice tags on phones did: each word heard is aligned with
//! every stored take by DTW, and the distance to the nearest take of each
//! digit sharpens the SVM's answer,
//! `p'(d) ∝ p(d) · exp(−weight · (D(d) − min D))`.
//!
//! The templates are the CMVN'd static cepstra (c0–c12) of the word that
//! the front end found, two frames averaged into one (20 ms steps): the
//! same frames the SVM's pooled vector is made from, so a template and the
//! word it is compared with come from the very same code.

use serde::{Deserialize, Serialize};

use super::N_CLASSES;

/// Cepstra per template frame: c0–c12, the statics of the front end's frames.
pub const TEMPLATE_DIMS: usize = 13;
/// Template frames are matched in blocks of this many (a template's
/// columns are padded to a multiple of it), so the distance loop runs on
/// whole vector registers.
const LANES: usize = 8;
/// A digit whose combined score `ln p(d) − weight · D(d)` is this far below
/// another digit's has a probability under e⁻¹⁶ (10⁻⁷) of that digit's: its
/// alignments are abandoned there, and it gets probability 0.
const HOPELESS: f32 = 16.0;
/// How many front-end frames are averaged into one template frame.
const DECIMATION: usize = 2;
/// The default of [`Personal::weight`]: over the six leave-one-speaker-out
/// folds of FSDD, weights 2–4 score within half a point of each other with
/// one to three takes per digit (`prompts/adaptation.md`).
pub const DEFAULT_WEIGHT: f32 = 3.0;
/// Most templates one model holds: every enrolled take costs a DTW
/// alignment per word heard.
pub const MAX_TEMPLATES: usize = 1_000;
/// Most frames one template holds (10 s of speech at 20 ms per frame; a
/// digit is well under 1 s).
pub const MAX_TEMPLATE_FRAMES: usize = 500;

/// One enrolled take.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub digit: u8,
    /// Who said it (from the file name), so a household model can replace
    /// one person's takes and keep the others'.
    pub speaker: String,
    /// `n × TEMPLATE_DIMS` values, frame by frame.
    frames: Vec<f32>,
    /// The same values dimension by dimension, each row padded with zeros
    /// to a multiple of [`LANES`] frames (derived, for matching).
    columns: Vec<f32>,
}

impl Template {
    fn new(digit: u8, speaker: String, frames: Vec<f32>) -> Self {
        let n = frames.len() / TEMPLATE_DIMS;
        let padded = n.next_multiple_of(LANES);
        let mut columns = vec![0.0; TEMPLATE_DIMS * padded];
        for (j, f) in frames.chunks_exact(TEMPLATE_DIMS).enumerate() {
            for (k, v) in f.iter().enumerate() {
                columns[k * padded + j] = *v;
            }
        }
        Self {
            digit,
            speaker,
            frames,
            columns,
        }
    }

    /// Frames in this template.
    pub fn len(&self) -> usize {
        self.frames.len() / TEMPLATE_DIMS
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

/// The personal stage of a model: enrolled takes and how much they count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "StoredPersonal", try_from = "StoredPersonal")]
pub struct Personal {
    /// How strongly the DTW distance sharpens the SVM's probabilities.
    pub weight: f32,
    templates: Vec<Template>,
}

/// The file form: cepstra as 8-bit codes with one step per dimension
/// (a quarter of the size; the rounding moves a DTW distance by well under
/// 1 %), applied in memory too, so a fresh model and its file agree.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredPersonal {
    weight: f32,
    scale: Vec<f32>,
    templates: Vec<StoredTemplate>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredTemplate {
    digit: u8,
    speaker: String,
    /// `n × TEMPLATE_DIMS` codes.
    q: Vec<i8>,
}

impl From<Personal> for StoredPersonal {
    fn from(p: Personal) -> Self {
        let mut scale = vec![0.0f32; TEMPLATE_DIMS];
        for t in &p.templates {
            for f in t.frames.chunks_exact(TEMPLATE_DIMS) {
                for (s, v) in scale.iter_mut().zip(f) {
                    *s = s.max(v.abs());
                }
            }
        }
        for s in &mut scale {
            *s = if *s > 0.0 { *s / 127.0 } else { 1.0 };
        }
        let templates = p
            .templates
            .into_iter()
            .map(|t| StoredTemplate {
                digit: t.digit,
                speaker: t.speaker,
                q: t.frames
                    .chunks_exact(TEMPLATE_DIMS)
                    .flat_map(|f| {
                        f.iter()
                            .zip(&scale)
                            .map(|(v, s)| (v / s).round().clamp(-127.0, 127.0) as i8)
                    })
                    .collect(),
            })
            .collect();
        Self {
            weight: p.weight,
            scale,
            templates,
        }
    }
}

impl TryFrom<StoredPersonal> for Personal {
    type Error = String;
    fn try_from(s: StoredPersonal) -> Result<Self, String> {
        if s.scale.len() != TEMPLATE_DIMS || s.scale.iter().any(|v| !v.is_finite() || *v <= 0.0) {
            return Err("personal templates have a malformed scale".into());
        }
        let templates = s
            .templates
            .into_iter()
            .map(|t| {
                if t.q.is_empty() || t.q.len() % TEMPLATE_DIMS != 0 {
                    return Err(format!(
                        "a personal template of {} values is not whole frames of {TEMPLATE_DIMS}",
                        t.q.len()
                    ));
                }
                let frames =
                    t.q.chunks_exact(TEMPLATE_DIMS)
                        .flat_map(|f| f.iter().zip(&s.scale).map(|(&q, &k)| q as f32 * k))
                        .collect();
                Ok(Template::new(t.digit, t.speaker, frames))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self {
            weight: s.weight,
            templates,
        })
    }
}

/// The template frames of a word: the first [`TEMPLATE_DIMS`] values of
/// each CMVN'd front-end frame (`frames`, `frame_dim` wide), every
/// [`DECIMATION`] frames averaged into one, into `out` (frame by frame).
pub fn template_frames(frames: &[f32], frame_dim: usize, out: &mut Vec<f32>) {
    out.clear();
    debug_assert!(frame_dim >= TEMPLATE_DIMS);
    for group in frames.chunks(frame_dim * DECIMATION) {
        let start = out.len();
        out.resize(start + TEMPLATE_DIMS, 0.0);
        let rows = group.chunks_exact(frame_dim);
        let k = 1.0 / rows.len() as f32;
        for row in rows {
            for (o, v) in out[start..].iter_mut().zip(row) {
                *o += v * k;
            }
        }
    }
}

impl Personal {
    /// An empty stage with the given weight.
    pub fn new(weight: f32) -> Self {
        Self {
            weight,
            templates: Vec::new(),
        }
    }

    pub fn templates(&self) -> &[Template] {
        &self.templates
    }

    /// Adds a take from its CMVN'd front-end frames, rounded as the file
    /// stores it (see [`Self::quantized`]).
    pub fn add(&mut self, digit: u8, speaker: &str, frames: &[f32], frame_dim: usize) {
        let mut t = Vec::new();
        template_frames(frames, frame_dim, &mut t);
        self.templates
            .push(Template::new(digit, speaker.to_string(), t));
    }

    /// Drops every take by `speaker`.
    pub fn remove_speaker(&mut self, speaker: &str) {
        self.templates.retain(|t| t.speaker != speaker);
    }

    /// Enrolled speakers, sorted, with their take counts.
    pub fn speakers(&self) -> Vec<(String, usize)> {
        let mut out: std::collections::BTreeMap<&str, usize> = Default::default();
        for t in &self.templates {
            *out.entry(&t.speaker).or_default() += 1;
        }
        out.into_iter().map(|(s, n)| (s.to_string(), n)).collect()
    }

    /// Digits with no take at all.
    pub fn missing_digits(&self) -> Vec<u8> {
        (0..N_CLASSES as u8)
            .filter(|d| !self.templates.iter().any(|t| t.digit == *d))
            .collect()
    }

    /// This stage with its cepstra rounded as the file stores them.
    pub fn quantized(self) -> Self {
        Self::try_from(StoredPersonal::from(self)).expect("a personal stage always round-trips")
    }

    /// Shapes and values a model can use (a decoded file could be crafted).
    pub fn check(&self) -> Result<(), String> {
        if !(self.weight.is_finite() && self.weight >= 0.0) {
            return Err(format!(
                "personal weight {} is not a non-negative number",
                self.weight
            ));
        }
        if self.templates.len() > MAX_TEMPLATES {
            return Err(format!(
                "{} personal templates, at most {MAX_TEMPLATES}",
                self.templates.len()
            ));
        }
        for t in &self.templates {
            if t.digit as usize >= N_CLASSES {
                return Err(format!("a personal template of digit {}", t.digit));
            }
            if t.is_empty() || t.len() > MAX_TEMPLATE_FRAMES {
                return Err(format!(
                    "a personal template of {} frames (1 to {MAX_TEMPLATE_FRAMES})",
                    t.len()
                ));
            }
        }
        let missing = self.missing_digits();
        if !missing.is_empty() {
            return Err(format!("no personal template of digit {}", missing[0]));
        }
        Ok(())
    }

    /// The nearest template's DTW distance for each digit, for the word
    /// whose CMVN'd frames are `frames`, given the SVM's probabilities
    /// `probs`. Digits are aligned most probable first, and an alignment
    /// is abandoned once it cannot beat the digit's nearest take so far, or
    /// once the digit cannot win ([`HOPELESS`]; its distance is then
    /// infinite). `scratch` holds the buffers.
    pub fn distances(
        &self,
        frames: &[f32],
        frame_dim: usize,
        probs: &[f32; N_CLASSES],
        scratch: &mut Scratch,
    ) -> [f32; N_CLASSES] {
        self.distances_without(frames, frame_dim, probs, scratch, None)
    }

    /// [`Self::distances`] as if template `skip` were not there (a digit
    /// left with no template is infinitely far).
    pub fn distances_without(
        &self,
        frames: &[f32],
        frame_dim: usize,
        probs: &[f32; N_CLASSES],
        scratch: &mut Scratch,
        skip: Option<usize>,
    ) -> [f32; N_CLASSES] {
        let mut best = [f32::INFINITY; N_CLASSES];
        if self.weight == 0.0 {
            // The takes count for nothing: every digit equally near.
            return [0.0; N_CLASSES];
        }
        let mut word = std::mem::take(&mut scratch.word);
        template_frames(frames, frame_dim, &mut word);
        // Most probable digits first: their scores bound the others'.
        let mut order: [usize; N_CLASSES] = std::array::from_fn(|d| d);
        order.sort_by(|a, b| probs[*b].total_cmp(&probs[*a]));
        let mut best_score = f32::NEG_INFINITY;
        for d in order {
            let log_p = floored_ln(probs[d]);
            for (i, t) in self.templates.iter().enumerate() {
                if t.digit as usize != d || Some(i) == skip {
                    continue;
                }
                // Beyond this distance, d scores HOPELESS below a digit
                // already aligned (or below its own nearest take so far).
                let limit = best[d].min((log_p - best_score + HOPELESS) / self.weight);
                best[d] = best[d].min(dtw(&word, t, scratch, limit));
            }
            best_score = best_score.max(log_p - self.weight * best[d]);
        }
        scratch.word = word;
        best
    }

    /// The SVM's probabilities `probs` sharpened by the DTW distances
    /// `dist`: `p'(d) ∝ p(d) · exp(−weight · (D(d) − min D))`, normalised.
    /// A digit's probability is floored at 10⁻⁶ first, so a take that
    /// matches closely can overrule an SVM that was sure of another digit.
    pub fn combine(&self, probs: &[f32; N_CLASSES], dist: &[f32; N_CLASSES]) -> [f32; N_CLASSES] {
        let nearest = dist.iter().copied().fold(f32::INFINITY, f32::min);
        let mut score = [0.0f32; N_CLASSES];
        for d in 0..N_CLASSES {
            score[d] = if nearest.is_finite() {
                floored_ln(probs[d]) - self.weight * (dist[d] - nearest)
            } else {
                floored_ln(probs[d])
            };
        }
        let top = score.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for s in &mut score {
            *s = (*s - top).exp();
            sum += *s;
        }
        for s in &mut score {
            *s /= sum;
        }
        score
    }
}

/// `ln p`, with `p` floored at 10⁻⁶ so a close take can overrule an SVM
/// that was sure of another digit.
fn floored_ln(p: f32) -> f32 {
    p.max(1e-6).ln()
}

/// Buffers for [`Personal::distances`], reused from word to word.
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    word: Vec<f32>,
    dist: Vec<f32>,
    from_below: Vec<f32>,
    prev: Vec<f32>,
    cur: Vec<f32>,
}

/// Symmetric DTW (Sakoe and Chiba's: a diagonal step counts the local
/// squared distance twice, so every path weighs `n + m`), normalised by
/// `n + m`: the mean squared distance along the best alignment of the
/// word's frames (`word`, frame by frame) and the template. Infinite once
/// every partial alignment costs more than `limit` (costs only grow).
fn dtw(word: &[f32], t: &Template, s: &mut Scratch, limit: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, the only feature `row_distances_avx2` needs.
        return dtw_with(word, t, s, limit, |frame, columns, out| unsafe {
            row_distances_avx2(frame, columns, out)
        });
    }
    dtw_with(word, t, s, limit, row_distances)
}

/// [`dtw`] with `distances(frame, columns, out)` filling `out` with the
/// squared distance of one word frame to every template frame.
#[inline(always)]
fn dtw_with(
    word: &[f32],
    t: &Template,
    s: &mut Scratch,
    limit: f32,
    distances: impl Fn(&[f32], &[f32], &mut [f32]),
) -> f32 {
    let (n, m) = (word.len() / TEMPLATE_DIMS, t.len());
    if n == 0 || m == 0 {
        return f32::INFINITY;
    }
    let give_up = limit * (n + m) as f32;
    s.dist.resize(t.columns.len() / TEMPLATE_DIMS, 0.0);
    s.from_below.resize(m, 0.0);
    // Row i: the cost of aligning the word's first i frames with the
    // template's first j at index j, behind a column of infinity (index 0)
    // so no step needs a branch.
    s.prev.clear();
    s.prev.resize(m + 1, f32::INFINITY);
    s.prev[0] = 0.0;
    s.cur.clear();
    s.cur.resize(m + 1, f32::INFINITY);
    for frame in word.chunks_exact(TEMPLATE_DIMS) {
        distances(frame, &t.columns, &mut s.dist);
        // Steps from the row before (diagonal, vertical), then the serial
        // steps along the row (slices of one length: no bounds checks).
        let dist = &s.dist[..m];
        let (from_below, prev) = (&mut s.from_below[..m], &s.prev[..=m]);
        for (((f, d), p0), p1) in from_below.iter_mut().zip(dist).zip(prev).zip(&prev[1..]) {
            *f = min(p0 + 2.0 * d, p1 + d);
        }
        let mut left = f32::INFINITY;
        let mut row_min = f32::INFINITY;
        for ((c, f), d) in s.cur[1..=m].iter_mut().zip(&*from_below).zip(dist) {
            left = min(*f, left + d);
            *c = left;
            row_min = min(row_min, left);
        }
        if row_min > give_up {
            return f32::INFINITY;
        }
        std::mem::swap(&mut s.prev, &mut s.cur);
        s.cur[0] = f32::INFINITY;
    }
    if s.prev[m] > give_up {
        return f32::INFINITY;
    }
    s.prev[m] / (n + m) as f32
}

/// The smaller of two costs (never NaN here, so no NaN handling: one
/// instruction instead of `f32::min`'s several).
#[inline(always)]
fn min(a: f32, b: f32) -> f32 {
    if a < b {
        a
    } else {
        b
    }
}

/// Squared distances of `frame` ([`TEMPLATE_DIMS`] values) to every frame
/// of a template's `columns`, into `out` (one per padded frame), summed
/// dimension by dimension for [`LANES`] frames at a time.
fn row_distances(frame: &[f32], columns: &[f32], out: &mut [f32]) {
    let padded = out.len();
    for (b, block) in out.chunks_exact_mut(LANES).enumerate() {
        let mut acc = [0.0f32; LANES];
        for (k, x) in frame.iter().enumerate() {
            let c = &columns[k * padded + b * LANES..][..LANES];
            for l in 0..LANES {
                let e = x - c[l];
                acc[l] += e * e;
            }
        }
        block.copy_from_slice(&acc);
    }
}

/// [`row_distances`] in AVX2: the same operations on eight frames at once,
/// in the same order, so both give identical results (no FMA).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn row_distances_avx2(frame: &[f32], columns: &[f32], out: &mut [f32]) {
    use std::arch::x86_64::*;
    let padded = out.len();
    assert!(columns.len() >= frame.len() * padded && padded.is_multiple_of(LANES));
    for (b, block) in out.chunks_exact_mut(LANES).enumerate() {
        let mut acc = _mm256_setzero_ps();
        for (k, x) in frame.iter().enumerate() {
            // SAFETY: `k < frame.len()` and `b * LANES + LANES <= padded`,
            // so the eight values read lie inside `columns` (asserted).
            let c = unsafe { _mm256_loadu_ps(columns.as_ptr().add(k * padded + b * LANES)) };
            let e = _mm256_sub_ps(_mm256_set1_ps(*x), c);
            acc = _mm256_add_ps(acc, _mm256_mul_ps(e, e));
        }
        // SAFETY: `block` is LANES = 8 floats; unaligned store.
        unsafe { _mm256_storeu_ps(block.as_mut_ptr(), acc) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames whose first cepstrum takes the given values, the rest zero.
    fn frames(values: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0; values.len() * TEMPLATE_DIMS];
        for (f, v) in out.chunks_exact_mut(TEMPLATE_DIMS).zip(values) {
            f[0] = *v;
        }
        out
    }

    fn align(a: &[f32], b: &[f32]) -> f32 {
        let t = Template::new(0, "x".into(), frames(b));
        dtw(&frames(a), &t, &mut Scratch::default(), f32::INFINITY)
    }

    #[test]
    fn dtw_of_a_sequence_with_itself_is_zero_and_stretching_it_costs_nothing() {
        assert_eq!(align(&[0.0, 1.0, 3.0], &[0.0, 1.0, 3.0]), 0.0);
        // Each frame said twice as long: the alignment absorbs it.
        let slow = [0.0, 0.0, 1.0, 1.0, 3.0, 3.0];
        assert_eq!(align(&[0.0, 1.0, 3.0], &slow), 0.0);
        assert_eq!(align(&slow, &[0.0, 1.0, 3.0]), 0.0);
    }

    #[test]
    fn dtw_matches_hand_computed_alignments() {
        // [0, 2] against [1]: both frames align with the one, the start
        // counted twice: 2·1 + 1 = 3, over n + m = 3.
        assert_eq!(align(&[0.0, 2.0], &[1.0]), 1.0);
        // [0, 0] against [0, 3]: the diagonal (0,0) → (1,1) would cost
        // 2·0 + 2·9 = 18; the best path goes (0,0) 0 → (1,0) 0 → (1,1) 9,
        // over n + m = 4.
        assert_eq!(align(&[0.0, 0.0], &[0.0, 3.0]), 2.25);
        // Longer than one block of LANES frames.
        let long: Vec<f32> = (0..21).map(|v| v as f32).collect();
        assert_eq!(align(&long, &long), 0.0);
        // Shifted by one frame: the first and last frames are 1 apart, the
        // start counts twice: (2 + 1) / 40.
        assert_eq!(align(&long[..20], &long[1..]), 3.0 / 40.0);
    }

    #[test]
    fn an_alignment_is_abandoned_only_beyond_its_limit() {
        let t = Template::new(0, "x".into(), frames(&[0.0, 3.0]));
        let word = frames(&[0.0, 0.0]);
        let mut s = Scratch::default();
        assert_eq!(dtw(&word, &t, &mut s, 2.25), 2.25);
        assert_eq!(dtw(&word, &t, &mut s, 2.0), f32::INFINITY);
        // Given up on after the first of three rows.
        let word = frames(&[5.0, 0.0, 0.0]);
        assert_eq!(dtw(&word, &t, &mut s, 1.0), f32::INFINITY);
    }

    #[test]
    fn template_frames_average_pairs_of_the_first_thirteen_values() {
        let dim = 15;
        let frames: Vec<f32> = (0..3 * dim).map(|v| v as f32).collect();
        let mut out = Vec::new();
        template_frames(&frames, dim, &mut out);
        assert_eq!(out.len(), 2 * TEMPLATE_DIMS);
        // Frames 0 and 1 averaged; frame 2 alone.
        assert_eq!(out[0], 7.5);
        assert_eq!(out[12], 19.5);
        assert_eq!(out[TEMPLATE_DIMS], 30.0);
    }

    #[test]
    fn pruned_distances_equal_exhaustive_ones_wherever_a_digit_can_win() {
        let mut p = Personal::new(DEFAULT_WEIGHT);
        let wave = |d: usize, k: usize, len: usize| -> Vec<f32> {
            (0..len * TEMPLATE_DIMS)
                .map(|v| ((v as f32) * 0.05 * (d + 1) as f32 + k as f32 * 0.3).sin() * 2.0)
                .collect()
        };
        for d in 0..N_CLASSES {
            for k in 0..3 {
                p.add(d as u8, "ann", &wave(d, k, 30 + 4 * k), TEMPLATE_DIMS);
            }
        }
        let mut s = Scratch::default();
        let probs = [0.1f32; N_CLASSES];
        for d in 0..N_CLASSES {
            let word = wave(d, 1, 33);
            let pruned = p.distances(&word, TEMPLATE_DIMS, &probs, &mut s);
            let mut tf = Vec::new();
            template_frames(&word, TEMPLATE_DIMS, &mut tf);
            let mut exact = [f32::INFINITY; N_CLASSES];
            for t in p.templates() {
                let v = dtw(&tf, t, &mut s, f32::INFINITY);
                exact[t.digit as usize] = exact[t.digit as usize].min(v);
            }
            let top = (0..N_CLASSES)
                .map(|c| floored_ln(probs[c]) - p.weight * exact[c])
                .fold(f32::NEG_INFINITY, f32::max);
            for c in 0..N_CLASSES {
                if floored_ln(probs[c]) - p.weight * exact[c] > top - HOPELESS {
                    assert_eq!(
                        pruned[c], exact[c],
                        "word {d}, digit {c}: {pruned:?} {exact:?}"
                    );
                } else {
                    // Abandoned, or aligned before a nearer digit was found.
                    assert!(pruned[c] == f32::INFINITY || pruned[c] == exact[c]);
                }
            }
            assert_eq!(p.combine(&probs, &pruned)[d], p.combine(&probs, &exact)[d]);
        }
    }

    #[test]
    fn combine_keeps_the_svm_answer_when_takes_are_equally_near_and_follows_a_clear_match() {
        let p = Personal::new(3.0);
        let mut probs = [0.02f32; N_CLASSES];
        probs[4] = 0.82;
        let even = p.combine(&probs, &[1.0; N_CLASSES]);
        for (a, b) in even.iter().zip(&probs) {
            assert!((a - b).abs() < 1e-6);
        }
        let mut dist = [4.0f32; N_CLASSES];
        dist[7] = 1.0;
        let sharpened = p.combine(&probs, &dist);
        let best = (0..N_CLASSES).max_by(|a, b| sharpened[*a].total_cmp(&sharpened[*b]));
        assert_eq!(best, Some(7));
        assert!((sharpened.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn the_stored_form_round_trips_and_refuses_malformed_templates() {
        let mut p = Personal::new(2.5);
        for d in 0..10u8 {
            let frames: Vec<f32> = (0..TEMPLATE_DIMS * 6)
                .map(|v| (v as f32 * 0.37 + d as f32).sin())
                .collect();
            p.add(d, "ann", &frames, TEMPLATE_DIMS);
        }
        let q = p.clone().quantized();
        assert_eq!(q.clone().quantized(), q, "rounding twice changes nothing");
        assert!(q.check().is_ok());
        let mut stored = StoredPersonal::from(q);
        stored.templates[0].q.pop();
        assert_eq!(
            Personal::try_from(stored).unwrap_err(),
            "a personal template of 38 values is not whole frames of 13"
        );
        let mut missing = p.clone();
        missing.remove_speaker("ann");
        assert_eq!(
            missing.check().unwrap_err(),
            "no personal template of digit 0"
        );
    }
}
