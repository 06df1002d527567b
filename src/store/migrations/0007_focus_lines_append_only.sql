-- 0007_focus_lines_append_only: the FOCUS ledger loses its primary key, as the rollups did in
-- 0006. The writer appends each batch's lines and regularly compacts the charge days it touched
-- into one row per line (`queries/focus_compact.sql`); readers sum whatever rows a line has
-- (`queries/focus.sql`, the `focus_lines` view of ad-hoc SQL), so they are exact before and
-- after compaction. The upsert through the key's index cost about a tenth of the writer's time
-- and grew with the ledger. `line_key` stays: it names the line its fragments belong to.
ALTER TABLE focus_lines RENAME TO focus_lines_0006;

CREATE TABLE focus_lines (
    line_key              DECIMAL(38,0) NOT NULL,
    charge_day            TIMESTAMP     NOT NULL,
    billing_month         TIMESTAMP     NOT NULL,
    charge_class          VARCHAR       NOT NULL,
    source                VARCHAR       NOT NULL,
    team                  VARCHAR       NOT NULL,
    project               VARCHAR,
    provider              VARCHAR       NOT NULL,
    model_key             VARCHAR       NOT NULL,
    price_id              VARCHAR,
    contract_id           VARCHAR,
    meter                 VARCHAR       NOT NULL,
    service_tier          VARCHAR       NOT NULL,
    above_input_tokens    BIGINT        NOT NULL,
    list_unit_price       DECIMAL(38,18),
    contracted_unit_price DECIMAL(38,18),
    quantity              BIGINT        NOT NULL,
    requests              BIGINT        NOT NULL,
    list_cost_usd         DECIMAL(38,18) NOT NULL,
    contracted_cost_usd   DECIMAL(38,18) NOT NULL,
    unpriced_requests     BIGINT        NOT NULL
);
INSERT INTO focus_lines SELECT * FROM focus_lines_0006 ORDER BY charge_day;
DROP TABLE focus_lines_0006;
