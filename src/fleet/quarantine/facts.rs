//! Gathers what the quarantine planner needs about a Thing: its certificates with their status,
//! policies and the Things sharing them; for the policy-version strategy also each policy's
//! targets and versions. Calls for one Thing run concurrently (bounded), never fleet-wide.

use std::collections::BTreeSet;

use futures_util::{StreamExt as _, TryStreamExt as _};
use serde::{Deserialize, Serialize};

use super::plan::{
    CertificateFacts, DENY_ALL_POLICY, DenyAllPolicy, PolicyFacts, Subject, is_deny_all,
};
use crate::fleet::client::CONCURRENT_CALLS;
use crate::fleet::{FleetClient, FleetError};

/// How much to learn about each policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Its default version and whether that is deny-all (the deny overlay needs no more).
    Defaults,
    /// Also its targets and version ids (the policy-version strategy).
    Versions,
    /// Also which non-default versions are deny-all (releasing a policy-version quarantine).
    VersionDocuments,
}

/// The calls: DescribeThing and ListThingPrincipals; per certificate DescribeCertificate,
/// ListAttachedPolicies and ListPrincipalThings; per distinct policy GetPolicy (and with
/// `Versions`, ListTargetsForPolicy and ListPolicyVersions; with `VersionDocuments`,
/// GetPolicyVersion per other version); GetPolicy of the deny-all policy, whose default document
/// is judged by its content (and, when it is tampered, ListPolicyVersions and
/// ListTargetsForPolicy of it, for the repair step).
pub async fn gather(
    client: &FleetClient,
    thing: &str,
    depth: Depth,
) -> Result<Subject, FleetError> {
    let (described, principals) =
        futures_util::try_join!(client.describe_thing(thing), client.thing_principals(thing))?;
    let certificates: Vec<(CertificateFacts, Vec<String>)> = client
        .certificates_of(principals)
        .await?
        .into_iter()
        .map(|links| {
            let facts = CertificateFacts {
                id: links.certificate.id,
                arn: links.arn,
                status: links.certificate.status.as_aws().to_owned(),
                things: links.things,
                policies: Vec::new(),
            };
            (facts, links.policies)
        })
        .collect();

    let distinct: BTreeSet<String> = certificates
        .iter()
        .flat_map(|(_, names)| names.iter())
        .filter(|name| *name != DENY_ALL_POLICY)
        .cloned()
        .collect();
    let policies: Vec<PolicyFacts> = futures_util::stream::iter(distinct)
        .map(|name| async move { policy_facts(client, &name, depth).await })
        .buffered(CONCURRENT_CALLS)
        .try_collect()
        .await?;
    let (deny_all, deny_all_facts) = deny_all_policy(client).await?;
    Ok(Subject {
        thing: thing.to_owned(),
        certificates: certificates
            .into_iter()
            .map(|(mut facts, names)| {
                facts.policies = names
                    .iter()
                    .map(|name| {
                        policies
                            .iter()
                            .chain(&deny_all_facts)
                            .find(|p| &p.name == name)
                            .cloned()
                            .unwrap_or_else(|| PolicyFacts {
                                name: name.clone(),
                                ..PolicyFacts::default()
                            })
                    })
                    .collect();
                facts
            })
            .collect(),
        deny_all,
        client_ids: described
            .default_client_id
            .into_iter()
            .filter(|id| !id.is_empty() && id != thing)
            .collect(),
        sessions: Vec::new(),
        sessions_unknown: None,
    })
}

/// Adds to `subject` the sessions AWS IoT's log shows for each of its certificates
/// (`fleet/sessions.rs`: FilterLogEvents per certificate), or why they are not known. Never a
/// reason not to isolate: the deny-all refuses every session either way.
pub async fn sessions(client: &FleetClient, subject: &mut Subject) {
    let ids: Vec<String> = subject.certificates.iter().map(|c| c.id.clone()).collect();
    let seen: Vec<Result<crate::fleet::sessions::Seen, FleetError>> =
        futures_util::stream::iter(ids)
            .map(|id| async move { client.certificate_sessions(&id).await })
            .buffered(CONCURRENT_CALLS)
            .collect()
            .await;
    let mut sessions: BTreeSet<String> = BTreeSet::new();
    for result in seen {
        match result {
            Ok(seen) => {
                if seen.truncated {
                    subject.sessions_unknown = Some(format!(
                        "more than {} client ids in the log for one certificate: the first are closed",
                        crate::fleet::sessions::MAX_SESSIONS
                    ));
                }
                sessions.extend(seen.client_ids);
            }
            Err(error) => {
                subject.sessions_unknown =
                    Some(error.refusals_unknown(&client.backend().region).replacen(
                        "refusals unknown",
                        "its sessions unknown",
                        1,
                    ));
            }
        }
    }
    sessions.remove(&subject.thing);
    subject.sessions = sessions.into_iter().collect();
}

/// The quarantine policy as it is: missing, proven to isolate by its content, or tampered (with
/// what it spares); and its facts as a policy attached to certificates.
async fn deny_all_policy(
    client: &FleetClient,
) -> Result<(DenyAllPolicy, Option<PolicyFacts>), FleetError> {
    let policy = match client.get_policy(DENY_ALL_POLICY).await {
        Ok(policy) => policy,
        Err(FleetError::NotFound { .. }) => return Ok((DenyAllPolicy::Missing, None)),
        Err(error) => return Err(error),
    };
    let default_version = policy.default_version_id.clone().unwrap_or_default();
    let prefix = crate::policy::deny_all::arn_prefix(&policy.arn);
    let facts = |deny_all_versions| PolicyFacts {
        name: DENY_ALL_POLICY.to_owned(),
        default_version: default_version.clone(),
        deny_all_versions,
        ..PolicyFacts::default()
    };
    match crate::policy::deny_all::deny_all_gap(&policy.document, &prefix) {
        None => Ok((
            DenyAllPolicy::DeniesAll,
            Some(facts(vec![default_version.clone()])),
        )),
        Some(gap) => {
            let (versions, targets) = futures_util::try_join!(
                client.policy_versions(DENY_ALL_POLICY),
                client.policy_targets(DENY_ALL_POLICY)
            )?;
            Ok((
                DenyAllPolicy::Tampered {
                    default_version: default_version.clone(),
                    gap: gap.to_string(),
                    versions: versions.len(),
                    targets: targets.len(),
                },
                Some(facts(Vec::new())),
            ))
        }
    }
}

async fn policy_facts(
    client: &FleetClient,
    name: &str,
    depth: Depth,
) -> Result<PolicyFacts, FleetError> {
    let lists = async {
        if depth == Depth::Defaults {
            Ok((Vec::new(), Vec::new()))
        } else {
            futures_util::try_join!(client.policy_targets(name), client.policy_versions(name))
        }
    };
    let (policy, (targets, versions)) = futures_util::try_join!(client.get_policy(name), lists)?;
    let default_version = policy.default_version_id.clone().unwrap_or_default();
    let mut deny_all_versions = Vec::new();
    if is_deny_all(&policy.document, &policy.arn) {
        deny_all_versions.push(default_version.clone());
    }
    let versions: Vec<String> = versions.into_iter().map(|v| v.version_id).collect();
    if depth == Depth::VersionDocuments {
        for version in versions.iter().filter(|v| **v != default_version) {
            let document = client.policy_version_document(name, version).await?;
            if is_deny_all(&document, &policy.arn) {
                deny_all_versions.push(version.clone());
            }
        }
    }
    Ok(PolicyFacts {
        name: name.to_owned(),
        default_version,
        targets,
        versions,
        deny_all_versions,
    })
}

/// The facts of several Things released together as one subject named after the first: their
/// certificates, each once.
#[must_use]
pub fn merge(first: Subject, others: impl IntoIterator<Item = Subject>) -> Subject {
    let mut merged = first;
    for subject in others {
        for certificate in subject.certificates {
            if !merged.certificates.iter().any(|c| c.id == certificate.id) {
                merged.certificates.push(certificate);
            }
        }
        for client_id in subject.client_ids {
            if !merged.client_ids.contains(&client_id) {
                merged.client_ids.push(client_id);
            }
        }
    }
    merged
}

/// What a quarantine changes and a release must put back, as data: each certificate's status
/// and attached policies, each policy's default version and versions. Journaled before and
/// after each run; tests compare two of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub certificates: Vec<CertificateState>,
    pub policies: Vec<PolicyState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateState {
    pub id: String,
    pub status: String,
    pub policies: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyState {
    pub name: String,
    pub default_version: String,
    /// Empty unless gathered with `Depth::Versions` or more.
    pub versions: Vec<String>,
}

impl Snapshot {
    #[must_use]
    pub fn of(subject: &Subject) -> Self {
        let mut certificates: Vec<CertificateState> = subject
            .certificates
            .iter()
            .map(|c| {
                let mut policies: Vec<String> = c.policies.iter().map(|p| p.name.clone()).collect();
                policies.sort();
                CertificateState {
                    id: c.id.clone(),
                    status: c.status.clone(),
                    policies,
                }
            })
            .collect();
        certificates.sort_by(|a, b| a.id.cmp(&b.id));
        let mut policies: Vec<PolicyState> = subject
            .certificates
            .iter()
            .flat_map(|c| c.policies.iter())
            .filter(|p| p.name != DENY_ALL_POLICY)
            .map(|p| {
                let mut versions = p.versions.clone();
                versions.sort();
                PolicyState {
                    name: p.name.clone(),
                    default_version: p.default_version.clone(),
                    versions,
                }
            })
            .collect();
        policies.sort_by(|a, b| a.name.cmp(&b.name));
        policies.dedup();
        Self {
            certificates,
            policies,
        }
    }
}
