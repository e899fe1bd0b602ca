//! The command line's own documentation, generated from its clap definition so it cannot drift:
//! shell completion scripts (`completions SHELL`) and the manual page (`man`).

use clap::CommandFactory as _;

use super::CliError;
use super::args::Cli;

/// The completion script for `shell`.
#[must_use]
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "iotfleet", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The manual page, in roff, with every verb under COMMANDS.
pub fn man_page() -> Result<String, CliError> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| CliError::new(1, format!("cannot render the manual page: {e}")))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manual_names_every_verb_and_the_exit_codes() {
        let page = man_page().unwrap();
        assert!(page.starts_with(".ie"), "{}", &page[..40]);
        for verb in [
            "things",
            "quarantine",
            "release",
            "violations",
            "completions",
        ] {
            assert!(page.contains(verb), "{verb} missing");
        }
        assert!(page.contains("6 the answer is no"));
    }
}
