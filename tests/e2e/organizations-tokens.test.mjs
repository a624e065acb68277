// End-to-end tests of role-based access control for people and organizations (issue 6, items 1,
// 3 and 5), through the Management API and a real OIDC client (openid-client), every token
// verified with jose against the tenant's JWKS:
//   - RBAC for users: a resource token carries the scopes asked for that the user's roles hold;
//     the `roles` scope adds the roles claim;
//   - a person in two organizations with different roles gets different organization tokens
//     (refresh_token grant with organization_id, Logto RFC 0001), and resource tokens in an
//     organization's context carry the organization_id claim and what the organization roles
//     grant on that API;
//   - the organization claims (organizations, organization_roles, organization_data);
//   - removal from an organization is honoured at the next request (invalid_grant), and a
//     refused request leaves a rotating refresh token usable;
//   - MachineToMachine applications as organization members (client_credentials with
//     organization_id);
//   - just-in-time provisioning by verified email domain (social sign-up through the mock
//     connector);
//   - invitations accepted by the person who signed in with the invited email;
//   - tenant isolation: an organization of tenant A is invisible and unusable from tenant B.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as client from 'openid-client';
import { adminQuery, buildDir, startLatchd } from './lib/harness.mjs';
import {
  CookieJar,
  ExperienceClient,
  TenantCtx,
  expectStatus,
  jose,
  remoteJwks,
  scopeSet,
  uniq,
} from './lib/oidc.mjs';
import { authUrl, flowChecks, redeem, webAppConfig } from './lib/flow.mjs';

const ORGS = 'urn:logto:scope:organizations';
const ORG_ROLES = 'urn:logto:scope:organization_roles';
const RESERVED = 'urn:logto:resource:organizations';
const ORIGIN = 'http://localhost:3000';
const MOCK_SO = path.join(buildDir, 'connectors', 'mock', 'mock.so');

/** A password sign-in through the Experience API; the app redeems the code with openid-client. */
async function passwordSignIn(t, user, scope, extra = {}) {
  const checks = await flowChecks();
  const xp = new ExperienceClient(t.ctx, new CookieJar());
  const landed = await xp.signIn(authUrl(t.config, t.app, checks, { scope, ...extra }), user.username,
    user.password);
  return redeem(t.config, landed, checks);
}

/** Verifies an access token of tenant ctx: signature (JWKS), issuer, audience, typ. */
async function verifyAt(ctx, token, audience) {
  const { payload, protectedHeader } = await jose.jwtVerify(token, remoteJwks(ctx.server, ctx.id),
    { issuer: ctx.issuer, audience, typ: 'at+jwt' });
  assert.equal(protectedHeader.alg, 'ES384', 'tokens are signed with the tenant key (ES384)');
  return payload;
}

const orgAud = (id) => `urn:logto:organization:${id}`;

/** A refresh grant that must fail; resolves the OAuth error. */
async function refreshError(config, refreshToken, params) {
  const err = await client.refreshTokenGrant(config, refreshToken, params).then(
    () => assert.fail(`refresh with ${JSON.stringify(params)} was accepted`), (e) => e);
  assert.ok(err instanceof client.ResponseBodyError, `an OAuth error answer, got ${err}`);
  return err;
}

/**
 * Tenant fixture: organization scopes and roles, an API resource with scopes, a User role, a
 * Traditional web app and its openid-client configuration.
 */
async function setUpTenant(srv, prefix) {
  const ctx = await TenantCtx.create(srv, prefix);
  const api = await ctx.api();
  const t = { ctx, api, scopes: {}, roles: {}, orgs: {} };
  for (const name of ['read:docs', 'write:docs', 'invite:member']) {
    t.scopes[name] = expectStatus(await api.post('/organization-scopes', { name, description: `e2e ${name}` }),
      201, `create organization scope ${name}`);
  }
  const { resource, scopes } = await ctx.createResource({ scopes: ['read:reports', 'export:reports'] });
  t.resource = resource;
  t.resourceScopes = scopes;
  const orgRole = async (name, scopeNames, type = 'User') => expectStatus(await api.post('/organization-roles', {
    name, description: `e2e ${name}`, type,
    organizationScopeIds: scopeNames.map((s) => t.scopes[s].id),
  }), 201, `create organization role ${name}`);
  t.roles.viewer = await orgRole('viewer', ['read:docs']);
  t.roles.admin = await orgRole('admin', ['read:docs', 'write:docs', 'invite:member']);
  t.roles.bot = await orgRole('bot', ['read:docs'], 'MachineToMachine');
  // Organization roles may also grant API-resource scopes.
  expectStatus(await api.post(`/organization-roles/${t.roles.admin.id}/resource-scopes`,
    { scopeIds: [scopes['export:reports'].id] }), 201, 'admin grants export:reports');
  expectStatus(await api.post(`/organization-roles/${t.roles.bot.id}/resource-scopes`,
    { scopeIds: [scopes['read:reports'].id] }), 201, 'bot grants read:reports');
  // A tenant-wide User role (RBAC for users).
  t.analyst = expectStatus(await api.post('/roles', {
    name: uniq('analyst'), description: 'reads reports', type: 'User', scopeIds: [scopes['read:reports'].id],
  }), [200, 201], 'create the User role analyst');
  for (const name of ['acme', 'globex']) {
    t.orgs[name] = expectStatus(await api.post('/organizations', { name: `${name} ${uniq('co')}`,
      description: `the ${name} company` }), 201, `create organization ${name}`);
  }
  t.app = await ctx.createWebApp(ORIGIN, { name: 'Bookstore' });
  t.config = await webAppConfig(ctx, t.app);
  return t;
}

async function addMember(t, org, userId, roleIds) {
  expectStatus(await t.api.post(`/organizations/${org.id}/users`, { userIds: [userId] }), 201, 'add member');
  if (roleIds.length > 0) {
    expectStatus(await t.api.post(`/organizations/${org.id}/users/${userId}/roles`,
      { organizationRoleIds: roleIds }), 201, 'give organization roles');
  }
}

describe('RBAC for people and organizations: tokens', () => {
  let srv;
  let connectorDir;
  let a;
  let b;
  let alice;
  const fullScope = `openid offline_access profile email roles ${ORGS} ${ORG_ROLES}`;

  before(async () => {
    connectorDir = await mkdtemp(path.join(os.tmpdir(), 'latch-org-connectors-'));
    await chmod(connectorDir, 0o755);
    await copyFile(MOCK_SO, path.join(connectorDir, 'mock.so'));
    await chmod(path.join(connectorDir, 'mock.so'), 0o755);
    srv = await startLatchd({ env: { LATCH_CONNECTOR_DIR: connectorDir } });
    a = await setUpTenant(srv, 'orga');
    b = await setUpTenant(srv, 'orgb');
    alice = await a.ctx.createUser({ name: 'Alice' });
    await addMember(a, a.orgs.acme, alice.id, [a.roles.admin.id]);
    await addMember(a, a.orgs.globex, alice.id, [a.roles.viewer.id]);
    expectStatus(await a.api.post(`/users/${alice.id}/roles`, { roleIds: [a.analyst.id] }), [200, 201],
      'give alice the analyst role');
  });

  after(async () => {
    await srv?.stop();
    if (connectorDir) await rm(connectorDir, { recursive: true, force: true });
  });

  it('the ID token and userinfo carry roles and organization claims', async () => {
    const tokens = await passwordSignIn(a, alice, fullScope);
    const claims = tokens.claims();
    const orgIds = [a.orgs.acme.id, a.orgs.globex.id].sort();
    assert.deepEqual([...claims.organizations].sort(), orgIds, 'organizations: the ids of both');
    assert.deepEqual([...claims.organization_roles].sort(),
      [`${a.orgs.acme.id}:admin`, `${a.orgs.globex.id}:viewer`].sort(), 'organization_roles: <orgId>:<roleName>');
    assert.deepEqual(claims.roles, [a.analyst.name], 'roles claim');
    assert.equal(claims.organization_data, undefined, 'organization_data is a userinfo claim only');
    const info = await client.fetchUserInfo(a.config, tokens.access_token, claims.sub);
    assert.deepEqual([...info.organizations].sort(), orgIds);
    const data = [...info.organization_data].sort((x, y) => x.id.localeCompare(y.id));
    assert.deepEqual(data, [a.orgs.acme, a.orgs.globex].map((o) => ({ id: o.id, name: o.name,
      description: o.description })).sort((x, y) => x.id.localeCompare(y.id)), 'organization_data');
    // Without the organization scopes: no organization claims at all.
    const plain = (await passwordSignIn(a, alice, 'openid offline_access profile')).claims();
    for (const k of ['organizations', 'organization_roles', 'roles']) assert.equal(plain[k], undefined, k);
  });

  it('one person, two organizations, two different organization tokens (RFC 0001)', async () => {
    const tokens = await passwordSignIn(a, alice, `${fullScope} read:docs write:docs invite:member`);
    let rt = tokens.refresh_token;
    assert.equal(typeof rt, 'string', 'offline_access gives a refresh token');
    const orgToken = async (org, params = {}) => {
      const res = await client.refreshTokenGrant(a.config, rt, { organization_id: org.id, ...params });
      rt = res.refresh_token ?? rt;
      const payload = await verifyAt(a.ctx, res.access_token, orgAud(org.id));
      assert.equal(payload.sub, alice.id);
      assert.equal(payload.client_id, a.app.id);
      assert.equal(payload.organization_id, org.id);
      assert.deepEqual(scopeSet(res.scope), scopeSet(payload.scope), 'the answer\'s scope is the token\'s');
      return payload;
    };
    const acme = await orgToken(a.orgs.acme);
    assert.deepEqual(scopeSet(acme.scope), ['invite:member', 'read:docs', 'write:docs'], 'admin in acme');
    const globex = await orgToken(a.orgs.globex);
    assert.deepEqual(scopeSet(globex.scope), ['read:docs'], 'viewer in globex');
    // A scope parameter narrows; what the roles do not grant is left out, not refused.
    const narrowed = await orgToken(a.orgs.acme, { scope: 'write:docs delete:everything' });
    assert.deepEqual(scopeSet(narrowed.scope), ['write:docs']);
    // Logto's SDKs send the reserved resource urn:logto:resource:organizations with the
    // organizations scope, at sign-in and (older ones) with organization_id.
    const sdk = await passwordSignIn(a, alice, `${fullScope} read:docs`, { resource: RESERVED });
    rt = sdk.refresh_token;
    const reserved = await orgToken(a.orgs.globex, { resource: RESERVED });
    assert.deepEqual(scopeSet(reserved.scope), ['read:docs']);
    // Organization permissions can be asked for at the token request (RFC 0001 §7.2) even
    // when the sign-in did not name them.
    const dyn = await passwordSignIn(a, alice, fullScope);
    rt = dyn.refresh_token;
    assert.deepEqual(scopeSet((await orgToken(a.orgs.acme)).scope), [], 'nothing asked, nothing given');
    assert.deepEqual(scopeSet((await orgToken(a.orgs.globex, { scope: 'read:docs write:docs' })).scope),
      ['read:docs']);
  });

  it('resource tokens: user roles alone, or organization roles with organization_id', async () => {
    const { resource, resourceScopes } = a;
    assert.ok(resourceScopes['export:reports']);
    const tokens = await passwordSignIn(a, alice, `${fullScope} read:reports export:reports`);
    let rt = tokens.refresh_token;
    const refresh = async (params) => {
      const res = await client.refreshTokenGrant(a.config, rt, params);
      rt = res.refresh_token ?? rt;
      return res;
    };
    // RBAC for users: asked read:reports + export:reports, the analyst role holds read:reports.
    let res = await refresh({ resource: resource.indicator });
    let p = await verifyAt(a.ctx, res.access_token, resource.indicator);
    assert.deepEqual(scopeSet(p.scope), ['read:reports']);
    assert.equal(p.organization_id, undefined, 'no organization_id without organization_id');
    // In acme's context: the admin organization role grants export:reports on this API.
    res = await refresh({ resource: resource.indicator, organization_id: a.orgs.acme.id });
    p = await verifyAt(a.ctx, res.access_token, resource.indicator);
    assert.deepEqual(scopeSet(p.scope), ['export:reports']);
    assert.equal(p.organization_id, a.orgs.acme.id);
    // In globex's context the viewer role grants nothing on the API.
    res = await refresh({ resource: resource.indicator, organization_id: a.orgs.globex.id });
    p = await verifyAt(a.ctx, res.access_token, resource.indicator);
    assert.deepEqual(scopeSet(p.scope), []);
    assert.equal(p.organization_id, a.orgs.globex.id);
    // The grant named no resource scope: a resource token then carries none.
    const bare = await passwordSignIn(a, alice, fullScope);
    rt = bare.refresh_token;
    p = await verifyAt(a.ctx, (await refresh({ resource: resource.indicator })).access_token, resource.indicator);
    assert.deepEqual(scopeSet(p.scope), [], 'nothing asked, nothing given');
    p = await verifyAt(a.ctx, (await refresh({ resource: resource.indicator, scope: 'read:reports' })).access_token,
      resource.indicator);
    assert.deepEqual(scopeSet(p.scope), ['read:reports'], 'asked at the token request');
  });

  it('removal from an organization is honoured at the next request; the refresh token lives on',
    async () => {
      const bob = await a.ctx.createUser({ name: 'Bob' });
      await addMember(a, a.orgs.acme, bob.id, [a.roles.viewer.id]);
      await addMember(a, a.orgs.globex, bob.id, [a.roles.admin.id]);
      const tokens = await passwordSignIn(a, bob, fullScope);
      let rt = tokens.refresh_token;
      let res = await client.refreshTokenGrant(a.config, rt, { organization_id: a.orgs.acme.id, scope: 'read:docs' });
      rt = res.refresh_token ?? rt;
      assert.deepEqual(scopeSet(res.scope), ['read:docs']);

      expectStatus(await a.api.del(`/organizations/${a.orgs.acme.id}/users/${bob.id}`), 204, 'remove bob from acme');
      const err = await refreshError(a.config, rt, { organization_id: a.orgs.acme.id, scope: 'read:docs' });
      assert.equal(err.error, 'invalid_grant');
      // The refused request did not use up the (rotating) refresh token.
      res = await client.refreshTokenGrant(a.config, rt, { organization_id: a.orgs.globex.id, scope: 'write:docs' });
      rt = res.refresh_token ?? rt;
      assert.deepEqual(scopeSet(res.scope), ['write:docs']);
      res = await client.refreshTokenGrant(a.config, rt);
      assert.deepEqual(res.claims().organizations, [a.orgs.globex.id], 'the ID token no longer lists acme');
      assert.deepEqual(res.claims().organization_roles, [`${a.orgs.globex.id}:admin`]);
      rt = res.refresh_token ?? rt;
      // Losing a role changes the next token too.
      expectStatus(await a.api.del(`/organizations/${a.orgs.globex.id}/users/${bob.id}/roles/${a.roles.admin.id}`),
        204, 'take the admin role');
      res = await client.refreshTokenGrant(a.config, rt, { organization_id: a.orgs.globex.id, scope: 'write:docs' });
      assert.deepEqual(scopeSet(res.scope), [], 'a member without roles gets an empty scope');
    });

  it('organization tokens need the organizations scope, a member, and a well-formed id', async () => {
    const carol = await a.ctx.createUser({ name: 'Carol' });
    await addMember(a, a.orgs.acme, carol.id, [a.roles.viewer.id]);
    const noOrgScope = await passwordSignIn(a, carol, 'openid offline_access profile');
    let err = await refreshError(a.config, noOrgScope.refresh_token, { organization_id: a.orgs.acme.id });
    assert.equal(err.error, 'insufficient_scope');
    assert.equal(err.status, 403);
    // Still usable afterwards.
    await client.refreshTokenGrant(a.config, noOrgScope.refresh_token);

    const t = await passwordSignIn(a, carol, fullScope);
    for (const bad of [a.orgs.globex.id, 'no-such-org', 'x'.repeat(22), 'bad id', '']) {
      err = await refreshError(a.config, t.refresh_token, { organization_id: bad });
      assert.equal(err.error, 'invalid_grant', `organization_id ${JSON.stringify(bad)}`);
      assert.equal(err.status, 400);
    }
    // Scope lists are bounded and well-formed (RFC 6749 §3.3), refused before the token is used.
    const many = Array.from({ length: 257 }, (_, i) => `s${i}`).join(' ');
    for (const scope of [many, 'read:docs "quoted"']) {
      err = await refreshError(a.config, t.refresh_token, { organization_id: a.orgs.acme.id, scope });
      assert.equal(err.error, 'invalid_scope', `scope ${scope.slice(0, 20)}…`);
    }
    const ok = await client.refreshTokenGrant(a.config, t.refresh_token, { organization_id: a.orgs.acme.id,
      scope: 'read:docs' });
    assert.deepEqual(scopeSet(ok.scope), ['read:docs'], 'the refused requests left the token usable');
  });

  it('machine-to-machine applications as organization members (client_credentials)', async () => {
    const m2m = await a.ctx.createApp({ type: 'MachineToMachine', name: uniq('bot') });
    const config = new client.Configuration({ issuer: a.ctx.issuer, token_endpoint: `${a.ctx.issuer}/token` },
      m2m.id, { client_secret: m2m.secret }, client.ClientSecretBasic(m2m.secret));
    client.allowInsecureRequests(config);
    const cc = (params) => client.clientCredentialsGrant(config, params);
    const ccError = (params) => cc(params).then(() => assert.fail(`accepted ${JSON.stringify(params)}`), (e) => e);

    let err = await ccError({ organization_id: a.orgs.acme.id });
    assert.equal(err.error, 'invalid_grant', 'not a member yet');
    expectStatus(await a.api.post(`/organizations/${a.orgs.acme.id}/applications`, { applicationIds: [m2m.id] }),
      201, 'add the app to acme');
    expectStatus(await a.api.post(`/organizations/${a.orgs.acme.id}/applications/${m2m.id}/roles`,
      { organizationRoleIds: [a.roles.bot.id] }), 201, 'give the app the bot role');

    let res = await cc({ organization_id: a.orgs.acme.id });
    let p = await verifyAt(a.ctx, res.access_token, orgAud(a.orgs.acme.id));
    assert.equal(p.sub, m2m.id);
    assert.equal(p.organization_id, a.orgs.acme.id);
    assert.deepEqual(scopeSet(p.scope), ['read:docs'], 'everything the bot role grants');
    res = await cc({ organization_id: a.orgs.acme.id, scope: 'write:docs' });
    assert.deepEqual(scopeSet(res.scope), [], 'asked for what it does not hold');
    res = await cc({ organization_id: a.orgs.acme.id, resource: a.resource.indicator });
    p = await verifyAt(a.ctx, res.access_token, a.resource.indicator);
    assert.deepEqual(scopeSet(p.scope), ['read:reports']);
    assert.equal(p.organization_id, a.orgs.acme.id);

    err = await ccError({ organization_id: a.orgs.globex.id });
    assert.equal(err.error, 'invalid_grant', 'not a member of globex');
    expectStatus(await a.api.del(`/organizations/${a.orgs.acme.id}/applications/${m2m.id}`), 204, 'remove the app');
    err = await ccError({ organization_id: a.orgs.acme.id });
    assert.equal(err.error, 'invalid_grant', 'removed');
  });

  it('tenant isolation: tenant A\'s organizations are invisible and unusable from tenant B', async () => {
    const acme = a.orgs.acme;
    const bApi = await b.ctx.api();
    expectStatus(await bApi.get(`/organizations/${acme.id}`), 404, 'B cannot read A\'s organization');
    const listed = expectStatus(await bApi.get('/organizations'), 200, 'B lists its organizations');
    assert.ok(!listed.some((o) => o.id === acme.id), 'A\'s organization is not listed in B');
    const bUser = await b.ctx.createUser({ name: 'Mallory' });
    const added = await bApi.post(`/organizations/${acme.id}/users`, { userIds: [bUser.id] });
    assert.equal(added.status, 404, `B cannot add members to A's organization: ${added.text}`);
    expectStatus(await bApi.get(`/organization-roles/${a.roles.admin.id}`), 404, 'nor see A\'s roles');
    // B's user, in B, asking for an organization token of A's organization.
    await addMember(b, b.orgs.acme, bUser.id, [b.roles.admin.id]);
    const t = await passwordSignIn(b, bUser, fullScope);
    const err = await refreshError(b.config, t.refresh_token, { organization_id: acme.id });
    assert.equal(err.error, 'invalid_grant');
    const own = await client.refreshTokenGrant(b.config, t.refresh_token,
      { organization_id: b.orgs.acme.id, scope: 'write:docs' });
    const p = await verifyAt(b.ctx, own.access_token, orgAud(b.orgs.acme.id));
    assert.deepEqual(scopeSet(p.scope), ['write:docs']);
    // B's token does not verify as A's.
    await assert.rejects(verifyAt(a.ctx, own.access_token, orgAud(b.orgs.acme.id)), 'not A\'s key or issuer');
    // Nothing of B leaked into A's rows.
    const { rows } = await adminQuery(
      'SELECT count(*)::int AS n FROM organization_user_relations WHERE tenant_id = $1 AND user_id = $2',
      [a.ctx.id, bUser.id]);
    assert.equal(rows[0].n, 0);
  });

  it('invitations: accepted by the person who signed in with the invited email', async () => {
    const email = `dave.${uniq('d')}@globex.test`;
    const inv = expectStatus(await a.api.post('/organization-invitations', {
      organizationId: a.orgs.globex.id, invitee: email, expiresAt: Date.now() + 3600_000,
      organizationRoleIds: [a.roles.admin.id],
    }), 201, 'invite dave');
    assert.equal(inv.status, 'Pending');
    // Dave registers with the invited email and signs in (the app then accepts for him).
    const dave = await a.ctx.createUser({ name: 'Dave', primaryEmail: email });
    const eve = await a.ctx.createUser({ name: 'Eve', primaryEmail: `eve.${uniq('e')}@elsewhere.test` });
    const t = await passwordSignIn(a, dave, fullScope);
    assert.equal(t.claims().email, email);
    const wrong = await a.api.put(`/organization-invitations/${inv.id}/status`,
      { status: 'Accepted', acceptedUserId: eve.id });
    assert.equal(wrong.status, 422, `another person cannot accept: ${wrong.text}`);
    let err = await refreshError(a.config, t.refresh_token, { organization_id: a.orgs.globex.id });
    assert.equal(err.error, 'invalid_grant', 'not a member before accepting');
    const accepted = expectStatus(await a.api.put(`/organization-invitations/${inv.id}/status`,
      { status: 'Accepted', acceptedUserId: t.claims().sub }), 200, 'dave accepts');
    assert.equal(accepted.status, 'Accepted');
    const res = await client.refreshTokenGrant(a.config, t.refresh_token,
      { organization_id: a.orgs.globex.id, scope: 'invite:member read:docs' });
    assert.deepEqual(scopeSet(res.scope), ['invite:member', 'read:docs'], 'the invitation\'s admin role');
    err = await a.api.put(`/organization-invitations/${inv.id}/status`, { status: 'Revoked' });
    assert.equal(err.status, 422, 'an accepted invitation cannot be revoked');
  });
});

describe('Just-in-time provisioning by verified email domain (social sign-up)', () => {
  let srv;
  let connectorDir;
  let t;
  let connector;

  before(async () => {
    connectorDir = await mkdtemp(path.join(os.tmpdir(), 'latch-jit-connectors-'));
    await chmod(connectorDir, 0o755);
    await copyFile(MOCK_SO, path.join(connectorDir, 'mock.so'));
    await chmod(path.join(connectorDir, 'mock.so'), 0o755);
    srv = await startLatchd({ env: { LATCH_CONNECTOR_DIR: connectorDir } });
    t = await setUpTenant(srv, 'jit');
    connector = expectStatus(await t.api.post('/connectors', {
      connectorId: 'mock-social', config: { authorizationEndpoint: 'http://127.0.0.1:9/authorize' },
    }), 200, 'create the mock connector');
    await t.ctx.patchSignInExp({ socialSignInConnectorTargets: ['mock'],
      signUp: { identifiers: [], password: false, verify: false } });
    const acme = t.orgs.acme.id;
    expectStatus(await t.api.post(`/organizations/${acme}/jit/email-domains`, { emailDomain: 'acme.test' }), 201,
      'JIT domain acme.test');
    expectStatus(await t.api.post(`/organizations/${acme}/jit/roles`, { organizationRoleIds: [t.roles.viewer.id] }),
      201, 'JIT role viewer');
  });

  after(async () => {
    await srv?.stop();
    if (connectorDir) await rm(connectorDir, { recursive: true, force: true });
  });

  /** A social sign-in with the mock connector, without a browser; resolves the tokens. */
  async function socialSignIn(profile) {
    const checks = await flowChecks();
    const xp = new ExperienceClient(t.ctx, new CookieJar());
    await xp.start(authUrl(t.config, t.app, checks, { scope: `openid offline_access email ${ORGS} ${ORG_ROLES}` }));
    const r = await xp.call('POST', `/verification/social/${connector.id}/authorization-uri`,
      { state: 'page-state', redirectUri: `${t.ctx.base}/callback/${connector.id}` });
    assert.equal(r.status, 200, `authorization-uri: ${r.text}`);
    const upstream = new URL(r.json().authorizationUri);
    // The mock "upstream" answers at once: back to latchd with the state and the profile.
    const back = new URL(upstream.searchParams.get('redirect_uri'));
    back.searchParams.set('state', upstream.searchParams.get('state'));
    for (const [k, v] of Object.entries(profile)) back.searchParams.set(k, v);
    const landed = await xp.resume(back.href);
    return redeem(t.config, landed, checks);
  }

  it('a new user with a verified email of the domain joins with the JIT roles', async () => {
    const tokens = await socialSignIn({ id: uniq('ann'), name: 'Ann', email: `ann.${uniq('a')}@ACME.test`,
      email_verified: 'true' });
    const claims = tokens.claims();
    assert.deepEqual(claims.organizations, [t.orgs.acme.id]);
    assert.deepEqual(claims.organization_roles, [`${t.orgs.acme.id}:viewer`]);
    const res = await client.refreshTokenGrant(t.config, tokens.refresh_token,
      { organization_id: t.orgs.acme.id, scope: 'read:docs write:docs' });
    assert.deepEqual(scopeSet(res.scope), ['read:docs']);
    const members = expectStatus(await t.api.get(`/organizations/${t.orgs.acme.id}/users`), 200, 'members');
    assert.ok(members.some((u) => u.id === claims.sub), 'listed as a member');
  });

  it('no JIT for other domains, unverified emails, or people who already exist', async () => {
    const other = await socialSignIn({ id: uniq('ben'), name: 'Ben', email: `ben.${uniq('b')}@other.test`,
      email_verified: 'true' });
    assert.deepEqual(other.claims().organizations, []);
    const unverified = await socialSignIn({ id: uniq('cy'), name: 'Cy', email: `cy.${uniq('c')}@acme.test` });
    assert.deepEqual(unverified.claims().organizations, [], 'an unverified email proves nothing');
    // A domain claimed after a person signed up does not pull them in on their next sign-in.
    const dee = { id: uniq('dee'), name: 'Dee', email: `dee.${uniq('d')}@late.test`, email_verified: 'true' };
    assert.deepEqual((await socialSignIn(dee)).claims().organizations, []);
    expectStatus(await t.api.post(`/organizations/${t.orgs.globex.id}/jit/email-domains`, { emailDomain: 'late.test' }),
      201, 'JIT domain late.test');
    assert.deepEqual((await socialSignIn(dee)).claims().organizations, [], 'JIT is for new users only');
  });
});
