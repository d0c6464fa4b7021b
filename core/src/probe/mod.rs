//! The probe engine.
//!
//! TODO(engine): implement. Public API (other modules code against it):
//! - [`ProbeOptions`], [`Prober::new`], [`Prober::probe`].

use crate::check::Check;
use crate::result::ProbeResult;

/// Engine-wide options.
#[derive(Debug, Clone, Default)]
pub struct ProbeOptions {
    /// Region label written into results.
    pub region: String,
    /// Extra trusted root certificates (DER), e.g. a private CA; webpki roots always apply.
    pub extra_roots_der: Vec<Vec<u8>>,
    /// Networks the SSRF guard treats as public for every check (tests, labs).
    pub guard_exempt: Vec<ipnet::IpNet>,
    /// Forces `allow_private` on for every check (CLI `--allow-private`).
    pub allow_private: bool,
}

/// Probes checks. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Prober {
    options: std::sync::Arc<ProbeOptions>,
}

impl Prober {
    /// Builds a prober.
    pub fn new(options: ProbeOptions) -> Self {
        Self { options: std::sync::Arc::new(options) }
    }

    /// Runs one execution of `check` (its N requests) scheduled at `scheduled_at_ms`.
    /// Never fails: a target that is down is a result.
    pub async fn probe(&self, check: &Check, scheduled_at_ms: i64) -> ProbeResult {
        let _ = (check, scheduled_at_ms, &self.options);
        todo!("probe engine")
    }
}
