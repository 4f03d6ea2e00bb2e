-- OC-10 / X-1: exposures are distinct shoppers per campaign and shop-local day, one row per
-- shopper: a storefront view writes only its own shopper's row (and nothing when already
-- counted), so member-center reads at peak never queue on one shared counter row.
CREATE TABLE campaign.exposures (
    campaign_id uuid NOT NULL,
    day         date NOT NULL,
    user_id     text NOT NULL,
    PRIMARY KEY (campaign_id, day, user_id)
);

-- The old column counted views, not shoppers, on one row per day; it is no longer written.
ALTER TABLE campaign.daily_counters DROP COLUMN exposures;
