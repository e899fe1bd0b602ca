//! The Device Shadow screen and its desired-state edit (in the console or the user's editor).

pub mod edit;
pub mod edit_state;
pub mod external;
pub mod merge;
pub mod screen;
pub mod view;
