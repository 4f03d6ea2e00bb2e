-- Every write of a claim's progress is fenced by the runner's lease token. Taking a
-- lease (a new run, or the reconciler taking over an expired one) sets a new token, so a
-- runner whose lease ran out during a slow step can no longer save anything.
ALTER TABLE campaign.claims ADD COLUMN lease_token uuid NOT NULL DEFAULT gen_random_uuid();

-- Events the consumer could not apply (malformed), kept with the reason for an operator; the
-- consumer moves past them instead of stalling.
CREATE TABLE campaign.parked_events (
    consumer         text NOT NULL,
    cursor           text NOT NULL,
    event_type       int NOT NULL,
    shop_id          text NOT NULL,
    reason           text NOT NULL,
    parked_at        timestamptz NOT NULL,
    PRIMARY KEY (consumer, cursor)
);

-- GP-9: a gift pack's coupon allocations are reserved before the pack is recorded. The
-- provisioning is written down first, so the reconciler can give the units back when the
-- creator dies in between (RESERVING for too long), fenced against a late creator.
CREATE TABLE campaign.gift_pack_provisionings (
    pack_id          uuid PRIMARY KEY,
    batch_ids        uuid[] NOT NULL,
    quantity         bigint NOT NULL,
    state            text NOT NULL CHECK (state IN ('RESERVING', 'RECORDED', 'ABANDONING', 'ABANDONED')),
    started_at       timestamptz NOT NULL
);
CREATE INDEX gift_pack_provisionings_open ON campaign.gift_pack_provisionings (started_at)
    WHERE state IN ('RESERVING', 'ABANDONING');

-- GP-3: a pack whose gift item runs out ends at once (closed, reading ENDED), so it no longer
-- blocks a new pack of its type for the rest of its window.
ALTER TABLE campaign.gift_packs ADD COLUMN gift_ran_out boolean NOT NULL DEFAULT false;
