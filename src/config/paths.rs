//! The directories iotfleet reads and writes, after the XDG base directory rules.

use std::path::PathBuf;

/// `$IOTFLEET_CONFIG_HOME`, else `$XDG_CONFIG_HOME/iotfleet`, else `~/.config/iotfleet`.
#[must_use]
pub fn config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("IOTFLEET_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    directories::BaseDirs::new().map(|dirs| dirs.config_dir().join("iotfleet"))
}

/// `$XDG_STATE_HOME/iotfleet`, else `~/.local/state/iotfleet`: the log and the audit journal.
#[must_use]
pub fn state_dir() -> Option<PathBuf> {
    let dirs = directories::BaseDirs::new()?;
    let base = dirs
        .state_dir()
        .map_or_else(|| dirs.home_dir().join(".local/state"), PathBuf::from);
    Some(base.join("iotfleet"))
}

/// The log file, `state_dir()/iotfleet.log`: logs never go to the screen.
#[must_use]
pub fn log_file() -> Option<PathBuf> {
    state_dir().map(|dir| dir.join("iotfleet.log"))
}

/// `$XDG_DATA_HOME/iotfleet`, else `~/.local/share/iotfleet`: the local IoT Core's fleet.
#[must_use]
pub fn data_dir() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|dirs| dirs.data_dir().join("iotfleet"))
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
