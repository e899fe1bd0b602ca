//! The local IoT Core's REST API over HTTP: AWS IoT's paths, query parameters, JSON bodies and
//! error shapes, so aws-sdk-iot, the aws CLI and boto3 talk to it unchanged. Every request must
//! be signed with the fleet's own key (`auth.rs`); one that is not is refused with AWS's error
//! in its service's shape. Requests are routed by path and by the SigV4 signing name (`iot` or
//! `iotdata`), since both services share paths like `/things/{name}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::{self, Caller, Refusal};
use super::broker::shadow_topics::{self, Publication};
use super::core::Core;
use super::data_plane;
use super::detect;
use super::registry::{self, ApiError, ApiResult, Call, ThingListing};
use super::rules;
use super::seed::REGION;
use super::trail;

pub fn router(core: Arc<Core>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(core)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Iot,
    IotData,
}

/// A refused request, in the shape of the service it was meant for: STS's XML, the JSON 1.1 of
/// CloudWatch Logs and CloudTrail, or AWS IoT's REST-JSON.
fn refused(
    refusal: &Refusal,
    signing_name: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let error = ApiError {
        status: 403,
        code: refusal.code(),
        message: refusal.to_string(),
    };
    match signing_name {
        Some("sts") => sts_error(refusal.sts_code(), &refusal.to_string()),
        None if form && body.starts_with(b"Action=") => {
            sts_error(refusal.sts_code(), &refusal.to_string())
        }
        Some("logs" | "cloudtrail") => json11(Err(error)),
        None if headers.contains_key("x-amz-target") => json11(Err(error)),
        _ => error_response(&error),
    }
}

async fn handle(
    State(core): State<Arc<Core>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let claimed = auth::claimed_scope(&headers);
    let signing_name = claimed.as_ref().map(|(service, _)| service.clone());
    let request = auth::Request {
        method: method.as_str(),
        uri: &uri,
        headers: &headers,
        body: &body,
    };
    let caller = match auth::verify(
        &core.identity.credentials,
        REGION,
        request,
        std::time::SystemTime::now(),
    ) {
        Ok(caller) => caller,
        Err(refusal) => {
            tracing::info!(%method, path = uri.path(), %refusal, "local api: refused");
            return refused(&refusal, signing_name.as_deref(), &headers, &body);
        }
    };
    let segments: Vec<String> = uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let path: Vec<&str> = segments.iter().map(String::as_str).collect();
    let service = match signing_name.as_deref() {
        Some("iotdata") => Service::IotData,
        // Unsigned requests: shadow paths belong to the data plane.
        None if path.get(2) == Some(&"shadow") || path.first() == Some(&"api") => Service::IotData,
        _ => Service::Iot,
    };
    let query: HashMap<String, String> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let call = Call {
        account: &core.identity.account,
        region: &caller.region,
        now,
    };
    let request = Incoming {
        method: &method,
        path: &path,
        query: &query,
        headers: &headers,
        body: &body,
        call,
    };
    if signing_name.as_deref() == Some("sts") {
        return caller_identity(&core.identity.account, &caller, &body);
    }
    if signing_name.as_deref() == Some("logs") {
        return logs(&core, &headers, &body);
    }
    if signing_name.as_deref() == Some("cloudtrail") {
        return cloudtrail(&core, &headers, &body, call.region);
    }
    let result = match (service, path.as_slice()) {
        // DeleteConnection needs the broker, which answers asynchronously.
        (Service::IotData, ["connections", client_id]) if method == Method::DELETE => {
            let prevent_will = query.get("preventWillMessage").map(String::as_str) == Some("true");
            core.disconnect(client_id, prevent_will).await
        }
        (Service::Iot, path) => match &core.throttle {
            Some(throttle) => throttle
                .admit(&method, path)
                .and_then(|()| iot(&core, &request)),
            None => iot(&core, &request),
        },
        (Service::IotData, _) => iot_data(&core, &request),
    };
    tracing::debug!(%method, path = uri.path(), ?service, ok = result.is_ok(), "local api");
    if service == Service::Iot && result.is_ok() {
        record_call(&core, &request, &caller);
    }
    match result {
        Ok(value) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            value.to_string(),
        )
            .into_response(),
        Err(error) => error_response(&error),
    }
}

/// CloudWatch Logs (JSON 1.1 protocol: the operation in `X-Amz-Target`): FilterLogEvents on
/// the broker's refusals, PutLogEvents, and CreateLogGroup and CreateLogStream (the group and
/// any stream exist already); any other operation is refused by name.
fn logs(core: &Core, headers: &HeaderMap, body: &Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let request = serde_json::from_slice::<Value>(body).map_err(|e| ApiError {
        status: 400,
        code: "SerializationException",
        message: format!("the request is not JSON: {e}"),
    });
    let result = match target.strip_prefix("Logs_20140328.") {
        Some("FilterLogEvents") => request.and_then(|request| core.logs.filter(&request)),
        Some("PutLogEvents") => request.and_then(|request| core.logs.put(&request)),
        Some("CreateLogStream") => Ok(json!({})),
        Some("CreateLogGroup") => Err(ApiError {
            status: 400,
            code: "ResourceAlreadyExistsException",
            message: format!("the local core's {} exists already", super::logs::LOG_GROUP),
        }),
        _ => Err(ApiError {
            status: 400,
            code: "UnknownOperationException",
            message: format!(
                "the local core answers FilterLogEvents, PutLogEvents, CreateLogGroup and CreateLogStream on {} only, not {target:?}",
                super::logs::LOG_GROUP
            ),
        }),
    };
    json11(result)
}

/// Records a call that changed the fleet where LookupEvents finds it (`trail.rs`), as its own
/// transaction after the change, attributed to the verified caller: a failure to write it is
/// logged, the change stands.
fn record_call(core: &Core, request: &Incoming<'_>, caller: &Caller) {
    let Some(action) = super::quotas::operation(request.method, request.path) else {
        return;
    };
    let body = request.json().unwrap_or_default();
    let principal = request
        .headers
        .get("x-amzn-principal")
        .and_then(|v| v.to_str().ok());
    let Some(call) = trail::call(action, request.path, request.query, principal, &body) else {
        return;
    };
    let (key, user) = (&caller.access_key, &caller.user);
    let now_ms = i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
        .unwrap_or_default();
    let recorded = core.write(|state| {
        trail::record(state, &call, key, user, now_ms);
        Ok(json!({}))
    });
    if let Err(error) = recorded {
        tracing::warn!(error = %error.message, event = %call.event_name, "a call was made but not recorded for LookupEvents");
    }
}

/// CloudTrail (JSON 1.1 protocol): LookupEvents over the recorded calls; any other operation is
/// refused by name.
fn cloudtrail(core: &Core, headers: &HeaderMap, body: &Bytes, region: &str) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let result = match target.rsplit('.').next() {
        Some("LookupEvents") => serde_json::from_slice::<Value>(body)
            .map_err(|e| ApiError {
                status: 400,
                code: "SerializationException",
                message: format!("the request is not JSON: {e}"),
            })
            .and_then(|request| core.read(|state| trail::lookup_events(state, region, &request))),
        _ => Err(ApiError {
            status: 400,
            code: "UnknownOperationException",
            message: format!(
                "the local core answers CloudTrail's LookupEvents only, not {target:?}"
            ),
        }),
    };
    json11(result)
}

/// An answer in the JSON 1.1 protocol (CloudWatch Logs, CloudTrail): the body, or the error's
/// `__type` and message.
fn json11(result: ApiResult) -> Response {
    let (status, body) = match result {
        Ok(answer) => (StatusCode::OK, answer),
        Err(error) => (
            StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST),
            json!({"__type": error.code, "message": error.message}),
        ),
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}

/// STS GetCallerIdentity (query protocol, XML answer): the fleet's account and the verified
/// caller (the signing key's owner), so the journal and the console's header name an account
/// and an actor here as on AWS. Other STS actions are refused.
fn caller_identity(account: &str, caller: &Caller, body: &Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    if form.get("Action").map(String::as_str) != Some("GetCallerIdentity") {
        let action = form.get("Action").map_or("no action", String::as_str);
        let mut response = sts_error(
            "InvalidAction",
            &format!("the local IoT Core answers only GetCallerIdentity, not {action}"),
        );
        *response.status_mut() = StatusCode::BAD_REQUEST;
        return response;
    }
    let xml = format!(
        r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::{account}:user/{}</Arn><UserId>{}</UserId><Account>{account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>local</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#,
        xml_text(&caller.user),
        xml_text(&caller.access_key)
    );
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml")], xml).into_response()
}

/// An STS error (query protocol): 403 with its code and message in XML.
fn sts_error(code: &str, message: &str) -> Response {
    let xml = format!(
        r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>local</RequestId></ErrorResponse>"#,
        xml_text(message)
    );
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/xml")],
        xml,
    )
        .into_response()
}

/// Text escaped for an XML element.
fn xml_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn error_response(error: &ApiError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"message": error.message, "code": error.code}).to_string();
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (
                header::HeaderName::from_static("x-amzn-errortype"),
                error.code,
            ),
        ],
        body,
    )
        .into_response()
}

struct Incoming<'a> {
    method: &'a Method,
    path: &'a [&'a str],
    query: &'a HashMap<String, String>,
    headers: &'a HeaderMap,
    body: &'a Bytes,
    call: Call<'a>,
}

impl Incoming<'_> {
    fn query(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str)
    }

    fn query_int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.query(key)
            .map(|v| {
                v.parse()
                    .map_err(|_| ApiError::invalid(format!("{key} '{v}' is not a number")))
            })
            .transpose()
    }

    fn query_bool(&self, key: &str) -> bool {
        self.query(key) == Some("true")
    }

    fn json(&self) -> Result<Value, ApiError> {
        if self.body.is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_slice(self.body)
            .map_err(|e| ApiError::invalid(format!("the request body is not JSON: {e}")))
    }

    fn header(&self, name: &str) -> Result<&str, ApiError> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::invalid(format!("header {name} is required")))
    }

    fn unsupported(&self, service: &str) -> ApiError {
        ApiError::invalid(format!(
            "the iotfleet local IoT Core does not implement {} /{} ({service})",
            self.method,
            self.path.join("/")
        ))
    }
}

#[expect(clippy::too_many_lines, reason = "one flat routing table reads best")]
fn iot(core: &Core, r: &Incoming<'_>) -> ApiResult {
    let call = r.call;
    let m = r.method;
    match r.path {
        ["things"] if m == Method::GET => {
            let query = ThingListing {
                next_token: r.query("nextToken").map(str::to_owned),
                max_results: r.query_int("maxResults")?,
                attribute_name: r.query("attributeName").map(str::to_owned),
                attribute_value: r.query("attributeValue").map(str::to_owned),
                use_prefix_attribute_value: r.query_bool("usePrefixAttributeValue"),
                thing_type: r.query("thingTypeName").map(str::to_owned),
            };
            registry::list_things(core, call, &query)
        }
        ["things", name] if m == Method::GET => {
            core.read(|s| registry::describe_thing(s, call, name))
        }
        ["things", name] if m == Method::POST => {
            let body = r.json()?;
            core.write(|s| registry::create_thing(s, call, name, &body))
        }
        ["things", name] if m == Method::DELETE => {
            let expected = r.query_int("expectedVersion")?;
            core.write(|s| registry::delete_thing(s, name, expected))
        }
        ["things", name] if m == Method::PATCH => {
            let body = r.json()?;
            core.write(|s| registry::update_thing(s, name, &body))
        }
        ["things", name, "connectivity-data"] if m == Method::POST => {
            core.read(|s| registry::describe_thing(s, call, name))?;
            Ok(core.presence.connectivity(name))
        }
        ["indices", "search"] if m == Method::POST => {
            let request: super::search::SearchRequest = serde_json::from_value(r.json()?)
                .map_err(|e| ApiError::invalid(format!("the SearchIndex request: {e}")))?;
            super::search::search(core, &request)
        }
        ["rules"] if m == Method::GET => {
            let disabled = r.query("ruleDisabled").map(|v| v == "true");
            let max = r.query_int("maxResults")?;
            core.read(|s| {
                rules::list_topic_rules(
                    s,
                    call,
                    r.query("topic"),
                    disabled,
                    max,
                    r.query("nextToken"),
                )
            })
        }
        ["rules", name] if m == Method::POST => {
            let body = r.json()?;
            core.write(|s| rules::create_topic_rule(s, call, name, &body))
        }
        ["rules", name] if m == Method::GET => core.read(|s| rules::get_topic_rule(s, call, name)),
        ["rules", name] if m == Method::PATCH => {
            let body = r.json()?;
            core.write(|s| rules::replace_topic_rule(s, name, &body))
        }
        ["rules", name] if m == Method::DELETE => core.write(|s| rules::delete_topic_rule(s, name)),
        ["rules", name, "enable"] if m == Method::POST => {
            core.write(|s| rules::set_disabled(s, name, false))
        }
        ["rules", name, "disable"] if m == Method::POST => {
            core.write(|s| rules::set_disabled(s, name, true))
        }
        ["security-profiles"] if m == Method::GET => {
            let max = r.query_int("maxResults")?;
            core.read(|s| detect::list_security_profiles(s, call, max, r.query("nextToken")))
        }
        ["security-profiles", name] if m == Method::POST => {
            let body = r.json()?;
            core.write(|s| detect::create_security_profile(s, call, name, &body))
        }
        ["security-profiles", name] if m == Method::GET => {
            core.read(|s| detect::describe_security_profile(s, call, name))
        }
        ["security-profiles", name] if m == Method::DELETE => {
            core.write(|s| detect::delete_security_profile(s, name))
        }
        ["security-profiles", name, "targets"] if m == Method::GET => {
            core.read(|s| detect::list_targets_for_security_profile(s, name))
        }
        ["security-profiles", name, "targets"] if m == Method::PUT || m == Method::DELETE => {
            let target = r
                .query("securityProfileTargetArn")
                .ok_or_else(|| ApiError::invalid("securityProfileTargetArn is required"))?;
            if m == Method::PUT {
                core.write(|s| detect::attach_security_profile(s, name, target))
            } else {
                core.write(|s| detect::detach_security_profile(s, name, target))
            }
        }
        ["active-violations"] if m == Method::GET => {
            let query = detect::ViolationQuery {
                thing: r.query("thingName"),
                security_profile: r.query("securityProfileName"),
                next_token: r.query("nextToken"),
                max_results: r.query_int("maxResults")?,
            };
            core.read(|s| core.detect.list_active_violations(s, &query))
        }
        ["things", name, "thing-groups"] if m == Method::GET => {
            core.read(|s| registry::list_thing_groups_for_thing(s, call, name))
        }
        ["things", name, "principals"] if m == Method::GET => {
            core.read(|s| registry::list_thing_principals(s, name))
        }
        ["things", name, "principals"] if m == Method::PUT => {
            let principal = r.header("x-amzn-principal")?;
            core.write(|s| registry::attach_thing_principal(s, name, principal))
        }
        ["things", name, "principals"] if m == Method::DELETE => {
            let principal = r.header("x-amzn-principal")?;
            core.write(|s| registry::detach_thing_principal(s, name, principal))
        }
        ["principals", "things"] if m == Method::GET => {
            let principal = r.header("x-amzn-principal")?;
            core.read(|s| registry::list_principal_things(s, principal))
        }
        ["thing-types", name] if m == Method::POST => {
            core.write(|s| registry::create_thing_type(s, call, name))
        }
        ["thing-groups", "addThingToThingGroup"] if m == Method::PUT => {
            let body = r.json()?;
            core.write(|s| registry::add_thing_to_thing_group(s, &body))
        }
        ["thing-groups"] if m == Method::GET => {
            let max = r.query_int("maxResults")?;
            core.read(|s| {
                let prefix = r.query("namePrefixFilter");
                registry::list_thing_groups(s, call, prefix, max, r.query("nextToken"))
            })
        }
        ["thing-groups", name, "things"] if m == Method::GET => {
            let max = r.query_int("maxResults")?;
            core.read(|s| registry::list_things_in_thing_group(s, name, max, r.query("nextToken")))
        }
        ["thing-types"] if m == Method::GET => {
            let max = r.query_int("maxResults")?;
            core.read(|s| {
                let only = r.query("thingTypeName");
                registry::list_thing_types(s, call, only, max, r.query("nextToken"))
            })
        }
        ["keys-and-certificate"] if m == Method::POST => {
            let active = r.query_bool("setAsActive");
            core.write(|s| registry::create_keys_and_certificate(s, call, active))
        }
        ["certificates", id] if m == Method::DELETE => {
            let force = r.query_bool("forceDelete");
            core.write(|s| registry::delete_certificate(s, call, id, force))
        }
        ["principal-policies"] if m == Method::GET => {
            let principal = r.header("x-amzn-iot-principal")?;
            let page = r.query_int("pageSize")?;
            core.read(|s| {
                registry::list_attached_policies(s, call, principal, page, r.query("marker"))
            })
        }
        ["effective-policies"] if m == Method::POST => {
            let body = r.json()?;
            core.read(|s| registry::get_effective_policies(s, call, &body, r.query("thingName")))
        }
        ["thing-groups", name] if m == Method::POST => {
            core.write(|s| registry::create_thing_group(s, call, name))
        }
        ["certificates"] if m == Method::GET => {
            let (page, ascending) = (r.query_int("pageSize")?, r.query_bool("isAscendingOrder"));
            core.read(|s| registry::list_certificates(s, call, page, r.query("marker"), ascending))
        }
        ["certificates", id] if m == Method::GET => {
            core.read(|s| registry::describe_certificate(s, call, id))
        }
        ["certificates", id] if m == Method::PUT => {
            core.write(|s| registry::update_certificate(s, call, id, r.query("newStatus")))
        }
        ["certificate", "register-no-ca"] if m == Method::POST => {
            let body = r.json()?;
            core.write(|s| registry::register_certificate_without_ca(s, call, &body))
        }
        ["attached-policies", target] if m == Method::POST => {
            let page = r.query_int("pageSize")?;
            core.read(|s| {
                registry::list_attached_policies(s, call, target, page, r.query("marker"))
            })
        }
        ["policy-targets", name] if m == Method::POST => {
            let page = r.query_int("pageSize")?;
            core.read(|s| registry::list_targets_for_policy(s, call, name, page, r.query("marker")))
        }
        ["policies"] if m == Method::GET => {
            let (page, ascending) = (r.query_int("pageSize")?, r.query_bool("isAscendingOrder"));
            core.read(|s| registry::list_policies(s, call, page, r.query("marker"), ascending))
        }
        ["policies", name] if m == Method::GET => {
            core.read(|s| registry::get_policy(s, call, name))
        }
        ["policies", name] if m == Method::POST => {
            let body = r.json()?;
            core.write(|s| registry::create_policy(s, call, name, &body))
        }
        ["policies", name] if m == Method::DELETE => {
            core.write(|s| registry::delete_policy(s, call, name))
        }
        ["policies", name, "version"] if m == Method::GET => {
            core.read(|s| registry::list_policy_versions(s, name))
        }
        ["policies", name, "version"] if m == Method::POST => {
            let body = r.json()?;
            let set_as_default = r.query_bool("setAsDefault");
            core.write(|s| registry::create_policy_version(s, call, name, &body, set_as_default))
        }
        ["policies", name, "version", version] if m == Method::GET => {
            core.read(|s| registry::get_policy_version(s, call, name, version))
        }
        ["policies", name, "version", version] if m == Method::PATCH => {
            core.write(|s| registry::set_default_policy_version(s, call, name, version))
        }
        ["policies", name, "version", version] if m == Method::DELETE => {
            core.write(|s| registry::delete_policy_version(s, name, version))
        }
        ["target-policies", name] if m == Method::PUT => {
            let body = r.json()?;
            core.write(|s| registry::attach_policy(s, name, &body))
        }
        ["target-policies", name] if m == Method::POST => {
            let body = r.json()?;
            core.write(|s| registry::detach_policy(s, name, &body))
        }
        ["endpoint"] if m == Method::GET => registry::describe_endpoint(
            r.query("endpointType"),
            core.mqtt_endpoint().unwrap_or(&core.host),
        ),
        ["test-authorization"] if m == Method::POST => {
            let body = r.json()?;
            let client_id = r.query("clientId").map(str::to_owned).or_else(|| {
                body.get("clientId")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            core.read(|s| registry::test_authorization(s, call, &body, client_id.as_deref()))
        }
        _ => Err(r.unsupported("iot")),
    }
}

fn iot_data(core: &Core, r: &Incoming<'_>) -> ApiResult {
    let call = r.call;
    let m = r.method;
    let shadow_name = r.query("name");
    match r.path {
        ["things", thing, "shadow"] if m == Method::GET => {
            core.read(|s| data_plane::get(s, thing, shadow_name))
        }
        ["things", thing, "shadow"] if m == Method::POST => {
            let mut announce = Vec::new();
            let result = core.write(|s| {
                let accepted = data_plane::update(s, call, thing, shadow_name, r.body)?;
                announce = shadow_topics::after_update(
                    &shadow_topics::prefix(thing, shadow_name),
                    &accepted,
                    r.body,
                    call.now,
                );
                Ok(accepted.response)
            });
            if result.is_ok() {
                core.announce(announce);
            }
            result
        }
        ["things", thing, "shadow"] if m == Method::DELETE => {
            let result = core.write(|s| data_plane::delete(s, call, thing, shadow_name));
            if let Ok(body) = &result {
                core.announce(vec![Publication {
                    topic: format!(
                        "{}/delete/accepted",
                        shadow_topics::prefix(thing, shadow_name)
                    ),
                    payload: body.clone(),
                }]);
            }
            result
        }
        ["api", "things", "shadow", "ListNamedShadowsForThing", thing] if m == Method::GET => {
            let page = r.query_int("pageSize")?;
            core.read(|s| data_plane::list_named(s, call, thing, page, r.query("nextToken")))
        }
        _ => Err(r.unsupported("iotdata")),
    }
}
