-- OC-1..OC-10, GP-1..GP-9, PT-3: campaigns, packs, gift items, claims (sagas), entitlements,
-- the event cursor and the statistics counters.
--
-- Correctness rests on this schema: "one per shop in overlapping windows" (OC-3, GP-5) is an
-- EXCLUDE constraint, pack stock is a counter changed only by a conditional UPDATE under
-- CHECK >= 0, and "once per campaign and shopper" is a unique key on the claim.

-- The default gist operator classes for uuid and text; found by type, whatever the schema.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE campaign.open_card_gifts (
    campaign_id     uuid PRIMARY KEY,
    shop_id         uuid NOT NULL,
    name            text NOT NULL,
    start_time      timestamptz NOT NULL,
    end_time        timestamptz NOT NULL CHECK (end_time > start_time),
    gift_quantity   bigint NOT NULL CHECK (gift_quantity >= 1),
    -- OC-8: packs that may still be claimed; taken by the claim transaction.
    packs_left      bigint NOT NULL CHECK (packs_left >= 0),
    time_zone       text NOT NULL,
    -- PROVISIONING until budget, allocations and the join hold are in place (no claims);
    -- READY afterwards; FAILED when provisioning was refused and compensated.
    phase           text NOT NULL CHECK (phase IN ('PROVISIONING', 'READY', 'FAILED')),
    -- Why provisioning was refused, replayed to a retry of the same create.
    failure_code    text,
    failure_reason  text,
    failure_message text,
    created_at      timestamptz NOT NULL,
    closed_at       timestamptz,
    -- OC-9: when unused budget and allocations were given back.
    settled_at      timestamptz,
    CONSTRAINT one_open_card_gift_at_a_time EXCLUDE USING gist (
        shop_id WITH =, tstzrange(start_time, end_time, '[)') WITH &&
    ) WHERE (closed_at IS NULL)
);

CREATE INDEX open_card_gifts_by_shop ON campaign.open_card_gifts (shop_id, campaign_id DESC);
CREATE INDEX open_card_gifts_unsettled ON campaign.open_card_gifts (end_time)
    WHERE settled_at IS NULL AND phase = 'READY';

-- OC-4..OC-6: one row per prize, with the capacity reserved for it in its owning service.
CREATE TABLE campaign.open_card_prizes (
    campaign_id     uuid NOT NULL REFERENCES campaign.open_card_gifts (campaign_id),
    position        int NOT NULL,
    prize_type      text NOT NULL
        CHECK (prize_type IN ('BEANS', 'CASH_COUPON', 'THRESHOLD_COUPON', 'POINTS', 'RED_PACKET', 'DATA_PACK')),
    -- Asset prizes: amount per pack. Coupon prizes: 0.
    amount          bigint NOT NULL CHECK (amount >= 0),
    batch_key       text,
    batch_id        uuid,
    -- coupon-svc allocation (coupon prizes) or membership-svc budget reservation (beans,
    -- red packets, data packs); NULL for points and until provisioned.
    allocation_id   uuid,
    reservation_id  uuid,
    -- Packs this prize can still serve (NULL: unbounded, e.g. points).
    capacity        bigint,
    released_at     timestamptz,
    PRIMARY KEY (campaign_id, position)
);

-- GP-2/GP-4: gift items a shop may give away, with the stock not yet promised.
CREATE TABLE campaign.gift_items (
    shop_id         uuid NOT NULL,
    sku             text NOT NULL,
    title           text NOT NULL,
    gift_category   boolean NOT NULL,
    stock           bigint NOT NULL CHECK (stock >= 0),
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (shop_id, sku)
);

-- GP-1..GP-7: new-member and member packs.
CREATE TABLE campaign.gift_packs (
    pack_id          uuid PRIMARY KEY,
    shop_id          uuid NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('NEW_MEMBER', 'MEMBER')),
    name             text NOT NULL,
    start_time       timestamptz NOT NULL,
    end_time         timestamptz NOT NULL CHECK (end_time > start_time),
    batch_keys       text[] NOT NULL,
    batch_ids        uuid[] NOT NULL,
    gift_sku         text,
    gift_quantity    bigint,
    quantity         bigint NOT NULL CHECK (quantity >= 1),
    packs_left       bigint NOT NULL CHECK (packs_left >= 0),
    min_level        int,
    popup_start      timestamptz,
    popup_end        timestamptz,
    created_at       timestamptz NOT NULL,
    closed_at        timestamptz,
    CONSTRAINT one_pack_of_a_kind_at_a_time EXCLUDE USING gist (
        shop_id WITH =, kind WITH =, tstzrange(start_time, end_time, '[)') WITH &&
    ) WHERE (closed_at IS NULL)
);

CREATE INDEX gift_packs_by_shop ON campaign.gift_packs (shop_id, pack_id DESC);

-- GP-8: the shop's new-member exclusive coupon and/or gift.
CREATE TABLE campaign.new_member_exclusives (
    shop_id          uuid PRIMARY KEY,
    batch_key        text,
    batch_id         uuid,
    gift_sku         text,
    gift_quantity    bigint,
    updated_at       timestamptz NOT NULL
);

-- A claim is a saga: recorded once (unique per what is claimed and shopper), then each step
-- is applied by its owning service under `claim:<id>:<index>:<label>`.
CREATE TABLE campaign.claims (
    claim_id         uuid PRIMARY KEY,
    shop_id          uuid NOT NULL,
    user_id          text NOT NULL,
    kind             text NOT NULL CHECK (kind IN
        ('OPEN_CARD_GIFT', 'NEW_MEMBER_PACK', 'MEMBER_PACK', 'NEW_MEMBER_EXCLUSIVE', 'POINTS_EXCHANGE')),
    -- The campaign, pack, shop (exclusive) or exchange item claimed.
    source_id        text NOT NULL,
    -- OC-7/GP-1/GP-6/GP-8 "once": e.g. the campaign and shopper; exchanges use the request.
    once_key         text NOT NULL UNIQUE,
    state            text NOT NULL CHECK (state IN ('PENDING', 'GRANTING', 'GRANTED', 'FAILED')),
    -- The plan: [{action, key, done, result}], in order.
    steps            jsonb NOT NULL,
    failure_reason   text,
    -- PT-3: a grant failed for good after points were spent; the refund is under way.
    compensating     boolean NOT NULL DEFAULT false,
    attempts         int NOT NULL DEFAULT 0,
    -- A runner holds the claim until this time; the reconciler takes claims past it.
    lease_until      timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    granted_at       timestamptz
);

CREATE INDEX claims_unfinished ON campaign.claims (lease_until) WHERE state IN ('PENDING', 'GRANTING');
CREATE INDEX claims_by_source ON campaign.claims (source_id, state);
CREATE INDEX claims_by_shop ON campaign.claims (shop_id, claim_id DESC);
CREATE INDEX claims_by_user ON campaign.claims (user_id, shop_id);

-- GP-4: the right to buy a gift item for 0.01 yuan (or exchanged goods for free).
CREATE TABLE campaign.entitlements (
    entitlement_id   uuid PRIMARY KEY,
    shop_id          uuid NOT NULL,
    user_id          text NOT NULL,
    sku              text NOT NULL,
    price_fen        bigint NOT NULL CHECK (price_fen >= 0),
    claim_id         uuid NOT NULL,
    -- One per claim step: a retried step finds its entitlement.
    step_key         text NOT NULL UNIQUE,
    order_id         text,
    created_at       timestamptz NOT NULL,
    consumed_at      timestamptz
);

CREATE INDEX entitlements_by_user ON campaign.entitlements (user_id, shop_id);

-- OC-7: how far membership-svc's event stream has been consumed.
CREATE TABLE campaign.event_cursors (
    consumer         text PRIMARY KEY,
    cursor           text NOT NULL,
    updated_at       timestamptz NOT NULL
);

-- OC-10: per campaign and shop-local day. Exposures are counted by the storefront read;
-- cards opened by the event consumer; packs granted and prize totals come from claims.
CREATE TABLE campaign.daily_counters (
    campaign_id      uuid NOT NULL,
    day              date NOT NULL,
    exposures        bigint NOT NULL DEFAULT 0,
    cards_opened     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, day)
);

-- GP-7: a member's first visit in a pack's pop-up window.
CREATE TABLE campaign.popup_views (
    pack_id          uuid NOT NULL,
    user_id          text NOT NULL,
    seen_at          timestamptz NOT NULL,
    PRIMARY KEY (pack_id, user_id)
);
