//! Words of a recording moved onto the wrong prompts: a word not heard (or a
//! sound taken for one) shifts every later take by one.

use super::Plan;

/// A stretch of takes that hold the word asked for one prompt later
/// (`by` = 1: a word of the recording was not heard, so each later answer
/// went to the prompt before its own) or earlier (`by` = −1: a sound was
/// taken for an answer, or a word heard as two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    /// The plan index of the first take of the stretch.
    pub from: usize,
    pub by: i8,
    /// Takes in the stretch the model hears as the shifted word, and
    /// takes it hears at all.
    pub shifted: usize,
    pub of: usize,
}

/// Looks for a shift in a recording read in order: `heard[i]` is the
/// digit the base model hears in the take of `plan.takes[i]`, for those
/// saved. A shift shows as a stretch to the end in which the model hears
/// the neighbouring prompt's digit at least [`SHIFT_MIN_EXCESS`] times
/// more often than the take's own. The model need not hear the speaker
/// well: for a voice it gets 60 % of, the own digit outnumbers the
/// neighbour's by far unless the takes are shifted.
pub fn find_shift(plan: &Plan, heard: &[Option<u8>]) -> Option<Shift> {
    let label = |i: usize| plan.takes.get(i).map(|t| t.word.digit());
    let mut best: Option<(i64, Shift)> = None;
    for by in [1i8, -1] {
        let (mut excess, mut shifted, mut of) = (0i64, 0usize, 0usize);
        // From the end backwards: the stretch is every take from `i` on.
        for i in (0..heard.len().min(plan.takes.len())).rev() {
            let Some(h) = heard[i] else { continue };
            let Some(neighbour) = i.checked_add_signed(by.into()).and_then(label) else {
                continue;
            };
            let own = label(i).expect("a take of the plan");
            if neighbour == own {
                continue;
            }
            of += 1;
            if h == neighbour {
                excess += 1;
                shifted += 1;
            } else if h == own {
                excess -= 1;
            }
            let better = best.as_ref().is_none_or(|(e, _)| excess > *e);
            if excess >= SHIFT_MIN_EXCESS && better {
                best = Some((
                    excess,
                    Shift {
                        from: i,
                        by,
                        shifted,
                        of,
                    },
                ));
            }
        }
    }
    best.map(|(_, s)| s)
}

/// How many more takes must sound like the neighbouring prompt's digit
/// than like their own before [`find_shift`] calls a stretch shifted.
pub const SHIFT_MIN_EXCESS: i64 = 3;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::plan;

    #[test]
    fn a_word_not_heard_shows_as_a_shift() {
        let dir = tempfile::tempdir().unwrap();
        let p = plan(dir.path(), "ann", 2, false, &[]).unwrap();
        let labels: Vec<Option<u8>> = p.takes.iter().map(|t| Some(t.word.digit())).collect();
        assert_eq!(find_shift(&p, &labels), None);
        // A voice the model gets 60 % of, its errors spread: no shift.
        let mut poor = labels.clone();
        for (i, h) in poor.iter_mut().enumerate() {
            if i % 5 >= 3 {
                *h = h.map(|d| (d + 5) % 10);
            }
        }
        assert_eq!(find_shift(&p, &poor), None);
        // The word for THREE (take 1) was not heard: from there on each
        // take holds the next prompt's word, the last one never came.
        let mut shifted = labels.clone();
        shifted[3..19].copy_from_slice(&labels[4..20]);
        shifted[19] = None;
        let s = find_shift(&p, &shifted).unwrap();
        assert_eq!((s.from, s.by, s.shifted, s.of), (3, 1, 16, 16));
        // A cough taken for SIX (take 2): the later takes hold the word
        // before theirs.
        let mut extra = labels.clone();
        for i in (17..20).rev() {
            extra[i] = labels[i - 1];
        }
        extra[16] = Some(1);
        assert_eq!(
            find_shift(&p, &extra).map(|s| (s.from, s.by)),
            Some((17, -1))
        );
    }
}
