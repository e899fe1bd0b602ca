//! AWS IoT Core's request-rate quotas, enforced by the local IoT Core when asked
//! (`local serve --aws-quotas[=FACTOR]`, `--local --aws-quotas`): each control-plane operation
//! has a token bucket of its rate (one second of burst), and a request past it is answered as
//! AWS answers it, 400 ThrottlingException "Rate exceeded", so a client's behaviour at scale can
//! be tested without an AWS account.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use axum::http::Method;

use super::registry::ApiError;
use crate::fleet::quotas::{Bucket, Quotas};

/// The buckets of every limited operation.
#[derive(Debug)]
pub struct Throttle {
    quotas: Quotas,
    buckets: Mutex<HashMap<&'static str, Bucket>>,
}

impl Throttle {
    #[must_use]
    pub fn new(quotas: Quotas) -> Self {
        Self {
            quotas,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The quotas it enforces.
    #[must_use]
    pub fn quotas(&self) -> &Quotas {
        &self.quotas
    }

    /// Takes a token for the control-plane request `method /path`, or refuses it as AWS does.
    pub fn admit(&self, method: &Method, path: &[&str]) -> Result<(), ApiError> {
        let Some(action) = operation(method, path) else {
            return Ok(());
        };
        let Some(rate) = self.quotas.rate(action) else {
            return Ok(());
        };
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets
            .entry(action)
            .or_insert_with(|| Bucket::new(rate, now));
        if bucket.try_take(now) {
            Ok(())
        } else {
            Err(ApiError {
                status: 400,
                code: "ThrottlingException",
                message: "Rate exceeded".to_owned(),
            })
        }
    }
}

/// The IAM action of an AWS IoT control-plane request, for the operations that have a quota.
#[must_use]
pub fn operation(method: &Method, path: &[&str]) -> Option<&'static str> {
    let get = *method == Method::GET;
    let post = *method == Method::POST;
    let put = *method == Method::PUT;
    let delete = *method == Method::DELETE;
    let update = *method == Method::PATCH;
    Some(match path {
        ["things"] if get => "iot:ListThings",
        ["things", _] if get => "iot:DescribeThing",
        ["things", _] if post => "iot:CreateThing",
        ["things", _] if delete => "iot:DeleteThing",
        ["things", _] if update => "iot:UpdateThing",
        ["things", _, "connectivity-data"] if post => "iot:GetThingConnectivityData",
        ["things", _, "thing-groups"] if get => "iot:ListThingGroupsForThing",
        ["things", _, "principals"] if get => "iot:ListThingPrincipals",
        ["things", _, "principals"] if put => "iot:AttachThingPrincipal",
        ["things", _, "principals"] if delete => "iot:DetachThingPrincipal",
        ["principals", "things"] if get => "iot:ListPrincipalThings",
        ["thing-groups"] if get => "iot:ListThingGroups",
        ["thing-groups", _, "things"] if get => "iot:ListThingsInThingGroup",
        ["thing-types"] if get => "iot:ListThingTypes",
        ["keys-and-certificate"] if post => "iot:CreateKeysAndCertificate",
        ["certificates"] if get => "iot:ListCertificates",
        ["certificates", _] if get => "iot:DescribeCertificate",
        ["certificates", _] if put => "iot:UpdateCertificate",
        ["certificates", _] if delete => "iot:DeleteCertificate",
        ["attached-policies", _] if post => "iot:ListAttachedPolicies",
        ["policy-targets", _] if post => "iot:ListTargetsForPolicy",
        ["policies"] if get => "iot:ListPolicies",
        ["policies", _] if get => "iot:GetPolicy",
        ["policies", _] if post => "iot:CreatePolicy",
        ["policies", _] if delete => "iot:DeletePolicy",
        ["policies", _, "version"] if get => "iot:ListPolicyVersions",
        ["policies", _, "version"] if post => "iot:CreatePolicyVersion",
        ["policies", _, "version", _] if get => "iot:GetPolicyVersion",
        ["policies", _, "version", _] if update => "iot:SetDefaultPolicyVersion",
        ["policies", _, "version", _] if delete => "iot:DeletePolicyVersion",
        ["target-policies", _] if put => "iot:AttachPolicy",
        ["target-policies", _] if post => "iot:DetachPolicy",
        ["endpoint"] if get => "iot:DescribeEndpoint",
        ["test-authorization"] if post => "iot:TestAuthorization",
        ["effective-policies"] if post => "iot:GetEffectivePolicies",
        ["indices", "search"] if post => "iot:SearchIndex",
        ["security-profiles"] if get => "iot:ListSecurityProfiles",
        ["security-profiles", _] if get => "iot:DescribeSecurityProfile",
        ["security-profiles", _] if post => "iot:CreateSecurityProfile",
        ["security-profiles", _] if delete => "iot:DeleteSecurityProfile",
        ["security-profiles", _, "targets"] if get => "iot:ListTargetsForSecurityProfile",
        ["security-profiles", _, "targets"] if put => "iot:AttachSecurityProfile",
        ["security-profiles", _, "targets"] if delete => "iot:DetachSecurityProfile",
        ["active-violations"] if get => "iot:ListActiveViolations",
        ["rules"] if get => "iot:ListTopicRules",
        ["rules", _] if get => "iot:GetTopicRule",
        ["rules", _] if post => "iot:CreateTopicRule",
        ["rules", _] if update => "iot:ReplaceTopicRule",
        ["rules", _] if delete => "iot:DeleteTopicRule",
        ["rules", _, "enable"] if post => "iot:EnableTopicRule",
        ["rules", _, "disable"] if post => "iot:DisableTopicRule",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_a_seconds_burst_requests_are_throttled_as_aws_throttles_them() {
        let throttle = Throttle::new(Quotas::aws());
        let admitted = (0..30)
            .filter(|_| {
                throttle
                    .admit(&Method::PUT, &["target-policies", "p"])
                    .is_ok()
            })
            .count();
        assert_eq!(admitted, 15, "AttachPolicy: 15 a second");
        let refused = throttle
            .admit(&Method::PUT, &["target-policies", "p"])
            .unwrap_err();
        assert_eq!((refused.status, refused.code), (400, "ThrottlingException"));
        // Another operation has its own bucket; data-plane paths have none.
        assert!(throttle.admit(&Method::GET, &["things"]).is_ok());
        assert_eq!(operation(&Method::GET, &["things", "x", "shadow"]), None);
    }
}
