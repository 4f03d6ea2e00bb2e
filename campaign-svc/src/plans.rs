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

/// OC-7: every prize of the open-card pack, whole; the reason when a stored coupon prize
/// lacks its batch (the campaign's rows are malformed: the claim fails, it is never granted
/// with fewer prizes).
pub fn open_card_gift(claim: ClaimId, gift: &GiftRecord) -> Result<Vec<StepRecord>, String> {
    let actions = gift
        .prizes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if !p.prize_type.is_coupon() {
                return Ok((
                    Action::GrantAsset {
                        prize_type: p.prize_type,
                        amount: p.amount,
                    },
                    StepAction::GrantAsset {
                        prize_type: p.prize_type.name().to_string(),
                        amount: p.amount,
                        reservation_id: p.reservation_id,
                    },
                ));
            }
            let corrupt =
                |what: &str| format!("CORRUPT_PRIZE: prize {i} of campaign {}: {what}", gift.id);
            let batch_key = p
                .batch_key
                .as_deref()
                .ok_or_else(|| corrupt("no batch key"))
                .and_then(|k| {
                    BatchKey::parse("batch_key", k).map_err(|_| corrupt("malformed batch key"))
                })?;
            let batch_id = p.batch_id.ok_or_else(|| corrupt("no batch id"))?;
            Ok((
                Action::IssueCoupon {
                    batch_key: batch_key.clone(),
                },
                StepAction::IssueCoupon {
                    prize_type: Some(p.prize_type.name().to_string()),
                    batch_id,
                    batch_key: batch_key.as_str().to_string(),
                    channel: "INTERACTIVE".to_string(),
                    allocation_id: p.allocation_id,
                },
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(numbered(claim, actions))
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
