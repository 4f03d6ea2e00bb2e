//! The sandbox clock of `memberhub dev --test-clock`: one [`ManualClock`] every service
//! of the suite reads, moved by operators through `SandboxService` (gRPC, on its own port)
//! and the gateway's `/api/platform/v1/sandbox/clock` routes. Moving it wakes every periodic
//! job (they tick on the clock, `kit::clock::Ticker`), and the move answers once each has
//! run at the new time. The production binaries have neither the service nor the flag.

use std::time::Duration;

use memberhub_kit::actor::Actor;
use memberhub_kit::clock::{Clock, ManualClock, from_timestamp, to_timestamp};
use memberhub_kit::error::{Failure, FieldViolation};
use memberhub_proto::sandbox as pb;
use tonic::{Request, Response, Status};

/// How long a move waits for the periodic jobs before it answers with those still behind.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(30);

/// The sandbox's gRPC service over the suite's clock.
#[derive(Debug, Clone)]
pub struct Sandbox {
    clock: ManualClock,
}

impl Sandbox {
    pub fn new(clock: ManualClock) -> Self {
        Self { clock }
    }

    fn answer(&self, caught_up: Vec<&'static str>, pending: Vec<&'static str>) -> pb::Clock {
        let now = self.clock.now();
        let names = |jobs: Vec<&'static str>| {
            let mut jobs: Vec<String> = jobs.into_iter().map(String::from).collect();
            jobs.sort();
            jobs.dedup();
            jobs
        };
        pb::Clock {
            now: Some(to_timestamp(now)),
            offset_seconds: (now - chrono::Utc::now()).num_seconds(),
            caught_up_jobs: names(caught_up),
            pending_jobs: names(pending),
        }
    }
}

#[tonic::async_trait]
impl pb::sandbox_service_server::SandboxService for Sandbox {
    async fn get_clock(
        &self,
        request: Request<pb::GetClockRequest>,
    ) -> Result<Response<pb::Clock>, Status> {
        Actor::from_request(&request)?.ensure_operator()?;
        Ok(Response::new(self.answer(Vec::new(), Vec::new())))
    }

    async fn advance_clock(
        &self,
        request: Request<pb::AdvanceClockRequest>,
    ) -> Result<Response<pb::Clock>, Status> {
        Actor::from_request(&request)?.ensure_operator()?;
        let to = request
            .get_ref()
            .to
            .as_ref()
            .ok_or_else(|| violation("required: the time to move the clock to"))?;
        let to = from_timestamp(to).ok_or_else(|| violation("not a valid time"))?;
        if let Err(now) = self.clock.advance_to(to) {
            return Err(Failure::precondition(
                "CLOCK_BACKWARDS",
                format!(
                    "the sandbox clock only moves forward: it shows {}",
                    now.to_rfc3339()
                ),
            )
            .into());
        }
        tracing::info!(to = %to, "sandbox clock moved");
        let answer = match self.clock.caught_up(to, CATCH_UP_LIMIT).await {
            Ok(jobs) => self.answer(jobs, Vec::new()),
            Err(behind) => {
                tracing::warn!(jobs = ?behind, "periodic jobs still behind the sandbox clock");
                self.answer(Vec::new(), behind)
            }
        };
        Ok(Response::new(answer))
    }
}

fn violation(description: &str) -> Status {
    Failure::InvalidArgument(vec![FieldViolation::new("to", description)]).into()
}
