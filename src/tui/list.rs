//! The list screens (Things, certificates, policies; the audit's findings): filter as you type,
//! sort, the rows shown, cursor and paging, and loading what the rows on screen need. Drawn by
//! `views/list.rs`.

use super::connectivity;
use super::detail;
use super::fuzzy::Fuzzy;
use super::msg::{Effect, Request};
use super::state::{Input, InputKind, Level, ListKind, ListView, Load, Screen, Sort, State};
use super::status;
use crate::fleet::model::{ThingPage, ThingSummary, certificate_id_from_arn};

pub fn filter_changed(state: &mut State) -> Vec<Effect> {
    let Some(Input {
        kind: InputKind::Filter,
        text,
        ..
    }) = state.input.clone()
    else {
        return Vec::new();
    };
    set_filter(state, &text);
    visible_loads(state)
}

/// Applies a filter to the list on screen; a filter that extends the previous one only narrows
/// the previous rows (fuzzy matches of "ab" are a subset of those of "a").
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
    let Screen::List(kind, view) = state.screen_mut() else {
        return;
    };
    let kind = *kind;
    if view.filter == text {
        return;
    }
    // A status word matches exactly, not as a growing fuzzy text: it starts afresh.
    let has_words = |filter: &str| !status::Filter::parse(filter).words.is_empty();
    let narrowing = !view.filter.is_empty()
        && text.starts_with(view.filter.as_str())
        && !has_words(&view.filter)
        && !has_words(text);
    let mut base = None;
    if narrowing {
        view.history.push((view.filter.clone(), view.rows.clone()));
        base = Some(view.rows.clone());
    } else {
        // Erasing back to a filter seen on the way in restores its rows at once.
        while let Some((filter, rows)) = view.history.pop() {
            if filter == text {
                base = Some(rows);
                break;
            }
        }
    }
    let restored = !narrowing && base.is_some();
    text.clone_into(&mut view.filter);
    view.selected = 0;
    view.offset = 0;
    let rows = match base {
        Some(rows) if restored => rows,
        Some(rows) => filter_rows(state, kind, text, rows),
        None => {
            let order = ordered(state, kind, state.screen());
            filter_rows(state, kind, text, order)
        }
    };
    let known = status_known(state, kind, text);
    if let Screen::List(_, view) = state.screen_mut() {
        view.rows = rows;
        view.status_known = known;
    }
}

/// For a Things filter with status words not known fleet-wide: how many Things they are
/// known for.
fn status_known(state: &State, kind: ListKind, filter: &str) -> Option<usize> {
    let filter = status::Filter::parse(filter);
    (kind == ListKind::Things && !filter.fleet_wide()).then(|| status::known_for(state, &filter))
}

/// The item indices of a list in the screen's sort order.
fn ordered(state: &State, kind: ListKind, screen: &Screen) -> Vec<u32> {
    let Screen::List(_, view) = screen else {
        return Vec::new();
    };
    let len = u32::try_from(state.list_len(kind)).unwrap_or(u32::MAX);
    let mut order: Vec<u32> = (0..len).collect();
    if kind == ListKind::Things && view.search.is_some() {
        order.retain(|&i| shown_by_search(view, &state.things.items[i as usize].name));
    }
    let key = |i: u32| -> (String, String) {
        let i = i as usize;
        match kind {
            ListKind::Things => {
                let t = &state.things.items[i];
                (t.thing_type.clone().unwrap_or_default(), t.name.clone())
            }
            ListKind::Certificates => {
                let c = &state.certificates.items[i];
                (c.status.as_aws().to_owned(), c.id.clone())
            }
            ListKind::Policies => (String::new(), state.policies.items[i].name.clone()),
        }
    };
    let name = |i: u32| state.things.items[i as usize].name.as_str();
    match view.sort {
        Sort::Name => order.sort_by_cached_key(|i| key(*i).1),
        Sort::Kind => order.sort_by_cached_key(|i| key(*i)),
        // The status sorts are the Things list's; ties keep the listed order.
        Sort::Status if kind == ListKind::Things => {
            order.sort_by_cached_key(|i| status::rank(state, name(*i)));
        }
        Sort::Expiry if kind == ListKind::Things => {
            // Unknown last.
            order.sort_by_cached_key(|i| status::expiry_days(state, name(*i)).unwrap_or(i64::MAX));
        }
        Sort::LastSeen if kind == ListKind::Things => {
            order.sort_by_cached_key(|i| std::cmp::Reverse(status::last_seen(state, name(*i))));
        }
        Sort::Listed | Sort::Status | Sort::Expiry | Sort::LastSeen => {}
    }
    order
}

/// Whether a Things list screen shows `name`: a search keeps only its matches.
fn shown_by_search(view: &ListView, name: &str) -> bool {
    match &view.search {
        None => true,
        Some(search) => matches!(&search.names, Load::Ready(names) if names.contains(name)),
    }
}

/// What names a row across refreshes: a Thing's or policy's name, a certificate's id.
fn key(state: &State, kind: ListKind, index: usize) -> &str {
    match kind {
        ListKind::Things => &state.things.items[index].name,
        ListKind::Certificates => &state.certificates.items[index].id,
        ListKind::Policies => &state.policies.items[index].name,
    }
}

/// A left click on screen row `row`: on a list, selects the item drawn there. True when it
/// did (a double click then opens it).
pub fn click(state: &mut State, row: u16) -> bool {
    if state.focus() != super::state::Focus::Screen {
        return false;
    }
    let page_rows = state.page_rows;
    let Screen::List(_, view) = state.screen_mut() else {
        return false;
    };
    let Some(at) = row.checked_sub(super::views::list::FIRST_ITEM_ROW) else {
        return false;
    };
    let index = view.offset + usize::from(at);
    if usize::from(at) >= page_rows || index >= view.rows.len() {
        return false;
    }
    view.selected = index;
    view.keep = None;
    true
}

/// Remembers the selected row of the list on screen before a refresh, so the cursor stays on
/// it (`r` jumped back to row 1).
pub fn keep_selection(state: &mut State) {
    let Some((kind, index)) = selected_index(state) else {
        return;
    };
    let name = key(state, kind, index).to_owned();
    if let Screen::List(_, view) = state.screen_mut() {
        view.keep = Some((name, view.selected.saturating_sub(view.offset)));
    }
}

fn still_loading(state: &State, kind: ListKind) -> bool {
    match kind {
        ListKind::Things => state.things.loading,
        ListKind::Certificates => state.certificates.loading,
        ListKind::Policies => state.policies.loading,
    }
}

pub fn haystack(state: &State, kind: ListKind, index: usize) -> &str {
    match kind {
        ListKind::Things => &state.thing_haystacks[index],
        ListKind::Certificates => &state.certificates.items[index].id,
        ListKind::Policies => &state.policies.items[index].name,
    }
}

/// Keeps the rows whose haystack fuzzily matches `text`, best matches first (ties keep their
/// order), as fzf does.
fn filter_rows(state: &State, kind: ListKind, text: &str, rows: Vec<u32>) -> Vec<u32> {
    // On the Things list, status words keep the Things known to have them (`status.rs`).
    let filter = status::Filter::parse(text);
    let rows = if kind == ListKind::Things && !filter.words.is_empty() {
        rows.into_iter()
            .filter(|&i| filter.keeps(state, &state.things.items[i as usize].name))
            .collect()
    } else {
        rows
    };
    let text = if kind == ListKind::Things {
        filter.text.as_str()
    } else {
        text
    };
    if Fuzzy::new(text).is_none() {
        return rows;
    }
    // Large lists are scored on every core: a keystroke over 100,000 Things must fit in a frame.
    let threads = if rows.len() < 20_000 {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(8)
    };
    let chunk = rows.len().div_ceil(threads).max(1);
    let score_chunk = |(part, slice): (usize, &[u32])| -> Vec<(std::cmp::Reverse<u32>, u32, u32)> {
        let mut fuzzy = Fuzzy::new(text).expect("a non-empty filter");
        slice
            .iter()
            .enumerate()
            .filter_map(|(offset, &i)| {
                let position = u32::try_from(part * chunk + offset).unwrap_or(u32::MAX);
                fuzzy
                    .score(haystack(state, kind, i as usize))
                    .map(|score| (std::cmp::Reverse(score), position, i))
            })
            .collect()
    };
    let mut scored: Vec<(std::cmp::Reverse<u32>, u32, u32)> = if threads == 1 {
        score_chunk((0, &rows))
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = rows
                .chunks(chunk)
                .enumerate()
                .map(|part| scope.spawn(move || score_chunk(part)))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("a scoring thread"))
                .collect()
        })
    };
    // Best first; among equals, the order they had (an unstable sort on (score, position)).
    scored.sort_unstable();
    scored.into_iter().map(|(_, _, i)| i).collect()
}

/// Recomputes every list screen of `kind` on the stack (new items, new sort).
pub fn recompute_rows(state: &mut State, kind: ListKind) {
    for index in 0..state.screens.len() {
        let Screen::List(k, view) = &state.screens[index] else {
            continue;
        };
        if *k != kind {
            continue;
        }
        let filter = view.filter.clone();
        let rows = filter_rows(
            state,
            kind,
            &filter,
            ordered(state, kind, &state.screens[index]),
        );
        let known = status_known(state, kind, &filter);
        // After a refresh, the row that was selected, once it has arrived again.
        let kept = view.keep.as_ref().map(|(name, below_top)| {
            let found = rows
                .iter()
                .position(|&row| key(state, kind, row as usize) == name);
            (found, *below_top)
        });
        let loading = still_loading(state, kind);
        if let Screen::List(_, view) = &mut state.screens[index] {
            view.rows = rows;
            view.status_known = known;
            match kept {
                Some((Some(at), below_top)) => {
                    view.selected = at;
                    view.offset = at.saturating_sub(below_top);
                    view.keep = None;
                }
                Some((None, _)) if !loading => view.keep = None,
                _ => {}
            }
        }
    }
    clamp(state);
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

pub fn step(state: &mut State, delta: isize) -> Vec<Effect> {
    let link_count = detail::links(state, state.screen()).len();
    let lines = detail::lines(state, state.screen()).unwrap_or_default();
    let page_rows = state.page_rows + 1;
    match state.screen_mut() {
        Screen::Traffic | Screen::Shadow { .. } => {}
        Screen::List(_, view) => {
            view.selected = view
                .selected
                .saturating_add_signed(delta)
                .min(view.rows.len().saturating_sub(1));
            // The user has moved on from the row a refresh would bring the cursor back to.
            view.keep = None;
        }
        Screen::Thing { cursor, scroll, .. }
        | Screen::Certificate { cursor, scroll, .. }
        | Screen::Policy { cursor, scroll, .. }
        | Screen::Report { cursor, scroll, .. } => {
            *cursor = cursor
                .saturating_add_signed(delta)
                .min(link_count.saturating_sub(1));
            // Keep the linked line on screen.
            if let Some(line) = lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.link.is_some())
                .nth(*cursor)
                .map(|(i, _)| i)
            {
                if line < *scroll {
                    *scroll = line;
                } else if line >= *scroll + page_rows {
                    *scroll = line + 1 - page_rows;
                }
            }
            if delta < -1 {
                *scroll = 0;
            }
        }
    }
    clamp(state);
    visible_loads(state)
}

pub fn page(state: &mut State, direction: isize) -> Vec<Effect> {
    let rows = isize::try_from(state.page_rows).unwrap_or(20);
    let lines = detail::lines(state, state.screen()).map_or(0, |l| l.len());
    let page_rows = state.page_rows + 1;
    match state.screen_mut() {
        Screen::List(..) | Screen::Traffic | Screen::Shadow { .. } => step(state, direction * rows),
        Screen::Thing { scroll, .. }
        | Screen::Certificate { scroll, .. }
        | Screen::Policy { scroll, .. }
        | Screen::Report { scroll, .. } => {
            *scroll = scroll
                .saturating_add_signed(direction * rows)
                .min(lines.saturating_sub(page_rows));
            Vec::new()
        }
    }
}

pub fn open_list(state: &mut State, kind: ListKind) -> Vec<Effect> {
    if !matches!(state.screen(), Screen::List(k, _) if *k == kind) {
        state.screens.push(Screen::list(kind));
        recompute_rows(state, kind);
    }
    let mut effects = load_listing(state, kind);
    effects.extend(visible_loads(state));
    effects
}

/// Starts loading the certificates or policies listing, once: nothing when it has loaded or is
/// loading (the Things stream in from the start).
pub fn load_listing(state: &mut State, kind: ListKind) -> Vec<Effect> {
    match kind {
        ListKind::Certificates
            if !state.certificates.loaded_once && !state.certificates.loading =>
        {
            state.certificates.loading = true;
            vec![Effect::Request(Request::ListCertificates {
                generation: state.certificates.generation,
            })]
        }
        ListKind::Policies if !state.policies.loaded_once && !state.policies.loading => {
            state.policies.loading = true;
            vec![Effect::Request(Request::ListPolicies {
                generation: state.policies.generation,
            })]
        }
        _ => Vec::new(),
    }
}

pub fn selected_index(state: &State) -> Option<(ListKind, usize)> {
    let Screen::List(kind, view) = state.screen() else {
        return None;
    };
    view.rows.get(view.selected).map(|i| (*kind, *i as usize))
}

/// `/` on a list or the audit: the filter line, starting from the current filter.
pub fn filter_prompt(state: &mut State) {
    let current = match state.screen() {
        Screen::List(_, view) => Some(view.filter.clone()),
        Screen::Report { report, .. } => Some(state.report_filter(*report).to_owned()),
        _ => None,
    };
    if let Some(current) = current {
        state.prompt(InputKind::Filter, current);
    }
}

/// Loads what the rows on screen need and nobody has asked for: principals of visible Things,
/// then their certificates; descriptions of visible certificates. Never the whole fleet.
pub fn visible_loads(state: &mut State) -> Vec<Effect> {
    let Screen::List(kind, view) = state.screen() else {
        return Vec::new();
    };
    let range = view.offset..(view.offset + state.page_rows).min(view.rows.len());
    let visible: Vec<usize> = view.rows[range].iter().map(|i| *i as usize).collect();
    let mut effects = Vec::new();
    match kind {
        ListKind::Things => {
            let names: Vec<String> = visible
                .iter()
                .map(|&i| state.things.items[i].name.clone())
                .collect();
            effects.extend(connectivity::load(state, names.iter().map(String::as_str)));
            for i in visible {
                let name = &state.things.items[i].name;
                match state.principals.get(name) {
                    None => effects.push(Effect::Request(Request::LoadPrincipals(name.clone()))),
                    Some(Load::Ready(principals)) => {
                        for id in principals.iter().filter_map(|p| certificate_id_from_arn(p)) {
                            if !state.certificate_details.contains_key(id)
                                && !effects.contains(&Effect::Request(
                                    Request::DescribeCertificate(id.to_owned()),
                                ))
                            {
                                effects.push(Effect::Request(Request::DescribeCertificate(
                                    id.to_owned(),
                                )));
                            }
                        }
                    }
                    Some(_) => {}
                }
            }
        }
        ListKind::Certificates => {
            for i in visible {
                let certificate = &state.certificates.items[i];
                if !state.certificate_details.contains_key(&certificate.id) {
                    effects.push(Effect::Request(Request::DescribeCertificate(
                        certificate.id.clone(),
                    )));
                }
                if !state.certificate_things.contains_key(&certificate.arn) {
                    effects.push(Effect::Request(Request::LoadCertificateThings(
                        certificate.arn.clone(),
                    )));
                }
            }
        }
        ListKind::Policies => {}
    }
    for effect in &effects {
        match effect {
            Effect::Request(Request::LoadPrincipals(name)) => {
                state.principals.insert(name.clone(), Load::Loading);
            }
            Effect::Request(Request::DescribeCertificate(id)) => {
                state.certificate_details.insert(id.clone(), Load::Loading);
            }
            Effect::Request(Request::LoadCertificateThings(arn)) => {
                state.certificate_things.insert(arn.clone(), Load::Loading);
            }
            _ => {}
        }
    }
    effects
}

/// Whether something must be (re)loaded: not loaded yet, or failed.
pub fn needs<T>(load: Option<&Load<T>>) -> bool {
    !matches!(load, Some(Load::Ready(_) | Load::Loading))
}

/// What the filter matches a Thing on, exactly as long as it is (a million are held).
fn haystack_of(thing: &ThingSummary) -> Box<str> {
    let mut text = thing.name.clone();
    for part in thing
        .thing_type
        .as_deref()
        .into_iter()
        .chain(thing.attributes.values())
    {
        text.push(' ');
        text.push_str(part);
    }
    text.into_boxed_str()
}

pub fn things_page(
    state: &mut State,
    generation: u64,
    result: Result<ThingPage, String>,
) -> Vec<Effect> {
    if generation != state.things.generation {
        return Vec::new();
    }
    match result {
        Ok(page) => {
            // Without STS (`local serve`, a test endpoint) the header still names the account:
            // the one the Things' ARNs name (STS's answer, when it comes, is the same).
            if state.account.is_none()
                && let Some(account) = page
                    .things
                    .first()
                    .and_then(|t| crate::fleet::model::account_from_arn(&t.arn))
            {
                state.account = Some(account.to_owned());
            }
            state
                .thing_haystacks
                .extend(page.things.iter().map(haystack_of));
            state.things.items.extend(page.things);
            state.things.loading = page.more;
            state.things.loaded_once |= !page.more;
            recompute_rows(state, ListKind::Things);
            visible_loads(state)
        }
        Err(error) => {
            state.things.loading = false;
            state.things.error = Some(error.clone());
            state.say(Level::Error, error);
            Vec::new()
        }
    }
}

/// A listing of certificates (ignored when a newer one was asked for).
pub fn certificates_arrived(
    state: &mut State,
    generation: u64,
    result: Result<Vec<crate::fleet::model::CertificateSummary>, String>,
) -> Vec<Effect> {
    if generation != state.certificates.generation {
        return Vec::new();
    }
    state.certificates.loading = false;
    match result {
        Ok(items) => {
            state.certificates.items = items;
            state.certificates.loaded_once = true;
            state.certificates.error = None;
            recompute_rows(state, ListKind::Certificates);
            visible_loads(state)
        }
        Err(error) => {
            state.certificates.error = Some(error.clone());
            state.say(Level::Error, error);
            Vec::new()
        }
    }
}

/// The list on screen and its view, for tests.
#[cfg(test)]
pub fn list_view(state: &State) -> Option<(ListKind, &super::state::ListView)> {
    match state.screen() {
        Screen::List(kind, view) => Some((*kind, view)),
        _ => None,
    }
}
