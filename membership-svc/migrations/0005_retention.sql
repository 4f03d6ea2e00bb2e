-- X-1 retention: what is pruned, by age, in bounded batches (see store/retention.rs).
CREATE INDEX idempotency_keys_by_age ON membership.idempotency_keys (created_at);
CREATE INDEX sms_messages_by_age ON membership.sms_messages (sent_at);
CREATE INDEX sms_codes_by_expiry ON membership.sms_codes (expires_at);

-- When an event was written (occurred_at is the business time and may be old).
ALTER TABLE membership.outbox ADD COLUMN written_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX outbox_by_age ON membership.outbox (written_at);

-- The newest (txid, position) pruned from the feed: a consumer resuming below it has missed
-- events and is told so instead of silently skipping them.
CREATE TABLE membership.outbox_horizon (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    txid     bigint NOT NULL,
    position bigint NOT NULL
);
