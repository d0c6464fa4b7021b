//! The process-wide budget of body bytes in flight: a semaphore of bytes shared by every
//! probe of an engine, so a thousand probes reading large bodies at once wait for room
//! instead of exhausting memory.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// Bytes taken from the budget at most per acquisition (the semaphore counts in `u32`).
const MAX_STEP: u64 = 1 << 30;

/// The shared budget.
#[derive(Debug, Clone)]
pub(crate) struct BodyBudget {
    permits: Arc<Semaphore>,
    total: u64,
}

impl BodyBudget {
    /// A budget of `total` bytes (at least 1).
    pub(crate) fn new(total: u64) -> Self {
        let total = total.clamp(1, Semaphore::MAX_PERMITS as u64);
        Self {
            permits: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    /// The whole budget.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Bytes held now.
    pub(crate) fn in_use(&self) -> u64 {
        self.total - self.permits.available_permits() as u64
    }

    /// An empty hold on this budget.
    pub(crate) fn hold(&self) -> Hold {
        Hold {
            permits: self.permits.clone(),
            held: 0,
        }
    }
}

/// Bytes held from the budget; given back when dropped.
#[derive(Debug)]
pub(crate) struct Hold {
    permits: Arc<Semaphore>,
    held: u64,
}

impl Hold {
    /// Bytes held.
    pub(crate) fn held(&self) -> u64 {
        self.held
    }

    /// Holds at least `bytes` in total, waiting for room.
    pub(crate) async fn grow_to(&mut self, bytes: u64) {
        while self.held < bytes {
            let step = (bytes - self.held).min(MAX_STEP) as u32;
            match self.permits.acquire_many(step).await {
                Ok(permit) => {
                    permit.forget();
                    self.held += u64::from(step);
                }
                // The semaphore is never closed; if it were, stop accounting.
                Err(_) => return,
            }
        }
    }

    /// Gives back everything above `bytes`.
    pub(crate) fn shrink_to(&mut self, bytes: u64) {
        if self.held > bytes {
            self.permits.add_permits((self.held - bytes) as usize);
            self.held = bytes;
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.shrink_to(0);
    }
}
