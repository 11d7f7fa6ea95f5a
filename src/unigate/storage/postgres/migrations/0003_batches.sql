-- Group commit (primitives/batching.py, storage/postgres/batch.py): one call, one transaction for
-- the reservations, or the settlements, that a process has queued. Each item runs in its own
-- subtransaction (the EXCEPTION block), so a balance refusal, which raises to undo the key's
-- update, or any other failure undoes that item alone. Reservations: unigate_reserve's result, 3
-- for a balance refusal, -2 for another failure (its message at the same position of the second
-- array). Settlements: unigate_settle's result (the credits charged, -1 if already settled), -2
-- for a failure.

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
