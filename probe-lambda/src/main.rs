//! Skeleton; filled by the AWS pipeline.
fn main() {}
