//! Validation of `channels:` entries and of secret references.
//!
//! A secret is written `${env:NAME}` (an environment variable of the process that sends)
//! or `${secret:NAME}` (a name the deployment's secret store resolves, e.g. AWS Secrets
//! Manager). References stay unresolved in configuration; the notifier resolves them at
//! send time. Only the syntax is checked here, never the value.

use base64::Engine as _;

use super::config::ChannelConfig;
use crate::check::ValidationError;

const FILE: &str = "<file>";

/// Splits a value into literal text and references; errors on malformed ones.
pub fn secret_refs(value: &str) -> Result<Vec<(String, String)>, String> {
    let mut refs = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "has an unterminated ${...} reference".to_string())?;
        let (kind, name) = after[..end]
            .split_once(':')
            .ok_or_else(|| "references must be ${env:NAME} or ${secret:NAME}".to_string())?;
        if !matches!(kind, "env" | "secret") {
            return Err(format!(
                "unknown reference kind `{kind}`; use env or secret"
            ));
        }
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':'))
        {
            return Err(format!("`{name}` is not a valid secret name"));
        }
        refs.push((kind.to_string(), name.to_string()));
        rest = &after[end + 1..];
    }
    Ok(refs)
}

/// Every well-formed reference in a channel's settings: `(field, kind, name)`, fields
/// in their serialised order (malformed references are reported by validation).
pub fn channel_secret_refs(channel: &ChannelConfig) -> Vec<(String, String, String)> {
    let value = serde_json::to_value(channel).unwrap_or_default();
    let mut out = Vec::new();
    for (field, v) in value.as_object().into_iter().flatten() {
        let texts: Vec<&str> = match v {
            serde_json::Value::String(s) => vec![s.as_str()],
            serde_json::Value::Array(items) => items.iter().filter_map(|i| i.as_str()).collect(),
            _ => Vec::new(),
        };
        for text in texts {
            for (kind, name) in secret_refs(text).unwrap_or_default() {
                out.push((field.clone(), kind, name));
            }
        }
    }
    out
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Validates one channel, naming `channels[i].field` in every error.
pub fn validate_channel(channel: &ChannelConfig, at: &str, errors: &mut Vec<ValidationError>) {
    let mut err = |field: &str, value: &str, reason: String| {
        errors.push(ValidationError::new(
            FILE,
            &format!("{at}.{field}"),
            value,
            reason,
        ));
    };
    if !valid_id(channel.id()) {
        err(
            "id",
            channel.id(),
            "must be 1-64 characters of letters, digits, '-', '_' or '.'".into(),
        );
    }
    let secret = |field: &str, value: &str, err: &mut dyn FnMut(&str, &str, String)| {
        if value.trim().is_empty() {
            err(field, value, "must not be empty".into());
        } else if let Err(reason) = secret_refs(value) {
            err(field, "<hidden>", reason);
        }
    };
    let url = |field: &str, value: &str, err: &mut dyn FnMut(&str, &str, String)| match secret_refs(
        value,
    ) {
        Err(reason) => err(field, "<hidden>", reason),
        Ok(refs) if !refs.is_empty() => {}
        Ok(_) => match url::Url::parse(value) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
            _ => err(field, value, "must be an http:// or https:// URL".into()),
        },
    };
    let address = |field: &str, value: &str, err: &mut dyn FnMut(&str, &str, String)| {
        let ok = value.rsplit_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !value.contains(char::is_whitespace)
        });
        if !ok {
            err(field, value, "must be an email address".into());
        }
    };
    match channel {
        ChannelConfig::Slack { url: u, .. }
        | ChannelConfig::Discord { url: u, .. }
        | ChannelConfig::Teams { url: u, .. } => url("url", u, &mut err),
        ChannelConfig::Webhook {
            url: u, secret: s, ..
        } => {
            url("url", u, &mut err);
            secret("secret", s, &mut err);
            if !s.contains("${") {
                let key = s
                    .strip_prefix("whsec_")
                    .map(|b| base64::engine::general_purpose::STANDARD.decode(b));
                if !matches!(key, Some(Ok(k)) if k.len() >= 16) {
                    err(
                        "secret",
                        "<hidden>",
                        "must be whsec_ followed by at least 16 base64-encoded bytes".into(),
                    );
                }
            }
        }
        ChannelConfig::Pagerduty {
            routing_key,
            url: u,
            ..
        } => {
            secret("routing_key", routing_key, &mut err);
            if let Some(u) = u {
                url("url", u, &mut err);
            }
        }
        ChannelConfig::Telegram {
            bot_token,
            chat_id,
            url: u,
            ..
        } => {
            secret("bot_token", bot_token, &mut err);
            if chat_id.trim().is_empty() {
                err("chat_id", chat_id, "must not be empty".into());
            }
            if let Some(u) = u {
                url("url", u, &mut err);
            }
        }
        ChannelConfig::Email {
            host,
            security,
            username,
            password,
            from,
            to,
            ..
        } => {
            if host.trim().is_empty() || host.contains(char::is_whitespace) {
                err("host", host, "must be a host name".into());
            }
            if let Some(s) = security {
                if !matches!(s.as_str(), "starttls" | "tls" | "none") {
                    err("security", s, "must be starttls, tls or none".into());
                }
            }
            if let Some(p) = password {
                secret("password", p, &mut err);
                if username.is_none() {
                    err("username", "", "is required with a password".into());
                }
            }
            address("from", from, &mut err);
            if to.is_empty() {
                err("to", "", "must list at least one recipient".into());
            }
            for (i, a) in to.iter().enumerate() {
                address(&format!("to[{i}]"), a, &mut err);
            }
        }
        ChannelConfig::Sns { topic_arn, .. } => {
            if !topic_arn.starts_with("arn:") || topic_arn.split(':').count() != 6 {
                err("topic_arn", topic_arn, "must be an SNS topic ARN".into());
            }
        }
        ChannelConfig::Ses { from, to, .. } => {
            address("from", from, &mut err);
            if to.is_empty() {
                err("to", "", "must list at least one recipient".into());
            }
            for (i, a) in to.iter().enumerate() {
                address(&format!("to[{i}]"), a, &mut err);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        assert_eq!(
            secret_refs("Bearer ${env:TOKEN} and ${secret:prod/pd}").unwrap(),
            vec![
                ("env".to_string(), "TOKEN".to_string()),
                ("secret".to_string(), "prod/pd".to_string())
            ]
        );
        assert!(secret_refs("${vault:x}").is_err());
        assert!(secret_refs("${env:X").is_err());
        assert!(secret_refs("plain").unwrap().is_empty());
    }
}
