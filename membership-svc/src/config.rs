//! membership-svc configuration: the kit's process settings.

use memberhub_kit::config::{ConfigError, ProcessConfig};

pub type Config = ProcessConfig;

/// The default gRPC port.
pub const DEFAULT_PORT: u16 = 50051;
/// Where to listen, e.g. `127.0.0.1:50051`.
pub const LISTEN_VAR: &str = "MEMBERHUB_MEMBERSHIP_LISTEN";

/// Reads the configuration; `discovered_database_url` applies when `DATABASE_URL` is unset.
pub fn from_env(discovered_database_url: Option<String>) -> Result<Config, ConfigError> {
    ProcessConfig::from_env(LISTEN_VAR, DEFAULT_PORT, discovered_database_url)
}

/// MB-1, MP-4: the secret for keyed hashes of phones and SMS codes.
pub const PHONE_HASH_KEY: &str = "MEMBERHUB_PHONE_HASH_KEY";

/// The phone-hash key (`MEMBERHUB_PHONE_HASH_KEY`). Unset means the development key: the
/// production binary refuses to start without it (at least 32 bytes), so only `memberhub dev`
/// and tests hash with the public development key.
pub(crate) fn phone_hash_key() -> crate::domain::sms::HashKey {
    let secret = std::env::var(PHONE_HASH_KEY)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEV_PHONE_HASH_KEY.to_string());
    crate::domain::sms::HashKey::new(secret.into_bytes())
}

/// The development key used when `MEMBERHUB_PHONE_HASH_KEY` is unset.
pub const DEV_PHONE_HASH_KEY: &str = "memberhub-dev-phone-hash-key";
