//! `record`: a guided enrolment session — each digit said K times, each
//! take checked and saved as `DIR/{digit}_{speaker}_{index}.wav`.
//!
//! This folder owns, a file each:
//! - `plan`: the session's plan ([`plan()`]): which takes a session has,
//!   which are already in the folder (kept), which are to be recorded, their
//!   file names, which every reader of FSDD's naming understands, and the
//!   atomic writing of a take ([`save_take`]);
//! - `segment`: [`Segmenter`], the answers in a stream. The words are found
//!   by `listen`'s [`Vad`](crate::listen::Vad); words that follow each
//!   other closer than [`RecordConfig::join_gap_ms`] are one answer (two
//!   words run together), and each answer is cut with
//!   [`RecordConfig::context_ms`] of room tone either side, so the front end
//!   sees what it sees in `predict`;
//! - `checks`: [`Meter`], the checks (one word, plausible length, not
//!   clipped, loud enough) with the thresholds of [`Checks`]
//!   (prompts/record.md);
//! - `shift`: [`find_shift`], a recording's words moved onto the wrong
//!   prompts (a word not heard);
//! - this file: the errors, the settings and the session loop ([`run`])
//!   over a `listen` [`Source`] — a microphone or a WAV file, the same code.
//!
//! The library never prints; the loop reports through a callback and the
//! `digits record` command formats.

mod checks;
mod plan;
mod segment;
mod shift;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::listen::{Event, ListenError, Source, VadConfig};

pub use checks::{Checks, Measures, Meter, Refusal};
pub use plan::{
    check_speaker, file_name, plan, save_take, Plan, Take, Word, MAX_ROUNDS, MAX_SPEAKER_LEN,
    OH_FIRST_INDEX,
};
pub use segment::{Answer, Segmenter};
pub use shift::{find_shift, Shift, SHIFT_MIN_EXCESS};

/// Errors of a recording session.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error(
        "--speaker {0:?}: use letters, digits and `-` only (`_` separates the fields of the file names), at most 64"
    )]
    BadSpeaker(String),
    #[error("--takes {0}: record 1 to {MAX_ROUNDS} takes of each digit")]
    BadTakes(u32),
    #[error("--out {path}: {reason}")]
    BadFolder { path: String, reason: String },
    #[error("cannot create the folder {path}")]
    CreateFolder {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the folder {path}")]
    ReadFolder {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write into the folder {path}")]
    WriteFolder {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot save {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid record setting: {0}")]
    Config(String),
}

impl RecordError {
    /// A problem with what the user gave (a name, a folder, a file, a
    /// setting) rather than a failure of the job (no microphone, a full
    /// disk): exit 2, not 1.
    pub fn is_bad_input(&self) -> bool {
        match self {
            RecordError::Listen(e) => e.is_bad_input(),
            RecordError::CreateFolder { source, .. }
            | RecordError::ReadFolder { source, .. }
            | RecordError::WriteFolder { source, .. }
            | RecordError::Write { source, .. } => !crate::model::is_job_failure(source),
            RecordError::BadSpeaker(_)
            | RecordError::BadTakes(_)
            | RecordError::BadFolder { .. }
            | RecordError::Config(_) => true,
        }
    }
}

pub type Result<T> = std::result::Result<T, RecordError>;

/// Settings of a session.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordConfig {
    /// `listen`'s VAD, as `listen` uses it.
    pub vad: VadConfig,
    pub checks: Checks,
    /// Room tone kept before and after the speech in a saved take (ms).
    pub context_ms: f32,
    /// A word that starts less than this after the last one ended is part
    /// of the same answer (ms), in a file: shorter than any pause between
    /// two words read from a list.
    pub join_gap_ms: f32,
    /// The same from a live source (ms): the next prompt shows this long
    /// after the word, so a word sooner than that, and sooner than anyone
    /// reacts to the prompt, is a second word in the same answer.
    pub live_join_gap_ms: f32,
    /// From a live source, a reminder after this long without an answer (s).
    pub remind_after_s: f64,
}

impl Default for RecordConfig {
    /// `listen`'s VAD; default checks; 250 ms of room tone either side;
    /// words closer than 250 ms joined (600 ms live); a reminder after 5 s.
    fn default() -> Self {
        Self {
            vad: VadConfig::default(),
            checks: Checks::default(),
            context_ms: 250.0,
            join_gap_ms: 250.0,
            live_join_gap_ms: 600.0,
            remind_after_s: 5.0,
        }
    }
}

impl RecordConfig {
    pub fn check(&self) -> Result<()> {
        self.vad.check()?;
        let c = &self.checks;
        let finite_pos = |v: f64| v.is_finite() && v >= 0.0;
        if !(finite_pos(self.context_ms.into())
            && finite_pos(self.join_gap_ms.into())
            && finite_pos(self.live_join_gap_ms.into())
            && finite_pos(c.word_hangover_ms.into())
            && finite_pos(c.min_word_s)
            && finite_pos(self.remind_after_s)
            && finite_pos(c.min_speech_s)
            && finite_pos(c.max_speech_s)
            && finite_pos(c.max_clipped_ms)
            && c.min_speech_s < c.max_speech_s
            && c.clip_level > 0.0
            && c.clip_level <= 1.0
            && c.min_rise_db.is_finite())
        {
            return Err(RecordError::Config(format!("{self:?}")));
        }
        // The word counter is a VAD too.
        VadConfig {
            hangover_ms: c.word_hangover_ms,
            early_hangover_ms: c.word_hangover_ms,
            ..self.vad.clone()
        }
        .check()?;
        Ok(())
    }
}

/// What a session reports as it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice<'a> {
    /// The first audio arrived this long after the start.
    FirstAudio(Duration),
    /// The next take is wanted (`attempt` 1, then 2, … after refusals).
    Prompt { take: &'a Take, attempt: u32 },
    /// An answer was refused; `start_s` is its time in the stream.
    Refused {
        take: &'a Take,
        refusal: Refusal,
        start_s: f64,
        end_s: f64,
    },
    /// A take was saved.
    Saved {
        take: &'a Take,
        seconds: f64,
        start_s: f64,
        measures: Measures,
    },
    /// A live source has heard no answer for this long since the prompt.
    NothingHeard { take: &'a Take, waited_s: f64 },
    /// Something the user should know (dropped audio, an overrun).
    Warning(String),
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Every take of the plan was recorded or refused.
    Done,
    /// The source ended first (the file ran out of words).
    EndOfInput,
    /// The stop flag was raised (Ctrl-C).
    Interrupted,
}

/// How a session went.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub finish: Finish,
    pub saved: usize,
    /// Where each take of the plan came from: the answer's stream time (s)
    /// for those saved, in plan order.
    pub saved_at: Vec<Option<f64>>,
    /// From an on-demand source: takes whose word was refused.
    pub refused: Vec<Take>,
    /// Takes the source ended (or Ctrl-C came) before.
    pub unreached: Vec<Take>,
    /// Answers after the plan's last take (from an on-demand source,
    /// which is read to its end), and the time of the first.
    pub extra_answers: usize,
    pub extra_from_s: Option<f64>,
}

impl Outcome {
    /// Takes of the plan not saved.
    pub fn missing(&self) -> usize {
        self.refused.len() + self.unreached.len()
    }
}

/// How often the loop looks at the stop flag when no audio comes.
const POLL: Duration = Duration::from_millis(50);
/// Dropped audio is reported at most this often.
const DROP_REPORT_EVERY: Duration = Duration::from_secs(1);

/// Runs a session: prompts for each take of `plan`, takes the next answer
/// in `source`, checks and saves it.
///
/// From a live source a refused answer is asked for again. From an
/// on-demand source (a WAV file) each answer is the next take in order,
/// whether it is saved or refused, so one bad word never shifts the later
/// ones onto the wrong digits; the file is read to its end, and answers
/// beyond the plan are counted. Returns when the plan is done (a live
/// source) or the source ends, or when `stop` is raised (Ctrl-C); what was
/// saved stays saved.
pub fn run(
    source: &Source,
    plan: &Plan,
    cfg: &RecordConfig,
    stop: &AtomicBool,
    mut on: impl FnMut(Notice) -> std::io::Result<()>,
) -> Result<Outcome> {
    let io = |e: std::io::Error| RecordError::Listen(ListenError::Output(e));
    let rate = source.sample_rate();
    let live = !source.on_demand();
    let mut segmenter = Segmenter::new(cfg, rate, live)?;
    let mut meter = Meter::new(cfg)?;
    let mut answers = Vec::new();
    let mut outcome = Outcome {
        finish: Finish::Done,
        saved: 0,
        saved_at: vec![None; plan.takes.len()],
        refused: Vec::new(),
        unreached: Vec::new(),
        extra_answers: 0,
        extra_from_s: None,
    };
    let mut next = 0usize;
    let mut attempt = 1u32;
    // Stream time of the prompt (or the last reminder).
    let mut asked_at = 0.0f64;
    let started = Instant::now();
    let mut first_audio = false;
    let mut dropped_seen = 0u64;
    let mut dropped_reported: Option<Instant> = None;
    if plan.takes.is_empty() {
        return Ok(outcome);
    }
    source.want(u64::MAX);
    let finish = loop {
        if stop.load(Ordering::SeqCst) {
            break Finish::Interrupted;
        }
        let dropped = source.dropped_blocks();
        if dropped > dropped_seen
            && dropped_reported.is_none_or(|t| t.elapsed() >= DROP_REPORT_EVERY)
        {
            on(Notice::Warning(format!(
                "{} audio blocks dropped: the session fell behind the device",
                dropped - dropped_seen
            )))
            .map_err(io)?;
            dropped_seen = dropped;
            dropped_reported = Some(Instant::now());
        }
        let ended = match source.recv(POLL) {
            Ok(Event::Audio(block)) => {
                if !first_audio {
                    // The first prompt once the device delivers: a word
                    // said before that would be lost.
                    first_audio = true;
                    on(Notice::FirstAudio(started.elapsed())).map_err(io)?;
                    on(Notice::Prompt {
                        take: &plan.takes[0],
                        attempt,
                    })
                    .map_err(io)?;
                }
                segmenter.push(&block, &mut answers);
                false
            }
            Ok(Event::End) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                segmenter.finish(&mut answers);
                true
            }
            Ok(Event::Warning(w)) => {
                on(Notice::Warning(w)).map_err(io)?;
                false
            }
            Ok(Event::Failed(m)) => return Err(ListenError::Stream(m).into()),
            Ok(Event::Press | Event::Quit) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                false
            }
        };
        for answer in answers.drain(..) {
            let Some(take) = plan.takes.get(next) else {
                outcome.extra_answers += 1;
                outcome.extra_from_s.get_or_insert(answer.start_s);
                continue;
            };
            let saved = match meter.check(&answer, rate)? {
                Ok(measures) => {
                    save_take(&take.path, &answer.samples, rate)?;
                    outcome.saved += 1;
                    outcome.saved_at[next] = Some(answer.start_s);
                    on(Notice::Saved {
                        take,
                        seconds: answer.samples.len() as f64 / f64::from(rate),
                        start_s: answer.start_s,
                        measures,
                    })
                    .map_err(io)?;
                    true
                }
                Err(refusal) => {
                    on(Notice::Refused {
                        take,
                        refusal,
                        start_s: answer.start_s,
                        end_s: answer.end_s,
                    })
                    .map_err(io)?;
                    if !live {
                        outcome.refused.push(take.clone());
                    }
                    false
                }
            };
            if saved || !live {
                next += 1;
                attempt = 1;
            } else {
                attempt += 1;
            }
            asked_at = segmenter.stream_time();
            if let Some(take) = plan.takes.get(next) {
                on(Notice::Prompt { take, attempt }).map_err(io)?;
            }
        }
        if ended {
            break if next >= plan.takes.len() {
                Finish::Done
            } else {
                Finish::EndOfInput
            };
        }
        if next >= plan.takes.len() && live {
            break Finish::Done;
        }
        if live && first_audio && !segmenter.busy() {
            let waited = segmenter.stream_time() - asked_at;
            if waited >= cfg.remind_after_s {
                on(Notice::NothingHeard {
                    take: &plan.takes[next],
                    waited_s: waited,
                })
                .map_err(io)?;
                // Once per prompt: someone who stepped away comes back to
                // one reminder, not a screenful.
                asked_at = f64::INFINITY;
            }
        }
    };
    outcome.finish = finish;
    outcome
        .unreached
        .extend(plan.takes.iter().skip(next).cloned());
    Ok(outcome)
}
