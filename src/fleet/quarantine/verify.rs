//! Verifies a quarantine after it ran, from what the service says now: the Thing's report read
//! again (DescribeThing, its certificates, GetPolicy of each policy), each certificate's policies
//! evaluated by the policy engine on the Thing's own client id and topics
//! (`permissions::own_checks`), and the same questions put to the service (TestAuthorization).
//! VERIFIED only when the engine denies every question on every certificate and the service,
//! where it answers, allows none of them.

use serde::Serialize;

use crate::fleet::permissions::{self, DeviceAction};
use crate::fleet::{FleetClient, FleetError, inventory};

/// What the service (TestAuthorization) said about one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum ServiceCheck {
    /// Every question was answered as denied.
    Denies,
    /// These questions were answered ALLOWED.
    Allows { questions: Vec<String> },
    /// The service could not be asked (moto has no TestAuthorization, for one).
    NotAsked { reason: String },
}

/// One certificate's verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateCheck {
    pub certificate: String,
    pub status: String,
    /// How many questions were asked of the engine.
    pub asked: usize,
    /// The questions the engine allows, with the statement that allows each.
    pub allowed: Vec<String>,
    /// The policies whose default version denies everything.
    pub isolated_by: Vec<String>,
    pub service: ServiceCheck,
}

impl CertificateCheck {
    /// Denied everything by the engine and allowed nothing by the service.
    #[must_use]
    pub fn isolated(&self) -> bool {
        self.allowed.is_empty() && !matches!(self.service, ServiceCheck::Allows { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub verified: bool,
    pub certificates: Vec<CertificateCheck>,
    /// What could and could not be checked of the certificates' sessions (`sessions_note`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions: Option<String>,
}

impl Verification {
    /// One line per certificate, then what was seen of their sessions, for the CLI and the
    /// console.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        self.certificates
            .iter()
            .map(|check| {
                let id: String = check.certificate.chars().take(12).collect();
                let service = match &check.service {
                    ServiceCheck::Denies => "TestAuthorization agrees".to_owned(),
                    ServiceCheck::Allows { questions } => {
                        format!("TestAuthorization ALLOWS {}", questions.join(", "))
                    }
                    ServiceCheck::NotAsked { reason } => {
                        format!("TestAuthorization not asked: {reason}")
                    }
                };
                if check.isolated() {
                    format!(
                        "certificate {id}…: VERIFIED, {} of {} own actions denied by {}; {service}",
                        check.asked,
                        check.asked,
                        check.isolated_by.join(", ")
                    )
                } else if check.allowed.is_empty() {
                    format!("certificate {id}…: NOT ISOLATED: {service}")
                } else {
                    format!(
                        "certificate {id}…: NOT ISOLATED: the policies allow {}; {service}",
                        check.allowed.join(", ")
                    )
                }
            })
            .chain(self.sessions.clone())
            .collect()
    }
}

/// Reads the Thing again and verifies every certificate is isolated.
pub async fn verify(client: &FleetClient, thing: &str) -> Result<Verification, FleetError> {
    let report = inventory::thing_report(client, thing).await?;
    let questions = permissions::own_checks(thing);
    let answers = permissions::evaluate_all(&report, &questions, time::OffsetDateTime::now_utc());
    let mut certificates = Vec::with_capacity(report.certificates.len());
    let mut service_unavailable: Option<String> = None;
    for certificate in &report.certificates {
        let id = &certificate.certificate.id;
        let allowed: Vec<String> = answers
            .iter()
            .filter(|a| &a.certificate == id && a.allowed)
            .map(|a| {
                format!(
                    "{} {} ({})",
                    a.action,
                    a.target,
                    a.decided_by.as_deref().unwrap_or("a statement")
                )
            })
            .collect();
        let service = match &service_unavailable {
            Some(reason) => ServiceCheck::NotAsked {
                reason: reason.clone(),
            },
            None => match ask_service(client, &report, certificate, &questions).await {
                Err(reason) => {
                    service_unavailable = Some(reason.clone());
                    ServiceCheck::NotAsked { reason }
                }
                Ok(allowed) if allowed.is_empty() => ServiceCheck::Denies,
                Ok(questions) => ServiceCheck::Allows { questions },
            },
        };
        certificates.push(CertificateCheck {
            certificate: id.clone(),
            status: certificate.certificate.status.as_aws().to_owned(),
            asked: questions.len(),
            allowed,
            isolated_by: certificate.isolated_by.clone(),
            service,
        });
    }
    Ok(Verification {
        verified: !certificates.is_empty() && certificates.iter().all(CertificateCheck::isolated),
        certificates,
        sessions: None,
    })
}

/// TestAuthorization for every question on one certificate, asked together (they share the
/// Thing's name as client id): the questions it allows, or why it could not be asked.
async fn ask_service(
    client: &FleetClient,
    report: &inventory::ThingReport,
    certificate: &inventory::CertificateReport,
    questions: &[(DeviceAction, String)],
) -> Result<Vec<String>, String> {
    let resources: Vec<(DeviceAction, String)> = questions
        .iter()
        .map(|(action, target)| (*action, permissions::resource_arn(report, *action, target)))
        .collect();
    let decisions = client
        .test_authorizations(&certificate.certificate.arn, &report.thing.name, &resources)
        .await
        .map_err(|e| e.to_string())?;
    Ok(questions
        .iter()
        .zip(decisions)
        .filter(|(_, decision)| decision == "ALLOWED")
        .map(|((action, target), _)| format!("{action} {target}"))
        .collect())
}
