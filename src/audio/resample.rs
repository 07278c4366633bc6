//! Resampling to [`MODEL_RATE`] with rubato: [`Resampler8k`] for a clip in
//! memory, and [`StreamResampler`], the same computation a block at a time
//! for a recording too long to hold (sample for sample what
//! [`Resampler8k`] gives for the whole).

use std::collections::HashMap;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};

use super::{check_spec, AudioError, Result, MODEL_RATE};

/// rubato's chunk: input frames per FFT step.
const CHUNK: usize = 1024;

fn new_fft(rate: u32) -> Result<Fft<f32>> {
    Fft::<f32>::new(
        rate as usize,
        MODEL_RATE as usize,
        CHUNK,
        1,
        FixedSync::Both,
    )
    .map_err(|err| AudioError::Resample {
        from: rate,
        reason: err.to_string(),
    })
}

/// Converts any input rate to [`MODEL_RATE`], building one rubato resampler
/// per input rate the first time it is seen and reusing it after.
#[derive(Default)]
pub struct Resampler8k {
    by_rate: HashMap<u32, Fft<f32>>,
}

impl std::fmt::Debug for Resampler8k {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler8k")
            .field("rates", &self.by_rate.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Resampler8k {
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns `samples` at [`MODEL_RATE`], writing into `out` (cleared first).
    /// At 8 kHz already this is a copy.
    pub fn to_model_rate(&mut self, samples: &[f32], rate: u32, out: &mut Vec<f32>) -> Result<()> {
        out.clear();
        if rate == MODEL_RATE {
            out.extend_from_slice(samples);
            return Ok(());
        }
        check_spec(rate, 1)?;
        if samples.is_empty() {
            return Ok(());
        }
        let fail = |reason: String| AudioError::Resample { from: rate, reason };
        let resampler = match self.by_rate.entry(rate) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(new_fft(rate)?),
        };
        resampler.reset();
        let needed = resampler.process_all_needed_output_len(samples.len());
        out.resize(needed, 0.0);
        let input =
            InterleavedSlice::new(samples, 1, samples.len()).map_err(|e| fail(e.to_string()))?;
        let mut output = InterleavedSlice::new_mut(out.as_mut_slice(), 1, needed)
            .map_err(|e| fail(e.to_string()))?;
        let (_, produced) = resampler
            .process_all_into_buffer(&input, &mut output, samples.len(), None)
            .map_err(|e| fail(e.to_string()))?;
        let expected = (samples.len() as u64 * MODEL_RATE as u64).div_ceil(rate as u64) as usize;
        out.truncate(produced.min(expected));
        Ok(())
    }
}

/// [`Resampler8k::to_model_rate`] over a recording of `total` samples fed
/// a block at a time: the same chunks through the same rubato resampler,
/// its start-up delay dropped and its output cut to the same length, so the
/// result is identical, sample for sample, whatever the blocks.
pub struct StreamResampler {
    rate: u32,
    fft: Option<Fft<f32>>,
    /// Input frames per step.
    chunk: usize,
    /// Input frames not yet fed / buffered for the next step.
    left: usize,
    input: Vec<f32>,
    output: Vec<f32>,
    /// Output frames still to drop (the resampler's delay).
    to_trim: usize,
    /// Output frames still to hand out.
    to_emit: usize,
    /// Output frames the whole-clip call would go on making.
    to_make: usize,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("rate", &self.rate)
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}

impl StreamResampler {
    /// For `total` samples at `rate`.
    pub fn new(rate: u32, total: usize) -> Result<Self> {
        if rate == MODEL_RATE {
            return Ok(Self {
                rate,
                fft: None,
                chunk: 0,
                left: total,
                input: Vec::new(),
                output: Vec::new(),
                to_trim: 0,
                to_emit: total,
                to_make: 0,
            });
        }
        check_spec(rate, 1)?;
        let fft = new_fft(rate)?;
        let expected = (fft.resample_ratio() * total as f64).ceil() as usize;
        let exact = (total as u64 * MODEL_RATE as u64).div_ceil(rate as u64) as usize;
        Ok(Self {
            rate,
            chunk: fft.input_frames_next(),
            left: total,
            input: Vec::new(),
            output: vec![0.0; fft.output_frames_max()],
            to_trim: fft.output_delay(),
            to_emit: if total == 0 { 0 } else { expected.min(exact) },
            to_make: expected,
            fft: Some(fft),
        })
    }

    /// Feeds the next `samples`, handing what is ready at the model rate to
    /// `emit` (a block at a time). Feeding more than `total` in all is an
    /// error of the caller's; the surplus is ignored.
    pub fn push(&mut self, samples: &[f32], emit: &mut dyn FnMut(&[f32])) -> Result<()> {
        let samples = &samples[..samples.len().min(self.left)];
        if self.fft.is_none() {
            let n = samples.len().min(self.to_emit);
            self.left -= samples.len();
            self.to_emit -= n;
            if n > 0 {
                emit(&samples[..n]);
            }
            return Ok(());
        }
        self.input.extend_from_slice(samples);
        self.left -= samples.len();
        // A full step whenever more than a step remains (the whole-clip
        // call's `frames_left > next`), the rest at the end.
        while self.input.len() >= self.chunk && self.input.len() + self.left > self.chunk {
            self.step(self.chunk, false, emit)?;
            self.input.drain(..self.chunk);
        }
        if self.left == 0 && !self.input.is_empty() {
            let n = self.input.len();
            self.step(n, true, emit)?;
            self.input.clear();
        }
        if self.left == 0 {
            // Zeros pumped through until the output is long enough.
            while self.to_make > 0 {
                self.step(0, true, emit)?;
            }
        }
        Ok(())
    }

    /// One call of the resampler on the first `n` buffered frames; `partial`
    /// for the last ones (and the zeros pumped after them).
    fn step(&mut self, n: usize, partial: bool, emit: &mut dyn FnMut(&[f32])) -> Result<()> {
        let fail = |e: String| AudioError::Resample {
            from: self.rate,
            reason: e,
        };
        let fft = self.fft.as_mut().expect("resampling");
        let indexing = Indexing {
            input_offset: 0,
            output_offset: 0,
            active_channels_mask: None,
            partial_len: partial.then_some(n),
        };
        let input_frames = self.input.len().max(n);
        let input = InterleavedSlice::new(&self.input[..input_frames], 1, input_frames)
            .map_err(|e| fail(e.to_string()))?;
        let out_frames = self.output.len();
        let mut output = InterleavedSlice::new_mut(self.output.as_mut_slice(), 1, out_frames)
            .map_err(|e| fail(e.to_string()))?;
        let (_, made) = fft
            .process_into_buffer(&input, &mut output, Some(&indexing))
            .map_err(|e| fail(e.to_string()))?;
        let mut out = &self.output[..made];
        let trimmed = out.len().min(self.to_trim);
        self.to_trim -= trimmed;
        out = &out[trimmed..];
        self.to_make = self.to_make.saturating_sub(out.len());
        let n_out = out.len().min(self.to_emit);
        self.to_emit -= n_out;
        if n_out > 0 {
            emit(&out[..n_out]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streaming resampler gives the whole-clip resampler's output,
    /// bit for bit, for every rate and length (around rubato's chunk
    /// boundaries) and any block size it is fed in.
    #[test]
    fn streaming_gives_the_whole_clip_output_exactly() {
        let mut whole = Resampler8k::new();
        for rate in [8000, 11_025, 16_000, 44_100, 48_000] {
            for len in [0, 1, 500, 1024, 1025, 5 * 1024, 5 * 1024 + 1, 33_333] {
                let x: Vec<f32> = (0..len)
                    .map(|i| ((i as f32 * 0.37).sin() + (i as f32 * 0.011).cos()) * 0.3)
                    .collect();
                let mut expected = Vec::new();
                whole.to_model_rate(&x, rate, &mut expected).unwrap();
                for block in [1, 7, 1000, 4096, 100_000] {
                    let mut s = StreamResampler::new(rate, len).unwrap();
                    let mut got = Vec::new();
                    for b in x.chunks(block) {
                        s.push(b, &mut |o| got.extend_from_slice(o)).unwrap();
                    }
                    if len == 0 {
                        s.push(&[], &mut |o| got.extend_from_slice(o)).unwrap();
                    }
                    assert_eq!(got, expected, "{rate} Hz, {len} samples, blocks of {block}");
                }
            }
        }
    }
}
