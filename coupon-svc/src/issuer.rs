//! The hot path of CP-3: request coalescing. Every issue request for one batch and source
//! (free stock or one allocation) goes through one queue; one task per queue takes all that
//! waits (up to [`MAX_GROUP`]) and issues them with one set-based transaction
//! (`store::issuing::issue`). While a group commits, the next one gathers, so the number
//! of transactions per second stays bounded by the commit latency while the claims per
//! transaction grow with the load: the hot stock row is locked once per group instead of
//! once per claim.
//!
//! Correctness does not rest on this module: the store's conditional writes decide stock,
//! limits and claims, so several processes (each with its own queues) stay correct. If a
//! group's transaction fails, each of its requests is retried alone, so one bad request
//! never fails its neighbours.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use memberhub_kit::clock::SharedClock;
use memberhub_kit::idempotency::IdempotencyKey;
use memberhub_proto::coupon as pb;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::convert;
use crate::domain::coupon::Coupon;
use crate::domain::ids::BatchId;
use crate::domain::issue::IssueCommand;
use crate::error::Error;
use crate::store::batches::{self, BatchSpec};
use crate::store::issuing::{self, IssueJob, Source};

/// The most requests one transaction issues.
pub(crate) const MAX_GROUP: usize = 512;
/// Groups of one queue in flight at once: they overlap all but the hot row's update and
/// commit (see `store::issuing`).
const IN_FLIGHT: usize = 2;
/// Requests waiting per queue before senders wait (back-pressure).
const QUEUE_CAPACITY: usize = 8192;
/// A queue's task ends after this long without requests.
const IDLE: Duration = Duration::from_secs(30);
/// How long a group waits for the callers of the previous group to come back.
const LINGER: Duration = Duration::from_millis(2);
/// Cached batch specs kept before the cache starts over.
const MAX_CACHED_SPECS: usize = 100_000;

/// Moves what waits in the queue into `group`, up to [`MAX_GROUP`].
fn drain(receiver: &mut mpsc::Receiver<Job>, group: &mut Vec<Job>) {
    while group.len() < MAX_GROUP {
        match receiver.try_recv() {
            Ok(job) => group.push(job),
            Err(_) => break,
        }
    }
}

type Reply = oneshot::Sender<Result<pb::IssueCouponsResponse, Error>>;

struct Job {
    issue: IssueJob,
    reply: Reply,
}

type QueueKey = (BatchId, Source);

struct Inner {
    pool: sqlx::PgPool,
    clock: SharedClock,
    queues: Mutex<HashMap<QueueKey, mpsc::Sender<Job>>>,
    specs: Mutex<HashMap<BatchId, Arc<BatchSpec>>>,
}

/// Issues coupons, coalescing concurrent requests per batch and source.
#[derive(Clone)]
pub(crate) struct Issuer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer").finish_non_exhaustive()
    }
}

fn respond(coupons: Vec<Coupon>) -> pb::IssueCouponsResponse {
    pb::IssueCouponsResponse {
        coupons: convert::coupons(coupons),
    }
}

impl Issuer {
    pub(crate) fn new(pool: sqlx::PgPool, clock: SharedClock) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                clock,
                queues: Mutex::new(HashMap::new()),
                specs: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The batch's immutable part, cached (a batch's terms never change).
    pub(crate) async fn spec(&self, id: BatchId) -> Result<Arc<BatchSpec>, Error> {
        if let Some(spec) = self.lock_specs().get(&id) {
            return Ok(spec.clone());
        }
        let mut conn = self.inner.pool.acquire().await?;
        let spec = batches::spec(&mut conn, id)
            .await?
            .ok_or_else(|| Error::BatchNotFound(id.to_string()))?;
        let spec = Arc::new(spec);
        let mut specs = self.lock_specs();
        if specs.len() >= MAX_CACHED_SPECS {
            specs.clear();
        }
        specs.insert(id, spec.clone());
        Ok(spec)
    }

    /// CP-3: issues one issue; waits for the group it joins to commit.
    pub(crate) async fn issue(
        &self,
        spec: Arc<BatchSpec>,
        key: IdempotencyKey,
        command: IssueCommand,
    ) -> Result<pb::IssueCouponsResponse, Error> {
        let queue = (spec.id, Source::of(command.allocation));
        let (reply, answer) = oneshot::channel();
        let mut job = Job {
            issue: IssueJob { key, command },
            reply,
        };
        loop {
            let sender = self.queue(queue, &spec);
            match sender.send(job).await {
                Ok(()) => break,
                // The queue's task ended meanwhile: forget it and start another.
                Err(mpsc::error::SendError(returned)) => {
                    job = returned;
                    self.forget(queue, &sender);
                }
            }
        }
        answer.await.map_err(|_| Error::IssuerGone)?
    }

    fn lock_specs(&self) -> std::sync::MutexGuard<'_, HashMap<BatchId, Arc<BatchSpec>>> {
        // A poisoned map is still a valid cache.
        self.inner
            .specs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_queues(&self) -> std::sync::MutexGuard<'_, HashMap<QueueKey, mpsc::Sender<Job>>> {
        self.inner
            .queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn queue(&self, key: QueueKey, spec: &Arc<BatchSpec>) -> mpsc::Sender<Job> {
        let mut queues = self.lock_queues();
        if let Some(sender) = queues.get(&key) {
            return sender.clone();
        }
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        queues.insert(key, sender.clone());
        let issuer = self.clone();
        let (spec, own) = (spec.clone(), sender.clone());
        tokio::spawn(async move { issuer.run(key, spec, own, receiver).await });
        sender
    }

    fn forget(&self, key: QueueKey, sender: &mpsc::Sender<Job>) {
        let mut queues = self.lock_queues();
        if queues.get(&key).is_some_and(|s| s.same_channel(sender)) {
            queues.remove(&key);
        }
    }

    /// One queue's task: group what waits, hand the group to one of [`IN_FLIGHT`] slots,
    /// repeat; end when idle.
    async fn run(
        self,
        key: QueueKey,
        spec: Arc<BatchSpec>,
        own: mpsc::Sender<Job>,
        mut receiver: mpsc::Receiver<Job>,
    ) {
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut last_group = 1usize;
        loop {
            let first = match tokio::time::timeout(IDLE, receiver.recv()).await {
                Ok(Some(job)) => job,
                Ok(None) => return,
                Err(_idle) => {
                    self.forget(key, &own);
                    receiver.close();
                    let mut rest = Vec::new();
                    while let Ok(job) = receiver.try_recv() {
                        rest.push(job);
                    }
                    if !rest.is_empty() {
                        self.issue_group(&spec, key.1, rest).await;
                    }
                    return;
                }
            };
            let mut group = Vec::with_capacity(64);
            group.push(first);
            drain(&mut receiver, &mut group);
            // Under load the callers of the last group are about to send their next request:
            // wait for them a moment, so that groups do not alternate between 1 and N.
            if group.len() < last_group / 2 {
                let until = tokio::time::Instant::now() + LINGER;
                while group.len() < last_group.min(MAX_GROUP) {
                    match tokio::time::timeout_at(until, receiver.recv()).await {
                        Ok(Some(job)) => group.push(job),
                        Ok(None) | Err(_) => break,
                    }
                }
            }
            // Requests that arrive while every slot is busy join this group.
            let Ok(slot) = slots.clone().acquire_owned().await else {
                self.issue_group(&spec, key.1, group).await;
                continue;
            };
            drain(&mut receiver, &mut group);
            last_group = group.len();
            let (issuer, spec) = (self.clone(), spec.clone());
            tokio::spawn(async move {
                issuer.issue_group(&spec, key.1, group).await;
                drop(slot);
            });
        }
    }

    async fn issue_group(&self, spec: &BatchSpec, source: Source, group: Vec<Job>) {
        let now = self.inner.clock.now();
        let (jobs, replies): (Vec<IssueJob>, Vec<Reply>) =
            group.into_iter().map(|j| (j.issue, j.reply)).unzip();
        metrics::histogram!("coupon_issue_group_size").record(jobs.len() as f64);
        match issuing::issue(&self.inner.pool, spec, source, &jobs, now, &respond).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // The caller may have gone (deadline): its outcome is stored anyway.
                    let _ = reply.send(outcome);
                }
            }
            Err(error) if jobs.len() > 1 => {
                tracing::warn!(error = %error, jobs = jobs.len(), "issue group failed; retrying each request alone");
                for (job, reply) in jobs.into_iter().zip(replies) {
                    let now = self.inner.clock.now();
                    let outcome =
                        issuing::issue(&self.inner.pool, spec, source, &[job], now, &respond)
                            .await
                            .and_then(|mut one| one.pop().unwrap_or(Err(Error::IssuerGone)));
                    let _ = reply.send(outcome);
                }
            }
            Err(error) => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(error));
                }
            }
        }
    }
}
