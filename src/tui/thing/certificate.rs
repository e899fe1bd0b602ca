//! The certificate screen's lines (status, validity, CA, policies, Things), and how a
//! certificate's id, status and expiry are shown wherever they appear.

use time::OffsetDateTime;
use time::UtcOffset;

use crate::config::theme::Slot;
use crate::fleet::inventory::CertificateReport;
use crate::fleet::model::{Certificate, CertificateStatus, Validity};
use crate::tui::frame::line::{Line, date, field, heading};
use crate::tui::state::Link;

#[must_use]
pub fn certificate_lines(
    now: OffsetDateTime,
    zone: UtcOffset,
    report: &CertificateReport,
) -> Vec<Line> {
    let cert = &report.certificate;
    let mut out = vec![
        Line::new()
            .text("Certificate ", Slot::Title)
            .text(&cert.id, Slot::Title),
        field("ARN", &cert.arn, Slot::Text),
        Line::new()
            .text(&format!("{:<12}", "Status"), Slot::Dim)
            .text(cert.status.as_aws(), status_slot(&cert.status)),
    ];
    let isolating = &report.isolated_by;
    if !isolating.is_empty() {
        out.push(
            Line::new()
                .text(&format!("{:<12}", ""), Slot::Dim)
                .text(" QUARANTINED ", Slot::ThingQuarantined)
                .text(
                    &format!("  denied everything by {}", isolating.join(", ")),
                    Slot::Dim,
                ),
        );
    }
    let mut validity = Line::new().text(&format!("{:<12}", "Validity"), Slot::Dim);
    validity = expiry(validity, cert, now, zone);
    out.push(validity);
    if let Some(Validity { not_before, .. }) = cert.validity {
        out.push(field("Valid from", &date(not_before, zone), Slot::Text));
    }
    for (label, value) in [
        ("Subject", &cert.subject),
        ("Issuer", &cert.issuer),
        ("Serial", &cert.serial),
    ] {
        if let Some(value) = value {
            out.push(field(label, value, Slot::Text));
        }
    }
    out.push(Line::new());
    out.push(heading(if report.things.len() > 1 {
        "Things (shared certificate)"
    } else {
        "Things"
    }));
    if report.things.is_empty() {
        out.push(Line::new().text("  none", Slot::Dim));
    }
    for thing in &report.things {
        out.push(
            Line::new()
                .text("  ", Slot::Text)
                .text(thing, Slot::Link)
                .link(Link::Thing(thing.clone())),
        );
    }
    out.push(Line::new());
    out.push(heading("Policies"));
    if report.policies.is_empty() {
        out.push(Line::new().text(
            "  none: this certificate may do nothing",
            Slot::StatusWarning,
        ));
    }
    for policy in &report.policies {
        let version = policy.default_version_id.as_deref().unwrap_or("?");
        out.push(
            Line::new()
                .text("  ", Slot::Text)
                .text(&policy.name, Slot::Link)
                .text(&format!("  default version {version}"), Slot::Dim)
                .link(Link::Policy(policy.name.clone())),
        );
    }
    out
}

/// The first 16 characters of a certificate id: enough to tell them apart on screen.
#[must_use]
pub fn short_id(id: &str) -> &str {
    id.get(..16).unwrap_or(id)
}

#[must_use]
pub fn status_slot(status: &CertificateStatus) -> Slot {
    match status {
        CertificateStatus::Active => Slot::CertActive,
        CertificateStatus::Inactive => Slot::CertInactive,
        CertificateStatus::Revoked => Slot::CertRevoked,
        _ => Slot::CertOther,
    }
}

/// The slot for a certificate's days to expiry: expired, within 30 days, or fine.
#[must_use]
pub fn expiry_slot(days: i64) -> Slot {
    match days {
        d if d < 0 => Slot::CertExpired,
        d if d < 30 => Slot::CertExpiring,
        _ => Slot::Text,
    }
}

#[must_use]
pub fn expiry(line: Line, cert: &Certificate, now: OffsetDateTime, zone: UtcOffset) -> Line {
    match (&cert.validity, &cert.pem_problem) {
        (Some(validity), _) => {
            let days = validity.days_to_expiry(now);
            let text = match days {
                d if d < 0 => format!(
                    "EXPIRED {} ({})",
                    date(validity.not_after, zone),
                    crate::fleet::model::expired_ago(validity.not_after, now)
                ),
                d => format!("expires {} (in {d} days)", date(validity.not_after, zone)),
            };
            line.text(&text, expiry_slot(days))
        }
        (None, Some(problem)) => {
            line.text(&format!("expiry unknown: {problem}"), Slot::StatusWarning)
        }
        (None, None) => line.text("expiry unknown", Slot::Dim),
    }
}
