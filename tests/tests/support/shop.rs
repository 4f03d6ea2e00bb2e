//! A shop with its merchant and one shopper, driven through a gateway: the steps the
//! campaign journeys (and the deployment tests) share.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Api, World, start};

pub(crate) fn key() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub(crate) fn ok(what: &str, (status, body): (u16, Value)) -> anyhow::Result<Value> {
    anyhow::ensure!(status == 200, "{what}: {status} {body}");
    Ok(body)
}

pub(crate) fn text(value: &Value, field: &str) -> anyhow::Result<String> {
    value[field]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("no {field} in {value}"))
}

/// A shop, its merchant and one shopper.
pub(crate) struct Shop {
    pub w: Api,
    pub shop: String,
    pub merchant: String,
    pub shopper: String,
    pub user_id: &'static str,
    /// The in-process suite behind `w`, kept running (`None`: separate processes).
    _world: Option<World>,
}

impl Shop {
    /// A POP shop whose members join by opening the card.
    pub(crate) async fn start(name: &str, user_id: &'static str) -> anyhow::Result<Self> {
        Self::start_in(start().await?, name, user_id).await
    }

    /// The same on a suite already running.
    pub(crate) async fn start_in(
        w: World,
        name: &str,
        user_id: &'static str,
    ) -> anyhow::Result<Self> {
        Self::on(w.api.clone(), Some(w), name, user_id).await
    }

    /// A shop already registered in `w`'s suite, as it stands.
    pub(crate) fn existing(w: World, shop: String, user_id: &'static str) -> anyhow::Result<Self> {
        Ok(Self {
            merchant: w.merchant(&shop)?,
            shopper: w.shopper(user_id)?,
            shop,
            w: w.api.clone(),
            user_id,
            _world: Some(w),
        })
    }

    /// The same through the gateway `api` talks to (`world`: the suite behind it, if any).
    pub(crate) async fn on(
        api: Api,
        world: Option<World>,
        name: &str,
        user_id: &'static str,
    ) -> anyhow::Result<Self> {
        let shop = api.register_shop(name, "POP").await?;
        let this = Self {
            merchant: api.merchant(&shop)?,
            shopper: api.shopper(user_id)?,
            shop,
            w: api,
            user_id,
            _world: world,
        };
        ok(
            "join policy",
            this.backoffice(
                Method::PUT,
                "/program/join-policy",
                Some(json!({"join_policy": "CARD"})),
            )
            .await?,
        )?;
        Ok(this)
    }

    pub(crate) async fn backoffice(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        self.w
            .shop_call("backoffice", &self.shop, &self.merchant, method, path, body)
            .await
    }

    pub(crate) async fn storefront(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        self.w
            .shop_call("storefront", &self.shop, &self.shopper, method, path, body)
            .await
    }

    /// Creates and publishes a batch of `channel`; returns its `BA_` key.
    pub(crate) async fn live_batch(&self, channel: &str, name: &str) -> anyhow::Result<String> {
        let now = Utc::now();
        let body = json!({
            "internal_name": name,
            "kind": "THRESHOLD",
            "face_value_fen": 1000,
            "threshold_fen": 5000,
            "channel": channel,
            "total_quantity": 100,
            "per_user_limit": 1,
            "per_issue_count": 1,
            "claim_start_time": (now - chrono::Duration::hours(1)).to_rfc3339(),
            "claim_end_time": (now + chrono::Duration::days(30)).to_rfc3339(),
            "validity": {"kind": "RELATIVE", "relative_days": 7},
        });
        let batch = ok(
            "create batch",
            self.backoffice(Method::POST, "/coupon-batches", Some(body))
                .await?,
        )?;
        let id = text(&batch, "batch_id")?;
        let live = ok(
            "submit batch",
            self.backoffice(Method::POST, &format!("/coupon-batches/{id}/submit"), None)
                .await?,
        )?;
        anyhow::ensure!(live["status"] == "ACTIVE", "{live}");
        text(&batch, "batch_key")
    }

    /// PT-2: pays `amount` of `asset` (e.g. `BEANS`) into the shop's budget.
    pub(crate) async fn recharge(&self, asset: &str, amount: i64) -> anyhow::Result<()> {
        ok(
            "recharge",
            self.backoffice(
                Method::POST,
                "/budget/recharge",
                Some(json!({"asset": asset, "amount": amount})),
            )
            .await?,
        )
        .map(|_| ())
    }

    /// GP-1: a live new-member pack of `quantity` holding one coupon of `batch_key`;
    /// returns its id.
    pub(crate) async fn new_member_pack(
        &self,
        batch_key: &str,
        quantity: i64,
    ) -> anyhow::Result<String> {
        let now = Utc::now();
        let pack = ok(
            "create pack",
            self.backoffice(
                Method::POST,
                "/gift-packs",
                Some(json!({
                    "kind": "NEW_MEMBER",
                    "name": "新人礼包",
                    "start_time": (now - chrono::Duration::minutes(1)).to_rfc3339(),
                    "end_time": (now + chrono::Duration::days(7)).to_rfc3339(),
                    "batch_keys": [batch_key],
                    "quantity": quantity,
                })),
            )
            .await?,
        )?;
        text(&pack, "pack_id")
    }

    pub(crate) async fn member_center(&self) -> anyhow::Result<Value> {
        ok(
            "member center",
            self.storefront(Method::GET, "/member-center", None).await?,
        )
    }

    /// The member center with its offers section: campaign-svc asks membership-svc in turn,
    /// which on a busy machine may miss the gateway's compose deadline now and then.
    pub(crate) async fn member_center_with_offers(&self) -> anyhow::Result<Value> {
        let mut center = Value::Null;
        for _ in 0..10 {
            center = self.member_center().await?;
            if !center["offers"].is_null() {
                return Ok(center);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("offers stayed degraded: {center}")
    }

    pub(crate) async fn open_card(&self) -> anyhow::Result<Value> {
        ok(
            "open card",
            self.storefront(
                Method::POST,
                "/card/open",
                Some(json!({"phone": "13800138000"})),
            )
            .await?,
        )
    }

    /// The shopper's available coupons of this shop.
    pub(crate) async fn wallet(&self) -> anyhow::Result<Vec<Value>> {
        let wallet = ok(
            "wallet",
            self.w
                .call(
                    Method::GET,
                    &format!(
                        "/api/storefront/v1/coupons?shop_id={}&state=AVAILABLE",
                        self.shop
                    ),
                    Some(&self.shopper),
                    None,
                    None,
                )
                .await?,
        )?;
        Ok(wallet["coupons"].as_array().cloned().unwrap_or_default())
    }

    /// Polls the shopper's claim until it leaves PENDING (the saga grants in the background).
    pub(crate) async fn settled_claim(&self, claim_id: &str) -> anyhow::Result<Value> {
        for _ in 0..100 {
            let claim = ok(
                "claim",
                self.storefront(Method::GET, &format!("/claims/{claim_id}"), None)
                    .await?,
            )?;
            if claim["state"] != "PENDING" {
                return Ok(claim);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("claim {claim_id} still PENDING after 10 s")
    }
}
