//! "What can this device do?": a Thing's certificates' policies evaluated by the local policy
//! engine (`crate::policy`) for connect, publish, subscribe and receive, the way AWS IoT
//! evaluates them: policy variables from the connection (the Thing's name, type and attributes,
//! the certificate's subject), explicit Deny over any Allow, default deny. One answer per
//! certificate, since a device connects with one of them.

use serde::Serialize;

use super::inventory::ThingReport;
pub use super::model::DeviceAction;
use crate::policy::{
    NamedPolicy, Outcome, PolicyDocument, Request, RequestContext, ThingContext, evaluate,
};

/// The answer for one certificate of the Thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub certificate: String,
    /// The certificate's registry status: one that is not ACTIVE cannot connect at all.
    pub status: String,
    /// Why the certificate cannot connect whatever its policies say: not ACTIVE, expired, or
    /// not yet valid. None when it can.
    pub cannot_connect: Option<String>,
    pub action: DeviceAction,
    pub target: String,
    /// What the policies decide, alone; see [`Answer::effective`].
    pub allowed: bool,
    /// "allowed", "explicit deny" or "implicit deny: no statement allows it".
    pub outcome: &'static str,
    /// The statement that decided: "policy statement N (Sid)".
    pub decided_by: Option<String>,
    /// Policy variables or condition keys the statements needed and the connection lacked.
    pub missing_context: Vec<String>,
    /// Attached policies whose document does not parse (they allow nothing).
    pub unreadable: Vec<String>,
}

impl Answer {
    /// Whether the device may really do it: its policies allow it and its certificate can
    /// connect.
    #[must_use]
    pub fn effective(&self) -> bool {
        self.allowed && self.cannot_connect.is_none()
    }
}

/// Why a certificate cannot connect at `now` whatever its policies say (the registry status,
/// then the validity its PEM states), None when it can.
#[must_use]
pub fn cannot_connect(
    certificate: &super::model::Certificate,
    now: time::OffsetDateTime,
) -> Option<String> {
    let status = certificate.status.as_aws();
    if status != "ACTIVE" {
        return Some(status.to_owned());
    }
    let validity = certificate.validity?;
    if now > validity.not_after {
        return Some(format!(
            "expired {}",
            super::model::expired_ago(validity.not_after, now)
        ));
    }
    (now < validity.not_before).then(|| "not valid yet".to_owned())
}

/// The checks the Thing screen shows: its own client id, telemetry (iotfleet's `fleet/THING/...`
/// convention), shadow and jobs topics.
#[must_use]
pub fn own_checks(thing: &str) -> Vec<(DeviceAction, String)> {
    let shadow = format!("$aws/things/{thing}/shadow");
    let jobs = format!("$aws/things/{thing}/jobs");
    vec![
        (DeviceAction::Connect, thing.to_owned()),
        (DeviceAction::Publish, format!("fleet/{thing}/telemetry")),
        (DeviceAction::Publish, format!("{shadow}/update")),
        (DeviceAction::Subscribe, format!("{shadow}/update/delta")),
        (DeviceAction::Receive, format!("{shadow}/update/delta")),
        (DeviceAction::Publish, format!("{jobs}/get")),
        (DeviceAction::Subscribe, format!("{jobs}/notify")),
        (DeviceAction::Receive, format!("{jobs}/notify")),
    ]
}

/// AWS's own answer (TestAuthorization) for one certificate, to set beside the local engine's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AwsAnswer {
    pub certificate: String,
    /// ALLOWED, EXPLICIT_DENY or IMPLICIT_DENY; or why AWS could not be asked.
    pub decision: Result<String, String>,
}

impl AwsAnswer {
    /// Whether AWS and the local engine disagree (unknown when AWS could not be asked).
    #[must_use]
    pub fn disagrees_with(&self, local: &Answer) -> Option<bool> {
        let decision = self.decision.as_ref().ok()?;
        Some((decision == "ALLOWED") != local.allowed)
    }
}

/// The resource ARN a request of `action` on `target` is judged on, in the Thing's account and
/// region (from its ARN).
#[must_use]
pub fn resource_arn(report: &ThingReport, action: DeviceAction, target: &str) -> String {
    let prefix = report
        .thing
        .arn
        .split_once(":thing/")
        .map_or_else(|| "arn:aws:iot:*:*:".to_owned(), |(p, _)| format!("{p}:"));
    format!("{prefix}{}/{target}", action.resource_type())
}

/// Asks AWS (TestAuthorization) the same question for each certificate of the Thing.
pub async fn ask_aws(
    client: &super::FleetClient,
    report: &ThingReport,
    action: DeviceAction,
    target: &str,
) -> Vec<AwsAnswer> {
    let resource = resource_arn(report, action, target);
    let client_id = match action {
        DeviceAction::Connect => target,
        _ => report.thing.name.as_str(),
    };
    let mut answers = Vec::new();
    for certificate in &report.certificates {
        let decision = client
            .test_authorization(&certificate.certificate.arn, client_id, action, &resource)
            .await
            .map_err(|e| e.to_string());
        answers.push(AwsAnswer {
            certificate: certificate.certificate.id.clone(),
            decision,
        });
    }
    answers
}

/// May the Thing of `report` do `action` on `target` (a topic, a topic filter for subscribe, a
/// client id for connect)? One answer per certificate; none when it has no certificate.
#[must_use]
pub fn evaluate_for(
    report: &ThingReport,
    action: DeviceAction,
    target: &str,
    now: time::OffsetDateTime,
) -> Vec<Answer> {
    evaluate_all(report, &[(action, target.to_owned())], now)
}

/// A certificate's policies, parsed once for every question asked of it.
struct Parsed<'a> {
    certificate: &'a super::inventory::CertificateReport,
    documents: Vec<(&'a str, PolicyDocument)>,
    unreadable: Vec<String>,
    subject: std::collections::BTreeMap<String, String>,
    cannot_connect: Option<String>,
}

/// [`evaluate_for`] for several questions, in order, each answered per certificate at `now`;
/// every policy document is parsed once.
#[must_use]
pub fn evaluate_all(
    report: &ThingReport,
    questions: &[(DeviceAction, String)],
    now: time::OffsetDateTime,
) -> Vec<Answer> {
    let thing = &report.thing;
    let parsed: Vec<Parsed<'_>> = report
        .certificates
        .iter()
        .map(|certificate| {
            let mut unreadable = Vec::new();
            let documents = certificate
                .policies
                .iter()
                .filter_map(|p| {
                    if let Ok(document) = PolicyDocument::parse(&p.document) {
                        Some((p.name.as_str(), document))
                    } else {
                        unreadable.push(p.name.clone());
                        None
                    }
                })
                .collect();
            let mut subject = std::collections::BTreeMap::new();
            if let Some(common_name) = certificate
                .certificate
                .subject
                .as_deref()
                .and_then(|s| s.strip_prefix("CN="))
            {
                subject.insert(
                    "CommonName".to_owned(),
                    common_name.split(',').next().unwrap_or_default().to_owned(),
                );
            }
            Parsed {
                certificate,
                documents,
                unreadable,
                subject,
                cannot_connect: cannot_connect(&certificate.certificate, now),
            }
        })
        .collect();
    let mut answers = Vec::with_capacity(questions.len() * parsed.len());
    for (action, target) in questions {
        let action = *action;
        let resource = resource_arn(report, action, target);
        for certificate in &parsed {
            let named: Vec<NamedPolicy<'_>> = certificate
                .documents
                .iter()
                .map(|(name, document)| NamedPolicy { name, document })
                .collect();
            let context = RequestContext {
                client_id: Some(match action {
                    DeviceAction::Connect => target.clone(),
                    _ => thing.name.clone(),
                }),
                thing: Some(ThingContext {
                    name: thing.name.clone(),
                    thing_type: thing.thing_type.clone(),
                    attributes: thing.attributes.clone(),
                }),
                certificate_subject: certificate.subject.clone(),
            };
            let decision = evaluate(
                &named,
                Request {
                    action: action.iam(),
                    resource: &resource,
                },
                &context,
            );
            answers.push(Answer {
                certificate: certificate.certificate.certificate.id.clone(),
                status: certificate
                    .certificate
                    .certificate
                    .status
                    .as_aws()
                    .to_owned(),
                cannot_connect: certificate.cannot_connect.clone(),
                action,
                target: target.clone(),
                allowed: decision.allowed(),
                outcome: match decision.outcome {
                    Outcome::Allowed => "allowed",
                    Outcome::ExplicitDeny => "explicit deny",
                    Outcome::ImplicitDeny => "implicit deny: no statement allows it",
                },
                decided_by: decision.decided_by.map(|s| match s.sid {
                    Some(sid) => format!("{} statement {} ({sid})", s.policy, s.index + 1),
                    None => format!("{} statement {}", s.policy, s.index + 1),
                }),
                missing_context: decision.missing_context.into_iter().collect(),
                unreadable: certificate.unreadable.clone(),
            });
        }
    }
    answers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(allowed: bool) -> Answer {
        Answer {
            certificate: "a".into(),
            status: "ACTIVE".into(),
            cannot_connect: None,
            action: DeviceAction::Publish,
            target: "t".into(),
            allowed,
            outcome: "allowed",
            decided_by: None,
            missing_context: Vec::new(),
            unreadable: Vec::new(),
        }
    }

    #[test]
    fn a_disagreement_with_aws_is_told_and_an_unanswered_question_is_not_one() {
        let aws = |decision: Result<&str, &str>| AwsAnswer {
            certificate: "a".into(),
            decision: decision.map(str::to_owned).map_err(str::to_owned),
        };
        assert_eq!(aws(Ok("ALLOWED")).disagrees_with(&local(true)), Some(false));
        assert_eq!(
            aws(Ok("IMPLICIT_DENY")).disagrees_with(&local(true)),
            Some(true)
        );
        assert_eq!(
            aws(Ok("EXPLICIT_DENY")).disagrees_with(&local(false)),
            Some(false)
        );
        assert_eq!(aws(Err("not supported")).disagrees_with(&local(true)), None);
    }

    #[test]
    fn an_expired_inactive_or_not_yet_valid_certificate_cannot_connect() {
        use time::macros::datetime;
        let now = datetime!(2026-11-30 3:00 UTC);
        let mut certificate = crate::fleet::model::Certificate {
            id: "a".into(),
            arn: "arn:aws:iot:us-east-1:1:cert/a".into(),
            status: crate::fleet::model::CertificateStatus::Active,
            created: None,
            last_modified: None,
            ca_certificate_id: None,
            validity: Some(crate::fleet::model::Validity {
                not_before: datetime!(2026-01-01 0:00 UTC),
                not_after: datetime!(2026-11-27 0:00 UTC),
            }),
            subject: None,
            issuer: None,
            serial: None,
            pem_problem: None,
            pem: String::new(),
        };
        assert_eq!(
            cannot_connect(&certificate, now),
            Some("expired 3 days ago".into())
        );
        certificate.validity = certificate.validity.map(|mut v| {
            v.not_after = datetime!(2027-01-01 0:00 UTC);
            v
        });
        assert_eq!(cannot_connect(&certificate, now), None);
        certificate.status = crate::fleet::model::CertificateStatus::Inactive;
        assert_eq!(cannot_connect(&certificate, now), Some("INACTIVE".into()));
        certificate.status = crate::fleet::model::CertificateStatus::Active;
        certificate.validity = certificate.validity.map(|mut v| {
            v.not_before = datetime!(2026-12-01 0:00 UTC);
            v
        });
        assert_eq!(
            cannot_connect(&certificate, now),
            Some("not valid yet".into())
        );
    }

    #[test]
    fn actions_parse_and_name_their_resource_type() {
        assert_eq!("Subscribe".parse(), Ok(DeviceAction::Subscribe));
        assert_eq!(DeviceAction::Subscribe.resource_type(), "topicfilter");
        assert_eq!(DeviceAction::Connect.resource_type(), "client");
        assert!("write".parse::<DeviceAction>().is_err());
    }
}
