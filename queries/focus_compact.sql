-- focus_compact: the rows of the FOCUS ledger on some charge days, merged into one row per line
-- (a line's key columns are all but its five measures). The writer appends each batch's lines
-- and replaces those days' rows with these in one transaction. Lines that net out to zero (a
-- correction that reversed them) are kept, as the ledger never drops what was billed.
--
-- Parameters:
--   $days  TIMESTAMP[]  the charge days to compact
--
-- Result columns: the columns of `focus_lines`.
SELECT
    * EXCLUDE (quantity, requests, list_cost_usd, contracted_cost_usd, unpriced_requests),
    sum(quantity)::BIGINT AS quantity,
    sum(requests)::BIGINT AS requests,
    sum(list_cost_usd)::DECIMAL(38, 18) AS list_cost_usd,
    sum(contracted_cost_usd)::DECIMAL(38, 18) AS contracted_cost_usd,
    sum(unpriced_requests)::BIGINT AS unpriced_requests
FROM focus_lines
WHERE charge_day IN (SELECT unnest($days::TIMESTAMP[]))
GROUP BY ALL
