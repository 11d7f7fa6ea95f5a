-- Batches without a subtransaction per item, and one write per account (and per limited key) per
-- batch instead of one per item. When every item rewrites its account's row, a batch of n items
-- on one account leaves n versions of that row for each next item to walk past, which makes a
-- batch quadratic in its size. Here a batch reads each account's balance once under its row lock,
-- decides every item in order in memory, and writes the balance once; the same for a limited
-- key's spend. The items must come sorted by (account, key) for the lock order (and do, from the
-- store); out of order they are still right, with more writes.
-- Nothing catches an item's failure here: a failing item (a constraint, say) fails the whole call,
-- which then did nothing, and the store sends the batch's items again one by one
-- (storage/postgres/batch.py). The expiry sweep settles through unigate_settle_many too, so that
-- one function settles; the single-item unigate_reserve and unigate_settle have no caller left and
-- go.

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
