-- One lock order everywhere, so that transactions never wait on each other in a cycle. Batches
-- (or sweeps) that lock several accounts in request order, or a reservation that locks its key
-- before its account while a settlement does the opposite, deadlock between replicas; PostgreSQL
-- then aborts one, and its settlements are lost to the sweep (charged nothing). So every function
-- locks an account's row before its keys', the store sends each batch sorted by (account, key),
-- the sweep walks expired reservations in that order, and a deadlock that still happens (with a
-- statement outside this order) aborts the whole batch instead of failing items, so that the
-- store can run it again: it did nothing.

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
