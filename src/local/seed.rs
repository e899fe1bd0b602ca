//! The demo fleet a fresh local IoT Core starts with: pumps, sensors, gateways and cameras on
//! three sites, each with a certificate from the local CA and least-privilege policies, plus the
//! problems an operator should be able to find (expiring, expired, inactive and revoked
//! certificates, an overly permissive policy, a shared certificate, a Thing without one) and
//! shadows whose desired state differs from reported.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::ca::{CaError, LocalCa};
use super::shadow;
use super::store::{
    CertificateRecord, FORMAT, FleetState, GroupRecord, NamedRecord, PolicyRecord,
    SecurityProfileRecord, ThingRecord,
};

/// The region the local fleet's ARNs and policies name.
pub const REGION: &str = "us-east-1";

/// The deny-nothing policy a legacy gateway was given "temporarily", years ago.
pub const PERMISSIVE_POLICY: &str = "legacy-gateway-admin";
/// The simulated device that misbehaves: far too chatty, and probing other devices' topics.
pub const ROGUE_DEVICE: &str = "camera-04";
/// Device Defender Detect's demo security profile, on every registered Thing: at most 100
/// messages in 5 minutes (the simulated devices send a few; the rogue camera about 140 a
/// minute, so it violates within a minute and clears within 5 minutes of falling quiet).
pub const DEMO_PROFILE: &str = "fleet-baseline";

fn arn(account: &str, resource: &str) -> String {
    format!("arn:aws:iot:{REGION}:{account}:{resource}")
}

/// Least privilege for one device: connect as its own Thing name, publish and receive on its own
/// topics, subscribe to its own filters, and use its own shadows.
fn device_policy(account: &str) -> String {
    let thing = "${iot:Connection.Thing.ThingName}";
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": arn(account, &format!("client/{thing}")),
             "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": [arn(account, &format!("topic/fleet/{thing}/*")), arn(account, &format!("topic/$aws/things/{thing}/shadow/*"))]},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": [arn(account, &format!("topicfilter/fleet/{thing}/*")), arn(account, &format!("topicfilter/$aws/things/{thing}/shadow/*"))]},
            {"Effect": "Allow", "Action": ["iot:GetThingShadow", "iot:UpdateThingShadow"], "Resource": arn(account, &format!("thing/{thing}"))}
        ]
    })
    .to_string()
}

struct Kind {
    thing_type: &'static str,
    prefix: &'static str,
    count: usize,
    model: &'static str,
    firmware: &'static str,
}

const KINDS: [Kind; 4] = [
    Kind {
        thing_type: "pump",
        prefix: "pump",
        count: 20,
        model: "P-400",
        firmware: "2.4.1",
    },
    Kind {
        thing_type: "sensor",
        prefix: "temp-sensor",
        count: 18,
        model: "TS-20",
        firmware: "1.9.0",
    },
    Kind {
        thing_type: "gateway",
        prefix: "gateway",
        count: 8,
        model: "GW-7",
        firmware: "5.0.3",
    },
    Kind {
        thing_type: "camera",
        prefix: "camera",
        count: 6,
        model: "CAM-2K",
        firmware: "3.1.7",
    },
];

const SITES: [&str; 3] = ["plant-north", "plant-south", "warehouse-east"];

/// Builds the demo fleet of account `account` at `now`.
pub fn demo_fleet(now: OffsetDateTime, account: &str) -> Result<FleetState, CaError> {
    let stamp = now.unix_timestamp();
    let ca = LocalCa::generate()?;
    let mut state = FleetState {
        format: FORMAT,
        account: Some(account.to_owned()),
        ..FleetState::default()
    };
    let new_id = |n: usize| format!("{stamp:08x}-0000-4000-8000-{n:012x}");

    for site in SITES {
        state.thing_groups.insert(
            site.to_owned(),
            GroupRecord {
                id: new_id(state.thing_groups.len()),
                created: stamp,
                ..GroupRecord::default()
            },
        );
    }
    for kind in &KINDS {
        state.thing_types.insert(
            kind.thing_type.to_owned(),
            NamedRecord {
                id: new_id(100 + state.thing_types.len()),
                created: stamp,
            },
        );
        // Cameras each get a policy of their own instead (below).
        if kind.thing_type != "camera" {
            state.policies.insert(
                format!("{}-device", kind.thing_type),
                PolicyRecord::new(device_policy(account), stamp),
            );
        }
    }
    let permissive = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]});
    state.policies.insert(
        PERMISSIVE_POLICY.to_owned(),
        PolicyRecord::new(permissive.to_string(), stamp),
    );

    let mut serial = 0;
    for kind in &KINDS {
        for i in 1..=kind.count {
            serial += 1;
            let name = format!("{}-{i:02}", kind.prefix);
            let site = SITES[(i - 1) % SITES.len()];
            let attributes = BTreeMap::from([
                ("site".to_owned(), site.to_owned()),
                ("model".to_owned(), kind.model.to_owned()),
                ("firmware".to_owned(), kind.firmware.to_owned()),
                (
                    "serial".to_owned(),
                    format!("SN-{:04}-{serial:05}", 2024 + i % 3),
                ),
            ]);
            state.things.insert(
                name.clone(),
                ThingRecord {
                    id: new_id(1000 + serial),
                    thing_type: Some(kind.thing_type.to_owned()),
                    attributes,
                    version: 1,
                    groups: BTreeSet::from([site.to_owned()]),
                    ..ThingRecord::default()
                },
            );
        }
    }

    issue_certificates(&mut state, &ca, now)?;
    seed_shadows(&mut state, stamp);
    seed_history(&mut state, now);
    state.security_profiles.insert(
        DEMO_PROFILE.to_owned(),
        SecurityProfileRecord {
            description: Some("What a device of this fleet normally does".to_owned()),
            behaviors: vec![json!({
                "name": "messages-sent",
                "metric": "aws:num-messages-sent",
                "criteria": {
                    "comparisonOperator": "less-than-equals",
                    "value": {"count": 100},
                    "durationSeconds": 300,
                    "consecutiveDatapointsToAlarm": 1,
                    "consecutiveDatapointsToClear": 1
                }
            })],
            targets: BTreeSet::from([arn(account, "all/registered-things")]),
            version: 1,
            created: stamp,
            last_modified: stamp,
        },
    );
    state.ca = Some(ca);
    Ok(state)
}

/// Gives every Thing but one a certificate from the local CA, attached with its policy, and
/// plants the certificate problems an operator should find.
fn issue_certificates(
    state: &mut FleetState,
    ca: &LocalCa,
    now: OffsetDateTime,
) -> Result<(), CaError> {
    let account = &state.account().to_owned();
    // The planted problems, by Thing.
    let expiring: BTreeMap<&str, i64> =
        BTreeMap::from([("pump-07", 5), ("temp-sensor-04", 12), ("camera-02", 27)]);
    let expired = "temp-sensor-09";
    let inactive = "pump-14";
    let revoked = "gateway-05";
    let without_certificate = "gateway-08";
    let shares_certificate = ("temp-sensor-17", "temp-sensor-18");

    let names: Vec<(String, String)> = state
        .things
        .iter()
        .map(|(name, t)| (name.clone(), t.thing_type.clone().unwrap_or_default()))
        .collect();
    for (index, (name, thing_type)) in names.iter().enumerate() {
        if name == without_certificate || name == shares_certificate.1 {
            continue;
        }
        let issued_days_ago = 30 + i64::try_from(index % 200).unwrap_or(0);
        let not_before = now - Duration::days(issued_days_ago);
        let not_after = match (expiring.get(name.as_str()), name == expired) {
            (Some(days), _) => now + Duration::days(*days),
            (None, true) => now - Duration::days(10),
            (None, false) => not_before + Duration::days(730),
        };
        let issued = ca.issue(name, not_before, not_after)?;
        let status = if name == inactive {
            "INACTIVE"
        } else if name == revoked {
            "REVOKED"
        } else {
            "ACTIVE"
        };
        let created = not_before.unix_timestamp();
        state.certificates.insert(
            issued.id.clone(),
            CertificateRecord {
                pem: issued.certificate_pem,
                status: status.to_owned(),
                created,
                last_modified: created,
                ca_certificate_id: None,
                private_key_pem: Some(issued.key_pem),
                policies: BTreeSet::new(),
            },
        );
        let certificate_arn = arn(account, &format!("cert/{}", issued.id));
        let mut attach_to = vec![name.clone()];
        if name == shares_certificate.0 {
            attach_to.push(shares_certificate.1.to_owned());
        }
        for thing in attach_to {
            if let Some(record) = state.things.get_mut(&thing) {
                record.principals.insert(certificate_arn.clone());
            }
        }
        let policy = if thing_type == "camera" {
            // Cameras each have a policy of their own (so a policy-version quarantine applies).
            let own = format!("{name}-policy");
            state.policies.insert(
                own.clone(),
                PolicyRecord::new(device_policy(account), now.unix_timestamp()),
            );
            own
        } else {
            format!("{thing_type}-device")
        };
        for policy_name in [
            Some(policy),
            (name == "gateway-03").then(|| PERMISSIVE_POLICY.to_owned()),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(policies) = state.attached_policies_mut(&certificate_arn) {
                policies.insert(policy_name);
            }
        }
    }

    Ok(())
}

/// The calls that made the planted problems, as CloudTrail would have recorded them: who gave
/// gateway-03 the permissive policy "temporarily", who revoked gateway-05's certificate and who
/// deactivated pump-14's.
fn seed_history(state: &mut FleetState, now: OffsetDateTime) {
    let account = &state.account().to_owned();
    let certificate_of = |state: &FleetState, thing: &str| {
        state.things[thing]
            .principals
            .iter()
            .next()
            .and_then(|arn| arn.split_once(":cert/"))
            .map(|(_, id)| id.to_owned())
            .unwrap_or_default()
    };
    let gateway = certificate_of(state, "gateway-03");
    let revoked = certificate_of(state, "gateway-05");
    let inactive = certificate_of(state, "pump-14");
    let policy = ("AWS::IoT::Policy".to_owned(), PERMISSIVE_POLICY.to_owned());
    let certificate = |id: &str| ("AWS::IoT::Certificate".to_owned(), id.to_owned());
    let events = [
        (
            800,
            "alice",
            "CreatePolicy",
            vec![policy.clone()],
            json!({"policyName": PERMISSIVE_POLICY}),
        ),
        (
            799,
            "alice",
            "AttachPolicy",
            vec![policy, certificate(&gateway)],
            json!({"policyName": PERMISSIVE_POLICY, "target": arn(account, &format!("cert/{gateway}"))}),
        ),
        (
            40,
            "bob",
            "UpdateCertificate",
            vec![certificate(&revoked)],
            json!({"certificateId": revoked, "newStatus": "REVOKED"}),
        ),
        (
            12,
            "carol",
            "UpdateCertificate",
            vec![certificate(&inactive)],
            json!({"certificateId": inactive, "newStatus": "INACTIVE"}),
        ),
    ];
    for (days_ago, user, event_name, resources, parameters) in events {
        let call = super::trail::Call {
            event_name: event_name.to_owned(),
            resources,
            parameters,
        };
        let at = now - Duration::days(days_ago);
        let ms = i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or_default();
        let key = format!("AKIA{}", user.to_uppercase());
        super::trail::record(state, &call, &key, user, ms);
    }
}

fn seed_shadows(state: &mut FleetState, now: i64) {
    let mut apply = |thing: &str, name: Option<&str>, body: serde_json::Value| {
        if let Some(record) = state.things.get_mut(thing)
            && let Ok(accepted) = shadow::update(None, 0, body.to_string().as_bytes(), now)
        {
            match name {
                None => record.shadows.classic = Some(accepted.current),
                Some(name) => {
                    record
                        .shadows
                        .named
                        .insert(name.to_owned(), accepted.current);
                }
            }
        }
    };
    for i in 1..=20 {
        let reported = 30 + (i * 7) % 50;
        let desired = if i % 4 == 3 { reported + 15 } else { reported };
        apply(
            &format!("pump-{i:02}"),
            None,
            json!({"state": {"desired": {"speed": desired, "mode": "auto"}, "reported": {"speed": reported, "mode": "auto", "pressure_bar": 3.2}}}),
        );
    }
    for i in 1..=18 {
        apply(
            &format!("temp-sensor-{i:02}"),
            None,
            json!({"state": {"reported": {"temperature_c": 18 + i % 9, "interval_s": 60}}}),
        );
    }
    for i in 1..=8 {
        let desired = if i == 2 { "5.1.0" } else { "5.0.3" };
        apply(
            &format!("gateway-{i:02}"),
            Some("firmware"),
            json!({"state": {"desired": {"version": desired}, "reported": {"version": "5.0.3"}}}),
        );
    }
    for i in 1..=6 {
        let resolution = if i == 4 { "4k" } else { "1080p" };
        apply(
            &format!("camera-{i:02}"),
            None,
            json!({"state": {"desired": {"recording": true}, "reported": {"recording": true}}}),
        );
        apply(
            &format!("camera-{i:02}"),
            Some("config"),
            json!({"state": {"desired": {"resolution": resolution}, "reported": {"resolution": "1080p"}}}),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::certificate::read_pem;

    #[test]
    fn the_demo_fleet_has_its_kinds_and_planted_problems() {
        let now = OffsetDateTime::now_utc();
        let state = demo_fleet(now, "123456789012").unwrap();
        assert!(state.things.len() >= 50, "{}", state.things.len());
        for kind in ["pump", "sensor", "gateway", "camera"] {
            assert!(
                state
                    .things
                    .values()
                    .any(|t| t.thing_type.as_deref() == Some(kind)),
                "{kind}"
            );
        }
        assert!(
            state.things["gateway-08"].principals.is_empty(),
            "one Thing has no certificate"
        );
        assert_eq!(
            state.things["temp-sensor-17"].principals, state.things["temp-sensor-18"].principals,
            "a shared certificate"
        );
        let statuses: Vec<&str> = state
            .certificates
            .values()
            .map(|c| c.status.as_str())
            .collect();
        assert_eq!(statuses.iter().filter(|s| **s == "INACTIVE").count(), 1);
        assert_eq!(statuses.iter().filter(|s| **s == "REVOKED").count(), 1);
        let days: Vec<i64> = state
            .certificates
            .values()
            .map(|c| read_pem(&c.pem).unwrap().validity.days_to_expiry(now))
            .collect();
        assert_eq!(
            days.iter().filter(|d| **d < 0).count(),
            1,
            "one expired certificate"
        );
        assert_eq!(
            days.iter().filter(|d| (0..30).contains(*d)).count(),
            3,
            "three expiring within 30 days"
        );
        assert!(
            state.policies[PERMISSIVE_POLICY]
                .default_document()
                .contains("\"iot:*\"")
        );
        let deltas = state
            .things
            .values()
            .filter_map(|t| t.shadows.classic.as_ref())
            .filter(|s| shadow::delta(s).is_some())
            .count();
        assert!(
            deltas >= 3,
            "some shadows want what they do not report: {deltas}"
        );
        for policy in state.policies.values() {
            crate::policy::PolicyDocument::parse(policy.default_document())
                .expect("every seeded policy parses");
        }
    }
}
