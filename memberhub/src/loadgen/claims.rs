//! `memberhub loadgen claims`: the CP-3 hot path under load.
//!
//! 1. Starts coupon-svc in-process on 127.0.0.1:0 over a fresh database and publishes one
//!    hot GENERAL batch.
//! 2. `--clients` concurrent gRPC clients (over `--connections` HTTP/2 connections) claim it
//!    in a closed loop for `--duration` seconds after a short warm-up: claims/s, p50, p99.
//!    The measurement runs in `--rounds` slices, each followed by a baseline slice of the same
//!    length (step 5), so that both see the same machine.
//! 3. A sell-out round: the same clients race `4 x --sellout-quantity` claims, by twice as
//!    many shoppers as there are units (each trying twice, limit 1), for a batch of
//!    `--sellout-quantity`; exactly that many must succeed, none twice for one shopper.
//! 4. Checks in the database: issues == min(quantity, successful claims) == successful
//!    claims, coupons == issues x per_issue_count, free stock + issues == quantity, and no
//!    shopper over the per-user limit.
//! 5. The baseline at the same client count, interleaved with step 2: pgbench (or an sqlx
//!    loop) running the naive claim, `UPDATE .. SET remaining = remaining - 1 WHERE id = $hot AND remaining > 0` plus
//!    one `INSERT`, on the same Postgres.
//!
//! The last line printed is one JSON object.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use memberhub_kit::actor::Actor;
use memberhub_kit::clock::to_timestamp;
use memberhub_kit::testing::as_actor;
use memberhub_proto::common::{CouponChannel, ShopType};
use memberhub_proto::coupon as pb;
use memberhub_proto::coupon::coupon_service_client::CouponServiceClient;
use serde_json::json;
use tonic::transport::Channel;

use super::{Latencies, ScratchDb, round2};

#[derive(Debug, clap::Args)]
pub(crate) struct ClaimsArgs {
    /// Concurrent clients, each claiming in a closed loop (also pgbench's -c).
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Measured seconds, ours and the baseline's each (pgbench's -T per round).
    #[arg(long, default_value_t = 12)]
    duration: u64,
    /// Rounds alternating our slice and the baseline's, so that both see the same machine.
    #[arg(long, default_value_t = 3)]
    rounds: u64,
    /// Warm-up seconds before measuring.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// HTTP/2 connections the clients share.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// The hot batch's quantity (large enough not to sell out while measuring).
    #[arg(long, default_value_t = 10_000_000)]
    quantity: i64,
    /// Per-user limit of the hot batch.
    #[arg(long, default_value_t = 2)]
    per_user_limit: i32,
    /// Coupons per issue.
    #[arg(long, default_value_t = 1)]
    per_issue_count: i32,
    /// Distinct shoppers per client; 0 gives every claim a new shopper. With a pool, shoppers
    /// repeat and some claims meet the per-user limit.
    #[arg(long, default_value_t = 0)]
    users_per_client: u64,
    /// Quantity of the sell-out round's batch (4x as many claims race for it); 0 skips it.
    #[arg(long, default_value_t = 500)]
    sellout_quantity: i64,
    /// coupon-svc's connection pool.
    #[arg(long, default_value_t = 8)]
    pool_size: u32,
    /// Skip the baseline (ratio 0).
    #[arg(long)]
    skip_baseline: bool,
    /// Keep the scratch database for a look.
    #[arg(long)]
    keep_database: bool,
}

/// What the clients saw.
#[derive(Debug, Default)]
struct Tally {
    ok: u64,
    refused: HashMap<String, u64>,
    latencies: Latencies,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.ok += other.ok;
        for (reason, n) in other.refused {
            *self.refused.entry(reason).or_insert(0) += n;
        }
        self.latencies.merge(other.latencies);
    }
}

pub(crate) async fn run(args: ClaimsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.clients >= 1 && args.connections >= 1,
        "need a client and a connection"
    );
    let db = ScratchDb::create()
        .await
        .context("creating a scratch database")?;
    println!("loadgen claims: database {}", db.name);
    let result = measure(&args, &db).await;
    if !args.keep_database {
        db.drop_now().await?;
    }
    let line = result?;
    super::print_json_line(&line);
    Ok(())
}

async fn measure(args: &ClaimsArgs, db: &ScratchDb) -> anyhow::Result<serde_json::Value> {
    let pool = memberhub_kit::db::connect(&db.url, args.pool_size, "coupon-svc").await?;
    memberhub_kit::db::migrate(&pool, &coupon_svc::MIGRATOR).await?;
    let (address, stop, server) = start_service(args, pool.clone()).await?;
    let connections = connect(address, args.connections).await?;

    // The hot batch.
    let shop = uuid::Uuid::now_v7().to_string();
    let mut admin = connections[0].clone();
    let hot = publish(
        &mut admin,
        &shop,
        args.quantity,
        args.per_user_limit,
        args.per_issue_count,
    )
    .await?;
    println!(
        "hot batch {} ({}): quantity {}, per-user limit {}, {} coupon(s) per issue",
        hot.batch_key, hot.batch_id, args.quantity, args.per_user_limit, args.per_issue_count
    );
    let warm = claim_for(
        args,
        &connections,
        &hot,
        Duration::from_secs(args.warmup),
        "warm",
        None,
    )
    .await?;

    // Measured rounds: our slice, then the baseline's, so both see the same machine.
    let baseline = if args.skip_baseline {
        None
    } else {
        Some(Baseline::prepare(db).await?)
    };
    let rounds = args.rounds.max(1);
    let slice = Duration::from_secs((args.duration / rounds).max(1));
    let mut measured = Tally::default();
    let mut elapsed = 0.0;
    let mut baseline_rates = Vec::new();
    for round in 0..rounds {
        let started = Instant::now();
        // Each round its own shoppers and keys: a repeated key would replay, not claim.
        let phase = format!("hot{round}");
        let tally = claim_for(args, &connections, &hot, slice, &phase, None).await?;
        let took = started.elapsed().as_secs_f64();
        let ours = tally.ok as f64 / took;
        elapsed += took;
        measured.merge(tally);
        let theirs = match &baseline {
            Some(b) => b.run(args.clients, slice).await?,
            None => 0.0,
        };
        baseline_rates.push(theirs);
        println!(
            "round {}/{rounds}: {ours:.0} claims/s; baseline {theirs:.0} claims/s",
            round + 1
        );
    }
    let throughput = measured.ok as f64 / elapsed;
    let baseline_per_s = baseline_rates.iter().sum::<f64>() / baseline_rates.len() as f64;
    let (p50, p99) = (
        measured.latencies.percentile_ms(50.0),
        measured.latencies.percentile_ms(99.0),
    );
    let attempts = measured.latencies.len();
    println!(
        "claims: {} ok of {attempts} in {elapsed:.1} s with {} clients -> {throughput:.0} claims/s, p50 {p50:.2} ms, p99 {p99:.2} ms; refused {:?}",
        measured.ok, args.clients, measured.refused
    );
    let successes = warm.ok + measured.ok;
    let mut broken = check(&pool, &hot, successes, args.per_user_limit).await?;

    // The sell-out round.
    let mut sellout_line = serde_json::Value::Null;
    if args.sellout_quantity > 0 {
        let limited = publish(
            &mut admin,
            &shop,
            args.sellout_quantity,
            1,
            args.per_issue_count,
        )
        .await?;
        let budget = u64::try_from(args.sellout_quantity * 4).unwrap_or(u64::MAX);
        let round = claim_for(
            args,
            &connections,
            &limited,
            Duration::from_secs(600),
            "sellout",
            Some((Arc::new(AtomicU64::new(0)), budget)),
        )
        .await?;
        println!(
            "sell-out: {} claims by {} shoppers (limit 1) raced for {}: {} ok, refused {:?}",
            budget,
            budget / 2,
            args.sellout_quantity,
            round.ok,
            round.refused
        );
        if round.ok != u64::try_from(args.sellout_quantity).unwrap_or(0) {
            broken.push(format!(
                "sell-out issued {} of {}",
                round.ok, args.sellout_quantity
            ));
        }
        broken.extend(check(&pool, &limited, round.ok, 1).await?);
        sellout_line = json!({"quantity": args.sellout_quantity, "claims": budget, "ok": round.ok});
    }
    let invariants_ok = broken.is_empty();
    if invariants_ok {
        println!("invariants: ok (no over-issue, no shopper over the limit, stock conserved)");
    } else {
        println!("invariants BROKEN: {broken:?}");
    }
    let _ = stop.send(());
    drop(connections);
    drop(admin);
    let _ = server.await;
    pool.close().await;

    if let Some(b) = &baseline {
        println!(
            "baseline ({}, {} clients, one hot-row UPDATE + one INSERT per claim): {baseline_per_s:.0} claims/s",
            b.tool(),
            args.clients
        );
    }
    let ratio = if baseline_per_s > 0.0 {
        throughput / baseline_per_s
    } else {
        0.0
    };
    println!("ratio: {ratio:.2}x the baseline");
    Ok(json!({
        "bench": "claims",
        "clients": args.clients,
        "throughput_per_s": round2(throughput),
        "p50_ms": round2(p50),
        "p99_ms": round2(p99),
        "baseline_per_s": round2(baseline_per_s),
        "ratio": round2(ratio),
        "invariants_ok": invariants_ok,
        "duration_s": elapsed.round(),
        "rounds": rounds,
        "sellout": sellout_line,
    }))
}

type Server = tokio::task::JoinHandle<Result<(), memberhub_kit::server::ServeError>>;

async fn start_service(
    args: &ClaimsArgs,
    pool: sqlx::PgPool,
) -> anyhow::Result<(SocketAddr, tokio::sync::oneshot::Sender<()>, Server)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let service = memberhub_kit::config::ServiceConfig {
        pool_size: args.pool_size,
        request_timeout: Duration::from_secs(30),
        concurrency_limit: args.clients.max(1024),
        ..Default::default()
    };
    let config = coupon_svc::Config::new(memberhub_kit::config::ProcessConfig {
        service,
        database_url: String::new(),
        listen: address,
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        coupon_svc::serve_migrated(
            &config,
            pool,
            memberhub_kit::clock::system(),
            listener,
            async {
                let _ = stopped.await;
            },
        )
        .await
    });
    memberhub_kit::testing::wait_until_serving(address)
        .await
        .map_err(anyhow::Error::msg)?;
    Ok((address, stop, server))
}

async fn connect(
    address: SocketAddr,
    n: usize,
) -> anyhow::Result<Vec<CouponServiceClient<Channel>>> {
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))?
            .tcp_nodelay(true)
            .connect()
            .await?;
        clients.push(CouponServiceClient::new(channel));
    }
    Ok(clients)
}

/// Creates and submits (POP: straight to ACTIVE) a GENERAL batch.
async fn publish(
    client: &mut CouponServiceClient<Channel>,
    shop: &str,
    quantity: i64,
    per_user_limit: i32,
    per_issue_count: i32,
) -> anyhow::Result<pb::Batch> {
    let merchant = Actor::Merchant {
        shop_id: shop.into(),
    };
    let now = Utc::now();
    let batch = pb::Batch {
        shop_id: shop.into(),
        shop_type: ShopType::Pop.into(),
        internal_name: "loadgen hot batch".into(),
        kind: pb::CouponKind::Threshold.into(),
        face_value_fen: 2_000,
        threshold_fen: 10_000,
        channel: CouponChannel::General.into(),
        total_quantity: quantity,
        per_user_limit,
        per_issue_count,
        claim_start_time: Some(to_timestamp(now - chrono::Duration::minutes(1))),
        claim_end_time: Some(to_timestamp(now + chrono::Duration::days(1))),
        validity: Some(pb::Validity {
            kind: pb::ValidityKind::Relative.into(),
            relative_days: 7,
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = client
        .create_batch(as_actor(
            &merchant,
            pb::CreateBatchRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                batch: Some(batch),
            },
        ))
        .await?
        .into_inner();
    let active = client
        .submit_batch(as_actor(
            &merchant,
            pb::SubmitBatchRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                batch_id: created.batch_id,
                shop_id: shop.into(),
            },
        ))
        .await?
        .into_inner();
    anyhow::ensure!(
        active.status() == pb::BatchStatus::Active,
        "batch not active: {active:?}"
    );
    Ok(active)
}

/// Every client claims in a closed loop until `duration` passes (or, with a budget, until
/// the clients together made that many attempts).
async fn claim_for(
    args: &ClaimsArgs,
    connections: &[CouponServiceClient<Channel>],
    batch: &pb::Batch,
    duration: Duration,
    phase: &str,
    budget: Option<(Arc<AtomicU64>, u64)>,
) -> anyhow::Result<Tally> {
    let deadline = Instant::now() + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for client_index in 0..args.clients {
        let mut client = connections[client_index % connections.len()].clone();
        let batch_id = batch.batch_id.clone();
        let users = args.users_per_client;
        let budget = budget.clone();
        let phase = phase.to_string();
        tasks.spawn(async move {
            let mut tally = Tally::default();
            let mut n: u64 = 0;
            while Instant::now() < deadline {
                let user = match &budget {
                    // A shared budget of attempts over half as many shoppers: each tries twice.
                    Some((spent, limit)) => {
                        let attempt = spent.fetch_add(1, Ordering::Relaxed);
                        if attempt >= *limit {
                            break;
                        }
                        format!("{phase}-u{}", attempt / 2)
                    }
                    None if users == 0 => format!("{phase}-{client_index}-{n}"),
                    None => format!("{phase}-{client_index}-u{}", n % users),
                };
                n += 1;
                let request = pb::IssueCouponsRequest {
                    request_id: format!("{phase}-{client_index}-{n}"),
                    batch_id: batch_id.clone(),
                    user_id: user.clone(),
                    channel: CouponChannel::General.into(),
                    ..Default::default()
                };
                let shopper = Actor::Shopper { user_id: user };
                let sent = Instant::now();
                let outcome = client.issue_coupons(as_actor(&shopper, request)).await;
                tally.latencies.record(sent.elapsed());
                match outcome {
                    Ok(_) => tally.ok += 1,
                    Err(status) => {
                        let reason = reason(&status);
                        *tally.refused.entry(reason).or_insert(0) += 1;
                    }
                }
            }
            tally
        });
    }
    let mut total = Tally::default();
    while let Some(joined) = tasks.join_next().await {
        total.merge(joined?);
    }
    Ok(total)
}

fn reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_else(|| format!("{:?}", status.code()))
}

/// CP-3's invariants in the database for `batch` after `successes` successful claims.
async fn check(
    pool: &sqlx::PgPool,
    batch: &pb::Batch,
    successes: u64,
    per_user_limit: i32,
) -> anyhow::Result<Vec<String>> {
    let id = uuid::Uuid::parse_str(&batch.batch_id)?;
    let (quantity, free): (i64, i64) = sqlx::query_as(
        "SELECT b.total_quantity, s.free FROM coupon.batches b JOIN coupon.stock s USING (batch_id)
         WHERE b.batch_id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await?;
    let (issues, coupons, max_per_user): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(DISTINCT issue_id), count(*),
                COALESCE((SELECT max(n) FROM (SELECT count(DISTINCT issue_id) AS n FROM coupon.coupons
                          WHERE batch_id = $1 GROUP BY user_id) per_user), 0)
         FROM coupon.coupons WHERE batch_id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await?;
    let successes = i64::try_from(successes)?;
    let mut broken = Vec::new();
    if issues != successes.min(quantity) || issues != successes {
        broken.push(format!(
            "{issues} issues in the database for {successes} successful claims of {quantity}"
        ));
    }
    if coupons != issues * i64::from(batch.per_issue_count) {
        broken.push(format!("{coupons} coupons for {issues} issues"));
    }
    if free + issues != quantity {
        broken.push(format!(
            "free {free} + issues {issues} != quantity {quantity}"
        ));
    }
    if per_user_limit > 0 && max_per_user > i64::from(per_user_limit) {
        broken.push(format!(
            "a shopper holds {max_per_user} issues, limit {per_user_limit}"
        ));
    }
    Ok(broken)
}

/// The naive claim at the same client count, on the same Postgres: pgbench, or an
/// equivalent sqlx loop when pgbench is not installed.
struct Baseline {
    url: String,
    pgbench: Option<std::path::PathBuf>,
}

/// One naive claim: a conditional decrement of the hot row, then one insert (each its own
/// statement, as the script says; wrapping both in one transaction measured slower here).
const NAIVE_SCRIPT: &str = "\\set uid random(1, 1000000000)\n\
    UPDATE loadgen_baseline.stock SET remaining = remaining - 1 WHERE id = 1 AND remaining > 0;\n\
    INSERT INTO loadgen_baseline.claims (user_id, claimed_at) VALUES (:uid, now());\n";

impl Baseline {
    async fn prepare(db: &ScratchDb) -> anyhow::Result<Self> {
        let setup = memberhub_kit::db::connect(&db.url, 1, "memberhub-loadgen").await?;
        sqlx::raw_sql(
            "CREATE SCHEMA loadgen_baseline;
             CREATE TABLE loadgen_baseline.stock (id int PRIMARY KEY, remaining bigint NOT NULL);
             INSERT INTO loadgen_baseline.stock VALUES (1, 1000000000);
             CREATE TABLE loadgen_baseline.claims (
                 id bigserial PRIMARY KEY, user_id bigint NOT NULL, claimed_at timestamptz NOT NULL);",
        )
        .execute(&setup)
        .await?;
        setup.close().await;
        let pgbench = super::find_pgbench();
        if pgbench.is_none() {
            println!("pgbench not found: measuring the baseline with an equivalent sqlx loop");
        }
        Ok(Self {
            url: db.url.clone(),
            pgbench,
        })
    }

    fn tool(&self) -> &'static str {
        if self.pgbench.is_some() {
            "pgbench"
        } else {
            "sqlx loop"
        }
    }

    /// Claims per second over `duration` at `clients`.
    async fn run(&self, clients: usize, duration: Duration) -> anyhow::Result<f64> {
        let result = match &self.pgbench {
            Some(bin) => super::pgbench(bin, &self.url, NAIVE_SCRIPT, clients, duration).await?,
            None => {
                super::sqlx_loop(&self.url, clients, duration, |mut conn| async move {
                    sqlx::query(
                        "UPDATE loadgen_baseline.stock SET remaining = remaining - 1 WHERE id = 1 AND remaining > 0",
                    )
                    .execute(&mut *conn)
                    .await?;
                    sqlx::query(
                        "INSERT INTO loadgen_baseline.claims (user_id, claimed_at) VALUES ($1, now())",
                    )
                    .bind(i64::from(rand_user()))
                    .execute(&mut *conn)
                    .await?;
                    Ok(conn)
                })
                .await?
            }
        };
        Ok(result.transactions_per_s)
    }
}

/// A pseudo-random user id for the baseline's INSERT (its value does not matter).
fn rand_user() -> u32 {
    uuid::Uuid::now_v7().as_u128() as u32
}
