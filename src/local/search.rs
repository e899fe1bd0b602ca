//! SearchIndex of the local IoT Core: fleet indexing's `AWS_Things` index over the registry, the
//! shadows and the broker's sessions, as if indexing were on with registry, shadow and
//! connectivity data. Queries are read by `crate::query` (its module documents the subset);
//! a malformed one is AWS's InvalidQueryException with the position of the fault. Results come
//! in Thing-name order; the page token is the last name returned.

use serde_json::{Map, Value, json};

use std::ops::ControlFlow;

use super::core::Core;
use super::presence::{Link, Presence};
use super::registry::{ApiError, ApiResult};
use super::shadow::{self, ShadowRecord};
use super::store::ThingRecord;
use crate::fleet::search::THING_INDEX;
use crate::query::parse::Section;
use crate::query::{Document, Field, Query, Scalar};

/// SearchIndex's largest page.
const MAX_PAGE: usize = 100;

/// A SearchIndex request's body.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    pub index_name: Option<String>,
    pub query_string: Option<String>,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
}

/// Answers SearchIndex, a slice of the fleet at a time (`Core::scan_things`).
pub fn search(core: &Core, request: &SearchRequest) -> ApiResult {
    let index = request.index_name.as_deref().unwrap_or(THING_INDEX);
    if index != THING_INDEX {
        return Err(ApiError::not_found(format!(
            "index {index} does not exist (the local IoT Core has {THING_INDEX} only)"
        )));
    }
    let text = request
        .query_string
        .as_deref()
        .ok_or_else(|| ApiError::invalid("queryString is required"))?;
    let query = Query::parse(text).map_err(|e| ApiError {
        status: 400,
        code: "InvalidQueryException",
        message: format!("{e}: {text}"),
    })?;
    let size = match request.max_results {
        None => MAX_PAGE,
        Some(n) if (1..=100).contains(&n) => usize::try_from(n).unwrap_or(MAX_PAGE),
        Some(n) => {
            return Err(ApiError::invalid(format!(
                "maxResults {n} is out of range: 1 to 100"
            )));
        }
    };
    let mut things = Vec::with_capacity(size);
    let mut last: Option<String> = None;
    let mut more = false;
    core.scan_things(request.next_token.as_deref(), |name, record| {
        let indexed = Indexed::new(name, record, &core.presence);
        if !query.matches(&indexed) {
            return ControlFlow::Continue(());
        }
        if things.len() == size {
            more = true;
            return ControlFlow::Break(());
        }
        things.push(indexed.document());
        last = Some(name.to_owned());
        ControlFlow::Continue(())
    });
    let mut out = json!({"things": things, "thingGroups": []});
    if more {
        out["nextToken"] = json!(last);
    }
    Ok(out)
}

/// A Thing as the index holds it, read from the registry and the broker's sessions.
struct Indexed<'a> {
    name: &'a str,
    thing: &'a ThingRecord,
    link: Option<Link>,
}

impl<'a> Indexed<'a> {
    fn new(name: &'a str, thing: &'a ThingRecord, presence: &Presence) -> Self {
        Self {
            name,
            thing,
            link: presence.link(name),
        }
    }

    fn shadow(&self, name: Option<&str>) -> Option<&'a ShadowRecord> {
        match name {
            None => self.thing.shadows.classic.as_ref(),
            Some(name) => self.thing.shadows.named.get(name),
        }
    }

    /// The ThingDocument SearchIndex returns (the shadow as a JSON string, as AWS sends it).
    fn document(&self) -> Value {
        let mut out = json!({
            "thingName": self.name,
            "thingId": self.thing.id,
            "thingGroupNames": self.thing.groups,
            "attributes": self.thing.attributes,
        });
        if let Some(thing_type) = &self.thing.thing_type {
            out["thingTypeName"] = json!(thing_type);
        }
        let mut shadow = self
            .thing
            .shadows
            .classic
            .as_ref()
            .map_or_else(Map::new, shadow_json);
        if !self.thing.shadows.named.is_empty() {
            let named: Map<String, Value> = self
                .thing
                .shadows
                .named
                .iter()
                .map(|(name, record)| (name.clone(), Value::Object(shadow_json(record))))
                .collect();
            shadow.insert("name".into(), Value::Object(named));
        }
        if !shadow.is_empty() {
            out["shadow"] = json!(Value::Object(shadow).to_string());
        }
        out["connectivity"] = match self.link {
            Some(link) => {
                let mut c = json!({"connected": link.connected, "timestamp": link.since_ms});
                if let Some(reason) = link.reason {
                    c["disconnectReason"] = json!(reason.as_aws());
                }
                c
            }
            None => json!({"connected": false}),
        };
        out
    }
}

fn shadow_json(record: &ShadowRecord) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(desired) = &record.desired {
        out.insert("desired".into(), Value::Object(desired.clone()));
    }
    if let Some(reported) = &record.reported {
        out.insert("reported".into(), Value::Object(reported.clone()));
    }
    let delta = shadow::delta(record);
    out.insert("hasDelta".into(), json!(delta.is_some()));
    if let Some(delta) = delta {
        out.insert("delta".into(), Value::Object(delta));
    }
    out.insert("version".into(), json!(record.version));
    out
}

impl Document for Indexed<'_> {
    fn any(&self, field: &Field, found: &mut dyn FnMut(Scalar<'_>) -> bool) -> bool {
        match field {
            Field::ThingName => found(Scalar::Text(self.name)),
            Field::ThingId => found(Scalar::Text(&self.thing.id)),
            Field::ThingTypeName => self
                .thing
                .thing_type
                .as_deref()
                .is_some_and(|t| found(Scalar::Text(t))),
            Field::ThingGroupNames => self.thing.groups.iter().any(|g| found(Scalar::Text(g))),
            Field::Attribute(name) => self
                .thing
                .attributes
                .get(name)
                .is_some_and(|v| found(Scalar::Text(v))),
            Field::Shadow {
                shadow,
                section,
                path,
            } => self.shadow(shadow.as_deref()).is_some_and(|record| {
                let delta;
                let map = match section {
                    Section::Reported => record.reported.as_ref(),
                    Section::Desired => record.desired.as_ref(),
                    Section::Delta => {
                        delta = shadow::delta(record);
                        delta.as_ref()
                    }
                };
                map.and_then(|m| lookup(m, path))
                    .is_some_and(|value| each_scalar(value, found))
            }),
            Field::HasDelta { shadow } => self
                .shadow(shadow.as_deref())
                .is_some_and(|record| found(Scalar::Bool(shadow::delta(record).is_some()))),
            Field::Connected => found(Scalar::Bool(self.link.is_some_and(|l| l.connected))),
            Field::ConnectivityTimestamp => self.link.is_some_and(|l| {
                #[expect(
                    clippy::cast_precision_loss,
                    reason = "epoch milliseconds fit a double exactly for millennia"
                )]
                let ms = l.since_ms as f64;
                found(Scalar::Number(ms))
            }),
            Field::DisconnectReason => self
                .link
                .and_then(|l| l.reason)
                .is_some_and(|r| found(Scalar::Text(r.as_aws()))),
            Field::Any => {
                found(Scalar::Text(self.name))
                    || self
                        .thing
                        .thing_type
                        .as_deref()
                        .is_some_and(|t| found(Scalar::Text(t)))
                    || self.thing.groups.iter().any(|g| found(Scalar::Text(g)))
                    || self
                        .thing
                        .attributes
                        .values()
                        .any(|v| found(Scalar::Text(v)))
                    || self.shadow(None).is_some_and(|record| {
                        [record.reported.as_ref(), record.desired.as_ref()]
                            .into_iter()
                            .flatten()
                            .any(|m| m.values().any(|v| each_scalar(v, found)))
                    })
            }
        }
    }
}

fn lookup<'v>(map: &'v Map<String, Value>, path: &[String]) -> Option<&'v Value> {
    let (first, rest) = path.split_first()?;
    let value = map.get(first)?;
    if rest.is_empty() {
        return Some(value);
    }
    lookup(value.as_object()?, rest)
}

/// Every scalar inside `value` (arrays and objects searched through).
fn each_scalar(value: &Value, found: &mut dyn FnMut(Scalar<'_>) -> bool) -> bool {
    match value {
        Value::String(s) => found(Scalar::Text(s)),
        Value::Number(n) => n.as_f64().is_some_and(|n| found(Scalar::Number(n))),
        Value::Bool(b) => found(Scalar::Bool(*b)),
        Value::Array(items) => items.iter().any(|v| each_scalar(v, found)),
        Value::Object(map) => map.values().any(|v| each_scalar(v, found)),
        Value::Null => false,
    }
}
