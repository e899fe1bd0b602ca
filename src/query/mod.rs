//! AWS IoT fleet indexing queries (the `queryString` of SearchIndex): parse them, rejecting a
//! malformed one with the position of its fault, and evaluate them over a Thing's indexed fields.
//! The client parses a query to explain what AWS refuses; the local IoT Core answers SearchIndex
//! with it. Pure: no I/O, no AWS crates.
//!
//! The subset (README, "Fleet search"): terms, phrases (`"two words"`), fields (`thingName`,
//! `thingId`, `thingTypeName`, `thingGroupNames`, `attributes.NAME`, `shadow.reported.PATH`,
//! `shadow.desired.PATH`, `shadow.delta.PATH`, `shadow.hasDelta`, `shadow.name.NAME.…`,
//! `connectivity.connected`, `connectivity.timestamp`, `connectivity.disconnectReason`),
//! wildcards `*` and `?`, ranges (`[a TO b]`, `{a TO b}`, mixed, `*` for an open end), comparisons
//! (`<`, `<=`, `>`, `>=`), `AND`, `OR`, `NOT`, `-`, grouping, field grouping
//! (`thingName:(pump* AND -pump-0?)`) and `\` escapes, with AWS's limits: at most 12 terms and one
//! leading wildcard, in at most 100 characters when there is one. Matching ignores case.

pub mod evaluate;
pub mod parse;

pub use evaluate::{Document, Scalar};
pub use parse::{Field, Query, QueryError};
