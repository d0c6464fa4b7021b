//! Check intervals: 10 s, 15 s, 20 s, 30 s, or whole minutes up to one day.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Sub-minute intervals that are allowed, in seconds.
pub const SUB_MINUTE_SECONDS: [u64; 4] = [10, 15, 20, 30];
/// The longest interval: one day.
pub const MAX_SECONDS: u64 = 24 * 60 * 60;

/// A validated check interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Interval(u64);

impl Interval {
    /// Parses `30s`, `5m`, `1h`, `1d` (or plain seconds such as `90`) and checks the
    /// value is one of the allowed intervals.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let seconds = if let Ok(plain) = text.parse::<u64>() {
            plain
        } else {
            humantime::parse_duration(text)
                .map_err(|e| format!("not a duration like 30s, 5m or 1h ({e})"))?
                .as_secs()
        };
        Self::from_seconds(seconds)
    }

    /// Checks that `seconds` is an allowed interval.
    pub fn from_seconds(seconds: u64) -> Result<Self, String> {
        if SUB_MINUTE_SECONDS.contains(&seconds)
            || (seconds >= 60 && seconds.is_multiple_of(60) && seconds <= MAX_SECONDS)
        {
            Ok(Self(seconds))
        } else {
            Err("must be 10s, 15s, 20s, 30s or whole minutes from 1m up to 1d".into())
        }
    }

    /// Length in seconds.
    pub fn seconds(self) -> u64 {
        self.0
    }

    /// Length as a [`Duration`].
    pub fn duration(self) -> Duration {
        Duration::from_secs(self.0)
    }

    /// Whether the interval is shorter than one minute (several rounds per trigger).
    pub fn is_sub_minute(self) -> bool {
        self.0 < 60
    }
}

impl fmt::Display for Interval {
    /// Writes the shortest form: `30s`, `5m`, `2h`, `1d`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s < 60 {
            write!(f, "{s}s")
        } else if s.is_multiple_of(86_400) {
            write!(f, "{}d", s / 86_400)
        } else if s.is_multiple_of(3600) {
            write!(f, "{}h", s / 3600)
        } else {
            write!(f, "{}m", s / 60)
        }
    }
}

impl Serialize for Interval {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_allowed_forms() {
        for (text, secs) in [
            ("10s", 10),
            ("30s", 30),
            ("1m", 60),
            ("5m", 300),
            ("1h", 3600),
            ("1d", 86_400),
            ("120", 120),
        ] {
            assert_eq!(Interval::parse(text).unwrap().seconds(), secs, "{text}");
        }
    }

    #[test]
    fn rejects_other_values() {
        for text in ["5s", "45s", "90s", "2d", "0", "soon", ""] {
            assert!(Interval::parse(text).is_err(), "{text} should be rejected");
        }
    }

    #[test]
    fn displays_shortest_form() {
        for text in ["10s", "5m", "2h", "1d", "90m"] {
            assert_eq!(Interval::parse(text).unwrap().to_string(), text);
        }
    }
}
