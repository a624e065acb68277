-- Messages (issue 11): the kind of each connector, so that a tenant has at most one email and
-- one SMS connector (Logto's rule: creating a new one deletes the old one), and the tenant's
-- email templates (Logto's `email_templates`, /api/email-templates), which override the email
-- connector's own template for a language and template type.

-- Logto's ConnectorType. Rows written before ABI 1.1 are social: no host loaded another kind.
ALTER TABLE connectors ADD COLUMN type varchar(16) NOT NULL DEFAULT 'Social'
    CONSTRAINT connectors_type CHECK (type IN ('Social', 'Email', 'Sms'));
-- One email and one SMS connector per tenant, also when two creations race.
CREATE UNIQUE INDEX connectors_one_per_message_type ON connectors (tenant_id, type)
    WHERE type <> 'Social';

CREATE TABLE email_templates (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    id varchar(21) NOT NULL,
    language_tag varchar(16) NOT NULL,   -- BCP 47: "en", "fr", "zh-CN"
    template_type varchar(64) NOT NULL,  -- Logto's TemplateType: SignIn, Register, ...
    details jsonb NOT NULL,              -- {subject, content, contentType?, replyTo?, sendFrom?},
                                         -- checked by core/mgmt/email_templates.c
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT email_templates_language_type UNIQUE (tenant_id, language_tag, template_type),
    CONSTRAINT email_templates_type CHECK (template_type IN ('SignIn', 'Register',
        'ForgotPassword', 'Generic', 'OrganizationInvitation', 'UserPermissionValidation',
        'BindNewIdentifier', 'MfaVerification', 'BindMfa'))
);
CREATE INDEX email_templates_type ON email_templates (tenant_id, template_type);
SELECT latch_enable_tenancy('email_templates');
