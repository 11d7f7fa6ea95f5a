-- Key settings (spending limit, rate limits), deletion, the per-period spend counter. No more
-- indexes than lookups need: each one is a page written per request (reservations are few, the
-- expiry sweep scans them; ledger queries by account walk the ids backwards).
ALTER TABLE api_keys ADD COLUMN limit_retention TEXT;
ALTER TABLE api_keys ADD COLUMN limit_credits INTEGER;
ALTER TABLE api_keys ADD COLUMN rpm INTEGER;
ALTER TABLE api_keys ADD COLUMN tpm INTEGER;
ALTER TABLE api_keys ADD COLUMN period_start TEXT NOT NULL DEFAULT '1970-01-01T00:00:00.000000+00:00';
ALTER TABLE api_keys ADD COLUMN period_spent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN deleted_at TEXT;
ALTER TABLE reservations ADD COLUMN model TEXT NOT NULL DEFAULT '';
-- The period of the key's spend that the reservation was counted in; NULL: not counted (a key
-- without a spending limit keeps no count, which spares a write per request).
ALTER TABLE reservations ADD COLUMN period_start TEXT;
