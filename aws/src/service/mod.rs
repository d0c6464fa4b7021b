//! The application services of the AWS pipeline, generic over the ports, so the Lambda
//! binaries, the CLI (`webmon resync`, `webmon bench cost`) and the tests run the same
//! code:
//! - [`reconcile`]: keep a region's EventBridge rules in step with the check table,
//!   from a DynamoDB stream batch or a full resync (the config Lambda).
//! - [`probe`]: probe the schedule groups of one trigger and send the results to the
//!   queue (the probe Lambda).
//! - [`write`]: decode a batch of SQS result messages and store them, reporting the
//!   messages to retry (the writer Lambda); [`write::poll`] plays the SQS event source
//!   mapping where no Lambda service runs.

pub mod probe;
pub mod reconcile;
pub mod write;
