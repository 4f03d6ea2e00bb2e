//! The four surfaces: platform (operators), back-office (merchants), storefront (shoppers)
//! and internal (trusted services such as the order system).

pub(crate) mod backoffice;
pub(crate) mod campaigns;
pub(crate) mod coupons;
pub(crate) mod internal;
pub(crate) mod platform;
pub(crate) mod sandbox;
pub(crate) mod sprint_plans;
pub(crate) mod storefront;

use memberhub_kit::actor::Actor;
use memberhub_proto::membership as pb;

use crate::state::AppState;
use crate::upstream::{ApiResult, Reply, request};
use crate::views;

/// MP-4: activating the SMS service, shared by the platform and back-office routes.
async fn activate_sms_service(
    state: &AppState,
    actor: &Actor,
    key: String,
    shop_id: String,
) -> ApiResult<views::Program> {
    let message = pb::ActivateSmsServiceRequest {
        request_id: key,
        shop_id,
    };
    let response = state
        .membership
        .clone()
        .activate_sms_service(request(state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// X-1: the shopper's membership of the shop, as `actor` may read it: NOT_FOUND when the
/// shopper is not the shop's member (whatever they are elsewhere), so a back-office route
/// naming a user never tells whether that user exists in another shop.
async fn member_of(
    state: &AppState,
    actor: &Actor,
    shop_id: &str,
    user_id: &str,
) -> Result<pb::Membership, crate::error::ApiError> {
    let message = pb::GetMembershipRequest {
        shop_id: shop_id.to_string(),
        user_id: user_id.to_string(),
    };
    let response = state
        .membership
        .clone()
        .get_membership(request(state, actor, message))
        .await?;
    Ok(response.into_inner())
}

/// MP-1..MP-4: a shop's program, for its merchant or an operator.
async fn program(state: &AppState, actor: &Actor, shop_id: String) -> ApiResult<views::Program> {
    let response = state
        .membership
        .clone()
        .get_program(request(state, actor, pb::GetProgramRequest { shop_id }))
        .await?;
    Ok(Reply::from_response(response))
}

/// LV-1..LV-6: a shop's level ladder, for its merchant or an operator.
async fn level_rules(
    state: &AppState,
    actor: &Actor,
    shop_id: String,
) -> ApiResult<views::LevelRules> {
    let message = pb::GetLevelRulesRequest { shop_id };
    let response = state
        .membership
        .clone()
        .get_level_rules(request(state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// MB-4: a shop's members, filtered and paged, for its merchant or an operator.
async fn members(
    state: &AppState,
    actor: &Actor,
    shop_id: String,
    filters: views::ListMembersQuery,
) -> ApiResult<views::MemberPage> {
    let message = filters.into_request(shop_id)?;
    let response = state
        .membership
        .clone()
        .list_members(request(state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// MB-1, MB-4: one shopper's membership of a shop (no phone), for its merchant or an
/// operator.
async fn member(
    state: &AppState,
    actor: &Actor,
    shop_id: String,
    user_id: String,
) -> ApiResult<views::Membership> {
    let message = pb::GetMembershipRequest { shop_id, user_id };
    let response = state
        .membership
        .clone()
        .get_membership(request(state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    /// Every `.rs` file under `dir`, read.
    fn sources(dir: &Path, out: &mut String) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                sources(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&path)?);
            }
        }
        Ok(())
    }

    fn snake(rpc: &str) -> String {
        let mut out = String::new();
        for (i, c) in rpc.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    /// Every RPC of the protos is either called by the gateway (a route hands it to the
    /// service's client: `state.<service>.clone().<rpc>(`) or listed in ARCHITECTURE.md's
    /// "gRPC-only RPCs" table with its reason; never both, and the table names no RPC that
    /// does not exist.
    #[test]
    fn every_rpc_is_routed_or_listed_as_grpc_only() -> Result<(), Box<dyn std::error::Error>> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut gateway = String::new();
        sources(&root.join("src"), &mut gateway)?;
        let architecture = std::fs::read_to_string(root.join("../ARCHITECTURE.md"))?;
        let table = architecture
            .split("## gRPC-only RPCs")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .ok_or("ARCHITECTURE.md has no gRPC-only RPCs section")?;
        let row = regex::Regex::new(r"(?m)^\| (\w+Service) \| (\w+) \| .+\|$")?;
        let listed: BTreeSet<(String, String)> = row
            .captures_iter(table)
            .map(|c| (c[1].to_string(), c[2].to_string()))
            .collect();
        assert!(
            !listed.is_empty(),
            "the gRPC-only table is empty or malformed"
        );

        let service = regex::Regex::new(r"(?m)^service (\w+) \{")?;
        let rpc = regex::Regex::new(r"(?m)^\s*rpc (\w+)\(")?;
        let mut every = BTreeSet::new();
        for area in ["membership", "coupon", "campaign", "sandbox"] {
            let file = root.join(format!("../proto/memberhub/{area}/v1/{area}.proto"));
            let proto = std::fs::read_to_string(&file)?;
            let name = service
                .captures(&proto)
                .map(|c| c[1].to_string())
                .ok_or("a proto without its service")?;
            for method in rpc.captures_iter(&proto) {
                let method = method[1].to_string();
                let call = regex::Regex::new(&format!(
                    r"\b{area}\s*\.clone\(\)\s*\.{}\(",
                    snake(&method)
                ))?;
                let routed = call.is_match(&gateway);
                let grpc_only = listed.contains(&(name.clone(), method.clone()));
                assert!(
                    routed || grpc_only,
                    "{name}/{method} has no route and is not listed as gRPC-only in ARCHITECTURE.md"
                );
                assert!(
                    !(routed && grpc_only),
                    "{name}/{method} is routed but listed as gRPC-only"
                );
                every.insert((name.clone(), method));
            }
        }
        assert!(every.len() > 60, "found only {} RPCs", every.len());
        let stale: Vec<_> = listed.difference(&every).collect();
        assert!(
            stale.is_empty(),
            "listed as gRPC-only but not in the protos: {stale:?}"
        );
        Ok(())
    }

    #[test]
    fn rpc_names_become_client_method_names() {
        assert_eq!(snake("ListParkedEvents"), "list_parked_events");
        assert_eq!(snake("GetMembership"), "get_membership");
    }
}
