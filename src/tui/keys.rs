//! Turns key presses into actions through the live keymap: layers searched from the most
//! specific, multi-key chords, and the bindings that footer and help list.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ratatui::crossterm::event::{KeyCode as TermCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::config::keymap::{Key, KeyCode, Keymap};
use crate::tui::action::Action;
use crate::tui::msg::AnswerKeys;
use crate::tui::state::{Focus, Screen};

/// Where a key is looked up; the console asks the layers of what has the focus, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    Global,
    List,
    Detail,
    Traffic,
    Shadow,
    Editor,
    Input,
    /// The answers to a confirmation (yes, no; mine, theirs in a shadow conflict).
    Confirm,
    Help,
}

impl Layer {
    const ALL: [Self; 9] = [
        Self::Global,
        Self::List,
        Self::Detail,
        Self::Traffic,
        Self::Shadow,
        Self::Editor,
        Self::Input,
        Self::Confirm,
        Self::Help,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::List => "list",
            Self::Detail => "detail",
            Self::Traffic => "traffic",
            Self::Shadow => "shadow",
            Self::Editor => "editor",
            Self::Input => "input",
            Self::Confirm => "confirm",
            Self::Help => "help",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub keys: Vec<Key>,
    pub action: Action,
    pub desc: String,
}

/// What a key press came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Action(Action),
    /// The start of a chord: wait for the next key.
    Pending,
    Unbound(Key),
}

#[derive(Debug, Clone, Default)]
pub struct KeyResolver {
    layers: BTreeMap<Layer, Vec<Bound>>,
    pending: Vec<Key>,
}

impl KeyResolver {
    /// Builds the resolver; problems (unknown layers or actions) are returned with file and line.
    #[must_use]
    pub fn new(keymap: &Keymap) -> (Self, Vec<String>) {
        let mut problems = Vec::new();
        let mut layers = BTreeMap::new();
        for (name, bindings) in &keymap.layers {
            let Some(layer) = Layer::ALL.into_iter().find(|l| l.name() == name) else {
                let (file, line) = bindings
                    .first()
                    .map_or(("keymap".into(), 0), |b| (b.source.clone(), b.line));
                let known = Layer::ALL.map(Layer::name).join(", ");
                problems.push(format!(
                    "keymap {file} line {line}: unknown layer [{name}]: the layers are {known}"
                ));
                continue;
            };
            let mut bound = Vec::new();
            for binding in bindings {
                if let Some(action) = Action::from_name(&binding.run) {
                    bound.push(Bound {
                        keys: binding.keys.clone(),
                        action,
                        desc: binding.desc.clone(),
                    });
                    continue;
                }
                let known = Action::ALL.map(Action::name).join(", ");
                let mut problem = format!(
                    "keymap {} line {}: unknown action '{}': the actions are {known}, or noop",
                    binding.source, binding.line, binding.run
                );
                // The default it meant to replace stays bound.
                if let Some(default) = &binding.replaces
                    && let Some(action) = Action::from_name(&default.run)
                {
                    let keys: Vec<String> = binding.keys.iter().map(ToString::to_string).collect();
                    let _ = write!(problem, "; {} keeps {}", keys.join(" "), default.run);
                    bound.push(Bound {
                        keys: default.keys.clone(),
                        action,
                        desc: default.desc.clone(),
                    });
                }
                problems.push(problem);
            }
            layers.insert(layer, bound);
        }
        (
            Self {
                layers,
                pending: Vec::new(),
            },
            problems,
        )
    }

    /// Resolves a key against `layers`, most specific first.
    pub fn resolve(&mut self, key: Key, layers: &[Layer]) -> Resolution {
        self.pending.push(key);
        let mut prefix = false;
        for layer in layers {
            for bound in self.layers.get(layer).into_iter().flatten() {
                if bound.keys == self.pending {
                    self.pending.clear();
                    return Resolution::Action(bound.action);
                }
                prefix |= bound.keys.starts_with(&self.pending);
            }
        }
        if prefix {
            return Resolution::Pending;
        }
        let was_chord = self.pending.len() > 1;
        self.pending.clear();
        if was_chord {
            self.resolve(key, layers)
        } else {
            Resolution::Unbound(key)
        }
    }

    /// The bindings of `layers` with a description, one per action, for the footer and help.
    #[must_use]
    pub fn hints(&self, layers: &[Layer]) -> Vec<(String, Action, String)> {
        let mut seen = Vec::new();
        let mut hints = Vec::new();
        for layer in layers {
            for bound in self.layers.get(layer).into_iter().flatten() {
                if seen.contains(&bound.action) || bound.desc.is_empty() {
                    continue;
                }
                seen.push(bound.action);
                let keys = bound
                    .keys
                    .iter()
                    .map(ToString::to_string)
                    .collect::<String>();
                hints.push((keys, bound.action, bound.desc.clone()));
            }
        }
        hints
    }

    /// The first key bound to `action` in each of `layers`, as the keymap writes it: what a
    /// prompt names ("y", "n <Esc>").
    #[must_use]
    pub fn keys_for(&self, action: Action, layers: &[Layer]) -> String {
        let mut keys: Vec<String> = Vec::new();
        for layer in layers {
            let first = self
                .layers
                .get(layer)
                .into_iter()
                .flatten()
                .find(|bound| bound.action == action);
            if let Some(bound) = first {
                let text = bound.keys.iter().map(ToString::to_string).collect();
                if !keys.contains(&text) {
                    keys.push(text);
                }
            }
        }
        keys.join(" ")
    }

    /// The keys that answer a confirmation, for the prompts that name them.
    #[must_use]
    pub fn answer_keys(&self) -> AnswerKeys {
        let confirm = |action| self.keys_for(action, &[Layer::Confirm]);
        let input = |action| self.keys_for(action, &[Layer::Input]);
        AnswerKeys {
            yes: confirm(Action::Yes),
            no: confirm(Action::No),
            confirm: input(Action::Confirm),
            cancel: input(Action::Cancel),
            complete: input(Action::Complete),
            mine: confirm(Action::Mine),
            theirs: confirm(Action::Theirs),
        }
    }

    /// Every binding of a layer, for the help screen.
    #[must_use]
    pub fn layer(&self, layer: Layer) -> &[Bound] {
        self.layers.get(&layer).map_or(&[], Vec::as_slice)
    }
}

/// The layers that take the keys when `focus` is on top of `screen`, most specific first.
#[must_use]
pub fn layers(focus: Focus, screen: &Screen) -> Vec<Layer> {
    match focus {
        Focus::Flow { text: true } | Focus::Input(_) => vec![Layer::Input],
        Focus::Flow { text: false } | Focus::Merge => vec![Layer::Confirm, Layer::Input],
        Focus::Editor => vec![Layer::Editor],
        Focus::Help => vec![Layer::Help],
        Focus::Screen => match screen {
            // A report is a list of findings or events: `/` filters it.
            Screen::List(..) | Screen::Report { .. } => vec![Layer::List, Layer::Global],
            Screen::Traffic => vec![Layer::Traffic, Layer::Global],
            Screen::Shadow { .. } => vec![Layer::Shadow, Layer::Global],
            _ => vec![Layer::Detail, Layer::Global],
        },
    }
}

/// The keymap's view of a terminal key event; None for releases and keys it has no name for.
#[must_use]
pub fn key_of(event: &KeyEvent) -> Option<Key> {
    if event.kind == KeyEventKind::Release {
        return None;
    }
    let code = match event.code {
        TermCode::Char(c) => KeyCode::Char(c),
        TermCode::Enter => KeyCode::Enter,
        TermCode::Esc => KeyCode::Esc,
        TermCode::Tab => KeyCode::Tab,
        TermCode::BackTab => KeyCode::BackTab,
        TermCode::Backspace => KeyCode::Backspace,
        TermCode::Delete => KeyCode::Delete,
        TermCode::Up => KeyCode::Up,
        TermCode::Down => KeyCode::Down,
        TermCode::Left => KeyCode::Left,
        TermCode::Right => KeyCode::Right,
        TermCode::Home => KeyCode::Home,
        TermCode::End => KeyCode::End,
        TermCode::PageUp => KeyCode::PageUp,
        TermCode::PageDown => KeyCode::PageDown,
        TermCode::F(n) => KeyCode::F(n),
        _ => return None,
    };
    // Esc pressed twice quickly arrives as Alt-Esc; it is still Esc.
    let alt = event.modifiers.contains(KeyModifiers::ALT) && code != KeyCode::Esc;
    Some(Key {
        code,
        ctrl: event.modifiers.contains(KeyModifiers::CONTROL),
        alt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(text: &str) -> KeyResolver {
        let (resolver, problems) = KeyResolver::new(&Keymap::parse("test", text).unwrap());
        assert!(problems.is_empty(), "{problems:?}");
        resolver
    }

    fn key(text: &str) -> Key {
        Key::parse(text).unwrap()
    }

    #[test]
    fn the_default_keymap_answers_with_the_keys_prompts_name_by_default() {
        let default = crate::config::files::KEYMAPS[0].1;
        let (keys, problems) = KeyResolver::new(&Keymap::parse("default", default).unwrap());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(keys.answer_keys(), AnswerKeys::default());
    }

    #[test]
    fn chords_wait_for_their_second_key() {
        let mut keys = resolver(
            "[global]\nkeymap = [ { on = [\"g\", \"g\"], run = \"top\" }, { on = \"G\", run = \"bottom\" } ]\n",
        );
        assert_eq!(
            keys.resolve(key("g"), &[Layer::Global]),
            Resolution::Pending
        );
        assert_eq!(
            keys.resolve(key("g"), &[Layer::Global]),
            Resolution::Action(Action::Top)
        );
        assert_eq!(
            keys.resolve(key("g"), &[Layer::Global]),
            Resolution::Pending
        );
        assert_eq!(
            keys.resolve(key("G"), &[Layer::Global]),
            Resolution::Action(Action::Bottom),
            "a broken chord retries the key"
        );
    }

    #[test]
    fn specific_layers_win_over_global() {
        let mut keys = resolver(
            "[global]\nkeymap = [ { on = \"<Esc>\", run = \"back\" } ]\n[input]\nkeymap = [ { on = \"<Esc>\", run = \"cancel\" } ]\n",
        );
        assert_eq!(
            keys.resolve(key("<Esc>"), &[Layer::Input, Layer::Global]),
            Resolution::Action(Action::Cancel)
        );
        assert_eq!(
            keys.resolve(key("<Esc>"), &[Layer::Global]),
            Resolution::Action(Action::Back)
        );
    }

    #[test]
    fn a_user_entry_naming_no_known_action_leaves_the_default_bound() {
        let mut keymap = Keymap::parse(
            "default.toml",
            "[global]\nkeymap = [ { on = \"q\", run = \"quit\" } ]\n",
        )
        .unwrap();
        keymap.overlay(
            Keymap::parse(
                "mine.toml",
                "[global]\nkeymap = [ { on = \"q\", run = \"self_destruct\" } ]\n",
            )
            .unwrap(),
        );
        let (mut keys, problems) = KeyResolver::new(&keymap);
        assert_eq!(
            keys.resolve(key("q"), &[Layer::Global]),
            Resolution::Action(Action::Quit),
            "q still quits"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("unknown action 'self_destruct'")
                    && p.ends_with("; q keeps quit")),
            "{problems:?}"
        );
    }

    #[test]
    fn unknown_actions_and_layers_are_reported_with_file_and_line() {
        let keymap = Keymap::parse("mine.toml", "[global]\nkeymap = [\n { on = \"x\", run = \"explode\" } ]\n[nowhere]\nkeymap = [ { on = \"q\", run = \"quit\" } ]\n").unwrap();
        let (_, problems) = KeyResolver::new(&keymap);
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("keymap mine.toml line 3: unknown action 'explode'")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("unknown layer [nowhere]")),
            "{problems:?}"
        );
    }
}
