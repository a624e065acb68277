-- 0009_sentinel_user_rate_limits: per-tenant throttling limits in the sign-in experience (Latch's
-- `rateLimits`, {passwordFailuresPerIpPerMinute, registrationChecksPerIpPerMinute}; a member that
-- is absent means the node's LATCH_LIMIT_* variable). An added column with a default, so the
-- previous release keeps working during a rolling upgrade.
--
-- No table change for the sentinel: from this release sentinel_activities rows are keyed by the
-- SHA-256 of "user:<id>" when the identifier typed names a user (every identifier of that user
-- shares the count and the lockout) and, as before, of "<type>:<lowercased value>" when it names
-- nobody. Rows written by the previous release for an existing user's identifier are no longer
-- consulted; they expire with their window (an hour) or lockout.

ALTER TABLE sign_in_experiences ADD COLUMN rate_limits jsonb NOT NULL DEFAULT '{}';
