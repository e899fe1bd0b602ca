//! AWS IoT control-plane operations on the local fleet state, with AWS's semantics, limits and
//! error codes, producing AWS's response bodies (same JSON field names). The HTTP layer in
//! `api.rs` only routes and decodes; the rules live here.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use serde_json::{Value, json};

use super::ca::id_of_pem;
use super::store::{
    CertificateRecord, FleetState, GroupRecord, NamedRecord, PolicyRecord, PolicyVersionRecord,
    ThingRecord,
};
use crate::policy::{
    NamedPolicy, Outcome, PolicyDocument, Request, RequestContext, ThingContext, evaluate,
};

/// AWS keeps at most five versions of a policy.
pub const MAX_POLICY_VERSIONS: usize = 5;

/// An AWS error: HTTP status, error code (the `x-amzn-ErrorType`) and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: "InvalidRequestException",
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: 404,
            code: "ResourceNotFoundException",
            message: message.into(),
        }
    }

    fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: 409,
            code,
            message: message.into(),
        }
    }
}

pub type ApiResult = Result<Value, ApiError>;

/// Where and when: ARNs carry the fleet's account and the request's region, times are epoch
/// seconds.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub now: i64,
}

impl Call<'_> {
    #[must_use]
    pub fn arn(&self, resource: &str) -> String {
        format!("arn:aws:iot:{}:{}:{resource}", self.region, self.account)
    }
}

pub(super) fn new_id() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random source works");
    let hex = super::ca::hex(&bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

pub(super) fn page_size(value: Option<i64>, default: usize, name: &str) -> Result<usize, ApiError> {
    match value {
        None => Ok(default),
        Some(n) if (1..=250).contains(&n) => Ok(usize::try_from(n).unwrap_or(default)),
        Some(n) => Err(ApiError::invalid(format!(
            "{name} {n} is out of range: 1 to 250"
        ))),
    }
}

/// A list answer with its continuation under `key` (`nextToken` or `nextMarker`), when there is
/// more.
pub(super) fn with_next(mut out: Value, key: &str, next: Option<String>) -> Value {
    if let Some(next) = next {
        out[key] = json!(next);
    }
    out
}

/// Pages a whole list by an offset marker (the lists that AWS pages by `marker`).
pub(super) fn offset_page<T: Clone>(
    items: &[T],
    marker: Option<&str>,
    size: usize,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = match marker {
        None | Some("") => 0,
        Some(marker) => marker
            .parse::<usize>()
            .map_err(|_| ApiError::invalid(format!("invalid marker '{marker}'")))?,
    };
    let end = (start + size).min(items.len());
    let page = items.get(start..end).unwrap_or_default().to_vec();
    Ok((page, (end < items.len()).then(|| end.to_string())))
}

fn thing<'s>(state: &'s FleetState, name: &str) -> Result<&'s ThingRecord, ApiError> {
    state
        .things
        .get(name)
        .ok_or_else(|| ApiError::not_found(format!("Thing {name} cannot be found.")))
}

fn thing_mut<'s>(state: &'s mut FleetState, name: &str) -> Result<&'s mut ThingRecord, ApiError> {
    state
        .things
        .get_mut(name)
        .ok_or_else(|| ApiError::not_found(format!("Thing {name} cannot be found.")))
}

fn thing_group<'s>(state: &'s FleetState, name: &str) -> Result<&'s GroupRecord, ApiError> {
    state
        .thing_groups
        .get(name)
        .ok_or_else(|| ApiError::not_found(format!("Thing group {name} does not exist")))
}

/// The names of the Things `keep` keeps, in order.
fn things_where(state: &FleetState, keep: impl Fn(&ThingRecord) -> bool) -> Vec<&String> {
    state
        .things
        .iter()
        .filter(|(_, thing)| keep(thing))
        .map(|(name, _)| name)
        .collect()
}

fn policy<'s>(state: &'s FleetState, name: &str) -> Result<&'s PolicyRecord, ApiError> {
    state
        .policies
        .get(name)
        .ok_or_else(|| ApiError::not_found(format!("Policy {name} does not exist")))
}

fn policy_mut<'s>(state: &'s mut FleetState, name: &str) -> Result<&'s mut PolicyRecord, ApiError> {
    state
        .policies
        .get_mut(name)
        .ok_or_else(|| ApiError::not_found(format!("Policy {name} does not exist")))
}

fn certificate_id_of(principal: &str) -> Option<&str> {
    crate::fleet::model::certificate_id_from_arn(principal)
}

fn thing_summary(call: Call<'_>, name: &str, thing: &ThingRecord) -> Value {
    let mut out = json!({
        "thingName": name,
        "thingArn": call.arn(&format!("thing/{name}")),
        "attributes": thing.attributes,
        "version": thing.version,
    });
    if let Some(thing_type) = &thing.thing_type {
        out["thingTypeName"] = json!(thing_type);
    }
    out
}

/// Query of ListThings.
#[derive(Debug, Clone, Default)]
pub struct ThingListing {
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
    pub attribute_name: Option<String>,
    pub attribute_value: Option<String>,
    pub use_prefix_attribute_value: bool,
    pub thing_type: Option<String>,
}

/// The fleet's Things in name order after a token (exclusive), visited until the visitor
/// breaks; the core visits them a slice at a time under its lock (`Core::scan_things`).
pub trait ThingScan {
    fn scan(
        &self,
        after: Option<&str>,
        visit: &mut dyn FnMut(&str, &ThingRecord) -> ControlFlow<()>,
    );
}

/// ListThings: names in order, the token is the last name returned; a slice of the fleet at a
/// time, so a filter that keeps few Things never holds the store for all of them.
pub fn list_things(things: &dyn ThingScan, call: Call<'_>, query: &ThingListing) -> ApiResult {
    let size = page_size(query.max_results, 50, "maxResults")?;
    let matches = |thing: &ThingRecord| {
        let type_ok = query
            .thing_type
            .as_ref()
            .is_none_or(|t| thing.thing_type.as_ref() == Some(t));
        let attribute_ok = match (&query.attribute_name, &query.attribute_value) {
            (Some(name), Some(value)) => thing.attributes.get(name).is_some_and(|v| {
                if query.use_prefix_attribute_value {
                    v.starts_with(value.as_str())
                } else {
                    v == value
                }
            }),
            (Some(name), None) => thing.attributes.contains_key(name),
            _ => true,
        };
        type_ok && attribute_ok
    };
    let mut page = Vec::with_capacity(size);
    let mut last: Option<String> = None;
    let mut more = false;
    things.scan(query.next_token.as_deref(), &mut |name, record| {
        if !matches(record) {
            return ControlFlow::Continue(());
        }
        if page.len() == size {
            more = true;
            return ControlFlow::Break(());
        }
        page.push(thing_summary(call, name, record));
        last = Some(name.to_owned());
        ControlFlow::Continue(())
    });
    let mut out = json!({"things": page});
    if more {
        out["nextToken"] = json!(last);
    }
    Ok(out)
}

pub fn describe_thing(state: &FleetState, call: Call<'_>, name: &str) -> ApiResult {
    let record = thing(state, name)?;
    let mut out = thing_summary(call, name, record);
    out["thingId"] = json!(record.id);
    out["defaultClientId"] = json!(name);
    Ok(out)
}

/// A Thing's attributes as AWS's API reference allows them (AttributePayload,
/// <https://docs.aws.amazon.com/iot/latest/apireference/API_AttributePayload.html>): a key is 1 to
/// 128 of `[a-zA-Z0-9_.,@/:#-]`, a value at most 800 of `[a-zA-Z0-9_.,@/:#=\[\]-]`.
const MAX_ATTRIBUTE_KEY: usize = 128;
const MAX_ATTRIBUTE_VALUE: usize = 800;

/// "Maximum number of thing attributes for a thing with a thing type: 50; ... without a thing
/// type: 3" (AWS IoT Core thing limits,
/// <https://docs.aws.amazon.com/general/latest/gr/iot-core.html#thing-limits>).
fn max_attributes(typed: bool) -> usize {
    if typed { 50 } else { 3 }
}

fn attributes_of(payload: Option<&Value>) -> Result<(BTreeMap<String, String>, bool), ApiError> {
    let Some(payload) = payload else {
        return Ok((BTreeMap::new(), false));
    };
    let merge = payload
        .get("merge")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut attributes = BTreeMap::new();
    if let Some(map) = payload.get("attributes").and_then(Value::as_object) {
        for (key, value) in map {
            let Some(value) = value.as_str() else {
                return Err(ApiError::invalid(format!(
                    "attribute {key:?} must be a string"
                )));
            };
            valid_attribute(key, value)?;
            attributes.insert(key.clone(), value.to_owned());
        }
    }
    Ok((attributes, merge))
}

fn valid_attribute(key: &str, value: &str) -> Result<(), ApiError> {
    let key_char = |c: char| c.is_ascii_alphanumeric() || "_.,@/:#-".contains(c);
    if key.is_empty() || key.len() > MAX_ATTRIBUTE_KEY || !key.chars().all(key_char) {
        return Err(ApiError::invalid(format!(
            "attribute name {key:?} must be 1 to {MAX_ATTRIBUTE_KEY} of a-z, A-Z, 0-9 and _.,@/:#-"
        )));
    }
    let value_char = |c: char| key_char(c) || "=[]".contains(c);
    if value.len() > MAX_ATTRIBUTE_VALUE || !value.chars().all(value_char) {
        return Err(ApiError::invalid(format!(
            "value of attribute {key} must be at most {MAX_ATTRIBUTE_VALUE} of a-z, A-Z, 0-9 and _.,@/:#=[]- ({} characters given)",
            value.chars().count()
        )));
    }
    Ok(())
}

/// Refuses a Thing with more attributes than its kind may have.
fn attribute_count(name: &str, record: &ThingRecord) -> Result<(), ApiError> {
    let typed = record.thing_type.is_some();
    let most = max_attributes(typed);
    if record.attributes.len() > most {
        let kind = if typed { "with" } else { "without" };
        return Err(ApiError::invalid(format!(
            "Thing {name} would have {} attributes; a thing {kind} a thing type has at most {most}",
            record.attributes.len()
        )));
    }
    Ok(())
}

pub fn create_thing(state: &mut FleetState, call: Call<'_>, name: &str, body: &Value) -> ApiResult {
    valid_name(name, "thingName")?;
    let thing_type = body
        .get("thingTypeName")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(thing_type) = &thing_type
        && !state.thing_types.contains_key(thing_type)
    {
        return Err(ApiError::not_found(format!(
            "Thing type {thing_type} does not exist"
        )));
    }
    let (attributes, _) = attributes_of(body.get("attributePayload"))?;
    if let Some(existing) = state.things.get(name) {
        if existing.thing_type == thing_type && existing.attributes == attributes {
            return Ok(
                json!({"thingName": name, "thingArn": call.arn(&format!("thing/{name}")), "thingId": existing.id}),
            );
        }
        return Err(ApiError::conflict(
            "ResourceAlreadyExistsException",
            format!("Thing {name} already exists with a different configuration"),
        ));
    }
    let record = ThingRecord {
        id: new_id(),
        thing_type,
        attributes,
        version: 1,
        ..ThingRecord::default()
    };
    attribute_count(name, &record)?;
    let out = json!({"thingName": name, "thingArn": call.arn(&format!("thing/{name}")), "thingId": record.id});
    state.things.insert(name.to_owned(), record);
    Ok(out)
}

pub fn update_thing(state: &mut FleetState, name: &str, body: &Value) -> ApiResult {
    let new_type = body
        .get("thingTypeName")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(thing_type) = &new_type
        && !state.thing_types.contains_key(thing_type)
    {
        return Err(ApiError::not_found(format!(
            "Thing type {thing_type} does not exist"
        )));
    }
    let (attributes, merge) = attributes_of(body.get("attributePayload"))?;
    let record = thing_mut(state, name)?;
    if let Some(expected) = body.get("expectedVersion").and_then(Value::as_i64)
        && expected != record.version
    {
        return Err(ApiError::conflict(
            "VersionConflictException",
            format!(
                "The version of thing {name} you are trying to update ({expected}) does not match the current version ({})",
                record.version
            ),
        ));
    }
    // The change is made on a copy and kept only when the whole of it is valid.
    let mut updated = record.clone();
    if body.get("removeThingType").and_then(Value::as_bool) == Some(true) {
        updated.thing_type = None;
    }
    if new_type.is_some() {
        updated.thing_type = new_type;
    }
    if body.get("attributePayload").is_some() {
        if !merge {
            updated.attributes.clear();
        }
        for (key, value) in attributes {
            if value.is_empty() && merge {
                updated.attributes.remove(&key);
            } else {
                updated.attributes.insert(key, value);
            }
        }
    }
    attribute_count(name, &updated)?;
    updated.version += 1;
    *record = updated;
    Ok(json!({}))
}

fn valid_name(name: &str, field: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "{field} '{name}' must be 1 to 128 of a-z, A-Z, 0-9, ':', '_', '-'"
        )))
    }
}

pub fn create_thing_type(state: &mut FleetState, call: Call<'_>, name: &str) -> ApiResult {
    valid_name(name, "thingTypeName")?;
    let record = state.thing_types.get_or_insert_with(name, || NamedRecord {
        id: new_id(),
        created: call.now,
    });
    Ok(
        json!({"thingTypeName": name, "thingTypeArn": call.arn(&format!("thingtype/{name}")), "thingTypeId": record.id}),
    )
}

pub fn create_thing_group(state: &mut FleetState, call: Call<'_>, name: &str) -> ApiResult {
    valid_name(name, "thingGroupName")?;
    let record = state.thing_groups.get_or_insert_with(name, || GroupRecord {
        id: new_id(),
        created: call.now,
        policies: BTreeSet::new(),
    });
    Ok(
        json!({"thingGroupName": name, "thingGroupArn": call.arn(&format!("thinggroup/{name}")), "thingGroupId": record.id}),
    )
}

fn name_from(body: &Value, name_field: &str, arn_field: &str, arn_prefix: &str) -> Option<String> {
    body.get(name_field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            let arn = body.get(arn_field).and_then(Value::as_str)?;
            arn.split_once(arn_prefix).map(|(_, name)| name.to_owned())
        })
}

pub fn add_thing_to_thing_group(state: &mut FleetState, body: &Value) -> ApiResult {
    let group = name_from(body, "thingGroupName", "thingGroupArn", ":thinggroup/")
        .ok_or_else(|| ApiError::invalid("thingGroupName or thingGroupArn is required"))?;
    let thing_name = name_from(body, "thingName", "thingArn", ":thing/")
        .ok_or_else(|| ApiError::invalid("thingName or thingArn is required"))?;
    thing_group(state, &group)?;
    thing_mut(state, &thing_name)?.groups.insert(group);
    Ok(json!({}))
}

/// DeleteThing: as AWS, deleting a Thing that does not exist succeeds; one still attached to a
/// principal is refused; `expectedVersion` must match. Its group memberships go with it (they
/// are kept on the Thing).
pub fn delete_thing(
    state: &mut FleetState,
    name: &str,
    expected_version: Option<i64>,
) -> ApiResult {
    let Some(record) = state.things.get(name) else {
        return Ok(json!({}));
    };
    if let Some(expected) = expected_version
        && expected != record.version
    {
        return Err(ApiError::conflict(
            "VersionConflictException",
            format!(
                "The version of thing {name} you are trying to delete ({expected}) does not match the current version ({})",
                record.version
            ),
        ));
    }
    if !record.principals.is_empty() {
        return Err(ApiError::invalid(format!(
            "Cannot delete. Thing {name} is still attached to one or more principals"
        )));
    }
    state.things.remove(name);
    Ok(json!({}))
}

/// ListThingGroups, by name, optionally those whose name starts with `prefix`.
pub fn list_thing_groups(
    state: &FleetState,
    call: Call<'_>,
    prefix: Option<&str>,
    max_results: Option<i64>,
    next_token: Option<&str>,
) -> ApiResult {
    let size = page_size(max_results, 25, "maxResults")?;
    let names: Vec<&String> = state
        .thing_groups
        .keys()
        .filter(|name| prefix.is_none_or(|p| name.starts_with(p)))
        .collect();
    let (page, next) = offset_page(&names, next_token, size)?;
    let groups: Vec<Value> = page
        .iter()
        .map(|name| json!({"groupName": name, "groupArn": call.arn(&format!("thinggroup/{name}"))}))
        .collect();
    let out = json!({"thingGroups": groups});
    Ok(with_next(out, "nextToken", next))
}

/// ListThingTypes, by name, or the one named.
pub fn list_thing_types(
    state: &FleetState,
    call: Call<'_>,
    only: Option<&str>,
    max_results: Option<i64>,
    next_token: Option<&str>,
) -> ApiResult {
    let size = page_size(max_results, 25, "maxResults")?;
    let types: Vec<(&String, &NamedRecord)> = state
        .thing_types
        .iter()
        .filter(|(name, _)| only.is_none_or(|o| o == name.as_str()))
        .collect();
    let (page, next) = offset_page(&types, next_token, size)?;
    let types: Vec<Value> = page
        .iter()
        .map(|(name, record)| {
            json!({
                "thingTypeName": name,
                "thingTypeArn": call.arn(&format!("thingtype/{name}")),
                "thingTypeProperties": {},
                "thingTypeMetadata": {"deprecated": false, "creationDate": record.created},
            })
        })
        .collect();
    let out = json!({"thingTypes": types});
    Ok(with_next(out, "nextToken", next))
}

/// ListThingsInThingGroup.
pub fn list_things_in_thing_group(
    state: &FleetState,
    group: &str,
    max_results: Option<i64>,
    next_token: Option<&str>,
) -> ApiResult {
    let size = page_size(max_results, 25, "maxResults")?;
    thing_group(state, group)?;
    let things = things_where(state, |thing| thing.groups.contains(group));
    let (page, next) = offset_page(&things, next_token, size)?;
    let out = json!({"things": page});
    Ok(with_next(out, "nextToken", next))
}

pub fn list_thing_groups_for_thing(state: &FleetState, call: Call<'_>, name: &str) -> ApiResult {
    let groups: Vec<Value> = thing(state, name)?
        .groups
        .iter()
        .map(|group| json!({"groupName": group, "groupArn": call.arn(&format!("thinggroup/{group}"))}))
        .collect();
    Ok(json!({"thingGroups": groups}))
}

pub fn list_thing_principals(state: &FleetState, name: &str) -> ApiResult {
    Ok(json!({"principals": thing(state, name)?.principals}))
}

pub fn list_principal_things(state: &FleetState, principal: &str) -> ApiResult {
    let things = things_where(state, |thing| thing.principals.contains(principal));
    Ok(json!({"things": things}))
}

fn known_principal(state: &FleetState, principal: &str) -> Result<(), ApiError> {
    match certificate_id_of(principal) {
        Some(id) if state.certificates.contains_key(id) => Ok(()),
        Some(id) => Err(ApiError::not_found(format!(
            "Certificate {id} does not exist"
        ))),
        None => Err(ApiError::invalid(format!(
            "principal '{principal}' is not a certificate ARN"
        ))),
    }
}

pub fn attach_thing_principal(state: &mut FleetState, name: &str, principal: &str) -> ApiResult {
    known_principal(state, principal)?;
    thing_mut(state, name)?
        .principals
        .insert(principal.to_owned());
    Ok(json!({}))
}

pub fn detach_thing_principal(state: &mut FleetState, name: &str, principal: &str) -> ApiResult {
    thing_mut(state, name)?.principals.remove(principal);
    Ok(json!({}))
}

fn certificate<'s>(state: &'s FleetState, id: &str) -> Result<&'s CertificateRecord, ApiError> {
    state
        .certificates
        .get(id)
        .ok_or_else(|| ApiError::not_found(format!("The certificate {id} does not exist")))
}

/// ListCertificates, newest first unless `ascending`.
pub fn list_certificates(
    state: &FleetState,
    call: Call<'_>,
    page: Option<i64>,
    marker: Option<&str>,
    ascending: bool,
) -> ApiResult {
    let size = page_size(page, 25, "pageSize")?;
    let mut all: Vec<(&String, &CertificateRecord)> = state.certificates.iter().collect();
    all.sort_by(|a, b| a.1.created.cmp(&b.1.created).then_with(|| a.0.cmp(b.0)));
    if !ascending {
        all.reverse();
    }
    let (page, next) = offset_page(&all, marker, size)?;
    let certificates: Vec<Value> = page
        .iter()
        .map(|(id, record)| {
            json!({
                "certificateArn": call.arn(&format!("cert/{id}")),
                "certificateId": id,
                "status": record.status,
                "certificateMode": "DEFAULT",
                "creationDate": record.created,
            })
        })
        .collect();
    let out = json!({"certificates": certificates});
    Ok(with_next(out, "nextMarker", next))
}

pub fn describe_certificate(state: &FleetState, call: Call<'_>, id: &str) -> ApiResult {
    let record = certificate(state, id)?;
    let mut description = json!({
        "certificateArn": call.arn(&format!("cert/{id}")),
        "certificateId": id,
        "status": record.status,
        "certificatePem": record.pem,
        "ownedBy": call.account,
        "creationDate": record.created,
        "lastModifiedDate": record.last_modified,
        "customerVersion": 1,
        "certificateMode": "DEFAULT",
    });
    if let Some(ca) = &record.ca_certificate_id {
        description["caCertificateId"] = json!(ca);
    }
    if let Ok(facts) = crate::fleet::certificate::read_pem(&record.pem) {
        description["validity"] = json!({
            "notBefore": facts.validity.not_before.unix_timestamp(),
            "notAfter": facts.validity.not_after.unix_timestamp(),
        });
    }
    Ok(json!({"certificateDescription": description}))
}

const STATUSES: [&str; 6] = [
    "ACTIVE",
    "INACTIVE",
    "REVOKED",
    "PENDING_TRANSFER",
    "REGISTER_INACTIVE",
    "PENDING_ACTIVATION",
];

pub fn update_certificate(
    state: &mut FleetState,
    call: Call<'_>,
    id: &str,
    new_status: Option<&str>,
) -> ApiResult {
    let status = new_status.ok_or_else(|| ApiError::invalid("newStatus is required"))?;
    if !matches!(status, "ACTIVE" | "INACTIVE" | "REVOKED") {
        return Err(ApiError::invalid(format!(
            "newStatus {status} is not ACTIVE, INACTIVE or REVOKED"
        )));
    }
    let record = state
        .certificates
        .get_mut(id)
        .ok_or_else(|| ApiError::not_found(format!("The certificate {id} does not exist")))?;
    if record.status == "REVOKED" && status != "REVOKED" {
        return Err(ApiError::invalid(format!(
            "Certificate {id} is REVOKED; a revoked certificate cannot be activated"
        )));
    }
    status.clone_into(&mut record.status);
    record.last_modified = call.now;
    Ok(json!({}))
}

pub fn register_certificate_without_ca(
    state: &mut FleetState,
    call: Call<'_>,
    body: &Value,
) -> ApiResult {
    let pem = body
        .get("certificatePem")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("certificatePem is required"))?;
    let status = body
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("ACTIVE");
    if !STATUSES.contains(&status) {
        return Err(ApiError::invalid(format!(
            "status {status} is not a certificate status"
        )));
    }
    let id = id_of_pem(pem).map_err(|reason| ApiError {
        status: 400,
        code: "CertificateValidationException",
        message: reason,
    })?;
    if state.certificates.contains_key(&id) {
        return Err(ApiError::conflict(
            "ResourceAlreadyExistsException",
            format!("The certificate {id} is already registered"),
        ));
    }
    state.certificates.insert(
        id.clone(),
        CertificateRecord {
            pem: pem.to_owned(),
            status: status.to_owned(),
            created: call.now,
            last_modified: call.now,
            ca_certificate_id: None,
            private_key_pem: None,
            policies: BTreeSet::new(),
        },
    );
    Ok(json!({"certificateArn": call.arn(&format!("cert/{id}")), "certificateId": id}))
}

/// The validity of the certificates CreateKeysAndCertificate issues, as AWS IoT's own: to the
/// end of 2049.
const ISSUED_UNTIL: time::OffsetDateTime = time::macros::datetime!(2049-12-31 23:59:59 UTC);

/// CreateKeysAndCertificate: a key pair and a certificate from the local CA (made now if the
/// fleet has none), registered ACTIVE with `setAsActive` and INACTIVE without. The private key is
/// returned once and not kept, as AWS does; the certificate connects to the local broker.
pub fn create_keys_and_certificate(
    state: &mut FleetState,
    call: Call<'_>,
    set_as_active: bool,
) -> ApiResult {
    let failure = |error: super::ca::CaError| ApiError {
        status: 500,
        code: "InternalFailureException",
        message: error.to_string(),
    };
    let ca = match state.ca.take() {
        Some(ca) => ca,
        None => super::ca::LocalCa::generate().map_err(failure)?,
    };
    let now = time::OffsetDateTime::from_unix_timestamp(call.now)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    let issued = ca.issue(
        "AWS IoT Certificate",
        now - time::Duration::minutes(5),
        ISSUED_UNTIL,
    );
    state.ca = Some(ca);
    let issued = issued.map_err(failure)?;
    state.certificates.insert(
        issued.id.clone(),
        CertificateRecord {
            pem: issued.certificate_pem.clone(),
            status: if set_as_active { "ACTIVE" } else { "INACTIVE" }.to_owned(),
            created: call.now,
            last_modified: call.now,
            ca_certificate_id: None,
            private_key_pem: None,
            policies: BTreeSet::new(),
        },
    );
    Ok(json!({
        "certificateArn": call.arn(&format!("cert/{}", issued.id)),
        "certificateId": issued.id,
        "certificatePem": issued.certificate_pem,
        "keyPair": {"PublicKey": issued.public_key_pem, "PrivateKey": issued.key_pem},
    }))
}

/// DeleteCertificate: refused while ACTIVE (CertificateStateException), while attached to a
/// Thing, or while attached to a policy unless `forceDelete` (which detaches the policies).
pub fn delete_certificate(
    state: &mut FleetState,
    call: Call<'_>,
    id: &str,
    force_delete: bool,
) -> ApiResult {
    let record = certificate(state, id)?;
    if record.status == "ACTIVE" {
        return Err(ApiError {
            status: 406,
            code: "CertificateStateException",
            message: format!(
                "Certificate must be deactivated (not ACTIVE) before deletion. Id: {id}"
            ),
        });
    }
    let arn = call.arn(&format!("cert/{id}"));
    if let Some((thing, _)) = state.things.iter().find(|(_, t)| {
        t.principals
            .iter()
            .any(|p| certificate_id_of(p) == Some(id))
    }) {
        return Err(ApiError::conflict(
            "DeleteConflictException",
            format!("Things must be detached before deletion: {thing} is attached to {arn}"),
        ));
    }
    let attached: Vec<&str> = record.policies.iter().map(String::as_str).collect();
    if !attached.is_empty() && !force_delete {
        return Err(ApiError::conflict(
            "DeleteConflictException",
            format!(
                "Certificate policies must be detached before deletion (policies: {})",
                attached.join(", ")
            ),
        ));
    }
    // Its policy attachments are kept on it, so they go with it.
    state.certificates.remove(id);
    Ok(json!({}))
}

/// GetEffectivePolicies: the policies in effect for a certificate principal (attached to it,
/// or to a group of `thing_name`), with their default documents.
pub fn get_effective_policies(
    state: &FleetState,
    call: Call<'_>,
    body: &Value,
    thing_name: Option<&str>,
) -> ApiResult {
    let principal = body
        .get("principal")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("principal is required"))?;
    known_principal(state, principal)?;
    let groups = match thing_name {
        Some(name) => thing(state, name)?.groups.iter().collect(),
        None => Vec::new(),
    };
    let policies: Vec<Value> = policies_in_force(state, principal, groups)
        .into_iter()
        .filter_map(|name| state.policies.get(name).map(|p| (name, p)))
        .map(|(name, p)| {
            json!({
                "policyName": name,
                "policyArn": call.arn(&format!("policy/{name}")),
                "policyDocument": p.default_document(),
            })
        })
        .collect();
    Ok(json!({"effectivePolicies": policies}))
}

fn policy_entry(call: Call<'_>, name: &str) -> Value {
    json!({"policyName": name, "policyArn": call.arn(&format!("policy/{name}"))})
}

pub fn list_policies(
    state: &FleetState,
    call: Call<'_>,
    page: Option<i64>,
    marker: Option<&str>,
    ascending: bool,
) -> ApiResult {
    let size = page_size(page, 25, "pageSize")?;
    let mut names: Vec<&String> = state.policies.keys().collect();
    if !ascending {
        names.reverse();
    }
    let (page, next) = offset_page(&names, marker, size)?;
    let out = json!({"policies": page.iter().map(|n| policy_entry(call, n)).collect::<Vec<_>>()});
    Ok(with_next(out, "nextMarker", next))
}

pub fn list_attached_policies(
    state: &FleetState,
    call: Call<'_>,
    target: &str,
    page: Option<i64>,
    marker: Option<&str>,
) -> ApiResult {
    let size = page_size(page, 25, "pageSize")?;
    let names: Vec<&String> = state
        .attached_policies(target)
        .into_iter()
        .flatten()
        .collect();
    let (page, next) = offset_page(&names, marker, size)?;
    let out = json!({"policies": page.iter().map(|n| policy_entry(call, n)).collect::<Vec<_>>()});
    Ok(with_next(out, "nextMarker", next))
}

/// The ARNs of the certificates and Thing groups a policy is attached to, in order.
fn targets_of(state: &FleetState, call: Call<'_>, name: &str) -> Vec<String> {
    let certificates = state
        .certificates
        .iter()
        .filter(|(_, c)| c.policies.contains(name))
        .map(|(id, _)| call.arn(&format!("cert/{id}")));
    let groups = state
        .thing_groups
        .iter()
        .filter(|(_, g)| g.policies.contains(name))
        .map(|(group, _)| call.arn(&format!("thinggroup/{group}")));
    let mut targets: Vec<String> = certificates.chain(groups).collect();
    targets.sort();
    targets
}

pub fn list_targets_for_policy(
    state: &FleetState,
    call: Call<'_>,
    name: &str,
    page: Option<i64>,
    marker: Option<&str>,
) -> ApiResult {
    let size = page_size(page, 25, "pageSize")?;
    policy(state, name)?;
    let targets = targets_of(state, call, name);
    let (page, next) = offset_page(&targets, marker, size)?;
    let out = json!({"targets": page});
    Ok(with_next(out, "nextMarker", next))
}

pub fn get_policy(state: &FleetState, call: Call<'_>, name: &str) -> ApiResult {
    let record = policy(state, name)?;
    Ok(json!({
        "policyName": name,
        "policyArn": call.arn(&format!("policy/{name}")),
        "policyDocument": record.default_document(),
        "defaultVersionId": record.default_version.to_string(),
        "creationDate": record.created,
        "lastModifiedDate": record.last_modified,
    }))
}

fn version_number(version: &str) -> Result<u32, ApiError> {
    version.parse().map_err(|_| {
        ApiError::invalid(format!(
            "policyVersionId '{version}' is not a version number"
        ))
    })
}

pub fn get_policy_version(
    state: &FleetState,
    call: Call<'_>,
    name: &str,
    version: &str,
) -> ApiResult {
    let record = policy(state, name)?;
    let number = version_number(version)?;
    let found = record
        .versions
        .get(&number)
        .ok_or_else(|| ApiError::not_found(format!("Policy {name} has no version {version}")))?;
    Ok(json!({
        "policyName": name,
        "policyArn": call.arn(&format!("policy/{name}")),
        "policyDocument": found.document,
        "policyVersionId": version,
        "isDefaultVersion": number == record.default_version,
        "creationDate": found.created,
        "lastModifiedDate": found.created,
    }))
}

pub fn list_policy_versions(state: &FleetState, name: &str) -> ApiResult {
    let record = policy(state, name)?;
    let versions: Vec<Value> = record
        .versions
        .iter()
        .rev()
        .map(|(number, v)| json!({"versionId": number.to_string(), "isDefaultVersion": *number == record.default_version, "createDate": v.created}))
        .collect();
    Ok(json!({"policyVersions": versions}))
}

fn checked_document(body: &Value) -> Result<String, ApiError> {
    let document = body
        .get("policyDocument")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("policyDocument is required"))?;
    PolicyDocument::parse(document).map_err(|e| ApiError {
        status: 400,
        code: "MalformedPolicyException",
        message: e.0,
    })?;
    Ok(document.to_owned())
}

pub fn create_policy(
    state: &mut FleetState,
    call: Call<'_>,
    name: &str,
    body: &Value,
) -> ApiResult {
    valid_name(name, "policyName")?;
    let document = checked_document(body)?;
    if state.policies.contains_key(name) {
        return Err(ApiError::conflict(
            "ResourceAlreadyExistsException",
            format!("Policy {name} already exists"),
        ));
    }
    state.policies.insert(
        name.to_owned(),
        PolicyRecord::new(document.clone(), call.now),
    );
    Ok(
        json!({"policyName": name, "policyArn": call.arn(&format!("policy/{name}")), "policyDocument": document, "policyVersionId": "1"}),
    )
}

pub fn create_policy_version(
    state: &mut FleetState,
    call: Call<'_>,
    name: &str,
    body: &Value,
    set_as_default: bool,
) -> ApiResult {
    let document = checked_document(body)?;
    let record = policy_mut(state, name)?;
    if record.versions.len() >= MAX_POLICY_VERSIONS {
        return Err(ApiError::conflict(
            "VersionsLimitExceededException",
            format!(
                "The policy {name} already has the maximum number of versions ({MAX_POLICY_VERSIONS}); delete one first"
            ),
        ));
    }
    let number = record.next_version;
    record.next_version += 1;
    record.versions.insert(
        number,
        PolicyVersionRecord {
            document: document.clone(),
            created: call.now,
        },
    );
    if set_as_default {
        record.default_version = number;
    }
    record.last_modified = call.now;
    Ok(json!({
        "policyArn": call.arn(&format!("policy/{name}")),
        "policyDocument": document,
        "policyVersionId": number.to_string(),
        "isDefaultVersion": set_as_default,
    }))
}

pub fn set_default_policy_version(
    state: &mut FleetState,
    call: Call<'_>,
    name: &str,
    version: &str,
) -> ApiResult {
    let number = version_number(version)?;
    let record = policy_mut(state, name)?;
    if !record.versions.contains_key(&number) {
        return Err(ApiError::not_found(format!(
            "Policy {name} has no version {version}"
        )));
    }
    record.default_version = number;
    record.last_modified = call.now;
    Ok(json!({}))
}

pub fn delete_policy_version(state: &mut FleetState, name: &str, version: &str) -> ApiResult {
    let number = version_number(version)?;
    let record = policy_mut(state, name)?;
    if number == record.default_version {
        return Err(ApiError::conflict(
            "DeleteConflictException",
            format!("Cannot delete the default version {version} of policy {name}"),
        ));
    }
    if record.versions.remove(&number).is_none() {
        return Err(ApiError::not_found(format!(
            "Policy {name} has no version {version}"
        )));
    }
    Ok(json!({}))
}

/// DeletePolicy: refused while the policy has targets or versions besides the default, as AWS
/// does.
pub fn delete_policy(state: &mut FleetState, call: Call<'_>, name: &str) -> ApiResult {
    let record = policy(state, name)?;
    let targets = targets_of(state, call, name);
    if !targets.is_empty() {
        return Err(ApiError::conflict(
            "DeleteConflictException",
            format!(
                "Policy {name} is attached to {} target(s); detach it first",
                targets.len()
            ),
        ));
    }
    if record.versions.len() > 1 {
        return Err(ApiError::conflict(
            "DeleteConflictException",
            format!("Policy {name} has versions besides the default; delete them first"),
        ));
    }
    state.policies.remove(name);
    Ok(json!({}))
}

fn known_target(state: &FleetState, target: &str) -> Result<(), ApiError> {
    if let Some((_, group)) = target.split_once(":thinggroup/") {
        return thing_group(state, group).map(|_| ());
    }
    known_principal(state, target)
}

pub fn attach_policy(state: &mut FleetState, name: &str, body: &Value) -> ApiResult {
    let target = body
        .get("target")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("target is required"))?;
    known_target(state, target)?;
    policy(state, name)?;
    if let Some(policies) = state.attached_policies_mut(target) {
        policies.insert(name.to_owned());
    }
    Ok(json!({}))
}

pub fn detach_policy(state: &mut FleetState, name: &str, body: &Value) -> ApiResult {
    let target = body
        .get("target")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("target is required"))?;
    policy(state, name)?;
    if let Some(policies) = state.attached_policies_mut(target) {
        policies.remove(name);
    }
    Ok(json!({}))
}

/// DescribeEndpoint: the local core answers with its own host for every endpoint type.
pub fn describe_endpoint(endpoint_type: Option<&str>, host: &str) -> ApiResult {
    match endpoint_type.unwrap_or("iot:Data") {
        "iot:Data" | "iot:Data-ATS" | "iot:CredentialProvider" | "iot:Jobs" => {
            Ok(json!({"endpointAddress": host}))
        }
        other => Err(ApiError::invalid(format!(
            "endpointType {other} is not one of iot:Data, iot:Data-ATS, iot:CredentialProvider, iot:Jobs"
        ))),
    }
}

/// The names of the policies attached to `principal` or to any of `groups`, in order.
fn policies_in_force<'s>(
    state: &'s FleetState,
    principal: &str,
    groups: impl IntoIterator<Item = &'s String>,
) -> BTreeSet<&'s String> {
    let mut names: BTreeSet<&String> = state
        .attached_policies(principal)
        .into_iter()
        .flatten()
        .collect();
    for group in groups {
        names.extend(
            state
                .thing_groups
                .get(group)
                .into_iter()
                .flat_map(|g| &g.policies),
        );
    }
    names
}

/// The policies that apply to a certificate principal: attached to it directly, or to a Thing
/// group of a Thing it is attached to. Malformed stored documents are skipped.
#[must_use]
pub fn effective_policies(state: &FleetState, principal: &str) -> Vec<(String, PolicyDocument)> {
    let groups = state
        .things
        .values()
        .filter(|thing| thing.principals.contains(principal))
        .flat_map(|thing| &thing.groups);
    policies_in_force(state, principal, groups)
        .into_iter()
        .filter_map(|name| {
            let record = state.policies.get(name)?;
            PolicyDocument::parse(record.default_document())
                .ok()
                .map(|doc| (name.clone(), doc))
        })
        .collect()
}

/// The request context of a connection by `principal` with `client_id`: the Thing attached to
/// the principal whose name is the client id (none otherwise: as AWS IoT, the Thing policy
/// variables resolve only when the client id is the Thing's name), and the certificate's subject.
#[must_use]
pub fn request_context(
    state: &FleetState,
    principal: &str,
    client_id: Option<&str>,
) -> RequestContext {
    let chosen = client_id
        .and_then(|id| state.things.get_key_value(id))
        .filter(|(_, thing)| thing.principals.contains(principal));
    let mut subject = BTreeMap::new();
    if let Some(record) = certificate_id_of(principal).and_then(|id| state.certificates.get(id))
        && let Ok(facts) = crate::fleet::certificate::read_pem(&record.pem)
        && let Some(common_name) = facts.subject.strip_prefix("CN=")
    {
        subject.insert(
            "CommonName".to_owned(),
            common_name.split(',').next().unwrap_or_default().to_owned(),
        );
    }
    RequestContext {
        client_id: client_id.map(str::to_owned),
        thing: chosen.map(|(name, record)| ThingContext {
            name: name.clone(),
            thing_type: record.thing_type.clone(),
            attributes: record.attributes.clone(),
        }),
        certificate_subject: subject,
    }
}

/// TestAuthorization through the policy engine.
pub fn test_authorization(
    state: &FleetState,
    call: Call<'_>,
    body: &Value,
    client_id: Option<&str>,
) -> ApiResult {
    let principal = body
        .get("principal")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("principal is required"))?;
    known_principal(state, principal)?;
    let infos = body
        .get("authInfos")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::invalid("authInfos is required"))?;
    let strings = |key: &str| -> BTreeSet<String> {
        body.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    let (skip, add) = (strings("policyNamesToSkip"), strings("policyNamesToAdd"));
    let mut documents: Vec<(String, PolicyDocument)> = effective_policies(state, principal)
        .into_iter()
        .filter(|(n, _)| !skip.contains(n))
        .collect();
    for name in &add {
        let record = policy(state, name)?;
        if let Ok(document) = PolicyDocument::parse(record.default_document()) {
            documents.push((name.clone(), document));
        }
    }
    let named: Vec<NamedPolicy<'_>> = documents
        .iter()
        .map(|(name, document)| NamedPolicy { name, document })
        .collect();
    let context = request_context(state, principal, client_id);
    let mut results = Vec::new();
    for info in infos {
        let action_type = info
            .get("actionType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let action = match action_type {
            "PUBLISH" => "iot:Publish",
            "SUBSCRIBE" => "iot:Subscribe",
            "RECEIVE" => "iot:Receive",
            "CONNECT" => "iot:Connect",
            other => {
                return Err(ApiError::invalid(format!(
                    "actionType {other} is not PUBLISH, SUBSCRIBE, RECEIVE or CONNECT"
                )));
            }
        };
        let resources: Vec<&str> = info
            .get("resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut allowed = BTreeSet::new();
        let mut explicit = BTreeSet::new();
        let mut missing = BTreeSet::new();
        let mut outcome = if resources.is_empty() {
            Outcome::ImplicitDeny
        } else {
            Outcome::Allowed
        };
        for resource in &resources {
            let decision = evaluate(&named, Request { action, resource }, &context);
            allowed.extend(decision.allowing.clone());
            explicit.extend(decision.denying.clone());
            missing.extend(decision.missing_context.clone());
            outcome = match (outcome, decision.outcome) {
                (Outcome::ExplicitDeny, _) | (_, Outcome::ExplicitDeny) => Outcome::ExplicitDeny,
                (Outcome::ImplicitDeny, _) | (_, Outcome::ImplicitDeny) => Outcome::ImplicitDeny,
                _ => Outcome::Allowed,
            };
        }
        let implicit: Vec<Value> = if outcome == Outcome::ImplicitDeny {
            named.iter().map(|p| policy_entry(call, p.name)).collect()
        } else {
            Vec::new()
        };
        results.push(json!({
            "authInfo": info,
            "allowed": {"policies": allowed.iter().map(|n| policy_entry(call, n)).collect::<Vec<_>>()},
            "denied": {
                "implicitDeny": {"policies": implicit},
                "explicitDeny": {"policies": explicit.iter().map(|n| policy_entry(call, n)).collect::<Vec<_>>()},
            },
            "authDecision": match outcome {
                Outcome::Allowed => "ALLOWED",
                Outcome::ExplicitDeny => "EXPLICIT_DENY",
                Outcome::ImplicitDeny => "IMPLICIT_DENY",
            },
            "missingContextValues": missing,
        }));
    }
    Ok(json!({"authResults": results}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thing_policy_variables_resolve_only_when_the_client_id_is_the_things_name() {
        let principal = "arn:aws:iot:us-east-1:123456789012:cert/abc";
        let mut state = FleetState::default();
        state.things.insert(
            "pump-1".into(),
            ThingRecord {
                principals: BTreeSet::from([principal.to_owned()]),
                ..ThingRecord::default()
            },
        );
        state.things.insert("pump-2".into(), ThingRecord::default());
        let thing = |client_id| {
            request_context(&state, principal, Some(client_id))
                .thing
                .map(|t| t.name)
        };
        assert_eq!(thing("pump-1"), Some("pump-1".to_owned()));
        assert_eq!(thing("another-client"), None, "AWS resolves no Thing here");
        assert_eq!(
            thing("pump-2"),
            None,
            "a Thing this certificate is not attached to"
        );
    }
}
