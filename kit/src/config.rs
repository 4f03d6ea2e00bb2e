//! Typed configuration from the environment, validated at start.
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `DATABASE_URL` | Postgres to use | required by the production binaries; `memberhub dev` and tests discover one ([`crate::db::discover`]) |
//! | `MEMBERHUB_INTERNAL_TRUSTED_KEYS` | `identity=<hex Ed25519 public key>,...` a service accepts tokens from | required by the production binaries; development keys otherwise |
//! | `MEMBERHUB_DB_POOL_SIZE` | connections per service pool | 8 |
//! | `MEMBERHUB_REQUEST_TIMEOUT_MS` | server-side deadline for one RPC | 10000 |
//! | `MEMBERHUB_CONCURRENCY_LIMIT` | RPCs in flight per server | 1024 |
//! | `MEMBERHUB_DRAIN_TIMEOUT_MS` | after SIGTERM, how long open calls and streams (`WatchEvents`) may finish before the server closes them | 10000 |
//! | `MEMBERHUB_METRICS_LISTEN` | address for a service's `/metrics` | not served |
//! | `MEMBERHUB_LOG_FORMAT` | `pretty` or `json` | pretty |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | OTLP/gRPC collector; unset: no export | — |

use std::sync::Arc;
use std::time::Duration;

use crate::auth::Verifier;

/// A configuration value that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    pub name: String,
    pub value: String,
    pub reason: String,
}

/// What every service process needs.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// `None`: discover a database (see [`crate::db::discover`]).
    pub database_url: Option<String>,
    pub pool_size: u32,
    pub request_timeout: Duration,
    pub concurrency_limit: usize,
    /// After shutdown is asked for, how long in-flight calls and open streams may finish.
    pub drain_timeout: Duration,
    /// Where a service process serves Prometheus `/metrics` (`MEMBERHUB_METRICS_LISTEN`);
    /// `None`: not served by the service (the all-in-one `memberhub dev` serves it on the
    /// gateway's port).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// the public keys this service trusts (`MEMBERHUB_INTERNAL_TRUSTED_KEYS`).
    pub verifier: Arc<Verifier>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            database_url: None,
            pool_size: 8,
            request_timeout: Duration::from_secs(10),
            concurrency_limit: 1024,
            drain_timeout: Duration::from_secs(10),
            metrics_listen: None,
            verifier: Arc::new(Verifier::development()),
        }
    }
}

impl ServiceConfig {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            database_url: lookup("DATABASE_URL").filter(|v| !v.is_empty()),
            pool_size: parse(&lookup, "MEMBERHUB_DB_POOL_SIZE", defaults.pool_size, |v| {
                *v >= 1
            })?,
            request_timeout: Duration::from_millis(parse(
                &lookup,
                "MEMBERHUB_REQUEST_TIMEOUT_MS",
                defaults.request_timeout.as_millis() as u64,
                |v| *v >= 1,
            )?),
            concurrency_limit: parse(
                &lookup,
                "MEMBERHUB_CONCURRENCY_LIMIT",
                defaults.concurrency_limit,
                |v| *v >= 1,
            )?,
            drain_timeout: Duration::from_millis(parse(
                &lookup,
                "MEMBERHUB_DRAIN_TIMEOUT_MS",
                defaults.drain_timeout.as_millis() as u64,
                |v| *v >= 1,
            )?),
            metrics_listen: lookup("MEMBERHUB_METRICS_LISTEN")
                .map(|raw| {
                    raw.parse()
                        .map_err(|e: std::net::AddrParseError| ConfigError {
                            name: "MEMBERHUB_METRICS_LISTEN".into(),
                            value: raw.clone(),
                            reason: e.to_string(),
                        })
                })
                .transpose()?,
            verifier: match lookup(TRUSTED_KEYS) {
                Some(list) => Arc::new(Verifier::from_list(&list).map_err(|e| ConfigError {
                    name: TRUSTED_KEYS.into(),
                    value: list.clone(),
                    reason: e.to_string(),
                })?),
                None => defaults.verifier,
            },
        })
    }
}

/// The public keys a service trusts.
pub const TRUSTED_KEYS: &str = "MEMBERHUB_INTERNAL_TRUSTED_KEYS";
/// A signing identity's private Ed25519 seed (the gateway, campaign-svc).
pub const SIGNING_KEY: &str = "MEMBERHUB_INTERNAL_SIGNING_KEY";

/// `identity`'s signer from [`SIGNING_KEY`]; the development key when it is unset (the
/// production binaries [`require`] it).
pub fn signer(
    lookup: impl Fn(&str) -> Option<String>,
    identity: &str,
) -> Result<Arc<crate::auth::Signer>, ConfigError> {
    use crate::auth::Signer;
    let signer = match lookup(SIGNING_KEY).filter(|v| !v.is_empty()) {
        Some(seed) => Signer::from_hex_seed(identity, &seed).map_err(|e| ConfigError {
            name: SIGNING_KEY.into(),
            value: "<hidden>".into(),
            reason: e.to_string(),
        })?,
        None => Signer::development(identity),
    };
    Ok(Arc::new(signer))
}

/// What a production binary cannot start without.
#[derive(Debug, Clone, Copy)]
pub enum Required {
    /// Must be set.
    Setting(&'static str),
    /// Must be set to at least 32 bytes.
    Secret(&'static str),
}

/// Refuses development defaults in production: names the first required setting that is
/// missing, or a secret shorter than 32 bytes. `memberhub dev` and tests never call this.
pub fn require(
    lookup: impl Fn(&str) -> Option<String>,
    settings: &[Required],
) -> Result<(), ConfigError> {
    for setting in settings {
        let (name, min_len) = match *setting {
            Required::Setting(name) => (name, 1),
            Required::Secret(name) => (name, 32),
        };
        let value = lookup(name).unwrap_or_default();
        if value.trim().is_empty() {
            return Err(ConfigError {
                name: name.into(),
                value: String::new(),
                reason:
                    "required in production (development defaults apply only to `memberhub dev`)"
                        .into(),
            });
        }
        if value.len() < min_len {
            return Err(ConfigError {
                name: name.into(),
                value: "<hidden>".into(),
                reason: format!("a secret must be at least {min_len} bytes"),
            });
        }
    }
    Ok(())
}

/// Parses `name` when set, else `default`; refuses values that fail `valid`.
pub fn parse<T>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
    valid: impl Fn(&T) -> bool,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let Some(raw) = lookup(name) else {
        return Ok(default);
    };
    let error = |reason: String| ConfigError {
        name: name.into(),
        value: raw.clone(),
        reason,
    };
    let value = raw.trim().parse::<T>().map_err(|e| error(e.to_string()))?;
    if valid(&value) {
        Ok(value)
    } else {
        Err(error("out of range".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_set() -> Result<(), ConfigError> {
        let config = ServiceConfig::from_lookup(|_| None)?;
        assert_eq!(config.pool_size, 8);
        assert!(config.database_url.is_none());
        Ok(())
    }

    #[test]
    fn x1_production_names_a_missing_or_short_secret() {
        let required = [Required::Setting("DATABASE_URL"), Required::Secret("KEY")];
        let missing = require(|_| None, &required);
        assert!(missing.is_err_and(|e| e.name == "DATABASE_URL"));
        let short = require(
            |n| Some(if n == "KEY" { "short" } else { "x" }.into()),
            &required,
        );
        assert!(short.is_err_and(|e| e.name == "KEY" && !e.to_string().contains("short")));
        let long = "k".repeat(32);
        assert!(
            require(
                |n| Some(if n == "KEY" { long.clone() } else { "x".into() }),
                &required
            )
            .is_ok()
        );
    }

    #[test]
    fn a_bad_value_names_the_variable() {
        let err =
            ServiceConfig::from_lookup(|n| (n == "MEMBERHUB_DB_POOL_SIZE").then(|| "zero".into()));
        assert!(err.is_err_and(|e| e.name == "MEMBERHUB_DB_POOL_SIZE"));
    }
}

/// What a service process needs: the shared settings, its database and where to listen.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    pub service: ServiceConfig,
    pub database_url: String,
    pub listen: std::net::SocketAddr,
}

impl ProcessConfig {
    /// Reads `listen_var` (default 127.0.0.1:`default_port`) and the shared variables;
    /// `discovered_database_url` is used when `DATABASE_URL` is unset (`None`: it is
    /// required).
    pub fn from_env(
        listen_var: &str,
        default_port: u16,
        discovered_database_url: Option<String>,
    ) -> Result<Self, ConfigError> {
        let service = ServiceConfig::from_env()?;
        let lookup = |name: &str| std::env::var(name).ok();
        let default_listen = std::net::SocketAddr::from(([127, 0, 0, 1], default_port));
        let listen = parse(&lookup, listen_var, default_listen, |_| true)?;
        let database_url = service
            .database_url
            .clone()
            .or(discovered_database_url)
            .ok_or_else(|| ConfigError {
                name: "DATABASE_URL".into(),
                value: String::new(),
                reason: "required".into(),
            })?;
        Ok(Self {
            service,
            database_url,
            listen,
        })
    }
}
