//! PT-3: points-for-coupon and points-for-goods exchanges. The items a member may exchange
//! are their level's benefits (LV-6, owned by membership-svc); an exchange spends the points
//! first and grants the item second, so a failed grant is compensated by a refund.

use memberhub_kit::error::Failure;

use super::types::BatchKey;

/// One exchange item of a level, as membership-svc lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExchangeItemView {
    pub item_id: String,
    pub points_cost: i64,
    /// The batch key (points for coupon) or the goods sku (points for goods).
    pub target: String,
}

/// The exchange items of the shopper's level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LevelItems {
    pub for_coupon: Vec<ExchangeItemView>,
    pub for_goods: Vec<ExchangeItemView>,
}

/// What an exchange grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Coupon(BatchKey),
    Goods { sku: String },
}

/// A checked exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exchange {
    pub item_id: String,
    pub points: i64,
    pub target: Target,
}

/// PT-3/LV-6: the item among the level's benefits, with enough points to pay for it.
/// An item of no level of the member's is `EXCHANGE_ITEM_NOT_AVAILABLE`; too few points is
/// `INSUFFICIENT_POINTS` (nothing is recorded; a balance that drops between this check and
/// the spend fails the claim instead, with the ledger's reason).
pub(crate) fn check(items: &LevelItems, item_id: &str, balance: i64) -> Result<Exchange, Failure> {
    let coupon = items.for_coupon.iter().find(|i| i.item_id == item_id);
    let goods = items.for_goods.iter().find(|i| i.item_id == item_id);
    let (item, target) = match (coupon, goods) {
        (Some(i), _) => {
            let key = BatchKey::parse("item_id", &i.target).map_err(|_| {
                Failure::precondition(
                    "EXCHANGE_ITEM_MISCONFIGURED",
                    format!("exchange item {item_id} does not name a coupon batch"),
                )
            })?;
            (i, Target::Coupon(key))
        }
        (None, Some(i)) if !i.target.trim().is_empty() => (
            i,
            Target::Goods {
                sku: i.target.trim().to_string(),
            },
        ),
        (None, Some(_)) => {
            return Err(Failure::precondition(
                "EXCHANGE_ITEM_MISCONFIGURED",
                format!("exchange item {item_id} names no goods"),
            ));
        }
        (None, None) => {
            return Err(Failure::FailedPrecondition {
                reason: "EXCHANGE_ITEM_NOT_AVAILABLE",
                message: format!("item {item_id} is not an exchange item of the member's level"),
                metadata: vec![("item_id", item_id.to_string())],
            });
        }
    };
    if item.points_cost < 1 {
        return Err(Failure::precondition(
            "EXCHANGE_ITEM_MISCONFIGURED",
            format!("exchange item {item_id} has no points cost"),
        ));
    }
    if balance < item.points_cost {
        return Err(Failure::FailedPrecondition {
            reason: "INSUFFICIENT_POINTS",
            message: format!(
                "the exchange costs {} points; the balance is {balance}",
                item.points_cost
            ),
            metadata: vec![("points_cost", item.points_cost.to_string())],
        });
    }
    Ok(Exchange {
        item_id: item_id.to_string(),
        points: item.points_cost,
        target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, cost: i64, target: &str) -> ExchangeItemView {
        ExchangeItemView {
            item_id: id.into(),
            points_cost: cost,
            target: target.into(),
        }
    }

    fn items() -> LevelItems {
        LevelItems {
            for_coupon: vec![item("c1", 100, "BA_aaaaaaa")],
            for_goods: vec![item("g1", 300, "sku-1")],
        }
    }

    fn reason(r: Result<Exchange, Failure>) -> &'static str {
        match r {
            Err(Failure::FailedPrecondition { reason, .. }) => reason,
            other => panic!("expected a precondition, got {other:?}"),
        }
    }

    #[test]
    fn pt3_a_level_item_with_enough_points_is_exchanged() {
        let coupon = check(&items(), "c1", 100).expect("enough points");
        assert_eq!(coupon.points, 100);
        assert!(matches!(coupon.target, Target::Coupon(ref k) if k.as_str() == "BA_aaaaaaa"));
        let goods = check(&items(), "g1", 1000).expect("enough points");
        assert_eq!(
            goods.target,
            Target::Goods {
                sku: "sku-1".into()
            }
        );
    }

    #[test]
    fn pt3_too_few_points_is_refused_before_anything_is_recorded() {
        assert_eq!(reason(check(&items(), "c1", 99)), "INSUFFICIENT_POINTS");
    }

    #[test]
    fn pt3_an_item_of_another_level_is_not_available() {
        assert_eq!(
            reason(check(&items(), "x", 1000)),
            "EXCHANGE_ITEM_NOT_AVAILABLE"
        );
    }

    #[test]
    fn pt3_a_coupon_item_must_name_a_batch() {
        let bad = LevelItems {
            for_coupon: vec![item("c1", 100, "not-a-key")],
            ..LevelItems::default()
        };
        assert_eq!(
            reason(check(&bad, "c1", 1000)),
            "EXCHANGE_ITEM_MISCONFIGURED"
        );
    }
}
