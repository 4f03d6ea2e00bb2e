//! `memberhub loadgen ...`: benchmarks as programs. Each drives real RPCs over loopback
//! against a fresh database, measures its baseline on the same Postgres in the same run,
//! checks its invariants, and prints one JSON object as its last line.

pub mod levels;
pub mod orders;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use memberhub_kit::testing::{TestDb, bind_loopback, wait_until_serving};

/// What every loadgen reports last.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub bench: &'static str,
    pub clients: usize,
    pub throughput_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub baseline_per_s: f64,
    pub ratio: f64,
    pub invariants_ok: bool,
}

impl Report {
    /// Prints the report as the last line of output.
    pub fn print(&self) -> anyhow::Result<()> {
        println!("{}", serde_json::to_string(self)?);
        Ok(())
    }
}

/// Latencies of completed calls.
#[derive(Debug, Default)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn record(&mut self, d: Duration) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    /// The `q` quantile (0..=1) in milliseconds.
    pub fn quantile_ms(&mut self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.sort();
        let index = ((self.0.len() - 1) as f64 * q).round() as usize;
        self.0[index].as_secs_f64() * 1000.0
    }
}

/// A fresh database on the discovered server, dropped at the end.
pub async fn fresh_database(migrators: &[&sqlx::migrate::Migrator]) -> anyhow::Result<TestDb> {
    TestDb::new(migrators)
        .await
        .context("creating a fresh database")
}

/// membership-svc in-process on loopback over `db`; stops when the sender is dropped.
pub async fn start_membership(
    db: &TestDb,
    pool_size: u32,
) -> anyhow::Result<(tonic::transport::Channel, Running)> {
    let pool = db.pool(pool_size).await?;
    let (listener, address) = bind_loopback().await?;
    let config = membership_svc::config::from_env(db.url.clone())?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        let clock = memberhub_kit::clock::system();
        if let Err(error) =
            membership_svc::serve_migrated(&config, pool, clock, listener, shutdown).await
        {
            tracing::error!(error = %error, "membership-svc stopped");
        }
    });
    let channel = wait_until_serving(address)
        .await
        .map_err(anyhow::Error::msg)?;
    Ok((channel, Running { stop, task }))
}

/// A service started by a loadgen.
pub struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops the service and waits for it, so its last log line comes before the report.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// `pgbench` on PATH or beside the newest installed Postgres server.
fn pgbench() -> anyhow::Result<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("pgbench"))
            .find(|p| p.is_file())
    });
    on_path
        .or_else(|| {
            memberhub_kit::pg_cluster::PrivateCluster::find_binaries().map(|d| d.join("pgbench"))
        })
        .filter(|p| p.is_file())
        .context("pgbench not found: install the Postgres client tools (postgresql-client)")
}

/// Runs pgbench on its own database of the same server and returns its transactions/s:
/// `args` are the workload options (e.g. `-b tpcb-like`), `scale` the `-i` scale.
pub async fn pgbench_tps(
    server_url: &str,
    scale: u32,
    clients: usize,
    seconds: u64,
    args: &[&str],
) -> anyhow::Result<f64> {
    let url = memberhub_kit::db::ensure_database(server_url, "memberhub_pgbench").await?;
    let bin = pgbench()?;
    let init = tokio::process::Command::new(&bin)
        .args(["-i", "-q", "-s", &scale.to_string(), &url])
        .output()
        .await?;
    anyhow::ensure!(
        init.status.success(),
        "pgbench -i failed: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let threads = clients.min(2).to_string();
    let run = tokio::process::Command::new(&bin)
        .args([
            "-n",
            "-c",
            &clients.to_string(),
            "-j",
            &threads,
            "-T",
            &seconds.to_string(),
        ])
        .args(args)
        .arg(&url)
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&run.stdout);
    anyhow::ensure!(
        run.status.success(),
        "pgbench failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("tps = ")
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        })
        .with_context(|| format!("no tps line in pgbench output: {stdout}"))
}

/// The server URL (no database) of a fresh database's URL.
pub fn server_of(db: &TestDb) -> String {
    memberhub_kit::db::with_database(&db.url, "postgres")
}
