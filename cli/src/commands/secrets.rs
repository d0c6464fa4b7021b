//! `--secret-env NAME`: the operator's list of environment variables that checks may
//! read as `${env:NAME}`, shared by the commands that validate or probe a checks file.

use webmon_core::check::SecretPolicy;

/// The operator's secret policy flags.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SecretArgs {
    /// An environment variable checks may read as `${env:NAME}`, besides the reserved
    /// `WEBMON_SECRET_*` names (repeatable). `AWS_*`, `_X_AMZN*`, `OTEL_*` and
    /// `LAMBDA_*` are refused even when listed.
    #[arg(long = "secret-env", value_name = "NAME")]
    pub secret_env: Vec<String>,
}

impl SecretArgs {
    /// The policy these flags describe.
    pub fn policy(&self) -> SecretPolicy {
        SecretPolicy::new().allow_env(self.secret_env.iter().cloned())
    }
}
