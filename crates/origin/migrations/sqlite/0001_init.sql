-- Published bundles, the publish/rollback history (the live policy is the latest event),
-- and feedback events (idempotent by event_id).
CREATE TABLE bundles (
    version      BIGINT PRIMARY KEY,
    key_id       TEXT NOT NULL,
    created      TEXT NOT NULL,
    bytes        BLOB NOT NULL,
    published_at BIGINT NOT NULL
);
CREATE TABLE policy_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    kind    TEXT NOT NULL,
    version BIGINT NOT NULL REFERENCES bundles(version),
    at      BIGINT NOT NULL
);
CREATE TABLE feedback (
    event_id       TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    decision_id    TEXT NOT NULL,
    session_id     TEXT,
    sku            TEXT,
    policy_version BIGINT,
    arm            TEXT,
    price          DOUBLE PRECISION,
    propensity     DOUBLE PRECISION,
    features       TEXT,
    purchased      BIGINT,
    revenue        DOUBLE PRECISION,
    at             BIGINT NOT NULL,
    received_at    BIGINT NOT NULL
);
CREATE INDEX feedback_decision ON feedback (decision_id);
