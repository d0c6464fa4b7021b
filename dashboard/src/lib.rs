//! The read-only web dashboard served by `webmon run` and `webmon dashboard`.
//!
//! It reads results only through [`webmon_core::read::ResultReader`], so it serves the
//! embedded SQLite store and the AWS stores alike. It may import `webmon-core` and an
//! HTTP server; it may not import a store, an AWS SDK or the runner.
//!
//! Layout:
//! - `server` and `routes`: a hyper server with the pages, embedded assets (uPlot for
//!   the charts; nothing is loaded from the network) and the `/api/...` endpoints,
//!   documented in `docs/dashboard.md`.
//! - `assets`: the pages, scripts and styles, compiled into the binary.
//! - `badge`, `metrics` and `public`: the SVG badges, the Prometheus exposition and the
//!   public status page, each built from the same reader.
//!
//! Cross-site requests (`Sec-Fetch-Site: cross-site`) are refused, except navigations
//! to a page. The overview is read once per [`OVERVIEW_CACHE`] however many ask.
//!
//! Results carry no request headers of checks, so no secret can reach a page.

mod assets;
pub mod badge;
pub mod catalog;
pub mod metrics;
pub mod public;
mod routes;
mod server;

pub use catalog::{CheckCatalog, ConfiguredCheck};
pub use public::PublicChecks;
pub use server::{
    serve, serve_with, serve_with_clock, ServeOptions, HEADER_READ_TIMEOUT, OVERVIEW_CACHE,
    SHUTDOWN_GRACE, UPTIME_CACHE,
};
pub use webmon_core::read::{AlertReader, ResultReader, Window};
pub use webmon_core::report::StatsReader;
