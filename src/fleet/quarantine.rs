//! The quarantine planner (DESIGN.md section 5): from what is known of a Thing (its
//! certificates, their policies, those policies' other targets, the Things sharing each
//! certificate), the exact API calls that isolate it under a strategy, with the warnings an
//! operator must read first. Pure: the executor gathers the facts and carries the plan out.

use std::fmt;
use std::str::FromStr;

/// The policy the deny-overlay strategy attaches.
pub const DENY_ALL_POLICY: &str = "iotfleet-quarantine-deny-all";
/// Its document: an explicit Deny of everything, which overrides every Allow.
pub const DENY_ALL_DOCUMENT: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"*"}]}"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFacts {
    pub name: String,
    pub default_version: String,
    /// Every target of the policy (certificate ARNs, Thing group ARNs), this device's included.
    pub targets: Vec<String>,
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

/// What the planner needs to know about the Thing to isolate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub thing: String,
    pub certificates: Vec<CertificateFacts>,
    /// Whether `DENY_ALL_POLICY` exists in the account already.
    pub deny_all_exists: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    pub strategy: Strategy,
    /// Also set every ACTIVE certificate INACTIVE.
    pub deactivate_certs: bool,
}

/// One API call of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    CreatePolicy {
        policy: String,
    },
    AttachPolicy {
        policy: String,
        target: String,
    },
    /// A deny-all version made the default; `previous` is the default it replaces.
    CreateDenyAllVersion {
        policy: String,
        previous: String,
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
            Self::CreateDenyAllVersion { .. } => "iot:CreatePolicyVersion",
            Self::SetCertificateStatus { .. } => "iot:UpdateCertificate",
            Self::DeleteConnection { .. } => "iot:DeleteConnection",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreatePolicy { policy } => write!(f, "create policy {policy} (deny iot:* on *)"),
            Self::AttachPolicy { policy, target } => write!(f, "attach {policy} to {target}"),
            Self::CreateDenyAllVersion { policy, previous } => write!(
                f,
                "make a deny-all version the default of {policy} (default was version {previous})"
            ),
            Self::SetCertificateStatus { id, from, to } => {
                write!(f, "set certificate {id} {to} (was {from})")
            }
            Self::DeleteConnection { client_id } => {
                write!(
                    f,
                    "disconnect client {client_id}, so it reconnects under the new policy"
                )
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub thing: String,
    pub strategy: Strategy,
    pub steps: Vec<Step>,
    /// What the operator must know before confirming (shared certificates, ...).
    pub warnings: Vec<String>,
    /// Other Things a shared certificate isolates too (confirming asks for the Thing's name).
    pub also_isolated: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{thing} has no certificate: there is nothing to isolate (it cannot connect)")]
    NothingToIsolate { thing: String },
    #[error(
        "policy-version refused: policy {policy} is also attached to {}; a deny-all version would isolate them too (use the deny-overlay strategy)",
        others.join(", ")
    )]
    SharedPolicy { policy: String, others: Vec<String> },
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
        Strategy::DenyOverlay => overlay_steps(subject),
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
    for client_id in std::iter::once(&subject.thing).chain(&also_isolated) {
        steps.push(Step::DeleteConnection {
            client_id: client_id.clone(),
        });
    }
    Ok(Plan {
        thing: subject.thing.clone(),
        strategy: options.strategy,
        steps,
        warnings,
        also_isolated,
    })
}

/// Deny overlay: the deny-all policy created if missing and attached where it is not yet.
fn overlay_steps(subject: &Subject) -> Vec<Step> {
    let mut steps = Vec::new();
    if !subject.deny_all_exists {
        steps.push(Step::CreatePolicy {
            policy: DENY_ALL_POLICY.to_owned(),
        });
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
    steps
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
            if policy.name == DENY_ALL_POLICY || seen.contains(&policy.name) {
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
            steps.push(Step::CreateDenyAllVersion {
                policy: policy.name.clone(),
                previous: policy.default_version.clone(),
            });
        }
    }
    Ok(steps)
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
                })
                .collect(),
        }
    }

    fn subject(certificates: Vec<CertificateFacts>, deny_all_exists: bool) -> Subject {
        Subject {
            thing: "pump-1".to_owned(),
            certificates,
            deny_all_exists,
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
        half.deny_all_exists = true;
        let first = half.certificates[0].arn.clone();
        half.certificates[0].policies.push(PolicyFacts {
            name: DENY_ALL_POLICY.to_owned(),
            default_version: "1".to_owned(),
            targets: vec![first],
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
    fn strategies_parse_by_their_names() {
        assert_eq!("policy-version".parse(), Ok(Strategy::PolicyVersion));
        assert_eq!(Strategy::DenyOverlay.to_string(), "deny-overlay");
        assert!("deny-all".parse::<Strategy>().is_err());
    }
}
