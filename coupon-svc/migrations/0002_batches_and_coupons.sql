-- CP-1..CP-9: batches, their stock, allocations, per-user and per-claim counters, coupons.
--
-- Correctness rests on this schema, not on the process: stock is a row changed only by
-- conditional UPDATEs (CHECK free >= 0), per-user limits are counter rows changed by a
-- conditional upsert, one issue per campaign claim is a primary key, and a coupon changes
-- state only by a conditional UPDATE on its current state.

CREATE TABLE coupon.batches (
    batch_id          uuid PRIMARY KEY,
    batch_key         text NOT NULL UNIQUE CHECK (batch_key ~ '^BA_[a-z2-7]{7}$'),
    shop_id           uuid NOT NULL,
    shop_type         text NOT NULL CHECK (shop_type IN ('POP', 'SELF_OPERATED')),
    internal_name     text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('THRESHOLD', 'CASH', 'DISCOUNT')),
    face_value_fen    bigint NOT NULL CHECK (face_value_fen >= 0),
    threshold_fen     bigint NOT NULL CHECK (threshold_fen >= 0),
    discount_percent  int NOT NULL CHECK (discount_percent BETWEEN 0 AND 99),
    discount_cap_fen  bigint NOT NULL CHECK (discount_cap_fen >= 0),
    item_categories   text[] NOT NULL,
    item_skus         text[] NOT NULL,
    regions           text[] NOT NULL,
    channel           text NOT NULL CHECK (channel IN ('GENERAL', 'CRM', 'INTERACTIVE', 'SPRINT_PLAN')),
    total_quantity    bigint NOT NULL CHECK (total_quantity >= 1),
    per_user_limit    int NOT NULL CHECK (per_user_limit >= 0),
    per_issue_count   int NOT NULL CHECK (per_issue_count >= 1),
    giftable          boolean NOT NULL,
    claim_start       timestamptz NOT NULL,
    claim_end         timestamptz NOT NULL,
    validity_kind     text NOT NULL CHECK (validity_kind IN ('ABSOLUTE', 'RELATIVE')),
    valid_from        timestamptz,
    valid_until       timestamptz,
    whole_hours       boolean NOT NULL,
    relative_days     int,
    -- When no coupon of the batch can be valid any more: ACTIVE reads as ENDED from then on.
    ends_at           timestamptz NOT NULL,
    status            text NOT NULL
        CHECK (status IN ('DRAFT', 'PENDING_APPROVAL', 'ACTIVE', 'ENDED', 'CLOSED')),
    reject_reason     text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    CONSTRAINT claim_window_ordered CHECK (claim_end > claim_start),
    CONSTRAINT validity_shape CHECK (
        (validity_kind = 'ABSOLUTE' AND valid_until > valid_from AND relative_days IS NULL)
        OR (validity_kind = 'RELATIVE' AND relative_days BETWEEN 1 AND 365
            AND valid_from IS NULL AND valid_until IS NULL))
);

CREATE INDEX batches_by_shop ON coupon.batches (shop_id, batch_id DESC);
CREATE INDEX batches_pending ON coupon.batches (batch_id DESC) WHERE status = 'PENDING_APPROVAL';

-- CP-3: the batch's free stock, the one row issuing from free stock contends on. Kept apart
-- from the wide batch row so its updates stay small (and HOT: no index covers its columns).
-- `issuable` mirrors status = ACTIVE and `bound_allocation_id` the OC-6 binding, so that a
-- close or a binding serialises with issuing on this row's lock.
CREATE TABLE coupon.stock (
    batch_id             uuid PRIMARY KEY REFERENCES coupon.batches (batch_id),
    free                 bigint NOT NULL CHECK (free >= 0),
    -- Issues made from the free stock.
    issued               bigint NOT NULL DEFAULT 0 CHECK (issued >= 0),
    issuable             boolean NOT NULL DEFAULT false,
    bound_allocation_id  uuid,
    -- Units the last conditional take obtained (UPDATE .. RETURNING sees only new values).
    last_take            bigint NOT NULL DEFAULT 0
) WITH (fillfactor = 50);

-- CP-4: units of a batch reserved for a campaign (holder).
CREATE TABLE coupon.allocations (
    allocation_id  uuid PRIMARY KEY,
    batch_id       uuid NOT NULL REFERENCES coupon.batches (batch_id),
    channel        text NOT NULL CHECK (channel IN ('GENERAL', 'CRM', 'INTERACTIVE', 'SPRINT_PLAN')),
    holder         text NOT NULL,
    reserved       bigint NOT NULL CHECK (reserved >= 1),
    remaining      bigint NOT NULL CHECK (remaining >= 0),
    issued         bigint NOT NULL DEFAULT 0 CHECK (issued >= 0),
    bound          boolean NOT NULL,
    claim_start    timestamptz,
    claim_end      timestamptz,
    created_at     timestamptz NOT NULL,
    released_at    timestamptz,
    last_take      bigint NOT NULL DEFAULT 0,
    CONSTRAINT accounted CHECK (issued + remaining <= reserved),
    CONSTRAINT released_holds_nothing CHECK (released_at IS NULL OR remaining = 0),
    CONSTRAINT window_ordered CHECK ((claim_start IS NULL) = (claim_end IS NULL) AND (claim_end IS NULL OR claim_end > claim_start))
) WITH (fillfactor = 50);

CREATE INDEX allocations_live ON coupon.allocations (batch_id) WHERE released_at IS NULL;

-- CP-3: issues per shopper and batch, for the per-user limit (changed only by a conditional
-- upsert). Batches with no limit keep no rows.
CREATE TABLE coupon.user_claims (
    batch_id    uuid NOT NULL,
    user_id     text NOT NULL,
    claimed     int  NOT NULL CHECK (claimed >= 0),
    -- Issues the last conditional upsert granted.
    last_grant  int  NOT NULL,
    PRIMARY KEY (batch_id, user_id)
);

-- GP-2: one issue per campaign claim and batch, whatever the batch's per-user limit.
CREATE TABLE coupon.claim_issues (
    batch_id    uuid NOT NULL,
    claim_id    text NOT NULL,
    issue_id    uuid NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (batch_id, claim_id)
);

-- CP-3, CP-5, CP-6: issued coupons. EXPIRED is not a state here: it is derived from
-- valid_until at read time. No foreign key to batches: coupons are written only by the
-- issuing path, which read the batch, and a per-row key check would cost the hot path.
CREATE TABLE coupon.coupons (
    coupon_id      uuid PRIMARY KEY,
    code           text NOT NULL UNIQUE,
    batch_id       uuid NOT NULL,
    shop_id        uuid NOT NULL,
    user_id        text NOT NULL,
    issue_id       uuid NOT NULL,
    allocation_id  uuid,
    issued_at      timestamptz NOT NULL,
    valid_from     timestamptz NOT NULL,
    valid_until    timestamptz NOT NULL,
    state          text NOT NULL CHECK (state IN ('AVAILABLE', 'LOCKED', 'USED')),
    order_id       text,
    locked_at      timestamptz,
    used_at        timestamptz,
    CONSTRAINT order_matches_state CHECK ((state = 'AVAILABLE') = (order_id IS NULL)),
    CONSTRAINT used_has_time CHECK ((state = 'USED') = (used_at IS NOT NULL))
);

CREATE INDEX coupons_wallet ON coupon.coupons (user_id, coupon_id DESC);
CREATE INDEX coupons_by_batch ON coupon.coupons (batch_id);
CREATE INDEX coupons_by_order ON coupon.coupons (user_id, order_id) WHERE order_id IS NOT NULL;
