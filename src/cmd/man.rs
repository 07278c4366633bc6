//! `digits man [COMMAND]`: the manual page, rendered by clap_mangen from
//! the same clap definitions the binary parses with.

use std::process::ExitCode;

use clap::CommandFactory;

use super::{BadInput, Cli};

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// A command's own page (digits-COMMAND(1)) instead of digits(1)
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

pub fn run(args: ManArgs) -> anyhow::Result<ExitCode> {
    let mut cli = Cli::command();
    // Gives each subcommand its display name, `digits-train`.
    cli.build();
    let page = match &args.command {
        None => cli,
        Some(name) => cli.find_subcommand(name).cloned().ok_or_else(|| {
            let names: Vec<&str> = cli
                .get_subcommands()
                .map(|c| c.get_name())
                .filter(|&n| n != "help")
                .collect();
            BadInput(format!(
                "no command `{name}`; pass one of {}, or nothing for digits(1)",
                names.join(", ")
            ))
        })?,
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .source(format!("digits {}", env!("CARGO_PKG_VERSION")))
        .render(&mut roff)?;
    super::write_stdout(&roff)?;
    Ok(ExitCode::SUCCESS)
}
