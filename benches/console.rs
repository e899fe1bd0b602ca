//! The console with 100,000 Things in its state: filter keystroke to drawn frame (update plus a
//! full draw into ratatui's TestBackend at 200x50), p50 and p99, next to a plain substring scan of
//! the same haystacks as a baseline; scrolling with connectivity asked for the rows on screen
//! (calls per screen, frame time next to drawing alone); each screen's draw time; the state's
//! resident memory per Thing and the peak RSS. Run with `cargo bench --bench console`
//! (IOTFLEET_THINGS=N for another fleet size).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use iotfleet::config::files;
use iotfleet::fleet::inventory::{CertificateReport, PolicyReport, ThingReport};
use iotfleet::fleet::model::{
    Certificate, CertificateStatus, Connectivity, Policy, PolicyVersion, Thing, ThingPage,
    ThingSummary, Validity,
};
use iotfleet::tui::action::Action;
use iotfleet::tui::data::Load;
use iotfleet::tui::frame;
use iotfleet::tui::keys::{KeyResolver, Layer};
use iotfleet::tui::msg::{Effect, FleetEvent, Msg, Request};
use iotfleet::tui::state::{Backend, Screen, State};
use iotfleet::tui::update;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use time::OffsetDateTime;

/// Things in the state: 100,000, or IOTFLEET_THINGS.
fn fleet_size() -> usize {
    std::env::var("IOTFLEET_THINGS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000)
}
const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;

/// Thing `i` of the listing. The names come in no order (a permutation: 7919 is prime to
/// 10,000,000), as a fleet grown over years lists: a sort by name has work to do.
fn thing(i: usize) -> ThingSummary {
    let n = i * 7919 % 10_000_000;
    ThingSummary {
        name: format!("device-{n:07}"),
        arn: format!("arn:aws:iot:us-east-1:123456789012:thing/device-{n:07}"),
        thing_type: Some(["pump", "sensor", "gateway", "camera"][i % 4].to_owned()),
        attributes: BTreeMap::from([
            ("site".to_owned(), format!("site-{}", i % 37)),
            (
                "serial".to_owned(),
                format!("SN-{:08}", i * 7919 % 100_000_000),
            ),
        ])
        .into(),
        version: 1,
    }
}

#[expect(clippy::too_many_lines, reason = "one bench, read top to bottom")]
fn main() {
    let now = OffsetDateTime::now_utc();
    let loaded = files::load_from(None, None, None, false);
    let (keys, _) = KeyResolver::new(&loaded.keymap);
    let mut state = State::new(Backend::Local, false, now);
    update::update(
        &mut state,
        Msg::Resize {
            width: WIDTH,
            height: HEIGHT,
        },
    );
    update::start(&mut state);
    let fleet = fleet_size();
    let before = common::rss_mib();
    let started = Instant::now();
    for page in 0..fleet / 250 {
        let things = (page * 250..(page + 1) * 250).map(thing).collect();
        let more = (page + 1) * 250 < fleet;
        update::update(
            &mut state,
            Msg::Fleet(Box::new(FleetEvent::ThingsPage {
                generation: 0,
                result: Ok(ThingPage { things, more }),
            })),
        );
    }
    let grown = common::rss_mib() - before;
    #[expect(clippy::cast_precision_loss, reason = "fleets far below 2^52")]
    let per_thing = grown * 1024.0 * 1024.0 / fleet as f64;
    println!(
        "{fleet} Things streamed into the state in {:.0} ms ({} pages); the state's resident memory {:.0} MiB, {:.0} bytes per Thing",
        common::ms(started.elapsed()),
        fleet / 250,
        grown,
        per_thing,
    );

    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("test terminal");
    let mut draw = |state: &State, layers: &[Layer]| {
        terminal
            .draw(|frame| {
                frame::draw(
                    frame,
                    state,
                    frame::Context {
                        theme: &loaded.theme,
                        keys: &keys,
                        layers,
                        editor: None,
                    },
                );
            })
            .expect("draw");
    };
    let list_layers = [Layer::List, Layer::Global];
    draw(&state, &list_layers);

    // Filter keystrokes: type, narrow, erase, retype.
    let mut keystrokes: Vec<Msg> = Vec::new();
    for _ in 0..3 {
        for word in ["device-01234", "site-17", "camera 99", "sn-0000"] {
            keystrokes.extend(word.chars().map(Msg::Typed));
            keystrokes.extend(word.chars().map(|_| Msg::Erase));
        }
    }
    update::update(&mut state, Msg::Action(Action::Filter));
    // A long list's filter is matched a slice a frame (`Msg::Match`), as the console's loop
    // does: the keystroke's own frame, every frame while it matches, and the time until the
    // rows are the filter's.
    let mut frames = Vec::new();
    let mut matching_frames = Vec::new();
    let mut settled = Vec::new();
    let mut matched_over_frames = 0u32;
    for msg in keystrokes {
        let started = Instant::now();
        update::update(&mut state, msg);
        draw(&state, &[Layer::Input]);
        frames.push(started.elapsed());
        if state.matching() {
            matched_over_frames += 1;
        }
        while state.matching() {
            let frame = Instant::now();
            update::update(&mut state, Msg::Match);
            let updated = frame.elapsed();
            draw(&state, &[Layer::Input]);
            matching_frames.push(frame.elapsed());
            if std::env::var_os("IOTFLEET_BENCH_VERBOSE").is_some()
                && frame.elapsed() > Duration::from_millis(12)
            {
                eprintln!(
                    "  a frame while matching: {:.2} ms ({:.2} ms the update), matching on: {}",
                    common::ms(frame.elapsed()),
                    common::ms(updated),
                    state.matching()
                );
            }
        }
        settled.push(started.elapsed());
        if std::env::var_os("IOTFLEET_BENCH_VERBOSE").is_some() {
            eprintln!(
                "{:?} -> {:.2} ms, rows final after {:.2} ms",
                state.input.as_ref().map(|i| i.text.clone()),
                common::ms(*frames.last().expect("a frame")),
                common::ms(started.elapsed())
            );
        }
    }
    update::update(&mut state, Msg::Action(Action::Cancel));

    // Baseline: a case-insensitive substring scan of the same haystacks per keystroke.
    let mut baseline = Vec::new();
    for word in ["device-01234", "site-17", "camera 99", "sn-0000"] {
        for end in 1..=word.len() {
            let needle = word[..end].to_lowercase();
            let started = Instant::now();
            let hits = state
                .fleet
                .things
                .items
                .iter()
                .filter(|t| t.haystack().to_lowercase().contains(&needle))
                .count();
            std::hint::black_box(hits);
            baseline.push(started.elapsed());
        }
    }
    println!(
        "filter keystroke to drawn frame at {WIDTH}x{HEIGHT}, {} keystrokes over {fleet} Things:",
        frames.len()
    );
    println!(
        "  keystroke to its frame       p50 {:>6.2} ms   p99 {:>6.2} ms   max {:>6.2} ms",
        common::ms(common::percentile(&mut frames, 50)),
        common::ms(common::percentile(&mut frames, 99)),
        common::ms(common::percentile(&mut frames, 100))
    );
    if !matching_frames.is_empty() {
        println!(
            "  each later frame while matching ({} frames, after {matched_over_frames} keystrokes)   p50 {:>6.2} ms   p99 {:>6.2} ms   max {:>6.2} ms",
            matching_frames.len(),
            common::ms(common::percentile(&mut matching_frames, 50)),
            common::ms(common::percentile(&mut matching_frames, 99)),
            common::ms(common::percentile(&mut matching_frames, 100))
        );
    }
    println!(
        "  keystroke to the filter's rows   p50 {:>6.2} ms   p99 {:>6.2} ms   max {:>6.2} ms",
        common::ms(common::percentile(&mut settled, 50)),
        common::ms(common::percentile(&mut settled, 99)),
        common::ms(common::percentile(&mut settled, 100))
    );
    println!(
        "  baseline substring    p50 {:>6.2} ms   p99 {:>6.2} ms   (scan only, no draw)",
        common::ms(common::percentile(&mut baseline, 50)),
        common::ms(common::percentile(&mut baseline, 99))
    );

    scroll_with_connectivity(&mut state, &mut draw);

    // Each screen's draw time.
    seed_details(&mut state, now);
    let screens: Vec<(&str, Screen, Vec<Layer>, bool)> = vec![
        (
            "things list",
            Screen::list(iotfleet::tui::data::ListKind::Things),
            list_layers.to_vec(),
            false,
        ),
        (
            "thing detail",
            Screen::Thing {
                name: "device-000042".into(),
                cursor: 0,
                scroll: 0,
            },
            vec![Layer::Detail, Layer::Global],
            false,
        ),
        (
            "certificate detail",
            Screen::Certificate {
                id: "c".repeat(64),
                cursor: 0,
                scroll: 0,
            },
            vec![Layer::Detail, Layer::Global],
            false,
        ),
        (
            "policy detail",
            Screen::Policy {
                name: "device-policy".into(),
                cursor: 0,
                scroll: 0,
            },
            vec![Layer::Detail, Layer::Global],
            false,
        ),
        (
            "help overlay",
            Screen::list(iotfleet::tui::data::ListKind::Things),
            vec![Layer::Help],
            true,
        ),
    ];
    println!("draw time per screen at {WIDTH}x{HEIGHT}, median of 200 frames:");
    for (name, screen, layers, help) in screens {
        state.screens = vec![Screen::list(iotfleet::tui::data::ListKind::Things), screen];
        state.help = help;
        update::update(
            &mut state,
            Msg::Resize {
                width: WIDTH,
                height: HEIGHT,
            },
        );
        let mut times: Vec<Duration> = (0..200)
            .map(|_| {
                let started = Instant::now();
                draw(&state, &layers);
                started.elapsed()
            })
            .collect();
        println!(
            "  {name:<20} {:>6.3} ms",
            common::ms(common::percentile(&mut times, 50))
        );
    }
    println!("peak RSS of the process: {:.0} MiB", common::peak_rss_mib());
}

/// Scrolls the Things list a screen at a time, answering every request the console makes
/// (connectivity and principals of the rows on screen) before drawing: the calls each screen
/// of scrolling costs, and the frame time (keypress, answers, draw) next to drawing the same
/// screens alone. Then the status sort and a status word over every Thing.
fn scroll_with_connectivity(state: &mut State, draw: &mut impl FnMut(&State, &[Layer])) {
    const SCREENS: u32 = 200;
    let fleet = fleet_size();
    let layers = [Layer::List, Layer::Global];
    state.fleet.connectivity.clear();
    state.fleet.connectivity_asking.clear();
    state.fleet.principals.clear();
    update::update(state, Msg::Action(Action::Top));
    let mut frames = Vec::new();
    let mut draws = Vec::new();
    let (mut connectivity_calls, mut other_calls) = (0u32, 0u32);
    for screen in 0..SCREENS {
        let started = Instant::now();
        let effects = update::update(state, Msg::Action(Action::PageDown));
        for effect in effects {
            let Effect::Request(request) = effect else {
                continue;
            };
            let answer = match request {
                Request::LoadConnectivity(thing) => {
                    connectivity_calls += 1;
                    FleetEvent::Connectivity {
                        result: Ok(Connectivity {
                            connected: screen % 2 == 0,
                            since: Some(state.now),
                            disconnect_reason: None,
                        }),
                        thing,
                    }
                }
                Request::LoadPrincipals(thing) => {
                    other_calls += 1;
                    FleetEvent::Principals {
                        thing,
                        result: Ok(Vec::new()),
                    }
                }
                _ => {
                    other_calls += 1;
                    continue;
                }
            };
            update::update(state, Msg::Fleet(Box::new(answer)));
        }
        draw(state, &layers);
        frames.push(started.elapsed());
        let started = Instant::now();
        draw(state, &layers);
        draws.push(started.elapsed());
    }
    let rows = state.page_rows;
    println!(
        "scrolling the Things list of {fleet}, {SCREENS} screens of {rows} rows at {WIDTH}x{HEIGHT}:"
    );
    println!(
        "  calls per screen: {:.1} GetThingConnectivityData, {:.1} others (ListThingPrincipals); {} Things asked of {fleet}",
        f64::from(connectivity_calls) / f64::from(SCREENS),
        f64::from(other_calls) / f64::from(SCREENS),
        state.fleet.connectivity.len()
    );
    println!(
        "  keypress + answers + draw  p50 {:>6.2} ms   p99 {:>6.2} ms",
        common::ms(common::percentile(&mut frames, 50)),
        common::ms(common::percentile(&mut frames, 99))
    );
    println!(
        "  baseline: draw alone       p50 {:>6.2} ms   p99 {:>6.2} ms",
        common::ms(common::percentile(&mut draws, 50)),
        common::ms(common::percentile(&mut draws, 99))
    );
    // The status sort and a status word, over every Thing (statuses known for those scrolled).
    let mut sorts = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        for _ in 0..3 {
            update::update(state, Msg::Action(Action::Sort));
        }
        sorts.push(started.elapsed());
        for _ in 0..4 {
            update::update(state, Msg::Action(Action::Sort));
        }
    }
    update::update(state, Msg::Action(Action::Filter));
    let started = Instant::now();
    for c in "offline".chars() {
        update::update(state, Msg::Typed(c));
    }
    while state.matching() {
        update::update(state, Msg::Match);
    }
    let typed = started.elapsed();
    update::update(state, Msg::Action(Action::Cancel));
    println!(
        "  's' to the status sort (name, type, status: three sorts)  median {:>6.1} ms",
        common::ms(common::median(&mut sorts))
    );
    println!(
        "  typing 'offline' (7 keystrokes, the last a status word), until its rows  {:>6.1} ms",
        common::ms(typed)
    );
}

fn seed_details(state: &mut State, now: OffsetDateTime) {
    let document = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/fleet/${iot:Connection.Thing.ThingName}/*"}]}"#;
    let policy = Policy {
        name: "device-policy".into(),
        arn: "arn:aws:iot:us-east-1:123456789012:policy/device-policy".into(),
        default_version_id: Some("1".into()),
        document: document.into(),
        created: Some(now),
        last_modified: Some(now),
    };
    let certificate = Certificate {
        id: "c".repeat(64),
        arn: format!("arn:aws:iot:us-east-1:123456789012:cert/{}", "c".repeat(64)),
        status: CertificateStatus::Active,
        created: Some(now),
        last_modified: Some(now),
        ca_certificate_id: None,
        validity: Some(Validity {
            not_before: now,
            not_after: now + time::Duration::days(300),
        }),
        subject: Some("CN=device-000042".into()),
        issuer: Some("CN=ca".into()),
        serial: Some("01".into()),
        pem_problem: None,
        pem: String::new(),
    };
    let report = CertificateReport::new(
        certificate,
        vec!["device-000042".into()],
        vec![policy.clone()],
    );
    let summary = thing(42);
    let thing = Thing {
        name: summary.name.clone(),
        arn: summary.arn.clone(),
        id: None,
        thing_type: summary.thing_type.clone(),
        attributes: (&summary.attributes).into(),
        version: 1,
        default_client_id: None,
        billing_group: None,
    };
    state.fleet.thing_reports.insert(
        "device-000042".into(),
        Load::Ready(ThingReport {
            thing,
            groups: Vec::new(),
            certificates: vec![report.clone()],
            other_principals: Vec::new(),
        }),
    );
    state
        .fleet
        .certificate_reports
        .insert("c".repeat(64), Load::Ready(report));
    let versions = vec![PolicyVersion {
        version_id: "1".into(),
        is_default: true,
        created: Some(now),
    }];
    let targets = (0..500)
        .map(|i| format!("arn:aws:iot:us-east-1:123456789012:cert/{i:064}"))
        .collect();
    state.fleet.policy_reports.insert(
        "device-policy".into(),
        Load::Ready(PolicyReport {
            policy,
            versions,
            targets,
        }),
    );
}
