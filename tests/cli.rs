//! The command line itself: one style for every error, usage errors
//! included; the exit codes in `--help`; shell completions and the manual
//! page; `train`'s range errors for negative numbers.

use crate::util::digits_cmd;

/// A usage error reads like every other error: one `digits: ` line with
/// the problem, clap's tip, the usage and where the help is; no colour,
/// even when colour is forced.
#[test]
fn usage_errors_are_one_line_like_every_other_error() {
    for env in [None, Some(("CLICOLOR_FORCE", "1")), Some(("NO_COLOR", "1"))] {
        let mut cmd = digits_cmd();
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        cmd.args(["predict", "--foo", "x.wav"])
            .assert()
            .code(2)
            .stdout("")
            .stderr(
                "digits: unexpected argument '--foo' found; to pass '--foo' as a value, use \
                 '-- --foo'; usage: digits predict [OPTIONS] <FILE>...; see `digits predict --help`\n",
            );
    }
    digits_cmd()
        .args(["eval", "--split", "every"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            "digits: invalid value 'every' for '--split <SPLIT>' [possible values: official, all, \
             speaker, voice]; see `digits eval --help`\n",
        );
    digits_cmd()
        .arg("prdict")
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            "digits: unrecognized subcommand 'prdict'; a similar subcommand exists: 'predict'; \
             usage: digits <COMMAND>; see `digits --help`\n",
        );
}

/// Help and the version still go to standard output with exit 0, and the
/// help names every exit code, Ctrl-C's 130 included.
#[test]
fn help_names_every_exit_code() {
    let out = digits_cmd().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains(
            "Exit codes: 0 success, 1 the job failed (network, full disk), 2 bad usage or\n\
             bad input, 130 stopped with Ctrl-C."
        ),
        "{help}"
    );
    digits_cmd()
        .arg("--version")
        .assert()
        .code(0)
        .stdout(format!("digits {}\n", env!("CARGO_PKG_VERSION")));
}

/// A negative --c or --gamma gets the range error, not clap's
/// "unexpected argument '-1'".
#[test]
fn train_gives_negative_hyperparameters_the_range_error() {
    for (flag, value) in [("--c", "-1"), ("--gamma", "-0.5")] {
        digits_cmd()
            .args(["train", "--data", "nowhere", flag, value])
            .assert()
            .code(2)
            .stdout("")
            .stderr(format!(
                "digits: {flag} must be a positive number, got {value}\n"
            ));
    }
}

/// Completion scripts for the common shells; bash's loads and registers
/// itself for `digits`.
#[test]
fn completions_are_printed_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_digits()"),
        ("zsh", "#compdef digits"),
        ("fish", "complete -c digits"),
        ("elvish", "edit:completion:arg-completer[digits]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = digits_cmd().args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(
            script.contains("predict") && script.contains("--snr"),
            "{shell}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("digits.bash");
    let out = digits_cmd().args(["completions", "bash"]).output().unwrap();
    std::fs::write(&script, out.stdout).unwrap();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p digits", script.display()))
        .output()
        .unwrap();
    let registered = String::from_utf8(out.stdout).unwrap();
    assert!(
        registered.contains("-F _digits") && registered.trim_end().ends_with(" digits"),
        "{registered}"
    );
}

/// `digits man` prints digits(1) with every command and the exit codes;
/// `digits man COMMAND` that command's page; an unknown command is named.
#[test]
fn man_pages_are_printed() {
    let out = digits_cmd().arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH digits 1"), "{page}");
    for command in ["fetch", "train", "eval", "predict", "listen", "completions"] {
        assert!(
            page.contains(&format!("digits\\-{command}(1)")),
            "{command}"
        );
    }
    assert!(page.contains("130 stopped with Ctrl\\-C"), "{page}");

    let out = digits_cmd().args(["man", "eval"]).output().unwrap();
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.starts_with(".ie") && page.contains(".TH digits-eval 1  \"digits "),
        "{page}"
    );
    assert!(page.contains("\\-\\-snr"), "{page}");

    digits_cmd()
        .args(["man", "evaluate"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            "digits: no command `evaluate`; pass one of fetch, train, eval, predict, listen, \
             record, serve, adapt, completions, man, or nothing for digits(1)\n",
        );
}
