//! AWS adapters (filled by the AWS pipeline).
