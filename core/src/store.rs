//! TODO: store.
