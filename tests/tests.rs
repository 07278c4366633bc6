//! The one integration test binary (one link step on the 2-core CI).

// Audio input: formats and bad files.
mod audio;
// The command line: one error style, help, completions, man pages.
mod cli;
// `digits eval`: JSON, noise, plots.
mod eval_cli;
// `digits fetch` against a hub on 127.0.0.1.
mod fetch;
// Inputs fuzzing found: crafted models, parquet files that spun the reader.
mod hardening;
// `digits listen` from WAV files and (in CI) a virtual microphone.
mod listen;
// `digits predict`: unwritable results, the multi-word warning in --json.
mod predict_cli;
// The recognizer end to end on FSDD.
mod recognition;
// `digits serve`: the HTTP API, the WebSocket stream, and the page in a
// real browser.
mod serve;
mod serve_browser;
// `digits train`: what --out may replace, a model that cannot be written.
mod train_cli;
// Real voices from Debian packages.
mod voices;
// `digits record`: enrolment sessions from recordings.
mod record;
// `digits adapt` and `eval --enroll`: teaching it a voice.
mod adapt;
// Helpers shared by the modules above.
mod util;
