//! The read-only verbs: `things`, `thing`, `certs`, `policies`, `policy`, `shadow get`. Each
//! returns the text to print, as a table that fits the width or as one JSON object.

use serde::Serialize;
use std::fmt::Write as _;
use time::OffsetDateTime;
use time::macros::format_description;

use super::args::OutputFormat;
use super::text::{Layout, Report, Table, certificate_id, output_width};
use super::{CliError, to_json};
use crate::fleet::inventory::{self, CertificateReport, PolicyReport, ThingReport};
use crate::fleet::model::{Attributes, Certificate, Connectivity, Policy, Shadow};
use crate::fleet::permissions::{self, DeviceAction};
use crate::fleet::quarantine::holds::{self, Hold};
use crate::fleet::quarantine::register::{self, Statuses};
use crate::fleet::status::Word;
use crate::fleet::{FleetClient, FleetError, ResourceKind, ThingQuery};

pub async fn things(
    client: &FleetClient,
    query: ThingQuery,
    filter: Option<&str>,
    status: &[Word],
    format: OutputFormat,
) -> Result<String, CliError> {
    // JSON and text go out page by page: memory stays that of a page, whatever the fleet's
    // size. A table needs every row for its widths; `--status` asks fleet-wide facts once.
    if format != OutputFormat::Table && status.is_empty() {
        return things_streamed(client, query, filter, format)
            .await
            .map(|()| String::new());
    }
    let mut things = client.list_things(query).collect_all().await?;
    if let Some(filter) = filter {
        let needle = filter.to_lowercase();
        things.retain(|t| filter_matches(&t.name, t.thing_type.as_deref(), &t.attributes, &needle));
    }
    if !status.is_empty() {
        let kept = with_statuses(client, things.iter().map(|t| t.name.clone()), status).await?;
        things.retain(|t| kept.contains(&t.name));
    }
    let quarantined = quarantine_statuses(client).await?;
    if format == OutputFormat::Json {
        return Ok(listing_json(None, &things, |t| &t.name, &quarantined));
    }
    let mut table = Table::new(&["NAME", "TYPE", "STATUS", "ATTRIBUTES"]);
    for thing in &things {
        let attributes = attribute_text(&thing.attributes);
        table.row([
            thing.name.as_str(),
            thing.thing_type.as_deref().unwrap_or("-"),
            quarantined.word(&thing.name).unwrap_or("-"),
            attributes.as_str(),
        ]);
    }
    Ok(table.listing(Layout::of(format), &format!("{} Things", things.len())))
}

/// The quarantine status of every Thing under quarantine (the deny-all's reach and the
/// journal's holds), for a listing's STATUS column.
async fn quarantine_statuses(client: &FleetClient) -> Result<Statuses, CliError> {
    let journal = crate::fleet::mutation::journal_for(None, client).await?;
    Ok(register::statuses(client, &journal).await?)
}

/// A Thing of a JSON listing: what the service says of it, whether it is quarantined (isolated
/// now), and its quarantine status when it is under one (`QUARANTINED`, `NOT ISOLATED`).
#[derive(Serialize)]
struct Row<'a, T> {
    #[serde(flatten)]
    thing: &'a T,
    quarantined: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    isolation: Option<&'static str>,
}

/// `things --output json|text` without `--status`, printed as each page arrives. JSON is one
/// object, `{"things": [...], "count": N}`, a Thing a line inside it; text a Thing a line. A
/// failure part-way exits with it after what was printed (the JSON then left unclosed, so no
/// reader takes it for the whole fleet).
async fn things_streamed(
    client: &FleetClient,
    query: ThingQuery,
    filter: Option<&str>,
    format: OutputFormat,
) -> Result<(), CliError> {
    let json = format == OutputFormat::Json;
    let quarantined = quarantine_statuses(client).await?;
    let needle = filter.map(str::to_lowercase);
    let mut pages = client.list_things(query);
    let mut out = String::new();
    let mut count = 0usize;
    if json {
        out.push_str("{\"things\": [");
    }
    while let Some(page) = pages.next_page().await {
        for thing in page?.things {
            if needle.as_deref().is_some_and(|needle| {
                !filter_matches(
                    &thing.name,
                    thing.thing_type.as_deref(),
                    &thing.attributes,
                    needle,
                )
            }) {
                continue;
            }
            let word = quarantined.word(&thing.name);
            if json {
                out.push_str(if count == 0 { "\n" } else { ",\n" });
                let row = serde_json::to_string(&Row {
                    thing: &thing,
                    quarantined: word == Some("QUARANTINED"),
                    isolation: word,
                })
                .unwrap_or_default();
                out.push_str(&crate::untrusted::json_for_terminal(row));
            } else {
                out.push_str(&super::text::tab_line(&[
                    thing.name.as_str(),
                    thing.thing_type.as_deref().unwrap_or("-"),
                    word.unwrap_or("-"),
                    attribute_text(&thing.attributes).as_str(),
                ]));
            }
            count += 1;
        }
        if !super::write_stdout(&out)? {
            return Ok(());
        }
        out.clear();
    }
    if json {
        let _ = writeln!(out, "\n], \"count\": {count}}}");
        super::write_stdout(&out)?;
    }
    Ok(())
}

/// `things --query Q`: the Things fleet indexing's SearchIndex matches, with what the index says
/// of their connectivity, then `--filter` and `--status` as for the listing.
pub async fn search(
    client: &FleetClient,
    query: &str,
    filter: Option<&str>,
    status: &[Word],
    format: OutputFormat,
) -> Result<String, CliError> {
    let mut things = client.search_things(query).collect_all().await?;
    if let Some(filter) = filter {
        let needle = filter.to_lowercase();
        things.retain(|t| filter_matches(&t.name, t.thing_type.as_deref(), &t.attributes, &needle));
    }
    if !status.is_empty() {
        let kept = with_statuses(client, things.iter().map(|t| t.name.clone()), status).await?;
        things.retain(|t| kept.contains(&t.name));
    }
    let quarantined = quarantine_statuses(client).await?;
    if format == OutputFormat::Json {
        return Ok(listing_json(
            Some(query),
            &things,
            |t| &t.name,
            &quarantined,
        ));
    }
    let mut table = Table::new(&["NAME", "TYPE", "ONLINE", "SINCE", "STATUS", "ATTRIBUTES"]);
    for thing in &things {
        let attributes = attribute_text(&thing.attributes);
        // Without connectivity in the index it is unknown, never "offline".
        let (online, since) = match &thing.connectivity {
            Some(c) => (
                if c.connected { "online" } else { "offline" },
                c.since.map_or_else(|| "-".to_owned(), date_time_text),
            ),
            None => ("?", "-".to_owned()),
        };
        table.row([
            thing.name.as_str(),
            thing.thing_type.as_deref().unwrap_or("-"),
            online,
            since.as_str(),
            quarantined.word(&thing.name).unwrap_or("-"),
            attributes.as_str(),
        ]);
    }
    Ok(table.listing(
        Layout::of(format),
        &format!("{} Things match {query}", things.len()),
    ))
}

/// The names of `names` that have every status word (`things --status`).
async fn with_statuses(
    client: &FleetClient,
    names: impl Iterator<Item = String>,
    status: &[Word],
) -> Result<std::collections::HashSet<String>, CliError> {
    let journal = crate::fleet::mutation::journal_for(None, client).await?;
    Ok(
        crate::fleet::status::matching(client, &journal, names.collect(), status)
            .await
            .map_err(|e| CliError::new(1, e))?
            .into_iter()
            .collect(),
    )
}

/// A Thing's attributes as a table cell: `site=plant-north, firmware=2.4.1`.
fn attribute_text(attributes: &Attributes) -> String {
    attributes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `--filter`: the name, type or an attribute value contains `needle` (lower case), ignoring
/// case.
fn filter_matches(
    name: &str,
    thing_type: Option<&str>,
    attributes: &Attributes,
    needle: &str,
) -> bool {
    let contains = |text: &str| text.to_lowercase().contains(needle);
    contains(name) || thing_type.is_some_and(contains) || attributes.values().any(contains)
}

/// A listing's `--output json`: the query (for a search), the count, and each Thing with
/// whether it is quarantined.
fn listing_json<T: Serialize>(
    query: Option<&str>,
    things: &[T],
    name: impl Fn(&T) -> &str,
    quarantined: &Statuses,
) -> String {
    #[derive(Serialize)]
    struct Out<'a, T> {
        #[serde(skip_serializing_if = "Option::is_none")]
        query: Option<&'a str>,
        count: usize,
        things: Vec<Row<'a, T>>,
    }
    to_json(&Out {
        query,
        count: things.len(),
        things: things
            .iter()
            .map(|thing| {
                let word = quarantined.word(name(thing));
                Row {
                    thing,
                    quarantined: word == Some("QUARANTINED"),
                    isolation: word,
                }
            })
            .collect(),
    })
}

pub async fn thing(
    client: &FleetClient,
    name: &str,
    format: OutputFormat,
) -> Result<String, CliError> {
    let (report, connectivity) = futures_util::join!(
        inventory::thing_report(client, name),
        client.connectivity(name)
    );
    let report = match report {
        Ok(report) => report,
        Err(FleetError::NotFound {
            kind: ResourceKind::Thing,
            ..
        }) => return Err(unknown_thing(client, name).await),
        Err(error) => return Err(error.into()),
    };
    // Unknown (AWS without fleet indexing's connectivity) is said as such, never "offline".
    let connectivity = connectivity.map_err(|e| e.connectivity_unknown());
    let holds = thing_holds(client, name).await;
    let now = OffsetDateTime::now_utc();
    let shown = Shown {
        report: &report,
        connectivity: &connectivity,
        holds: &holds,
        now,
    };
    Ok(match format {
        OutputFormat::Json => to_json(&ThingJson::new(&shown)),
        OutputFormat::Table | OutputFormat::Text => thing_text(&shown, Layout::of(format).width()),
    })
}

/// The Thing's open holds from this backend's journal, or why they cannot be read.
async fn thing_holds(client: &FleetClient, name: &str) -> Result<Vec<Hold>, String> {
    let journal = crate::fleet::mutation::journal_for(None, client)
        .await
        .map_err(|e| format!("holds unknown: {e}"))?;
    let entries = journal
        .entries_for(name)
        .map_err(|e| format!("holds unknown: the journal could not be read: {e}"))?;
    Ok(holds::records(&entries)
        .remove(name)
        .map(|record| record.holds)
        .unwrap_or_default())
}

/// What the `thing` verb shows.
struct Shown<'a> {
    report: &'a ThingReport,
    connectivity: &'a Result<Connectivity, String>,
    holds: &'a Result<Vec<Hold>, String>,
    now: OffsetDateTime,
}

impl Shown<'_> {
    /// QUARANTINED or NOT ISOLATED (with why), or None when under no quarantine.
    fn status(&self) -> Option<(&'static str, String)> {
        let holds = self.holds.as_deref().unwrap_or_default();
        register::status_of(self.report, holds)
    }
}

/// `thing NAME --can ACTION TARGET`: the local policy engine's answer, per certificate, and
/// whether some ACTIVE certificate of the Thing is allowed (the verb exits `ANSWER_IS_NO` when
/// none is, as `test`/`grep` answer no).
pub async fn thing_can(
    client: &FleetClient,
    name: &str,
    question: &[String],
    format: OutputFormat,
    ask_aws: bool,
) -> Result<(String, bool), CliError> {
    let [action, target] = question else {
        return Err(CliError::new(2, "--can takes ACTION TARGET"));
    };
    let action: DeviceAction = action.parse().map_err(|e: String| CliError::new(2, e))?;
    let report = match inventory::thing_report(client, name).await {
        Ok(report) => report,
        Err(FleetError::NotFound {
            kind: ResourceKind::Thing,
            ..
        }) => return Err(unknown_thing(client, name).await),
        Err(error) => return Err(error.into()),
    };
    let answers =
        permissions::evaluate_for(&report, action, target, time::OffsetDateTime::now_utc());
    // On AWS, AWS's own answer beside ours; a disagreement is said loudly.
    let aws = if ask_aws {
        Some(permissions::ask_aws(client, &report, action, target).await)
    } else {
        None
    };
    let allowed = answers.iter().any(permissions::Answer::effective);
    if format == OutputFormat::Json {
        #[derive(Serialize)]
        struct Out<'a> {
            thing: &'a str,
            action: DeviceAction,
            target: &'a str,
            /// True when some ACTIVE certificate of the Thing is allowed.
            allowed: bool,
            answers: &'a [permissions::Answer],
            /// TestAuthorization's answers (not asked with --local).
            aws: Option<&'a [permissions::AwsAnswer]>,
        }
        let json = to_json(&Out {
            thing: name,
            action,
            target,
            allowed,
            answers: &answers,
            aws: aws.as_deref(),
        });
        return Ok((json, allowed));
    }
    let mut out = Report::new(Layout::of(format).width());
    if answers.is_empty() {
        out.line(
            0,
            &format!("{name} has no certificate: it cannot connect, so it may do nothing"),
        );
    }
    for answer in &answers {
        out.line(0, &answer_line(name, answer, true));
        let Some(aws) = aws
            .iter()
            .flatten()
            .find(|a| a.certificate == answer.certificate)
        else {
            continue;
        };
        let said = match (&aws.decision, aws.disagrees_with(answer)) {
            (Ok(decision), Some(true)) => format!(
                "!! DISAGREEMENT: AWS TestAuthorization says {decision}, the local engine says {}",
                if answer.allowed { "ALLOWED" } else { "DENIED" }
            ),
            (Ok(decision), _) => format!("AWS TestAuthorization agrees: {decision}"),
            (Err(error), _) => format!("AWS TestAuthorization could not be asked: {error}"),
        };
        out.line(2, &said);
    }
    Ok((out.finish(), allowed))
}

/// "pump-07 may publish to T: allowed by POLICY statement N", with what qualifies it.
fn answer_line(thing: &str, answer: &permissions::Answer, with_certificate: bool) -> String {
    let mut line = format!(
        "{thing} may {} {}{}: {}",
        answer.action,
        match answer.action {
            DeviceAction::Connect => "as ",
            DeviceAction::Subscribe => "to filter ",
            DeviceAction::Publish => "to ",
            DeviceAction::Receive => "from ",
        },
        answer.target,
        if answer.effective() {
            "ALLOWED"
        } else {
            "DENIED"
        },
    );
    if let Some(why) = &answer.cannot_connect {
        let _ = write!(
            line,
            " (the certificate cannot connect: {why}; its policies alone would {} it)",
            if answer.allowed { "allow" } else { "deny" }
        );
    } else if !answer.allowed {
        let _ = write!(line, " ({})", answer.outcome);
    }
    if let Some(statement) = &answer.decided_by {
        let _ = write!(line, " by {statement}");
    }
    if with_certificate {
        let _ = write!(
            line,
            " [certificate {}]",
            certificate_id(&answer.certificate, output_width())
        );
    }
    if !answer.missing_context.is_empty() {
        let _ = write!(
            line,
            "; unknown here: {}",
            answer.missing_context.join(", ")
        );
    }
    if !answer.unreadable.is_empty() {
        let _ = write!(
            line,
            "; unreadable policies (allow nothing): {}",
            answer.unreadable.join(", ")
        );
    }
    line
}

/// The "not found" error for a Thing, with close names when there are some.
async fn unknown_thing(client: &FleetClient, name: &str) -> CliError {
    let not_found = FleetError::NotFound {
        kind: ResourceKind::Thing,
        name: name.to_owned(),
    };
    let hint = match inventory::suggest_thing_names(client, name).await {
        Ok(s) if s.names.is_empty() && s.complete => "no Thing has a similar name".to_owned(),
        Ok(s) if s.names.is_empty() => "no similar name among the first 5,000 Things".to_owned(),
        Ok(s) => format!("did you mean {}?", s.names.join(", ")),
        Err(error) => format!("could not look for similar names: {error}"),
    };
    CliError::new(not_found.exit_code(), format!("{not_found}; {hint}"))
}

#[derive(Serialize)]
struct ThingJson<'a> {
    thing: &'a crate::fleet::model::Thing,
    quarantined: bool,
    /// QUARANTINED or NOT ISOLATED, when it is under a quarantine.
    #[serde(skip_serializing_if = "Option::is_none")]
    isolation: Option<&'static str>,
    /// Why it is NOT ISOLATED.
    #[serde(skip_serializing_if = "Option::is_none")]
    not_isolated: Option<String>,
    /// Its open holds (who, when, why), or `{"unknown": REASON}`.
    holds: HoldsJson<'a>,
    connectivity: ConnectivityJson<'a>,
    groups: &'a [crate::fleet::model::ThingGroupRef],
    certificates: Vec<CertificateJson<'a>>,
    other_principals: &'a [String],
}

/// The holds, or `{"unknown": REASON}` when the journal cannot be read.
#[derive(Serialize)]
#[serde(untagged)]
enum HoldsJson<'a> {
    Known(&'a [Hold]),
    Unknown { unknown: &'a str },
}

/// The connectivity, or `{"unknown": REASON}` when it cannot be known.
#[derive(Serialize)]
#[serde(untagged)]
enum ConnectivityJson<'a> {
    Known(&'a Connectivity),
    Unknown { unknown: &'a str },
}

#[derive(Serialize)]
struct CertificateJson<'a> {
    #[serde(flatten)]
    certificate: &'a Certificate,
    days_to_expiry: Option<i64>,
    shared: bool,
    /// The policies that isolate it (a quarantine); empty when none does.
    isolated_by: &'a [String],
    things: &'a [String],
    policies: &'a [Policy],
}

impl<'a> ThingJson<'a> {
    fn new(shown: &Shown<'a>) -> Self {
        let Shown {
            report,
            connectivity,
            holds,
            now,
        } = *shown;
        let status = shown.status();
        let certificates = report
            .certificates
            .iter()
            .map(|c| CertificateJson {
                certificate: &c.certificate,
                days_to_expiry: c.certificate.validity.map(|v| v.days_to_expiry(now)),
                shared: c.is_shared(),
                isolated_by: &c.isolated_by,
                things: &c.things,
                policies: &c.policies,
            })
            .collect();
        Self {
            thing: &report.thing,
            quarantined: report.is_quarantined(),
            isolation: status.as_ref().map(|(word, _)| *word),
            not_isolated: status.and_then(|(word, why)| (word == "NOT ISOLATED").then_some(why)),
            holds: match holds {
                Ok(holds) => HoldsJson::Known(holds),
                Err(reason) => HoldsJson::Unknown { unknown: reason },
            },
            connectivity: match connectivity {
                Ok(known) => ConnectivityJson::Known(known),
                Err(reason) => ConnectivityJson::Unknown { unknown: reason },
            },
            groups: &report.groups,
            certificates,
            other_principals: &report.other_principals,
        }
    }
}

/// Whether the device is connected, since when (UTC) and why its last session ended.
fn connected_text(connectivity: &Result<Connectivity, String>) -> String {
    let at = |time: OffsetDateTime| {
        time.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    match connectivity {
        Err(reason) => reason.clone(),
        Ok(known) => known.sentence(at),
    }
}

fn thing_text(shown: &Shown<'_>, width: Option<usize>) -> String {
    let Shown {
        report,
        connectivity,
        holds,
        now,
    } = *shown;
    let thing = &report.thing;
    let mut out = Report::new(width);
    out.field(0, "Thing", 12, &thing.name);
    match shown.status() {
        Some(("QUARANTINED", _)) => out.field(
            0,
            "Status",
            12,
            &format!(
                "QUARANTINED: it may do nothing; undo with `iotfleet release {}`",
                thing.name
            ),
        ),
        Some((word, why)) => out.field(0, "Status", 12, &format!("{word}: {why}")),
        None => {}
    }
    match holds {
        Ok(holds) => {
            for hold in holds {
                out.field(0, "Held", 12, &hold.describe());
            }
        }
        Err(reason) => out.field(0, "Held", 12, reason),
    }
    out.field(0, "ARN", 12, &thing.arn);
    out.field(0, "Type", 12, thing.thing_type.as_deref().unwrap_or("-"));
    out.field(0, "Version", 12, &thing.version.to_string());
    if let Some(group) = &thing.billing_group {
        out.field(0, "Billing", 12, group);
    }
    out.field(0, "Groups", 12, &report.group_list());
    out.field(0, "Connected", 12, &connected_text(connectivity));
    if thing.attributes.is_empty() {
        out.field(0, "Attributes", 12, "-");
    } else {
        out.line(0, "Attributes");
        let key_width = thing
            .attributes
            .keys()
            .map(|k| k.chars().count())
            .max()
            .unwrap_or(0)
            .min(24);
        for (key, value) in &thing.attributes {
            out.field(2, key, key_width, value);
        }
    }
    if report.certificates.is_empty() {
        out.field(
            0,
            "Certificates",
            12,
            "none: this Thing has no certificate attached",
        );
    }
    for certificate in &report.certificates {
        out.blank();
        certificate_text(&mut out, certificate, &thing.name, now);
    }
    for principal in &report.other_principals {
        out.field(0, "Principal", 12, principal);
    }
    if !report.certificates.is_empty() {
        out.blank();
        out.line(
            0,
            "Effective permissions (local policy engine, per certificate)",
        );
        let several = report.certificates.len() > 1;
        let own = permissions::own_checks(&thing.name);
        for answer in permissions::evaluate_all(report, &own, time::OffsetDateTime::now_utc()) {
            out.line(2, &answer_line(&thing.name, &answer, several));
        }
    }
    out.finish()
}

fn certificate_text(
    out: &mut Report,
    report: &CertificateReport,
    this_thing: &str,
    now: OffsetDateTime,
) {
    let certificate = &report.certificate;
    out.field(0, "Certificate", 12, &certificate.id);
    out.field(2, "Status", 10, certificate.status.as_aws());
    let isolating = &report.isolated_by;
    if !isolating.is_empty() {
        out.field(
            2,
            "QUARANTINED",
            10,
            &format!("denied everything by {}", isolating.join(", ")),
        );
    }
    match (&certificate.validity, &certificate.pem_problem) {
        (Some(validity), _) => out.field(
            2,
            "Expiry",
            10,
            &expiry_text(validity.not_after, validity.days_to_expiry(now), now),
        ),
        (None, Some(problem)) => out.field(2, "Expiry", 10, &format!("unknown: {problem}")),
        (None, None) => out.field(2, "Expiry", 10, "unknown"),
    }
    if let Some(subject) = &certificate.subject {
        out.field(2, "Subject", 10, subject);
    }
    let others: Vec<&str> = report
        .things
        .iter()
        .map(String::as_str)
        .filter(|t| *t != this_thing)
        .collect();
    if !others.is_empty() {
        out.field(
            2,
            "SHARED",
            10,
            &format!("also attached to {}", others.join(", ")),
        );
    }
    if report.policies.is_empty() {
        out.field(2, "Policies", 10, "none: this certificate may do nothing");
    }
    for policy in &report.policies {
        let version = policy.default_version_id.as_deref().unwrap_or("?");
        out.field(
            2,
            "Policy",
            10,
            &format!("{} (default version {version})", policy.name),
        );
        out.block(4, &pretty_document(&policy.document));
    }
}

fn expiry_text(not_after: OffsetDateTime, days: i64, now: OffsetDateTime) -> String {
    let date = date_text(not_after);
    match days {
        d if d < 0 => format!(
            "EXPIRED {date} ({})",
            crate::fleet::model::expired_ago(not_after, now)
        ),
        0 => format!("{date} (expires within a day)"),
        d => format!("{date} (in {d} days)"),
    }
}

fn date_text(time: OffsetDateTime) -> String {
    time.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

fn date_time_text(time: OffsetDateTime) -> String {
    time.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
    ))
    .unwrap_or_default()
}

/// A policy document pretty-printed when it is JSON, else as the service gave it.
fn pretty_document(document: &str) -> String {
    serde_json::from_str::<serde_json::Value>(document)
        .and_then(|value| serde_json::to_string_pretty(&value))
        .unwrap_or_else(|_| document.to_owned())
}

pub async fn certificates(client: &FleetClient, format: OutputFormat) -> Result<String, CliError> {
    let certificates = client.list_certificates().await?;
    if format == OutputFormat::Json {
        #[derive(Serialize)]
        struct Out<'a> {
            count: usize,
            certificates: &'a [crate::fleet::model::CertificateSummary],
        }
        return Ok(to_json(&Out {
            count: certificates.len(),
            certificates: &certificates,
        }));
    }
    let mut table = Table::new(&["ID", "STATUS", "CREATED"]);
    for certificate in &certificates {
        let created = certificate
            .created
            .map_or_else(|| "-".to_owned(), date_text);
        table.row([
            certificate.id.as_str(),
            certificate.status.as_aws(),
            created.as_str(),
        ]);
    }
    Ok(table.listing(
        Layout::of(format),
        &format!("{} certificates", certificates.len()),
    ))
}

pub async fn policies(client: &FleetClient, format: OutputFormat) -> Result<String, CliError> {
    let policies = client.list_policies().await?;
    if format == OutputFormat::Json {
        #[derive(Serialize)]
        struct Out<'a> {
            count: usize,
            policies: &'a [crate::fleet::model::PolicySummary],
        }
        return Ok(to_json(&Out {
            count: policies.len(),
            policies: &policies,
        }));
    }
    let mut table = Table::new(&["NAME", "ARN"]);
    for policy in &policies {
        table.row([policy.name.as_str(), policy.arn.as_str()]);
    }
    Ok(table.listing(Layout::of(format), &format!("{} policies", policies.len())))
}

pub async fn policy(
    client: &FleetClient,
    name: &str,
    format: OutputFormat,
) -> Result<String, CliError> {
    let report = inventory::policy_report(client, name).await?;
    Ok(match format {
        OutputFormat::Json => to_json(&report),
        OutputFormat::Table | OutputFormat::Text => {
            policy_text(&report, Layout::of(format).width())
        }
    })
}

fn policy_text(report: &PolicyReport, width: Option<usize>) -> String {
    let policy = &report.policy;
    let mut out = Report::new(width);
    out.field(0, "Policy", 12, &policy.name);
    out.field(0, "ARN", 12, &policy.arn);
    out.field(
        0,
        "Default",
        12,
        &format!(
            "version {}",
            policy.default_version_id.as_deref().unwrap_or("?")
        ),
    );
    if let Some(created) = policy.created {
        out.field(0, "Created", 12, &date_time_text(created));
    }
    out.line(0, "Document");
    out.block(2, &pretty_document(&policy.document));
    out.line(0, "Versions");
    for version in &report.versions {
        let created = version
            .created
            .map_or_else(|| "-".to_owned(), date_time_text);
        let default = if version.is_default {
            "  (default)"
        } else {
            ""
        };
        out.line(2, &format!("{:<4} {created}{default}", version.version_id));
    }
    if report.targets.is_empty() {
        out.field(0, "Targets", 12, "none: the policy is attached to nothing");
    } else {
        out.line(0, "Targets");
        for target in &report.targets {
            out.line(2, target);
        }
    }
    out.finish()
}

pub async fn shadow_get(
    client: &FleetClient,
    thing: &str,
    name: Option<&str>,
    format: OutputFormat,
) -> Result<String, CliError> {
    let shadow = client.get_shadow(thing, name).await?;
    Ok(match format {
        OutputFormat::Json => to_json(&shadow),
        OutputFormat::Table | OutputFormat::Text => {
            shadow_text(&shadow, Layout::of(format).width())
        }
    })
}

fn shadow_text(shadow: &Shadow, width: Option<usize>) -> String {
    let mut out = Report::new(width);
    out.field(0, "Thing", 10, &shadow.thing);
    out.field(0, "Shadow", 10, shadow.name.as_deref().unwrap_or("classic"));
    out.field(
        0,
        "Version",
        10,
        &shadow
            .version
            .map_or_else(|| "-".to_owned(), |v| v.to_string()),
    );
    let updated = shadow
        .timestamp
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
    out.field(
        0,
        "Updated",
        10,
        &updated.map_or_else(|| "-".to_owned(), date_time_text),
    );
    for (label, section) in [
        ("Desired", &shadow.desired),
        ("Reported", &shadow.reported),
        ("Delta", &shadow.delta),
    ] {
        match section {
            Some(value) => {
                out.line(0, label);
                out.block(2, &serde_json::to_string_pretty(value).unwrap_or_default());
            }
            None => out.field(0, label, 10, "-"),
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn filter_matches_name_type_and_attribute_values_ignoring_case() {
        let attributes = Attributes::from(BTreeMap::from([("site".into(), "Plant-2".into())]));
        let matches = |needle| filter_matches("Pump-17", Some("pump"), &attributes, needle);
        assert!(matches("pump-1"));
        assert!(matches("plant-2"));
        assert!(!matches("site"));
    }

    #[test]
    fn expiry_text_says_expired_and_counts_days() {
        let when = time::macros::datetime!(2026-01-01 0:00 UTC);
        let later = time::macros::datetime!(2026-01-04 6:00 UTC);
        assert_eq!(
            expiry_text(when, -4, later),
            "EXPIRED 2026-01-01 (3 days ago)",
            "three whole days passed, as the audit counts them"
        );
        let earlier = time::macros::datetime!(2025-12-02 0:00 UTC);
        assert_eq!(expiry_text(when, 30, earlier), "2026-01-01 (in 30 days)");
    }
}
