//! JWT bearer authentication. HS256 only; `exp`, `iss` and `aud` are required and
//! checked with no leeway beyond a few seconds of clock skew. One extractor per surface:
//! a token of another role gets PERMISSION_DENIED there.

use axum::extract::FromRequestParts;
use http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use memberhub_kit::actor::Actor;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;

/// Who a token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Operator,
    Merchant,
    Shopper,
    /// A trusted system such as the commerce platform's order system; `sub` is its name.
    Service,
}

/// The claims of a memberhub access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The shopper's user id, the merchant's or operator's account, or the service's name.
    pub sub: String,
    pub role: Role,
    /// Required for merchants: the one shop they act for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop_id: Option<String>,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    /// Not valid before (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

/// Token settings.
#[derive(Clone)]
pub struct JwtConfig {
    pub secret: String,
    pub issuer: String,
    pub audience: String,
}

impl std::fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("JwtConfig")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl JwtConfig {
    fn validation(&self) -> Validation {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        // honoured when present: a token minted for later is not valid yet
        validation.validate_nbf = true;
        validation.leeway = 5;
        validation
    }

    /// Verifies `token` and returns the actor it carries.
    pub fn verify(&self, token: &str) -> Result<Actor, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(self.secret.as_bytes()),
            &self.validation(),
        )
        .map_err(|e| ApiError::unauthenticated(format!("invalid bearer token: {e}")))?;
        let claims = data.claims;
        match claims.role {
            Role::Operator => Ok(Actor::Operator),
            Role::Shopper => Ok(Actor::Shopper {
                user_id: claims.sub,
            }),
            Role::Merchant => claims
                .shop_id
                .filter(|s| !s.is_empty())
                .map(|shop_id| Actor::Merchant { shop_id })
                .ok_or_else(|| ApiError::unauthenticated("merchant token without shop_id".into())),
            Role::Service if claims.sub.trim().is_empty() => Err(ApiError::unauthenticated(
                "service token without a service name in sub".into(),
            )),
            Role::Service => Ok(Actor::Service { name: claims.sub }),
        }
    }

    /// Issues a token (for `memberhub dev` and tests).
    pub fn issue(
        &self,
        role: Role,
        sub: &str,
        shop_id: Option<&str>,
        ttl: chrono::Duration,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: sub.into(),
            role,
            shop_id: shop_id.map(str::to_string),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now + ttl.num_seconds(),
            iat: now,
            nbf: None,
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(self.secret.as_bytes()),
        )
    }
}

/// The authenticated caller of a route.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub Actor);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::unauthenticated("missing bearer token".into()))?;
        let token = header.strip_prefix("Bearer ").ok_or_else(|| {
            ApiError::unauthenticated("authorization must be a bearer token".into())
        })?;
        state.jwt.verify(token.trim()).map(Caller)
    }
}

/// A platform operator (platform surface).
#[derive(Debug, Clone)]
pub(crate) struct OperatorCaller(pub Actor);

impl FromRequestParts<AppState> for OperatorCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Caller(actor) = Caller::from_request_parts(parts, state).await?;
        match actor {
            Actor::Operator => Ok(Self(actor)),
            _ => Err(ApiError::permission_denied(
                "the platform API is for operators".into(),
            )),
        }
    }
}

/// A merchant (back-office surface); the shop in the path is checked by [`MerchantCaller::for_shop`].
#[derive(Debug, Clone)]
pub(crate) struct MerchantCaller(pub Actor);

impl MerchantCaller {
    /// a merchant acts only on their own shop.
    pub(crate) fn for_shop(&self, shop_id: &str) -> Result<&Actor, ApiError> {
        match &self.0 {
            Actor::Merchant { shop_id: own } if own.eq_ignore_ascii_case(shop_id) => Ok(&self.0),
            _ => Err(ApiError::permission_denied(format!(
                "this token may not manage shop {shop_id}"
            ))),
        }
    }
}

impl FromRequestParts<AppState> for MerchantCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Caller(actor) = Caller::from_request_parts(parts, state).await?;
        match actor {
            Actor::Merchant { .. } => Ok(Self(actor)),
            _ => Err(ApiError::permission_denied(
                "the back-office API is for merchants".into(),
            )),
        }
    }
}

/// A shopper (storefront surface).
#[derive(Debug, Clone)]
pub(crate) struct ShopperCaller {
    pub actor: Actor,
    pub user_id: String,
}

impl FromRequestParts<AppState> for ShopperCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Caller(actor) = Caller::from_request_parts(parts, state).await?;
        match &actor {
            Actor::Shopper { user_id } => Ok(Self {
                user_id: user_id.clone(),
                actor,
            }),
            _ => Err(ApiError::permission_denied(
                "the storefront API is for shoppers".into(),
            )),
        }
    }
}

/// The commerce platform's order system (internal surface): a service token whose `sub` is
/// `order-system`. Every internal route is the order system's (order events, CP-6 coupon
/// locks, GP-4 entitlements), so another service's token is refused here as well.
#[derive(Debug, Clone)]
pub(crate) struct ServiceCaller(pub Actor);

impl FromRequestParts<AppState> for ServiceCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Caller(actor) = Caller::from_request_parts(parts, state).await?;
        match &actor {
            Actor::Service { name } if name == memberhub_kit::auth::ORDER_SYSTEM => Ok(Self(actor)),
            Actor::Service { name } => Err(ApiError::permission_denied(format!(
                "the internal API is for the order system, not {name}"
            ))),
            _ => Err(ApiError::permission_denied(
                "the internal API is for the order system".into(),
            )),
        }
    }
}

/// The `Idempotency-Key` header every mutating route requires.
#[derive(Debug, Clone)]
pub(crate) struct IdempotencyKey(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let key = match parts.headers.get("idempotency-key") {
            None => "",
            // A header the client did send is judged as sent, not reported as missing.
            Some(value) => value.to_str().map_err(|_| {
                ApiError::invalid_field(
                    "Idempotency-Key",
                    "must be visible ASCII (letters, digits, punctuation)",
                )
            })?,
        }
        .trim();
        memberhub_kit::idempotency::parse_request_id(key)
            .map(IdempotencyKey)
            .map_err(|v| ApiError::invalid_field("Idempotency-Key", &v.description))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn x2_a_non_ascii_idempotency_key_is_invalid_not_missing() {
        let value = http::HeaderValue::from_bytes("ladder-银卡".as_bytes());
        let Ok(value) = value else {
            panic!("any bytes but controls make a header value")
        };
        let (mut parts, ()) = http::Request::builder()
            .header("idempotency-key", value)
            .body(())
            .map(http::Request::into_parts)
            .unwrap_or_else(|e| panic!("a request: {e}"));
        let refused = IdempotencyKey::from_request_parts(&mut parts, &()).await;
        let Err(error) = refused else {
            panic!("a non-ASCII key was accepted")
        };
        let body = format!("{:?}", error.body);
        assert!(body.contains("visible ASCII"), "{body}");
    }

    fn config() -> JwtConfig {
        JwtConfig {
            secret: "unit-test-secret".into(),
            issuer: "memberhub".into(),
            audience: "memberhub-api".into(),
        }
    }

    #[test]
    fn x1_service_token_speaks_for_the_named_service() -> Result<(), Box<dyn std::error::Error>> {
        let jwt = config();
        let token = jwt.issue(
            Role::Service,
            "order-system",
            None,
            chrono::Duration::minutes(5),
        )?;
        let actor = jwt.verify(&token).map_err(|e| e.body.message)?;
        assert_eq!(
            actor,
            Actor::Service {
                name: "order-system".into()
            }
        );
        Ok(())
    }

    #[test]
    fn x1_service_token_without_a_name_is_unauthenticated() -> Result<(), Box<dyn std::error::Error>>
    {
        let jwt = config();
        let token = jwt.issue(Role::Service, " ", None, chrono::Duration::minutes(5))?;
        let error = jwt
            .verify(&token)
            .err()
            .ok_or("a nameless service was accepted")?;
        assert_eq!(error.code, tonic::Code::Unauthenticated);
        Ok(())
    }

    #[test]
    fn x1_a_token_not_valid_yet_is_unauthenticated() -> Result<(), Box<dyn std::error::Error>> {
        let jwt = config();
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: "u1".into(),
            role: Role::Shopper,
            shop_id: None,
            iss: jwt.issuer.clone(),
            aud: jwt.audience.clone(),
            exp: now + 3600,
            iat: now,
            nbf: Some(now + 600),
        };
        let early = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(jwt.secret.as_bytes()),
        )?;
        let error = jwt
            .verify(&early)
            .err()
            .ok_or("a token from the future was accepted")?;
        assert_eq!(error.code, tonic::Code::Unauthenticated);
        let ready = Claims {
            nbf: Some(now - 1),
            ..claims
        };
        let ready = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &ready,
            &EncodingKey::from_secret(jwt.secret.as_bytes()),
        )?;
        assert!(jwt.verify(&ready).is_ok());
        Ok(())
    }

    #[test]
    fn role_names_in_tokens_are_lowercase() -> Result<(), serde_json::Error> {
        assert_eq!(serde_json::to_value(Role::Service)?, "service");
        assert_eq!(serde_json::from_str::<Role>("\"service\"")?, Role::Service);
        Ok(())
    }
}
