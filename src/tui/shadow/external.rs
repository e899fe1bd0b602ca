//! Editing text in the user's own editor (`$VISUAL`, else `$EDITOR`, else `vi`): the text goes
//! to a private temporary file, the editor runs on the terminal the console gave up for it, and
//! the file's text comes back. The console suspends and restores the terminal around this.

use std::io::Write as _;
use std::path::PathBuf;

/// The editor command to run: `$VISUAL`, else `$EDITOR`, else `vi`.
#[must_use]
pub fn command() -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "vi".to_owned())
}

fn temporary_file() -> PathBuf {
    let mut random = [0u8; 6];
    let _ = aws_lc_rs::rand::fill(&mut random);
    let suffix = random.iter().fold(String::new(), |mut out, b| {
        let _ = std::fmt::Write::write_fmt(&mut out, format_args!("{b:02x}"));
        out
    });
    std::env::temp_dir().join(format!("iotfleet-desired-{suffix}.json"))
}

/// Runs `command` (words split on spaces, the file appended) on `text` and returns the edited
/// text. The file is readable by the user alone and removed afterwards.
pub fn edit(text: &str, command: &str) -> Result<String, String> {
    let mut words = command.split_whitespace();
    let program = words.next().ok_or("no editor command")?;
    let path = temporary_file();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&path)
        .and_then(|mut file| file.write_all(text.as_bytes()));
    if let Err(error) = written {
        return Err(format!("cannot write {}: {error}", path.display()));
    }
    let status = std::process::Command::new(program)
        .args(words)
        .arg(&path)
        .status();
    let result = match status {
        Ok(status) if status.success() => std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {} back: {e}", path.display())),
        Ok(status) => Err(format!(
            "{program} exited with {status}; the draft is unchanged"
        )),
        Err(error) => Err(format!("cannot run {program}: {error} (set $EDITOR)")),
    };
    let _ = std::fs::remove_file(&path);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edited_file_comes_back_and_is_removed() {
        let edited = edit("{\"speed\": 66}\n", "sed -i s/66/41/").unwrap();
        assert_eq!(edited, "{\"speed\": 41}\n");
        let leftovers = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("iotfleet-desired-")
            })
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn a_failing_or_missing_editor_is_reported_and_changes_nothing() {
        assert!(edit("{}", "false").unwrap_err().contains("exited"));
        assert!(
            edit("{}", "/nonexistent/editor")
                .unwrap_err()
                .contains("cannot run")
        );
    }
}
