//! Progress on stderr: one place that decides whether a live display is
//! drawn (a terminal, not `--quiet`), and `train`'s display. `digits`
//! prints no colour, so `NO_COLOR` has nothing to turn off.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use digits::model::train::TrainEvent;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a spinner turns: often enough to show the job is alive.
const SPINNER_TICK: Duration = Duration::from_millis(120);

/// `pb`, hidden when stderr is not a terminal or `quiet` is set.
fn hidden_unless_terminal(pb: ProgressBar, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    pb
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} {elapsed}")
        .expect("template is valid")
        .progress_chars("=> ")
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("template is valid")
}

/// What `train` is doing, as its display shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Reading the clips (before the first event).
    Reading,
    /// Extracting features: a bar over the clips and their copies.
    Features,
    /// Pooling, standardising and projecting: a spinner.
    Pooling,
    /// Fitting SVM `k` of the search (the last is the final model).
    Fit(usize),
}

/// `digits train`'s one display on stderr: a spinner while the clips are
/// read, a bar over feature extraction whose length is the clips and their
/// augmented copies, a spinner while the features are pooled and projected,
/// and a spinner with its own elapsed time for each SVM fit, which reports
/// no progress of its own. Nothing is drawn when stderr is not a terminal.
pub struct TrainProgress {
    bar: ProgressBar,
    /// Events come from several feature threads at once, and a late one
    /// must not take the display back a stage.
    stage: Mutex<Stage>,
}

impl TrainProgress {
    pub fn new(quiet: bool) -> Self {
        let bar = hidden_unless_terminal(ProgressBar::new_spinner(), quiet);
        bar.set_style(spinner_style());
        bar.set_message("reading the clips");
        bar.enable_steady_tick(SPINNER_TICK);
        Self {
            bar,
            stage: Mutex::new(Stage::Reading),
        }
    }

    /// Prints a line above the display.
    pub fn note(&self, line: &str) {
        self.bar.suspend(|| note!("{line}"));
    }

    /// Moves the display on; events of a stage already left are ignored.
    pub fn event(&self, e: TrainEvent) {
        let mut stage = self.stage.lock().unwrap_or_else(|p| p.into_inner());
        match e {
            TrainEvent::Features { done, total } => {
                if *stage == Stage::Reading {
                    *stage = Stage::Features;
                    self.bar.disable_steady_tick();
                    self.bar.set_style(bar_style());
                    self.bar.set_message("features");
                    self.bar.set_length(total as u64);
                    self.bar.reset_elapsed();
                }
                if *stage != Stage::Features {
                    return;
                }
                if done as u64 > self.bar.position() {
                    self.bar.set_position(done as u64);
                }
                if done >= total {
                    *stage = Stage::Pooling;
                    self.spinner(format!(
                        "pooling, standardising and projecting the features of {total} clips"
                    ));
                }
            }
            TrainEvent::Fit { k, n } => {
                if matches!(*stage, Stage::Fit(at) if at >= k) {
                    return;
                }
                *stage = Stage::Fit(k);
                self.spinner(if k + 1 < n {
                    format!(
                        "fitting SVM {} of {n}: on the clips not held out, to choose and calibrate",
                        k + 1
                    )
                } else {
                    format!("fitting SVM {n} of {n}: the final model, on every clip")
                });
            }
        }
    }

    fn spinner(&self, message: String) {
        self.bar.unset_length();
        self.bar.set_position(0);
        self.bar.set_style(spinner_style());
        self.bar.set_message(message);
        self.bar.reset_elapsed();
        self.bar.enable_steady_tick(SPINNER_TICK);
    }

    /// Clears the display (dropping it does too, on an early error).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    #[cfg(test)]
    fn shown(&self) -> (Stage, Option<u64>, u64, String) {
        let stage = *self.stage.lock().unwrap();
        (
            stage,
            self.bar.length(),
            self.bar.position(),
            self.bar.message(),
        )
    }
}

impl Drop for TrainProgress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn train_progress_shows_each_stage_with_honest_lengths() {
        let p = TrainProgress::new(true);
        let (stage, _, _, msg) = p.shown();
        assert_eq!((stage, msg.as_str()), (Stage::Reading, "reading the clips"));
        // Two feature threads: events arrive out of order.
        p.event(TrainEvent::Features { done: 2, total: 8 });
        p.event(TrainEvent::Features { done: 1, total: 8 });
        assert_eq!(
            p.shown(),
            (Stage::Features, Some(8), 2, "features".to_string())
        );
        p.event(TrainEvent::Features { done: 8, total: 8 });
        let (stage, len, _, msg) = p.shown();
        assert_eq!((stage, len), (Stage::Pooling, None));
        assert!(msg.starts_with("pooling"), "{msg}");
        // A late event of the last stage does not bring the bar back.
        p.event(TrainEvent::Features { done: 7, total: 8 });
        assert_eq!(p.shown().0, Stage::Pooling);
        p.event(TrainEvent::Fit { k: 0, n: 2 });
        let (stage, _, _, msg) = p.shown();
        assert_eq!(stage, Stage::Fit(0));
        assert!(msg.starts_with("fitting SVM 1 of 2: "), "{msg}");
        p.event(TrainEvent::Fit { k: 1, n: 2 });
        let (stage, _, _, msg) = p.shown();
        assert_eq!(stage, Stage::Fit(1));
        assert!(
            msg.starts_with("fitting SVM 2 of 2: the final model"),
            "{msg}"
        );
        // Each fit's spinner counts its own time.
        assert!(p.bar.elapsed() < Duration::from_secs(1));
        p.finish();
        assert!(p.bar.is_finished());
    }
}
