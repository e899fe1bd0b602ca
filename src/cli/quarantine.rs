//! `quarantine` and `release`: isolate a Thing and undo it exactly (ARCHITECTURE.md, "Quarantine"). The
//! plan is printed before anything changes; on a terminal without `--yes` the operator confirms
//! (by typing the Thing's name when a shared certificate isolates others too); `--dry-run`
//! stops after the plan; `--read-only` refuses.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use serde::Serialize;

use super::CliError;
use super::args::{GlobalArgs, OutputFormat};
use super::text::{Report as Text, output_width};
use crate::fleet::FleetClient;
use crate::fleet::mutation::Mutations;
use crate::fleet::quarantine::holds::Scope;
use crate::fleet::quarantine::plan::{Options, Plan, Strategy, is_quarantined};
use crate::fleet::quarantine::run::{self, Prepared, QuarantineError, Report};

impl From<QuarantineError> for CliError {
    fn from(error: QuarantineError) -> Self {
        Self::new(error.exit_code(), error.to_string())
    }
}

/// What `quarantine` was asked to do.
#[derive(Debug, Clone)]
pub struct Request {
    pub thing: String,
    pub reason: Option<String>,
    pub incident: Option<String>,
    pub strategy: Option<Strategy>,
    pub deactivate_certs: bool,
    pub dry_run: bool,
    pub yes: bool,
}

/// The mutation path for `client`, refusing at once under read-only (`what` would change)
/// unless it is a dry run, which changes nothing.
pub(super) async fn mutation_path(
    client: &FleetClient,
    global: &GlobalArgs,
    dry_run: bool,
    what: &str,
) -> Result<Mutations, CliError> {
    let mutations = Mutations::for_client(global.read_only, None, client).await?;
    if !dry_run {
        mutations.refuse_if_read_only(what)?;
    }
    Ok(mutations)
}

pub async fn quarantine(
    client: &FleetClient,
    global: &GlobalArgs,
    default_strategy: Strategy,
    request: Request,
) -> Result<(), CliError> {
    let what = format!("quarantine would change {}", request.thing);
    let mutations = mutation_path(client, global, request.dry_run, &what).await?;
    let options = Options {
        strategy: request.strategy.unwrap_or(default_strategy),
        deactivate_certs: request.deactivate_certs,
    };
    let mut prepared = run::prepare_quarantine(
        client,
        mutations.journal(),
        &request.thing,
        options,
        request.reason.clone(),
    )
    .await?;
    prepared.incident = request.incident.clone();
    run::name_impact(client, &mut prepared).await;
    carry_out(
        client,
        &mutations,
        global,
        prepared,
        request.dry_run,
        request.yes,
    )
    .await
}

/// What `release NAME` was asked to do.
#[derive(Debug, Clone)]
pub struct ReleaseRequest {
    pub thing: String,
    /// Which of its holds to close.
    pub scope: Scope,
    pub with_shared: bool,
    pub dry_run: bool,
    pub yes: bool,
}

pub async fn release(
    client: &FleetClient,
    global: &GlobalArgs,
    request: ReleaseRequest,
) -> Result<(), CliError> {
    let ReleaseRequest {
        thing,
        scope,
        with_shared,
        dry_run,
        yes,
    } = request;
    let thing = thing.as_str();
    let what = format!("release would change {thing}");
    let mutations = mutation_path(client, global, dry_run, &what).await?;
    let prepared =
        run::prepare_release_of(client, mutations.journal(), thing, &scope, with_shared).await?;
    if prepared.is_empty() {
        let still = is_quarantined(&prepared.subject);
        let text = match global.output {
            OutputFormat::Json => super::to_json(&Output {
                plan: &prepared.plan,
                dry_run: false,
                result: None,
                quarantined: still,
            }),
            OutputFormat::Table | OutputFormat::Text => {
                let mut out = plan_text(&prepared.plan, "Release");
                out.line(0, if still {
                    "Nothing this tool can undo: the Thing is still isolated by something no journal entry records (see the warnings)."
                } else {
                    "Nothing to release: the Thing is not quarantined."
                });
                out.finish()
            }
        };
        super::print(&text)?;
        if still || !prepared.plan.unrestorable.is_empty() {
            return Err(CliError::new(
                1,
                format!(
                    "{thing} was not released: it is still isolated, or something cannot be restored (see above)"
                ),
            ));
        }
        return Ok(());
    }
    carry_out(client, &mutations, global, prepared, dry_run, yes).await
}

#[derive(Serialize)]
struct Output<'a> {
    plan: &'a Plan,
    dry_run: bool,
    result: Option<&'a Report>,
    /// Whether the Thing is isolated at the end.
    quarantined: bool,
}

async fn carry_out(
    client: &FleetClient,
    mutations: &Mutations,
    global: &GlobalArgs,
    prepared: Prepared,
    dry_run: bool,
    yes: bool,
) -> Result<(), CliError> {
    let verb = prepared.verb;
    let title = match verb {
        run::Verb::Quarantine => "Quarantine",
        run::Verb::Release => "Release",
    };
    if dry_run {
        let text = match global.output {
            OutputFormat::Json => super::to_json(&Output {
                plan: &prepared.plan,
                dry_run: true,
                result: None,
                quarantined: is_quarantined(&prepared.subject),
            }),
            OutputFormat::Table | OutputFormat::Text => {
                let mut out = plan_text(&prepared.plan, title);
                out.line(0, "Dry run: nothing was changed.");
                out.finish()
            }
        };
        return super::print(&text);
    }
    // Asked on the terminal, the plan was shown there already.
    let asked = !yes;
    if asked {
        confirm(&prepared)?;
    }
    let report = run::execute(client, mutations, prepared, &mut |_| Ok(())).await?;
    let quarantined = match verb {
        // Isolated only when the verification, from what the service says now, says so.
        run::Verb::Quarantine => report.verification.as_ref().is_some_and(|v| v.verified),
        // A release that failed part-way may not have undone it; another hold keeps it.
        run::Verb::Release => report.failed.is_some() || !report.plan.held_by.is_empty(),
    };
    let text = match global.output {
        OutputFormat::Json => super::to_json(&Output {
            plan: &report.plan,
            dry_run: false,
            result: Some(&report),
            quarantined,
        }),
        OutputFormat::Table | OutputFormat::Text => result_text(&report, title, !asked),
    };
    super::print(&text)?;
    match report.advice() {
        Some(advice) => Err(CliError::new(1, advice)),
        None => Ok(()),
    }
}

/// Asks on the terminal: `y` for one Thing, the Thing's name when others are isolated too.
fn confirm(prepared: &Prepared) -> Result<(), CliError> {
    let verb = prepared.verb;
    let thing = &prepared.plan.thing;
    if !std::io::stdin().is_terminal() {
        return Err(CliError::new(
            2,
            format!("{verb} changes {thing}: add --yes to do it without a terminal to confirm on"),
        ));
    }
    let mut stderr = std::io::stderr().lock();
    let plan = plan_text(
        &prepared.plan,
        if verb == run::Verb::Quarantine {
            "Quarantine"
        } else {
            "Release"
        },
    );
    let shared = !prepared.plan.also_isolated.is_empty() || !prepared.plan.together.is_empty();
    let question = if shared {
        format!(
            "Type {} to confirm (it changes the other Things listed too): ",
            crate::untrusted::escape(thing)
        )
    } else {
        format!("{verb} {}? [y/N] ", crate::untrusted::escape(thing))
    };
    let _ = write!(stderr, "{}{question}", plan.finish());
    let _ = stderr.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::new(1, format!("cannot read the answer: {e}")))?;
    let answer = answer.trim();
    let confirmed = if shared {
        answer == thing
    } else {
        answer.eq_ignore_ascii_case("y") || answer.eq_ignore_ascii_case("yes")
    };
    if confirmed {
        Ok(())
    } else {
        Err(CliError::new(
            1,
            format!("{verb} cancelled: nothing was changed"),
        ))
    }
}

fn plan_text(plan: &Plan, title: &str) -> Text {
    let mut out = Text::new(output_width());
    out.field(0, title, 10, &plan.thing);
    if let Some(strategy) = plan.strategy {
        out.field(0, "Strategy", 10, &strategy.to_string());
    }
    for warning in &plan.warnings {
        out.line(0, &format!("! {warning}"));
    }
    for problem in &plan.unrestorable {
        out.line(0, &format!("! cannot restore: {problem}"));
    }
    for impact in &plan.impact {
        out.line(0, &format!("~ {impact}"));
    }
    if plan.steps.is_empty() {
        out.line(0, "Plan: no call to make");
    } else {
        out.line(0, "Plan:");
        for (index, step) in plan.steps.iter().enumerate() {
            out.line(2, &format!("{}. {step} ({})", index + 1, step.action()));
        }
    }
    out
}

fn result_text(report: &Report, title: &str, with_plan: bool) -> String {
    let mut out = if with_plan {
        plan_text(&report.plan, title)
    } else {
        Text::new(output_width())
    };
    out.line(0, "Result:");
    for (index, done) in report.done.iter().enumerate() {
        out.line(2, &format!("{}. ok    {}", index + 1, done.detail));
    }
    if let Some(failure) = &report.failed {
        out.line(
            2,
            &format!(
                "{}. FAILED {}: {}",
                failure.step, failure.call, failure.error
            ),
        );
        for index in failure.step..report.plan.steps.len() {
            out.line(2, &format!("{}. not run", index + 1));
        }
    } else if let Some(held) = report.still_held_by() {
        out.line(
            0,
            &format!(
                "{} stays QUARANTINED: its hold here is closed, and {held} still hold it.",
                report.thing
            ),
        );
    } else if report.verb == run::Verb::Release {
        if report.advice().is_none() {
            let mut released = vec![report.thing.clone()];
            released.extend(report.plan.together.iter().cloned());
            out.line(
                0,
                &format!(
                    "{} {} released.",
                    released.join(", "),
                    if released.len() == 1 { "is" } else { "are" }
                ),
            );
        }
    } else {
        if let Some(verification) = &report.verification {
            out.line(0, "Verification (policies in force, read again):");
            for line in verification.lines() {
                out.line(2, &line);
            }
        }
        match &report.verification {
            Some(verification) if verification.verified => out.line(
                0,
                &format!(
                    "{} is QUARANTINED and VERIFIED. Undo it with `iotfleet release {}`.",
                    report.thing, report.thing
                ),
            ),
            Some(_) => out.line(0, &format!("{} is NOT ISOLATED.", report.thing)),
            None => out.line(
                0,
                &format!(
                    "{} could not be verified: {}",
                    report.thing,
                    report.verification_error.as_deref().unwrap_or("no answer")
                ),
            ),
        }
    }
    out.finish()
}
