-- 0005_fingerprints: dedupe without an index on history. Each event carries `event_fp`, the
-- 64-bit fingerprint of `(source, event_id)` (the first 8 bytes of SHA-256 over
-- `source ␟ event_id`, top bit flipped to fit a signed BIGINT; `store::dedupe::fingerprint`
-- computes the same in Rust). The writer keeps the fingerprints in memory and checks identities
-- exactly when one matches, so the `event_keys` table and its primary-key index — which grew with
-- every event and was rewritten at checkpoints — are gone.
ALTER TABLE usage_events ADD COLUMN event_fp BIGINT;

UPDATE usage_events
SET event_fp = (('0x' || left(sha256(source || chr(31) || event_id), 16))::UBIGINT::HUGEINT
                - 9223372036854775808)::BIGINT;

DROP TABLE event_keys;
