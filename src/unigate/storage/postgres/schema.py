"""The PostgreSQL schema as ordered migrations, and the runner that applies them.

Everything lives in the first schema of the connection's ``search_path`` (``public`` unless the
database URL says ``?search_path=...``); the runner creates that schema when it does not exist
yet, so a fresh database with ``?search_path=tenant_a`` just works. The version is kept in
``schema_version``; the runner holds a transaction-scoped advisory lock (one per schema) while it
reads the version and applies the missing steps, so replicas that start together migrate once,
one after the other. Steps are append-only: a released step is never edited, a change is a new
step.

The hot path is server-side functions, so that a batch of reservations and settlements costs
one round trip and runs as one transaction: ``unigate_tick`` (V6), which calls
``unigate_settle_many`` and ``unigate_reserve_many`` account by account (the expiry sweep
``unigate_release_expired`` settles through the former too), as V5 defines them. Rows are
locked account before key (V4), with batches sorted by (account, key); a settlement takes its
reservation's row before its account's.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

__all__ = ["MIGRATIONS", "ensure_schema", "first_schema", "migrate", "quote_ident"]

_V1 = """
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
"""

# Web console sessions (console/session_store.py): ``id`` is the SHA-256 of the cookie, never the
# cookie; ``credential`` the digest of the key signed in with, so that a session ends with its key.
_V2 = """
CREATE TABLE console_sessions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    key_prefix TEXT,
    credential TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL
);
"""

# Group commit (core/batching.py, storage/postgres.py): one call, one transaction for the reservations, or the
# settlements, that a process has queued. Each item runs in its own subtransaction (the
# ``EXCEPTION`` block), so a balance refusal, which raises to undo the key's update, or any other
# failure undoes that item alone. Reservations: unigate_reserve's result, 3 for a balance refusal,
# -2 for another failure (its message at the same position of the second array). Settlements:
# unigate_settle's result (the credits charged, -1 if already settled), -2 for a failure.
_V3 = """
CREATE FUNCTION unigate_reserve_many(
    p_ids TEXT[], p_keys BIGINT[], p_amounts BIGINT[], p_models TEXT[], p_ttls DOUBLE PRECISION[],
    OUT results INTEGER[], OUT errors TEXT[]
) LANGUAGE plpgsql AS $$
BEGIN
    results := '{}';
    errors := '{}';
    FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
        BEGIN
            results := results || unigate_reserve(p_ids[i], p_keys[i], p_amounts[i], p_models[i], p_ttls[i]);
            errors := errors || NULL::TEXT;
        EXCEPTION
            WHEN raise_exception THEN
                IF SQLERRM = 'unigate: balance' THEN
                    results := results || 3;
                    errors := errors || NULL::TEXT;
                ELSE
                    results := results || -2;
                    errors := errors || SQLERRM;
                END IF;
            WHEN OTHERS THEN
                results := results || -2;
                errors := errors || SQLERRM;
        END;
    END LOOP;
END
$$;

CREATE FUNCTION unigate_settle_many(
    p_ids TEXT[], p_credits BIGINT[], p_models TEXT[], p_prompt INTEGER[], p_completion INTEGER[],
    p_latency INTEGER[], p_status TEXT[],
    OUT results BIGINT[], OUT errors TEXT[]
) LANGUAGE plpgsql AS $$
BEGIN
    results := '{}';
    errors := '{}';
    FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
        BEGIN
            results := results || unigate_settle(p_ids[i], p_credits[i], p_models[i], p_prompt[i], p_completion[i],
                                                 p_latency[i], p_status[i]);
            errors := errors || NULL::TEXT;
        EXCEPTION WHEN OTHERS THEN
            results := results || -2::BIGINT;
            errors := errors || SQLERRM;
        END;
    END LOOP;
END
$$;
"""

# V4: one lock order everywhere, so that transactions never wait on each other in a cycle. A
# batch (or a sweep) touching several accounts used to lock their rows in request order, and a
# reservation locked its key's row before its account's while a settlement did the opposite:
# two replicas' batches then deadlocked, PostgreSQL aborted one, and its settlements were lost
# to the sweep (charged nothing). Now every function locks an account's row before its keys',
# the store sends each batch sorted by (account, key), the sweep walks expired reservations in
# that order, and a deadlock that still happens (with a statement outside this order) aborts the
# whole batch instead of failing items, so that the store can run it again: it did nothing.
_V4 = """
CREATE OR REPLACE FUNCTION unigate_reserve(
    p_id TEXT, p_key BIGINT, p_amount BIGINT, p_model TEXT, p_ttl_s DOUBLE PRECISION
) RETURNS INTEGER LANGUAGE plpgsql AS $$
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
        PERFORM 1 FROM accounts WHERE id = v_account FOR UPDATE;  -- the account before its key
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

CREATE OR REPLACE FUNCTION unigate_settle(
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
    UPDATE accounts SET balance = balance + (r.amount - v_charged) WHERE id = r.account_id;
    IF r.period_start IS NOT NULL THEN
        UPDATE api_keys SET period_spent = period_spent - (r.amount - v_charged)
            WHERE id = r.key_id AND period_start = r.period_start;
    END IF;
    INSERT INTO usage (request_id, account_id, key_id, model, prompt_tokens, completion_tokens, credits,
                       latency_ms, status)
        VALUES (r.id, r.account_id, r.key_id, COALESCE(NULLIF(p_model, ''), r.model), p_prompt, p_completion,
                v_charged, p_latency, p_status);
    RETURN v_charged;
END
$$;

CREATE OR REPLACE FUNCTION unigate_release_expired(p_now TIMESTAMPTZ) RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    r RECORD;
    n INTEGER := 0;
BEGIN
    FOR r IN SELECT id FROM reservations WHERE expires_at < p_now ORDER BY account_id, key_id
             FOR UPDATE SKIP LOCKED LOOP
        IF unigate_settle(r.id, 0, '', 0, 0, 0, 'abandoned') >= 0 THEN
            n := n + 1;
        END IF;
    END LOOP;
    RETURN n;
END
$$;

CREATE OR REPLACE FUNCTION unigate_reserve_many(
    p_ids TEXT[], p_keys BIGINT[], p_amounts BIGINT[], p_models TEXT[], p_ttls DOUBLE PRECISION[],
    OUT results INTEGER[], OUT errors TEXT[]
) LANGUAGE plpgsql AS $$
BEGIN
    results := '{}';
    errors := '{}';
    FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
        BEGIN
            results := results || unigate_reserve(p_ids[i], p_keys[i], p_amounts[i], p_models[i], p_ttls[i]);
            errors := errors || NULL::TEXT;
        EXCEPTION
            WHEN deadlock_detected THEN
                RAISE;
            WHEN raise_exception THEN
                IF SQLERRM = 'unigate: balance' THEN
                    results := results || 3;
                    errors := errors || NULL::TEXT;
                ELSE
                    results := results || -2;
                    errors := errors || SQLERRM;
                END IF;
            WHEN OTHERS THEN
                results := results || -2;
                errors := errors || SQLERRM;
        END;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION unigate_settle_many(
    p_ids TEXT[], p_credits BIGINT[], p_models TEXT[], p_prompt INTEGER[], p_completion INTEGER[],
    p_latency INTEGER[], p_status TEXT[],
    OUT results BIGINT[], OUT errors TEXT[]
) LANGUAGE plpgsql AS $$
BEGIN
    results := '{}';
    errors := '{}';
    FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
        BEGIN
            results := results || unigate_settle(p_ids[i], p_credits[i], p_models[i], p_prompt[i], p_completion[i],
                                                 p_latency[i], p_status[i]);
            errors := errors || NULL::TEXT;
        EXCEPTION
            WHEN deadlock_detected THEN
                RAISE;
            WHEN OTHERS THEN
                results := results || -2::BIGINT;
                errors := errors || SQLERRM;
        END;
    END LOOP;
END
$$;
"""

# V5: batches without a subtransaction per item, and one write per account (and per limited key)
# per batch instead of one per item. Measured on V4 (one call of unigate_reserve_many, PostgreSQL
# 16 on the benchmark machine): about 90-130 µs of server time per item; and every item of a
# batch rewrote its account's row, so a batch of n items on one account left n versions of that
# row for each next item to walk past (O(n²): 84 µs per item at n = 128, 140 at 256, against 52
# with every item on an account of its own). Here a batch reads each account's balance once
# under its row lock, decides every item in order in memory, and writes the balance once; the
# same for a limited key's spend. The items must come sorted by (account, key) for the lock order
# (and are, from the store); out of order they are still right, with more writes.
# Nothing catches an item's failure here: a failing item (a constraint, say) fails the whole call,
# which then did nothing, and the store sends the batch's items again one by one (postgres.py).
# The expiry sweep settles through unigate_settle_many too, so that one function settles; V4's
# single-item unigate_reserve and unigate_settle have no caller left and go.
_V5 = """
CREATE OR REPLACE FUNCTION unigate_reserve_many(
    p_ids TEXT[], p_keys BIGINT[], p_amounts BIGINT[], p_models TEXT[], p_ttls DOUBLE PRECISION[],
    OUT results INTEGER[], OUT errors TEXT[]
) LANGUAGE plpgsql AS $$
DECLARE
    n INTEGER := coalesce(array_length(p_ids, 1), 0);
    v_now TIMESTAMPTZ := clock_timestamp();
    v_key BIGINT;                  -- the key last looked up
    v_key_account BIGINT;          -- its account; NULL when it is disabled, deleted or missing
    v_limited BOOLEAN := false;    -- whether its spend is counted (its row is then locked)
    v_limit BIGINT;
    v_period TIMESTAMPTZ;          -- the period its spend counts in
    v_spent BIGINT;
    v_key_dirty BOOLEAN := false;
    v_account BIGINT;              -- the account whose row is locked and whose balance is held
    v_balance BIGINT;
    v_account_dirty BOOLEAN := false;
BEGIN
    results := array_fill(0, ARRAY[n]);
    errors := array_fill(NULL::TEXT, ARRAY[n]);
    FOR i IN 1 .. n LOOP
        IF v_key IS DISTINCT FROM p_keys[i] THEN
            IF v_key_dirty THEN
                UPDATE api_keys SET period_spent = v_spent, period_start = v_period WHERE id = v_key;
                v_key_dirty := false;
            END IF;
            v_key := p_keys[i];
            SELECT account_id, limit_credits IS NOT NULL INTO v_key_account, v_limited
                FROM api_keys WHERE id = v_key AND NOT disabled AND deleted_at IS NULL;
            IF NOT FOUND THEN
                v_key_account := NULL;
                v_limited := false;
            ELSIF v_account IS DISTINCT FROM v_key_account THEN
                IF v_account_dirty THEN
                    UPDATE accounts SET balance = v_balance WHERE id = v_account;
                    v_account_dirty := false;
                END IF;
                v_account := v_key_account;
                SELECT balance INTO v_balance FROM accounts WHERE id = v_account FOR UPDATE;
            END IF;
            IF v_limited THEN
                -- Locked after its account; read again on the locked row, which a change of the
                -- key may have altered since the look-up above.
                SELECT limit_credits, unigate_period_start(limit_retention, v_now),
                       CASE WHEN period_start = unigate_period_start(limit_retention, v_now)
                            THEN period_spent ELSE 0 END
                    INTO v_limit, v_period, v_spent
                    FROM api_keys WHERE id = v_key AND NOT disabled AND deleted_at IS NULL
                    FOR UPDATE;
                IF NOT FOUND THEN
                    v_key_account := NULL;
                    v_limited := false;
                ELSIF v_limit IS NULL THEN
                    v_limited := false;
                END IF;
            END IF;
        END IF;
        IF v_key_account IS NULL THEN
            results[i] := 1;
        ELSIF v_limited AND v_spent + p_amounts[i] > v_limit THEN
            results[i] := 2;
        ELSIF v_balance < p_amounts[i] THEN
            results[i] := 3;
        ELSE
            v_balance := v_balance - p_amounts[i];
            v_account_dirty := true;
            IF v_limited THEN
                v_spent := v_spent + p_amounts[i];
                v_key_dirty := true;
            END IF;
            INSERT INTO reservations (id, account_id, key_id, amount, model, period_start, expires_at)
                VALUES (p_ids[i], v_account, v_key, p_amounts[i], p_models[i],
                        CASE WHEN v_limited THEN v_period END, v_now + p_ttls[i] * interval '1 second');
        END IF;
    END LOOP;
    IF v_key_dirty THEN
        UPDATE api_keys SET period_spent = v_spent, period_start = v_period WHERE id = v_key;
    END IF;
    IF v_account_dirty THEN
        UPDATE accounts SET balance = v_balance WHERE id = v_account;
    END IF;
END
$$;

-- What one account's settlements of a batch give back: its balance first, then its keys' spend
-- (the lock order of every function).
CREATE OR REPLACE FUNCTION unigate_refund(
    p_account BIGINT, p_refund BIGINT, p_keys BIGINT[], p_periods TIMESTAMPTZ[], p_refunds BIGINT[]
) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    IF p_refund > 0 THEN
        UPDATE accounts SET balance = balance + p_refund WHERE id = p_account;
    END IF;
    FOR j IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
        UPDATE api_keys SET period_spent = period_spent - p_refunds[j]
            WHERE id = p_keys[j] AND period_start = p_periods[j];
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION unigate_settle_many(
    p_ids TEXT[], p_credits BIGINT[], p_models TEXT[], p_prompt INTEGER[], p_completion INTEGER[],
    p_latency INTEGER[], p_status TEXT[],
    OUT results BIGINT[], OUT errors TEXT[]
) LANGUAGE plpgsql AS $$
DECLARE
    n INTEGER := coalesce(array_length(p_ids, 1), 0);
    r RECORD;
    v_charged BIGINT;
    v_account BIGINT;              -- the account whose refunds are being gathered
    v_refund BIGINT := 0;
    v_keys BIGINT[] := '{}';       -- its limited keys' refunds, per (key, period)
    v_periods TIMESTAMPTZ[] := '{}';
    v_refunds BIGINT[] := '{}';
    k INTEGER;
BEGIN
    results := array_fill(0::BIGINT, ARRAY[n]);
    errors := array_fill(NULL::TEXT, ARRAY[n]);
    FOR i IN 1 .. n LOOP
        DELETE FROM reservations WHERE id = p_ids[i] RETURNING * INTO r;
        IF NOT FOUND THEN
            results[i] := -1;
            CONTINUE;
        END IF;
        IF v_account IS DISTINCT FROM r.account_id THEN
            IF v_account IS NOT NULL THEN
                PERFORM unigate_refund(v_account, v_refund, v_keys, v_periods, v_refunds);
            END IF;
            v_account := r.account_id;
            v_refund := 0;
            v_keys := '{}';
            v_periods := '{}';
            v_refunds := '{}';
        END IF;
        v_charged := LEAST(GREATEST(p_credits[i], 0), r.amount);
        v_refund := v_refund + (r.amount - v_charged);
        IF r.period_start IS NOT NULL AND r.amount > v_charged THEN
            k := coalesce(array_length(v_keys, 1), 0);
            IF k > 0 AND v_keys[k] = r.key_id AND v_periods[k] = r.period_start THEN
                v_refunds[k] := v_refunds[k] + (r.amount - v_charged);
            ELSE
                v_keys := v_keys || r.key_id;
                v_periods := v_periods || r.period_start;
                v_refunds := v_refunds || (r.amount - v_charged);
            END IF;
        END IF;
        INSERT INTO usage (request_id, account_id, key_id, model, prompt_tokens, completion_tokens, credits,
                           latency_ms, status)
            VALUES (r.id, r.account_id, r.key_id, COALESCE(NULLIF(p_models[i], ''), r.model), p_prompt[i],
                    p_completion[i], v_charged, p_latency[i], p_status[i]);
        results[i] := v_charged;
    END LOOP;
    IF v_account IS NOT NULL THEN
        PERFORM unigate_refund(v_account, v_refund, v_keys, v_periods, v_refunds);
    END IF;
END
$$;

-- Reservations past their expiry, settled as abandoned (nothing charged) in one batch, taken in
-- lock order; a row another transaction holds (being settled) is skipped.
CREATE OR REPLACE FUNCTION unigate_release_expired(p_now TIMESTAMPTZ) RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    v_ids TEXT[];
    n INTEGER;
    v_results BIGINT[];
BEGIN
    SELECT coalesce(array_agg(id ORDER BY account_id, key_id), '{}') INTO v_ids FROM (
        SELECT id, account_id, key_id FROM reservations WHERE expires_at < p_now
            ORDER BY account_id, key_id FOR UPDATE SKIP LOCKED
    ) expired;
    n := coalesce(array_length(v_ids, 1), 0);
    IF n = 0 THEN
        RETURN 0;
    END IF;
    SELECT results INTO v_results FROM unigate_settle_many(
        v_ids, array_fill(0::BIGINT, ARRAY[n]), array_fill(''::TEXT, ARRAY[n]), array_fill(0, ARRAY[n]),
        array_fill(0, ARRAY[n]), array_fill(0, ARRAY[n]), array_fill('abandoned'::TEXT, ARRAY[n]));
    RETURN (SELECT count(*) FROM unnest(v_results) AS r WHERE r >= 0);
END
$$;

DROP FUNCTION unigate_reserve(TEXT, BIGINT, BIGINT, TEXT, DOUBLE PRECISION);
DROP FUNCTION unigate_settle(TEXT, BIGINT, TEXT, INTEGER, INTEGER, INTEGER, TEXT);
"""

# V6: one call per batch of a process carries its reservations and its settlements together
# (``unigate_tick``), instead of a call on each of two connections. On the benchmark machine the
# client side of a call costs about 115 µs of CPU with one item of each kind, 140 with six (a bare
# SELECT 1: 60), and under load the batches are small: at 16 clients on one worker, 0.52 calls per
# request on two connections (about 4 items each), 0.33 in one (about 6), and the gateway's CPU
# per request fell from 0.360 to 0.340 ms (0.497 to 0.461 at 8 clients, 0.277 to 0.270 at 32).
# The items come as two lists, each sorted by (account, key) with each item's account beside it;
# the function takes the accounts in ascending order and, for each, settles its items first (its
# reservations' rows, then its row, then its keys'), then reserves its items (its row, then its
# keys'): the lock order of unigate_settle_many and unigate_reserve_many alone, across both.
# Settling first lets an account's freed credit serve the reservations of the same call.
# The two functions stay: the sweep settles through unigate_settle_many, and replicas of the
# release before call them.
_V6 = """
CREATE OR REPLACE FUNCTION unigate_tick(
    p_settle_accounts BIGINT[], p_settle_ids TEXT[], p_credits BIGINT[], p_settle_models TEXT[],
    p_prompt INTEGER[], p_completion INTEGER[], p_latency INTEGER[], p_status TEXT[],
    p_reserve_accounts BIGINT[], p_reserve_ids TEXT[], p_keys BIGINT[], p_amounts BIGINT[],
    p_reserve_models TEXT[], p_ttls DOUBLE PRECISION[],
    OUT settled BIGINT[], OUT reserved INTEGER[]
) LANGUAGE plpgsql AS $$
DECLARE
    ns INTEGER := coalesce(array_length(p_settle_ids, 1), 0);
    nr INTEGER := coalesce(array_length(p_reserve_ids, 1), 0);
    i INTEGER := 1;                -- the next settlement
    j INTEGER := 1;                -- the next reservation
    a INTEGER;                     -- the end (exclusive) of the account's settlements
    b INTEGER;                     -- and of its reservations
    v_account BIGINT;
    v_settled BIGINT[];
    v_reserved INTEGER[];
BEGIN
    settled := '{}';
    reserved := '{}';
    WHILE i <= ns OR j <= nr LOOP
        IF j > nr OR (i <= ns AND p_settle_accounts[i] <= p_reserve_accounts[j]) THEN
            v_account := p_settle_accounts[i];
        ELSE
            v_account := p_reserve_accounts[j];
        END IF;
        a := i;
        WHILE a <= ns AND p_settle_accounts[a] = v_account LOOP
            a := a + 1;
        END LOOP;
        b := j;
        WHILE b <= nr AND p_reserve_accounts[b] = v_account LOOP
            b := b + 1;
        END LOOP;
        IF a > i THEN
            SELECT results INTO v_settled FROM unigate_settle_many(
                p_settle_ids[i:a - 1], p_credits[i:a - 1], p_settle_models[i:a - 1], p_prompt[i:a - 1],
                p_completion[i:a - 1], p_latency[i:a - 1], p_status[i:a - 1]);
            settled := settled || v_settled;
        END IF;
        IF b > j THEN
            SELECT results INTO v_reserved FROM unigate_reserve_many(
                p_reserve_ids[j:b - 1], p_keys[j:b - 1], p_amounts[j:b - 1], p_reserve_models[j:b - 1],
                p_ttls[j:b - 1]);
            reserved := reserved || v_reserved;
        END IF;
        i := a;
        j := b;
    END LOOP;
END
$$;
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6)


def first_schema(search_path: str) -> str | None:
    """The first schema a ``search_path`` value names, as PostgreSQL reads it: names separated by
    commas, double-quoted ones taken as they are (``""`` is a quote), unquoted ones lower-cased.
    ``None`` when it names none or starts with ``$user`` (the session user's schema, which the
    server skips when missing; it is not ours to create)."""
    text = search_path.strip()
    if text.startswith('"'):
        name, i = [], 1
        while i < len(text):
            if text[i] == '"':
                if text[i + 1 : i + 2] != '"':
                    break
                i += 1
            name.append(text[i])
            i += 1
        first = "".join(name)
    else:
        first = text.split(",", 1)[0].strip().lower()
    return None if first in ("", "$user") else first


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def ensure_schema(conn: asyncpg.Connection[Any] | PoolConnectionProxy[Any]) -> str | None:
    """Create the first schema of the connection's ``search_path`` when it is missing; returns the
    name of the schema it created, or ``None``. Call it inside a transaction: a transaction-scoped
    advisory lock keeps replicas that start together from racing on the same ``CREATE SCHEMA``."""
    name = first_schema(await conn.fetchval("SELECT current_setting('search_path')"))
    if name is None or name.startswith("pg_"):  # pg_catalog, pg_temp: the server's own
        return None
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", name):
        return None
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('unigate-create-schema:' || $1::text))", name)
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(name)}")
    except asyncpg.InsufficientPrivilegeError as exc:
        raise RuntimeError(
            f"schema {name!r} (the first of the database URL's search_path) does not exist, and this database"
            f" user may not create it: create it, or grant CREATE on the database ({exc})"
        ) from exc
    return name


async def migrate(conn: asyncpg.Connection[Any] | PoolConnectionProxy[Any]) -> int:
    """Create the ``search_path`` schema if missing, then apply the steps it lacks; returns its
    version afterwards."""
    async with conn.transaction():
        await ensure_schema(conn)
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('unigate-migrate:' || current_schema()))")
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        version = await conn.fetchval("SELECT max(version) FROM schema_version") or 0
        if version > len(MIGRATIONS):
            raise RuntimeError(f"the database has schema version {version}, newer than this unigate knows")
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            await conn.execute(step)
            await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", number)
    return len(MIGRATIONS)
