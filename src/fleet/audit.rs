//! Local audit checks modelled on AWS IoT Device Defender's audit (check names and meanings after
//! AWS's), computed from the registry with no Defender subscription: `gather` reads the fleet
//! once (bounded concurrency), `check` is pure. Each finding names its severity, check, resource,
//! reason and the fix in one line. Device Defender's own findings, where the account has them,
//! are read by `aws_findings` and shown beside ours, marked as AWS's.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use futures_util::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;
use time::OffsetDateTime;

use super::client::{CONCURRENT_CALLS, FleetClient};
use super::error::FleetError;
use super::journal::Journal;
use super::model::Hold;
use super::model::{CertificateStatus, certificate_id_from_arn};
pub use super::model::{Finding, Resource, Severity, Source};
use super::quarantine::holds;
use super::quarantine::{DENY_ALL_POLICY, is_deny_all};
use crate::policy::PolicyDocument;
use crate::policy::document::{Effect, Matcher};

/// A certificate expiring within this many days is reported (AWS's default).
pub const EXPIRING_DAYS: i64 = 30;

/// What the checks read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub things: Vec<ThingFacts>,
    pub certificates: Vec<CertificateFacts>,
    pub policies: Vec<PolicyFacts>,
}

impl Inventory {
    /// Whether the certificate `arn` lets its Thing connect: ACTIVE, or not read (assumed so).
    #[must_use]
    pub fn can_connect(&self, arn: &str) -> bool {
        self.certificates
            .iter()
            .find(|c| c.arn == arn)
            .is_none_or(|c| c.status == CertificateStatus::Active)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingFacts {
    pub name: String,
    /// Certificate ARNs attached to it.
    pub certificates: Vec<String>,
    /// Its Thing group ARNs; read only when a policy is attached to a group.
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    pub id: String,
    pub arn: String,
    pub status: CertificateStatus,
    /// From the PEM; None when it could not be read.
    pub not_after: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFacts {
    pub name: String,
    pub arn: String,
    /// The default version's document.
    pub document: String,
    pub targets: Vec<String>,
}

fn finding(
    severity: Severity,
    check: &str,
    resource: Resource,
    reason: String,
    fix: &str,
) -> Finding {
    let resource_things = match &resource {
        Resource::Thing(name) => Some(vec![name.clone()]),
        _ => None,
    };
    Finding {
        severity,
        check: check.to_owned(),
        resource,
        reason,
        fix: fix.to_owned(),
        source: Source::Local,
        things: match &resource_things {
            Some(things) => things.clone(),
            None => Vec::new(),
        },
    }
}

/// Every local check over `inventory` at `now`; `holds` (the journal's open holds, by Thing)
/// say who quarantined what, when and why. Sorted by severity, then check, then resource.
#[must_use]
pub fn check(
    inventory: &Inventory,
    holds: &BTreeMap<String, Vec<Hold>>,
    now: OffsetDateTime,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    policy_checks(inventory, &mut findings);
    certificate_checks(inventory, now, &mut findings);
    for thing in &inventory.things {
        if thing.certificates.is_empty() {
            findings.push(finding(
                Severity::Low,
                "THING_WITHOUT_CERTIFICATE",
                Resource::Thing(thing.name.clone()),
                "no certificate is attached: the Thing cannot connect".to_owned(),
                "attach a certificate (iot:AttachThingPrincipal), or delete the Thing if it is retired",
            ));
        }
    }
    let isolated = quarantined(inventory);
    for (thing, how) in &isolated {
        let mut reason = format!("isolated: {how}");
        match holds.get(thing).filter(|h| !h.is_empty()) {
            Some(held) => {
                let _ = write!(
                    reason,
                    "; held by {}",
                    held.iter()
                        .map(Hold::describe)
                        .collect::<Vec<_>>()
                        .join("; ")
                );
            }
            None => reason.push_str("; no journal entry here says when or by whom"),
        }
        findings.push(finding(
            Severity::Info,
            "QUARANTINED",
            Resource::Thing(thing.clone()),
            reason,
            "release it (R, or iotfleet release THING) once it is safe",
        ));
    }
    not_isolated_checks(inventory, holds, &isolated, &mut findings);
    sort(&mut findings);
    findings
}

/// A Thing a quarantine holds, or that the deny-all reaches through one of its certificates,
/// yet that can act: CRITICAL, naming each ACTIVE certificate without a deny-all (one attached
/// after the quarantine said so), with the fix: quarantine it again, which isolates it too.
fn not_isolated_checks(
    inventory: &Inventory,
    holds: &BTreeMap<String, Vec<Hold>>,
    isolated: &BTreeMap<String, String>,
    findings: &mut Vec<Finding>,
) {
    let isolating: BTreeSet<&str> = inventory
        .policies
        .iter()
        .filter(|p| is_deny_all(&p.document, &p.arn))
        .flat_map(|p| p.targets.iter().map(String::as_str))
        .collect();
    let active = |arn: &str| inventory.can_connect(arn);
    for thing in &inventory.things {
        if isolated.contains_key(&thing.name) {
            continue;
        }
        let thing_holds = holds.get(&thing.name).map_or(&[][..], Vec::as_slice);
        let reached = thing
            .certificates
            .iter()
            .any(|c| isolating.contains(c.as_str()));
        if thing_holds.is_empty() && !reached {
            continue;
        }
        let open: Vec<String> = thing
            .certificates
            .iter()
            .filter(|c| !isolating.contains(c.as_str()) && active(c))
            .map(|arn| {
                let id = certificate_id_from_arn(arn).unwrap_or(arn);
                let short: String = id.chars().take(12).collect();
                match thing_holds.first() {
                    Some(hold) if !hold.certificates.is_empty() && !hold.certificates.iter().any(|c| c == id) => {
                        format!("certificate {short}… (ACTIVE) was attached after the quarantine of {} and carries no deny-all", hold.since)
                    }
                    _ => format!("certificate {short}… (ACTIVE) carries no deny-all"),
                }
            })
            .collect();
        let mut reason = if open.is_empty() {
            "quarantined, but no policy in force denies it everything".to_owned()
        } else {
            format!("quarantined, but it can act: {}", open.join("; "))
        };
        if let Some(hold) = thing_holds.first() {
            let _ = write!(reason, "; held by {}", hold.describe());
        }
        findings.push(finding(
            Severity::Critical,
            "QUARANTINE_NOT_ISOLATED",
            Resource::Thing(thing.name.clone()),
            reason,
            "quarantine it again (iotfleet quarantine THING): the plan isolates every certificate it has now",
        ));
    }
}

fn policy_checks(inventory: &Inventory, findings: &mut Vec<Finding>) {
    for policy in &inventory.policies {
        let prefix = crate::policy::deny_all::arn_prefix(&policy.arn);
        let gap = crate::policy::deny_all::deny_all_gap(&policy.document, &prefix);
        let Some(gap) = gap else {
            // A deny-all policy (the quarantine's, or a policy-version quarantine's default)
            // denies everything by design.
            continue;
        };
        if policy.name == DENY_ALL_POLICY {
            let things = things_reached(inventory, &policy.targets);
            let reason = if things.is_empty() {
                format!("the quarantine policy is tampered: its default version {gap}")
            } else {
                format!(
                    "the quarantine policy is tampered: its default version {gap}; it no longer isolates {}",
                    things.join(", ")
                )
            };
            let mut found = finding(
                Severity::Critical,
                "QUARANTINE_POLICY_TAMPERED",
                Resource::Policy(policy.name.clone()),
                reason,
                "quarantine each Thing again (iotfleet quarantine THING): the plan restores the deny-all document as its default version",
            );
            found.things = things;
            findings.push(found);
            continue;
        }
        if policy.targets.is_empty() {
            findings.push(finding(
                Severity::Low,
                "POLICY_WITHOUT_TARGETS",
                Resource::Policy(policy.name.clone()),
                "attached to no certificate or Thing group".to_owned(),
                "delete it (iot:DeletePolicy) if nothing needs it",
            ));
        }
        let Ok(document) = PolicyDocument::parse(&policy.document) else {
            continue;
        };
        if let Some(reason) = overly_permissive(&document) {
            findings.push(finding(
                Severity::Critical,
                "IOT_POLICY_OVERLY_PERMISSIVE",
                Resource::Policy(policy.name.clone()),
                reason,
                "list only the actions devices need, on resources scoped with ${iot:Connection.Thing.ThingName}",
            ));
        }
        if let Some(reason) = wildcard_in_deny(&document) {
            findings.push(finding(
                Severity::Medium,
                "IOT_POLICY_POTENTIAL_MISCONFIGURATION",
                Resource::Policy(policy.name.clone()),
                reason,
                "MQTT wildcards are literal in a Deny: name the topics, or use the policy wildcard *",
            ));
        }
    }
}

/// Data-plane actions: what a device does over MQTT and HTTPS.
fn is_data_plane(action: &str) -> bool {
    let action = action.to_ascii_lowercase();
    [
        "iot:connect",
        "iot:publish",
        "iot:subscribe",
        "iot:receive",
        "iot:retainpublish",
        "iot:getthingshadow",
        "iot:updatethingshadow",
        "iot:deletethingshadow",
        "iot:getretainedmessage",
        "iot:listretainedmessages",
    ]
    .iter()
    .any(|known| wildcard_match(&action, known))
}

/// `pattern` (with `*` and `?`) matches `text`.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

/// A resource that reaches beyond one device: `*`, or a wildcard not scoped by the
/// connection's Thing name or client id.
fn reaches_other_devices(resource: &str) -> bool {
    let scoped = resource.contains("${iot:Connection.Thing.ThingName}")
        || resource.contains("${iot:ClientId}");
    (resource.contains('*') || resource.contains('?')) && !scoped
}

/// Why an Allow statement of `document` is overly permissive, if one is.
fn overly_permissive(document: &PolicyDocument) -> Option<String> {
    for (index, statement) in document.statements.iter().enumerate() {
        if statement.effect != Effect::Allow {
            continue;
        }
        let label = statement.sid.as_ref().map_or_else(
            || format!("statement {}", index + 1),
            |sid| format!("statement {sid}"),
        );
        let (everything, actions): (bool, Vec<&str>) = match &statement.actions {
            Matcher::Any(actions) => (
                actions.iter().any(|a| a == "*" || a == "iot:*"),
                actions
                    .iter()
                    .map(String::as_str)
                    .filter(|a| is_data_plane(a))
                    .collect(),
            ),
            Matcher::NoneOf(_) => (true, vec!["every action but a few (NotAction)"]),
        };
        let broad: Vec<&str> = match &statement.resources {
            Matcher::Any(resources) => resources
                .iter()
                .map(String::as_str)
                .filter(|r| reaches_other_devices(r))
                .collect(),
            Matcher::NoneOf(_) => vec!["every resource but a few (NotResource)"],
        };
        if everything && !broad.is_empty() {
            return Some(format!(
                "{label} allows every IoT action on {}",
                broad.join(", ")
            ));
        }
        if !actions.is_empty() && !broad.is_empty() {
            return Some(format!(
                "{label} allows {} on {}, which reaches other devices' topics and clients",
                actions.join(", "),
                broad.join(", ")
            ));
        }
    }
    None
}

/// Why a Deny statement does less than it seems, if one does: `+` or `#` in a topic resource.
fn wildcard_in_deny(document: &PolicyDocument) -> Option<String> {
    for (index, statement) in document.statements.iter().enumerate() {
        if statement.effect != Effect::Deny {
            continue;
        }
        let Matcher::Any(resources) = &statement.resources else {
            continue;
        };
        let literal: Vec<&str> = resources
            .iter()
            .map(String::as_str)
            .filter(|r| {
                (r.contains(":topic/") || r.contains(":topicfilter/"))
                    && (r.contains('+') || r.contains('#'))
            })
            .collect();
        if !literal.is_empty() {
            return Some(format!(
                "Deny statement {} names {}: + and # are literal characters there, so it denies only topics spelled that way",
                index + 1,
                literal.join(", ")
            ));
        }
    }
    None
}

fn certificate_checks(inventory: &Inventory, now: OffsetDateTime, findings: &mut Vec<Finding>) {
    let mut things_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for thing in &inventory.things {
        for arn in &thing.certificates {
            things_of.entry(arn).or_default().push(&thing.name);
        }
    }
    let with_policy: BTreeSet<&str> = inventory
        .policies
        .iter()
        .flat_map(|p| p.targets.iter())
        .map(String::as_str)
        .collect();
    for certificate in &inventory.certificates {
        let things = things_of
            .get(certificate.arn.as_str())
            .cloned()
            .unwrap_or_default();
        let first = findings.len();
        let resource = || Resource::Certificate(certificate.id.clone());
        let used_by = if things.is_empty() {
            "; attached to no Thing".to_owned()
        } else {
            format!("; used by {}", things.join(", "))
        };
        if things.len() > 1 {
            findings.push(finding(
                Severity::Critical,
                "DEVICE_CERTIFICATE_SHARED",
                resource(),
                format!("attached to {} Things: {}", things.len(), things.join(", ")),
                "give each Thing a certificate of its own, then detach this one from all but one",
            ));
        }
        let usable = matches!(certificate.status, CertificateStatus::Active);
        if let Some(not_after) = certificate.not_after
            && usable
        {
            let days = (not_after - now).whole_days();
            if not_after < now {
                findings.push(finding(
                    Severity::High,
                    "DEVICE_CERTIFICATE_EXPIRING",
                    resource(),
                    format!(
                        "expired {}: devices using it cannot connect{used_by}",
                        super::model::expired_ago(not_after, now)
                    ),
                    "issue a new certificate, attach its policies and Thing, then deactivate this one",
                ));
            } else if days < EXPIRING_DAYS {
                findings.push(finding(
                    Severity::Medium,
                    "DEVICE_CERTIFICATE_EXPIRING",
                    resource(),
                    format!("expires in {days} days{used_by}"),
                    "rotate it before then: issue a new certificate, attach its policies and Thing, then deactivate this one",
                ));
            }
        }
        let unusable = matches!(
            certificate.status,
            CertificateStatus::Revoked | CertificateStatus::Inactive
        );
        if unusable && !things.is_empty() {
            findings.push(finding(
                Severity::Medium,
                "REVOKED_OR_INACTIVE_CERTIFICATE_STILL_ATTACHED",
                resource(),
                format!(
                    "{} but still attached to {}",
                    certificate.status.as_aws(),
                    things.join(", ")
                ),
                "detach it from the Thing and its policies, or reactivate it if that was a mistake",
            ));
        }
        let has_policy = with_policy.contains(certificate.arn.as_str())
            || inventory.things.iter().any(|t| {
                t.certificates.contains(&certificate.arn)
                    && t.groups.iter().any(|g| with_policy.contains(g.as_str()))
            });
        if !has_policy && usable {
            findings.push(finding(
                Severity::Low,
                "CERTIFICATE_WITHOUT_POLICY",
                resource(),
                "no policy is attached (directly or through a Thing group): it may do nothing"
                    .to_owned(),
                "attach a least-privilege policy, or deactivate it if nothing uses it",
            ));
        }
        for found in &mut findings[first..] {
            found.things = things.iter().map(|t| (*t).to_owned()).collect();
        }
    }
}

/// The Things reached by `targets` (certificate ARNs), sorted.
fn things_reached(inventory: &Inventory, targets: &[String]) -> Vec<String> {
    inventory
        .things
        .iter()
        .filter(|t| t.certificates.iter().any(|c| targets.contains(c)))
        .map(|t| t.name.clone())
        .collect()
}

/// The Things isolated by a quarantine, with how, judged by content: a certificate carries a
/// policy whose default version denies everything (the policy engine says so), and every ACTIVE
/// certificate of the Thing does. A policy named for quarantine that allows anything isolates
/// nothing.
#[must_use]
pub fn quarantined(inventory: &Inventory) -> BTreeMap<String, String> {
    let mut isolating: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for policy in &inventory.policies {
        if is_deny_all(&policy.document, &policy.arn) {
            for target in &policy.targets {
                isolating.entry(target).or_default().push(&policy.name);
            }
        }
    }
    let active = |arn: &str| inventory.can_connect(arn);
    let mut out = BTreeMap::new();
    for thing in &inventory.things {
        let every_active_isolated = thing
            .certificates
            .iter()
            .all(|arn| isolating.contains_key(arn.as_str()) || !active(arn));
        if !every_active_isolated {
            continue;
        }
        let mut how = Vec::new();
        for arn in &thing.certificates {
            if let Some(policies) = isolating.get(arn.as_str()) {
                let id = certificate_id_from_arn(arn).unwrap_or(arn);
                how.push(format!(
                    "certificate {}… carries {}",
                    id.chars().take(12).collect::<String>(),
                    policies.join(", ")
                ));
            }
        }
        if !how.is_empty() {
            out.insert(thing.name.clone(), how.join("; "));
        }
    }
    out
}

/// What an audit found, and what it could not read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AuditReport {
    pub findings: Vec<Finding>,
    /// What could not be read (AWS's findings, the journal), said once each.
    pub notes: Vec<String>,
}

impl AuditReport {
    /// Findings per severity, in severity order, only those present.
    #[must_use]
    pub fn counts(&self) -> Vec<(Severity, usize)> {
        Severity::ALL
            .into_iter()
            .map(|s| (s, self.findings.iter().filter(|f| f.severity == s).count()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// How far back AWS's findings are read.
const AWS_FINDINGS_DAYS: i64 = 30;

/// Gathers the fleet, runs every local check (the journal says who quarantined what) and, with
/// `aws_findings`, adds Device Defender's findings; an error reading those is a note.
pub async fn audit(
    client: &FleetClient,
    journal: &Journal,
    aws_findings: bool,
) -> Result<AuditReport, FleetError> {
    let now = OffsetDateTime::now_utc();
    let inventory = gather(client).await?;
    let mut notes = Vec::new();
    let held: BTreeMap<String, Vec<Hold>> = match journal.entries(None) {
        Ok(entries) => holds::records(&entries)
            .into_iter()
            .map(|(thing, record)| (thing, record.holds))
            .filter(|(_, holds)| !holds.is_empty())
            .collect(),
        Err(error) => {
            notes.push(format!("the journal could not be read: {error}"));
            BTreeMap::new()
        }
    };
    let mut findings = check(&inventory, &held, now);
    when_attached(client, &mut findings).await;
    if aws_findings {
        match client
            .audit_findings(now - time::Duration::days(AWS_FINDINGS_DAYS))
            .await
        {
            Ok(aws) => findings.extend(aws),
            Err(error) => notes.push(format!("AWS Device Defender findings not shown: {error}")),
        }
    } else {
        notes.push("AWS Device Defender: not part of the local IoT Core".to_owned());
    }
    sort(&mut findings);
    Ok(AuditReport { findings, notes })
}

/// Adds to each NOT ISOLATED finding when each certificate it names was attached, from
/// CloudTrail's AttachThingPrincipal (what cannot be read is said in the finding).
async fn when_attached(client: &FleetClient, findings: &mut [Finding]) {
    for found in findings
        .iter_mut()
        .filter(|f| f.check == "QUARANTINE_NOT_ISOLATED")
    {
        let Resource::Thing(thing) = &found.resource else {
            continue;
        };
        let Ok(principals) = client.thing_principals(thing).await else {
            continue;
        };
        for id in principals.iter().filter_map(|p| certificate_id_from_arn(p)) {
            let short: String = id.chars().take(12).collect();
            if !found
                .reason
                .contains(&format!("certificate {short}… (ACTIVE)"))
            {
                continue;
            }
            let attached = match client.trail_events(id).await {
                Ok((events, _)) => events
                    .iter()
                    .find(|e| e.what == "AttachThingPrincipal")
                    .map_or_else(
                        || format!("certificate {short}…: CloudTrail names no attachment"),
                        |e| {
                            format!(
                                "certificate {short}… attached at {} by {}",
                                e.time
                                    .format(&time::format_description::well_known::Rfc3339)
                                    .unwrap_or_default(),
                                e.who
                            )
                        },
                    ),
                Err(error) => format!("certificate {short}…: {}", error.history_unknown()),
            };
            let _ = write!(found.reason, "; {attached}");
        }
    }
}

/// By severity, check, the Things concerned, then the resource: the same order every run.
fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (a.severity, &a.check, &a.things, &a.resource).cmp(&(
            b.severity,
            &b.check,
            &b.things,
            &b.resource,
        ))
    });
}

/// Reads what the checks need: every Thing with its certificates (ListThings, then
/// ListThingPrincipals each), every certificate (ListCertificates, then DescribeCertificate
/// each for its validity), every policy (ListPolicies, then GetPolicy and ListTargetsForPolicy
/// each); Thing groups only when a policy is attached to one. At most eight calls in flight.
pub async fn gather(client: &FleetClient) -> Result<Inventory, FleetError> {
    let (things, certificates, policies) = futures_util::try_join!(
        client
            .list_things(super::ThingQuery::default())
            .collect_all(),
        client.list_certificates(),
        client.list_policies()
    )?;
    let policies: Vec<PolicyFacts> = futures_util::stream::iter(policies)
        .map(|summary| async move {
            let (policy, targets) = futures_util::try_join!(
                client.get_policy(&summary.name),
                client.policy_targets(&summary.name)
            )?;
            Ok::<_, FleetError>(PolicyFacts {
                name: summary.name,
                arn: policy.arn,
                document: policy.document,
                targets,
            })
        })
        .buffered(CONCURRENT_CALLS)
        .try_collect()
        .await?;
    let group_targets = policies
        .iter()
        .any(|p| p.targets.iter().any(|t| t.contains(":thinggroup/")));
    let things: Vec<ThingFacts> = futures_util::stream::iter(things)
        .map(|summary| async move {
            let principals = client.thing_principals(&summary.name).await?;
            let groups = if group_targets {
                client
                    .thing_groups(&summary.name)
                    .await?
                    .into_iter()
                    .map(|g| g.arn)
                    .collect()
            } else {
                Vec::new()
            };
            Ok::<_, FleetError>(ThingFacts {
                name: summary.name,
                certificates: principals
                    .into_iter()
                    .filter(|p| certificate_id_from_arn(p).is_some())
                    .collect(),
                groups,
            })
        })
        .buffered(CONCURRENT_CALLS)
        .try_collect()
        .await?;
    let certificates: Vec<CertificateFacts> = futures_util::stream::iter(certificates)
        .map(|summary| async move {
            let described = client.describe_certificate(&summary.id).await?;
            Ok::<_, FleetError>(CertificateFacts {
                id: summary.id,
                arn: summary.arn,
                status: summary.status,
                not_after: described.validity.map(|v| v.not_after),
            })
        })
        .buffered(CONCURRENT_CALLS)
        .try_collect()
        .await?;
    Ok(Inventory {
        things,
        certificates,
        policies,
    })
}
