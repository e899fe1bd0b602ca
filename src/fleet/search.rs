//! Fleet search: AWS IoT fleet indexing's SearchIndex over the `AWS_Things` index, page by
//! page. Where the account has no index (fleet indexing off, or still building) that is said
//! with the command that turns it on, so the caller can fall back to the list filter; a query
//! AWS refuses is explained with the position `crate::query` finds at fault, when it finds one.

use std::fmt;

use super::client::{FleetClient, PageToken, to_time};
use super::error::{FleetError, Operation};
use super::model::{Connectivity, IndexedThing};
use crate::query::{Query, QueryError};

/// The index of Things.
pub const THING_INDEX: &str = "AWS_Things";
/// SearchIndex's largest page.
pub const PAGE_SIZE: i32 = 100;
/// How fleet indexing is turned on, with the registry, shadows and connectivity.
pub const TURN_ON: &str = "aws iot update-indexing-configuration --thing-indexing-configuration \
     thingIndexingMode=REGISTRY_AND_SHADOW,thingConnectivityIndexingMode=STATUS";

/// Why a search gave no answer.
#[derive(Debug)]
pub enum SearchError {
    /// The account has no usable Thing index: fleet indexing is off or still building.
    NoIndex {
        code: String,
        message: String,
    },
    /// The service refused the query; `fault` is where our reading of it goes wrong, if it does.
    InvalidQuery {
        message: String,
        query: String,
        fault: Option<QueryError>,
    },
    Fleet(FleetError),
}

impl fmt::Display for SearchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoIndex { code, message } => write!(
                f,
                "fleet search is unavailable: the account has no fleet index here ({code}: \
                 {message}); turn fleet indexing on with: {TURN_ON}"
            ),
            Self::InvalidQuery {
                message,
                query,
                fault: Some(fault),
            } => write!(
                f,
                "the query is not valid: {}\n{}\n(the service said: {message})",
                fault,
                fault.pointer(query)
            ),
            Self::InvalidQuery { message, .. } => write!(f, "the query is not valid: {message}"),
            Self::Fleet(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for SearchError {}

impl From<FleetError> for SearchError {
    fn from(error: FleetError) -> Self {
        Self::Fleet(error)
    }
}

/// A search in progress: call [`SearchPages::next_page`] until it returns `None`.
#[derive(Debug)]
pub struct SearchPages {
    client: FleetClient,
    query: String,
    token: PageToken,
}

impl FleetClient {
    /// Searches the Thing index with a fleet indexing query, page by page.
    #[must_use]
    pub fn search_things(&self, query: &str) -> SearchPages {
        SearchPages {
            client: self.clone(),
            query: query.to_owned(),
            token: PageToken::default(),
        }
    }
}

impl SearchPages {
    /// The next page of matches, `None` after the last one. After an error the search can be
    /// resumed by calling again.
    pub async fn next_page(&mut self) -> Option<Result<Vec<IndexedThing>, SearchError>> {
        if self.token.finished {
            return None;
        }
        let operation = Operation::new("iot:SearchIndex");
        let result = self
            .client
            .iot()
            .search_index()
            .index_name(THING_INDEX)
            .query_string(&self.query)
            .max_results(PAGE_SIZE)
            .set_next_token(self.token.next.clone())
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(error) => {
                let service = error.as_service_error();
                if service.is_some_and(|e| {
                    e.is_index_not_ready_exception() || e.is_resource_not_found_exception()
                }) {
                    let meta = service.map(aws_sdk_iot::error::ProvideErrorMetadata::meta);
                    return Some(Err(SearchError::NoIndex {
                        code: meta.and_then(|m| m.code()).unwrap_or_default().to_owned(),
                        message: meta
                            .and_then(|m| m.message())
                            .unwrap_or_default()
                            .to_owned(),
                    }));
                }
                if service.is_some_and(aws_sdk_iot::operation::search_index::SearchIndexError::is_invalid_query_exception) {
                    let message = service
                        .and_then(|e| aws_sdk_iot::error::ProvideErrorMetadata::message(e))
                        .unwrap_or_default()
                        .to_owned();
                    return Some(Err(SearchError::InvalidQuery {
                        message,
                        fault: Query::parse(&self.query).err(),
                        query: self.query.clone(),
                    }));
                }
                return Some(Err(self.client.fail(&operation, error).into()));
            }
        };
        if let Err(error) = self.token.advance(out.next_token, operation.action) {
            return Some(Err(error.into()));
        }
        let things = out
            .things
            .unwrap_or_default()
            .into_iter()
            .map(|t| IndexedThing {
                name: t.thing_name.unwrap_or_default(),
                id: t.thing_id,
                thing_type: t.thing_type_name,
                groups: t.thing_group_names.unwrap_or_default(),
                attributes: t.attributes.unwrap_or_default().into_iter().collect(),
                connectivity: t.connectivity.and_then(|c| {
                    Some(Connectivity {
                        connected: c.connected?,
                        since: c
                            .timestamp
                            .and_then(|ms| to_time(aws_smithy_types::DateTime::from_millis(ms))),
                        disconnect_reason: c.disconnect_reason,
                    })
                }),
                shadow: t.shadow.and_then(|s| serde_json::from_str(&s).ok()),
            })
            .collect();
        Some(Ok(things))
    }

    /// Every remaining match.
    pub async fn collect_all(mut self) -> Result<Vec<IndexedThing>, SearchError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await {
            all.extend(page?);
        }
        Ok(all)
    }
}
