//! Runs effects as tokio tasks: each calls the fleet client and sends its result back as a
//! message. Tasks never touch `State`. At most eight requests are in flight, so scrolling
//! through a large fleet cannot flood the account's API limits.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};

use super::quarantine::Event;
use super::update::{Effect, FleetEvent, Msg};
use crate::fleet::journal::Journal;
use crate::fleet::quarantine::Options;
use crate::fleet::quarantine::run::{self, Progress, Verb};
use crate::fleet::{FleetClient, FleetError, ThingQuery};
use crate::fleet::{audit, inventory, permissions};

const CONCURRENT_REQUESTS: usize = 8;

#[derive(Debug, Clone)]
pub struct Runner {
    client: FleetClient,
    events: mpsc::UnboundedSender<Msg>,
    permits: Arc<Semaphore>,
    /// Where mutations are journaled (None: the default journal).
    journal: Option<std::path::PathBuf>,
}

fn text<T>(result: Result<T, FleetError>) -> Result<T, String> {
    result.map_err(|e| e.to_string())
}

impl Runner {
    #[must_use]
    pub fn new(
        client: FleetClient,
        events: mpsc::UnboundedSender<Msg>,
        journal: Option<std::path::PathBuf>,
    ) -> Self {
        Self {
            client,
            events,
            permits: Arc::new(Semaphore::new(CONCURRENT_REQUESTS)),
            journal,
        }
    }

    #[must_use]
    pub fn client(&self) -> &FleetClient {
        &self.client
    }

    /// Starts a request effect. Copy and theme effects are the console's own, not tasks.
    pub fn spawn(&self, effect: Effect) {
        let client = self.client.clone();
        let events = self.events.clone();
        let permits = self.permits.clone();
        let journal = self.journal.clone();
        tokio::spawn(async move {
            let send = |event: FleetEvent| {
                let _ = events.send(Msg::Fleet(Box::new(event)));
            };
            if let Effect::ListThings { generation } = effect {
                // A listing streams page by page; each page takes a permit of its own.
                let mut pages = client.list_things(ThingQuery::default());
                loop {
                    let permit = permits.acquire().await;
                    let Some(page) = pages.next_page().await else {
                        break;
                    };
                    drop(permit);
                    let last = page.as_ref().map_or(true, |p| !p.more);
                    send(FleetEvent::ThingsPage {
                        generation,
                        result: text(page),
                    });
                    if last {
                        break;
                    }
                }
                return;
            }
            let _permit = permits.acquire().await;
            if let Some(event) = request(&client, journal, &events, effect).await {
                send(event);
            }
        });
    }
}

/// Makes the request an effect asks for; None for the console's own effects.
async fn request(
    client: &FleetClient,
    journal: Option<std::path::PathBuf>,
    events: &mpsc::UnboundedSender<Msg>,
    effect: Effect,
) -> Option<FleetEvent> {
    Some(match effect {
        // The console's own effects, not requests.
        Effect::ListThings { .. }
        | Effect::Copy(_)
        | Effect::SetTheme(_)
        | Effect::TrafficConnect
        | Effect::Subscribe(_)
        | Effect::Unsubscribe(_)
        | Effect::Publish { .. }
        | Effect::OpenEditor(_)
        | Effect::ExternalEditor(_) => return None,
        Effect::UpdateShadow {
            thing,
            name,
            desired,
            version,
            before,
        } => {
            let target = ShadowTarget {
                thing,
                name,
                version,
            };
            update_shadow(client, journal.as_deref(), target, desired, before).await
        }
        Effect::AskAws {
            thing,
            action,
            target,
        } => {
            let result = match inventory::thing_report(client, &thing).await {
                Ok(report) => Ok(permissions::ask_aws(client, &report, action, &target).await),
                Err(error) => Err(error.to_string()),
            };
            FleetEvent::AwsAnswered { thing, result }
        }
        effect @ (Effect::LoadAudit
        | Effect::LoadQuarantined
        | Effect::PlanQuarantine { .. }
        | Effect::RunQuarantine(_)) => quarantine_or_audit(client, journal, events, effect).await,
        Effect::ListCertificates { generation } => FleetEvent::Certificates {
            generation,
            result: text(client.list_certificates().await),
        },
        Effect::ListPolicies { generation } => FleetEvent::Policies {
            generation,
            result: text(client.list_policies().await),
        },
        Effect::LoadPrincipals(thing) => {
            let result = text(client.thing_principals(&thing).await);
            FleetEvent::Principals { thing, result }
        }
        Effect::DescribeCertificate(id) => {
            let result = text(client.describe_certificate(&id).await);
            FleetEvent::Certificate { id, result }
        }
        Effect::LoadCertificateThings(arn) => {
            let result = text(client.principal_things(&arn).await);
            FleetEvent::CertificateThings { arn, result }
        }
        Effect::LoadAccount => FleetEvent::Account(text(client.account().await)),
        Effect::LoadThingReport(name) => {
            let result = text(inventory::thing_report(client, &name).await);
            FleetEvent::ThingReport { name, result }
        }
        Effect::LoadShadow { thing, name } => {
            let result = text(client.get_shadow(&thing, name.as_deref()).await);
            FleetEvent::Shadow {
                thing,
                name,
                result,
            }
        }
        Effect::LoadThingShadows(name) => {
            let result = text(shadow_names(client, &name).await);
            FleetEvent::ThingShadows { name, result }
        }
        Effect::LoadCertificateReport(id) => {
            let result = text(inventory::certificate_report(client, &id).await);
            FleetEvent::CertificateReport { id, result }
        }
        Effect::LoadPolicyReport(name) => {
            let result = text(inventory::policy_report(client, &name).await);
            FleetEvent::PolicyReport { name, result }
        }
    })
}

/// The quarantine and audit effects.
async fn quarantine_or_audit(
    client: &FleetClient,
    journal: Option<std::path::PathBuf>,
    events: &mpsc::UnboundedSender<Msg>,
    effect: Effect,
) -> FleetEvent {
    match effect {
        Effect::LoadAudit => FleetEvent::Audit(text(
            audit::audit(
                client,
                &Journal::new(journal, client.backend()),
                !client.backend().local,
            )
            .await,
        )),
        Effect::LoadQuarantined => {
            let result = text(inventory::quarantined_things(client).await);
            FleetEvent::Quarantine(Event::Quarantined(
                result.map(|things| things.into_iter().collect()),
            ))
        }
        Effect::PlanQuarantine {
            verb,
            thing,
            options,
        } => {
            let journal = Journal::new(journal, client.backend());
            plan_quarantine(client, &journal, verb, thing, options).await
        }
        Effect::RunQuarantine(prepared) => {
            let journal = Journal::new(journal, client.backend());
            let thing = prepared.plan.thing.clone();
            let mut progress = reporter(events.clone(), thing.clone());
            let result = run::execute(client, &journal, *prepared, &mut progress).await;
            FleetEvent::Quarantine(Event::Done {
                thing,
                result: result.map(Box::new).map_err(|e| e.to_string()),
            })
        }
        _ => unreachable!("only quarantine and audit effects come here"),
    }
}

async fn plan_quarantine(
    client: &FleetClient,
    journal: &Journal,
    verb: Verb,
    thing: String,
    options: Options,
) -> FleetEvent {
    let result = match verb {
        Verb::Quarantine => run::prepare_quarantine(client, &thing, options, None).await,
        Verb::Release => run::prepare_release(client, journal, &thing).await,
    };
    FleetEvent::Quarantine(Event::Planned {
        thing,
        result: result.map(Box::new).map_err(|e| e.to_string()),
    })
}

/// Sends each step of a quarantine run to the console as it starts and completes.
fn reporter(
    events: mpsc::UnboundedSender<Msg>,
    thing: String,
) -> impl FnMut(Progress<'_>) -> Result<(), String> + Send {
    move |progress| {
        let (index, detail) = match progress {
            Progress::Starting { index, .. } => (index, None),
            Progress::Called { index, detail, .. } => (index, Some(detail.to_owned())),
        };
        let event = Event::Progress {
            thing: thing.clone(),
            index,
            detail,
        };
        let _ = events.send(Msg::Fleet(Box::new(FleetEvent::Quarantine(event))));
        Ok(())
    }
}

/// "classic" (when the Thing has one) and its named shadows.
async fn shadow_names(client: &FleetClient, thing: &str) -> Result<Vec<String>, FleetError> {
    let (classic, named) =
        tokio::join!(client.get_shadow(thing, None), client.named_shadows(thing));
    let mut all = match classic {
        Ok(_) => vec!["classic".to_owned()],
        Err(FleetError::NotFound { .. }) => Vec::new(),
        Err(error) => return Err(error),
    };
    all.extend(named?);
    Ok(all)
}

/// Applies a reviewed edit and journals it (with what desired was before); a version conflict
/// is told apart so the console can keep the edit and show the newer shadow.
/// The shadow an update is for, and the version it was based on.
struct ShadowTarget {
    thing: String,
    name: Option<String>,
    version: Option<u64>,
}

async fn update_shadow(
    client: &FleetClient,
    journal_file: Option<&Path>,
    target: ShadowTarget,
    desired: serde_json::Value,
    before: serde_json::Value,
) -> FleetEvent {
    let ShadowTarget {
        thing,
        name,
        version,
    } = target;
    let (thing, name) = (thing.as_str(), name.as_deref());
    let mut body = serde_json::json!({"state": {"desired": desired}});
    if let Some(version) = version {
        body["version"] = version.into();
    }
    let outcome = client.update_shadow(thing, name, &body).await;
    let journaled = Journal::new(journal_file.map(Path::to_path_buf), client.backend()).write(
        "shadow update",
        &match name {
            Some(name) => format!("{thing}/{name}"),
            None => thing.to_owned(),
        },
        serde_json::json!({"desired": before, "version": version}),
        outcome
            .as_ref()
            .map_or(serde_json::Value::Null, Clone::clone),
        &match &outcome {
            Ok(_) => "ok".to_owned(),
            Err(error) => format!("error: {error}"),
        },
    );
    let result = match outcome {
        Ok(accepted) => Ok(accepted),
        Err(error @ FleetError::Conflict { .. }) => Err((true, error.to_string())),
        Err(error) => Err((false, error.to_string())),
    };
    FleetEvent::ShadowUpdated {
        result,
        journal_error: journaled.err().map(|e| e.to_string()),
    }
}
