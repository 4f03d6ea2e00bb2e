//! `memberhub loadgen joins`: card openings per second with the open-card gift granted end
//! to end (OC-7, OC-8).
//!
//! membership-svc, coupon-svc and campaign-svc run in-process on loopback over one fresh
//! database, with the system clock. A POP shop under join policy CARD has beans in its
//! budget, an ACTIVE INTERACTIVE threshold batch, and a live open-card gift of BEANS 5 +
//! THRESHOLD_COUPON (that batch) + POINTS 10, quantity `--stock`. `--joiners` distinct
//! shoppers then open the card through membership's `OpenCard` from `--clients` concurrent
//! gRPC clients. Each opening is one membership transaction that writes the member and an
//! outbox event; campaign-svc's consumer reads the event, records a claim and runs its saga:
//! issue the coupon from the campaign's allocation in coupon-svc, pay the beans out of the
//! reserved budget and the points through membership's ledger, then mark it GRANTED.
//!
//! Measured: packs granted / (first OpenCard sent -> last claim's `granted_at`), and per
//! winner the latency from its OpenCard being sent to its claim's `granted_at` (both from
//! the system clock of this one machine); the OpenCard RPC rate on its own as well.
//!
//! Baseline, in the same run: the naive monolith version of "join + grant" as ONE local
//! transaction, run by pgbench at the same client count on pgbench's own tables: update the
//! member row (`pgbench_accounts`, a random one of 100,000), decrement the hot pack-stock row
//! (`pgbench_branches` bid 1), debit the hot budget row (`pgbench_tellers` tid 1), insert the
//! claim row and the coupon row (`pgbench_history`). It is what one process owning all the
//! tables would do. Ours does much more per grant: it crosses three services, an outbox, a
//! consumer and a saga of several idempotent steps, each with its own commit, and keeps a
//! ledger with both sides of every transfer. The ratio says what that decoupling costs (or,
//! where the hot rows serialise the monolith, gains) on this machine.
//!
//! Invariants, read in the owning services' tables: packs granted == min(stock, joiners);
//! no claim FAILED or left unfinished; exactly one coupon of the batch per winner
//! (`coupon.coupons`), one 5-bean and one 10-point transfer per winner
//! (`membership.transfers`) and nothing for anyone else; the coupon allocation and the bean
//! budget (available, reserved) match the grants to the unit; every OpenCard succeeded.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use memberhub_kit::actor::Actor;
use memberhub_kit::clock::to_timestamp;
use memberhub_kit::testing::as_actor;
use memberhub_proto::campaign as campaign_pb;
use memberhub_proto::campaign::campaign_service_client::CampaignServiceClient;
use memberhub_proto::common::{Asset, CouponChannel, ShopType};
use memberhub_proto::coupon as coupon_pb;
use memberhub_proto::coupon::coupon_service_client::CouponServiceClient;
use memberhub_proto::membership as pb;
use memberhub_proto::membership::membership_service_client::MembershipServiceClient;
use tonic::transport::Channel;

use super::{Latencies, round2};

const BEANS: i64 = 5;
const POINTS: i64 = 10;
/// Beans recharged beyond what the gift reserves (so a wrong debit shows).
const SPARE_BEANS: i64 = 1_000;

#[derive(Debug, clap::Args)]
pub(crate) struct JoinsArgs {
    /// Concurrent gRPC clients opening cards (also pgbench's -c).
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Distinct shoppers opening the card, each once.
    #[arg(long, default_value_t = 3_000)]
    pub joiners: usize,
    /// The gift quantity (packs in stock).
    #[arg(long, default_value_t = 2_000)]
    pub stock: i64,
    /// HTTP/2 connections the clients share.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Seconds to wait, after the last OpenCard, for every claim to be final.
    #[arg(long, default_value_t = 180)]
    pub settle_timeout: u64,
    /// Seconds of pgbench for the baseline.
    #[arg(long, default_value_t = 10)]
    pub baseline_seconds: u64,
    /// Keep the scratch database.
    #[arg(long)]
    pub keep_database: bool,
}

#[derive(Debug, serde::Serialize)]
struct JoinsReport {
    bench: &'static str,
    clients: usize,
    joiners: usize,
    stock: i64,
    throughput_per_s: f64,
    open_card_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    baseline_per_s: f64,
    ratio: f64,
    packs_granted: i64,
    invariants_ok: bool,
}

fn merchant(shop_id: &str) -> Actor {
    Actor::Merchant {
        shop_id: shop_id.into(),
    }
}

fn rid(label: &str) -> String {
    format!("joins-{label}-{}", uuid::Uuid::now_v7())
}

/// An 11-digit mobile number per joiner.
fn phone_of(i: usize) -> String {
    format!("139{:08}", i % 100_000_000)
}

fn user_of(i: usize) -> String {
    format!("joiner-{i}")
}

struct Setup {
    shop: String,
    batch_id: String,
    campaign_id: String,
    recharged: i64,
}

/// The shop, its budget, the batch and the live gift.
async fn setup(
    membership: &mut MembershipServiceClient<Channel>,
    coupon: &mut CouponServiceClient<Channel>,
    campaign: &mut CampaignServiceClient<Channel>,
    stock: i64,
) -> anyhow::Result<Setup> {
    let shop = membership
        .create_shop(as_actor(
            &Actor::Operator,
            pb::CreateShopRequest {
                request_id: rid("shop"),
                name: "Joins Bench".into(),
                r#type: ShopType::Pop.into(),
                logo_url: "https://img.example.com/joins.png".into(),
                time_zone: String::new(),
                gift_items: false,
            },
        ))
        .await?
        .into_inner()
        .shop_id;
    membership
        .set_join_policy(as_actor(
            &merchant(&shop),
            pb::SetJoinPolicyRequest {
                request_id: rid("policy"),
                shop_id: shop.clone(),
                join_policy: pb::JoinPolicy::Card.into(),
            },
        ))
        .await?;
    let recharged = BEANS * stock + SPARE_BEANS;
    membership
        .recharge_budget(as_actor(
            &merchant(&shop),
            pb::RechargeBudgetRequest {
                request_id: rid("recharge"),
                shop_id: shop.clone(),
                asset: Asset::Beans.into(),
                amount: recharged,
            },
        ))
        .await?;

    let now = Utc::now();
    let batch = coupon_pb::Batch {
        shop_id: shop.clone(),
        shop_type: ShopType::Pop.into(),
        internal_name: "joins bench batch".into(),
        kind: coupon_pb::CouponKind::Threshold.into(),
        face_value_fen: 2_000,
        threshold_fen: 10_000,
        channel: CouponChannel::Interactive.into(),
        total_quantity: stock,
        per_user_limit: 1,
        per_issue_count: 1,
        claim_start_time: Some(to_timestamp(now - chrono::Duration::days(1))),
        claim_end_time: Some(to_timestamp(now + chrono::Duration::days(30))),
        validity: Some(coupon_pb::Validity {
            kind: coupon_pb::ValidityKind::Relative.into(),
            relative_days: 7,
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = coupon
        .create_batch(as_actor(
            &merchant(&shop),
            coupon_pb::CreateBatchRequest {
                request_id: rid("batch"),
                batch: Some(batch),
            },
        ))
        .await?
        .into_inner();
    let batch = coupon
        .submit_batch(as_actor(
            &merchant(&shop),
            coupon_pb::SubmitBatchRequest {
                request_id: rid("submit"),
                batch_id: created.batch_id.clone(),
                shop_id: shop.clone(),
            },
        ))
        .await?
        .into_inner();
    anyhow::ensure!(
        batch.status() == coupon_pb::BatchStatus::Active,
        "the batch is not ACTIVE: {batch:?}"
    );

    let prize = |kind: campaign_pb::PrizeType, amount: i64, batch_key: &str| campaign_pb::Prize {
        r#type: kind.into(),
        amount,
        batch_key: batch_key.into(),
    };
    let gift = campaign
        .create_open_card_gift(as_actor(
            &merchant(&shop),
            campaign_pb::CreateOpenCardGiftRequest {
                request_id: rid("gift"),
                gift: Some(campaign_pb::OpenCardGift {
                    shop_id: shop.clone(),
                    name: "开卡有礼".into(),
                    start_time: Some(to_timestamp(now - chrono::Duration::minutes(1))),
                    end_time: Some(to_timestamp(now + chrono::Duration::days(3))),
                    prizes: vec![
                        prize(campaign_pb::PrizeType::Beans, BEANS, ""),
                        prize(campaign_pb::PrizeType::ThresholdCoupon, 0, &batch.batch_key),
                        prize(campaign_pb::PrizeType::Points, POINTS, ""),
                    ],
                    gift_quantity: stock,
                    ..Default::default()
                }),
            },
        ))
        .await?
        .into_inner();
    anyhow::ensure!(
        gift.status() == campaign_pb::CampaignStatus::Live,
        "the gift is not LIVE: {gift:?}"
    );
    anyhow::ensure!(
        gift.packs_left == stock,
        "packs_left {} != stock {stock}",
        gift.packs_left
    );
    Ok(Setup {
        shop,
        batch_id: batch.batch_id,
        campaign_id: gift.campaign_id,
        recharged,
    })
}

/// What the load phase saw.
struct Load {
    /// Per joiner: when its OpenCard was sent.
    sent: HashMap<String, DateTime<Utc>>,
    first_sent: Option<DateTime<Utc>>,
    errors: usize,
    elapsed: Duration,
    rpc: Latencies,
}

/// `joiners` OpenCard calls from `clients` tasks over `channels`, each joiner once.
async fn open_cards(channels: &[Channel], shop: &str, args: &JoinsArgs) -> anyhow::Result<Load> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..args.clients {
        let channel = channels
            .get(client % channels.len().max(1))
            .context("no channel")?
            .clone();
        let (next, shop, joiners) = (next.clone(), shop.to_string(), args.joiners);
        tasks.spawn(async move {
            let mut grpc = MembershipServiceClient::new(channel);
            let (mut sent, mut rpc, mut errors) = (Vec::new(), Latencies::default(), 0usize);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= joiners {
                    break;
                }
                let user = user_of(i);
                let request = as_actor(
                    &Actor::Shopper {
                        user_id: user.clone(),
                    },
                    pb::OpenCardRequest {
                        request_id: rid("open"),
                        shop_id: shop.clone(),
                        user_id: user.clone(),
                        phone: phone_of(i),
                        ..Default::default()
                    },
                );
                let at = Utc::now();
                let call = Instant::now();
                match grpc.open_card(request).await {
                    Ok(_) => rpc.record(call.elapsed()),
                    Err(status) => {
                        errors += 1;
                        if errors <= 3 {
                            eprintln!("joins: OpenCard for {user} failed: {status:?}");
                        }
                    }
                }
                sent.push((user, at));
            }
            (sent, rpc, errors)
        });
    }
    let mut load = Load {
        sent: HashMap::with_capacity(args.joiners),
        first_sent: None,
        errors: 0,
        elapsed: Duration::ZERO,
        rpc: Latencies::default(),
    };
    while let Some(joined) = tasks.join_next().await {
        let (sent, rpc, errors) = joined?;
        for (user, at) in sent {
            load.first_sent = Some(load.first_sent.map_or(at, |first| first.min(at)));
            load.sent.insert(user, at);
        }
        load.rpc.merge(rpc);
        load.errors += errors;
    }
    load.elapsed = started.elapsed();
    Ok(load)
}

/// Claim counts of the campaign: (granted, failed, unfinished).
async fn claim_counts(pool: &sqlx::PgPool, campaign_id: &str) -> anyhow::Result<(i64, i64, i64)> {
    let row: (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'GRANTED'),
                count(*) FILTER (WHERE state = 'FAILED'),
                count(*) FILTER (WHERE state IN ('PENDING', 'GRANTING'))
         FROM campaign.claims WHERE source_id = $1",
    )
    .bind(campaign_id)
    .fetch_one(pool)
    .await?;
    Ok(row)
}

/// Polls until `expected` claims are final and none is unfinished, then once more after a
/// pause (so a late event would show as an extra claim); false on timeout.
async fn wait_final(
    pool: &sqlx::PgPool,
    campaign_id: &str,
    expected: i64,
    timeout: Duration,
) -> anyhow::Result<bool> {
    let deadline = Instant::now() + timeout;
    let mut last_report = Instant::now();
    loop {
        let (granted, failed, unfinished) = claim_counts(pool, campaign_id).await?;
        if granted + failed >= expected && unfinished == 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let (_, _, unfinished) = claim_counts(pool, campaign_id).await?;
            return Ok(unfinished == 0);
        }
        if Instant::now() > deadline {
            eprintln!(
                "joins: claims not final after {timeout:?}: {granted} granted, {failed} failed, {unfinished} unfinished"
            );
            return Ok(false);
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            println!(
                "joins: waiting for grants: {granted} granted, {failed} failed, {unfinished} unfinished"
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks every invariant in the owning services' tables; prints each failure.
async fn check(
    pool: &sqlx::PgPool,
    membership: &mut MembershipServiceClient<Channel>,
    setup: &Setup,
    args: &JoinsArgs,
    winners: &HashSet<String>,
    counts: (i64, i64, i64),
) -> anyhow::Result<bool> {
    let mut ok = true;
    let mut fail = |what: String| {
        eprintln!("joins: INVARIANT BROKEN: {what}");
        ok = false;
    };
    let expected = args.stock.min(args.joiners as i64);
    let (granted, failed, unfinished) = counts;
    if (granted, failed, unfinished) != (expected, 0, 0) {
        fail(format!(
            "claims: {granted} granted, {failed} failed, {unfinished} unfinished; expected {expected} granted"
        ));
    }
    if winners.len() as i64 != granted {
        fail(format!(
            "{granted} granted claims for {} shoppers",
            winners.len()
        ));
    }

    // coupon-svc: one coupon of the batch per winner, nobody else.
    let batch: uuid::Uuid = setup.batch_id.parse()?;
    let coupons: Vec<(String, i64)> = sqlx::query_as(
        "SELECT user_id, count(*) FROM coupon.coupons WHERE batch_id = $1 GROUP BY user_id",
    )
    .bind(batch)
    .fetch_all(pool)
    .await?;
    let holders: HashSet<&String> = coupons.iter().map(|(u, _)| u).collect();
    if coupons.len() != winners.len()
        || coupons.iter().any(|(u, n)| *n != 1 || !winners.contains(u))
        || winners.iter().any(|w| !holders.contains(w))
    {
        fail(format!(
            "coupons: {} holders, {} coupons, for {} winners",
            coupons.len(),
            coupons.iter().map(|(_, n)| n).sum::<i64>(),
            winners.len()
        ));
    }
    let allocation: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT reserved, issued, remaining FROM coupon.allocations WHERE holder = $1",
    )
    .bind(&setup.campaign_id)
    .fetch_optional(pool)
    .await?;
    if allocation != Some((args.stock, granted, args.stock - granted)) {
        fail(format!(
            "allocation (reserved, issued, remaining) = {allocation:?}, expected ({}, {granted}, {})",
            args.stock,
            args.stock - granted
        ));
    }

    // membership-svc: one 5-bean and one 10-point transfer per winner, nobody else.
    let shop: uuid::Uuid = setup.shop.parse()?;
    let transfers: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT to_owner, asset, count(*), sum(amount)::bigint FROM membership.transfers
         WHERE shop_id = $1 AND to_kind = 'MEMBER' GROUP BY to_owner, asset",
    )
    .bind(shop)
    .fetch_all(pool)
    .await?;
    let mut by_asset: HashMap<&str, HashMap<&str, (i64, i64)>> = HashMap::new();
    for (owner, asset, n, sum) in &transfers {
        by_asset
            .entry(asset.as_str())
            .or_default()
            .insert(owner.as_str(), (*n, *sum));
    }
    for (asset, amount) in [("BEANS", BEANS), ("POINTS", POINTS)] {
        let got = by_asset.remove(asset).unwrap_or_default();
        let whole = got.len() == winners.len()
            && winners
                .iter()
                .all(|w| got.get(w.as_str()) == Some(&(1, amount)));
        if !whole {
            fail(format!(
                "{asset} transfers to members: {} owners, expected {} winners with one of {amount} each",
                got.len(),
                winners.len()
            ));
        }
    }
    if !by_asset.is_empty() {
        fail(format!(
            "unexpected transfers to members of {:?}",
            by_asset.keys().collect::<Vec<_>>()
        ));
    }

    // The bean budget: the gift reserved stock x 5; what was paid out left the reservation.
    let balances = membership
        .list_budget_balances(as_actor(
            &merchant(&setup.shop),
            pb::ListBudgetBalancesRequest {
                shop_id: setup.shop.clone(),
            },
        ))
        .await?
        .into_inner();
    let beans = balances
        .balances
        .iter()
        .find(|b| b.asset == Asset::Beans as i32)
        .map(|b| (b.available, b.reserved))
        .unwrap_or_default();
    let expected_beans = (
        setup.recharged - BEANS * args.stock,
        BEANS * (args.stock - granted),
    );
    if beans != expected_beans {
        fail(format!(
            "bean budget (available, reserved) = {beans:?}, expected {expected_beans:?}"
        ));
    }
    Ok(ok)
}

/// The monolith's "join + grant" as one transaction on pgbench's tables (scale 1).
const BASELINE_SCRIPT: &str = "\
\\set aid random(1, 100000)
BEGIN;
-- the member row: the card is opened
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
-- the hot pack-stock row
UPDATE pgbench_branches SET bbalance = bbalance - 1 WHERE bid = 1;
-- the hot budget row: 5 beans
UPDATE pgbench_tellers SET tbalance = tbalance - 5 WHERE tid = 1;
-- the claim row
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, :aid, 5, CURRENT_TIMESTAMP);
-- the coupon row
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (2, 1, :aid, 1, CURRENT_TIMESTAMP);
END;
";

async fn baseline(server_url: &str, clients: usize, seconds: u64) -> anyhow::Result<f64> {
    let dir = std::env::temp_dir().join(format!("memberhub-joins-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("join_and_grant.sql");
    std::fs::write(&file, BASELINE_SCRIPT)?;
    let path = file.to_string_lossy().into_owned();
    let tps = super::pgbench_tps(server_url, 1, clients, seconds, &["-f", &path]).await;
    let _ = std::fs::remove_dir_all(&dir);
    tps
}

pub(crate) async fn run(args: JoinsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.clients > 0 && args.joiners > 0 && args.stock > 0,
        "--clients, --joiners and --stock must be positive"
    );
    let db = super::fresh_database(&[
        &membership_svc::MIGRATOR,
        &coupon_svc::MIGRATOR,
        &campaign_svc::MIGRATOR,
    ])
    .await?;
    let (membership_channel, membership_address, membership_running) =
        super::start_membership_at(&db, 8, memberhub_kit::clock::system()).await?;
    let (coupon_channel, coupon_address, coupon_running) = super::start_coupon(&db, 8).await?;
    let (campaign_channel, campaign_running) =
        super::start_campaign(&db, 16, membership_address, coupon_address).await?;
    let pool = db.pool(2).await?;
    let mut membership = MembershipServiceClient::new(membership_channel);
    let setup = setup(
        &mut membership,
        &mut CouponServiceClient::new(coupon_channel),
        &mut CampaignServiceClient::new(campaign_channel),
        args.stock,
    )
    .await?;
    println!(
        "joins: shop {} (CARD), gift {} of {} packs (BEANS {BEANS} + THRESHOLD_COUPON + POINTS {POINTS})",
        setup.shop, setup.campaign_id, args.stock
    );

    let mut channels = Vec::new();
    for _ in 0..args.connections.clamp(1, args.clients) {
        channels.push(
            memberhub_kit::testing::wait_until_serving(membership_address)
                .await
                .map_err(anyhow::Error::msg)?,
        );
    }
    println!(
        "joins: {} shoppers open the card from {} clients over {} connections ...",
        args.joiners,
        args.clients,
        channels.len()
    );
    let mut load = open_cards(&channels, &setup.shop, &args).await?;
    let opened = args.joiners - load.errors;
    let open_card_rate = opened as f64 / load.elapsed.as_secs_f64().max(f64::EPSILON);
    println!(
        "joins: {opened} cards opened in {:.2} s = {open_card_rate:.0} OpenCard/s (RPC p50 {:.1} ms, p99 {:.1} ms); {} failed",
        load.elapsed.as_secs_f64(),
        load.rpc.percentile_ms(50.0),
        load.rpc.percentile_ms(99.0),
        load.errors
    );

    let expected = args.stock.min(args.joiners as i64);
    let settled = wait_final(
        &pool,
        &setup.campaign_id,
        expected,
        Duration::from_secs(args.settle_timeout),
    )
    .await?;
    let counts = claim_counts(&pool, &setup.campaign_id).await?;
    let granted_claims: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT user_id, granted_at FROM campaign.claims
         WHERE source_id = $1 AND state = 'GRANTED' AND granted_at IS NOT NULL",
    )
    .bind(&setup.campaign_id)
    .fetch_all(&pool)
    .await?;
    let mut latencies = Latencies::default();
    let mut last_granted: Option<DateTime<Utc>> = None;
    let mut unknown = 0usize;
    for (user, granted_at) in &granted_claims {
        last_granted = Some(last_granted.map_or(*granted_at, |last| last.max(*granted_at)));
        match load.sent.get(user) {
            Some(sent) => latencies.record((*granted_at - *sent).to_std().unwrap_or_default()),
            None => unknown += 1,
        }
    }
    let packs = granted_claims.len() as i64;
    let window = match (load.first_sent, last_granted) {
        (Some(first), Some(last)) => (last - first).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    };
    let throughput = packs as f64 / window.as_secs_f64().max(f64::EPSILON);
    let (p50, p99) = (latencies.percentile_ms(50.0), latencies.percentile_ms(99.0));
    println!(
        "joins: {packs} packs granted in {:.2} s (first OpenCard -> last grant) = {throughput:.0} packs/s; OpenCard sent -> granted p50 {p50:.1} ms, p99 {p99:.1} ms",
        window.as_secs_f64()
    );

    let winners: HashSet<String> = granted_claims.iter().map(|(u, _)| u.clone()).collect();
    let mut invariants_ok = settled && load.errors == 0 && unknown == 0;
    if unknown > 0 {
        eprintln!(
            "joins: INVARIANT BROKEN: {unknown} granted claims for shoppers who never joined"
        );
    }
    invariants_ok &= check(&pool, &mut membership, &setup, &args, &winners, counts).await?;
    println!(
        "joins: invariants {}",
        if invariants_ok { "ok" } else { "BROKEN" }
    );

    // The services stop (and give their connections back) before pgbench runs.
    pool.close().await;
    campaign_running.shutdown().await;
    coupon_running.shutdown().await;
    membership_running.shutdown().await;
    println!(
        "joins: baseline: pgbench, {0} clients, {1} s, one transaction per join + grant (member row, hot stock row, hot budget row, claim row, coupon row) ...",
        args.clients, args.baseline_seconds
    );
    let baseline = baseline(&super::server_of(&db), args.clients, args.baseline_seconds).await?;
    println!("joins: baseline {baseline:.0} tps");
    if args.keep_database {
        println!("joins: keeping database {}", db.name);
        std::mem::forget(db);
    }

    // The last line, fields in the documented order.
    println!(
        "{}",
        serde_json::to_string(&JoinsReport {
            bench: "joins",
            clients: args.clients,
            joiners: args.joiners,
            stock: args.stock,
            throughput_per_s: throughput.round(),
            open_card_per_s: open_card_rate.round(),
            p50_ms: round2(p50),
            p99_ms: round2(p99),
            baseline_per_s: baseline.round(),
            ratio: round2(throughput / baseline.max(f64::EPSILON)),
            packs_granted: packs,
            invariants_ok,
        })?
    );
    Ok(())
}
