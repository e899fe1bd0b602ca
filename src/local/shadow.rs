//! The Device Shadow engine of the local IoT Core, with AWS semantics: desired and reported
//! merged key by key, `null` removing a key or a whole section, delta for nested objects,
//! per-leaf metadata timestamps, a version that moves on each accepted update and rejects a
//! stale one, and AWS's size and depth limits. Pure: the REST API and (later) the MQTT shadow
//! topics both call it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

// AWS IoT Device Shadow service limits
// (<https://docs.aws.amazon.com/general/latest/gr/iot-core.html#device-shadow-limits>).

/// "Maximum size of a JSON state document: 8 KB" (desired and reported of one shadow).
pub const MAX_STATE_BYTES: usize = 8 * 1024;
/// "Maximum depth of JSON device state documents: 6" levels inside desired or reported.
pub const MAX_DEPTH: usize = 6;
/// "Maximum size of a client token: 64 bytes of UTF-8 encoded characters."
pub const MAX_CLIENT_TOKEN_BYTES: usize = 64;

/// One shadow as stored (read strictly: every field, no other).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShadowRecord {
    #[serde(deserialize_with = "crate::json_error::present")]
    pub desired: Option<Map<String, Value>>,
    #[serde(deserialize_with = "crate::json_error::present")]
    pub reported: Option<Map<String, Value>>,
    #[serde(deserialize_with = "crate::json_error::present")]
    pub metadata_desired: Option<Map<String, Value>>,
    #[serde(deserialize_with = "crate::json_error::present")]
    pub metadata_reported: Option<Map<String, Value>>,
    pub version: u64,
    /// Seconds since the epoch of the last accepted update.
    pub timestamp: i64,
}

/// Why an update was rejected: the HTTP status, AWS error code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ShadowError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

fn invalid(message: impl Into<String>) -> ShadowError {
    ShadowError {
        status: 400,
        code: "InvalidRequestException",
        message: message.into(),
    }
}

/// The result of an accepted update.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub previous: Option<ShadowRecord>,
    pub current: ShadowRecord,
    /// The body of UpdateThingShadow's response (and of `update/accepted`).
    pub response: Value,
}

/// An update request's JSON object: known fields only, and a client token within AWS's limit.
fn parse_request(body: &[u8]) -> Result<Map<String, Value>, ShadowError> {
    let request: Value = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("Payload contains invalid json: {e}")))?;
    let Value::Object(request) = request else {
        return Err(invalid("Payload contains invalid json: not an object"));
    };
    for key in request.keys() {
        if !matches!(key.as_str(), "state" | "version" | "clientToken") {
            return Err(invalid(format!("Invalid JSON: unexpected field '{key}'")));
        }
    }
    if let Some(token) = request.get("clientToken") {
        match token.as_str() {
            Some(token) if token.len() <= MAX_CLIENT_TOKEN_BYTES => {}
            Some(_) => {
                return Err(invalid(format!(
                    "clientToken is longer than {MAX_CLIENT_TOKEN_BYTES} bytes"
                )));
            }
            None => return Err(invalid("clientToken must be a string")),
        }
    }
    Ok(request)
}

/// An update request's `state`: desired and reported objects (or null) within AWS's depth.
fn request_state(request: &Map<String, Value>) -> Result<&Map<String, Value>, ShadowError> {
    let state = match request.get("state") {
        Some(Value::Object(state)) => state,
        Some(_) => return Err(invalid("State node must be an object")),
        None => return Err(invalid("Missing required node: state")),
    };
    for (key, value) in state {
        if !matches!(key.as_str(), "desired" | "reported") {
            return Err(invalid(format!("State contains an invalid node: '{key}'")));
        }
        if !(value.is_object() || value.is_null()) {
            return Err(invalid(format!("{key} node must be an object")));
        }
        if depth(value) > MAX_DEPTH {
            return Err(invalid(format!(
                "JSON contains too many levels of nesting; maximum is {MAX_DEPTH}"
            )));
        }
    }
    Ok(state)
}

/// Applies an UpdateThingShadow request body to the shadow (`existing`; `last_version` is the
/// version of a deleted shadow, since deleting does not reset it).
pub fn update(
    existing: Option<&ShadowRecord>,
    last_version: u64,
    body: &[u8],
    now: i64,
) -> Result<Accepted, ShadowError> {
    let request = parse_request(body)?;
    let state = request_state(&request)?;
    let current_version = existing.map_or(last_version, |s| s.version);
    if let Some(version) = request.get("version") {
        let Some(version) = version.as_u64() else {
            return Err(invalid("version must be a non-negative integer"));
        };
        if version != current_version {
            return Err(ShadowError {
                status: 409,
                code: "ConflictException",
                message: "Version conflict".into(),
            });
        }
    }

    let mut next = existing.cloned().unwrap_or(ShadowRecord {
        desired: None,
        reported: None,
        metadata_desired: None,
        metadata_reported: None,
        version: last_version,
        timestamp: now,
    });
    let mut metadata_response = Map::new();
    for (section, change) in state {
        let (values, metadata) = match section.as_str() {
            "desired" => (&mut next.desired, &mut next.metadata_desired),
            _ => (&mut next.reported, &mut next.metadata_reported),
        };
        if let Value::Object(change) = change {
            let target = values.get_or_insert_with(Map::new);
            let target_metadata = metadata.get_or_insert_with(Map::new);
            merge(target, target_metadata, change, now);
            metadata_response.insert(section.clone(), Value::Object(stamp(change, now)));
            if target.is_empty() {
                *values = None;
                *metadata = None;
            }
        } else {
            *values = None;
            *metadata = None;
            metadata_response.insert(section.clone(), json!({"timestamp": now}));
        }
    }
    let size = state_size(&next);
    if size > MAX_STATE_BYTES {
        return Err(ShadowError {
            status: 413,
            code: "RequestEntityTooLargeException",
            message: format!(
                "The payload exceeds the maximum size allowed: state is {size} bytes, limit {MAX_STATE_BYTES}"
            ),
        });
    }
    next.version = current_version + 1;
    next.timestamp = now;

    let mut response = Map::new();
    response.insert("state".into(), Value::Object(state.clone()));
    response.insert("metadata".into(), Value::Object(metadata_response));
    response.insert("version".into(), json!(next.version));
    response.insert("timestamp".into(), json!(now));
    if let Some(token) = request.get("clientToken") {
        response.insert("clientToken".into(), token.clone());
    }
    Ok(Accepted {
        previous: existing.cloned(),
        current: next,
        response: Value::Object(response),
    })
}

/// The body of GetThingShadow: state with delta when there is one, metadata, version, timestamp.
#[must_use]
pub fn document(shadow: &ShadowRecord) -> Value {
    let mut state = Map::new();
    let mut metadata = Map::new();
    if let Some(desired) = &shadow.desired {
        state.insert("desired".into(), Value::Object(desired.clone()));
    }
    if let Some(reported) = &shadow.reported {
        state.insert("reported".into(), Value::Object(reported.clone()));
    }
    if let Some(delta) = delta(shadow) {
        state.insert("delta".into(), Value::Object(delta));
    }
    if let Some(m) = &shadow.metadata_desired {
        metadata.insert("desired".into(), Value::Object(m.clone()));
    }
    if let Some(m) = &shadow.metadata_reported {
        metadata.insert("reported".into(), Value::Object(m.clone()));
    }
    json!({"state": state, "metadata": metadata, "version": shadow.version, "timestamp": shadow.timestamp})
}

/// What desired asks for that reported does not show, None when they agree.
#[must_use]
pub fn delta(shadow: &ShadowRecord) -> Option<Map<String, Value>> {
    let desired = shadow.desired.as_ref()?;
    let empty = Map::new();
    let delta = difference(desired, shadow.reported.as_ref().unwrap_or(&empty));
    (!delta.is_empty()).then_some(delta)
}

fn difference(desired: &Map<String, Value>, reported: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, want) in desired {
        match (want, reported.get(key)) {
            (Value::Object(want), Some(Value::Object(have))) => {
                let nested = difference(want, have);
                if !nested.is_empty() {
                    out.insert(key.clone(), Value::Object(nested));
                }
            }
            (want, Some(have)) if want == have => {}
            (want, _) => {
                out.insert(key.clone(), want.clone());
            }
        }
    }
    out
}

/// Merges `change` into `target` key by key: `null` removes, objects merge, anything else
/// replaces. Metadata follows the same shape with a timestamp at each changed leaf.
fn merge(
    target: &mut Map<String, Value>,
    metadata: &mut Map<String, Value>,
    change: &Map<String, Value>,
    now: i64,
) {
    for (key, value) in change {
        match value {
            Value::Null => {
                target.remove(key);
                metadata.remove(key);
            }
            Value::Object(inner) => {
                if !target.get(key).is_some_and(Value::is_object) {
                    target.insert(key.clone(), Value::Object(Map::new()));
                    metadata.insert(key.clone(), Value::Object(Map::new()));
                }
                if !metadata.get(key).is_some_and(Value::is_object) {
                    metadata.insert(key.clone(), Value::Object(Map::new()));
                }
                let (Some(Value::Object(child)), Some(Value::Object(child_metadata))) =
                    (target.get_mut(key), metadata.get_mut(key))
                else {
                    unreachable!("both were just made objects")
                };
                merge(child, child_metadata, inner, now);
                if child.is_empty() {
                    target.remove(key);
                    metadata.remove(key);
                }
            }
            leaf => {
                target.insert(key.clone(), leaf.clone());
                metadata.insert(key.clone(), json!({"timestamp": now}));
            }
        }
    }
}

/// The metadata of an update request: its shape with `{"timestamp": now}` at each leaf.
fn stamp(change: &Map<String, Value>, now: i64) -> Map<String, Value> {
    change
        .iter()
        .map(|(key, value)| {
            let stamped = match value {
                Value::Object(inner) => Value::Object(stamp(inner, now)),
                _ => json!({"timestamp": now}),
            };
            (key.clone(), stamped)
        })
        .collect()
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn state_size(shadow: &ShadowRecord) -> usize {
    let size = |section: &Option<Map<String, Value>>| {
        section
            .as_ref()
            .map_or(0, |m| Value::Object(m.clone()).to_string().len())
    };
    size(&shadow.desired) + size(&shadow.reported)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(existing: Option<&ShadowRecord>, body: &str) -> Result<Accepted, ShadowError> {
        update(existing, 0, body.as_bytes(), 1_700_000_000)
    }

    #[test]
    fn first_update_creates_version_1_with_delta() {
        let accepted = apply(
            None,
            r#"{"state":{"desired":{"speed":40},"reported":{"speed":10,"led":"on"}}}"#,
        )
        .unwrap();
        let shadow = &accepted.current;
        assert_eq!(shadow.version, 1);
        assert_eq!(accepted.response["version"], 1);
        let doc = document(shadow);
        assert_eq!(doc["state"]["delta"], json!({"speed": 40}));
        assert_eq!(
            doc["metadata"]["desired"]["speed"]["timestamp"],
            1_700_000_000
        );
    }

    #[test]
    fn a_client_token_past_64_bytes_is_refused() {
        let body = |token: &str| {
            format!(r#"{{"state":{{"reported":{{"a":1}}}},"clientToken":"{token}"}}"#)
        };
        assert!(apply(None, &body(&"t".repeat(64))).is_ok());
        let refused = apply(None, &body(&"t".repeat(65))).unwrap_err();
        assert_eq!(
            (refused.status, refused.message.as_str()),
            (400, "clientToken is longer than 64 bytes")
        );
    }

    #[test]
    fn null_removes_a_key_and_a_whole_section() {
        let first = apply(
            None,
            r#"{"state":{"desired":{"led":"on","speed":40},"reported":{"led":"off"}}}"#,
        )
        .unwrap()
        .current;
        let second = apply(Some(&first), r#"{"state":{"desired":{"led":null}}}"#)
            .unwrap()
            .current;
        assert_eq!(
            second.desired,
            Some(json!({"speed": 40}).as_object().unwrap().clone())
        );
        assert!(
            !second
                .metadata_desired
                .as_ref()
                .unwrap()
                .contains_key("led")
        );
        let third = apply(Some(&second), r#"{"state":{"desired":null}}"#)
            .unwrap()
            .current;
        assert_eq!(third.desired, None);
        assert_eq!(third.version, 3);
        assert_eq!(delta(&third), None);
    }

    #[test]
    fn nested_objects_merge_and_delta_is_nested() {
        let first = apply(
            None,
            r#"{"state":{"desired":{"cfg":{"a":1,"b":2}},"reported":{"cfg":{"a":1,"b":3}}}}"#,
        )
        .unwrap()
        .current;
        assert_eq!(document(&first)["state"]["delta"], json!({"cfg": {"b": 2}}));
        let second = apply(Some(&first), r#"{"state":{"reported":{"cfg":{"b":2}}}}"#)
            .unwrap()
            .current;
        assert_eq!(
            second.reported.as_ref().unwrap()["cfg"],
            json!({"a": 1, "b": 2}),
            "merged, not replaced"
        );
        assert_eq!(document(&second)["state"].get("delta"), None);
    }

    #[test]
    fn stale_version_is_a_409_conflict() {
        let first = apply(None, r#"{"state":{"desired":{"a":1}}}"#)
            .unwrap()
            .current;
        let second = apply(Some(&first), r#"{"state":{"desired":{"a":2}},"version":1}"#)
            .unwrap()
            .current;
        assert_eq!(second.version, 2);
        let error = apply(
            Some(&second),
            r#"{"state":{"desired":{"a":3}},"version":1}"#,
        )
        .unwrap_err();
        assert_eq!((error.status, error.code), (409, "ConflictException"));
    }

    #[test]
    fn deleting_does_not_reset_the_version() {
        let accepted = update(None, 7, br#"{"state":{"reported":{"a":1}}}"#, 1).unwrap();
        assert_eq!(accepted.current.version, 8);
    }

    #[test]
    fn oversize_deep_and_malformed_updates_are_rejected_with_reasons() {
        let big = format!(
            r#"{{"state":{{"desired":{{"blob":"{}"}}}}}}"#,
            "x".repeat(9000)
        );
        assert_eq!(apply(None, &big).unwrap_err().status, 413);
        let deep = r#"{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}}}"#;
        assert!(apply(None, deep).unwrap_err().message.contains("nesting"));
        assert!(
            apply(None, "{")
                .unwrap_err()
                .message
                .contains("invalid json")
        );
        assert!(
            apply(None, r#"{"desired":{}}"#)
                .unwrap_err()
                .message
                .contains("unexpected field")
        );
        assert!(
            apply(None, r#"{"state":{"delta":{}}}"#)
                .unwrap_err()
                .message
                .contains("invalid node")
        );
    }

    #[test]
    fn client_token_is_echoed() {
        let accepted = apply(
            None,
            r#"{"state":{"reported":{"a":1}},"clientToken":"t-1"}"#,
        )
        .unwrap();
        assert_eq!(accepted.response["clientToken"], "t-1");
    }
}
