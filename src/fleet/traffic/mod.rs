//! Live MQTT traffic: the client that connects, subscribes and reconnects, and the rules for
//! topics and filters. Talks MQTT through rumqttc; nothing here touches a terminal.

pub mod client;
pub mod endpoint;
pub mod filter;
pub mod messages;
pub mod sigv4;

pub use client::{
    TlsFiles, TrafficEvent, TrafficHandle, TrafficMessage, TrafficSettings, WebSocketSigning,
    connect,
};
pub use endpoint::{TrafficOptions, client_id};
