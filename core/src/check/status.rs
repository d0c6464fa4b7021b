//! Accepted status codes: a list of codes and ranges such as `[200-299, 304]`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An inclusive range of HTTP status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRange {
    /// Lowest accepted code.
    pub low: u16,
    /// Highest accepted code.
    pub high: u16,
}

/// The set of accepted status codes of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusSet(pub Vec<StatusRange>);

impl Default for StatusSet {
    /// 200-399, as most monitors do.
    fn default() -> Self {
        Self(vec![StatusRange {
            low: 200,
            high: 399,
        }])
    }
}

impl StatusSet {
    /// Parses entries such as `200`, `"204"`, `"200-299"`.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        if entries.is_empty() {
            return Err("must list at least one status code or range".into());
        }
        let mut ranges = Vec::with_capacity(entries.len());
        for entry in entries {
            let entry = entry.trim();
            let (low, high) = match entry.split_once('-') {
                Some((a, b)) => (parse_code(a)?, parse_code(b)?),
                None => {
                    let code = parse_code(entry)?;
                    (code, code)
                }
            };
            if low > high {
                return Err(format!("range {entry} runs backwards"));
            }
            ranges.push(StatusRange { low, high });
        }
        Ok(Self(ranges))
    }

    /// Whether `code` is accepted.
    pub fn accepts(&self, code: u16) -> bool {
        self.0.iter().any(|r| (r.low..=r.high).contains(&code))
    }
}

fn parse_code(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(code) if (100..=599).contains(&code) => Ok(code),
        _ => Err(format!("{text:?} is not a status code between 100 and 599")),
    }
}

impl fmt::Display for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|r| {
                if r.low == r.high {
                    r.low.to_string()
                } else {
                    format!("{}-{}", r.low, r.high)
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_lists_and_ranges() {
        let set = StatusSet::parse(&["200-299".into(), "304".into()]).unwrap();
        assert!(set.accepts(200) && set.accepts(299) && set.accepts(304));
        assert!(!set.accepts(300) && !set.accepts(500));
        assert_eq!(set.to_string(), "200-299,304");
    }

    #[test]
    fn rejects_bad_entries() {
        for bad in ["99", "600", "abc", "300-200", "2xx"] {
            assert!(StatusSet::parse(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(StatusSet::parse(&[]).is_err());
    }
}
