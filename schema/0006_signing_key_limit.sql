-- 0006_signing_key_limit: key rotation without a cliff (issue 10). Every node holds at most
-- LATCH_TENANT_MAX_KEYS (8) signing keys per tenant: the current key, the next key and up to six
-- previous keys still in their grace period. Rotation now prunes previous keys whose grace period
-- has ended and refuses, with SQLSTATE LK001, a rotation that would keep more keys than that, so
-- a tenant never has keys that a node cannot hold (the Management API answers 422
-- oidc.key_limit, latchctl prints the message). latchd passes its own limit as max_keys, so the
-- database and the cache cannot disagree; the old ten-argument form, which nodes of the previous
-- release still call during a rolling upgrade, applies 8.

CREATE FUNCTION latch_rotate_keys(tid text, grace_seconds bigint, max_keys integer,
                                  new_kid text, new_alg text, new_key bytea, new_jwk jsonb,
                                  nxt_kid text, nxt_alg text, nxt_key bytea, nxt_jwk jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    promoted text;
    held integer;
    first_end timestamptz;
BEGIN
    IF max_keys IS NULL OR max_keys < 3 THEN
        RAISE EXCEPTION 'latch_rotate_keys: max_keys must be at least 3 (current, next, previous)';
    END IF;
    -- One rotation of a tenant at a time: a concurrent one waits here and then counts the keys
    -- this one left, instead of both passing the check (or colliding on the unique indexes).
    PERFORM 1 FROM tenants WHERE id = tid FOR NO KEY UPDATE;
    DELETE FROM signing_keys
     WHERE tenant_id = tid AND state = 'previous' AND expires_at <= now();
    IF grace_seconds > 0
       AND EXISTS (SELECT 1 FROM signing_keys WHERE tenant_id = tid AND state = 'current') THEN
        -- After this rotation the tenant holds held + 1 previous keys, a current and a next one.
        -- A previous key without an end date (none is written so) counts as held.
        SELECT count(*), min(expires_at) INTO held, first_end
          FROM signing_keys WHERE tenant_id = tid AND state = 'previous';
        IF held + 3 > max_keys THEN
            RAISE EXCEPTION 'signing key limit reached: a tenant holds at most % signing keys '
                            '(the current key, the next key and % previous keys in their grace '
                            'period)', max_keys, max_keys - 2
                USING ERRCODE = 'LK001',
                      DETAIL = format('%s previous keys are in their grace period; the first '
                                      'grace period ends at %s.', held, first_end),
                      HINT = 'Rotate again once a grace period has ended, delete a previous key, '
                             'or rotate with a grace period of 0.';
        END IF;
    END IF;
    IF grace_seconds > 0 THEN
        UPDATE signing_keys
           SET state = 'previous', expires_at = now() + make_interval(secs => grace_seconds)
         WHERE tenant_id = tid AND state = 'current';
    ELSE
        -- No grace period: the old key goes at once rather than lingering as an expired row.
        DELETE FROM signing_keys WHERE tenant_id = tid AND state = 'current';
    END IF;
    SELECT id INTO promoted FROM signing_keys
     WHERE tenant_id = tid AND state = 'next' AND algorithm = new_alg;
    IF promoted IS NOT NULL THEN
        UPDATE signing_keys SET state = 'current' WHERE tenant_id = tid AND id = promoted;
    ELSE
        DELETE FROM signing_keys WHERE tenant_id = tid AND state = 'next';
        INSERT INTO signing_keys (tenant_id, id, algorithm, state, private_key, public_jwk)
        VALUES (tid, new_kid, new_alg, 'current', new_key, new_jwk);
    END IF;
    INSERT INTO signing_keys (tenant_id, id, algorithm, state, private_key, public_jwk)
    VALUES (tid, nxt_kid, nxt_alg, 'next', nxt_key, nxt_jwk);
END $$;

-- The form of 0002, as nodes of the previous release call it: the same rotation, limit 8.
CREATE OR REPLACE FUNCTION latch_rotate_keys(tid text, grace_seconds bigint,
                                             new_kid text, new_alg text, new_key bytea,
                                             new_jwk jsonb,
                                             nxt_kid text, nxt_alg text, nxt_key bytea,
                                             nxt_jwk jsonb)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM latch_rotate_keys(tid, grace_seconds, 8, new_kid, new_alg, new_key, new_jwk,
                              nxt_kid, nxt_alg, nxt_key, nxt_jwk);
END $$;
