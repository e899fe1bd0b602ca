//! The client side of AWS IoT: the one AWS client, our model types, typed errors, and the
//! joins that build a screen's or verb's view from several calls. The only place (with
//! `src/local/`) that imports AWS crates; nothing here touches a terminal.

pub mod audit;
pub mod certificate;
pub mod client;
pub mod denied;
pub mod error;
pub mod history;
pub mod inventory;
pub mod journal;
pub mod limiter;
pub mod model;
pub mod mutation;
pub mod permissions;
pub mod profiles;
pub mod quarantine;
pub mod quotas;
pub mod rules;
pub mod search;
pub mod sessions;
pub mod status;
pub mod traffic;
pub mod violations;

pub use client::{
    BackendInfo, CallStats, ConnectionSettings, FleetClient, StaticCredentials, ThingPages,
    ThingQuery,
};
pub use error::{FleetError, ResourceKind};
