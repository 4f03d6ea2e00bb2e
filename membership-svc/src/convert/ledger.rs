//! PT: assets, accounts, transfers, reservations, entries.

use memberhub_kit::clock::to_timestamp;
use memberhub_kit::error::FieldViolation;
use memberhub_proto::{common as pbc, membership as pb};

use crate::domain::ids::{ShopId, UserId};
use crate::domain::ledger::{Account, Asset};
use crate::store::ledger::{Entry, Reservation, Transfer};

pub(crate) fn asset(field: &str, raw: i32) -> Result<Asset, FieldViolation> {
    match pbc::Asset::try_from(raw).ok() {
        Some(pbc::Asset::Points) => Ok(Asset::Points),
        Some(pbc::Asset::Beans) => Ok(Asset::Beans),
        Some(pbc::Asset::RedPacket) => Ok(Asset::RedPacket),
        Some(pbc::Asset::DataPack) => Ok(Asset::DataPack),
        _ => Err(FieldViolation::new(
            field,
            "must be POINTS, BEANS, RED_PACKET or DATA_PACK",
        )),
    }
}

pub(crate) fn asset_to_pb(a: Asset) -> pbc::Asset {
    match a {
        Asset::Points => pbc::Asset::Points,
        Asset::Beans => pbc::Asset::Beans,
        Asset::RedPacket => pbc::Asset::RedPacket,
        Asset::DataPack => pbc::Asset::DataPack,
    }
}

/// An account named in a request; all accounts of one transfer are in one shop.
pub(crate) fn account(
    field: &str,
    raw: Option<&pb::Account>,
) -> Result<(ShopId, Account), FieldViolation> {
    let raw = raw.ok_or_else(|| FieldViolation::new(field, "is required"))?;
    let shop = ShopId::parse(&format!("{field}.shop_id"), &raw.shop_id)?;
    let owner = format!("{field}.owner_id");
    let account = match pb::AccountKind::try_from(raw.kind).ok() {
        Some(pb::AccountKind::Member) => Account::Member(UserId::parse(&owner, &raw.owner_id)?),
        Some(pb::AccountKind::ShopBudget) => Account::ShopBudget,
        Some(pb::AccountKind::Reservation) => Account::Reservation(
            raw.owner_id
                .trim()
                .parse()
                .map_err(|_| FieldViolation::new(owner, "must be a reservation id"))?,
        ),
        Some(pb::AccountKind::SystemIssuance) => Account::SystemIssuance,
        Some(pb::AccountKind::SystemExpiry) => Account::SystemExpiry,
        _ => {
            return Err(FieldViolation::new(
                format!("{field}.kind"),
                "must be an account kind",
            ));
        }
    };
    Ok((shop, account))
}

fn account_to_pb(shop: ShopId, a: &Account) -> pb::Account {
    let kind = match a {
        Account::Member(_) => pb::AccountKind::Member,
        Account::ShopBudget => pb::AccountKind::ShopBudget,
        Account::Reservation(_) => pb::AccountKind::Reservation,
        Account::SystemIssuance => pb::AccountKind::SystemIssuance,
        Account::SystemExpiry => pb::AccountKind::SystemExpiry,
    };
    pb::Account {
        kind: kind.into(),
        shop_id: shop.to_string(),
        owner_id: a.owner(),
    }
}

impl From<Transfer> for pb::Transfer {
    fn from(t: Transfer) -> Self {
        pb::Transfer {
            transfer_id: t.transfer_id.to_string(),
            from: Some(account_to_pb(t.shop_id, &t.from)),
            to: Some(account_to_pb(t.shop_id, &t.to)),
            asset: asset_to_pb(t.asset).into(),
            amount: t.amount,
            reason: t.reason,
            shortfall: t.shortfall,
            create_time: Some(to_timestamp(t.created_at)),
        }
    }
}

impl From<Reservation> for pb::BudgetReservation {
    fn from(r: Reservation) -> Self {
        pb::BudgetReservation {
            reservation_id: r.reservation_id.to_string(),
            shop_id: r.shop_id.to_string(),
            asset: asset_to_pb(r.asset).into(),
            amount: r.amount,
            remaining: r.remaining,
            state: if r.released {
                pb::ReservationState::Released
            } else {
                pb::ReservationState::Held
            }
            .into(),
        }
    }
}

impl From<Entry> for pb::LedgerEntry {
    fn from(e: Entry) -> Self {
        pb::LedgerEntry {
            transfer_id: e.transfer_id.to_string(),
            asset: asset_to_pb(e.asset).into(),
            delta: e.delta,
            balance_after: e.balance_after,
            reason: e.reason,
            create_time: Some(to_timestamp(e.created_at)),
        }
    }
}
