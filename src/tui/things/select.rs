//! Choosing many Things: `:search QUERY` opens the Things fleet indexing matches (SearchIndex;
//! where the account has no index that is said, and the list filter stands in for it); marks
//! (`Space` on a row, `*` for every row shown, `:mark group G` for a group's members, `:unmark`)
//! are kept by name across screens, and their count stays in the list's title. `Q` and the
//! release key act on the marks when there are any (`bulk.rs`).

use crate::query::Query;
use crate::query::parse::{Node, Piece, Test};
use crate::tui::data::{ListKind, Load};
use crate::tui::msg::Level;
use crate::tui::msg::{Effect, FleetEvent, Request, SearchFailure};
use crate::tui::state::{ListView, Screen, SearchView, State};
use crate::tui::things::rows::recompute_rows;

/// `:search QUERY`: a Things list of the matches, on top of the stack.
pub fn search(state: &mut State, query: &str) -> Vec<Effect> {
    state.screens.push(Screen::List(
        ListKind::Things,
        ListView {
            search: Some(SearchView {
                query: query.to_owned(),
                names: Load::Loading,
            }),
            ..ListView::default()
        },
    ));
    recompute_rows(state, ListKind::Things);
    vec![Effect::Request(Request::Search {
        query: query.to_owned(),
    })]
}

/// Folds in a search's answer or a group's members.
pub fn arrived(state: &mut State, event: FleetEvent) {
    match event {
        FleetEvent::Searched { query, result } => searched(state, &query, result),
        FleetEvent::GroupMembers { group, result } => group_members(state, &group, result),
        _ => {}
    }
}

/// The search's answer, folded into the screens that asked it.
fn searched(state: &mut State, query: &str, result: Result<Vec<String>, SearchFailure>) {
    let mut fallback = None;
    for screen in &mut state.screens {
        let Screen::List(ListKind::Things, view) = screen else {
            continue;
        };
        let Some(search) = view.search.as_mut().filter(|s| s.query == query) else {
            continue;
        };
        match &result {
            Ok(names) => search.names = Load::Ready(names.iter().cloned().collect()),
            Err(SearchFailure::NoIndex(_)) => {
                // The list filter stands in, with the query's first value.
                let term = first_value(query);
                view.search = None;
                view.filter.clone_from(&term);
                fallback = Some(term);
            }
            Err(SearchFailure::Invalid(message) | SearchFailure::Other(message)) => {
                search.names = Load::Failed(message.clone());
            }
        }
    }
    match result {
        Ok(names) => state.say(Level::Info, format!("{} Things match {query}", names.len())),
        Err(SearchFailure::NoIndex(why)) => state.say(
            Level::Warning,
            format!(
                "{why}; the list is filtered by '{}' instead",
                fallback.unwrap_or_default()
            ),
        ),
        Err(SearchFailure::Invalid(message) | SearchFailure::Other(message)) => {
            state.say(Level::Error, message);
        }
    }
    recompute_rows(state, ListKind::Things);
}

/// The first value a query names (`plant-north` of `attributes.site:plant-north AND …`),
/// without its wildcards: what the list filter can match without an index.
fn first_value(query: &str) -> String {
    fn walk(node: &Node) -> Option<String> {
        match node {
            Node::And(parts) | Node::Or(parts) => parts.iter().find_map(walk),
            Node::Not(_) => None,
            Node::Term { test, .. } => match test {
                Test::Pattern(pieces) => Some(
                    pieces
                        .iter()
                        .filter_map(|p| match p {
                            Piece::Char(c) => Some(*c),
                            Piece::Star | Piece::One => None,
                        })
                        .collect(),
                ),
                Test::Phrase(text) => Some(text.clone()),
                Test::Range { .. } => None,
            },
        }
    }
    Query::parse(query)
        .ok()
        .and_then(|q| walk(&q.root))
        .unwrap_or_default()
}

/// `Space`: marks the Thing under the cursor, or unmarks it.
pub fn toggle(state: &mut State) {
    if !matches!(state.screen(), Screen::List(ListKind::Things, _)) {
        state.say(
            Level::Warning,
            "marks are for Things: open the Things list (1)",
        );
        return;
    }
    let Some(thing) = state.selected_thing() else {
        return;
    };
    if !state.marked.remove(&thing) {
        state.marked.insert(thing);
    }
}

/// `*`: marks every Thing the list shows (its filter and search applied). A filter still being
/// matched is matched to the end first: its rows so far are not all it keeps.
pub fn mark_shown(state: &mut State) {
    crate::tui::things::rows::finish_matching(state);
    let Screen::List(ListKind::Things, view) = state.screen() else {
        state.say(
            Level::Warning,
            "marks are for Things: open the Things list (1)",
        );
        return;
    };
    let names: Vec<String> = view
        .rows
        .iter()
        .filter_map(|&i| state.fleet.things.items.get(i as usize))
        .map(|t| t.name().to_owned())
        .collect();
    let before = state.marked.len();
    state.marked.extend(names);
    let added = state.marked.len() - before;
    let total = state.marked.len();
    state.say(Level::Info, format!("{added} more marked, {total} in all"));
}

/// `:unmark`.
pub fn clear(state: &mut State) {
    let count = state.marked.len();
    state.marked.clear();
    state.say(Level::Info, format!("{count} marks cleared"));
}

/// `:mark group GROUP`: asks for its members, then marks them.
pub fn mark_group(state: &mut State, group: &str) -> Vec<Effect> {
    state.say(Level::Info, format!("marking the members of {group}…"));
    vec![Effect::Request(Request::GroupMembers {
        group: group.to_owned(),
    })]
}

fn group_members(state: &mut State, group: &str, result: Result<Vec<String>, String>) {
    match result {
        Ok(members) => {
            let count = members.len();
            state.marked.extend(members);
            let total = state.marked.len();
            state.say(
                Level::Info,
                format!("{count} members of {group} marked, {total} in all"),
            );
        }
        Err(error) => state.say(
            Level::Error,
            format!("cannot list the members of {group}: {error}"),
        ),
    }
}
