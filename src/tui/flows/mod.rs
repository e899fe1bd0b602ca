//! The confirmations: a change planned, shown, confirmed, run and reported (quarantine and
//! release, of one Thing or many).

pub mod bulk;
pub mod bulk_state;
pub mod bulk_view;
pub mod quarantine;
pub mod quarantine_state;
pub mod quarantine_view;
