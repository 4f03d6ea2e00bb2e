-- MP-1..MP-4: shops and their membership programs; X-2 idempotency keys.

CREATE TABLE membership.shops (
    shop_id     uuid PRIMARY KEY,
    name        text NOT NULL,
    shop_type   text NOT NULL CHECK (shop_type IN ('POP', 'SELF_OPERATED')),
    logo_url    text NOT NULL,
    time_zone   text NOT NULL,
    gift_items  boolean NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE membership.programs (
    shop_id                  uuid PRIMARY KEY REFERENCES membership.shops (shop_id),
    join_policy              text NOT NULL
        CHECK (join_policy IN ('ORDER', 'CARD', 'ORDER_OR_CARD', 'ORDER_AND_CARD')),
    card_name                text NOT NULL,
    card_logo_url            text NOT NULL,
    opening_image_url        text NOT NULL,
    sms_service_active       boolean NOT NULL DEFAULT false,
    sms_verification_enabled boolean NOT NULL DEFAULT false,
    -- LV-4: the last level change; NULL until the first one.
    level_changed_at         timestamptz,
    updated_at               timestamptz NOT NULL,
    -- MP-4: verification can only be on once the SMS service is active.
    CONSTRAINT sms_verification_needs_service CHECK (NOT sms_verification_enabled OR sms_service_active)
);

-- MP-3: per-level member-card images; a level without a row shows the platform default.
CREATE TABLE membership.level_card_images (
    shop_id    uuid NOT NULL REFERENCES membership.shops (shop_id),
    level      int  NOT NULL CHECK (level BETWEEN 1 AND 5),
    image_url  text NOT NULL,
    PRIMARY KEY (shop_id, level)
);

-- X-2: one row per (caller, method, key); the response is stored with the effect.
CREATE TABLE membership.idempotency_keys (
    scope        text  NOT NULL,
    method       text  NOT NULL,
    key          text  NOT NULL,
    fingerprint  bytea NOT NULL,
    response     bytea,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, method, key)
);
