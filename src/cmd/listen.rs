//! `digits listen`.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ListenArgs {}

pub fn run(_args: ListenArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`digits listen` is not built yet")
}
