//! One limiter for every AWS IoT control-plane request the client sends: the audit, bulk
//! quarantines, the certificate column and connectivity all pass through it, because it sits
//! in the SDK's HTTP client itself. Each request waits for its operation's turn (paced at the
//! operation's rate from `quotas.rs`) and for one of a bounded number of slots; a
//! ThrottlingException halves that operation's rate, and each answered request wins back a
//! fiftieth of its quota until it is whole again. Retries by the SDK pass through it too, so
//! every attempt is counted. Without quotas (moto, the local core unless it emulates them) only
//! the slots bound it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::quotas::Quotas;

/// Requests in flight at once, at most.
pub const SLOTS: usize = 32;
/// The lowest a throttled rate falls, as a share of its quota.
const FLOOR: f64 = 1.0 / 16.0;
/// What each answered request wins back, as a share of its quota.
const RECOVERY: f64 = 1.0 / 50.0;

/// How one operation fared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionStats {
    pub action: String,
    /// Its quota, when it has one.
    pub quota: Option<f64>,
    /// Requests sent (SDK retries included).
    pub requests: u64,
    pub throttled: u64,
    /// Requests per second from its first to its last request.
    pub achieved: f64,
}

#[derive(Debug)]
struct Pace {
    quota: Option<f64>,
    rate: f64,
    next: Instant,
    requests: u64,
    throttled: u64,
    first: Option<Instant>,
    last: Option<Instant>,
}

#[derive(Debug)]
struct Inner {
    quotas: Option<Quotas>,
    paces: Mutex<BTreeMap<String, Pace>>,
    slots: Arc<Semaphore>,
}

/// The shared limiter; clones share it.
#[derive(Debug, Clone)]
pub struct Limiter(Arc<Inner>);

impl Limiter {
    /// Paces by `quotas` (None: only the slots bound it).
    #[must_use]
    pub fn new(quotas: Option<Quotas>) -> Self {
        Self(Arc::new(Inner {
            quotas,
            paces: Mutex::new(BTreeMap::new()),
            slots: Arc::new(Semaphore::new(SLOTS)),
        }))
    }

    fn paces_mut(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Pace>> {
        self.0.paces.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for `action`'s turn and a slot; the slot is held until the permit drops.
    async fn admit(&self, action: &str) -> OwnedSemaphorePermit {
        let wait = {
            let now = Instant::now();
            let quota = self.0.quotas.as_ref().and_then(|q| q.rate(action));
            let mut paces = self.paces_mut();
            let pace = paces.entry(action.to_owned()).or_insert_with(|| Pace {
                quota,
                rate: quota.unwrap_or(f64::INFINITY),
                next: now,
                requests: 0,
                throttled: 0,
                first: None,
                last: None,
            });
            let slot = pace.next.max(now);
            if pace.rate.is_finite() {
                pace.next = slot + Duration::from_secs_f64(1.0 / pace.rate);
            }
            slot - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let permit = Arc::clone(&self.0.slots)
            .acquire_owned()
            .await
            .expect("the limiter's semaphore is never closed");
        let now = Instant::now();
        if let Some(pace) = self.paces_mut().get_mut(action) {
            pace.requests += 1;
            pace.first.get_or_insert(now);
            pace.last = Some(now);
        }
        permit
    }

    /// `action` was answered; `throttled` when the answer was a ThrottlingException.
    fn answered(&self, action: &str, throttled: bool) {
        let mut paces = self.paces_mut();
        let Some(pace) = paces.get_mut(action) else {
            return;
        };
        let Some(quota) = pace.quota else {
            pace.throttled += u64::from(throttled);
            return;
        };
        if throttled {
            pace.throttled += 1;
            pace.rate = (pace.rate / 2.0).max(quota * FLOOR);
            let pause = Instant::now() + Duration::from_secs_f64(1.0 / pace.rate);
            pace.next = pace.next.max(pause);
        } else {
            pace.rate = (pace.rate + quota * RECOVERY).min(quota);
        }
    }

    /// Every operation seen so far.
    #[must_use]
    pub fn stats(&self) -> Vec<ActionStats> {
        self.paces_mut()
            .iter()
            .map(|(action, pace)| {
                let span = match (pace.first, pace.last) {
                    (Some(first), Some(last)) => last.duration_since(first).as_secs_f64(),
                    _ => 0.0,
                };
                #[expect(clippy::cast_precision_loss, reason = "request counts are small")]
                let achieved = if span > 0.0 && pace.requests > 1 {
                    (pace.requests - 1) as f64 / span
                } else {
                    0.0
                };
                ActionStats {
                    action: action.clone(),
                    quota: pace.quota,
                    requests: pace.requests,
                    throttled: pace.throttled,
                    achieved,
                }
            })
            .collect()
    }

    /// The SDK's HTTP client `inner`, with every request it sends passing through this limiter.
    #[must_use]
    pub fn wrap(&self, inner: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(LimitedClient {
            inner,
            limiter: self.clone(),
        })
    }
}

/// The HTTPS client the SDK would build by default (rustls with aws-lc, proxies from the
/// environment), built here so the limiter can wrap it.
#[must_use]
pub fn default_https_client() -> SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::{Builder, ConnectorBuilder, tls};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut builder = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        builder.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        builder.set_proxy_config(Some(ProxyConfig::from_env()));
        builder.build()
    })
}

/// The operation a request belongs to, as its IAM action, put on the request by [`Tagger`].
#[derive(Debug, Clone)]
struct Action(String);

/// Names each request's operation for the limiter (the HTTP layer cannot see it otherwise).
#[derive(Debug)]
pub(super) struct Tagger {
    /// The IAM prefix of the service: `iot`.
    pub(super) service: &'static str,
}

impl Intercept for Tagger {
    fn name(&self) -> &'static str {
        "iotfleet-limiter-tag"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(metadata) = cfg.load::<Metadata>() {
            let action = Action(format!("{}:{}", self.service, metadata.name()));
            context.request_mut().add_extension(action);
        }
        Ok(())
    }
}

#[derive(Debug)]
struct LimitedClient {
    inner: SharedHttpClient,
    limiter: Limiter,
}

impl HttpClient for LimitedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(LimitedConnector {
            inner: self.inner.http_connector(settings, components),
            limiter: self.limiter.clone(),
        })
    }
}

#[derive(Debug)]
struct LimitedConnector {
    inner: SharedHttpConnector,
    limiter: Limiter,
}

impl HttpConnector for LimitedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let action = request.extension::<Action>().map(|a| a.0.clone());
        let inner = self.inner.clone();
        let limiter = self.limiter.clone();
        HttpConnectorFuture::new(async move {
            let Some(action) = action else {
                return inner.call(request).await;
            };
            let permit = limiter.admit(&action).await;
            let response = inner.call(request).await;
            drop(permit);
            if let Ok(response) = &response {
                limiter.answered(&action, is_throttling(response));
            }
            response
        })
    }
}

/// Whether an answer says the caller was throttled (AWS IoT: 400 with ThrottlingException, or
/// 429).
fn is_throttling(response: &HttpResponse) -> bool {
    response.status().as_u16() == 429
        || response
            .headers()
            .get("x-amzn-errortype")
            .is_some_and(|t| t.starts_with("Throttling") || t.starts_with("TooManyRequests"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_are_paced_halved_when_throttled_and_recover() {
        let mut overrides = BTreeMap::new();
        overrides.insert("iot:ListThings".to_owned(), 10.0);
        let limiter = Limiter::new(Some(Quotas::aws().with_overrides(&overrides).unwrap()));
        let start = tokio::time::Instant::now();
        for _ in 0..11 {
            drop(limiter.admit("iot:ListThings").await);
        }
        // Eleven at 10 per second: the last one a second after the first.
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        limiter.answered("iot:ListThings", true);
        let rate = |l: &Limiter| l.paces_mut()["iot:ListThings"].rate;
        assert!((rate(&limiter) - 5.0).abs() < 1e-9);
        for _ in 0..100 {
            limiter.answered("iot:ListThings", false);
        }
        assert!((rate(&limiter) - 10.0).abs() < 1e-9);
        // An operation without a quota is not paced.
        let before = tokio::time::Instant::now();
        for _ in 0..100 {
            drop(limiter.admit("iot:Unlisted").await);
        }
        assert_eq!(before.elapsed(), Duration::ZERO);
        let stats = limiter.stats();
        assert_eq!(stats[0].action, "iot:ListThings");
        assert_eq!((stats[0].requests, stats[0].throttled), (11, 1));
    }
}
