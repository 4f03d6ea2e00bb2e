//! CP-3: issuing, set-based. One call issues a whole group of requests for the same batch
//! and source (free stock or one allocation) in ONE transaction with a fixed number of
//! statements, whatever the group's size:
//!
//! 1. claim every request's idempotency key (multi-row insert, keys in sorted order so two
//!    groups never deadlock); requests whose key exists get the stored response;
//! 2. check channel and claim window per request (pure, `domain::issue`);
//! 3. cap each shopper's requests in the group at the limit, each campaign claim at one;
//! 4. look (without a lock) whether the source has anything left: a sold-out batch refuses a
//!    whole group without writing;
//! 5. apply per-user limits with ONE conditional upsert of the counter rows
//!    (`.. ON CONFLICT DO UPDATE .. WHERE claimed < limit`) and GP-2's one issue per claim
//!    with ONE insert into a primary key;
//! 6. insert every coupon (multi-row) and store every response;
//! 7. LAST, take the units with ONE conditional UPDATE of the stock row (or the allocation
//!    row): `free = free - LEAST(free, k)`, `CHECK (free >= 0)`, only while issuable and
//!    unbound. The hot row is thus locked for that statement and the commit only, so groups
//!    of one batch overlap everything else. If fewer units came than asked, the tail's
//!    coupons, counter increments and claim rows are removed again before the commit;
//! 8. drop the keys of refusals, commit.
//!
//! The database decides stock and limits (conditional writes under row locks), so any
//! number of groups and processes may run this concurrently and stay correct; grouping only
//! makes it fast. A failure anywhere rolls the whole group back: no coupon, no stock, no
//! counter, no key.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use memberhub_kit::error::Failure;
use memberhub_kit::idempotency::IdempotencyKey;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::batches::BatchSpec;
use crate::domain::allocation::Allocation;
use crate::domain::coupon::{Coupon, State, StoredState};
use crate::domain::ids::{self, AllocationId, CouponId, IssueId};
use crate::domain::issue::{self, IssueCommand};
use crate::error::Error;

/// The idempotency method name of issuing.
pub(crate) const METHOD: &str = "IssueCoupons";

/// One request to issue.
#[derive(Debug, Clone)]
pub(crate) struct IssueJob {
    pub key: IdempotencyKey,
    pub command: IssueCommand,
}

/// Where the units come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Source {
    Free,
    Allocation(AllocationId),
}

/// A request's outcome inside a group: a response, or a refusal that changed nothing.
#[derive(Debug, Clone)]
enum Outcome<R> {
    Done(R),
    Refused(Failure),
}

/// Issues `jobs` (all for `batch` and `source`) in one transaction. `Err` means the whole
/// group failed and was rolled back (the caller may retry each request on its own);
/// otherwise one result per job, in order.
#[tracing::instrument(skip_all, fields(batch_id = %batch.id, jobs = jobs.len()))]
pub(crate) async fn issue<R>(
    pool: &PgPool,
    batch: &BatchSpec,
    source: Source,
    jobs: &[IssueJob],
    now: DateTime<Utc>,
    respond: &(dyn Fn(Vec<Coupon>) -> R + Sync),
) -> Result<Vec<Result<R, Error>>, Error>
where
    R: prost::Message + Default + Clone,
{
    let (leaders, duplicates) = leaders(jobs);
    let mut group = Group {
        batch,
        source,
        jobs,
        now,
        limit: batch.spec.per_user_limit,
        tx: pool.begin().await?,
        outcomes: vec![None; jobs.len()],
        leaders,
        claimed: HashSet::new(),
        allocation: None,
    };
    group.claim_keys().await?;
    let candidates = group.check_rules().await?;
    let (kept, over_cap) = group.cap(candidates);
    let kept = group.look_at_source(kept).await?;
    let (granted, issue_ids) = group.apply_limits_and_claims(&kept).await?;
    let mut responses = group.write_coupons(&granted, &issue_ids, respond).await?;
    group.take_units(granted, &mut responses).await?;
    group.follow_last_kept(&over_cap);
    let outcomes = group.drop_refusals_and_commit().await?;
    Ok(results(jobs, outcomes, responses, duplicates))
}

/// What the steps of one group share: the requests, their outcomes so far and the
/// transaction every step writes in.
struct Group<'a, R> {
    batch: &'a BatchSpec,
    source: Source,
    jobs: &'a [IssueJob],
    now: DateTime<Utc>,
    /// The batch's per-user limit; 0 for none.
    limit: i32,
    tx: Transaction<'static, Postgres>,
    /// One per job; `None` while undecided.
    outcomes: Vec<Option<Outcome<R>>>,
    /// The first job of each key, in key order.
    leaders: Vec<usize>,
    /// The keys step 1 inserted (the others existed already).
    claimed: HashSet<(String, String)>,
    /// The allocation the units come from, read in step 2.
    allocation: Option<Allocation>,
}

/// A granted request's job index, response and coupon ids.
type Issued<R> = (usize, R, Vec<Uuid>);

/// Splits `jobs` by idempotency key: the first job of each key (the leaders, sorted by key
/// so that two groups claim keys in the same order and never deadlock) acts; every later
/// job with the same key follows it and comes back paired with its leader.
fn leaders(jobs: &[IssueJob]) -> (Vec<usize>, Vec<(usize, usize)>) {
    let mut first_of: HashMap<(&str, &str), usize> = HashMap::new();
    let mut duplicates = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        match first_of.get(&(job.key.scope.as_str(), job.key.key.as_str())) {
            Some(&first) => duplicates.push((i, first)),
            None => {
                first_of.insert((&job.key.scope, &job.key.key), i);
            }
        }
    }
    let mut leaders: Vec<usize> = first_of.values().copied().collect();
    leaders.sort_by(|&a, &b| {
        (&jobs[a].key.scope, &jobs[a].key.key).cmp(&(&jobs[b].key.scope, &jobs[b].key.key))
    });
    (leaders, duplicates)
}

impl<'a, R> Group<'a, R>
where
    R: prost::Message + Default + Clone,
{
    /// Whether a request counts against the per-user limit: a limit is set and the request
    /// names no campaign claim (a claim is capped at one issue instead).
    fn limited(&self) -> impl Fn(usize) -> bool + Copy + use<'a, R> {
        let (jobs, limit) = (self.jobs, self.limit);
        move |i| limit > 0 && jobs[i].command.claim.is_none()
    }

    /// 1. Claims every leader's idempotency key with one multi-row insert, in key order. A
    ///    leader whose key exists gets the stored response, or a refusal if the fingerprint
    ///    differs or no response is stored.
    async fn claim_keys(&mut self) -> Result<(), Error> {
        let (jobs, leaders) = (self.jobs, &self.leaders);
        let scopes: Vec<String> = leaders.iter().map(|&i| jobs[i].key.scope.clone()).collect();
        let keys: Vec<String> = leaders.iter().map(|&i| jobs[i].key.key.clone()).collect();
        let prints: Vec<Vec<u8>> = leaders
            .iter()
            .map(|&i| jobs[i].key.fingerprint.clone())
            .collect();
        let claimed_rows = sqlx::query!(
            "INSERT INTO coupon.idempotency_keys (scope, method, key, fingerprint, created_at)
         SELECT k.scope, $4, k.key, k.fingerprint, $5
         FROM unnest($1::text[], $2::text[], $3::bytea[]) WITH ORDINALITY AS k(scope, key, fingerprint, n)
         ORDER BY k.n
         ON CONFLICT DO NOTHING
         RETURNING scope, key",
            &scopes,
            &keys,
            &prints,
            METHOD,
            self.now,
        )
        .fetch_all(&mut *self.tx)
        .await?;
        self.claimed = claimed_rows.into_iter().map(|r| (r.scope, r.key)).collect();
        let seen: Vec<usize> = leaders
            .iter()
            .copied()
            .filter(|&i| {
                !self
                    .claimed
                    .contains(&(jobs[i].key.scope.clone(), jobs[i].key.key.clone()))
            })
            .collect();
        if !seen.is_empty() {
            let scopes: Vec<String> = seen.iter().map(|&i| jobs[i].key.scope.clone()).collect();
            let keys: Vec<String> = seen.iter().map(|&i| jobs[i].key.key.clone()).collect();
            let stored = sqlx::query!(
                "SELECT k.scope, k.key, k.fingerprint, k.response
             FROM unnest($1::text[], $2::text[]) AS r(scope, key)
             CROSS JOIN LATERAL (
                 SELECT scope, key, fingerprint, response FROM coupon.idempotency_keys
                 WHERE scope = r.scope AND method = $3 AND key = r.key
             ) k",
                &scopes,
                &keys,
                METHOD,
            )
            .fetch_all(&mut *self.tx)
            .await?;
            let stored: HashMap<(String, String), StoredKey> = stored
                .into_iter()
                .map(|r| ((r.scope, r.key), (r.fingerprint, r.response)))
                .collect();
            for &i in &seen {
                let key = &jobs[i].key;
                self.outcomes[i] = Some(match stored.get(&(key.scope.clone(), key.key.clone())) {
                    Some((fingerprint, _)) if *fingerprint != key.fingerprint => {
                        Outcome::Refused(memberhub_kit::idempotency::refusal_for(fingerprint))
                    }
                    Some((_, Some(response))) => match R::decode(response.as_slice()) {
                        Ok(response) => Outcome::Done(response),
                        Err(e) => {
                            tracing::error!(error = %e, "stored issue response cannot be decoded");
                            Outcome::Refused(Failure::Internal)
                        }
                    },
                    // Claimed and deleted meanwhile (a refusal), or never stored: refuse
                    // softly, the caller may retry.
                    Some((_, None)) | None => Outcome::Refused(Failure::Unavailable(
                        "a request with this key is in progress; retry".into(),
                    )),
                });
            }
        }
        Ok(())
    }

    /// 2. Reads the allocation the units come from, if any, and checks channel and claim
    ///    window of every undecided leader (`domain::issue::precheck`). Returns the leaders
    ///    that passed, in key order.
    async fn check_rules(&mut self) -> Result<Vec<usize>, Error> {
        self.allocation = match self.source {
            Source::Free => None,
            Source::Allocation(id) => super::allocations::get(&mut self.tx, id).await?,
        };
        let mut candidates = Vec::new();
        for &i in &self.leaders {
            if self.outcomes[i].is_some() {
                continue;
            }
            let checked = match (self.source, &self.allocation) {
                (Source::Allocation(id), None) => {
                    Err(Failure::NotFound(format!("allocation {id} not found")))
                }
                _ => issue::precheck(
                    &self.batch.spec,
                    &self.jobs[i].command,
                    self.allocation.as_ref(),
                    self.now,
                ),
            };
            match checked {
                Ok(()) => candidates.push(i),
                Err(failure) => self.outcomes[i] = Some(Outcome::Refused(failure)),
            }
        }
        Ok(candidates)
    }

    /// 3. Caps each shopper's limited requests in the group at the per-user limit and each
    ///    campaign claim at one; a second request for a claim is refused. Issues already held
    ///    are the upsert's business in step 5: no pre-read, so no plan that could go stale
    ///    and no race to argue about. Returns the requests kept and, for each request over
    ///    the cap, the shopper's last kept request, which it follows (see
    ///    [`Group::follow_last_kept`]).
    fn cap(&mut self, candidates: Vec<usize>) -> (Vec<usize>, Vec<(usize, usize)>) {
        let jobs = self.jobs;
        let limit = self.limit;
        let limited = self.limited();
        let mut asked: HashMap<&str, (i32, usize)> = HashMap::new();
        let mut claims_seen: HashSet<&str> = HashSet::new();
        let mut kept = Vec::with_capacity(candidates.len());
        let mut over_cap: Vec<(usize, usize)> = Vec::new();
        for i in candidates {
            let command = &jobs[i].command;
            if let Some(claim) = &command.claim {
                if !claims_seen.insert(claim.as_str()) {
                    self.outcomes[i] = Some(Outcome::Refused(issue::already_issued_for_claim()));
                    continue;
                }
            } else if limited(i) {
                let (count, last) = asked.entry(command.user.as_str()).or_insert((0, i));
                if *count >= limit {
                    over_cap.push((i, *last));
                    continue;
                }
                *count += 1;
                *last = i;
            }
            kept.push(i);
        }
        (kept, over_cap)
    }

    /// 4. Looks (without a lock) whether the source has anything left. If not (sold out, not
    ///    ACTIVE, bound, released), refuses every kept request without writing and keeps
    ///    none. Returns the requests still kept.
    async fn look_at_source(&mut self, mut kept: Vec<usize>) -> Result<Vec<usize>, Error> {
        if !kept.is_empty()
            && let Some(failure) = nothing_to_take(
                &mut self.tx,
                self.batch,
                self.source,
                self.allocation.as_ref(),
            )
            .await?
        {
            for &i in &kept {
                self.outcomes[i] = Some(Outcome::Refused(failure.clone()));
            }
            kept.clear();
        }
        Ok(kept)
    }

    /// 5. Applies the exact per-user limits with one conditional upsert of the shoppers'
    ///    counter rows, and one issue per campaign claim with one insert into the claims'
    ///    primary key; refuses the requests either turns down. Returns the requests granted,
    ///    in order, and the issue id of every kept request.
    async fn apply_limits_and_claims(
        &mut self,
        kept: &[usize],
    ) -> Result<(Vec<usize>, HashMap<usize, IssueId>), Error> {
        let (batch, jobs, limit) = (self.batch, self.jobs, self.limit);
        let limited = self.limited();
        let issue_ids: HashMap<usize, IssueId> =
            kept.iter().map(|&i| (i, IssueId::new())).collect();
        let mut wants: HashMap<&str, i32> = HashMap::new();
        for &i in kept.iter().filter(|&&i| limited(i)) {
            *wants.entry(jobs[i].command.user.as_str()).or_insert(0) += 1;
        }
        if !wants.is_empty() {
            let mut users: Vec<&str> = wants.keys().copied().collect();
            users.sort_unstable();
            let counts: Vec<i32> = users.iter().map(|u| wants[u]).collect();
            let users: Vec<String> = users.into_iter().map(str::to_string).collect();
            let rows = sqlx::query!(
                "INSERT INTO coupon.user_claims AS uc (batch_id, user_id, claimed, last_grant)
             SELECT $1, w.user_id, w.wanted, w.wanted
             FROM unnest($2::text[], $3::int[]) WITH ORDINALITY AS w(user_id, wanted, n)
             ORDER BY w.n
             ON CONFLICT (batch_id, user_id) DO UPDATE
             SET claimed = uc.claimed + LEAST(EXCLUDED.last_grant, $4 - uc.claimed),
                 last_grant = LEAST(EXCLUDED.last_grant, $4 - uc.claimed)
             WHERE uc.claimed < $4
             RETURNING user_id, last_grant",
                batch.id.as_uuid(),
                &users,
                &counts,
                limit,
            )
            .fetch_all(&mut *self.tx)
            .await?;
            let mut allowed: HashMap<String, i32> = rows
                .into_iter()
                .map(|r| (r.user_id, r.last_grant))
                .collect();
            for &i in kept.iter().filter(|&&i| limited(i)) {
                let left = allowed
                    .entry(jobs[i].command.user.as_str().to_string())
                    .or_insert(0);
                if *left > 0 {
                    *left -= 1;
                } else {
                    self.outcomes[i] = Some(Outcome::Refused(issue::per_user_limit_reached(limit)));
                }
            }
        }
        let with_claim: Vec<usize> = kept
            .iter()
            .copied()
            .filter(|&i| jobs[i].command.claim.is_some())
            .collect();
        if !with_claim.is_empty() {
            let claim_ids: Vec<String> = with_claim.iter().map(|&i| claim_of(jobs, i)).collect();
            let issue_uuids: Vec<Uuid> = with_claim
                .iter()
                .filter_map(|i| issue_ids.get(i))
                .map(IssueId::as_uuid)
                .collect();
            let inserted: HashSet<String> = sqlx::query_scalar!(
                "INSERT INTO coupon.claim_issues (batch_id, claim_id, issue_id, created_at)
             SELECT $1, c.claim_id, c.issue_id, $4
             FROM unnest($2::text[], $3::uuid[]) WITH ORDINALITY AS c(claim_id, issue_id, n)
             ORDER BY c.n
             ON CONFLICT DO NOTHING
             RETURNING claim_id",
                batch.id.as_uuid(),
                &claim_ids,
                &issue_uuids,
                self.now,
            )
            .fetch_all(&mut *self.tx)
            .await?
            .into_iter()
            .collect();
            for &i in &with_claim {
                if !inserted.contains(&claim_of(jobs, i)) {
                    self.outcomes[i] = Some(Outcome::Refused(issue::already_issued_for_claim()));
                }
            }
        }
        let granted: Vec<usize> = kept
            .iter()
            .copied()
            .filter(|&i| self.outcomes[i].is_none())
            .collect();
        Ok((granted, issue_ids))
    }

    /// 6. Builds every granted request's coupons and response, inserts the coupons with one
    ///    multi-row insert and stores the responses with their keys. Written before the units
    ///    are taken so that the hot row is locked only for its own update and the commit.
    ///    Returns what was written per granted request, in order.
    async fn write_coupons(
        &mut self,
        granted: &[usize],
        issue_ids: &HashMap<usize, IssueId>,
        respond: &(dyn Fn(Vec<Coupon>) -> R + Sync),
    ) -> Result<Vec<Issued<R>>, Error> {
        let (batch, jobs, now) = (self.batch, self.jobs, self.now);
        let per_issue = usize::try_from(batch.spec.per_issue_count).unwrap_or(1);
        let validity = batch.spec.validity.for_claim_at(now);
        let allocation_id = match self.source {
            Source::Free => None,
            Source::Allocation(id) => Some(id),
        };
        let mut rows = CouponRows::with_capacity(granted.len() * per_issue);
        let mut responses: Vec<Issued<R>> = Vec::with_capacity(granted.len());
        for &i in granted {
            let issue = issue_ids.get(&i).copied().unwrap_or_default();
            let coupons: Vec<Coupon> = (0..per_issue)
                .map(|_| {
                    let id = CouponId::new();
                    Coupon {
                        id,
                        code: ids::coupon_code(id),
                        batch: batch.id,
                        batch_key: batch.key.clone(),
                        shop: batch.spec.shop_id,
                        user: jobs[i].command.user.clone(),
                        issue,
                        terms: batch.spec.terms.clone(),
                        giftable: batch.spec.giftable,
                        valid: validity,
                        stored: StoredState::Available,
                        state: State::at(StoredState::Available, validity.end, now),
                        order: None,
                        issued_at: now,
                        used_at: None,
                    }
                })
                .collect();
            rows.push(&coupons);
            let coupon_ids = coupons.iter().map(|c| c.id.as_uuid()).collect();
            responses.push((i, respond(coupons), coupon_ids));
        }
        if !responses.is_empty() {
            sqlx::query!(
                "INSERT INTO coupon.coupons (coupon_id, code, batch_id, shop_id, user_id, issue_id,
                 allocation_id, issued_at, valid_from, valid_until, state)
             SELECT c.coupon_id, c.code, $5, $6, c.user_id, c.issue_id, $7, $8, $9, $10, 'AVAILABLE'
             FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[])
                  AS c(coupon_id, code, user_id, issue_id)",
                &rows.ids,
                &rows.codes,
                &rows.users,
                &rows.issues,
                batch.id.as_uuid(),
                batch.spec.shop_id.as_uuid(),
                allocation_id.map(|a| a.as_uuid()),
                now,
                validity.start,
                validity.end,
            )
            .execute(&mut *self.tx)
            .await?;
            let scopes: Vec<String> = responses
                .iter()
                .map(|(i, _, _)| jobs[*i].key.scope.clone())
                .collect();
            let keys: Vec<String> = responses
                .iter()
                .map(|(i, _, _)| jobs[*i].key.key.clone())
                .collect();
            let bodies: Vec<Vec<u8>> = responses
                .iter()
                .map(|(_, r, _)| r.encode_to_vec())
                .collect();
            sqlx::query!(
                "UPDATE coupon.idempotency_keys k SET response = r.response
             FROM unnest($1::text[], $2::text[], $3::bytea[]) AS r(scope, key, response)
             WHERE k.scope = r.scope AND k.method = $4 AND k.key = r.key",
                &scopes,
                &keys,
                &bodies,
                METHOD,
            )
            // Planned afresh each time: a plan cached while the key table was small would scan it.
            .persistent(false)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(responses)
    }

    /// 7. Takes the units last, with one conditional update of the stock or allocation row,
    ///    so the hot row stays locked for that statement and the commit only. If fewer units
    ///    came than asked (another group or process took the rest), removes the tail's
    ///    coupons, counter increments and claim rows again, refuses the tail and drops its
    ///    responses.
    async fn take_units(
        &mut self,
        mut granted: Vec<usize>,
        responses: &mut Vec<Issued<R>>,
    ) -> Result<(), Error> {
        if !granted.is_empty() {
            let wanted = i64::try_from(granted.len()).unwrap_or(i64::MAX);
            let (taken, why) = match take(&mut self.tx, self.batch, self.source, wanted).await? {
                Ok(taken) => (taken, issue::out_of_stock()),
                Err(failure) => (0, failure),
            };
            let taken = usize::try_from(taken).unwrap_or(0).min(granted.len());
            if taken < granted.len() {
                let short = granted.split_off(taken);
                let limited = self.limited();
                undo(
                    &mut self.tx,
                    self.batch,
                    self.jobs,
                    &short,
                    responses,
                    limited,
                )
                .await?;
                for &i in &short {
                    self.outcomes[i] = Some(Outcome::Refused(why.clone()));
                }
                responses.retain(|(i, _, _)| !short.contains(i));
            }
        }
        Ok(())
    }

    /// Decides the requests step 3 held back over the cap: each follows the shopper's last
    /// kept request, refused for the same reason if that one was refused (e.g. out of
    /// stock), else for the limit.
    fn follow_last_kept(&mut self, over_cap: &[(usize, usize)]) {
        for &(i, last) in over_cap {
            self.outcomes[i] = Some(match &self.outcomes[last] {
                Some(Outcome::Refused(failure)) => Outcome::Refused(failure.clone()),
                _ => Outcome::Refused(issue::per_user_limit_reached(self.limit)),
            });
        }
    }

    /// 8. Drops the keys step 1 claimed for requests that were refused (a refusal changes
    ///    nothing), commits, and returns the outcomes.
    async fn drop_refusals_and_commit(mut self) -> Result<Vec<Option<Outcome<R>>>, Error> {
        let jobs = self.jobs;
        let refused: Vec<usize> = self
            .leaders
            .iter()
            .copied()
            .filter(|&i| {
                self.claimed
                    .contains(&(jobs[i].key.scope.clone(), jobs[i].key.key.clone()))
                    && matches!(self.outcomes[i], Some(Outcome::Refused(_)))
            })
            .collect();
        if !refused.is_empty() {
            let scopes: Vec<String> = refused.iter().map(|&i| jobs[i].key.scope.clone()).collect();
            let keys: Vec<String> = refused.iter().map(|&i| jobs[i].key.key.clone()).collect();
            sqlx::query!(
                "DELETE FROM coupon.idempotency_keys k
             USING unnest($1::text[], $2::text[]) AS r(scope, key)
             WHERE k.scope = r.scope AND k.method = $3 AND k.key = r.key",
                &scopes,
                &keys,
                METHOD,
            )
            .persistent(false)
            .execute(&mut *self.tx)
            .await?;
        }
        self.tx.commit().await?;
        Ok(self.outcomes)
    }
}

/// The result of every job, in order, once the group committed: the granted requests get
/// their responses; a job that repeats a leader's key follows the leader if the fingerprints
/// match, else is refused for reusing the key.
fn results<R: Clone>(
    jobs: &[IssueJob],
    mut outcomes: Vec<Option<Outcome<R>>>,
    responses: Vec<Issued<R>>,
    duplicates: Vec<(usize, usize)>,
) -> Vec<Result<R, Error>> {
    for (i, response, _) in responses {
        outcomes[i] = Some(Outcome::Done(response));
    }
    for (i, first) in duplicates {
        outcomes[i] = Some(if jobs[i].key.fingerprint == jobs[first].key.fingerprint {
            outcomes[first]
                .clone()
                .unwrap_or(Outcome::Refused(Failure::Internal))
        } else {
            Outcome::Refused(memberhub_kit::idempotency::key_reused())
        });
    }
    outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Some(Outcome::Done(response)) => Ok(response),
            Some(Outcome::Refused(failure)) => Err(Error::Rejected(failure)),
            None => Err(Error::Rejected(Failure::Internal)),
        })
        .collect()
}

/// A stored key's fingerprint and response.
type StoredKey = (Vec<u8>, Option<Vec<u8>>);

/// Columns of the coupons to insert.
struct CouponRows {
    ids: Vec<Uuid>,
    codes: Vec<String>,
    users: Vec<String>,
    issues: Vec<Uuid>,
}

impl CouponRows {
    fn with_capacity(n: usize) -> Self {
        Self {
            ids: Vec::with_capacity(n),
            codes: Vec::with_capacity(n),
            users: Vec::with_capacity(n),
            issues: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, coupons: &[Coupon]) {
        for c in coupons {
            self.ids.push(c.id.as_uuid());
            self.codes.push(c.code.clone());
            self.users.push(c.user.as_str().to_string());
            self.issues.push(c.issue.as_uuid());
        }
    }
}

fn claim_of(jobs: &[IssueJob], i: usize) -> String {
    jobs[i]
        .command
        .claim
        .as_ref()
        .map(|c| c.as_str().to_string())
        .unwrap_or_default()
}

/// A cheap look (no lock) at the source before writing anything: `Some(reason)` when no
/// unit can be had, so a sold-out batch refuses a group without writes. A stale "yes" is
/// harmless: the conditional update in step 7 decides.
async fn nothing_to_take(
    tx: &mut sqlx::PgConnection,
    batch: &BatchSpec,
    source: Source,
    allocation: Option<&crate::domain::allocation::Allocation>,
) -> Result<Option<Failure>, Error> {
    match (source, allocation) {
        (Source::Free, _) => {
            let row = sqlx::query!(
                "SELECT s.free, s.issuable, s.bound_allocation_id, b.status
                 FROM coupon.stock s JOIN coupon.batches b USING (batch_id) WHERE s.batch_id = $1",
                batch.id.as_uuid(),
            )
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| Error::BatchNotFound(batch.id.to_string()))?;
            Ok(if !row.issuable {
                let status = crate::domain::batch::Status::from_db(&row.status)
                    .ok_or(Error::CorruptRow("batches.status"))?;
                Some(crate::domain::allocation::not_active(status))
            } else if row.bound_allocation_id.is_some() {
                Some(issue::bound_to_campaign())
            } else if row.free <= 0 {
                Some(issue::out_of_stock())
            } else {
                None
            })
        }
        (Source::Allocation(_), Some(a)) if a.remaining <= 0 => {
            Ok(Some(Failure::ResourceExhausted {
                reason: "OUT_OF_STOCK",
                message: "the allocation's units are all issued".into(),
            }))
        }
        (Source::Allocation(_), _) => Ok(None),
    }
}

/// Removes what steps 5 and 6 wrote for `short` (requests that got no unit after all): their
/// coupons, their counter increments and their claim rows. Their keys go with the refusals.
async fn undo<R>(
    tx: &mut sqlx::PgConnection,
    batch: &BatchSpec,
    jobs: &[IssueJob],
    short: &[usize],
    responses: &[(usize, R, Vec<Uuid>)],
    limited: impl Fn(usize) -> bool,
) -> Result<(), Error> {
    let coupons: Vec<Uuid> = responses
        .iter()
        .filter(|(i, _, _)| short.contains(i))
        .flat_map(|(_, _, ids)| ids.iter().copied())
        .collect();
    sqlx::query!(
        "DELETE FROM coupon.coupons WHERE coupon_id = ANY($1)",
        &coupons,
    )
    .execute(&mut *tx)
    .await?;
    let mut back: HashMap<&str, i32> = HashMap::new();
    for &i in short.iter().filter(|&&i| limited(i)) {
        *back.entry(jobs[i].command.user.as_str()).or_insert(0) += 1;
    }
    if !back.is_empty() {
        let mut users: Vec<&str> = back.keys().copied().collect();
        users.sort_unstable();
        let counts: Vec<i32> = users.iter().map(|u| back[u]).collect();
        let users: Vec<String> = users.into_iter().map(str::to_string).collect();
        sqlx::query!(
            "UPDATE coupon.user_claims uc SET claimed = uc.claimed - b.n
             FROM unnest($2::text[], $3::int[]) AS b(user_id, n)
             WHERE uc.batch_id = $1 AND uc.user_id = b.user_id",
            batch.id.as_uuid(),
            &users,
            &counts,
        )
        .persistent(false)
        .execute(&mut *tx)
        .await?;
    }
    let claims: Vec<String> = short
        .iter()
        .filter(|&&i| jobs[i].command.claim.is_some())
        .map(|&i| claim_of(jobs, i))
        .collect();
    if !claims.is_empty() {
        sqlx::query!(
            "DELETE FROM coupon.claim_issues WHERE batch_id = $1 AND claim_id = ANY($2)",
            batch.id.as_uuid(),
            &claims,
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Takes up to `wanted` units with one conditional update; `Ok(Err(..))` says why none
/// could be taken (not ACTIVE, bound to a campaign, out of stock, allocation released).
async fn take(
    tx: &mut sqlx::PgConnection,
    batch: &BatchSpec,
    source: Source,
    wanted: i64,
) -> Result<Result<i64, Failure>, Error> {
    match source {
        Source::Free => {
            let taken = sqlx::query_scalar!(
                "UPDATE coupon.stock
                 SET free = free - LEAST(free, $2), issued = issued + LEAST(free, $2),
                     last_take = LEAST(free, $2)
                 WHERE batch_id = $1 AND issuable AND bound_allocation_id IS NULL AND free > 0
                 RETURNING last_take",
                batch.id.as_uuid(),
                wanted,
            )
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(taken) = taken {
                return Ok(Ok(taken));
            }
            let row = sqlx::query!(
                "SELECT s.issuable, s.bound_allocation_id, b.status, b.ends_at
                 FROM coupon.stock s JOIN coupon.batches b USING (batch_id) WHERE s.batch_id = $1",
                batch.id.as_uuid(),
            )
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| Error::BatchNotFound(batch.id.to_string()))?;
            Ok(Err(if !row.issuable {
                let status = crate::domain::batch::Status::from_db(&row.status)
                    .ok_or(Error::CorruptRow("batches.status"))?;
                crate::domain::allocation::not_active(status)
            } else if row.bound_allocation_id.is_some() {
                issue::bound_to_campaign()
            } else {
                issue::out_of_stock()
            }))
        }
        Source::Allocation(id) => {
            let taken = sqlx::query_scalar!(
                "UPDATE coupon.allocations
                 SET remaining = remaining - LEAST(remaining, $2),
                     issued = issued + LEAST(remaining, $2),
                     last_take = LEAST(remaining, $2)
                 WHERE allocation_id = $1 AND released_at IS NULL AND remaining > 0
                 RETURNING last_take",
                id.as_uuid(),
                wanted,
            )
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(taken) = taken {
                return Ok(Ok(taken));
            }
            let released = sqlx::query_scalar!(
                "SELECT released_at IS NOT NULL AS \"released!\" FROM coupon.allocations WHERE allocation_id = $1",
                id.as_uuid(),
            )
            .fetch_optional(&mut *tx)
            .await?;
            Ok(Err(match released {
                Some(true) => Failure::precondition(
                    "ALLOCATION_RELEASED",
                    "the allocation was released; its units are back in the batch's stock",
                ),
                Some(false) => Failure::ResourceExhausted {
                    reason: "OUT_OF_STOCK",
                    message: "the allocation's units are all issued".into(),
                },
                None => Failure::NotFound(format!("allocation {id} not found")),
            }))
        }
    }
}

impl Source {
    /// The source an issue names: an allocation, or the free stock.
    pub(crate) fn of(allocation: Option<AllocationId>) -> Self {
        allocation.map_or(Source::Free, Source::Allocation)
    }
}
