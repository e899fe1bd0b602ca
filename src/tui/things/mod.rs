//! The lists (Things, certificates, policies): filter as you type, matched a slice at a time, sort,
//! marks and fleet search, and how they are drawn.

pub mod fuzzy;
pub mod list;
pub mod listed;
pub mod matching;
pub mod rows;
pub mod select;
pub mod status;
pub mod view;

#[cfg(test)]
mod tests;
