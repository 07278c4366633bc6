//! `digits fetch`.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct FetchArgs {}

pub fn run(_args: FetchArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`digits fetch` is not built yet")
}
