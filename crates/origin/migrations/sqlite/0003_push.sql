-- Every attempt to push a policy change to an edge endpoint (`push`), newest last.
CREATE TABLE push_deliveries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id     TEXT NOT NULL,
    url            TEXT NOT NULL,
    event          TEXT NOT NULL,
    policy_version BIGINT NOT NULL,
    attempt        BIGINT NOT NULL,
    status         BIGINT NOT NULL,
    error          TEXT,
    delivered      BIGINT NOT NULL,
    at             BIGINT NOT NULL
);
