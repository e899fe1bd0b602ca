//! The console: one event channel; keymap → `Action` → pure `update(&mut State, Msg)` →
//! effects → tasks → result messages; views draw `State`. Views never do I/O; tasks never touch
//! `State`. Only talks to AWS through `crate::fleet`.

pub mod action;
pub mod app;
mod ask;
mod bulk;
mod command;
mod connectivity;
mod denied;
pub mod detail;
pub mod external;
pub mod fuzzy;
pub mod keys;
pub mod line;
mod list;
pub mod matching;
pub mod msg;
mod navigate;
pub mod quarantine;
pub mod report;
mod select;
pub mod shadow;
pub mod shadow_edit;
pub mod state;
pub mod status;
pub mod tasks;
pub mod traffic;
pub mod update;
#[cfg(test)]
mod update_tests;
pub mod views;
mod violations;

pub use app::{App, Options, run};
