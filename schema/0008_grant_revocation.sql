-- 0008_grant_revocation: a reused authorization code revokes every token issued from its grant
-- (RFC 6749 §10.5, OpenID conformance oidcc-codereuse), the access tokens included. Refresh
-- tokens are rows and were already revoked; access tokens are self-contained JWTs, so the grant
-- they came from (their `grant_id` claim) is recorded here, and userinfo refuses a token whose
-- grant has a row. One row per revoked grant, looked up by primary key in the same statement
-- that reads the user, so the common path (no row) costs no extra round trip. Rows are only
-- written on a code reuse, which is rare and needs a real code; they are kept (an access token's
-- lifetime is set per resource, so no shorter bound is safe).

CREATE TABLE revoked_grants (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    grant_id varchar(32) NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, grant_id)
);
SELECT latch_enable_tenancy('revoked_grants');

-- As in 0003, plus the revoked_grants row on a reuse.
CREATE OR REPLACE FUNCTION latch_code_use(tid text, hash bytea)
RETURNS TABLE (status text, grant_id varchar, client_id varchar, user_id varchar, sid varchar,
               redirect_uri text, scope text, resource text, nonce text, code_challenge text,
               code_challenge_method varchar, auth_time bigint)
LANGUAGE plpgsql AS $$
DECLARE
    c authorization_codes%ROWTYPE;
BEGIN
    SELECT * INTO c FROM authorization_codes a
     WHERE a.tenant_id = tid AND a.code_hash = hash FOR UPDATE;
    IF NOT FOUND THEN
        status := 'unknown';
        RETURN NEXT;
        RETURN;
    END IF;
    IF c.consumed_at IS NOT NULL THEN
        UPDATE refresh_tokens r SET revoked_at = now()
         WHERE r.tenant_id = tid AND r.grant_id = c.grant_id AND r.revoked_at IS NULL;
        INSERT INTO revoked_grants (tenant_id, grant_id) VALUES (tid, c.grant_id)
            ON CONFLICT DO NOTHING;
        status := 'reused';
        RETURN NEXT;
        RETURN;
    END IF;
    UPDATE authorization_codes a SET consumed_at = now()
     WHERE a.tenant_id = tid AND a.code_hash = hash;
    status := CASE WHEN c.expires_at <= now() THEN 'expired' ELSE 'ok' END;
    grant_id := c.grant_id; client_id := c.client_id; user_id := c.user_id; sid := c.sid;
    redirect_uri := c.redirect_uri; scope := c.scope; resource := c.resource; nonce := c.nonce;
    code_challenge := c.code_challenge; code_challenge_method := c.code_challenge_method;
    auth_time := extract(epoch FROM c.auth_time)::bigint;
    RETURN NEXT;
END $$;
