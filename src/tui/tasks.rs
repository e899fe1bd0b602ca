//! Runs effects as tokio tasks: each calls the fleet client and sends its result back as a
//! message. Tasks never touch `State`. At most eight requests are in flight, so scrolling
//! through a large fleet cannot flood the account's API limits.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};

use super::update::{Effect, FleetEvent, Msg};
use crate::fleet::inventory;
use crate::fleet::{FleetClient, FleetError, ThingQuery};

const CONCURRENT_REQUESTS: usize = 8;

#[derive(Debug, Clone)]
pub struct Runner {
    client: FleetClient,
    events: mpsc::UnboundedSender<Msg>,
    permits: Arc<Semaphore>,
}

fn text<T>(result: Result<T, FleetError>) -> Result<T, String> {
    result.map_err(|e| e.to_string())
}

impl Runner {
    #[must_use]
    pub fn new(client: FleetClient, events: mpsc::UnboundedSender<Msg>) -> Self {
        Self {
            client,
            events,
            permits: Arc::new(Semaphore::new(CONCURRENT_REQUESTS)),
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
            let event = match effect {
                // The console's own effects, not requests.
                Effect::ListThings { .. }
                | Effect::Copy(_)
                | Effect::SetTheme(_)
                | Effect::TrafficConnect
                | Effect::Subscribe(_)
                | Effect::Unsubscribe(_)
                | Effect::Publish { .. } => return,
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
                    let result = text(inventory::thing_report(&client, &name).await);
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
                    let result = text(shadow_names(&client, &name).await);
                    FleetEvent::ThingShadows { name, result }
                }
                Effect::LoadCertificateReport(id) => {
                    let result = text(inventory::certificate_report(&client, &id).await);
                    FleetEvent::CertificateReport { id, result }
                }
                Effect::LoadPolicyReport(name) => {
                    let result = text(inventory::policy_report(&client, &name).await);
                    FleetEvent::PolicyReport { name, result }
                }
            };
            send(event);
        });
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
