//! The directories iotfleet writes, after the XDG base directory rules.

use std::path::PathBuf;

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
