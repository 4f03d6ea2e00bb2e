-- GP-8: when the shop first set its new-member exclusive. Joins before it do not count
-- (GP-1 applied to the offer); changing the offer later keeps this instant, so shoppers who
-- joined in between stay eligible. NULL on rows written before this migration: read as
-- updated_at.
ALTER TABLE campaign.new_member_exclusives ADD COLUMN since timestamptz;
