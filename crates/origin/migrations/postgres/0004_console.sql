-- The merchant's console: a decision's report context (feedback columns), rollups the
-- console reads instead of scanning feedback (filled by `rollup` from rows received up
-- to `rollup_state.through`), and the live catalog.
ALTER TABLE feedback ADD COLUMN list_price DOUBLE PRECISION;
ALTER TABLE feedback ADD COLUMN uniform_price DOUBLE PRECISION;
ALTER TABLE feedback ADD COLUMN purchase_probability DOUBLE PRECISION;
ALTER TABLE feedback ADD COLUMN personalized BIGINT;
ALTER TABLE feedback ADD COLUMN reasons TEXT;
ALTER TABLE feedback ADD COLUMN jurisdiction TEXT;
ALTER TABLE feedback ADD COLUMN disclosed BIGINT;
CREATE INDEX feedback_received ON feedback (received_at);

-- Per policy version, arm and hour (of the decision at the edge).
CREATE TABLE rollup_arms (
    policy_version BIGINT NOT NULL,
    arm            TEXT NOT NULL,
    hour           BIGINT NOT NULL,
    decisions      BIGINT NOT NULL,
    purchases      BIGINT NOT NULL,
    revenue        DOUBLE PRECISION NOT NULL,
    revenue_sq     DOUBLE PRECISION NOT NULL,
    profit         DOUBLE PRECISION NOT NULL,
    profit_sq      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (policy_version, arm, hour)
);
-- Per policy version, arm, product and shown price (in cents of its currency).
CREATE TABLE rollup_prices (
    policy_version BIGINT NOT NULL,
    arm            TEXT NOT NULL,
    sku            TEXT NOT NULL,
    price_cents    BIGINT NOT NULL,
    decisions      BIGINT NOT NULL,
    purchases      BIGINT NOT NULL,
    believed_n     BIGINT NOT NULL,
    believed_sum   DOUBLE PRECISION NOT NULL,
    discount_n     BIGINT NOT NULL,
    discount_sum   DOUBLE PRECISION NOT NULL,
    list_price     DOUBLE PRECISION,
    PRIMARY KEY (policy_version, arm, sku, price_cents)
);
-- Per policy version and categorical group (`column` = a feature or `jurisdiction`).
CREATE TABLE rollup_groups (
    policy_version BIGINT NOT NULL,
    col            TEXT NOT NULL,
    val            TEXT NOT NULL,
    decisions      BIGINT NOT NULL,
    relative_n     BIGINT NOT NULL,
    relative_sum   DOUBLE PRECISION NOT NULL,
    relative_sq    DOUBLE PRECISION NOT NULL,
    personalized   BIGINT NOT NULL,
    cap_binds      BIGINT NOT NULL,
    disclosed      BIGINT NOT NULL,
    PRIMARY KEY (policy_version, col, val)
);
-- `events`: feedback rows received up to `through` (the overview's count without a scan).
CREATE TABLE rollup_state (
    id      BIGINT PRIMARY KEY,
    through BIGINT NOT NULL,
    events  BIGINT NOT NULL
);
INSERT INTO rollup_state (id, through, events) VALUES (1, 0, 0);

-- The catalog: one row per product (its JSON, as the engine reads it), versioned: every
-- change takes the next catalog version, and a product keeps the version of its last change.
CREATE TABLE catalog (
    sku        TEXT PRIMARY KEY,
    doc        TEXT NOT NULL,
    version    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE catalog_state (
    id      BIGINT PRIMARY KEY,
    version BIGINT NOT NULL,
    seeded  BIGINT NOT NULL
);
INSERT INTO catalog_state (id, version, seeded) VALUES (1, 0, 0);
