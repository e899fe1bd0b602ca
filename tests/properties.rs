//! Property tests: random and mutated input to everything that reads what others write (the
//! query parser, the policy parser and engine, the local state files, the local broker's MQTT
//! packet path) never panics, never hangs, and never takes damaged state for good state.
//!
//! Cases per property are bounded for CI; `PROPTEST_CASES=N` runs N of each instead.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use iotfleet::local::store::{FleetState, Store, ThingRecord};
use iotfleet::local::{LocalCore, LocalOptions};
use iotfleet::policy::{NamedPolicy, PolicyDocument, Request, RequestContext, evaluate};
use iotfleet::query::{Document, Field, Query, Scalar};
use proptest::prelude::*;
use support::raw_mqtt::{self, RawMqtt};

/// How long one case may take: far above what any should (a few milliseconds), far below a
/// stall.
const BOUND: Duration = Duration::from_millis(500);

fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// `text` with `edits` applied: each (position, kind, character) inserts, deletes or replaces
/// one character.
fn mutated(text: &str, edits: &[(usize, u8, char)]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for &(at, kind, c) in edits {
        let at = if chars.is_empty() {
            0
        } else {
            at % (chars.len() + 1)
        };
        match kind % 3 {
            0 => chars.insert(at, c),
            1 if at < chars.len() => {
                chars.remove(at);
            }
            _ if at < chars.len() => chars[at] = c,
            _ => chars.push(c),
        }
    }
    chars.into_iter().collect()
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8, char)>> {
    prop::collection::vec((any::<usize>(), any::<u8>(), any::<char>()), 0..8)
}

// ---- the query parser -------------------------------------------------------------------

const QUERIES: &[&str] = &[
    "thingName:pump-*",
    "attributes.site:north AND NOT thingTypeName:camera",
    "(shadow.reported.speed:[10 TO 50] OR shadow.desired.speed>40) AND connectivity.connected:true",
    "thingGroupNames:plant-north OR attributes.model:\"PX 200\"",
    "shadow.name.config.hasDelta:true AND thingName:??mp-0?",
];

fn query_token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "(",
            ")",
            "NOT ",
            " AND ",
            " OR ",
            "thingName:",
            "attributes.site:",
            "shadow.reported.speed:",
            "connectivity.connected:",
            "*",
            "?",
            "\"",
            "[",
            "]",
            " TO ",
            "{",
            "}",
            "<",
            ">",
            "=",
            "-",
            " ",
            "\\",
            ":",
            "."
        ])
        .prop_map(str::to_owned),
        "[a-z0-9]{0,5}",
    ]
}

fn query_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(query_token(), 0..120).prop_map(|tokens| tokens.concat()),
        (prop::sample::select(QUERIES), edits()).prop_map(|(q, e)| mutated(q, &e)),
        any::<String>(),
        // Deep nesting, far past the parser's limit.
        (0usize..5000, prop::bool::ANY).prop_map(|(depth, nots)| if nots {
            format!("{}pump", "NOT ".repeat(depth))
        } else {
            format!("{}pump{}", "(".repeat(depth), ")".repeat(depth))
        }),
    ]
}

/// A Thing with a large attribute, the worst case for wildcard matching.
struct Sample;

impl Document for Sample {
    fn any(&self, field: &Field, found: &mut dyn FnMut(Scalar<'_>) -> bool) -> bool {
        static BLOB: OnceLock<String> = OnceLock::new();
        let blob = BLOB.get_or_init(|| "x".repeat(64 * 1024));
        match field {
            Field::ThingName => found(Scalar::Text("pump-01")),
            Field::Attribute(name) if name == "site" => found(Scalar::Text("north")),
            Field::Attribute(_) => found(Scalar::Text(blob)),
            Field::Shadow { .. } => found(Scalar::Number(42.0)),
            Field::Connected => found(Scalar::Bool(true)),
            Field::Any => found(Scalar::Text("pump-01")) || found(Scalar::Text(blob)),
            _ => false,
        }
    }
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn any_query_is_parsed_or_refused_and_matched_in_bounded_time(text in query_text()) {
        let started = Instant::now();
        if let Ok(query) = Query::parse(&text) {
            let _ = query.matches(&Sample);
        }
        prop_assert!(started.elapsed() < BOUND, "{:?} took {:?}", text, started.elapsed());
    }
}

// ---- the policy parser and engine -------------------------------------------------------

const POLICIES: &[&str] = &[
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"}]}"#,
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":["iot:Publish*"],"NotResource":"arn:aws:iot:*:*:topic/fleet/*/telemetry"}}"#,
    r#"{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Action":["iot:Subscribe","iot:Receive"],"Resource":["arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/*/shadow/*","*"],"Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}}]}"#,
];

fn policy_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (prop::sample::select(POLICIES), edits()).prop_map(|(p, e)| mutated(p, &e)),
        any::<String>(),
        // Long wildcard patterns against long resources.
        ("[a-z*?]{0,300}", 0usize..3).prop_map(|(pattern, star)| format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iot:*","Resource":"arn:aws:iot:*:*:topic/{}{pattern}"}}]}}"#,
            "*".repeat(star)
        )),
    ]
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn any_policy_is_parsed_or_refused_and_evaluated_in_bounded_time(
        text in policy_text(),
        action in prop::sample::select(vec!["iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive", "iot:UpdateThingShadow"]),
        resource in "[a-z/]{0,40}",
    ) {
        let started = Instant::now();
        if let Ok(document) = PolicyDocument::parse(&text) {
            let policies = [NamedPolicy { name: "p", document: &document }];
            let resource = format!("arn:aws:iot:us-east-1:123456789012:topic/{resource}{}", "x".repeat(4096));
            let context = RequestContext {
                client_id: Some("pump-01".into()),
                ..RequestContext::default()
            };
            let _ = evaluate(&policies, Request { action, resource: &resource }, &context);
        }
        prop_assert!(started.elapsed() < BOUND, "{:?} took {:?}", text, started.elapsed());
    }
}

// ---- the local state files --------------------------------------------------------------

/// A kept fleet: its files' bytes and the state they hold after each logged transaction
/// (`states[k]`: after the first k; the last is the whole).
struct Kept {
    snapshot: Vec<u8>,
    segment: Vec<u8>,
    states: Vec<FleetState>,
}

const SEGMENT: &str = "fleet.json.log-00000000000000000001";

fn kept() -> &'static Kept {
    static KEPT: OnceLock<Kept> = OnceLock::new();
    KEPT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.json");
        let store = Store::with_file(path.clone(), FleetState::default()).unwrap();
        for n in 0..4 {
            store
                .transact(
                    |state| {
                        let mut thing = ThingRecord {
                            id: format!("id-{n}"),
                            version: 1,
                            ..ThingRecord::default()
                        };
                        thing.attributes = BTreeMap::from([("site".into(), format!("s{n}"))]);
                        state.things.insert(format!("pump-{n}"), thing);
                        Ok::<_, String>(())
                    },
                    |e| e.to_string(),
                )
                .unwrap();
        }
        drop(store);
        let snapshot = std::fs::read(&path).unwrap();
        let segment = std::fs::read(dir.path().join(SEGMENT)).unwrap();
        std::fs::write(dir.path().join(SEGMENT), b"").unwrap();
        let mut states = vec![Store::read_file(&path).unwrap().unwrap()];
        for (end, _) in segment.iter().enumerate().filter(|(_, b)| **b == b'\n') {
            std::fs::write(dir.path().join(SEGMENT), &segment[..=end]).unwrap();
            states.push(Store::read_file(&path).unwrap().unwrap());
        }
        assert_eq!(states.len(), 5);
        assert_eq!(states[0].seq, 0);
        Kept {
            snapshot,
            segment,
            states,
        }
    })
}

#[derive(Debug, Clone)]
enum Damage {
    Flip(usize, u8),
    Cut(usize),
    Insert(usize, u8),
    Delete(usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, x)| Damage::Flip(at, x)),
        any::<usize>().prop_map(Damage::Cut),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Damage::Insert(at, b)),
        any::<usize>().prop_map(Damage::Delete),
    ]
}

fn damaged(bytes: &[u8], damage: &Damage) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let len = out.len().max(1);
    match *damage {
        Damage::Flip(at, x) => out[at % len] ^= x,
        Damage::Cut(at) => out.truncate(at % len),
        Damage::Insert(at, b) => out.insert(at % (len + 1), b),
        Damage::Delete(at) => {
            out.remove(at % len);
        }
    }
    out
}

fn read_damaged(dir: &Path, snapshot: &[u8], segment: &[u8]) -> Result<FleetState, String> {
    let path = dir.join("fleet.json");
    std::fs::write(&path, snapshot).unwrap();
    std::fs::write(dir.join(SEGMENT), segment).unwrap();
    let read = Store::read_file(&path).map_err(|e| e.to_string());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        snapshot,
        "reading never writes"
    );
    read.map(|state| state.unwrap())
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn a_damaged_snapshot_is_always_refused(damage in damage()) {
        let kept = kept();
        let dir = tempfile::tempdir().unwrap();
        let snapshot = damaged(&kept.snapshot, &damage);
        let started = Instant::now();
        let read = read_damaged(dir.path(), &snapshot, &kept.segment);
        prop_assert!(started.elapsed() < BOUND);
        prop_assert!(read.is_err(), "{:?} was read as good", damage);
    }

    /// A changed, added or removed byte is refused, or (in the last line's newline) loses that
    /// unacknowledged-looking line. A cut is read as the crash it looks like: the
    /// transactions before it, none other. (A log cut short by hand cannot be told from one
    /// cut short by a crash: nothing else records how far it went.)
    #[test]
    fn a_damaged_log_is_refused_or_read_as_a_crash_would_leave_it(damage in damage()) {
        let kept = kept();
        let dir = tempfile::tempdir().unwrap();
        let segment = damaged(&kept.segment, &damage);
        let started = Instant::now();
        let read = read_damaged(dir.path(), &kept.snapshot, &segment);
        prop_assert!(started.elapsed() < BOUND);
        if let Ok(state) = read {
            let whole = kept.states.last().unwrap();
            let at = kept.states.iter().position(|s| *s == state);
            prop_assert!(at.is_some(), "{:?} was read as another state", damage);
            let lost = kept.states.len() - 1 - at.unwrap_or_default();
            match damage {
                Damage::Cut(_) => {}
                _ if state == *whole => {}
                _ => {
                    prop_assert_eq!(lost, 1, "{:?}", damage);
                    prop_assert!(!segment.ends_with(b"\n"), "{:?}", damage);
                }
            }
        }
    }
}

// ---- the MQTT packet path ---------------------------------------------------------------

/// One local core with its broker for every case, on a runtime of its own.
fn broker() -> &'static (tokio::runtime::Runtime, LocalCore) {
    static BROKER: OnceLock<(tokio::runtime::Runtime, LocalCore)> = OnceLock::new();
    BROKER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let core = runtime
            .block_on(LocalCore::start(LocalOptions {
                seed: true,
                mqtt_port: Some(0),
                simulator: None,
                ..LocalOptions::default()
            }))
            .unwrap();
        (runtime, core)
    })
}

fn raw(core: &LocalCore) -> RawMqtt {
    let broker = core.broker().unwrap();
    let files = broker.files();
    RawMqtt::open(
        broker.port(),
        &files.ca,
        &files.operator_certificate,
        &files.operator_key,
    )
    .unwrap()
}

fn packets() -> impl Strategy<Value = Vec<u8>> {
    let valid = prop::sample::select(vec![
        raw_mqtt::publish("fleet/pump-01/telemetry", 1, b"{\"speed\":3}"),
        raw_mqtt::publish(
            "$aws/things/pump-01/shadow/update",
            1,
            b"{\"state\":{\"desired\":{\"a\":1}}}",
        ),
        raw_mqtt::subscribe(7, &[("fleet/#", 1), ("$aws/things/+/shadow/#", 0)]),
        raw_mqtt::connect("again", Some(("will/t", 1, b"w"))),
        vec![0xc0, 0],
        vec![0xe0, 0],
    ]);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        (
            valid.clone(),
            prop::collection::vec((any::<usize>(), 1u8..=255), 1..6)
        )
            .prop_map(|(mut packet, flips)| {
                let len = packet.len();
                for (at, x) in flips {
                    packet[at % len] ^= x;
                }
                packet
            }),
        // A header that claims far more than is sent (up to 256 MiB).
        (any::<u8>(), prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(first, body)| {
            let mut packet = vec![first, 0xff, 0xff, 0xff, 0x7f];
            packet.extend(body);
            packet
        }),
        prop::collection::vec(valid, 1..4).prop_map(|packets| packets.concat()),
    ]
}

proptest! {
    #![proptest_config(cases(48))]

    #[test]
    fn no_packet_stops_the_broker(connect_first in prop::bool::ANY, garbage in packets()) {
        let (_, core) = broker();
        let mut attacker = raw(core);
        if connect_first {
            prop_assert_eq!(attacker.connect("prop-attacker", None).unwrap(), Some(0));
        }
        let _ = attacker.send(&garbage);
        drop(attacker);
        // The broker still serves: a fresh client connects, subscribes and is answered.
        let started = Instant::now();
        let mut client = raw(core);
        prop_assert_eq!(client.connect("prop-checker", None).unwrap(), Some(0));
        client.send(&raw_mqtt::subscribe(1, &[("prop/#", 1)])).unwrap();
        let answer = client.read_packet().unwrap().map(|(kind, _)| kind);
        prop_assert_eq!(answer, Some(raw_mqtt::SUBACK));
        prop_assert!(client.alive());
        prop_assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }
}
