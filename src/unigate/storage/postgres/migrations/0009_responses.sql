-- Stored responses of the Responses API (core/responses.py; storage/postgres/responses.py). Times
-- are Unix seconds (DOUBLE PRECISION), as the job rows carry them: keepers compare them with
-- their own clock, which they pass in. No foreign keys, like the jobs and the usage ledger.

CREATE TABLE responses (
    id TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL,
    key_id BIGINT NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    input_items JSONB NOT NULL,
    body JSONB NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    expires DOUBLE PRECISION NOT NULL,
    previous_id TEXT,
    background BOOLEAN NOT NULL DEFAULT false,
    error JSONB,
    reservation_id TEXT,
    reserved BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
    ended DOUBLE PRECISION
);
-- The keepers' sweep of running rows whose process died, by when their lease ends.
CREATE INDEX responses_running ON responses (lease_until) WHERE status IN ('queued', 'in_progress');
-- The retention sweep.
CREATE INDEX responses_expiry ON responses (expires);
