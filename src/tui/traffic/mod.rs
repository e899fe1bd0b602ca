//! Live MQTT traffic: the screen's keys and prompts, its state, and how it is drawn.

pub mod keys;
pub mod state;
pub mod view;
