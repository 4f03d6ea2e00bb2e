//! PT-1..PT-5: transfers (services), budgets (merchants), history (shoppers).

use memberhub_kit::actor::Actor;
use memberhub_kit::error::{Failure, Violations};
use memberhub_kit::idempotency::IdempotencyKey;
use memberhub_kit::input;
use memberhub_proto::membership as pb;
use tonic::{Request, Response};

use super::{Membership, Rpc, shop_and_user, shop_id};
use crate::convert;
use crate::domain::ledger::{Account, TransferCommand};
use crate::store::ledger;

/// PT-1: a transfer between two accounts of one shop, by a platform service (campaign-svc
/// grants from a reservation, spends points for an exchange) or an operator.
pub(super) async fn create_transfer(
    svc: &Membership,
    request: Request<pb::CreateTransferRequest>,
) -> Rpc<pb::Transfer> {
    let actor = Actor::from_request(&request)?;
    actor.ensure_operator()?;
    let request = request.into_inner();
    let key = IdempotencyKey::new(&actor, "CreateTransfer", &request.request_id, &request)?;
    let mut violations = Violations::new();
    let from = violations.check(convert::account("from", request.from.as_ref()));
    let to = violations.check(convert::account("to", request.to.as_ref()));
    let asset = violations.check(convert::asset("asset", request.asset));
    violations.finish()?;
    let (Some((shop, from)), Some((to_shop, to)), Some(asset)) = (from, to, asset) else {
        return Err(Failure::Internal.into());
    };
    if shop != to_shop {
        return Err(
            Failure::invalid("to.shop_id", "must be the shop of the source account").into(),
        );
    }
    let cmd = TransferCommand {
        shop_id: shop,
        from,
        to,
        asset,
        amount: request.amount,
        reason: request.reason.clone(),
    }
    .validate()?;
    run_transfer(svc, &key, cmd).await
}

/// The saga barrier: campaign-svc closes a transfer step's key before it
/// compensates, so a call still in flight can never apply afterwards.
pub(super) async fn abort_step(
    svc: &Membership,
    request: Request<pb::AbortStepRequest>,
) -> Rpc<pb::AbortStepResponse> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let (scope, key) = memberhub_kit::idempotency::abort_target(
        &actor,
        &["CreateTransfer"],
        &request.method,
        &request.request_id,
    )?;
    let found = svc
        .store
        .abort(&scope, &request.method, &key, svc.clock.now())
        .await?;
    Ok(Response::new(pb::AbortStepResponse {
        applied: found == memberhub_kit::idempotency::Abort::Applied,
    }))
}

/// PT-1: one transfer, once per idempotency key (the key also names the transfer).
async fn run_transfer(
    svc: &Membership,
    key: &IdempotencyKey,
    cmd: TransferCommand,
) -> Rpc<pb::Transfer> {
    let (transfer_key, now) = (format!("rpc:{}:{}", key.scope, key.key), svc.clock.now());
    let transfer = svc
        .store
        .idempotent(key, now, async |tx| {
            ledger::transfer(tx, &cmd, &transfer_key, now)
                .await
                .map(pb::Transfer::from)
        })
        .await?;
    Ok(Response::new(transfer))
}

/// PT-2: the shop pays beans, red packets or data into its budget.
pub(super) async fn recharge_budget(
    svc: &Membership,
    request: Request<pb::RechargeBudgetRequest>,
) -> Rpc<pb::Transfer> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let shop = shop_id(&request.shop_id)?;
    actor.ensure_shop_admin(&shop.to_string())?;
    let key = IdempotencyKey::new(&actor, "RechargeBudget", &request.request_id, &request)?;
    let asset =
        convert::asset("asset", request.asset).map_err(|v| Failure::InvalidArgument(vec![v]))?;
    let cmd = TransferCommand {
        shop_id: shop,
        from: Account::SystemIssuance,
        to: Account::ShopBudget,
        asset,
        amount: request.amount,
        reason: "budget recharge".into(),
    }
    .validate()?;
    run_transfer(svc, &key, cmd).await
}

/// PT-2, OC-5: set budget aside for a campaign; RESOURCE_EXHAUSTED beyond the budget.
pub(super) async fn reserve_budget(
    svc: &Membership,
    request: Request<pb::ReserveBudgetRequest>,
) -> Rpc<pb::BudgetReservation> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let shop = shop_id(&request.shop_id)?;
    actor.ensure_shop_admin(&shop.to_string())?;
    let key = IdempotencyKey::new(&actor, "ReserveBudget", &request.request_id, &request)?;
    let mut violations = Violations::new();
    let asset = violations.check(convert::asset("asset", request.asset));
    if !(1..=crate::domain::ledger::MAX_AMOUNT).contains(&request.amount) {
        violations.add("amount", "must be positive and at most 10 billion yuan");
    }
    let purpose = violations.check(input::text(
        "purpose",
        &request.purpose,
        crate::domain::ledger::MAX_REASON_CHARS,
    ));
    violations.finish()?;
    let purpose = purpose.ok_or(Failure::Internal)?;
    let asset = asset
        .filter(|a| a.needs_budget())
        .ok_or_else(|| Failure::invalid("asset", "must be BEANS, RED_PACKET or DATA_PACK"))?;
    let now = svc.clock.now();
    let reservation = svc
        .store
        .idempotent(&key, now, async |tx| {
            ledger::reserve(tx, shop, asset, request.amount, &purpose, now)
                .await
                .map(pb::BudgetReservation::from)
        })
        .await?;
    Ok(Response::new(reservation))
}

/// OC-9: give back what a reservation did not spend, once.
pub(super) async fn release_budget_reservation(
    svc: &Membership,
    request: Request<pb::ReleaseBudgetReservationRequest>,
) -> Rpc<pb::BudgetReservation> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let id: uuid::Uuid = request
        .reservation_id
        .trim()
        .parse()
        .map_err(|_| Failure::invalid("reservation_id", "must be a reservation id"))?;
    let key = IdempotencyKey::new(
        &actor,
        "ReleaseBudgetReservation",
        &request.request_id,
        &request,
    )?;
    let now = svc.clock.now();
    let reservation = svc
        .store
        .idempotent(&key, now, async |tx| {
            let held = ledger::lock_reservation(tx, id).await?;
            actor.ensure_shop_admin(&held.shop_id.to_string())?;
            ledger::release(tx, id, now)
                .await
                .map(pb::BudgetReservation::from)
        })
        .await?;
    Ok(Response::new(reservation))
}

/// PT-4: the shopper's ledger history, newest first.
pub(super) async fn list_ledger_entries(
    svc: &Membership,
    request: Request<pb::ListLedgerEntriesRequest>,
) -> Rpc<pb::ListLedgerEntriesResponse> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let (shop, user) = shop_and_user(&request.shop_id, &request.user_id)?;
    actor
        .ensure_user(user.as_str())
        .or_else(|_| actor.ensure_shop_admin(&shop.to_string()))?;
    let mut violations = Violations::new();
    let asset = match request.asset {
        0 => None,
        raw => violations.check(convert::asset("asset", raw)),
    };
    let before = violations
        .check(convert::page_token::<i64>(
            "page_token",
            &request.page_token,
        ))
        .flatten();
    let size = violations.check(input::page_size("page_size", request.page_size));
    violations.finish()?;
    let size = size.ok_or(Failure::Internal)?;
    let mut conn = svc.conn().await?;
    let mut entries =
        ledger::member_entries(&mut conn, shop, &user, asset, before, size + 1).await?;
    let more = entries.len() as i64 > size;
    entries.truncate(size as usize);
    let next_page_token = match (more, entries.last()) {
        (true, Some(last)) => last.entry_id.to_string(),
        _ => String::new(),
    };
    Ok(Response::new(pb::ListLedgerEntriesResponse {
        entries: entries.into_iter().map(Into::into).collect(),
        next_page_token,
    }))
}

/// PT-4: the merchant's budget balances.
pub(super) async fn list_budget_balances(
    svc: &Membership,
    request: Request<pb::ListBudgetBalancesRequest>,
) -> Rpc<pb::ListBudgetBalancesResponse> {
    let actor = Actor::from_request(&request)?;
    let shop = shop_id(&request.get_ref().shop_id)?;
    actor.ensure_shop_admin(&shop.to_string())?;
    let mut conn = svc.conn().await?;
    let balances = ledger::budget_balances(&mut conn, shop)
        .await?
        .into_iter()
        .map(|(asset, available, reserved)| pb::BudgetBalance {
            asset: convert::asset_to_pb(asset).into(),
            available,
            reserved,
        })
        .collect();
    Ok(Response::new(pb::ListBudgetBalancesResponse { balances }))
}

/// PT-5: expire due lots now (a shop's merchant for their shop; operators for all).
pub(super) async fn expire_points(
    svc: &Membership,
    request: Request<pb::ExpirePointsRequest>,
) -> Rpc<pb::ExpirePointsResponse> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let shop = match request.shop_id.as_str() {
        "" => {
            actor.ensure_operator()?;
            None
        }
        raw => {
            let shop = shop_id(raw)?;
            actor.ensure_shop_admin(&shop.to_string())?;
            Some(shop)
        }
    };
    let key = IdempotencyKey::new(&actor, "ExpirePoints", &request.request_id, &request)?;
    let now = svc.clock.now();
    // The expiry runs in chunks of their own transactions (never one huge one), so it cannot
    // share the key's transaction: a retry re-runs it (nothing is due twice) and then meets
    // the stored answer of the first run.
    let (expired_lots, expired_points) = ledger::expire_due(&svc.store.pool, shop, now).await?;
    let response = svc
        .store
        .idempotent(&key, now, async |_tx| {
            Ok(pb::ExpirePointsResponse {
                expired_lots,
                expired_points,
            })
        })
        .await?;
    Ok(Response::new(response))
}
