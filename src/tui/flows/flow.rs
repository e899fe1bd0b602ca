//! The one confirmation: a change planned, shown, confirmed, run and reported. Every mutation
//! the console makes goes through it (a quarantine or release of one Thing or of the marked
//! Things, a publish, a shadow edit applied), and every confirmation answers to one rule for its
//! keys (`Answer::of`).

use serde_json::Value;
use time::OffsetDateTime;

use crate::fleet::quarantine::Options;
use crate::fleet::quarantine::batch::{BatchPlan, BatchReport, ThingResult};
use crate::fleet::quarantine::run::{Prepared, Report, Verb};
use crate::tui::action::Action;

/// The longest reason kept: a sentence or two, not a report.
pub const MAX_REASON: usize = 500;

/// A change on its way, one at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub change: Change,
    pub stage: Stage,
}

/// What the flow changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Quarantine or release of one Thing; Tab toggles deactivating its certificates.
    Thing {
        verb: Verb,
        thing: String,
        options: Options,
    },
    /// Quarantine or release of the marked Things, as one batch.
    Batch { verb: Verb, things: Vec<String> },
    Publish {
        topic: String,
        payload: String,
        qos: u8,
    },
    /// A shadow's desired state as edited (`shadow/edit.rs`): the patch from `before` at
    /// `version`.
    Shadow {
        thing: String,
        name: Option<String>,
        desired: Value,
        version: Option<u64>,
        before: Value,
    },
}

/// What was planned, to be confirmed.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Thing(Box<Prepared>),
    Batch(Box<BatchPlan>),
    /// Nothing to plan: the change is what is shown (a message, a diff).
    AsShown,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// The facts are being gathered.
    Planning,
    /// The plan is shown; `typed` is what has been typed of what confirms it (a Thing's name, a
    /// number of Things), when that is what confirms.
    Confirm {
        plan: Plan,
        typed: String,
    },
    /// A confirmed quarantine asks why, for the journal and whoever looks later (Enter with
    /// nothing typed leaves it empty).
    Reason {
        plan: Plan,
        reason: String,
    },
    Running(Progress),
    Finished(Outcome),
    /// Nothing was changed: the plan was refused, could not be made, or had nothing to do.
    Refused(String),
    /// The run stopped before its end (the journal could not be written, ...).
    Failed(String),
}

/// How far a run has come.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Step `current` (0-based) of one Thing's plan is being called; `done` says what each
    /// earlier one did.
    Steps {
        plan: crate::fleet::quarantine::Plan,
        current: usize,
        done: Vec<String>,
    },
    /// `done` of `total` Things finished since `started`; `failed` of them not done.
    Batch {
        id: String,
        total: usize,
        done: usize,
        failed: usize,
        started: OffsetDateTime,
        last: Option<ThingResult>,
    },
    /// One call, answered whole (a shadow update).
    Call,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Thing(Box<Report>),
    Batch(Box<BatchReport>),
}

/// What a key means to a flow. One rule for every confirmation:
/// - a plan confirmed by typing (a Thing's name when others are affected, a batch's number of
///   Things) and the reason after it are typed, and Enter takes them;
/// - any other plan is confirmed by `y` alone: a stray Enter never changes anything;
/// - `n` or Esc cancels until the run starts, and nothing is changed;
/// - a run goes on to its end; Enter or Esc closes its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Confirmed: what was typed is to be checked, or `y` was pressed.
    Confirm,
    /// Tab on a plan that can be made another way (a quarantine deactivating certificates).
    Toggle,
    Cancel,
    /// Esc while it runs: it goes on.
    Busy,
    Close,
    None,
}

impl Answer {
    #[must_use]
    pub fn of(flow: &Flow, action: Action) -> Self {
        let typing = flow.takes_text();
        match (&flow.stage, action) {
            (Stage::Confirm { .. }, Action::Confirm) if typing => Self::Confirm,
            (Stage::Confirm { .. }, Action::Yes) if !typing => Self::Confirm,
            (Stage::Confirm { .. }, Action::Complete) if flow.toggles() => Self::Toggle,
            (Stage::Reason { .. }, Action::Confirm) => Self::Confirm,
            (
                Stage::Planning | Stage::Confirm { .. } | Stage::Reason { .. },
                Action::Cancel | Action::Back | Action::No,
            ) => Self::Cancel,
            (Stage::Running(_), Action::Cancel | Action::Back) => Self::Busy,
            (
                Stage::Finished(_) | Stage::Refused(_) | Stage::Failed(_),
                Action::Confirm | Action::Cancel | Action::Back,
            ) => Self::Close,
            _ => Self::None,
        }
    }
}

impl Flow {
    /// A flow that asks for nothing but `y`: its plan is what is shown.
    #[must_use]
    pub fn confirming(change: Change) -> Self {
        Self {
            change,
            stage: Stage::Confirm {
                plan: Plan::AsShown,
                typed: String::new(),
            },
        }
    }

    /// The quarantine verb of a quarantine or release.
    #[must_use]
    pub fn verb(&self) -> Option<Verb> {
        match &self.change {
            Change::Thing { verb, .. } | Change::Batch { verb, .. } => Some(*verb),
            Change::Publish { .. } | Change::Shadow { .. } => None,
        }
    }

    /// What must be typed to confirm the plan, if confirming takes typing: the Thing's name
    /// when a shared certificate isolates other Things too or other Things' quarantines are
    /// released together; a batch's number of Things.
    #[must_use]
    pub fn to_type(&self) -> Option<String> {
        match (&self.change, &self.stage) {
            (
                Change::Thing { thing, .. },
                Stage::Confirm {
                    plan: Plan::Thing(prepared),
                    ..
                },
            ) if !prepared.plan.also_isolated.is_empty() || !prepared.plan.together.is_empty() => {
                Some(thing.clone())
            }
            (
                Change::Batch { .. },
                Stage::Confirm {
                    plan: Plan::Batch(plan),
                    ..
                },
            ) => Some(plan.prepared.len().to_string()),
            _ => None,
        }
    }

    /// Whether the flow takes typed text: what confirms it, or the reason.
    #[must_use]
    pub fn takes_text(&self) -> bool {
        self.to_type().is_some() || matches!(self.stage, Stage::Reason { .. })
    }

    /// Whether Tab plans it again another way: a quarantine of one Thing, with or without
    /// deactivating its certificates.
    #[must_use]
    pub fn toggles(&self) -> bool {
        matches!(
            self.change,
            Change::Thing {
                verb: Verb::Quarantine,
                ..
            }
        )
    }

    /// Whether it is shown as a popup (a quarantine or release) rather than on the status line
    /// or the screen (a publish, a shadow's diff).
    #[must_use]
    pub fn is_popup(&self) -> bool {
        matches!(self.change, Change::Thing { .. } | Change::Batch { .. })
    }

    /// A character typed while the flow takes text (None: backspace): any character of a name
    /// or reason, digits of a number.
    pub fn type_char(&mut self, c: Option<char>) {
        let digits = matches!(self.change, Change::Batch { .. })
            && matches!(self.stage, Stage::Confirm { .. });
        let (text, most) = match &mut self.stage {
            Stage::Confirm { typed, .. } if digits => (typed, 9),
            Stage::Confirm { typed, .. } => (typed, usize::MAX),
            Stage::Reason { reason, .. } => (reason, MAX_REASON),
            _ => return,
        };
        match c {
            Some(c) if (!digits || c.is_ascii_digit()) && text.chars().count() < most => {
                text.push(c);
            }
            Some(_) => {}
            None => {
                text.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::quarantine::Options;

    fn publish() -> Flow {
        Flow::confirming(Change::Publish {
            topic: "t".into(),
            payload: "p".into(),
            qos: 0,
        })
    }

    #[test]
    fn one_rule_y_confirms_a_plan_enter_takes_what_is_typed() {
        let shadow = Flow::confirming(Change::Shadow {
            thing: "pump".into(),
            name: None,
            desired: Value::Null,
            version: Some(3),
            before: Value::Null,
        });
        let thing = Flow {
            change: Change::Thing {
                verb: Verb::Quarantine,
                thing: "pump".into(),
                options: Options::default(),
            },
            stage: Stage::Confirm {
                plan: Plan::Thing(Box::new(Prepared::for_tests("pump"))),
                typed: String::new(),
            },
        };
        for flow in [publish(), shadow, thing] {
            assert!(!flow.takes_text(), "{flow:?}");
            assert_eq!(Answer::of(&flow, Action::Yes), Answer::Confirm);
            assert_eq!(
                Answer::of(&flow, Action::Confirm),
                Answer::None,
                "a stray Enter"
            );
            for no in [Action::No, Action::Cancel, Action::Back] {
                assert_eq!(Answer::of(&flow, no), Answer::Cancel);
            }
        }
        let mut reason = publish();
        reason.stage = Stage::Reason {
            plan: Plan::AsShown,
            reason: String::new(),
        };
        assert!(reason.takes_text());
        assert_eq!(Answer::of(&reason, Action::Confirm), Answer::Confirm);
        let mut running = publish();
        running.stage = Stage::Running(Progress::Call);
        assert_eq!(Answer::of(&running, Action::Cancel), Answer::Busy);
        assert_eq!(Answer::of(&running, Action::Yes), Answer::None);
        running.stage = Stage::Refused("no".into());
        assert_eq!(Answer::of(&running, Action::Confirm), Answer::Close);
    }

    #[test]
    fn a_reason_is_cut_at_its_limit_and_a_count_takes_digits_only() {
        let mut flow = publish();
        flow.stage = Stage::Reason {
            plan: Plan::AsShown,
            reason: "x".repeat(MAX_REASON - 1),
        };
        flow.type_char(Some('y'));
        flow.type_char(Some('z'));
        let Stage::Reason { reason, .. } = &flow.stage else {
            unreachable!()
        };
        assert_eq!(reason.chars().count(), MAX_REASON);
        let mut batch = Flow {
            change: Change::Batch {
                verb: Verb::Release,
                things: vec!["a".into()],
            },
            stage: Stage::Confirm {
                plan: Plan::AsShown,
                typed: String::new(),
            },
        };
        for c in "1a2".chars() {
            batch.type_char(Some(c));
        }
        batch.type_char(None);
        let Stage::Confirm { typed, .. } = &batch.stage else {
            unreachable!()
        };
        assert_eq!(typed, "1");
    }
}
