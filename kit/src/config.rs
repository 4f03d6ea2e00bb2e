//! Typed configuration: every binary's settings are one `clap` derive whose arguments also
//! read an environment variable, so `--help` lists each variable with its default, and a bad
//! value stops the process at start naming the variable it came from. The shared pieces are
//! here: [`ServerArgs`] (every server, the gateway too), [`ServiceArgs`] (the gRPC
//! services) and [`ProcessArgs`] (each production binary's own process). `memberhub dev`
//! flattens the first two and the gateway's `GatewayArgs` into its own command. The deploy guide's configuration table is generated from the binaries' commands
//! (`tests/tests/configuration.rs`).

use std::ffi::OsString;
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

/// What every server (services and gateway) is configured with.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Server-side deadline of one call, in milliseconds.
    #[arg(long, env = "MEMBERHUB_REQUEST_TIMEOUT_MS", default_value_t = DEFAULT_REQUEST_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_ms: u64,
    /// Calls in flight before the server sheds (RESOURCE_EXHAUSTED / 503).
    #[arg(long, env = "MEMBERHUB_CONCURRENCY_LIMIT", default_value_t = DEFAULT_CONCURRENCY_LIMIT,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub concurrency_limit: u64,
    /// After SIGTERM, how long open calls and streams may finish, in milliseconds.
    #[arg(long, env = "MEMBERHUB_DRAIN_TIMEOUT_MS", default_value_t = DEFAULT_DRAIN_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub drain_timeout_ms: u64,
}

/// What a production binary reads about its own process (`memberhub` has its own).
#[derive(Debug, Clone, clap::Args)]
pub struct ProcessArgs {
    /// Log lines as `json` (production) or `pretty`.
    #[arg(long, env = "MEMBERHUB_LOG_FORMAT", value_enum, default_value_t)]
    pub log_format: crate::telemetry::LogFormat,
    /// refused. The sandbox clock exists only in `memberhub dev --test-clock`; a
    /// production binary runs on the system clock, so the flag (or its variable) stops it.
    #[arg(long, env = "MEMBERHUB_TEST_CLOCK", hide = true, num_args = 0..=1,
          default_missing_value = "true", value_parser = no_test_clock)]
    pub test_clock: Option<Refused>,
}

/// A setting no production binary accepts.
#[derive(Debug, Clone, Copy)]
pub enum Refused {}

fn no_test_clock(_: &str) -> Result<Refused, String> {
    Err(
        "the sandbox clock exists only in `memberhub dev --test-clock`; \
         production binaries run on the system clock"
            .into(),
    )
}

/// What every gRPC service is configured with, besides [`ServerArgs`].
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// Postgres URL, the service's own role as the user. Required by the production
    /// binaries; `memberhub dev` and tests discover a server.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Connections per process; size replicas × pool ≤ max_connections − reserve.
    #[arg(long, env = "MEMBERHUB_DB_POOL_SIZE", default_value_t = DEFAULT_POOL_SIZE,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub db_pool_size: u32,
    /// Address of the service's Prometheus `/metrics`; unset: not served.
    #[arg(long, env = "MEMBERHUB_METRICS_LISTEN")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// `identity=<hex Ed25519 public key>,...` the service accepts calls from (an
    /// identity listed twice: both keys, for a rotation). Required by the production binaries;
    /// the development keys otherwise.
    #[arg(long, env = TRUSTED_KEYS, value_parser = trusted_keys)]
    pub internal_trusted_keys: Option<Arc<Verifier>>,
}

impl ServiceArgs {
    /// what every production service cannot start without (with its own extras).
    pub fn require_production(&self, extras: &[Required<'_>]) -> Result<(), ConfigError> {
        let keys = self.internal_trusted_keys.as_ref().map(|_| "set");
        let mut settings = vec![
            Required::Setting("DATABASE_URL", self.database_url.as_deref()),
            Required::Setting(TRUSTED_KEYS, keys),
        ];
        settings.extend_from_slice(extras);
        require(&settings)
    }
}

fn trusted_keys(list: &str) -> Result<Arc<Verifier>, String> {
    Verifier::from_list(list)
        .map(Arc::new)
        .map_err(|e| e.to_string())
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
    /// Where a service process serves Prometheus `/metrics`; `None`: not served by the
    /// service (the all-in-one `memberhub dev` serves it on the gateway's port).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// the public keys this service trusts.
    pub verifier: Arc<Verifier>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            database_url: None,
            pool_size: DEFAULT_POOL_SIZE,
            request_timeout: Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS),
            concurrency_limit: DEFAULT_CONCURRENCY_LIMIT as usize,
            drain_timeout: Duration::from_millis(DEFAULT_DRAIN_TIMEOUT_MS),
            metrics_listen: None,
            verifier: Arc::new(Verifier::development()),
        }
    }
}

const DEFAULT_POOL_SIZE: u32 = 8;
const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 10_000;
const DEFAULT_CONCURRENCY_LIMIT: u64 = 1024;
const DEFAULT_DRAIN_TIMEOUT_MS: u64 = 10_000;

impl ServiceConfig {
    pub fn new(server: &ServerArgs, service: &ServiceArgs) -> Self {
        Self {
            database_url: service.database_url.clone().filter(|v| !v.is_empty()),
            pool_size: service.db_pool_size,
            request_timeout: Duration::from_millis(server.request_timeout_ms),
            concurrency_limit: usize::try_from(server.concurrency_limit).unwrap_or(usize::MAX),
            drain_timeout: Duration::from_millis(server.drain_timeout_ms),
            metrics_listen: service.metrics_listen,
            verifier: service
                .internal_trusted_keys
                .clone()
                .unwrap_or_else(|| Arc::new(Verifier::development())),
        }
    }

    /// Reads the configuration from the process environment (in-process use: `memberhub
    /// dev`, tests, loadgen).
    pub fn from_env() -> Result<Self, ConfigError> {
        let both = from_env::<ServerAndService>()?;
        Ok(Self::new(&both.server, &both.service))
    }
}

/// The shared groups as one command, to read them from the environment alone.
#[derive(Debug, clap::Parser)]
#[command(name = "memberhub-service")]
struct ServerAndService {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    service: ServiceArgs,
}

/// The public keys a service trusts.
pub const TRUSTED_KEYS: &str = "MEMBERHUB_INTERNAL_TRUSTED_KEYS";
/// A signing identity's private Ed25519 seed (the gateway, coupon-svc, campaign-svc).
pub const SIGNING_KEY: &str = "MEMBERHUB_INTERNAL_SIGNING_KEY";

/// `identity`'s signer from its seed (64 hex digits); the development key when unset (the
/// production binaries [`require`] it).
pub fn signer(seed: Option<&str>, identity: &str) -> Result<Arc<crate::auth::Signer>, ConfigError> {
    use crate::auth::Signer;
    let signer = match seed.filter(|v| !v.is_empty()) {
        Some(seed) => Signer::from_hex_seed(identity, seed).map_err(|e| ConfigError {
            name: SIGNING_KEY.into(),
            value: "<hidden>".into(),
            reason: e.to_string(),
        })?,
        None => Signer::development(identity),
    };
    Ok(Arc::new(signer))
}

/// What a production binary cannot start without: the variable's name and its value.
#[derive(Debug, Clone, Copy)]
pub enum Required<'a> {
    /// Must be set.
    Setting(&'static str, Option<&'a str>),
    /// Must be set to at least 32 bytes.
    Secret(&'static str, Option<&'a str>),
}

/// Refuses development defaults in production: names the first required setting that is
/// missing, or a secret shorter than 32 bytes. `memberhub dev` and tests never call this.
pub fn require(settings: &[Required<'_>]) -> Result<(), ConfigError> {
    for setting in settings {
        let (name, value, min_len) = match *setting {
            Required::Setting(name, value) => (name, value, 1),
            Required::Secret(name, value) => (name, value, 32),
        };
        let value = value.unwrap_or_default();
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

/// A binary's settings from its command line and the environment. `--help` and a bad
/// flag end the process as clap does; a bad value from a variable ends it naming the
/// variable.
pub fn from_cli<P: clap::Parser>() -> P {
    match parse::<P>(std::env::args_os()) {
        Ok(parsed) => parsed,
        Err(Invalid::Clap(error)) => error.exit(),
        Err(Invalid::Variable(error)) => {
            eprintln!("error: {error}");
            std::process::exit(2)
        }
    }
}

/// Settings from the environment alone (in-process use: `memberhub dev`, tests, loadgen).
pub fn from_env<P: clap::Parser>() -> Result<P, ConfigError> {
    let name = P::command().get_name().to_string();
    parse::<P>([name.clone()]).map_err(|invalid| match invalid {
        Invalid::Variable(error) => error,
        Invalid::Clap(error) => ConfigError {
            name: name.clone(),
            value: String::new(),
            reason: error.to_string(),
        },
    })
}

enum Invalid {
    Clap(clap::Error),
    Variable(ConfigError),
}

fn parse<P: clap::Parser>(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
) -> Result<P, Invalid> {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    P::try_parse_from(&args).map_err(|error| {
        name_the_variable(&P::command(), &args, &error)
            .map_or(Invalid::Clap(error), Invalid::Variable)
    })
}

/// clap names the flag in a value error; when the value came from the flag's environment
/// variable (the flag is not on the command line), this names the variable instead.
fn name_the_variable(
    command: &clap::Command,
    args: &[OsString],
    error: &clap::Error,
) -> Option<ConfigError> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        error.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let Some(ContextValue::String(flag)) = error.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = flag.strip_prefix("--")?.split([' ', '=']).next()?;
    let on_command_line = args.iter().any(|a| {
        a.to_str()
            .is_some_and(|a| a == format!("--{long}") || a.starts_with(&format!("--{long}=")))
    });
    if on_command_line {
        return None;
    }
    let arg = command
        .get_arguments()
        .find(|a| a.get_long() == Some(long))?;
    let name = arg.get_env()?.to_string_lossy().into_owned();
    let value = match error.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(value)) if !arg.is_hide_env_values_set() => value.clone(),
        _ => "<hidden>".into(),
    };
    let reason = std::error::Error::source(error)
        .map(ToString::to_string)
        .or_else(|| match error.get(ContextKind::ValidValue) {
            Some(ContextValue::Strings(valid)) => Some(format!("one of {}", valid.join(", "))),
            _ => None,
        })
        .unwrap_or_else(|| "invalid".into());
    Some(ConfigError {
        name,
        value,
        reason,
    })
}

/// What a service process needs: the shared settings, its database and where to listen.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    pub service: ServiceConfig,
    pub database_url: String,
    pub listen: std::net::SocketAddr,
}

impl ProcessConfig {
    /// `discovered_database_url` is used when no database URL is set (`None`: it is
    /// required).
    pub fn new(
        server: &ServerArgs,
        service: &ServiceArgs,
        listen: std::net::SocketAddr,
        discovered_database_url: Option<String>,
    ) -> Result<Self, ConfigError> {
        let service = ServiceConfig::new(server, service);
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

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_set() -> Result<(), clap::Error> {
        let both = ServerAndService::try_parse_from(["x"])?;
        let config = ServiceConfig::new(&both.server, &both.service);
        assert_eq!(config.pool_size, 8);
        assert_eq!(config.request_timeout, Duration::from_secs(10));
        Ok(())
    }

    #[test]
    fn x1_production_names_a_missing_or_short_secret() {
        let missing = require(&[Required::Setting("DATABASE_URL", None)]);
        assert!(missing.is_err_and(|e| e.name == "DATABASE_URL"));
        let short = require(&[Required::Secret("KEY", Some("short"))]);
        assert!(short.is_err_and(|e| e.name == "KEY" && !e.to_string().contains("short")));
        let long = "k".repeat(32);
        assert!(require(&[Required::Secret("KEY", Some(&long))]).is_ok());
    }

    #[test]
    fn a_bad_flag_is_refused_by_clap_naming_the_flag() {
        let error = parse::<ServerAndService>(["x", "--db-pool-size", "0"]);
        assert!(
            matches!(error, Err(Invalid::Clap(ref e)) if e.to_string().contains("--db-pool-size"))
        );
    }
}
