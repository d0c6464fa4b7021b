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

/// Parses a `--from`/`--until` time: RFC 3339 (`2026-01-31T12:00:00Z`, an offset such
/// as `+02:00`, or fractions of a second), as milliseconds since the Unix epoch. The
/// error names the value and the reason.
pub fn parse_time(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    let at = humantime::parse_rfc3339_weak(trimmed)
        .ok()
        .or_else(|| rfc3339_with_offset(trimmed))
        .ok_or_else(|| format!("{trimmed:?} is not an RFC 3339 time like 2026-01-31T12:00:00Z"))?;
    let ms = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| format!("{trimmed:?} is before 1970"))?
        .as_millis();
    i64::try_from(ms).map_err(|_| format!("{trimmed:?} is too far in the future"))
}

/// An RFC 3339 time with a numeric offset (`+02:00`, `-05:30`): the UTC instant.
fn rfc3339_with_offset(text: &str) -> Option<std::time::SystemTime> {
    let split = text.len().checked_sub(6)?;
    let (local, offset) = (text.get(..split)?, text.get(split..)?);
    let sign = match offset.as_bytes()[0] {
        b'+' => 1i64,
        b'-' => -1i64,
        _ => return None,
    };
    let (hours, minutes) = offset[1..].split_once(':')?;
    let (hours, minutes): (u64, u64) = (hours.parse().ok()?, minutes.parse().ok()?);
    if hours > 23 || minutes > 59 || offset.len() != 6 {
        return None;
    }
    let base = humantime::parse_rfc3339_weak(local).ok()?;
    let shift = Duration::from_secs(hours * 3600 + minutes * 60);
    // Local time = UTC + offset, so UTC = local - offset.
    if sign > 0 {
        base.checked_sub(shift)
    } else {
        base.checked_add(shift)
    }
}

/// The window from `from_ms` to `until_ms` (both included), refused unless `from`
/// comes before `until` and the span stays within [`MAX_SINCE`].
pub fn between(from_ms: i64, until_ms: i64) -> Result<Window, String> {
    if from_ms >= until_ms {
        return Err(format!(
            "--from ({}) must come before --until ({})",
            format_ms(from_ms),
            format_ms(until_ms)
        ));
    }
    let span = Duration::from_millis(u64::try_from(until_ms - from_ms).unwrap_or(u64::MAX));
    if span > MAX_SINCE {
        return Err(format!(
            "--from {} to --until {} is longer than the 400d a report may cover",
            format_ms(from_ms),
            format_ms(until_ms)
        ));
    }
    Ok(Window {
        from_ms,
        to_ms: until_ms,
    })
}

/// Milliseconds since the epoch as an RFC 3339 UTC time (for messages and headings).
pub fn format_ms(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
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

    #[test]
    fn from_and_until_values() {
        assert_eq!(parse_time("1970-01-01T00:01:40Z").unwrap(), 100_000);
        assert_eq!(parse_time("1970-01-01T00:01:40.5Z").unwrap(), 100_500);
        assert_eq!(parse_time("1970-01-01T02:01:40+02:00").unwrap(), 100_000);
        assert_eq!(parse_time("1970-01-02T00:01:40-01:00").unwrap(), 90_100_000);
        let bad = parse_time("yesterday").unwrap_err();
        assert!(
            bad.contains("\"yesterday\" is not an RFC 3339 time"),
            "{bad}"
        );
        let w = between(40_000, 100_000).unwrap();
        assert_eq!((w.from_ms, w.to_ms), (40_000, 100_000));
        let backwards = between(100_000, 40_000).unwrap_err();
        assert_eq!(
            backwards,
            "--from (1970-01-01T00:01:40Z) must come before --until (1970-01-01T00:00:40Z)"
        );
        assert!(between(1, 1).is_err());
        assert!(between(0, 500 * 24 * 3_600_000)
            .unwrap_err()
            .contains("400d"));
    }
}
