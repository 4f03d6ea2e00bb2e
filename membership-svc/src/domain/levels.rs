//! LV-1..LV-6: the level ladder, its conditions and benefits, and which level a member holds.

use chrono::{DateTime, Duration, Utc};
use memberhub_kit::error::{Failure, Violations};
use serde::{Deserialize, Serialize};

use super::program::MAX_LEVELS;
use memberhub_kit::input;

/// LV-1: the longest level name, in characters.
pub const MAX_LEVEL_NAME_CHARS: usize = 10;
/// LV-6: the longest exchange item title and item id, in characters.
pub const MAX_ITEM_TITLE_CHARS: usize = 30;
pub const MAX_ITEM_ID_CHARS: usize = 64;

/// LV-4: a level change is allowed again this long after the last one.
pub(crate) const LEVEL_CHANGE_LOCK: Duration = Duration::days(30);

/// LV-1: the default name of level `n`.
pub(crate) fn default_level_name(level: i32) -> String {
    format!("{level}星级")
}

/// LV-3: how the spend and count thresholds combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operator {
    And,
    Or,
}

memberhub_kit::db_enum!(pub(crate) Operator { And => "AND", Or => "OR" });

/// LV-3: cumulative confirmed spend and/or order count; at least one is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Condition {
    pub min_spend_fen: Option<i64>,
    pub min_order_count: Option<i64>,
    pub operator: Operator,
}

impl Condition {
    /// Does a member with these totals meet the condition?
    pub(crate) fn is_met(&self, spend_fen: i64, order_count: i64) -> bool {
        let spend = self.min_spend_fen.map(|min| spend_fen >= min);
        let count = self.min_order_count.map(|min| order_count >= min);
        match (spend, count, self.operator) {
            (Some(a), Some(b), Operator::And) => a && b,
            (Some(a), Some(b), Operator::Or) => a || b,
            (Some(a), None, _) | (None, Some(a), _) => a,
            (None, None, _) => false,
        }
    }

    /// The least totals that meet the condition (thresholds are monotone, so a condition
    /// is met exactly by the totals at or above one of these points).
    fn minimal_points(&self) -> Vec<(i64, i64)> {
        let (spend, count) = (
            self.min_spend_fen.unwrap_or(0),
            self.min_order_count.unwrap_or(0),
        );
        match (self.min_spend_fen, self.min_order_count, self.operator) {
            (Some(_), Some(_), Operator::Or) => vec![(spend, 0), (0, count)],
            _ => vec![(spend, count)],
        }
    }

    fn implies(&self, other: &Condition) -> bool {
        self.minimal_points()
            .into_iter()
            .all(|(s, c)| other.is_met(s, c))
    }

    /// LV-3: everyone meeting `self` meets `lower`, and `self` is not the same condition.
    fn is_strictly_harder_than(&self, lower: &Condition) -> bool {
        self.implies(lower) && !lower.implies(self)
    }
}

/// One rung of the ladder as the merchant defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LevelDefinition {
    pub level: i32,
    pub name: String,
    /// `None` only for level 1 (LV-2).
    pub condition: Option<Condition>,
}

/// LV-1..LV-3: a validated ladder, levels 1..N.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ladder(Vec<LevelDefinition>);

/// A level definition as it arrives, before validation.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawLevel<'a> {
    pub level: i32,
    pub name: &'a str,
    pub min_spend_fen: Option<i64>,
    pub min_order_count: Option<i64>,
    /// `None` when unspecified (AND is assumed).
    pub operator: Option<Operator>,
}

impl Ladder {
    /// LV-1..LV-3: levels numbered 1..N (N in 1..5), names of 1..10 characters (empty takes
    /// the default), level 1 without a condition, each higher level strictly harder.
    pub(crate) fn parse(raw: &[RawLevel<'_>]) -> Result<Self, Failure> {
        if raw.is_empty() || raw.len() > MAX_LEVELS as usize {
            return Err(Failure::invalid(
                "levels",
                format!("must list 1 to {MAX_LEVELS} levels"),
            ));
        }
        let mut violations = Violations::new();
        let mut levels: Vec<LevelDefinition> = Vec::with_capacity(raw.len());
        for (index, level) in raw.iter().enumerate() {
            let field = |name: &str| format!("levels[{index}].{name}");
            let number = index as i32 + 1;
            if level.level != number {
                violations.add(
                    field("level"),
                    format!("must be {number}: levels are numbered 1..N in order"),
                );
            }
            let name = if level.name.trim().is_empty() {
                Some(default_level_name(number))
            } else {
                violations.check(input::text(
                    &field("name"),
                    level.name,
                    MAX_LEVEL_NAME_CHARS,
                ))
            };
            for (value, name) in [
                (level.min_spend_fen, "condition.min_spend_fen"),
                (level.min_order_count, "condition.min_order_count"),
            ] {
                if value.is_some_and(|v| v <= 0) {
                    violations.add(field(name), "must be positive");
                }
            }
            let condition = if number == 1 {
                if level.min_spend_fen.is_some() || level.min_order_count.is_some() {
                    violations.add(
                        field("condition"),
                        "level 1 has no condition: every member holds it (LV-2)",
                    );
                }
                None
            } else {
                if level.min_spend_fen.is_none() && level.min_order_count.is_none() {
                    violations.add(
                        field("condition"),
                        "needs a minimum spend and/or order count (LV-3)",
                    );
                }
                Some(Condition {
                    min_spend_fen: level.min_spend_fen,
                    min_order_count: level.min_order_count,
                    operator: level.operator.unwrap_or(Operator::And),
                })
            };
            if let (Some(condition), Some(Some(lower))) = (
                condition.as_ref(),
                levels.last().map(|l| l.condition.as_ref()),
            ) && !condition.is_strictly_harder_than(lower)
            {
                violations.add(
                    field("condition"),
                    format!("must be strictly harder than level {} (LV-3)", number - 1),
                );
            }
            levels.push(LevelDefinition {
                level: number,
                name: name.unwrap_or_default(),
                condition,
            });
        }
        violations.finish()?;
        Ok(Ladder(levels))
    }

    /// A ladder read back from the database (already valid).
    pub(crate) fn from_stored(levels: Vec<LevelDefinition>) -> Self {
        Ladder(levels)
    }

    pub(crate) fn levels(&self) -> &[LevelDefinition] {
        &self.0
    }

    /// LV-5: the highest level whose condition is met; level 1 for every member.
    pub(crate) fn level_for(&self, spend_fen: i64, order_count: i64) -> i32 {
        self.0
            .iter()
            .filter(|l| l.condition.is_none_or(|c| c.is_met(spend_fen, order_count)))
            .map(|l| l.level)
            .max()
            .unwrap_or(1)
    }
}

/// LV-4: when the next level change is allowed, given the last one.
pub(crate) fn next_change_allowed_at(last_change: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    last_change.map(|at| at + LEVEL_CHANGE_LOCK)
}

/// LV-6: an item that can be bought with points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ExchangeItem {
    pub item_id: String,
    pub title: String,
    pub points_cost: i64,
    /// The batch key (`BA_...`) for coupons, the sku for goods.
    pub target: String,
}

/// LV-6: what a level gives its members.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Benefits {
    /// 95 means 9.5 fold; 0 none.
    pub discount_permille: i32,
    pub exclusive_access: bool,
    /// 150 means 1.5x; 0 means 1x.
    pub points_multiplier_percent: i32,
    pub points_for_coupon: Vec<ExchangeItem>,
    pub points_for_goods: Vec<ExchangeItem>,
}

/// A recommendation shown beside a successful save (LV-6, MP-6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Warning {
    pub code: &'static str,
    pub message: String,
    /// 0 when not about one level.
    pub level: i32,
}

impl Benefits {
    /// LV-6: discount 1..99 (95 = 9.5 fold) or 0; multiplier 100..1000 percent or 0; exchange
    /// items with a title, a positive cost and a target.
    pub(crate) fn validate(self) -> Result<Self, Failure> {
        let mut violations = Violations::new();
        if !(0..=99).contains(&self.discount_permille) {
            violations.add(
                "benefits.discount_permille",
                "must be 1..99 (95 = 9.5 fold) or 0 for none",
            );
        }
        if self.points_multiplier_percent != 0
            && !(100..=1000).contains(&self.points_multiplier_percent)
        {
            violations.add(
                "benefits.points_multiplier_percent",
                "must be 100..1000 (150 = 1.5x) or 0 for 1x",
            );
        }
        for (items, list, coupon) in [
            (&self.points_for_coupon, "points_for_coupon", true),
            (&self.points_for_goods, "points_for_goods", false),
        ] {
            if items.len() > 20 {
                violations.add(format!("benefits.{list}"), "must hold at most 20 items");
            }
            for (i, item) in items.iter().enumerate() {
                let field = |f: &str| format!("benefits.{list}[{i}].{f}");
                violations.check(input::text(
                    &field("title"),
                    &item.title,
                    MAX_ITEM_TITLE_CHARS,
                ));
                violations.check(input::text(
                    &field("item_id"),
                    &item.item_id,
                    MAX_ITEM_ID_CHARS,
                ));
                if item.points_cost <= 0 {
                    violations.add(field("points_cost"), "must be positive");
                }
                let target_ok = !item.target.chars().any(char::is_control)
                    && if coupon {
                        item.target.starts_with("BA_") && item.target.len() == 10
                    } else {
                        !item.target.trim().is_empty() && item.target.len() <= 64
                    };
                if !target_ok {
                    let expected = if coupon {
                        "a batch key such as BA_zv2bmpn"
                    } else {
                        "a sku"
                    };
                    violations.add(field("target"), format!("must be {expected}"));
                }
            }
        }
        violations.finish()?;
        Ok(self)
    }

    /// OR-4: the multiplier as a percentage (1x when unset).
    pub(crate) fn multiplier_percent(&self) -> i64 {
        if self.points_multiplier_percent == 0 {
            100
        } else {
            i64::from(self.points_multiplier_percent)
        }
    }

    pub(crate) fn is_configured(&self) -> bool {
        *self != Benefits::default()
    }
}

/// LV-6: warn (not fail) for each level lacking one of the three recommended benefits.
pub(crate) fn benefit_warnings(levels: &[(i32, &Benefits)]) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for (level, benefits) in levels {
        let missing = [
            (
                benefits.discount_permille == 0,
                "MISSING_MEMBER_DISCOUNT",
                "a member discount",
            ),
            (
                !benefits.exclusive_access,
                "MISSING_EXCLUSIVE_ACCESS",
                "member-exclusive access",
            ),
            (
                benefits.points_multiplier_percent == 0,
                "MISSING_POINTS_MULTIPLIER",
                "a points multiplier",
            ),
        ];
        for (is_missing, code, what) in missing {
            if is_missing {
                warnings.push(Warning {
                    code,
                    message: format!("level {level} has no {what}; it is recommended"),
                    level: *level,
                });
            }
        }
    }
    warnings
}

/// MP-6: a merchant whose benefits are not configured is warned.
pub(crate) fn setup_warnings(levels: &[&Benefits]) -> Vec<Warning> {
    if levels.iter().any(|b| b.is_configured()) {
        return Vec::new();
    }
    vec![Warning {
        code: "BENEFITS_NOT_CONFIGURED",
        message: "no level has benefits yet: shoppers would land on an empty member page".into(),
        level: 0,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(level: i32, spend: Option<i64>, count: Option<i64>, op: Operator) -> RawLevel<'static> {
        RawLevel {
            level,
            name: "",
            min_spend_fen: spend,
            min_order_count: count,
            operator: Some(op),
        }
    }

    #[test]
    fn lv1_ladder_has_one_to_five_levels_and_default_names() {
        assert!(Ladder::parse(&[]).is_err());
        let one = Ladder::parse(&[raw(1, None, None, Operator::And)]).expect("valid");
        assert_eq!(one.levels()[0].name, "1星级");
        let six: Vec<_> = (1..=6)
            .map(|l| raw(l, (l > 1).then_some(l as i64 * 100), None, Operator::And))
            .collect();
        assert!(Ladder::parse(&six).is_err());
    }

    #[test]
    fn lv2_level_one_takes_no_condition() {
        assert!(Ladder::parse(&[raw(1, Some(10), None, Operator::And)]).is_err());
    }

    #[test]
    fn lv3_each_level_must_be_strictly_harder() {
        let ok = Ladder::parse(&[
            raw(1, None, None, Operator::And),
            raw(2, Some(10_000), Some(2), Operator::Or),
            raw(3, Some(50_000), Some(3), Operator::And),
        ]);
        assert!(ok.is_ok(), "{ok:?}");
        let equal = Ladder::parse(&[
            raw(1, None, None, Operator::And),
            raw(2, Some(10_000), None, Operator::And),
            raw(3, Some(10_000), None, Operator::And),
        ]);
        assert!(equal.is_err());
        let weaker_or = Ladder::parse(&[
            raw(1, None, None, Operator::And),
            raw(2, Some(10_000), Some(5), Operator::And),
            raw(3, Some(50_000), Some(6), Operator::Or),
        ]);
        assert!(
            weaker_or.is_err(),
            "an OR above an AND is met by members below it"
        );
        let dropped = Ladder::parse(&[
            raw(1, None, None, Operator::And),
            raw(2, Some(10_000), Some(2), Operator::And),
            raw(3, Some(50_000), None, Operator::And),
        ]);
        assert!(
            dropped.is_err(),
            "dropping the count threshold is not harder"
        );
    }

    #[test]
    fn lv5_member_holds_highest_level_met() {
        let ladder = Ladder::parse(&[
            raw(1, None, None, Operator::And),
            raw(2, Some(10_000), Some(2), Operator::Or),
            raw(3, Some(50_000), Some(3), Operator::And),
        ])
        .expect("valid");
        assert_eq!(ladder.level_for(0, 0), 1);
        assert_eq!(ladder.level_for(10_000, 0), 2);
        assert_eq!(ladder.level_for(0, 2), 2);
        assert_eq!(ladder.level_for(50_000, 2), 2);
        assert_eq!(ladder.level_for(50_000, 3), 3);
    }

    #[test]
    fn lv6_warns_for_each_missing_recommended_benefit() {
        let none = Benefits::default();
        let full = Benefits {
            discount_permille: 95,
            exclusive_access: true,
            points_multiplier_percent: 150,
            ..Default::default()
        };
        assert_eq!(benefit_warnings(&[(1, &none)]).len(), 3);
        assert!(benefit_warnings(&[(2, &full)]).is_empty());
        assert!(
            Benefits {
                discount_permille: 100,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert_eq!(full.multiplier_percent(), 150);
        assert_eq!(none.multiplier_percent(), 100);
    }
}
