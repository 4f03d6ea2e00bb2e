//! X-1 between processes: who is calling, proven.
//!
//! A caller sends `authorization: Bearer <token>`: a short-lived JWT signed with Ed25519
//! (EdDSA) whose `kid` and `iss` name the signing identity (`gateway`, `campaign-svc`,
//! `order-system` ...) and whose `sub` is the actor in its text form (`merchant:<shop>`).
//! Services hold only public keys ([`Verifier`]); only the signer holds its private key
//! ([`Signer`]). The gateway may assert any actor (it authenticated the person or system
//! behind the HTTP request); every other identity may assert only itself (`service:<name>`).
//! A `service:` actor may call only the methods [`SERVICE_PERMISSIONS`] grants it.
//!
//! Signing and verifying cost tens of microseconds; both are cached (a signer reuses a
//! token for half its lifetime, a verifier remembers a verified token until it expires),
//! so the steady-state cost per RPC is a hash lookup. The tokens are standard JWS compact
//! serialisations (RFC 7515, `alg` EdDSA, RFC 8037), made and checked here on
//! `ed25519-dalek` with the keys parsed once: a general JWT library re-derives the key on
//! every call, which doubled the cost of a fresh token on the claims path
//! (`memberhub loadgen auth`). `ARCHITECTURE.md` has the threat model.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::actor::Actor;
use crate::error::Failure;
use crate::server::BoxFuture;

/// The audience every internal token carries, so a gateway access token (HS256, another
/// audience) is never taken for one.
const AUDIENCE: &str = "memberhub-internal";
/// How long a token minted for an RPC lives.
const TOKEN_TTL_SECONDS: i64 = 120;
/// Clock skew tolerated between processes.
const LEEWAY_SECONDS: u64 = 5;
/// Tokens remembered by a signer or a verifier before the cache forgets the oldest.
const CACHE_CAPACITY: usize = 100_000;

/// The identity allowed to assert any actor.
pub const GATEWAY: &str = "gateway";
/// campaign-svc's identity when it calls its peers.
pub const CAMPAIGN_SVC: &str = "campaign-svc";
/// coupon-svc's identity when it reads member benefits to price a cart (LV-6).
pub const COUPON_SVC: &str = "coupon-svc";
/// The commerce platform's order system.
pub const ORDER_SYSTEM: &str = "order-system";

/// X-1 least privilege: the RPCs each service identity may call (full gRPC paths without the
/// leading slash). People are checked by tenancy in the handlers; a service is checked here,
/// and a service not listed may call nothing.
pub const SERVICE_PERMISSIONS: &[(&str, &[&str])] = &[
    (
        ORDER_SYSTEM,
        &[
            "memberhub.membership.v1.MembershipService/ReportOrderEvent",
            "memberhub.membership.v1.MembershipService/BatchReportOrderEvents",
            "memberhub.membership.v1.MembershipService/BatchReportCartEvents",
            "memberhub.coupon.v1.CouponService/EvaluateCart",
            "memberhub.coupon.v1.CouponService/LockCoupons",
            "memberhub.coupon.v1.CouponService/RedeemCoupons",
            "memberhub.coupon.v1.CouponService/ReleaseCoupons",
            "memberhub.campaign.v1.CampaignService/ListEntitlements",
            "memberhub.campaign.v1.CampaignService/ConsumeEntitlement",
        ],
    ),
    (
        CAMPAIGN_SVC,
        &[
            "memberhub.membership.v1.MembershipService/GetShop",
            "memberhub.membership.v1.MembershipService/GetShopStatistics",
            "memberhub.membership.v1.MembershipService/GetProgram",
            "memberhub.membership.v1.MembershipService/GetLevelRules",
            "memberhub.membership.v1.MembershipService/GetMembership",
            // SP-4: a non-member registering for a sprint plan opens the shop's card
            "memberhub.membership.v1.MembershipService/OpenCard",
            "memberhub.membership.v1.MembershipService/HoldCardJoin",
            "memberhub.membership.v1.MembershipService/ReleaseCardJoinHold",
            "memberhub.membership.v1.MembershipService/CreateTransfer",
            "memberhub.membership.v1.MembershipService/AbortStep",
            "memberhub.membership.v1.MembershipService/ReserveBudget",
            "memberhub.membership.v1.MembershipService/ReleaseBudgetReservation",
            "memberhub.membership.v1.MembershipService/WatchEvents",
            "memberhub.coupon.v1.CouponService/GetBatch",
            "memberhub.coupon.v1.CouponService/ReserveAllocation",
            "memberhub.coupon.v1.CouponService/GetAllocation",
            "memberhub.coupon.v1.CouponService/ReleaseAllocation",
            "memberhub.coupon.v1.CouponService/IssueCoupons",
            // SP-6: the award issues its reward coupons in groups
            "memberhub.coupon.v1.CouponService/BatchIssueCoupons",
            "memberhub.coupon.v1.CouponService/GetBatchStatistics",
            "memberhub.coupon.v1.CouponService/AbortStep",
            // CP-7: a sprint plan's batch is ended by the plan, never closed by a merchant
            "memberhub.coupon.v1.CouponService/EndBatch",
        ],
    ),
    (
        COUPON_SVC,
        &[
            "memberhub.membership.v1.MembershipService/GetLevelRules",
            "memberhub.membership.v1.MembershipService/GetMembership",
        ],
    ),
];

/// May service `name` call `method` (`package.Service/Method`)?
pub fn service_may_call(name: &str, method: &str) -> bool {
    SERVICE_PERMISSIONS
        .iter()
        .find(|(service, _)| *service == name)
        .is_some_and(|(_, methods)| methods.contains(&method))
}

/// A key or key list that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("a key must be 64 hex digits (32 bytes)")]
    Malformed,
    #[error("expected `identity=<hex public key>` entries separated by commas")]
    MalformedEntry,
    #[error("a public key is not a valid Ed25519 point")]
    NotAPoint,
    #[error("claims: {0}")]
    Claims(#[from] serde_json::Error),
}

#[derive(Debug, Serialize, Deserialize)]
struct TokenHeader {
    alg: String,
    kid: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    iat: i64,
    nbf: i64,
    exp: i64,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn key_bytes(hex_key: &str) -> Result<[u8; 32], KeyError> {
    let bytes = hex::decode(hex_key.trim()).map_err(|_| KeyError::Malformed)?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| KeyError::Malformed)
}

/// The development seed of `identity`: public, so only `memberhub dev`, loadgen and tests use
/// it; the production binaries refuse to start without their own key.
fn development_seed(identity: &str) -> [u8; 32] {
    Sha256::digest(format!("memberhub development signing key for {identity}").as_bytes()).into()
}

/// One identity's private key, minting tokens for the actors it speaks for.
pub struct Signer {
    identity: String,
    key: SigningKey,
    /// The encoded header, the same for every token of this identity.
    header: String,
    /// actor → (token, expiry): a token is reused until half its lifetime is gone.
    minted: quick_cache::sync::Cache<Actor, (Arc<str>, i64)>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("Signer")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// `identity`'s signer from its 32-byte Ed25519 seed in hex.
    pub fn from_hex_seed(identity: &str, hex_seed: &str) -> Result<Self, KeyError> {
        Ok(Self::from_seed(identity, key_bytes(hex_seed)?))
    }

    /// `identity`'s development signer (see [`development_seed`]).
    pub fn development(identity: &str) -> Self {
        Self::from_seed(identity, development_seed(identity))
    }

    /// A fresh random key: `(hex seed, hex public key)`, for `memberhub keygen`.
    pub fn generate() -> Result<(String, String), getrandom::Error> {
        let mut seed = [0u8; 32];
        crate::random::fill(&mut seed)?;
        let public = ed25519_dalek::SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes();
        Ok((hex::encode(seed), hex::encode(public)))
    }

    fn from_seed(identity: &str, seed: [u8; 32]) -> Self {
        let header = serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": identity});
        Self {
            identity: identity.to_string(),
            key: SigningKey::from_bytes(&seed),
            header: B64.encode(header.to_string()),
            minted: quick_cache::sync::Cache::new(CACHE_CAPACITY),
        }
    }

    /// The identity this signer speaks as.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The public key services trust for this identity, in hex.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    /// A token for `actor`, valid from `not_before` for `ttl_seconds` (from now); for tests
    /// and the ready-made grpcurl headers of `memberhub dev`.
    pub fn token_with(
        &self,
        actor: &Actor,
        not_before: i64,
        ttl_seconds: i64,
    ) -> Result<String, KeyError> {
        let now = now();
        let claims = Claims {
            iss: self.identity.clone(),
            sub: actor.to_string(),
            aud: AUDIENCE.into(),
            iat: now,
            nbf: not_before,
            exp: now + ttl_seconds,
        };
        let signed = format!(
            "{}.{}",
            self.header,
            B64.encode(serde_json::to_vec(&claims)?)
        );
        let signature = self.key.sign(signed.as_bytes());
        Ok(format!("{signed}.{}", B64.encode(signature.to_bytes())))
    }

    /// A token for `actor`, reused while more than half of its lifetime is left.
    pub fn token(&self, actor: &Actor) -> Result<Arc<str>, KeyError> {
        let now = now();
        if let Some((token, expires)) = self.minted.get(actor)
            && expires - now > TOKEN_TTL_SECONDS / 2
        {
            return Ok(token);
        }
        let token: Arc<str> = self.token_with(actor, now, TOKEN_TTL_SECONDS)?.into();
        self.minted
            .insert(actor.clone(), (token.clone(), now + TOKEN_TTL_SECONDS));
        Ok(token)
    }

    /// Puts `actor`'s token into `metadata` as `authorization: Bearer ...`.
    pub fn authorize(
        &self,
        actor: &Actor,
        metadata: &mut tonic::metadata::MetadataMap,
    ) -> Result<(), KeyError> {
        let token = self.token(actor)?;
        if let Ok(value) = format!("Bearer {token}").parse() {
            metadata.insert("authorization", value);
        }
        Ok(())
    }
}

/// A tonic interceptor that sends every call as `actor`, signed by `signer` (peer clients).
#[derive(Debug, Clone)]
pub struct SignAs {
    pub signer: Arc<Signer>,
    pub actor: Actor,
}

impl SignAs {
    /// Calls signed as `signer`'s own service identity (`service:<identity>`).
    pub fn itself(signer: Arc<Signer>) -> Self {
        Self {
            actor: Actor::Service {
                name: signer.identity().to_string(),
            },
            signer,
        }
    }

    /// A lazily connected channel to the peer at `url` (or balanced over the endpoints it
    /// lists, see [`crate::peer::channel`]) whose calls this signs.
    pub fn channel(
        self,
        url: &str,
    ) -> Result<
        tonic::service::interceptor::InterceptedService<tonic::transport::Channel, SignAs>,
        tonic::transport::Error,
    > {
        Ok(tonic::service::interceptor::InterceptedService::new(
            crate::peer::channel(url)?,
            self,
        ))
    }
}

impl tonic::service::Interceptor for SignAs {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        self.signer
            .authorize(&self.actor, request.metadata_mut())
            .map_err(|e| {
                tracing::error!(error = %e, "cannot sign a peer call");
                tonic::Status::internal("cannot sign the call")
            })?;
        // The peer's span joins the caller's trace (W3C `traceparent`).
        let mut headers = std::mem::take(request.metadata_mut()).into_headers();
        crate::telemetry::inject_current_context(&mut headers);
        *request.metadata_mut() = tonic::metadata::MetadataMap::from_headers(headers);
        Ok(request)
    }
}

/// The public keys a service trusts, and what it has verified already.
pub struct Verifier {
    /// An identity listed twice has two keys, both trusted: the window of a key rotation.
    keys: HashMap<String, Vec<VerifyingKey>>,
    /// token → (actor, expiry)
    verified: quick_cache::sync::Cache<String, (Actor, i64)>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("identities", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Trusts `identity=<hex public key>` entries separated by commas
    /// (`MEMBERHUB_INTERNAL_TRUSTED_KEYS`).
    pub fn from_list(list: &str) -> Result<Self, KeyError> {
        let keys: Vec<(String, [u8; 32])> = list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let (identity, key) = entry.split_once('=').ok_or(KeyError::MalformedEntry)?;
                let identity = identity.trim();
                if identity.is_empty() {
                    return Err(KeyError::MalformedEntry);
                }
                Ok((identity.to_string(), key_bytes(key)?))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(KeyError::MalformedEntry);
        }
        Self::new(keys)
    }

    /// Trusts the development keys of the gateway, campaign-svc, coupon-svc and the order
    /// system.
    pub fn development() -> Self {
        Self {
            keys: [GATEWAY, CAMPAIGN_SVC, COUPON_SVC, ORDER_SYSTEM]
                .into_iter()
                .map(|identity| {
                    let key = SigningKey::from_bytes(&development_seed(identity)).verifying_key();
                    (identity.to_string(), vec![key])
                })
                .collect(),
            verified: quick_cache::sync::Cache::new(CACHE_CAPACITY),
        }
    }

    fn new(keys: Vec<(String, [u8; 32])>) -> Result<Self, KeyError> {
        let mut trusted: HashMap<String, Vec<VerifyingKey>> = HashMap::new();
        for (identity, public) in keys {
            let key = VerifyingKey::from_bytes(&public).map_err(|_| KeyError::NotAPoint)?;
            trusted.entry(identity).or_default().push(key);
        }
        Ok(Self {
            keys: trusted,
            verified: quick_cache::sync::Cache::new(CACHE_CAPACITY),
        })
    }

    /// The actor `token` proves; UNAUTHENTICATED for anything forged, expired, not yet valid,
    /// signed by an unknown key or asserting an actor its signer may not assert.
    pub fn verify(&self, token: &str) -> Result<Actor, Failure> {
        if let Some((actor, expires)) = self.verified.get(token) {
            return if now() <= expires + LEEWAY_SECONDS as i64 {
                Ok(actor)
            } else {
                Err(Failure::Unauthenticated("token expired".into()))
            };
        }
        let bad = |why: &str| Failure::Unauthenticated(format!("invalid token: {why}"));
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("not a compact JWS"));
        };
        let decode = |part: &str| B64.decode(part).map_err(|_| bad("not base64url"));
        let header: TokenHeader =
            serde_json::from_slice(&decode(header)?).map_err(|_| bad("malformed header"))?;
        if header.alg != "EdDSA" {
            return Err(bad("alg must be EdDSA"));
        }
        let identity = header.kid;
        let keys = self
            .keys
            .get(&identity)
            .ok_or_else(|| bad(&format!("unknown signer {identity}")))?;
        let signature =
            Signature::from_slice(&decode(signature)?).map_err(|_| bad("malformed signature"))?;
        let signed = &token[..token.len() - token.rsplit('.').next().map_or(0, str::len) - 1];
        // Cofactorless verification with a canonical `s` (RFC 8032): `verify_strict`'s extra
        // small-order checks guard against keys an attacker chooses, and these keys are ours.
        if !keys
            .iter()
            .any(|key| key.verify(signed.as_bytes(), &signature).is_ok())
        {
            return Err(bad("bad signature"));
        }
        let claims: Claims =
            serde_json::from_slice(&decode(payload)?).map_err(|_| bad("malformed claims"))?;
        let now = now();
        let leeway = LEEWAY_SECONDS as i64;
        if claims.iss != identity || claims.aud != AUDIENCE {
            return Err(bad("wrong issuer or audience"));
        }
        if now > claims.exp + leeway {
            return Err(bad("expired"));
        }
        if now + leeway < claims.nbf {
            return Err(bad("not valid yet"));
        }
        let actor: Actor = claims.sub.parse()?;
        let may_assert =
            identity == GATEWAY || matches!(&actor, Actor::Service { name } if *name == identity);
        if !may_assert {
            return Err(bad(&format!("{identity} may not speak for {actor}")));
        }
        self.verified
            .insert(token.to_string(), (actor.clone(), claims.exp));
        Ok(actor)
    }

    /// Authenticates one RPC to `method` (`package.Service/Method`) from its `authorization`
    /// header, and checks a service's permission for it.
    pub fn authorize(&self, method: &str, headers: &http::HeaderMap) -> Result<Actor, Failure> {
        let token = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                Failure::Unauthenticated("missing authorization: Bearer <token>".into())
            })?;
        let actor = self.verify(token.trim())?;
        if let Actor::Service { name } = &actor
            && !service_may_call(name, method)
        {
            return Err(Failure::PermissionDenied(format!(
                "service {name} may not call {method}"
            )));
        }
        Ok(actor)
    }
}

/// RPCs anyone may call: health (for probes) and reflection (for grpcurl).
fn is_public(method: &str) -> bool {
    method.starts_with("grpc.health.") || method.starts_with("grpc.reflection.")
}

/// The tower layer that authenticates every RPC and hands the actor to the handler in the
/// request's extensions (read with [`Actor::from_request`]).
#[derive(Debug, Clone)]
pub struct AuthLayer {
    pub verifier: Arc<Verifier>,
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Authenticate<S> {
    inner: S,
    verifier: Arc<Verifier>,
}

impl<S, B, RB> tower::Service<http::Request<B>> for Authenticate<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>> + Send,
    S::Future: Send + 'static,
    S::Error: 'static,
    RB: Default + Send + 'static,
{
    type Response = http::Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().trim_start_matches('/');
        if !is_public(method) {
            match self.verifier.authorize(method, request.headers()) {
                Ok(actor) => {
                    request.extensions_mut().insert(actor);
                }
                Err(failure) => {
                    tracing::info!(method, error = %failure, "call refused");
                    let response = tonic::Status::from(failure).into_http();
                    return Box::pin(async move { Ok(response) });
                }
            }
        }
        Box::pin(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merchant() -> Actor {
        Actor::Merchant {
            shop_id: "a".into(),
        }
    }

    #[test]
    fn x1_a_gateway_token_proves_its_actor() -> Result<(), KeyError> {
        let signer = Signer::development(GATEWAY);
        let verifier = Verifier::development();
        let token = signer.token(&merchant())?;
        assert_eq!(verifier.verify(&token).ok(), Some(merchant()));
        // cached the second time, same answer
        assert_eq!(verifier.verify(&token).ok(), Some(merchant()));
        Ok(())
    }

    #[test]
    fn x1_forged_expired_early_or_foreign_tokens_are_refused() -> Result<(), KeyError> {
        let verifier = Verifier::development();
        let gateway = Signer::development(GATEWAY);
        let expired = gateway.token_with(&merchant(), now() - 600, -300)?;
        let early = gateway.token_with(&merchant(), now() + 300, 600)?;
        let (seed, _) = Signer::generate().map_err(|_| KeyError::Malformed)?;
        let stranger = Signer::from_hex_seed(GATEWAY, &seed)?.token(&merchant())?;
        let mut tampered = gateway.token(&merchant())?.to_string();
        tampered.insert(tampered.len() / 2, 'x');
        for token in [
            expired.as_str(),
            &early,
            &stranger,
            &tampered,
            "operator",
            "",
        ] {
            assert!(
                matches!(verifier.verify(token), Err(Failure::Unauthenticated(_))),
                "{token}"
            );
        }
        Ok(())
    }

    #[test]
    fn x1_a_service_speaks_only_for_itself() -> Result<(), KeyError> {
        let verifier = Verifier::development();
        let campaign = Signer::development(CAMPAIGN_SVC);
        let itself = Actor::Service {
            name: CAMPAIGN_SVC.into(),
        };
        assert_eq!(
            verifier.verify(&campaign.token(&itself)?).ok(),
            Some(itself)
        );
        for other in [
            Actor::Operator,
            merchant(),
            Actor::Service {
                name: ORDER_SYSTEM.into(),
            },
        ] {
            assert!(
                verifier.verify(&campaign.token(&other)?).is_err(),
                "{other}"
            );
        }
        Ok(())
    }

    #[test]
    fn x1_services_call_only_what_they_are_granted() {
        assert!(service_may_call(
            ORDER_SYSTEM,
            "memberhub.membership.v1.MembershipService/ReportOrderEvent"
        ));
        assert!(!service_may_call(
            ORDER_SYSTEM,
            "memberhub.coupon.v1.CouponService/CreateBatch"
        ));
        assert!(!service_may_call(
            CAMPAIGN_SVC,
            "memberhub.membership.v1.MembershipService/ReportOrderEvent"
        ));
        assert!(!service_may_call(
            "anything",
            "memberhub.membership.v1.MembershipService/GetShop"
        ));
    }

    #[test]
    fn x1_an_identity_listed_twice_is_trusted_under_both_keys_while_it_rotates()
    -> Result<(), KeyError> {
        let (old_seed, old_public) = Signer::generate().map_err(|_| KeyError::Malformed)?;
        let (new_seed, new_public) = Signer::generate().map_err(|_| KeyError::Malformed)?;
        let (other_seed, _) = Signer::generate().map_err(|_| KeyError::Malformed)?;
        let rotating = Verifier::from_list(&format!("gateway={old_public},gateway={new_public}"))?;
        for seed in [&old_seed, &new_seed] {
            let token = Signer::from_hex_seed(GATEWAY, seed)?.token(&merchant())?;
            assert_eq!(rotating.verify(&token).ok(), Some(merchant()));
        }
        let stranger = Signer::from_hex_seed(GATEWAY, &other_seed)?.token(&merchant())?;
        assert!(rotating.verify(&stranger).is_err());
        // once the old key is dropped from the list, its tokens are refused
        let rotated = Verifier::from_list(&format!("gateway={new_public}"))?;
        let old = Signer::from_hex_seed(GATEWAY, &old_seed)?.token(&merchant())?;
        assert!(rotated.verify(&old).is_err());
        Ok(())
    }

    #[test]
    fn x1_trusted_key_lists_parse_and_refuse_garbage() {
        let public = Signer::development(GATEWAY).public_key_hex();
        assert!(Verifier::from_list(&format!("gateway={public}, ")).is_ok());
        for bad in ["", "gateway", "gateway=abc", &format!("={public}")] {
            assert!(Verifier::from_list(bad).is_err(), "{bad}");
        }
    }
}
