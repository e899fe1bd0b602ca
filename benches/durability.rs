//! The local core killed (`kill -9`) 19 times under four parallel writers: two create Things,
//! two rewrite 7.5 KB shadow documents (so the log rolls over to new segments and snapshots are
//! written while the kills land). After each kill the core is started again on the same files
//! and every acknowledged change is looked for: the Things by ListThings, each shadow's last
//! acknowledged write by its document. Prints acknowledged vs present after each restart, and
//! exits non-zero when anything acknowledged is missing.
//! Run with `cargo bench --bench durability` (IOTFLEET_KILLS=N for another count).

mod common;

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_smithy_types::Blob;
use support::served::{Served, serve};

const WRITERS_OF_THINGS: usize = 2;
const SHADOWS: [&str; 2] = ["pump-01", "pump-02"];

fn main() {
    common::runtime().block_on(run());
}

/// The SDK clients of a served core, retries off (a refused call is simply not acknowledged).
async fn clients(served: &Served) -> (aws_sdk_iot::Client, aws_sdk_iotdataplane::Client) {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(support::REGION))
        .endpoint_url(&served.target.endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            &served.target.access_key_id,
            &served.target.secret_access_key,
            None,
            None,
            "durability",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    (
        aws_sdk_iot::Client::new(&config),
        aws_sdk_iotdataplane::Client::new(&config),
    )
}

async fn create_things(iot: aws_sdk_iot::Client, round: usize, writer: usize) -> Vec<String> {
    let mut acknowledged = Vec::new();
    for n in 0.. {
        let name = format!("kill-{round}-{writer}-{n}");
        if iot.create_thing().thing_name(&name).send().await.is_err() {
            break;
        }
        acknowledged.push(name);
    }
    acknowledged
}

/// Rewrites `thing`'s shadow until refused; the last acknowledged write's number.
async fn rewrite_shadow(
    data: aws_sdk_iotdataplane::Client,
    round: usize,
    thing: &'static str,
) -> Option<u64> {
    let pad = "x".repeat(7500);
    let mut last = None;
    for n in 0u64.. {
        let document =
            format!(r#"{{"state":{{"desired":{{"round":{round},"n":{n},"pad":"{pad}"}}}}}}"#);
        let sent = data
            .update_thing_shadow()
            .thing_name(thing)
            .payload(Blob::new(document))
            .send()
            .await;
        if sent.is_err() {
            break;
        }
        last = Some(n);
    }
    last
}

/// The written number of `thing`'s shadow, as (round, n).
async fn shadow_mark(data: &aws_sdk_iotdataplane::Client, thing: &str) -> Option<(u64, u64)> {
    let shadow = data
        .get_thing_shadow()
        .thing_name(thing)
        .send()
        .await
        .ok()?;
    let document: serde_json::Value = serde_json::from_slice(shadow.payload?.as_ref()).ok()?;
    let desired = &document["state"]["desired"];
    Some((desired["round"].as_u64()?, desired["n"].as_u64()?))
}

/// How many log segments were begun while the round ran: the folder looked at every 20 ms.
async fn watch_segments(
    folder: std::path::PathBuf,
    stop: std::sync::Arc<tokio::sync::Notify>,
) -> usize {
    let mut seen = BTreeSet::new();
    loop {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(start) = name
                .split_once(".log-")
                .and_then(|(_, n)| n.parse::<u64>().ok())
            {
                seen.insert(start);
            }
        }
        tokio::select! {
            () = stop.notified() => return seen.len(),
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
}

async fn all_things(iot: &aws_sdk_iot::Client) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut pages = iot.list_things().max_results(250).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.expect("ListThings after the restart");
        names.extend(page.things().iter().filter_map(|t| t.thing_name.clone()));
    }
    names
}

async fn run() {
    let kills: usize = std::env::var("IOTFLEET_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(19);
    let home = tempfile::tempdir().expect("temporary directory");
    let mut acknowledged_things = BTreeSet::new();
    let mut acknowledged_shadows: Vec<Option<(u64, u64)>> = vec![None; SHADOWS.len()];
    let mut lost_anything = false;
    let started = Instant::now();
    let mut served = serve(home.path());
    let stop = std::sync::Arc::new(tokio::sync::Notify::new());
    for round in 0..kills {
        let (iot, data) = clients(&served).await;
        let things: Vec<_> = (0..WRITERS_OF_THINGS)
            .map(|writer| tokio::spawn(create_things(iot.clone(), round, writer)))
            .collect();
        let shadows: Vec<_> = SHADOWS
            .iter()
            .map(|thing| tokio::spawn(rewrite_shadow(data.clone(), round, thing)))
            .collect();
        let watcher = tokio::spawn(watch_segments(home.path().to_owned(), stop.clone()));
        // Kill at a different moment each round, 0.3 to 1.5 s in.
        let wait = 300 + (round * 397) % 1200;
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        served.child.kill().expect("kill -9");
        served.child.wait().expect("reap");
        stop.notify_one();
        let mut this_round = 0;
        for writer in things {
            let names = writer.await.expect("writer");
            this_round += names.len();
            acknowledged_things.extend(names);
        }
        for (index, writer) in shadows.into_iter().enumerate() {
            if let Some(n) = writer.await.expect("writer") {
                this_round += usize::try_from(n).expect("a count") + 1;
                acknowledged_shadows[index] = Some((round as u64, n));
            }
        }
        let segments = watcher.await.expect("watcher");

        served = serve(home.path());
        let (iot, data) = clients(&served).await;
        let present = all_things(&iot).await;
        let things_kept = acknowledged_things.intersection(&present).count();
        let mut shadows_kept = 0;
        for (thing, acknowledged) in SHADOWS.iter().zip(&acknowledged_shadows) {
            // The last acknowledged write, or the one after it (sent, applied, unanswered).
            let mark = shadow_mark(&data, thing).await;
            if acknowledged
                .is_none_or(|(r, n)| mark.is_some_and(|m| m == (r, n) || m == (r, n + 1)))
            {
                shadows_kept += 1;
            }
        }
        let lost = acknowledged_things.len() - things_kept + SHADOWS.len() - shadows_kept;
        lost_anything |= lost > 0;
        println!(
            "kill {:>2} after {wait:>4} ms, log segments begun {segments}: {this_round:>4} writes acknowledged; \
             Things acknowledged {:>6}, present {:>6}; shadows' last writes present {shadows_kept}/{}; lost {lost}",
            round + 1,
            acknowledged_things.len(),
            things_kept,
            SHADOWS.len()
        );
    }
    let files = common::folder_bytes(home.path());
    println!(
        "{kills} kills in {:.0} s; state file and log {:.1} MiB; {}",
        started.elapsed().as_secs_f64(),
        common::mib(files),
        if lost_anything {
            "SOMETHING ACKNOWLEDGED WAS LOST"
        } else {
            "nothing acknowledged was lost"
        }
    );
    drop(served);
    if lost_anything {
        std::process::exit(1);
    }
}
