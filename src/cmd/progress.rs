//! Progress bars: one place that decides whether stderr gets a live bar
//! (a TTY, not `--quiet`). `digits` prints no colour, so `NO_COLOR` has
//! nothing to turn off.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar on stderr, hidden when stderr is not a terminal or `quiet` is set.
pub fn bar(len: u64, message: &'static str, quiet: bool) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if quiet || !std::io::stderr().is_terminal() {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    pb.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} {elapsed}")
            .expect("template is valid")
            .progress_chars("=> "),
    );
    pb.set_message(message);
    pb
}
