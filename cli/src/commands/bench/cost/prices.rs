//! The committed price table, `prices/aws-prices.yaml`: AWS list prices with their
//! date and region, and the model of the original design.

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

/// The committed price table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// Date the prices were read from the pricing pages.
    pub as_of: String,
    /// Region the prices are for.
    pub region: String,
    /// Currency of every price.
    pub currency: String,
    /// Where the prices come from.
    pub sources: Vec<String>,
    /// AWS Lambda.
    pub lambda: LambdaPrices,
    /// Amazon SQS.
    pub sqs: SqsPrices,
    /// Timestream for LiveAnalytics.
    pub timestream: TimestreamPrices,
    /// DynamoDB on demand (Streams reads by a Lambda trigger are free).
    pub dynamodb: DynamoPrices,
    /// EventBridge.
    pub eventbridge: EventBridgePrices,
    /// Data transfer.
    pub data_transfer: TransferPrices,
    /// The original design's model.
    pub original: OriginalModel,
}

/// Lambda prices.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaPrices {
    /// Per GB-second, arm64.
    pub arm64_per_gb_second: f64,
    /// Per GB-second, x86.
    pub x86_per_gb_second: f64,
    /// Per million invocations.
    pub per_million_requests: f64,
    /// Duration rounding, ms.
    pub billing_granularity_ms: f64,
}

/// SQS prices.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqsPrices {
    /// Per million requests.
    pub per_million_requests: f64,
    /// Payload bytes billed as one request.
    pub billing_chunk_bytes: usize,
}

/// Timestream prices.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestreamPrices {
    /// Per million 1 KiB write units.
    pub per_million_writes: f64,
    /// Bytes per write unit.
    pub write_unit_bytes: usize,
    /// Memory store, per GB-hour.
    pub memory_store_per_gb_hour: f64,
    /// Magnetic store, per GB-month.
    pub magnetic_store_per_gb_month: f64,
}

/// DynamoDB prices.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamoPrices {
    /// Per million read request units.
    pub per_million_read_units: f64,
    /// Bytes per read unit.
    pub read_unit_bytes: usize,
    /// Units of an eventually consistent read relative to a strong one.
    pub eventually_consistent_factor: f64,
    /// Per million write request units.
    pub per_million_write_units: f64,
    /// Bytes per write unit.
    pub write_unit_bytes: usize,
    /// Units of a transactional write relative to a standard one.
    pub transactional_write_factor: f64,
}

/// EventBridge prices.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBridgePrices {
    /// Per million scheduled-rule invocations.
    pub per_million_scheduled_invocations: f64,
}

/// Data transfer prices.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferPrices {
    /// Per GB between regions.
    pub inter_region_per_gb: f64,
}

/// How the original design is modelled.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginalModel {
    /// `x86` or `arm64`.
    pub architecture: String,
    /// Memory setting, MB.
    pub memory_mb: f64,
    /// Billed duration of one invocation (one check execution), ms.
    pub billed_ms_per_invocation: f64,
    /// Single-measure records (and WriteRecords calls) per execution.
    pub records_per_execution: f64,
    /// Size of one such record, bytes.
    pub record_bytes: f64,
}

impl Prices {
    /// Reads and parses the table.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "failed to read the price table {} (run from the repository root or pass --prices)",
                path.display()
            )
        })?;
        serde_yaml::from_str(&text)
            .with_context(|| format!("failed to parse the price table {}", path.display()))
    }
}
