-- The first schema: accounts, keys, reservations, the usage ledger, and the functions that
-- reserve and settle under row locks (later migrations replace them).

CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);

CREATE TABLE accounts (
    id BIGSERIAL PRIMARY KEY,
    name TEXT,
    balance BIGINT NOT NULL CHECK (balance >= 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id BIGSERIAL PRIMARY KEY,
    prefix TEXT NOT NULL UNIQUE,
    digest TEXT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    name TEXT,
    disabled BOOLEAN NOT NULL DEFAULT false,
    scopes TEXT[] NOT NULL DEFAULT '{}',
    limit_retention TEXT,
    limit_credits BIGINT,
    rpm INTEGER,
    tpm INTEGER,
    period_start TIMESTAMPTZ NOT NULL DEFAULT 'epoch',
    period_spent BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at TIMESTAMPTZ
);

CREATE TABLE reservations (
    id TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    key_id BIGINT NOT NULL REFERENCES api_keys(id),
    amount BIGINT NOT NULL CHECK (amount >= 0),
    model TEXT NOT NULL DEFAULT '',
    period_start TIMESTAMPTZ,  -- the key's spend period it was counted in; NULL: not counted
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE usage (
    id BIGSERIAL PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL,
    key_id BIGINT NOT NULL,
    model TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    credits BIGINT NOT NULL,
    latency_ms INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX usage_key_time ON usage (key_id, created_at);
CREATE INDEX usage_account ON usage (account_id, id);

-- The start of the spending-limit period that contains ``at``: see accounts/spending.py.
CREATE FUNCTION unigate_period_start(retention TEXT, at TIMESTAMPTZ) RETURNS TIMESTAMPTZ
LANGUAGE sql STABLE AS $$
    SELECT CASE retention
        WHEN 'day' THEN date_trunc('day', at, 'UTC')
        WHEN 'week' THEN date_trunc('week', at, 'UTC')
        WHEN 'month' THEN date_trunc('month', at, 'UTC')
        ELSE 'epoch'::timestamptz
    END
$$;

-- 0: reserved; 1: the key is disabled or deleted; 2: its spending limit. A balance that does not
-- cover the amount raises (SQLSTATE P0001 'unigate: balance'), which rolls back the key's update.
-- A refusal thus writes nothing and costs no commit flush. A key without a spending limit keeps
-- no spend count, so its row is only read, not locked.
CREATE FUNCTION unigate_reserve(p_id TEXT, p_key BIGINT, p_amount BIGINT, p_model TEXT, p_ttl_s DOUBLE PRECISION)
RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    v_now TIMESTAMPTZ := clock_timestamp();
    v_account BIGINT;
    v_limited BOOLEAN;
    v_period TIMESTAMPTZ;
BEGIN
    SELECT account_id, limit_credits IS NOT NULL INTO v_account, v_limited
        FROM api_keys WHERE id = p_key AND NOT disabled AND deleted_at IS NULL;
    IF NOT FOUND THEN
        RETURN 1;
    END IF;
    IF v_limited THEN
        -- Checked on the locked row: READ COMMITTED re-evaluates the WHERE clause after waiting
        -- for a concurrent reservation of the same key.
        UPDATE api_keys SET
            period_spent = CASE WHEN period_start = unigate_period_start(limit_retention, v_now)
                                THEN period_spent ELSE 0 END + p_amount,
            period_start = unigate_period_start(limit_retention, v_now)
        WHERE id = p_key AND NOT disabled AND deleted_at IS NULL AND limit_credits IS NOT NULL
            AND CASE WHEN period_start = unigate_period_start(limit_retention, v_now)
                     THEN period_spent ELSE 0 END + p_amount <= limit_credits
        RETURNING period_start INTO v_period;
        IF NOT FOUND THEN
            PERFORM 1 FROM api_keys WHERE id = p_key AND NOT disabled AND deleted_at IS NULL;
            RETURN CASE WHEN FOUND THEN 2 ELSE 1 END;
        END IF;
    END IF;
    UPDATE accounts SET balance = balance - p_amount WHERE id = v_account AND balance >= p_amount;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unigate: balance';
    END IF;
    INSERT INTO reservations (id, account_id, key_id, amount, model, period_start, expires_at)
        VALUES (p_id, v_account, p_key, p_amount, p_model, v_period, v_now + p_ttl_s * interval '1 second');
    RETURN 0;
END
$$;

-- Whoever deletes the reservation row (the request, or the expiry sweep) writes the usage row;
-- a second attempt finds nothing and returns -1. Never charges more than was reserved.
CREATE FUNCTION unigate_settle(
    p_id TEXT, p_credits BIGINT, p_model TEXT, p_prompt INTEGER, p_completion INTEGER, p_latency INTEGER,
    p_status TEXT
) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    r RECORD;
    v_charged BIGINT;
BEGIN
    DELETE FROM reservations WHERE id = p_id RETURNING * INTO r;
    IF NOT FOUND THEN
        RETURN -1;
    END IF;
    v_charged := LEAST(GREATEST(p_credits, 0), r.amount);
    IF r.period_start IS NOT NULL THEN
        UPDATE api_keys SET period_spent = period_spent - (r.amount - v_charged)
            WHERE id = r.key_id AND period_start = r.period_start;
    END IF;
    UPDATE accounts SET balance = balance + (r.amount - v_charged) WHERE id = r.account_id;
    INSERT INTO usage (request_id, account_id, key_id, model, prompt_tokens, completion_tokens, credits,
                       latency_ms, status)
        VALUES (r.id, r.account_id, r.key_id, COALESCE(NULLIF(p_model, ''), r.model), p_prompt, p_completion,
                v_charged, p_latency, p_status);
    RETURN v_charged;
END
$$;

-- Reservations whose holder stopped extending them: released at no charge. ``SKIP LOCKED`` lets
-- several replicas sweep at once, each row going to one of them.
CREATE FUNCTION unigate_release_expired(p_now TIMESTAMPTZ) RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    r RECORD;
    n INTEGER := 0;
BEGIN
    FOR r IN SELECT id FROM reservations WHERE expires_at < p_now FOR UPDATE SKIP LOCKED LOOP
        IF unigate_settle(r.id, 0, '', 0, 0, 0, 'abandoned') >= 0 THEN
            n := n + 1;
        END IF;
    END LOOP;
    RETURN n;
END
$$;
