//! The list screens (Things, certificates, policies; the audit's findings): filter as you type,
//! sort, the rows shown, cursor and paging, and loading what the rows on screen need. Drawn by
//! `views/list.rs`.

use crate::fleet::model::{ThingPage, certificate_id_from_arn};
use crate::tui::data::connectivity;
use crate::tui::data::{ListKind, Load};
use crate::tui::msg::Level;
use crate::tui::msg::{Effect, Request};
use crate::tui::state::{Input, InputKind, Screen, State};
use crate::tui::thing::lines as detail;
use crate::tui::things::listed as things;
use crate::tui::things::rows::{
    SLICE, advance, clamp, key, recompute_rows, set_filter, things_appended,
};

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

/// Matches a slice more of each filter still being matched, the screen on top first. Returns
/// what the rows now on screen need.
pub fn advance_matching(state: &mut State) -> Vec<Effect> {
    let started = std::time::Instant::now();
    for index in (0..state.screens.len()).rev() {
        let Some(left) = SLICE.checked_sub(started.elapsed()) else {
            break;
        };
        advance(state, index, left);
    }
    clamp(state);
    visible_loads(state)
}

/// A left click on screen row `row`: on a list, selects the item drawn there. True when it
/// did (a double click then opens it).
pub fn click(state: &mut State, row: u16) -> bool {
    if state.focus() != crate::tui::state::Focus::Screen {
        return false;
    }
    let page_rows = state.page_rows;
    let Screen::List(_, view) = state.screen_mut() else {
        return false;
    };
    let Some(at) = row.checked_sub(crate::tui::things::view::FIRST_ITEM_ROW) else {
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
            if !state.fleet.certificates.loaded_once && !state.fleet.certificates.loading =>
        {
            state.fleet.certificates.loading = true;
            vec![Effect::Request(Request::ListCertificates {
                generation: state.fleet.certificates.generation,
            })]
        }
        ListKind::Policies
            if !state.fleet.policies.loaded_once && !state.fleet.policies.loading =>
        {
            state.fleet.policies.loading = true;
            vec![Effect::Request(Request::ListPolicies {
                generation: state.fleet.policies.generation,
            })]
        }
        _ => Vec::new(),
    }
}

#[must_use]
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
                .map(|&i| state.fleet.things.items.at(i).name().to_owned())
                .collect();
            effects.extend(connectivity::load(
                &mut state.fleet,
                state.now,
                names.iter().map(String::as_str),
            ));
            for i in visible {
                let name = state.fleet.things.items.at(i).name();
                match state.fleet.principals.get(name) {
                    None => effects.push(Effect::Request(Request::LoadPrincipals(name.to_owned()))),
                    Some(Load::Ready(principals)) => {
                        for id in principals.iter().filter_map(|p| certificate_id_from_arn(p)) {
                            if !state.fleet.certificate_details.contains_key(id)
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
                let certificate = &state.fleet.certificates.items[i];
                if !state
                    .fleet
                    .certificate_details
                    .contains_key(&certificate.id)
                {
                    effects.push(Effect::Request(Request::DescribeCertificate(
                        certificate.id.clone(),
                    )));
                }
                if !state
                    .fleet
                    .certificate_things
                    .contains_key(&certificate.arn)
                {
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
                state.fleet.principals.insert(name.clone(), Load::Loading);
            }
            Effect::Request(Request::DescribeCertificate(id)) => {
                state
                    .fleet
                    .certificate_details
                    .insert(id.clone(), Load::Loading);
            }
            Effect::Request(Request::LoadCertificateThings(arn)) => {
                state
                    .fleet
                    .certificate_things
                    .insert(arn.clone(), Load::Loading);
            }
            _ => {}
        }
    }
    effects
}

/// Whether something must be (re)loaded: not loaded yet, or failed.
#[must_use]
pub fn needs<T>(load: Option<&Load<T>>) -> bool {
    !matches!(load, Some(Load::Ready(_) | Load::Loading))
}

/// What the filter matches a Thing on, exactly as long as it is (a million are held).
pub fn things_page(
    state: &mut State,
    generation: u64,
    result: Result<ThingPage, String>,
) -> Vec<Effect> {
    if generation != state.fleet.things.generation {
        return Vec::new();
    }
    match result {
        Ok(page) => {
            // Without STS (`local serve`, a test endpoint) the header still names the account:
            // the one the Things' ARNs name (STS's answer, when it comes, is the same).
            if state.fleet.account.is_none()
                && let Some(account) = page
                    .things
                    .first()
                    .and_then(|t| crate::fleet::model::account_from_arn(&t.arn))
            {
                state.fleet.account = Some(account.to_owned());
            }
            if state.fleet.thing_arn_prefix.is_empty()
                && let Some(first) = page.things.first()
            {
                state.fleet.thing_arn_prefix = things::arn_prefix(first);
            }
            let from = state.fleet.things.items.len();
            for thing in &page.things {
                state
                    .fleet
                    .things
                    .items
                    .push(thing, &state.fleet.thing_arn_prefix);
            }
            state.fleet.things.loading = page.more;
            state.fleet.things.loaded_once |= !page.more;
            things_appended(state, from);
            visible_loads(state)
        }
        Err(error) => {
            state.fleet.things.loading = false;
            state.fleet.things.error = Some(error.clone());
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
    if generation != state.fleet.certificates.generation {
        return Vec::new();
    }
    state.fleet.certificates.loading = false;
    match result {
        Ok(items) => {
            state.fleet.certificates.items = items;
            state.fleet.certificates.loaded_once = true;
            state.fleet.certificates.error = None;
            recompute_rows(state, ListKind::Certificates);
            visible_loads(state)
        }
        Err(error) => {
            state.fleet.certificates.error = Some(error.clone());
            state.say(Level::Error, error);
            Vec::new()
        }
    }
}

/// The terminal's new size: as many rows as fit, the cursor kept on screen.
pub fn resized(state: &mut State, width: u16, height: u16) -> Vec<Effect> {
    state.size = (width, height);
    state.page_rows = usize::from(height.saturating_sub(6)).max(1);
    clamp(state);
    visible_loads(state)
}

/// `s` on a list: the next order, said.
pub fn sort(state: &mut State) -> Vec<Effect> {
    if let Screen::List(kind, view) = state.screen_mut() {
        view.sort = view.sort.next(*kind);
        let label = view.sort.label(*kind);
        let kind = *kind;
        recompute_rows(state, kind);
        state.say(Level::Info, format!("sorted {label}"));
    }
    visible_loads(state)
}

/// The list on screen and its view, for tests.
/// The policies listing, unless a refresh has started another since.
pub fn policies_arrived(
    state: &mut State,
    generation: u64,
    result: Result<Vec<crate::fleet::model::PolicySummary>, String>,
) {
    if generation != state.fleet.policies.generation {
        return;
    }
    state.fleet.policies.loading = false;
    match result {
        Ok(items) => {
            state.fleet.policies.items = items;
            state.fleet.policies.loaded_once = true;
            state.fleet.policies.error = None;
            recompute_rows(state, ListKind::Policies);
        }
        Err(error) => {
            state.fleet.policies.error = Some(error.clone());
            state.say(Level::Error, error);
        }
    }
}

#[cfg(test)]
#[must_use]
pub fn list_view(state: &State) -> Option<(ListKind, &crate::tui::state::ListView)> {
    match state.screen() {
        Screen::List(kind, view) => Some((*kind, view)),
        _ => None,
    }
}
