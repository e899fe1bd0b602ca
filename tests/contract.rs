//! Contract tests of the fleet client: every operation, asserted as AWS IoT behaves, written
//! once and run against each test backend (moto now; the embedded local IoT Core joins with one
//! line). A case that needs an AWS behaviour a backend lacks runs only where it exists.

mod support;

use iotfleet::fleet::inventory;
use iotfleet::fleet::model::CertificateStatus;
use iotfleet::fleet::{FleetError, ResourceKind, ThingQuery};
use support::seed::{self, CertificateSpec};
use support::{Behaviour, TestFleet};

/// Instantiates every case for one backend, as `BACKEND_MODULE::CASE`.
macro_rules! contract_suite {
    ($module:ident, $backend:expr) => {
        mod $module {
            contract_suite!(@cases $backend;
                things_stream_page_by_page,
                things_filter_by_type_and_attribute_on_the_server,
                describe_thing_returns_type_and_attributes,
                unknown_thing_is_not_found,
                thing_groups_of_a_thing,
                principals_of_a_thing_and_things_of_a_principal,
                certificates_list_and_describe_with_validity_from_the_pem,
                certificate_status_is_reported,
                attached_policies_of_a_certificate,
                policies_list_get_versions_and_targets,
                unknown_policy_is_not_found,
                classic_and_named_shadows,
                unknown_shadow_is_not_found,
                thing_report_joins_without_n_plus_one_calls,
                certificate_list_follows_markers,
                certificate_validity_fields_match_the_pem,
                stale_shadow_version_is_a_conflict,
                policy_versions_are_limited_to_five,
                desired_null_removes_the_section,
                malformed_policy_is_rejected_with_the_reason,
                keys_and_certificates_are_created_and_deleted_as_aws_allows,
                things_are_deleted_once_no_principal_is_attached,
                groups_types_and_group_members_are_listed,
                principal_and_effective_policies_of_a_certificate,
                connectivity_of_a_thing_never_connected,
                refusals_are_read_from_aws_iot_logs,
                fleet_search_reads_the_query_syntax,
                device_defender_detect_profiles_and_violations,
                topic_rules_reading_a_devices_topics_name_their_actions,
                cloudtrail_history_names_who_changed_a_policy,
            );
        }
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                if let Some(fleet) = crate::support::TestFleet::start($backend).await {
                    crate::$case(&fleet).await;
                }
            }
        )*
    };
}

contract_suite!(moto, crate::support::Backend::Moto);
contract_suite!(local, crate::support::Backend::Local);

async fn things_stream_page_by_page(fleet: &TestFleet) {
    for i in 0..7 {
        seed::thing(&fleet.iot, &format!("pump-{i}"), None, &[]).await;
    }
    let mut pages = fleet.client.list_things(ThingQuery {
        page_size: Some(3),
        ..ThingQuery::default()
    });
    let mut sizes = Vec::new();
    let mut mores = Vec::new();
    let mut names = Vec::new();
    while let Some(page) = pages.next_page().await {
        let page = page.expect("a page");
        sizes.push(page.things.len());
        mores.push(page.more);
        names.extend(page.things.into_iter().map(|t| t.name));
    }
    assert_eq!(sizes, [3, 3, 1]);
    assert_eq!(mores, [true, true, false]);
    assert_eq!(
        sorted(names),
        (0..7).map(|i| format!("pump-{i}")).collect::<Vec<_>>()
    );
    assert!(
        pages.next_page().await.is_none(),
        "a finished listing stays finished"
    );
}

async fn things_filter_by_type_and_attribute_on_the_server(fleet: &TestFleet) {
    seed::thing_type(&fleet.iot, "pump").await;
    seed::thing(&fleet.iot, "pump-1", Some("pump"), &[("site", "plant-1")]).await;
    seed::thing(&fleet.iot, "pump-2", Some("pump"), &[("site", "plant-2")]).await;
    seed::thing(&fleet.iot, "sensor-1", None, &[("site", "plant-2")]).await;

    let by_type = ThingQuery {
        thing_type: Some("pump".into()),
        ..ThingQuery::default()
    };
    let names = thing_names(fleet, by_type).await;
    assert_eq!(names, ["pump-1", "pump-2"]);

    let by_attribute = ThingQuery {
        attribute: Some(("site".into(), "plant-2".into())),
        ..ThingQuery::default()
    };
    let names = thing_names(fleet, by_attribute).await;
    assert_eq!(names, ["pump-2", "sensor-1"]);
}

async fn describe_thing_returns_type_and_attributes(fleet: &TestFleet) {
    seed::thing_type(&fleet.iot, "pump").await;
    seed::thing(
        &fleet.iot,
        "pump-17",
        Some("pump"),
        &[("site", "plant-2"), ("model", "P-400")],
    )
    .await;
    let thing = fleet
        .client
        .describe_thing("pump-17")
        .await
        .expect("DescribeThing");
    assert_eq!(thing.name, "pump-17");
    assert_eq!(thing.thing_type.as_deref(), Some("pump"));
    assert_eq!(
        thing.attributes.get("site").map(String::as_str),
        Some("plant-2")
    );
    assert_eq!(
        thing.attributes.get("model").map(String::as_str),
        Some("P-400")
    );
    assert!(
        thing.arn.starts_with("arn:aws:iot:us-east-1:") && thing.arn.ends_with(":thing/pump-17"),
        "{}",
        thing.arn
    );

    let listed = fleet
        .client
        .list_things(ThingQuery::default())
        .collect_all()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].attributes, thing.attributes,
        "ListThings carries the same attributes"
    );
    assert_eq!(listed[0].thing_type.as_deref(), Some("pump"));
}

async fn unknown_thing_is_not_found(fleet: &TestFleet) {
    let error = fleet.client.describe_thing("nope").await.unwrap_err();
    assert!(
        matches!(&error, FleetError::NotFound { kind: ResourceKind::Thing, name } if name == "nope"),
        "{error:?}"
    );
    assert_eq!(error.exit_code(), 3);
}

async fn thing_groups_of_a_thing(fleet: &TestFleet) {
    seed::thing(&fleet.iot, "pump-1", None, &[]).await;
    for group in ["plant-2", "pumps"] {
        fleet
            .iot
            .create_thing_group()
            .thing_group_name(group)
            .send()
            .await
            .unwrap();
        fleet
            .iot
            .add_thing_to_thing_group()
            .thing_group_name(group)
            .thing_name("pump-1")
            .send()
            .await
            .unwrap();
    }
    let groups = sorted(
        fleet
            .client
            .thing_groups("pump-1")
            .await
            .unwrap()
            .into_iter()
            .map(|g| g.name),
    );
    assert_eq!(groups, ["plant-2", "pumps"]);
}

async fn principals_of_a_thing_and_things_of_a_principal(fleet: &TestFleet) {
    seed::thing(&fleet.iot, "pump-1", None, &[]).await;
    seed::thing(&fleet.iot, "pump-2", None, &[]).await;
    let (_, shared) =
        seed::certificate(&fleet.iot, &CertificateSpec::valid_for_days("shared", 30)).await;
    seed::attach_thing(&fleet.iot, "pump-1", &shared).await;
    seed::attach_thing(&fleet.iot, "pump-2", &shared).await;

    assert_eq!(
        fleet.client.thing_principals("pump-1").await.unwrap(),
        std::slice::from_ref(&shared)
    );
    let things = sorted(fleet.client.principal_things(&shared).await.unwrap());
    assert_eq!(things, ["pump-1", "pump-2"]);
}

async fn certificates_list_and_describe_with_validity_from_the_pem(fleet: &TestFleet) {
    let spec = CertificateSpec {
        common_name: "pump-1".into(),
        not_before: time::macros::datetime!(2026-01-01 0:00 UTC),
        not_after: time::macros::datetime!(2027-06-30 12:00 UTC),
        status: "ACTIVE",
    };
    let (id, arn) = seed::certificate(&fleet.iot, &spec).await;

    let listed = fleet.client.list_certificates().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].arn, arn);
    assert_eq!(listed[0].status, CertificateStatus::Active);

    let described = fleet.client.describe_certificate(&id).await.unwrap();
    let validity = described.validity.expect("validity read from the PEM");
    assert_eq!(validity.not_before, spec.not_before);
    assert_eq!(validity.not_after, spec.not_after);
    assert_eq!(described.subject.as_deref(), Some("CN=pump-1"));
    assert_eq!(described.pem_problem, None);
    assert_eq!(
        validity.days_to_expiry(time::macros::datetime!(2027-06-20 12:00 UTC)),
        10
    );
}

async fn certificate_status_is_reported(fleet: &TestFleet) {
    let mut spec = CertificateSpec::valid_for_days("inactive", 30);
    spec.status = "INACTIVE";
    let (inactive, _) = seed::certificate(&fleet.iot, &spec).await;
    let (revoked, _) =
        seed::certificate(&fleet.iot, &CertificateSpec::valid_for_days("revoked", 30)).await;
    fleet
        .iot
        .update_certificate()
        .certificate_id(&revoked)
        .new_status("REVOKED".into())
        .send()
        .await
        .unwrap();

    assert_eq!(
        fleet
            .client
            .describe_certificate(&inactive)
            .await
            .unwrap()
            .status,
        CertificateStatus::Inactive
    );
    assert_eq!(
        fleet
            .client
            .describe_certificate(&revoked)
            .await
            .unwrap()
            .status,
        CertificateStatus::Revoked
    );
}

async fn attached_policies_of_a_certificate(fleet: &TestFleet) {
    let (_, arn) =
        seed::certificate(&fleet.iot, &CertificateSpec::valid_for_days("pump-1", 30)).await;
    seed::policy(&fleet.iot, "pump-telemetry", seed::DEVICE_POLICY).await;
    seed::policy(&fleet.iot, "pump-shadow", seed::DEVICE_POLICY).await;
    seed::policy(&fleet.iot, "unattached", seed::DEVICE_POLICY).await;
    seed::attach_policy(&fleet.iot, "pump-telemetry", &arn).await;
    seed::attach_policy(&fleet.iot, "pump-shadow", &arn).await;

    let names = sorted(
        fleet
            .client
            .attached_policies(&arn)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.name),
    );
    assert_eq!(names, ["pump-shadow", "pump-telemetry"]);
}

async fn policies_list_get_versions_and_targets(fleet: &TestFleet) {
    let arn = seed::policy(&fleet.iot, "pump-policy", seed::DEVICE_POLICY).await;
    seed::policy(&fleet.iot, "other", seed::DEVICE_POLICY).await;
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"*"}]}"#;
    fleet
        .iot
        .create_policy_version()
        .policy_name("pump-policy")
        .policy_document(deny)
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    let (_, certificate) =
        seed::certificate(&fleet.iot, &CertificateSpec::valid_for_days("pump-1", 30)).await;
    seed::attach_policy(&fleet.iot, "pump-policy", &certificate).await;

    let names = sorted(
        fleet
            .client
            .list_policies()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.name),
    );
    assert_eq!(names, ["other", "pump-policy"]);

    let policy = fleet.client.get_policy("pump-policy").await.unwrap();
    assert_eq!(policy.arn, arn);
    assert_eq!(policy.default_version_id.as_deref(), Some("2"));
    let document: serde_json::Value = serde_json::from_str(&policy.document).unwrap();
    assert_eq!(
        document["Statement"][0]["Effect"], "Deny",
        "the default version's document"
    );

    let mut versions = fleet.client.policy_versions("pump-policy").await.unwrap();
    versions.sort_by(|a, b| a.version_id.cmp(&b.version_id));
    assert_eq!(
        versions
            .iter()
            .map(|v| (v.version_id.as_str(), v.is_default))
            .collect::<Vec<_>>(),
        [("1", false), ("2", true)]
    );

    assert_eq!(
        fleet.client.policy_targets("pump-policy").await.unwrap(),
        [certificate]
    );
    assert!(
        fleet
            .client
            .policy_targets("other")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn unknown_policy_is_not_found(fleet: &TestFleet) {
    let error = fleet.client.get_policy("nope").await.unwrap_err();
    assert!(
        matches!(
            error,
            FleetError::NotFound {
                kind: ResourceKind::Policy,
                ..
            }
        ),
        "{error:?}"
    );
}

async fn classic_and_named_shadows(fleet: &TestFleet) {
    seed::thing(&fleet.iot, "pump-1", None, &[]).await;
    let classic = r#"{"state":{"desired":{"speed":40},"reported":{"speed":10,"led":"on"}}}"#;
    fleet
        .data
        .update_thing_shadow()
        .thing_name("pump-1")
        .payload(classic.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
    let named = r#"{"state":{"reported":{"firmware":"1.2.3"}}}"#;
    fleet
        .data
        .update_thing_shadow()
        .thing_name("pump-1")
        .shadow_name("firmware")
        .payload(named.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();

    let shadow = fleet.client.get_shadow("pump-1", None).await.unwrap();
    assert_eq!(shadow.name, None);
    assert_eq!(shadow.version, Some(1));
    assert_eq!(shadow.desired, Some(serde_json::json!({"speed": 40})));
    assert_eq!(
        shadow.reported,
        Some(serde_json::json!({"speed": 10, "led": "on"}))
    );
    assert_eq!(shadow.delta, Some(serde_json::json!({"speed": 40})));
    assert!(shadow.timestamp.is_some_and(|t| t > 1_700_000_000));

    let firmware = fleet
        .client
        .get_shadow("pump-1", Some("firmware"))
        .await
        .unwrap();
    assert_eq!(firmware.name.as_deref(), Some("firmware"));
    assert_eq!(
        firmware.reported,
        Some(serde_json::json!({"firmware": "1.2.3"}))
    );
    assert_eq!(
        firmware.desired, None,
        "a named shadow is independent of the classic one"
    );

    assert_eq!(
        fleet.client.named_shadows("pump-1").await.unwrap(),
        ["firmware"]
    );
}

async fn unknown_shadow_is_not_found(fleet: &TestFleet) {
    seed::thing(&fleet.iot, "pump-1", None, &[]).await;
    let error = fleet
        .client
        .get_shadow("pump-1", Some("nope"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            FleetError::NotFound {
                kind: ResourceKind::Shadow,
                ..
            }
        ),
        "{error:?}"
    );
}

async fn thing_report_joins_without_n_plus_one_calls(fleet: &TestFleet) {
    let devices = seed::devices(&fleet.iot, 3, 3).await;
    let device = &devices[1];
    // A second policy on the device's certificate, and the certificate shared with another Thing.
    seed::policy(&fleet.iot, "extra", seed::DEVICE_POLICY).await;
    seed::attach_policy(&fleet.iot, "extra", &device.certificate_arn).await;
    seed::attach_thing(&fleet.iot, &devices[2].name, &device.certificate_arn).await;

    let before = fleet.client.stats();
    let report = inventory::thing_report(&fleet.client, &device.name)
        .await
        .unwrap();
    let calls = fleet.client.stats().operations - before.operations;

    assert_eq!(report.thing.name, device.name);
    assert_eq!(report.certificates.len(), 1);
    let certificate = &report.certificates[0];
    assert_eq!(certificate.certificate.id, device.certificate_id);
    assert!(certificate.is_shared());
    let policies = sorted(certificate.policies.iter().map(|p| p.name.as_str()));
    assert_eq!(policies, ["extra", device.policy.as_str()]);
    assert!(
        certificate
            .policies
            .iter()
            .all(|p| p.document.contains("\"Statement\"")),
        "documents are included"
    );
    // DescribeThing, ListThingGroupsForThing, ListThingPrincipals; per certificate
    // DescribeCertificate, ListAttachedPolicies, ListPrincipalThings; GetPolicy per policy.
    assert_eq!(
        calls,
        3 + 3 + 2,
        "calls made for one Thing, one certificate, two policies"
    );
}

async fn certificate_list_follows_markers(fleet: &TestFleet) {
    if !fleet.has(Behaviour::PaginatedCertificateAndPolicyLists) {
        return;
    }
    for i in 0..260 {
        seed::certificate(
            &fleet.iot,
            &CertificateSpec::valid_for_days(&format!("c{i}"), 30),
        )
        .await;
    }
    let before = fleet.client.stats();
    assert_eq!(fleet.client.list_certificates().await.unwrap().len(), 260);
    assert_eq!(
        fleet.client.stats().operations - before.operations,
        2,
        "two pages of at most 250"
    );
}

async fn certificate_validity_fields_match_the_pem(fleet: &TestFleet) {
    if !fleet.has(Behaviour::CertificateValidityFields) {
        return;
    }
    let spec = CertificateSpec::valid_for_days("pump-1", 12);
    let (id, _) = seed::certificate(&fleet.iot, &spec).await;
    let out = fleet
        .iot
        .describe_certificate()
        .certificate_id(&id)
        .send()
        .await
        .unwrap();
    let validity = out.certificate_description.unwrap().validity.unwrap();
    assert_eq!(
        validity.not_after.unwrap().secs(),
        spec.not_after.unix_timestamp()
    );
}

async fn stale_shadow_version_is_a_conflict(fleet: &TestFleet) {
    seed::thing(&fleet.iot, "pump-1", None, &[]).await;
    let update = |body: &str| {
        fleet
            .data
            .update_thing_shadow()
            .thing_name("pump-1")
            .payload(body.as_bytes().to_vec().into())
            .send()
    };
    update(r#"{"state":{"desired":{"speed":10}}}"#)
        .await
        .unwrap();
    update(r#"{"state":{"desired":{"speed":20}},"version":1}"#)
        .await
        .expect("the current version is accepted");
    let error = update(r#"{"state":{"desired":{"speed":30}},"version":1}"#)
        .await
        .unwrap_err();
    let error = error.into_service_error();
    assert!(error.is_conflict_exception(), "{error:?}");
    let shadow = fleet.client.get_shadow("pump-1", None).await.unwrap();
    assert_eq!(
        (shadow.version, shadow.desired),
        (Some(2), Some(serde_json::json!({"speed": 20}))),
        "nothing overwritten"
    );
}

async fn policy_versions_are_limited_to_five(fleet: &TestFleet) {
    seed::policy(&fleet.iot, "p", seed::DEVICE_POLICY).await;
    for _ in 0..4 {
        fleet
            .iot
            .create_policy_version()
            .policy_name("p")
            .policy_document(seed::DEVICE_POLICY)
            .send()
            .await
            .unwrap();
    }
    let error = fleet
        .iot
        .create_policy_version()
        .policy_name("p")
        .policy_document(seed::DEVICE_POLICY)
        .send()
        .await
        .unwrap_err();
    assert!(
        error
            .into_service_error()
            .is_versions_limit_exceeded_exception()
    );
    assert_eq!(fleet.client.policy_versions("p").await.unwrap().len(), 5);
}

async fn desired_null_removes_the_section(fleet: &TestFleet) {
    if !fleet.has(Behaviour::DesiredNullRemovesTheSection) {
        return;
    }
    seed::thing(&fleet.iot, "pump-1", None, &[]).await;
    for body in [
        r#"{"state":{"desired":{"speed":40,"led":"on"},"reported":{"speed":10}}}"#,
        r#"{"state":{"desired":{"led":null}}}"#,
    ] {
        fleet
            .data
            .update_thing_shadow()
            .thing_name("pump-1")
            .payload(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let shadow = fleet.client.get_shadow("pump-1", None).await.unwrap();
    assert_eq!(
        shadow.desired,
        Some(serde_json::json!({"speed": 40})),
        "a null key is removed"
    );
    let body = r#"{"state":{"desired":null}}"#;
    fleet
        .data
        .update_thing_shadow()
        .thing_name("pump-1")
        .payload(body.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
    let shadow = fleet.client.get_shadow("pump-1", None).await.unwrap();
    assert_eq!(shadow.desired, None);
    assert_eq!(shadow.delta, None);
    assert_eq!(shadow.reported, Some(serde_json::json!({"speed": 10})));
    assert_eq!(shadow.version, Some(3));
}

async fn malformed_policy_is_rejected_with_the_reason(fleet: &TestFleet) {
    if !fleet.has(Behaviour::MalformedPolicyRejected) {
        return;
    }
    let bad = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Permit","Action":"iot:*","Resource":"*"}]}"#;
    let error = fleet
        .iot
        .create_policy()
        .policy_name("bad")
        .policy_document(bad)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(error.is_malformed_policy_exception(), "{error:?}");
    assert!(
        error.to_string().contains("Permit"),
        "the reason is given: {error}"
    );
    assert!(
        matches!(
            fleet.client.get_policy("bad").await,
            Err(FleetError::NotFound { .. })
        ),
        "nothing was created"
    );
}

/// The AWS error code of a failed SDK call.
fn code<T: std::fmt::Debug, E: aws_sdk_iot::error::ProvideErrorMetadata + std::fmt::Debug>(
    result: &Result<T, E>,
) -> String {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(error) => error.code().unwrap_or("no code").to_owned(),
    }
}

async fn keys_and_certificates_are_created_and_deleted_as_aws_allows(fleet: &TestFleet) {
    let iot = &fleet.iot;
    let created = iot
        .create_keys_and_certificate()
        .set_as_active(true)
        .send()
        .await
        .expect("CreateKeysAndCertificate");
    let (id, arn) = (
        created.certificate_id.clone().unwrap(),
        created.certificate_arn.clone().unwrap(),
    );
    assert!(arn.ends_with(&format!(":cert/{id}")), "{arn}");
    assert!(
        created
            .certificate_pem()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    let keys = created.key_pair.unwrap();
    assert!(keys.private_key().unwrap().contains("PRIVATE KEY-----"));
    assert!(keys.public_key().unwrap().contains("PUBLIC KEY-----"));
    let described = fleet.client.describe_certificate(&id).await.unwrap();
    assert_eq!(described.status, CertificateStatus::Active);

    // ACTIVE: refused. Attached to a Thing, or to a policy without forceDelete: refused.
    let delete = |force: bool| {
        iot.delete_certificate()
            .certificate_id(&id)
            .force_delete(force)
            .send()
    };
    assert_eq!(code(&delete(false).await), "CertificateStateException");
    iot.update_certificate()
        .certificate_id(&id)
        .new_status(aws_sdk_iot::types::CertificateStatus::Inactive)
        .send()
        .await
        .unwrap();
    seed::thing(iot, "pump-1", None, &[]).await;
    seed::attach_thing(iot, "pump-1", &arn).await;
    seed::policy(iot, "pump-policy", seed::DEVICE_POLICY).await;
    seed::attach_policy(iot, "pump-policy", &arn).await;
    assert_eq!(code(&delete(false).await), "DeleteConflictException");
    iot.detach_thing_principal()
        .thing_name("pump-1")
        .principal(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(code(&delete(false).await), "DeleteConflictException");
    delete(true)
        .await
        .expect("forceDelete detaches the policies");
    assert!(matches!(
        fleet.client.describe_certificate(&id).await,
        Err(FleetError::NotFound { .. })
    ));
}

async fn things_are_deleted_once_no_principal_is_attached(fleet: &TestFleet) {
    let iot = &fleet.iot;
    seed::thing(iot, "pump-1", None, &[]).await;
    let (_, arn) = seed::certificate(iot, &CertificateSpec::valid_for_days("pump-1", 90)).await;
    seed::attach_thing(iot, "pump-1", &arn).await;
    let delete = || iot.delete_thing().thing_name("pump-1").send();
    assert_eq!(code(&delete().await), "InvalidRequestException");
    iot.detach_thing_principal()
        .thing_name("pump-1")
        .principal(&arn)
        .send()
        .await
        .unwrap();
    delete().await.expect("DeleteThing");
    assert!(matches!(
        fleet.client.describe_thing("pump-1").await,
        Err(FleetError::NotFound { .. })
    ));
    // AWS answers success for a Thing that does not exist.
    if fleet.has(Behaviour::DeleteOfAnUnknownThingSucceeds) {
        delete().await.expect("DeleteThing of a deleted Thing");
    }
}

async fn groups_types_and_group_members_are_listed(fleet: &TestFleet) {
    let iot = &fleet.iot;
    for thing_type in ["camera", "pump"] {
        seed::thing_type(iot, thing_type).await;
    }
    for group in ["plant-north", "plant-south"] {
        iot.create_thing_group()
            .thing_group_name(group)
            .send()
            .await
            .unwrap();
    }
    for (thing, group) in [
        ("pump-1", "plant-north"),
        ("pump-2", "plant-north"),
        ("cam-1", "plant-south"),
    ] {
        seed::thing(iot, thing, None, &[]).await;
        iot.add_thing_to_thing_group()
            .thing_name(thing)
            .thing_group_name(group)
            .send()
            .await
            .unwrap();
    }
    let groups = |prefix: Option<&'static str>| async move {
        iot.list_thing_groups()
            .set_name_prefix_filter(prefix.map(str::to_owned))
            .send()
            .await
            .unwrap()
            .thing_groups
            .unwrap_or_default()
            .into_iter()
            .filter_map(|g| g.group_name)
            .collect::<Vec<String>>()
    };
    assert_eq!(groups(None).await, ["plant-north", "plant-south"]);
    assert_eq!(groups(Some("plant-n")).await, ["plant-north"]);
    let types = sorted(
        iot.list_thing_types()
            .send()
            .await
            .unwrap()
            .thing_types
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| t.thing_type_name),
    );
    assert_eq!(types, ["camera", "pump"]);
    let members = sorted(
        iot.list_things_in_thing_group()
            .thing_group_name("plant-north")
            .send()
            .await
            .unwrap()
            .things
            .unwrap_or_default(),
    );
    assert_eq!(members, ["pump-1", "pump-2"]);
}

async fn principal_and_effective_policies_of_a_certificate(fleet: &TestFleet) {
    let iot = &fleet.iot;
    seed::thing(iot, "pump-1", None, &[]).await;
    let (_, arn) = seed::certificate(iot, &CertificateSpec::valid_for_days("pump-1", 90)).await;
    seed::attach_thing(iot, "pump-1", &arn).await;
    for policy in ["pump-a", "pump-b"] {
        seed::policy(iot, policy, seed::DEVICE_POLICY).await;
        seed::attach_policy(iot, policy, &arn).await;
    }
    #[expect(
        deprecated,
        reason = "ListPrincipalPolicies is what older provisioning scripts call"
    )]
    let listed = iot
        .list_principal_policies()
        .principal(&arn)
        .send()
        .await
        .unwrap();
    let names = sorted(
        listed
            .policies
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.policy_name),
    );
    assert_eq!(names, ["pump-a", "pump-b"]);
    if fleet.has(Behaviour::EffectivePolicies) {
        let effective = iot
            .get_effective_policies()
            .principal(&arn)
            .thing_name("pump-1")
            .send()
            .await
            .unwrap();
        let found = sorted(
            effective
                .effective_policies
                .unwrap_or_default()
                .into_iter()
                .map(|p| {
                    (
                        p.policy_name.unwrap_or_default(),
                        p.policy_document.unwrap_or_default(),
                    )
                }),
        );
        assert_eq!(
            found,
            [
                ("pump-a".to_owned(), seed::DEVICE_POLICY.to_owned()),
                ("pump-b".to_owned(), seed::DEVICE_POLICY.to_owned())
            ]
        );
    }
}

async fn connectivity_of_a_thing_never_connected(fleet: &TestFleet) {
    seed::thing(&fleet.iot, "pump-1", None, &[]).await;
    let answer = fleet.client.connectivity("pump-1").await;
    // Asked of the backend without a SKIP line: both backends are checked here.
    if !fleet.backend.has(Behaviour::ConnectivityData) {
        // moto answers 500: the console shows "unknown" with the error, never "offline".
        let said = answer.expect_err("moto lacks it").connectivity_unknown();
        assert!(said.starts_with("connectivity unknown: "), "{said}");
        return;
    }
    assert_eq!(
        answer.unwrap(),
        iotfleet::fleet::model::Connectivity {
            connected: false,
            since: None,
            disconnect_reason: None,
        }
    );
    let data = fleet
        .iot
        .get_thing_connectivity_data()
        .thing_name("pump-1")
        .send()
        .await
        .unwrap();
    assert_eq!(data.thing_name(), Some("pump-1"));
    assert_eq!(data.connected(), Some(false));
    let unknown = fleet
        .iot
        .get_thing_connectivity_data()
        .thing_name("pump-9")
        .send()
        .await;
    assert_eq!(code(&unknown), "ResourceNotFoundException");
}

/// The items in order: what a listing holds, whatever order the backend lists it in.
fn sorted<T: Ord>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut items: Vec<T> = items.into_iter().collect();
    items.sort();
    items
}

/// The names of the Things a query lists, in order.
async fn thing_names(fleet: &TestFleet, query: ThingQuery) -> Vec<String> {
    let things = fleet.client.list_things(query).collect_all().await;
    sorted(things.expect("listed").into_iter().map(|t| t.name))
}

async fn refusals_are_read_from_aws_iot_logs(fleet: &TestFleet) {
    use iotfleet::fleet::denied::Cursor;
    let now = time::OffsetDateTime::now_utc();
    let ms = |seconds_ago: i64| {
        i64::try_from(
            (now - time::Duration::seconds(seconds_ago)).unix_timestamp_nanos() / 1_000_000,
        )
        .unwrap()
    };
    let mut cursor = Cursor::since(now - time::Duration::minutes(5));
    // moto has no log group until one is made: that is IoT logging turned off.
    if fleet.backend == support::Backend::Moto {
        let said = fleet
            .client
            .refusals(&mut cursor)
            .await
            .expect_err("no log group yet")
            .refusals_unknown("us-east-1");
        assert!(said.contains("set-v2-logging-options"), "{said}");
    }
    let failure = |event: &str, client: &str, topic: Option<&str>| {
        let mut body = serde_json::json!({"timestamp": "2026-11-30 10:00:00.000",
            "logLevel": "ERROR", "status": "Failure", "eventType": event, "protocol": "MQTT",
            "clientId": client, "principalId": "c0ffee", "reason": "AUTHORIZATION_FAILURE",
            "details": "Authorization Failure"});
        if let Some(topic) = topic {
            body["topicName"] = topic.into();
        }
        body
    };
    seed::iot_log(
        &fleet.logs,
        &[
            // Before the cursor's start: not read.
            (ms(600), failure("Connect", "old", None)),
            (ms(60), failure("Publish-In", "camera-04", Some("fleet/pump-01/command"))),
            (ms(50), serde_json::json!({"status": "Success", "eventType": "Connect", "clientId": "pump-01"})),
            (ms(40), failure("Subscribe", "camera-04", Some("fleet/#"))),
            (ms(30), failure("Connect", "pump-14", None)),
        ],
    )
    .await;
    let read = fleet.client.refusals(&mut cursor).await.unwrap();
    let seen: Vec<(&str, &str, &str)> = read
        .iter()
        .map(|r| (r.client_id.as_str(), r.action(), r.target()))
        .collect();
    assert_eq!(
        seen,
        [
            ("camera-04", "publish", "fleet/pump-01/command"),
            ("camera-04", "subscribe", "fleet/#"),
            ("pump-14", "connect", "pump-14"),
        ]
    );
    assert!(read.iter().all(|r| r.reason == "AUTHORIZATION_FAILURE"));
    // Read again: the same events are not new.
    assert!(fleet.client.refusals(&mut cursor).await.unwrap().is_empty());
    seed::iot_log(
        &fleet.logs,
        &[(ms(1), failure("Publish-In", "camera-04", Some("x")))],
    )
    .await;
    let next = fleet.client.refusals(&mut cursor).await.unwrap();
    assert_eq!(next.len(), 1, "{next:?}");
}

/// The names a fleet indexing query matches, in order.
async fn searched(fleet: &TestFleet, query: &str) -> Vec<String> {
    let things = fleet.client.search_things(query).collect_all().await;
    sorted(
        things
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .into_iter()
            .map(|t| t.name),
    )
}

/// Three Things of two types at two sites, two of them in group line-a.
async fn search_fleet(fleet: &TestFleet) {
    seed::thing_type(&fleet.iot, "pump").await;
    seed::thing_type(&fleet.iot, "camera").await;
    seed::thing(
        &fleet.iot,
        "pump-1",
        Some("pump"),
        &[("site", "plant-north"), ("n", "3")],
    )
    .await;
    seed::thing(
        &fleet.iot,
        "pump-2",
        Some("pump"),
        &[("site", "plant-south"), ("n", "12")],
    )
    .await;
    seed::thing(
        &fleet.iot,
        "camera-1",
        Some("camera"),
        &[("site", "plant-north"), ("n", "7")],
    )
    .await;
    fleet
        .iot
        .create_thing_group()
        .thing_group_name("line-a")
        .send()
        .await
        .unwrap();
    for thing in ["pump-2", "camera-1"] {
        fleet
            .iot
            .add_thing_to_thing_group()
            .thing_group_name("line-a")
            .thing_name(thing)
            .send()
            .await
            .unwrap();
    }
}

async fn fleet_search_reads_the_query_syntax(fleet: &TestFleet) {
    search_fleet(fleet).await;
    // What moto and the local core both read.
    assert_eq!(
        searched(fleet, "thingName:pump*").await,
        ["pump-1", "pump-2"]
    );
    assert_eq!(
        searched(fleet, "attributes.site:plant-north").await,
        ["camera-1", "pump-1"]
    );
    assert_eq!(
        searched(fleet, "thingTypeName:camera OR thingName:pump-2").await,
        ["camera-1", "pump-2"]
    );
    assert_eq!(
        searched(
            fleet,
            "attributes.site:plant-north AND NOT thingTypeName:camera"
        )
        .await,
        ["pump-1"]
    );
    assert_eq!(
        searched(fleet, "thingGroupNames:line-a").await,
        ["camera-1", "pump-2"]
    );
    let found = fleet
        .client
        .search_things("thingName:camera-1")
        .collect_all()
        .await
        .unwrap();
    assert_eq!(found[0].thing_type.as_deref(), Some("camera"));
    assert_eq!(found[0].attributes.get("site"), Some("plant-north"));
    assert_eq!(found[0].groups, ["line-a"]);
    if fleet.backend.has(Behaviour::FullSearchSyntax) {
        full_search_syntax(fleet).await;
    }
}

/// Ranges, field groups, bare terms, shadow and connectivity fields, errors, pages.
async fn full_search_syntax(fleet: &TestFleet) {
    assert_eq!(
        searched(fleet, "attributes.n:[3 TO 7]").await,
        ["camera-1", "pump-1"]
    );
    assert_eq!(searched(fleet, "attributes.n>7").await, ["pump-2"]);
    assert_eq!(
        searched(fleet, "thingName:(pump* AND -pump-1)").await,
        ["pump-2"]
    );
    assert_eq!(searched(fleet, "PLANT-SOUTH").await, ["pump-2"]);
    fleet
        .data
        .update_thing_shadow()
        .thing_name("pump-1")
        .payload(aws_smithy_types::Blob::new(
            r#"{"state":{"reported":{"firmware":"2.4.1"},"desired":{"speed":40}}}"#,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        searched(fleet, "shadow.reported.firmware:2.4.1").await,
        ["pump-1"]
    );
    assert_eq!(searched(fleet, "shadow.hasDelta:true").await, ["pump-1"]);
    assert_eq!(searched(fleet, "shadow.delta.speed<50").await, ["pump-1"]);
    // Nothing is connected here: connectivity says so, for every Thing.
    assert_eq!(
        searched(fleet, "connectivity.connected:false AND thingTypeName:pump").await,
        ["pump-1", "pump-2"]
    );
    assert!(
        searched(fleet, "connectivity.connected:true")
            .await
            .is_empty()
    );
    let error = fleet
        .client
        .search_things("attributes.site:plant-north AND (thingName:pump*")
        .collect_all()
        .await
        .unwrap_err();
    let said = error.to_string();
    assert!(said.contains("never closed (at character 33)"), "{said}");
    assert!(said.contains(&format!("\n  {}^", " ".repeat(32))), "{said}");
    // Pages of 100, followed to the end.
    seed::bare_things(&fleet.iot, 150, 8).await;
    let all = fleet
        .client
        .search_things("thingName:*")
        .collect_all()
        .await
        .unwrap();
    assert_eq!(all.len(), 153);
}

/// A Detect behaviour: normal is at most 100 of `metric` in `duration` seconds.
fn behavior(name: &str, metric: &str, duration: i32) -> aws_sdk_iot::types::Behavior {
    use aws_sdk_iot::types::{Behavior, BehaviorCriteria, ComparisonOperator, MetricValue};
    Behavior::builder()
        .name(name)
        .metric(metric)
        .criteria(
            BehaviorCriteria::builder()
                .comparison_operator(ComparisonOperator::LessThanEquals)
                .value(MetricValue::builder().count(100).build())
                .duration_seconds(duration)
                .build(),
        )
        .build()
        .unwrap()
}

/// Attaches a security profile to every registered Thing, and checks it is listed there.
async fn attach_to_every_thing(fleet: &TestFleet, profile: &str) {
    let target = "arn:aws:iot:us-east-1:123456789012:all/registered-things";
    fleet
        .iot
        .attach_security_profile()
        .security_profile_name(profile)
        .security_profile_target_arn(target)
        .send()
        .await
        .unwrap();
    let targets = fleet
        .iot
        .list_targets_for_security_profile()
        .security_profile_name(profile)
        .send()
        .await
        .unwrap();
    assert_eq!(
        targets
            .security_profile_targets()
            .iter()
            .map(aws_sdk_iot::types::SecurityProfileTarget::arn)
            .collect::<Vec<_>>(),
        [target]
    );
}

async fn device_defender_detect_profiles_and_violations(fleet: &TestFleet) {
    use aws_sdk_iot::types::MetricValue;
    let answer = fleet.client.violations(None).await;
    // Asked of the backend without a SKIP line: both backends are checked here.
    if !fleet.backend.has(Behaviour::DeviceDefenderDetect) {
        // moto lacks ListSecurityProfiles and ListActiveViolations: said plainly, never "no
        // violations".
        let said = answer
            .expect_err("moto lacks Device Defender")
            .violations_unknown();
        assert!(
            said.contains("does not answer Device Defender Detect"),
            "{said}"
        );
        return;
    }
    let none = answer.expect("no profile yet");
    assert_eq!(none.profiles, 0);
    let said = none
        .unwatched("us-east-1", false)
        .expect("nothing is watched");
    assert!(said.contains("create-security-profile"), "{said}");

    // What AWS refuses, and what the local core cannot measure, is refused by name.
    for (bad, why) in [
        (
            behavior("b", "aws:num-messages-sent", 60),
            "durationSeconds",
        ),
        (behavior("b", "aws:all-bytes-out", 300), "aws:all-bytes-out"),
    ] {
        let refused = fleet
            .iot
            .create_security_profile()
            .security_profile_name("bad")
            .behaviors(bad)
            .send()
            .await;
        assert_eq!(code(&refused), "InvalidRequestException");
        let message = refused.unwrap_err().into_service_error().to_string();
        assert!(message.contains(why), "{message}");
    }
    let created = fleet
        .iot
        .create_security_profile()
        .security_profile_name("baseline")
        .behaviors(behavior("messages-sent", "aws:num-messages-sent", 300))
        .send()
        .await
        .unwrap();
    assert!(
        created
            .security_profile_arn()
            .is_some_and(|arn| arn.ends_with(":securityprofile/baseline")),
        "{created:?}"
    );
    let again = fleet
        .iot
        .create_security_profile()
        .security_profile_name("baseline")
        .send()
        .await;
    assert_eq!(code(&again), "ResourceAlreadyExistsException");
    attach_to_every_thing(fleet, "baseline").await;
    let described = fleet
        .iot
        .describe_security_profile()
        .security_profile_name("baseline")
        .send()
        .await
        .unwrap();
    let criteria = described.behaviors()[0].criteria().unwrap();
    assert_eq!(criteria.duration_seconds(), Some(300));
    assert_eq!(criteria.value().and_then(MetricValue::count), Some(100));
    // Watched now, and nothing measured (no broker here): no violation.
    let watched = fleet.client.violations(None).await.unwrap();
    assert_eq!((watched.profiles, watched.active.len()), (1, 0));
    assert_eq!(watched.unwatched("us-east-1", false), None);
    let unknown = fleet
        .iot
        .list_active_violations()
        .security_profile_name("nope")
        .send()
        .await;
    assert_eq!(code(&unknown), "ResourceNotFoundException");
}

async fn topic_rules_reading_a_devices_topics_name_their_actions(fleet: &TestFleet) {
    use iotfleet::fleet::rules::device_topics;
    let Some(python) = support::boto3_python() else {
        return;
    };
    // Made with boto3, as an operator's script would.
    let listed = support::boto3(
        &python,
        &fleet.target,
        r#"
role = 'arn:aws:iam::123456789012:role/iot-rules'
rules = {
    'telemetry_to_s3': ("SELECT * FROM 'fleet/+/telemetry'",
        {'s3': {'bucketName': 'telemetry-archive', 'key': '${topic()}', 'roleArn': role}}),
    'pump01_alerts': ("SELECT temperature FROM 'fleet/pump-01/#' WHERE temperature > 80",
        {'lambda': {'functionArn': 'arn:aws:lambda:us-east-1:123456789012:function:page-oncall'}}),
    'pump02_only': ("SELECT * FROM 'fleet/pump-02/telemetry'",
        {'dynamoDB': {'tableName': 'pump02', 'roleArn': role, 'hashKeyField': 'id', 'hashKeyValue': '1'}}),
    'plant_status': ("SELECT * FROM 'plant/+/status'",
        {'kinesis': {'streamName': 'plant', 'roleArn': role}}),
}
for name, (sql, action) in rules.items():
    iot.create_topic_rule(ruleName=name, topicRulePayload={'sql': sql, 'actions': [action]})
print(json.dumps(sorted((r['ruleName'], r['topicPattern']) for r in iot.list_topic_rules()['rules'])))
"#,
    )
    .await;
    assert_eq!(
        listed,
        serde_json::json!([
            ["plant_status", "plant/+/status"],
            ["pump01_alerts", "fleet/pump-01/#"],
            ["pump02_only", "fleet/pump-02/telemetry"],
            ["telemetry_to_s3", "fleet/+/telemetry"]
        ])
    );
    let rules = fleet
        .client
        .rules_reading(&device_topics("pump-01"))
        .await
        .unwrap();
    let said: Vec<String> = rules
        .iter()
        .map(iotfleet::fleet::rules::TopicRule::sentence)
        .collect();
    assert_eq!(
        said,
        [
            "pump01_alerts FROM 'fleet/pump-01/#' → lambda page-oncall",
            "telemetry_to_s3 FROM 'fleet/+/telemetry' → s3 telemetry-archive",
        ]
    );
    assert_eq!(rules[1].matched, ["fleet/pump-01/telemetry"]);
    let none = fleet
        .client
        .rules_reading(&device_topics("gateway-01"))
        .await
        .unwrap();
    assert_eq!(
        none.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["telemetry_to_s3"]
    );
}

async fn cloudtrail_history_names_who_changed_a_policy(fleet: &TestFleet) {
    let answer = fleet.client.trail_events("pump-policy").await;
    // Asked of the backend without a SKIP line: both backends are checked here.
    if !fleet.backend.has(Behaviour::CloudTrailLookup) {
        // moto lacks LookupEvents: said plainly, never "nobody changed it".
        let said = answer
            .expect_err("moto lacks LookupEvents")
            .history_unknown();
        assert!(said.starts_with("CloudTrail history unknown: "), "{said}");
        return;
    }
    assert_eq!(answer.unwrap(), (Vec::new(), false), "nothing recorded yet");
    seed::policy(&fleet.iot, "pump-policy", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}"#).await;
    // Reads are not recorded; a refused change neither.
    fleet
        .iot
        .get_policy()
        .policy_name("pump-policy")
        .send()
        .await
        .unwrap();
    let refused = fleet
        .iot
        .delete_policy()
        .policy_name("no-such-policy")
        .send()
        .await;
    assert!(refused.is_err());
    let (events, truncated) = fleet.client.trail_events("pump-policy").await.unwrap();
    assert!(!truncated);
    assert_eq!(
        events
            .iter()
            .map(|e| (e.what.as_str(), e.detail.as_str()))
            .collect::<Vec<_>>(),
        [("CreatePolicy", "policyName=pump-policy")]
    );
    assert!(
        events[0]
            .who
            .contains(&format!("({})", fleet.target.access_key_id)),
        "the caller's access key: {:?}",
        events[0]
    );
    assert!(
        (time::OffsetDateTime::now_utc() - events[0].time).whole_seconds() < 60,
        "{:?}",
        events[0]
    );
}
