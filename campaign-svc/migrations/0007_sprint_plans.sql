-- SP-1, SP-2, SP-7: member sprint plans and the shops invited to them. A plan's phase is
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
    PRIMARY KEY (plan_id, shop_id),
    CONSTRAINT withdrawn_when CHECK ((state = 'WITHDRAWN') = (withdrawn_at IS NOT NULL))
);

-- A merchant's view: the plans their shop is invited to.
CREATE INDEX sprint_plan_shops_by_shop ON campaign.sprint_plan_shops (shop_id, plan_id DESC);
