-- 0001_tenants: the tenants table (the one global table), the helpers that put every other table
-- under tenant isolation, and the first tenant-owned table, configs. The rules these implement
-- are in schema/README.md; every later migration follows them.

CREATE TABLE tenants (
    id varchar(21) PRIMARY KEY
        CONSTRAINT tenants_id_format CHECK (id ~ '^[a-z0-9]([a-z0-9-]{0,19}[a-z0-9])?$'),
    name text NOT NULL
        CONSTRAINT tenants_name_length CHECK (char_length(name) BETWEEN 1 AND 256),
    created_at timestamptz NOT NULL DEFAULT now(),
    is_suspended boolean NOT NULL DEFAULT false
);

INSERT INTO tenants (id, name) VALUES ('default', 'Default') ON CONFLICT DO NOTHING;

-- Everything that breaks the tenancy rules for one table, one row per problem (none = compliant).
CREATE FUNCTION latch_tenancy_problems(tbl regclass) RETURNS SETOF text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    rel record;
    tenant_att smallint;
    first_att name;
    r record;
BEGIN
    SELECT relkind, relrowsecurity, relforcerowsecurity INTO rel FROM pg_class WHERE oid = tbl;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RETURN NEXT 'is not a table';
        RETURN;
    END IF;

    SELECT attname INTO first_att FROM pg_attribute
     WHERE attrelid = tbl AND attnum > 0 AND NOT attisdropped
     ORDER BY attnum LIMIT 1;
    SELECT attnum INTO tenant_att FROM pg_attribute
     WHERE attrelid = tbl AND attname = 'tenant_id' AND NOT attisdropped;
    IF tenant_att IS NULL THEN
        RETURN NEXT 'has no tenant_id column';
        RETURN;
    END IF;
    IF first_att IS DISTINCT FROM 'tenant_id' THEN
        RETURN NEXT 'tenant_id is not the first column';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_attribute
                    WHERE attrelid = tbl AND attnum = tenant_att AND attnotnull
                      AND format_type(atttypid, atttypmod) = 'character varying(21)') THEN
        RETURN NEXT 'tenant_id is not varchar(21) not null';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                    WHERE conrelid = tbl AND contype = 'f' AND confrelid = 'tenants'::regclass
                      AND conkey = ARRAY[tenant_att]
                      AND confupdtype = 'c' AND confdeltype = 'c') THEN
        RETURN NEXT 'tenant_id does not reference tenants (id) on update cascade on delete cascade';
    END IF;

    -- Foreign-key checks bypass row-level security, so a key to another tenant-owned table must
    -- match on tenant_id too, or a row could point at another tenant's row.
    FOR r IN SELECT c.conname, c.confrelid::regclass AS target FROM pg_constraint c
               JOIN pg_attribute ta ON ta.attrelid = c.confrelid AND ta.attname = 'tenant_id'
                                   AND NOT ta.attisdropped
              WHERE c.conrelid = tbl AND c.contype = 'f' AND c.confrelid <> 'tenants'::regclass
                AND NOT EXISTS (SELECT 1 FROM generate_subscripts(c.conkey, 1) AS k
                                 WHERE c.conkey[k] = tenant_att AND c.confkey[k] = ta.attnum)
    LOOP
        RETURN NEXT format('foreign key %I to %s does not match on tenant_id', r.conname, r.target);
    END LOOP;

    -- A unique key without tenant_id would let one tenant learn about another's rows.
    FOR r IN SELECT i.indexrelid::regclass AS idx FROM pg_index i
              WHERE i.indrelid = tbl AND i.indisunique
                AND NOT EXISTS (SELECT 1 FROM generate_series(0, i.indnkeyatts - 1) AS k
                                 WHERE i.indkey[k] = tenant_att)
    LOOP
        RETURN NEXT format('unique index %s does not include tenant_id', r.idx);
    END LOOP;

    IF NOT rel.relrowsecurity THEN
        RETURN NEXT 'row level security is not enabled';
    END IF;
    IF NOT rel.relforcerowsecurity THEN
        RETURN NEXT 'row level security is not forced';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_policy
                    WHERE polrelid = tbl AND polname = 'tenant_isolation' AND polpermissive
                      AND polcmd = '*' AND polroles = '{0}'
                      AND polqual IS NOT NULL AND polwithcheck IS NOT NULL) THEN
        RETURN NEXT 'has no tenant_isolation policy (use latch_enable_tenancy)';
    END IF;
    -- Permissive policies are OR-ed together: any other one widens what a tenant can see.
    FOR r IN SELECT polname FROM pg_policy
              WHERE polrelid = tbl AND polpermissive AND polname <> 'tenant_isolation'
    LOOP
        RETURN NEXT format('permissive policy %I would widen tenant_isolation', r.polname);
    END LOOP;
END
$$;

-- Every table of the current schema that breaks the rules. The migration runner calls this at the
-- end of each migration and refuses to commit one that leaves a violation behind. Exempt: tenants,
-- latch_migrations, and tables whose comment starts with 'latch:global' (see README).
CREATE FUNCTION latch_tenancy_violations() RETURNS TABLE (tbl regclass, problem text)
LANGUAGE sql STABLE AS $$
    SELECT c.oid::regclass, p.problem
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     CROSS JOIN LATERAL latch_tenancy_problems(c.oid::regclass) AS p(problem)
     WHERE n.nspname = current_schema()
       AND c.relkind IN ('r', 'p')
       AND NOT c.relispartition
       AND c.relname NOT IN ('tenants', 'latch_migrations')
       AND coalesce(obj_description(c.oid, 'pg_class'), '') NOT LIKE 'latch:global%'
     ORDER BY c.relname, p.problem
$$;

-- Puts a tenant-owned table under row-level security: only rows whose tenant_id equals the
-- transaction's `latch.tenant_id` setting are visible or writable; with the setting unset or
-- empty, no row is. FORCE makes the rule hold for the table's owner too (superusers and
-- BYPASSRLS roles still bypass it, which is why Latch must not connect as one).
CREATE FUNCTION latch_enable_tenancy(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    problems text;
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format($p$CREATE POLICY tenant_isolation ON %s AS PERMISSIVE FOR ALL TO PUBLIC
                       USING (tenant_id = current_setting('latch.tenant_id', true))
                       WITH CHECK (tenant_id = current_setting('latch.tenant_id', true))$p$, tbl);
    SELECT string_agg(p, '; ') INTO problems FROM latch_tenancy_problems(tbl) AS p;
    IF problems IS NOT NULL THEN
        RAISE EXCEPTION 'table % breaks the tenancy rules: %', tbl, problems
            USING HINT = 'See schema/README.md.';
    END IF;
END
$$;

-- Per-tenant settings by key (Logto: logto_configs), e.g. admin console or cookie keys.
CREATE TABLE configs (
    tenant_id varchar(21) NOT NULL
        REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    key varchar(256) NOT NULL,
    value jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, key)
);
SELECT latch_enable_tenancy('configs');
