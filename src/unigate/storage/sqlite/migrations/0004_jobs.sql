-- Generation jobs (core/jobs.py; storage/sqlite/jobs.py). Times are Unix seconds (REAL), as the
-- job rows carry them, not ISO text like the ledger's: pollers compare them with their own clock.
-- request, upstream_state, result and error are JSON text. No foreign keys, like the usage
-- ledger's rows: a job names its account and key for the record.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL,
    key_id INTEGER NOT NULL,
    model TEXT NOT NULL,
    kind TEXT NOT NULL,
    request TEXT NOT NULL,
    reservation_id TEXT NOT NULL,
    reserved INTEGER NOT NULL,
    created REAL NOT NULL,
    deadline REAL NOT NULL,
    status TEXT NOT NULL,
    phase TEXT NOT NULL,
    submitted INTEGER NOT NULL DEFAULT 0,
    upstream_id TEXT,
    upstream_state TEXT NOT NULL DEFAULT '{}',
    charged INTEGER,
    result TEXT,
    error TEXT,
    callback_url TEXT,
    callback_attempts INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until REAL NOT NULL DEFAULT 0,
    updated REAL NOT NULL DEFAULT 0,
    ended REAL,
    expires REAL
);
-- The pollers' claims: the rows still running, by when they are due.
CREATE INDEX jobs_due ON jobs (next_at) WHERE phase <> 'done';
-- An account's jobs, newest first (the API's list and the console's page).
CREATE INDEX jobs_account ON jobs (account_id, created DESC);
-- The sweep of ended rows past their expiry.
CREATE INDEX jobs_expiry ON jobs (expires) WHERE phase = 'done';
