-- 0004_retention: the log of retention passes. The highest `cutoff` ever started is the ledger's
-- promise that no event before it is stored again: ingest refuses such records as `expired`,
-- because their dedupe keys were deleted with them while the rollups still count them.

CREATE TABLE retention_runs (
    started_at     TIMESTAMP NOT NULL,
    cutoff         TIMESTAMP NOT NULL,
    finished_at    TIMESTAMP,
    days           BIGINT    NOT NULL,
    events_deleted BIGINT    NOT NULL,
    keys_deleted   BIGINT    NOT NULL
);
