//! membership-svc configuration: the kit's server and service settings, where to listen, and
//! the phone-hash key.

use memberhub_kit::config::{ConfigError, ProcessConfig, Required, ServerArgs, ServiceArgs};

/// Where to listen, e.g. `127.0.0.1:50051`.
pub const LISTEN_VAR: &str = "MEMBERHUB_MEMBERSHIP_LISTEN";
/// MB-1, MP-4: the secret for keyed hashes of phones and SMS codes.
pub const PHONE_HASH_KEY: &str = "MEMBERHUB_PHONE_HASH_KEY";
/// The development key used when no phone-hash key is set (`memberhub dev`, tests).
const DEV_PHONE_HASH_KEY: &str = "memberhub-dev-phone-hash-key";

/// membership-svc's settings, from its command line and environment.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "membership-svc",
    about = "memberhub membership-svc: shops, programs, members, levels, orders, the points ledger"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub process: memberhub_kit::config::ProcessArgs,
    /// Where to listen (gRPC).
    #[arg(long, env = LISTEN_VAR, default_value = "127.0.0.1:50051")]
    pub listen: std::net::SocketAddr,
    /// MB-1, MP-4: the secret for keyed hashes of phones and SMS codes, at least 32 bytes.
    /// Required by the production binary; a public development key otherwise.
    #[arg(long, env = PHONE_HASH_KEY, hide_env_values = true)]
    pub phone_hash_key: Option<String>,
}

impl Args {
    /// what the production binary cannot start without.
    pub fn require_production(&self) -> Result<(), ConfigError> {
        self.service.require_production(&[Required::Secret(
            PHONE_HASH_KEY,
            self.phone_hash_key.as_deref(),
        )])
    }

    /// The configuration; `discovered_database_url` applies when no database URL is set.
    pub fn config(&self, discovered_database_url: Option<String>) -> Result<Config, ConfigError> {
        Ok(Config {
            process: ProcessConfig::new(
                &self.server,
                &self.service,
                self.listen,
                discovered_database_url,
            )?,
            phone_hash_key: self.phone_hash_key.clone().filter(|k| !k.is_empty()),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub process: ProcessConfig,
    /// `None`: the development key.
    phone_hash_key: Option<String>,
}

impl Config {
    /// A configuration for in-process use (`memberhub dev`, loadgen): the development key.
    pub fn new(process: ProcessConfig) -> Self {
        Self {
            process,
            phone_hash_key: None,
        }
    }

    pub(crate) fn phone_hash_key(&self) -> crate::domain::sms::HashKey {
        let secret = self.phone_hash_key.as_deref().unwrap_or(DEV_PHONE_HASH_KEY);
        crate::domain::sms::HashKey::new(secret.as_bytes().to_vec())
    }
}

/// Reads the configuration from the environment (in-process use: tests, loadgen);
/// `discovered_database_url` applies when `DATABASE_URL` is unset.
pub fn from_env(discovered_database_url: Option<String>) -> Result<Config, ConfigError> {
    memberhub_kit::config::from_env::<Args>()?.config(discovered_database_url)
}
