//! The front end over a recording too long to hold in memory (an hour at
//! 48 kHz is 691 MB of mono samples): the very computation of
//! [`FrameExtractor::frames`], in passes over the file, a block at a time.
//!
//! 1. The DC offset: the mean of every sample, summed in the same eight
//!    lanes as [`super::mean`].
//! 2. The centred samples through [`StreamResampler`] (sample for sample
//!    the whole-clip resampler's output) into the endpoint detector's
//!    per-block measures ([`BlockMeasures`]), which find the word and its
//!    rise as [`endpoint::find_word`] and [`endpoint::word_rise_db`] would.
//! 3. The same again, keeping only the word's samples, for the MFCC frames.
//!
//! Memory: a few floats per 10 ms block (under 6 MB an hour) and the word,
//! which may last at most [`MAX_WORD_SECONDS`].

use crate::audio::{Replay, StreamResampler, MODEL_RATE};

use super::endpoint::BlockMeasures;
use super::{endpoint, FeatureError, FrameExtractor, FrontEnd, Result};

/// The longest stretch the front end takes as one word from a long
/// recording: far past any spoken digit, and 2.4 MB at the model rate.
pub const MAX_WORD_SECONDS: f64 = 300.0;

/// The DC offset as [`super::mean`] sums it: eight lanes over the samples
/// in order, the last partial group of eight summed apart.
#[derive(Default)]
struct LaneMean {
    lanes: [f32; 8],
    group: [f32; 8],
    filled: usize,
    n: usize,
}

impl LaneMean {
    fn push(&mut self, samples: &[f32]) {
        self.n += samples.len();
        for &v in samples {
            self.group[self.filled] = v;
            self.filled += 1;
            if self.filled == 8 {
                for (l, g) in self.lanes.iter_mut().zip(&self.group) {
                    *l += g;
                }
                self.filled = 0;
            }
        }
    }

    fn mean(&self) -> f32 {
        let tail: f32 = self.group[..self.filled].iter().sum();
        (self.lanes.iter().sum::<f32>() + tail) / self.n.max(1) as f32
    }
}

impl FrameExtractor {
    /// [`Self::frames`] of the recording `source` replays: the same frames,
    /// bit for bit, in three passes over it. The rise is measured too (as
    /// [`Self::word_rise_db`] then gives it).
    pub fn frames_replayed(
        &mut self,
        source: &mut dyn Replay,
        out: &mut Vec<f32>,
    ) -> Result<usize> {
        let rate = source.sample_rate();
        let mut dc = LaneMean::default();
        source.replay(&mut |b| dc.push(b))?;
        if dc.n == 0 {
            return Err(FeatureError::Empty);
        }
        let (total, dc) = (dc.n, dc.mean());
        // The conditioned signal, a block at a time, to `sink`.
        let conditioned = |source: &mut dyn Replay, sink: &mut dyn FnMut(&[f32])| -> Result<()> {
            let mut resampler = StreamResampler::new(rate, total)?;
            let mut centred = Vec::new();
            let mut failed = None;
            source.replay(&mut |b| {
                if failed.is_some() {
                    return;
                }
                centred.clear();
                centred.extend(b.iter().map(|v| v - dc));
                if let Err(e) = resampler.push(&centred, sink) {
                    failed = Some(e);
                }
            })?;
            failed.map_or(Ok(()), |e| Err(e.into()))
        };
        let cfg = self.config.endpoint.clone();
        let mut measures = BlockMeasures::new(&cfg, MODEL_RATE);
        conditioned(source, &mut |b| measures.push(b))?;
        let (word, rise) = measures.finish(&cfg, MODEL_RATE);
        let seconds = word.range.len() as f64 / f64::from(MODEL_RATE);
        if seconds > MAX_WORD_SECONDS {
            return Err(FeatureError::LongWord { seconds });
        }
        let mut samples = Vec::with_capacity(word.range.len());
        let mut at = 0usize;
        conditioned(source, &mut |b| {
            let (lo, hi) = (word.range.start.max(at), word.range.end.min(at + b.len()));
            if lo < hi {
                samples.extend_from_slice(&b[lo - at..hi - at]);
            }
            at += b.len();
        })?;
        self.word_rise_db = Some(rise);
        Ok(self.mfcc.compute(&samples, out))
    }
}

impl FrontEnd {
    /// [`Self::features`] of a recording too long to hold (see
    /// [`FrameExtractor::frames_replayed`]).
    pub fn features_replayed(&mut self, source: &mut dyn Replay, out: &mut Vec<f32>) -> Result<()> {
        let n = self.extractor.frames_replayed(source, &mut self.frames)?;
        self.pool(n, out);
        Ok(())
    }
}

// `endpoint` is named in the docs above.
#[allow(unused_imports)]
use endpoint as _;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::Audio;
    use crate::features::{FrontEndConfig, Standardizer};

    /// Four FSDD clips with a second of quiet between them, at `rate`.
    fn recording(rate: u32) -> Audio {
        let mut samples = Vec::new();
        for name in [
            "3_theo_1.wav",
            "8_george_2.wav",
            "5_lucas_0.wav",
            "0_nicolas_3.wav",
        ] {
            let clip = crate::audio::read_wav(&crate::data::shared_fsdd_dir().join(name)).unwrap();
            samples.extend(std::iter::repeat_n(0.001, rate as usize));
            if rate == MODEL_RATE {
                samples.extend_from_slice(&clip.samples);
            } else {
                // Up, with an independent linear interpolation.
                let n = clip.samples.len() * rate as usize / 8000;
                samples.extend((0..n).map(|i| {
                    let pos = i as f64 * 8000.0 / f64::from(rate);
                    let (i0, w) = (pos as usize, (pos.fract()) as f32);
                    let i1 = (i0 + 1).min(clip.samples.len() - 1);
                    clip.samples[i0] * (1.0 - w) + clip.samples[i1] * w
                }));
            }
        }
        Audio {
            samples,
            sample_rate: rate,
        }
    }

    /// In passes, a block at a time, the front end computes exactly what it
    /// computes with the whole recording in memory: the same pooled vector,
    /// bit for bit, and the same rise, for every block size and rate, with
    /// and without the rumble detrend.
    #[test]
    fn passes_over_a_recording_give_the_in_memory_features_exactly() {
        let mut rumble = FrontEndConfig::recommended();
        rumble.endpoint.rumble_margin_db = 0.0;
        for config in [FrontEndConfig::recommended(), rumble] {
            let cmvn = Standardizer::identity(config.mfcc.frame_dim());
            for rate in [8000, 22_050, 48_000] {
                let audio = recording(rate);
                let mut whole = FrontEnd::new(&config, cmvn.clone()).unwrap();
                let mut expected = Vec::new();
                whole.features(&audio.samples, rate, &mut expected).unwrap();
                let rise = whole.word_rise_db();
                for block in [333, 4096, 65_536] {
                    let mut long = FrontEnd::new(&config, cmvn.clone()).unwrap();
                    let mut got = Vec::new();
                    long.features_replayed(&mut (&audio, block), &mut got)
                        .unwrap();
                    assert_eq!(got, expected, "{rate} Hz, blocks of {block}");
                    assert_eq!(long.word_rise_db(), rise, "{rate} Hz, blocks of {block}");
                }
            }
        }
    }
}
