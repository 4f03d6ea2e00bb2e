//! LV: ladders, conditions, benefits and warnings.

use memberhub_kit::clock::to_timestamp;
use memberhub_kit::error::{Failure, Violations};
use memberhub_kit::input;
use memberhub_proto::membership as pb;

use crate::domain::levels::{self, Benefits, ExchangeItem, Operator, RawLevel, Warning};
use crate::store::levels::LevelRules;

impl From<Warning> for pb::Warning {
    fn from(w: Warning) -> Self {
        pb::Warning {
            code: w.code.to_string(),
            message: w.message,
            level: w.level,
        }
    }
}

fn item_to_pb(item: &ExchangeItem) -> pb::ExchangeItem {
    pb::ExchangeItem {
        item_id: item.item_id.clone(),
        title: item.title.clone(),
        points_cost: item.points_cost,
        target: item.target.clone(),
    }
}

fn item_from_pb(item: &pb::ExchangeItem) -> ExchangeItem {
    ExchangeItem {
        item_id: item.item_id.trim().to_string(),
        title: item.title.clone(),
        points_cost: item.points_cost,
        target: item.target.trim().to_string(),
    }
}

impl From<&Benefits> for pb::LevelBenefits {
    fn from(b: &Benefits) -> Self {
        pb::LevelBenefits {
            discount_permille: b.discount_permille,
            exclusive_access: b.exclusive_access,
            points_multiplier_percent: b.points_multiplier_percent,
            points_for_coupon: b.points_for_coupon.iter().map(item_to_pb).collect(),
            points_for_goods: b.points_for_goods.iter().map(item_to_pb).collect(),
        }
    }
}

/// LV-6: benefits as they arrive (validated by the domain).
pub(crate) fn benefits(b: &pb::LevelBenefits) -> Benefits {
    Benefits {
        discount_permille: b.discount_permille,
        exclusive_access: b.exclusive_access,
        points_multiplier_percent: b.points_multiplier_percent,
        points_for_coupon: b.points_for_coupon.iter().map(item_from_pb).collect(),
        points_for_goods: b.points_for_goods.iter().map(item_from_pb).collect(),
    }
}

/// LV-1..LV-3: a ladder as it arrives, for `Ladder::parse`; an operator number this build
/// does not know is refused here, not read as the default.
pub(crate) fn raw_levels(levels: &[pb::LevelDefinition]) -> Result<Vec<RawLevel<'_>>, Failure> {
    let mut violations = Violations::new();
    let raw = levels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let condition = l.condition.as_ref();
            let operator = condition.and_then(|c| {
                let field = format!("levels[{i}].condition.operator");
                match violations.check(input::enumeration(&field, c.operator))? {
                    pb::ConditionOperator::And => Some(Operator::And),
                    pb::ConditionOperator::Or => Some(Operator::Or),
                    pb::ConditionOperator::Unspecified => None,
                }
            });
            RawLevel {
                level: l.level,
                name: &l.name,
                min_spend_fen: condition.and_then(|c| c.min_spend_fen),
                min_order_count: condition.and_then(|c| c.min_order_count),
                operator,
            }
        })
        .collect();
    violations.finish()?;
    Ok(raw)
}

/// LV-4: the rules as of `now` (the next allowed change is shown only while it is ahead).
pub(crate) fn level_rules(
    rules: &LevelRules,
    now: chrono::DateTime<chrono::Utc>,
) -> pb::LevelRules {
    pb::LevelRules {
        shop_id: rules.shop_id.to_string(),
        levels: rules
            .levels
            .iter()
            .map(|(d, b)| pb::Level {
                level: d.level,
                name: d.name.clone(),
                condition: d.condition.map(|c| pb::LevelCondition {
                    min_spend_fen: c.min_spend_fen,
                    min_order_count: c.min_order_count,
                    operator: match c.operator {
                        Operator::And => pb::ConditionOperator::And,
                        Operator::Or => pb::ConditionOperator::Or,
                    }
                    .into(),
                }),
                benefits: Some(pb::LevelBenefits::from(b)),
            })
            .collect(),
        last_change_time: rules.last_change.map(to_timestamp),
        next_change_allowed_time: levels::next_change_allowed_at(rules.last_change)
            .filter(|next| *next > now)
            .map(to_timestamp),
    }
}

/// LV-6: the recommendation warnings for every level of `rules`.
pub(crate) fn benefit_warnings(rules: &LevelRules) -> Vec<pb::Warning> {
    let levels: Vec<(i32, &Benefits)> = rules.levels.iter().map(|(d, b)| (d.level, b)).collect();
    levels::benefit_warnings(&levels)
        .into_iter()
        .map(pb::Warning::from)
        .collect()
}
