//! coupon-svc configuration: the kit's process settings.

use memberhub_kit::config::{ConfigError, ProcessConfig};

pub type Config = ProcessConfig;

/// The default gRPC port.
pub const DEFAULT_PORT: u16 = 50052;
/// Where to listen, e.g. `127.0.0.1:50052`.
pub const LISTEN_VAR: &str = "MEMBERHUB_COUPON_LISTEN";

/// Reads the configuration; `discovered_database_url` applies when `DATABASE_URL` is unset.
pub fn from_env(discovered_database_url: Option<String>) -> Result<Config, ConfigError> {
    ProcessConfig::from_env(LISTEN_VAR, DEFAULT_PORT, discovered_database_url)
}
