//! Who changed it: a Thing's, certificate's or policy's control-plane history, from CloudTrail's
//! LookupEvents (the events naming it as a resource, newest first, the last 90 days CloudTrail
//! keeps), merged with iotfleet's own journal entries about it, each marked with where it came
//! from. CloudTrail lists an event under a resource only when the event names it; the local core
//! records the calls it serves the same way.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::client::{FleetClient, PageToken, to_time};
use super::error::{FleetError, Operation};
use super::journal::Journal;

/// LookupEvents' largest page, and how many pages one look reads at most.
const PAGE: i32 = 50;
const MAX_PAGES: usize = 4;

/// Where an event was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    CloudTrail,
    Journal,
}

impl Source {
    #[must_use]
    pub fn word(self) -> &'static str {
        match self {
            Self::CloudTrail => "cloudtrail",
            Self::Journal => "journal",
        }
    }
}

/// One change to the resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// Who: the IAM user or role and access key (CloudTrail), the identity (journal).
    pub who: String,
    /// What: the API call (`AttachPolicy`), or iotfleet's action (`quarantine`).
    pub what: String,
    /// Its parameters, as `key=value` pairs (CloudTrail), or the result (journal).
    pub detail: String,
    pub source: Source,
    /// CloudTrail's event id (an event found under two resources is shown once).
    #[serde(skip)]
    pub id: Option<String>,
}

/// The history of one resource: events newest first, and what could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct History {
    pub events: Vec<Event>,
    /// Why CloudTrail could not be read, when it could not.
    pub trail_unknown: Option<String>,
    /// Why the journal could not be read, when it could not.
    pub journal_unknown: Option<String>,
    /// CloudTrail had more than the pages read.
    pub truncated: bool,
}

impl FleetError {
    /// Why CloudTrail's history could not be read, said plainly.
    #[must_use]
    pub fn history_unknown(&self) -> String {
        match self {
            Self::Service { action, code, .. } if code.is_empty() => format!(
                "CloudTrail history unknown: this endpoint does not answer LookupEvents ({action} failed without an AWS error)"
            ),
            _ => format!("CloudTrail history unknown: {self}"),
        }
    }
}

/// The history of `resource` (a Thing name, certificate id or policy name): CloudTrail's events
/// and the journal's entries about it, newest first. A Thing's history holds its certificates'
/// too: a quarantine's calls name the certificates, not the Thing. What cannot be read is said,
/// the rest shown.
pub async fn history(client: &FleetClient, journal: &Journal, resource: &str) -> History {
    let mut history = History::default();
    let mut resources = vec![resource.to_owned()];
    match client.thing_principals(resource).await {
        Ok(principals) => resources.extend(
            principals
                .iter()
                .filter_map(|arn| arn.split_once(":cert/").map(|(_, id)| id.to_owned())),
        ),
        // Not a Thing: a certificate or a policy.
        Err(FleetError::NotFound { .. }) => {}
        Err(error) => history.trail_unknown = Some(format!("its certificates unknown: {error}")),
    }
    let mut seen = std::collections::BTreeSet::new();
    for name in &resources {
        match client.trail_events(name).await {
            Ok((events, truncated)) => {
                history.truncated |= truncated;
                history.events.extend(
                    events
                        .into_iter()
                        .filter(|e| e.id.as_ref().is_none_or(|id| seen.insert(id.clone()))),
                );
            }
            Err(error) => {
                history.trail_unknown = Some(error.history_unknown());
                break;
            }
        }
    }
    match journal_events(journal, &resources) {
        Ok(events) => history.events.extend(events),
        Err(error) => {
            history.journal_unknown = Some(format!("the journal could not be read: {error}"));
        }
    }
    history.events.sort_by_key(|e| std::cmp::Reverse(e.time));
    history
}

/// The journal's entries about `resources`: aimed at one, or naming one (a quarantine names its
/// certificates and policies).
fn journal_events(journal: &Journal, resources: &[String]) -> std::io::Result<Vec<Event>> {
    Ok(journal
        .entries(None)?
        .into_iter()
        .filter(|entry| {
            let text = entry.to_string();
            resources
                .iter()
                .any(|r| entry["target"] == r.as_str() || text.contains(r.as_str()))
        })
        .filter_map(|entry| {
            let time = entry["time"].as_str().and_then(|t| {
                OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            })?;
            let text = |key: &str| entry[key].as_str().unwrap_or_default().to_owned();
            // Who, as the service knows them too: the same caller CloudTrail names.
            let who = match entry["actor"].as_str() {
                Some(actor) => format!("{} as {actor}", text("identity")),
                None => text("identity"),
            };
            let mut detail = format!("{} on {}", text("result"), text("target"));
            if let Some(reason) = entry["after"]["reason"].as_str() {
                let _ = write!(detail, ": {reason}");
            }
            if let Some(hold) = entry["after"]["hold"].as_str() {
                let _ = write!(detail, " [{hold}]");
            }
            Some(Event {
                time,
                who,
                what: text("action"),
                detail,
                source: Source::Journal,
                id: None,
            })
        })
        .collect())
}

impl FleetClient {
    /// CloudTrail's events naming `resource`, newest first, at most `MAX_PAGES` pages; true when
    /// there were more.
    pub async fn trail_events(&self, resource: &str) -> Result<(Vec<Event>, bool), FleetError> {
        use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
        let operation = Operation::new("cloudtrail:LookupEvents");
        let attribute = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::ResourceName)
            .attribute_value(resource)
            .build()
            .map_err(|e| FleetError::InvalidResponse {
                action: operation.action,
                detail: e.to_string(),
            })?;
        let mut events = Vec::new();
        let mut token = PageToken::default();
        for _ in 0..MAX_PAGES {
            let out = self
                .trail()
                .lookup_events()
                .lookup_attributes(attribute.clone())
                .max_results(PAGE)
                .set_next_token(token.next.clone())
                .send()
                .await
                .map_err(|e| self.fail(&operation, e))?;
            events.extend(
                out.events
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(from_trail),
            );
            token.advance(out.next_token, operation.action)?;
            if token.finished {
                return Ok((events, false));
            }
        }
        Ok((events, true))
    }
}

fn from_trail(event: aws_sdk_cloudtrail::types::Event) -> Option<Event> {
    let time = event.event_time.and_then(to_time)?;
    let detail: Value = event
        .cloud_trail_event
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    let user = event.username.unwrap_or_else(|| {
        detail["userIdentity"]["arn"]
            .as_str()
            .unwrap_or("unknown")
            .to_owned()
    });
    let who = match event.access_key_id {
        Some(key) if !key.is_empty() => format!("{user} ({key})"),
        _ => user,
    };
    let parameters = match &detail["requestParameters"] {
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| match value {
                Value::String(text) => format!("{key}={text}"),
                other => format!("{key}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    };
    let failed = detail["errorCode"]
        .as_str()
        .map(|code| format!(" (failed: {code})"))
        .unwrap_or_default();
    Some(Event {
        time,
        who,
        what: event.event_name.unwrap_or_default(),
        detail: format!("{parameters}{failed}"),
        source: Source::CloudTrail,
        id: event.event_id,
    })
}
