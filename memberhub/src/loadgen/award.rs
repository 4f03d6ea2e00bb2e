//! `memberhub loadgen award`: SP-6's award run. The three services run in-process on one
//! settable clock. A shop joins a plan with D = `--distribution`; `--registered` shoppers
//! (members by a paid order) register, `--qualified` of them reach the threshold through
//! receipt confirmations at distinct times in the sprint; then the clock moves to the award
//! start and the run is timed until the shop's award has finished.
//!
//! Invariants, read from the tables: exactly D shoppers hold coupons of the reward batch,
//! 2 each, and they are the first D by qualification time; the rest of the qualified are
//! `NOT_AWARDED_OUT_OF_STOCK`; nobody else holds one.
//!
//! Baseline, in the same run on the same Postgres: the naive award, one transaction per
//! shopper that takes 2 units from the batch's hot stock row and inserts the 2 coupons
//! (into a table with the same keys and indexes as `coupon.coupons`), run by pgbench (or an
//! equivalent sqlx loop) at the award's concurrency: the calls it has in flight.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, DurationRound, Utc};
use futures::{StreamExt, TryStreamExt};
use memberhub_kit::actor::Actor;
use memberhub_kit::clock::{ManualClock, to_timestamp};
use memberhub_kit::testing::as_actor;
use memberhub_proto::campaign as campaign_pb;
use memberhub_proto::campaign::campaign_service_client::CampaignServiceClient;
use memberhub_proto::coupon::coupon_service_client::CouponServiceClient;
use memberhub_proto::membership as membership_pb;
use memberhub_proto::membership::membership_service_client::MembershipServiceClient;

#[derive(Debug, clap::Args)]
pub(crate) struct AwardArgs {
    /// Shoppers registered with the shop.
    #[arg(long, default_value_t = 100_000)]
    pub registered: usize,
    /// Of them, shoppers who reach the threshold.
    #[arg(long, default_value_t = 60_000)]
    pub qualified: usize,
    /// D: the shop's distribution quantity.
    #[arg(long, default_value_t = 40_000)]
    pub distribution: usize,
    /// Seconds the baseline runs.
    #[arg(long, default_value_t = 10)]
    pub baseline_seconds: u64,
    /// Skip the baseline (ratio 0).
    #[arg(long)]
    pub skip_baseline: bool,
}

/// The award's `BatchIssueCoupons` calls in flight (campaign-svc `sprint_award::IN_FLIGHT`).
const CONCURRENCY: usize = 2;
/// The sprint threshold, in fen.
const THRESHOLD: i64 = 20_000;
/// Events per BatchReportOrderEvents call, and calls in flight while seeding.
const EVENTS_PER_CALL: usize = 1_000;
const SEED_CONCURRENCY: usize = 2;
/// Events reported between two refreshes of the statistics (see [`report`]).
const ANALYZE_EVERY: usize = 10_000;

fn user(i: usize) -> String {
    format!("award-{i:06}")
}

pub(crate) async fn run(args: AwardArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.distribution <= args.qualified && args.qualified <= args.registered,
        "expected distribution <= qualified <= registered"
    );
    let db = super::fresh_database(&[
        &membership_svc::MIGRATOR,
        &coupon_svc::MIGRATOR,
        &campaign_svc::MIGRATOR,
    ])
    .await?;
    let t0 = Utc::now().duration_trunc(chrono::Duration::hours(1))?;
    let clock = ManualClock::new(t0);
    let shared: memberhub_kit::clock::SharedClock = Arc::new(clock.clone());
    let (membership_channel, membership_address, membership_running) =
        super::start_membership_at(&db, 16, shared.clone()).await?;
    let (coupon_channel, coupon_address, coupon_running) =
        super::start_coupon_at(&db, 16, shared.clone()).await?;
    // Due awards are looked for every 20 ms instead of every second, so the figure is the
    // run's and not the wait for its next round.
    let (campaign_channel, campaign_running) = super::start_campaign_at(
        &db,
        16,
        (membership_address, coupon_address),
        shared,
        |saga| saga.award_every = Duration::from_millis(20),
    )
    .await?;
    let mut membership = MembershipServiceClient::new(membership_channel);
    let mut coupon = CouponServiceClient::new(coupon_channel);
    let campaign = CampaignServiceClient::new(campaign_channel);

    let at = |days: i64| t0 + chrono::Duration::days(days);
    let shop = super::create_shop(&mut membership, "award").await?;
    let (plan_id, batch_id) =
        join_plan(&campaign, &mut coupon, &shop, args.distribution, at).await?;
    let order_system = Actor::Service {
        name: "order-system".into(),
    };

    // Members by an order (a confirmation implies its payment, OR-2), before the sprint;
    // then registered during registration.
    println!("award: {} members joining by an order ...", args.registered);
    let paid = (0..args.registered).map(|i| event(&shop, i, "join", 100, t0));
    let pool = db.pool(2).await?;
    report(&membership, &order_system, paid, &pool).await?;
    clock.set(at(1));
    println!("award: registering {} shoppers ...", args.registered);
    let started = Instant::now();
    for slice in (0..args.registered)
        .collect::<Vec<_>>()
        .chunks(ANALYZE_EVERY)
    {
        futures::stream::iter(slice.iter().copied())
            .map(|i| register(&campaign, &plan_id, &shop, i))
            .buffer_unordered(64)
            .try_collect::<()>()
            .await?;
        // As in `report`: fresh tables get their statistics here, not from autovacuum.
        analyze(&pool).await?;
    }
    println!(
        "award: registered in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The first `qualified` reach the threshold, shopper i at sprint start + i × 10 ms.
    clock.set(at(3) + chrono::Duration::hours(1));
    println!("award: {} shoppers qualifying ...", args.qualified);
    let confirmed = (0..args.qualified).map(|i| {
        let when = at(3) + chrono::Duration::milliseconds(i as i64 * 10);
        event(&shop, i, "sprint", THRESHOLD, when)
    });
    report(&membership, &order_system, confirmed, &pool).await?;
    wait_until(
        &pool,
        "SELECT count(*) FROM campaign.sprint_registrations WHERE qualified_at IS NOT NULL",
        args.qualified as i64,
        "qualified",
    )
    .await?;

    // The award phase starts. Timed from when the event consumer has recorded that it is
    // caught up after the award start (what the run waits for; the consumer notices it when
    // its stream has been idle a second) until the award has finished: ranking, issuing and
    // recording.
    println!("award: the award phase starts");
    clock.set(at(5));
    let moved = Instant::now();
    wait_until(
        &pool,
        "SELECT count(*) FROM campaign.event_cursors c, campaign.sprint_plans p
         WHERE c.caught_up_at >= p.award_start",
        1,
        "consumer caught up",
    )
    .await?;
    let caught_up = Instant::now();
    wait_until(
        &pool,
        "SELECT count(*) FROM campaign.sprint_plan_shops WHERE award_finished_at IS NOT NULL",
        1,
        "award finished",
    )
    .await?;
    let elapsed = caught_up.elapsed();
    let detect_ms = (caught_up - moved).as_secs_f64() * 1000.0;
    let awards_per_s = args.distribution as f64 / elapsed.as_secs_f64().max(f64::EPSILON);
    println!(
        "award: caught up {detect_ms:.0} ms after the clock moved; {} awards in {:.0} ms: {awards_per_s:.0} awards/s",
        args.distribution,
        elapsed.as_secs_f64() * 1000.0
    );
    let broken = invariants(&pool, &batch_id, &args).await?;
    for line in &broken {
        println!("INVARIANT BROKEN: {line}");
    }

    let baseline = if args.skip_baseline {
        0.0
    } else {
        let rate = baseline(&db, args.baseline_seconds).await?;
        println!(
            "baseline (one transaction per award: hot-row UPDATE + 2 coupon INSERTs, {CONCURRENCY} clients): {rate:.0} awards/s"
        );
        rate
    };
    let ratio = if baseline > 0.0 {
        awards_per_s / baseline
    } else {
        0.0
    };
    println!("ratio: {ratio:.2}x the baseline");
    pool.close().await;
    campaign_running.shutdown().await;
    coupon_running.shutdown().await;
    membership_running.shutdown().await;
    super::print_json_line(&serde_json::json!({
        "bench": "award",
        "clients": CONCURRENCY,
        "registered": args.registered,
        "qualified": args.qualified,
        "distribution": args.distribution,
        "detect_ms": super::round2(detect_ms),
        "award_ms": super::round2(elapsed.as_secs_f64() * 1000.0),
        "throughput_per_s": super::round2(awards_per_s),
        "baseline_per_s": super::round2(baseline),
        "ratio": super::round2(ratio),
        "invariants_ok": broken.is_empty(),
    }));
    Ok(())
}

/// SP-4: shopper `i` registers (a member already, so no card).
async fn register(
    campaign: &CampaignServiceClient<tonic::transport::Channel>,
    plan_id: &str,
    shop: &str,
    i: usize,
) -> anyhow::Result<()> {
    let shopper = Actor::Shopper { user_id: user(i) };
    campaign
        .clone()
        .register_sprint_plan(as_actor(
            &shopper,
            campaign_pb::RegisterSprintPlanRequest {
                request_id: format!("register-{i}"),
                plan_id: plan_id.to_string(),
                shop_id: shop.to_string(),
                user_id: user(i),
                card: None,
            },
        ))
        .await
        .with_context(|| format!("registering {}", user(i)))?;
    Ok(())
}

/// Creates the plan and joins the shop with its reward batch: (plan id, batch id).
async fn join_plan(
    campaign: &CampaignServiceClient<tonic::transport::Channel>,
    coupon: &mut CouponServiceClient<tonic::transport::Channel>,
    shop: &str,
    distribution: usize,
    at: impl Fn(i64) -> DateTime<Utc>,
) -> anyhow::Result<(String, String)> {
    let mut campaign = campaign.clone();
    let ts = |days: i64| Some(to_timestamp(at(days)));
    let plan = campaign
        .create_sprint_plan(as_actor(
            &Actor::Operator,
            campaign_pb::CreateSprintPlanRequest {
                request_id: "award-plan".into(),
                plan: Some(campaign_pb::SprintPlan {
                    name: "loadgen sprint".into(),
                    registration_start_time: ts(1),
                    sprint_start_time: ts(3),
                    award_start_time: ts(5),
                    redemption_start_time: ts(7),
                    redemption_end_time: ts(9),
                    required_distribution: distribution as i64,
                    min_face_value_fen: 2_000,
                    max_fold_percent: 90,
                    ..Default::default()
                }),
            },
        ))
        .await?
        .into_inner();
    let joined = memberhub::demo_sprint::join(
        coupon,
        &mut campaign,
        (shop, &plan),
        "award",
        (THRESHOLD, distribution as i64),
    )
    .await?;
    Ok((plan.plan_id, joined.batch_id))
}

/// Shopper `i`'s order `label`, receipt-confirmed at `at`.
fn event(
    shop: &str,
    i: usize,
    label: &str,
    amount_fen: i64,
    at: DateTime<Utc>,
) -> membership_pb::OrderEvent {
    membership_pb::OrderEvent {
        r#type: membership_pb::OrderEventType::ReceiptConfirmed.into(),
        order_id: format!("{label}-{i}"),
        shop_id: shop.to_string(),
        user_id: user(i),
        amount_fen,
        refund_id: String::new(),
        lines: Vec::new(),
        occur_time: Some(to_timestamp(at)),
    }
}

/// Reports `events` through BatchReportOrderEvents. Every [`ANALYZE_EVERY`] events the
/// database's statistics are refreshed: on tables this new autovacuum has not analysed yet,
/// membership-svc's batch ingest gets nested-loop plans that grow with the table (a batch
/// of 1,000 took over 10 s at a few tens of thousands of members), which is the seeding's
/// problem, not the award's.
async fn report(
    membership: &MembershipServiceClient<tonic::transport::Channel>,
    order_system: &Actor,
    events: impl Iterator<Item = membership_pb::OrderEvent>,
    pool: &sqlx::PgPool,
) -> anyhow::Result<()> {
    let events: Vec<_> = events.collect();
    for slice in events.chunks(ANALYZE_EVERY) {
        report_slice(membership, order_system, slice).await?;
        analyze(pool).await?;
    }
    Ok(())
}

/// Refreshes the statistics of membership-svc's and campaign-svc's tables (see [`report`]).
/// Not coupon-svc's: they are still empty here, and statistics of an empty table would
/// steer its issuing statements to nested loops once the award fills it.
async fn analyze(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
         WHERE schemaname IN ('membership', 'campaign')",
    )
    .fetch_all(pool)
    .await?;
    // The names come from the catalog, quoted by `format(%I)`.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ANALYZE {}",
        tables.join(", ")
    )))
    .execute(pool)
    .await?;
    Ok(())
}

async fn report_slice(
    membership: &MembershipServiceClient<tonic::transport::Channel>,
    order_system: &Actor,
    events: &[membership_pb::OrderEvent],
) -> anyhow::Result<()> {
    let calls: Vec<Vec<_>> = events.chunks(EVENTS_PER_CALL).map(<[_]>::to_vec).collect();
    futures::stream::iter(calls.into_iter().enumerate())
        .map(|(n, events)| {
            let mut membership = membership.clone();
            let request_id = format!("award-events-{}-{n}", uuid::Uuid::now_v7());
            async move {
                membership
                    .batch_report_order_events(as_actor(
                        order_system,
                        membership_pb::BatchReportOrderEventsRequest { request_id, events },
                    ))
                    .await
                    .map(|_| ())
                    .context("reporting order events")
            }
        })
        .buffer_unordered(SEED_CONCURRENCY)
        .try_collect::<()>()
        .await
}

/// Polls `count_sql` until it reaches `target` (10 minutes at most).
async fn wait_until(
    pool: &sqlx::PgPool,
    count_sql: &'static str,
    target: i64,
    what: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let seen: i64 = sqlx::query_scalar(count_sql).fetch_one(pool).await?;
        if seen >= target {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{what}: {seen} of {target} after 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What SP-6 promises, read from coupon-svc's and campaign-svc's tables; the broken ones.
async fn invariants(
    pool: &sqlx::PgPool,
    batch_id: &str,
    args: &AwardArgs,
) -> anyhow::Result<Vec<String>> {
    let mut broken = Vec::new();
    let held: Vec<(String, i64)> = sqlx::query_as(
        "SELECT user_id, count(*) FROM coupon.coupons WHERE batch_id = $1::uuid GROUP BY user_id",
    )
    .bind(batch_id)
    .fetch_all(pool)
    .await?;
    if let Some((who, n)) = held.iter().find(|(_, n)| *n != 2) {
        broken.push(format!("{who} holds {n} coupons, not 2"));
    }
    let holders: HashSet<String> = held.into_iter().map(|(u, _)| u).collect();
    let expected: HashSet<String> = (0..args.distribution).map(user).collect();
    if holders != expected {
        broken.push(format!(
            "{} shoppers hold coupons; {} of them outside the first {} by qualification",
            holders.len(),
            holders.difference(&expected).count(),
            args.distribution
        ));
    }
    let states: Vec<(Option<String>, i64)> = sqlx::query_as(
        "SELECT award_state, count(*) FROM campaign.sprint_registrations GROUP BY award_state",
    )
    .fetch_all(pool)
    .await?;
    let count = |state: Option<&str>| {
        states
            .iter()
            .find(|(s, _)| s.as_deref() == state)
            .map_or(0, |(_, n)| *n)
    };
    let expected_states = [
        (Some("AWARDED"), args.distribution),
        (
            Some("NOT_AWARDED_OUT_OF_STOCK"),
            args.qualified - args.distribution,
        ),
        (None, args.registered - args.qualified),
    ];
    for (state, n) in expected_states {
        if count(state) != n as i64 {
            broken.push(format!(
                "{} registrations in {state:?}, expected {n}",
                count(state)
            ));
        }
    }
    Ok(broken)
}

/// The naive award: one transaction per shopper taking 2 units from the hot stock row and
/// inserting the 2 coupons.
const NAIVE_SCRIPT: &str = "\\set uid random(1, 1000000000)\n\
    BEGIN;\n\
    UPDATE loadgen_award.stock SET remaining = remaining - 2 WHERE id = 1 AND remaining >= 2;\n\
    INSERT INTO loadgen_award.coupons (coupon_id, code, batch_id, user_id, issued_at) VALUES \
    (gen_random_uuid(), md5(random()::text), '00000000-0000-0000-0000-000000000001', :uid, now()), \
    (gen_random_uuid(), md5(random()::text), '00000000-0000-0000-0000-000000000001', :uid, now());\n\
    END;\n";

/// Awards per second of the naive award at [`CONCURRENCY`] clients.
async fn baseline(db: &memberhub_kit::testing::TestDb, seconds: u64) -> anyhow::Result<f64> {
    let setup = db.pool(1).await?;
    sqlx::raw_sql(
        "CREATE SCHEMA loadgen_award;
         CREATE TABLE loadgen_award.stock (id int PRIMARY KEY, remaining bigint NOT NULL);
         INSERT INTO loadgen_award.stock VALUES (1, 1000000000);
         CREATE TABLE loadgen_award.coupons (
             coupon_id uuid PRIMARY KEY, code text NOT NULL UNIQUE, batch_id uuid NOT NULL,
             user_id text NOT NULL, issued_at timestamptz NOT NULL);
         CREATE INDEX ON loadgen_award.coupons (user_id, coupon_id DESC);
         CREATE INDEX ON loadgen_award.coupons (batch_id);",
    )
    .execute(&setup)
    .await?;
    setup.close().await;
    let duration = Duration::from_secs(seconds);
    let result = match super::find_pgbench() {
        Some(bin) => super::pgbench(&bin, &db.url, NAIVE_SCRIPT, CONCURRENCY, duration).await?,
        None => {
            println!("pgbench not found: measuring the baseline with an equivalent sqlx loop");
            super::sqlx_loop(&db.url, CONCURRENCY, duration, |mut conn| async move {
                let uid = uuid::Uuid::now_v7().as_u128() as u32;
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                sqlx::query(
                    "UPDATE loadgen_award.stock SET remaining = remaining - 2 WHERE id = 1 AND remaining >= 2",
                )
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO loadgen_award.coupons (coupon_id, code, batch_id, user_id, issued_at)
                     SELECT gen_random_uuid(), md5(random()::text), '00000000-0000-0000-0000-000000000001', $1, now()
                     FROM generate_series(1, 2)",
                )
                .bind(uid.to_string())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(conn)
            })
            .await?
        }
    };
    Ok(result.transactions_per_s)
}
