-- 0002_oidc: what OIDC for machines needs (Logto's shapes): signing keys, applications and their
-- secrets, API resources with their scopes, roles, and the role joins. Every table follows the
-- tenancy rules of schema/README.md. Changes are announced on the channel latch_invalidate with
-- the tenant id as payload, so every node drops its cached view of that tenant.

-- Signing keys: the private key is PKCS#8 DER sealed with AES-256-GCM under LATCH_SECRET_KEY
-- (iv || ciphertext || tag, bound to tenant id and key id as additional data).
CREATE TABLE signing_keys (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id varchar(64) NOT NULL,            -- the JWK kid (RFC 7638 thumbprint)
    algorithm varchar(16) NOT NULL
        CONSTRAINT signing_keys_algorithm CHECK (algorithm IN ('EC', 'EC-P256', 'RSA', 'Ed25519')),
    state varchar(16) NOT NULL
        CONSTRAINT signing_keys_state CHECK (state IN ('next', 'current', 'previous')),
    private_key bytea NOT NULL,
    public_jwk jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,             -- previous keys leave the JWKS at this time
    PRIMARY KEY (tenant_id, id)
);
-- At most one current and one next key per tenant.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (tenant_id) WHERE state = 'current';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (tenant_id) WHERE state = 'next';
SELECT latch_enable_tenancy('signing_keys');

CREATE TABLE applications (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id varchar(21) NOT NULL,
    name varchar(256) NOT NULL,
    description text,
    type varchar(32) NOT NULL
        CONSTRAINT applications_type CHECK (type IN ('Native', 'SPA', 'Traditional', 'MachineToMachine')),
    oidc_client_metadata jsonb NOT NULL DEFAULT '{"redirectUris": [], "postLogoutRedirectUris": []}',
    custom_client_metadata jsonb NOT NULL DEFAULT '{}',
    custom_data jsonb NOT NULL DEFAULT '{}',
    is_third_party boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
SELECT latch_enable_tenancy('applications');

-- Client secrets: only a keyed hash (HMAC-SHA-256 under a key derived from LATCH_SECRET_KEY) is
-- stored; the secret itself is shown once, when it is created.
CREATE TABLE application_secrets (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    application_id varchar(21) NOT NULL,
    name varchar(256) NOT NULL,
    secret_hash bytea NOT NULL,
    secret_hint varchar(16) NOT NULL,   -- the first characters, to tell secrets apart
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    PRIMARY KEY (tenant_id, application_id, name),
    FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE
);
SELECT latch_enable_tenancy('application_secrets');

CREATE TABLE resources (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id varchar(21) NOT NULL,
    name text NOT NULL,
    indicator text NOT NULL,
    is_default boolean NOT NULL DEFAULT false,
    access_token_ttl bigint NOT NULL DEFAULT 3600
        CONSTRAINT resources_ttl CHECK (access_token_ttl BETWEEN 1 AND 31536000),
    is_management boolean NOT NULL DEFAULT false, -- the tenant's own Management API
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT resources_indicator UNIQUE (tenant_id, indicator)
);
CREATE UNIQUE INDEX resources_one_default ON resources (tenant_id) WHERE is_default;
CREATE UNIQUE INDEX resources_one_management ON resources (tenant_id) WHERE is_management;
SELECT latch_enable_tenancy('resources');

CREATE TABLE scopes (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id varchar(21) NOT NULL,
    resource_id varchar(21) NOT NULL,
    name varchar(256) NOT NULL,
    description text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT scopes_name UNIQUE (tenant_id, resource_id, name),
    FOREIGN KEY (tenant_id, resource_id) REFERENCES resources (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE
);
SELECT latch_enable_tenancy('scopes');

CREATE TABLE roles (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id varchar(21) NOT NULL,
    name varchar(128) NOT NULL,
    description text NOT NULL DEFAULT '',
    type varchar(32) NOT NULL DEFAULT 'User'
        CONSTRAINT roles_type CHECK (type IN ('MachineToMachine', 'User')),
    is_default boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT roles_name UNIQUE (tenant_id, name),
    -- lets applications_roles check the role type with a foreign key
    CONSTRAINT roles_id_type UNIQUE (tenant_id, id, type)
);
SELECT latch_enable_tenancy('roles');

CREATE TABLE roles_scopes (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    role_id varchar(21) NOT NULL,
    scope_id varchar(21) NOT NULL,
    PRIMARY KEY (tenant_id, role_id, scope_id),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, scope_id) REFERENCES scopes (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE
);
SELECT latch_enable_tenancy('roles_scopes');

-- Only MachineToMachine roles may be given to applications (as in Logto).
CREATE TABLE applications_roles (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    application_id varchar(21) NOT NULL,
    role_id varchar(21) NOT NULL,
    role_type varchar(32) NOT NULL DEFAULT 'MachineToMachine'
        CONSTRAINT applications_roles_m2m CHECK (role_type = 'MachineToMachine'),
    PRIMARY KEY (tenant_id, application_id, role_id),
    FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, role_id, role_type) REFERENCES roles (tenant_id, id, type)
        ON UPDATE CASCADE ON DELETE CASCADE
);
SELECT latch_enable_tenancy('applications_roles');

-- Every change to a tenant's OIDC data tells every node (delivered at commit, once per payload
-- per transaction).
CREATE FUNCTION latch_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('latch_invalidate', OLD.tenant_id);
    ELSE
        PERFORM pg_notify('latch_invalidate', NEW.tenant_id);
    END IF;
    RETURN NULL;
END $$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['signing_keys', 'applications', 'application_secrets', 'resources',
                             'scopes', 'roles', 'roles_scopes', 'applications_roles', 'configs']
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I '
                       'FOR EACH ROW EXECUTE FUNCTION latch_notify_change()', t || '_notify', t);
    END LOOP;
END $$;

CREATE FUNCTION latch_notify_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('latch_invalidate', coalesce(NEW.id, OLD.id));
    RETURN NULL;
END $$;
CREATE TRIGGER tenants_notify AFTER UPDATE OR DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION latch_notify_tenant();

-- Makes sure a tenant has its Management API: the resource (indicator = <tenant endpoint>/api),
-- its `all` scope, and the MachineToMachine role that grants it. Idempotent; keeps the indicator
-- in step with the public URL. Runs with the tenant set (latch.tenant_id), as every query does.
CREATE FUNCTION latch_bootstrap_tenant(tid text, api_indicator text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    rid text;
    sid text;
    roleid text;
BEGIN
    SELECT id INTO rid FROM resources WHERE tenant_id = tid AND is_management;
    IF rid IS NULL THEN
        rid := 'management-api';
        INSERT INTO resources (tenant_id, id, name, indicator, is_management, access_token_ttl)
        VALUES (tid, rid, 'Latch Management API', api_indicator, true, 3600);
    ELSE
        UPDATE resources SET indicator = api_indicator
         WHERE tenant_id = tid AND id = rid AND indicator <> api_indicator;
    END IF;
    SELECT id INTO sid FROM scopes WHERE tenant_id = tid AND resource_id = rid AND name = 'all';
    IF sid IS NULL THEN
        sid := 'management-api-all';
        INSERT INTO scopes (tenant_id, id, resource_id, name, description)
        VALUES (tid, sid, rid, 'all', 'Default scope for Management API, allows all permissions.');
    END IF;
    SELECT id INTO roleid FROM roles WHERE tenant_id = tid AND id = 'management-api-access';
    IF roleid IS NULL THEN
        roleid := 'management-api-access';
        INSERT INTO roles (tenant_id, id, name, description, type)
        VALUES (tid, roleid, 'Management API access',
                'Full access to the Management API of this tenant.', 'MachineToMachine');
        INSERT INTO roles_scopes (tenant_id, role_id, scope_id) VALUES (tid, roleid, sid);
    END IF;
    RETURN rid;
END $$;

-- A tenant's first keys: a current key and the next one (published ahead in the JWKS so that
-- clients already know it when it becomes current). Does nothing when the tenant has keys.
CREATE FUNCTION latch_init_keys(tid text,
                                cur_kid text, cur_alg text, cur_key bytea, cur_jwk jsonb,
                                nxt_kid text, nxt_alg text, nxt_key bytea, nxt_jwk jsonb)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM signing_keys WHERE tenant_id = tid AND state = 'current') THEN
        RETURN false;
    END IF;
    INSERT INTO signing_keys (tenant_id, id, algorithm, state, private_key, public_jwk)
    VALUES (tid, cur_kid, cur_alg, 'current', cur_key, cur_jwk),
           (tid, nxt_kid, nxt_alg, 'next', nxt_key, nxt_jwk);
    RETURN true;
END $$;

-- Rotation (Logto's private-keys/rotate): the next key becomes current when it has the wanted
-- algorithm, else the freshly generated one does; the old current key stays in the JWKS as
-- previous until the grace period ends; a new next key is published. Expired keys go.
CREATE FUNCTION latch_rotate_keys(tid text, grace_seconds bigint,
                                  new_kid text, new_alg text, new_key bytea, new_jwk jsonb,
                                  nxt_kid text, nxt_alg text, nxt_key bytea, nxt_jwk jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    promoted text;
BEGIN
    DELETE FROM signing_keys
     WHERE tenant_id = tid AND state = 'previous' AND expires_at <= now();
    UPDATE signing_keys SET state = 'previous', expires_at = now() + make_interval(secs => grace_seconds)
     WHERE tenant_id = tid AND state = 'current';
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

-- The key list of the Management API (GET /api/configs/oidc/private-keys), newest first.
CREATE FUNCTION latch_keys_json(tid text) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object(
               'id', id,
               'signingKeyAlgorithm', algorithm,
               'state', state,
               'createdAt', (extract(epoch FROM created_at) * 1000)::bigint,
               'expiresAt', (extract(epoch FROM expires_at) * 1000)::bigint)
             ORDER BY CASE state WHEN 'next' THEN 0 WHEN 'current' THEN 1 ELSE 2 END,
                      created_at DESC), '[]'::json)
      FROM signing_keys
     WHERE tenant_id = tid AND (expires_at IS NULL OR expires_at > now())
$$;
