//! The quarantine and release popup's state: what is planned, confirmed, running or finished.

use crate::fleet::quarantine::Options;
use crate::fleet::quarantine::Plan;
use crate::fleet::quarantine::run::{Prepared, Report, Verb};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub verb: Verb,
    pub thing: String,
    /// What a quarantine is planned with; Tab toggles deactivating the certificates.
    pub options: Options,
    pub stage: Stage,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// The facts are being gathered.
    Planning,
    /// The plan is shown; `typed` is the Thing's name as typed, when that is what confirms.
    Confirm {
        prepared: Box<Prepared>,
        typed: String,
    },
    /// A confirmed quarantine asks why, for the journal and whoever looks later (Enter with
    /// nothing typed leaves it empty).
    Reason {
        prepared: Box<Prepared>,
        reason: String,
    },
    /// Step `current` (0-based) is being called; `done` says what each earlier one did.
    Running {
        plan: Plan,
        current: usize,
        done: Vec<String>,
    },
    Finished(Box<Report>),
    /// Nothing was changed: the plan was refused, or could not be made.
    Refused(String),
    /// The run stopped before its end (the journal could not be written, ...).
    Failed(String),
}

impl Flow {
    /// Whether confirming needs the Thing's name typed: a shared certificate isolates other
    /// Things too, or other Things' quarantines are released together.
    #[must_use]
    pub fn needs_name(&self) -> bool {
        matches!(&self.stage, Stage::Confirm { prepared, .. }
            if !prepared.plan.also_isolated.is_empty() || !prepared.plan.together.is_empty())
    }

    /// Whether the popup takes typed text: the Thing's name, or the reason.
    #[must_use]
    pub fn takes_text(&self) -> bool {
        self.needs_name() || matches!(self.stage, Stage::Reason { .. })
    }
}
