//! The Device Shadow MQTT topics, served by the one shadow engine: a request published to
//! `$aws/things/T/shadow[/name/N]/{get,update,delete}` becomes the messages AWS IoT publishes in
//! answer (`/accepted`, `/rejected`, `update/delta`, `update/documents`), and an update made over
//! REST produces the same messages. Pure: the broker publishes what these functions return.

use serde_json::{Map, Value, json};

use super::super::data_plane;
use super::super::registry::{ApiError, Call};
use super::super::shadow::{self, Accepted, ShadowRecord};
use super::super::store::FleetState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Get,
    Update,
    Delete,
}

/// A request topic, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShadowRequest<'a> {
    pub thing: &'a str,
    pub name: Option<&'a str>,
    pub operation: Operation,
}

/// A message the shadow service publishes.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    pub topic: String,
    pub payload: Value,
}

/// Parses a shadow request topic; None for every other topic (answers included).
#[must_use]
pub fn parse_request(topic: &str) -> Option<ShadowRequest<'_>> {
    let rest = topic.strip_prefix("$aws/things/")?;
    let levels: Vec<&str> = rest.split('/').collect();
    let (thing, name, operation) = match levels.as_slice() {
        [thing, "shadow", operation] => (*thing, None, *operation),
        [thing, "shadow", "name", name, operation] => (*thing, Some(*name), *operation),
        _ => return None,
    };
    let operation = match operation {
        "get" => Operation::Get,
        "update" => Operation::Update,
        "delete" => Operation::Delete,
        _ => return None,
    };
    (!thing.is_empty()).then_some(ShadowRequest {
        thing,
        name,
        operation,
    })
}

/// `$aws/things/T/shadow` or `$aws/things/T/shadow/name/N`.
#[must_use]
pub fn prefix(thing: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("$aws/things/{thing}/shadow/name/{name}"),
        None => format!("$aws/things/{thing}/shadow"),
    }
}

fn client_token(payload: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Value>(payload)
        .ok()?
        .get("clientToken")
        .cloned()
}

fn with_token(mut body: Value, token: Option<&Value>) -> Value {
    if let (Some(token), Some(object)) = (token, body.as_object_mut()) {
        object.insert("clientToken".into(), token.clone());
    }
    body
}

fn rejected(topic: String, error: &ApiError, now: i64, token: Option<&Value>) -> Publication {
    Publication {
        topic,
        payload: with_token(
            json!({"code": error.status, "message": error.message, "timestamp": now}),
            token,
        ),
    }
}

/// Runs a request against the state and returns what to publish, in AWS's order.
pub fn handle(
    state: &mut FleetState,
    call: Call<'_>,
    request: ShadowRequest<'_>,
    payload: &[u8],
) -> Vec<Publication> {
    let base = prefix(request.thing, request.name);
    let token = client_token(payload);
    match request.operation {
        Operation::Get => match data_plane::get(state, request.thing, request.name) {
            Ok(document) => vec![Publication {
                topic: format!("{base}/get/accepted"),
                payload: with_token(document, token.as_ref()),
            }],
            Err(error) => vec![rejected(
                format!("{base}/get/rejected"),
                &error,
                call.now,
                token.as_ref(),
            )],
        },
        Operation::Update => {
            match data_plane::update(state, call, request.thing, request.name, payload) {
                Ok(accepted) => after_update(&base, &accepted, payload, call.now),
                Err(error) => vec![rejected(
                    format!("{base}/update/rejected"),
                    &error,
                    call.now,
                    token.as_ref(),
                )],
            }
        }
        Operation::Delete => match data_plane::delete(state, call, request.thing, request.name) {
            Ok(body) => vec![Publication {
                topic: format!("{base}/delete/accepted"),
                payload: with_token(body, token.as_ref()),
            }],
            Err(error) => vec![rejected(
                format!("{base}/delete/rejected"),
                &error,
                call.now,
                token.as_ref(),
            )],
        },
    }
}

fn snapshot(record: &ShadowRecord) -> Value {
    let mut state = Map::new();
    let mut metadata = Map::new();
    for (key, section, meta) in [
        ("desired", &record.desired, &record.metadata_desired),
        ("reported", &record.reported, &record.metadata_reported),
    ] {
        if let Some(section) = section {
            state.insert(key.into(), Value::Object(section.clone()));
        }
        if let Some(meta) = meta {
            metadata.insert(key.into(), Value::Object(meta.clone()));
        }
    }
    json!({"state": state, "metadata": metadata, "version": record.version})
}

/// Keeps the metadata entries for the keys of `delta`, at any depth.
fn metadata_for(delta: &Map<String, Value>, metadata: &Map<String, Value>) -> Map<String, Value> {
    delta
        .iter()
        .filter_map(|(key, value)| {
            let meta = metadata.get(key)?;
            Some(match (value, meta) {
                (Value::Object(inner), Value::Object(meta)) if !meta.contains_key("timestamp") => {
                    (key.clone(), Value::Object(metadata_for(inner, meta)))
                }
                _ => (key.clone(), meta.clone()),
            })
        })
        .collect()
}

/// What an accepted update publishes: `update/accepted`, then `update/delta` when the request
/// set desired state that reported does not show, then `update/documents`.
#[must_use]
pub fn after_update(base: &str, accepted: &Accepted, request: &[u8], now: i64) -> Vec<Publication> {
    let token = client_token(request);
    let mut out = vec![Publication {
        topic: format!("{base}/update/accepted"),
        payload: accepted.response.clone(),
    }];
    let sets_desired = serde_json::from_slice::<Value>(request)
        .ok()
        .and_then(|r| r.get("state")?.get("desired").cloned())
        .is_some();
    if sets_desired && let Some(delta) = shadow::delta(&accepted.current) {
        let metadata = accepted
            .current
            .metadata_desired
            .as_ref()
            .map(|m| metadata_for(&delta, m))
            .unwrap_or_default();
        out.push(Publication {
            topic: format!("{base}/update/delta"),
            payload: with_token(
                json!({
                    "version": accepted.current.version,
                    "timestamp": now,
                    "state": delta,
                    "metadata": metadata,
                }),
                token.as_ref(),
            ),
        });
    }
    let mut documents = Map::new();
    if let Some(previous) = &accepted.previous {
        documents.insert("previous".into(), snapshot(previous));
    }
    documents.insert("current".into(), snapshot(&accepted.current));
    documents.insert("timestamp".into(), now.into());
    out.push(Publication {
        topic: format!("{base}/update/documents"),
        payload: with_token(Value::Object(documents), token.as_ref()),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::store::ThingRecord;

    #[test]
    fn request_topics_parse_and_answers_do_not() {
        assert_eq!(
            parse_request("$aws/things/pump-1/shadow/update"),
            Some(ShadowRequest {
                thing: "pump-1",
                name: None,
                operation: Operation::Update
            })
        );
        assert_eq!(
            parse_request("$aws/things/pump-1/shadow/name/config/get"),
            Some(ShadowRequest {
                thing: "pump-1",
                name: Some("config"),
                operation: Operation::Get
            })
        );
        for other in [
            "$aws/things/pump-1/shadow/update/accepted",
            "$aws/things/pump-1/shadow/update/delta",
            "$aws/things//shadow/get",
            "fleet/pump-1/telemetry",
            "$aws/things/pump-1/shadow/name/config",
        ] {
            assert_eq!(parse_request(other), None, "{other}");
        }
    }

    fn state_with(thing: &str) -> FleetState {
        let mut state = FleetState::default();
        state.things.insert(thing.into(), ThingRecord::default());
        state
    }

    fn call(now: i64) -> Call<'static> {
        Call {
            account: "123456789012",
            region: "us-east-1",
            now,
        }
    }

    fn topics(publications: &[Publication]) -> Vec<&str> {
        publications.iter().map(|p| p.topic.as_str()).collect()
    }

    #[test]
    fn an_update_publishes_accepted_delta_and_documents_in_order() {
        let mut state = state_with("pump-1");
        let request = parse_request("$aws/things/pump-1/shadow/update").unwrap();
        let body = br#"{"state":{"desired":{"speed":40}},"clientToken":"c-1"}"#;
        let out = handle(&mut state, call(100), request, body);
        assert_eq!(
            topics(&out),
            [
                "$aws/things/pump-1/shadow/update/accepted",
                "$aws/things/pump-1/shadow/update/delta",
                "$aws/things/pump-1/shadow/update/documents"
            ]
        );
        assert_eq!(out[1].payload["state"], json!({"speed": 40}));
        assert_eq!(out[1].payload["metadata"]["speed"]["timestamp"], 100);
        assert_eq!(out[1].payload["clientToken"], "c-1");
        assert!(out[2].payload.get("previous").is_none());
        assert_eq!(out[2].payload["current"]["version"], 1);

        // Reporting what was asked resolves the delta: no delta message, previous shown.
        let body = br#"{"state":{"reported":{"speed":40}}}"#;
        let out = handle(&mut state, call(101), request, body);
        assert_eq!(
            topics(&out),
            [
                "$aws/things/pump-1/shadow/update/accepted",
                "$aws/things/pump-1/shadow/update/documents"
            ]
        );
        assert_eq!(
            out[1].payload["previous"]["state"],
            json!({"desired": {"speed": 40}})
        );
        assert_eq!(
            out[1].payload["current"]["state"]["reported"],
            json!({"speed": 40})
        );
    }

    #[test]
    fn rejections_carry_the_status_code_and_token() {
        let mut state = state_with("pump-1");
        let get = parse_request("$aws/things/pump-1/shadow/get").unwrap();
        let out = handle(&mut state, call(5), get, br#"{"clientToken":"g"}"#);
        assert_eq!(topics(&out), ["$aws/things/pump-1/shadow/get/rejected"]);
        assert_eq!(out[0].payload["code"], 404);
        assert_eq!(out[0].payload["clientToken"], "g");

        let update = parse_request("$aws/things/pump-1/shadow/update").unwrap();
        handle(
            &mut state,
            call(5),
            update,
            br#"{"state":{"reported":{"a":1}}}"#,
        );
        let out = handle(
            &mut state,
            call(6),
            update,
            br#"{"state":{"reported":{"a":2}},"version":7}"#,
        );
        assert_eq!(topics(&out), ["$aws/things/pump-1/shadow/update/rejected"]);
        assert_eq!(out[0].payload["code"], 409);

        let out = handle(&mut state, call(6), update, b"{not json");
        assert_eq!(out[0].payload["code"], 400);
    }

    #[test]
    fn named_shadows_answer_on_their_own_topics() {
        let mut state = state_with("pump-1");
        let update = parse_request("$aws/things/pump-1/shadow/name/config/update").unwrap();
        handle(
            &mut state,
            call(1),
            update,
            br#"{"state":{"reported":{"mode":"eco"}}}"#,
        );
        let delete = parse_request("$aws/things/pump-1/shadow/name/config/delete").unwrap();
        let out = handle(&mut state, call(2), delete, b"");
        assert_eq!(
            topics(&out),
            ["$aws/things/pump-1/shadow/name/config/delete/accepted"]
        );
        assert_eq!(out[0].payload["version"], 1);
        let get = parse_request("$aws/things/pump-1/shadow/get").unwrap();
        assert_eq!(
            topics(&handle(&mut state, call(3), get, b"")),
            ["$aws/things/pump-1/shadow/get/rejected"]
        );
    }
}
