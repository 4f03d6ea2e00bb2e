//! The points and asset ledger: a member's history, shop budgets, expiry (PT-1..PT-5).

use memberhub_proto::{common as pbc, membership as pb};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{short, timestamp};
use crate::error::ApiError;
use crate::query::{self, FieldCheck};

/// PT-2: what a ledger account holds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Asset {
    /// The shop's own points.
    Points,
    /// Platform beans.
    Beans,
    /// Cash red packets, in fen.
    RedPacket,
    /// Mobile data, in MB.
    DataPack,
}

impl From<Asset> for pbc::Asset {
    fn from(a: Asset) -> Self {
        match a {
            Asset::Points => pbc::Asset::Points,
            Asset::Beans => pbc::Asset::Beans,
            Asset::RedPacket => pbc::Asset::RedPacket,
            Asset::DataPack => pbc::Asset::DataPack,
        }
    }
}

/// PT-2: the assets a shop's budget holds: points are the shop's own and need none. Only a
/// schema: a recharge's `asset` is an [`Asset`], and `POINTS` is FAILED_PRECONDITION
/// `POINTS_NEED_NO_BUDGET`.
#[expect(
    dead_code,
    reason = "only a schema in the OpenAPI document; never built"
)]
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum BudgetAsset {
    /// Platform beans.
    Beans,
    /// Cash red packets, in fen.
    RedPacket,
    /// Mobile data, in MB.
    DataPack,
}

fn asset_name(asset: pbc::Asset) -> String {
    short(asset.as_str_name(), "ASSET_")
}

/// PT-4: one change of the member's balance.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct LedgerEntry {
    pub transfer_id: String,
    /// `POINTS`, `BEANS`, `RED_PACKET` or `DATA_PACK`.
    pub asset: String,
    /// Positive for credits to the member, negative for debits.
    pub delta: i64,
    pub balance_after: i64,
    pub reason: String,
    pub create_time: Option<String>,
}

impl From<pb::LedgerEntry> for LedgerEntry {
    fn from(e: pb::LedgerEntry) -> Self {
        Self {
            asset: asset_name(e.asset()),
            transfer_id: e.transfer_id,
            delta: e.delta,
            balance_after: e.balance_after,
            reason: e.reason,
            create_time: timestamp(e.create_time),
        }
    }
}

/// PT-4: one page of the member's ledger history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct LedgerPage {
    pub entries: Vec<LedgerEntry>,
    /// Empty on the last page.
    pub next_page_token: String,
}

impl From<pb::ListLedgerEntriesResponse> for LedgerPage {
    fn from(r: pb::ListLedgerEntriesResponse) -> Self {
        Self {
            entries: r.entries.into_iter().map(LedgerEntry::from).collect(),
            next_page_token: r.next_page_token,
        }
    }
}

/// PT-4: which asset and which page of the ledger.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LedgerQuery {
    /// Only this asset; absent means every asset.
    #[param(value_type = Option<Asset>)]
    pub asset: Option<String>,
    /// 1 to 200; absent or 0 means 50.
    // memberhub_kit::input::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE}.
    #[param(value_type = Option<i32>, minimum = 0, maximum = 200)]
    pub page_size: Option<String>,
    /// The previous page's `next_page_token`.
    pub page_token: Option<String>,
}

impl LedgerQuery {
    /// The ListLedgerEntries request for `user_id`, or INVALID_ARGUMENT naming every bad field.
    pub(crate) fn into_request(
        self,
        shop_id: String,
        user_id: String,
    ) -> Result<pb::ListLedgerEntriesRequest, ApiError> {
        let mut check = FieldCheck::default();
        let asset = check.take(query::enum_name::<Asset>("asset", self.asset.as_deref()));
        let page_size = check.take(query::integer("page_size", self.page_size.as_deref()));
        check.finish(pb::ListLedgerEntriesRequest {
            shop_id,
            user_id,
            asset: asset.map_or(pbc::Asset::Unspecified, Into::into).into(),
            page_size: page_size.unwrap_or_default(),
            page_token: self.page_token.unwrap_or_default(),
        })
    }
}

/// PT-1: one side of a transfer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Account {
    /// `MEMBER`, `SHOP_BUDGET`, `RESERVATION`, `SYSTEM_ISSUANCE` or `SYSTEM_EXPIRY`.
    pub kind: String,
    pub shop_id: String,
    /// The member, or the reservation id.
    pub owner_id: String,
}

impl From<pb::Account> for Account {
    fn from(a: pb::Account) -> Self {
        Self {
            kind: short(a.kind().as_str_name(), "ACCOUNT_KIND_"),
            shop_id: a.shop_id,
            owner_id: a.owner_id,
        }
    }
}

/// PT-1: an immutable double-entry transfer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Transfer {
    pub transfer_id: String,
    pub from: Option<Account>,
    pub to: Option<Account>,
    /// `POINTS`, `BEANS`, `RED_PACKET` or `DATA_PACK`.
    pub asset: String,
    pub amount: i64,
    pub reason: String,
    /// Amount a reversal could not take back (OR-4).
    pub shortfall: i64,
    pub create_time: Option<String>,
}

impl From<pb::Transfer> for Transfer {
    fn from(t: pb::Transfer) -> Self {
        Self {
            asset: asset_name(t.asset()),
            transfer_id: t.transfer_id,
            from: t.from.map(Account::from),
            to: t.to.map(Account::from),
            amount: t.amount,
            reason: t.reason,
            shortfall: t.shortfall,
            create_time: timestamp(t.create_time),
        }
    }
}

/// PT-4: a shop's budget for one asset.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct BudgetBalance {
    /// `BEANS`, `RED_PACKET` or `DATA_PACK` (fen for red packets, MB for data packs).
    pub asset: String,
    pub available: i64,
    /// Set aside for campaigns.
    pub reserved: i64,
}

/// PT-4: the shop's budget balances.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct BudgetBalances {
    pub balances: Vec<BudgetBalance>,
}

impl From<pb::ListBudgetBalancesResponse> for BudgetBalances {
    fn from(r: pb::ListBudgetBalancesResponse) -> Self {
        Self {
            balances: r
                .balances
                .into_iter()
                .map(|b| BudgetBalance {
                    asset: asset_name(b.asset()),
                    available: b.available,
                    reserved: b.reserved,
                })
                .collect(),
        }
    }
}

/// PT-5: what an expiry run took back.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PointsExpired {
    pub expired_lots: i64,
    pub expired_points: i64,
}

impl From<pb::ExpirePointsResponse> for PointsExpired {
    fn from(r: pb::ExpirePointsResponse) -> Self {
        Self {
            expired_lots: r.expired_lots,
            expired_points: r.expired_points,
        }
    }
}

// ------------------------------------------------------------------ request bodies

/// PT-2: move an asset into the shop's budget so that it can be granted.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct RechargeBudget {
    #[schema(value_type = BudgetAsset)]
    pub asset: Asset,
    /// In the asset's unit: beans, fen for red packets, MB for data packs.
    // membership-svc `ledger::MAX_AMOUNT`.
    #[schema(minimum = 1, maximum = 1_000_000_000_000_i64)]
    pub amount: i64,
}

impl RechargeBudget {
    pub(crate) fn into_request(
        self,
        request_id: String,
        shop_id: String,
    ) -> pb::RechargeBudgetRequest {
        pb::RechargeBudgetRequest {
            request_id,
            shop_id,
            asset: pbc::Asset::from(self.asset).into(),
            amount: self.amount,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_short_name;
    use super::*;

    #[test]
    fn assets_travel_as_short_proto_names() {
        for a in [
            Asset::Points,
            Asset::Beans,
            Asset::RedPacket,
            Asset::DataPack,
        ] {
            assert_short_name(a, pbc::Asset::from(a).as_str_name(), "ASSET_");
        }
    }

    #[test]
    fn pt4_ledger_query_maps_asset_and_paging() -> Result<(), ApiError> {
        let filters = LedgerQuery {
            asset: Some("POINTS".into()),
            page_size: Some("20".into()),
            page_token: None,
        };
        let request = filters.into_request("shop".into(), "u-1".into())?;
        assert_eq!(request.asset(), pbc::Asset::Points);
        assert_eq!((request.page_size, request.user_id.as_str()), (20, "u-1"));
        let refused = LedgerQuery {
            asset: Some("COINS".into()),
            ..Default::default()
        }
        .into_request("shop".into(), "u-1".into())
        .err();
        assert_eq!(
            refused.map(|e| e.body.field_violations[0].field.clone()),
            Some("asset".to_string())
        );
        Ok(())
    }

    #[test]
    fn ledger_entries_name_their_asset() {
        let entry = LedgerEntry::from(pb::LedgerEntry {
            asset: pbc::Asset::Points.into(),
            delta: -450,
            balance_after: 1_146,
            ..Default::default()
        });
        assert_eq!((entry.asset.as_str(), entry.delta), ("POINTS", -450));
    }
}
