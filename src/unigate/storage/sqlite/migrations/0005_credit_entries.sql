-- Credit entries: each change of a balance that is not a request (the usage ledger has those): an
-- account's first credits (INIT), top-ups, refunds and adjustments, for the account's ledger
-- (GET /v2/billing/transactions; accounts/reports.py). credits is signed: positive came in.
CREATE TABLE credit_entries (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    credits INTEGER NOT NULL,
    reference TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX credit_entries_account ON credit_entries (account_id, created_at);
-- Accounts made before entries were kept get one INIT entry for every credit that came in (what
-- is left, what the ledger charged, what requests in flight hold), so that their ledger adds up.
INSERT INTO credit_entries (account_id, kind, credits, reference, created_at)
SELECT id, 'INIT', credits, NULL, created_at FROM (
    SELECT a.id, a.created_at, a.balance
        + COALESCE((SELECT SUM(u.credits) FROM usage u WHERE u.account_id = a.id), 0)
        + COALESCE((SELECT SUM(r.amount) FROM reservations r WHERE r.account_id = a.id), 0) AS credits
    FROM accounts a
) WHERE credits > 0;
