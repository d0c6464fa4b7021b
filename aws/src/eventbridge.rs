//! The region's trigger rules in EventBridge: listing ours (by prefix) and applying a
//! reconciliation plan from [`webmon_core::reconcile`].

use aws_sdk_eventbridge::types::{InputTransformer, RuleState, Target};
use aws_sdk_eventbridge::Client;
use tracing::Instrument;
use webmon_core::reconcile::{
    Change, ExistingRule, ExistingTarget, DEFAULT_BIN_CAPACITY, TARGET_ID, TIME_PLACEHOLDER,
};

use crate::AwsError;

/// Environment variable holding the probe Lambda's ARN.
pub const PROBE_ARN_ENV: &str = "WEBMON_PROBE_ARN";
/// Environment variable overriding the rule prefix.
pub const PREFIX_ENV: &str = "WEBMON_RULE_PREFIX";
/// Environment variable overriding the bin capacity (executions per trigger minute).
pub const BIN_CAPACITY_ENV: &str = "WEBMON_BIN_CAPACITY";
/// Environment variable giving the probe Lambda's memory size (MB), from which the bin
/// capacity follows (`webmon_core::reconcile::bin_capacity_for_memory`).
pub const PROBE_MEMORY_ENV: &str = "WEBMON_PROBE_MEMORY_MB";

/// The bin capacity the settings ask for: [`BIN_CAPACITY_ENV`] when set, else the one
/// measured for the memory of [`PROBE_MEMORY_ENV`] (512 MB when unset).
pub fn bin_capacity_from_env() -> Result<u64, crate::AwsError> {
    let read = |name: &str| -> Result<Option<u64>, crate::AwsError> {
        match std::env::var(name) {
            Ok(v) if !v.trim().is_empty() => {
                v.trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| crate::AwsError::Setting {
                        name: name.into(),
                        reason: format!("{v:?} is not a whole number"),
                    })
            }
            _ => Ok(None),
        }
    };
    Ok(match read(BIN_CAPACITY_ENV)? {
        Some(n) => n.max(1),
        None => webmon_core::reconcile::bin_capacity_for_memory(
            read(PROBE_MEMORY_ENV)?.map_or(webmon_core::reconcile::DEFAULT_PROBE_MEMORY_MB, |m| {
                m.min(u64::from(u32::MAX)) as u32
            }),
        ),
    })
}

/// The rules we manage on the default event bus.
#[derive(Debug, Clone)]
pub struct EventBridgeRules {
    client: Client,
    prefix: String,
    target_arn: String,
    bin_capacity: u64,
}

impl EventBridgeRules {
    /// Wraps a client; `prefix` names our rules, `target_arn` is the probe Lambda.
    pub fn new(client: Client, prefix: impl Into<String>, target_arn: impl Into<String>) -> Self {
        Self {
            client,
            prefix: prefix.into(),
            target_arn: target_arn.into(),
            bin_capacity: DEFAULT_BIN_CAPACITY,
        }
    }

    /// Sets the bin capacity: check executions per trigger minute one rule carries.
    pub fn with_bin_capacity(mut self, capacity: u64) -> Self {
        self.bin_capacity = capacity.max(1);
        self
    }

    /// The bin capacity.
    pub fn bin_capacity(&self) -> u64 {
        self.bin_capacity
    }

    /// The rule prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The probe target ARN.
    pub fn target_arn(&self) -> &str {
        &self.target_arn
    }

    /// Every rule with our prefix, with its targets.
    pub async fn list(&self) -> Result<Vec<ExistingRule>, AwsError> {
        let mut rules = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_rules()
                .name_prefix(&self.prefix)
                .set_next_token(token.take())
                .send()
                .instrument(tracing::info_span!("aws.events.ListRules"))
                .await
                .map_err(|e| AwsError::call("events", "ListRules", e))?;
            for rule in out.rules.unwrap_or_default() {
                let Some(name) = rule.name else { continue };
                let targets = self.targets(&name).await?;
                rules.push(ExistingRule {
                    enabled: rule.state.as_ref() == Some(&RuleState::Enabled),
                    schedule_expression: rule.schedule_expression,
                    name,
                    targets,
                });
            }
            match out.next_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => break,
            }
        }
        Ok(rules)
    }

    /// One rule with its targets, or `None` if it does not exist.
    pub async fn describe(&self, name: &str) -> Result<Option<ExistingRule>, AwsError> {
        let out = self
            .client
            .describe_rule()
            .name(name)
            .send()
            .instrument(tracing::info_span!("aws.events.DescribeRule", rule = name))
            .await;
        let rule = match out {
            Ok(rule) => rule,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(AwsError::call("events", "DescribeRule", e)),
        };
        let targets = self.targets(name).await?;
        Ok(Some(ExistingRule {
            name: name.to_string(),
            schedule_expression: rule.schedule_expression,
            enabled: rule.state.as_ref() == Some(&RuleState::Enabled),
            targets,
        }))
    }

    async fn targets(&self, rule: &str) -> Result<Vec<ExistingTarget>, AwsError> {
        let out = self
            .client
            .list_targets_by_rule()
            .rule(rule)
            .send()
            .instrument(tracing::info_span!("aws.events.ListTargetsByRule", rule))
            .await
            .map_err(|e| AwsError::call("events", "ListTargetsByRule", e))?;
        Ok(out
            .targets
            .unwrap_or_default()
            .into_iter()
            .map(|t| ExistingTarget {
                id: t.id,
                arn: t.arn,
                // A transformer's template is the input as planned; a constant input
                // (older releases) carries no time and differs from it.
                input: t.input_transformer.map(|x| x.input_template).or(t.input),
            })
            .collect())
    }

    /// Applies one change; only the calls the change needs are made.
    pub async fn apply(&self, change: &Change) -> Result<(), AwsError> {
        match change {
            Change::Put {
                spec,
                rule,
                target,
                remove_targets,
            } => {
                if *rule {
                    self.client
                        .put_rule()
                        .name(&spec.name)
                        .schedule_expression(&spec.schedule_expression)
                        .state(RuleState::Enabled)
                        .description(format!(
                            "webmon: probes {} schedule groups",
                            spec.groups.len()
                        ))
                        .send()
                        .instrument(tracing::info_span!("aws.events.PutRule", rule = %spec.name))
                        .await
                        .map_err(|e| AwsError::call("events", "PutRule", e))?;
                }
                if !remove_targets.is_empty() {
                    self.remove_targets(&spec.name, remove_targets).await?;
                }
                if *target {
                    let t = probe_target(&self.target_arn, &spec.input).map_err(|reason| {
                        AwsError::Codec {
                            what: format!("build the target of rule {}", spec.name),
                            reason,
                        }
                    })?;
                    let out = self
                        .client
                        .put_targets()
                        .rule(&spec.name)
                        .targets(t)
                        .send()
                        .instrument(tracing::info_span!("aws.events.PutTargets", rule = %spec.name))
                        .await
                        .map_err(|e| AwsError::call("events", "PutTargets", e))?;
                    if out.failed_entry_count > 0 {
                        let reason = out
                            .failed_entries
                            .unwrap_or_default()
                            .into_iter()
                            .filter_map(|f| f.error_message)
                            .collect::<Vec<_>>()
                            .join("; ");
                        return Err(AwsError::Partial {
                            what: format!("put the target of rule {}", spec.name),
                            failed: 1,
                            total: 1,
                            attempts: 1,
                            reason,
                        });
                    }
                }
                tracing::info!(rule = %spec.name, schedule = %spec.schedule_expression, "rule up to date");
            }
            Change::Delete { name, target_ids } => {
                if !target_ids.is_empty() {
                    self.remove_targets(name, target_ids).await?;
                }
                let result = self
                    .client
                    .delete_rule()
                    .name(name)
                    .send()
                    .instrument(tracing::info_span!("aws.events.DeleteRule", rule = %name))
                    .await;
                match result {
                    Ok(_) => {}
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_resource_not_found_exception()) => {}
                    Err(e) => return Err(AwsError::call("events", "DeleteRule", e)),
                }
                tracing::info!(rule = %name, "rule deleted");
            }
        }
        Ok(())
    }

    async fn remove_targets(&self, rule: &str, ids: &[String]) -> Result<(), AwsError> {
        self.client
            .remove_targets()
            .rule(rule)
            .set_ids(Some(ids.to_vec()))
            .send()
            .instrument(tracing::info_span!("aws.events.RemoveTargets", rule))
            .await
            .map_err(|e| AwsError::call("events", "RemoveTargets", e))?;
        Ok(())
    }
}

/// The probe target of a rule. An input template naming [`TIME_PLACEHOLDER`] becomes an
/// input transformer that fills it with the event's `$.time` (the scheduled minute, the
/// same on every delivery of that event); any other input is sent as is.
pub fn probe_target(arn: &str, input: &str) -> Result<Target, String> {
    let builder = Target::builder().id(TARGET_ID).arn(arn);
    let builder = if input.contains(&format!("\"{TIME_PLACEHOLDER}\"")) {
        let transformer = InputTransformer::builder()
            .input_paths_map("time", "$.time")
            .input_template(input)
            .build()
            .map_err(|e| e.to_string())?;
        builder.input_transformer(transformer)
    } else {
        builder.input(input)
    };
    builder.build().map_err(|e| e.to_string())
}

/// What EventBridge sends for an input template and an event time (RFC 3339): each
/// `<time>` replaced by the time. For the tests and `webmon bench cost`, which play
/// EventBridge.
pub fn render_input(template: &str, time: &str) -> String {
    template.replace(TIME_PLACEHOLDER, time)
}
