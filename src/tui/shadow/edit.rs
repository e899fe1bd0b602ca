//! Editing a shadow's desired state: the draft and where it stands (editing, reviewing the diff,
//! applying, or in conflict with a newer version), JSON checked as it is typed with the line and
//! column of the first mistake, the diff of desired (added, changed, removed), and the update to
//! send: the new values, `null` for each removed key, and the version the edit started from, so
//! a concurrent change is a conflict and never overwritten. After a conflict the edit is merged
//! three ways: only the user's own changes (from the version the edit began at) go onto the
//! newer shadow, and a key both sides changed waits for an explicit choice, mine or theirs.
//! The edit's state is `state/shadow_edit.rs`. Pure: `update` calls in here.

use serde_json::{Map, Value};

use crate::fleet::model::Shadow;
use crate::tui::action::Action;
use crate::tui::data::Load;
use crate::tui::flows::flow::{self, Flow};
use crate::tui::msg::Level;
use crate::tui::msg::{Effect, Request};
use crate::tui::shadow::edit_state::{
    Change, ChangeKind, Conflict, JsonError, ShadowEdit, Side, Stage,
};
use crate::tui::state::{Screen, State};

/// Parses the draft: a JSON object (the desired state), or `null` to clear it.
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let value: Value = serde_json::from_str(text).map_err(|e| JsonError::of(&e))?;
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

/// The key paths (as segments) where `new` differs from `old`, as [`diff`] finds them.
fn changed_paths(old: &Value, new: &Value) -> Vec<Vec<String>> {
    fn go(
        out: &mut Vec<Vec<String>>,
        at: &[String],
        old: &Map<String, Value>,
        new: &Map<String, Value>,
    ) {
        let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let mut path = at.to_vec();
            path.push(key.clone());
            match (old.get(key), new.get(key)) {
                (Some(Value::Object(a)), Some(Value::Object(b))) => go(out, &path, a, b),
                (a, b) if a == b => {}
                _ => out.push(path),
            }
        }
    }
    let mut out = Vec::new();
    if old.is_object() || new.is_object() || old == new {
        go(&mut out, &[], &object(old), &object(new));
    } else {
        out.push(Vec::new());
    }
    out
}

fn value_at<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |value, key| value.get(key))
}

/// The keys changed both in `mine` and in `theirs` since `base`, to different values (one
/// side's change inside a key the other replaced or removed counts, at the outer key).
#[must_use]
pub fn conflicts(base: &Value, mine: &Value, theirs: &Value) -> Vec<Conflict> {
    let (ours, others) = (changed_paths(base, mine), changed_paths(base, theirs));
    let mut out: Vec<Conflict> = Vec::new();
    for a in &ours {
        for b in &others {
            let at = if a.starts_with(b) {
                b
            } else if b.starts_with(a) {
                a
            } else {
                continue;
            };
            let (m, t) = (value_at(mine, at), value_at(theirs, at));
            if m != t && !out.iter().any(|c| c.path == *at) {
                out.push(Conflict {
                    path: at.clone(),
                    mine: m.cloned(),
                    theirs: t.cloned(),
                    choice: None,
                });
            }
        }
    }
    out
}

/// Applies a merge patch (objects merged key by key, `null` removes, anything else replaces).
fn apply_patch(target: &Value, patch: &Value) -> Value {
    let Value::Object(patch) = patch else {
        return patch.clone();
    };
    let mut out = object(target);
    for (key, value) in patch {
        if value.is_null() {
            out.remove(key);
        } else if value.is_object() {
            let merged = apply_patch(out.get(key).unwrap_or(&Value::Null), value);
            out.insert(key.clone(), merged);
        } else {
            out.insert(key.clone(), value.clone());
        }
    }
    Value::Object(out)
}

/// Sets (or with None, removes) `path` in a merge patch: the whole value, not merged.
fn set_in_patch(own: &mut Value, keys: &[String], value: Option<&Value>) {
    let Some((last, parents)) = keys.split_last() else {
        *own = value.cloned().unwrap_or(Value::Null);
        return;
    };
    let mut at = own;
    for key in parents {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        at = at
            .as_object_mut()
            .expect("made an object above")
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !at.is_object() {
        *at = Value::Object(Map::new());
    }
    if let Some(map) = at.as_object_mut() {
        map.insert(last.clone(), value.cloned().unwrap_or(Value::Null));
    }
}

/// Takes `path` out of a merge patch (that part is left as the other side has it).
fn remove_from_patch(own: &mut Value, keys: &[String]) {
    let Some((last, parents)) = keys.split_last() else {
        *own = Value::Object(Map::new());
        return;
    };
    if let Some(Value::Object(map)) = parents
        .iter()
        .try_fold(&mut *own, |value, key| value.get_mut(key))
    {
        map.remove(last);
    }
}

/// The user's own changes (from `base` to `mine`) applied onto `theirs`; each conflict takes
/// the side chosen for it (mine when none is chosen yet).
#[must_use]
pub fn merge(base: &Value, mine: &Value, theirs: &Value, conflicts: &[Conflict]) -> Value {
    if mine.is_null() {
        // Clearing desired is one change: it stays one.
        return Value::Null;
    }
    let mut own = patch(base, mine);
    for conflict in conflicts {
        match conflict.choice {
            Some(Side::Theirs) => remove_from_patch(&mut own, &conflict.path),
            Some(Side::Mine) | None => {
                set_in_patch(&mut own, &conflict.path, conflict.mine.as_ref());
            }
        }
    }
    apply_patch(theirs, &own)
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
        state.say(
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
    let (base_version, base_desired) = match state.fleet.shadows.get(&(thing.clone(), name.clone()))
    {
        Some(Load::Ready(shadow)) => (
            shadow.version,
            shadow.desired.clone().unwrap_or(Value::Null),
        ),
        // No shadow yet: the edit creates it.
        Some(Load::Failed(_)) => (None, Value::Null),
        _ => {
            state.say(Level::Info, "the shadow is still loading");
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
        conflicts: Vec::new(),
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

/// The editing keys and the review, apply and conflict answers; None when no edit is shown.
pub fn act(state: &mut State, action: Action) -> Option<Vec<Effect>> {
    let keys = state.answer_keys.clone();
    if state.shown_edit().is_none() || state.input.is_some() {
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
                state.say(Level::Error, text);
                return Some(Vec::new());
            }
            let new = parse(&edit.text).unwrap_or(Value::Null);
            let unchanged = if new.is_null() {
                edit.base_desired.is_null()
            } else {
                diff(&edit.base_desired, &new).is_empty()
            };
            if unchanged {
                state.say(Level::Info, "nothing changed");
                return Some(Vec::new());
            }
            let version = edit
                .base_version
                .map_or_else(|| "a new shadow".to_owned(), |v| format!("version {v}"));
            let change = apply_change(edit, &new);
            state.flow = Some(Flow::confirming(change));
            state.say(
                Level::Warning,
                format!(
                    "apply these changes to {version}? {} applies, {} or {} goes back",
                    keys.yes,
                    keys.no,
                    keys.esc()
                ),
            );
            Some(Vec::new())
        }
        (Stage::Editing, Action::Cancel) => {
            // The draft stays: e opens it again.
            edit.open = false;
            state.say(
                Level::Info,
                "editor closed; the draft is kept (e to reopen)",
            );
            Some(Vec::new())
        }
        (Stage::Conflict, Action::Cancel | Action::No) => {
            edit.stage = Stage::Editing;
            edit.open = true;
            state.message = None;
            Some(Vec::new())
        }
        (Stage::Conflict, Action::Confirm | Action::Yes) => Some(rebase(state)),
        (Stage::Conflict, Action::Mine) => Some(choose(state, Side::Mine)),
        (Stage::Conflict, Action::Theirs) => Some(choose(state, Side::Theirs)),
        // Any other key in a conflict: nothing.
        (Stage::Conflict, _) => Some(Vec::new()),
        (Stage::Editing, _) => None,
    }
}

/// The change that applies `new` (the draft, parsed) to the shadow the edit is based on.
fn apply_change(edit: &ShadowEdit, new: &Value) -> flow::Change {
    flow::Change::Shadow {
        thing: edit.thing.clone(),
        name: edit.name.clone(),
        desired: patch(&edit.base_desired, new),
        version: edit.base_version,
        before: edit.base_desired.clone(),
    }
}

/// The newer shadow a conflicted edit must be merged onto, once it has loaded.
fn newer(state: &State) -> Option<Shadow> {
    let edit = state.edit.as_ref()?;
    match state
        .fleet
        .shadows
        .get(&(edit.thing.clone(), edit.name.clone()))
    {
        Some(Load::Ready(newer)) if newer.version != edit.base_version => Some(newer.clone()),
        _ => None,
    }
}

/// `y` in a conflict: the user's own changes merged onto the newer shadow. Keys both sides
/// changed are listed first and each needs a choice (`m` mine, `t` theirs) before the merge is
/// reviewed; a key only the other side changed keeps its newer value.
fn rebase(state: &mut State) -> Vec<Effect> {
    let keys = state.answer_keys.clone();
    let Some(newer) = newer(state) else {
        state.say(Level::Info, "the newer shadow is still loading");
        return Vec::new();
    };
    let theirs = newer.desired.clone().unwrap_or(Value::Null);
    let Some(edit) = state.edit.as_mut() else {
        return Vec::new();
    };
    let mine = parse(&edit.text).unwrap_or(Value::Null);
    if edit.conflicts.is_empty() {
        edit.conflicts = conflicts(&edit.base_desired, &mine, &theirs);
        if !edit.conflicts.is_empty() {
            let count = edit.conflicts.len();
            state.say(Level::Warning,
                format!(
                    "{count} key(s) changed by both sides: {} keeps yours, {} keeps theirs, one key at a time; then {}",
                    keys.mine, keys.theirs, keys.yes
                ),
            );
            return Vec::new();
        }
    }
    if let Some(open) = edit.conflicts.iter().find(|c| c.choice.is_none()) {
        let text = format!(
            "choose for {} first: {} keeps yours, {} keeps theirs",
            open.shown(),
            keys.mine,
            keys.theirs
        );
        state.say(Level::Warning, text);
        return Vec::new();
    }
    let merged = merge(&edit.base_desired, &mine, &theirs, &edit.conflicts);
    edit.base_version = newer.version;
    edit.base_desired = theirs;
    edit.text = if merged.is_null() {
        "null".to_owned()
    } else {
        pretty(&merged)
    };
    edit.error = None;
    edit.conflicts.clear();
    let unchanged = diff(&edit.base_desired, &merged).is_empty() && !merged.is_null();
    if unchanged {
        edit.stage = Stage::Editing;
        edit.open = true;
        let text = edit.text.clone();
        state.say(
            Level::Info,
            "nothing of yours is left to apply on the newer version",
        );
        return vec![Effect::OpenEditor(text)];
    }
    edit.stage = Stage::Editing;
    let text = edit.text.clone();
    let change = apply_change(edit, &merged);
    state.flow = Some(Flow::confirming(change));
    state.say(
        Level::Warning,
        format!(
            "your changes on the newer version: {} applies, {} or {} goes back to editing them",
            keys.yes,
            keys.no,
            keys.esc()
        ),
    );
    // The editor holds the merged draft from now on.
    vec![Effect::OpenEditor(text)]
}

/// `m` or `t` in a conflict: the first key still waiting gets that side.
pub fn choose(state: &mut State, side: Side) -> Vec<Effect> {
    let keys = state.answer_keys.clone();
    let Some(newer) = newer(state) else {
        state.say(Level::Info, "the newer shadow is still loading");
        return Vec::new();
    };
    let Some(edit) = state.edit.as_mut().filter(|e| e.stage == Stage::Conflict) else {
        return Vec::new();
    };
    if edit.conflicts.is_empty() {
        let mine = parse(&edit.text).unwrap_or(Value::Null);
        let theirs = newer.desired.unwrap_or(Value::Null);
        edit.conflicts = conflicts(&edit.base_desired, &mine, &theirs);
    }
    let Some(open) = edit.conflicts.iter_mut().find(|c| c.choice.is_none()) else {
        state.say(
            Level::Info,
            format!(
                "every key has a choice: {} merges and shows the result",
                keys.yes
            ),
        );
        return Vec::new();
    };
    open.choice = Some(side);
    let path = open.shown();
    let left = edit.conflicts.iter().filter(|c| c.choice.is_none()).count();
    let kept = match side {
        Side::Mine => "yours",
        Side::Theirs => "theirs",
    };
    let text = if left == 0 {
        format!(
            "{path}: {kept}. Every key has a choice: {} merges and shows the result",
            keys.yes
        )
    } else {
        format!(
            "{path}: {kept}; {left} more to choose ({} or {})",
            keys.mine, keys.theirs
        )
    };
    state.say(Level::Info, text);
    Vec::new()
}

/// The answer to an update, and whether its journal entry was written: done (the edit ends), a
/// conflict (the edit is kept and the newer shadow loaded), or another rejection (explained;
/// back to editing).
pub fn applied(
    state: &mut State,
    result: Result<Value, (bool, String)>,
    journal_error: Option<String>,
) -> Vec<Effect> {
    let effects = answered(state, result);
    if let Some(error) = journal_error {
        state.say(
            Level::Error,
            format!("the journal could not be written: {error}"),
        );
    }
    effects
}

fn answered(state: &mut State, result: Result<Value, (bool, String)>) -> Vec<Effect> {
    let keys = state.answer_keys.clone();
    let Some(edit) = state.edit.as_mut() else {
        return Vec::new();
    };
    let (thing, name) = (edit.thing.clone(), edit.name.clone());
    // The flow that applied it ends with its answer.
    state.flow = None;
    match result {
        Ok(accepted) => {
            let version = accepted["version"].as_u64().unwrap_or_default();
            // Our own change: the reload that follows is not someone else's.
            if let Some(Load::Ready(shadow)) =
                state.fleet.shadows.get_mut(&(thing.clone(), name.clone()))
            {
                shadow.version = Some(version);
            }
            state.edit = None;
            state.say(
                Level::Info,
                format!("applied: the shadow is at version {version}"),
            );
            state.shadow_checked = Some(state.now);
            vec![Effect::Request(Request::LoadShadow { thing, name })]
        }
        Err((true, _)) => {
            edit.stage = Stage::Conflict;
            edit.open = false;
            edit.conflicts.clear();
            state.say(Level::Error,
                format!(
                    "conflict: someone changed the shadow since your edit began; nothing was overwritten. {} merges your own changes onto the newer version, {} goes back to editing",
                    keys.yes,
                    keys.esc()
                ),
            );
            state.shadow_checked = Some(state.now);
            vec![Effect::Request(Request::LoadShadow { thing, name })]
        }
        Err((false, error)) => {
            edit.stage = Stage::Editing;
            edit.open = true;
            state.say(Level::Error, format!("rejected: {error}"));
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
    fn a_three_way_merge_keeps_their_changes_and_flags_keys_both_changed() {
        let base = json!({"speed": 10, "mode": "auto", "led": {"r": 1, "g": 2}, "fan": false});
        // Mine: speed and led.r; theirs: mode, led.r (differently) and fan.
        let mine = json!({"speed": 40, "mode": "auto", "led": {"r": 9, "g": 2}, "fan": false});
        let theirs = json!({"speed": 10, "mode": "eco", "led": {"r": 5, "g": 2}, "fan": true});
        let mut found = conflicts(&base, &mine, &theirs);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].shown(), "led.r");
        assert_eq!(
            (found[0].mine.clone(), found[0].theirs.clone()),
            (Some(json!(9)), Some(json!(5)))
        );
        found[0].choice = Some(Side::Theirs);
        assert_eq!(
            merge(&base, &mine, &theirs, &found),
            json!({"speed": 40, "mode": "eco", "led": {"r": 5, "g": 2}, "fan": true})
        );
        found[0].choice = Some(Side::Mine);
        assert_eq!(
            merge(&base, &mine, &theirs, &found),
            json!({"speed": 40, "mode": "eco", "led": {"r": 9, "g": 2}, "fan": true})
        );
        // The same change on both sides is no conflict; a change inside a key the other side
        // removed is one, at the outer key, and mine restores all of it.
        let same = json!({"speed": 10, "mode": "eco", "led": {"r": 1, "g": 2}, "fan": false});
        assert!(conflicts(&base, &same, &theirs).is_empty());
        let removed = json!({"speed": 10, "mode": "auto", "fan": false});
        let mut outer = conflicts(&base, &mine, &removed);
        assert_eq!(outer.len(), 1);
        assert_eq!(outer[0].shown(), "led");
        outer[0].choice = Some(Side::Mine);
        assert_eq!(
            merge(&base, &mine, &removed, &outer),
            json!({"speed": 40, "mode": "auto", "led": {"r": 9, "g": 2}, "fan": false})
        );
        outer[0].choice = Some(Side::Theirs);
        assert_eq!(
            merge(&base, &mine, &removed, &outer),
            json!({"speed": 40, "mode": "auto", "fan": false})
        );
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
