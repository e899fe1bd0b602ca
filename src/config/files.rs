//! The shipped keymaps and themes (embedded at build time) and the user's files laid over them:
//! `config.toml`, `keymap.toml` and `theme.toml` in the config directory. A bad file never stops
//! the console: it is reported (file, line, what to fix) and the defaults are used instead.

use std::path::Path;

use serde::Deserialize;

use super::keymap::{Keymap, line_of};
use super::paths;
use super::theme::{Theme, ThemeFile};

/// Shipped themes, by name; the first is the default.
pub const THEMES: [(&str, &str); 3] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

/// Shipped keymaps, by name; every one but `default` is laid over `default`.
pub const KEYMAPS: [(&str, &str); 2] = [
    ("default", include_str!("../../keymaps/default.toml")),
    ("emacs", include_str!("../../keymaps/emacs.toml")),
];

#[must_use]
pub fn theme_text(name: &str) -> Option<&'static str> {
    THEMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

#[must_use]
pub fn keymap_text(name: &str) -> Option<&'static str> {
    KEYMAPS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

/// `config.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub theme: Option<String>,
    pub keymap: Option<String>,
    #[serde(default)]
    pub read_only: bool,
    /// The traffic history's memory budget in MiB (default 64).
    pub history_mib: Option<usize>,
    /// The quarantine strategy when `--strategy` is not given: `deny-overlay` (default) or
    /// `policy-version`.
    pub quarantine_strategy: Option<String>,
    /// Request rates per AWS IoT API that override AWS's default quotas (an account's raised
    /// ones), as `ListThings = 50` or `"iot:AttachPolicy" = 100`.
    #[serde(default)]
    pub api_rates: std::collections::BTreeMap<String, f64>,
    /// Whether the console takes the mouse (wheel scrolls, click selects, double-click opens);
    /// default true. `false` leaves the terminal's own text selection alone.
    pub mouse: Option<bool>,
    /// Whether the console shows times at the local offset rather than UTC (`:time local`
    /// and `:time utc` switch); default false.
    #[serde(default)]
    pub local_time: bool,
}

/// What the console starts with, and every problem met on the way (shown, not fatal).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub settings: Settings,
    pub keymap: Keymap,
    pub theme: Theme,
    pub theme_file: ThemeFile,
    pub problems: Vec<String>,
}

/// Loads the console's configuration from the config directory (if any), with `--theme` and
/// `--keymap` taking precedence over `config.toml`.
#[must_use]
pub fn load(theme_flag: Option<&str>, keymap_flag: Option<&str>, no_color: bool) -> Loaded {
    load_from(
        paths::config_dir().as_deref(),
        theme_flag,
        keymap_flag,
        no_color,
    )
}

/// [`load`] from a given directory (tests use their own).
///
/// # Panics
///
/// Only if a shipped keymap or theme does not parse, which the config fixture tests rule out.
#[must_use]
pub fn load_from(
    dir: Option<&Path>,
    theme_flag: Option<&str>,
    keymap_flag: Option<&str>,
    no_color: bool,
) -> Loaded {
    let mut problems = Vec::new();
    let read = |name: &str, problems: &mut Vec<String>| -> Option<(String, String)> {
        let path = dir?.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Some((path.display().to_string(), text)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => {
                problems.push(format!("cannot read {}: {error}", path.display()));
                None
            }
        }
    };

    let settings = settings_from(dir, &mut problems);

    let keymap_name = keymap_flag
        .or(settings.keymap.as_deref())
        .unwrap_or("default");
    let mut keymap = Keymap::parse("keymaps/default.toml", KEYMAPS[0].1)
        .expect("the shipped default keymap parses");
    match keymap_text(keymap_name) {
        Some(text) if keymap_name != "default" => {
            keymap.overlay(
                Keymap::parse(&format!("keymaps/{keymap_name}.toml"), text)
                    .expect("shipped keymaps parse"),
            );
        }
        Some(_) => {}
        None => problems.push(format!(
            "unknown keymap '{keymap_name}': the keymaps are {}; using default",
            names(&KEYMAPS)
        )),
    }
    if let Some((path, text)) = read("keymap.toml", &mut problems) {
        match Keymap::parse(&path, &text) {
            Ok(user) => keymap.overlay(user),
            Err(error) => problems.push(format!("{error}; your keymap file is ignored")),
        }
    }

    let theme_name = theme_flag.or(settings.theme.as_deref()).unwrap_or("dark");
    let base_text = theme_text(theme_name).unwrap_or_else(|| {
        problems.push(format!(
            "unknown theme '{theme_name}': the themes are {}; using dark",
            names(&THEMES)
        ));
        THEMES[0].1
    });
    let base = ThemeFile::parse(&format!("themes/{theme_name}.toml"), base_text)
        .expect("shipped themes parse");
    let mut theme_file = base.clone();
    if let Some((path, text)) = read("theme.toml", &mut problems) {
        match ThemeFile::parse(&path, &text) {
            Ok(user) => theme_file.overlay(user),
            Err(error) => problems.push(format!("{error}; your theme file is ignored")),
        }
    }
    let theme = theme_file.resolve(no_color).unwrap_or_else(|error| {
        problems.push(format!("{error}; your theme file is ignored"));
        theme_file = base.clone();
        base.resolve(no_color).expect("shipped themes resolve")
    });
    Loaded {
        settings,
        keymap,
        theme,
        theme_file,
        problems,
    }
}

/// `config.toml` alone, for the verbs; `problems` gets what is wrong with it (defaults are
/// used then).
pub fn settings(problems: &mut Vec<String>) -> Settings {
    settings_from(paths::config_dir().as_deref(), problems)
}

fn settings_from(dir: Option<&Path>, problems: &mut Vec<String>) -> Settings {
    let Some(path) = dir.map(|dir| dir.join("config.toml")) else {
        return Settings::default();
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Settings::default(),
        Err(error) => {
            problems.push(format!("cannot read {}: {error}", path.display()));
            return Settings::default();
        }
    };
    toml::from_str::<Settings>(&text).unwrap_or_else(|e| {
        let line = e.span().map_or(1, |s| line_of(&text, s.start));
        problems.push(format!(
            "config {} line {line}: {}; using defaults",
            path.display(),
            e.message()
        ));
        Settings::default()
    })
}

fn names(list: &[(&str, &str)]) -> String {
    list.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// True when `NO_COLOR` is set to anything but the empty string (no-color.org).
#[must_use]
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}
