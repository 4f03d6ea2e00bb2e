//! `memberhub probe`: a health check a container runs inside itself (the runtime image has
//! no shell or curl). Exits 0 when the target answers healthy, 1 otherwise.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Probe {
    /// grpc.health.v1 Check on a service, e.g. `http://127.0.0.1:50052`.
    Grpc {
        url: String,
        /// The service to ask about (readiness); empty: the process (liveness).
        #[arg(long, default_value = "")]
        service: String,
    },
    /// An HTTP GET answering 200, e.g. `127.0.0.1:8080` (path `/healthz`).
    Http {
        address: String,
        #[arg(long, default_value = "/healthz")]
        path: String,
    },
}

pub(crate) async fn run(probe: Probe) -> anyhow::Result<()> {
    match tokio::time::timeout(TIMEOUT, check(probe)).await {
        Ok(result) => result,
        Err(_) => anyhow::bail!("no answer within {TIMEOUT:?}"),
    }
}

async fn check(probe: Probe) -> anyhow::Result<()> {
    match probe {
        Probe::Grpc { url, service } => {
            let channel = tonic::transport::Endpoint::from_shared(url)?
                .connect()
                .await?;
            let status = HealthClient::new(channel)
                .check(HealthCheckRequest { service })
                .await?
                .into_inner()
                .status();
            anyhow::ensure!(status == ServingStatus::Serving, "status {status:?}");
            Ok(())
        }
        Probe::Http { address, path } => {
            let mut stream = tokio::net::TcpStream::connect(&address).await?;
            let request =
                format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
            stream.write_all(request.as_bytes()).await?;
            let mut head = [0u8; 12];
            stream.read_exact(&mut head).await?;
            anyhow::ensure!(
                head.ends_with(b" 200"),
                "answered {}",
                String::from_utf8_lossy(&head)
            );
            Ok(())
        }
    }
}
