//! The level of a frame and the noise floor it is judged against.

use super::Vad;

impl Vad {
    /// Level (dBFS) of one frame after the high-pass, and whether the
    /// frame is mostly exact zeros (digital silence: a muted or idle
    /// virtual source, not a room). Updates the filter.
    pub(super) fn level(&mut self, frame: &[f32]) -> (f32, bool) {
        let a = self.hp_a;
        let mut sum = 0.0f32;
        let mut zeros = 0;
        for &x in frame {
            let y = a * (self.hp_y + x - self.hp_x);
            self.hp_x = x;
            self.hp_y = y;
            sum += y * y;
            zeros += usize::from(x == 0.0);
        }
        (energy_db(sum / frame.len() as f32), 2 * zeros > frame.len())
    }

    /// Noise floor: the minimum of 30 ms-smoothed energy over the window —
    /// minimum statistics. The pauses between words keep it at room level
    /// while someone talks; it follows a falling floor at once and a rising
    /// one (a fan switched on, or a source that starts with a ramp) within
    /// the window. It is known after three frames of sound, so one odd frame
    /// at the start (half silence, half room) cannot set it.
    pub(super) fn track_floor(&mut self, level: f32) {
        let e = db_to_energy(level);
        self.last3 = [self.last3[1], self.last3[2], e];
        self.seen_sound += 1;
        if self.seen_sound < 3 {
            return;
        }
        let smoothed = self.last3.iter().sum::<f32>() / 3.0;
        if self.window.len() == self.window_len {
            self.window.pop_front();
        }
        self.window.push_back(smoothed);
        let min = self.window.iter().copied().fold(f32::INFINITY, f32::min);
        self.floor_db = Some(energy_db(min).max(self.cfg.floor_min_db));
    }
}

fn energy_db(e: f32) -> f32 {
    10.0 * (e + 1e-12).log10()
}

fn db_to_energy(db: f32) -> f32 {
    10f32.powf(db / 10.0)
}
