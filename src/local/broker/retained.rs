//! Retained messages, kept in memory (rmqtt's default store keeps none): the last retained
//! message per topic, an empty payload clearing it, bounded in count. A Last Will suppressed by
//! DeleteConnection, or that the policies in force no longer let its session publish, is not
//! kept.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rmqtt::retain::RetainStorage;
use rmqtt::types::{FromType, Retain, TopicFilter, TopicName};

use super::authority::Authority;

use crate::fleet::traffic::filter::matches;

/// At most this many topics keep a retained message; further ones are refused (and logged).
pub const MAX_RETAINED: usize = 100_000;

pub struct RetainedMessages {
    messages: tokio::sync::RwLock<HashMap<TopicName, Retain>>,
    authority: Arc<Authority>,
}

impl RetainedMessages {
    #[must_use]
    pub fn new(authority: Arc<Authority>) -> Self {
        Self {
            messages: tokio::sync::RwLock::default(),
            authority,
        }
    }
}

impl std::fmt::Debug for RetainedMessages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetainedMessages").finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl RetainStorage for RetainedMessages {
    fn enable(&self) -> bool {
        true
    }

    async fn set(
        &self,
        topic: &TopicName,
        retain: Retain,
        _expiry_interval: Option<Duration>,
    ) -> rmqtt::Result<()> {
        let from = &retain.from;
        if matches!(from.typ(), FromType::LastWill)
            && !self
                .authority
                .will_allowed(&from.id.client_id, from.id.create_time, topic, true)
        {
            return Ok(());
        }
        let mut messages = self.messages.write().await;
        if retain.publish.payload.is_empty() {
            messages.remove(topic);
        } else if messages.len() < MAX_RETAINED || messages.contains_key(topic) {
            messages.insert(topic.clone(), retain);
        } else {
            tracing::warn!(%topic, "retained message refused: {MAX_RETAINED} topics already retain one");
        }
        Ok(())
    }

    async fn get(&self, filter: &TopicFilter) -> rmqtt::Result<Vec<(TopicName, Retain)>> {
        Ok(self
            .messages
            .read()
            .await
            .iter()
            .filter(|(topic, _)| matches(filter, topic))
            .map(|(topic, retain)| (topic.clone(), retain.clone()))
            .collect())
    }

    async fn count(&self) -> isize {
        isize::try_from(self.messages.read().await.len()).unwrap_or(isize::MAX)
    }

    async fn max(&self) -> isize {
        isize::try_from(MAX_RETAINED).unwrap_or(isize::MAX)
    }
}
