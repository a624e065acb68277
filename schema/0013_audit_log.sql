-- Placeholder so that 0015_console applies on branch h13-console alone: the real audit_log migration
-- lands from its own branch; the integrator drops this file at merge.
SELECT 1;
