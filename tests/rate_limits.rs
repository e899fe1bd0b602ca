//! AWS IoT's request-rate quotas against the local IoT Core that emulates them: a client that
//! fans out blindly is throttled and some of its calls fail after the SDK's retries; the same
//! calls through the client's limiter all succeed, unthrottled, near the quota's rate.

mod support;

use futures_util::StreamExt as _;
use iotfleet::fleet::quotas::Quotas;
use iotfleet::fleet::{FleetClient, FleetError};
use iotfleet::local::{LocalCore, LocalOptions};

/// ListThingPrincipals for every Thing of the demo fleet (52), all at once; how many failed as
/// throttled, and any other error.
async fn fan_out(client: &FleetClient, things: &[String]) -> usize {
    let results: Vec<Result<Vec<String>, FleetError>> = futures_util::stream::iter(things)
        .map(|thing| client.thing_principals(thing))
        .buffer_unordered(things.len())
        .collect()
        .await;
    results
        .iter()
        .filter(|r| match r {
            Ok(_) => false,
            Err(FleetError::Throttled { .. }) => true,
            Err(other) => panic!("{other}"),
        })
        .count()
}

#[tokio::test]
async fn the_limiter_keeps_every_call_within_the_quota_where_a_blind_fan_out_fails() {
    let core = LocalCore::start(LocalOptions {
        seed: true,
        aws_quotas: Some(Quotas::aws()),
        ..LocalOptions::default()
    })
    .await
    .unwrap();
    let paced = FleetClient::connect(&core.connection_settings())
        .await
        .unwrap();
    let things: Vec<String> = paced
        .list_things(iotfleet::fleet::ThingQuery::default())
        .collect_all()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(things.len(), 52);

    // Without quotas the client only bounds its requests in flight: AWS's 10 a second for
    // ListThingPrincipals refuses most of them, and the SDK's retries do not save them all.
    let mut blind = core.connection_settings();
    blind.quotas = None;
    let blind = FleetClient::connect(&blind).await.unwrap();
    let failed = fan_out(&blind, &things).await;
    assert!(blind.stats().throttled > 0);
    assert!(failed > 0, "{:?}", blind.stats());

    // Through the limiter: every call succeeds, none is throttled, at 80 % of the quota or more.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let failed = fan_out(&paced, &things).await;
    assert_eq!(failed, 0);
    let stats = paced
        .limits()
        .into_iter()
        .find(|s| s.action == "iot:ListThingPrincipals")
        .expect("ListThingPrincipals went through the limiter");
    assert_eq!((stats.requests, stats.throttled), (52, 0), "{stats:?}");
    assert!(
        stats.achieved >= 8.0 && stats.achieved <= 10.5,
        "{:.1} requests/s against a quota of 10",
        stats.achieved
    );
    assert_eq!(paced.stats().throttled, 0);
}
