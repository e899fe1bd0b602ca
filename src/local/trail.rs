//! The local core's CloudTrail: every control-plane call that changes the fleet, recorded as
//! CloudTrail records AWS IoT's management events (event name, time, the caller's access key
//! and user, the request's parameters, the resources it names), kept in the state file (the
//! newest `MAX_EVENTS`), and LookupEvents over them with CloudTrail's request and answer shapes,
//! so `h` and `iotfleet history` read them as on AWS. Calls that only read are not recorded
//! (CloudTrail's read events are off in most trails), nor refused ones.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::registry::{ApiError, ApiResult, with_next};
use super::store::{FleetState, TrailRecord};

/// Events kept; the oldest go first.
pub const MAX_EVENTS: usize = 10_000;
/// LookupEvents' largest and default page (CloudTrail's).
const PAGE_LIMIT: usize = 50;

/// Who made a call: from the request's SigV4 credential scope (the access key), and the user
/// the local core gives every key (it checks no signature).
#[must_use]
pub fn caller(access_key: Option<&str>) -> (String, String) {
    let key = access_key.unwrap_or("anonymous").to_owned();
    (key, "local-operator".to_owned())
}

/// A call to record: its name (`AttachPolicy`), the resources it names (type and name), and
/// its parameters as CloudTrail's `requestParameters`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub event_name: String,
    pub resources: Vec<(String, String)>,
    pub parameters: Value,
}

/// The call a mutating request makes, named as CloudTrail names it, or None for a request that
/// only reads (those are not recorded).
#[must_use]
pub fn call<S: std::hash::BuildHasher>(
    action: &str,
    path: &[&str],
    query: &HashMap<String, String, S>,
    principal_header: Option<&str>,
    body: &Value,
) -> Option<Call> {
    let event_name = action.strip_prefix("iot:")?.to_owned();
    let reads = ["List", "Get", "Describe", "Search", "Test"];
    if reads.iter().any(|prefix| event_name.starts_with(prefix)) {
        return None;
    }
    let mut parameters = serde_json::Map::new();
    let mut resources = Vec::new();
    let named = match path {
        ["things", ..] => Some(("AWS::IoT::Thing", "thingName")),
        ["policies" | "target-policies", ..] => Some(("AWS::IoT::Policy", "policyName")),
        ["certificates", _] => Some(("AWS::IoT::Certificate", "certificateId")),
        ["security-profiles", ..] => Some(("AWS::IoT::SecurityProfile", "securityProfileName")),
        ["rules", ..] => Some(("AWS::IoT::TopicRule", "ruleName")),
        ["thing-groups", ..] => Some(("AWS::IoT::ThingGroup", "thingGroupName")),
        _ => None,
    };
    if let (Some((kind, key)), Some(name)) = (named, path.get(1)) {
        resources.push((kind.to_owned(), (*name).to_owned()));
        parameters.insert(key.into(), json!(name));
    }
    // A certificate named by a target or principal ARN is a resource of the call too.
    let certificate_of = |arn: &str| arn.split_once(":cert/").map(|(_, id)| id.to_owned());
    if let Some(target) = body["target"].as_str() {
        parameters.insert("target".into(), json!(target));
        resources.extend(certificate_of(target).map(|id| ("AWS::IoT::Certificate".into(), id)));
    }
    if let Some(principal) = principal_header {
        parameters.insert("principal".into(), json!(principal));
        resources.extend(certificate_of(principal).map(|id| ("AWS::IoT::Certificate".into(), id)));
    }
    for (key, value) in query {
        parameters.insert(key.clone(), json!(value));
    }
    Some(Call {
        event_name,
        resources,
        parameters: Value::Object(parameters),
    })
}

/// Records a call made at `time_ms` by `access_key` as `user`, dropping the oldest past
/// `MAX_EVENTS`.
pub fn record(state: &mut FleetState, call: &Call, access_key: &str, user: &str, time_ms: i64) {
    let seq = state
        .trail
        .keys()
        .next_back()
        .and_then(|k| k.parse::<u64>().ok())
        .map_or(1, |last| last + 1);
    state.trail.insert(
        format!("{seq:016}"),
        TrailRecord {
            event_name: call.event_name.clone(),
            time_ms,
            access_key: access_key.to_owned(),
            user: user.to_owned(),
            resources: call.resources.clone(),
            parameters: call.parameters.clone(),
        },
    );
    while state.trail.len() > MAX_EVENTS {
        let Some(oldest) = state.trail.keys().next().cloned() else {
            break;
        };
        state.trail.remove(&oldest);
    }
}

/// LookupEvents: newest first, filtered by one lookup attribute (ResourceName, EventName,
/// Username, AccessKeyId, ResourceType, EventSource, ReadOnly or EventId) and a time range.
pub fn lookup_events(state: &FleetState, region: &str, request: &Value) -> ApiResult {
    let invalid = |message: String| ApiError {
        status: 400,
        code: "InvalidLookupAttributesException",
        message,
    };
    let attributes = request["LookupAttributes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if attributes.len() > 1 {
        return Err(invalid(
            "LookupEvents takes at most one lookup attribute".to_owned(),
        ));
    }
    let filter = attributes.first().map(|a| {
        (
            a["AttributeKey"].as_str().unwrap_or_default().to_owned(),
            a["AttributeValue"].as_str().unwrap_or_default().to_owned(),
        )
    });
    if let Some((key, _)) = &filter
        && ![
            "EventId",
            "EventName",
            "ReadOnly",
            "Username",
            "ResourceType",
            "ResourceName",
            "EventSource",
            "AccessKeyId",
        ]
        .contains(&key.as_str())
    {
        return Err(invalid(format!("unknown AttributeKey {key:?}")));
    }
    let limit = match request["MaxResults"].as_u64() {
        None => PAGE_LIMIT,
        Some(n @ 1..=50) => usize::try_from(n).unwrap_or(PAGE_LIMIT),
        Some(n) => {
            return Err(ApiError {
                status: 400,
                code: "InvalidMaxResultsException",
                message: format!("MaxResults {n} is out of range: 1 to 50"),
            });
        }
    };
    let seconds = |key: &str| request[key].as_f64();
    let start = seconds("StartTime");
    let end = seconds("EndTime");
    // The token is the key of the next event to give (newest first).
    let before = request["NextToken"].as_str();
    let mut events = Vec::new();
    let mut next = None;
    for (key, event) in state.trail.iter().rev() {
        if before.is_some_and(|token| key.as_str() > token) {
            continue;
        }
        #[expect(
            clippy::cast_precision_loss,
            reason = "epoch milliseconds fit f64 exactly"
        )]
        let time = event.time_ms as f64 / 1000.0;
        if start.is_some_and(|s| time < s) || end.is_some_and(|e| time > e) {
            continue;
        }
        if let Some((attribute, value)) = &filter
            && !matches(key, event, attribute, value)
        {
            continue;
        }
        if events.len() == limit {
            next = Some(key.clone());
            break;
        }
        events.push(answer(key, event, (state.account(), region), time));
    }
    Ok(with_next(json!({"Events": events}), "NextToken", next))
}

fn matches(key: &str, event: &TrailRecord, attribute: &str, value: &str) -> bool {
    match attribute {
        "EventId" => key == value,
        "EventName" => event.event_name == value,
        "ReadOnly" => value == "false",
        "Username" => event.user == value,
        "AccessKeyId" => event.access_key == value,
        "EventSource" => value == "iot.amazonaws.com",
        "ResourceType" => event.resources.iter().any(|(kind, _)| kind == value),
        _ => event.resources.iter().any(|(_, name)| name == value),
    }
}

/// One event as LookupEvents answers it, in the fleet's (account, region).
fn answer(key: &str, event: &TrailRecord, (account, region): (&str, &str), time: f64) -> Value {
    let when =
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(event.time_ms) * 1_000_000)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
    let detail = json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": format!("arn:aws:iam::{account}:user/{}", event.user),
            "accountId": account,
            "accessKeyId": event.access_key,
            "userName": event.user,
        },
        "eventTime": when,
        "eventSource": "iot.amazonaws.com",
        "eventName": event.event_name,
        "awsRegion": region,
        "requestParameters": event.parameters,
        "eventID": key,
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": account,
    });
    json!({
        "EventId": key,
        "EventName": event.event_name,
        "ReadOnly": "false",
        "AccessKeyId": event.access_key,
        "EventTime": time,
        "EventSource": "iot.amazonaws.com",
        "Username": event.user,
        "Resources": event.resources.iter().map(|(kind, name)| json!({"ResourceType": kind, "ResourceName": name})).collect::<Vec<_>>(),
        "CloudTrailEvent": detail.to_string(),
    })
}
