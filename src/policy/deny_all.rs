//! Whether a policy document isolates a device, proven from its statements rather than from its
//! name or from probes (DESIGN.md, "Trust the content, not the name"). A document isolates only
//! when unconditional Deny statements on `*` (no `NotResource`, no `NotAction`, no `Condition`)
//! together name every action a device can take ([`DEVICE_ACTIONS`]), or when it is iotfleet's
//! own canonical document. Probes, asked of the policy engine, remain a second check, never the
//! proof: a document that spares a client id or a topic no probe names passes every probe and
//! fails the proof. A quarantine trusts its deny-all policy only on this judgement. Pure.

use std::fmt;

use super::document::{Effect, Matcher, PolicyDocument};
use super::evaluate::{
    NamedPolicy, Outcome, Request, RequestContext, ThingContext, action_matches, evaluate,
};

/// iotfleet's own deny-all document: the quarantine policy's, and the deny-all version a
/// policy-version quarantine makes.
pub const CANONICAL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"*"}]}"#;

/// Every action a device (or anything holding its certificate) can take on AWS IoT: connect,
/// the MQTT verbs, retained messages, the shadow and jobs data planes over MQTT and HTTPS, and
/// the credentials provider (a certificate trades for AWS credentials through a role alias).
pub const DEVICE_ACTIONS: &[&str] = &[
    "iot:Connect",
    "iot:Publish",
    "iot:RetainPublish",
    "iot:Subscribe",
    "iot:Receive",
    "iot:GetRetainedMessage",
    "iot:ListRetainedMessages",
    "iot:GetThingShadow",
    "iot:UpdateThingShadow",
    "iot:DeleteThingShadow",
    "iot:ListNamedShadowsForThing",
    "iot:DescribeJobExecution",
    "iot:GetPendingJobExecutions",
    "iot:StartNextPendingJobExecution",
    "iot:UpdateJobExecution",
    "iot:AssumeRoleWithCertificate",
];

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

/// Why a document is not proven to isolate, in words a responder can act on: what it spares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gap {
    /// The document does not parse: it denies nothing.
    Unreadable(String),
    /// A Deny statement that would cover the missing actions holds back: `how` says what it
    /// spares (its NotResource, NotAction, Condition, or resources narrower than `*`).
    Spares {
        statement: String,
        how: String,
        /// What Allow statements beside it grant, in words (empty when none).
        allows: Vec<String>,
    },
    /// No unconditional Deny on `*` names these device actions.
    Uncovered {
        actions: Vec<String>,
        allows: Vec<String>,
    },
    /// Proven by its statements, yet the policy engine allows a probe (a second check that
    /// should never fire: said rather than trusted).
    Allows {
        action: String,
        resource: String,
        statement: String,
    },
    /// Proven by its statements, yet a probe meets no Deny.
    DoesNotDeny { action: String, resource: String },
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let beside = |f: &mut fmt::Formatter<'_>, allows: &[String]| {
            if allows.is_empty() {
                Ok(())
            } else {
                write!(f, "; {}", allows.join("; "))
            }
        };
        match self {
            Self::Unreadable(reason) => {
                write!(f, "does not parse ({reason}), so it denies nothing")
            }
            Self::Spares {
                statement,
                how,
                allows,
            } => {
                write!(f, "spares {how} ({statement})")?;
                beside(f, allows)
            }
            Self::Uncovered { actions, allows } if actions.len() == DEVICE_ACTIONS.len() => {
                write!(
                    f,
                    "denies none of the {} device actions unconditionally on *",
                    actions.len()
                )?;
                beside(f, allows)
            }
            Self::Uncovered { actions, allows } => {
                write!(
                    f,
                    "has no unconditional Deny on * for {}",
                    actions.join(", ")
                )?;
                beside(f, allows)
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

/// None when `document` is proven to isolate (see the module), and the probes in the account
/// and region of `arn_prefix` agree; else what it spares.
#[must_use]
pub fn deny_all_gap(document: &str, arn_prefix: &str) -> Option<Gap> {
    let parsed = match PolicyDocument::parse(document) {
        Ok(parsed) => parsed,
        Err(error) => return Some(Gap::Unreadable(error.0)),
    };
    if !is_canonical(document)
        && let Some(gap) = proof_gap(&parsed)
    {
        return Some(gap);
    }
    probe_gap(&parsed, arn_prefix)
}

/// Whether `document` is iotfleet's canonical deny-all, whatever its spacing or key order.
#[must_use]
pub fn is_canonical(document: &str) -> bool {
    let parse = serde_json::from_str::<serde_json::Value>;
    matches!((parse(CANONICAL), parse(document)), (Ok(canonical), Ok(value)) if canonical == value)
}

/// "statement 2" or "statement 2 (Sid)", 0-based `index`.
fn statement_name(index: usize, sid: Option<&str>) -> String {
    match sid {
        Some(sid) => format!("statement {} ({sid})", index + 1),
        None => format!("statement {}", index + 1),
    }
}

fn patterns(matcher: &Matcher) -> &[String] {
    match matcher {
        Matcher::Any(patterns) | Matcher::NoneOf(patterns) => patterns,
    }
}

/// The statement-by-statement proof: None when the unconditional Denies on `*` name every
/// device action; else what is spared, naming the Deny that holds back when there is one.
fn proof_gap(document: &PolicyDocument) -> Option<Gap> {
    let isolating = |index: usize| {
        let statement = &document.statements[index];
        statement.effect == Effect::Deny
            && statement.conditions.is_empty()
            && matches!(&statement.resources, Matcher::Any(r) if r.iter().any(|r| r == "*"))
            && matches!(statement.actions, Matcher::Any(_))
    };
    let covered = |action: &str, index: usize| {
        isolating(index)
            && patterns(&document.statements[index].actions)
                .iter()
                .any(|pattern| action_matches(pattern, action))
    };
    let missing: Vec<&str> = DEVICE_ACTIONS
        .iter()
        .copied()
        .filter(|action| !(0..document.statements.len()).any(|i| covered(action, i)))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let allows: Vec<String> = document
        .statements
        .iter()
        .enumerate()
        .filter(|(_, s)| s.effect == Effect::Allow)
        .map(|(index, s)| {
            let name = statement_name(index, s.sid.as_deref());
            let actions = patterns(&s.actions).join(", ");
            let resources = patterns(&s.resources).join(", ");
            let not = |matcher: &Matcher| matches!(matcher, Matcher::NoneOf(_));
            format!(
                "{name} allows {}{actions} on {}{resources}",
                if not(&s.actions) { "all but " } else { "" },
                if not(&s.resources) { "all but " } else { "" },
            )
        })
        .collect();
    // The Deny that would have covered a missing action, but for what holds it back.
    for (index, statement) in document.statements.iter().enumerate() {
        if statement.effect != Effect::Deny || isolating(index) {
            continue;
        }
        let reaches = match &statement.actions {
            Matcher::Any(p) => missing
                .iter()
                .any(|a| p.iter().any(|pattern| action_matches(pattern, a))),
            Matcher::NoneOf(_) => true,
        };
        if !reaches {
            continue;
        }
        let how = if let Matcher::NoneOf(resources) = &statement.resources {
            format!("{} (its Deny uses NotResource)", resources.join(", "))
        } else if let Matcher::NoneOf(actions) = &statement.actions {
            format!(
                "the actions {} (its Deny uses NotAction)",
                actions.join(", ")
            )
        } else if let Some(condition) = statement.conditions.first() {
            format!(
                "whatever fails its Condition {} {} {} (its Deny holds only under it)",
                condition.operator,
                condition.key,
                condition.values.join(", ")
            )
        } else {
            format!(
                "every resource but {} (its Deny is not on *)",
                patterns(&statement.resources).join(", ")
            )
        };
        return Some(Gap::Spares {
            statement: statement_name(index, statement.sid.as_deref()),
            how,
            allows,
        });
    }
    Some(Gap::Uncovered {
        actions: missing.iter().map(|a| (*a).to_owned()).collect(),
        allows,
    })
}

/// The second check: every probe, asked of the policy engine with and without a connection
/// context, ends in an explicit Deny.
fn probe_gap(parsed: &PolicyDocument, arn_prefix: &str) -> Option<Gap> {
    let policies = [NamedPolicy {
        name: "the policy",
        document: parsed,
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

    /// The document the issue found passing every probe: a Deny that spares `zz-*` clients and
    /// `zz/*` topics by NotResource, and an Allow of exactly those.
    const CRAFTED: &str = r#"{"Statement":[{"Effect":"Deny","Action":"iot:*","NotResource":["arn:aws:iot:*:*:client/zz-*","arn:aws:iot:*:*:topic/zz/*"]},{"Effect":"Allow","Action":["iot:Connect","iot:Publish"],"Resource":["arn:aws:iot:*:*:client/zz-*","arn:aws:iot:*:*:topic/zz/*"]}]}"#;

    #[test]
    fn the_quarantine_document_and_its_respellings_isolate() {
        assert_eq!(gap(CANONICAL), None);
        assert!(is_canonical(
            r#"{ "Statement": [ { "Resource": "*", "Action": "iot:*", "Effect": "Deny" } ], "Version": "2012-10-17" }"#
        ));
        assert_eq!(
            gap(r#"{"Statement": {"Resource": ["*"], "Action": ["iot:*"], "Effect": "Deny"}}"#),
            None
        );
        assert_eq!(
            gap(r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#),
            None
        );
        // An Allow beside the Deny changes nothing: explicit Deny wins.
        assert_eq!(
            gap(
                r#"{"Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"*"},{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#
            ),
            None
        );
        // Every device action named, across two unconditional Denies on *.
        let named: Vec<String> = DEVICE_ACTIONS.iter().map(|a| format!("\"{a}\"")).collect();
        let (first, second) = named.split_at(5);
        assert_eq!(
            gap(&format!(
                r#"{{"Statement":[{{"Effect":"Deny","Action":[{}],"Resource":"*"}},{{"Effect":"Deny","Action":[{}],"Resource":["*"]}}]}}"#,
                first.join(","),
                second.join(",")
            )),
            None
        );
    }

    #[test]
    fn a_deny_that_spares_a_name_no_probe_asks_is_not_proven() {
        // Every probe is denied: the probes alone would call it deny-all.
        let parsed = PolicyDocument::parse(CRAFTED).unwrap();
        assert_eq!(probe_gap(&parsed, PREFIX), None);
        let found = gap(CRAFTED).expect("the NotResource deny is not proven");
        assert_eq!(
            found.to_string(),
            "spares arn:aws:iot:*:*:client/zz-*, arn:aws:iot:*:*:topic/zz/* (its Deny uses NotResource) (statement 1); statement 2 allows iot:Connect, iot:Publish on arn:aws:iot:*:*:client/zz-*, arn:aws:iot:*:*:topic/zz/*"
        );
    }

    #[test]
    fn a_conditioned_a_notaction_and_a_narrow_deny_are_not_proven() {
        let conditional = gap(
            r#"{"Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"*","Condition":{"StringNotLike":{"iot:ClientId":"zz-*"}}}]}"#,
        )
        .unwrap();
        assert!(
            conditional
                .to_string()
                .contains("whatever fails its Condition StringNotLike iot:ClientId zz-*"),
            "{conditional}"
        );
        let not_action =
            gap(r#"{"Statement":[{"Effect":"Deny","NotAction":"iot:Publish","Resource":"*"}]}"#)
                .unwrap();
        assert!(
            not_action
                .to_string()
                .starts_with("spares the actions iot:Publish (its Deny uses NotAction)"),
            "{not_action}"
        );
        // Scoped to this account and region: every probe is denied, yet it is not `*`.
        let narrow = gap(
            r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"arn:aws:iot:eu-west-1:123456789012:*"}]}"#,
        )
        .unwrap();
        assert!(
            narrow
                .to_string()
                .contains("every resource but arn:aws:iot:eu-west-1:123456789012:*"),
            "{narrow}"
        );
        // Connect and the MQTT verbs denied, the credentials provider forgotten.
        let partial = gap(
            r#"{"Statement":[{"Effect":"Deny","Action":["iot:Connect","iot:Publish","iot:RetainPublish","iot:Subscribe","iot:Receive"],"Resource":"*"}]}"#,
        )
        .unwrap();
        assert!(
            partial
                .to_string()
                .contains("has no unconditional Deny on * for iot:GetRetainedMessage"),
            "{partial}"
        );
        assert!(
            partial
                .to_string()
                .contains("iot:AssumeRoleWithCertificate")
        );
    }

    #[test]
    fn a_permissive_or_unreadable_document_says_what_it_lets_through() {
        let allow =
            gap(r#"{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#).unwrap();
        assert_eq!(
            allow.to_string(),
            "denies none of the 16 device actions unconditionally on *; statement 1 allows iot:* on *"
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
