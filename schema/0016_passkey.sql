-- Passkey sign-in (issue 12; Logto's sign-in experience `passkeySignIn`): a discoverable WebAuthn
-- credential, registered as an MFA factor (mfa_factors, type WebAuthn), signs a person in as the
-- first factor, with no password. The Experience API keeps the ceremony in
-- interactions.mfa_pending.signInPasskey; identification by that verification records the
-- credential's RFC 8176 method (hwk or swk) instead of pwd, and, when the authenticator performed
-- user verification (a PIN or biometric on top of possessing the key), 'Passkey' among
-- mfa_verified: the passkey then counts as two factors.

-- {enabled, showPasskeyButton, allowAutofill} (Logto's PasskeySignIn); all false by default.
ALTER TABLE sign_in_experiences
    ADD COLUMN passkey_sign_in jsonb NOT NULL
        DEFAULT '{"enabled": false, "showPasskeyButton": false, "allowAutofill": false}';

-- latch_mfa_check (schema/0012) stays as it is under a new name; the function the server calls
-- first asks whether a passkey with user verification signed the person in, which satisfies
-- every MFA policy (the person proved possession and a PIN or biometric in one gesture), and
-- otherwise answers what the factor check answers. amr comes from the factor check either way
-- ('Passkey' among mfa_verified adds mfa there).
ALTER FUNCTION latch_mfa_check(text, bytea) RENAME TO latch_mfa_check_factors;

CREATE FUNCTION latch_mfa_check(tid text, ihash bytea)
RETURNS TABLE (problem text, available jsonb, skippable boolean, amr text,
               backup_codes_left integer)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p.done THEN NULL ELSE c.problem END,
           CASE WHEN p.done THEN '[]'::jsonb ELSE c.available END,
           CASE WHEN p.done THEN false ELSE c.skippable END,
           c.amr, c.backup_codes_left
      FROM latch_mfa_check_factors(tid, ihash) c,
           LATERAL (SELECT EXISTS (SELECT 1 FROM interactions x
                                    WHERE x.tenant_id = tid AND x.id_hash = ihash
                                      AND x.expires_at > now() AND x.result_user_id IS NOT NULL
                                      AND 'Passkey' = ANY (x.mfa_verified)) AS done) p
$$;
