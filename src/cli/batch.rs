//! Bulk `quarantine` (names, `--query`, `--group`, `--from-file`) and `release --batch ID`
//! (ARCHITECTURE.md, "Quarantine"): the selection's one plan is printed before anything changes
//! (certificates counted once, shared certificates and Things isolated beyond the selection
//! named, calls counted by action); on a terminal the operator confirms by typing the number of
//! Things; a progress line on stderr gives the rate and the time left; every Thing's result is
//! printed, and the verb exits 1 when any Thing is not done.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;

use serde::Serialize;

use super::CliError;
use super::args::{GlobalArgs, OutputFormat};
use super::quarantine::mutation_path;
use super::text::{Layout, Report as Text, Table, certificate_id, output_width};
use crate::fleet::FleetClient;
use crate::fleet::mutation::Mutations;
use crate::fleet::quarantine::batch::{self, BatchPlan, BatchProgress, BatchReport};
use crate::fleet::quarantine::plan::{Options, Strategy};
use crate::fleet::quarantine::run::Verb;

/// Where a bulk quarantine's Things come from; their union, each once, in the order given.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub names: Vec<String>,
    pub query: Option<String>,
    pub group: Option<String>,
    pub from_file: Option<std::path::PathBuf>,
}

impl Selection {
    /// One Thing named and nothing else: the single quarantine's own flow.
    #[must_use]
    pub fn single(&self) -> Option<&str> {
        match (&self.names[..], &self.query, &self.group, &self.from_file) {
            ([name], None, None, None) => Some(name),
            _ => None,
        }
    }

    /// The Things selected.
    pub async fn resolve(&self, client: &FleetClient) -> Result<Vec<String>, CliError> {
        let mut things = self.names.clone();
        if let Some(path) = &self.from_file {
            things.extend(names_in_file(path)?);
        }
        if let Some(group) = &self.group {
            things.extend(client.things_in_group(group).await?);
        }
        if let Some(query) = &self.query {
            let found = client.search_things(query).collect_all().await?;
            things.extend(found.into_iter().map(|t| t.name));
        }
        let mut seen = std::collections::HashSet::new();
        things.retain(|t| seen.insert(t.clone()));
        if things.is_empty() {
            return Err(CliError::new(
                1,
                "the selection is empty: no Thing to quarantine",
            ));
        }
        Ok(things)
    }
}

/// The Thing names of a file, one a line; blank lines and `#` comments are skipped, and a line
/// that is not a Thing name is an error naming its line.
fn names_in_file(path: &Path) -> Result<Vec<String>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::new(1, format!("cannot read {}: {e}", path.display())))?;
    let mut names = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let name = line.split('#').next().unwrap_or("").trim();
        if name.is_empty() {
            continue;
        }
        let valid = name.len() <= 128
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'));
        if !valid {
            return Err(CliError::new(
                2,
                format!(
                    "{} line {}: '{name}' is not a Thing name (letters, digits, ':', '_', '-', at most 128)",
                    path.display(),
                    index + 1
                ),
            ));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

/// What a bulk quarantine was asked to do.
#[derive(Debug, Clone)]
pub struct Request {
    pub things: Vec<String>,
    pub reason: Option<String>,
    pub incident: Option<String>,
    pub strategy: Option<Strategy>,
    pub deactivate_certs: bool,
    pub dry_run: bool,
    pub yes: bool,
}

pub async fn quarantine(
    client: &FleetClient,
    global: &GlobalArgs,
    default_strategy: Strategy,
    request: Request,
) -> Result<(), CliError> {
    let what = format!("quarantine would change {} Things", request.things.len());
    let mutations = mutation_path(client, global, request.dry_run, &what).await?;
    let options = Options {
        strategy: request.strategy.unwrap_or(default_strategy),
        deactivate_certs: request.deactivate_certs,
    };
    let plan = batch::plan_quarantine(
        client,
        mutations.journal(),
        request.things,
        options,
        batch::Why {
            reason: request.reason,
            incident: request.incident,
        },
    )
    .await?;
    carry_out(
        client,
        &mutations,
        global,
        plan,
        options,
        request.dry_run,
        request.yes,
    )
    .await
}

pub async fn release(
    client: &FleetClient,
    global: &GlobalArgs,
    id: &str,
    with_shared: bool,
    dry_run: bool,
    yes: bool,
) -> Result<(), CliError> {
    let what = format!("release would change the Things of {id}");
    let mutations = mutation_path(client, global, dry_run, &what).await?;
    let plan = batch::plan_release(client, mutations.journal(), id, with_shared).await?;
    carry_out(
        client,
        &mutations,
        global,
        plan,
        Options::default(),
        dry_run,
        yes,
    )
    .await
}

#[derive(Serialize)]
struct Output<'a> {
    plan: &'a BatchPlan,
    /// Every Thing's plan, for those with something to do.
    steps: Vec<ThingSteps<'a>>,
    dry_run: bool,
    result: Option<&'a BatchReport>,
}

#[derive(Serialize)]
struct ThingSteps<'a> {
    thing: &'a str,
    steps: &'a [crate::fleet::quarantine::Step],
}

async fn carry_out(
    client: &FleetClient,
    mutations: &Mutations,
    global: &GlobalArgs,
    plan: BatchPlan,
    options: Options,
    dry_run: bool,
    yes: bool,
) -> Result<(), CliError> {
    let json = global.output == OutputFormat::Json;
    let output = |plan: &BatchPlan, dry_run: bool, result: Option<&BatchReport>| {
        super::to_json(&Output {
            plan,
            steps: plan
                .prepared
                .iter()
                .map(|p| ThingSteps {
                    thing: &p.plan.thing,
                    steps: &p.plan.steps,
                })
                .collect(),
            dry_run,
            result,
        })
    };
    if dry_run {
        let text = if json {
            output(&plan, true, None)
        } else {
            let mut text = plan_text(&plan);
            text.line(0, "Dry run: nothing was changed.");
            text.finish()
        };
        return super::print(&text);
    }
    if !yes {
        confirm(&plan)?;
    }
    let plan_json = json.then(|| plan.clone());
    let progress = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let report = batch::execute(client, mutations, plan, options, &mut |p| {
        if progress {
            show_progress(&p, started.elapsed().as_secs_f64());
        }
    })
    .await?;
    if progress {
        eprintln!();
    }
    let text = match &plan_json {
        Some(plan) => output(plan, false, Some(&report)),
        None => result_text(&report, Layout::of(global.output)),
    };
    super::print(&text)?;
    let failures = report.failures();
    if failures > 0 {
        let again = match report.verb {
            Verb::Quarantine => "run the same command again to resume it".to_owned(),
            Verb::Release => "run the same command again to complete it".to_owned(),
        };
        return Err(CliError::new(
            1,
            format!(
                "{failures} of {} Things are not done in {}: {again}",
                report.results.len(),
                report.id
            ),
        ));
    }
    Ok(())
}

/// `[#####.....] 412/1000  37.2 Things/s  16 s left`, redrawn in place on stderr.
fn show_progress(progress: &BatchProgress<'_>, seconds: f64) {
    const WIDTH: usize = 24;
    let filled = WIDTH * progress.done / progress.total.max(1);
    #[expect(clippy::cast_precision_loss, reason = "counts of Things are small")]
    let rate = progress.done as f64 / seconds.max(0.001);
    #[expect(clippy::cast_precision_loss, reason = "counts of Things are small")]
    let left = (progress.total - progress.done) as f64 / rate.max(0.001);
    let mut stderr = std::io::stderr().lock();
    let _ = write!(
        stderr,
        "\r[{}{}] {}/{}  {rate:.1} Things/s  {left:.0} s left  ",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        progress.done,
        progress.total,
    );
    let _ = stderr.flush();
}

fn confirm(plan: &BatchPlan) -> Result<(), CliError> {
    let count = plan.prepared.len();
    if count == 0 {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::new(
            2,
            format!(
                "{} changes {count} Things: add --yes to do it without a terminal to confirm on",
                plan.verb
            ),
        ));
    }
    let mut stderr = std::io::stderr().lock();
    let _ = write!(
        stderr,
        "{}Type {count} to {} {count} Things: ",
        plan_text(plan).finish(),
        plan.verb
    );
    let _ = stderr.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::new(1, format!("cannot read the answer: {e}")))?;
    if answer.trim() == count.to_string() {
        Ok(())
    } else {
        Err(CliError::new(
            1,
            format!("{} cancelled: nothing was changed", plan.verb),
        ))
    }
}

fn plan_text(plan: &BatchPlan) -> Text {
    let mut out = Text::new(output_width());
    let title = match plan.verb {
        Verb::Quarantine => "Quarantine",
        Verb::Release => "Release",
    };
    out.field(
        0,
        title,
        12,
        &format!("{} Things selected", plan.things.len()),
    );
    out.field(
        0,
        "Batch",
        12,
        &if plan.resumed {
            format!("{} (resumed: it was interrupted)", plan.id)
        } else {
            plan.id.clone()
        },
    );
    if let Some(source) = &plan.releases {
        out.field(
            0,
            "Releases",
            12,
            &format!("the Things batch {source} isolated"),
        );
    }
    out.field(0, "To change", 12, &plan.prepared.len().to_string());
    if !plan.unchanged.is_empty() {
        let already = match plan.verb {
            Verb::Quarantine => "Isolated",
            Verb::Release => "Not isolated",
        };
        out.field(
            0,
            already,
            12,
            &format!(
                "{} (nothing to do): {}",
                plan.unchanged.len(),
                plan.unchanged.join(", ")
            ),
        );
    }
    for unplanned in &plan.unplanned {
        out.line(
            0,
            &format!(
                "! {} cannot be planned: {}",
                unplanned.thing, unplanned.error
            ),
        );
    }
    out.field(0, "Certificates", 12, &plan.certificates.to_string());
    for shared in &plan.shared_certificates {
        out.line(
            0,
            &format!(
                "! certificate {} is shared by {}",
                certificate_id(&shared.id, output_width()),
                shared.things.join(", ")
            ),
        );
    }
    if !plan.also_isolated.is_empty() {
        out.line(
            0,
            &format!(
                "! also isolated, outside the selection (a shared certificate): {}",
                plan.also_isolated.join(", ")
            ),
        );
    }
    for warning in &plan.warnings {
        out.line(0, &format!("! {warning}"));
    }
    let calls = plan
        .calls
        .iter()
        .map(|(action, n)| format!("{n} {action}"))
        .collect::<Vec<_>>()
        .join(", ");
    out.field(
        0,
        "Calls",
        12,
        &if calls.is_empty() {
            "none".to_owned()
        } else {
            format!("{} ({calls})", plan.total_calls())
        },
    );
    out
}

fn result_text(report: &BatchReport, layout: Layout) -> String {
    let mut table = Table::new(&["THING", "RESULT", "DETAIL"]);
    for result in &report.results {
        table.row([&result.thing, &result.outcome, &result.detail]);
    }
    let done = report.results.len() - report.failures();
    #[expect(clippy::cast_precision_loss, reason = "counts of Things are small")]
    let rate = report.results.len() as f64 / report.seconds.max(0.001);
    let undo = match report.verb {
        Verb::Quarantine => format!(" Undo it with `iotfleet release --batch {}`.", report.id),
        Verb::Release => String::new(),
    };
    table.listing(
        layout,
        &format!(
            "{done} of {} Things done in {:.1} s ({rate:.1} Things/s), batch {}.{undo}",
            report.results.len(),
            report.seconds,
            report.id,
        ),
    )
}
