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
use sqlx::PgPool;
use uuid::Uuid;

use super::batches::BatchSpec;
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
    let mut outcomes: Vec<Option<Outcome<R>>> = vec![None; jobs.len()];
    // Duplicate keys within the group: the first one acts, the others follow it.
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

    let mut tx = pool.begin().await?;

    // 1. Claim the keys.
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
        now,
    )
    .fetch_all(&mut *tx)
    .await?;
    let claimed: HashSet<(String, String)> =
        claimed_rows.into_iter().map(|r| (r.scope, r.key)).collect();
    let seen: Vec<usize> = leaders
        .iter()
        .copied()
        .filter(|&i| !claimed.contains(&(jobs[i].key.scope.clone(), jobs[i].key.key.clone())))
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
        .fetch_all(&mut *tx)
        .await?;
        let stored: HashMap<(String, String), StoredKey> = stored
            .into_iter()
            .map(|r| ((r.scope, r.key), (r.fingerprint, r.response)))
            .collect();
        for &i in &seen {
            let key = &jobs[i].key;
            outcomes[i] = Some(match stored.get(&(key.scope.clone(), key.key.clone())) {
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
                // Claimed and deleted meanwhile (a refusal), or never stored: refuse softly,
                // the caller may retry.
                Some((_, None)) | None => Outcome::Refused(Failure::Unavailable(
                    "a request with this key is in progress; retry".into(),
                )),
            });
        }
    }

    // 2. Per-request rules.
    let allocation = match source {
        Source::Free => None,
        Source::Allocation(id) => super::allocations::get(&mut tx, id).await?,
    };
    let mut candidates = Vec::new();
    for &i in &leaders {
        if outcomes[i].is_some() {
            continue;
        }
        let checked = match (source, &allocation) {
            (Source::Allocation(id), None) => {
                Err(Failure::NotFound(format!("allocation {id} not found")))
            }
            _ => issue::precheck(&batch.spec, &jobs[i].command, allocation.as_ref(), now),
        };
        match checked {
            Ok(()) => candidates.push(i),
            Err(failure) => outcomes[i] = Some(Outcome::Refused(failure)),
        }
    }

    // 3. Within the group, a shopper never asks for more than the limit, and a claim once.
    //    (Issues already held are the upsert's business in step 5: no pre-read, so no plan
    //    that could go stale and no race to argue about.)
    let limit = batch.spec.per_user_limit;
    let limited = |i: usize| limit > 0 && jobs[i].command.claim.is_none();
    //    A request over the cap follows the shopper's last kept request: refused for the
    //    limit if that one was issued, else for the same reason (e.g. out of stock).
    let mut asked: HashMap<&str, (i32, usize)> = HashMap::new();
    let mut claims_seen: HashSet<&str> = HashSet::new();
    let mut kept = Vec::with_capacity(candidates.len());
    let mut over_cap: Vec<(usize, usize)> = Vec::new();
    for i in candidates {
        let command = &jobs[i].command;
        if let Some(claim) = &command.claim {
            if !claims_seen.insert(claim.as_str()) {
                outcomes[i] = Some(Outcome::Refused(issue::already_issued_for_claim()));
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

    // 4. Nothing to take (sold out, not ACTIVE, bound, released)? Refuse without writing.
    if !kept.is_empty()
        && let Some(failure) = nothing_to_take(&mut tx, batch, source, allocation.as_ref()).await?
    {
        for &i in &kept {
            outcomes[i] = Some(Outcome::Refused(failure.clone()));
        }
        kept.clear();
    }

    // 5. Exact limits and claims (conditional writes on the shoppers' own rows).
    let issue_ids: HashMap<usize, IssueId> = kept.iter().map(|&i| (i, IssueId::new())).collect();
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
        .fetch_all(&mut *tx)
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
                outcomes[i] = Some(Outcome::Refused(issue::per_user_limit_reached(limit)));
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
            now,
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        for &i in &with_claim {
            if !inserted.contains(&claim_of(jobs, i)) {
                outcomes[i] = Some(Outcome::Refused(issue::already_issued_for_claim()));
            }
        }
    }
    let mut granted: Vec<usize> = kept
        .iter()
        .copied()
        .filter(|&i| outcomes[i].is_none())
        .collect();

    // 6. Coupons and responses, written before the units are taken so that the hot row is
    //    locked only for its own update and the commit.
    let per_issue = usize::try_from(batch.spec.per_issue_count).unwrap_or(1);
    let validity = batch.spec.validity.for_claim_at(now);
    let allocation_id = match source {
        Source::Free => None,
        Source::Allocation(id) => Some(id),
    };
    let mut rows = CouponRows::with_capacity(granted.len() * per_issue);
    let mut responses: Vec<(usize, R, Vec<Uuid>)> = Vec::with_capacity(granted.len());
    for &i in &granted {
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
        .execute(&mut *tx)
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
        .execute(&mut *tx)
        .await?;
    }

    // 7. Take the units: one conditional update of the hot row, then only the commit.
    if !granted.is_empty() {
        let wanted = i64::try_from(granted.len()).unwrap_or(i64::MAX);
        let (taken, why) = match take(&mut tx, batch, source, wanted).await? {
            Ok(taken) => (taken, issue::out_of_stock()),
            Err(failure) => (0, failure),
        };
        let taken = usize::try_from(taken).unwrap_or(0).min(granted.len());
        if taken < granted.len() {
            // Short (another group or process took the rest): undo the written tail.
            let short = granted.split_off(taken);
            undo(&mut tx, batch, jobs, &short, &responses, limited).await?;
            for &i in &short {
                outcomes[i] = Some(Outcome::Refused(why.clone()));
            }
            responses.retain(|(i, _, _)| !short.contains(i));
        }
    }
    for &(i, last) in &over_cap {
        outcomes[i] = Some(match &outcomes[last] {
            Some(Outcome::Refused(failure)) => Outcome::Refused(failure.clone()),
            _ => Outcome::Refused(issue::per_user_limit_reached(limit)),
        });
    }

    // 8. Refusals change nothing: drop their keys.
    let refused: Vec<usize> = leaders
        .iter()
        .copied()
        .filter(|&i| {
            claimed.contains(&(jobs[i].key.scope.clone(), jobs[i].key.key.clone()))
                && matches!(outcomes[i], Some(Outcome::Refused(_)))
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
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;

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
    Ok(outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Some(Outcome::Done(response)) => Ok(response),
            Some(Outcome::Refused(failure)) => Err(Error::Rejected(failure)),
            None => Err(Error::Rejected(Failure::Internal)),
        })
        .collect())
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
