//! The rules engine's side of a device: which topic rules read the topics it publishes on (their
//! SQL's `FROM` topic filter matches one), and what each does with the data (Lambda, S3,
//! DynamoDB, Kinesis, republish…): what stops downstream when the device is quarantined.
//! ListTopicRules gives every rule's topic filter; GetTopicRule is asked only for the rules that
//! match.

use serde::Serialize;

use super::client::{FleetClient, PageToken};
use super::error::{FleetError, Operation, ResourceKind};
use super::traffic::filter::matches;

/// The topics a device publishes on, by the conventions the Thing screen checks
/// (`permissions::own_checks`): its telemetry, its classic shadow's update, its jobs.
#[must_use]
pub fn device_topics(thing: &str) -> Vec<String> {
    vec![
        format!("fleet/{thing}/telemetry"),
        format!("$aws/things/{thing}/shadow/update"),
        format!("$aws/things/{thing}/jobs/get"),
    ]
}

/// A topic rule that reads a device's topics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicRule {
    pub name: String,
    /// The SQL's `FROM` topic filter.
    pub topic_pattern: String,
    pub disabled: bool,
    /// Where its data goes, each as "KIND TARGET" ("lambda my-fn", "s3 telemetry-archive").
    pub actions: Vec<String>,
    /// The device topics the filter matches.
    pub matched: Vec<String>,
}

impl TopicRule {
    /// The rule in a line: its name, filter and actions ("disabled" when it is).
    #[must_use]
    pub fn sentence(&self) -> String {
        let actions = if self.actions.is_empty() {
            "no action".to_owned()
        } else {
            self.actions.join(", ")
        };
        let disabled = if self.disabled { " (disabled)" } else { "" };
        format!(
            "{}{disabled} FROM '{}' → {actions}",
            self.name, self.topic_pattern
        )
    }
}

impl FleetClient {
    /// The topic rules whose `FROM` filter matches one of `topics`, by name, with their actions.
    pub async fn rules_reading(&self, topics: &[String]) -> Result<Vec<TopicRule>, FleetError> {
        let operation = Operation::new("iot:ListTopicRules");
        let mut token = PageToken::default();
        let mut matching = Vec::new();
        loop {
            let out = self
                .iot()
                .list_topic_rules()
                .max_results(super::client::MAX_PAGE_SIZE)
                .set_next_token(token.next.clone())
                .send()
                .await
                .map_err(|e| self.fail(&operation, e))?;
            for rule in out.rules.unwrap_or_default() {
                let (Some(name), Some(pattern)) = (rule.rule_name, rule.topic_pattern) else {
                    continue;
                };
                let matched: Vec<String> = topics
                    .iter()
                    .filter(|topic| matches(&pattern, topic))
                    .cloned()
                    .collect();
                if !matched.is_empty() {
                    matching.push((name, pattern, rule.rule_disabled.unwrap_or(false), matched));
                }
            }
            token.advance(out.next_token, operation.action)?;
            if token.finished {
                break;
            }
        }
        let mut rules = Vec::new();
        for (name, topic_pattern, disabled, matched) in matching {
            let operation = Operation::on("iot:GetTopicRule", ResourceKind::TopicRule, &name);
            let out = self
                .iot()
                .get_topic_rule()
                .rule_name(&name)
                .send()
                .await
                .map_err(|e| self.fail(&operation, e))?;
            let rule = out.rule;
            let actions = rule
                .as_ref()
                .and_then(|r| r.actions.as_ref())
                .map(|actions| actions.iter().map(describe).collect())
                .unwrap_or_default();
            rules.push(TopicRule {
                disabled: rule
                    .as_ref()
                    .and_then(|r| r.rule_disabled)
                    .unwrap_or(disabled),
                name,
                topic_pattern,
                actions,
                matched,
            });
        }
        rules.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(rules)
    }
}

/// An action in a few words: its kind and where it sends the data.
fn describe(action: &aws_sdk_iot::types::Action) -> String {
    let last = |arn: &str| arn.rsplit([':', '/']).next().unwrap_or(arn).to_owned();
    let targets: [(&str, Option<String>); 17] = [
        (
            "lambda",
            action.lambda.as_ref().map(|a| last(&a.function_arn)),
        ),
        ("s3", action.s3.as_ref().map(|a| a.bucket_name.clone())),
        (
            "dynamodb",
            action.dynamo_db.as_ref().map(|a| a.table_name.clone()),
        ),
        (
            "dynamodb",
            action
                .dynamo_dbv2
                .as_ref()
                .and_then(|a| a.put_item.as_ref())
                .map(|p| p.table_name.clone()),
        ),
        (
            "kinesis",
            action.kinesis.as_ref().map(|a| a.stream_name.clone()),
        ),
        (
            "firehose",
            action
                .firehose
                .as_ref()
                .map(|a| a.delivery_stream_name.clone()),
        ),
        (
            "republish",
            action.republish.as_ref().map(|a| a.topic.clone()),
        ),
        ("sqs", action.sqs.as_ref().map(|a| last(&a.queue_url))),
        ("sns", action.sns.as_ref().map(|a| last(&a.target_arn))),
        ("http", action.http.as_ref().map(|a| a.url.clone())),
        (
            "timestream",
            action
                .timestream
                .as_ref()
                .map(|a| format!("{}.{}", a.database_name, a.table_name)),
        ),
        (
            "step-functions",
            action
                .step_functions
                .as_ref()
                .map(|a| a.state_machine_name.clone()),
        ),
        (
            "iot-events",
            action.iot_events.as_ref().map(|a| a.input_name.clone()),
        ),
        (
            "iot-analytics",
            action
                .iot_analytics
                .as_ref()
                .map(|a| a.channel_name.clone().unwrap_or_default()),
        ),
        (
            "cloudwatch-logs",
            action
                .cloudwatch_logs
                .as_ref()
                .map(|a| a.log_group_name.clone()),
        ),
        ("kafka", action.kafka.as_ref().map(|a| a.topic.clone())),
        (
            "cloudwatch-metric",
            action
                .cloudwatch_metric
                .as_ref()
                .map(|a| a.metric_name.clone()),
        ),
    ];
    targets
        .into_iter()
        .find_map(|(kind, target)| target.map(|t| format!("{kind} {t}")))
        .unwrap_or_else(|| "another action".to_owned())
}
