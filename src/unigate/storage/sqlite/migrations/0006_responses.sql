-- Stored responses of the Responses API (core/responses.py; storage/sqlite/responses.py). Times
-- are Unix seconds (REAL), as the job rows carry them; input_items, body and error are JSON text.
-- No foreign keys, like the jobs: a row names its account and key for the record, and is read
-- only with its account's id.
CREATE TABLE responses (
    id TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL,
    key_id INTEGER NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    input_items TEXT NOT NULL,
    body TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    previous_id TEXT,
    background INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    reservation_id TEXT,
    reserved INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until REAL NOT NULL DEFAULT 0,
    ended REAL
);
-- The keepers' sweep of running rows whose process died, by when their lease ends.
CREATE INDEX responses_running ON responses (lease_until) WHERE status IN ('queued', 'in_progress');
-- The retention sweep.
CREATE INDEX responses_expiry ON responses (expires);
