//! The read-only web dashboard served by `webmon run` and `webmon dashboard`.
//!
//! Layout:
//! - [`model`]: what the pages and the JSON API show (overview, latency series, phase
//!   breakdown, failures) and the `since` window.
//! - [`source`]: [`DashboardSource`], the port in front of the data; `sqlite_source`
//!   implements it for [`crate::store::SqliteStore`]; [`timestream`] implements it over
//!   any Timestream [`timestream::QueryRunner`] (the SQL and the row parsing live here;
//!   the SDK call belongs in `webmon-aws`).
//! - `server` and `routes`: a hyper server with the pages, embedded assets (uPlot for the
//!   charts; nothing is loaded from the network) and the `/api/...` endpoints, documented
//!   in `docs/dashboard.md`.
//!
//! Results carry no request headers of checks, so no secret can reach a page.

mod assets;
pub mod model;
mod routes;
mod server;
pub mod source;
mod sqlite_source;
pub mod timestream;

pub use model::Window;
pub use server::{serve, serve_with_clock, HEADER_READ_TIMEOUT, SHUTDOWN_GRACE};
pub use source::DashboardSource;
