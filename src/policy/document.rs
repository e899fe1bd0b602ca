//! Parsing of AWS IoT policy documents, rejecting malformed ones with the reason (as AWS's
//! MalformedPolicyException does).

use serde_json::{Map, Value};

/// The policy language version. In `2008-10-17` (or with no Version) policy variables are not
/// substituted, as in IAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyVersion {
    V2008,
    V2012,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// A list that may be written as a single string or an array of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    /// `Action` / `Resource`: the statement applies to what matches one pattern.
    Any(Vec<String>),
    /// `NotAction` / `NotResource`: the statement applies to what matches none.
    NoneOf(Vec<String>),
}

/// One condition test: `operator` (e.g. `StringLike`, `BoolIfExists`) on `key` with `values`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub operator: String,
    pub key: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub actions: Matcher,
    pub resources: Matcher,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    pub version: PolicyVersion,
    pub statements: Vec<Statement>,
}

/// Why a document is not a valid policy; the text is what MalformedPolicyException carries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed policy: {0}")]
pub struct MalformedPolicy(pub String);

fn malformed(text: impl Into<String>) -> MalformedPolicy {
    MalformedPolicy(text.into())
}

impl PolicyDocument {
    /// Parses a policy document as AWS IoT accepts it: `Statement` as an object or array,
    /// `Action`/`Resource` as a string or array, `NotAction`/`NotResource`, optional `Sid` and
    /// `Condition`. Unknown fields and wrong types are rejected with the reason.
    pub fn parse(text: &str) -> Result<Self, MalformedPolicy> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            let at = crate::json_error::JsonError::of(&e);
            malformed(format!(
                "not JSON (line {}, column {}): {}",
                at.line, at.column, at.message
            ))
        })?;
        let Value::Object(top) = value else {
            return Err(malformed("the document must be a JSON object"));
        };
        for key in top.keys() {
            if !matches!(key.as_str(), "Version" | "Statement" | "Id") {
                return Err(malformed(format!(
                    "unknown field '{key}' (expected Version, Statement, Id)"
                )));
            }
        }
        let version = match top.get("Version") {
            None => PolicyVersion::V2008,
            Some(Value::String(v)) if v == "2012-10-17" => PolicyVersion::V2012,
            Some(Value::String(v)) if v == "2008-10-17" => PolicyVersion::V2008,
            Some(other) => {
                return Err(malformed(format!(
                    "Version {other} is not \"2012-10-17\" or \"2008-10-17\""
                )));
            }
        };
        let statements = match top.get("Statement") {
            None => return Err(malformed("the document has no Statement")),
            Some(Value::Object(one)) => vec![parse_statement(one, 0)?],
            Some(Value::Array(many)) if many.is_empty() => {
                return Err(malformed("Statement is an empty array"));
            }
            Some(Value::Array(many)) => many
                .iter()
                .enumerate()
                .map(|(i, s)| match s {
                    Value::Object(s) => parse_statement(s, i),
                    _ => Err(malformed(format!("Statement[{i}] is not an object"))),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(malformed(
                    "Statement must be an object or an array of objects",
                ));
            }
        };
        Ok(Self {
            version,
            statements,
        })
    }
}

fn parse_statement(
    statement: &Map<String, Value>,
    index: usize,
) -> Result<Statement, MalformedPolicy> {
    let at = |what: &str| format!("Statement[{index}]: {what}");
    for key in statement.keys() {
        if !matches!(
            key.as_str(),
            "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource" | "Condition"
        ) {
            return Err(malformed(at(&format!("unknown field '{key}'"))));
        }
    }
    let sid = match statement.get("Sid") {
        None => None,
        Some(Value::String(sid)) => Some(sid.clone()),
        Some(_) => return Err(malformed(at("Sid must be a string"))),
    };
    let effect = match statement.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(malformed(at(&format!(
                "Effect {other} is not \"Allow\" or \"Deny\""
            ))));
        }
        None => return Err(malformed(at("no Effect"))),
    };
    let actions = matcher(statement, "Action", "NotAction", index)?;
    for pattern in match &actions {
        Matcher::Any(p) | Matcher::NoneOf(p) => p,
    } {
        if pattern != "*" && !pattern.contains(':') {
            return Err(malformed(at(&format!(
                "action '{pattern}' is not of the form service:Action (e.g. iot:Publish)"
            ))));
        }
    }
    let resources = matcher(statement, "Resource", "NotResource", index)?;
    let conditions = match statement.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(operators)) => parse_conditions(operators, index)?,
        Some(_) => return Err(malformed(at("Condition must be an object"))),
    };
    Ok(Statement {
        sid,
        effect,
        actions,
        resources,
        conditions,
    })
}

fn matcher(
    statement: &Map<String, Value>,
    positive: &str,
    negative: &str,
    index: usize,
) -> Result<Matcher, MalformedPolicy> {
    match (statement.get(positive), statement.get(negative)) {
        (Some(_), Some(_)) => Err(malformed(format!(
            "Statement[{index}]: both {positive} and {negative}"
        ))),
        (None, None) => Err(malformed(format!("Statement[{index}]: no {positive}"))),
        (Some(value), None) => Ok(Matcher::Any(strings(
            value,
            &format!("Statement[{index}].{positive}"),
        )?)),
        (None, Some(value)) => Ok(Matcher::NoneOf(strings(
            value,
            &format!("Statement[{index}].{negative}"),
        )?)),
    }
}

fn strings(value: &Value, what: &str) -> Result<Vec<String>, MalformedPolicy> {
    let list = match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| malformed(format!("{what} holds a non-string {item}")))
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => {
            return Err(malformed(format!(
                "{what} must be a string or an array of strings"
            )));
        }
    };
    if list.is_empty() {
        return Err(malformed(format!("{what} is empty")));
    }
    if list.iter().any(String::is_empty) {
        return Err(malformed(format!("{what} holds an empty string")));
    }
    Ok(list)
}

fn parse_conditions(
    operators: &Map<String, Value>,
    index: usize,
) -> Result<Vec<Condition>, MalformedPolicy> {
    let mut conditions = Vec::new();
    for (operator, tests) in operators {
        let Value::Object(tests) = tests else {
            return Err(malformed(format!(
                "Statement[{index}].Condition.{operator} must be an object"
            )));
        };
        for (key, values) in tests {
            let values = match values {
                Value::Bool(b) => vec![b.to_string()],
                Value::Number(n) => vec![n.to_string()],
                other => strings(
                    other,
                    &format!("Statement[{index}].Condition.{operator}.{key}"),
                )?,
            };
            conditions.push(Condition {
                operator: operator.clone(),
                key: key.clone(),
                values,
            });
        }
    }
    Ok(conditions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_and_lists_may_be_single_values_or_arrays() {
        let one = PolicyDocument::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}}"#,
        )
        .unwrap();
        let many = PolicyDocument::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Connect"],"Resource":["*"]}]}"#,
        )
        .unwrap();
        assert_eq!(one, many);
        assert_eq!(one.version, PolicyVersion::V2012);
    }

    #[test]
    fn malformed_documents_say_why() {
        let cases = [
            ("not json", "not JSON (line 1, column 2)"),
            ("[]", "must be a JSON object"),
            (r#"{"Version":"2012-10-17"}"#, "no Statement"),
            (r#"{"Statement":[]}"#, "empty array"),
            (
                r#"{"Statement":{"Effect":"Permit","Action":"iot:*","Resource":"*"}}"#,
                "Effect \"Permit\"",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#,
                "no Action",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"iot:*"}}"#,
                "no Resource",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"publish","Resource":"*"}}"#,
                "service:Action",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*","Extra":1}}"#,
                "unknown field 'Extra'",
            ),
            (
                r#"{"Version":"2020-01-01","Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}"#,
                "Version",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"iot:*","NotAction":"iot:X","Resource":"*"}}"#,
                "both Action and NotAction",
            ),
        ];
        for (document, reason) in cases {
            let error = PolicyDocument::parse(document).unwrap_err().to_string();
            assert!(error.contains(reason), "{document}: {error}");
        }
    }
}
