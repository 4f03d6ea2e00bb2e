-- OR-1: what each order bought, for members and non-members alike (analytics compares the
-- two; tags read purchased SKU or category, ever or within N days). Written once per order,
-- from the first payment or confirmation that carries lines.
CREATE TABLE membership.order_lines (
    shop_id uuid NOT NULL,
    order_id text NOT NULL,
    line_no integer NOT NULL CHECK (line_no >= 0),
    user_id text NOT NULL,
    sku text NOT NULL,
    category text NOT NULL DEFAULT '',
    quantity bigint NOT NULL CHECK (quantity > 0),
    unit_price_fen bigint NOT NULL CHECK (unit_price_fen >= 0),
    ordered_at timestamptz NOT NULL,
    PRIMARY KEY (shop_id, order_id, line_no)
);

-- "bought SKU s / category c (within N days)", and who bought it.
CREATE INDEX order_lines_by_sku ON membership.order_lines (shop_id, sku, ordered_at);
CREATE INDEX order_lines_by_category ON membership.order_lines (shop_id, category, ordered_at)
    WHERE category <> '';
CREATE INDEX order_lines_by_user ON membership.order_lines (shop_id, user_id, ordered_at);
