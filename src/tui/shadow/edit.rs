//! Editing a shadow's desired state: the draft and where it stands (editing, reviewing the diff,
//! applying, or in conflict with a newer version), JSON checked as it is typed with the line and
//! column of the first mistake, the diff of desired (added, changed, removed), and the update to
//! send: the new values, `null` for each removed key, and the version the edit started from, so
//! a concurrent change is a conflict and never overwritten. After a conflict the edit is merged
//! three ways: only the user's own changes (from the version the edit began at) go onto the
//! newer shadow, and a key both sides changed waits for an explicit choice, mine or theirs.
//! The edit's state is `state/shadow_edit.rs`. Pure: `update` calls in here.

use serde_json::Value;

use crate::fleet::model::Shadow;
use crate::tui::action::Action;
use crate::tui::data::Load;
use crate::tui::flows::flow::{self, Flow};
use crate::tui::msg::Level;
use crate::tui::msg::{Effect, Request};
use crate::tui::shadow::edit_state::{ShadowEdit, Side, Stage};
use crate::tui::shadow::merge::{conflicts, diff, merge, parse, patch, pretty};
use crate::tui::state::{Screen, State};

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
