-- The audit log (Logto: logs): one row per recorded event — a token grant, a step of a sign-in,
-- a Management API change — with Logto's log key and payload ({key, result, error?, ip,
-- userAgent, applicationId, userId, ...}; never a secret, password, code or token: see
-- docs/events.md "Audit log"). Rows are written in batches by each loop thread (core/audit/).
--
-- Partitioned by day (UTC) on created_at, so that retention drops whole partitions instead of
-- running long DELETEs: latch_logs_maintain() creates the coming days' partitions and drops
-- those past LATCH_LOG_RETENTION_DAYS; each latchd node calls it periodically, and an advisory
-- lock lets one node at a time do it. There is no default partition: a row always lands in its
-- day's partition (created days ahead), and expired rows never hide in a partition that is not
-- dropped by date.
--
-- Row-level security: a query through `logs` is bound by the parent's policy; a partition read
-- or written directly would be bound by its own policies only, so every partition gets the same
-- tenant_isolation policy when it is created (latch_logs_partition()).
CREATE TABLE logs (
    tenant_id varchar(21) NOT NULL
        REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id varchar(21) NOT NULL,
    key varchar(128) NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    -- A partitioned table's unique keys must hold the partition key.
    PRIMARY KEY (tenant_id, id, created_at)
) PARTITION BY RANGE (created_at);
SELECT latch_enable_tenancy('logs');

-- GET /api/logs: newest first, filtered by key, user or application.
CREATE INDEX logs__created_at ON logs (tenant_id, created_at DESC, id DESC);
CREATE INDEX logs__key ON logs (tenant_id, key, created_at DESC);
CREATE INDEX logs__user_id ON logs (tenant_id, (payload ->> 'userId'), created_at DESC);
CREATE INDEX logs__application_id
    ON logs (tenant_id, (payload ->> 'applicationId'), created_at DESC);

-- Creates the partition of one UTC day (logs_pYYYYMMDD) under row-level security, unless it
-- exists. Returns whether it created it.
CREATE FUNCTION latch_logs_partition(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'logs_p' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(quote_ident(part)) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF logs FOR VALUES FROM (%L) TO (%L)', part,
                   day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
    PERFORM latch_enable_tenancy(quote_ident(part)::regclass);
    RETURN true;
END
$$;

-- Retention: creates the partitions from yesterday to days_ahead days from now (UTC) and drops
-- every day partition whose whole day is older than retention_days. One caller at a time (a
-- transaction advisory lock, "LATCHLOG"): another caller gets (-1, -1) at once and does
-- nothing. Waits at most a few seconds for a lock on `logs` (a long query on it makes this run
-- give up, and the next one try again) rather than queueing every writer behind it.
CREATE FUNCTION latch_logs_maintain(retention_days integer, days_ahead integer)
RETURNS TABLE (created integer, dropped integer)
LANGUAGE plpgsql AS $$
DECLARE
    today date := (now() AT TIME ZONE 'UTC')::date;
    horizon timestamptz := now() - make_interval(days => retention_days);
    part record;
    n_created integer := 0;
    n_dropped integer := 0;
BEGIN
    IF retention_days < 1 OR days_ahead < 0 OR days_ahead > 366 THEN
        RAISE EXCEPTION 'latch_logs_maintain: retention_days must be >= 1, days_ahead 0..366';
    END IF;
    IF NOT pg_try_advisory_xact_lock(x'4c415443484c4f47'::bigint) THEN
        RETURN QUERY SELECT -1, -1;
        RETURN;
    END IF;
    PERFORM set_config('lock_timeout', '5s', true);
    FOR i IN -1..days_ahead LOOP
        IF latch_logs_partition(today + i) THEN
            n_created := n_created + 1;
        END IF;
    END LOOP;
    FOR part IN SELECT c.relname FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
                 WHERE h.inhparent = 'logs'::regclass AND c.relname ~ '^logs_p[0-9]{8}$'
                 ORDER BY c.relname
    LOOP
        IF ((to_date(substr(part.relname, 7), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC')
           <= horizon THEN
            EXECUTE format('DROP TABLE %I', part.relname);
            n_dropped := n_dropped + 1;
        END IF;
    END LOOP;
    RETURN QUERY SELECT n_created, n_dropped;
END
$$;

-- The partitions of the first days; latchd keeps them coming (LATCH_LOG_MAINTENANCE_SECONDS).
SELECT count(*) FROM generate_series(-1, 7) AS i
 WHERE latch_logs_partition((now() AT TIME ZONE 'UTC')::date + i);
