-- 0007_bootstrap_concurrency: latch_bootstrap_tenant safe under concurrency (issue 10). Every
-- node runs it when it first loads a tenant, and with LATCH_BOOTSTRAP_CLIENT_ID at start-up, so
-- two nodes (or two loop threads of one node) starting on a fresh database ran it at the same
-- moment: both found no Management API resource, both inserted it, and the second failed with
-- a unique violation (the node did not start, or the request answered an error). Now the
-- common case (everything is there) takes no lock; otherwise callers for one tenant take a
-- transaction-scoped advisory lock and check again, so the second one finds the first one's
-- rows.

CREATE OR REPLACE FUNCTION latch_bootstrap_tenant(tid text, api_indicator text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    rid text;
    sid text;
    roleid text;
BEGIN
    SELECT r.id INTO rid FROM resources r
     WHERE r.tenant_id = tid AND r.is_management AND r.indicator = api_indicator
       AND EXISTS (SELECT 1 FROM scopes s
                    WHERE s.tenant_id = tid AND s.resource_id = r.id AND s.name = 'all')
       AND EXISTS (SELECT 1 FROM roles o
                    WHERE o.tenant_id = tid AND o.id = 'management-api-access');
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
    RETURN rid;
END $$;
