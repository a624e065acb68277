-- 0003_users_sessions: people and their sign-in (Logto's shapes): users, the sign-in
-- experience, interactions (a pending /oidc/auth request), sessions, authorization codes,
-- refresh tokens, and the sentinel that locks identifiers after repeated wrong passwords.
-- Bearer secrets (session and interaction cookies, codes, refresh tokens) are stored as SHA-256
-- hashes only.

CREATE TABLE users (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id varchar(12) NOT NULL,
    username varchar(128),
    primary_email varchar(128),
    primary_phone varchar(128),
    password_encrypted varchar(256),
    password_encryption_method varchar(32)
        CONSTRAINT users_password_method CHECK (password_encryption_method IN
            ('Argon2i', 'Argon2id', 'Argon2d', 'Bcrypt')),
    name varchar(128),
    avatar varchar(2048),
    profile jsonb NOT NULL DEFAULT '{}',
    application_id varchar(21),
    identities jsonb NOT NULL DEFAULT '{}',
    custom_data jsonb NOT NULL DEFAULT '{}',
    is_suspended boolean NOT NULL DEFAULT false,
    last_sign_in_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
-- Identifiers are unique per tenant, compared without case for username and email.
CREATE UNIQUE INDEX users_username ON users (tenant_id, lower(username));
CREATE UNIQUE INDEX users_primary_email ON users (tenant_id, lower(primary_email));
CREATE UNIQUE INDEX users_primary_phone ON users (tenant_id, primary_phone);
SELECT latch_enable_tenancy('users');

CREATE TABLE users_roles (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    user_id varchar(12) NOT NULL,
    role_id varchar(21) NOT NULL,
    role_type varchar(32) NOT NULL DEFAULT 'User'
        CONSTRAINT users_roles_user CHECK (role_type = 'User'),
    PRIMARY KEY (tenant_id, user_id, role_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, role_id, role_type) REFERENCES roles (tenant_id, id, type)
        ON UPDATE CASCADE ON DELETE CASCADE
);
SELECT latch_enable_tenancy('users_roles');

-- One row per tenant (id 'default'), as Logto's sign_in_experiences.
CREATE TABLE sign_in_experiences (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id varchar(21) NOT NULL DEFAULT 'default',
    sign_in_mode varchar(32) NOT NULL DEFAULT 'SignInAndRegister'
        CONSTRAINT sign_in_experiences_mode CHECK (sign_in_mode IN
            ('SignInAndRegister', 'SignIn', 'Register')),
    password_policy jsonb NOT NULL DEFAULT '{"length": {"min": 8, "max": 256}}',
    sentinel_policy jsonb NOT NULL DEFAULT '{"maxAttempts": 100, "lockoutDuration": 60}',
    language_info jsonb NOT NULL DEFAULT '{"autoDetect": true, "fallbackLanguage": "en"}',
    branding jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, id)
);
SELECT latch_enable_tenancy('sign_in_experiences');

-- A pending authorization request (/oidc/auth) and what the sign-in has established so far.
-- The browser holds the interaction id in a cookie; the table holds its SHA-256.
CREATE TABLE interactions (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id_hash bytea NOT NULL,
    params jsonb NOT NULL,              -- client_id, redirect_uri, scope, state, nonce, …
    event varchar(32),                  -- SignIn | Register (Experience API)
    verified_user_id varchar(12),       -- set by a successful verification
    verification_id varchar(32),
    result_user_id varchar(12),         -- set by identification: who signs in
    csrf_token varchar(64) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id_hash)
);
CREATE INDEX interactions_expires ON interactions (expires_at);
SELECT latch_enable_tenancy('interactions');

CREATE TABLE sessions (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id_hash bytea NOT NULL,
    sid varchar(32) NOT NULL,           -- the public session id (ID token `sid`)
    user_id varchar(12) NOT NULL,
    auth_time timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    ended_at timestamptz,
    PRIMARY KEY (tenant_id, id_hash),
    CONSTRAINT sessions_sid UNIQUE (tenant_id, sid),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE INDEX sessions_expires ON sessions (expires_at);
SELECT latch_enable_tenancy('sessions');

-- A grant ties together what one authorization issued, so a reused code can revoke it all.
CREATE TABLE authorization_codes (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    grant_id varchar(32) NOT NULL,
    client_id varchar(21) NOT NULL,
    user_id varchar(12) NOT NULL,
    sid varchar(32),
    redirect_uri text NOT NULL,
    scope text NOT NULL,
    resource text,
    nonce text,
    code_challenge text,
    code_challenge_method varchar(8),
    auth_time timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    consumed_at timestamptz,
    PRIMARY KEY (tenant_id, code_hash),
    FOREIGN KEY (tenant_id, client_id) REFERENCES applications (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE INDEX authorization_codes_expires ON authorization_codes (expires_at);
SELECT latch_enable_tenancy('authorization_codes');

-- Refresh tokens: one row per token; rotation marks the old one consumed and links the new one
-- into the same family; presenting a consumed token revokes the family.
CREATE TABLE refresh_tokens (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    token_hash bytea NOT NULL,
    family_id varchar(32) NOT NULL,
    grant_id varchar(32) NOT NULL,
    client_id varchar(21) NOT NULL,
    user_id varchar(12) NOT NULL,
    sid varchar(32),
    scope text NOT NULL,
    resource text,
    auth_time timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    consumed_at timestamptz,
    revoked_at timestamptz,
    PRIMARY KEY (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, client_id) REFERENCES applications (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (tenant_id, family_id);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (tenant_id, grant_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
SELECT latch_enable_tenancy('refresh_tokens');

-- Logto's sentinel: failed password attempts per identifier (hashed), and the lockout.
CREATE TABLE sentinel_activities (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    identifier_hash bytea NOT NULL,
    failed_attempts integer NOT NULL DEFAULT 0,
    window_started_at timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    PRIMARY KEY (tenant_id, identifier_hash)
);
SELECT latch_enable_tenancy('sentinel_activities');

-- No change notifications for these tables: no node caches users, their roles or the sign-in
-- experience (they are read per request), and a notification per sign-in (last_sign_in_at)
-- would make every node reload the tenant's keys and applications for nothing.

-- Uses an authorization code once (RFC 6749 §4.1.2): the first use consumes it; a second use
-- finds it consumed and revokes every refresh token issued from its grant (§10.5).
CREATE FUNCTION latch_code_use(tid text, hash bytea)
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

-- Uses a refresh token: refuses unknown, revoked, expired and other clients' tokens; a token
-- already rotated away is a replay, and revokes its whole family; otherwise, with rotate, the
-- token is consumed and new_hash continues the family.
CREATE FUNCTION latch_refresh_use(tid text, hash bytea, cid text, new_hash bytea, rotate boolean,
                                  ttl_seconds bigint)
RETURNS TABLE (status text, grant_id varchar, user_id varchar, sid varchar, scope text,
               resource text, auth_time bigint)
LANGUAGE plpgsql AS $$
DECLARE
    t refresh_tokens%ROWTYPE;
BEGIN
    -- Lock the row only when it changes: without rotation, refreshes of one token run in
    -- parallel (a replay is then not a misuse).
    IF rotate THEN
        SELECT * INTO t FROM refresh_tokens r
         WHERE r.tenant_id = tid AND r.token_hash = hash FOR UPDATE;
    ELSE
        SELECT * INTO t FROM refresh_tokens r
         WHERE r.tenant_id = tid AND r.token_hash = hash;
    END IF;
    IF NOT FOUND THEN
        status := 'unknown';
    ELSIF t.client_id <> cid THEN
        status := 'client_mismatch';
    ELSIF t.revoked_at IS NOT NULL THEN
        status := 'revoked';
    ELSIF t.consumed_at IS NOT NULL THEN
        UPDATE refresh_tokens r SET revoked_at = now()
         WHERE r.tenant_id = tid AND r.family_id = t.family_id AND r.revoked_at IS NULL;
        status := 'reused';
    ELSIF t.expires_at <= now() THEN
        status := 'expired';
    ELSE
        IF rotate THEN
            UPDATE refresh_tokens r SET consumed_at = now()
             WHERE r.tenant_id = tid AND r.token_hash = hash;
            INSERT INTO refresh_tokens (tenant_id, token_hash, family_id, grant_id, client_id,
                                        user_id, sid, scope, resource, auth_time, expires_at)
            VALUES (tid, new_hash, t.family_id, t.grant_id, t.client_id, t.user_id, t.sid,
                    t.scope, t.resource, t.auth_time, now() + make_interval(secs => ttl_seconds));
        END IF;
        status := 'ok';
        grant_id := t.grant_id; user_id := t.user_id; sid := t.sid; scope := t.scope;
        resource := t.resource; auth_time := extract(epoch FROM t.auth_time)::bigint;
    END IF;
    RETURN NEXT;
END $$;
