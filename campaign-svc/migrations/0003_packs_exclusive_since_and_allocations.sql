-- GP-8: when the shop first set its new-member exclusive. Joins before it do not count
-- (GP-1 applied to the offer); changing the offer later keeps this instant, so shoppers who
-- joined in between stay eligible. NULL on rows written before this migration: read as
-- updated_at.
ALTER TABLE campaign.new_member_exclusives ADD COLUMN since timestamptz;

-- GP-3/GP-9: a pack reserves its coupons in coupon-svc (one allocation per batch, in
-- batch_keys order) so that a grant step never fails for lack of stock; once the pack is
-- closed or ended and no claim is granting, it is settled: unused gift-item units and
-- coupon allocations are given back.
ALTER TABLE campaign.gift_packs
    ADD COLUMN allocation_ids uuid[] NOT NULL DEFAULT '{}',
    ADD COLUMN settled_at timestamptz;

CREATE INDEX gift_packs_unsettled ON campaign.gift_packs (end_time) WHERE settled_at IS NULL;
