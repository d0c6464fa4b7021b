//! The disk under the database, watched while `webmon run` runs: the database's size
//! (with its write-ahead log), its growth per day since the watch started, and the free
//! space of its filesystem, logged at every summary; a loud warning when free space runs
//! low, so a long run does not end in a full disk unannounced.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Free space under which the watch warns: 1 GiB...
pub const LOW_FREE_BYTES: u64 = 1 << 30;
/// ...or under this share of the filesystem (5%).
pub const LOW_FREE_PERCENT: u64 = 5;

/// One look at the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskReading {
    /// The database file, its `-wal` and its `-shm`, bytes.
    pub db_bytes: u64,
    /// Free space for this user on the database's filesystem, bytes.
    pub free_bytes: u64,
    /// Size of that filesystem, bytes.
    pub total_bytes: u64,
}

impl DiskReading {
    /// Reads the sizes for the database at `db`.
    pub fn of(db: &Path) -> std::io::Result<Self> {
        let size = |suffix: &str| {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            std::fs::metadata(PathBuf::from(name)).map_or(0, |m| m.len())
        };
        let db_bytes = size("") + size("-wal") + size("-shm");
        let dir = match db.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let (free_bytes, total_bytes) = statvfs(dir)?;
        Ok(Self {
            db_bytes,
            free_bytes,
            total_bytes,
        })
    }

    /// Whether free space is under [`LOW_FREE_BYTES`] or [`LOW_FREE_PERCENT`].
    pub fn is_low(&self) -> bool {
        self.free_bytes < LOW_FREE_BYTES
            || self.free_bytes.saturating_mul(100)
                < self.total_bytes.saturating_mul(LOW_FREE_PERCENT)
    }
}

/// Growth per day, in bytes, from `first` to `now` (each `(when, database bytes)`);
/// `None` before a minute has passed, when the figure would mean little.
pub fn growth_per_day(first: (Instant, u64), now: (Instant, u64)) -> Option<f64> {
    let elapsed = now.0.checked_duration_since(first.0)?;
    if elapsed < Duration::from_secs(60) {
        return None;
    }
    let grown = now.1 as f64 - first.1 as f64;
    Some(grown * 86_400.0 / elapsed.as_secs_f64())
}

/// `bytes` as a short figure (`12.3 MiB`).
pub fn human(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let (mut value, mut unit) = (bytes, 0);
    while value.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Logs the disk every `every` until the task is dropped: size, growth and free space at
/// info, a warning at every look while free space is low.
pub async fn watch(db: PathBuf, every: Duration) {
    let mut first = None;
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let reading = match DiskReading::of(&db) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(db = %db.display(), error = %e, "failed to read the disk's free space");
                continue;
            }
        };
        let now = (Instant::now(), reading.db_bytes);
        let first = *first.get_or_insert(now);
        let growth = growth_per_day(first, now).map_or_else(
            || "growth not measured yet".to_string(),
            |g| format!("growing {}/day", human(g)),
        );
        tracing::info!(
            db_bytes = reading.db_bytes,
            free_bytes = reading.free_bytes,
            "database {} ({growth}); {} free on its disk",
            human(reading.db_bytes as f64),
            human(reading.free_bytes as f64)
        );
        if reading.is_low() {
            tracing::warn!(
                free_bytes = reading.free_bytes,
                "LOW DISK SPACE: only {} free of {} where {} is stored; results will fail to \
                 store when it is full: free space or move the database (--db)",
                human(reading.free_bytes as f64),
                human(reading.total_bytes as f64),
                db.display()
            );
        }
    }
}

/// Free bytes (for this user) and total bytes of the filesystem holding `dir`.
fn statvfs(dir: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: statvfs writes only into the struct we own; zeroed is a valid statvfs.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let block = stat.f_frsize as u64;
    Ok((
        (stat.f_bavail as u64).saturating_mul(block),
        (stat.f_blocks as u64).saturating_mul(block),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_means_under_a_gib_or_under_five_percent() {
        let r = |free: u64, total: u64| DiskReading {
            db_bytes: 0,
            free_bytes: free,
            total_bytes: total,
        };
        let gib = 1u64 << 30;
        assert!(r(gib - 1, 1000 * gib).is_low());
        assert!(r(4 * gib, 100 * gib).is_low(), "4% free");
        assert!(!r(6 * gib, 100 * gib).is_low(), "6% free");
        assert!(!r(2 * gib, 10 * gib).is_low());
    }

    #[test]
    fn growth_is_extrapolated_to_a_day_after_a_minute() {
        let t0 = Instant::now();
        assert_eq!(
            growth_per_day((t0, 0), (t0 + Duration::from_secs(30), 100)),
            None
        );
        let g = growth_per_day((t0, 1000), (t0 + Duration::from_secs(3600), 1000 + 4096)).unwrap();
        assert!((g - 4096.0 * 24.0).abs() < 1e-6, "{g}");
        assert_eq!(human(3.0 * 1024.0 * 1024.0), "3.0 MiB");
        assert_eq!(human(512.0), "512 B");
    }

    #[test]
    fn a_real_database_and_its_filesystem_are_measured() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("webmon.db");
        std::fs::write(&db, vec![0u8; 8192]).unwrap();
        std::fs::write(dir.path().join("webmon.db-wal"), vec![0u8; 4096]).unwrap();
        let r = DiskReading::of(&db).unwrap();
        assert_eq!(r.db_bytes, 8192 + 4096);
        assert!(r.total_bytes > 0 && r.free_bytes <= r.total_bytes, "{r:?}");
    }
}
