//! TODO: target.
