//! One-key quarantine (ARCHITECTURE.md, "Quarantine"): `plan` computes the calls that isolate a Thing or
//! undo its isolation, `facts` gathers what the planner needs from the registry, and `run`
//! carries a plan out, journaling it before the first call and each step after it; `verify`
//! checks afterwards, from what the service says, that the Thing is isolated; `register` lists
//! every isolated Thing with the journal's who, when and why; `batch` plans and runs many Things
//! at once under one batch id; `holds` reads who holds a Thing isolated, and which holds a
//! release closes.

pub mod batch;
pub mod facts;
pub mod holds;
pub mod plan;
pub mod register;
pub mod run;
pub mod verify;

pub use plan::{
    DENY_ALL_DOCUMENT, DENY_ALL_POLICY, Options, Plan, PlanError, Step, Strategy, is_deny_all,
};
pub use run::{Prepared, Progress, QuarantineError, Report};
