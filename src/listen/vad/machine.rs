//! The VAD's state machine: a frame at a time, it opens an utterance,
//! extends it, and closes it after the hangover (or at the maximum length),
//! emitting it when it was long and loud enough.

use std::time::Instant;

use super::{Utterance, Vad, VadState};

impl Vad {
    /// The state machine: one frame at stream position `start` and `level`
    /// (dBFS), against `floor`.
    pub(super) fn step(
        &mut self,
        frame: &[f32],
        level: f32,
        floor: Option<f32>,
        start: u64,
        out: &mut Vec<Utterance>,
    ) {
        let end = start + frame.len() as u64;
        // Until some sound was heard there is nothing to compare against.
        let Some(floor) = floor else {
            self.remember(frame);
            return;
        };
        match self.state {
            VadState::Idle => {
                if level > floor + self.cfg.start_db {
                    self.state = VadState::Speech;
                    self.utt.clear();
                    self.utt.extend(self.history.iter());
                    self.utt_first = start - self.history.len() as u64;
                    self.utt.extend_from_slice(frame);
                    self.first_speech = start;
                    self.last_speech_end = end;
                    self.speech_frames = 1;
                    self.peak_db = level;
                    self.silent_frames = 0;
                } else {
                    self.remember(frame);
                    self.quiet_frames = (self.quiet_frames + 1).min(self.room_tone_frames);
                }
            }
            VadState::Speech => {
                self.utt.extend_from_slice(frame);
                if level > floor + self.cfg.continue_db {
                    self.speech_frames += 1;
                    self.last_speech_end = end;
                    self.peak_db = self.peak_db.max(level);
                    self.silent_frames = 0;
                } else {
                    self.silent_frames += 1;
                }
                if self.silent_frames >= self.hangover() {
                    self.finish(end, false, false, out);
                    self.state = VadState::Idle;
                } else if (end - self.first_speech) as usize >= self.max_len {
                    self.finish(end, true, false, out);
                    self.state = VadState::WaitSilence;
                    self.silent_frames = 0;
                }
            }
            VadState::WaitSilence => {
                self.remember(frame);
                if level > floor + self.cfg.continue_db {
                    self.silent_frames = 0;
                } else {
                    self.silent_frames += 1;
                    if self.silent_frames >= self.hangover() {
                        self.state = VadState::Idle;
                    }
                }
            }
        }
    }

    /// Silent frames that end an utterance: the longer count until room
    /// tone has been heard.
    fn hangover(&self) -> usize {
        if self.quiet_frames >= self.room_tone_frames {
            self.hangover_frames
        } else {
            self.early_hangover_frames
        }
    }

    /// Keeps the last `pad_len` samples for the next utterance's pre-roll.
    pub(super) fn remember(&mut self, frame: &[f32]) {
        self.history.extend(frame.iter().copied());
        let excess = self.history.len().saturating_sub(self.pad_len);
        self.history.drain(..excess);
    }

    /// Closes the utterance at stream position `now` and emits it if it is
    /// long and loud enough. `at_end`: the stream ended inside it.
    pub(super) fn finish(
        &mut self,
        now: u64,
        too_long: bool,
        at_end: bool,
        out: &mut Vec<Utterance>,
    ) {
        let cut_end = if too_long {
            now
        } else {
            (self.last_speech_end + self.pad_len as u64).min(now)
        };
        let len = (cut_end - self.utt_first) as usize;
        let floor = self.floor_db.unwrap_or(self.cfg.floor_min_db);
        // When the stream is this utterance and nothing else (a clip cut
        // tight around one word), the floor is the word's own quietest part,
        // no measure of the room: starting well above it is enough.
        let whole_stream = at_end && self.first_sound.is_some_and(|s| self.utt_first <= s);
        let need = if whole_stream {
            self.cfg.start_db
        } else {
            self.cfg.min_peak_db
        };
        let loud = self.peak_db >= floor + need;
        let long = self.speech_frames >= self.min_speech_frames;
        // Keep the tail as pre-roll, so a word that follows soon still gets
        // its context.
        self.history.clear();
        let tail_from = self.utt.len().saturating_sub(self.pad_len);
        self.history.extend(self.utt[tail_from..].iter().copied());
        if loud && long {
            let mut samples = std::mem::take(&mut self.utt);
            samples.truncate(len.min(samples.len()));
            out.push(Utterance {
                samples,
                start_s: self.first_speech as f64 / self.rate as f64,
                end_s: self.last_speech_end as f64 / self.rate as f64,
                // Later than `now` when the floor fell after the word.
                detected_s: self.now.max(now) as f64 / self.rate as f64,
                detected_at: Instant::now(),
                too_long,
            });
        } else {
            self.rejected += 1;
            self.utt.clear();
        }
    }
}
