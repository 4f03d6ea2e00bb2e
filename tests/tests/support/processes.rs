//! The production binaries as separate processes over one test database, configured as a
//! deployment configures them (fresh Ed25519 keys, a JWT secret, a phone-hash key), for
//! what only separate processes show: traces across processes, replicas of one service,
//! a restart under load.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use memberhub_kit::auth::Signer;
use tokio::process::{Child, Command};

use super::SECRET;

/// Where cargo put `name`, brought up to date first (once per test process). Cargo builds a
/// package's binaries for that package's integration tests, so running this package alone
/// could find them missing or stale. The build asked for is the workspace's test build
/// itself (`cargo test --workspace --no-run`), which `cargo test --workspace` or `cargo
/// nextest run --workspace` has just made: nothing is rebuilt with other features there.
pub(crate) fn binary(name: &str) -> anyhow::Result<PathBuf> {
    static BUILT: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    let dir = BUILT
        .get_or_init(|| {
            let dir = std::env::current_exe()
                .map_err(|e| e.to_string())?
                .parent()
                .and_then(|deps| deps.parent())
                .map(PathBuf::from)
                .ok_or("no target directory")?;
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut build = std::process::Command::new(cargo);
            build.args(["test", "--workspace", "--no-run", "--quiet"]);
            let status = build.status().map_err(|e| e.to_string())?;
            if status.success() {
                Ok(dir)
            } else {
                Err(format!("cargo build of the binaries failed: {status}"))
            }
        })
        .clone()
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok(dir.join(name))
}

/// One deployment's secrets: a key pair per signing identity, the trusted list.
pub(crate) struct Keys {
    seeds: HashMap<&'static str, String>,
    trusted: String,
}

impl Keys {
    pub(crate) fn generate() -> anyhow::Result<Self> {
        let mut seeds = HashMap::new();
        let mut trusted = Vec::new();
        for identity in ["gateway", "coupon-svc", "campaign-svc"] {
            let (seed, public) = Signer::generate().map_err(|e| anyhow::anyhow!("{e}"))?;
            trusted.push(format!("{identity}={public}"));
            seeds.insert(identity, seed);
        }
        Ok(Self {
            seeds,
            trusted: trusted.join(","),
        })
    }
}

/// A running binary, killed when dropped.
pub(crate) struct Process {
    pub name: &'static str,
    pub address: SocketAddr,
    child: Child,
}

impl Process {
    /// `http://address`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// SIGTERM, then waits for the process to exit by itself (a graceful drain).
    pub(crate) async fn terminate(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        let pid = self.child.id().context("already exited")?;
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await?;
        anyhow::ensure!(status.success(), "kill -TERM {pid}: {status}");
        Ok(tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await??)
    }
}

/// The settings a process of the deployment shares.
pub(crate) struct Deployment {
    pub database_url: String,
    pub keys: Keys,
    /// Extra environment for every process (e.g. the OTLP endpoint).
    pub env: Vec<(String, String)>,
}

impl Deployment {
    pub(crate) fn new(database_url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            database_url: database_url.to_string(),
            keys: Keys::generate()?,
            env: Vec::new(),
        })
    }

    fn spawn(
        &self,
        name: &'static str,
        address: SocketAddr,
        env: &[(&str, String)],
    ) -> anyhow::Result<Process> {
        let mut command = Command::new(binary(name)?);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or("warn".into()),
            )
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Process {
            name,
            address,
            child,
        })
    }

    fn service_env(
        &self,
        listen_var: &'static str,
        address: SocketAddr,
    ) -> Vec<(&'static str, String)> {
        vec![
            ("DATABASE_URL", self.database_url.clone()),
            ("MEMBERHUB_INTERNAL_TRUSTED_KEYS", self.keys.trusted.clone()),
            (listen_var, address.to_string()),
        ]
    }

    /// membership-svc, serving once this returns.
    pub(crate) async fn membership(&self) -> anyhow::Result<Process> {
        let address = super::closed_port().await?;
        let mut env = self.service_env(membership_svc::config::LISTEN_VAR, address);
        env.push(("MEMBERHUB_PHONE_HASH_KEY", "p".repeat(32)));
        let process = self.spawn("membership-svc", address, &env)?;
        memberhub_kit::testing::wait_until_serving(address)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(process)
    }

    /// coupon-svc calling membership-svc at `membership` (a comma-separated list balances).
    pub(crate) async fn coupon(&self, membership: &str) -> anyhow::Result<Process> {
        self.coupon_at(super::closed_port().await?, membership)
            .await
    }

    /// coupon-svc on a given address (to restart one in place).
    pub(crate) async fn coupon_at(
        &self,
        address: SocketAddr,
        membership: &str,
    ) -> anyhow::Result<Process> {
        let mut env = self.service_env(coupon_svc::config::LISTEN_VAR, address);
        env.push(("MEMBERHUB_MEMBERSHIP_URL", membership.to_string()));
        env.push((
            "MEMBERHUB_INTERNAL_SIGNING_KEY",
            self.keys.seeds["coupon-svc"].clone(),
        ));
        let process = self.spawn("coupon-svc", address, &env)?;
        memberhub_kit::testing::wait_until_serving(address)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(process)
    }

    /// campaign-svc calling its peers at `membership` and `coupon`.
    pub(crate) async fn campaign(&self, membership: &str, coupon: &str) -> anyhow::Result<Process> {
        let address = super::closed_port().await?;
        let mut env = self.service_env(campaign_svc::config::LISTEN_VAR, address);
        env.push(("MEMBERHUB_MEMBERSHIP_URL", membership.to_string()));
        env.push(("MEMBERHUB_COUPON_URL", coupon.to_string()));
        env.push((
            "MEMBERHUB_INTERNAL_SIGNING_KEY",
            self.keys.seeds["campaign-svc"].clone(),
        ));
        let process = self.spawn("campaign-svc", address, &env)?;
        memberhub_kit::testing::wait_until_serving(address)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(process)
    }

    /// The gateway over the three services; answering `/healthz` once this returns.
    pub(crate) async fn gateway(
        &self,
        membership: &str,
        coupon: &str,
        campaign: &str,
    ) -> anyhow::Result<Process> {
        let address = super::closed_port().await?;
        let env = [
            ("MEMBERHUB_GATEWAY_LISTEN", address.to_string()),
            ("MEMBERHUB_MEMBERSHIP_URL", membership.to_string()),
            ("MEMBERHUB_COUPON_URL", coupon.to_string()),
            ("MEMBERHUB_CAMPAIGN_URL", campaign.to_string()),
            ("MEMBERHUB_JWT_SECRET", jwt_secret()),
            (
                "MEMBERHUB_INTERNAL_SIGNING_KEY",
                self.keys.seeds["gateway"].clone(),
            ),
        ];
        let process = self.spawn("gateway", address, &env)?;
        let client = reqwest::Client::new();
        for _ in 0..200 {
            let answered = client
                .get(format!("http://{address}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if answered {
                return Ok(process);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("the gateway did not answer /healthz within 10 s")
    }
}

/// The JWT secret [`Deployment::gateway`] gives the gateway (at least 32 bytes).
pub(crate) fn jwt_secret() -> String {
    format!("{SECRET}-{}", "x".repeat(32))
}
