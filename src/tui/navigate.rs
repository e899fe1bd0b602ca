//! Moving between screens: open the selected row, go back, follow a link from a detail screen,
//! open the audit; refresh what is on screen; copy its ARN or id.

use crate::tui::data::connectivity;
use crate::tui::data::{ListKind, Load};
use crate::tui::msg::Level;
use crate::tui::msg::{Effect, Request};
use crate::tui::state::{Link, ListView, Report, Screen, SearchView, State};
use crate::tui::thing::lines as detail;

use crate::tui::things::list::{keep_selection, needs, selected_index, visible_loads};
use crate::tui::things::rows::{recompute_rows, set_filter};

pub fn back(state: &mut State) -> Vec<Effect> {
    if state.screens.len() > 1 {
        state.screens.pop();
        state.message = None;
        return visible_loads(state);
    }
    if let Screen::List(_, view) = state.screen()
        && !view.filter.is_empty()
    {
        set_filter(state, "");
        return visible_loads(state);
    }
    Vec::new()
}

pub fn open(state: &mut State) -> Vec<Effect> {
    let link = match state.screen() {
        Screen::List(..) => match selected_index(state) {
            Some((ListKind::Things, i)) => {
                Link::Thing(state.fleet.things.items.at(i).name().to_owned())
            }
            Some((ListKind::Certificates, i)) => {
                Link::Certificate(state.fleet.certificates.items[i].id.clone())
            }
            Some((ListKind::Policies, i)) => {
                Link::Policy(state.fleet.policies.items[i].name.clone())
            }
            None => return Vec::new(),
        },
        screen => {
            let cursor = match screen {
                Screen::Thing { cursor, .. }
                | Screen::Certificate { cursor, .. }
                | Screen::Policy { cursor, .. }
                | Screen::Report { cursor, .. } => *cursor,
                Screen::List(..) | Screen::Traffic | Screen::Shadow { .. } => 0,
            };
            match detail::links(state, screen).into_iter().nth(cursor) {
                Some(link) => link,
                None => return Vec::new(),
            }
        }
    };
    follow(state, link)
}

/// Opens a report screen: the audit and `:quarantined` are gathered the first time (`r`
/// gathers them again); `:denied` and `:violations` are read all along.
pub fn open_report(state: &mut State, report: Report) -> Vec<Effect> {
    if !matches!(state.screen(), Screen::Report { report: r, .. } if *r == report) {
        state.screens.push(Screen::Report {
            report,
            cursor: 0,
            scroll: 0,
        });
    }
    match report {
        Report::Audit if needs(state.fleet.audit.as_ref()) => {
            state.fleet.audit = Some(Load::Loading);
            vec![Effect::Request(Request::LoadAudit)]
        }
        Report::Quarantined if needs(state.fleet.isolations.as_ref()) => {
            state.fleet.isolations = Some(Load::Loading);
            vec![Effect::Request(Request::LoadIsolations)]
        }
        _ => Vec::new(),
    }
}

/// `h` on a Thing, certificate or policy: its history (CloudTrail and the journal), asked afresh.
pub fn open_history(state: &mut State) -> Vec<Effect> {
    let resource = match state.screen() {
        Screen::Thing { name, .. } | Screen::Policy { name, .. } => name.clone(),
        Screen::Certificate { id, .. } => id.clone(),
        _ => return Vec::new(),
    };
    state.fleet.history = Some(crate::tui::data::HistoryView {
        resource: resource.clone(),
        load: Load::Loading,
    });
    state.report_filters.remove(&Report::History);
    state.screens.push(Screen::Report {
        report: Report::History,
        cursor: 0,
        scroll: 0,
    });
    vec![Effect::Request(Request::LoadHistory(resource))]
}

/// Opens the screen of a related object, loading it unless it is loaded or loading.
pub fn follow(state: &mut State, link: Link) -> Vec<Effect> {
    let mut effects = Vec::new();
    match link {
        Link::Thing(name) => {
            // Each is loaded unless it is loaded or loading: a report read again after a
            // quarantine comes without the shadow names.
            if needs(state.fleet.thing_reports.get(&name)) {
                state
                    .fleet
                    .thing_reports
                    .insert(name.clone(), Load::Loading);
                effects.push(Effect::Request(Request::LoadThingReport(name.clone())));
            }
            if needs(state.fleet.thing_shadows.get(&name)) {
                state
                    .fleet
                    .thing_shadows
                    .insert(name.clone(), Load::Loading);
                effects.push(Effect::Request(Request::LoadThingShadows(name.clone())));
            }
            if needs(state.fleet.thing_rules.get(&name)) {
                state.fleet.thing_rules.insert(name.clone(), Load::Loading);
                effects.push(Effect::Request(Request::LoadThingRules(name.clone())));
            }
            effects.extend(connectivity::load_within(
                &mut state.fleet,
                state.now,
                [name.as_str()],
                connectivity::OPEN_SECONDS,
            ));
            state.screens.push(Screen::Thing {
                name,
                cursor: 0,
                scroll: 0,
            });
        }
        Link::Certificate(id) => {
            if needs(state.fleet.certificate_reports.get(&id)) {
                state
                    .fleet
                    .certificate_reports
                    .insert(id.clone(), Load::Loading);
                effects.push(Effect::Request(Request::LoadCertificateReport(id.clone())));
            }
            state.screens.push(Screen::Certificate {
                id,
                cursor: 0,
                scroll: 0,
            });
        }
        Link::Policy(name) => {
            if needs(state.fleet.policy_reports.get(&name)) {
                state
                    .fleet
                    .policy_reports
                    .insert(name.clone(), Load::Loading);
                effects.push(Effect::Request(Request::LoadPolicyReport(name.clone())));
            }
            state.screens.push(Screen::Policy {
                name,
                cursor: 0,
                scroll: 0,
            });
        }
    }
    state.message = None;
    effects
}

/// `r` on a Thing's screen: everything it shows, asked again.
fn refresh_thing(state: &mut State, name: String) -> Vec<Effect> {
    connectivity::forget(&mut state.fleet, &name);
    let mut effects = connectivity::load(&mut state.fleet, state.now, [name.as_str()]);
    state
        .fleet
        .thing_reports
        .insert(name.clone(), Load::Loading);
    state
        .fleet
        .thing_shadows
        .insert(name.clone(), Load::Loading);
    state.fleet.thing_rules.insert(name.clone(), Load::Loading);
    effects.push(Effect::Request(Request::LoadThingReport(name.clone())));
    effects.push(Effect::Request(Request::LoadThingRules(name.clone())));
    effects.push(Effect::Request(Request::LoadThingShadows(name)));
    effects
}

pub fn refresh(state: &mut State) -> Vec<Effect> {
    state.message = None;
    keep_selection(state);
    match state.screen().clone() {
        // A search is asked again (the index moves on: who is online now).
        Screen::List(
            ListKind::Things,
            ListView {
                search: Some(search),
                ..
            },
        ) => {
            if let Screen::List(_, view) = state.screen_mut() {
                view.search = Some(SearchView {
                    query: search.query.clone(),
                    names: Load::Loading,
                });
            }
            recompute_rows(state, ListKind::Things);
            vec![Effect::Request(Request::Search {
                query: search.query,
            })]
        }
        Screen::List(ListKind::Things, _) => {
            state.fleet.things.generation += 1;
            state.fleet.things.items.clear();
            state.fleet.things.loading = true;
            state.fleet.things.error = None;
            state.fleet.principals.clear();
            state.fleet.certificate_details.clear();
            state.fleet.connectivity.clear();
            state.fleet.connectivity_asking.clear();
            recompute_rows(state, ListKind::Things);
            vec![
                Effect::Request(Request::ListThings {
                    generation: state.fleet.things.generation,
                }),
                crate::tui::flows::quarantine::ask_quarantined(state),
            ]
        }
        Screen::List(ListKind::Certificates, _) => {
            state.fleet.certificates.generation += 1;
            state.fleet.certificates.loading = true;
            state.fleet.certificate_details.clear();
            state.fleet.certificate_things.clear();
            vec![Effect::Request(Request::ListCertificates {
                generation: state.fleet.certificates.generation,
            })]
        }
        Screen::List(ListKind::Policies, _) => {
            state.fleet.policies.generation += 1;
            state.fleet.policies.loading = true;
            vec![Effect::Request(Request::ListPolicies {
                generation: state.fleet.policies.generation,
            })]
        }
        Screen::Thing { name, .. } => refresh_thing(state, name),
        Screen::Certificate { id, .. } => {
            state
                .fleet
                .certificate_reports
                .insert(id.clone(), Load::Loading);
            vec![Effect::Request(Request::LoadCertificateReport(id))]
        }
        Screen::Policy { name, .. } => {
            state
                .fleet
                .policy_reports
                .insert(name.clone(), Load::Loading);
            vec![Effect::Request(Request::LoadPolicyReport(name))]
        }
        Screen::Report { report, .. } => refresh_report(state, report),
        Screen::Traffic | Screen::Shadow { .. } => Vec::new(),
    }
}

/// `r` on a report: gathered again, or for those read all along, asked now rather than at the
/// next turn.
fn refresh_report(state: &mut State, report: Report) -> Vec<Effect> {
    match report {
        Report::Audit => {
            state.fleet.audit = Some(Load::Loading);
            vec![Effect::Request(Request::LoadAudit)]
        }
        Report::Quarantined => {
            state.fleet.isolations = Some(Load::Loading);
            vec![Effect::Request(Request::LoadIsolations)]
        }
        Report::Denied if !state.fleet.denied.asking => {
            crate::tui::data::denied::ask(&mut state.fleet.denied)
        }
        Report::Violations if !state.fleet.violations.asking => {
            crate::tui::data::violations::ask(&mut state.fleet.violations)
        }
        Report::History => match state.fleet.history.as_mut() {
            Some(view) => {
                view.load = Load::Loading;
                vec![Effect::Request(Request::LoadHistory(view.resource.clone()))]
            }
            None => Vec::new(),
        },
        Report::Denied | Report::Violations => Vec::new(),
    }
}

pub fn copy(state: &mut State) -> Vec<Effect> {
    let text = match state.screen() {
        Screen::List(..) => match selected_index(state) {
            Some((ListKind::Things, i)) => Some(
                state
                    .fleet
                    .things
                    .items
                    .at(i)
                    .arn(&state.fleet.thing_arn_prefix)
                    .into_owned(),
            ),
            Some((ListKind::Certificates, i)) => Some(state.fleet.certificates.items[i].id.clone()),
            Some((ListKind::Policies, i)) => Some(state.fleet.policies.items[i].arn.clone()),
            None => None,
        },
        screen @ (Screen::Thing { cursor, .. }
        | Screen::Certificate { cursor, .. }
        | Screen::Policy { cursor, .. }
        | Screen::Report { cursor, .. }) => {
            match detail::links(state, screen).into_iter().nth(*cursor) {
                Some(Link::Certificate(id)) => Some(id),
                Some(Link::Policy(name) | Link::Thing(name)) => Some(name),
                None => None,
            }
        }
        Screen::Traffic => None,
        Screen::Shadow { thing, name, .. } => {
            match state.fleet.shadows.get(&(thing.clone(), name.clone())) {
                Some(Load::Ready(shadow)) => shadow
                    .desired
                    .as_ref()
                    .and_then(|d| serde_json::to_string_pretty(d).ok()),
                _ => None,
            }
        }
    };
    if let Some(text) = text {
        state.say(Level::Info, format!("copied {text}"));
        vec![Effect::Copy(text)]
    } else {
        state.say(Level::Warning, "nothing selected to copy");
        Vec::new()
    }
}

/// A click on a row (a double click opens it).
pub fn clicked(state: &mut State, row: u16, double: bool) -> Vec<Effect> {
    if !crate::tui::things::list::click(state, row) {
        return Vec::new();
    }
    if double {
        open(state)
    } else {
        crate::tui::things::list::visible_loads(state)
    }
}

/// The Things on screen: the visible rows of the Things list, or the Thing on its screen (whose
/// connectivity is kept fresh).
#[must_use]
pub fn things_on_screen(state: &State) -> Vec<String> {
    match state.screen() {
        Screen::Thing { name, .. } => vec![name.clone()],
        Screen::List(ListKind::Things, view) => {
            let end = (view.offset + state.page_rows).min(view.rows.len());
            view.rows[view.offset.min(end)..end]
                .iter()
                .map(|&i| state.fleet.things.items.at(i as usize).name().to_owned())
                .collect()
        }
        _ => Vec::new(),
    }
}
