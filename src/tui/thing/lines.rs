//! The content of the detail screens (a Thing, a certificate, a policy) as styled lines, some of
//! them links to related objects. Pure: `update` reads the links to move and open, views draw
//! the lines. Every piece of untrusted text is escaped here.

use std::fmt::Write as _;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::theme::Slot;
use crate::fleet::inventory::{PolicyReport, ThingReport};
use crate::fleet::permissions::Answer;
use crate::tui::data::Load;
use crate::tui::data::connectivity::ago;
use crate::tui::data::denied::Feed;
use crate::tui::frame::json::json_lines;
use crate::tui::frame::line::{Line, date, field, heading, loaded, time_of_day, zone_name};
use crate::tui::state::{Link, Screen, State};
use crate::tui::thing::certificate::{certificate_lines, expiry, short_id, status_slot};
use crate::untrusted::escape;

/// How often AWS IoT refused the Thing (as a client id) since the console began reading, and
/// the newest refusal (`:denied` lists them all).
fn denied_line(state: &State, thing: &str) -> Line {
    let denied = &state.fleet.denied;
    let since = time_of_day(denied.since, state.zone);
    let zone = zone_name(state.zone);
    let (text, slot) = match (denied.count(thing), &denied.feed) {
        (Some(0), _) => (format!("nothing refused since {since} {zone}"), Slot::Dim),
        (Some(count), _) => {
            let mut text = format!("{count} refused since {since} {zone}");
            if let Some(newest) = denied.newest(thing) {
                let _ = write!(
                    text,
                    "; newest {} ago: {} {} ({})",
                    crate::tui::data::connectivity::ago(newest.time, state.now),
                    newest.action(),
                    newest.target(),
                    newest.reason
                );
            }
            (text, Slot::StatusError)
        }
        (None, Feed::Unknown(reason)) => (reason.clone(), Slot::Dim),
        (None, _) => ("reading…".to_owned(), Slot::Dim),
    };
    field("Denied", &text, slot)
}

/// The topic rules that read the Thing's topics, one line each with where its data goes: what
/// stops downstream when it is quarantined.
fn rules_lines(state: &State, thing: &str) -> Vec<Line> {
    match state.fleet.thing_rules.get(thing) {
        Some(Load::Ready(rules)) if rules.is_empty() => vec![field(
            "Rules",
            &format!(
                "no topic rule reads its topics ({})",
                crate::fleet::rules::device_topics(thing).join(", ")
            ),
            Slot::Dim,
        )],
        Some(Load::Ready(rules)) => {
            let mut out = vec![field(
                "Rules",
                &format!(
                    "{} read its topics: a quarantine stops their data",
                    rules.len()
                ),
                Slot::Text,
            )];
            if matches!(state.backend, crate::tui::state::Backend::Local) {
                out.push(Line::new().text(
                    &format!("{:<12}local core: actions are recorded, never run", ""),
                    Slot::Dim,
                ));
            }
            out.extend(rules.iter().map(|rule| {
                Line::new()
                    .text(&format!("{:<12}", ""), Slot::Dim)
                    .text(&rule.sentence(), Slot::Text)
            }));
            out
        }
        Some(Load::Failed(error)) => vec![field("Rules", error, Slot::Dim)],
        _ => vec![field("Rules", "loading…", Slot::Dim)],
    }
}

/// Device Defender Detect's active violations of the Thing, one line each; "none active", or
/// why they are not known.
fn violations_lines(state: &State, thing: &str) -> Vec<Line> {
    use crate::tui::data::violations::Feed as Detect;
    let view = &state.fleet.violations;
    match (view.count(thing), &view.feed) {
        (Some(0), _) => vec![field("Violations", "none active", Slot::Dim)],
        (Some(count), _) => {
            let mut out = vec![field(
                "Violations",
                &format!("{count} active (Device Defender Detect)"),
                Slot::StatusError,
            )];
            out.extend(view.of(thing).map(|v| {
                let lead = Line::new().text(&format!("{:<12}", ""), Slot::Dim);
                crate::tui::responder::lines::violation_line(lead, v, state.now, state.zone)
            }));
            out
        }
        (None, Detect::Unknown(reason) | Detect::Unwatched(reason)) => {
            vec![field("Violations", reason, Slot::Dim)]
        }
        (None, _) => vec![field("Violations", "reading…", Slot::Dim)],
    }
}

/// Whether the Thing's device is connected (its client id is the Thing's name), since when, and
/// why its last session ended; "unknown" with the reason when it cannot be known.
fn connected_line(state: &State, thing: &str) -> Line {
    let at = |since: OffsetDateTime| {
        format!(
            "{} {} ({} ago)",
            date(since, state.zone),
            time_of_day(since, state.zone),
            crate::tui::data::connectivity::ago(since, state.now)
        )
    };
    let (text, slot) = match state.fleet.connectivity.get(thing) {
        None | Some((Load::Loading, _)) => ("loading…".to_owned(), Slot::Dim),
        Some((Load::Failed(reason), _)) => (reason.clone(), Slot::Dim),
        Some((Load::Ready(known), _)) => (
            format!("{} (as client id {thing})", known.sentence(at)),
            if known.connected {
                Slot::CertActive
            } else {
                Slot::Text
            },
        ),
    };
    field("Connected", &text, slot)
}

/// The lines of a detail screen; None for list screens.
#[must_use]
pub fn lines(state: &State, screen: &Screen) -> Option<Vec<Line>> {
    Some(match screen {
        Screen::List(..) | Screen::Traffic | Screen::Shadow { .. } => return None,
        Screen::Thing { name, .. } => loaded(state.fleet.thing_reports.get(name), |r| {
            thing_lines(state, r)
        }),
        Screen::Certificate { id, .. } => loaded(state.fleet.certificate_reports.get(id), |r| {
            certificate_lines(state.now, state.zone, r)
        }),
        Screen::Policy { name, .. } => loaded(state.fleet.policy_reports.get(name), policy_lines),
        Screen::Report { report, .. } => crate::tui::responder::lines::lines(state, *report),
    })
}

/// The links of a detail screen, in order.
#[must_use]
pub fn links(state: &State, screen: &Screen) -> Vec<Link> {
    lines(state, screen)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|line| line.link)
        .collect()
}

/// The Thing's quarantine status (QUARANTINED, or NOT ISOLATED with why) and its holds.
fn quarantine_lines(state: &State, report: &ThingReport) -> Vec<Line> {
    let thing = &report.thing.name;
    let mut out = Vec::new();
    if report.is_quarantined() {
        out.push(
            Line::new()
                .text(&format!("{:<12}", "Status"), Slot::Dim)
                .text(" QUARANTINED ", Slot::ThingQuarantined)
                .text("  it may do nothing; release to undo", Slot::Dim),
        );
    } else if let Some(why) = state.fleet.not_isolated(thing) {
        out.push(
            Line::new()
                .text(&format!("{:<12}", "Status"), Slot::Dim)
                .text(" NOT ISOLATED ", Slot::StatusError)
                .text(&format!("  {why}"), Slot::Text),
        );
    }
    // Why, who and when first: at 80 columns the id is what gets cut.
    for hold in state.fleet.holds.get(thing).into_iter().flatten() {
        let since = OffsetDateTime::parse(&hold.since, &Rfc3339).map_or_else(
            |_| hold.since.clone(),
            |at| {
                format!(
                    "{} {} ({} ago)",
                    date(at, state.zone),
                    time_of_day(at, state.zone),
                    ago(at, state.now)
                )
            },
        );
        let mut text = format!(
            "{} · by {} · {since}",
            hold.reason.as_deref().unwrap_or("no reason given"),
            hold.by
        );
        if let Some(incident) = &hold.incident {
            let _ = write!(text, " · incident {incident}");
        }
        let _ = write!(text, " · {}", hold.id);
        out.push(field("Held", &text, Slot::Text));
    }
    out
}

fn thing_lines(state: &State, report: &ThingReport) -> Vec<Line> {
    let thing = &report.thing;
    let mut out = vec![
        Line::new().text(&thing.name, Slot::Title).text(
            &format!("  {}", thing.thing_type.as_deref().unwrap_or("no type")),
            Slot::Dim,
        ),
        field("ARN", &thing.arn, Slot::Text),
        field("Version", &thing.version.to_string(), Slot::Text),
    ];
    out.splice(1..1, quarantine_lines(state, report));
    out.push(field("Groups", &report.group_list(), Slot::Text));
    out.push(connected_line(state, &thing.name));
    out.push(denied_line(state, &thing.name));
    out.extend(violations_lines(state, &thing.name));
    let shadows = match state.fleet.thing_shadows.get(&thing.name) {
        Some(Load::Ready(names)) if names.is_empty() => "none".to_owned(),
        Some(Load::Ready(names)) => names.join(", "),
        Some(Load::Failed(error)) => error.clone(),
        _ => "loading…".to_owned(),
    };
    out.push(field("Shadows", &shadows, Slot::Text));
    out.extend(rules_lines(state, &thing.name));
    out.push(Line::new());
    out.push(heading("Attributes"));
    if thing.attributes.is_empty() {
        out.push(Line::new().text("  none", Slot::Dim));
    }
    let width = thing
        .attributes
        .keys()
        .map(|k| escape(k).chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    for (key, value) in &thing.attributes {
        let key = escape(key);
        out.push(
            Line::new()
                .text(&format!("  {key:<width$}  "), Slot::Dim)
                .text(value, Slot::Text),
        );
    }
    out.push(Line::new());
    out.push(heading("Certificates"));
    if report.certificates.is_empty() {
        out.push(Line::new().text(
            "  none: this Thing has no certificate attached",
            Slot::StatusWarning,
        ));
    }
    for certificate in &report.certificates {
        let cert = &certificate.certificate;
        let mut line = Line::new()
            .text(&format!("  {}  ", short_id(&cert.id)), Slot::Link)
            .text(
                &format!("{:<8}", cert.status.as_aws()),
                status_slot(&cert.status),
            )
            .text("  ", Slot::Text);
        line = expiry(line, cert, state.now, state.zone);
        if certificate.is_shared() {
            let others: Vec<&str> = certificate
                .things
                .iter()
                .map(String::as_str)
                .filter(|t| *t != thing.name)
                .collect();
            line = line.text(
                &format!("  shared with {}", others.join(", ")),
                Slot::CertShared,
            );
        }
        out.push(line.link(Link::Certificate(cert.id.clone())));
        let isolating = &certificate.isolated_by;
        for policy in &certificate.policies {
            let mut line = Line::new()
                .text("      policy ", Slot::Dim)
                .text(&policy.name, Slot::Link);
            if isolating.contains(&policy.name) {
                line = line.text("  deny-all", Slot::ThingQuarantined);
            }
            out.push(line.link(Link::Policy(policy.name.clone())));
        }
    }
    for principal in &report.other_principals {
        out.push(field("Principal", principal, Slot::Text));
    }
    permission_lines(state, report, &mut out);
    out
}

/// What the Thing may do on its own topics, and the last question asked with `w`: each answer
/// with the statement that decided it, per certificate.
fn permission_lines(state: &State, report: &ThingReport, out: &mut Vec<Line>) {
    if report.certificates.is_empty() {
        return;
    }
    let several = report.certificates.len() > 1;
    let answer_line = |answer: &Answer| {
        let (mark, slot) = if answer.effective() {
            ("✓", Slot::CertActive)
        } else {
            ("✗", Slot::StatusError)
        };
        let mut line = Line::new().text(&format!("  {mark} "), slot);
        if several {
            line = line.text(&format!("{}  ", short_id(&answer.certificate)), Slot::Dim);
        }
        line = line
            .text(&format!("{:<10}", answer.action.to_string()), Slot::Text)
            .text(&format!("{:<44} ", answer.target), Slot::Text);
        line = match &answer.decided_by {
            Some(statement) if answer.allowed => line.text(statement, Slot::Dim),
            Some(statement) => line.text(&format!("denied by {statement}"), Slot::StatusError),
            None => line.text(answer.outcome, Slot::Dim),
        };
        if let Some(why) = &answer.cannot_connect {
            line = line.text(
                &format!("  (certificate cannot connect: {why})"),
                Slot::StatusWarning,
            );
        }
        line
    };
    out.push(Line::new());
    out.push(heading(
        "May do (local policy engine; w asks about any topic)",
    ));
    for answer in state
        .fleet
        .own_permissions
        .get(&report.thing.name)
        .into_iter()
        .flatten()
    {
        out.push(answer_line(answer));
    }
    if let Some(answers) = state.asked.get(&report.thing.name) {
        out.push(Line::new().text("  asked:", Slot::Dim));
        let aws = state.fleet.aws_asked.get(&report.thing.name);
        for answer in answers {
            out.push(answer_line(answer));
            let said = match aws {
                None => continue,
                Some(Load::Ready(aws)) => aws.iter().find(|a| a.certificate == answer.certificate),
                Some(Load::Failed(error)) => {
                    out.push(Line::new().text(
                        &format!("      AWS TestAuthorization could not be asked: {error}"),
                        Slot::StatusWarning,
                    ));
                    continue;
                }
                Some(_) => {
                    out.push(Line::new().text("      asking AWS (TestAuthorization)…", Slot::Dim));
                    continue;
                }
            };
            let Some(said) = said else { continue };
            out.push(match (&said.decision, said.disagrees_with(answer)) {
                (Ok(decision), Some(true)) => Line::new().text(
                    &format!(
                        "      !! DISAGREEMENT: AWS TestAuthorization says {decision}, the local engine says {}",
                        if answer.allowed { "allowed" } else { "denied" }
                    ),
                    Slot::ThingQuarantined,
                ),
                (Ok(decision), _) => Line::new().text(
                    &format!("      AWS TestAuthorization agrees: {decision}"),
                    Slot::Dim,
                ),
                (Err(error), _) => Line::new().text(
                    &format!("      AWS TestAuthorization could not be asked: {error}"),
                    Slot::StatusWarning,
                ),
            });
        }
    }
}

fn policy_lines(report: &PolicyReport) -> Vec<Line> {
    let policy = &report.policy;
    let version = policy.default_version_id.as_deref().unwrap_or("?");
    let mut out = vec![
        Line::new()
            .text("Policy ", Slot::Title)
            .text(&policy.name, Slot::Title)
            .text(&format!("  default version {version}"), Slot::Dim),
        field("ARN", &policy.arn, Slot::Text),
    ];
    let versions = report
        .versions
        .iter()
        .map(|v| {
            if v.is_default {
                format!("{} (default)", v.version_id)
            } else {
                v.version_id.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    out.push(field("Versions", &versions, Slot::Text));
    out.push(Line::new());
    out.push(heading("Targets"));
    if report.targets.is_empty() {
        out.push(Line::new().text("  none: the policy is attached to nothing", Slot::Dim));
    }
    for target in &report.targets {
        let line = match crate::fleet::model::certificate_id_from_arn(target) {
            Some(id) => Line::new()
                .text("  certificate ", Slot::Dim)
                .text(short_id(id), Slot::Link)
                .link(Link::Certificate(id.to_owned())),
            None => Line::new().text("  ", Slot::Text).text(target, Slot::Text),
        };
        out.push(line);
    }
    out.push(Line::new());
    out.push(heading("Document"));
    match serde_json::from_str::<Value>(&policy.document) {
        Ok(value) => out.extend(json_lines(&value, 1)),
        Err(_) => out.extend(
            policy
                .document
                .lines()
                .map(|l| Line::new().text(&format!("  {l}"), Slot::Text)),
        ),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_pretty_coloured_and_escaped() {
        let value = serde_json::json!({"a": [1, true, null], "b": "x\u{9b}y"});
        let lines = json_lines(&value, 0);
        let text: Vec<String> = lines
            .iter()
            .map(|l| l.segments.iter().map(|s| s.text.as_str()).collect())
            .collect();
        assert_eq!(
            text,
            [
                "{",
                "  \"a\": [",
                "    1,",
                "    true,",
                "    null",
                "  ],",
                "  \"b\": \"x\\u{9b}y\"",
                "}"
            ]
        );
        assert!(lines[1].segments.iter().any(|s| s.slot == Slot::JsonKey));
        assert!(lines[3].segments.iter().any(|s| s.slot == Slot::JsonBool));
    }
}
