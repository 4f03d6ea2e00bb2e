//! Runs claims (OC-7, GP-9, PT-3). Each step calls its owning service with the step's
//! idempotency key, so running a step twice (after a crash, or by the reconciler and a
//! late runner at once) applies it once. Progress is saved when the claim finishes; a crash
//! before that simply replays the steps, whose peers answer with the first result.
//!
//! Outcomes: every step done -> GRANTED. A peer refuses for good before anything was
//! granted -> FAILED. A refusal after points were spent -> the points are refunded, then
//! FAILED (PT-3). Anything else (a peer unavailable, a refusal after a grant) leaves the claim
//! GRANTING for the reconciler, with a growing back-off; never half, never twice.

use std::sync::Arc;
use tracing::Instrument;

use chrono::{DateTime, Utc};
use memberhub_kit::clock::SharedClock;
use memberhub_proto::common::Asset;
use memberhub_proto::coupon as coupon_pb;
use memberhub_proto::membership as membership_pb;
use tokio::sync::Semaphore;

use crate::config::{FaultPoint, Faults, SagaConfig, StepKind};
use crate::domain::claim::{Action, StepResult, TransitionError, refund_key};
use crate::domain::open_card_gift::PrizeType;
use crate::domain::types::ClaimId;
use crate::error::{Error, reason_of};
use crate::peers::{self, Peers};
use crate::store::Store;
use crate::store::claims::{self, ClaimRecord, Lease};

#[derive(Debug, Clone)]
pub(crate) struct Saga {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    peers: Peers,
    clock: SharedClock,
    config: SagaConfig,
    permits: Semaphore,
    faults: Faults,
}

/// How a step went.
enum StepOutcome {
    Done(StepResult),
    /// The peer said no for good: its reason.
    Refused(String),
    /// Not now: try again later.
    Later(String),
}

impl Saga {
    pub(crate) fn new(
        store: Store,
        peers: Peers,
        clock: SharedClock,
        config: SagaConfig,
        faults: Faults,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                peers,
                clock,
                permits: Semaphore::new(config.concurrency),
                config,
                faults,
            }),
        }
    }

    /// A fault test's stop: the run goes no further (as if the process died here).
    async fn fault(&self, point: FaultPoint) {
        if let Some(hook) = &self.inner.faults.0
            && hook(point)
        {
            tracing::warn!(?point, "fault injected: this claim run stops here");
            std::future::pending::<()>().await;
        }
    }

    pub(crate) fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// The lease a freshly recorded claim is held under by its creator.
    pub(crate) fn lease_until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::Duration::from_std(self.inner.config.lease)
            .unwrap_or(chrono::Duration::seconds(30))
    }

    /// Runs a claim this process just recorded (and so holds under `lease`) in the
    /// background.
    pub(crate) fn spawn(&self, id: ClaimId, lease: Lease) {
        let saga = self.clone();
        // in the span (and so the trace) of what recorded the claim
        tokio::spawn(
            async move {
                if let Err(e) = saga.run_held(id, lease).await {
                    tracing::warn!(claim_id = %id, error = %e, "claim run stopped; the reconciler resumes it");
                }
            }
            .in_current_span(),
        );
    }

    /// The claim a request recorded, run to the end or to a pause when this request holds
    /// it (`held`: it recorded the claim); else (a retry answered with the first request's
    /// claim) as it stands, taken over only if its runner's lease ran out.
    pub(crate) async fn answer(
        &self,
        id: ClaimId,
        held: Option<Lease>,
    ) -> Result<ClaimRecord, Error> {
        if let Some(lease) = held {
            return self.run_held(id, lease).await;
        }
        if let Some(claim) = self.resume(id).await? {
            return Ok(claim);
        }
        let mut conn = self.inner.store.pool.acquire().await?;
        claims::get(&mut conn, id).await
    }

    /// Runs a claim this process holds under `lease` to the end or to a pause.
    pub(crate) async fn run_held(&self, id: ClaimId, lease: Lease) -> Result<ClaimRecord, Error> {
        let claim = {
            let mut conn = self.inner.store.pool.acquire().await?;
            claims::get(&mut conn, id).await?
        };
        self.run(claim, lease).await
    }

    /// Takes over a claim whose lease ran out (the reconciler); `None` if another runner
    /// has it or it finished.
    pub(crate) async fn resume(&self, id: ClaimId) -> Result<Option<ClaimRecord>, Error> {
        let now = self.inner.clock.now();
        let taken = {
            let mut conn = self.inner.store.pool.acquire().await?;
            claims::take_lease(&mut conn, id, now, self.lease_until(now)).await?
        };
        match taken {
            Some((claim, lease)) => self.run(claim, lease).await.map(Some),
            None => Ok(None),
        }
    }

    /// Writes the claim under `lease`; a stale runner's write changes nothing, and the
    /// claim as the current holder left it is returned instead.
    async fn save(&self, claim: ClaimRecord, lease: Lease) -> Result<ClaimRecord, Error> {
        let now = self.inner.clock.now();
        let mut conn = self.inner.store.pool.acquire().await?;
        if claims::save(&mut conn, &claim, lease, now).await? {
            return Ok(claim);
        }
        tracing::warn!(claim_id = %claim.id, "claim lease lost to another runner; this run's write is dropped");
        metrics::counter!("memberhub_claim_stale_writes_total").increment(1);
        claims::get(&mut conn, claim.id).await
    }

    async fn run(&self, mut claim: ClaimRecord, lease: Lease) -> Result<ClaimRecord, Error> {
        if claim.progress.state().is_final() {
            return Ok(claim);
        }
        let _permit = self.inner.permits.acquire().await.map_err(|_| {
            Error::Rejected(memberhub_kit::error::Failure::Unavailable(
                "shutting down".into(),
            ))
        })?;
        if claim.progress.compensating() {
            return self.compensate(claim, lease).await;
        }
        claim.progress.start().map_err(broken)?;
        while let Some(index) = claim.progress.next() {
            let kind = step_kind(&claim.progress.steps()[index].action);
            self.fault(FaultPoint::BeforeCall(kind)).await;
            let outcome = self.step(&claim, index).await;
            self.fault(FaultPoint::AfterCall(kind)).await;
            match outcome {
                StepOutcome::Done(result) => {
                    claim.progress.step_done(index, result).map_err(broken)?;
                }
                StepOutcome::Refused(reason) => {
                    return self.refused(claim, lease, index, reason).await;
                }
                StepOutcome::Later(why) => return self.postpone(claim, lease, &why).await,
            }
        }
        claim.progress.finish().map_err(broken)?;
        claim.granted_at = Some(self.inner.clock.now());
        claim.failure_reason = None;
        let claim = self.save(claim, lease).await?;
        self.fault(FaultPoint::AfterRecord).await;
        metrics_claim(&claim, "granted");
        Ok(claim)
    }

    /// A peer refused step `index` for good.
    async fn refused(
        &self,
        mut claim: ClaimRecord,
        lease: Lease,
        index: usize,
        reason: String,
    ) -> Result<ClaimRecord, Error> {
        tracing::warn!(claim_id = %claim.id, step = index, reason = %reason, "claim step refused");
        if claim.progress.holds_grant() {
            // Something is with the shopper already: never take it back, never leave it
            // half — keep trying (an operator sees the reason and the attempts).
            return self
                .postpone(claim, lease, &format!("refused: {reason}"))
                .await;
        }
        // The barrier: a call of this step still in flight (a runner that lost its lease)
        // must never apply once the claim fails or is compensated.
        match self.abort(&claim, index).await {
            Ok(false) => {}
            Ok(true) => {
                return self
                    .postpone(claim, lease, "the refused step was applied after all")
                    .await;
            }
            Err(why) => return self.postpone(claim, lease, &why).await,
        }
        claim.failure_reason = Some(reason);
        if claim.progress.points_spent() > 0 {
            claim.progress.begin_compensation().map_err(broken)?;
            let claim = self.save(claim, lease).await?;
            // Only the lease holder compensates; a stale runner sees the holder's claim.
            if !claim.progress.compensating() {
                return Ok(claim);
            }
            return self.compensate(claim, lease).await;
        }
        claim.progress.fail().map_err(broken)?;
        let claim = self.save(claim, lease).await?;
        metrics_claim(&claim, "failed");
        Ok(claim)
    }

    /// PT-3: gives the spent points back, then fails the claim.
    async fn compensate(&self, mut claim: ClaimRecord, lease: Lease) -> Result<ClaimRecord, Error> {
        let points = claim.progress.points_spent();
        if points > 0 {
            let request = membership_pb::CreateTransferRequest {
                request_id: refund_key(claim.id),
                from: Some(account(
                    membership_pb::AccountKind::SystemIssuance,
                    &claim,
                    "",
                )),
                to: Some(account(
                    membership_pb::AccountKind::Member,
                    &claim,
                    &claim.user_id,
                )),
                asset: Asset::Points as i32,
                amount: points,
                reason: format!("refund of exchange {}", claim.id),
            };
            self.fault(FaultPoint::BeforeCall(StepKind::Refund)).await;
            let mut client = self.inner.peers.membership.clone();
            let refunded = client.create_transfer(peers::request(request)).await;
            self.fault(FaultPoint::AfterCall(StepKind::Refund)).await;
            if let Err(status) = refunded {
                return self
                    .postpone(claim, lease, &format!("refund: {}", status.message()))
                    .await;
            }
        }
        claim.progress.points_refunded().map_err(broken)?;
        claim.progress.fail().map_err(broken)?;
        let claim = self.save(claim, lease).await?;
        self.fault(FaultPoint::AfterRecord).await;
        metrics_claim(&claim, "refunded");
        Ok(claim)
    }

    /// Leaves the claim to the reconciler after a back-off that grows with its attempts.
    async fn postpone(
        &self,
        claim: ClaimRecord,
        lease: Lease,
        why: &str,
    ) -> Result<ClaimRecord, Error> {
        let now = self.inner.clock.now();
        let mut conn = self.inner.store.pool.acquire().await?;
        let attempts = claims::attempts(&mut conn, claim.id).await?.clamp(0, 10);
        let base = self.inner.config.reconcile_every.as_millis() as i64;
        let wait = chrono::Duration::milliseconds(base.saturating_mul(1 << attempts).min(600_000));
        if !claims::postpone(&mut conn, &claim, lease, now + wait, why).await? {
            tracing::warn!(claim_id = %claim.id, "claim lease lost to another runner; not postponed");
            return claims::get(&mut conn, claim.id).await;
        }
        tracing::info!(claim_id = %claim.id, why, "claim postponed");
        metrics_claim(&claim, "postponed");
        Ok(claim)
    }

    async fn step(&self, claim: &ClaimRecord, index: usize) -> StepOutcome {
        let step = &claim.progress.steps()[index];
        match &step.action {
            Action::GrantAsset {
                prize_type,
                amount,
                reservation_id,
            } => {
                let Some(asset) = asset_of(*prize_type) else {
                    return StepOutcome::Refused(format!(
                        "CORRUPT_STEP: {} is not an asset",
                        prize_type.as_db()
                    ));
                };
                let from = match reservation_id {
                    Some(r) => account(
                        membership_pb::AccountKind::Reservation,
                        claim,
                        &r.to_string(),
                    ),
                    None => account(membership_pb::AccountKind::SystemIssuance, claim, ""),
                };
                let request = membership_pb::CreateTransferRequest {
                    request_id: step.key.clone(),
                    from: Some(from),
                    to: Some(account(
                        membership_pb::AccountKind::Member,
                        claim,
                        &claim.user_id,
                    )),
                    asset: asset as i32,
                    amount: *amount,
                    reason: reason_text(claim),
                };
                self.transfer(request).await
            }
            Action::SpendPoints { points } => {
                let request = membership_pb::CreateTransferRequest {
                    request_id: step.key.clone(),
                    from: Some(account(
                        membership_pb::AccountKind::Member,
                        claim,
                        &claim.user_id,
                    )),
                    to: Some(account(
                        membership_pb::AccountKind::SystemIssuance,
                        claim,
                        "",
                    )),
                    asset: Asset::Points as i32,
                    amount: *points,
                    reason: reason_text(claim),
                };
                self.transfer(request).await
            }
            Action::IssueCoupon {
                batch_id,
                channel,
                allocation_id,
                ..
            } => {
                let request = coupon_pb::IssueCouponsRequest {
                    request_id: step.key.clone(),
                    batch_id: batch_id.to_string(),
                    user_id: claim.user_id.clone(),
                    channel: crate::convert::pb_channel(*channel) as i32,
                    allocation_id: allocation_id.map(|a| a.to_string()).unwrap_or_default(),
                    campaign_claim_id: claim.id.to_string(),
                    shop_id: claim.shop_id.to_string(),
                };
                let mut client = self.inner.peers.coupon.clone();
                match client.issue_coupons(peers::request(request)).await {
                    Ok(response) => StepOutcome::Done(StepResult {
                        coupon_ids: response
                            .into_inner()
                            .coupons
                            .into_iter()
                            .map(|c| c.coupon_id)
                            .collect(),
                        ..StepResult::default()
                    }),
                    Err(status) => sort(status),
                }
            }
            Action::GrantGiftItem { sku, price_fen } => {
                let now = self.inner.clock.now();
                let granted = async {
                    let mut conn = self.inner.store.pool.acquire().await?;
                    claims::grant_entitlement(&mut conn, claim, &step.key, sku, *price_fen, now)
                        .await
                }
                .await;
                match granted {
                    Ok(id) => StepOutcome::Done(StepResult {
                        entitlement_id: Some(id.to_string()),
                        ..StepResult::default()
                    }),
                    Err(e) => StepOutcome::Later(e.to_string()),
                }
            }
        }
    }

    /// Closes step `index`'s key at its owner (`AbortStep`); true when a call with it was
    /// applied after all. A gift item is granted here, in this service's own transaction.
    async fn abort(&self, claim: &ClaimRecord, index: usize) -> Result<bool, String> {
        let step = &claim.progress.steps()[index];
        let outcome = match &step.action {
            Action::IssueCoupon { .. } => {
                let mut client = self.inner.peers.coupon.clone();
                client
                    .abort_step(peers::request(coupon_pb::AbortStepRequest {
                        method: "IssueCoupons".into(),
                        request_id: step.key.clone(),
                    }))
                    .await
                    .map(|r| r.into_inner().applied)
            }
            Action::GrantAsset { .. } | Action::SpendPoints { .. } => {
                let mut client = self.inner.peers.membership.clone();
                client
                    .abort_step(peers::request(membership_pb::AbortStepRequest {
                        method: "CreateTransfer".into(),
                        request_id: step.key.clone(),
                    }))
                    .await
                    .map(|r| r.into_inner().applied)
            }
            Action::GrantGiftItem { .. } => return Ok(false),
        };
        outcome.map_err(|status| format!("abort: {}", status.message()))
    }

    async fn transfer(&self, request: membership_pb::CreateTransferRequest) -> StepOutcome {
        let mut client = self.inner.peers.membership.clone();
        match client.create_transfer(peers::request(request)).await {
            Ok(response) => StepOutcome::Done(StepResult {
                transfer_id: Some(response.into_inner().transfer_id),
                ..StepResult::default()
            }),
            Err(status) => sort(status),
        }
    }
}

/// A peer's failure as a step outcome.
fn sort(status: tonic::Status) -> StepOutcome {
    if crate::error::is_refusal(status.code()) {
        StepOutcome::Refused(reason_of(&status).unwrap_or_else(|| format!("{:?}", status.code())))
    } else {
        StepOutcome::Later(format!("{:?}: {}", status.code(), status.message()))
    }
}

fn account(
    kind: membership_pb::AccountKind,
    claim: &ClaimRecord,
    owner: &str,
) -> membership_pb::Account {
    membership_pb::Account {
        kind: kind as i32,
        shop_id: claim.shop_id.to_string(),
        owner_id: owner.to_string(),
    }
}

fn asset_of(prize_type: PrizeType) -> Option<Asset> {
    match prize_type {
        PrizeType::Points => Some(Asset::Points),
        PrizeType::Beans => Some(Asset::Beans),
        PrizeType::RedPacket => Some(Asset::RedPacket),
        PrizeType::DataPack => Some(Asset::DataPack),
        PrizeType::CashCoupon | PrizeType::ThresholdCoupon => None,
    }
}

/// The kind of a step, as fault tests name it.
fn step_kind(action: &Action) -> StepKind {
    match action {
        Action::GrantAsset { prize_type, .. } => match prize_type {
            PrizeType::Beans => StepKind::Beans,
            PrizeType::RedPacket => StepKind::RedPacket,
            PrizeType::DataPack => StepKind::DataPack,
            PrizeType::Points | PrizeType::CashCoupon | PrizeType::ThresholdCoupon => {
                StepKind::Points
            }
        },
        Action::SpendPoints { .. } => StepKind::SpendPoints,
        Action::IssueCoupon { .. } => StepKind::Coupon,
        Action::GrantGiftItem { .. } => StepKind::GiftItem,
    }
}

/// A transition `Progress` refused: the saga asked for something the claim model forbids
/// (a bug, never a user error). The claim is left as stored for the reconciler.
fn broken(e: TransitionError) -> Error {
    tracing::error!(error = %e, "claim transition refused");
    Error::CorruptRow("claim transition")
}

/// The ledger reason of a claim's transfers.
fn reason_text(claim: &ClaimRecord) -> String {
    format!(
        "{} {}",
        claim.kind.as_db().to_lowercase().replace('_', " "),
        claim.source_id
    )
}

/// `memberhub_claim_runs_total{kind, outcome}`: granted, failed, refunded or postponed.
fn metrics_claim(claim: &ClaimRecord, outcome: &'static str) {
    metrics::counter!("memberhub_claim_runs_total", "kind" => claim.kind.as_db(), "outcome" => outcome)
        .increment(1);
}
