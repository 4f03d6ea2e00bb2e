//! `memberhub loadgen ...`: benchmarks as programs. Each drives real RPCs over loopback
//! against services started in-process on a fresh database, measures a baseline in the same
//! run, checks the invariants, and prints one JSON object as its LAST line so scripts can
//! read it. The generic pieces live here: a scratch database, latency percentiles, the
//! pgbench runner (with an equivalent sqlx loop when pgbench is not installed) and the
//! final line.

pub(crate) mod auth;
pub(crate) mod award;
pub(crate) mod claims;
pub(crate) mod expiry;
pub(crate) mod joins;
pub(crate) mod levels;
pub(crate) mod orders;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use memberhub_kit::testing::{TestDb, bind_loopback, wait_until_serving};

/// The benchmarks.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Loadgen {
    /// CP-3: many concurrent gRPC clients claiming one hot batch, against the naive
    /// one-UPDATE-plus-one-INSERT-per-claim baseline (pgbench) at the same client count.
    Claims(claims::ClaimsArgs),
    /// OR-1..OR-4: order events/s through the batch RPC against pgbench -b tpcb-like.
    Orders(orders::OrdersArgs),
    /// LV-5: the bulk level recompute of 100,000 members after a rule change.
    Levels(levels::LevelsArgs),
    /// OC-7/OC-8: card openings/s with the open-card gift granted end to end (membership
    /// outbox -> campaign saga -> coupon-svc and membership ledger), against a naive
    /// one-transaction "join + grant" monolith baseline (pgbench) at the same client count.
    Joins(joins::JoinsArgs),
    /// PT-5: the year-end expiry of every member's points, in chunks, while order events
    /// stream: how long order ingest stalls, against the same ingest with no expiry running.
    Expiry(expiry::ExpiryArgs),
    /// the cost of signing and verifying internal tokens per call, fresh and remembered.
    Auth(auth::AuthArgs),
    /// SP-6: a sprint plan's award run (100,000 registered, 60,000 qualified, D = 40,000)
    /// against the naive one-transaction-per-award baseline (pgbench) at the same
    /// concurrency.
    Award(award::AwardArgs),
}

pub(crate) async fn run(command: Loadgen) -> anyhow::Result<()> {
    match command {
        Loadgen::Claims(args) => claims::run(args).await,
        Loadgen::Orders(args) => orders::run(args).await,
        Loadgen::Levels(args) => levels::run(args).await,
        Loadgen::Joins(args) => joins::run(args).await,
        Loadgen::Expiry(args) => expiry::run(args).await,
        Loadgen::Auth(args) => auth::run(args).await,
        Loadgen::Award(args) => award::run(args).await,
    }
}

// ------------------------------------------------------------------ shops

/// A POP shop for a benchmark, made by the operator, admitting members by order or card;
/// `label` keeps its idempotency keys apart from other shops'.
pub(crate) async fn create_shop(
    client: &mut memberhub_proto::membership::membership_service_client::MembershipServiceClient<
        tonic::transport::Channel,
    >,
    label: &str,
) -> anyhow::Result<String> {
    use memberhub_kit::actor::Actor;
    use memberhub_kit::testing::as_actor;
    use memberhub_proto::membership as pb;
    let shop = client
        .create_shop(as_actor(
            &Actor::Operator,
            pb::CreateShopRequest {
                request_id: format!("{label}-shop"),
                name: format!("Loadgen {label}"),
                r#type: memberhub_proto::common::ShopType::Pop.into(),
                logo_url: "https://img.example.com/loadgen.png".into(),
                time_zone: String::new(),
                gift_items: false,
            },
        ))
        .await?
        .into_inner()
        .shop_id;
    client
        .set_join_policy(as_actor(
            &Actor::Operator,
            pb::SetJoinPolicyRequest {
                request_id: format!("{label}-policy"),
                shop_id: shop.clone(),
                join_policy: pb::JoinPolicy::OrderOrCard.into(),
            },
        ))
        .await?;
    Ok(shop)
}

// ------------------------------------------------------------------ scratch database

/// A fresh database on the discovered Postgres, dropped by [`ScratchDb::drop_now`].
#[derive(Debug)]
pub(crate) struct ScratchDb {
    pub url: String,
    pub name: String,
    server_url: String,
}

impl ScratchDb {
    /// Finds Postgres as `memberhub dev` does and creates `memberhub_loadgen_<uuid>`.
    pub(crate) async fn create() -> anyhow::Result<Self> {
        let server = memberhub_kit::db::discover().await?;
        let server_url = match server.origin {
            // DATABASE_URL names a database: use its server.
            memberhub_kit::db::Origin::EnvVar => {
                memberhub_kit::db::with_database(&server.url, "postgres")
            }
            _ => server.url,
        };
        let name = format!("memberhub_loadgen_{}", uuid::Uuid::now_v7().simple());
        let url = memberhub_kit::db::ensure_database(&server_url, &name).await?;
        Ok(Self {
            url,
            name,
            server_url,
        })
    }

    /// Drops the database (every pool to it must be closed).
    pub(crate) async fn drop_now(self) -> anyhow::Result<()> {
        let admin = memberhub_kit::db::connect(&self.server_url, 1, "memberhub-loadgen").await?;
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&admin)
            .await?;
        admin.close().await;
        Ok(())
    }
}

// ------------------------------------------------------------------ latencies

/// Latency samples in microseconds.
#[derive(Debug, Default, Clone)]
pub(crate) struct Latencies {
    samples: Vec<u32>,
}

impl Latencies {
    pub(crate) fn record(&mut self, elapsed: Duration) {
        self.samples
            .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
    }

    pub(crate) fn merge(&mut self, other: Latencies) {
        self.samples.extend(other.samples);
    }

    pub(crate) fn len(&self) -> usize {
        self.samples.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The `p`-th percentile (0..=100) in milliseconds, nearest-rank; 0 when empty.
    pub(crate) fn percentile_ms(&mut self, p: f64) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        self.samples.sort_unstable();
        let rank = ((p / 100.0) * self.samples.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.samples.len()) - 1;
        f64::from(self.samples[index]) / 1000.0
    }
}

// ------------------------------------------------------------------ baseline

/// The outcome of a baseline run.
#[derive(Debug, Clone)]
pub(crate) struct Baseline {
    pub transactions_per_s: f64,
}

/// `pgbench` on PATH or under /usr/lib/postgresql/*/bin (newest first).
pub(crate) fn find_pgbench() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("pgbench"))
            .find(|bin| bin.is_file())
    });
    on_path.or_else(|| {
        let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
                let bin = entry.path().join("bin/pgbench");
                bin.is_file().then_some((version, bin))
            })
            .collect();
        found.sort();
        found.pop().map(|(_, bin)| bin)
    })
}

/// Runs `script` with pgbench (`-n -M prepared`) at `clients` for `duration`; the rate of
/// committed transactions.
pub(crate) async fn pgbench(
    bin: &PathBuf,
    url: &str,
    script: &str,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Baseline> {
    let dir = std::env::temp_dir().join(format!("memberhub-loadgen-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("baseline.sql");
    std::fs::write(&file, script)?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(clients.max(1));
    let output = tokio::process::Command::new(bin)
        .arg("-n")
        .args(["-M", "prepared"])
        .args(["-c", &clients.to_string()])
        .args(["-j", &threads.to_string()])
        .args(["-T", &duration.as_secs().max(1).to_string()])
        .arg("-f")
        .arg(&file)
        .arg(url)
        .output()
        .await
        .with_context(|| format!("running {}", bin.display()))?;
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "pgbench failed: {}{}",
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    let tps = stdout
        .lines()
        .find_map(|line| {
            line.strip_prefix("tps = ")
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<f64>().ok())
        })
        .ok_or_else(|| anyhow::anyhow!("no tps in pgbench output: {stdout}"))?;
    Ok(Baseline {
        transactions_per_s: tps,
    })
}

/// The same statements as a pgbench script, each transaction run by `clients` sqlx
/// connections in a loop: `statements(conn)` runs one transaction's body.
pub(crate) async fn sqlx_loop<F, Fut>(
    url: &str,
    clients: usize,
    duration: Duration,
    statements: F,
) -> anyhow::Result<Baseline>
where
    F: Fn(sqlx::pool::PoolConnection<sqlx::Postgres>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<sqlx::pool::PoolConnection<sqlx::Postgres>, sqlx::Error>> + Send,
{
    let size = u32::try_from(clients).unwrap_or(u32::MAX);
    let pool = memberhub_kit::db::connect(url, size, "memberhub-loadgen-baseline").await?;
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (pool, statements) = (pool.clone(), statements.clone());
        tasks.spawn(async move {
            let mut conn = pool.acquire().await?;
            let mut done = 0u64;
            while Instant::now() < deadline {
                conn = statements(conn).await?;
                done += 1;
            }
            Ok::<u64, sqlx::Error>(done)
        });
    }
    let mut total = 0u64;
    while let Some(joined) = tasks.join_next().await {
        total += joined??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    pool.close().await;
    Ok(Baseline {
        transactions_per_s: total as f64 / elapsed.max(f64::EPSILON),
    })
}

// ------------------------------------------------------------------ membership-svc runs

/// What every loadgen reports last.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Report {
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
    pub(crate) fn print(&self) -> anyhow::Result<()> {
        println!("{}", serde_json::to_string(self)?);
        Ok(())
    }
}

/// A fresh database on the discovered server, dropped at the end.
pub(crate) async fn fresh_database(
    migrators: &[&sqlx::migrate::Migrator],
) -> anyhow::Result<TestDb> {
    TestDb::new(migrators)
        .await
        .context("creating a fresh database")
}

/// membership-svc in-process on loopback over `db`; stops when the sender is dropped.
pub(crate) async fn start_membership(
    db: &TestDb,
    pool_size: u32,
) -> anyhow::Result<(tonic::transport::Channel, Running)> {
    let (channel, _, running) =
        start_membership_at(db, pool_size, memberhub_kit::clock::system()).await?;
    Ok((channel, running))
}

/// [`start_membership`] on `clock`, also returning its address (for campaign-svc to call it).
pub(crate) async fn start_membership_at(
    db: &TestDb,
    pool_size: u32,
    clock: memberhub_kit::clock::SharedClock,
) -> anyhow::Result<(tonic::transport::Channel, std::net::SocketAddr, Running)> {
    let pool = db.pool(pool_size).await?;
    let (listener, address) = bind_loopback().await?;
    let config = membership_svc::config::from_env(Some(db.url.clone()))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(error) =
            membership_svc::serve_migrated(&config, pool, clock, listener, shutdown).await
        {
            tracing::error!(error = %error, "membership-svc stopped");
        }
    });
    let channel = wait_until_serving(address)
        .await
        .map_err(anyhow::Error::msg)?;
    Ok((channel, address, Running { stop, task }))
}

/// coupon-svc in-process on loopback over `db`, with the system clock.
pub(crate) async fn start_coupon(
    db: &TestDb,
    pool_size: u32,
) -> anyhow::Result<(tonic::transport::Channel, std::net::SocketAddr, Running)> {
    start_coupon_at(db, pool_size, memberhub_kit::clock::system()).await
}

/// [`start_coupon`] on `clock`.
pub(crate) async fn start_coupon_at(
    db: &TestDb,
    pool_size: u32,
    clock: memberhub_kit::clock::SharedClock,
) -> anyhow::Result<(tonic::transport::Channel, std::net::SocketAddr, Running)> {
    let pool = db.pool(pool_size).await?;
    let (listener, address) = bind_loopback().await?;
    let config = coupon_svc::config::from_env(Some(db.url.clone()))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(error) =
            coupon_svc::serve_migrated(&config, pool, clock, listener, shutdown).await
        {
            tracing::error!(error = %error, "coupon-svc stopped");
        }
    });
    let channel = wait_until_serving(address)
        .await
        .map_err(anyhow::Error::msg)?;
    Ok((channel, address, Running { stop, task }))
}

/// campaign-svc in-process on loopback over `db` (system clock, the saga settings of the
/// environment, as the binary reads them), calling its peers at the given addresses.
pub(crate) async fn start_campaign(
    db: &TestDb,
    pool_size: u32,
    membership: std::net::SocketAddr,
    coupon: std::net::SocketAddr,
) -> anyhow::Result<(tonic::transport::Channel, Running)> {
    let clock = memberhub_kit::clock::system();
    start_campaign_at(db, pool_size, (membership, coupon), clock, |_| {}).await
}

/// [`start_campaign`] on `clock`, with the saga settings changed by `tune`.
pub(crate) async fn start_campaign_at(
    db: &TestDb,
    pool_size: u32,
    (membership, coupon): (std::net::SocketAddr, std::net::SocketAddr),
    clock: memberhub_kit::clock::SharedClock,
    tune: impl FnOnce(&mut campaign_svc::config::SagaConfig),
) -> anyhow::Result<(tonic::transport::Channel, Running)> {
    let pool = db.pool(pool_size).await?;
    let (listener, address) = bind_loopback().await?;
    let from_env = campaign_svc::config::from_env(Some(db.url.clone()))?;
    let mut config = campaign_svc::Config::new(
        from_env.process,
        format!("http://{membership}"),
        format!("http://{coupon}"),
    );
    config.saga = from_env.saga;
    tune(&mut config.saga);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(error) =
            campaign_svc::serve_migrated(&config, pool, clock, listener, shutdown).await
        {
            tracing::error!(error = %error, "campaign-svc stopped");
        }
    });
    let channel = wait_until_serving(address)
        .await
        .map_err(anyhow::Error::msg)?;
    Ok((channel, Running { stop, task }))
}

/// A service started by a loadgen.
pub(crate) struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops the service and waits for it, so its last log line comes before the report.
    pub(crate) async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Runs pgbench on its own database of the same server and returns its transactions/s:
/// `args` are the workload options (e.g. `-b tpcb-like`), `scale` the `-i` scale.
pub(crate) async fn pgbench_tps(
    server_url: &str,
    scale: u32,
    clients: usize,
    seconds: u64,
    args: &[&str],
) -> anyhow::Result<f64> {
    let url = memberhub_kit::db::ensure_database(server_url, "memberhub_pgbench").await?;
    let bin = find_pgbench().context("pgbench not found: install the Postgres client tools")?;
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
pub(crate) fn server_of(db: &TestDb) -> String {
    memberhub_kit::db::with_database(&db.url, "postgres")
}

// ------------------------------------------------------------------ output

/// Prints the machine-readable result; callers print it LAST.
pub(crate) fn print_json_line(value: &serde_json::Value) {
    println!("{value}");
}

/// Rounds to two decimals for the JSON line.
pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut l = Latencies::default();
        for ms in 1..=100u64 {
            l.record(Duration::from_millis(ms));
        }
        assert_eq!(l.percentile_ms(50.0), 50.0);
        assert_eq!(l.percentile_ms(99.0), 99.0);
        assert_eq!(l.percentile_ms(100.0), 100.0);
        assert_eq!(Latencies::default().percentile_ms(50.0), 0.0);
    }
}
