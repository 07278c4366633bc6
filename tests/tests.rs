mod fetch;
// Audio input: formats and bad files.
mod audio;
// The recognizer end to end on FSDD.
mod recognition;
// Helpers shared by the modules above.
mod eval_cli;
mod util;
