-- 0010_verification_codes: one-time codes sent by email or SMS (Logto's passcodes), and the
-- sign-in experience settings that decide what they may be used for.
--
-- A row is one code: the Experience API's verification record of type EmailVerificationCode or
-- PhoneVerificationCode (its id is the verificationId the client holds), bound to the interaction
-- that asked for it (interaction_hash, the SHA-256 of the interaction cookie; NULL for a code sent
-- through the Management API's /api/verification-codes) and to the identifier it went to. The
-- code itself is never stored: code_hash is an HMAC-SHA-256 under a key derived from
-- LATCH_SECRET_KEY ("latch/verification-code/v1") of the tenant, the id, the identifier and the
-- code. A keyed hash, because a code has only a million values: a plain SHA-256 of it, whatever
-- context is mixed in, is reversed by trying them all in well under a second, so a copy of the
-- table (a backup, a replica, a read-only SQL injection) would give away every live code. Under
-- the HMAC it gives nothing without the node's secret.
--
-- try_count counts attempts (reserved before the comparison, so concurrent guesses all count);
-- verified_at is set by the right code, consumed_at by the identification (or the Management
-- API's verify) that used it. Rows die with their interaction (ON DELETE CASCADE); the rows of an
-- identifier older than an hour are deleted whenever a new code is sent to it. The rows of the
-- last hour per identifier are also the per-identifier resend throttle, shared by every node
-- (experience/verification_code.c).
CREATE TABLE verification_codes (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id varchar(32) NOT NULL,
    interaction_hash bytea,
    identifier_type varchar(8) NOT NULL
        CONSTRAINT verification_codes_type CHECK (identifier_type IN ('email', 'phone')),
    identifier varchar(128) NOT NULL,
    template_type varchar(32) NOT NULL
        CONSTRAINT verification_codes_template CHECK (template_type IN
            ('SignIn', 'Register', 'ForgotPassword', 'Generic', 'BindNewIdentifier')),
    code_hash bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    try_count integer NOT NULL DEFAULT 0,
    max_tries integer NOT NULL DEFAULT 10,
    verified_at timestamptz,
    consumed_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, interaction_hash) REFERENCES interactions (tenant_id, id_hash)
        ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE INDEX verification_codes_identifier
    ON verification_codes (tenant_id, identifier_type, lower(identifier), created_at);
CREATE INDEX verification_codes_interaction ON verification_codes (tenant_id, interaction_hash);
SELECT latch_enable_tenancy('verification_codes');

-- Logto's sign-in experience fields, with defaults that keep the behaviour of the previous
-- release (username and password; no code sign-in; no password reset):
--   sign_in                  {methods: [{identifier, password, verificationCode, isPasswordPrimary}]}
--   forgot_password_methods  subset of ["EmailVerificationCode", "PhoneVerificationCode"]
--   verification_code_policy {expirationDuration?: 60..3600 s (600), maxRetryAttempts?: 1..100 (10)}
-- Added columns with defaults, so the previous release keeps working during a rolling upgrade.
ALTER TABLE sign_in_experiences
    ADD COLUMN sign_in jsonb NOT NULL DEFAULT
        '{"methods": [{"identifier": "username", "password": true, "verificationCode": false, "isPasswordPrimary": true}]}',
    ADD COLUMN forgot_password_methods jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN verification_code_policy jsonb NOT NULL DEFAULT '{}';
