//! The process-wide budget of body bytes in flight: a semaphore of bytes shared by every
//! probe of an engine, so a thousand probes reading large bodies at once wait for room
//! instead of exhausting memory.
//!
//! A probe grows its hold as its body grows, without waiting while there is room. When
//! there is none, it gives back what it holds and waits for its whole cap in one
//! acquisition; once it has that it never waits again. No probe waits while holding
//! bytes, so probes cannot wait on each other forever (the semaphore is fair, and no cap
//! exceeds the budget).

use std::sync::Arc;

use tokio::sync::Semaphore;

/// The largest budget: one acquisition must be able to take all of it (`u32` permits).
const MAX_TOTAL: u64 = u32::MAX as u64;

/// The shared budget.
#[derive(Debug, Clone)]
pub(crate) struct BodyBudget {
    permits: Arc<Semaphore>,
    total: u64,
}

impl BodyBudget {
    /// A budget of `total` bytes (at least 1).
    pub(crate) fn new(total: u64) -> Self {
        let total = total.clamp(1, MAX_TOTAL);
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
            total: self.total,
            held: 0,
        }
    }
}

/// Bytes held from the budget; given back when dropped.
#[derive(Debug)]
pub(crate) struct Hold {
    permits: Arc<Semaphore>,
    total: u64,
    held: u64,
}

/// The bytes asked for exceed the whole budget.
#[derive(Debug)]
pub(crate) struct OverBudget;

impl Hold {
    /// Bytes held.
    pub(crate) fn held(&self) -> u64 {
        self.held
    }

    /// Holds at least `need` bytes. Takes them at once when there is room; otherwise
    /// gives back what it holds and waits for `whole` bytes (at least `need`, at most the
    /// budget), the most this hold will ever need.
    pub(crate) async fn grow_to(&mut self, need: u64, whole: u64) -> Result<(), OverBudget> {
        if need <= self.held {
            return Ok(());
        }
        if need > self.total {
            return Err(OverBudget);
        }
        let step = (need - self.held) as u32;
        if let Ok(permit) = self.permits.try_acquire_many(step) {
            permit.forget();
            self.held = need;
            return Ok(());
        }
        self.shrink_to(0);
        let want = whole.max(need).min(self.total);
        // The semaphore is never closed; if it were, accounting would simply stop.
        if let Ok(permit) = self.permits.acquire_many(want as u32).await {
            permit.forget();
            self.held = want;
        }
        Ok(())
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
