-- focus_upsert: adds the priced lines staged in `staged_focus_lines` (summed by the writer per
-- line key) to the FOCUS ledger `focus_lines`.
--
-- Parameters: none (reads the temp table `staged_focus_lines`, same columns as focus_lines).
INSERT INTO focus_lines
SELECT * FROM staged_focus_lines
ON CONFLICT (line_key) DO UPDATE SET
    quantity = focus_lines.quantity + EXCLUDED.quantity,
    requests = focus_lines.requests + EXCLUDED.requests,
    list_cost_usd = focus_lines.list_cost_usd + EXCLUDED.list_cost_usd,
    contracted_cost_usd = focus_lines.contracted_cost_usd + EXCLUDED.contracted_cost_usd,
    unpriced_requests = focus_lines.unpriced_requests + EXCLUDED.unpriced_requests
