-- LV, MB, OR, PT and the outbox. Money in fen, times UTC; rules cite spec.md.

-- OR-4 points rate, PT-5 points expiry, MP-6 the member tab's position.
ALTER TABLE membership.programs
    ADD COLUMN points_per_yuan       int     NOT NULL DEFAULT 1 CHECK (points_per_yuan BETWEEN 0 AND 100),
    ADD COLUMN points_expiry_enabled boolean NOT NULL DEFAULT false,
    ADD COLUMN member_tab_position   int     NOT NULL DEFAULT 4 CHECK (member_tab_position BETWEEN 1 AND 5);

-- LV-1..LV-3 the ladder and LV-6 its benefits; level 1 exists from the start (LV-1, LV-2).
CREATE TABLE membership.levels (
    shop_id                   uuid    NOT NULL REFERENCES membership.shops (shop_id),
    level                     int     NOT NULL CHECK (level BETWEEN 1 AND 5),
    name                      text    NOT NULL,
    min_spend_fen             bigint,
    min_order_count           bigint,
    operator                  text    CHECK (operator IN ('AND', 'OR')),
    discount_permille         int     NOT NULL DEFAULT 0,
    exclusive_access          boolean NOT NULL DEFAULT false,
    points_multiplier_percent int     NOT NULL DEFAULT 0,
    points_for_coupon         jsonb   NOT NULL DEFAULT '[]',
    points_for_goods          jsonb   NOT NULL DEFAULT '[]',
    PRIMARY KEY (shop_id, level),
    CONSTRAINT level_one_has_no_condition CHECK (
        (level = 1) = (min_spend_fen IS NULL AND min_order_count IS NULL AND operator IS NULL))
);
INSERT INTO membership.levels (shop_id, level, name)
SELECT shop_id, 1, '1星级' FROM membership.shops;

-- MB-1: one row per shop and shopper who ever ordered, opened a card or followed. The
-- current membership period lives here; closed periods are kept in membership_periods.
CREATE TABLE membership.members (
    shop_id          uuid    NOT NULL REFERENCES membership.shops (shop_id),
    user_id          text    NOT NULL,
    state            text    NOT NULL DEFAULT 'NONE'
        CHECK (state IN ('NONE', 'PENDING', 'ACTIVE', 'QUIT')),
    membership_id    uuid,
    join_channel     text    CHECK (join_channel IN ('ORDER', 'CARD', 'IMPORT')),
    source           text,
    joined_at        timestamptz,
    -- GP-1: the first-ever join; a rejoin never moves it (MB-3).
    first_joined_at  timestamptz,
    -- MB-2: once per membership period, apart from membership itself.
    card_opened_at   timestamptz,
    -- MB-1: keyed hash of the phone given at card opening; the phone itself is never stored.
    phone_hash       bytea,
    profile          jsonb   NOT NULL DEFAULT '{}',
    level            int     NOT NULL DEFAULT 0,
    -- OR-3: receipt-confirmed orders net of refunds.
    total_spend_fen  bigint  NOT NULL DEFAULT 0 CHECK (total_spend_fen >= 0),
    order_count      bigint  NOT NULL DEFAULT 0 CHECK (order_count >= 0),
    paid_order_count bigint  NOT NULL DEFAULT 0,
    following        boolean NOT NULL DEFAULT false,
    followed_at      timestamptz,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (shop_id, user_id),
    CONSTRAINT active_has_period CHECK (state NOT IN ('ACTIVE', 'QUIT') OR membership_id IS NOT NULL)
);
-- MB-4: the merchant's list, newest first, filtered by level, channel and source.
CREATE INDEX members_by_join ON membership.members (shop_id, joined_at DESC, user_id DESC)
    WHERE state = 'ACTIVE';

-- MB-3: every membership period, open or closed.
CREATE TABLE membership.membership_periods (
    membership_id  uuid PRIMARY KEY,
    shop_id        uuid NOT NULL,
    user_id        text NOT NULL,
    join_channel   text NOT NULL,
    source         text NOT NULL,
    joined_at      timestamptz NOT NULL,
    card_opened_at timestamptz,
    quit_at        timestamptz
);
CREATE INDEX membership_periods_by_member ON membership.membership_periods (shop_id, user_id);

-- MP-4: the latest code sent to a shopper for a shop; hashed, never stored in clear.
CREATE TABLE membership.sms_codes (
    shop_id         uuid        NOT NULL,
    user_id         text        NOT NULL,
    phone_hash      bytea       NOT NULL,
    code_hash       bytea       NOT NULL,
    sent_at         timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    failed_attempts int         NOT NULL DEFAULT 0,
    consumed_at     timestamptz,
    PRIMARY KEY (shop_id, user_id)
);

-- The recording SmsSender: what would have been sent, readable by tests and `memberhub dev`.
CREATE TABLE membership.sms_messages (
    message_id   bigserial PRIMARY KEY,
    shop_id      uuid        NOT NULL,
    phone_hash   bytea       NOT NULL,
    phone_masked text        NOT NULL,
    body         text        NOT NULL,
    sent_at      timestamptz NOT NULL
);
CREATE INDEX sms_messages_by_phone ON membership.sms_messages (phone_hash, message_id);

-- OR-1: order facts, one row per order.
CREATE TABLE membership.orders (
    shop_id         uuid   NOT NULL,
    order_id        text   NOT NULL,
    user_id         text   NOT NULL,
    amount_fen      bigint NOT NULL DEFAULT 0 CHECK (amount_fen >= 0),
    paid_at         timestamptz,
    confirmed_at    timestamptz,
    refunded_fen    bigint NOT NULL DEFAULT 0 CHECK (refunded_fen >= 0),
    -- OR-4: earned at confirmation; reversed proportionally to refunds (shortfall included).
    points_earned   bigint NOT NULL DEFAULT 0,
    points_reversed bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (shop_id, order_id)
);

-- OR-1: each event takes effect once: one row per (order, type, refund id). A refund that
-- arrives before its order's confirmation is held (applied = false) until it does.
CREATE TABLE membership.order_events (
    shop_id     uuid        NOT NULL,
    order_id    text        NOT NULL,
    event_type  text        NOT NULL CHECK (event_type IN ('PAID', 'RECEIPT_CONFIRMED', 'REFUNDED')),
    refund_id   text        NOT NULL DEFAULT '',
    amount_fen  bigint      NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    applied     boolean     NOT NULL,
    PRIMARY KEY (shop_id, order_id, event_type, refund_id)
);
CREATE INDEX order_events_held ON membership.order_events (shop_id, order_id) WHERE NOT applied;

-- PT-1: balances. An account is (kind, shop, owner, asset); only system accounts may be
-- negative, and their balance is not kept here (it is minus the sum of the others), so a
-- shop's busy issuance account is never a hot row.
CREATE TABLE membership.accounts (
    kind    text   NOT NULL CHECK (kind IN ('MEMBER', 'SHOP_BUDGET', 'RESERVATION')),
    shop_id uuid   NOT NULL,
    owner   text   NOT NULL,
    asset   text   NOT NULL CHECK (asset IN ('POINTS', 'BEANS', 'RED_PACKET', 'DATA_PACK')),
    balance bigint NOT NULL DEFAULT 0 CHECK (balance >= 0),
    PRIMARY KEY (shop_id, kind, owner, asset)
);

-- PT-1: immutable transfers, unique by key so none can happen twice.
CREATE TABLE membership.transfers (
    transfer_id uuid   PRIMARY KEY,
    key         text   NOT NULL UNIQUE,
    shop_id     uuid   NOT NULL,
    asset       text   NOT NULL,
    from_kind   text   NOT NULL,
    from_owner  text   NOT NULL,
    to_kind     text   NOT NULL,
    to_owner    text   NOT NULL,
    amount      bigint NOT NULL CHECK (amount >= 0),
    -- OR-4: what a reversal could not take back.
    shortfall   bigint NOT NULL DEFAULT 0 CHECK (shortfall >= 0),
    reason      text   NOT NULL,
    created_at  timestamptz NOT NULL
);

-- PT-1, PT-4: both sides of every transfer; per asset the deltas sum to zero.
CREATE TABLE membership.ledger_entries (
    entry_id      bigserial PRIMARY KEY,
    transfer_id   uuid   NOT NULL REFERENCES membership.transfers (transfer_id),
    shop_id       uuid   NOT NULL,
    kind          text   NOT NULL,
    owner         text   NOT NULL,
    asset         text   NOT NULL,
    delta         bigint NOT NULL,
    -- Unknown (NULL) for system accounts, whose balance is not kept.
    balance_after bigint,
    reason        text   NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX ledger_entries_by_account
    ON membership.ledger_entries (shop_id, kind, owner, asset, entry_id DESC);

-- PT-5: points are kept as lots so that spending and expiry consume the oldest first.
CREATE TABLE membership.points_lots (
    lot_id     bigserial PRIMARY KEY,
    shop_id    uuid   NOT NULL,
    user_id    text   NOT NULL,
    earned_at  timestamptz NOT NULL,
    amount     bigint NOT NULL CHECK (amount > 0),
    remaining  bigint NOT NULL CHECK (remaining >= 0 AND remaining <= amount)
);
CREATE INDEX points_lots_open ON membership.points_lots (shop_id, user_id, earned_at, lot_id)
    WHERE remaining > 0;

-- PT-2: a campaign's budget set aside (OC-5); released back to the shop's budget.
CREATE TABLE membership.budget_reservations (
    reservation_id uuid   PRIMARY KEY,
    shop_id        uuid   NOT NULL,
    asset          text   NOT NULL,
    amount         bigint NOT NULL CHECK (amount > 0),
    purpose        text   NOT NULL,
    state          text   NOT NULL CHECK (state IN ('HELD', 'RELEASED')),
    created_at     timestamptz NOT NULL
);

-- The outbox, written in the change's transaction. Readers order by (txid, position) and
-- read only below the oldest running transaction (pg_snapshot_xmin), so an event whose
-- transaction commits late is never skipped.
CREATE TABLE membership.outbox (
    position    bigserial PRIMARY KEY,
    txid        bigint      NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    event_id    uuid        NOT NULL UNIQUE,
    event_type  text        NOT NULL,
    shop_id     uuid        NOT NULL,
    user_id     text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    payload     jsonb       NOT NULL
);
CREATE INDEX outbox_by_commit_order ON membership.outbox (txid, position);
