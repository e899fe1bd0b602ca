//! The detail screens (a Thing, a certificate, a policy) and the `w` question on a Thing.

pub mod ask;
pub mod certificate;
pub mod lines;
