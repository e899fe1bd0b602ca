//! The responder's reports: the audit, who AWS IoT refused (`:denied`), who is quarantined,
//! Device Defender violations, and a resource's history.

pub mod lines;

#[cfg(test)]
mod tests;
