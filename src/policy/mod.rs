//! IoT policy documents: parse them (rejecting malformed ones with the reason) and evaluate
//! requests against them as AWS IoT does. Pure: no I/O, no AWS crates.

#[cfg(test)]
mod aws_examples;
pub mod deny_all;
pub mod document;
pub mod evaluate;

pub use document::{Effect, MalformedPolicy, PolicyDocument};
pub use evaluate::{
    Decision, NamedPolicy, Outcome, Request, RequestContext, StatementRef, ThingContext, evaluate,
};
