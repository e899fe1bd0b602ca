//! Evaluation of an authorization request against IoT policies, the way AWS IoT does it:
//! `*` and `?` wildcards, policy variables, MQTT `+` and `#` as literal characters, explicit Deny
//! over any Allow, default deny. The decision names the statement that decided.

use std::collections::{BTreeMap, BTreeSet};

use super::document::{Condition, Effect, Matcher, PolicyDocument, PolicyVersion};

/// What is known about the connection making the request; policy variables resolve from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub client_id: Option<String>,
    /// The Thing attached to the connection's certificate, when there is one.
    pub thing: Option<ThingContext>,
    /// Subject fields of the client certificate by AWS's names (`CommonName`, `Organization`).
    pub certificate_subject: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThingContext {
    pub name: String,
    pub thing_type: Option<String>,
    pub attributes: BTreeMap<String, String>,
}

/// An action such as `iot:Publish` on a resource ARN (`...:topic/a/b`, `...:topicfilter/a/#`,
/// `...:client/id`, `...:thing/name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    pub action: &'a str,
    pub resource: &'a str,
}

/// A policy by name, as attached to a principal.
#[derive(Debug, Clone, Copy)]
pub struct NamedPolicy<'a> {
    pub name: &'a str,
    pub document: &'a PolicyDocument,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

/// Which statement of which policy decided (zero-based index into the Statement list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    pub policy: String,
    pub index: usize,
    pub sid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    /// The first Deny that matched, else the first Allow; None for an implicit deny.
    pub decided_by: Option<StatementRef>,
    /// Every policy with a matching Allow, and every policy with a matching Deny.
    pub allowing: BTreeSet<String>,
    pub denying: BTreeSet<String>,
    /// Policy variables or condition keys that a statement needed and the context lacked.
    pub missing_context: BTreeSet<String>,
}

impl Decision {
    #[must_use]
    pub fn allowed(&self) -> bool {
        self.outcome == Outcome::Allowed
    }
}

/// Evaluates `request` against every statement of every policy.
#[must_use]
pub fn evaluate(
    policies: &[NamedPolicy<'_>],
    request: Request<'_>,
    context: &RequestContext,
) -> Decision {
    let mut first_allow = None;
    let mut first_deny = None;
    let mut allowing = BTreeSet::new();
    let mut denying = BTreeSet::new();
    let mut missing = BTreeSet::new();
    for policy in policies {
        let substitute = policy.document.version == PolicyVersion::V2012;
        for (index, statement) in policy.document.statements.iter().enumerate() {
            let action = request.action.to_ascii_lowercase();
            let action_applies = applies(&statement.actions, |pattern| {
                let pattern = pattern.to_ascii_lowercase();
                Some(glob(
                    &tokens(&pattern, None, &mut BTreeSet::new())?,
                    &action,
                ))
            });
            if !action_applies {
                continue;
            }
            let mut needed = BTreeSet::new();
            let resource_applies = applies(&statement.resources, |pattern| {
                let vars = substitute.then_some(context);
                Some(glob(&tokens(pattern, vars, &mut needed)?, request.resource))
            });
            let conditions_hold = resource_applies
                && statement
                    .conditions
                    .iter()
                    .all(|c| condition_holds(c, context, substitute, &mut needed));
            missing.extend(needed);
            if !(resource_applies && conditions_hold) {
                continue;
            }
            let reference = || StatementRef {
                policy: policy.name.to_owned(),
                index,
                sid: statement.sid.clone(),
            };
            match statement.effect {
                Effect::Deny => {
                    denying.insert(policy.name.to_owned());
                    first_deny.get_or_insert_with(reference);
                }
                Effect::Allow => {
                    allowing.insert(policy.name.to_owned());
                    first_allow.get_or_insert_with(reference);
                }
            }
        }
    }
    let (outcome, decided_by) = match (first_deny, first_allow) {
        (Some(deny), _) => (Outcome::ExplicitDeny, Some(deny)),
        (None, Some(allow)) => (Outcome::Allowed, Some(allow)),
        (None, None) => (Outcome::ImplicitDeny, None),
    };
    Decision {
        outcome,
        decided_by,
        allowing,
        denying,
        missing_context: missing,
    }
}

/// Whether an `Action` pattern (`iot:*`, `iot:Pub*`) names `action`, as the engine matches
/// actions: case-insensitive, `*` and `?` wildcards, no policy variables.
#[must_use]
pub fn action_matches(pattern: &str, action: &str) -> bool {
    tokens(&pattern.to_ascii_lowercase(), None, &mut BTreeSet::new())
        .is_some_and(|tokens| glob(&tokens, &action.to_ascii_lowercase()))
}

/// Whether a matcher applies; a pattern whose variables cannot be resolved (`None`) matches
/// nothing.
fn applies(matcher: &Matcher, mut pattern_matches: impl FnMut(&str) -> Option<bool>) -> bool {
    match matcher {
        Matcher::Any(patterns) => patterns.iter().any(|p| pattern_matches(p).unwrap_or(false)),
        Matcher::NoneOf(patterns) => !patterns.iter().any(|p| pattern_matches(p).unwrap_or(false)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnyRun,
    AnyOne,
}

/// Splits a pattern into wildcard tokens, substituting `${...}` policy variables from `context`
/// (when given) as literal text. Returns None when a variable is unknown to the context, after
/// noting its name in `missing`.
fn tokens(
    pattern: &str,
    context: Option<&RequestContext>,
    missing: &mut BTreeSet<String>,
) -> Option<Vec<Token>> {
    let mut out = Vec::with_capacity(pattern.len());
    let mut rest = pattern;
    let mut resolvable = true;
    while let Some(c) = rest.chars().next() {
        if let (Some(context), Some(body)) = (context, rest.strip_prefix("${"))
            && let Some(end) = body.find('}')
        {
            let name = &body[..end];
            if let Some(value) = resolve(name, context) {
                out.extend(value.chars().map(Token::Literal));
            } else {
                missing.insert(name.to_owned());
                resolvable = false;
            }
            rest = &body[end + 1..];
            continue;
        }
        out.push(match c {
            '*' => Token::AnyRun,
            '?' => Token::AnyOne,
            c => Token::Literal(c),
        });
        rest = &rest[c.len_utf8()..];
    }
    resolvable.then_some(out)
}

/// The value of a policy variable or condition key, None when the context lacks it.
fn resolve(name: &str, context: &RequestContext) -> Option<String> {
    match name {
        "*" | "?" | "$" => return Some(name.to_owned()),
        "iot:ClientId" => return context.client_id.clone(),
        "iot:Connection.Thing.IsAttached" => return Some(context.thing.is_some().to_string()),
        _ => {}
    }
    if let Some(field) = name.strip_prefix("iot:Certificate.Subject.") {
        return context.certificate_subject.get(field).cloned();
    }
    let thing = context.thing.as_ref()?;
    match name {
        "iot:Connection.Thing.ThingName" => Some(thing.name.clone()),
        "iot:Connection.Thing.ThingTypeName" => thing.thing_type.clone(),
        _ => {
            let attribute = name
                .strip_prefix("iot:Connection.Thing.Attributes[")?
                .strip_suffix(']')?;
            thing.attributes.get(attribute).cloned()
        }
    }
}

/// Glob match of a whole text: `*` any run (slashes included), `?` any one character, in time
/// linear in the text (`crate::wildcard`).
fn glob(pattern: &[Token], text: &str) -> bool {
    use crate::wildcard::Item;
    let pattern: Vec<Item> = pattern
        .iter()
        .map(|token| match token {
            Token::AnyRun => Item::Run,
            Token::AnyOne => Item::One,
            Token::Literal(c) => Item::Char(*c),
        })
        .collect();
    crate::wildcard::matches(&pattern, &text.chars().collect::<Vec<_>>())
}

/// Evaluates one condition test. Unsupported operators never hold, so an Allow guarded by one
/// grants nothing and a Deny guarded by one denies nothing; both are rare in IoT policies.
fn condition_holds(
    condition: &Condition,
    context: &RequestContext,
    substitute: bool,
    missing: &mut BTreeSet<String>,
) -> bool {
    let (operator, if_exists) = match condition.operator.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (condition.operator.as_str(), false),
    };
    let value = resolve(&condition.key, context);
    if operator == "Null" {
        let wants_absent = condition.values.iter().any(|v| v == "true");
        return wants_absent == value.is_none();
    }
    let Some(value) = value else {
        if !if_exists {
            missing.insert(condition.key.clone());
        }
        return if_exists;
    };
    let vars = substitute.then_some(context);
    let expected = |raw: &str, missing: &mut BTreeSet<String>| -> Option<String> {
        let tokens = tokens(raw, vars, missing)?;
        Some(
            tokens
                .iter()
                .map(|t| match t {
                    Token::Literal(c) => *c,
                    Token::AnyRun => '*',
                    Token::AnyOne => '?',
                })
                .collect(),
        )
    };
    let like = |raw: &str, missing: &mut BTreeSet<String>| {
        tokens(raw, vars, missing).is_some_and(|t| glob(&t, &value))
    };
    let mut any = |test: &mut dyn FnMut(&str, &mut BTreeSet<String>) -> bool| {
        condition.values.iter().any(|v| test(v, missing))
    };
    match operator {
        "StringEquals" | "ArnEquals" => any(&mut |v, m| expected(v, m).is_some_and(|e| e == value)),
        "StringNotEquals" | "ArnNotEquals" => {
            !any(&mut |v, m| expected(v, m).is_some_and(|e| e == value))
        }
        "StringEqualsIgnoreCase" => {
            any(&mut |v, m| expected(v, m).is_some_and(|e| e.eq_ignore_ascii_case(&value)))
        }
        "StringNotEqualsIgnoreCase" => {
            !any(&mut |v, m| expected(v, m).is_some_and(|e| e.eq_ignore_ascii_case(&value)))
        }
        "StringLike" | "ArnLike" => any(&mut |v, m| like(v, m)),
        "StringNotLike" | "ArnNotLike" => !any(&mut |v, m| like(v, m)),
        "Bool" => any(&mut |v, _| v.eq_ignore_ascii_case(&value)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob_str(pattern: &str, text: &str) -> bool {
        glob(&tokens(pattern, None, &mut BTreeSet::new()).unwrap(), text)
    }

    #[test]
    fn wildcards_match_runs_and_single_characters() {
        assert!(glob_str("topic/*", "topic/a/b/c"));
        assert!(glob_str("topic/?", "topic/a"));
        assert!(!glob_str("topic/?", "topic/ab"));
        assert!(glob_str("a*b*c", "aXXbYYc"));
        assert!(!glob_str("a*b*c", "aXXbYY"));
        assert!(glob_str("*", ""));
        assert!(
            glob_str("topic/#", "topic/#"),
            "MQTT # is an ordinary character"
        );
        assert!(
            !glob_str("topic/#", "topic/a"),
            "MQTT # is not a wildcard in policies"
        );
        assert!(
            !glob_str("topic/+/x", "topic/a/x"),
            "MQTT + is not a wildcard in policies"
        );
    }

    #[test]
    fn substituted_values_are_literal_text() {
        let context = RequestContext {
            client_id: Some("a*".into()),
            ..RequestContext::default()
        };
        let pattern = tokens(
            "client/${iot:ClientId}",
            Some(&context),
            &mut BTreeSet::new(),
        )
        .unwrap();
        assert!(glob(&pattern, "client/a*"));
        assert!(
            !glob(&pattern, "client/abc"),
            "a '*' in a client id is not a wildcard"
        );
    }

    #[test]
    fn unknown_variables_match_nothing_and_are_reported() {
        let mut missing = BTreeSet::new();
        assert!(
            tokens(
                "topic/${iot:Connection.Thing.ThingName}",
                Some(&RequestContext::default()),
                &mut missing
            )
            .is_none()
        );
        assert!(missing.contains("iot:Connection.Thing.ThingName"));
    }
}
