//! Channel secrets under the operator's policy, the same as check headers: `${env:NAME}`
//! reads `WEBMON_SECRET_*` and the names listed with `--secret-env` (platform variables
//! never); `${secret:NAME}` needs a secret store, which the one-machine mode has not.

use webmon_core::check::{SecretPolicy, SecretRef};
use webmon_notify::SecretResolver;

/// Resolves channel secret references under a [`SecretPolicy`].
#[derive(Debug, Clone, Default)]
pub struct PolicyResolver {
    policy: SecretPolicy,
}

impl PolicyResolver {
    /// Resolves under `policy`.
    pub fn new(policy: SecretPolicy) -> Self {
        Self { policy }
    }

    /// Whether `${kind:name}` may be resolved; the error says why not (no value).
    pub fn permits(&self, kind: &str, name: &str) -> Result<(), String> {
        match kind {
            "env" => self
                .policy
                .permits(&SecretRef::env(name))
                .map_err(|reason| format!("${{env:{name}}} {reason}")),
            _ => Err(format!(
                "${{{kind}:{name}}} needs a secret store, and `webmon run` has none; \
                 use ${{env:WEBMON_SECRET_...}}"
            )),
        }
    }
}

impl SecretResolver for PolicyResolver {
    fn resolve(&self, kind: &str, name: &str) -> Result<String, String> {
        self.permits(kind, name)?;
        std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_operator_policy() {
        let r = PolicyResolver::new(SecretPolicy::new().allow_env(["HOOK_KEY"]));
        assert!(r.permits("env", "WEBMON_SECRET_HOOK").is_ok());
        assert!(r.permits("env", "HOOK_KEY").is_ok());
        assert!(r.permits("env", "HOME").is_err());
        assert!(r.permits("env", "AWS_SECRET_ACCESS_KEY").is_err());
        assert!(r.permits("secret", "x").is_err());
        let e = r
            .resolve("env", "WEBMON_SECRET_SURELY_UNSET_1")
            .unwrap_err();
        assert!(e.contains("not set"), "{e}");
    }
}
