//! What the config handler needs from the outside, as traits over the AWS adapters so
//! the handler is tested with the real adapters against an emulator.

use std::collections::HashMap;
use std::future::Future;

use crate::dynamodb::DynamoCheckRepository;
use crate::eventbridge::EventBridgeRules;
use crate::AwsError;
use webmon_core::ports::{CheckRepository, LoadedChecks};
use webmon_core::reconcile::{Change, ExistingRule};
use webmon_core::schedule::GroupKey;

/// The check table, with the one write the config Lambda makes.
pub trait CheckTable: CheckRepository {
    /// Sets an item's `schedule_group` (items written without it are not in the index).
    fn set_group(
        &self,
        id: &str,
        group: GroupKey,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Counts the group's checks that `region` probes, without reading them.
    fn count_group(
        &self,
        group: GroupKey,
        region: &str,
    ) -> impl Future<Output = Result<u64, AwsError>> + Send;

    /// Every check, with the `schedule_group` each item has stored.
    #[allow(clippy::type_complexity)]
    fn all_with_stored_groups(
        &self,
    ) -> impl Future<Output = Result<(LoadedChecks, HashMap<String, Option<String>>), AwsError>> + Send;
}

impl CheckTable for DynamoCheckRepository {
    async fn set_group(&self, id: &str, group: GroupKey) -> Result<(), AwsError> {
        DynamoCheckRepository::set_group(self, id, group).await
    }
    async fn count_group(&self, group: GroupKey, region: &str) -> Result<u64, AwsError> {
        DynamoCheckRepository::count_group(self, group, region).await
    }
    async fn all_with_stored_groups(
        &self,
    ) -> Result<(LoadedChecks, HashMap<String, Option<String>>), AwsError> {
        DynamoCheckRepository::all_with_stored_groups(self).await
    }
}

/// The region's trigger rules.
pub trait TriggerRules: Send + Sync {
    /// Name prefix of our rules.
    fn prefix(&self) -> &str;
    /// ARN of the probe target.
    fn target_arn(&self) -> &str;
    /// Check executions per trigger minute one rule carries.
    fn bin_capacity(&self) -> u64;
    /// Every rule with our prefix.
    fn list(&self) -> impl Future<Output = Result<Vec<ExistingRule>, AwsError>> + Send;
    /// One rule, if it exists.
    fn describe(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<ExistingRule>, AwsError>> + Send;
    /// Applies one change.
    fn apply(&self, change: &Change) -> impl Future<Output = Result<(), AwsError>> + Send;
}

impl TriggerRules for EventBridgeRules {
    fn prefix(&self) -> &str {
        EventBridgeRules::prefix(self)
    }
    fn target_arn(&self) -> &str {
        EventBridgeRules::target_arn(self)
    }
    fn bin_capacity(&self) -> u64 {
        EventBridgeRules::bin_capacity(self)
    }
    async fn list(&self) -> Result<Vec<ExistingRule>, AwsError> {
        EventBridgeRules::list(self).await
    }
    async fn describe(&self, name: &str) -> Result<Option<ExistingRule>, AwsError> {
        EventBridgeRules::describe(self, name).await
    }
    async fn apply(&self, change: &Change) -> Result<(), AwsError> {
        EventBridgeRules::apply(self, change).await
    }
}
