//! `:profile` and `:region`: a new connection made in the background while the console goes on;
//! once it is ready it takes over (a fresh state, live traffic reconnected); a failure leaves the
//! console as it was.

use tokio::sync::oneshot;

use crate::fleet::FleetClient;
use crate::fleet::traffic::{self, TrafficSettings};

/// The AWS connection the console started with, and the command line's MQTT options: what
/// `:profile` and `:region` change and keep.
#[derive(Debug, Clone)]
pub struct Reconnect {
    pub settings: crate::fleet::ConnectionSettings,
    pub traffic: traffic::TrafficOptions,
}

/// A connection made for `:profile` or `:region`, ready to take over.
#[derive(Debug)]
pub struct Switched {
    pub client: FleetClient,
    pub settings: crate::fleet::ConnectionSettings,
    pub traffic: Result<TrafficSettings, String>,
}

/// Makes the connection for `:profile` or `:region` in a task (credentials checked, the MQTT
/// endpoint resolved) from `base`; the answer comes on the channel returned.
#[must_use]
pub fn connect(
    base: Reconnect,
    profile: Option<String>,
    region: Option<String>,
) -> oneshot::Receiver<Result<Switched, String>> {
    let mut settings = base.settings;
    if let Some(profile) = profile {
        settings.profile = Some(profile);
        // The new profile's own region, unless `:region` says otherwise afterwards.
        settings.region = None;
    }
    if let Some(region) = region {
        settings.region = Some(region);
    }
    let (done, switching) = oneshot::channel();
    tokio::spawn(async move {
        let result = match FleetClient::connect(&settings).await {
            Err(error) => Err(error.to_string()),
            Ok(client) => {
                let aws = base.traffic.needs_aws().then_some(&client);
                let traffic = base.traffic.resolve(aws, traffic::client_id()).await;
                Ok(Switched {
                    client,
                    settings,
                    traffic,
                })
            }
        };
        let _ = done.send(result);
    });
    switching
}

/// Waits for a switch of profile or region, while one is being made.
pub async fn next_switch(
    switching: &mut Option<oneshot::Receiver<Result<Switched, String>>>,
) -> Result<Switched, String> {
    match switching {
        Some(switching) => switching
            .await
            .unwrap_or_else(|_| Err("the connection task ended".into())),
        None => std::future::pending().await,
    }
}
