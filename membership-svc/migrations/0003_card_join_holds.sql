-- OC-3: campaign-svc holds card joining open while an open-card gift may run. While a hold
-- is unreleased and not past its end_time, the shop's join policy cannot become ORDER; a
-- hold is only taken under a policy that allows card opening. Both sides lock the
-- program row, so they serialise.
CREATE TABLE membership.card_join_holds (
    shop_id      uuid        NOT NULL REFERENCES membership.shops (shop_id),
    -- Who holds it, e.g. the open-card gift's campaign id.
    holder       text        NOT NULL CHECK (holder <> ''),
    -- The hold lapses at this time (the campaign's end).
    end_time     timestamptz NOT NULL,
    released_at  timestamptz,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (shop_id, holder)
);
