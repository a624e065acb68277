-- Webhooks (issue 14): Role.Scopes.Updated and OrganizationRole.Scopes.Updated, Logto's events
-- of the routes that grant or take scopes from a role (POST, DELETE /api/roles/:id/scopes…; POST,
-- PUT, DELETE /api/organization-roles/:id/scopes…). As Organization.Membership.Updated
-- (0014_hooks.sql), the event is emitted by the route's own transaction only when that
-- transaction changed a grant: these statement triggers mark it (a setting local to the
-- transaction, named by the trigger's argument), whatever statement made the change. A request
-- that stopped at a problem, or added nothing, changed no row and emits nothing.

CREATE FUNCTION latch_hook_mark_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed) THEN
        PERFORM set_config('latch.' || TG_ARGV[0], 'on', true);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER hook_role_scopes_added AFTER INSERT ON roles_scopes
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION latch_hook_mark_changed('role_scopes_changed');
CREATE TRIGGER hook_role_scopes_removed AFTER DELETE ON roles_scopes
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION latch_hook_mark_changed('role_scopes_changed');
CREATE TRIGGER hook_org_role_scopes_added AFTER INSERT ON organization_role_scope_relations
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION latch_hook_mark_changed('organization_role_scopes_changed');
CREATE TRIGGER hook_org_role_scopes_removed AFTER DELETE ON organization_role_scope_relations
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION latch_hook_mark_changed('organization_role_scopes_changed');
