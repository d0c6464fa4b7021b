//! The report window: `--since 1h` reaches back from now. Both ends are included, and
//! the bound is on the *scheduled* time, so every region's copy of one execution falls
//! on the same side of it.

use std::time::Duration;

pub use crate::read::model::Window;

/// Longest window a report may cover (the SQLite store keeps what `webmon run` wrote;
/// Timestream's magnetic store keeps years, but a report scans every execution).
pub const MAX_SINCE: Duration = Duration::from_secs(400 * 24 * 3600);

/// Parses a `--since` value (`15m`, `1h`, `7d`, `1h 30m`). The error names the value
/// and the reason.
pub fn parse_since(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let span = humantime::parse_duration(trimmed)
        .map_err(|e| format!("{trimmed:?} is not a duration like 15m, 1h or 7d ({e})"))?;
    if span.is_zero() {
        return Err(format!(
            "{trimmed:?} is an empty window; give a duration above 0"
        ));
    }
    if span > MAX_SINCE {
        return Err(format!(
            "{trimmed:?} is longer than the 400d a report may cover"
        ));
    }
    Ok(span)
}

/// The window reaching back `span` from `now_ms`.
pub fn window(span: Duration, now_ms: i64) -> Window {
    let span_ms = i64::try_from(span.as_millis()).unwrap_or(i64::MAX);
    Window {
        from_ms: now_ms.saturating_sub(span_ms),
        to_ms: now_ms,
    }
}

/// Whether `at_ms` lies in `window` (both ends included).
pub fn contains(window: &Window, at_ms: i64) -> bool {
    (window.from_ms..=window.to_ms).contains(&at_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_values() {
        assert_eq!(parse_since("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_since(" 1h 30m ").unwrap(), Duration::from_secs(5400));
        let banana = parse_since("banana").unwrap_err();
        assert!(banana.contains("\"banana\" is not a duration"), "{banana}");
        assert!(parse_since("0s").unwrap_err().contains("above 0"));
        assert!(parse_since("500d").unwrap_err().contains("400d"));
        let w = window(Duration::from_secs(60), 100_000);
        assert_eq!((w.from_ms, w.to_ms), (40_000, 100_000));
        assert!(contains(&w, 40_000) && contains(&w, 100_000));
        assert!(!contains(&w, 39_999) && !contains(&w, 100_001));
    }
}
