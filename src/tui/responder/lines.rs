//! The report screens' lines (ARCHITECTURE.md: a report is a list of findings or events, each
//! linked to its object, filtered by `/`): the audit's findings, who AWS IoT refused
//! (`:denied`), every isolated Thing (`:quarantined`) and Device Defender Detect's active
//! violations (`:violations`). Pure; views draw them.

use std::fmt::Write as _;

use crate::tui::data::connectivity::ago;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::theme::Slot;
use crate::fleet::audit::{AuditReport, Finding, Resource, Severity, Source};
use crate::fleet::denied::{LOG_GROUP, Refusal};
use crate::fleet::history::{Event as HistoryEvent, History, Source as HistorySource};
use crate::fleet::quarantine::register::Register;
use crate::fleet::violations::Violation;
use crate::tui::data::Load;
use crate::tui::data::denied::{DeniedView, Feed};
use crate::tui::data::violations::Feed as ViolationsFeed;
use crate::tui::frame::line::{Line, date, heading, loaded, time_of_day, zone_name};
use crate::tui::state::{Link, Report, State};
use crate::untrusted::escape;
use time::UtcOffset;

/// How many of the most refused clients `:denied` names.
const MOST_REFUSED: usize = 10;

/// The lines of a report screen.
#[must_use]
pub fn lines(state: &State, report: Report) -> Vec<Line> {
    let filter = state.report_filter(report);
    match report {
        Report::Audit => loaded(state.fleet.audit.as_ref(), |r| audit_lines(filter, r)),
        Report::Denied => denied_lines(state, filter),
        Report::Quarantined => loaded(state.fleet.isolations.as_ref(), |r| {
            quarantined_lines(filter, r, state.now, state.zone)
        }),
        Report::Violations => violations_lines(state, filter),
        Report::History => match &state.fleet.history {
            Some(view) => loaded(Some(&view.load), |h| history_lines(h, filter, state.zone)),
            None => Vec::new(),
        },
    }
}

/// A report's title: what it holds, how many of them the filter shows, the filter.
#[must_use]
pub fn title(state: &State, report: Report) -> String {
    let filter = state.report_filter(report);
    let mut title = match report {
        Report::Audit => {
            let mut title = " Audit ".to_owned();
            if let Some(crate::tui::data::Load::Ready(audit)) = &state.fleet.audit {
                let shown = audit
                    .findings
                    .iter()
                    .filter(|f| finding_matches(f, filter))
                    .count();
                let _ = write!(title, "({shown} of {}) ", audit.findings.len());
            }
            title
        }
        Report::Denied => {
            let denied = &state.fleet.denied;
            let every = denied.every.as_secs_f64();
            format!(
                " Denied: {} since {} {} ({LOG_GROUP}, read every {every} s) ",
                denied.total,
                time_of_day(denied.since, state.zone),
                zone_name(state.zone)
            )
        }
        Report::Quarantined => match &state.fleet.isolations {
            Some(crate::tui::data::Load::Ready(register)) => {
                let verified = register.isolations.iter().filter(|i| i.verified).count();
                format!(
                    " Quarantined: {} ({verified} verified by the policies in force) ",
                    register.isolations.len()
                )
            }
            _ => " Quarantined ".to_owned(),
        },
        Report::History => match &state.fleet.history {
            Some(view) => match &view.load {
                Load::Ready(history) => format!(
                    " History of {} ({} events: CloudTrail and the journal) ",
                    escape(&view.resource),
                    history.events.len()
                ),
                _ => format!(" History of {} ", escape(&view.resource)),
            },
            None => " History ".to_owned(),
        },
        Report::Violations => {
            let view = &state.fleet.violations;
            let every = view.every.as_secs_f64();
            match view.feed {
                ViolationsFeed::Watching => format!(
                    " Violations: {} active (Device Defender Detect, read every {every} s) ",
                    view.active.len()
                ),
                _ => " Violations (Device Defender Detect) ".to_owned(),
            }
        }
    };
    if !filter.is_empty() {
        let _ = write!(title, "/{} ", escape(filter));
    }
    title
}

/// Whether a finding matches the audit filter (case-insensitive, over check, resource, reason).
#[must_use]
pub fn finding_matches(finding: &Finding, filter: &str) -> bool {
    let needle = filter.to_lowercase();
    needle.is_empty()
        || [
            finding.check.to_lowercase(),
            finding.resource.to_string().to_lowercase(),
            finding.reason.to_lowercase(),
            finding.severity.name().to_lowercase(),
        ]
        .iter()
        .any(|field| field.contains(&needle))
}

/// Findings grouped by severity, each a line linked to its object, its reason and its fix.
fn audit_lines(filter: &str, report: &AuditReport) -> Vec<Line> {
    let mut out = Vec::new();
    let shown: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| finding_matches(f, filter))
        .collect();
    if shown.is_empty() {
        out.push(Line::new().text(
            if report.findings.is_empty() {
                "no findings"
            } else {
                "no finding matches the filter"
            },
            Slot::Dim,
        ));
    }
    for severity in Severity::ALL {
        let group: Vec<&&Finding> = shown.iter().filter(|f| f.severity == severity).collect();
        if group.is_empty() {
            continue;
        }
        out.push(heading(&format!("{} ({})", severity.name(), group.len())));
        for finding in group {
            let slot = match finding.severity {
                Severity::Critical | Severity::High => Slot::StatusError,
                Severity::Medium => Slot::StatusWarning,
                Severity::Low | Severity::Info => Slot::Text,
            };
            let mut line = Line::new()
                .text(&format!("  {:<48}", finding.check), slot)
                .text(&finding.resource.to_string(), Slot::Link);
            if finding.source == Source::Aws {
                line = line.text("  [AWS Device Defender]", Slot::StatusInfo);
            }
            let target = match &finding.resource {
                Resource::Thing(name) => Some(Link::Thing(name.clone())),
                Resource::Certificate(id) => Some(Link::Certificate(id.clone())),
                Resource::Policy(name) => Some(Link::Policy(name.clone())),
                Resource::Other(_) => None,
            };
            out.push(match target {
                Some(target) => line.link(target),
                None => line,
            });
            out.push(Line::new().text(&format!("      {}", finding.reason), Slot::Text));
            out.push(Line::new().text(&format!("      fix: {}", finding.fix), Slot::Dim));
        }
    }
    for note in &report.notes {
        out.push(Line::new());
        out.push(Line::new().text(&format!("note: {note}"), Slot::Dim));
    }
    out
}

/// Whether a refusal matches the filter (case-insensitive, over client, action, target, reason).
fn refusal_matches(refusal: &Refusal, needle: &str) -> bool {
    needle.is_empty()
        || [
            refusal.client_id.as_str(),
            refusal.action(),
            refusal.target(),
            refusal.reason.as_str(),
        ]
        .iter()
        .any(|field| field.to_lowercase().contains(needle))
}

/// The most refused clients, then every refusal kept, newest first; each linked to the Thing
/// its client id names. `Line::text` escapes every piece of device text.
fn denied_lines(state: &State, filter: &str) -> Vec<Line> {
    let denied: &DeniedView = &state.fleet.denied;
    let needle = filter.to_lowercase();
    let mut out = Vec::new();
    match &denied.feed {
        Feed::Unknown(reason) => out.push(Line::new().text(reason, Slot::StatusWarning)),
        Feed::Starting => out.push(Line::new().text("reading…", Slot::Dim)),
        Feed::Reading => {}
    }
    let mut most: Vec<(&String, &u64)> = denied
        .counts
        .iter()
        .filter(|(client, _)| needle.is_empty() || client.to_lowercase().contains(&needle))
        .collect();
    most.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    if !most.is_empty() {
        out.push(heading("Most refused"));
    }
    for (client, count) in most.into_iter().take(MOST_REFUSED) {
        let mut line = Line::new()
            .text(&format!("  {client:<28}"), Slot::Link)
            .text(&format!("{count:>7}"), Slot::StatusError);
        if let Some(newest) = denied.newest(client) {
            line = line.text(
                &format!(
                    "   newest {} ago: {} {}",
                    ago(newest.time, state.now),
                    newest.action(),
                    newest.target()
                ),
                Slot::Dim,
            );
        }
        out.push(line.link(Link::Thing(client.clone())));
    }
    if denied.uncounted > 0 {
        out.push(Line::new().text(
            &format!(
                "  and {} refusals of other clients, past the {} counted",
                denied.uncounted,
                crate::tui::data::denied::COUNTED
            ),
            Slot::Dim,
        ));
    }
    let shown: Vec<&Refusal> = denied
        .refusals
        .iter()
        .filter(|r| refusal_matches(r, &needle))
        .collect();
    if shown.is_empty() {
        if denied.feed == Feed::Reading {
            out.push(Line::new().text(
                if denied.refusals.is_empty() {
                    "nothing refused"
                } else {
                    "no refusal matches the filter"
                },
                Slot::Dim,
            ));
        }
        return out;
    }
    out.push(Line::new());
    out.push(heading(&format!(
        "Newest first ({} kept of {})",
        denied.refusals.len(),
        denied.total
    )));
    for refusal in shown {
        out.push(
            Line::new()
                .text(
                    &format!("  {}  ", time_of_day(refusal.time, state.zone)),
                    Slot::Dim,
                )
                .text(&format!("{:<20} ", refusal.client_id), Slot::Link)
                .text(&format!("{:<9} ", refusal.action()), Slot::StatusError)
                .text(&format!("{:<32}", refusal.target()), Slot::Text)
                .text(&format!("  {}", refusal.reason), Slot::Dim)
                .link(Link::Thing(refusal.client_id.clone())),
        );
    }
    out
}

/// Every isolated Thing: whether the policies in force isolate it, then who, when and why.
fn quarantined_lines(
    filter: &str,
    register: &Register,
    now: OffsetDateTime,
    zone: UtcOffset,
) -> Vec<Line> {
    let needle = filter.to_lowercase();
    let mut out = Vec::new();
    let shown: Vec<_> = register
        .isolations
        .iter()
        .filter(|i| {
            let status = if i.verified {
                "verified"
            } else {
                "not isolated"
            };
            needle.is_empty()
                || [i.thing.as_str(), status, i.how.as_str()]
                    .into_iter()
                    .chain(i.holds.iter().flat_map(|h| {
                        [
                            h.id.as_str(),
                            h.by.as_str(),
                            h.reason.as_deref().unwrap_or_default(),
                            h.incident.as_deref().unwrap_or_default(),
                        ]
                    }))
                    .any(|field| field.to_lowercase().contains(&needle))
        })
        .collect();
    if shown.is_empty() {
        out.push(Line::new().text(
            if register.isolations.is_empty() {
                "no Thing is quarantined"
            } else {
                "no quarantine matches the filter"
            },
            Slot::Dim,
        ));
    }
    for isolation in shown {
        let (status, slot) = if isolation.verified {
            ("VERIFIED", Slot::CertActive)
        } else {
            ("NOT ISOLATED", Slot::StatusError)
        };
        out.push(
            Line::new()
                .text(&format!("  {:<28}", isolation.thing), Slot::Link)
                .text(status, slot)
                .link(Link::Thing(isolation.thing.clone())),
        );
        if isolation.holds.is_empty() {
            out.push(Line::new().text(
                "      no entry in this journal says who quarantined it, when or why",
                Slot::Dim,
            ));
        }
        for hold in &isolation.holds {
            let since = OffsetDateTime::parse(&hold.since, &Rfc3339).map_or_else(
                |_| hold.since.clone(),
                |at| {
                    format!(
                        "{} {} {} ({} ago)",
                        date(at, zone),
                        time_of_day(at, zone),
                        zone_name(zone),
                        ago(at, now)
                    )
                },
            );
            let mut who = format!("      since {since} by {}", hold.by);
            match &hold.reason {
                Some(reason) => {
                    let _ = write!(who, ": {reason}");
                }
                None => who.push_str(": no reason given"),
            }
            out.push(Line::new().text(&who, Slot::Text));
            let mut which = format!("        {}", hold.id);
            if let Some(incident) = &hold.incident {
                let _ = write!(which, ", incident {incident}");
            }
            if let Some(actor) = &hold.actor {
                // `user/NAME` or `assumed-role/ROLE/SESSION`: the account is the fleet's.
                let _ = write!(which, ", as {}", actor.rsplit(':').next().unwrap_or(actor));
            }
            out.push(Line::new().text(&which, Slot::Dim));
        }
        out.push(Line::new().text(&format!("      {}", isolation.how), Slot::Dim));
    }
    for note in &register.notes {
        out.push(Line::new());
        out.push(Line::new().text(&format!("note: {note}"), Slot::Dim));
    }
    out
}

/// Whether a violation matches the filter (case-insensitive, over Thing, profile, behaviour and
/// metric).
fn violation_matches(violation: &Violation, needle: &str) -> bool {
    needle.is_empty()
        || [
            violation.thing_name.as_str(),
            violation.security_profile.as_str(),
            violation.behavior.as_str(),
            violation.metric.as_deref().unwrap_or_default(),
            violation.metric_text(),
        ]
        .iter()
        .any(|field| field.to_lowercase().contains(needle))
}

/// The state of the reading, then every active violation by Thing, each linked to its Thing:
/// the behaviour broken, the value measured against the rule, since when.
fn violations_lines(state: &State, filter: &str) -> Vec<Line> {
    let view = &state.fleet.violations;
    let needle = filter.to_lowercase();
    let mut out = Vec::new();
    match &view.feed {
        ViolationsFeed::Unknown(reason) => {
            out.push(Line::new().text(reason, Slot::StatusWarning));
            return out;
        }
        ViolationsFeed::Unwatched(sentence) => {
            out.push(Line::new().text(sentence, Slot::StatusWarning));
            return out;
        }
        ViolationsFeed::Starting => {
            out.push(Line::new().text("reading…", Slot::Dim));
            return out;
        }
        ViolationsFeed::Watching => {}
    }
    if view.local {
        out.push(Line::new().text(
            "local core: a datapoint every 5 s over each window; AWS takes one per period",
            Slot::Dim,
        ));
    }
    let shown: Vec<&Violation> = view
        .active
        .iter()
        .filter(|v| violation_matches(v, &needle))
        .collect();
    if shown.is_empty() {
        out.push(Line::new().text(
            if view.active.is_empty() {
                "no active violation: every watched Thing behaves as its profiles say"
            } else {
                "no violation matches the filter"
            },
            Slot::Dim,
        ));
        return out;
    }
    out.push(heading("Active, by Thing"));
    for violation in shown {
        let lead = Line::new()
            .text(&format!("  {:<20} ", violation.thing_name), Slot::Link)
            .link(Link::Thing(violation.thing_name.clone()));
        out.push(violation_line(lead, violation, state.now, state.zone));
    }
    out
}

/// One violation after `lead`: the metric and the value measured, the rule it broke (normal
/// is…), the profile and behaviour, and since when.
#[must_use]
pub fn violation_line(
    lead: Line,
    violation: &Violation,
    now: OffsetDateTime,
    zone: UtcOffset,
) -> Line {
    let mut line = lead
        .text(
            &format!("{} {} ", violation.metric_text(), violation.observed_text()),
            Slot::StatusError,
        )
        .text(&format!("(normal {}) ", violation.rule_text()), Slot::Dim)
        .text(
            &format!("{}/{}", violation.security_profile, violation.behavior),
            Slot::Text,
        );
    if let Some(since) = violation.since {
        line = line.text(
            &format!(
                "  since {} ({} ago)",
                time_of_day(since, zone),
                ago(since, now)
            ),
            Slot::Dim,
        );
    }
    line
}

/// What could not be read, then every event newest first: when, where from, who, what, and its
/// parameters.
fn history_lines(history: &History, filter: &str, zone: UtcOffset) -> Vec<Line> {
    let needle = filter.to_lowercase();
    let mut out = Vec::new();
    for unknown in [&history.trail_unknown, &history.journal_unknown]
        .into_iter()
        .flatten()
    {
        out.push(Line::new().text(unknown, Slot::StatusWarning));
    }
    let shown: Vec<&HistoryEvent> = history
        .events
        .iter()
        .filter(|e| {
            needle.is_empty()
                || [
                    e.who.as_str(),
                    e.what.as_str(),
                    e.detail.as_str(),
                    e.source.word(),
                ]
                .iter()
                .any(|f| f.to_lowercase().contains(&needle))
        })
        .collect();
    if shown.is_empty() {
        out.push(Line::new().text(
            if history.events.is_empty() {
                "no event names it in CloudTrail (the last 90 days) or the journal"
            } else {
                "no event matches the filter"
            },
            Slot::Dim,
        ));
        return out;
    }
    for event in shown {
        let source = match event.source {
            HistorySource::CloudTrail => Slot::Text,
            HistorySource::Journal => Slot::Title,
        };
        // Two lines an event, so the parameters show whole at 80 columns too.
        out.push(
            Line::new()
                .text(
                    &format!(
                        "{} {}  ",
                        date(event.time, zone),
                        time_of_day(event.time, zone)
                    ),
                    Slot::Dim,
                )
                .text(&format!("{:<11}", event.source.word()), source)
                .text(&format!("{} ", event.what), Slot::StatusWarning)
                .text(&format!("by {}", event.who), Slot::Text),
        );
        // CloudTrail's parameters one a line, IoT ARNs without their region and account.
        let details: Vec<&str> = match event.source {
            HistorySource::CloudTrail => event.detail.split(' ').collect(),
            HistorySource::Journal => vec![event.detail.as_str()],
        };
        for detail in details.into_iter().filter(|d| !d.is_empty()) {
            out.push(Line::new().text(&format!("    {}", short_arns(detail)), Slot::Dim));
        }
    }
    if history.truncated {
        out.push(Line::new().text("CloudTrail has older events than the 200 read", Slot::Dim));
    }
    out
}

/// `arn:aws:iot:REGION:ACCOUNT:cert/ID` as `cert/ID`, for lines that must fit 80 columns.
fn short_arns(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("arn:aws:iot:") {
        out.push_str(&rest[..at]);
        let arn = &rest[at..];
        // Skip "arn:aws:iot:REGION:ACCOUNT:".
        if let Some((colon, _)) = arn.match_indices(':').nth(4) {
            rest = &arn[colon + 1..];
        } else {
            out.push_str(arn);
            rest = "";
        }
    }
    out.push_str(rest);
    out
}
