//! Seeds a test fleet through the plain AWS SDK, the way an operator's own tooling would:
//! Things, certificates with known validity (made with rcgen), policies and attachments.

use std::collections::HashMap;

use futures_util::{StreamExt as _, TryStreamExt as _};
use time::OffsetDateTime;

/// A device policy scoped to the Thing's own topics, as the AWS IoT documentation recommends.
pub const DEVICE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/devices/${iot:Connection.Thing.ThingName}/*"}]}"#;

/// A certificate to make: its common name, validity window and registry status.
#[derive(Debug, Clone)]
pub struct CertificateSpec {
    pub common_name: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub status: &'static str,
}

impl CertificateSpec {
    /// An ACTIVE certificate valid from a day ago for `days` days.
    #[must_use]
    pub fn valid_for_days(common_name: &str, days: i64) -> Self {
        let now = OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .expect("zero nanoseconds");
        Self {
            common_name: common_name.to_owned(),
            not_before: now - time::Duration::days(1),
            not_after: now + time::Duration::days(days),
            status: "ACTIVE",
        }
    }
}

/// Makes a self-signed certificate PEM with exactly the given validity.
#[must_use]
pub fn certificate_pem(spec: &CertificateSpec) -> String {
    let key = rcgen::KeyPair::generate().expect("generate a key");
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).expect("certificate parameters");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, spec.common_name.clone());
    params.not_before = spec.not_before;
    params.not_after = spec.not_after;
    params.self_signed(&key).expect("self-sign").pem()
}

/// Registers a certificate; returns its id and ARN.
pub async fn certificate(iot: &aws_sdk_iot::Client, spec: &CertificateSpec) -> (String, String) {
    let out = iot
        .register_certificate_without_ca()
        .certificate_pem(certificate_pem(spec))
        .status(spec.status.into())
        .send()
        .await
        .expect("RegisterCertificateWithoutCA");
    (
        out.certificate_id.expect("certificate id"),
        out.certificate_arn.expect("certificate arn"),
    )
}

pub async fn thing_type(iot: &aws_sdk_iot::Client, name: &str) {
    iot.create_thing_type()
        .thing_type_name(name)
        .send()
        .await
        .expect("CreateThingType");
}

pub async fn thing(
    iot: &aws_sdk_iot::Client,
    name: &str,
    thing_type: Option<&str>,
    attributes: &[(&str, &str)],
) {
    let payload = aws_sdk_iot::types::AttributePayload::builder()
        .set_attributes(Some(
            attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<HashMap<_, _>>(),
        ))
        .build();
    iot.create_thing()
        .thing_name(name)
        .set_thing_type_name(thing_type.map(str::to_owned))
        .attribute_payload(payload)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateThing {name}: {e:?}"));
}

pub async fn policy(iot: &aws_sdk_iot::Client, name: &str, document: &str) -> String {
    let out = iot
        .create_policy()
        .policy_name(name)
        .policy_document(document)
        .send()
        .await
        .expect("CreatePolicy");
    out.policy_arn.expect("policy arn")
}

pub async fn attach_policy(iot: &aws_sdk_iot::Client, policy: &str, target: &str) {
    iot.attach_policy()
        .policy_name(policy)
        .target(target)
        .send()
        .await
        .expect("AttachPolicy");
}

pub async fn attach_thing(iot: &aws_sdk_iot::Client, thing: &str, principal: &str) {
    iot.attach_thing_principal()
        .thing_name(thing)
        .principal(principal)
        .send()
        .await
        .expect("AttachThingPrincipal");
}

/// A Thing with its own certificate and its own policy.
#[derive(Debug, Clone)]
pub struct Device {
    pub name: String,
    pub certificate_id: String,
    pub certificate_arn: String,
    pub policy: String,
}

/// Seeds `thing-NNNNN` (type `sensor`, attribute `index`) with a certificate (valid 90 days)
/// and a policy `thing-NNNNN-policy` each, `concurrency` devices at a time.
pub async fn devices(iot: &aws_sdk_iot::Client, count: usize, concurrency: usize) -> Vec<Device> {
    thing_type(iot, "sensor").await;
    futures_util::stream::iter(0..count)
        .map(|i| async move {
            let name = format!("thing-{i:05}");
            let index = i.to_string();
            thing(iot, &name, Some("sensor"), &[("index", &index)]).await;
            let (certificate_id, certificate_arn) =
                certificate(iot, &CertificateSpec::valid_for_days(&name, 90)).await;
            let policy_name = format!("{name}-policy");
            policy(iot, &policy_name, DEVICE_POLICY).await;
            attach_policy(iot, &policy_name, &certificate_arn).await;
            attach_thing(iot, &name, &certificate_arn).await;
            Ok::<_, ()>(Device {
                name,
                certificate_id,
                certificate_arn,
                policy: policy_name,
            })
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await
        .expect("seeding never fails softly")
}

/// Seeds `count` bare Things (`bare-NNNNN`, no certificate), `concurrency` at a time.
pub async fn bare_things(iot: &aws_sdk_iot::Client, count: usize, concurrency: usize) {
    futures_util::stream::iter(0..count)
        .map(|i| async move { thing(iot, &format!("bare-{i:05}"), None, &[]).await })
        .buffer_unordered(concurrency)
        .collect::<Vec<()>>()
        .await;
}

/// Writes `messages` (with their times in ms) to AWS IoT's log group `AWSIotLogsV2`, creating it
/// and a stream first where the backend needs them (moto; the local core has them already).
pub async fn iot_log(logs: &aws_sdk_cloudwatchlogs::Client, messages: &[(i64, serde_json::Value)]) {
    let group = iotfleet::fleet::denied::LOG_GROUP;
    if let Err(error) = logs.create_log_group().log_group_name(group).send().await {
        assert!(
            error
                .as_service_error()
                .is_some_and(aws_sdk_cloudwatchlogs::operation::create_log_group::CreateLogGroupError::is_resource_already_exists_exception),
            "{error:?}"
        );
    }
    if let Err(error) = logs
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name("test")
        .send()
        .await
    {
        assert!(
            error
                .as_service_error()
                .is_some_and(aws_sdk_cloudwatchlogs::operation::create_log_stream::CreateLogStreamError::is_resource_already_exists_exception),
            "{error:?}"
        );
    }
    let events = messages
        .iter()
        .map(|(ms, message)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(*ms)
                .message(message.to_string())
                .build()
                .expect("a log event")
        })
        .collect::<Vec<_>>();
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name("test")
        .set_log_events(Some(events))
        .send()
        .await
        .expect("PutLogEvents");
}
