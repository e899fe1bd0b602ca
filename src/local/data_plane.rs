//! AWS IoT data-plane operations on the local fleet state: the Device Shadow REST calls, through
//! the one shadow engine (`shadow.rs`) that the MQTT shadow topics will share.

use serde_json::{Value, json};

use super::registry::{ApiError, ApiResult, Call};
use super::shadow::{self, Accepted};
use super::store::{FleetState, ThingShadows};

fn shadows_mut<'s>(
    state: &'s mut FleetState,
    thing: &str,
) -> Result<&'s mut ThingShadows, ApiError> {
    state
        .things
        .get_mut(thing)
        .map(|t| &mut t.shadows)
        .ok_or_else(|| ApiError::not_found(format!("No shadow exists with name: '{thing}'")))
}

fn missing(thing: &str, name: Option<&str>) -> ApiError {
    match name {
        Some(name) => ApiError::not_found(format!("No shadow exists with name: '{thing}~{name}'")),
        None => ApiError::not_found(format!("No shadow exists with name: '{thing}'")),
    }
}

fn valid_shadow_name(name: Option<&str>) -> Result<(), ApiError> {
    match name {
        Some(name)
            if name.is_empty()
                || name.len() > 64
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-')) =>
        {
            Err(ApiError::invalid(format!(
                "shadow name '{name}' must be 1 to 64 of a-z, A-Z, 0-9, ':', '_', '-'"
            )))
        }
        _ => Ok(()),
    }
}

pub fn get(state: &FleetState, thing: &str, name: Option<&str>) -> ApiResult {
    valid_shadow_name(name)?;
    let shadows = &state
        .things
        .get(thing)
        .ok_or_else(|| missing(thing, name))?
        .shadows;
    let record = match name {
        None => shadows.classic.as_ref(),
        Some(name) => shadows.named.get(name),
    };
    record
        .map(shadow::document)
        .ok_or_else(|| missing(thing, name))
}

/// UpdateThingShadow; returns the engine's outcome so callers (MQTT topics) can publish it.
pub fn update(
    state: &mut FleetState,
    call: Call<'_>,
    thing: &str,
    name: Option<&str>,
    body: &[u8],
) -> Result<Accepted, ApiError> {
    valid_shadow_name(name)?;
    let shadows = shadows_mut(state, thing)?;
    let key = name.unwrap_or_default().to_owned();
    let last_version = shadows.deleted_versions.get(&key).copied().unwrap_or(0);
    let existing = match name {
        None => shadows.classic.as_ref(),
        Some(name) => shadows.named.get(name),
    };
    let accepted =
        shadow::update(existing, last_version, body, call.now).map_err(|e| ApiError {
            status: e.status,
            code: e.code,
            message: e.message,
        })?;
    match name {
        None => shadows.classic = Some(accepted.current.clone()),
        Some(name) => {
            shadows
                .named
                .insert(name.to_owned(), accepted.current.clone());
        }
    }
    shadows.deleted_versions.remove(&key);
    Ok(accepted)
}

pub fn delete(
    state: &mut FleetState,
    call: Call<'_>,
    thing: &str,
    name: Option<&str>,
) -> ApiResult {
    valid_shadow_name(name)?;
    let shadows = shadows_mut(state, thing)?;
    let removed = match name {
        None => shadows.classic.take(),
        Some(name) => shadows.named.remove(name),
    };
    let record = removed.ok_or_else(|| missing(thing, name))?;
    shadows
        .deleted_versions
        .insert(name.unwrap_or_default().to_owned(), record.version);
    Ok(json!({"version": record.version, "timestamp": call.now}))
}

pub fn list_named(
    state: &FleetState,
    call: Call<'_>,
    thing: &str,
    page_size: Option<i64>,
    next_token: Option<&str>,
) -> ApiResult {
    let size = match page_size {
        None => 25,
        Some(n) if (1..=100).contains(&n) => usize::try_from(n).unwrap_or(25),
        Some(n) => {
            return Err(ApiError::invalid(format!(
                "pageSize {n} is out of range: 1 to 100"
            )));
        }
    };
    let shadows = &state
        .things
        .get(thing)
        .ok_or_else(|| missing(thing, None))?
        .shadows;
    let names: Vec<&String> = shadows
        .named
        .keys()
        .filter(|n| next_token.is_none_or(|token| token.is_empty() || n.as_str() > token))
        .collect();
    let page: Vec<&String> = names.iter().take(size).copied().collect();
    let mut out = json!({"results": page, "timestamp": call.now});
    if names.len() > size {
        out["nextToken"] = Value::from(page.last().map(|s| s.as_str()));
    }
    Ok(out)
}
