//! SP-6: the award run. A background task beside the server looks, every `award_every`,
//! for joined shops whose award phase has started (by the injected clock: no cron outside
//! the service) and runs each one's award under a lease (`store::sprint_awards` has the
//! three durable steps and why a crash or a second replica never issues twice).
//!
//! Issuing goes to coupon-svc's `BatchIssueCoupons` a chunk of shoppers at a time, with a
//! few chunks in flight, so coupon-svc groups thousands of issues into a handful of
//! set-based transactions instead of one hot-row transaction per shopper.

use std::time::Duration;

use memberhub_kit::clock::SharedClock;
use memberhub_proto::common::CouponChannel;
use memberhub_proto::coupon as coupon_pb;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::{FaultPoint, Faults};
use crate::error::Error;
use crate::peers::{self, Peers};
use crate::saga::consumer::CONSUMER;
use crate::store::Store;
use crate::store::sprint_awards::{self, AwardDue};

/// Shoppers per `BatchIssueCoupons` call.
const CHUNK: usize = 1000;
/// Calls in flight per award.
const IN_FLIGHT: usize = 2;
/// Awards looked at per round.
const AWARDS_PER_ROUND: i64 = 16;

/// What a run needs.
#[derive(Clone)]
pub(crate) struct Awards {
    pub(crate) store: Store,
    pub(crate) peers: Peers,
    pub(crate) clock: SharedClock,
    pub(crate) lease: Duration,
    pub(crate) faults: Faults,
    /// This process's lease holder id.
    pub(crate) holder: Uuid,
}

/// Runs due awards every `every`, for as long as the service runs.
pub(crate) async fn run(awards: Awards, every: Duration) {
    let mut tick = memberhub_kit::clock::Ticker::new("sprint award", &awards.clock, every);
    loop {
        tick.tick().await;
        if let Err(error) = awards.round().await {
            tracing::warn!(error = %error, "sprint award round failed; retried next round");
        }
    }
}

impl Awards {
    async fn round(&self) -> Result<(), Error> {
        let now = self.clock.now();
        let due = {
            let mut conn = self.store.pool.acquire().await?;
            sprint_awards::due(&mut conn, CONSUMER, self.holder, now, AWARDS_PER_ROUND).await?
        };
        for award in due {
            self.award(&award).await?;
        }
        Ok(())
    }

    fn lease_until(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now() + chrono::Duration::from_std(self.lease).unwrap_or_default()
    }

    async fn fault(&self, point: FaultPoint) {
        if let Some(hook) = &self.faults.0
            && hook(point)
        {
            tracing::warn!(?point, "fault injected: this award run stops here");
            std::future::pending::<()>().await;
        }
    }

    /// One shop's award, from the decision to the finish; returns early when another
    /// holder has the lease.
    #[tracing::instrument(skip_all, fields(plan_id = %award.plan_id, shop_id = %award.shop_id))]
    async fn award(&self, award: &AwardDue) -> Result<(), Error> {
        let pool = &self.store.pool;
        if !sprint_awards::lease(
            &mut *pool.acquire().await?,
            award,
            self.holder,
            self.clock.now(),
            self.lease_until(),
        )
        .await?
        {
            return Ok(());
        }
        let mut tx = pool.begin().await?;
        sprint_awards::decide(&mut tx, award, self.clock.now()).await?;
        tx.commit().await?;
        let started = std::time::Instant::now();
        let mut issued = 0usize;
        loop {
            let mut conn = pool.acquire().await?;
            let now = self.clock.now();
            if !sprint_awards::lease(&mut conn, award, self.holder, now, self.lease_until()).await?
            {
                tracing::info!("award lease taken over; leaving the rest to its holder");
                return Ok(());
            }
            let users =
                sprint_awards::next_due(&mut conn, award, (CHUNK * IN_FLIGHT) as i64).await?;
            if users.is_empty() {
                if sprint_awards::finish(&mut conn, award, now).await? {
                    metrics::counter!("campaign_sprint_awards_finished_total").increment(1);
                    tracing::info!(
                        issued,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "sprint award finished"
                    );
                }
                return Ok(());
            }
            drop(conn);
            self.fault(FaultPoint::BeforeAwardIssue).await;
            let answers = futures::future::join_all(
                users.chunks(CHUNK).map(|chunk| self.issue(award, chunk)),
            )
            .await;
            self.fault(FaultPoint::AfterAwardIssue).await;
            let mut coupons = Vec::new();
            let mut out_of_stock = Vec::new();
            let mut failed = None;
            for (chunk, answer) in users.chunks(CHUNK).zip(answers) {
                let results = match answer {
                    Ok(results) => results,
                    Err(error) => {
                        failed = Some(error);
                        continue;
                    }
                };
                for (user, result) in chunk.iter().zip(results) {
                    if result.code == tonic::Code::Ok as i32 {
                        for coupon in result.coupons {
                            let id = Uuid::parse_str(&coupon.coupon_id)
                                .map_err(|_| Error::CorruptRow("coupon-svc coupon_id"))?;
                            coupons.push((user.clone(), id));
                        }
                        issued += 1;
                    } else if result.code == tonic::Code::ResourceExhausted as i32 {
                        out_of_stock.push(user.clone());
                    } else {
                        // Stays DUE: the next round asks again with the same key.
                        tracing::error!(
                            code = result.code,
                            reason = %result.reason,
                            message = %result.message,
                            "reward issue refused"
                        );
                        failed.get_or_insert(Error::PeerRefused(tonic::Status::new(
                            tonic::Code::from(result.code),
                            result.message,
                        )));
                    }
                }
            }
            let mut tx = pool.begin().await?;
            sprint_awards::mark_awarded(&mut tx, award, &coupons, self.clock.now()).await?;
            if !out_of_stock.is_empty() {
                tracing::warn!(
                    count = out_of_stock.len(),
                    "reward batch ran out before the distribution quantity"
                );
                sprint_awards::mark_out_of_stock(&mut tx, award, &out_of_stock).await?;
            }
            tx.commit().await?;
            if let Some(error) = failed {
                return Err(error);
            }
        }
    }

    /// One `BatchIssueCoupons` call for `users`, each under its own key: the same shopper of
    /// the same award always sends the same key and claim, so a repeat is answered with the
    /// coupons already issued.
    async fn issue(
        &self,
        award: &AwardDue,
        users: &[String],
    ) -> Result<Vec<coupon_pb::BatchIssueResult>, Error> {
        let requests = users
            .iter()
            .map(|user| coupon_pb::IssueCouponsRequest {
                request_id: request_id(award, user),
                batch_id: award.batch_id.to_string(),
                user_id: user.clone(),
                channel: CouponChannel::SprintPlan.into(),
                allocation_id: String::new(),
                campaign_claim_id: format!("sp6:{}:{user}", award.plan_id),
                shop_id: award.shop_id.to_string(),
            })
            .collect();
        let mut coupon = self.peers.coupon.clone();
        let answer = peers::answer(
            coupon
                .batch_issue_coupons(peers::request(coupon_pb::BatchIssueCouponsRequest {
                    requests,
                }))
                .await,
        )?;
        if answer.results.len() != users.len() {
            return Err(Error::CorruptRow(
                "BatchIssueCoupons: one result per request",
            ));
        }
        Ok(answer.results)
    }
}

/// The issue's idempotency key: printable ASCII of fixed length whatever the user id holds.
fn request_id(award: &AwardDue, user: &str) -> String {
    let digest = Sha256::digest(format!("{}\n{}\n{user}", award.plan_id, award.shop_id));
    format!("sp6:{}", hex::encode(digest))
}
