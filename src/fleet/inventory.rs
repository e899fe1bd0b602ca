//! Joins of registry calls into the views a verb or screen needs: a Thing with its groups,
//! certificates and their policies; a policy with its versions and targets. Calls for one object
//! run concurrently (bounded); nothing here walks the whole fleet except name suggestions, which
//! stop after a fixed number of pages.

use std::collections::BTreeSet;

use futures_util::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;

use super::client::{CONCURRENT_CALLS, FleetClient};
use super::error::FleetError;
use super::model::{
    Certificate, Policy, PolicyVersion, Thing, ThingGroupRef, certificate_id_from_arn,
};
use super::quarantine;

/// How many registry calls one report keeps in flight: enough to hide latency, few enough not to
/// trip AWS's per-account throttles for an operator who opens many Things in a row.

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThingReport {
    pub thing: Thing,
    pub groups: Vec<ThingGroupRef>,
    pub certificates: Vec<CertificateReport>,
    /// Principals that are not certificates (Cognito identities, IAM roles), as the service names them.
    pub other_principals: Vec<String>,
}

impl ThingReport {
    /// The Thing's groups as one line, "-" when it has none.
    #[must_use]
    pub fn group_list(&self) -> String {
        if self.groups.is_empty() {
            return "-".to_owned();
        }
        self.groups
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CertificateReport {
    pub certificate: Certificate,
    /// Every Thing the certificate is attached to, this one included.
    pub things: Vec<String>,
    pub policies: Vec<Policy>,
    /// The policies that isolate it (a quarantine): those whose default version denies
    /// everything, judged by the policy engine, whatever their name. Worked out once, when the
    /// report is made.
    pub isolated_by: Vec<String>,
}

impl CertificateReport {
    #[must_use]
    pub fn new(certificate: Certificate, things: Vec<String>, policies: Vec<Policy>) -> Self {
        let isolated_by = policies
            .iter()
            .filter(|p| quarantine::is_deny_all(&p.document, &p.arn))
            .map(|p| p.name.clone())
            .collect();
        Self {
            certificate,
            things,
            policies,
            isolated_by,
        }
    }

    /// True when the certificate is attached to more than one Thing: anything done to it (a
    /// quarantine, a revocation) reaches them all.
    #[must_use]
    pub fn is_shared(&self) -> bool {
        self.things.len() > 1
    }
}

impl ThingReport {
    /// Whether the Thing is isolated by a quarantine, judged by what its policies decide: at
    /// least one certificate is isolated, and every certificate that can connect (ACTIVE) is.
    #[must_use]
    pub fn is_quarantined(&self) -> bool {
        self.certificates.iter().any(|c| !c.isolated_by.is_empty())
            && self.certificates.iter().all(|c| {
                !c.isolated_by.is_empty()
                    || c.certificate.status != super::model::CertificateStatus::Active
            })
    }
}

/// What the deny-all policy reaches: the Things it isolates, and those it reaches but does not
/// isolate, each with the ACTIVE certificates that carry no deny-all (a certificate attached
/// after the quarantine lets the device in).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reached {
    pub isolated: BTreeSet<String>,
    /// By Thing: the ids of its ACTIVE certificates without the policy.
    pub unisolated: std::collections::BTreeMap<String, Vec<String>>,
}

/// The Things the deny-all policy reaches, judged by its content: GetPolicy (a quarantine
/// policy that is tampered isolates nothing), ListTargetsForPolicy, then per isolated
/// certificate ListPrincipalThings, and per Thing found ListThingPrincipals (plus
/// DescribeCertificate for a certificate without the policy: an ACTIVE one means the Thing can
/// still act). Calls grow with the quarantined Things, never with the fleet. A policy-version
/// quarantine shows in a Thing's own report, not here.
pub async fn quarantined_things(client: &FleetClient) -> Result<Reached, FleetError> {
    let policy = match client.get_policy(quarantine::DENY_ALL_POLICY).await {
        Ok(policy) => policy,
        Err(FleetError::NotFound { .. }) => return Ok(Reached::default()),
        Err(error) => return Err(error),
    };
    if !quarantine::is_deny_all(&policy.document, &policy.arn) {
        return Ok(Reached::default());
    }
    let targets: BTreeSet<String> = client
        .policy_targets(quarantine::DENY_ALL_POLICY)
        .await?
        .into_iter()
        .filter(|t| certificate_id_from_arn(t).is_some())
        .collect();
    let reached: Vec<Vec<String>> = futures_util::stream::iter(targets.iter().cloned())
        .map(|arn| async move { client.principal_things(&arn).await })
        .buffered(CONCURRENT_CALLS)
        .try_collect()
        .await?;
    let candidates: BTreeSet<String> = reached.into_iter().flatten().collect();
    let principals: Vec<(String, Vec<String>)> = futures_util::stream::iter(candidates)
        .map(|thing| async move {
            let principals = client.thing_principals(&thing).await?;
            Ok::<_, FleetError>((thing, principals))
        })
        .buffered(CONCURRENT_CALLS)
        .try_collect()
        .await?;
    // A certificate without the policy: only an ACTIVE one lets the Thing act.
    let unisolated: BTreeSet<String> = principals
        .iter()
        .flat_map(|(_, principals)| principals.iter())
        .filter(|p| !targets.contains(*p))
        .filter_map(|p| certificate_id_from_arn(p).map(str::to_owned))
        .collect();
    let active: Vec<Option<String>> = futures_util::stream::iter(unisolated)
        .map(|id| async move {
            let certificate = client.describe_certificate(&id).await?;
            Ok::<_, FleetError>(
                (certificate.status == super::model::CertificateStatus::Active)
                    .then_some(certificate.arn),
            )
        })
        .buffered(CONCURRENT_CALLS)
        .try_collect()
        .await?;
    let active: BTreeSet<String> = active.into_iter().flatten().collect();
    let mut out = Reached::default();
    for (thing, principals) in principals {
        let open: Vec<String> = principals
            .iter()
            .filter(|p| active.contains(*p))
            .filter_map(|p| certificate_id_from_arn(p).map(str::to_owned))
            .collect();
        if open.is_empty() {
            out.isolated.insert(thing);
        } else {
            out.unisolated.insert(thing, open);
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyReport {
    pub policy: Policy,
    pub versions: Vec<PolicyVersion>,
    pub targets: Vec<String>,
}

/// Everything about one Thing: the calls are DescribeThing, ListThingGroupsForThing,
/// ListThingPrincipals, then per certificate DescribeCertificate, ListAttachedPolicies and
/// ListPrincipalThings, then GetPolicy once per distinct policy.
pub async fn thing_report(client: &FleetClient, name: &str) -> Result<ThingReport, FleetError> {
    let (thing, groups, principals) = futures_util::try_join!(
        client.describe_thing(name),
        client.thing_groups(name),
        client.thing_principals(name)
    )?;

    let (certificate_arns, other_principals): (Vec<String>, Vec<String>) = principals
        .into_iter()
        .partition(|p| certificate_id_from_arn(p).is_some());
    let certificates = client.certificates_of(certificate_arns).await?;

    let distinct: BTreeSet<String> = certificates
        .iter()
        .flat_map(|links| links.policies.iter().cloned())
        .collect();
    let policies = policies_by_name(client, distinct).await?;

    let certificates = certificates
        .into_iter()
        .map(|links| {
            let own = links
                .policies
                .iter()
                .filter_map(|name| policies.iter().find(|p| &p.name == name).cloned())
                .collect();
            CertificateReport::new(links.certificate, links.things, own)
        })
        .collect();
    Ok(ThingReport {
        thing,
        groups,
        certificates,
        other_principals,
    })
}

/// One certificate with the Things it is attached to and its policies (DescribeCertificate,
/// ListPrincipalThings, ListAttachedPolicies, then GetPolicy per policy).
pub async fn certificate_report(
    client: &FleetClient,
    id: &str,
) -> Result<CertificateReport, FleetError> {
    let certificate = client.describe_certificate(id).await?;
    let (things, attached) = futures_util::try_join!(
        client.principal_things(&certificate.arn),
        client.attached_policies(&certificate.arn)
    )?;
    let policies = policies_by_name(client, attached.into_iter().map(|p| p.name)).await?;
    Ok(CertificateReport::new(certificate, things, policies))
}

/// GetPolicy for each name, a few at a time, in order.
async fn policies_by_name(
    client: &FleetClient,
    names: impl IntoIterator<Item = String>,
) -> Result<Vec<Policy>, FleetError> {
    let owner = client.clone();
    futures_util::stream::iter(names)
        .map(move |name| {
            let client = owner.clone();
            async move { client.get_policy(&name).await }
        })
        .buffered(CONCURRENT_CALLS)
        .try_collect()
        .await
}

/// A policy with its versions and targets (GetPolicy, ListPolicyVersions, ListTargetsForPolicy).
pub async fn policy_report(client: &FleetClient, name: &str) -> Result<PolicyReport, FleetError> {
    let (policy, versions, targets) = futures_util::try_join!(
        client.get_policy(name),
        client.policy_versions(name),
        client.policy_targets(name)
    )?;
    Ok(PolicyReport {
        policy,
        versions,
        targets,
    })
}

/// Names close to one that was not found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Suggestions {
    /// Best first, at most five.
    pub names: Vec<String>,
    /// False when the fleet is larger than what was scanned.
    pub complete: bool,
}

/// Pages scanned for suggestions: 20 pages of 250 is 5,000 Things, a few seconds at most.
const SUGGESTION_PAGES: usize = 20;

/// Suggests Thing names close to `wanted`, scanning at most the first 5,000 Things.
pub async fn suggest_thing_names(
    client: &FleetClient,
    wanted: &str,
) -> Result<Suggestions, FleetError> {
    let mut pages = client.list_things(super::client::ThingQuery::default());
    let mut scored: Vec<(f64, String)> = Vec::new();
    let mut complete = true;
    for page_number in 0.. {
        if page_number == SUGGESTION_PAGES {
            complete = false;
            break;
        }
        let Some(page) = pages.next_page().await else {
            break;
        };
        for thing in page?.things {
            let score = similarity(wanted, &thing.name);
            if score >= 0.8 {
                scored.push((score, thing.name));
            }
        }
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    Ok(Suggestions {
        names: scored.into_iter().take(5).map(|(_, name)| name).collect(),
        complete,
    })
}

/// 1.0 when one name contains the other (ignoring case), else Jaro-Winkler similarity.
fn similarity(wanted: &str, candidate: &str) -> f64 {
    let (wanted, candidate) = (wanted.to_lowercase(), candidate.to_lowercase());
    if wanted.len() >= 3 && (candidate.contains(&wanted) || wanted.contains(&candidate)) {
        return 1.0;
    }
    strsim::jaro_winkler(&wanted, &candidate)
}

#[cfg(test)]
mod tests {
    use super::similarity;

    #[test]
    fn close_names_score_high_and_unrelated_low() {
        assert!(similarity("pump-17", "pump-71") > 0.8);
        assert!(similarity("pmp-17", "pump-17") > 0.8);
        assert!((similarity("pump", "pump-17") - 1.0).abs() < f64::EPSILON);
        assert!(similarity("camera-3", "pump-17") < 0.8);
    }
}
