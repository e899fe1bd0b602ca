//! Live MQTT traffic: the screen's keys and prompts (`screen.rs`), its state (`state.rs`), and
//! how it is drawn (`view.rs`).

pub mod screen;
pub mod state;
pub mod view;

pub use screen::{DEFAULT_FILTERS, act, entered, open, open_all, open_for, said, started, tick};

#[cfg(test)]
mod tests;
