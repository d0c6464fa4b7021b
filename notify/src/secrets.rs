//! Secret references in channel settings, resolved at send time: `${env:NAME}` reads an
//! environment variable, `${secret:NAME}` asks the deployment's secret store through a
//! [`SecretResolver`] the caller provides. Resolved values are never logged or put into
//! errors.

use std::collections::BTreeMap;

use webmon_core::alert::channels::secret_refs;

/// Resolves one reference.
pub trait SecretResolver: Send + Sync {
    /// The value of `${kind:name}` (`kind` is `env` or `secret`); the error names the
    /// reference, never a value.
    fn resolve(&self, kind: &str, name: &str) -> Result<String, String>;
}

/// Environment variables for `env`; `secret` references fail (no store configured).
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvResolver;

impl SecretResolver for EnvResolver {
    fn resolve(&self, kind: &str, name: &str) -> Result<String, String> {
        match kind {
            "env" => {
                std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))
            }
            _ => Err(format!(
                "no secret store is configured for ${{{kind}:{name}}}"
            )),
        }
    }
}

/// Fixed values keyed `kind:name` (tests, or a runner that loads its secrets up front);
/// anything not found falls back to the environment for `env`.
#[derive(Debug, Clone, Default)]
pub struct MapResolver(pub BTreeMap<String, String>);

impl SecretResolver for MapResolver {
    fn resolve(&self, kind: &str, name: &str) -> Result<String, String> {
        match self.0.get(&format!("{kind}:{name}")) {
            Some(v) => Ok(v.clone()),
            None => EnvResolver.resolve(kind, name),
        }
    }
}

/// Replaces every reference in `value`.
pub fn expand(value: &str, resolver: &dyn SecretResolver) -> Result<String, String> {
    secret_refs(value)?;
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').expect("checked by secret_refs");
        let (kind, name) = after[..end]
            .split_once(':')
            .expect("checked by secret_refs");
        out.push_str(&resolver.resolve(kind, name)?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_both_kinds() {
        let r = MapResolver(BTreeMap::from([(
            "secret:pd".to_string(),
            "k3y".to_string(),
        )]));
        std::env::set_var("WEBMON_NOTIFY_TEST_HOST", "hooks.example");
        assert_eq!(
            expand(
                "https://${env:WEBMON_NOTIFY_TEST_HOST}/x?k=${secret:pd}",
                &r
            )
            .unwrap(),
            "https://hooks.example/x?k=k3y"
        );
        let e = expand("${secret:missing}", &EnvResolver).unwrap_err();
        assert!(e.contains("missing"), "{e}");
    }
}
