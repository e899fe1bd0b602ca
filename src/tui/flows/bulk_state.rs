//! The bulk quarantine and release popup's state: the marked Things' one plan, the count typed
//! to confirm it, the run's progress, and every Thing's result.

use time::OffsetDateTime;

use crate::fleet::quarantine::batch::{BatchPlan, BatchReport, ThingResult};
use crate::fleet::quarantine::run::Verb;

#[derive(Debug, Clone, PartialEq)]
pub struct BulkFlow {
    pub verb: Verb,
    pub things: Vec<String>,
    pub stage: BulkStage,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BulkStage {
    /// Every Thing's facts are being gathered.
    Planning,
    /// The plan is shown; `typed` is what has been typed of the number that confirms it.
    Confirm {
        plan: Box<BatchPlan>,
        typed: String,
    },
    /// A confirmed quarantine asks why, for every Thing's hold (Enter with nothing typed
    /// leaves it empty).
    Reason {
        plan: Box<BatchPlan>,
        reason: String,
    },
    /// `done` of `total` Things finished since `started`; `failed` of them not done.
    Running {
        id: String,
        total: usize,
        done: usize,
        failed: usize,
        started: OffsetDateTime,
        last: Option<ThingResult>,
    },
    Finished(Box<BatchReport>),
    /// Nothing was changed: the plan could not be made, or had nothing to do.
    Refused(String),
    /// The run stopped before its end (the journal could not be written, ...).
    Failed(String),
}

impl BulkFlow {
    /// The number that confirms the plan: the Things it changes.
    #[must_use]
    pub fn count(&self) -> Option<usize> {
        match &self.stage {
            BulkStage::Confirm { plan, .. } => Some(plan.prepared.len()),
            _ => None,
        }
    }

    /// Whether the popup takes typed text: the count, or the reason.
    #[must_use]
    pub fn takes_text(&self) -> bool {
        matches!(
            self.stage,
            BulkStage::Confirm { .. } | BulkStage::Reason { .. }
        )
    }
}
