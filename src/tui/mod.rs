//! The console: one event channel; keymap → `Action` → pure `update(&mut State, Msg)` →
//! effects → tasks → result messages; views draw `State`. Views never do I/O; tasks never touch
//! `State`. Only talks to AWS through `crate::fleet`.
//!
//! One folder per feature (its keys and logic, its state, its view): `things/` (the lists),
//! `thing/` (the detail screens), `traffic/`, `shadow/`, `responder/` (the reports), `flows/`
//! (the confirmations); `data/` is what was read from the fleet and the tasks that read it;
//! `frame/` draws what is around the screens. At the root: the loop (`app.rs`), the router
//! (`update.rs`), messages, actions, keys, the command line and moving between screens.

pub mod action;
pub mod app;
mod command;
pub mod console;
pub mod data;
pub mod flows;
pub mod frame;
pub mod keys;
pub mod msg;
mod navigate;
mod prompt;
pub mod responder;
pub mod shadow;
pub mod state;
pub mod switch;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
pub mod thing;
pub mod things;
pub mod traffic;
pub mod update;

pub use app::run;
pub use console::{App, Options};
