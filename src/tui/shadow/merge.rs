//! A desired state's arithmetic: JSON checked as it is typed (the line and column of the first
//! mistake), the diff of two desired states (added, changed, removed), the patch that turns one
//! into the other (`null` for each removed key), and the three-way merge of a draft onto a newer
//! shadow, where a key both sides changed waits for a choice, mine or theirs. Pure.

use serde_json::{Map, Value};

use crate::tui::shadow::edit_state::{Change, ChangeKind, Conflict, JsonError, Side};

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

#[must_use]
pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".to_owned())
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
