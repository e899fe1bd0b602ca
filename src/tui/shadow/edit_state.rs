//! A desired-state edit's state: the draft, where it stands, its conflicts and its diff.

use serde_json::Value;

pub use crate::json_error::JsonError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Being edited, or (once its change is a flow) confirmed and applied.
    Editing,
    /// The shadow moved on since the edit began; the edit is kept.
    Conflict,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ShadowEdit {
    pub thing: String,
    pub name: Option<String>,
    /// The version the edit is based on (None: the shadow did not exist).
    pub base_version: Option<u64>,
    /// Desired as it was at `base_version` (Null when there was none).
    pub base_desired: Value,
    pub text: String,
    /// The first mistake in `text`, if it does not parse.
    pub error: Option<JsonError>,
    pub stage: Stage,
    /// Whether the embedded editor is on screen (Esc hides it; the draft stays).
    pub open: bool,
    /// In a conflict: the keys both sides changed, each waiting for a choice.
    pub conflicts: Vec<Conflict>,
}

/// Whose value a key changed by both sides keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Mine,
    Theirs,
}

/// A key the user and someone else both changed, differently, since the edit began.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub path: Vec<String>,
    /// The value in the draft (None: removed).
    pub mine: Option<Value>,
    /// The value in the newer shadow (None: removed).
    pub theirs: Option<Value>,
    pub choice: Option<Side>,
}

impl Conflict {
    /// The key path as shown: `led.r`.
    #[must_use]
    pub fn shown(&self) -> String {
        self.path.join(".")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Changed,
    Removed,
}

/// One difference between two desired states, at a dotted key path.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
    pub old: Option<Value>,
    pub new: Option<Value>,
}
