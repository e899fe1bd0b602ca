//! The local core's rules engine registry: topic rules kept in the state file and answered with
//! AWS's calls (CreateTopicRule, GetTopicRule, ListTopicRules, ReplaceTopicRule,
//! DeleteTopicRule, EnableTopicRule, DisableTopicRule). Each rule's SQL is read for its `FROM`
//! topic filter, checked as AWS checks it and listed as the rule's `topicPattern`; the actions are
//! recorded as given and never run here (no Lambda, S3 or DynamoDB is reached from the local
//! core), which its answers do not hide: the rule's description is kept, its actions are only
//! listed.

use serde_json::{Value, json};

use super::registry::{ApiError, ApiResult, Call, offset_page, page_size, with_next};
use super::store::{FleetState, TopicRuleRecord};
use crate::fleet::traffic::filter::check_filter;

/// The `FROM` topic filter of a rule's SQL: `SELECT … FROM 'fleet/+/telemetry' [WHERE …]`.
pub fn topic_pattern(sql: &str) -> Result<String, ApiError> {
    let refused = |why: &str| ApiError {
        status: 400,
        code: "SqlParseException",
        message: format!("{why} in the SQL statement: {sql}"),
    };
    let lower = sql.to_ascii_lowercase();
    if !lower.trim_start().starts_with("select ") {
        return Err(refused("no SELECT"));
    }
    let from = lower
        .match_indices("from")
        .find(|(at, _)| {
            let before = lower[..*at].chars().next_back();
            let after = lower[at + 4..].chars().next();
            before.is_some_and(char::is_whitespace) && after.is_some_and(char::is_whitespace)
        })
        .map(|(at, _)| at + 4)
        .ok_or_else(|| refused("no FROM"))?;
    let rest = sql[from..].trim_start();
    let quoted = rest
        .strip_prefix('\'')
        .and_then(|r| r.split_once('\''))
        .map(|(topic, _)| topic)
        .ok_or_else(|| refused("the FROM topic filter is not in single quotes"))?;
    check_filter(quoted).map_err(|why| refused(&format!("FROM '{quoted}': {why}")))?;
    Ok(quoted.to_owned())
}

fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Reads a TopicRulePayload (the body of CreateTopicRule and ReplaceTopicRule).
fn record(payload: &Value, created: i64) -> Result<TopicRuleRecord, ApiError> {
    let sql = payload["sql"]
        .as_str()
        .ok_or_else(|| ApiError::invalid("topicRulePayload.sql is required"))?;
    let topic_pattern = topic_pattern(sql)?;
    let actions = match &payload["actions"] {
        Value::Array(actions) => actions.clone(),
        Value::Null => return Err(ApiError::invalid("topicRulePayload.actions is required")),
        _ => return Err(ApiError::invalid("topicRulePayload.actions must be a list")),
    };
    Ok(TopicRuleRecord {
        sql: sql.to_owned(),
        topic_pattern,
        description: payload["description"].as_str().map(str::to_owned),
        disabled: payload["ruleDisabled"].as_bool().unwrap_or(false),
        sql_version: payload["awsIotSqlVersion"].as_str().map(str::to_owned),
        actions,
        error_action: payload.get("errorAction").filter(|v| !v.is_null()).cloned(),
        created,
    })
}

/// A rule by name. AWS answers a missing rule with UnauthorizedException, not "not found".
fn rule<'s>(state: &'s FleetState, name: &str) -> Result<&'s TopicRuleRecord, ApiError> {
    state.topic_rules.get(name).ok_or_else(|| ApiError {
        status: 401,
        code: "UnauthorizedException",
        message: format!("topic rule {name} does not exist"),
    })
}

/// CreateTopicRule.
pub fn create_topic_rule(
    state: &mut FleetState,
    call: Call<'_>,
    name: &str,
    payload: &Value,
) -> ApiResult {
    if !valid_name(name) {
        return Err(ApiError::invalid(format!(
            "rule name {name:?} must be 1 to 128 of a-z, A-Z, 0-9 and _"
        )));
    }
    if state.topic_rules.contains_key(name) {
        return Err(ApiError {
            status: 409,
            code: "ResourceAlreadyExistsException",
            message: format!("topic rule {name} already exists"),
        });
    }
    let record = record(payload, call.now)?;
    state.topic_rules.insert(name.to_owned(), record);
    Ok(json!({}))
}

/// ReplaceTopicRule: the new payload, keeping the creation time.
pub fn replace_topic_rule(state: &mut FleetState, name: &str, payload: &Value) -> ApiResult {
    let created = rule(state, name)?.created;
    let record = record(payload, created)?;
    state.topic_rules.insert(name.to_owned(), record);
    Ok(json!({}))
}

/// EnableTopicRule and DisableTopicRule.
pub fn set_disabled(state: &mut FleetState, name: &str, disabled: bool) -> ApiResult {
    rule(state, name)?;
    if let Some(record) = state.topic_rules.get_mut(name) {
        record.disabled = disabled;
    }
    Ok(json!({}))
}

/// DeleteTopicRule.
pub fn delete_topic_rule(state: &mut FleetState, name: &str) -> ApiResult {
    rule(state, name)?;
    state.topic_rules.remove(name);
    Ok(json!({}))
}

/// GetTopicRule.
pub fn get_topic_rule(state: &FleetState, call: Call<'_>, name: &str) -> ApiResult {
    let record = rule(state, name)?;
    let mut rule = json!({
        "ruleName": name,
        "sql": record.sql,
        "description": record.description,
        "createdAt": record.created,
        "actions": record.actions,
        "ruleDisabled": record.disabled,
        "awsIotSqlVersion": record.sql_version.as_deref().unwrap_or("2015-10-08"),
    });
    if let Some(error_action) = &record.error_action {
        rule["errorAction"] = error_action.clone();
    }
    Ok(json!({"ruleArn": call.arn(&format!("rule/{name}")), "rule": rule}))
}

/// ListTopicRules, by name; `topic` keeps the rules whose `FROM` filter is that one.
pub fn list_topic_rules(
    state: &FleetState,
    call: Call<'_>,
    topic: Option<&str>,
    disabled: Option<bool>,
    max_results: Option<i64>,
    next_token: Option<&str>,
) -> ApiResult {
    let size = page_size(max_results, 250, "maxResults")?;
    let rules: Vec<Value> = state
        .topic_rules
        .iter()
        .filter(|(_, r)| topic.is_none_or(|t| t == r.topic_pattern))
        .filter(|(_, r)| disabled.is_none_or(|d| d == r.disabled))
        .map(|(name, r)| {
            json!({
                "ruleArn": call.arn(&format!("rule/{name}")),
                "ruleName": name,
                "topicPattern": r.topic_pattern,
                "createdAt": r.created,
                "ruleDisabled": r.disabled,
            })
        })
        .collect();
    let (page, next) = offset_page(&rules, next_token, size)?;
    Ok(with_next(json!({"rules": page}), "nextToken", next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_from_filter_is_read_from_the_sql_and_a_bad_one_refused_as_aws_does() {
        assert_eq!(
            topic_pattern("SELECT temperature FROM 'fleet/+/telemetry' WHERE temperature > 50")
                .unwrap(),
            "fleet/+/telemetry"
        );
        assert_eq!(
            topic_pattern("select * from 'fleet/pump-01/#'").unwrap(),
            "fleet/pump-01/#"
        );
        for (sql, why) in [
            ("SELECT * FROM fleet/+/telemetry", "single quotes"),
            ("SELECT * WHERE x = 1", "no FROM"),
            ("DELETE FROM 'a'", "no SELECT"),
            ("SELECT * FROM 'a/#/b'", "FROM 'a/#/b'"),
        ] {
            let error = topic_pattern(sql).unwrap_err();
            assert_eq!(error.code, "SqlParseException");
            assert!(error.message.contains(why), "{sql}: {}", error.message);
        }
    }

    #[test]
    fn rules_are_created_listed_by_topic_replaced_and_deleted() {
        let mut state = FleetState::default();
        let call = Call {
            account: "123456789012",
            region: "us-east-1",
            now: 1_700_000_000,
        };
        let payload = |sql: &str| json!({"sql": sql, "actions": [{"s3": {"bucketName": "b", "key": "k", "roleArn": "r"}}]});
        create_topic_rule(
            &mut state,
            call,
            "to_s3",
            &payload("SELECT * FROM 'fleet/+/telemetry'"),
        )
        .unwrap();
        create_topic_rule(
            &mut state,
            call,
            "other",
            &payload("SELECT * FROM 'plant/#'"),
        )
        .unwrap();
        assert_eq!(
            create_topic_rule(&mut state, call, "to_s3", &payload("SELECT * FROM 'x'"))
                .unwrap_err()
                .code,
            "ResourceAlreadyExistsException"
        );
        assert_eq!(
            create_topic_rule(&mut state, call, "bad-name", &payload("SELECT * FROM 'x'"))
                .unwrap_err()
                .status,
            400
        );
        let listed =
            list_topic_rules(&state, call, Some("fleet/+/telemetry"), None, None, None).unwrap();
        assert_eq!(listed["rules"][0]["ruleName"], "to_s3");
        assert_eq!(listed["rules"].as_array().unwrap().len(), 1);
        replace_topic_rule(&mut state, "to_s3", &payload("SELECT * FROM 'fleet/#'")).unwrap();
        let got = get_topic_rule(&state, call, "to_s3").unwrap();
        assert_eq!(got["rule"]["sql"], "SELECT * FROM 'fleet/#'");
        assert_eq!(got["rule"]["actions"][0]["s3"]["bucketName"], "b");
        set_disabled(&mut state, "to_s3", true).unwrap();
        assert_eq!(
            get_topic_rule(&state, call, "to_s3").unwrap()["rule"]["ruleDisabled"],
            true
        );
        delete_topic_rule(&mut state, "to_s3").unwrap();
        assert_eq!(
            get_topic_rule(&state, call, "to_s3").unwrap_err().status,
            401
        );
    }
}
