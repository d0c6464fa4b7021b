//! Secret references in header values and the operator's policy on them.
//!
//! A header value may hold references that the probe engine replaces when it sends the
//! request, so secrets stay out of check definitions:
//!
//! - `${env:NAME}`: the environment variable `NAME` of the probe process. Only names that
//!   start with [`SECRET_ENV_PREFIX`] (`WEBMON_SECRET_`), or that the operator lists in a
//!   [`SecretPolicy`], may be used. Platform variables (`AWS_*`, `_X_AMZN*`, `OTEL_*`,
//!   `LAMBDA_*`) are refused even when listed: they hold the probe's own credentials.
//! - `${secret:NAME}`: a secret of the deployment's secret store (Secrets Manager on
//!   AWS), read through the engine's [`crate::ports::SecretSource`].
//!
//! Checks are refused at validation when a reference breaks the policy, so every entry
//! point that validates (the checks file, `webmon checks`, the config Lambda, resync, the
//! probe) refuses them in the same words.

use std::collections::BTreeSet;
use std::fmt;

/// Environment variables with this prefix may always be referenced by checks.
pub const SECRET_ENV_PREFIX: &str = "WEBMON_SECRET_";

/// Environment variable prefixes that checks may never read, even when an operator lists
/// them: the platform's credentials and runtime settings live there.
pub const DENIED_ENV_PREFIXES: [&str; 4] = ["AWS_", "_X_AMZN", "OTEL_", "LAMBDA_"];

/// Longest secret name accepted (Secrets Manager ARNs included).
pub const MAX_SECRET_NAME_BYTES: usize = 512;

/// Where a reference reads its value from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretKind {
    /// `${env:NAME}`: an environment variable of the probe process.
    Env,
    /// `${secret:NAME}`: a secret of the deployment's secret store.
    Secret,
}

impl SecretKind {
    /// The word used in the reference syntax: `env` or `secret`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Env => "env",
            Self::Secret => "secret",
        }
    }
}

/// One reference found in a header value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretRef {
    /// Environment variable or secret store.
    pub kind: SecretKind,
    /// The variable's or secret's name.
    pub name: String,
}

impl SecretRef {
    /// An environment variable reference.
    pub fn env(name: impl Into<String>) -> Self {
        Self {
            kind: SecretKind::Env,
            name: name.into(),
        }
    }

    /// A secret store reference.
    pub fn secret(name: impl Into<String>) -> Self {
        Self {
            kind: SecretKind::Secret,
            name: name.into(),
        }
    }
}

impl fmt::Display for SecretRef {
    /// Writes the reference as it is written in a check: `${env:NAME}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${{{}:{}}}", self.kind.as_str(), self.name)
    }
}

/// A piece of a header value: literal text or a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<'a> {
    /// Text sent as written.
    Text(&'a str),
    /// Replaced by the referenced value when the request is sent.
    Ref(SecretRef),
}

/// Splits a header value into literal text and references. Only `${env:` and `${secret:`
/// start a reference; any other `${` is literal text.
pub fn parse_template(value: &str) -> Result<Vec<Segment<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = value;
    loop {
        let next = [SecretKind::Env, SecretKind::Secret]
            .into_iter()
            .filter_map(|kind| {
                let opener = format!("${{{}:", kind.as_str());
                rest.find(&opener).map(|at| (at, kind, opener.len()))
            })
            .min_by_key(|(at, ..)| *at);
        let Some((at, kind, opener_len)) = next else {
            break;
        };
        if at > 0 {
            out.push(Segment::Text(&rest[..at]));
        }
        let after = &rest[at + opener_len..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated ${{{}:...}} reference", kind.as_str()))?;
        let name = &after[..end];
        check_name(kind, name)?;
        out.push(Segment::Ref(SecretRef {
            kind,
            name: name.to_string(),
        }));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        out.push(Segment::Text(rest));
    }
    Ok(out)
}

/// The references of a header value, in order (an error for a malformed one).
pub fn references(value: &str) -> Result<Vec<SecretRef>, String> {
    Ok(parse_template(value)?
        .into_iter()
        .filter_map(|s| match s {
            Segment::Ref(r) => Some(r),
            Segment::Text(_) => None,
        })
        .collect())
}

fn check_name(kind: SecretKind, name: &str) -> Result<(), String> {
    let ok = match kind {
        SecretKind::Env => {
            name.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        SecretKind::Secret => {
            !name.is_empty()
                && name.len() <= MAX_SECRET_NAME_BYTES
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-:".contains(c))
        }
    };
    if ok {
        Ok(())
    } else {
        let rule = match kind {
            SecretKind::Env => "letters, digits and '_', not starting with a digit",
            SecretKind::Secret => "1-512 characters of letters, digits and /_+=.@-:",
        };
        Err(format!("${{{}:...}} needs a name of {rule}", kind.as_str()))
    }
}

/// Which references the operator lets checks use. Passed in by the operator (a CLI flag,
/// a Lambda setting); never read from a global.
///
/// The default allows `${env:WEBMON_SECRET_*}` and every well-formed `${secret:...}` (the
/// secret store's own access policy decides what the probe can read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretPolicy {
    allowed_env: BTreeSet<String>,
}

impl SecretPolicy {
    /// The default policy: only the reserved prefix.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also allows the environment variables `names` (platform variables stay refused).
    pub fn allow_env<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_env.extend(names.into_iter().map(Into::into));
        self
    }

    /// The extra environment variables the operator listed.
    pub fn allowed_env(&self) -> impl Iterator<Item = &str> {
        self.allowed_env.iter().map(String::as_str)
    }

    /// Whether a check may use `reference`; the error says why not.
    pub fn permits(&self, reference: &SecretRef) -> Result<(), String> {
        match reference.kind {
            SecretKind::Secret => Ok(()),
            SecretKind::Env => {
                let upper = reference.name.to_ascii_uppercase();
                if DENIED_ENV_PREFIXES.iter().any(|p| upper.starts_with(p)) {
                    Err(format!(
                        "names a platform variable ({}*); checks may never read those",
                        DENIED_ENV_PREFIXES.join("*, ")
                    ))
                } else if reference.name.starts_with(SECRET_ENV_PREFIX)
                    || self.allowed_env.contains(&reference.name)
                {
                    Ok(())
                } else {
                    Err(format!(
                        "may only name environment variables starting with {SECRET_ENV_PREFIX} \
                         or listed by the operator"
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_text_and_references() {
        let parts = parse_template("Bearer ${env:WEBMON_SECRET_A}-${secret:api/key}${x}").unwrap();
        assert_eq!(
            parts,
            [
                Segment::Text("Bearer "),
                Segment::Ref(SecretRef::env("WEBMON_SECRET_A")),
                Segment::Text("-"),
                Segment::Ref(SecretRef::secret("api/key")),
                Segment::Text("${x}"),
            ]
        );
        assert!(parse_template("${env:OPEN").is_err());
        assert!(parse_template("${env:}").is_err());
        assert!(parse_template("${env:1A}").is_err());
        assert!(parse_template("${secret:}").is_err());
        assert_eq!(SecretRef::secret("a").to_string(), "${secret:a}");
    }

    #[test]
    fn policy_allows_the_prefix_and_the_list_but_never_platform_variables() {
        let policy = SecretPolicy::new().allow_env(["API_TOKEN", "AWS_SECRET_ACCESS_KEY"]);
        assert!(policy.permits(&SecretRef::env("WEBMON_SECRET_X")).is_ok());
        assert!(policy.permits(&SecretRef::env("API_TOKEN")).is_ok());
        assert!(policy.permits(&SecretRef::env("HOME")).is_err());
        for name in [
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "_X_AMZN_TRACE_ID",
            "OTEL_EXPORTER_OTLP_HEADERS",
            "LAMBDA_TASK_ROOT",
            "aws_secret_access_key",
        ] {
            assert!(policy.permits(&SecretRef::env(name)).is_err(), "{name}");
        }
        assert!(SecretPolicy::new()
            .permits(&SecretRef::secret("prod/api"))
            .is_ok());
    }
}
