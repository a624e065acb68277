-- Webhooks (issue 14): Logto's `hooks` (/api/hooks), a transactional outbox of the events each
-- hook must receive, and the log of every delivery attempt (/api/hooks/:id/recent-logs,
-- includeExecutionStats). An event is written by latch_hook_emit() in the same transaction as
-- the change it reports, so a change rolled back emits nothing; any node delivers it
-- (core/mgmt/hook_delivery.c) with latch_hook_claim().

CREATE TABLE hooks (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id varchar(21) NOT NULL,
    name varchar(256) NOT NULL DEFAULT '',
    event varchar(128),                  -- Logto's deprecated single event, kept for its shape
    events jsonb NOT NULL DEFAULT '[]',  -- event names, checked by core/mgmt/hooks.c
    config jsonb NOT NULL,               -- {url, headers?, retries?}
    -- Stored as Logto stores it: GET /api/hooks/:id gives it back to the tenant's admin.
    signing_key varchar(64) NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX hooks_created ON hooks (tenant_id, created_at);
SELECT latch_enable_tenancy('hooks');

-- The outbox: one row per (event, hook), ordered per hook by id. A row is claimed by a node
-- for a lease (locked_until); a node that dies mid-delivery loses its lease and another node
-- delivers the event again (at least once).
CREATE TABLE hook_deliveries (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id bigint GENERATED ALWAYS AS IDENTITY,
    hook_id varchar(21) NOT NULL,
    event varchar(128) NOT NULL,
    body text NOT NULL,                  -- the exact JSON that is signed and sent
    state varchar(16) NOT NULL DEFAULT 'pending'
        CONSTRAINT hook_deliveries_state CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, hook_id) REFERENCES hooks (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX hook_deliveries_pending ON hook_deliveries (tenant_id, hook_id, id)
    WHERE state = 'pending';
CREATE INDEX hook_deliveries_done ON hook_deliveries (tenant_id, created_at)
    WHERE state <> 'pending';
SELECT latch_enable_tenancy('hook_deliveries');

-- Every attempt, in the shape of Logto's `logs` rows with key TriggerHook.<event>.
CREATE TABLE hook_logs (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id bigint GENERATED ALWAYS AS IDENTITY,
    hook_id varchar(21) NOT NULL,
    key varchar(160) NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX hook_logs_hook ON hook_logs (tenant_id, hook_id, created_at);
SELECT latch_enable_tenancy('hook_logs');

-- Fans p_event out to every enabled hook of the transaction's tenant that subscribes to it:
-- one outbox row each, whose body is p_head (a JSON object without its closing brace) then
-- p_tail (members starting with a comma), then the hook's id. Nothing is written when p_tail is
-- NULL (what the event reports does not exist: the change did not happen). Wakes the nodes'
-- deliverers with a NOTIFY, which PostgreSQL sends only if the transaction commits.
CREATE FUNCTION latch_hook_emit(p_event text, p_head text, p_tail text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
    t text := current_setting('latch.tenant_id', true);
BEGIN
    IF p_tail IS NULL OR t IS NULL OR t = '' THEN
        RETURN 0;
    END IF;
    INSERT INTO hook_deliveries (tenant_id, hook_id, event, body)
    SELECT h.tenant_id, h.id, p_event, p_head || p_tail || ',"hookId":' || to_json(h.id)::text || '}'
      FROM hooks h
     WHERE h.tenant_id = t AND h.enabled
       AND (h.events ? p_event OR (h.events = '[]' AND h.event = p_event));
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        PERFORM pg_notify('latch_hooks', t);
    END IF;
    RETURN n;
END
$$;

-- Claims up to p_limit deliveries that are due, for p_lease_ms, in p_tenant or (NULL) in every
-- tenant: per hook only the oldest pending event, and only while no attempt of that hook holds
-- a lease, so each hook has at most one delivery in flight and receives its events in order.
-- Rows another node is claiming right now are skipped (FOR UPDATE SKIP LOCKED), and a row
-- claimed since this snapshot fails the recheck of its lease. Deliveries finished more than a
-- day ago, and attempts logged more than 7 days ago, are removed on the way (at most 100 of each
-- per tenant and call). The candidates are looked up by key (the heads first, then their rows),
-- never joined: the planner, which sees few rows in these busy tables, would otherwise scan
-- every pending row once per candidate.
CREATE FUNCTION latch_hook_claim(p_tenant text, p_limit integer, p_lease_ms integer)
RETURNS TABLE (tenant_id text, id bigint, hook_id text, event text, body text, url text,
               headers text, signing_key text, attempts integer, age_ms bigint)
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    left_ integer := p_limit;
    got integer;
    heads bigint[];
BEGIN
    -- A claim lost in a database crash only loses its lease: the event is claimed again, which
    -- at-least-once delivery allows. So this commit need not wait for the disk.
    PERFORM set_config('synchronous_commit', 'off', true);
    FOR t IN SELECT x.id FROM tenants x WHERE p_tenant IS NULL OR x.id = p_tenant ORDER BY random()
    LOOP
        EXIT WHEN left_ <= 0;
        PERFORM set_config('latch.tenant_id', t.id, true);
        WITH old AS MATERIALIZED (
            SELECT d.tenant_id, d.id FROM hook_deliveries d
             WHERE d.tenant_id = t.id AND d.state <> 'pending'
               AND d.created_at < now() - interval '1 day' LIMIT 100)
        DELETE FROM hook_deliveries o USING old
         WHERE o.tenant_id = old.tenant_id AND o.id = old.id;
        WITH old AS MATERIALIZED (
            SELECT l.tenant_id, l.id FROM hook_logs l
             WHERE l.tenant_id = t.id AND l.created_at < now() - interval '7 days' LIMIT 100)
        DELETE FROM hook_logs o USING old
         WHERE o.tenant_id = old.tenant_id AND o.id = old.id;
        -- Each hook's oldest pending event: one index probe per hook.
        SELECT array_agg(x.id) INTO heads FROM hooks h
         CROSS JOIN LATERAL (SELECT y.id FROM hook_deliveries y
              WHERE y.tenant_id = h.tenant_id AND y.hook_id = h.id AND y.state = 'pending'
              ORDER BY y.id LIMIT 1) x
         WHERE h.tenant_id = t.id;
        CONTINUE WHEN heads IS NULL;
        RETURN QUERY
        WITH pick AS MATERIALIZED (
            SELECT z.tenant_id, z.id FROM hook_deliveries z
             WHERE z.tenant_id = t.id AND z.id = ANY (heads)
               AND z.state = 'pending' AND z.next_attempt_at <= now()
               AND (z.locked_until IS NULL OR z.locked_until < now())
             ORDER BY z.id LIMIT left_ FOR UPDATE SKIP LOCKED),
        c AS (
            UPDATE hook_deliveries d
               SET locked_until = now() + make_interval(secs => p_lease_ms / 1000.0),
                   attempts = d.attempts + 1
              FROM pick
             WHERE d.tenant_id = pick.tenant_id AND d.id = pick.id
            RETURNING d.tenant_id, d.id, d.hook_id, d.event, d.body, d.attempts, d.created_at)
        SELECT c.tenant_id::text, c.id, c.hook_id::text, c.event::text, c.body,
               h.config->>'url', coalesce(h.config->'headers', '{}')::text, h.signing_key::text,
               c.attempts, (extract(epoch FROM now() - c.created_at) * 1000)::bigint
          FROM c JOIN hooks h ON h.tenant_id = c.tenant_id AND h.id = c.hook_id;
        GET DIAGNOSTICS got = ROW_COUNT;
        left_ := left_ - got;
    END LOOP;
    PERFORM set_config('latch.tenant_id', '', true);
END
$$;

-- Organization.Membership.Updated is emitted only by a transaction that added or removed a
-- member: these statement triggers mark such a transaction (latch.members_changed, local to it),
-- whatever statement of the Management API made the change.
CREATE FUNCTION latch_hook_mark_members() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed) THEN
        PERFORM set_config('latch.members_changed', 'on', true);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER hook_members_added AFTER INSERT ON organization_user_relations
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION latch_hook_mark_members();
CREATE TRIGGER hook_members_removed AFTER DELETE ON organization_user_relations
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION latch_hook_mark_members();
CREATE TRIGGER hook_apps_added AFTER INSERT ON organization_application_relations
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION latch_hook_mark_members();
CREATE TRIGGER hook_apps_removed AFTER DELETE ON organization_application_relations
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION latch_hook_mark_members();
