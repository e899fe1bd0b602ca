//! Editing a shadow's desired state: the draft and where it stands (editing, reviewing the diff,
//! applying, or in conflict with a newer version), JSON checked as it is typed with the line and
//! column of the first mistake, the diff of desired (added, changed, removed), and the update to
//! send: the new values, `null` for each removed key, and the version the edit started from, so
//! a concurrent change is a conflict and never overwritten. Pure: `update` calls in here.

use serde_json::{Map, Value};

use super::action::Action;
use super::state::{Level, Load, Message, Screen, State};
use super::update::Effect;
use crate::fleet::model::Shadow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Editing,
    /// The diff is shown; `y` applies it.
    Review,
    Applying,
    /// The shadow moved on since the edit began; the edit is kept.
    Conflict,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub line: usize,
    pub column: usize,
    pub message: String,
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

/// Parses the draft: a JSON object (the desired state), or `null` to clear it.
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let value: Value = serde_json::from_str(text).map_err(|e| JsonError {
        line: e.line(),
        column: e.column(),
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned(),
    })?;
    if value.is_object() || value.is_null() {
        Ok(value)
    } else {
        Err(JsonError {
            line: 1,
            column: 1,
            message: "desired must be a JSON object (or null to clear it)".into(),
        })
    }
}

fn object(value: &Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// What turns `old` into `new` under the shadow's merge rules: new and changed values, and
/// `null` for every key that is gone (objects compared key by key, at any depth).
#[must_use]
pub fn patch(old: &Value, new: &Value) -> Value {
    if new.is_null() {
        return Value::Null;
    }
    let (old, new) = (object(old), object(new));
    let mut out = Map::new();
    for (key, value) in &new {
        match (old.get(key), value) {
            (Some(before), _) if before == value => {}
            (Some(before @ Value::Object(_)), Value::Object(_)) => {
                out.insert(key.clone(), patch(before, value));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    for key in old.keys() {
        if !new.contains_key(key) {
            out.insert(key.clone(), Value::Null);
        }
    }
    Value::Object(out)
}

/// Every difference from `old` to `new`, by key path, in key order.
#[must_use]
pub fn diff(old: &Value, new: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk(&mut out, "", &object(old), &object(new));
    out
}

fn walk(out: &mut Vec<Change>, prefix: &str, old: &Map<String, Value>, new: &Map<String, Value>) {
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (old.get(key), new.get(key)) {
            (Some(Value::Object(a)), Some(Value::Object(b))) => walk(out, &path, a, b),
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => out.push(Change {
                path,
                kind: ChangeKind::Changed,
                old: Some(a.clone()),
                new: Some(b.clone()),
            }),
            (None, Some(b)) => out.push(Change {
                path,
                kind: ChangeKind::Added,
                old: None,
                new: Some(b.clone()),
            }),
            (Some(a), None) => out.push(Change {
                path,
                kind: ChangeKind::Removed,
                old: Some(a.clone()),
                new: None,
            }),
            (None, None) => {}
        }
    }
}

fn say(state: &mut State, level: Level, text: impl Into<String>) {
    state.message = Some(Message {
        level,
        text: text.into(),
    });
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".to_owned())
}

/// Like [`begin`], in `$VISUAL`/`$EDITOR` instead of the embedded editor.
pub fn begin_external(state: &mut State) -> Vec<Effect> {
    begin(state)
        .into_iter()
        .map(|effect| match effect {
            Effect::OpenEditor(text) => Effect::ExternalEditor(text),
            other => other,
        })
        .collect()
}

/// `e` on a shadow screen: edit desired, from the draft kept for this shadow if there is one.
pub fn begin(state: &mut State) -> Vec<Effect> {
    let Screen::Shadow { thing, name, .. } = state.screen().clone() else {
        return Vec::new();
    };
    if state.read_only {
        say(
            state,
            Level::Error,
            "refused by --read-only: editing a shadow is a mutation",
        );
        return Vec::new();
    }
    if let Some(edit) = &mut state.edit
        && edit.thing == thing
        && edit.name == name
    {
        edit.stage = Stage::Editing;
        edit.open = true;
        return vec![Effect::OpenEditor(edit.text.clone())];
    }
    let (base_version, base_desired) = match state.shadows.get(&(thing.clone(), name.clone())) {
        Some(Load::Ready(shadow)) => (
            shadow.version,
            shadow.desired.clone().unwrap_or(Value::Null),
        ),
        // No shadow yet: the edit creates it.
        Some(Load::Failed(_)) => (None, Value::Null),
        _ => {
            say(state, Level::Info, "the shadow is still loading");
            return Vec::new();
        }
    };
    let text = if base_desired.is_null() {
        "{\n}".to_owned()
    } else {
        pretty(&base_desired)
    };
    state.edit = Some(ShadowEdit {
        thing,
        name,
        base_version,
        base_desired,
        text: text.clone(),
        error: None,
        stage: Stage::Editing,
        open: true,
    });
    vec![Effect::OpenEditor(text)]
}

/// The editor's text changed.
pub fn typed(state: &mut State, text: String) {
    if let Some(edit) = &mut state.edit {
        edit.error = parse(&text).err();
        edit.text = text;
    }
}

/// Whether the edit is what the user is looking at: its shadow on screen, and the editor open
/// or a review, apply or conflict under way (a closed draft takes no keys).
#[must_use]
pub fn shown(state: &State) -> bool {
    state.edit.as_ref().is_some_and(|edit| {
        matches!(state.screen(), Screen::Shadow { thing, name, .. }
            if *thing == edit.thing && *name == edit.name)
            && (edit.open || edit.stage != Stage::Editing)
    })
}

/// The editing keys and the review, apply and conflict answers; None when no edit is shown.
pub fn act(state: &mut State, action: Action) -> Option<Vec<Effect>> {
    if !shown(state) || state.input.is_some() {
        return None;
    }
    let current = state.edit.as_ref()?.stage;
    let edit = state.edit.as_mut()?;
    match (current, action) {
        (Stage::Editing, Action::Apply) => {
            if let Some(error) = &edit.error {
                let text = format!(
                    "fix line {}, column {} first: {}",
                    error.line, error.column, error.message
                );
                say(state, Level::Error, text);
                return Some(Vec::new());
            }
            let new = parse(&edit.text).unwrap_or(Value::Null);
            let unchanged = if new.is_null() {
                edit.base_desired.is_null()
            } else {
                diff(&edit.base_desired, &new).is_empty()
            };
            if unchanged {
                say(state, Level::Info, "nothing changed");
                return Some(Vec::new());
            }
            edit.stage = Stage::Review;
            let version = edit
                .base_version
                .map_or_else(|| "a new shadow".to_owned(), |v| format!("version {v}"));
            say(
                state,
                Level::Warning,
                format!("apply these changes to {version}? y applies, n or Esc goes back"),
            );
            Some(Vec::new())
        }
        (Stage::Editing, Action::Cancel) => {
            // The draft stays: e opens it again.
            edit.open = false;
            say(
                state,
                Level::Info,
                "editor closed; the draft is kept (e to reopen)",
            );
            Some(Vec::new())
        }
        (Stage::Review, Action::Confirm) => {
            let new = parse(&edit.text).unwrap_or(Value::Null);
            edit.stage = Stage::Applying;
            let effect = Effect::UpdateShadow {
                thing: edit.thing.clone(),
                name: edit.name.clone(),
                desired: patch(&edit.base_desired, &new),
                version: edit.base_version,
                before: edit.base_desired.clone(),
            };
            say(state, Level::Info, "applying…");
            Some(vec![effect])
        }
        (Stage::Review | Stage::Conflict, Action::Cancel) => {
            edit.stage = Stage::Editing;
            edit.open = true;
            state.message = None;
            Some(Vec::new())
        }
        (Stage::Conflict, Action::Confirm) => {
            // Re-apply the edit on the newer version: the diff is recomputed against it.
            let (thing, name) = (edit.thing.clone(), edit.name.clone());
            if let Some(Load::Ready(newer)) = state.shadows.get(&(thing, name)) {
                let newer: Shadow = newer.clone();
                let edit = state.edit.as_mut()?;
                edit.base_version = newer.version;
                edit.base_desired = newer.desired.unwrap_or(Value::Null);
                edit.stage = Stage::Review;
                say(
                    state,
                    Level::Warning,
                    "your edit on the newer version: y applies, n or Esc goes back",
                );
            }
            Some(Vec::new())
        }
        // While applying, and any other key in review or conflict: nothing.
        (Stage::Applying | Stage::Review | Stage::Conflict, _) => Some(Vec::new()),
        (Stage::Editing, _) => None,
    }
}

/// The answer to an update: done (the edit ends), a conflict (the edit is kept and the newer
/// shadow loaded), or another rejection (explained; back to editing).
pub fn applied(state: &mut State, result: Result<Value, (bool, String)>) -> Vec<Effect> {
    let Some(edit) = state.edit.as_mut() else {
        return Vec::new();
    };
    let (thing, name) = (edit.thing.clone(), edit.name.clone());
    match result {
        Ok(accepted) => {
            let version = accepted["version"].as_u64().unwrap_or_default();
            // Our own change: the reload that follows is not someone else's.
            if let Some(Load::Ready(shadow)) = state.shadows.get_mut(&(thing.clone(), name.clone()))
            {
                shadow.version = Some(version);
            }
            state.edit = None;
            say(
                state,
                Level::Info,
                format!("applied: the shadow is at version {version}"),
            );
            state.shadow_checked = Some(state.now);
            vec![Effect::LoadShadow { thing, name }]
        }
        Err((true, _)) => {
            edit.stage = Stage::Conflict;
            edit.open = false;
            say(
                state,
                Level::Error,
                "conflict: someone changed the shadow since your edit began; nothing was overwritten. y re-applies your edit on the newer version, Esc goes back to editing",
            );
            state.shadow_checked = Some(state.now);
            vec![Effect::LoadShadow { thing, name }]
        }
        Err((false, error)) => {
            edit.stage = Stage::Editing;
            edit.open = true;
            say(state, Level::Error, format!("rejected: {error}"));
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_mistake_names_its_line_and_column() {
        let error = parse("{\n  \"speed\": 40,\n}").unwrap_err();
        assert_eq!((error.line, error.column), (3, 1));
        let error = parse("{\n  \"a\": 1").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(parse("[1]").is_err(), "desired is an object");
        assert_eq!(parse("null").unwrap(), Value::Null);
    }

    #[test]
    fn the_patch_sets_new_values_and_nulls_removed_keys_at_any_depth() {
        let old = json!({"speed": 10, "mode": "auto", "led": {"r": 1, "g": 2}});
        let new = json!({"speed": 40, "led": {"r": 1}, "fan": true});
        assert_eq!(
            patch(&old, &new),
            json!({"speed": 40, "led": {"g": null}, "fan": true, "mode": null})
        );
        assert_eq!(patch(&old, &Value::Null), Value::Null);
    }

    #[test]
    fn the_diff_lists_added_changed_and_removed_paths() {
        let old = json!({"speed": 10, "mode": "auto", "led": {"r": 1, "g": 2}});
        let new = json!({"speed": 40, "led": {"r": 1}, "fan": true});
        let changes: Vec<(String, ChangeKind)> = diff(&old, &new)
            .into_iter()
            .map(|c| (c.path, c.kind))
            .collect();
        assert_eq!(
            changes,
            [
                ("fan".into(), ChangeKind::Added),
                ("led.g".into(), ChangeKind::Removed),
                ("mode".into(), ChangeKind::Removed),
                ("speed".into(), ChangeKind::Changed),
            ]
        );
    }
}
