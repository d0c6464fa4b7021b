//! Resolving a check's header templates through the engine's [`SecretSource`].

use std::collections::BTreeMap;

use futures::future::BoxFuture;

use crate::check::secret::{parse_template, Segment};
use crate::check::{SecretKind, SecretPolicy, SecretRef};
use crate::ports::{ResolvedSecret, SecretError, SecretSource};

/// The [`SecretSource`] of the process environment: `${env:NAME}` reads the variable
/// `NAME` when the operator's [`SecretPolicy`] permits it (checked again here, so a check
/// validated under a looser policy still cannot read what this engine refuses).
/// `${secret:...}` needs a secret store and fails. The operator may bind variables to the
/// hosts they may be sent to with [`EnvSecrets::with_hosts`].
#[derive(Debug, Clone, Default)]
pub struct EnvSecrets {
    policy: SecretPolicy,
    hosts: BTreeMap<String, Vec<String>>,
}

impl EnvSecrets {
    /// Reads variables under `policy`.
    pub fn new(policy: SecretPolicy) -> Self {
        Self {
            policy,
            hosts: BTreeMap::new(),
        }
    }

    /// Lets the variable `name` be sent only to `hosts` (see
    /// [`ResolvedSecret::may_send_to`]).
    pub fn with_hosts<I, S>(mut self, name: impl Into<String>, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.hosts
            .insert(name.into(), hosts.into_iter().map(Into::into).collect());
        self
    }
}

impl SecretSource for EnvSecrets {
    fn get<'a>(
        &'a self,
        reference: &'a SecretRef,
    ) -> BoxFuture<'a, Result<ResolvedSecret, SecretError>> {
        Box::pin(async move {
            if reference.kind != SecretKind::Env {
                return Err(SecretError::Unavailable(format!(
                    "{reference} needs a secret store, and none is configured"
                )));
            }
            self.policy
                .permits(reference)
                .map_err(|reason| SecretError::Refused(format!("{reference} {reason}")))?;
            let value = std::env::var(&reference.name).map_err(|_| {
                SecretError::NotFound(format!("environment variable {}", reference.name))
            })?;
            let hosts = self.hosts.get(&reference.name).cloned().unwrap_or_default();
            Ok(ResolvedSecret::new(value).for_hosts(hosts))
        })
    }
}

/// A request header ready to send: its value, whether it carries credentials, and the
/// hosts its secrets may go to.
#[derive(Debug, Clone)]
pub(crate) struct OutHeader {
    pub name: http::HeaderName,
    pub value: http::HeaderValue,
    /// `Authorization`, `Cookie`, `Proxy-Authorization`, or a value built from a secret:
    /// dropped on a redirect to another origin.
    pub sensitive: bool,
    /// The secrets in the value that are bound to hosts.
    pub bound: Vec<(SecretRef, ResolvedSecret)>,
}

impl OutHeader {
    /// The first host-bound secret that may not go to `host`.
    pub fn refused_for(&self, host: &str) -> Option<&SecretRef> {
        self.bound
            .iter()
            .find(|(_, s)| !s.may_send_to(host))
            .map(|(r, _)| r)
    }
}

/// Header names that always carry credentials.
pub(crate) fn is_credential_header(name: &http::HeaderName) -> bool {
    name == http::header::AUTHORIZATION
        || name == http::header::COOKIE
        || name == http::header::PROXY_AUTHORIZATION
}

/// Builds a header from its template, reading every reference from `source`.
pub(crate) async fn resolve_header(
    source: &dyn SecretSource,
    name: &http::HeaderName,
    template: &str,
) -> Result<OutHeader, (bool, String)> {
    let segments = parse_template(template).map_err(|e| (false, e))?;
    let mut value = String::with_capacity(template.len());
    let mut bound = Vec::new();
    let mut from_secret = false;
    for segment in segments {
        match segment {
            Segment::Text(text) => value.push_str(text),
            Segment::Ref(reference) => {
                let secret = source.get(&reference).await.map_err(|e| {
                    let refused = matches!(e, SecretError::Refused(_));
                    (refused, e.to_string())
                })?;
                value.push_str(&secret.value);
                from_secret = true;
                if !secret.allowed_hosts.is_empty() {
                    bound.push((reference, secret));
                }
            }
        }
    }
    let value = http::HeaderValue::from_str(&value)
        .map_err(|_| (false, "the value is not a valid header value".to_string()))?;
    let mut value = value;
    value.set_sensitive(from_secret || is_credential_header(name));
    Ok(OutHeader {
        name: name.clone(),
        sensitive: from_secret || is_credential_header(name),
        value,
        bound,
    })
}
