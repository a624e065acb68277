-- 0005_organizations: organizations for B2B SaaS, in Logto's model (docs.logto.io
-- "Organizations"). An organization is a customer company inside a tenant; its members are users
-- (and MachineToMachine applications) holding organization roles. Organization roles and
-- organization scopes are a tenant-wide template; a role grants organization scopes and may also
-- grant API-resource scopes. Invitations bring people in by email; just-in-time provisioning adds
-- new users whose verified email domain an organization claims.
--
-- Role types are checked by foreign keys, as users_roles and applications_roles do: a relation
-- row carries the type it requires and references (tenant_id, id, type).

-- Lets organization_application_relations require MachineToMachine applications by foreign key.
ALTER TABLE applications ADD CONSTRAINT applications_id_type UNIQUE (tenant_id, id, type);

CREATE TABLE organizations (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id varchar(21) NOT NULL,
    name varchar(128) NOT NULL,
    description varchar(256),
    custom_data jsonb NOT NULL DEFAULT '{}',
    is_mfa_required boolean NOT NULL DEFAULT false,
    branding jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX organizations_created ON organizations (tenant_id, created_at DESC, id);
SELECT latch_enable_tenancy('organizations');

CREATE TABLE organization_roles (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id varchar(21) NOT NULL,
    name varchar(128) NOT NULL,
    description varchar(256),
    type varchar(32) NOT NULL DEFAULT 'User'
        CONSTRAINT organization_roles_type CHECK (type IN ('User', 'MachineToMachine')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT organization_roles_name UNIQUE (tenant_id, name),
    CONSTRAINT organization_roles_id_type UNIQUE (tenant_id, id, type)
);
SELECT latch_enable_tenancy('organization_roles');

CREATE TABLE organization_scopes (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id varchar(21) NOT NULL,
    name varchar(128) NOT NULL,
    description varchar(256),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT organization_scopes_name UNIQUE (tenant_id, name)
);
SELECT latch_enable_tenancy('organization_scopes');

-- Organization role → organization scope.
CREATE TABLE organization_role_scope_relations (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    organization_role_id varchar(21) NOT NULL,
    organization_scope_id varchar(21) NOT NULL,
    PRIMARY KEY (tenant_id, organization_role_id, organization_scope_id),
    FOREIGN KEY (tenant_id, organization_role_id) REFERENCES organization_roles (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, organization_scope_id) REFERENCES organization_scopes (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE
);
SELECT latch_enable_tenancy('organization_role_scope_relations');

-- Organization role → API-resource scope (the scopes a member holds on a resource in the
-- organization's context).
CREATE TABLE organization_role_resource_scope_relations (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    organization_role_id varchar(21) NOT NULL,
    scope_id varchar(21) NOT NULL,
    PRIMARY KEY (tenant_id, organization_role_id, scope_id),
    FOREIGN KEY (tenant_id, organization_role_id) REFERENCES organization_roles (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, scope_id) REFERENCES scopes (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE
);
SELECT latch_enable_tenancy('organization_role_resource_scope_relations');

-- Membership of users.
CREATE TABLE organization_user_relations (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    organization_id varchar(21) NOT NULL,
    user_id varchar(12) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, organization_id, user_id),
    FOREIGN KEY (tenant_id, organization_id) REFERENCES organizations (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE INDEX organization_user_relations_user ON organization_user_relations (tenant_id, user_id);
SELECT latch_enable_tenancy('organization_user_relations');

-- A member's organization roles (User roles only); removing the membership removes them.
CREATE TABLE organization_role_user_relations (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    organization_id varchar(21) NOT NULL,
    organization_role_id varchar(21) NOT NULL,
    user_id varchar(12) NOT NULL,
    role_type varchar(32) NOT NULL DEFAULT 'User'
        CONSTRAINT organization_role_user_relations_user CHECK (role_type = 'User'),
    PRIMARY KEY (tenant_id, organization_id, organization_role_id, user_id),
    FOREIGN KEY (tenant_id, organization_id, user_id)
        REFERENCES organization_user_relations (tenant_id, organization_id, user_id)
        ON UPDATE CASCADE ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, organization_role_id, role_type)
        REFERENCES organization_roles (tenant_id, id, type) ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE INDEX organization_role_user_relations_user
    ON organization_role_user_relations (tenant_id, user_id, organization_id);
SELECT latch_enable_tenancy('organization_role_user_relations');

-- Membership of MachineToMachine applications.
CREATE TABLE organization_application_relations (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    organization_id varchar(21) NOT NULL,
    application_id varchar(21) NOT NULL,
    application_type varchar(32) NOT NULL DEFAULT 'MachineToMachine'
        CONSTRAINT organization_application_relations_m2m
        CHECK (application_type = 'MachineToMachine'),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, organization_id, application_id),
    FOREIGN KEY (tenant_id, organization_id) REFERENCES organizations (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, application_id, application_type)
        REFERENCES applications (tenant_id, id, type) ON UPDATE CASCADE ON DELETE CASCADE
);
SELECT latch_enable_tenancy('organization_application_relations');

-- An application member's organization roles (MachineToMachine roles only).
CREATE TABLE organization_role_application_relations (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    organization_id varchar(21) NOT NULL,
    organization_role_id varchar(21) NOT NULL,
    application_id varchar(21) NOT NULL,
    role_type varchar(32) NOT NULL DEFAULT 'MachineToMachine'
        CONSTRAINT organization_role_application_relations_m2m
        CHECK (role_type = 'MachineToMachine'),
    PRIMARY KEY (tenant_id, organization_id, organization_role_id, application_id),
    FOREIGN KEY (tenant_id, organization_id, application_id)
        REFERENCES organization_application_relations (tenant_id, organization_id, application_id)
        ON UPDATE CASCADE ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, organization_role_id, role_type)
        REFERENCES organization_roles (tenant_id, id, type) ON UPDATE CASCADE ON DELETE CASCADE
);
SELECT latch_enable_tenancy('organization_role_application_relations');

-- Invitations by email. status is stored as Pending, Accepted or Revoked, or Expired once
-- noticed; a Pending invitation past expires_at reads as Expired (the API computes it).
CREATE TABLE organization_invitations (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id varchar(21) NOT NULL,
    inviter_id varchar(12),
    invitee varchar(256) NOT NULL,
    accepted_user_id varchar(12),
    organization_id varchar(21) NOT NULL,
    status varchar(32) NOT NULL DEFAULT 'Pending'
        CONSTRAINT organization_invitations_status
        CHECK (status IN ('Pending', 'Accepted', 'Expired', 'Revoked')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, organization_id) REFERENCES organizations (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, inviter_id) REFERENCES users (tenant_id, id)
        ON UPDATE CASCADE ON DELETE SET NULL (inviter_id),
    FOREIGN KEY (tenant_id, accepted_user_id) REFERENCES users (tenant_id, id)
        ON UPDATE CASCADE ON DELETE SET NULL (accepted_user_id)
);
-- At most one pending invitation per invitee and organization (Logto's rule).
CREATE UNIQUE INDEX organization_invitations_pending
    ON organization_invitations (tenant_id, organization_id, lower(invitee))
    WHERE status = 'Pending';
SELECT latch_enable_tenancy('organization_invitations');

-- The organization roles an invitation gives once accepted.
CREATE TABLE organization_invitation_role_relations (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    organization_invitation_id varchar(21) NOT NULL,
    organization_role_id varchar(21) NOT NULL,
    role_type varchar(32) NOT NULL DEFAULT 'User'
        CONSTRAINT organization_invitation_role_relations_user CHECK (role_type = 'User'),
    PRIMARY KEY (tenant_id, organization_invitation_id, organization_role_id),
    FOREIGN KEY (tenant_id, organization_invitation_id)
        REFERENCES organization_invitations (tenant_id, id) ON UPDATE CASCADE ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, organization_role_id, role_type)
        REFERENCES organization_roles (tenant_id, id, type) ON UPDATE CASCADE ON DELETE CASCADE
);
SELECT latch_enable_tenancy('organization_invitation_role_relations');

-- Just-in-time provisioning: new users whose verified email is in one of these domains join the
-- organization with its JIT roles.
CREATE TABLE organization_jit_email_domains (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    organization_id varchar(21) NOT NULL,
    email_domain varchar(128) NOT NULL
        CONSTRAINT organization_jit_email_domains_lower CHECK (email_domain = lower(email_domain)),
    PRIMARY KEY (tenant_id, organization_id, email_domain),
    FOREIGN KEY (tenant_id, organization_id) REFERENCES organizations (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE INDEX organization_jit_email_domains_domain
    ON organization_jit_email_domains (tenant_id, email_domain);
SELECT latch_enable_tenancy('organization_jit_email_domains');

CREATE TABLE organization_jit_roles (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    organization_id varchar(21) NOT NULL,
    organization_role_id varchar(21) NOT NULL,
    role_type varchar(32) NOT NULL DEFAULT 'User'
        CONSTRAINT organization_jit_roles_user CHECK (role_type = 'User'),
    PRIMARY KEY (tenant_id, organization_id, organization_role_id),
    FOREIGN KEY (tenant_id, organization_id) REFERENCES organizations (tenant_id, id)
        ON UPDATE CASCADE ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, organization_role_id, role_type)
        REFERENCES organization_roles (tenant_id, id, type) ON UPDATE CASCADE ON DELETE CASCADE
);
SELECT latch_enable_tenancy('organization_jit_roles');
