//! `digits predict`.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct PredictArgs {}

pub fn run(_args: PredictArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`digits predict` is not built yet")
}
