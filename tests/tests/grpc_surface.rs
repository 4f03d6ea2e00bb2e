//! Every service serves health and reflection in both versions (grpcurl 1.8 speaks v1alpha).

mod support;

use std::net::SocketAddr;

use memberhub_kit::testing::TestResult;
use memberhub_kit::testing::wait_until_serving;
use tokio_stream::StreamExt;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

async fn services_v1(address: SocketAddr) -> anyhow::Result<Vec<String>> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let channel = wait_until_serving(address)
        .await
        .map_err(anyhow::Error::msg)?;
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await?
        .into_inner();
    let Some(response) = stream.next().await else {
        anyhow::bail!("no reflection response")
    };
    match response?.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            Ok(list.service.into_iter().map(|s| s.name).collect())
        }
        other => anyhow::bail!("unexpected reflection answer {other:?}"),
    }
}

async fn services_v1alpha(address: SocketAddr) -> anyhow::Result<Vec<String>> {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    let channel = wait_until_serving(address)
        .await
        .map_err(anyhow::Error::msg)?;
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await?
        .into_inner();
    let Some(response) = stream.next().await else {
        anyhow::bail!("no reflection response")
    };
    match response?.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            Ok(list.service.into_iter().map(|s| s.name).collect())
        }
        other => anyhow::bail!("unexpected reflection answer {other:?}"),
    }
}

#[tokio::test]
async fn every_service_serves_health_and_both_reflection_versions() -> TestResult {
    let w = support::start().await?;
    let expected = [
        (
            w.suite.membership,
            "memberhub.membership.v1.MembershipService",
        ),
        (w.suite.coupon, "memberhub.coupon.v1.CouponService"),
        (w.suite.campaign, "memberhub.campaign.v1.CampaignService"),
    ];
    for (address, contract) in expected {
        for listed in [
            services_v1(address).await?,
            services_v1alpha(address).await?,
        ] {
            for name in [
                contract,
                "grpc.health.v1.Health",
                "grpc.reflection.v1alpha.ServerReflection",
            ] {
                assert!(
                    listed.iter().any(|s| s == name),
                    "{address} does not list {name}: {listed:?}"
                );
            }
        }
        // The server as a whole is SERVING, and so is each service's own contract.
        let channel = wait_until_serving(address)
            .await
            .map_err(anyhow::Error::msg)?;
        let overall = HealthClient::new(channel.clone())
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await?;
        assert_eq!(overall.get_ref().status, ServingStatus::Serving as i32);
        let own = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: contract.into(),
            })
            .await;
        assert_eq!(own?.get_ref().status, ServingStatus::Serving as i32);
    }
    Ok(())
}
