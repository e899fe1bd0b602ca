//! Theme files: a named palette defined once, then semantic slots (`cert.revoked`, `json.key`)
//! that refer to palette names or colours. Resolved once into ratatui styles; views ask for a
//! meaning, never pick a colour. `NO_COLOR` keeps only bold, underline and reverse.

use std::collections::BTreeMap;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use super::keymap::line_of;

/// Every meaning a view can ask a style for. Shipped themes define them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    Text,
    Dim,
    Title,
    Border,
    Header,
    Selection,
    Match,
    Link,
    StatusBar,
    StatusLocal,
    StatusAws,
    StatusError,
    StatusWarning,
    StatusInfo,
    FooterKey,
    FooterDesc,
    CertActive,
    CertInactive,
    CertRevoked,
    CertOther,
    CertExpiring,
    CertExpired,
    CertShared,
    ThingQuarantined,
    JsonKey,
    JsonString,
    JsonNumber,
    JsonBool,
    JsonNull,
    JsonPunctuation,
}

impl Slot {
    pub const ALL: [Self; 30] = [
        Self::Text,
        Self::Dim,
        Self::Title,
        Self::Border,
        Self::Header,
        Self::Selection,
        Self::Match,
        Self::Link,
        Self::StatusBar,
        Self::StatusLocal,
        Self::StatusAws,
        Self::StatusError,
        Self::StatusWarning,
        Self::StatusInfo,
        Self::FooterKey,
        Self::FooterDesc,
        Self::CertActive,
        Self::CertInactive,
        Self::CertRevoked,
        Self::CertOther,
        Self::CertExpiring,
        Self::CertExpired,
        Self::CertShared,
        Self::ThingQuarantined,
        Self::JsonKey,
        Self::JsonString,
        Self::JsonNumber,
        Self::JsonBool,
        Self::JsonNull,
        Self::JsonPunctuation,
    ];

    /// The slot's name in theme files.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Dim => "dim",
            Self::Title => "title",
            Self::Border => "border",
            Self::Header => "header",
            Self::Selection => "selection",
            Self::Match => "match",
            Self::Link => "link",
            Self::StatusBar => "status.bar",
            Self::StatusLocal => "status.local",
            Self::StatusAws => "status.aws",
            Self::StatusError => "status.error",
            Self::StatusWarning => "status.warning",
            Self::StatusInfo => "status.info",
            Self::FooterKey => "footer.key",
            Self::FooterDesc => "footer.desc",
            Self::CertActive => "cert.active",
            Self::CertInactive => "cert.inactive",
            Self::CertRevoked => "cert.revoked",
            Self::CertOther => "cert.other",
            Self::CertExpiring => "cert.expiring",
            Self::CertExpired => "cert.expired",
            Self::CertShared => "cert.shared",
            Self::ThingQuarantined => "thing.quarantined",
            Self::JsonKey => "json.key",
            Self::JsonString => "json.string",
            Self::JsonNumber => "json.number",
            Self::JsonBool => "json.bool",
            Self::JsonNull => "json.null",
            Self::JsonPunctuation => "json.punctuation",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|slot| slot.name() == name)
    }
}

/// A problem in a theme file: which file, which line, what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("theme {file} line {line}: {message}")]
pub struct ThemeError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "mirrors the style table of a theme file"
)]
struct StyleFile {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underline: bool,
    #[serde(default)]
    reversed: bool,
    #[serde(default)]
    dim: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFileText {
    #[serde(default)]
    palette: BTreeMap<String, toml::Spanned<String>>,
    #[serde(default)]
    styles: BTreeMap<toml::Spanned<String>, toml::Spanned<StyleFile>>,
}

/// A parsed theme file, not yet resolved: files overlay one another before resolving.
#[derive(Debug, Clone, Default)]
pub struct ThemeFile {
    palette: BTreeMap<String, (String, Origin)>,
    styles: BTreeMap<Slot, (StyleFile, Origin)>,
}

#[derive(Debug, Clone)]
struct Origin {
    source: String,
    line: usize,
}

impl ThemeFile {
    /// Parses a theme file; `source` names it in errors. Unknown slots are errors here; colours
    /// are checked when resolving, after overlays.
    pub fn parse(source: &str, text: &str) -> Result<Self, ThemeError> {
        let error = |line: usize, message: String| ThemeError {
            file: source.to_owned(),
            line,
            message,
        };
        let file: ThemeFileText = toml::from_str(text).map_err(|e| {
            error(
                e.span().map_or(1, |s| line_of(text, s.start)),
                e.message().to_owned(),
            )
        })?;
        let origin = |offset: usize| Origin {
            source: source.to_owned(),
            line: line_of(text, offset),
        };
        let mut theme = Self::default();
        for (name, value) in file.palette {
            let at = origin(value.span().start);
            theme.palette.insert(name, (value.into_inner(), at));
        }
        for (name, style) in file.styles {
            let at = origin(name.span().start);
            let slot = Slot::from_name(name.get_ref()).ok_or_else(|| {
                error(
                    at.line,
                    format!(
                        "unknown style '{}': the styles are {}",
                        name.get_ref(),
                        slot_names()
                    ),
                )
            })?;
            theme.styles.insert(slot, (style.into_inner(), at));
        }
        Ok(theme)
    }

    /// Lays `user` over `self`: its palette entries and styles replace these.
    pub fn overlay(&mut self, user: Self) {
        self.palette.extend(user.palette);
        self.styles.extend(user.styles);
    }

    /// Resolves every slot to a style. `no_color` keeps only modifiers (and makes the selection
    /// reversed so it stays visible).
    pub fn resolve(&self, no_color: bool) -> Result<Theme, ThemeError> {
        let mut styles = BTreeMap::new();
        for slot in Slot::ALL {
            let Some((file, origin)) = self.styles.get(&slot) else {
                return Err(ThemeError {
                    file: "theme".into(),
                    line: 0,
                    message: format!("no style for '{}'", slot.name()),
                });
            };
            let colour =
                |name: &Option<String>, field: &str| -> Result<Option<Color>, ThemeError> {
                    name.as_ref()
                        .map(|n| self.colour(n, field, origin))
                        .transpose()
                };
            let mut style = Style::default();
            if !no_color {
                if let Some(fg) = colour(&file.fg, "fg")? {
                    style = style.fg(fg);
                }
                if let Some(bg) = colour(&file.bg, "bg")? {
                    style = style.bg(bg);
                }
            }
            let modifiers = [
                (file.bold, Modifier::BOLD),
                (file.italic, Modifier::ITALIC),
                (file.underline, Modifier::UNDERLINED),
                (
                    file.reversed || (no_color && slot == Slot::Selection),
                    Modifier::REVERSED,
                ),
                (file.dim, Modifier::DIM),
            ];
            for (on, modifier) in modifiers {
                if on {
                    style = style.add_modifier(modifier);
                }
            }
            styles.insert(slot, style);
        }
        Ok(Theme { styles })
    }

    /// A colour by palette name, or a literal: `#rrggbb`, an ANSI name, or `0`..`255`.
    fn colour(&self, name: &str, field: &str, origin: &Origin) -> Result<Color, ThemeError> {
        let (value, at) = match self.palette.get(name) {
            Some((value, at)) => (value.as_str(), at),
            None => (name, origin),
        };
        literal_colour(value).ok_or_else(|| ThemeError {
            file: at.source.clone(),
            line: at.line,
            message: format!(
                "unknown colour '{value}' for {field}: use a [palette] name, #rrggbb, an ANSI name (red, light-blue, dark-gray, ...) or 0-255"
            ),
        })
    }
}

fn slot_names() -> String {
    Slot::ALL
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn literal_colour(value: &str) -> Option<Color> {
    if let Some(hex) = value.strip_prefix('#') {
        if hex.len() != 6 {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
        return Some(Color::Rgb(byte(0)?, byte(2)?, byte(4)?));
    }
    if let Ok(index) = value.parse::<u8>() {
        return Some(Color::Indexed(index));
    }
    Some(
        match value.to_ascii_lowercase().replace('_', "-").as_str() {
            "reset" | "default" => Color::Reset,
            "black" => Color::Black,
            "red" => Color::Red,
            "green" => Color::Green,
            "yellow" => Color::Yellow,
            "blue" => Color::Blue,
            "magenta" => Color::Magenta,
            "cyan" => Color::Cyan,
            "gray" | "grey" => Color::Gray,
            "dark-gray" | "dark-grey" => Color::DarkGray,
            "light-red" => Color::LightRed,
            "light-green" => Color::LightGreen,
            "light-yellow" => Color::LightYellow,
            "light-blue" => Color::LightBlue,
            "light-magenta" => Color::LightMagenta,
            "light-cyan" => Color::LightCyan,
            "white" => Color::White,
            _ => return None,
        },
    )
}

/// A resolved theme: one style per slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    styles: BTreeMap<Slot, Style>,
}

impl Theme {
    #[must_use]
    pub fn style(&self, slot: Slot) -> Style {
        self.styles.get(&slot).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_resolve_through_the_palette_or_literally() {
        assert_eq!(literal_colour("#ff8000"), Some(Color::Rgb(255, 128, 0)));
        assert_eq!(literal_colour("light-blue"), Some(Color::LightBlue));
        assert_eq!(literal_colour("208"), Some(Color::Indexed(208)));
        assert_eq!(literal_colour("ultraviolet"), None);
        assert_eq!(literal_colour("#12345"), None);
    }

    #[test]
    fn an_unknown_colour_names_file_line_and_the_value() {
        let mut base = ThemeFile::parse(
            "dark.toml",
            crate::config::files::theme_text("dark").unwrap(),
        )
        .unwrap();
        let user = ThemeFile::parse(
            "theme.toml",
            "[palette]\nfg = \"#ffffff\"\n\n[styles]\ntitle = { fg = \"ultraviolet\" }\n",
        )
        .unwrap();
        base.overlay(user);
        let error = base.resolve(false).unwrap_err();
        assert_eq!((error.file.as_str(), error.line), ("theme.toml", 5));
        assert!(error.message.contains("'ultraviolet'"), "{error}");
    }

    #[test]
    fn an_unknown_style_name_is_refused_with_the_known_ones() {
        let error = ThemeFile::parse("t.toml", "[styles]\n\"cert.purple\" = { fg = \"red\" }\n")
            .unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.message.contains("cert.revoked"), "{error}");
    }

    #[test]
    fn no_color_keeps_modifiers_and_a_visible_selection() {
        let theme = ThemeFile::parse(
            "dark.toml",
            crate::config::files::theme_text("dark").unwrap(),
        )
        .unwrap()
        .resolve(true)
        .unwrap();
        for slot in Slot::ALL {
            let style = theme.style(slot);
            assert_eq!((style.fg, style.bg), (None, None), "{}", slot.name());
        }
        assert!(
            theme
                .style(Slot::Selection)
                .add_modifier
                .contains(Modifier::REVERSED)
        );
    }
}
