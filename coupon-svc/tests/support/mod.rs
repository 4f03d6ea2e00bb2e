//! Starts coupon-svc on 127.0.0.1:0 over a fresh database, with a settable clock, plus
//! helpers to build batches, claim, and check the stock invariants in the database.
#![allow(dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use memberhub_kit::actor::Actor;
use memberhub_kit::clock::{ManualClock, to_timestamp};
use memberhub_kit::testing::{TestDb, as_actor, bind_loopback, wait_until_serving};
use memberhub_proto::common::{CouponChannel, OrderLine, ShopType};
use memberhub_proto::coupon as pb;
use memberhub_proto::coupon::coupon_service_client::CouponServiceClient;
use tonic::transport::Channel;

pub(crate) struct Harness {
    pub client: CouponServiceClient<Channel>,
    pub clock: ManualClock,
    pub db: TestDb,
    pub pool: sqlx::PgPool,
    pub address: std::net::SocketAddr,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// The harness's starting time: 2026-11-01 08:00 UTC.
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0)
        .single()
        .unwrap_or_default()
}

pub(crate) async fn start() -> anyhow::Result<Harness> {
    memberhub_kit::telemetry::init_for_tests();
    let db = TestDb::new(&[&coupon_svc::MIGRATOR]).await?;
    let pool = db.pool(8).await?;
    let clock = ManualClock::new(t0());
    let (listener, address) = bind_loopback().await?;
    let config = coupon_svc::config::from_env(Some(db.url.clone()))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shared = std::sync::Arc::new(clock.clone());
    let serving_pool = pool.clone();
    tokio::spawn(async move {
        let _ = coupon_svc::serve_migrated(&config, serving_pool, shared, listener, async {
            let _ = stopped.await;
        })
        .await;
    });
    let channel = wait_until_serving(address)
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(Harness {
        client: CouponServiceClient::new(channel),
        clock,
        db,
        pool,
        address,
        _shutdown: stop,
    })
}

/// A second coupon-svc process-alike on the same database (own pool, own issuer queues).
pub(crate) struct Instance {
    pub client: CouponServiceClient<Channel>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Harness {
    /// Starts another instance of the service over the same database.
    pub(crate) async fn second_instance(&self) -> anyhow::Result<Instance> {
        let pool = self.db.pool(8).await?;
        let (listener, address) = bind_loopback().await?;
        let config = coupon_svc::config::from_env(Some(self.db.url.clone()))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = std::sync::Arc::new(self.clock.clone());
        tokio::spawn(async move {
            let _ = coupon_svc::serve_migrated(&config, pool, shared, listener, async {
                let _ = stopped.await;
            })
            .await;
        });
        let channel = wait_until_serving(address)
            .await
            .map_err(anyhow::Error::msg)?;
        Ok(Instance {
            client: CouponServiceClient::new(channel),
            _shutdown: stop,
        })
    }

    /// Another connection to the service (for many concurrent callers).
    pub(crate) async fn another_client(&self) -> anyhow::Result<CouponServiceClient<Channel>> {
        let channel = wait_until_serving(self.address)
            .await
            .map_err(anyhow::Error::msg)?;
        Ok(CouponServiceClient::new(channel))
    }
}

pub(crate) fn operator() -> Actor {
    Actor::Operator
}

pub(crate) fn service() -> Actor {
    Actor::Service {
        name: "campaign-svc".into(),
    }
}

pub(crate) fn merchant(shop_id: &str) -> Actor {
    Actor::Merchant {
        shop_id: shop_id.into(),
    }
}

pub(crate) fn shopper(user_id: &str) -> Actor {
    Actor::Shopper {
        user_id: user_id.into(),
    }
}

pub(crate) fn req<T>(actor: &Actor, message: T) -> tonic::Request<T> {
    as_actor(actor, message)
}

/// A fresh idempotency key.
pub(crate) fn rid(label: &str) -> String {
    format!("{label}-{}", uuid::Uuid::now_v7())
}

/// A fresh shop id.
pub(crate) fn new_shop() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub(crate) fn ts(at: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(to_timestamp(at))
}

/// A valid GENERAL spend-100-save-20 batch of 100, limit 1, one coupon per issue,
/// claimable from t0 - 1 h for a day, valid 7 days from the claim.
pub(crate) fn batch_spec(shop_id: &str) -> pb::Batch {
    pb::Batch {
        shop_id: shop_id.into(),
        shop_type: ShopType::Pop.into(),
        internal_name: "Double 11 internal: spend 100 save 20".into(),
        kind: pb::CouponKind::Threshold.into(),
        face_value_fen: 2_000,
        threshold_fen: 10_000,
        channel: CouponChannel::General.into(),
        total_quantity: 100,
        per_user_limit: 1,
        per_issue_count: 1,
        claim_start_time: ts(t0() - Duration::hours(1)),
        claim_end_time: ts(t0() + Duration::days(1)),
        validity: Some(pb::Validity {
            kind: pb::ValidityKind::Relative.into(),
            relative_days: 7,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Absolute validity [from, until).
pub(crate) fn absolute(from: DateTime<Utc>, until: DateTime<Utc>) -> Option<pb::Validity> {
    Some(pb::Validity {
        kind: pb::ValidityKind::Absolute.into(),
        start_time: ts(from),
        end_time: ts(until),
        ..Default::default()
    })
}

pub(crate) async fn create(h: &mut Harness, batch: pb::Batch) -> Result<pb::Batch, tonic::Status> {
    let actor = merchant(&batch.shop_id);
    let request = pb::CreateBatchRequest {
        request_id: rid("create"),
        batch: Some(batch),
    };
    Ok(h.client
        .create_batch(req(&actor, request))
        .await?
        .into_inner())
}

pub(crate) async fn submit(h: &mut Harness, batch: &pb::Batch) -> Result<pb::Batch, tonic::Status> {
    let request = pb::SubmitBatchRequest {
        request_id: rid("submit"),
        batch_id: batch.batch_id.clone(),
        shop_id: batch.shop_id.clone(),
    };
    Ok(h.client
        .submit_batch(req(&merchant(&batch.shop_id), request))
        .await?
        .into_inner())
}

/// Creates `batch` and makes it ACTIVE (submitting it; approving it for self-operated shops).
pub(crate) async fn active(h: &mut Harness, batch: pb::Batch) -> anyhow::Result<pb::Batch> {
    let created = create(h, batch).await?;
    let mut submitted = submit(h, &created).await?;
    if submitted.status() == pb::BatchStatus::PendingApproval {
        let request = pb::ApproveBatchRequest {
            request_id: rid("approve"),
            batch_id: created.batch_id.clone(),
        };
        submitted = h
            .client
            .approve_batch(req(&operator(), request))
            .await?
            .into_inner();
    }
    anyhow::ensure!(
        submitted.status() == pb::BatchStatus::Active,
        "{submitted:?}"
    );
    Ok(submitted)
}

/// A storefront claim of a GENERAL batch by `user`.
pub(crate) fn claim_request(batch: &pb::Batch, user: &str) -> pb::IssueCouponsRequest {
    pb::IssueCouponsRequest {
        request_id: rid("claim"),
        batch_id: batch.batch_id.clone(),
        user_id: user.into(),
        channel: batch.channel,
        ..Default::default()
    }
}

pub(crate) async fn claim(
    h: &mut Harness,
    batch: &pb::Batch,
    user: &str,
) -> Result<pb::IssueCouponsResponse, tonic::Status> {
    let request = claim_request(batch, user);
    Ok(h.client
        .issue_coupons(req(&shopper(user), request))
        .await?
        .into_inner())
}

pub(crate) async fn get_batch(h: &mut Harness, batch_id: &str) -> anyhow::Result<pb::Batch> {
    let request = pb::GetBatchRequest {
        shop_id: String::new(),
        batch: batch_id.into(),
    };
    Ok(h.client
        .get_batch(req(&operator(), request))
        .await?
        .into_inner())
}

pub(crate) fn line(sku: &str, category: &str, quantity: i64, price: i64) -> OrderLine {
    OrderLine {
        sku: sku.into(),
        category: category.into(),
        quantity,
        unit_price_fen: price,
        ..Default::default()
    }
}

/// The `ErrorInfo.reason` of a status, if any.
pub(crate) fn reason(status: &tonic::Status) -> Option<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
}

/// The fields named by a status's `BadRequest` details.
pub(crate) fn fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// The error of a call that must fail; an error (not a panic) when it succeeded.
pub(crate) fn expect_err<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
) -> anyhow::Result<tonic::Status> {
    match result {
        Ok(response) => anyhow::bail!("expected an error, got {response:?}"),
        Err(status) => Ok(status),
    }
}

/// Asserts INVALID_ARGUMENT whose `BadRequest` names `field`.
#[track_caller]
pub(crate) fn assert_invalid(status: &tonic::Status, field: &str) {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let named = fields(status);
    assert!(
        named.iter().any(|f| f == field),
        "expected a violation of {field}, got {named:?} ({status:?})"
    );
}

/// Asserts FAILED_PRECONDITION with `ErrorInfo.reason` = `expected`.
#[track_caller]
pub(crate) fn assert_precondition(status: &tonic::Status, expected: &str) {
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    assert_eq!(reason(status).as_deref(), Some(expected), "{status:?}");
}

/// Asserts RESOURCE_EXHAUSTED with `ErrorInfo.reason` = `expected`.
#[track_caller]
pub(crate) fn assert_exhausted(status: &tonic::Status, expected: &str) {
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert_eq!(reason(status).as_deref(), Some(expected), "{status:?}");
}

/// Asserts a bare status code.
#[track_caller]
pub(crate) fn assert_code(status: &tonic::Status, code: tonic::Code) {
    assert_eq!(status.code(), code, "{status:?}");
}

/// What the database holds for a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Counts {
    pub total: i64,
    pub free: i64,
    pub issues: i64,
    pub coupons: i64,
    pub reserved_live: i64,
    pub issued_from_allocations: i64,
    pub max_per_user: i64,
}

pub(crate) async fn counts(pool: &sqlx::PgPool, batch_id: &str) -> anyhow::Result<Counts> {
    let id = uuid::Uuid::parse_str(batch_id)?;
    let (total, free, free_issued): (i64, i64, i64) = sqlx::query_as(
        "SELECT b.total_quantity, s.free, s.issued FROM coupon.batches b JOIN coupon.stock s USING (batch_id)
         WHERE b.batch_id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await?;
    let (issues, coupons): (i64, i64) = sqlx::query_as(
        "SELECT count(DISTINCT issue_id), count(*) FROM coupon.coupons WHERE batch_id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await?;
    let (reserved_live, issued_from_allocations): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(sum(remaining), 0)::bigint, COALESCE(sum(issued), 0)::bigint
         FROM coupon.allocations WHERE batch_id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await?;
    let max_per_user: i64 = sqlx::query_scalar(
        "SELECT COALESCE(max(n), 0) FROM (SELECT count(DISTINCT issue_id) AS n FROM coupon.coupons
         WHERE batch_id = $1 GROUP BY user_id) per_user",
    )
    .bind(id)
    .fetch_one(pool)
    .await?;
    let _ = free_issued;
    Ok(Counts {
        total,
        free,
        issues,
        coupons,
        reserved_live,
        issued_from_allocations,
        max_per_user,
    })
}

/// CP-3/CP-4 invariants of a batch; empty when they all hold.
pub(crate) async fn invariant_violations(
    pool: &sqlx::PgPool,
    batch_id: &str,
    per_issue_count: i64,
    per_user_limit: i64,
) -> anyhow::Result<Vec<String>> {
    let c = counts(pool, batch_id).await?;
    let mut broken = Vec::new();
    if c.issues > c.total {
        broken.push(format!("over-issued: {} issues of {}", c.issues, c.total));
    }
    if c.free + c.issues + c.reserved_live != c.total {
        broken.push(format!(
            "stock not conserved: free {} + issues {} + reserved {} != total {}",
            c.free, c.issues, c.reserved_live, c.total
        ));
    }
    if c.coupons != c.issues * per_issue_count {
        broken.push(format!(
            "{} coupons for {} issues of {per_issue_count}",
            c.coupons, c.issues
        ));
    }
    if per_user_limit > 0 && c.max_per_user > per_user_limit {
        broken.push(format!(
            "a shopper holds {} issues, limit {per_user_limit}",
            c.max_per_user
        ));
    }
    Ok(broken)
}
