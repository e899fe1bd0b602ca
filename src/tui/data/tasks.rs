//! Runs effects as tokio tasks: each calls the fleet client and sends its result back as a
//! message. Tasks never touch `State`. At most eight requests are in flight, so scrolling
//! through a large fleet cannot flood the account's API limits.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};

use crate::fleet::journal::Journal;
use crate::fleet::mutation::{self, Change, Mutations};
use crate::fleet::quarantine::run::{self, Prepared, Progress, Verb};
use crate::fleet::quarantine::{Options, PlanError, batch, register};
use crate::fleet::{FleetClient, FleetError, ThingQuery};
use crate::fleet::{audit, denied, inventory, permissions};
use crate::tui::msg::{FleetEvent, Msg, QuarantineEvent, Request, SearchFailure};

const CONCURRENT_REQUESTS: usize = 8;

/// How the console's mutations are checked and journaled (`fleet::mutation`).
#[derive(Debug, Clone, Default)]
pub struct MutationSettings {
    pub read_only: bool,
    /// The journal's file (None: the default journal).
    pub journal: Option<PathBuf>,
}

impl MutationSettings {
    async fn open(&self, client: &FleetClient) -> Result<Mutations, String> {
        Mutations::for_client(self.read_only, self.journal.clone(), client)
            .await
            .map_err(|e| format!("cannot tell whom to journal the change under: {e}"))
    }

    async fn journal(&self, client: &FleetClient) -> Result<Journal, FleetError> {
        mutation::journal_for(self.journal.clone(), client).await
    }
}

#[derive(Debug, Clone)]
pub struct Runner {
    client: FleetClient,
    events: mpsc::UnboundedSender<Msg>,
    permits: Arc<Semaphore>,
    mutations: MutationSettings,
}

fn text<T>(result: Result<T, FleetError>) -> Result<T, String> {
    result.map_err(|e| e.to_string())
}

impl Runner {
    #[must_use]
    pub fn new(
        client: FleetClient,
        events: mpsc::UnboundedSender<Msg>,
        mutations: MutationSettings,
    ) -> Self {
        Self {
            client,
            events,
            permits: Arc::new(Semaphore::new(CONCURRENT_REQUESTS)),
            mutations,
        }
    }

    /// Publishes a confirmed message through the mutation path (journaled first, off the
    /// event loop); a problem comes back as `FleetEvent::Published`.
    pub fn publish(
        &self,
        traffic: crate::fleet::traffic::client::TrafficHandle,
        broker: String,
        topic: String,
        payload: String,
        qos: u8,
    ) {
        let client = self.client.clone();
        let settings = self.mutations.clone();
        let events = self.events.clone();
        tokio::spawn(async move {
            let size = payload.len();
            let outcome = match settings.open(&client).await {
                Err(error) => Err(error),
                Ok(mutations) => {
                    let change = Change {
                        what: format!("publish would send a message to {topic}"),
                        action: "publish",
                        target: &topic,
                        before: serde_json::Value::Null,
                        intended: serde_json::json!({"qos": qos, "size": size, "broker": broker}),
                    };
                    match mutations.begin(change) {
                        Err(error) => Err(error.to_string()),
                        Ok(intent) => {
                            let sent = traffic.publish(&topic, payload.into(), qos, false);
                            let result = match &sent {
                                Ok(()) => "sent".to_owned(),
                                Err(error) => format!("error: {error}"),
                            };
                            match (sent, intent.finish(serde_json::Value::Null, &result)) {
                                (Err(error), _) => Err(error),
                                (Ok(()), Err(error)) => Err(format!(
                                    "sent, but the journal could not record it: {error}"
                                )),
                                (Ok(()), Ok(())) => Ok(()),
                            }
                        }
                    }
                }
            };
            let _ = events.send(Msg::Fleet(Box::new(FleetEvent::Published {
                topic,
                error: outcome.err(),
            })));
        });
    }

    #[must_use]
    pub fn client(&self) -> &FleetClient {
        &self.client
    }

    /// The same runner on another connection, its answers sent to `events`.
    #[must_use]
    pub fn with_client(&self, client: FleetClient, events: mpsc::UnboundedSender<Msg>) -> Self {
        Self::new(client, events, self.mutations.clone())
    }

    /// Starts a request in a task; its result comes back as a `FleetEvent`.
    pub fn spawn(&self, request: Request) {
        let client = self.client.clone();
        let events = self.events.clone();
        let permits = self.permits.clone();
        let mutations = self.mutations.clone();
        tokio::spawn(async move {
            if let Some(event) = answer(&client, &mutations, &events, &permits, request).await {
                let _ = events.send(Msg::Fleet(Box::new(event)));
            }
        });
    }
}

/// Makes a request and returns what it brought, within the bound on requests in flight; the
/// Things listing streams its pages itself (each page takes a permit of its own).
#[expect(
    clippy::too_many_lines,
    reason = "one exhaustive match, an arm of a few lines per request"
)]
async fn answer(
    client: &FleetClient,
    mutations: &MutationSettings,
    events: &mpsc::UnboundedSender<Msg>,
    permits: &Semaphore,
    request: Request,
) -> Option<FleetEvent> {
    let _permit = if matches!(request, Request::ListThings { .. }) {
        None
    } else {
        Some(permits.acquire().await)
    };
    Some(match request {
        Request::ListThings { generation } => {
            list_things(client, events, permits, generation).await;
            return None;
        }
        Request::UpdateShadow {
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
            update_shadow(client, mutations, target, desired, before).await
        }
        Request::AskAws {
            thing,
            action,
            target,
        } => ask_aws(client, thing, action, &target).await,
        Request::LoadAudit => FleetEvent::Audit(run_audit(client, mutations).await),
        Request::LoadIsolations => {
            FleetEvent::Isolations(text(match mutations.journal(client).await {
                Ok(journal) => register::register(client, &journal).await,
                Err(error) => Err(error),
            }))
        }
        Request::LoadRefusals { start_ms } => FleetEvent::Refusals(
            client
                .log_failures(start_ms, Some(denied::MAX_PAGES_PER_POLL))
                .await
                .map_err(|e| e.refusals_unknown(&client.backend().region)),
        ),
        Request::LoadViolations => FleetEvent::Violations(
            client
                .violations(None)
                .await
                .map_err(|e| e.violations_unknown()),
        ),
        Request::LoadQuarantined => {
            let result = match mutations.journal(client).await {
                Ok(journal) => text(register::statuses(client, &journal).await),
                Err(error) => Err(error.to_string()),
            };
            FleetEvent::Quarantine(QuarantineEvent::Quarantined(result.map(Box::new)))
        }
        Request::PlanQuarantine {
            verb,
            thing,
            options,
        } => match mutations.journal(client).await {
            Ok(journal) => plan_quarantine(client, &journal, verb, thing, options).await,
            Err(error) => FleetEvent::Quarantine(QuarantineEvent::Planned {
                thing,
                result: Err(error.to_string()),
            }),
        },
        Request::RunQuarantine(prepared) => {
            run_quarantine(client, mutations, events, *prepared).await
        }
        Request::PlanBulk {
            verb,
            things,
            options,
        } => FleetEvent::Quarantine(QuarantineEvent::BulkPlanned(
            plan_bulk(client, mutations, verb, things, options).await,
        )),
        Request::RunBulk { plan, options } => FleetEvent::Quarantine(QuarantineEvent::BulkDone(
            run_bulk(client, mutations, events, *plan, options).await,
        )),
        Request::ListCertificates { generation } => FleetEvent::Certificates {
            generation,
            result: text(client.list_certificates().await),
        },
        Request::ListPolicies { generation } => FleetEvent::Policies {
            generation,
            result: text(client.list_policies().await),
        },
        Request::LoadPrincipals(thing) => {
            let result = text(client.thing_principals(&thing).await);
            FleetEvent::Principals { thing, result }
        }
        Request::DescribeCertificate(id) => {
            let result = text(client.describe_certificate(&id).await);
            FleetEvent::Certificate { id, result }
        }
        Request::LoadCertificateThings(arn) => {
            let result = text(client.principal_things(&arn).await);
            FleetEvent::CertificateThings { arn, result }
        }
        Request::LoadAccount => FleetEvent::Account(text(client.account().await)),
        Request::Search { query } => {
            use crate::fleet::search::SearchError;
            let result = client.search_things(&query).collect_all().await;
            let result = result
                .map(|things| things.into_iter().map(|t| t.name).collect())
                .map_err(|error| match error {
                    SearchError::NoIndex { .. } => SearchFailure::NoIndex(error.to_string()),
                    SearchError::InvalidQuery { .. } => SearchFailure::Invalid(
                        // One line: the caret cannot sit under the query on the status line.
                        error
                            .to_string()
                            .lines()
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                    ),
                    SearchError::Fleet(_) => SearchFailure::Other(error.to_string()),
                });
            FleetEvent::Searched { query, result }
        }
        Request::GroupMembers { group } => FleetEvent::GroupMembers {
            result: text(client.things_in_group(&group).await),
            group,
        },
        Request::LoadThingReport(name) => {
            let result = text(inventory::thing_report(client, &name).await);
            FleetEvent::ThingReport { name, result }
        }
        Request::LoadShadow { thing, name } => {
            let result = text(client.get_shadow(&thing, name.as_deref()).await);
            FleetEvent::Shadow {
                thing,
                name,
                result,
            }
        }
        Request::LoadHistory(resource) => {
            let history = match mutations.journal(client).await {
                Ok(journal) => crate::fleet::history::history(client, &journal, &resource).await,
                Err(error) => crate::fleet::history::History {
                    journal_unknown: Some(format!("the journal could not be opened: {error}")),
                    ..Default::default()
                },
            };
            FleetEvent::History {
                resource,
                history: Box::new(history),
            }
        }
        Request::LoadThingRules(name) => {
            let topics = crate::fleet::rules::device_topics(&name);
            let result = text(client.rules_reading(&topics).await);
            FleetEvent::ThingRules { name, result }
        }
        Request::LoadThingShadows(name) => {
            let result = text(shadow_names(client, &name).await);
            FleetEvent::ThingShadows { name, result }
        }
        Request::LoadCertificateReport(id) => {
            let result = text(inventory::certificate_report(client, &id).await);
            FleetEvent::CertificateReport { id, result }
        }
        Request::LoadPolicyReport(name) => {
            let result = text(inventory::policy_report(client, &name).await);
            FleetEvent::PolicyReport { name, result }
        }
        Request::LoadConnectivity(thing) => {
            let result = client.connectivity(&thing).await;
            let result = result.map_err(|e| e.connectivity_unknown());
            FleetEvent::Connectivity { thing, result }
        }
    })
}

/// Sends the Things listing page by page as it arrives.
async fn list_things(
    client: &FleetClient,
    events: &mpsc::UnboundedSender<Msg>,
    permits: &Semaphore,
    generation: u64,
) {
    let mut pages = client.list_things(ThingQuery::default());
    loop {
        let permit = permits.acquire().await;
        let Some(page) = pages.next_page().await else {
            break;
        };
        drop(permit);
        let last = page.as_ref().map_or(true, |p| !p.more);
        let event = FleetEvent::ThingsPage {
            generation,
            result: text(page),
        };
        if events.send(Msg::Fleet(Box::new(event))).is_err() || last {
            break;
        }
    }
}

/// The audit over the whole fleet (it reads the journal for open quarantines).
async fn run_audit(
    client: &FleetClient,
    mutations: &MutationSettings,
) -> Result<audit::AuditReport, String> {
    text(match mutations.journal(client).await {
        Ok(journal) => audit::audit(client, &journal, !client.backend().local).await,
        Err(error) => Err(error),
    })
}

/// Asks AWS (TestAuthorization) what the local engine was asked about a Thing.
async fn ask_aws(
    client: &FleetClient,
    thing: String,
    action: permissions::DeviceAction,
    target: &str,
) -> FleetEvent {
    let result = match inventory::thing_report(client, &thing).await {
        Ok(report) => Ok(permissions::ask_aws(client, &report, action, target).await),
        Err(error) => Err(error.to_string()),
    };
    FleetEvent::AwsAnswered { thing, result }
}

/// Carries out a confirmed quarantine or release, reporting each step as it goes.
async fn run_quarantine(
    client: &FleetClient,
    mutations: &MutationSettings,
    events: &mpsc::UnboundedSender<Msg>,
    prepared: Prepared,
) -> FleetEvent {
    let thing = prepared.plan.thing.clone();
    let result = match mutations.open(client).await {
        Ok(mutations) => {
            let mut progress = reporter(events.clone(), thing.clone());
            run::execute(client, &mutations, prepared, &mut progress)
                .await
                .map_err(|e| e.to_string())
        }
        Err(error) => Err(error),
    };
    FleetEvent::Quarantine(QuarantineEvent::Done {
        thing,
        result: result.map(Box::new),
    })
}

async fn plan_quarantine(
    client: &FleetClient,
    journal: &Journal,
    verb: Verb,
    thing: String,
    options: Options,
) -> FleetEvent {
    let result = match verb {
        Verb::Quarantine => {
            match run::prepare_quarantine(client, journal, &thing, options, None).await {
                Ok(mut prepared) => {
                    run::name_impact(client, &mut prepared).await;
                    Ok(prepared)
                }
                Err(error) => Err(error),
            }
        }
        // A release that would free another Thing's open quarantine is planned together with
        // it; the popup then asks for the Thing's name typed, not `y`.
        Verb::Release => match run::prepare_release(client, journal, &thing, false).await {
            Err(run::QuarantineError::Plan(PlanError::SharedRelease { .. })) => {
                run::prepare_release(client, journal, &thing, true).await
            }
            other => other,
        },
    };
    FleetEvent::Quarantine(QuarantineEvent::Planned {
        thing,
        result: result.map(Box::new).map_err(|e| e.to_string()),
    })
}

/// Plans the quarantine or release of the marked Things as one batch.
async fn plan_bulk(
    client: &FleetClient,
    mutations: &MutationSettings,
    verb: Verb,
    things: Vec<String>,
    options: Options,
) -> Result<Box<batch::BatchPlan>, String> {
    let journal = mutations.journal(client).await.map_err(|e| e.to_string())?;
    let plan = match verb {
        Verb::Quarantine => {
            batch::plan_quarantine(client, &journal, things, options, batch::Why::default()).await
        }
        Verb::Release => batch::plan_release_things(client, &journal, things, false).await,
    };
    plan.map(Box::new).map_err(|e| e.to_string())
}

/// Carries out a confirmed batch, reporting each Thing as it finishes.
async fn run_bulk(
    client: &FleetClient,
    mutations: &MutationSettings,
    events: &mpsc::UnboundedSender<Msg>,
    plan: batch::BatchPlan,
    options: Options,
) -> Result<Box<batch::BatchReport>, String> {
    let mutations = mutations.open(client).await?;
    let events = events.clone();
    let mut progress = move |p: batch::BatchProgress<'_>| {
        let event = QuarantineEvent::BulkProgress {
            done: p.done,
            total: p.total,
            last: p.last.clone(),
        };
        let _ = events.send(Msg::Fleet(Box::new(FleetEvent::Quarantine(event))));
    };
    batch::execute(client, &mutations, plan, options, &mut progress)
        .await
        .map(Box::new)
        .map_err(|e| e.to_string())
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
        let event = QuarantineEvent::Progress {
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
    settings: &MutationSettings,
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
    let shown = match name {
        Some(name) => format!("{thing}/{name}"),
        None => thing.to_owned(),
    };
    let mutations = match settings.open(client).await {
        Ok(mutations) => mutations,
        Err(error) => {
            return FleetEvent::ShadowUpdated {
                result: Err((false, error)),
                journal_error: None,
            };
        }
    };
    let intent = mutations.begin(Change {
        what: format!("shadow update would change {shown}"),
        action: "shadow update",
        target: &shown,
        before: serde_json::json!({"desired": before, "version": version}),
        intended: body.clone(),
    });
    let (outcome, journal_error) = match intent {
        Err(error) => (Err((false, error.to_string())), None),
        Ok(intent) => {
            let answer = client.update_shadow(thing, name, &body).await;
            let (after, result) = match &answer {
                Ok(accepted) => (accepted.clone(), "ok".to_owned()),
                Err(error) => (serde_json::Value::Null, format!("error: {error}")),
            };
            let journaled = intent.finish(after, &result);
            let outcome = answer.map_err(|error| {
                let conflict = matches!(error, FleetError::Conflict { .. });
                (conflict, error.to_string())
            });
            (outcome, journaled.err().map(|e| e.to_string()))
        }
    };
    FleetEvent::ShadowUpdated {
        result: outcome,
        journal_error,
    }
}
