//! Energy-based endpoint detection: find the spoken word in a clip.
//!
//! FSDD clips are already trimmed; microphone recordings are not. Trimming
//! runs inside the front end, identically for training and inference, so a
//! clip with a second of room tone around the word gives the same frames as
//! the clean clip.
//!
//! Method: block energies (10 ms at 8 kHz) in dB; the noise floor is a low
//! percentile of them. Speech is what rises `floor_margin_db` above the floor
//! and is within `range_db` of the loudest block. Starting from the loudest
//! block, the word grows outwards across speech blocks, bridging gaps up to
//! `max_gap_ms` (stop closures in "eight", "six"), then gains `margin_ms` on
//! each side.

use serde::{Deserialize, Serialize};

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
    /// Quiet stretches shorter than this inside a word are kept.
    pub max_gap_ms: f32,
    /// Kept on each side of the detected word.
    pub margin_ms: f32,
    /// The word is never trimmed shorter than this.
    pub min_ms: f32,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            block: 80,
            floor_margin_db: 9.0,
            range_db: 30.0,
            max_gap_ms: 250.0,
            margin_ms: 30.0,
            min_ms: 120.0,
        }
    }
}

/// Returns the sample range of the word in `samples` (at `rate`).
/// `energies` is scratch space, reused across calls.
pub fn find_word(
    cfg: &EndpointConfig,
    samples: &[f32],
    rate: u32,
    energies: &mut Vec<f32>,
) -> std::ops::Range<usize> {
    let n = samples.len();
    if !cfg.enabled || n == 0 {
        return 0..n;
    }
    let block = cfg.block.max(1);
    energies.clear();
    energies.extend(samples.chunks(block).map(|c| {
        let e = c.iter().map(|x| x * x).sum::<f32>() / c.len() as f32;
        10.0 * (e + 1e-12).log10()
    }));
    let nb = energies.len();
    let (peak_ix, peak) =
        energies
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |a, (i, e)| if e > a.1 { (i, e) } else { a },
            );
    // The floor is found on a copy in the scratch's second half, so the
    // energies keep their order and nothing is allocated per call.
    energies.extend_from_within(..nb);
    let floor = quantile_in_place(&mut energies[nb..], 0.1);
    energies.truncate(nb);
    let threshold = (floor + cfg.floor_margin_db).max(peak - cfg.range_db);
    let ms_to_blocks = |ms: f32| ((ms / 1000.0 * rate as f32) / block as f32).round() as usize;
    let max_gap = ms_to_blocks(cfg.max_gap_ms);
    let is_speech = |i: usize| energies[i] > threshold;

    let mut first = peak_ix;
    let mut gap = 0;
    for i in (0..peak_ix).rev() {
        if is_speech(i) {
            first = i;
            gap = 0;
        } else {
            gap += 1;
            if gap > max_gap {
                break;
            }
        }
    }
    let mut last = peak_ix;
    gap = 0;
    for i in peak_ix + 1..nb {
        if is_speech(i) {
            last = i;
            gap = 0;
        } else {
            gap += 1;
            if gap > max_gap {
                break;
            }
        }
    }
    let margin = ms_to_blocks(cfg.margin_ms);
    let mut start = first.saturating_sub(margin) * block;
    let mut end = ((last + 1 + margin) * block).min(n);
    let min_len = ((cfg.min_ms / 1000.0) * rate as f32) as usize;
    if end - start < min_len {
        let centre = (start + end) / 2;
        start = centre.saturating_sub(min_len / 2);
        end = (start + min_len).min(n);
        start = end.saturating_sub(min_len);
    }
    start..end
}

/// The `q` quantile (0..=1) of `values`, which it reorders.
fn quantile_in_place(values: &mut [f32], q: f32) -> f32 {
    let k = ((values.len() - 1) as f32 * q).round() as usize;
    *values.select_nth_unstable_by(k, |a, b| a.total_cmp(b)).1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize, amp: f32) -> Vec<f32> {
        (0..n).map(|i| amp * (i as f32 * 0.3).sin()).collect()
    }

    #[test]
    fn finds_a_tone_between_silences() {
        let mut x = vec![0.0f32; 8000];
        x.extend(tone(4000, 0.5));
        x.extend(vec![0.0f32; 8000]);
        let r = find_word(&EndpointConfig::default(), &x, 8000, &mut Vec::new());
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
        let r = find_word(&EndpointConfig::default(), &x, 8000, &mut Vec::new());
        assert_eq!(r, 0..4800 + 240);
    }

    #[test]
    fn disabled_keeps_everything() {
        let cfg = EndpointConfig {
            enabled: false,
            ..EndpointConfig::default()
        };
        assert_eq!(find_word(&cfg, &[0.0; 100], 8000, &mut Vec::new()), 0..100);
    }
}
