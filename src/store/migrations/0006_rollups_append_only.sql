-- 0006_rollups_append_only: the rollups lose their primary key. The writer appends each batch's
-- deltas (one row per hour or day × dimensions it touched) and regularly compacts the units it
-- touched into one row per key (`queries/rollup_compact.sql`); reports sum whatever rows there
-- are, so they are exact before and after compaction. An upsert through the key's index cost
-- more with every row the rollup held, and the index was rewritten at every checkpoint.
ALTER TABLE rollup_hourly RENAME TO rollup_hourly_0005;
ALTER TABLE rollup_daily RENAME TO rollup_daily_0005;

CREATE TABLE rollup_hourly (
    hour                  TIMESTAMP     NOT NULL,
    source                VARCHAR       NOT NULL,
    team                  VARCHAR       NOT NULL,
    project               VARCHAR,
    provider              VARCHAR       NOT NULL,
    model_key             VARCHAR       NOT NULL,
    model_requested       VARCHAR       NOT NULL,
    route                 VARCHAR,
    fallback_from         VARCHAR,
    status_code           SMALLINT      NOT NULL,
    error_type            VARCHAR,
    cost_source           VARCHAR       NOT NULL,
    service_tier          VARCHAR       NOT NULL,
    cache_hit             BOOLEAN       NOT NULL,
    requests              BIGINT        NOT NULL,
    records               BIGINT        NOT NULL,
    errors                BIGINT        NOT NULL,
    attempts              BIGINT        NOT NULL,
    input_tokens          BIGINT        NOT NULL,
    output_tokens         BIGINT        NOT NULL,
    cached_input_tokens   BIGINT        NOT NULL,
    cache_write_tokens    BIGINT        NOT NULL,
    cache_write_1h_tokens BIGINT        NOT NULL,
    reasoning_tokens      BIGINT        NOT NULL,
    cost_usd              DECIMAL(38,12),
    list_cost_usd         DECIMAL(38,12),
    reported_cost_usd     DECIMAL(38,12),
    reported_requests     BIGINT        NOT NULL,
    unpriced_requests     BIGINT        NOT NULL,
    cache_savings_usd     DECIMAL(38,12),
    cache_hit_savings_usd DECIMAL(38,12),
    latency_ms_sum        DOUBLE        NOT NULL,
    latency_count         BIGINT        NOT NULL,
    ttft_ms_sum           DOUBLE        NOT NULL,
    ttft_count            BIGINT        NOT NULL
);
INSERT INTO rollup_hourly SELECT * EXCLUDE (rollup_key) FROM rollup_hourly_0005 ORDER BY hour;
DROP TABLE rollup_hourly_0005;

CREATE TABLE rollup_daily (
    day                   TIMESTAMP     NOT NULL,
    source                VARCHAR       NOT NULL,
    team                  VARCHAR       NOT NULL,
    project               VARCHAR,
    provider              VARCHAR       NOT NULL,
    model_key             VARCHAR       NOT NULL,
    model_requested       VARCHAR       NOT NULL,
    route                 VARCHAR,
    fallback_from         VARCHAR,
    status_code           SMALLINT      NOT NULL,
    error_type            VARCHAR,
    cost_source           VARCHAR       NOT NULL,
    service_tier          VARCHAR       NOT NULL,
    cache_hit             BOOLEAN       NOT NULL,
    requests              BIGINT        NOT NULL,
    records               BIGINT        NOT NULL,
    errors                BIGINT        NOT NULL,
    attempts              BIGINT        NOT NULL,
    input_tokens          BIGINT        NOT NULL,
    output_tokens         BIGINT        NOT NULL,
    cached_input_tokens   BIGINT        NOT NULL,
    cache_write_tokens    BIGINT        NOT NULL,
    cache_write_1h_tokens BIGINT        NOT NULL,
    reasoning_tokens      BIGINT        NOT NULL,
    cost_usd              DECIMAL(38,12),
    list_cost_usd         DECIMAL(38,12),
    reported_cost_usd     DECIMAL(38,12),
    reported_requests     BIGINT        NOT NULL,
    unpriced_requests     BIGINT        NOT NULL,
    cache_savings_usd     DECIMAL(38,12),
    cache_hit_savings_usd DECIMAL(38,12),
    latency_ms_sum        DOUBLE        NOT NULL,
    latency_count         BIGINT        NOT NULL,
    ttft_ms_sum           DOUBLE        NOT NULL,
    ttft_count            BIGINT        NOT NULL
);
INSERT INTO rollup_daily SELECT * EXCLUDE (rollup_key) FROM rollup_daily_0005 ORDER BY day;
DROP TABLE rollup_daily_0005;
