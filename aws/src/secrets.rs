//! Secrets Manager, for two readers. The value is never logged.
//! - [`read_secret`]: the InfluxDB token, read at start-up, so it never sits in a
//!   Lambda's environment or its configuration history.
//! - [`SecretsManagerSource`]: the probe's `${secret:NAME}` references, a
//!   [`SecretSource`]. `NAME` is looked up under the deployment's prefix
//!   (`webmon/<tenant>/check/NAME`; the probe role may read nothing else). A secret is
//!   JSON `{"value": "...", "hosts": ["api.example.com", "*.example.org"]}`: the hosts
//!   it may be sent to are part of the secret, set by whoever may write secrets, not by
//!   the check author. A secret without `hosts` is refused. Values are cached for one
//!   invocation ([`SecretsManagerSource::clear`] at its start), so a check probed many
//!   times in one invocation costs one read.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_sdk_secretsmanager::Client;
use futures::future::BoxFuture;
use serde::Deserialize;
use tracing::Instrument;
use webmon_core::check::{SecretKind, SecretPolicy, SecretRef};
use webmon_core::ports::{ResolvedSecret, SecretError, SecretSource};
use webmon_core::probe::EnvSecrets;

use crate::config::AwsTarget;
use crate::AwsError;

/// Reads the secret `arn`. A JSON object secret gives its `field` (e.g. `token`); any
/// other secret string is the value itself.
pub async fn read_secret(target: &AwsTarget, arn: &str, field: &str) -> Result<String, AwsError> {
    let client = Client::new(&target.load().await);
    let answer = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .instrument(tracing::info_span!("aws.secretsmanager.GetSecretValue"))
        .await
        .map_err(|e| AwsError::call("secretsmanager", "GetSecretValue", e))?;
    let text = answer.secret_string().ok_or_else(|| AwsError::Setting {
        name: arn.to_string(),
        reason: "the secret has no string value".into(),
    })?;
    pick(text, field).ok_or_else(|| AwsError::Setting {
        name: arn.to_string(),
        reason: format!("the secret is a JSON object without a string field {field:?}"),
    })
}

/// The value of a secret string: a JSON object's `field`, or the whole string.
fn pick(text: &str, field: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => map.get(field)?.as_str().map(str::to_string),
        _ => Some(text.trim().to_string()),
    }
}

/// Environment variable naming the Secrets Manager prefix of check secrets. Not
/// `WEBMON_SECRET_*`: checks may read those names.
pub const CHECK_SECRETS_PREFIX_ENV: &str = "WEBMON_CHECK_SECRETS_PREFIX";

/// The JSON form of a check secret.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckSecret {
    value: String,
    hosts: Vec<String>,
}

/// Parses a check secret's string; the error says what is wrong without the value.
fn parse_check_secret(name: &str, text: &str) -> Result<ResolvedSecret, SecretError> {
    let secret: CheckSecret = serde_json::from_str(text).map_err(|_| {
        SecretError::Refused(format!(
            "secret {name} is not JSON {{\"value\": ..., \"hosts\": [...]}}"
        ))
    })?;
    if secret.hosts.is_empty() {
        return Err(SecretError::Refused(format!(
            "secret {name} lists no hosts it may be sent to"
        )));
    }
    Ok(ResolvedSecret::new(secret.value).for_hosts(secret.hosts))
}

/// `${secret:NAME}` from Secrets Manager under a prefix, and `${env:NAME}` from the
/// environment under the operator's policy.
#[derive(Debug)]
pub struct SecretsManagerSource {
    client: Client,
    prefix: String,
    env: EnvSecrets,
    cache: Mutex<HashMap<String, Result<ResolvedSecret, String>>>,
}

impl SecretsManagerSource {
    /// Reads secrets named `prefix` + NAME; `${env:...}` follows `policy`.
    pub fn new(client: Client, prefix: impl Into<String>, policy: SecretPolicy) -> Self {
        Self {
            client,
            prefix: prefix.into(),
            env: EnvSecrets::new(policy),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Forgets cached values: call at the start of each invocation, so a rotated secret
    /// is used from the next one.
    pub fn clear(&self) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    async fn fetch(&self, name: &str) -> Result<ResolvedSecret, SecretError> {
        let id = format!("{}{name}", self.prefix);
        let answer = self
            .client
            .get_secret_value()
            .secret_id(&id)
            .send()
            .instrument(tracing::info_span!("aws.secretsmanager.GetSecretValue"))
            .await;
        match answer {
            Ok(out) => match out.secret_string() {
                Some(text) => parse_check_secret(name, text),
                None => Err(SecretError::Refused(format!(
                    "secret {name} has no string value"
                ))),
            },
            Err(e) => {
                let service = e.as_service_error();
                let code = service
                    .and_then(|s| aws_sdk_secretsmanager::error::ProvideErrorMetadata::code(s));
                match (service, code) {
                    (Some(GetSecretValueError::ResourceNotFoundException(_)), _) => {
                        Err(SecretError::NotFound(format!("secret {name}")))
                    }
                    (_, Some("AccessDeniedException")) => Err(SecretError::Refused(format!(
                        "secret {name} may not be read by the probe (only {}*)",
                        self.prefix
                    ))),
                    _ => Err(SecretError::Unavailable(format!(
                        "failed to read secret {name}: {}",
                        crate::AwsError::call("secretsmanager", "GetSecretValue", e)
                    ))),
                }
            }
        }
    }
}

impl SecretSource for SecretsManagerSource {
    fn get<'a>(
        &'a self,
        reference: &'a SecretRef,
    ) -> BoxFuture<'a, Result<ResolvedSecret, SecretError>> {
        Box::pin(async move {
            if reference.kind == SecretKind::Env {
                return self.env.get(reference).await;
            }
            let cached = self
                .cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&reference.name)
                .cloned();
            if let Some(cached) = cached {
                return cached.map_err(SecretError::Refused);
            }
            let fetched = self.fetch(&reference.name).await;
            // Unavailable is not cached: the next execution tries again.
            let keep = match &fetched {
                Ok(v) => Some(Ok(v.clone())),
                Err(SecretError::NotFound(m) | SecretError::Refused(m)) => Some(Err(m.clone())),
                Err(SecretError::Unavailable(_)) => None,
            };
            if let Some(keep) = keep {
                self.cache
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(reference.name.clone(), keep);
            }
            fetched
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_check_secret, pick};
    use webmon_core::ports::SecretError;

    #[test]
    fn check_secrets_carry_their_hosts() {
        let s =
            parse_check_secret("api", r#"{"value":"t0k","hosts":["api.example.com"]}"#).unwrap();
        assert_eq!(s.value, "t0k");
        assert!(s.may_send_to("api.example.com"));
        assert!(!s.may_send_to("evil.example.net"));
        let err = parse_check_secret("api", r#"{"value":"t0k","hosts":[]}"#).unwrap_err();
        assert!(matches!(&err, SecretError::Refused(m) if m.contains("lists no hosts")));
        let err = parse_check_secret("api", "plain-t0k").unwrap_err();
        assert!(
            matches!(&err, SecretError::Refused(m) if !m.contains("plain-t0k")),
            "{err:?}"
        );
    }

    #[test]
    fn plain_and_json_secrets() {
        assert_eq!(pick(" abc \n", "token").as_deref(), Some("abc"));
        assert_eq!(
            pick(r#"{"token":"abc","org":"x"}"#, "token").as_deref(),
            Some("abc")
        );
        assert_eq!(pick(r#"{"password":"abc"}"#, "token"), None);
    }
}
