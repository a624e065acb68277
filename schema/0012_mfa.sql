-- 0012_mfa: multi-factor authentication (Logto's mfa verifications: Totp, BackupCode, WebAuthn),
-- the interaction state of an MFA step, and the RFC 8176 `amr` values carried from the sign-in to
-- the session, the authorization code and the refresh tokens, so every ID token says how the
-- person signed in.
--
-- mfa_factors: one row per factor a person has (Logto's users.mfa_verifications entries). A
-- person has at most one Totp and at most one BackupCode factor (partial unique indexes), and any
-- number of WebAuthn credentials. The TOTP secret is never stored in the clear:
-- totp_secret_sealed is AES-256-GCM under a key derived from LATCH_SECRET_KEY
-- ("latch/totp-secret/v1"), its additional data "tenant/user/totp" (users/mfa.h), so a copy of
-- the table gives away no secret and a sealed secret moved to another person does not open.
-- totp_last_step is the RFC 6238 time step of the last accepted code: a code is accepted only for
-- a later step (RFC 6238 §5.2, each code once), in the same statement that records it, so two
-- nodes racing with one code accept it once. The WebAuthn columns are filled by the WebAuthn
-- ceremonies (credential id, the COSE_Key public key as registered, the signature counter of the
-- last assertion, transports, the authenticator's AAGUID); `name` is the label a person gives.
CREATE TABLE mfa_factors (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id varchar(21) NOT NULL,
    user_id varchar(12) NOT NULL,
    type varchar(16) NOT NULL
        -- (BackupCode first: the one type without columns of its own, so the catalog-driven
        -- tenancy test, which fills a row with the first value a CHECK names, makes a valid one.)
        CONSTRAINT mfa_factors_type CHECK (type IN ('BackupCode', 'Totp', 'WebAuthn')),
    name varchar(128),
    totp_secret_sealed bytea,
    totp_last_step bigint,
    credential_id bytea,
    public_key bytea,
    sign_count bigint,
    transports text[],
    aaguid uuid,
    agent varchar(256),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE,
    CONSTRAINT mfa_factors_totp CHECK (type <> 'Totp' OR totp_secret_sealed IS NOT NULL),
    CONSTRAINT mfa_factors_webauthn CHECK (type <> 'WebAuthn' OR
        (credential_id IS NOT NULL AND public_key IS NOT NULL AND sign_count IS NOT NULL))
);
CREATE UNIQUE INDEX mfa_factors_one_totp ON mfa_factors (tenant_id, user_id) WHERE type = 'Totp';
CREATE UNIQUE INDEX mfa_factors_one_backup ON mfa_factors (tenant_id, user_id)
    WHERE type = 'BackupCode';
CREATE UNIQUE INDEX mfa_factors_credential ON mfa_factors (tenant_id, credential_id)
    WHERE type = 'WebAuthn';
CREATE INDEX mfa_factors_user ON mfa_factors (tenant_id, user_id);
SELECT latch_enable_tenancy('mfa_factors');

-- The codes of a BackupCode factor: ten single-use codes, stored as an HMAC-SHA-256 under a key
-- derived from LATCH_SECRET_KEY ("latch/backup-code/v1") of tenant, user and code (users/mfa.h).
-- Keyed for the reason schema/0010 gives for verification codes: a code has 40 bits, which a
-- plain hash would give away to anyone with a copy of the table. used_at is set by the statement
-- that accepts the code, which requires it to be NULL: a code works once, also across nodes.
-- Regenerating replaces every code of the factor; deleting the factor deletes them (CASCADE).
CREATE TABLE mfa_backup_codes (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    factor_id varchar(21) NOT NULL,
    code_hash bytea NOT NULL,
    used_at timestamptz,
    PRIMARY KEY (tenant_id, factor_id, code_hash),
    FOREIGN KEY (tenant_id, factor_id) REFERENCES mfa_factors (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE
);
SELECT latch_enable_tenancy('mfa_backup_codes');

-- Logto's sign-in experience field mfa: {factors: subset of [Totp, WebAuthn, BackupCode],
-- policy: UserControlled | PromptAtSignInAndSignUp | PromptOnlyAtSignIn | Mandatory | NoPrompt,
-- organizationRequiredMfaPolicy: NoPrompt | Mandatory}. Logto's default: no factors, so nothing
-- changes for a tenant until it enables one.
ALTER TABLE sign_in_experiences
    ADD COLUMN mfa jsonb NOT NULL DEFAULT
        '{"factors": [], "policy": "UserControlled", "organizationRequiredMfaPolicy": "NoPrompt"}';

-- A person who skipped the (skippable) prompt to set up MFA is not asked again (Logto keeps this
-- in logtoConfig.mfa.skipped).
ALTER TABLE users ADD COLUMN mfa_skipped boolean NOT NULL DEFAULT false;

-- The MFA step of an interaction, for the person it identified (result_user_id):
--   amr            RFC 8176 methods proved so far: the first factor's at identification (pwd;
--                  otp for an email code; sms for a phone code), then otp (TOTP, backup code),
--                  hwk / swk (WebAuthn) for each MFA verification
--   mfa_verified   the MFA factor types verified in this interaction (Totp, BackupCode, WebAuthn)
--   mfa_pending    what waits to be bound: {"totp": {"id", "sealed" (hex), "verified"},
--                  "backupCode": {"id", "hashes": [hex, …]}} (never a secret in the clear)
--   mfa_skipped    the person skipped the optional enrolment
-- Choosing a new event, or losing the identified person, clears all four.
ALTER TABLE interactions
    ADD COLUMN amr text[] NOT NULL DEFAULT '{}',
    ADD COLUMN mfa_verified text[] NOT NULL DEFAULT '{}',
    ADD COLUMN mfa_pending jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN mfa_skipped boolean NOT NULL DEFAULT false;

-- The ID token's amr (space-separated RFC 8176 values; NULL: issued before this release) travels
-- with what a sign-in issues.
ALTER TABLE sessions ADD COLUMN amr text;
ALTER TABLE authorization_codes ADD COLUMN amr text;
ALTER TABLE refresh_tokens ADD COLUMN amr text;

-- Whether the interaction's person may finish signing in as far as MFA goes, in Logto's order
-- (experience-interaction.ts, mfa.ts); both POST /api/experience/submit and /oidc/auth/resume
-- ask, so no route around the Experience API skips the check. Answers one row:
--   problem    NULL (done), 'require_mfa_verification' (a factor the person has must be verified
--              first), 'missing_mfa' (enrolment needed), 'backup_code_required' (backup codes are
--              enabled and the person has no unused one)
--   available  the factor types to offer (JSON array)
--   skippable  missing_mfa only: whether POST …/profile/mfa/mfa-skipped may end it
--   amr        the methods the session gets (space-separated; mfa added after an MFA factor)
--   backup_codes_left  the person's unused backup codes (so the page can say how many remain)
-- The person's factors count only where the sign-in experience enables their type, and backup
-- codes only while one is unused. An organization that requires MFA (is_mfa_required) makes
-- enrolment mandatory for its members when organizationRequiredMfaPolicy is Mandatory.
CREATE FUNCTION latch_mfa_check(tid text, ihash bytea)
RETURNS TABLE (problem text, available jsonb, skippable boolean, amr text,
               backup_codes_left integer)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    i interactions%ROWTYPE;
    settings jsonb;
    enabled text[];
    policy text;
    org_required boolean;
    has text[];
    bindable text[];
BEGIN
    SELECT * INTO i FROM interactions x
     WHERE x.tenant_id = tid AND x.id_hash = ihash AND x.expires_at > now();
    IF NOT FOUND OR i.result_user_id IS NULL THEN
        problem := 'not_identified';
        RETURN NEXT;
        RETURN;
    END IF;
    amr := array_to_string(i.amr || CASE WHEN cardinality(i.mfa_verified) > 0
                                         THEN ARRAY['mfa'] ELSE '{}'::text[] END, ' ');
    skippable := false;
    available := '[]';
    backup_codes_left := (SELECT count(*) FROM mfa_factors f JOIN mfa_backup_codes c
                            ON c.tenant_id = f.tenant_id AND c.factor_id = f.id
                           WHERE f.tenant_id = tid AND f.user_id = i.result_user_id
                             AND f.type = 'BackupCode' AND c.used_at IS NULL);
    SELECT s.mfa INTO settings FROM sign_in_experiences s
     WHERE s.tenant_id = tid AND s.id = 'default';
    settings := coalesce(settings, '{}');
    enabled := ARRAY(SELECT jsonb_array_elements_text(coalesce(settings->'factors', '[]')));
    IF cardinality(enabled) = 0 THEN
        RETURN NEXT;
        RETURN;
    END IF;
    policy := coalesce(settings->>'policy', 'UserControlled');
    has := ARRAY(SELECT DISTINCT f.type FROM mfa_factors f
                  WHERE f.tenant_id = tid AND f.user_id = i.result_user_id
                    AND f.type = ANY (enabled)
                    AND (f.type <> 'BackupCode' OR EXISTS (SELECT 1 FROM mfa_backup_codes c
                         WHERE c.tenant_id = tid AND c.factor_id = f.id AND c.used_at IS NULL))
                  ORDER BY 1);
    -- A person with factors proves one of them (one bound in this interaction counts: binding
    -- it took a proof).
    IF cardinality(has) > 0 AND NOT (has && i.mfa_verified) THEN
        problem := 'require_mfa_verification';
        available := to_jsonb(has);
        RETURN NEXT;
        RETURN;
    END IF;
    org_required := coalesce(settings->>'organizationRequiredMfaPolicy', 'NoPrompt') = 'Mandatory'
        AND EXISTS (SELECT 1 FROM organization_user_relations m JOIN organizations o
                      ON o.tenant_id = m.tenant_id AND o.id = m.organization_id
                     WHERE m.tenant_id = tid AND m.user_id = i.result_user_id
                       AND o.is_mfa_required);
    IF policy = 'NoPrompt' AND NOT org_required THEN
        RETURN NEXT;
        RETURN;
    END IF;
    IF policy <> 'Mandatory' AND NOT org_required AND (i.mfa_skipped OR EXISTS (
           SELECT 1 FROM users u WHERE u.tenant_id = tid AND u.id = i.result_user_id
              AND u.mfa_skipped)) THEN
        RETURN NEXT;
        RETURN;
    END IF;
    IF i.event = 'Register' AND policy = 'PromptOnlyAtSignIn' AND NOT org_required THEN
        RETURN NEXT;
        RETURN;
    END IF;
    bindable := ARRAY(SELECT e FROM unnest(enabled) e WHERE e <> 'BackupCode' ORDER BY
                      array_position(ARRAY['Totp', 'WebAuthn'], e));
    IF cardinality(bindable) = 0 THEN
        RETURN NEXT;
        RETURN;
    END IF;
    IF NOT (has && bindable) THEN
        problem := 'missing_mfa';
        available := to_jsonb(bindable);
        skippable := policy <> 'Mandatory' AND NOT org_required;
        RETURN NEXT;
        RETURN;
    END IF;
    -- Backup codes are enabled: the person needs unused ones (all used: new ones).
    IF 'BackupCode' = ANY (enabled) AND NOT ('BackupCode' = ANY (has)) THEN
        problem := 'backup_code_required';
        available := '["BackupCode"]';
    END IF;
    RETURN NEXT;
END $$;

-- As in 0003: a rotation carries the family's amr to the new token.
CREATE OR REPLACE FUNCTION latch_refresh_use(tid text, hash bytea, cid text, new_hash bytea,
                                             rotate boolean, ttl_seconds bigint)
RETURNS TABLE (status text, grant_id varchar, user_id varchar, sid varchar, scope text,
               resource text, auth_time bigint)
LANGUAGE plpgsql AS $$
DECLARE
    t refresh_tokens%ROWTYPE;
BEGIN
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
                                        user_id, sid, scope, resource, auth_time, expires_at, amr)
            VALUES (tid, new_hash, t.family_id, t.grant_id, t.client_id, t.user_id, t.sid,
                    t.scope, t.resource, t.auth_time, now() + make_interval(secs => ttl_seconds),
                    t.amr);
        END IF;
        status := 'ok';
        grant_id := t.grant_id; user_id := t.user_id; sid := t.sid; scope := t.scope;
        resource := t.resource; auth_time := extract(epoch FROM t.auth_time)::bigint;
    END IF;
    RETURN NEXT;
END $$;
