//! Quarantine and release of a Thing with 1 and with 3 certificates, against the local IoT Core
//! and moto: API calls and wall time (median of several rounds) of planning plus running each,
//! next to reading the Thing's report (what its console screen loads) in the same run.
//! Run with `cargo bench --bench quarantine` (moto: scripts/install-peers.sh).
//!
//! moto has no DeleteConnection (it answers 500), so its plans run without that step; the local
//! core runs it (no device is connected here, so it answers "not connected").

mod common;

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use iotfleet::fleet::inventory;
use iotfleet::fleet::mutation::Mutations;
use iotfleet::fleet::quarantine::plan::{Options, Step};
use iotfleet::fleet::quarantine::run;
use support::seed::{self, CertificateSpec, DEVICE_POLICY};
use support::{Backend, TestFleet};

const ROUNDS: usize = 7;

fn main() {
    let runtime = common::runtime();
    runtime.block_on(async {
        println!(
            "{:<6} {:>5}  {:>16}  {:>16}  {:>16}",
            "peer", "certs", "report calls/ms", "quarantine c/ms", "release c/ms"
        );
        for backend in [Backend::Local, Backend::Moto] {
            let Some(fleet) = TestFleet::start(backend).await else {
                continue;
            };
            for certificates in [1, 3] {
                measure(&fleet, certificates).await;
            }
        }
    });
}

/// A Thing `bench-N` with N certificates, each with a policy of its own.
async fn seed_thing(fleet: &TestFleet, certificates: usize) -> String {
    let thing = format!("bench-{certificates}");
    seed::thing(&fleet.iot, &thing, None, &[]).await;
    for index in 0..certificates {
        let name = format!("{thing}-{index}");
        let (_, arn) =
            seed::certificate(&fleet.iot, &CertificateSpec::valid_for_days(&name, 90)).await;
        seed::policy(&fleet.iot, &name, DEVICE_POLICY).await;
        seed::attach_policy(&fleet.iot, &name, &arn).await;
        seed::attach_thing(&fleet.iot, &thing, &arn).await;
    }
    thing
}

/// Median wall time and the calls of one round.
struct Figure {
    calls: u64,
    times: Vec<Duration>,
}

impl Figure {
    fn new() -> Self {
        Self {
            calls: 0,
            times: Vec::new(),
        }
    }

    fn show(&mut self) -> String {
        format!(
            "{:>5} {:>8.1}",
            self.calls,
            common::ms(common::median(&mut self.times))
        )
    }
}

async fn measure(fleet: &TestFleet, certificates: usize) {
    let thing = seed_thing(fleet, certificates).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mutations =
        Mutations::for_client(false, Some(dir.path().join("journal.jsonl")), &fleet.client)
            .await
            .expect("the account");
    let client = &fleet.client;
    let (mut report, mut quarantine, mut release) = (Figure::new(), Figure::new(), Figure::new());
    for _ in 0..ROUNDS {
        let before = client.stats().operations;
        let started = Instant::now();
        inventory::thing_report(client, &thing)
            .await
            .expect("report");
        report.times.push(started.elapsed());
        report.calls = client.stats().operations - before;

        let before = client.stats().operations;
        let started = Instant::now();
        let mut prepared = run::prepare_quarantine(
            client,
            mutations.journal(),
            &thing,
            Options::default(),
            None,
        )
        .await
        .expect("plan");
        if fleet.backend == Backend::Moto {
            prepared
                .plan
                .steps
                .retain(|step| !matches!(step, Step::DeleteConnection { .. }));
        }
        let done = run::execute(client, &mutations, prepared, &mut |_| Ok(()))
            .await
            .expect("quarantine");
        assert!(done.failed.is_none(), "{:?}", done.failed);
        quarantine.times.push(started.elapsed());
        quarantine.calls = client.stats().operations - before;

        let before = client.stats().operations;
        let started = Instant::now();
        let prepared = run::prepare_release(client, mutations.journal(), &thing, false)
            .await
            .expect("plan");
        let done = run::execute(client, &mutations, prepared, &mut |_| Ok(()))
            .await
            .expect("release");
        assert!(done.failed.is_none(), "{:?}", done.failed);
        release.times.push(started.elapsed());
        release.calls = client.stats().operations - before;
    }
    println!(
        "{:<6} {:>5}  {}  {}  {}",
        format!("{:?}", fleet.backend).to_lowercase(),
        certificates,
        report.show(),
        quarantine.show(),
        release.show()
    );
}
