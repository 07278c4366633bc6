//! The VAD on synthetic streams: pauses, clicks, breaths, digital
//! silence, a word at the very start, an over-long utterance, a fan.

use super::*;
use crate::listen::test_signal::{burst, mix, noise, RATE};

fn segment(signal: &[f32], block: usize) -> Vec<Utterance> {
    let mut vad = Vad::new(VadConfig::default(), RATE).unwrap();
    let mut out = Vec::new();
    for c in signal.chunks(block) {
        vad.push(c, &mut out);
    }
    vad.flush(&mut out);
    out
}

#[test]
fn finds_words_separated_by_short_pauses() {
    let mut seed = 7;
    let mut x = noise(RATE as usize * 3, 0.002, &mut seed);
    mix(&mut x, 500, &burst(400, 0.3));
    mix(&mut x, 1200, &burst(300, 0.2)); // 300 ms pause
    mix(&mut x, 2000, &burst(200, 0.3));
    // Block size must not matter.
    for block in [1, 37, 160, 4096] {
        let u = segment(&x, block);
        assert_eq!(u.len(), 3, "block {block}: {u:?}");
        for (u, (s, e)) in u.iter().zip([(0.5, 0.9), (1.2, 1.5), (2.0, 2.2)]) {
            assert!((u.start_s - s).abs() < 0.02, "{} vs {s}", u.start_s);
            assert!((u.end_s - e).abs() < 0.02, "{} vs {e}", u.end_s);
            // pad_ms of context each side.
            let len = u.samples.len() as f64 / RATE as f64;
            assert!((len - (e - s + 0.2)).abs() < 0.02, "len {len}");
            // End found after the (early) hangover, not later.
            assert!(u.detected_s - u.end_s <= 0.22, "{}", u.detected_s - u.end_s);
            assert!(!u.too_long);
        }
    }
}

#[test]
fn words_150_ms_apart_are_two_words_after_room_tone() {
    // A quick "one two": a pause shorter than the old 200 ms hangover,
    // after 300 ms of room tone.
    let mut seed = 8;
    let mut x = noise(RATE as usize * 2, 0.002, &mut seed);
    mix(&mut x, 300, &burst(400, 0.3));
    mix(&mut x, 850, &burst(400, 0.3)); // 150 ms pause
    for block in [1, 160, 4096] {
        let u = segment(&x, block);
        assert_eq!(u.len(), 2, "block {block}: {u:?}");
        assert!((u[1].start_s - 0.85).abs() < 0.02, "{}", u[1].start_s);
        assert!(u[0].detected_s - u[0].end_s <= 0.14, "{u:?}");
    }
    // With no room tone before them (a clip cut tight around the
    // words) the floor may be a word's own, and the pause is taken for
    // a gap inside one word.
    let mut y = noise(RATE as usize * 2, 0.002, &mut seed);
    mix(&mut y, 100, &burst(400, 0.3));
    mix(&mut y, 650, &burst(400, 0.3));
    assert_eq!(segment(&y, 160).len(), 1);
}

#[test]
fn ignores_room_tone_clicks_and_quiet_breaths() {
    let mut seed = 11;
    let mut x = noise(RATE as usize * 4, 0.002, &mut seed);
    mix(&mut x, 1000, &burst(20, 0.5)); // click
    mix(&mut x, 2000, &noise(400, 0.006, &mut seed)); // breath: +~10 dB
    let u = segment(&x, 160);
    assert!(u.is_empty(), "{u:?}");
}

#[test]
fn digital_silence_then_room_tone_is_not_speech() {
    // A virtual source idles at exact zeros before audio starts; the
    // first frame of room tone may be partly zeros.
    for offset in [0, 70, 150] {
        let mut seed = 3;
        let mut x = vec![0.0; RATE as usize + offset];
        x.extend(noise(RATE as usize * 2 - offset, 0.003, &mut seed));
        let at = x.len();
        x.extend(noise(RATE as usize, 0.003, &mut seed));
        mix(&mut x, at * 1000 / RATE as usize, &burst(300, 0.3));
        let u = segment(&x, 480);
        assert_eq!(u.len(), 1, "offset {offset}: {u:?}");
        assert!((u[0].start_s - 3.0).abs() < 0.02);
    }
}

#[test]
fn a_word_at_the_start_of_the_stream_is_heard() {
    // The first floor is the word's own level; the room comes after.
    for block in [1, 37, 160, 4096] {
        let mut seed = 12;
        let mut x = noise(RATE as usize * 2, 0.002, &mut seed);
        mix(&mut x, 0, &burst(300, 0.3));
        let u = segment(&x, block);
        assert_eq!(u.len(), 1, "block {block}: {u:?}");
        assert!(u[0].start_s < 0.01, "{}", u[0].start_s);
        assert!((u[0].end_s - 0.3).abs() < 0.02, "{}", u[0].end_s);
        // From the first sample to pad_ms after the word, untouched.
        assert_eq!(u[0].samples[..100], x[..100]);
        let len = u[0].samples.len() as f64 / RATE as f64;
        assert!((len - 0.4).abs() < 0.02, "len {len}");
        // Found when the (early) hangover ends, as anywhere else.
        assert!(u[0].detected_s - u[0].end_s <= 0.22);
    }
    // A steady sound from the start, and nothing else, is no word.
    assert!(segment(&burst(1000, 0.3), 160).is_empty());
}

#[test]
fn too_long_is_cut_and_flagged() {
    // Talk without real pauses: 450 ms sounds, 80 ms dips, for 4 s.
    let mut seed = 5;
    let mut x = noise(RATE as usize * 7, 0.002, &mut seed);
    for k in 0..8 {
        mix(&mut x, 500 + k * 530, &burst(450, 0.3));
    }
    let u = segment(&x, 160);
    assert!(!u.is_empty());
    assert!(u[0].too_long, "{u:?}");
    assert!((u[0].start_s - 0.5).abs() < 0.02);
}

#[test]
fn a_fan_switched_on_becomes_the_new_floor() {
    let mut seed = 6;
    let mut x = noise(RATE as usize, 0.002, &mut seed);
    x.extend(noise(RATE as usize * 5, 0.01, &mut seed)); // +14 dB, steady
    let at = x.len();
    x.extend(noise(RATE as usize, 0.01, &mut seed));
    mix(&mut x, at * 1000 / RATE as usize + 300, &burst(300, 0.3));
    let u = segment(&x, 160);
    assert_eq!(u.len(), 1, "{u:?}");
    assert!((u[0].start_s - 6.3).abs() < 0.02, "{}", u[0].start_s);
}
