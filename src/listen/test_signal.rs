//! Test signals for the listen unit tests: seeded room noise and
//! vowel-like bursts at 16 kHz.

pub const RATE: u32 = 16_000;

/// Deterministic low noise (xorshift), amplitude `amp`.
pub fn noise(n: usize, amp: f32, seed: &mut u64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            ((*seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0 * amp
        })
        .collect()
}

/// A vowel-ish burst: a 200 Hz harmonic tone.
pub fn burst(ms: usize, amp: f32) -> Vec<f32> {
    let n = ms * RATE as usize / 1000;
    (0..n)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            amp * ((2.0 * std::f32::consts::PI * 200.0 * t).sin()
                + 0.5 * (2.0 * std::f32::consts::PI * 600.0 * t).sin())
        })
        .collect()
}

pub fn mix(base: &mut [f32], at_ms: usize, add: &[f32]) {
    let at = at_ms * RATE as usize / 1000;
    for (b, a) in base[at..].iter_mut().zip(add) {
        *b += a;
    }
}
