//! coupon-svc configuration: the kit's process settings, and membership-svc, which prices a
//! cart for a member (LV-6).

use std::sync::Arc;

use memberhub_kit::auth::Signer;
use memberhub_kit::config::{ConfigError, ProcessConfig};

/// The default gRPC port.
pub const DEFAULT_PORT: u16 = 50052;
/// Where to listen, e.g. `127.0.0.1:50052`.
pub const LISTEN_VAR: &str = "MEMBERHUB_COUPON_LISTEN";
/// Where membership-svc listens, e.g. `http://127.0.0.1:50051`.
pub const MEMBERSHIP_URL_VAR: &str = "MEMBERHUB_MEMBERSHIP_URL";

#[derive(Debug, Clone)]
pub struct Config {
    pub process: ProcessConfig,
    /// membership-svc (`MEMBERHUB_MEMBERSHIP_URL`): the shopper's level and its benefits,
    /// which price a cart (LV-6). Required by the `coupon-svc` binary; when unset (coupon-svc
    /// alone, in its own tests) every shopper is priced as a non-member.
    pub membership_url: Option<String>,
    /// coupon-svc's own key, signing its calls to membership-svc
    /// (`MEMBERHUB_INTERNAL_SIGNING_KEY`; the development key when unset outside production).
    pub signer: Arc<Signer>,
}

/// Reads the configuration; `discovered_database_url` applies when `DATABASE_URL` is unset.
pub fn from_env(discovered_database_url: Option<String>) -> Result<Config, ConfigError> {
    let lookup = |name: &str| std::env::var(name).ok();
    Ok(Config {
        process: ProcessConfig::from_env(LISTEN_VAR, DEFAULT_PORT, discovered_database_url)?,
        membership_url: lookup(MEMBERSHIP_URL_VAR).filter(|v| !v.is_empty()),
        signer: memberhub_kit::config::signer(lookup, memberhub_kit::auth::COUPON_SVC)?,
    })
}

impl Config {
    /// A configuration for in-process use (tests, `memberhub dev`, loadgen): development key,
    /// and no membership-svc until [`Config::with_membership`].
    pub fn new(process: ProcessConfig) -> Self {
        Self {
            process,
            membership_url: None,
            signer: Arc::new(Signer::development(memberhub_kit::auth::COUPON_SVC)),
        }
    }

    /// Prices carts with membership-svc at `url`.
    pub fn with_membership(mut self, url: String) -> Self {
        self.membership_url = Some(url);
        self
    }
}
