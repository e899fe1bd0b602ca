//! Keymap files: vim-style key notation (`q`, `<C-c>`, `<S-Tab>`, chords `["g", "g"]`), one
//! section per layer, user files overlaying the shipped defaults (replace, add, or unbind with
//! `run = "noop"`). Parsing only: which actions exist is the console's to check.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

/// A key as the keymap knows it, independent of the terminal library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCode {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
    F(u8),
}

impl Key {
    #[must_use]
    pub const fn plain(code: KeyCode) -> Self {
        Self {
            code,
            ctrl: false,
            alt: false,
        }
    }

    /// Parses one key in vim notation: `q`, `G`, `<Space>`, `<C-c>`, `<A-x>`, `<S-Tab>`, `<F5>`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut chars = text.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            return Ok(Self::plain(KeyCode::Char(c)));
        }
        let Some(inner) = text.strip_prefix('<').and_then(|t| t.strip_suffix('>')) else {
            return Err(format!(
                "'{text}' is not a key: use one character or <Name>, e.g. q, <Enter>, <C-c>"
            ));
        };
        let mut key = Self::plain(KeyCode::Esc);
        let mut shift = false;
        let mut rest = inner;
        while rest.len() > 2 && rest.as_bytes()[1] == b'-' {
            match rest.as_bytes()[0].to_ascii_uppercase() {
                b'C' => key.ctrl = true,
                b'A' | b'M' => key.alt = true,
                b'S' => shift = true,
                _ => {
                    return Err(format!(
                        "'{text}': unknown modifier '{}' (use C-, A- or S-)",
                        &rest[..1]
                    ));
                }
            }
            rest = &rest[2..];
        }
        let mut one = rest.chars();
        key.code = match (one.next(), one.next()) {
            (Some(c), None) => KeyCode::Char(if shift { c.to_ascii_uppercase() } else { c }),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "cr" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" if shift => KeyCode::BackTab,
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "backspace" | "bs" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pageup" => KeyCode::PageUp,
                "pagedown" => KeyCode::PageDown,
                "space" => KeyCode::Char(' '),
                "lt" => KeyCode::Char('<'),
                name => match name.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                    Some(n) if (1..=12).contains(&n) => KeyCode::F(n),
                    _ => return Err(format!("'{text}': unknown key name '{rest}'")),
                },
            },
        };
        Ok(key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.code {
            KeyCode::Char(' ') => "Space".to_owned(),
            KeyCode::Char('<') => "lt".to_owned(),
            KeyCode::Char(c) if !self.ctrl && !self.alt => return write!(f, "{c}"),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "S-Tab".into(),
            KeyCode::Backspace => "Backspace".into(),
            KeyCode::Delete => "Delete".into(),
            KeyCode::Up => "Up".into(),
            KeyCode::Down => "Down".into(),
            KeyCode::Left => "Left".into(),
            KeyCode::Right => "Right".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::PageUp => "PageUp".into(),
            KeyCode::PageDown => "PageDown".into(),
            KeyCode::F(n) => format!("F{n}"),
        };
        let ctrl = if self.ctrl { "C-" } else { "" };
        let alt = if self.alt { "A-" } else { "" };
        write!(f, "<{ctrl}{alt}{name}>")
    }
}

/// One binding: a key sequence and the action name it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub keys: Vec<Key>,
    pub run: String,
    pub desc: String,
    /// Where it was defined, for error messages: file name and line.
    pub source: String,
    pub line: usize,
    /// The binding of the same keys this one replaced (a default under a user's file): kept, so
    /// that a user entry naming no known action leaves the default bound, not the key unbound.
    pub replaces: Option<Box<Binding>>,
}

/// Bindings by layer (`global`, `list`, `things`, ...), in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keymap {
    pub layers: BTreeMap<String, Vec<Binding>>,
}

/// A problem in a keymap file: which file, which line, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("keymap {file} line {line}: {message}")]
pub struct KeymapError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerFile {
    keymap: Vec<toml::Spanned<EntryFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    on: toml::Spanned<OnFile>,
    run: String,
    #[serde(default)]
    desc: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OnFile {
    One(String),
    Chord(Vec<String>),
}

/// The 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Keymap {
    /// Parses a keymap file; `source` names it in errors.
    pub fn parse(source: &str, text: &str) -> Result<Self, KeymapError> {
        let layers: BTreeMap<String, LayerFile> =
            toml::from_str(text).map_err(|e| KeymapError {
                file: source.to_owned(),
                line: e.span().map_or(1, |span| line_of(text, span.start)),
                message: e.message().to_owned(),
            })?;
        let mut keymap = Self::default();
        for (layer, file) in layers {
            let mut bindings = Vec::new();
            for entry in file.keymap {
                let line = line_of(text, entry.span().start);
                let entry = entry.into_inner();
                let error = |message: String| KeymapError {
                    file: source.to_owned(),
                    line,
                    message,
                };
                let names = match entry.on.into_inner() {
                    OnFile::One(one) => vec![one],
                    OnFile::Chord(chord) if chord.is_empty() => {
                        return Err(error("'on' is an empty list".into()));
                    }
                    OnFile::Chord(chord) => chord,
                };
                let keys = names
                    .iter()
                    .map(|k| Key::parse(k))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(error)?;
                bindings.push(Binding {
                    keys,
                    run: entry.run,
                    desc: entry.desc,
                    source: source.to_owned(),
                    line,
                    replaces: None,
                });
            }
            keymap.layers.insert(layer, bindings);
        }
        Ok(keymap)
    }

    /// Lays `user` over `self`: a user binding replaces one with the same keys in its layer
    /// (`run = "noop"` unbinds), others are added.
    pub fn overlay(&mut self, user: Self) {
        for (layer, bindings) in user.layers {
            let existing = self.layers.entry(layer).or_default();
            for mut binding in bindings {
                let replaced = existing
                    .iter()
                    .position(|b| b.keys == binding.keys)
                    .map(|at| existing.remove(at));
                if binding.run != "noop" {
                    binding.replaces = replaced.map(Box::new);
                    existing.push(binding);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_notation_round_trips() {
        for text in [
            "q",
            "G",
            "?",
            "<C-c>",
            "<Esc>",
            "<Enter>",
            "<S-Tab>",
            "<A-x>",
            "<PageDown>",
            "<F5>",
            "<Space>",
        ] {
            let key = Key::parse(text).unwrap();
            assert_eq!(key.to_string(), text, "{text}");
        }
        assert_eq!(
            Key::parse("<c-C>").unwrap(),
            Key {
                code: KeyCode::Char('C'),
                ctrl: true,
                alt: false
            }
        );
        assert!(Key::parse("<Hyper-x>").unwrap_err().contains("unknown"));
        assert!(Key::parse("qq").unwrap_err().contains("not a key"));
    }

    #[test]
    fn chords_descriptions_and_lines_are_kept() {
        let text = "[global]\nkeymap = [\n  { on = \"q\", run = \"quit\", desc = \"Quit\" },\n  { on = [\"g\", \"g\"], run = \"top\" },\n]\n";
        let keymap = Keymap::parse("test.toml", text).unwrap();
        let global = &keymap.layers["global"];
        assert_eq!(global[0].line, 3);
        assert_eq!(global[1].keys.len(), 2);
        assert_eq!(global[1].line, 4);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let text = "[global]\nkeymap = [\n  { on = \"<Bogus>\", run = \"quit\" },\n]\n";
        let error = Keymap::parse("mine.toml", text).unwrap_err();
        assert_eq!((error.file.as_str(), error.line), ("mine.toml", 3));
        assert!(
            error
                .to_string()
                .starts_with("keymap mine.toml line 3: '<Bogus>'"),
            "{error}"
        );
        let error =
            Keymap::parse("mine.toml", "[global]\nkeymap = [ { on = \"q\" } ]\n").unwrap_err();
        assert!(error.message.contains("run"), "{error}");
    }

    #[test]
    fn a_user_overlay_replaces_adds_and_unbinds() {
        let mut base = Keymap::parse("default", "[global]\nkeymap = [ { on = \"q\", run = \"quit\" }, { on = \"?\", run = \"help\" } ]\n").unwrap();
        let user = Keymap::parse("user", "[global]\nkeymap = [ { on = \"x\", run = \"quit\" }, { on = \"q\", run = \"noop\" } ]\n").unwrap();
        base.overlay(user);
        let runs: Vec<(String, &str)> = base.layers["global"]
            .iter()
            .map(|b| (b.keys[0].to_string(), b.run.as_str()))
            .collect();
        assert_eq!(runs, [("?".to_owned(), "help"), ("x".to_owned(), "quit")]);
    }
}
