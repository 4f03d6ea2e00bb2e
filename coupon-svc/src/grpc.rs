//! tonic handlers: check the caller, decode the request into a domain command, make one
//! store (or issuer) call, encode the result.

use chrono::{DateTime, Utc};
use memberhub_kit::actor::Actor;
use memberhub_kit::clock::SharedClock;
use memberhub_kit::error::{Failure, FieldViolation, Violations};
use memberhub_kit::idempotency::IdempotencyKey;
use memberhub_kit::input;
use memberhub_proto::coupon as pb;
use memberhub_proto::coupon::coupon_service_server::CouponService;
use tonic::{Request, Response, Status};

use crate::convert;

/// The most requests one `BatchIssueCoupons` carries.
const MAX_BATCH_ISSUE: usize = 1000;
use crate::domain::allocation::NewAllocation;
use crate::domain::batch::{self, Batch, NewBatch};
use crate::domain::coupon::{self as coupons_domain, Cart};
use crate::domain::ids::{AllocationId, BatchId, BatchRef, CouponId, OrderId, ShopId, UserId};
use crate::domain::issue::{self, IssueCommand};
use crate::domain::member_price::{self, PricedCart};
use crate::error::Error;
use crate::issuer::Issuer;
use crate::members::Members;
use crate::store::batches::{self, ListFilter, StatusChange};
use crate::store::coupons::WalletFilter;
use crate::store::{Store, allocations, coupons, issuing, statistics};

/// The coupon gRPC service.
#[derive(Debug, Clone)]
pub(crate) struct Coupons {
    store: Store,
    issuer: Issuer,
    members: Members,
    clock: SharedClock,
}

impl Coupons {
    pub(crate) fn new(store: Store, issuer: Issuer, members: Members, clock: SharedClock) -> Self {
        Self {
            store,
            issuer,
            members,
            clock,
        }
    }

    /// LV-6: `cart` priced for `user` (their level's discount, member prices and
    /// member-exclusive lines).
    async fn priced(&self, user: &UserId, cart: Cart) -> Result<PricedCart, Failure> {
        let terms = self.members.terms(cart.shop, user).await?;
        Ok(member_price::price(cart, &terms))
    }

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, Error> {
        Ok(self.store.pool.acquire().await?)
    }

    /// CP-3: one issue request, through the issuer's queue for its batch; `fields` renames
    /// the fields an INVALID_ARGUMENT names (a request inside a batch call).
    async fn issue(
        &self,
        actor: &Actor,
        request: &pb::IssueCouponsRequest,
        fields: impl Fn(Failure) -> Failure,
    ) -> Result<pb::IssueCouponsResponse, Failure> {
        let key = IdempotencyKey::new(actor, issuing::METHOD, &request.request_id, request)
            .map_err(&fields)?;
        let command = IssueCommand::parse(
            &request.batch_id,
            &request.user_id,
            convert::channel(request.channel),
            (&request.allocation_id, &request.campaign_claim_id),
            &request.shop_id,
        )
        .map_err(&fields)?;
        let spec = self.issuer.spec(command.batch).await?;
        issue::authorize(actor, &spec.spec, &command)?;
        Ok(self.issuer.issue(spec, key, command).await?)
    }

    /// A status change ruled by `decide` on the locked batch, at most once per key.
    async fn change(
        &self,
        key: &IdempotencyKey,
        id: BatchId,
        now: DateTime<Utc>,
        decide: impl FnOnce(&Batch) -> Result<StatusChange, Failure> + Clone,
    ) -> Result<Response<pb::Batch>, Status> {
        let batch = self
            .store
            .idempotent(key, now, async |tx| {
                batches::change_status(tx, id, decide.clone(), now)
                    .await
                    .map(|b| convert::batch(b, now))
            })
            .await?;
        Ok(Response::new(batch))
    }
}

fn actor<T>(request: &Request<T>) -> Result<Actor, Failure> {
    Actor::from_request(request)
}

fn one<T>(result: Result<T, memberhub_kit::error::FieldViolation>) -> Result<T, Failure> {
    result.map_err(|v| Failure::InvalidArgument(vec![v]))
}

/// An optional shop filter: empty means none.
fn shop_filter(raw: &str) -> Result<Option<ShopId>, Failure> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    one(ShopId::parse("shop_id", raw)).map(Some)
}

/// `page_size`: 0 means 50; at most 200.
fn page_size(raw: i32) -> Result<i64, Failure> {
    one(input::page_size("page_size", raw))
}

/// A list filter set to an enum number this build does not know is refused, not read as
/// "no filter".
fn known<E: TryFrom<i32>>(field: &str, raw: i32) -> Result<(), Failure> {
    one(input::enumeration::<E>(field, raw)).map(|_| ())
}

/// The token of the page after `page`: its last item, when the page is full.
fn next_page_token<T>(page: &[T], limit: i64, id: impl Fn(&T) -> String) -> String {
    let full = usize::try_from(limit).is_ok_and(|limit| page.len() == limit);
    match page.last() {
        Some(last) if full => id(last),
        _ => String::new(),
    }
}

fn to_change(to: batch::Status) -> StatusChange {
    StatusChange {
        to,
        reject_reason: None,
    }
}

/// The user and order of an order-level request; the caller must act for the user.
fn order_of(actor: &Actor, user_id: &str, order_id: &str) -> Result<(UserId, OrderId), Failure> {
    let mut v = Violations::new();
    let user = v.check(UserId::parse("user_id", user_id));
    let order = v.check(OrderId::parse("order_id", order_id));
    v.finish()?;
    let (Some(user), Some(order)) = (user, order) else {
        return Err(Failure::Internal);
    };
    actor.ensure_user(user.as_str())?;
    Ok((user, order))
}

#[tonic::async_trait]
impl CouponService for Coupons {
    async fn create_batch(
        &self,
        request: Request<pb::CreateBatchRequest>,
    ) -> Result<Response<pb::Batch>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let raw_shop = request
            .batch
            .as_ref()
            .map(|b| b.shop_id.clone())
            .unwrap_or_default();
        actor.ensure_shop_admin(raw_shop.trim())?;
        let key = IdempotencyKey::new(&actor, "CreateBatch", &request.request_id, &request)?;
        let new = NewBatch::try_from(request)?;
        let now = self.clock.now();
        let batch = self
            .store
            .idempotent(&key, now, async |tx| {
                batches::insert(tx, new, now)
                    .await
                    .map(|b| convert::batch(b, now))
            })
            .await?;
        Ok(Response::new(batch))
    }

    async fn get_batch(
        &self,
        request: Request<pb::GetBatchRequest>,
    ) -> Result<Response<pb::Batch>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let shop = shop_filter(&request.shop_id)?;
        let which = convert::batch_ref("batch", &request.batch)?;
        let found = batches::get(&mut *self.conn().await?, &which).await?;
        let found = found.ok_or_else(|| Error::BatchNotFound(request.batch.trim().into()))?;
        let now = self.clock.now();
        let view = batch::view_for(&actor, &found, shop, now)?;
        Ok(Response::new(convert::batch_as(found, now, view)))
    }

    async fn list_claimable_batches(
        &self,
        request: Request<pb::ListClaimableBatchesRequest>,
    ) -> Result<Response<pb::ListClaimableBatchesResponse>, Status> {
        // Anyone signed in may read a shop's coupon centre: it shows what the storefront
        // shows (no internal names).
        let _actor = actor(&request)?;
        let request = request.into_inner();
        let shop = one(ShopId::parse("shop_id", &request.shop_id))?;
        let before = (!request.page_token.is_empty())
            .then(|| one(BatchId::parse("page_token", &request.page_token)))
            .transpose()?;
        let limit = page_size(request.page_size)?;
        let now = self.clock.now();
        let found =
            batches::list_claimable(&mut *self.conn().await?, shop, before, limit, now).await?;
        let next_page_token = next_page_token(&found, limit, |b| b.id.to_string());
        Ok(Response::new(pb::ListClaimableBatchesResponse {
            batches: found
                .into_iter()
                .map(|b| convert::batch_as(b, now, batch::View::Storefront))
                .collect(),
            next_page_token,
        }))
    }

    async fn list_batches(
        &self,
        request: Request<pb::ListBatchesRequest>,
    ) -> Result<Response<pb::ListBatchesResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let shop = shop_filter(&request.shop_id)?;
        match shop {
            Some(shop) => actor.ensure_shop_admin(&shop.to_string())?,
            None => actor.ensure_operator()?,
        }
        let before = (!request.page_token.is_empty())
            .then(|| one(BatchId::parse("page_token", &request.page_token)))
            .transpose()?;
        known::<pb::BatchStatus>("status", request.status)?;
        known::<memberhub_proto::common::CouponChannel>("channel", request.channel)?;
        let filter = ListFilter {
            shop,
            status: convert::status(request.status),
            channel: convert::channel(request.channel),
            before,
            limit: page_size(request.page_size)?,
        };
        let now = self.clock.now();
        let (found, total) = batches::list(&mut *self.conn().await?, &filter, now).await?;
        let next_page_token = next_page_token(&found, filter.limit, |b| b.id.to_string());
        Ok(Response::new(pb::ListBatchesResponse {
            batches: found.into_iter().map(|b| convert::batch(b, now)).collect(),
            next_page_token,
            total_size: total,
        }))
    }

    async fn submit_batch(
        &self,
        request: Request<pb::SubmitBatchRequest>,
    ) -> Result<Response<pb::Batch>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let key = IdempotencyKey::new(&actor, "SubmitBatch", &request.request_id, &request)?;
        let id = one(BatchId::parse("batch_id", &request.batch_id))?;
        let shop = shop_filter(&request.shop_id)?;
        let now = self.clock.now();
        self.change(&key, id, now, |b| {
            batch::ensure_owner(&actor, b, shop)?;
            batch::submit(b, now).map(to_change)
        })
        .await
    }

    async fn approve_batch(
        &self,
        request: Request<pb::ApproveBatchRequest>,
    ) -> Result<Response<pb::Batch>, Status> {
        let actor = actor(&request)?;
        actor.ensure_operator()?;
        let request = request.into_inner();
        let key = IdempotencyKey::new(&actor, "ApproveBatch", &request.request_id, &request)?;
        let id = one(BatchId::parse("batch_id", &request.batch_id))?;
        let now = self.clock.now();
        self.change(&key, id, now, |b| batch::approve(b, now).map(to_change))
            .await
    }

    async fn reject_batch(
        &self,
        request: Request<pb::RejectBatchRequest>,
    ) -> Result<Response<pb::Batch>, Status> {
        let actor = actor(&request)?;
        actor.ensure_operator()?;
        let request = request.into_inner();
        let key = IdempotencyKey::new(&actor, "RejectBatch", &request.request_id, &request)?;
        let id = one(BatchId::parse("batch_id", &request.batch_id))?;
        let now = self.clock.now();
        self.change(&key, id, now, |b| {
            batch::reject(b, &request.reason, now).map(|reason| StatusChange {
                to: batch::Status::Closed,
                reject_reason: Some(reason),
            })
        })
        .await
    }

    async fn close_batch(
        &self,
        request: Request<pb::CloseBatchRequest>,
    ) -> Result<Response<pb::Batch>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let key = IdempotencyKey::new(&actor, "CloseBatch", &request.request_id, &request)?;
        let id = one(BatchId::parse("batch_id", &request.batch_id))?;
        let shop = shop_filter(&request.shop_id)?;
        let now = self.clock.now();
        self.change(&key, id, now, |b| {
            batch::ensure_owner(&actor, b, shop)?;
            batch::close(b, now).map(to_change)
        })
        .await
    }

    async fn end_batch(
        &self,
        request: Request<pb::EndBatchRequest>,
    ) -> Result<Response<pb::Batch>, Status> {
        let actor = actor(&request)?;
        actor.ensure_operator()?;
        let request = request.into_inner();
        let key = IdempotencyKey::new(&actor, "EndBatch", &request.request_id, &request)?;
        let id = one(BatchId::parse("batch_id", &request.batch_id))?;
        let now = self.clock.now();
        self.change(&key, id, now, |b| batch::end(b, now).map(to_change))
            .await
    }

    async fn issue_coupons(
        &self,
        request: Request<pb::IssueCouponsRequest>,
    ) -> Result<Response<pb::IssueCouponsResponse>, Status> {
        let actor = actor(&request)?;
        let response = self.issue(&actor, &request.into_inner(), |f| f).await?;
        Ok(Response::new(response))
    }

    async fn batch_issue_coupons(
        &self,
        request: Request<pb::BatchIssueCouponsRequest>,
    ) -> Result<Response<pb::BatchIssueCouponsResponse>, Status> {
        let actor = actor(&request)?;
        let requests = request.into_inner().requests;
        if requests.is_empty() || requests.len() > MAX_BATCH_ISSUE {
            return Err(Failure::invalid(
                "requests",
                format!("must hold 1 to {MAX_BATCH_ISSUE} requests"),
            )
            .into());
        }
        // Every request joins its batch's queue at once, so the issuer groups them into a
        // few set-based transactions; each is still answered on its own.
        let results =
            futures::future::join_all(requests.iter().enumerate().map(async |(i, request)| {
                let within = |f: Failure| match f {
                    Failure::InvalidArgument(violations) => Failure::InvalidArgument(
                        violations
                            .into_iter()
                            .map(|v| {
                                FieldViolation::new(
                                    format!("requests[{i}].{}", v.field),
                                    v.description,
                                )
                            })
                            .collect(),
                    ),
                    other => other,
                };
                self.issue(&actor, request, within).await
            }))
            .await;
        let results = results
            .into_iter()
            .map(|result| match result {
                Ok(issued) => pb::BatchIssueResult {
                    coupons: issued.coupons,
                    ..Default::default()
                },
                Err(failure) => pb::BatchIssueResult {
                    code: failure.code() as i32,
                    reason: failure.reason().unwrap_or_default().to_string(),
                    message: failure.to_string(),
                    coupons: Vec::new(),
                },
            })
            .collect();
        Ok(Response::new(pb::BatchIssueCouponsResponse { results }))
    }

    async fn reserve_allocation(
        &self,
        request: Request<pb::ReserveAllocationRequest>,
    ) -> Result<Response<pb::Allocation>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let key = IdempotencyKey::new(&actor, "ReserveAllocation", &request.request_id, &request)?;
        let window = (
            convert::optional_time("claim_start_time", request.claim_start_time.as_ref())?,
            convert::optional_time("claim_end_time", request.claim_end_time.as_ref())?,
        );
        let new = NewAllocation::parse(
            &request.batch_id,
            convert::channel(request.channel),
            &request.holder,
            request.quantity,
            window,
            request.bind,
        )?;
        let now = self.clock.now();
        let allocation = self
            .store
            .idempotent(&key, now, async |tx| {
                let owner = |b: &Batch| batch::ensure_owner(&actor, b, None);
                allocations::reserve(tx, new, owner, now)
                    .await
                    .map(pb::Allocation::from)
            })
            .await?;
        Ok(Response::new(allocation))
    }

    async fn get_allocation(
        &self,
        request: Request<pb::GetAllocationRequest>,
    ) -> Result<Response<pb::Allocation>, Status> {
        let actor = actor(&request)?;
        let id = one(AllocationId::parse(
            "allocation_id",
            &request.get_ref().allocation_id,
        ))?;
        let (allocation, batch) = allocations::get_with_batch(&mut *self.conn().await?, id).await?;
        batch::ensure_owner(&actor, &batch, None)?;
        Ok(Response::new(allocation.into()))
    }

    async fn release_allocation(
        &self,
        request: Request<pb::ReleaseAllocationRequest>,
    ) -> Result<Response<pb::Allocation>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let key = IdempotencyKey::new(&actor, "ReleaseAllocation", &request.request_id, &request)?;
        let id = one(AllocationId::parse("allocation_id", &request.allocation_id))?;
        let now = self.clock.now();
        let allocation = self
            .store
            .idempotent(&key, now, async |tx| {
                let owner = |b: &Batch| batch::ensure_owner(&actor, b, None);
                allocations::release(tx, id, owner, now)
                    .await
                    .map(pb::Allocation::from)
            })
            .await?;
        Ok(Response::new(allocation))
    }

    async fn abort_step(
        &self,
        request: Request<pb::AbortStepRequest>,
    ) -> Result<Response<pb::AbortStepResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let (scope, key) = memberhub_kit::idempotency::abort_target(
            &actor,
            &[crate::store::issuing::METHOD],
            &request.method,
            &request.request_id,
        )?;
        let found = self
            .store
            .abort(&scope, &request.method, &key, self.clock.now())
            .await?;
        Ok(Response::new(pb::AbortStepResponse {
            applied: found == memberhub_kit::idempotency::Abort::Applied,
        }))
    }

    async fn list_wallet_coupons(
        &self,
        request: Request<pb::ListWalletCouponsRequest>,
    ) -> Result<Response<pb::ListWalletCouponsResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let user = one(UserId::parse("user_id", &request.user_id))?;
        actor.ensure_user(user.as_str())?;
        let before = (!request.page_token.is_empty())
            .then(|| one(CouponId::parse("page_token", &request.page_token)))
            .transpose()?;
        known::<pb::CouponState>("state", request.state)?;
        let filter = WalletFilter {
            user,
            shop: shop_filter(&request.shop_id)?,
            state: convert::state(request.state),
            before,
            limit: page_size(request.page_size)?,
        };
        let now = self.clock.now();
        let found = coupons::wallet(&mut *self.conn().await?, &filter, now).await?;
        let next_page_token = next_page_token(&found, filter.limit, |c| c.id.to_string());
        Ok(Response::new(pb::ListWalletCouponsResponse {
            coupons: convert::coupons(found),
            next_page_token,
        }))
    }

    async fn evaluate_cart(
        &self,
        request: Request<pb::EvaluateCartRequest>,
    ) -> Result<Response<pb::EvaluateCartResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let user = one(UserId::parse("user_id", &request.user_id))?;
        actor.ensure_user(user.as_str())?;
        let ids = coupons_domain::parse_ids(&request.coupon_ids)?;
        let cart = Cart::parse(
            &request.shop_id,
            &request.region,
            convert::lines(request.lines),
        )?;
        let cart_total_fen = cart.total();
        let priced = self.priced(&user, cart).await?;
        let now = self.clock.now();
        let evaluations =
            coupons::evaluate(&mut *self.conn().await?, &user, &ids, &priced.cart, now).await?;
        Ok(Response::new(pb::EvaluateCartResponse {
            evaluations: evaluations.into_iter().map(Into::into).collect(),
            cart_total_fen,
            payable_fen: priced.payable(),
            member_discount_fen: priced.member_discount(),
            member: Some(convert::member_pricing(&priced.terms)),
            lines: priced.lines.iter().map(convert::line_price).collect(),
        }))
    }

    async fn lock_coupons(
        &self,
        request: Request<pb::LockCouponsRequest>,
    ) -> Result<Response<pb::LockCouponsResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let key = IdempotencyKey::new(&actor, "LockCoupons", &request.request_id, &request)?;
        let (user, order) = order_of(&actor, &request.user_id, &request.order_id)?;
        let ids = coupons_domain::parse_ids(&request.coupon_ids)?;
        let cart = Cart::parse(
            &request.shop_id,
            &request.region,
            convert::lines(request.lines),
        )?;
        // A retry meets its stored answer before anything is priced again.
        let now = self.clock.now();
        if let Some(stored) = self.store.stored(&key).await? {
            return Ok(Response::new(stored));
        }
        let priced = self.priced(&user, cart).await?;
        if let Some(refused) = priced.first_refused() {
            let why = refused
                .refusal
                .unwrap_or(member_price::Refusal::MembersOnly);
            return Err(Failure::FailedPrecondition {
                reason: why.reason(),
                message: format!("item {}: {}", refused.sku, why.message()),
                metadata: vec![("sku", refused.sku.clone())],
            }
            .into());
        }
        let response = self
            .store
            .idempotent(&key, now, async |tx| {
                let (locked, evaluations) =
                    coupons::lock(tx, &user, &order, &ids, &priced.cart, now).await?;
                Ok(pb::LockCouponsResponse {
                    coupons: convert::coupons(locked),
                    evaluations: evaluations.into_iter().map(Into::into).collect(),
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn redeem_coupons(
        &self,
        request: Request<pb::RedeemCouponsRequest>,
    ) -> Result<Response<pb::RedeemCouponsResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let key = IdempotencyKey::new(&actor, "RedeemCoupons", &request.request_id, &request)?;
        let (user, order) = order_of(&actor, &request.user_id, &request.order_id)?;
        let now = self.clock.now();
        let response = self
            .store
            .idempotent(&key, now, async |tx| {
                let used = coupons::redeem(tx, &user, &order, now).await?;
                Ok(pb::RedeemCouponsResponse {
                    coupons: convert::coupons(used),
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn release_coupons(
        &self,
        request: Request<pb::ReleaseCouponsRequest>,
    ) -> Result<Response<pb::ReleaseCouponsResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let key = IdempotencyKey::new(&actor, "ReleaseCoupons", &request.request_id, &request)?;
        let (user, order) = order_of(&actor, &request.user_id, &request.order_id)?;
        let now = self.clock.now();
        let response = self
            .store
            .idempotent(&key, now, async |tx| {
                let released = coupons::release(tx, &user, &order, now).await?;
                Ok(pb::ReleaseCouponsResponse {
                    coupons: convert::coupons(released),
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn get_batch_statistics(
        &self,
        request: Request<pb::GetBatchStatisticsRequest>,
    ) -> Result<Response<pb::BatchStatistics>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let id = one(BatchId::parse("batch_id", &request.batch_id))?;
        let shop = shop_filter(&request.shop_id)?;
        let mut conn = self.conn().await?;
        let found = batches::get(&mut conn, &BatchRef::Id(id))
            .await?
            .ok_or_else(|| Error::BatchNotFound(id.to_string()))?;
        batch::ensure_owner(&actor, &found, shop)?;
        let now = self.clock.now();
        let stats = statistics::of_batch(&mut conn, &found, now).await?;
        Ok(Response::new(convert::statistics(&found, &stats)))
    }
}
