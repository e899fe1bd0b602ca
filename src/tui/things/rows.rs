//! The rows a list screen shows, in order: its `/` filter matched a slice at a time against a long
//! list so no keystroke holds the screen (`matching.rs`), fuzzily (`fuzzy.rs`) and by status
//! words (`status.rs`), then sorted (as listed, or by name, kind, status, expiry or last seen)
//! fast enough for a million Things; recomputed as Things arrive and statuses change, the
//! cursor kept on its row and inside the list.

use std::time::Duration;

use crate::tui::data::{ListKind, Load};
use crate::tui::state::{ListView, Screen, Sort, State};
use crate::tui::things::fuzzy::Fuzzy;
use crate::tui::things::matching::Matching;
use crate::tui::things::status;

/// Applies a filter to the list on screen; a filter that extends the previous one only narrows
/// the previous rows (fuzzy matches of "ab" are a subset of those of "a"). A long list is
/// matched for a slice now and the rest in later frames (`advance_matching`).
pub fn set_filter(state: &mut State, text: &str) {
    if let Screen::Report {
        report,
        cursor,
        scroll,
    } = state.screen_mut()
    {
        let report = *report;
        *cursor = 0;
        *scroll = 0;
        state.report_filters.insert(report, text.to_owned());
        return;
    }
    let top = state.screens.len() - 1;
    let Screen::List(_, view) = state.screen_mut() else {
        return;
    };
    if view.filter == text {
        return;
    }
    // A status word matches exactly, not as a growing fuzzy text: it starts afresh.
    let has_words = |filter: &str| !status::Filter::parse(filter).words.is_empty();
    let narrowing = !view.filter.is_empty()
        && text.starts_with(view.filter.as_str())
        && !has_words(&view.filter)
        && !has_words(text);
    let unfinished = view.matching.take();
    let mut base = None;
    let mut restored = false;
    if narrowing {
        base = Some(if let Some(matching) = &unfinished {
            // What it kept so far and what it had not reached yet.
            matching.narrowed(&view.rows)
        } else {
            view.history.push((view.filter.clone(), view.rows.clone()));
            std::mem::take(&mut view.rows)
        });
    } else {
        // Erasing back to a filter seen on the way in restores its rows at once; to one typed
        // over while it was still matching, narrows those of the filter before it.
        while let Some((filter, rows)) = view.history.last() {
            if filter == text {
                base = view.history.pop().map(|(_, rows)| rows);
                restored = true;
                break;
            }
            if text.starts_with(filter.as_str()) && !has_words(text) {
                base = Some(rows.clone());
                break;
            }
            view.history.pop();
        }
    }
    text.clone_into(&mut view.filter);
    view.selected = 0;
    view.offset = 0;
    match base {
        Some(rows) if restored => {
            view.rows = rows;
            view.scores.clear();
        }
        Some(base) => begin_matching(view, base),
        None => {
            let order = ordered(state, state.screen());
            if let Screen::List(_, view) = state.screen_mut() {
                begin_matching(view, order);
            }
        }
    }
    advance(state, top, SLICE);
    refresh_known(state, top);
}

/// How long a list's filter is matched before the screen is drawn again.
pub const SLICE: Duration = Duration::from_millis(6);

/// Starts matching the view's filter against `base` (an empty filter keeps it all at once).
fn begin_matching(view: &mut ListView, base: Vec<u32>) {
    view.scores.clear();
    if view.filter.trim().is_empty() {
        view.rows = base;
        view.matching = None;
    } else {
        view.rows.clear();
        view.matching = Some(Box::new(Matching::new(base)));
    }
}

/// Matches the filter of the screen on top to the end, now.
pub fn finish_matching(state: &mut State) {
    let top = state.screens.len() - 1;
    while matches!(&state.screens[top], Screen::List(_, view) if view.matching.is_some()) {
        advance(state, top, Duration::MAX);
    }
    clamp(state);
}

/// Matches screen `index`'s filter for about `budget`; once it is done, the rows are put best
/// first and the cursor goes back to the row a refresh kept.
pub fn advance(state: &mut State, index: usize, budget: Duration) {
    let Screen::List(kind, view) = &mut state.screens[index] else {
        return;
    };
    let kind = *kind;
    let Some(mut matching) = view.matching.take() else {
        return;
    };
    let mut rows = std::mem::take(&mut view.rows);
    let filter = view.filter.clone();
    let (looked, of) = matching.progress();
    let scanned_before = looked == of;
    let done = {
        let state: &State = state;
        let scorer = || {
            let mut matcher = RowMatcher::new(state, kind, &filter);
            move |row| matcher.score(row)
        };
        matching.advance(&mut rows, budget, &scorer)
    };
    let Screen::List(_, view) = &mut state.screens[index] else {
        return;
    };
    // Putting many rows in order takes milliseconds of its own: it gets a slice of its
    // own, the one after the last rows are matched.
    let late = !scanned_before && rows.len() > crate::tui::things::matching::MIN_ROWS;
    if !done || late {
        view.rows = rows;
        view.matching = Some(matching);
        return;
    }
    // The rows move into the filter's order: a cursor moved onto a row meanwhile stays on it.
    let selected = (view.selected > 0)
        .then(|| rows.get(view.selected).copied())
        .flatten();
    view.scores = matching.finish(&mut rows);
    if let Some(at) = selected.and_then(|item| rows.iter().position(|&row| row == item)) {
        let below_top = view.selected.saturating_sub(view.offset);
        view.selected = at;
        view.offset = at.saturating_sub(below_top);
    }
    view.rows = rows;
    if view.outdated {
        recompute_screen(state, index);
    } else {
        settle_keep(state, index);
    }
}

/// What a filter keeps of a list's rows and the score it gives them.
struct RowMatcher<'a> {
    state: &'a State,
    kind: ListKind,
    /// On the Things list, status words keep the Things known to have them (`status.rs`).
    words: status::Filter,
    fuzzy: Option<Fuzzy>,
}

impl<'a> RowMatcher<'a> {
    fn new(state: &'a State, kind: ListKind, text: &str) -> Self {
        let words = if kind == ListKind::Things {
            status::Filter::parse(text)
        } else {
            status::Filter {
                words: Vec::new(),
                text: text.to_owned(),
            }
        };
        let fuzzy = Fuzzy::new(&words.text);
        Self {
            state,
            kind,
            words,
            fuzzy,
        }
    }

    /// The row's score (higher is better), None when the filter does not keep it.
    fn score(&mut self, row: u32) -> Option<u32> {
        let row = row as usize;
        if row >= self.state.fleet.list_len(self.kind) {
            return None;
        }
        if !self.words.words.is_empty()
            && !self
                .words
                .keeps(self.state, self.state.fleet.things.items.at(row).name())
        {
            return None;
        }
        match &mut self.fuzzy {
            None => Some(0),
            Some(fuzzy) => fuzzy.score(haystack(self.state, self.kind, row)),
        }
    }
}

/// For a Things filter with status words not known fleet-wide: how many Things they are
/// known for.
fn status_known(state: &State, kind: ListKind, filter: &str) -> Option<usize> {
    let filter = status::Filter::parse(filter);
    (kind == ListKind::Things && !filter.fleet_wide()).then(|| status::known_for(state, &filter))
}

/// The item indices of a list in the screen's sort order.
fn ordered(state: &State, screen: &Screen) -> Vec<u32> {
    let Screen::List(kind, view) = screen else {
        return Vec::new();
    };
    let kind = *kind;
    let len = u32::try_from(state.fleet.list_len(kind)).unwrap_or(u32::MAX);
    let mut order: Vec<u32> = (0..len).collect();
    if kind == ListKind::Things && view.search.is_some() {
        order.retain(|&i| shown_by_search(view, state.fleet.things.items.at(i as usize).name()));
    }
    // Borrowed keys: a million Things sort without a string copied.
    let key = |i: u32| -> (&str, &str) {
        let i = i as usize;
        match kind {
            ListKind::Things => {
                let t = state.fleet.things.items.at(i);
                (t.thing_type().unwrap_or_default(), t.name())
            }
            ListKind::Certificates => {
                let c = &state.fleet.certificates.items[i];
                (c.status.as_aws(), &c.id)
            }
            ListKind::Policies => ("", &state.fleet.policies.items[i].name),
        }
    };
    let name = |i: u32| state.fleet.things.items.at(i as usize).name();
    match view.sort {
        Sort::Name => sort_rows_by_key(&mut order, |i| key(i).1),
        Sort::Kind => sort_rows_by_key(&mut order, key),
        // The status sorts are the Things list's; ties keep the listed order.
        Sort::Status if kind == ListKind::Things => {
            sort_rows_by_key(&mut order, |i| status::rank(state, name(i)));
        }
        Sort::Expiry if kind == ListKind::Things => {
            // Unknown last.
            sort_rows_by_key(&mut order, |i| {
                status::expiry_days(state, name(i)).unwrap_or(i64::MAX)
            });
        }
        Sort::LastSeen if kind == ListKind::Things => {
            sort_rows_by_key(&mut order, |i| {
                std::cmp::Reverse(status::last_seen(state, name(i)))
            });
        }
        Sort::Listed | Sort::Status | Sort::Expiry | Sort::LastSeen => {}
    }
    order
}

/// Sorts `rows` by `key`, ties in their order. Each key is read once into one array, which is
/// sorted (reading a packed Thing or its statuses at every comparison cost most of the sort);
/// a long list in two halves on two threads, then merged.
fn sort_rows_by_key<K, F>(rows: &mut Vec<u32>, key: F)
where
    K: Ord + Send,
    F: Fn(u32) -> K + Sync,
{
    let sorted = |part: &[u32]| -> Vec<(K, u32)> {
        let mut keyed: Vec<(K, u32)> = part.iter().map(|&row| (key(row), row)).collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed
    };
    let two = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    if rows.len() < crate::tui::things::matching::MIN_ROWS || !two {
        *rows = sorted(rows).into_iter().map(|(_, row)| row).collect();
        return;
    }
    let (first, second) = rows.split_at(rows.len() / 2);
    let (first, second) = std::thread::scope(|scope| {
        let other = scope.spawn(|| sorted(second));
        (sorted(first), other.join().expect("a sorting thread"))
    });
    let mut merged = Vec::with_capacity(rows.len());
    let (mut a, mut b) = (first.into_iter().peekable(), second.into_iter().peekable());
    loop {
        // On a tie the first half's row, which came first.
        let take_first = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.0 <= y.0,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_first { a.next() } else { b.next() };
        merged.extend(next.map(|(_, row)| row));
    }
    *rows = merged;
}

/// Whether a Things list screen shows `name`: a search keeps only its matches.
fn shown_by_search(view: &ListView, name: &str) -> bool {
    match &view.search {
        None => true,
        Some(search) => matches!(&search.names, Load::Ready(names) if names.contains(name)),
    }
}

/// What names a row across refreshes: a Thing's or policy's name, a certificate's id.
#[must_use]
pub fn key(state: &State, kind: ListKind, index: usize) -> &str {
    match kind {
        ListKind::Things => state.fleet.things.items.at(index).name(),
        ListKind::Certificates => &state.fleet.certificates.items[index].id,
        ListKind::Policies => &state.fleet.policies.items[index].name,
    }
}

fn still_loading(state: &State, kind: ListKind) -> bool {
    match kind {
        ListKind::Things => state.fleet.things.loading,
        ListKind::Certificates => state.fleet.certificates.loading,
        ListKind::Policies => state.fleet.policies.loading,
    }
}

#[must_use]
pub fn haystack(state: &State, kind: ListKind, index: usize) -> &str {
    match kind {
        ListKind::Things => state.fleet.things.items.haystack(index),
        ListKind::Certificates => &state.fleet.certificates.items[index].id,
        ListKind::Policies => &state.fleet.policies.items[index].name,
    }
}

/// Recomputes every list screen of `kind` on the stack (new items, new sort).
pub fn recompute_rows(state: &mut State, kind: ListKind) {
    for index in 0..state.screens.len() {
        if matches!(&state.screens[index], Screen::List(k, _) if *k == kind) {
            recompute_screen(state, index);
        }
    }
    clamp(state);
}

/// Matches list screen `index`'s filter afresh, in its sort order.
pub fn recompute_screen(state: &mut State, index: usize) {
    let order = ordered(state, &state.screens[index]);
    if let Screen::List(_, view) = &mut state.screens[index] {
        view.history.clear();
        view.outdated = false;
        begin_matching(view, order);
    }
    advance(state, index, SLICE);
    settle_keep(state, index);
    refresh_known(state, index);
}

/// Statuses changed: the Things lists that sort or filter by them are recomputed. One still
/// matching finishes first (statuses change every few seconds while the console asks them;
/// starting over each time, a million Things would never be matched).
/// At most once a tick (`state.fleet.status_changes` counts the answers since).
pub fn statuses_changed(state: &mut State) {
    if std::mem::take(&mut state.fleet.status_changes) == 0 {
        return;
    }
    for index in 0..state.screens.len() {
        let Screen::List(ListKind::Things, view) = &mut state.screens[index] else {
            continue;
        };
        if !view.sort.by_status() && status::Filter::parse(&view.filter).words.is_empty() {
            continue;
        }
        if view.matching.is_some() {
            view.outdated = true;
        } else {
            recompute_screen(state, index);
        }
    }
    clamp(state);
}

/// How many Things a filter's status words are known for, on screen `index`.
fn refresh_known(state: &mut State, index: usize) {
    let Screen::List(kind, view) = &state.screens[index] else {
        return;
    };
    let known = status_known(state, *kind, &view.filter);
    if let Screen::List(_, view) = &mut state.screens[index] {
        view.status_known = known;
    }
}

/// Things listed from item `from` on, after the others: a Things list in its listed order
/// takes them as they are (matching only them against its filter); any other is recomputed.
pub fn things_appended(state: &mut State, from: usize) {
    let len = u32::try_from(state.fleet.things.items.len()).unwrap_or(u32::MAX);
    let from = u32::try_from(from).unwrap_or(u32::MAX);
    let mut others = Vec::new();
    for index in 0..state.screens.len() {
        let Screen::List(ListKind::Things, view) = &mut state.screens[index] else {
            continue;
        };
        if view.sort != Sort::Listed || view.search.is_some() {
            others.push(index);
            continue;
        }
        // The rows of a shorter filter are no longer all it keeps.
        view.history.clear();
        if let Some(matching) = &mut view.matching {
            matching.extend(from..len);
        } else if view.filter.trim().is_empty() {
            view.rows.extend(from..len);
        } else if view.scores.len() == view.rows.len() {
            let scores = std::mem::take(&mut view.scores);
            view.matching = Some(Box::new(Matching::extending(
                scores,
                from as usize,
                (from..len).collect(),
            )));
        } else {
            begin_matching(view, (0..len).collect());
        }
        advance(state, index, SLICE);
        settle_keep(state, index);
        refresh_known(state, index);
    }
    for index in others {
        recompute_screen(state, index);
    }
    clamp(state);
}

/// After a refresh, the cursor goes back to the row that was selected once it has arrived
/// again (and the rows are all matched); it stops waiting once the listing is complete.
fn settle_keep(state: &mut State, index: usize) {
    let Screen::List(kind, view) = &state.screens[index] else {
        return;
    };
    let kind = *kind;
    let Some((name, below_top)) = &view.keep else {
        return;
    };
    if view.matching.is_some() {
        return;
    }
    let found = view
        .rows
        .iter()
        .position(|&row| key(state, kind, row as usize) == name);
    let below_top = *below_top;
    let loading = still_loading(state, kind);
    if let Screen::List(_, view) = &mut state.screens[index] {
        match found {
            Some(at) => {
                view.selected = at;
                view.offset = at.saturating_sub(below_top);
                view.keep = None;
            }
            None if !loading => view.keep = None,
            None => {}
        }
    }
}

/// Keeps cursors inside their lists and on screen.
pub fn clamp(state: &mut State) {
    let page_rows = state.page_rows;
    for screen in &mut state.screens {
        if let Screen::List(_, view) = screen {
            view.selected = view.selected.min(view.rows.len().saturating_sub(1));
            if view.selected < view.offset {
                view.offset = view.selected;
            } else if view.selected >= view.offset + page_rows {
                view.offset = view.selected + 1 - page_rows;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sort_rows_by_key;

    #[test]
    fn rows_sorted_in_two_halves_order_as_one_stable_sort() {
        // Long enough for two threads; a key with many ties, rows in no order.
        for len in [7u32, 50_001] {
            let rows: Vec<u32> = (0..len).map(|i| i * 7919 % len.max(7919 + 1)).collect();
            let key = |row: u32| (row % 97, row.is_multiple_of(3));
            let mut expected = rows.clone();
            expected.sort_by_key(|&row| key(row));
            let mut sorted = rows.clone();
            sort_rows_by_key(&mut sorted, key);
            assert_eq!(sorted, expected, "{len} rows");
        }
    }
}
