//! The list screens: Things (with a certificate summary per row, loaded for the rows on screen),
//! certificates and policies, with the filter's matches highlighted.

use std::fmt::Write as _;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};

use crate::config::theme::{Slot, Theme};
use crate::fleet::model::{CertificateStatus, certificate_id_from_arn};
use crate::tui::data::connectivity;
use crate::tui::data::denied::Feed;
use crate::tui::data::{ListKind, Load};
use crate::tui::frame::SPINNER;
use crate::tui::frame::line::date;
use crate::tui::state::{ListView, State};
use crate::tui::thing::certificate::{expiry_slot, short_id, status_slot};
use crate::tui::things::fuzzy::Fuzzy;
use crate::tui::things::status;
use crate::untrusted::escape;

/// The screen row a list's first item is drawn on: under the status bar (row 0), the list's
/// border (1) and its header (2). A click is mapped back to an item by it.
pub const FIRST_ITEM_ROW: u16 = 3;

#[expect(
    clippy::too_many_lines,
    reason = "the three lists' columns read best side by side"
)]
pub fn draw(
    frame: &mut Frame<'_>,
    area: Rect,
    state: &State,
    kind: ListKind,
    view: &ListView,
    theme: &Theme,
) {
    let (name, listing_loading, total, error) = match kind {
        ListKind::Things => (
            "Things",
            state.fleet.things.loading,
            state.fleet.things.items.len(),
            &state.fleet.things.error,
        ),
        ListKind::Certificates => (
            "Certificates",
            state.fleet.certificates.loading,
            state.fleet.certificates.items.len(),
            &state.fleet.certificates.error,
        ),
        ListKind::Policies => (
            "Policies",
            state.fleet.policies.loading,
            state.fleet.policies.items.len(),
            &state.fleet.policies.error,
        ),
    };
    let mut title = format!(" {name} ");
    if let Some(search) = &view.search {
        let _ = write!(title, "search: {} ", escape(&search.query));
        match &search.names {
            Load::Loading => {
                let _ = write!(
                    title,
                    "{} searching… ",
                    SPINNER[state.spinner % SPINNER.len()]
                );
            }
            Load::Ready(names) if names.len() > view.rows.len() && view.filter.is_empty() => {
                let _ = write!(
                    title,
                    "({} matches, {} listed so far) ",
                    names.len(),
                    view.rows.len()
                );
            }
            Load::Ready(names) => {
                let _ = write!(title, "({} matches) ", names.len());
            }
            Load::Failed(_) => title.push_str("· failed "),
        }
        if !view.filter.is_empty() {
            let _ = write!(title, "({}) /{} ", shown(view, None), escape(&view.filter));
        }
    } else if view.filter.is_empty() {
        let _ = write!(title, "({total}) ");
    } else {
        let _ = write!(
            title,
            "({}) /{} ",
            shown(view, Some(total)),
            escape(&view.filter)
        );
        if view.matching.is_none()
            && let Some(known) = view.status_known
        {
            let _ = write!(title, "· status known for {known} of {total} ");
        }
    }
    if listing_loading {
        let _ = write!(
            title,
            "{} loading… ",
            SPINNER[state.spinner % SPINNER.len()]
        );
    }
    if error.is_some() {
        title.push_str("· failed, r retries ");
    }
    if kind == ListKind::Things && !state.marked.is_empty() {
        let _ = write!(title, "· {} marked ", state.marked.len());
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Slot::Border))
        .title(Span::styled(title, theme.style(Slot::Title)));

    let visible = view
        .rows
        .iter()
        .enumerate()
        .skip(view.offset)
        .take(state.page_rows);
    // Status words are matched as statuses, not letters in names.
    let highlight = Highlighter::new(&status::Filter::parse(&view.filter).text);
    // At 110 columns and more the violations column says its name whole; below 90 the Things'
    // TYPE column gives way, so that names, statuses and certificates keep their widths.
    let violations_header = if area.width >= 110 {
        "VIOLATIONS"
    } else {
        "VIOL"
    };
    let with_type = area.width >= 90;
    let (mut header, mut widths, rows): (Vec<&str>, Vec<Constraint>, Vec<Row<'_>>) = match kind {
        ListKind::Things => (
            vec![
                "NAME",
                "TYPE",
                "ONLINE",
                "DENIED",
                violations_header,
                "CERTIFICATES",
                "Q",
                "ATTRIBUTES",
            ],
            vec![
                Constraint::Length(20),
                Constraint::Length(9),
                Constraint::Length(12),
                Constraint::Length(6),
                Constraint::Length(u16::try_from(violations_header.len()).unwrap_or(4)),
                Constraint::Length(14),
                Constraint::Length(1),
                Constraint::Min(10),
            ],
            visible
                .map(|(position, index)| {
                    let thing = &state.fleet.things.items.at(*index as usize);
                    let attributes = thing
                        .attributes()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    let (summary, slot) = certificate_summary(state, thing.name());
                    let (online, connected) =
                        connectivity::summary(&state.fleet, state.now, thing.name());
                    let online_slot = match connected {
                        Some(true) => Slot::CertActive,
                        Some(false) => Slot::Text,
                        None => Slot::Dim,
                    };
                    let name = if state.marked.contains(thing.name()) {
                        let mut line = highlight.line(thing.name(), theme);
                        line.spans
                            .insert(0, Span::styled("+ ", theme.style(Slot::Title)));
                        line
                    } else {
                        highlight.line(thing.name(), theme)
                    };
                    let mut cells = vec![
                        Cell::from(name),
                        Cell::from(Span::styled(
                            escape(thing.thing_type().unwrap_or("-")).into_owned(),
                            theme.style(Slot::Dim),
                        )),
                        Cell::from(Span::styled(online, theme.style(online_slot))),
                        denied_cell(state, thing.name(), theme),
                        violations_cell(state, thing.name(), theme),
                        Cell::from(Span::styled(summary, theme.style(slot))),
                        if state.fleet.is_quarantined(thing.name()) {
                            Cell::from(Span::styled("Q", theme.style(Slot::ThingQuarantined)))
                        } else if state.fleet.not_isolated(thing.name()).is_some() {
                            Cell::from(Span::styled("!", theme.style(Slot::StatusError)))
                        } else {
                            Cell::from("")
                        },
                        Cell::from(Span::styled(
                            escape(&attributes).into_owned(),
                            theme.style(Slot::Text),
                        )),
                    ];
                    if !with_type {
                        cells.remove(1);
                    }
                    let row = Row::new(cells);
                    selected(row, position == view.selected, theme)
                })
                .collect(),
        ),
        ListKind::Certificates => (
            vec!["ID", "STATUS", "EXPIRES", "THINGS"],
            vec![
                Constraint::Length(17),
                Constraint::Length(9),
                Constraint::Length(22),
                Constraint::Min(10),
            ],
            visible
                .map(|(position, index)| {
                    let certificate = &state.fleet.certificates.items[*index as usize];
                    let (expires, expires_slot) =
                        match state.fleet.certificate_details.get(&certificate.id) {
                            Some(Load::Ready(details)) => match details.validity {
                                Some(v) => {
                                    let days = v.days_to_expiry(state.now);
                                    (
                                        format!("{} ({days}d)", date(v.not_after, state.zone)),
                                        expiry_slot(days),
                                    )
                                }
                                None => ("unknown".to_owned(), Slot::StatusWarning),
                            },
                            Some(Load::Failed(_)) => ("?".to_owned(), Slot::StatusError),
                            _ => ("…".to_owned(), Slot::Dim),
                        };
                    let (things, things_slot) =
                        match state.fleet.certificate_things.get(&certificate.arn) {
                            Some(Load::Ready(things)) if things.len() > 1 => {
                                (format!("SHARED {}", things.join(", ")), Slot::CertShared)
                            }
                            Some(Load::Ready(things)) if things.is_empty() => {
                                ("none".to_owned(), Slot::Dim)
                            }
                            Some(Load::Ready(things)) => (things.join(", "), Slot::Text),
                            Some(Load::Failed(_)) => ("?".to_owned(), Slot::StatusError),
                            _ => ("…".to_owned(), Slot::Dim),
                        };
                    let row = Row::new(vec![
                        Cell::from(highlight.line(short_id(&certificate.id), theme)),
                        Cell::from(Span::styled(
                            certificate.status.as_aws().to_owned(),
                            theme.style(status_slot(&certificate.status)),
                        )),
                        Cell::from(Span::styled(expires, theme.style(expires_slot))),
                        Cell::from(Span::styled(
                            escape(&things).into_owned(),
                            theme.style(things_slot),
                        )),
                    ]);
                    selected(row, position == view.selected, theme)
                })
                .collect(),
        ),
        ListKind::Policies => (
            vec!["NAME", "ARN"],
            vec![Constraint::Length(32), Constraint::Min(10)],
            visible
                .map(|(position, index)| {
                    let policy = &state.fleet.policies.items[*index as usize];
                    let row = Row::new(vec![
                        Cell::from(highlight.line(&policy.name, theme)),
                        Cell::from(Span::styled(
                            escape(&policy.arn).into_owned(),
                            theme.style(Slot::Dim),
                        )),
                    ]);
                    selected(row, position == view.selected, theme)
                })
                .collect(),
        ),
    };
    if kind == ListKind::Things && !with_type {
        header.remove(1);
        widths.remove(1);
    }
    let header = Row::new(
        header
            .into_iter()
            .map(|h| Cell::from(Span::styled(h, theme.style(Slot::Header))))
            .collect::<Vec<_>>(),
    );
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(block)
            .column_spacing(1),
        area,
    );
}

fn selected<'a>(row: Row<'a>, is_selected: bool, theme: &Theme) -> Row<'a> {
    if is_selected {
        row.style(theme.style(Slot::Selection))
    } else {
        row
    }
}

/// How often AWS IoT refused the Thing (as a client id) since the console began reading: "-"
/// for none, "?" when the refusals cannot be read, blank until the first answer.
fn denied_cell<'a>(state: &State, thing: &str, theme: &Theme) -> Cell<'a> {
    let (text, slot) = match state.fleet.denied.count(thing) {
        Some(0) => ("-".to_owned(), Slot::Dim),
        Some(count) => (count.to_string(), Slot::StatusError),
        None if matches!(state.fleet.denied.feed, Feed::Unknown(_)) => ("?".to_owned(), Slot::Dim),
        None => (String::new(), Slot::Dim),
    };
    Cell::from(Span::styled(text, theme.style(slot)))
}

/// Device Defender Detect's active violations of the Thing: "-" for none, "?" when they cannot
/// be read or nothing is watched, blank until the first answer.
fn violations_cell<'a>(state: &State, thing: &str, theme: &Theme) -> Cell<'a> {
    use crate::tui::data::violations::Feed as Detect;
    let (text, slot) = match (
        state.fleet.violations.count(thing),
        &state.fleet.violations.feed,
    ) {
        (Some(0), _) => ("-".to_owned(), Slot::Dim),
        (Some(count), _) => (count.to_string(), Slot::StatusError),
        (None, Detect::Unknown(_) | Detect::Unwatched(_)) => ("?".to_owned(), Slot::Dim),
        (None, _) => (String::new(), Slot::Dim),
    };
    Cell::from(Span::styled(text, theme.style(slot)))
}

/// The worst state among a Thing's certificates, for its row: revoked, expired, inactive,
/// expiring, active; "none" when it has no certificate; "…" while loading.
fn certificate_summary(state: &State, thing: &str) -> (String, Slot) {
    let principals = match state.fleet.principals.get(thing) {
        Some(Load::Ready(principals)) => principals,
        Some(Load::Failed(_)) => return ("?".to_owned(), Slot::StatusError),
        _ => return ("…".to_owned(), Slot::Dim),
    };
    let ids: Vec<&str> = principals
        .iter()
        .filter_map(|p| certificate_id_from_arn(p))
        .collect();
    if ids.is_empty() {
        return ("none".to_owned(), Slot::StatusWarning);
    }
    let mut worst: Option<(u8, String, Slot)> = None;
    for id in &ids {
        let Some(Load::Ready(certificate)) = state.fleet.certificate_details.get(*id) else {
            return ("…".to_owned(), Slot::Dim);
        };
        let days = certificate.validity.map(|v| v.days_to_expiry(state.now));
        let rank = match (&certificate.status, days) {
            (CertificateStatus::Revoked, _) => (5, "REVOKED".to_owned(), Slot::CertRevoked),
            (_, Some(d)) if d < 0 => (4, "EXPIRED".to_owned(), Slot::CertExpired),
            (CertificateStatus::Active, Some(d)) if d < 30 => {
                (2, format!("EXPIRES {d}d"), Slot::CertExpiring)
            }
            (CertificateStatus::Active, _) => (1, "ACTIVE".to_owned(), Slot::CertActive),
            (status, _) => (3, status.as_aws().to_owned(), status_slot(status)),
        };
        if worst.as_ref().is_none_or(|w| rank.0 > w.0) {
            worst = Some(rank);
        }
    }
    let (_, text, slot) = worst.unwrap_or((0, String::new(), Slot::Text));
    if ids.len() > 1 {
        (format!("{text} +{}", ids.len() - 1), slot)
    } else {
        (text, slot)
    }
}

/// Highlights the characters of a name that the filter matched.
struct Highlighter {
    fuzzy: std::cell::RefCell<Option<Fuzzy>>,
}

impl Highlighter {
    fn new(filter: &str) -> Self {
        Self {
            fuzzy: std::cell::RefCell::new(Fuzzy::new(filter)),
        }
    }

    fn line(&self, name: &str, theme: &Theme) -> Line<'static> {
        let text = escape(name);
        let base = theme.style(Slot::Text);
        let mut fuzzy = self.fuzzy.borrow_mut();
        // Escaped text no longer lines up with the matched characters: no highlight then.
        let Some(fuzzy) = fuzzy.as_mut().filter(|_| text.len() == name.len()) else {
            return Line::from(Span::styled(text.into_owned(), base));
        };
        let indices = fuzzy.indices(name);
        let hit_style: Style = theme.style(Slot::Match);
        Line::from(
            name.chars()
                .enumerate()
                .map(|(i, c)| {
                    let hit = indices.contains(&u32::try_from(i).unwrap_or(u32::MAX));
                    Span::styled(c.to_string(), if hit { hit_style } else { base })
                })
                .collect::<Vec<_>>(),
        )
    }
}

/// The rows a filter shows, of `total` (none on a search's screen). While a long list's filter
/// is still being matched: the rows kept so far (not yet the filter's count) and how far it has
/// got.
fn shown(view: &ListView, total: Option<usize>) -> String {
    let kept = view.rows.len();
    let count = match total {
        Some(total) => format!("{kept} of {total}"),
        None => format!("{kept} shown"),
    };
    let Some(matching) = &view.matching else {
        return count;
    };
    let (looked, of) = matching.progress();
    if looked == of {
        // Every row looked at: only their order, best first, is still to come.
        format!("{count}, ordering best first")
    } else {
        format!("{count} so far, matching {}%", looked * 100 / of.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::shown;
    use crate::tui::state::ListView;
    use crate::tui::things::matching::{MIN_ROWS, Matching};

    #[test]
    fn a_filter_still_matching_says_its_rows_are_so_far_and_how_far_it_has_got() {
        // A list of `len` rows whose even ones the filter keeps, matched for one slice.
        let matched = |len: u32| {
            let mut matching = Matching::new((0..len).collect());
            let mut rows = Vec::new();
            let scorer = || |row: u32| row.is_multiple_of(2).then_some(1);
            let done = matching.advance(&mut rows, std::time::Duration::ZERO, &scorer);
            let view = ListView {
                filter: "pump".into(),
                rows,
                matching: Some(Box::new(matching)),
                ..ListView::default()
            };
            (done, view)
        };
        let (done, view) = matched(u32::try_from(MIN_ROWS * 4).unwrap());
        assert!(!done);
        assert_eq!(
            shown(&view, Some(MIN_ROWS * 4)),
            "10000 of 80000 so far, matching 25%"
        );
        assert_eq!(shown(&view, None), "10000 shown so far, matching 25%");
        // Every row looked at, the order to come.
        let (done, view) = matched(10);
        assert!(done);
        assert_eq!(shown(&view, Some(10)), "5 of 10, ordering best first");
        assert_eq!(
            shown(&ListView::default(), Some(5)),
            "0 of 5",
            "a finished match says its count as it is"
        );
    }
}
