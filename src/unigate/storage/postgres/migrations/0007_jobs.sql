-- Generation jobs (core/jobs.py; storage/postgres/jobs.py). Times are Unix seconds (DOUBLE
-- PRECISION), as the job rows carry them: pollers compare them with their own clock, which they
-- pass in. No foreign keys, like the usage ledger: checking one would take a share lock on the
-- account row that every reservation locks.

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL,
    key_id BIGINT NOT NULL,
    model TEXT NOT NULL,
    kind TEXT NOT NULL,
    request JSONB NOT NULL,
    reservation_id TEXT NOT NULL,
    reserved BIGINT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    deadline DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL,
    phase TEXT NOT NULL,
    submitted BOOLEAN NOT NULL DEFAULT false,
    upstream_id TEXT,
    upstream_state JSONB NOT NULL DEFAULT '{}',
    charged BIGINT,
    result JSONB,
    error JSONB,
    callback_url TEXT,
    callback_attempts INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
    updated DOUBLE PRECISION NOT NULL DEFAULT 0,
    ended DOUBLE PRECISION,
    expires DOUBLE PRECISION
);
-- The pollers' claims: the rows still running, by when they are due.
CREATE INDEX jobs_due ON jobs (next_at) WHERE phase <> 'done';
-- An account's jobs, newest first (the API's list and the console's page).
CREATE INDEX jobs_account ON jobs (account_id, created DESC);
-- The sweep of ended rows past their expiry.
CREATE INDEX jobs_expiry ON jobs (expires) WHERE phase = 'done';
