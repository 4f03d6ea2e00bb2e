-- Issue 12: every write of a claim's progress is fenced by the runner's lease token. Taking a
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
