//! Judging frames again while the floor is not sure yet: until the floor's
//! window is full, the frames since the last utterance are kept and judged
//! anew against each lower floor, so a word at the very start of a stream
//! (which sets the first floor itself) is still heard.

use super::{Utterance, Vad, VadState};

/// The frames kept while the floor is not sure (see `Vad::frame_unsure`),
/// from stream position `start`, and what the VAD was before the first.
#[derive(Debug, Default)]
pub(super) struct Unsure {
    from: Resume,
    start: u64,
    samples: Vec<f32>,
    levels: Vec<f32>,
    /// The floor they were last judged against.
    floor: Option<f32>,
}

/// The VAD's state between utterances: enough to judge frames again.
#[derive(Debug, Default)]
struct Resume {
    state: VadState,
    silent_frames: usize,
    quiet_frames: usize,
    rejected: u64,
    history: Vec<f32>,
}

impl Vad {
    /// A frame while the floor is not sure yet. The floor is the minimum
    /// over the frames seen so far, so it can only fall as the window
    /// fills; and a word that starts with the stream sets it at first:
    /// measured against itself, it is not heard. So until the window is
    /// full, the frames since the last utterance out are kept and, each
    /// time the floor falls, judged again from there against the new one.
    /// An utterance found is out for good; one rejected (too short or quiet
    /// for this floor) may still be heard against a lower one.
    pub(super) fn frame_unsure(
        &mut self,
        mut u: Unsure,
        frame: &[f32],
        level: f32,
        digital_silence: bool,
        out: &mut Vec<Utterance>,
    ) {
        let n = self.frame_len;
        if self.floor_db.is_none() && digital_silence && u.levels.is_empty() {
            // Nothing heard yet: an idle source's zeros are no word.
            self.remember(frame);
            self.restart_unsure(&mut u, self.frame_start + n as u64);
            self.unsure = Some(u);
            return;
        }
        u.samples.extend_from_slice(frame);
        u.levels.push(level);
        let floor = self.floor_db;
        let from = if floor == u.floor {
            u.levels.len() - 1
        } else {
            u.floor = floor;
            self.state = u.from.state;
            self.silent_frames = u.from.silent_frames;
            self.quiet_frames = u.from.quiet_frames;
            self.rejected = u.from.rejected;
            self.history.clear();
            self.history.extend(u.from.history.iter());
            0
        };
        let mut settled = 0;
        for i in from..u.levels.len() {
            let emitted = out.len();
            let start = u.start + (i * n) as u64;
            self.step(&u.samples[i * n..][..n], u.levels[i], floor, start, out);
            if out.len() > emitted {
                // Out for good: judge again only what follows it.
                settled = i + 1;
                u.from = self.resume();
            }
        }
        u.samples.drain(..settled * n);
        u.levels.drain(..settled);
        u.start += (settled * n) as u64;
        // Sure once the window is full (or, against a source that keeps
        // sending zeros, after twice as many frames).
        let full = self.window.len() == self.window_len;
        if !full && u.levels.len() < 2 * self.window_len {
            self.unsure = Some(u);
        }
    }

    /// The state between utterances, to judge frames again from.
    fn resume(&self) -> Resume {
        Resume {
            state: self.state,
            silent_frames: self.silent_frames,
            quiet_frames: self.quiet_frames,
            rejected: self.rejected,
            history: self.history.iter().copied().collect(),
        }
    }

    /// Empties `u` to keep frames from stream position `start` on, from
    /// the VAD's present state.
    pub(super) fn restart_unsure(&self, u: &mut Unsure, start: u64) {
        u.from = self.resume();
        u.start = start;
        u.samples.clear();
        u.levels.clear();
        u.floor = self.floor_db;
    }
}
