//! `digits completions SHELL`: a completion script for bash, zsh, fish,
//! elvish or PowerShell, generated from the same clap definitions the
//! binary parses with.

use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

pub const AFTER_LONG_HELP: &str = "\
Install (for your user; open a new shell afterwards):
  bash:  digits completions bash > ~/.local/share/bash-completion/completions/digits
  zsh:   digits completions zsh > ~/.zfunc/_digits
         (with `fpath+=~/.zfunc; autoload -Uz compinit; compinit` in ~/.zshrc)
  fish:  digits completions fish > ~/.config/fish/completions/digits.fish";

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    // Into memory first: clap_complete panics on a failed write, and a
    // closed pipe or a full disk is an error with a message here.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "digits", &mut script);
    super::write_stdout(&script)?;
    Ok(ExitCode::SUCCESS)
}
