-- 0018_logs_lighter: an audit-log row costs the database less to write (issue 14: token grants
-- must keep 90% of their rate with the audit log on; at ~20,000 grants/s on two cores every
-- microsecond of a row counts).
--
-- 1. No foreign key from logs to tenants. Its check runs per inserted row (a lookup of the tenant
--    that also locks it FOR KEY SHARE) and was about a third of a row's cost. What the key gave,
--    the cascade when a tenant is deleted or renamed, a trigger on tenants now does
--    (logs__tenant_cascade), and the tenancy rules accept that trigger in place of the key
--    (latch_tenancy_problems below; schema/README.md). A row's tenant is the writer's
--    latch.tenant_id, which row-level security checks on every insert, so no row can name a
--    tenant other than the one the writer selected; rows of a tenant that does not exist cannot
--    be written by latchd, which only writes for tenants it resolved.
-- 2. The userId index holds only rows with a user: a client-credentials grant (no user) skips
--    it. A query for a user's entries (payload ->> 'userId' = $x) implies the index's predicate.

CREATE OR REPLACE FUNCTION latch_tenancy_problems(tbl regclass) RETURNS SETOF text
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
                      AND confupdtype = 'c' AND confdeltype = 'c')
       -- or, for an append-only table whose per-row key check would cost more than its row
       -- (logs), a trigger on tenants that does the cascade: <table>__tenant_cascade, named
       -- after the partitioned table for each of its partitions.
       AND NOT EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = pg_partition_root(tbl)
                        WHERE t.tgrelid = 'tenants'::regclass AND NOT t.tgisinternal
                          AND t.tgname = c.relname || '__tenant_cascade'
                          AND t.tgenabled <> 'D') THEN
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

-- The cascade of a tenant's deletion or renaming to its audit-log rows. Row-level security binds
-- these statements too (forced, even for the owner), so each runs with latch.tenant_id set to the
-- tenant it touches, and the caller's setting is restored afterwards.
CREATE FUNCTION latch_logs_tenant_cascade() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    prev text := coalesce(current_setting('latch.tenant_id', true), '');
    moved logs[];
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id IS NOT DISTINCT FROM OLD.id THEN
        RETURN NEW;
    END IF;
    PERFORM set_config('latch.tenant_id', OLD.id, true);
    IF TG_OP = 'DELETE' THEN
        DELETE FROM logs WHERE tenant_id = OLD.id;
    ELSE
        WITH gone AS (DELETE FROM logs WHERE tenant_id = OLD.id RETURNING *)
        SELECT array_agg(ROW(g.tenant_id, g.id, g.key, g.payload, g.created_at)::logs)
          INTO moved FROM gone AS g;
        PERFORM set_config('latch.tenant_id', NEW.id, true);
        INSERT INTO logs (tenant_id, id, key, payload, created_at)
        SELECT NEW.id, m.id, m.key, m.payload, m.created_at FROM unnest(moved) AS m;
    END IF;
    PERFORM set_config('latch.tenant_id', prev, true);
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

CREATE TRIGGER logs__tenant_cascade AFTER DELETE OR UPDATE OF id ON tenants
    FOR EACH ROW EXECUTE FUNCTION latch_logs_tenant_cascade();

ALTER TABLE logs DROP CONSTRAINT logs_tenant_id_fkey;

DROP INDEX logs__user_id;
CREATE INDEX logs__user_id ON logs (tenant_id, (payload ->> 'userId'), created_at DESC)
    WHERE (payload ->> 'userId') IS NOT NULL;
