-- sql_views: the documented views of ad-hoc SQL (`POST /v1/sql`, `llm-ledger query`), created as
-- temporary views on every unscoped sandbox connection (`sql::session`). They are the only names
-- a query may use (`sql::policy::VIEWS`); README "Ad-hoc SQL" documents their columns.
-- `sql_views_scoped.sql` defines the same views over one team's rows; keep the two in step.
--
-- Most views share their table's name, and a temporary view is found before a table, so each
-- reads its table through the database-qualified name (the ledger's file is `ledger.duckdb`,
-- so its database is `ledger`).
--
-- Parameters: none. Result: none.

-- One row per stored call: every column of the canonical record.
CREATE OR REPLACE TEMP VIEW events AS
SELECT * FROM ledger.main.usage_events;

-- UTC hour × source, team, project, provider, model, route, status, … (the rollup the standard
-- reports read). A key can have several rows until the writer compacts them: sum, don't pick.
CREATE OR REPLACE TEMP VIEW rollup_hourly AS
SELECT * FROM ledger.main.rollup_hourly;

-- The same per UTC day (what day-aligned reports read).
CREATE OR REPLACE TEMP VIEW rollup_daily AS
SELECT * FROM ledger.main.rollup_daily;

-- The FOCUS line ledger: priced lines per UTC day, as billed, with correction lines after
-- re-pricing; one row per line (the writer appends fragments and compacts them later, so the
-- view sums them), without its internal key.
CREATE OR REPLACE TEMP VIEW focus_lines AS
SELECT
    * EXCLUDE (line_key, quantity, requests, list_cost_usd, contracted_cost_usd, unpriced_requests),
    sum(quantity)::BIGINT AS quantity,
    sum(requests)::BIGINT AS requests,
    sum(list_cost_usd)::DECIMAL(38, 18) AS list_cost_usd,
    sum(contracted_cost_usd)::DECIMAL(38, 18) AS contracted_cost_usd,
    sum(unpriced_requests)::BIGINT AS unpriced_requests
FROM ledger.main.focus_lines
GROUP BY ALL;

-- Price entries added through the API or an import (the shipped catalog lives in the binary).
CREATE OR REPLACE TEMP VIEW prices AS
SELECT price_id, layer, provider, model, model_key, effective_from, effective_to, spec, created_at
FROM ledger.main.prices;

-- Contracts (negotiated discounts or rates), with the fields of their spec most queries need.
CREATE OR REPLACE TEMP VIEW contracts AS
SELECT contract_id, layer,
       json_extract_string(spec, '$.name') AS name,
       json_extract_string(spec, '$.provider') AS provider,
       json_extract_string(spec, '$.model') AS model,
       json_extract_string(spec, '$.team') AS team,
       TRY_CAST(json_extract_string(spec, '$.effective_from') AS TIMESTAMP) AS effective_from,
       TRY_CAST(json_extract_string(spec, '$.effective_to') AS TIMESTAMP) AS effective_to,
       spec, created_at
FROM ledger.main.contracts;

-- Budgets, with their spec's fields as columns.
CREATE OR REPLACE TEMP VIEW budgets AS
SELECT budget_id,
       json_extract_string(spec, '$.name') AS name,
       json_extract_string(spec, '$.period') AS period,
       TRY_CAST(json_extract_string(spec, '$.amount_usd') AS DECIMAL(38,12)) AS amount_usd,
       coalesce(json_extract_string(spec, '$.tz'), 'UTC') AS tz,
       json_extract_string(spec, '$.scope.team') AS team,
       json_extract_string(spec, '$.scope.project') AS project,
       json_extract_string(spec, '$.scope.api_key') AS api_key,
       json_extract_string(spec, '$.scope.user') AS user_id,
       json_extract(spec, '$.scope.tag') AS tag,
       spec, created_at, updated_at
FROM ledger.main.budgets;
