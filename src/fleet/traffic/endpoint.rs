//! Where live traffic connects on AWS: what the command line says (`--mqtt-url`, `--cert` and
//! `--key`, `--ca`), and the AWS connection for the rest (the account's `iot:Data-ATS`
//! endpoint, the credentials that sign a WebSocket). Kept as data, so the console can resolve
//! it again for another profile or region (`:profile`, `:region`).

use std::path::PathBuf;

use super::client::{TlsFiles, TrafficSettings, WebSocketSigning};
use crate::fleet::FleetClient;

/// A client id for this process's connection: `iotfleet-` and 8 random hex digits, so two
/// consoles never take each other's session.
#[must_use]
pub fn client_id() -> String {
    let mut bytes = [0u8; 4];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    format!("iotfleet-{:08x}", u32::from_le_bytes(bytes))
}

/// The command line's MQTT options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrafficOptions {
    pub mqtt_url: Option<String>,
    /// Mutual TLS with a device or operator certificate (`--cert`, `--key`).
    pub tls: Option<TlsFiles>,
    /// A CA bundle to trust instead of the system's roots (`--ca`).
    pub ca: Option<PathBuf>,
}

impl TrafficOptions {
    /// Over WebSocket: the default, or a `wss://` URL.
    #[must_use]
    pub fn websocket(&self) -> bool {
        self.mqtt_url
            .as_deref()
            .is_none_or(|url| url.starts_with("wss://"))
    }

    /// Whether AWS must be asked (for the endpoint, or credentials to sign with).
    #[must_use]
    pub fn needs_aws(&self) -> bool {
        self.websocket() || self.mqtt_url.is_none()
    }

    /// The settings to connect with as `client_id`; `aws` answers what the options do not say
    /// (it must be given when `needs_aws`).
    pub async fn resolve(
        &self,
        aws: Option<&FleetClient>,
        client_id: String,
    ) -> Result<TrafficSettings, String> {
        let url = match (&self.mqtt_url, aws) {
            (Some(url), _) => url.clone(),
            (None, Some(client)) => {
                let host = client.data_endpoint().await.map_err(|e| e.to_string())?;
                if self.tls.is_some() {
                    format!("mqtts://{host}:8883")
                } else {
                    format!("wss://{host}")
                }
            }
            (None, None) => return Err("no MQTT endpoint: no AWS connection to ask".into()),
        };
        let signing = aws
            .filter(|_| self.websocket())
            .map(|client| WebSocketSigning {
                credentials: client.credentials(),
                region: client.backend().region.clone(),
                ca: self.ca.clone(),
            });
        TrafficSettings::from_url(&url, self.tls.clone(), client_id, signing)
    }
}
