//! TODO: runner.
