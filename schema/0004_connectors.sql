-- Social connectors: a tenant's connector instances (Logto's `connectors`), the sign-in
-- experience's social settings, and the sign-up settings that social-only sign-up needs.
-- Confidential config values are never stored in the clear: core replaces each with
-- {"$sealed": "<base64 of iv || ciphertext || tag>"} (AES-256-GCM under a key derived from
-- LATCH_SECRET_KEY, bound to the tenant, connector id and field).

CREATE TABLE connectors (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id varchar(128) NOT NULL,
    connector_id varchar(128) NOT NULL,    -- the factory id, e.g. huggingface-universal
    config jsonb NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}',  -- {target?, name?, logo?} (standard connectors)
    sync_profile boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX connectors_factory ON connectors (tenant_id, connector_id);
SELECT latch_enable_tenancy('connectors');
CREATE TRIGGER connectors_notify AFTER INSERT OR UPDATE OR DELETE ON connectors
    FOR EACH ROW EXECUTE FUNCTION latch_notify_change();

ALTER TABLE sign_in_experiences
    ADD COLUMN social_sign_in_connector_targets jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN social_sign_in jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN sign_up jsonb NOT NULL
        DEFAULT '{"identifiers": ["username"], "password": true, "verify": false}';

-- Social identities are looked up by target and upstream id on every social sign-in.
CREATE INDEX users_identities ON users USING gin (identities jsonb_path_ops);
