//! The quarantine planner (ARCHITECTURE.md, "Quarantine"): from what is known of a Thing (its
//! certificates, their policies, those policies' other targets, the Things sharing each
//! certificate), the exact API calls that isolate it under a strategy, with the warnings an
//! operator must read first; and from what a quarantine recorded, the calls that undo it. Pure:
//! `facts` gathers what it needs and `run` carries the plan out.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::policy::deny_all;

/// The policy the deny-overlay strategy attaches.
pub const DENY_ALL_POLICY: &str = "iotfleet-quarantine-deny-all";
/// Its document: an explicit Deny of everything, which overrides every Allow.
pub const DENY_ALL_DOCUMENT: &str = deny_all::CANONICAL;

/// AWS keeps at most five versions of a policy.
pub const MAX_POLICY_VERSIONS: usize = 5;

/// Whether a policy document isolates a device, proven from its statements (and checked by the
/// policy engine in the account and region of `policy_arn`; `crate::policy::deny_all`): never by
/// its name.
#[must_use]
pub fn is_deny_all(document: &str, policy_arn: &str) -> bool {
    deny_all::deny_all_gap(document, &deny_all::arn_prefix(policy_arn)).is_none()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Attach the deny-all policy to every certificate; nothing is detached.
    #[default]
    DenyOverlay,
    /// Make a deny-all version the default of each policy attached to this device alone.
    PolicyVersion,
}

impl FromStr for Strategy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "deny-overlay" => Ok(Self::DenyOverlay),
            "policy-version" => Ok(Self::PolicyVersion),
            other => Err(format!(
                "unknown strategy '{other}': use deny-overlay or policy-version"
            )),
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DenyOverlay => "deny-overlay",
            Self::PolicyVersion => "policy-version",
        })
    }
}

/// A policy attached to one of the Thing's certificates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyFacts {
    pub name: String,
    pub default_version: String,
    /// Every target of the policy (certificate ARNs, Thing group ARNs), this device's included.
    /// Gathered for the policy-version strategy only.
    pub targets: Vec<String>,
    /// Every version id, the default included. Gathered for the policy-version strategy only.
    pub versions: Vec<String>,
    /// The versions whose document is deny-all (the default's is always checked; the others'
    /// only when releasing a policy-version quarantine).
    pub deny_all_versions: Vec<String>,
}

impl PolicyFacts {
    /// Whether the default version is a deny-all one.
    #[must_use]
    pub fn default_is_deny_all(&self) -> bool {
        self.deny_all_versions.contains(&self.default_version)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    pub id: String,
    pub arn: String,
    pub status: String,
    /// Every Thing the certificate is attached to, this one included.
    pub things: Vec<String>,
    pub policies: Vec<PolicyFacts>,
}

/// The quarantine policy as found: missing, proven to isolate, or tampered (someone created it
/// with an Allow, or set a default version since that spares something).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DenyAllPolicy {
    #[default]
    Missing,
    DeniesAll,
    Tampered {
        default_version: String,
        /// What its default version spares, in words.
        gap: String,
        /// How many versions it has (AWS keeps five at most).
        versions: usize,
        /// How many principals it is attached to: each one is isolated again by the repair.
        targets: usize,
    },
}

/// What the planner needs to know about the Thing to isolate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub thing: String,
    pub certificates: Vec<CertificateFacts>,
    /// `DENY_ALL_POLICY` as it is in the account now, judged by its content.
    pub deny_all: DenyAllPolicy,
    /// MQTT client ids known for the Thing besides its name (DescribeThing's default client id).
    pub client_ids: Vec<String>,
    /// Client ids of the sessions AWS IoT's log shows for its certificates (`fleet/sessions.rs`),
    /// whatever they are: each is disconnected too.
    pub sessions: Vec<String>,
    /// Why those sessions are not known (no log group, ...), when they are not: then only the
    /// deny-all stands between any other session and the service.
    pub sessions_unknown: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    pub strategy: Strategy,
    /// Also set every ACTIVE certificate INACTIVE.
    pub deactivate_certs: bool,
}

/// One API call of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum Step {
    CreatePolicy {
        policy: String,
    },
    AttachPolicy {
        policy: String,
        target: String,
    },
    DetachPolicy {
        policy: String,
        target: String,
    },
    /// The quarantine policy's deny-all document made its default again; `previous` is the
    /// tampered default it replaces.
    RestoreDenyAll {
        policy: String,
        previous: String,
    },
    /// A deny-all version made the default; `previous` is the default it replaces.
    CreateDenyAllVersion {
        policy: String,
        previous: String,
    },
    SetDefaultVersion {
        policy: String,
        version: String,
    },
    DeletePolicyVersion {
        policy: String,
        version: String,
    },
    SetCertificateStatus {
        id: String,
        from: String,
        to: String,
    },
    DeleteConnection {
        client_id: String,
    },
}

impl Step {
    /// The IAM action of the call.
    #[must_use]
    pub fn action(&self) -> &'static str {
        match self {
            Self::CreatePolicy { .. } => "iot:CreatePolicy",
            Self::AttachPolicy { .. } => "iot:AttachPolicy",
            Self::DetachPolicy { .. } => "iot:DetachPolicy",
            Self::CreateDenyAllVersion { .. } | Self::RestoreDenyAll { .. } => {
                "iot:CreatePolicyVersion"
            }
            Self::SetDefaultVersion { .. } => "iot:SetDefaultPolicyVersion",
            Self::DeletePolicyVersion { .. } => "iot:DeletePolicyVersion",
            Self::SetCertificateStatus { .. } => "iot:UpdateCertificate",
            Self::DeleteConnection { .. } => "iot:DeleteConnection",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreatePolicy { policy } => write!(f, "create policy {policy} (deny iot:* on *)"),
            Self::AttachPolicy { policy, target } => {
                write!(f, "attach {policy} to {}", target_label(target))
            }
            Self::DetachPolicy { policy, target } => {
                write!(f, "detach {policy} from {}", target_label(target))
            }
            Self::SetDefaultVersion { policy, version } => {
                write!(f, "make version {version} the default of {policy} again")
            }
            Self::DeletePolicyVersion { policy, version } => {
                write!(f, "delete the deny-all version {version} of {policy}")
            }
            Self::RestoreDenyAll { policy, previous } => write!(
                f,
                "make the deny-all document the default of {policy} again (its default, version {previous}, is tampered)"
            ),
            Self::CreateDenyAllVersion { policy, previous } => write!(
                f,
                "make a deny-all version the default of {policy} (default was version {previous})"
            ),
            Self::SetCertificateStatus { id, from, to } => {
                write!(f, "set certificate {} {to} (was {from})", short_id(id))
            }
            Self::DeleteConnection { client_id } => write!(f, "disconnect client {client_id}"),
        }
    }
}

/// A certificate id as shown in a plan: its first 12 characters, enough to tell one apart.
fn short_id(id: &str) -> String {
    match id.char_indices().nth(12) {
        Some((end, _)) => format!("{}…", &id[..end]),
        None => id.to_owned(),
    }
}

/// A policy target as shown: "certificate 1a2b3c4d5e6f…", "thing group NAME", else the ARN.
#[must_use]
pub fn target_label(arn: &str) -> String {
    if let Some(id) = crate::fleet::model::certificate_id_from_arn(arn) {
        return format!("certificate {}", short_id(id));
    }
    match arn.split_once(":thinggroup/") {
        Some((_, group)) => format!("thing group {group}"),
        None => arn.to_owned(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub thing: String,
    /// The quarantine strategy; None for a release.
    pub strategy: Option<Strategy>,
    pub steps: Vec<Step>,
    /// What the operator must know before confirming (shared certificates, ...).
    pub warnings: Vec<String>,
    /// Other Things a shared certificate isolates too (confirming asks for the Thing's name).
    pub also_isolated: Vec<String>,
    /// For a release: other Things released with this one, because their own open quarantines
    /// hold a certificate it shares with them (confirming asks for the Thing's name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub together: Vec<String>,
    /// For a release: what it cannot restore, since no record says what was there. Said, and
    /// the verb exits non-zero.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unrestorable: Vec<String>,
    /// What stops downstream once it is isolated: the topic rules reading its topics
    /// (`run::name_impact`), each a sentence; empty when not asked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub impact: Vec<String>,
    /// The Thing's other open holds: for a quarantine, those it has already; for a release,
    /// those that keep it isolated after it (then the release calls nothing).
    #[serde(default, skip_serializing_if = "Vec::is_empty", skip_deserializing)]
    pub held_by: Vec<crate::fleet::model::Hold>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{thing} has no certificate: there is nothing to isolate (it cannot connect)")]
    NothingToIsolate { thing: String },
    #[error(
        "release refused: {} would free {} too, whose own open quarantine holds a certificate {thing} shares; release them together with `iotfleet release {thing} --with-shared`",
        thing,
        holders.iter().map(|(other, certificate)| format!("{other} (certificate {})", short_id(certificate))).collect::<Vec<_>>().join(", ")
    )]
    SharedRelease {
        thing: String,
        /// Each Thing it would free, with the certificate: (Thing, certificate id).
        holders: Vec<(String, String)>,
    },
    #[error(
        "policy-version refused: policy {policy} is also attached to {} other target(s): {}; a deny-all version would isolate them too (use the deny-overlay strategy)",
        others.len(),
        others.iter().map(|t| target_label(t)).collect::<Vec<_>>().join(", ")
    )]
    SharedPolicy { policy: String, others: Vec<String> },
    #[error(
        "quarantine refused: the policy {DENY_ALL_POLICY} is tampered: its default version {default_version} {gap}, and it has {MAX_POLICY_VERSIONS} versions, the most AWS keeps, so no deny-all version can be added; delete a version with `aws iot delete-policy-version --policy-name {DENY_ALL_POLICY} --policy-version-id ID`, then run the quarantine again"
    )]
    TamperedDenyAll {
        default_version: String,
        gap: String,
    },
    #[error(
        "policy-version refused: policy {policy} has {MAX_POLICY_VERSIONS} versions, the most AWS keeps; delete a version it no longer needs, or use the deny-overlay strategy"
    )]
    VersionLimit { policy: String },
    #[error(
        "release refused: {thing} has no quarantine of its own, and more than one hold keeps it isolated; name the one to release: {}",
        holds.join("; ")
    )]
    WhichHold {
        thing: String,
        /// Each hold in words, with the command that releases it.
        holds: Vec<String>,
    },
    #[error(
        "release refused: {thing} has no hold {id}; it is held by {}",
        holds.join("; ")
    )]
    NoSuchHold {
        thing: String,
        id: String,
        holds: Vec<String>,
    },
    #[error(
        "release refused: releasing {thing} would free {other}, which shares a certificate with it and is held by {} (not released by this release); release that hold first",
        holds.join("; ")
    )]
    HeldElsewhere {
        thing: String,
        other: String,
        holds: Vec<String>,
    },
}

/// The plan that isolates `subject` under `options`. Steps already in place (the deny-all
/// policy existing or attached) are left out, so planning again after an interruption gives
/// only what remains.
pub fn plan(subject: &Subject, options: Options) -> Result<Plan, PlanError> {
    if subject.certificates.is_empty() {
        return Err(PlanError::NothingToIsolate {
            thing: subject.thing.clone(),
        });
    }
    let mut also_isolated: Vec<String> = subject
        .certificates
        .iter()
        .flat_map(|c| c.things.iter())
        .filter(|t| **t != subject.thing)
        .cloned()
        .collect();
    also_isolated.sort();
    also_isolated.dedup();
    let mut warnings = Vec::new();
    if !also_isolated.is_empty() {
        warnings.push(format!(
            "a certificate of {} is shared with {}: they are isolated too",
            subject.thing,
            also_isolated.join(", ")
        ));
    }
    let mut steps = match options.strategy {
        Strategy::DenyOverlay => overlay_steps(subject, &mut warnings)?,
        Strategy::PolicyVersion => policy_version_steps(subject, &mut warnings)?,
    };
    if options.deactivate_certs {
        for certificate in &subject.certificates {
            if certificate.status == "ACTIVE" {
                steps.push(Step::SetCertificateStatus {
                    id: certificate.id.clone(),
                    from: certificate.status.clone(),
                    to: "INACTIVE".to_owned(),
                });
            }
        }
    }
    let mut client_ids: Vec<&String> = Vec::new();
    for client_id in std::iter::once(&subject.thing)
        .chain(&subject.client_ids)
        .chain(&also_isolated)
        .chain(&subject.sessions)
    {
        if !client_ids.contains(&client_id) {
            client_ids.push(client_id);
        }
    }
    for client_id in client_ids {
        steps.push(Step::DeleteConnection {
            client_id: client_id.clone(),
        });
    }
    Ok(Plan {
        thing: subject.thing.clone(),
        strategy: Some(options.strategy),
        steps,
        warnings,
        also_isolated,
        together: Vec::new(),
        unrestorable: Vec::new(),
        impact: Vec::new(),
        held_by: Vec::new(),
    })
}

/// Deny overlay: the deny-all policy created if missing, its deny-all document restored if it
/// is tampered, and attached where it is not yet.
fn overlay_steps(subject: &Subject, warnings: &mut Vec<String>) -> Result<Vec<Step>, PlanError> {
    let mut steps = Vec::new();
    match &subject.deny_all {
        DenyAllPolicy::Missing => steps.push(Step::CreatePolicy {
            policy: DENY_ALL_POLICY.to_owned(),
        }),
        DenyAllPolicy::DeniesAll => {}
        DenyAllPolicy::Tampered {
            default_version,
            gap,
            versions,
            targets,
        } => {
            if *versions >= MAX_POLICY_VERSIONS {
                return Err(PlanError::TamperedDenyAll {
                    default_version: default_version.clone(),
                    gap: gap.clone(),
                });
            }
            warnings.push(format!(
                "{DENY_ALL_POLICY} is tampered: its default version {default_version} {gap}. The plan restores its deny-all document, isolating again the {targets} principal(s) it is attached to"
            ));
            steps.push(Step::RestoreDenyAll {
                policy: DENY_ALL_POLICY.to_owned(),
                previous: default_version.clone(),
            });
        }
    }
    for certificate in &subject.certificates {
        if !certificate
            .policies
            .iter()
            .any(|p| p.name == DENY_ALL_POLICY)
        {
            steps.push(Step::AttachPolicy {
                policy: DENY_ALL_POLICY.to_owned(),
                target: certificate.arn.clone(),
            });
        }
    }
    Ok(steps)
}

/// Policy version: a deny-all default for each policy, refused when a policy has targets
/// beyond this device's certificates.
fn policy_version_steps(
    subject: &Subject,
    warnings: &mut Vec<String>,
) -> Result<Vec<Step>, PlanError> {
    let own: Vec<&str> = subject
        .certificates
        .iter()
        .map(|c| c.arn.as_str())
        .collect();
    let mut steps = Vec::new();
    let mut seen = Vec::new();
    for certificate in &subject.certificates {
        if certificate.policies.is_empty() {
            warnings.push(format!(
                "certificate {} has no policy: it is denied everything already",
                certificate.id
            ));
        }
        for policy in &certificate.policies {
            if policy.name == DENY_ALL_POLICY
                || seen.contains(&policy.name)
                || policy.default_is_deny_all()
            {
                continue;
            }
            seen.push(policy.name.clone());
            let others: Vec<String> = policy
                .targets
                .iter()
                .filter(|t| !own.contains(&t.as_str()))
                .cloned()
                .collect();
            if !others.is_empty() {
                return Err(PlanError::SharedPolicy {
                    policy: policy.name.clone(),
                    others,
                });
            }
            if policy.versions.len() >= MAX_POLICY_VERSIONS {
                return Err(PlanError::VersionLimit {
                    policy: policy.name.clone(),
                });
            }
            steps.push(Step::CreateDenyAllVersion {
                policy: policy.name.clone(),
                previous: policy.default_version.clone(),
            });
        }
    }
    Ok(steps)
}

/// The plan that undoes a quarantine. With `recorded` (the steps the journal says quarantine
/// planned since the last completed release) it reverses exactly those that are in effect now;
/// without, it can still detach the deny-all policy, and says what it cannot know.
#[must_use]
pub fn release_plan(subject: &Subject, recorded: Option<&[Step]>) -> Plan {
    let mut warnings = Vec::new();
    let mut unrestorable = Vec::new();
    let steps = if let Some(recorded) = recorded {
        recorded
            .iter()
            .flat_map(|step| undo(subject, step, &mut warnings))
            .collect()
    } else {
        undo_unrecorded(subject, &mut warnings, &mut unrestorable)
    };
    let mut unique: Vec<Step> = Vec::with_capacity(steps.len());
    for step in steps {
        if !unique.contains(&step) {
            unique.push(step);
        }
    }
    Plan {
        thing: subject.thing.clone(),
        strategy: None,
        steps: unique,
        warnings,
        also_isolated: Vec::new(),
        together: Vec::new(),
        unrestorable,
        impact: Vec::new(),
        held_by: Vec::new(),
    }
}

/// The Things whose own open quarantine (`open`) a release `plan` of `subject` would end
/// without releasing them: each is reached by a certificate the plan changes (detaches the
/// deny-all policy from, reactivates, or restores a policy's default version on) and is not
/// released together. Each comes with the certificate that holds it: (Thing, certificate id).
#[must_use]
pub fn freed_by_release(
    subject: &Subject,
    plan: &Plan,
    open: &std::collections::BTreeSet<String>,
) -> Vec<(String, String)> {
    let touches = |certificate: &CertificateFacts| {
        plan.steps.iter().any(|step| match step {
            Step::DetachPolicy { target, .. } => *target == certificate.arn,
            Step::SetCertificateStatus { id, .. } => *id == certificate.id,
            Step::SetDefaultVersion { policy, .. } | Step::DeletePolicyVersion { policy, .. } => {
                certificate.policies.iter().any(|p| &p.name == policy)
            }
            _ => false,
        })
    };
    let mut freed = Vec::new();
    for certificate in subject.certificates.iter().filter(|c| touches(c)) {
        for thing in &certificate.things {
            let released = *thing == plan.thing || plan.together.contains(thing);
            if !released && open.contains(thing) && !freed.iter().any(|(t, _)| t == thing) {
                freed.push((thing.clone(), certificate.id.clone()));
            }
        }
    }
    freed
}

/// Each certificate of `subject` shared by several Things, with the Things it reaches, for the
/// release plan's account of who shares what: `open` says which have an open quarantine, and
/// `released` which are released by this plan.
#[must_use]
pub fn sharing(
    subject: &Subject,
    released: &[String],
    open: &std::collections::BTreeSet<String>,
) -> Vec<String> {
    subject
        .certificates
        .iter()
        .filter(|c| c.things.len() > 1)
        .map(|c| {
            let things: Vec<String> = c
                .things
                .iter()
                .map(|t| match (open.contains(t), released.contains(t)) {
                    (true, true) if *t != subject.thing => {
                        format!("{t} (open quarantine, released with it)")
                    }
                    (true, false) => format!("{t} (open quarantine)"),
                    _ => t.clone(),
                })
                .collect();
            format!(
                "certificate {} reaches {}",
                short_id(&c.id),
                things.join(", ")
            )
        })
        .collect()
}

/// The calls that undo one recorded quarantine step, as far as it is in effect now.
fn undo(subject: &Subject, step: &Step, warnings: &mut Vec<String>) -> Vec<Step> {
    match step {
        Step::AttachPolicy { policy, target } => {
            // A certificate no longer attached to the Thing is not seen: detach anyway
            // (detaching what is not attached succeeds).
            let attached = subject
                .certificates
                .iter()
                .find(|c| &c.arn == target)
                .is_none_or(|c| c.policies.iter().any(|p| &p.name == policy));
            if attached {
                vec![Step::DetachPolicy {
                    policy: policy.clone(),
                    target: target.clone(),
                }]
            } else {
                Vec::new()
            }
        }
        Step::CreateDenyAllVersion {
            policy: name,
            previous,
        } => {
            let Some(facts) = subject
                .certificates
                .iter()
                .flat_map(|c| c.policies.iter())
                .find(|p| &p.name == name)
            else {
                warnings.push(format!(
                    "policy {name} is no longer attached to a certificate of {}: its default version was left alone",
                    subject.thing
                ));
                return Vec::new();
            };
            let mut steps = Vec::new();
            if facts.default_version != *previous {
                if !facts.default_is_deny_all() {
                    warnings.push(format!(
                        "the default of {name} is now version {}, which is not the deny-all one: someone changed it since, so it was left alone",
                        facts.default_version
                    ));
                    return Vec::new();
                }
                steps.push(Step::SetDefaultVersion {
                    policy: name.clone(),
                    version: previous.clone(),
                });
            }
            for version in &facts.deny_all_versions {
                if version != previous {
                    steps.push(Step::DeletePolicyVersion {
                        policy: name.clone(),
                        version: version.clone(),
                    });
                }
            }
            steps
        }
        Step::SetCertificateStatus { id, from, to } => {
            let in_effect = subject
                .certificates
                .iter()
                .any(|c| &c.id == id && &c.status == to);
            if in_effect {
                vec![Step::SetCertificateStatus {
                    id: id.clone(),
                    from: to.clone(),
                    to: from.clone(),
                }]
            } else {
                Vec::new()
            }
        }
        // The deny-all policy stays (other Things may carry it); a disconnect needs no undoing.
        Step::CreatePolicy { .. }
        | Step::RestoreDenyAll { .. }
        | Step::DeleteConnection { .. }
        | Step::DetachPolicy { .. }
        | Step::SetDefaultVersion { .. }
        | Step::DeletePolicyVersion { .. } => Vec::new(),
    }
}

/// Without a record: detach the deny-all policy, and say what cannot be known (and so cannot be
/// restored).
fn undo_unrecorded(
    subject: &Subject,
    warnings: &mut Vec<String>,
    unrestorable: &mut Vec<String>,
) -> Vec<Step> {
    warnings.push(format!(
        "no journal entry here records an open quarantine of {}: releasing what can be seen (the deny-all policy)",
        subject.thing
    ));
    let mut steps = Vec::new();
    for certificate in &subject.certificates {
        if certificate
            .policies
            .iter()
            .any(|p| p.name == DENY_ALL_POLICY)
        {
            steps.push(Step::DetachPolicy {
                policy: DENY_ALL_POLICY.to_owned(),
                target: certificate.arn.clone(),
            });
        }
        for policy in &certificate.policies {
            if policy.name != DENY_ALL_POLICY && policy.default_is_deny_all() {
                unrestorable.push(format!(
                    "the default version {} of {} is deny-all and no journal says which version it replaced: pick one with `aws iot set-default-policy-version`",
                    policy.default_version, policy.name
                ));
            }
        }
        if certificate.status == "INACTIVE" {
            unrestorable.push(format!(
                "certificate {} is INACTIVE and no journal says a quarantine set it: left alone",
                short_id(&certificate.id)
            ));
        }
    }
    steps
}

/// Whether what is known of the Thing says it is isolated, judged by content: at least one of
/// its certificates carries a policy whose default version denies everything (explicit Deny wins
/// over any Allow beside it), and every certificate that can connect (ACTIVE) does.
#[must_use]
pub fn is_quarantined(subject: &Subject) -> bool {
    let isolated = |c: &CertificateFacts| c.policies.iter().any(PolicyFacts::default_is_deny_all);
    subject.certificates.iter().any(isolated)
        && subject
            .certificates
            .iter()
            .all(|c| c.status != "ACTIVE" || isolated(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(id: &str, things: &[&str], policies: &[(&str, &[&str])]) -> CertificateFacts {
        CertificateFacts {
            id: id.to_owned(),
            arn: format!("arn:aws:iot:us-east-1:123456789012:cert/{id}"),
            status: "ACTIVE".to_owned(),
            things: things.iter().map(|t| (*t).to_owned()).collect(),
            policies: policies
                .iter()
                .map(|(name, targets)| PolicyFacts {
                    name: (*name).to_owned(),
                    default_version: "1".to_owned(),
                    targets: targets
                        .iter()
                        .map(|t| format!("arn:aws:iot:us-east-1:123456789012:cert/{t}"))
                        .collect(),
                    ..PolicyFacts::default()
                })
                .collect(),
        }
    }

    fn subject(certificates: Vec<CertificateFacts>, deny_all_exists: bool) -> Subject {
        Subject {
            thing: "pump-1".to_owned(),
            certificates,
            deny_all: if deny_all_exists {
                DenyAllPolicy::DeniesAll
            } else {
                DenyAllPolicy::Missing
            },
            client_ids: vec!["pump-1".to_owned()],
            sessions: Vec::new(),
            sessions_unknown: None,
        }
    }

    fn actions(plan: &Plan) -> Vec<&'static str> {
        plan.steps.iter().map(Step::action).collect()
    }

    #[test]
    fn a_thing_without_certificate_has_nothing_to_isolate() {
        let error = plan(&subject(Vec::new(), true), Options::default()).unwrap_err();
        assert!(error.to_string().contains("nothing to isolate"), "{error}");
    }

    #[test]
    fn deny_overlay_creates_attaches_and_disconnects_and_skips_what_is_done() {
        let fresh = subject(
            vec![
                certificate("a", &["pump-1"], &[("pump-device", &["a"])]),
                certificate("b", &["pump-1"], &[("pump-device", &["a", "b"])]),
            ],
            false,
        );
        let plan_now = plan(&fresh, Options::default()).unwrap();
        assert_eq!(
            actions(&plan_now),
            [
                "iot:CreatePolicy",
                "iot:AttachPolicy",
                "iot:AttachPolicy",
                "iot:DeleteConnection"
            ]
        );
        assert!(plan_now.warnings.is_empty());

        // Interrupted after the first attach: planning again gives only what remains.
        let mut half = fresh.clone();
        half.deny_all = DenyAllPolicy::DeniesAll;
        let first = half.certificates[0].arn.clone();
        half.certificates[0].policies.push(PolicyFacts {
            name: DENY_ALL_POLICY.to_owned(),
            default_version: "1".to_owned(),
            targets: vec![first],
            ..PolicyFacts::default()
        });
        let rest = plan(&half, Options::default()).unwrap();
        assert_eq!(rest.steps.len(), 2);
        assert_eq!(
            rest.steps[0],
            Step::AttachPolicy {
                policy: DENY_ALL_POLICY.to_owned(),
                target: half.certificates[1].arn.clone(),
            }
        );
    }

    #[test]
    fn a_shared_certificate_warns_and_disconnects_the_other_things_too() {
        let shared = subject(
            vec![certificate(
                "a",
                &["pump-1", "pump-2"],
                &[("pump-device", &["a"])],
            )],
            true,
        );
        let plan = plan(&shared, Options::default()).unwrap();
        assert_eq!(plan.also_isolated, ["pump-2"]);
        assert!(
            plan.warnings[0].contains("shared with pump-2"),
            "{:?}",
            plan.warnings
        );
        assert!(plan.steps.contains(&Step::DeleteConnection {
            client_id: "pump-2".to_owned()
        }));
    }

    #[test]
    fn policy_version_is_refused_for_a_shared_policy_naming_the_other_targets() {
        let shared = subject(
            vec![certificate(
                "a",
                &["pump-1"],
                &[("pump-device", &["a", "z"])],
            )],
            true,
        );
        let options = Options {
            strategy: Strategy::PolicyVersion,
            deactivate_certs: false,
        };
        let error = plan(&shared, options).unwrap_err();
        assert_eq!(
            error,
            PlanError::SharedPolicy {
                policy: "pump-device".to_owned(),
                others: vec!["arn:aws:iot:us-east-1:123456789012:cert/z".to_owned()],
            }
        );
        let own = subject(
            vec![certificate(
                "a",
                &["pump-1"],
                &[("camera-01-policy", &["a"])],
            )],
            true,
        );
        let plan = plan(&own, options).unwrap();
        assert_eq!(
            plan.steps[0],
            Step::CreateDenyAllVersion {
                policy: "camera-01-policy".to_owned(),
                previous: "1".to_owned()
            }
        );
    }

    #[test]
    fn deactivating_touches_only_active_certificates() {
        let mut inactive = certificate("b", &["pump-1"], &[]);
        inactive.status = "INACTIVE".to_owned();
        let both = subject(vec![certificate("a", &["pump-1"], &[]), inactive], true);
        let options = Options {
            strategy: Strategy::DenyOverlay,
            deactivate_certs: true,
        };
        let plan = plan(&both, options).unwrap();
        let statuses: Vec<&Step> = plan
            .steps
            .iter()
            .filter(|s| matches!(s, Step::SetCertificateStatus { .. }))
            .collect();
        assert_eq!(
            statuses,
            [&Step::SetCertificateStatus {
                id: "a".to_owned(),
                from: "ACTIVE".to_owned(),
                to: "INACTIVE".to_owned()
            }]
        );
    }

    #[test]
    fn deny_all_is_proven_by_content_whatever_its_spelling() {
        let arn = "arn:aws:iot:us-east-1:123456789012:policy/any-name";
        assert!(is_deny_all(DENY_ALL_DOCUMENT, arn));
        assert!(is_deny_all(
            r#"{"Statement": {"Resource": ["*"], "Action": ["iot:*"], "Effect": "Deny"}}"#,
            arn
        ));
        assert!(!is_deny_all(
            r#"{"Statement":[{"Effect":"Deny","Action":"iot:Publish","Resource":"*"}]}"#,
            arn
        ));
        // An Allow beside a Deny of everything allows nothing: explicit Deny wins.
        assert!(is_deny_all(
            r#"{"Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"*"},{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#,
            arn
        ));
        assert!(!is_deny_all(
            r#"{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#,
            arn
        ));
        assert!(!is_deny_all("not json", arn));
    }

    #[test]
    fn a_tampered_quarantine_policy_is_restored_as_a_step_or_refused_when_full() {
        let mut tampered = subject(
            vec![certificate("a", &["pump-1"], &[("pump-device", &["a"])])],
            true,
        );
        tampered.deny_all = DenyAllPolicy::Tampered {
            default_version: "2".to_owned(),
            gap: "allows iot:Connect on client/x (statement 1)".to_owned(),
            versions: 2,
            targets: 3,
        };
        let plan_now = plan(&tampered, Options::default()).unwrap();
        assert_eq!(
            plan_now.steps[0],
            Step::RestoreDenyAll {
                policy: DENY_ALL_POLICY.to_owned(),
                previous: "2".to_owned()
            }
        );
        assert!(
            plan_now.warnings[0].contains("allows iot:Connect")
                && plan_now.warnings[0].contains("the 3 principal(s)"),
            "{:?}",
            plan_now.warnings
        );
        tampered.deny_all = DenyAllPolicy::Tampered {
            default_version: "5".to_owned(),
            gap: "allows iot:Connect on client/x (statement 1)".to_owned(),
            versions: 5,
            targets: 3,
        };
        let refused = plan(&tampered, Options::default()).unwrap_err();
        assert!(matches!(refused, PlanError::TamperedDenyAll { .. }));
        assert!(
            refused.to_string().contains("allows iot:Connect"),
            "{refused}"
        );
    }

    #[test]
    fn quarantined_means_every_active_certificate_carries_a_deny_all_default() {
        let deny_all = || PolicyFacts {
            name: DENY_ALL_POLICY.to_owned(),
            default_version: "1".to_owned(),
            deny_all_versions: vec!["1".to_owned()],
            ..PolicyFacts::default()
        };
        // Attached by name but tampered by content: not isolated.
        let mut named_only = certificate("a", &["pump-1"], &[("pump-device", &["a"])]);
        named_only.policies.push(PolicyFacts {
            name: DENY_ALL_POLICY.to_owned(),
            default_version: "2".to_owned(),
            ..PolicyFacts::default()
        });
        assert!(!is_quarantined(&subject(vec![named_only], true)));
        let mut isolated = certificate("a", &["pump-1"], &[("pump-device", &["a"])]);
        isolated.policies.push(deny_all());
        assert!(is_quarantined(&subject(vec![isolated.clone()], true)));
        // A second ACTIVE certificate without it can still act; an INACTIVE one cannot.
        let mut other = certificate("b", &["pump-1"], &[("pump-device", &["b"])]);
        assert!(!is_quarantined(&subject(
            vec![isolated.clone(), other.clone()],
            true
        )));
        other.status = "INACTIVE".to_owned();
        assert!(is_quarantined(&subject(vec![isolated, other], true)));
    }

    #[test]
    fn release_reverses_exactly_what_was_recorded_and_is_in_effect() {
        let mut quarantined = certificate("a", &["pump-1"], &[("camera-policy", &["a"])]);
        quarantined.status = "INACTIVE".to_owned();
        quarantined.policies[0].default_version = "2".to_owned();
        quarantined.policies[0].deny_all_versions = vec!["2".to_owned()];
        quarantined.policies.push(PolicyFacts {
            name: DENY_ALL_POLICY.to_owned(),
            ..PolicyFacts::default()
        });
        let arn = quarantined.arn.clone();
        let now = subject(vec![quarantined], true);
        assert!(is_quarantined(&now));
        let recorded = [
            Step::AttachPolicy {
                policy: DENY_ALL_POLICY.to_owned(),
                target: arn.clone(),
            },
            Step::CreateDenyAllVersion {
                policy: "camera-policy".to_owned(),
                previous: "1".to_owned(),
            },
            Step::SetCertificateStatus {
                id: "a".to_owned(),
                from: "ACTIVE".to_owned(),
                to: "INACTIVE".to_owned(),
            },
            Step::DeleteConnection {
                client_id: "pump-1".to_owned(),
            },
        ];
        let plan = release_plan(&now, Some(&recorded));
        assert_eq!(
            plan.steps,
            [
                Step::DetachPolicy {
                    policy: DENY_ALL_POLICY.to_owned(),
                    target: arn,
                },
                Step::SetDefaultVersion {
                    policy: "camera-policy".to_owned(),
                    version: "1".to_owned(),
                },
                Step::DeletePolicyVersion {
                    policy: "camera-policy".to_owned(),
                    version: "2".to_owned(),
                },
                Step::SetCertificateStatus {
                    id: "a".to_owned(),
                    from: "INACTIVE".to_owned(),
                    to: "ACTIVE".to_owned(),
                },
            ]
        );
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);

        // Already released: nothing left to do.
        let released = subject(
            vec![certificate("a", &["pump-1"], &[("camera-policy", &["a"])])],
            true,
        );
        assert!(!is_quarantined(&released));
        assert!(release_plan(&released, Some(&recorded)).steps.is_empty());
    }

    #[test]
    fn release_without_a_record_detaches_the_overlay_and_says_what_it_cannot_know() {
        let mut both = certificate("a", &["pump-1"], &[("camera-policy", &["a"])]);
        both.policies[0].default_version = "2".to_owned();
        both.policies[0].deny_all_versions = vec!["2".to_owned()];
        both.policies.push(PolicyFacts {
            name: DENY_ALL_POLICY.to_owned(),
            ..PolicyFacts::default()
        });
        let plan = release_plan(&subject(vec![both], true), None);
        assert_eq!(actions(&plan), ["iot:DetachPolicy"]);
        assert!(
            plan.unrestorable
                .iter()
                .any(|w| w.contains("camera-policy") && w.contains("set-default-policy-version")),
            "{:?}",
            plan.unrestorable
        );
    }

    #[test]
    fn a_release_that_would_free_another_open_quarantine_names_it() {
        let mut shared = certificate("s", &["twin-a", "twin-b"], &[]);
        shared.policies.push(PolicyFacts {
            name: DENY_ALL_POLICY.to_owned(),
            default_version: "1".to_owned(),
            deny_all_versions: vec!["1".to_owned()],
            ..PolicyFacts::default()
        });
        let mut twin_a = subject(vec![shared.clone()], true);
        twin_a.thing = "twin-a".to_owned();
        let recorded = [Step::AttachPolicy {
            policy: DENY_ALL_POLICY.to_owned(),
            target: shared.arn.clone(),
        }];
        let mut plan = release_plan(&twin_a, Some(&recorded));
        let open = std::collections::BTreeSet::from(["twin-b".to_owned()]);
        assert_eq!(
            freed_by_release(&twin_a, &plan, &open),
            [("twin-b".to_owned(), "s".to_owned())]
        );
        assert_eq!(
            sharing(&twin_a, &["twin-a".to_owned()], &open),
            ["certificate s reaches twin-a, twin-b (open quarantine)"]
        );
        // Released together, nothing is freed behind anyone's back.
        plan.together = vec!["twin-b".to_owned()];
        assert!(freed_by_release(&twin_a, &plan, &open).is_empty());
        // Without its own open quarantine, twin-b is just isolated by twin-a's and freed with it.
        plan.together.clear();
        assert!(freed_by_release(&twin_a, &plan, &std::collections::BTreeSet::new()).is_empty());
    }

    #[test]
    fn policy_version_is_refused_at_the_version_limit_and_skips_a_deny_all_default() {
        let mut full = certificate("a", &["pump-1"], &[("camera-policy", &["a"])]);
        full.policies[0].versions = (1..=5).map(|v| v.to_string()).collect();
        let options = Options {
            strategy: Strategy::PolicyVersion,
            deactivate_certs: false,
        };
        assert!(matches!(
            plan(&subject(vec![full.clone()], true), options),
            Err(PlanError::VersionLimit { .. })
        ));
        full.policies[0].deny_all_versions = vec!["1".to_owned()];
        let again = plan(&subject(vec![full], true), options).unwrap();
        assert_eq!(actions(&again), ["iot:DeleteConnection"]);
    }

    #[test]
    fn strategies_parse_by_their_names() {
        assert_eq!("policy-version".parse(), Ok(Strategy::PolicyVersion));
        assert_eq!(Strategy::DenyOverlay.to_string(), "deny-overlay");
        assert!("deny-all".parse::<Strategy>().is_err());
    }
}
