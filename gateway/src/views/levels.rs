//! Levels, their conditions and their benefits (LV-1..LV-6).

use memberhub_proto::membership as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::program::{Warning, warnings};
use super::timestamp;

/// LV-3: how a level's two thresholds combine.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum ConditionOperator {
    And,
    Or,
}

impl From<ConditionOperator> for pb::ConditionOperator {
    fn from(o: ConditionOperator) -> Self {
        match o {
            ConditionOperator::And => pb::ConditionOperator::And,
            ConditionOperator::Or => pb::ConditionOperator::Or,
        }
    }
}

/// LV-3: cumulative confirmed spend and/or order count, net of refunds. Level 1 has none (LV-2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub(crate) struct LevelCondition {
    /// Cumulative confirmed spend in fen.
    // membership-svc `levels::Ladder::parse`: thresholds are positive.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub min_spend_fen: Option<i64>,
    /// Cumulative confirmed order count.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub min_order_count: Option<i64>,
    /// `AND` or `OR`, when both thresholds are set.
    #[serde(default)]
    pub operator: Option<ConditionOperator>,
}

impl From<pb::LevelCondition> for LevelCondition {
    fn from(c: pb::LevelCondition) -> Self {
        let operator = match c.operator() {
            pb::ConditionOperator::And => Some(ConditionOperator::And),
            pb::ConditionOperator::Or => Some(ConditionOperator::Or),
            pb::ConditionOperator::Unspecified => None,
        };
        Self {
            min_spend_fen: c.min_spend_fen,
            min_order_count: c.min_order_count,
            operator,
        }
    }
}

impl From<LevelCondition> for pb::LevelCondition {
    fn from(c: LevelCondition) -> Self {
        let operator = c.operator.map_or(
            pb::ConditionOperator::Unspecified,
            pb::ConditionOperator::from,
        );
        Self {
            min_spend_fen: c.min_spend_fen,
            min_order_count: c.min_order_count,
            operator: operator.into(),
        }
    }
}

/// LV-6: an item members of a level may exchange points for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct ExchangeItem {
    // membership-svc `levels::MAX_ITEM_ID_CHARS`.
    #[schema(
        required = true,
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub item_id: String,
    /// 1 to 30 characters once trimmed.
    // membership-svc `levels::MAX_ITEM_TITLE_CHARS`; kept as sent, so the limit is a
    // pattern on the trimmed text rather than a maxLength (see `constraints`).
    #[schema(
        required = true,
        pattern = r"^[\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\u0000-\u001f\u007f-\u009f]{0,28}[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub title: String,
    #[schema(required = true, minimum = 1)]
    pub points_cost: i64,
    /// For points-for-coupon items the batch key (`BA_...`); else the goods sku.
    // Goods: membership-svc `Benefits::validate` (64 bytes, trimmed).
    #[schema(
        required = true,
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub target: String,
}

/// LV-6: an item members of a level may exchange points for a coupon: an `ExchangeItem`
/// whose target is a batch key. Only a schema; the JSON is an `ExchangeItem`.
#[expect(
    dead_code,
    reason = "only a schema in the OpenAPI document; never built"
)]
#[derive(Debug, Clone, ToSchema)]
pub(crate) struct CouponExchangeItem {
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub item_id: String,
    /// 1 to 30 characters once trimmed.
    #[schema(
        pattern = r"^[\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\u0000-\u001f\u007f-\u009f]{0,28}[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub title: String,
    #[schema(minimum = 1)]
    pub points_cost: i64,
    /// The batch key (`BA_...`).
    // membership-svc `Benefits::validate`: `BA_` and 7 more bytes, trimmed.
    #[schema(pattern = r"^BA_[ -~]{6}[!-~]$")]
    pub target: String,
}

/// LV-6: 0 (1x) or 100 to 1000 (membership-svc `Benefits::validate`), which no single
/// `minimum`/`maximum` says.
fn points_multiplier_percent() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, Type};
    use utoipa::openapi::{KnownFormat, SchemaFormat};
    let integer = || {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
    };
    let any_of = AnyOfBuilder::new()
        .item(integer().enum_values(Some([0])))
        .item(integer().minimum(Some(100)).maximum(Some(1000)))
        .description(Some(
            "Points multiplier in hundredths: 150 means 1.5x; 0 means 1x.",
        ))
        .build();
    Schema::AnyOf(any_of)
}

impl From<pb::ExchangeItem> for ExchangeItem {
    fn from(i: pb::ExchangeItem) -> Self {
        Self {
            item_id: i.item_id,
            title: i.title,
            points_cost: i.points_cost,
            target: i.target,
        }
    }
}

impl From<ExchangeItem> for pb::ExchangeItem {
    fn from(i: ExchangeItem) -> Self {
        Self {
            item_id: i.item_id,
            title: i.title,
            points_cost: i.points_cost,
            target: i.target,
        }
    }
}

/// LV-6: a level's benefits. Fields left out are none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct LevelBenefits {
    /// Member discount in tenths of a fold: 95 means 9.5 fold (pay 95 %); 0 means none.
    // membership-svc `Benefits::validate`.
    #[schema(minimum = 0, maximum = 99)]
    pub discount_permille: i32,
    /// Member-exclusive access.
    pub exclusive_access: bool,
    /// Points multiplier in hundredths: 150 means 1.5x; 0 means 1x.
    #[schema(schema_with = points_multiplier_percent)]
    pub points_multiplier_percent: i32,
    // membership-svc `Benefits::validate`: at most 20 items a list.
    #[schema(value_type = Vec<CouponExchangeItem>, max_items = 20)]
    pub points_for_coupon: Vec<ExchangeItem>,
    #[schema(max_items = 20)]
    pub points_for_goods: Vec<ExchangeItem>,
}

impl From<pb::LevelBenefits> for LevelBenefits {
    fn from(b: pb::LevelBenefits) -> Self {
        Self {
            discount_permille: b.discount_permille,
            exclusive_access: b.exclusive_access,
            points_multiplier_percent: b.points_multiplier_percent,
            points_for_coupon: b.points_for_coupon.into_iter().map(Into::into).collect(),
            points_for_goods: b.points_for_goods.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<LevelBenefits> for pb::LevelBenefits {
    fn from(b: LevelBenefits) -> Self {
        Self {
            discount_permille: b.discount_permille,
            exclusive_access: b.exclusive_access,
            points_multiplier_percent: b.points_multiplier_percent,
            points_for_coupon: b.points_for_coupon.into_iter().map(Into::into).collect(),
            points_for_goods: b.points_for_goods.into_iter().map(Into::into).collect(),
        }
    }
}

/// One level of the ladder.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Level {
    pub level: i32,
    pub name: String,
    /// Absent for level 1 (LV-2: every member).
    pub condition: Option<LevelCondition>,
    pub benefits: Option<LevelBenefits>,
}

impl From<pb::Level> for Level {
    fn from(l: pb::Level) -> Self {
        Self {
            level: l.level,
            name: l.name,
            condition: l.condition.map(LevelCondition::from),
            benefits: l.benefits.map(LevelBenefits::from),
        }
    }
}

/// LV-1..LV-6: the whole ladder and the LV-4 change window.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct LevelRules {
    pub shop_id: String,
    pub levels: Vec<Level>,
    pub last_change_time: Option<String>,
    /// LV-4: when the next level change is allowed; absent when allowed now.
    pub next_change_allowed_time: Option<String>,
}

impl From<pb::LevelRules> for LevelRules {
    fn from(r: pb::LevelRules) -> Self {
        Self {
            shop_id: r.shop_id,
            levels: r.levels.into_iter().map(Level::from).collect(),
            last_change_time: timestamp(r.last_change_time),
            next_change_allowed_time: timestamp(r.next_change_allowed_time),
        }
    }
}

/// The ladder after a change, with LV-6 warnings for levels lacking recommended benefits.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct LevelRulesSaved {
    pub rules: Option<LevelRules>,
    pub warnings: Vec<Warning>,
}

impl From<pb::UpdateLevelRulesResponse> for LevelRulesSaved {
    fn from(r: pb::UpdateLevelRulesResponse) -> Self {
        Self {
            rules: r.rules.map(LevelRules::from),
            warnings: warnings(r.warnings),
        }
    }
}

impl From<pb::UpdateLevelBenefitsResponse> for LevelRulesSaved {
    fn from(r: pb::UpdateLevelBenefitsResponse) -> Self {
        Self {
            rules: r.rules.map(LevelRules::from),
            warnings: warnings(r.warnings),
        }
    }
}

// ------------------------------------------------------------------ request bodies

/// One level of a new ladder.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct LevelDefinition {
    /// The level's number: the n-th level of the list is level n.
    // membership-svc `program::MAX_LEVELS`.
    #[schema(minimum = 1, maximum = 5)]
    pub level: i32,
    /// Empty keeps the default name ("1星级" ...).
    // membership-svc `levels::MAX_LEVEL_NAME_CHARS`.
    #[serde(default)]
    #[schema(max_length = 10, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub name: String,
    /// Required for levels 2+; none for level 1.
    #[serde(default)]
    pub condition: Option<LevelCondition>,
}

/// LV-1, LV-3, LV-4: the whole ladder, levels 1..N with N in 1..5.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct UpdateLevelRules {
    // LV-1: membership-svc `program::MAX_LEVELS`.
    #[schema(min_items = 1, max_items = 5)]
    pub levels: Vec<LevelDefinition>,
}

impl UpdateLevelRules {
    pub(crate) fn into_request(
        self,
        request_id: String,
        shop_id: String,
    ) -> pb::UpdateLevelRulesRequest {
        pb::UpdateLevelRulesRequest {
            request_id,
            shop_id,
            levels: self
                .levels
                .into_iter()
                .map(|l| pb::LevelDefinition {
                    level: l.level,
                    name: l.name,
                    condition: l.condition.map(pb::LevelCondition::from),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_short_name;
    use super::*;

    #[test]
    fn condition_operators_travel_as_short_proto_names() {
        for o in [ConditionOperator::And, ConditionOperator::Or] {
            assert_short_name(
                o,
                pb::ConditionOperator::from(o).as_str_name(),
                "CONDITION_OPERATOR_",
            );
        }
    }

    #[test]
    fn lv3_a_ladder_maps_thresholds_and_operator_as_given() -> Result<(), serde_json::Error> {
        let body: UpdateLevelRules = serde_json::from_value(serde_json::json!({"levels": [
            {"level": 1},
            {"level": 2, "name": "银卡", "condition": {"min_spend_fen": 10000, "min_order_count": 2, "operator": "OR"}},
            {"level": 3, "condition": {"min_spend_fen": 50000}},
        ]}))?;
        let request = body.into_request("k".into(), "s".into());
        let conditions: Vec<_> = request.levels.iter().map(|l| l.condition).collect();
        assert_eq!(conditions[0], None, "level 1 has no condition (LV-2)");
        assert_eq!(
            conditions[1],
            Some(pb::LevelCondition {
                min_spend_fen: Some(10000),
                min_order_count: Some(2),
                operator: pb::ConditionOperator::Or.into(),
            })
        );
        assert_eq!(
            conditions[2],
            Some(pb::LevelCondition {
                min_spend_fen: Some(50000),
                min_order_count: None,
                operator: pb::ConditionOperator::Unspecified.into(),
            }),
            "a threshold left out stays unset, not zero"
        );
        assert_eq!(request.levels[1].name, "银卡");
        Ok(())
    }

    #[test]
    fn lv6_benefits_round_trip_and_default_to_none() -> Result<(), serde_json::Error> {
        let body: LevelBenefits = serde_json::from_str(r#"{"points_multiplier_percent": 150}"#)?;
        assert_eq!(
            body,
            LevelBenefits {
                points_multiplier_percent: 150,
                ..LevelBenefits::default()
            }
        );
        let back = LevelBenefits::from(pb::LevelBenefits::from(body.clone()));
        assert_eq!(back, body);
        Ok(())
    }

    #[test]
    fn an_unspecified_operator_is_absent_in_json() {
        let condition = LevelCondition::from(pb::LevelCondition {
            min_spend_fen: Some(1),
            min_order_count: None,
            operator: 0,
        });
        assert_eq!(condition.operator, None);
    }
}
