-- OR-1: add-to-cart events from the commerce platform, for members and non-members alike.
-- Tags read a shopper's last add-to-cart time (and what was added); automation triggers on
-- them. One row per (shop, platform event id): a redelivery changes nothing.
CREATE TABLE membership.cart_events (
    shop_id uuid NOT NULL,
    event_id text NOT NULL,
    user_id text NOT NULL,
    sku text NOT NULL,
    category text NOT NULL DEFAULT '',
    quantity bigint NOT NULL CHECK (quantity > 0),
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (shop_id, event_id)
);

-- "last add-to-cart time" per shopper.
CREATE INDEX cart_events_by_user ON membership.cart_events (shop_id, user_id, occurred_at DESC);
