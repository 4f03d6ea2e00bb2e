-- SP-4, SP-5, SP-6, SP-8: shoppers registered with a plan's shops, the sprint spend that
-- qualifies them, and the award that issues their coupons exactly once.

-- SP-6: the award of a joined shop. `award_started_at` is set by the one transaction that
-- ranks the qualified shoppers; from then on spend no longer moves. The lease lets one
-- replica run the award at a time (issuing is idempotent per shopper, so a lease that runs
-- out mid-run costs time, never a second issue).
ALTER TABLE campaign.sprint_plan_shops
    ADD COLUMN award_started_at   timestamptz,
    ADD COLUMN award_finished_at  timestamptz,
    ADD COLUMN award_lease_until  timestamptz,
    ADD COLUMN award_lease_holder uuid,
    ADD CONSTRAINT award_in_order CHECK (award_finished_at IS NULL OR award_started_at IS NOT NULL);

-- The consumer was idle (had applied everything membership-svc had to send) at this time:
-- the award waits until this passes the award start, so no sprint spend is still in flight.
ALTER TABLE campaign.event_cursors ADD COLUMN caught_up_at timestamptz;

-- SP-5: the order in which shoppers crossed their threshold, for ties at one instant.
CREATE SEQUENCE campaign.sprint_qualify_seq;

CREATE TABLE campaign.sprint_registrations (
    plan_id       uuid NOT NULL,
    shop_id       uuid NOT NULL,
    user_id       text NOT NULL,
    registered_at timestamptz NOT NULL,
    -- SP-5: receipt-confirmed spend in the sprint, net of refunds.
    spend_fen     bigint NOT NULL DEFAULT 0 CHECK (spend_fen >= 0),
    qualified_at  timestamptz,
    qualify_seq   bigint,
    -- SP-6: DUE (ranked within D, issue pending), AWARDED, NOT_AWARDED_OUT_OF_STOCK.
    award_state   text CHECK (award_state IN ('DUE', 'AWARDED', 'NOT_AWARDED_OUT_OF_STOCK')),
    award_rank    int,
    awarded_at    timestamptz,
    PRIMARY KEY (plan_id, shop_id, user_id),
    FOREIGN KEY (plan_id, shop_id) REFERENCES campaign.sprint_plan_shops (plan_id, shop_id),
    CONSTRAINT qualified_whole CHECK ((qualified_at IS NULL) = (qualify_seq IS NULL)),
    CONSTRAINT ranked_when_decided CHECK ((award_state IS NULL) = (award_rank IS NULL)),
    CONSTRAINT awarded_when CHECK ((award_state = 'AWARDED') = (awarded_at IS NOT NULL))
);

-- SP-6: the coupons each award issued (written with the award, by insert only).
CREATE TABLE campaign.sprint_award_coupons (
    plan_id   uuid NOT NULL,
    shop_id   uuid NOT NULL,
    user_id   text NOT NULL,
    coupon_id uuid NOT NULL,
    PRIMARY KEY (plan_id, shop_id, user_id, coupon_id),
    FOREIGN KEY (plan_id, shop_id, user_id)
        REFERENCES campaign.sprint_registrations (plan_id, shop_id, user_id)
);

-- The consumer finds a shopper's registrations by shop and user.
CREATE INDEX sprint_registrations_by_user ON campaign.sprint_registrations (shop_id, user_id);
-- SP-6: the award reads the qualified in order, and the issues still due in rank order.
CREATE INDEX sprint_registrations_qualified ON campaign.sprint_registrations
    (plan_id, shop_id, qualified_at, qualify_seq) WHERE qualified_at IS NOT NULL;
CREATE INDEX sprint_registrations_due ON campaign.sprint_registrations
    (plan_id, shop_id, award_rank) WHERE award_state = 'DUE';

-- SP-5: each confirmed order counted once per registration, with what was refunded of it
-- (the feed carries the order's cumulative refund, so a replay never subtracts twice).
CREATE TABLE campaign.sprint_spend_orders (
    plan_id      uuid NOT NULL,
    shop_id      uuid NOT NULL,
    user_id      text NOT NULL,
    order_id     text NOT NULL,
    confirmed_at  timestamptz NOT NULL,
    confirmed_fen bigint NOT NULL CHECK (confirmed_fen >= 0),
    refunded_fen  bigint NOT NULL CHECK (refunded_fen >= 0 AND refunded_fen <= confirmed_fen),
    PRIMARY KEY (plan_id, shop_id, user_id, order_id),
    FOREIGN KEY (plan_id, shop_id, user_id)
        REFERENCES campaign.sprint_registrations (plan_id, shop_id, user_id)
);
