-- X-2: one row per (caller, method, key); the response is stored with the effect.
CREATE TABLE coupon.idempotency_keys (
    scope        text  NOT NULL,
    method       text  NOT NULL,
    key          text  NOT NULL,
    fingerprint  bytea NOT NULL,
    response     bytea,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, method, key)
);
