-- X-1 retention: idempotency keys are pruned by age in bounded batches.
CREATE INDEX idempotency_keys_by_age ON campaign.idempotency_keys (created_at);
