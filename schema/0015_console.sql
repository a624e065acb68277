-- 0015_console: the admin console (issue 13). Every tenant gets, from latch_bootstrap_tenant
-- (run by every node when it first loads a tenant, so existing tenants get them on upgrade):
--   * the reserved first-party SPA application `admin-console` the console signs in with
--     (authorization code + PKCE, redirect URI <tenant endpoint>/console/callback, post-logout
--     redirect URI <tenant endpoint>/console); the Management API refuses to delete it or to
--     change its type or redirect URIs (core/mgmt/applications.c);
--   * the reserved User role `console-admin` holding the Management API's `all` scope: the
--     tenant's administrators are the users holding it (Logto's model: a user role granting the
--     Management API permission). No other User role may hold a Management API scope (the
--     Management API refuses it, as Logto does); this one is seeded here and cannot be deleted
--     nor lose that scope through the API (core/mgmt/roles.c).
-- And the one-time links `latchctl admin create` prints to set an administrator's password.

CREATE OR REPLACE FUNCTION latch_bootstrap_tenant(tid text, api_indicator text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    rid text;
    sid text;
    roleid text;
    endpoint text := left(api_indicator, length(api_indicator) - 4); -- without "/api"
    callback text := endpoint || '/console/callback';
    role_name text := 'Console administrator';
BEGIN
    SELECT r.id INTO rid FROM resources r
     WHERE r.tenant_id = tid AND r.is_management AND r.indicator = api_indicator
       AND EXISTS (SELECT 1 FROM scopes s
                    WHERE s.tenant_id = tid AND s.resource_id = r.id AND s.name = 'all')
       AND EXISTS (SELECT 1 FROM roles o
                    WHERE o.tenant_id = tid AND o.id = 'management-api-access')
       AND EXISTS (SELECT 1 FROM roles_scopes rs JOIN scopes s
                      ON s.tenant_id = rs.tenant_id AND s.id = rs.scope_id
                    WHERE rs.tenant_id = tid AND rs.role_id = 'console-admin'
                      AND s.resource_id = r.id AND s.name = 'all')
       AND EXISTS (SELECT 1 FROM applications a
                    WHERE a.tenant_id = tid AND a.id = 'admin-console' AND a.type = 'SPA'
                      AND a.oidc_client_metadata->'redirectUris' ? callback);
    IF rid IS NOT NULL THEN
        RETURN rid;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('latch_bootstrap_tenant:' || tid, 0));
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
    -- The console's administrators. A tenant may already have a role of that name.
    IF NOT EXISTS (SELECT 1 FROM roles WHERE tenant_id = tid AND id = 'console-admin') THEN
        IF EXISTS (SELECT 1 FROM roles WHERE tenant_id = tid AND name = role_name) THEN
            role_name := role_name || ' (console-admin)';
        END IF;
        INSERT INTO roles (tenant_id, id, name, description, type)
        VALUES (tid, 'console-admin', role_name,
                'Signs in to the admin console with full access to the Management API.', 'User');
    END IF;
    INSERT INTO roles_scopes (tenant_id, role_id, scope_id) VALUES (tid, 'console-admin', sid)
        ON CONFLICT DO NOTHING;
    -- The console's application: its redirect URIs follow the tenant endpoint (LATCH_PUBLIC_URL).
    INSERT INTO applications (tenant_id, id, name, description, type, oidc_client_metadata)
    VALUES (tid, 'admin-console', 'Admin console',
            'The admin console of this tenant (reserved).', 'SPA',
            jsonb_build_object('redirectUris', jsonb_build_array(callback),
                               'postLogoutRedirectUris', jsonb_build_array(endpoint || '/console')))
    ON CONFLICT (tenant_id, id) DO UPDATE SET type = 'SPA', oidc_client_metadata =
        applications.oidc_client_metadata || jsonb_build_object(
            'redirectUris', jsonb_build_array(callback),
            'postLogoutRedirectUris', jsonb_build_array(endpoint || '/console'));
    RETURN rid;
END $$;

-- One-time links to set a password (`latchctl admin create`). Only the SHA-256 of the link's
-- token is stored; setting the password marks the row used in the same statement, so a link
-- works once, and only until it expires.
CREATE TABLE password_links (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    token_hash bytea NOT NULL,
    user_id varchar(12) NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE INDEX password_links_user ON password_links (tenant_id, user_id);
SELECT latch_enable_tenancy('password_links');
