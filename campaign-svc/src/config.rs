//! campaign-svc configuration: the kit's process settings.

use memberhub_kit::config::{ConfigError, ProcessConfig};

pub type Config = ProcessConfig;

/// The default gRPC port.
pub const DEFAULT_PORT: u16 = 50053;
/// Where to listen, e.g. `127.0.0.1:50053`.
pub const LISTEN_VAR: &str = "MEMBERHUB_CAMPAIGN_LISTEN";

/// Reads the configuration; `discovered_database_url` applies when `DATABASE_URL` is unset.
pub fn from_env(discovered_database_url: String) -> Result<Config, ConfigError> {
    ProcessConfig::from_env(LISTEN_VAR, DEFAULT_PORT, discovered_database_url)
}
