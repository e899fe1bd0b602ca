//! Whether a policy document denies everything, judged by the policy engine rather than by its
//! text or its name: every IoT action a device can take, on probe resources in the policy's own
//! account and region, asked with and without a connection context, must end in an explicit
//! Deny. A quarantine trusts its deny-all policy only on this judgement. Pure.

use std::fmt;

use super::document::PolicyDocument;
use super::evaluate::{NamedPolicy, Outcome, Request, RequestContext, ThingContext, evaluate};

/// The Thing and client id the probes are asked as; no real device has this name.
const PROBE_THING: &str = "iotfleet-probe-thing";

/// The requests probed: (action, resource after the ARN prefix). `{thing}` stands for the
/// probe Thing. Together they cover connecting, every MQTT verb on ordinary, shadow and
/// reserved topics, retained messages and the shadow's HTTP actions.
const PROBES: &[(&str, &str)] = &[
    ("iot:Connect", "client/{thing}"),
    ("iot:Connect", "client/another-client"),
    ("iot:Publish", "topic/fleet/{thing}/telemetry"),
    ("iot:Publish", "topic/$aws/things/{thing}/shadow/update"),
    ("iot:Publish", "topic/other/device/topic"),
    ("iot:RetainPublish", "topic/fleet/{thing}/status"),
    ("iot:Subscribe", "topicfilter/#"),
    (
        "iot:Subscribe",
        "topicfilter/$aws/things/{thing}/shadow/update/delta",
    ),
    ("iot:Receive", "topic/fleet/{thing}/command"),
    (
        "iot:Receive",
        "topic/$aws/things/{thing}/shadow/update/delta",
    ),
    ("iot:GetRetainedMessage", "topic/fleet/{thing}/status"),
    ("iot:GetThingShadow", "thing/{thing}"),
    ("iot:UpdateThingShadow", "thing/{thing}"),
    ("iot:DeleteThingShadow", "thing/{thing}"),
];

/// The first probe a document does not explicitly deny, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gap {
    /// The document does not parse: it denies nothing.
    Unreadable(String),
    /// A probe is allowed, by the statement named (the resource without the ARN prefix).
    Allows {
        action: String,
        resource: String,
        statement: String,
    },
    /// A probe is neither allowed nor explicitly denied (no Deny applies to it).
    DoesNotDeny { action: String, resource: String },
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable(reason) => {
                write!(f, "does not parse ({reason}), so it denies nothing")
            }
            Self::Allows {
                action,
                resource,
                statement,
            } => write!(f, "allows {action} on {resource} ({statement})"),
            Self::DoesNotDeny { action, resource } => {
                write!(
                    f,
                    "does not deny {action} on {resource}: no Deny statement applies"
                )
            }
        }
    }
}

/// `arn:PARTITION:iot:REGION:ACCOUNT:` of an IoT ARN (a policy's, a Thing's), the prefix the
/// probes are asked in; a wildcard prefix when the ARN has no such shape.
#[must_use]
pub fn arn_prefix(arn: &str) -> String {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "iot", region, account, _] => {
            format!("arn:{partition}:iot:{region}:{account}:")
        }
        _ => "arn:aws:iot:us-east-1:000000000000:".to_owned(),
    }
}

/// None when `document` explicitly denies every probe in the account and region of
/// `arn_prefix` (see [`arn_prefix`]), whoever asks; else the first probe it does not deny.
#[must_use]
pub fn deny_all_gap(document: &str, arn_prefix: &str) -> Option<Gap> {
    let parsed = match PolicyDocument::parse(document) {
        Ok(parsed) => parsed,
        Err(error) => return Some(Gap::Unreadable(error.0)),
    };
    let policies = [NamedPolicy {
        name: "the policy",
        document: &parsed,
    }];
    let contexts = [
        RequestContext::default(),
        RequestContext {
            client_id: Some(PROBE_THING.to_owned()),
            thing: Some(ThingContext {
                name: PROBE_THING.to_owned(),
                thing_type: Some("probe-type".to_owned()),
                attributes: std::collections::BTreeMap::from([(
                    "site".to_owned(),
                    "probe-site".to_owned(),
                )]),
            }),
            certificate_subject: std::collections::BTreeMap::from([(
                "CommonName".to_owned(),
                PROBE_THING.to_owned(),
            )]),
        },
    ];
    for (action, resource) in PROBES {
        // Said without the account's ARN prefix, which adds nothing for the reader.
        let shown = resource.replace("{thing}", PROBE_THING);
        let resource = format!("{arn_prefix}{shown}");
        for context in &contexts {
            let decision = evaluate(
                &policies,
                Request {
                    action,
                    resource: &resource,
                },
                context,
            );
            match decision.outcome {
                Outcome::ExplicitDeny => {}
                Outcome::Allowed => {
                    let statement = decision.decided_by.map_or_else(
                        || "a statement".to_owned(),
                        |s| match s.sid {
                            Some(sid) => format!("statement {} ({sid})", s.index + 1),
                            None => format!("statement {}", s.index + 1),
                        },
                    );
                    return Some(Gap::Allows {
                        action: (*action).to_owned(),
                        resource: shown,
                        statement,
                    });
                }
                Outcome::ImplicitDeny => {
                    return Some(Gap::DoesNotDeny {
                        action: (*action).to_owned(),
                        resource: shown,
                    });
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "arn:aws:iot:eu-west-1:123456789012:";

    fn gap(document: &str) -> Option<Gap> {
        deny_all_gap(document, PREFIX)
    }

    #[test]
    fn the_quarantine_document_and_its_respellings_deny_everything() {
        assert_eq!(
            gap(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"*"}]}"#
            ),
            None
        );
        assert_eq!(
            gap(r#"{"Statement": {"Resource": ["*"], "Action": ["iot:*"], "Effect": "Deny"}}"#),
            None
        );
        // Scoped to this account and region: still everything the device can reach here.
        assert_eq!(
            gap(
                r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"arn:aws:iot:eu-west-1:123456789012:*"}]}"#
            ),
            None
        );
        // An Allow beside the Deny changes nothing: explicit Deny wins.
        assert_eq!(
            gap(
                r#"{"Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"*"},{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#
            ),
            None
        );
    }

    #[test]
    fn a_permissive_or_partial_document_says_what_it_lets_through() {
        let allow =
            gap(r#"{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#).unwrap();
        assert_eq!(
            allow.to_string(),
            "allows iot:Connect on client/iotfleet-probe-thing (statement 1)"
        );
        let publish_only =
            gap(r#"{"Statement":[{"Effect":"Deny","Action":"iot:Publish","Resource":"*"}]}"#)
                .unwrap();
        assert!(
            publish_only
                .to_string()
                .contains("does not deny iot:Connect"),
            "{publish_only}"
        );
        // A Deny that holds only under a condition is no deny-all.
        let conditional = gap(
            r#"{"Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"*","Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}}]}"#,
        );
        assert!(conditional.is_some());
        // Another account's resources only.
        assert!(
            gap(r#"{"Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"arn:aws:iot:eu-west-1:999999999999:*"}]}"#)
                .is_some()
        );
        // NotAction that leaves Publish out.
        assert!(
            gap(r#"{"Statement":[{"Effect":"Deny","NotAction":"iot:Publish","Resource":"*"}]}"#)
                .unwrap()
                .to_string()
                .contains("iot:Publish")
        );
        assert!(matches!(gap("not json"), Some(Gap::Unreadable(_))));
    }

    #[test]
    fn the_prefix_comes_from_the_arn() {
        assert_eq!(
            arn_prefix("arn:aws:iot:eu-west-1:123456789012:policy/iotfleet-quarantine-deny-all"),
            PREFIX
        );
        assert_eq!(
            arn_prefix("arn:aws-cn:iot:cn-north-1:1:thing/a:b"),
            "arn:aws-cn:iot:cn-north-1:1:"
        );
    }
}
