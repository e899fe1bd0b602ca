//! `shadow update` and `shadow delete`: Device Shadow changes from the command line, through the
//! one mutation path (`fleet::mutation`): refused with `--read-only`, the intent journaled with
//! what the shadow was before (a deleted shadow's copy) before anything is called, and a version
//! conflict named (exit 4) instead of overwriting.

use serde_json::{Value, json};

use super::CliError;
use super::args::{GlobalArgs, OutputFormat};
use super::text::output_width;
use crate::fleet::mutation::{Change, Mutations};
use crate::fleet::{FleetClient, FleetError};
use crate::untrusted::escape;

fn target(thing: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{thing}/{name}"),
        None => thing.to_owned(),
    }
}

/// The shadow as it is now (its GetThingShadow body), or null when there is none.
async fn current(
    client: &FleetClient,
    thing: &str,
    name: Option<&str>,
) -> Result<Value, FleetError> {
    match client.get_shadow(thing, name).await {
        Ok(shadow) => Ok(serde_json::to_value(shadow).unwrap_or(Value::Null)),
        Err(FleetError::NotFound { .. }) => Ok(Value::Null),
        Err(error) => Err(error),
    }
}

/// `--desired JSON` or `--desired @FILE`, parsed; a mistake names line and column.
fn desired(argument: &str) -> Result<Value, CliError> {
    let (text, source) = match argument.strip_prefix('@') {
        Some(path) => (
            std::fs::read_to_string(path)
                .map_err(|e| CliError::new(2, format!("cannot read {path}: {e}")))?,
            path.to_owned(),
        ),
        None => (argument.to_owned(), "--desired".to_owned()),
    };
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        CliError::new(
            2,
            format!(
                "{source} is not JSON: {}",
                crate::json_error::JsonError::of(&e)
            ),
        )
    })?;
    if !(value.is_object() || value.is_null()) {
        return Err(CliError::new(
            2,
            format!("{source} must be a JSON object (the desired state), or null to clear it"),
        ));
    }
    Ok(value)
}

pub async fn update(
    client: &FleetClient,
    global: &GlobalArgs,
    thing: &str,
    name: Option<&str>,
    desired_argument: &str,
    version: Option<u64>,
) -> Result<String, CliError> {
    let desired = desired(desired_argument)?;
    let shown = target(thing, name);
    let what = format!("shadow update would change {shown}");
    let mutations = Mutations::for_client(global.read_only, None, client).await?;
    mutations.refuse_if_read_only(&what)?;
    let before = current(client, thing, name).await?;
    let mut body = json!({"state": {"desired": desired}});
    if let Some(version) = version {
        body["version"] = version.into();
    }
    let change = Change {
        what,
        action: "shadow update",
        target: &shown,
        before,
        intended: body.clone(),
    };
    let accepted = mutations
        .apply(
            change,
            client.update_shadow(thing, name, &body),
            Clone::clone,
        )
        .await?;
    Ok(match global.output {
        OutputFormat::Json => super::to_json(&accepted),
        OutputFormat::Table | OutputFormat::Text => {
            let mut out = super::text::Report::new(output_width());
            out.field(0, "Thing", 10, thing);
            out.field(0, "Shadow", 10, name.unwrap_or("classic"));
            out.field(
                0,
                "Version",
                10,
                &accepted["version"]
                    .as_u64()
                    .map_or("-".into(), |v| v.to_string()),
            );
            out.line(0, "Accepted");
            out.block(
                2,
                &serde_json::to_string_pretty(&accepted["state"]).unwrap_or_default(),
            );
            out.finish()
        }
    })
}

pub async fn delete(
    client: &FleetClient,
    global: &GlobalArgs,
    thing: &str,
    name: Option<&str>,
    yes: bool,
) -> Result<String, CliError> {
    let shown = target(thing, name);
    let what = format!("shadow delete would delete {shown}");
    let mutations = Mutations::for_client(global.read_only, None, client).await?;
    mutations.refuse_if_read_only(&what)?;
    if !yes {
        return Err(CliError::new(
            2,
            format!("shadow delete removes the shadow of {shown} for good: add --yes to do it"),
        ));
    }
    let before = current(client, thing, name).await?;
    let change = Change {
        what,
        action: "shadow delete",
        target: &shown,
        before,
        intended: json!({"delete": true}),
    };
    mutations
        .apply(change, client.delete_shadow(thing, name), |()| Value::Null)
        .await?;
    Ok(format!("deleted the shadow of {}\n", escape(&shown)))
}
