//! Secrets Manager: reads a secret (the InfluxDB token) at start-up, so it never sits in
//! a Lambda's environment or its configuration history. The value is never logged.

use aws_sdk_secretsmanager::Client;
use tracing::Instrument;

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

#[cfg(test)]
mod tests {
    use super::pick;

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
