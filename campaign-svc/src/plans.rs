//! The steps of each kind of claim, resolved against what the campaign reserved (budget
//! reservation, coupon allocation) so that a step carries everything its call needs. The
//! idempotency key of each step comes from `domain::claim::step_key`.

use crate::domain::claim::{Action, step_key};
use crate::domain::open_card_gift::PrizeType;
use crate::domain::types::{BatchKey, ClaimId};
use crate::store::claims::{StepAction, StepRecord, StepResult};
use crate::store::gifts::GiftRecord;

/// Numbers a list of actions into steps with their keys; the domain action of each pair is
/// what the key is derived from.
pub fn numbered(claim: ClaimId, actions: Vec<(Action, StepAction)>) -> Vec<StepRecord> {
    actions
        .into_iter()
        .enumerate()
        .map(|(index, (label, action))| StepRecord {
            key: step_key(claim, index, &label),
            action,
            done: false,
            result: StepResult::default(),
        })
        .collect()
}

/// OC-7: every prize of the open-card pack, whole.
pub fn open_card_gift(claim: ClaimId, gift: &GiftRecord) -> Vec<StepRecord> {
    let actions = gift
        .prizes
        .iter()
        .filter_map(|p| {
            if p.prize_type.is_coupon() {
                let batch_key = BatchKey::parse("batch_key", p.batch_key.as_deref()?).ok()?;
                Some((
                    Action::IssueCoupon {
                        batch_key: batch_key.clone(),
                    },
                    StepAction::IssueCoupon {
                        prize_type: Some(p.prize_type.name().to_string()),
                        batch_id: p.batch_id?,
                        batch_key: batch_key.as_str().to_string(),
                        channel: "INTERACTIVE".to_string(),
                        allocation_id: p.allocation_id,
                    },
                ))
            } else {
                Some((
                    Action::GrantAsset {
                        prize_type: p.prize_type,
                        amount: p.amount,
                    },
                    StepAction::GrantAsset {
                        prize_type: p.prize_type.name().to_string(),
                        amount: p.amount,
                        reservation_id: p.reservation_id,
                    },
                ))
            }
        })
        .collect();
    numbered(claim, actions)
}

/// A coupon issue through the CRM channel (packs, the exclusive coupon, exchanges).
pub fn crm_coupon(
    batch_key: &BatchKey,
    batch_id: uuid::Uuid,
    prize_type: Option<PrizeType>,
) -> (Action, StepAction) {
    (
        Action::IssueCoupon {
            batch_key: batch_key.clone(),
        },
        StepAction::IssueCoupon {
            prize_type: prize_type.map(|t| t.name().to_string()),
            batch_id,
            batch_key: batch_key.as_str().to_string(),
            channel: "CRM".to_string(),
            allocation_id: None,
        },
    )
}

/// GP-4: a gift item as a 0.01-yuan entitlement (or free, for exchanged goods).
pub fn gift_item(sku: &str, price_fen: i64) -> (Action, StepAction) {
    (
        Action::GrantGiftItem {
            sku: sku.to_string(),
        },
        StepAction::GrantGiftItem {
            sku: sku.to_string(),
            price_fen,
        },
    )
}

/// PT-3: the points an exchange spends (first, so a failed grant can refund them).
pub fn spend_points(points: i64) -> (Action, StepAction) {
    (
        Action::SpendPoints { points },
        StepAction::SpendPoints { points },
    )
}
