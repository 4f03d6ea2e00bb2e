-- SP-1, SP-2, SP-3, SP-7: member sprint plans and the shops invited to them. A plan's phase is
-- never stored: it is read from the boundaries and the clock, so no job can lag behind it.

CREATE TABLE campaign.sprint_plans (
    plan_id               uuid PRIMARY KEY,
    name                  text NOT NULL,
    registration_start    timestamptz NOT NULL,
    sprint_start          timestamptz NOT NULL,
    award_start           timestamptz NOT NULL,
    redemption_start      timestamptz NOT NULL,
    redemption_end        timestamptz NOT NULL,
    required_distribution bigint NOT NULL CHECK (required_distribution >= 1),
    min_face_value_fen    bigint NOT NULL CHECK (min_face_value_fen >= 1),
    max_fold_percent      int NOT NULL CHECK (max_fold_percent BETWEEN 1 AND 99),
    created_at            timestamptz NOT NULL,
    -- SP-1: four contiguous, non-empty phases.
    CONSTRAINT phases_ordered CHECK (registration_start < sprint_start
        AND sprint_start < award_start AND award_start < redemption_start
        AND redemption_start < redemption_end)
);

CREATE TABLE campaign.sprint_plan_shops (
    plan_id          uuid NOT NULL REFERENCES campaign.sprint_plans (plan_id),
    shop_id          uuid NOT NULL,
    min_member_count bigint NOT NULL CHECK (min_member_count >= 0),
    min_sales_fen    bigint NOT NULL CHECK (min_sales_fen >= 0),
    state            text NOT NULL CHECK (state IN ('INVITED', 'JOINED', 'WITHDRAWN')),
    invited_at       timestamptz NOT NULL,
    withdrawn_at     timestamptz,
    -- SP-3: what the shop committed to when it joined (kept if it withdraws afterwards).
    spend_threshold_fen   bigint CHECK (spend_threshold_fen >= 1),
    distribution_quantity bigint CHECK (distribution_quantity >= 1),
    batch_key             text,
    batch_id              uuid,
    joined_at             timestamptz,
    PRIMARY KEY (plan_id, shop_id),
    CONSTRAINT withdrawn_when CHECK ((state = 'WITHDRAWN') = (withdrawn_at IS NOT NULL)),
    CONSTRAINT joined_whole CHECK ((joined_at IS NULL) = (spend_threshold_fen IS NULL)
        AND (joined_at IS NULL) = (distribution_quantity IS NULL)
        AND (joined_at IS NULL) = (batch_key IS NULL)
        AND (joined_at IS NULL) = (batch_id IS NULL)
        AND (state <> 'JOINED' OR joined_at IS NOT NULL))
);

-- SP-3: one plan per reward batch.
CREATE UNIQUE INDEX sprint_plan_shops_batch ON campaign.sprint_plan_shops (batch_id)
    WHERE batch_id IS NOT NULL;

-- A merchant's view: the plans their shop is invited to.
CREATE INDEX sprint_plan_shops_by_shop ON campaign.sprint_plan_shops (shop_id, plan_id DESC);
