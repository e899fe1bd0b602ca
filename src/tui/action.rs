//! User intents: what a key means, not which key it is. Keymap files name these by `name()`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Quit,
    Help,
    Command,
    Filter,
    Back,
    Refresh,
    Copy,
    Things,
    Certificates,
    Policies,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Sort,
    Confirm,
    Cancel,
    Complete,
    Traffic,
    Subscribe,
    Unsubscribe,
    Freeze,
    Clear,
    Publish,
    NextPane,
    Hex,
    Shadow,
    NextShadow,
    Metadata,
    Edit,
    EditExternal,
    Apply,
    JsonPath,
    Quarantine,
    Release,
    Can,
}

impl Action {
    pub const ALL: [Self; 39] = [
        Self::Quit,
        Self::Help,
        Self::Command,
        Self::Filter,
        Self::Back,
        Self::Refresh,
        Self::Copy,
        Self::Things,
        Self::Certificates,
        Self::Policies,
        Self::Up,
        Self::Down,
        Self::PageUp,
        Self::PageDown,
        Self::Top,
        Self::Bottom,
        Self::Open,
        Self::Sort,
        Self::Confirm,
        Self::Cancel,
        Self::Complete,
        Self::Traffic,
        Self::Subscribe,
        Self::Unsubscribe,
        Self::Freeze,
        Self::Clear,
        Self::Publish,
        Self::NextPane,
        Self::Hex,
        Self::Shadow,
        Self::NextShadow,
        Self::Metadata,
        Self::Edit,
        Self::EditExternal,
        Self::Apply,
        Self::JsonPath,
        Self::Quarantine,
        Self::Release,
        Self::Can,
    ];

    /// The name keymap files use for it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Quit => "quit",
            Self::Help => "help",
            Self::Command => "command",
            Self::Filter => "filter",
            Self::Back => "back",
            Self::Refresh => "refresh",
            Self::Copy => "copy",
            Self::Things => "things",
            Self::Certificates => "certificates",
            Self::Policies => "policies",
            Self::Up => "up",
            Self::Down => "down",
            Self::PageUp => "page_up",
            Self::PageDown => "page_down",
            Self::Top => "top",
            Self::Bottom => "bottom",
            Self::Open => "open",
            Self::Sort => "sort",
            Self::Confirm => "confirm",
            Self::Cancel => "cancel",
            Self::Complete => "complete",
            Self::Traffic => "traffic",
            Self::Subscribe => "subscribe",
            Self::Unsubscribe => "unsubscribe",
            Self::Freeze => "freeze",
            Self::Clear => "clear",
            Self::Publish => "publish",
            Self::NextPane => "next_pane",
            Self::Hex => "hex",
            Self::Shadow => "shadow",
            Self::NextShadow => "next_shadow",
            Self::Metadata => "metadata",
            Self::Edit => "edit",
            Self::EditExternal => "edit_external",
            Self::Apply => "apply",
            Self::JsonPath => "json_path",
            Self::Quarantine => "quarantine",
            Self::Release => "release",
            Self::Can => "can",
        }
    }

    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
