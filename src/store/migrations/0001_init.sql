-- 0001_init: the canonical events table, the dedupe keys, prices and contracts.
--
-- Time is stored as TIMESTAMP holding UTC (the bundled DuckDB has no ICU, so TIMESTAMPTZ would
-- bring no time-zone arithmetic; buckets in a report's time zone are computed by the report
-- engine). Money is DECIMAL(38,12), never a float.

CREATE TABLE usage_events (
    event_id              VARCHAR       NOT NULL,
    source                VARCHAR       NOT NULL,
    ts                    TIMESTAMP     NOT NULL,
    team                  VARCHAR       NOT NULL,
    project               VARCHAR,
    user_id               VARCHAR,
    api_key_id            VARCHAR,
    tags                  MAP(VARCHAR, VARCHAR) NOT NULL,
    provider              VARCHAR       NOT NULL,
    model_requested       VARCHAR       NOT NULL,
    model                 VARCHAR       NOT NULL,
    model_key             VARCHAR       NOT NULL,
    route                 VARCHAR,
    fallback_from         VARCHAR,
    input_tokens          BIGINT        NOT NULL,
    output_tokens         BIGINT        NOT NULL,
    cached_input_tokens   BIGINT        NOT NULL,
    cache_write_tokens    BIGINT        NOT NULL,
    cache_write_1h_tokens BIGINT        NOT NULL,
    reasoning_tokens      BIGINT        NOT NULL,
    service_tier          VARCHAR       NOT NULL,
    cost_usd              DECIMAL(38,12),
    list_cost_usd         DECIMAL(38,12),
    reported_cost_usd     DECIMAL(38,12),
    cost_source           VARCHAR       NOT NULL,
    price_id              VARCHAR,
    contract_id           VARCHAR,
    request_count         BIGINT        NOT NULL,
    attempts              INTEGER       NOT NULL,
    latency_ms            DOUBLE,
    ttft_ms               DOUBLE,
    status_code           SMALLINT      NOT NULL,
    is_error              BOOLEAN       NOT NULL,
    error_type            VARCHAR,
    cache_hit             BOOLEAN       NOT NULL,
    ingested_at           TIMESTAMP     NOT NULL
);

-- One row per stored (source, event_id): a 128-bit hash of the pair. The primary key's index
-- answers "seen before?" per key without scanning history.
CREATE TABLE event_keys (
    event_key HUGEINT PRIMARY KEY
);

-- Price entries added through the API (the shipped catalog lives in the binary). `spec` is the
-- entry as written (JSON), the source of truth; the other columns are for SQL.
CREATE TABLE prices (
    price_id       VARCHAR   PRIMARY KEY,
    layer          VARCHAR   NOT NULL,
    provider       VARCHAR   NOT NULL,
    model          VARCHAR   NOT NULL,
    model_key      VARCHAR   NOT NULL,
    effective_from TIMESTAMP NOT NULL,
    effective_to   TIMESTAMP,
    spec           VARCHAR   NOT NULL,
    created_at     TIMESTAMP NOT NULL
);

-- Contracts added through the API: negotiated discounts or rates per provider, model or team.
CREATE TABLE contracts (
    contract_id    VARCHAR   PRIMARY KEY,
    layer          VARCHAR   NOT NULL,
    spec           VARCHAR   NOT NULL,
    created_at     TIMESTAMP NOT NULL
);
