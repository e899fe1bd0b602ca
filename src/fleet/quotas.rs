//! AWS IoT Core's request-rate quotas, per API and per account, and the token bucket both sides
//! measure them with: the client's limiter (`limiter.rs`) paces its calls by them, and the local
//! IoT Core can enforce them (`local serve --aws-quotas`), answering ThrottlingException as AWS
//! does. A leaf: data and arithmetic, no I/O.
//!
//! The defaults are AWS's published "AWS IoT Core API throttling limits" (requests per second;
//! AttachThingPrincipal, CreateThing, DescribeCertificate and GetPolicy as last revised). AWS
//! raises them per account on request, so `config.toml`'s `[api_rates]` overrides any of them.
//! GetThingConnectivityData is not in that table; it gets the 10 per second of most
//! control-plane calls here. Data-plane calls (shadows, DeleteConnection) are not limited.

use std::collections::BTreeMap;
use std::time::Instant;

/// Requests per second, by IAM action.
pub const AWS_IOT: &[(&str, f64)] = &[
    ("iot:AttachPolicy", 15.0),
    ("iot:AttachThingPrincipal", 100.0),
    ("iot:CreateKeysAndCertificate", 10.0),
    ("iot:CreatePolicy", 10.0),
    ("iot:CreatePolicyVersion", 10.0),
    ("iot:CreateThing", 100.0),
    ("iot:DeleteCertificate", 10.0),
    ("iot:DeletePolicy", 10.0),
    ("iot:DeletePolicyVersion", 10.0),
    ("iot:DeleteThing", 15.0),
    ("iot:DescribeCertificate", 10.0),
    ("iot:DescribeEndpoint", 10.0),
    ("iot:DescribeThing", 350.0),
    ("iot:DetachPolicy", 15.0),
    ("iot:DetachThingPrincipal", 15.0),
    ("iot:GetEffectivePolicies", 50.0),
    ("iot:GetPolicy", 10.0),
    ("iot:GetPolicyVersion", 15.0),
    ("iot:GetThingConnectivityData", 10.0),
    ("iot:ListAttachedPolicies", 15.0),
    ("iot:ListCertificates", 10.0),
    ("iot:ListPolicies", 10.0),
    ("iot:ListPolicyVersions", 10.0),
    ("iot:ListPrincipalThings", 10.0),
    ("iot:ListTargetsForPolicy", 10.0),
    ("iot:ListThingGroups", 10.0),
    ("iot:ListThingGroupsForThing", 10.0),
    ("iot:ListThingPrincipals", 10.0),
    ("iot:ListThingTypes", 10.0),
    ("iot:ListThings", 10.0),
    ("iot:ListThingsInThingGroup", 25.0),
    ("iot:SearchIndex", 15.0),
    ("iot:SetDefaultPolicyVersion", 10.0),
    ("iot:TestAuthorization", 10.0),
    ("iot:UpdateCertificate", 10.0),
    ("iot:UpdateThing", 10.0),
];

/// Request rates by IAM action; an action without one is not limited.
#[derive(Debug, Clone, PartialEq)]
pub struct Quotas {
    rates: BTreeMap<String, f64>,
}

impl Quotas {
    /// AWS IoT Core's defaults.
    #[must_use]
    pub fn aws() -> Self {
        Self {
            rates: AWS_IOT
                .iter()
                .map(|(action, rate)| ((*action).to_owned(), *rate))
                .collect(),
        }
    }

    /// Every rate multiplied by `factor` (a bench fits AWS's shape into its run this way).
    #[must_use]
    pub fn scaled(mut self, factor: f64) -> Self {
        for rate in self.rates.values_mut() {
            *rate *= factor;
        }
        self
    }

    /// These rates with `overrides` laid over them (an account's raised quotas). An action is
    /// written as its IAM action (`iot:ListThings`) or its API name (`ListThings`).
    pub fn with_overrides(mut self, overrides: &BTreeMap<String, f64>) -> Result<Self, String> {
        for (name, rate) in overrides {
            if !(rate.is_finite() && *rate > 0.0) {
                return Err(format!(
                    "api_rates: {name} = {rate} must be a positive number of requests per second"
                ));
            }
            let action = if name.contains(':') {
                name.clone()
            } else {
                format!("iot:{name}")
            };
            if !action.starts_with("iot:") || action.len() <= 4 {
                return Err(format!(
                    "api_rates: '{name}' is not an AWS IoT action (such as iot:ListThings)"
                ));
            }
            self.rates.insert(action, *rate);
        }
        Ok(self)
    }

    /// The rate of `action` (an IAM action), if it is limited.
    #[must_use]
    pub fn rate(&self, action: &str) -> Option<f64> {
        self.rates.get(action).copied()
    }
}

/// A token bucket holding at most one second of its rate, full at the start.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    #[must_use]
    pub fn new(rate: f64, now: Instant) -> Self {
        Self {
            rate,
            tokens: rate.max(1.0),
            last: now,
        }
    }

    /// Takes a token if one is there.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate.max(1.0));
        // A hair under one token counts as one: time is added in small floating steps.
        if self.tokens >= 1.0 - 1e-9 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_bucket_allows_one_second_of_burst_then_its_rate() {
        let start = Instant::now();
        let mut bucket = Bucket::new(10.0, start);
        let burst = (0..20).filter(|_| bucket.try_take(start)).count();
        assert_eq!(burst, 10);
        // Over the next second, ten more.
        let later = (1..=100)
            .filter(|i| bucket.try_take(start + Duration::from_millis(i * 10)))
            .count();
        assert_eq!(later, 10);
    }

    #[test]
    fn overrides_take_either_name_and_refuse_nonsense() {
        let mut overrides = BTreeMap::new();
        overrides.insert("ListThings".to_owned(), 50.0);
        overrides.insert("iot:AttachPolicy".to_owned(), 100.0);
        let quotas = Quotas::aws().with_overrides(&overrides).unwrap();
        assert_eq!(quotas.rate("iot:ListThings"), Some(50.0));
        assert_eq!(quotas.rate("iot:AttachPolicy"), Some(100.0));
        assert_eq!(quotas.rate("iot:DescribeThing"), Some(350.0));
        assert_eq!(Quotas::aws().scaled(2.0).rate("iot:ListThings"), Some(20.0));
        let mut bad = BTreeMap::new();
        bad.insert("s3:GetObject".to_owned(), 5.0);
        assert!(Quotas::aws().with_overrides(&bad).is_err());
        let mut bad = BTreeMap::new();
        bad.insert("ListThings".to_owned(), 0.0);
        assert!(Quotas::aws().with_overrides(&bad).is_err());
    }
}
