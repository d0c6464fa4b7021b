//! Shared SDK configuration.
//!
//! Every client accepts an endpoint override: `WEBMON_AWS_ENDPOINT_URL` (an emulator
//! such as moto's server). With an override, static dummy credentials are used unless
//! real ones are set, so tests never reach for instance metadata.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

use crate::AwsError;

/// Environment variable holding the endpoint override.
pub const ENDPOINT_ENV: &str = "WEBMON_AWS_ENDPOINT_URL";

/// Where the SDK should send requests.
#[derive(Debug, Clone, Default)]
pub struct AwsTarget {
    /// Region; `None` takes the SDK's default chain (`AWS_REGION`...).
    pub region: Option<String>,
    /// Endpoint override (an emulator); `None` for real AWS.
    pub endpoint_url: Option<String>,
}

impl AwsTarget {
    /// Reads the endpoint override from the environment, for `region` (or the default).
    pub fn from_env(region: Option<&str>) -> Self {
        let endpoint_url = std::env::var(ENDPOINT_ENV).ok().filter(|v| !v.is_empty());
        Self {
            region: region.map(str::to_string),
            endpoint_url,
        }
    }

    /// An emulator endpoint in one region.
    pub fn emulator(endpoint_url: &str, region: &str) -> Self {
        Self {
            region: Some(region.to_string()),
            endpoint_url: Some(endpoint_url.to_string()),
        }
    }

    /// Whether an endpoint override is set (Timestream endpoint discovery is then off).
    pub fn is_overridden(&self) -> bool {
        self.endpoint_url.is_some()
    }

    /// Loads the SDK configuration.
    pub async fn load(&self) -> SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader = loader.credentials_provider(Credentials::new(
                    "testing",
                    "testing",
                    None,
                    None,
                    "webmon-emulator",
                ));
            }
        }
        loader.load().await
    }
}

/// Reads a required environment variable.
pub fn env(name: &str) -> Result<String, AwsError> {
    std::env::var(name).map_err(|_| AwsError::Setting {
        name: name.to_string(),
        reason: "is not set".into(),
    })
}

/// Reads an environment variable with a default.
pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// The region this process runs in (`AWS_REGION`, as Lambda sets it).
pub fn current_region() -> Result<String, AwsError> {
    env("AWS_REGION")
}
