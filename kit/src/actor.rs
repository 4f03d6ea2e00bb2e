//! who is calling. The gateway authenticates the bearer token and passes the actor to
//! services inside a signed internal token ([`crate::auth`]); services re-check tenancy.

use std::fmt;

use crate::error::Failure;

/// The caller of an RPC.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A platform operator: may act platform-wide.
    Operator,
    /// A merchant acting for one shop.
    Merchant { shop_id: String },
    /// A shopper acting on their own data.
    Shopper { user_id: String },
    /// Another service (the order system, campaign-svc ...).
    Service { name: String },
}

impl Actor {
    /// The actor the server's [`crate::auth::AuthLayer`] proved for this request;
    /// UNAUTHENTICATED when the request did not pass through it.
    pub fn from_request<T>(request: &tonic::Request<T>) -> Result<Self, Failure> {
        request
            .extensions()
            .get::<Actor>()
            .cloned()
            .ok_or_else(|| Failure::Unauthenticated("the call carries no verified actor".into()))
    }

    /// May this actor act on `shop_id` as its owner (merchant of that shop, operator or service)?
    pub fn ensure_shop_admin(&self, shop_id: &str) -> Result<(), Failure> {
        match self {
            Actor::Operator | Actor::Service { .. } => Ok(()),
            // Shop ids are UUIDs: compare them case-insensitively.
            Actor::Merchant { shop_id: own } if own.eq_ignore_ascii_case(shop_id) => Ok(()),
            _ => Err(Failure::PermissionDenied(format!(
                "caller may not manage shop {shop_id}"
            ))),
        }
    }

    /// [`Actor::ensure_shop_admin`] for a resource the caller named by id (`what`, e.g.
    /// "open-card gift <id>"): a merchant of another shop gets NOT_FOUND, as if the id did
    /// not exist, so an id never reveals that the resource exists or which shop owns it.
    pub fn ensure_owns(&self, shop_id: &str, what: &str) -> Result<(), Failure> {
        match (self, self.ensure_shop_admin(shop_id)) {
            (Actor::Merchant { .. }, Err(_)) => Err(Failure::NotFound(format!("{what} not found"))),
            (_, checked) => checked,
        }
    }

    /// May this actor act for shopper `user_id` (the shopper themself, operator or service)?
    pub fn ensure_user(&self, user_id: &str) -> Result<(), Failure> {
        match self {
            Actor::Operator | Actor::Service { .. } => Ok(()),
            Actor::Shopper { user_id: own } if own == user_id => Ok(()),
            _ => Err(Failure::PermissionDenied(
                "caller may not act for this shopper".into(),
            )),
        }
    }

    /// Only operators (and trusted services) act platform-wide.
    pub fn ensure_operator(&self) -> Result<(), Failure> {
        match self {
            Actor::Operator | Actor::Service { .. } => Ok(()),
            _ => Err(Failure::PermissionDenied(
                "only platform operators may do this".into(),
            )),
        }
    }

    /// Only another service (e.g. the order system) may do this; people may not.
    pub fn ensure_service(&self) -> Result<(), Failure> {
        match self {
            Actor::Service { .. } => Ok(()),
            _ => Err(Failure::PermissionDenied(
                "only a platform service may do this".into(),
            )),
        }
    }

    /// Any authenticated caller may read storefront-public data such as a card face.
    pub fn ensure_any(&self) -> Result<(), Failure> {
        Ok(())
    }

    /// The tenant an idempotency key is scoped to.
    pub fn scope(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Operator => f.write_str("operator"),
            Actor::Merchant { shop_id } => write!(f, "merchant:{shop_id}"),
            Actor::Shopper { user_id } => write!(f, "shopper:{user_id}"),
            Actor::Service { name } => write!(f, "service:{name}"),
        }
    }
}

impl std::str::FromStr for Actor {
    type Err = Failure;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let bad = || Failure::Unauthenticated("malformed actor".into());
        match raw.split_once(':') {
            None if raw == "operator" => Ok(Actor::Operator),
            Some(("merchant", id)) if !id.is_empty() => Ok(Actor::Merchant { shop_id: id.into() }),
            Some(("shopper", id)) if !id.is_empty() => Ok(Actor::Shopper { user_id: id.into() }),
            Some(("service", name)) if !name.is_empty() => Ok(Actor::Service { name: name.into() }),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x1_another_shops_resource_is_not_found_for_a_merchant() {
        let merchant = Actor::Merchant {
            shop_id: "shop-a".into(),
        };
        assert!(merchant.ensure_owns("SHOP-A", "pack p").is_ok());
        let refused = merchant.ensure_owns("shop-b", "pack p").err();
        assert!(
            matches!(&refused, Some(Failure::NotFound(m)) if !m.contains("shop-b")),
            "{refused:?}"
        );
        let shopper = Actor::Shopper {
            user_id: "u".into(),
        };
        assert!(matches!(
            shopper.ensure_owns("shop-b", "pack p"),
            Err(Failure::PermissionDenied(_))
        ));
        assert!(Actor::Operator.ensure_owns("shop-b", "pack p").is_ok());
    }

    #[test]
    fn x1_actor_round_trips_through_its_text_form() {
        for actor in [
            Actor::Operator,
            Actor::Merchant {
                shop_id: "s1".into(),
            },
            Actor::Shopper {
                user_id: "u1".into(),
            },
            Actor::Service {
                name: "orders".into(),
            },
        ] {
            assert_eq!(actor.to_string().parse::<Actor>().ok(), Some(actor));
        }
        assert!("merchant:".parse::<Actor>().is_err());
        assert!("root".parse::<Actor>().is_err());
    }

    #[test]
    fn x1_merchant_manages_only_its_own_shop() {
        let merchant = Actor::Merchant {
            shop_id: "a".into(),
        };
        assert!(merchant.ensure_shop_admin("a").is_ok());
        assert!(merchant.ensure_shop_admin("b").is_err());
        assert!(merchant.ensure_operator().is_err());
        let shopper = Actor::Shopper {
            user_id: "u".into(),
        };
        assert!(shopper.ensure_shop_admin("a").is_err());
        assert!(shopper.ensure_user("u").is_ok());
        assert!(shopper.ensure_user("v").is_err());
    }
}
