//! The directories iotfleet reads and writes, after the XDG base directory rules on every Unix,
//! macOS included (where `~/Library` would hide `~/.config/iotfleet/config.toml`, and with it
//! `read_only = true`). A relative `XDG_*` value is ignored, as the specification says.

use std::ffi::OsString;
use std::path::PathBuf;

/// The user's home: `$HOME` when set, else the password database's.
fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(std::env::home_dir)
}

/// `$VAR` when it is an absolute path, else `~/FALLBACK`.
fn base(var: &str, fallback: &str) -> Option<PathBuf> {
    absolute(std::env::var_os(var)).or_else(|| home().map(|h| h.join(fallback)))
}

fn absolute(value: Option<OsString>) -> Option<PathBuf> {
    value.map(PathBuf::from).filter(|p| p.is_absolute())
}

/// `$IOTFLEET_CONFIG_HOME`, else `$XDG_CONFIG_HOME/iotfleet`, else `~/.config/iotfleet`.
#[must_use]
pub fn config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("IOTFLEET_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    base("XDG_CONFIG_HOME", ".config").map(|dir| dir.join("iotfleet"))
}

/// `$XDG_STATE_HOME/iotfleet`, else `~/.local/state/iotfleet`: the log and the audit journal.
#[must_use]
pub fn state_dir() -> Option<PathBuf> {
    base("XDG_STATE_HOME", ".local/state").map(|dir| dir.join("iotfleet"))
}

/// The log file, `state_dir()/iotfleet.log`: logs never go to the screen.
#[must_use]
pub fn log_file() -> Option<PathBuf> {
    state_dir().map(|dir| dir.join("iotfleet.log"))
}

/// `$XDG_DATA_HOME/iotfleet`, else `~/.local/share/iotfleet`: the local IoT Core's fleet.
#[must_use]
pub fn data_dir() -> Option<PathBuf> {
    base("XDG_DATA_HOME", ".local/share").map(|dir| dir.join("iotfleet"))
}

/// The local fleet's default state file, `data_dir()/local-fleet.json`.
#[must_use]
pub fn local_state_file() -> Option<PathBuf> {
    data_dir().map(|dir| dir.join("local-fleet.json"))
}

/// Creates `dir` and its missing parents, the new ones readable by the user alone (state,
/// journal, log and the local core's keys live in them).
pub fn create_private_dir_all(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_absolute_xdg_value_counts() {
        assert_eq!(
            absolute(Some("/srv/state".into())),
            Some(PathBuf::from("/srv/state"))
        );
        assert_eq!(absolute(Some("relative/state".into())), None);
        assert_eq!(absolute(Some(OsString::new())), None);
        assert_eq!(absolute(None), None);
    }
}
