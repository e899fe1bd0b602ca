//! The policy engine against the example policies of the AWS IoT Core Developer Guide. Each test
//! names the guide page and section its policy comes from.

use std::collections::BTreeMap;

use super::{
    NamedPolicy, Outcome, PolicyDocument, Request, RequestContext, ThingContext, evaluate,
};

const ARN: &str = "arn:aws:iot:us-east-1:123456789012";

fn decide(
    documents: &[(&str, &str)],
    context: &RequestContext,
    action: &str,
    resource: &str,
) -> super::Decision {
    let parsed: Vec<(String, PolicyDocument)> = documents
        .iter()
        .map(|(name, text)| {
            (
                (*name).to_owned(),
                PolicyDocument::parse(&text.replace("ARN", ARN)).expect("valid example policy"),
            )
        })
        .collect();
    let policies: Vec<NamedPolicy<'_>> = parsed
        .iter()
        .map(|(name, document)| NamedPolicy { name, document })
        .collect();
    let resource = format!("{ARN}:{resource}");
    evaluate(
        &policies,
        Request {
            action,
            resource: &resource,
        },
        context,
    )
}

fn device(name: &str) -> RequestContext {
    RequestContext {
        client_id: Some(name.to_owned()),
        thing: Some(ThingContext {
            name: name.to_owned(),
            thing_type: Some("pump".into()),
            attributes: BTreeMap::from([("location".into(), "plant-2".into())]),
        }),
        certificate_subject: BTreeMap::from([("CommonName".into(), name.to_owned())]),
    }
}

/// "Connect policy examples": connect only with the client id of the attached Thing's name.
const CONNECT_AS_THING: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect",
  "Resource":"ARN:client/${iot:Connection.Thing.ThingName}",
  "Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}}]}"#;

#[test]
fn connect_policy_examples_client_id_must_be_the_thing_name() {
    let context = device("pump-17");
    assert!(
        decide(
            &[("p", CONNECT_AS_THING)],
            &context,
            "iot:Connect",
            "client/pump-17"
        )
        .allowed()
    );
    assert_eq!(
        decide(
            &[("p", CONNECT_AS_THING)],
            &context,
            "iot:Connect",
            "client/pump-18"
        )
        .outcome,
        Outcome::ImplicitDeny
    );
}

#[test]
fn connect_policy_examples_unattached_certificate_cannot_connect() {
    let context = RequestContext {
        client_id: Some("pump-17".into()),
        ..RequestContext::default()
    };
    let decision = decide(
        &[("p", CONNECT_AS_THING)],
        &context,
        "iot:Connect",
        "client/pump-17",
    );
    assert_eq!(decision.outcome, Outcome::ImplicitDeny);
    assert!(
        decision
            .missing_context
            .contains("iot:Connection.Thing.ThingName"),
        "{decision:?}"
    );
}

#[test]
fn connect_policy_examples_certificate_common_name_as_client_id() {
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"ARN:client/${iot:Certificate.Subject.CommonName}"}]}"#;
    assert!(
        decide(
            &[("p", policy)],
            &device("cam-1"),
            "iot:Connect",
            "client/cam-1"
        )
        .allowed()
    );
    assert!(
        !decide(
            &[("p", policy)],
            &device("cam-1"),
            "iot:Connect",
            "client/cam-2"
        )
        .allowed()
    );
}

/// "Policies to publish, subscribe and receive messages to/from topics specific to each device".
const PER_DEVICE_TOPICS: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"ARN:topic/device/${iot:Connection.Thing.ThingName}/*"},
  {"Effect":"Allow","Action":"iot:Subscribe","Resource":"ARN:topicfilter/device/${iot:Connection.Thing.ThingName}/*"}]}"#;

#[test]
fn pub_sub_policy_topics_specific_to_each_device() {
    let context = device("pump-17");
    assert!(
        decide(
            &[("p", PER_DEVICE_TOPICS)],
            &context,
            "iot:Publish",
            "topic/device/pump-17/telemetry"
        )
        .allowed()
    );
    assert!(
        !decide(
            &[("p", PER_DEVICE_TOPICS)],
            &context,
            "iot:Publish",
            "topic/device/pump-18/telemetry"
        )
        .allowed()
    );
    assert!(
        decide(
            &[("p", PER_DEVICE_TOPICS)],
            &context,
            "iot:Receive",
            "topic/device/pump-17/cmd"
        )
        .allowed()
    );
}

#[test]
fn pub_sub_policy_subscribe_is_judged_on_topicfilter_not_topic() {
    let context = device("pump-17");
    assert!(
        decide(
            &[("p", PER_DEVICE_TOPICS)],
            &context,
            "iot:Subscribe",
            "topicfilter/device/pump-17/#"
        )
        .allowed()
    );
    // An Allow on topic/... does not grant Subscribe, which is checked on topicfilter/...
    let topic_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"ARN:topic/device/*"}]}"#;
    assert_eq!(
        decide(
            &[("p", topic_only)],
            &context,
            "iot:Subscribe",
            "topicfilter/device/pump-17/#"
        )
        .outcome,
        Outcome::ImplicitDeny
    );
}

#[test]
fn pub_sub_policy_thing_attribute_in_topic_name() {
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"ARN:topic/${iot:Connection.Thing.Attributes[location]}/*"}]}"#;
    assert!(
        decide(
            &[("p", policy)],
            &device("pump-17"),
            "iot:Publish",
            "topic/plant-2/alarm"
        )
        .allowed()
    );
    assert!(
        !decide(
            &[("p", policy)],
            &device("pump-17"),
            "iot:Publish",
            "topic/plant-3/alarm"
        )
        .allowed()
    );
}

#[test]
fn pub_sub_policy_mqtt_wildcards_in_a_topicfilter_are_literal() {
    // "Using wildcard characters in MQTT and AWS IoT Core policies": to allow subscribing to the
    // filter some/+/topic, the resource names it literally or with * and ?.
    let literal = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Subscribe","Resource":"ARN:topicfilter/some/+/topic"}]}"#;
    let context = device("pump-17");
    assert!(
        decide(
            &[("p", literal)],
            &context,
            "iot:Subscribe",
            "topicfilter/some/+/topic"
        )
        .allowed()
    );
    assert!(
        !decide(
            &[("p", literal)],
            &context,
            "iot:Subscribe",
            "topicfilter/some/sensor/topic"
        )
        .allowed()
    );
    let star = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Subscribe","Resource":"ARN:topicfilter/some/*/topic"}]}"#;
    assert!(
        decide(
            &[("p", star)],
            &context,
            "iot:Subscribe",
            "topicfilter/some/sensor/topic"
        )
        .allowed()
    );
    let question = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"ARN:topic/some/?????/topic"}]}"#;
    assert!(
        decide(
            &[("p", question)],
            &context,
            "iot:Publish",
            "topic/some/sens1/topic"
        )
        .allowed()
    );
    assert!(
        !decide(
            &[("p", question)],
            &context,
            "iot:Publish",
            "topic/some/sensor/topic"
        )
        .allowed()
    );
}

#[test]
fn pub_sub_policy_deny_publishing_to_subtopics_explicit_deny_wins() {
    // "Policies to deny publishing messages to subtopics of a topic name".
    let policy = r#"{"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Action":"iot:Publish","Resource":"ARN:topic/department/*"},
      {"Sid":"no-admins","Effect":"Deny","Action":"iot:Publish","Resource":"ARN:topic/department/admins/*"}]}"#;
    let context = device("pump-17");
    assert!(
        decide(
            &[("p", policy)],
            &context,
            "iot:Publish",
            "topic/department/engineering"
        )
        .allowed()
    );
    let decision = decide(
        &[("p", policy)],
        &context,
        "iot:Publish",
        "topic/department/admins/salaries",
    );
    assert_eq!(decision.outcome, Outcome::ExplicitDeny);
    let by = decision.decided_by.expect("a deciding statement");
    assert_eq!(
        (by.policy.as_str(), by.index, by.sid.as_deref()),
        ("p", 1, Some("no-admins"))
    );
}

#[test]
fn pub_sub_policy_deny_with_mqtt_hash_does_not_deny_what_its_author_meant() {
    // The misconfiguration Device Defender flags: # is literal in a policy, so this Deny only
    // covers the topic named "secret/#", not secret/anything.
    let policy = r#"{"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Action":"iot:Publish","Resource":"ARN:topic/*"},
      {"Effect":"Deny","Action":"iot:Publish","Resource":"ARN:topic/secret/#"}]}"#;
    let context = device("pump-17");
    assert!(
        decide(
            &[("p", policy)],
            &context,
            "iot:Publish",
            "topic/secret/plans"
        )
        .allowed()
    );
    assert_eq!(
        decide(&[("p", policy)], &context, "iot:Publish", "topic/secret/#").outcome,
        Outcome::ExplicitDeny
    );
}

#[test]
fn deny_in_one_policy_overrides_allow_in_another() {
    // "How AWS IoT policies work": an explicit Deny in any attached policy overrides an Allow.
    let allow_all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;
    let deny_all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"*"}]}"#;
    let decision = decide(
        &[
            ("admin", allow_all),
            ("iotfleet-quarantine-deny-all", deny_all),
        ],
        &device("pump-17"),
        "iot:Connect",
        "client/pump-17",
    );
    assert_eq!(decision.outcome, Outcome::ExplicitDeny);
    assert_eq!(
        decision.decided_by.unwrap().policy,
        "iotfleet-quarantine-deny-all"
    );
    assert!(
        decision.allowing.contains("admin")
            && decision.denying.contains("iotfleet-quarantine-deny-all")
    );
}

#[test]
fn no_matching_statement_is_an_implicit_deny() {
    let decision = decide(
        &[("p", PER_DEVICE_TOPICS)],
        &device("pump-17"),
        "iot:UpdateThingShadow",
        "thing/pump-17",
    );
    assert_eq!(decision.outcome, Outcome::ImplicitDeny);
    assert_eq!(decision.decided_by, None);
}

#[test]
fn actions_match_case_insensitively_with_wildcards() {
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*Shadow","Resource":"ARN:thing/${iot:Connection.Thing.ThingName}"}]}"#;
    let context = device("pump-17");
    assert!(
        decide(
            &[("p", policy)],
            &context,
            "iot:GetThingShadow",
            "thing/pump-17"
        )
        .allowed()
    );
    assert!(
        decide(
            &[("p", policy)],
            &context,
            "IOT:UpdateThingShadow",
            "thing/pump-17"
        )
        .allowed()
    );
    assert!(!decide(&[("p", policy)], &context, "iot:Publish", "thing/pump-17").allowed());
}

#[test]
fn version_2008_policies_do_not_substitute_variables() {
    // "IAM policy elements: Variables": variables need Version 2012-10-17.
    let policy = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"ARN:client/${iot:ClientId}"}]}"#;
    let context = device("pump-17");
    assert!(!decide(&[("p", policy)], &context, "iot:Connect", "client/pump-17").allowed());
    assert!(
        decide(
            &[("p", policy)],
            &context,
            "iot:Connect",
            "client/${iot:ClientId}"
        )
        .allowed()
    );
}

#[test]
fn not_resource_and_string_like_conditions() {
    let policy = r#"{"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Action":"iot:Publish","NotResource":"ARN:topic/$aws/*"},
      {"Effect":"Deny","Action":"iot:Publish","Resource":"*","Condition":{"StringLike":{"iot:ClientId":"test-*"}}}]}"#;
    assert!(
        decide(
            &[("p", policy)],
            &device("pump-17"),
            "iot:Publish",
            "topic/a"
        )
        .allowed()
    );
    assert!(
        !decide(
            &[("p", policy)],
            &device("pump-17"),
            "iot:Publish",
            "topic/$aws/things/x/shadow/update"
        )
        .allowed()
    );
    assert_eq!(
        decide(
            &[("p", policy)],
            &device("test-1"),
            "iot:Publish",
            "topic/a"
        )
        .outcome,
        Outcome::ExplicitDeny
    );
}
