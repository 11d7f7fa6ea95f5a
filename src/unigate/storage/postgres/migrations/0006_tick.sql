-- One call per batch of a process carries its reservations and its settlements together
-- (unigate_tick), instead of a call on each of two connections: the client's CPU for a call
-- outweighs that of the few items it carries, and under load batches are small, so fewer, fuller
-- calls cost the gateway less per request.
-- The items come as two lists, each sorted by (account, key) with each item's account beside it;
-- the function takes the accounts in ascending order and, for each, settles its items first (its
-- reservations' rows, then its row, then its keys'), then reserves its items (its row, then its
-- keys'): the lock order of unigate_settle_many and unigate_reserve_many alone, across both.
-- Settling first lets an account's freed credit serve the reservations of the same call.
-- The two functions stay: the sweep settles through unigate_settle_many, and replicas of the
-- previous release call them.

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
