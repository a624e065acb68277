// Webhooks (issue 14): Logto's /api/hooks against a receiving HTTPS server of the test (a test CA,
// the name hooks.example.test mapped to 127.0.0.1 with LATCH_OUTBOUND_CONNECT_TO, the way the
// connector tests reach their fakes): signed payloads (logto-signature-sha-256, checked here with
// the hook's signing key) for sign-up, sign-in, user and organization changes; retries with
// backoff until the receiver answers; scope grants of roles and organization roles; memberships from
// accepted invitations and just-in-time provisioning at a social sign-up; recent-logs and executionStats; the test endpoint; a change
// rolled back emits nothing; URLs at loopback refused; tenants see only their own hooks; and a
// node killed with SIGKILL in the middle of a delivery: another node delivers every committed
// event. No request leaves 127.0.0.1.
import assert from 'node:assert/strict';
import { createHash, createHmac, hkdfSync } from 'node:crypto';
import https from 'node:https';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { adminQuery, buildDir, randomId, startLatchd, waitFor } from './lib/harness.mjs';
import { makeTestCertificates, readBody } from './lib/fake-tls.mjs';
import { CookieJar, ExperienceClient, TenantCtx, expectStatus, uniq } from './lib/oidc.mjs';
import { authUrl, flowChecks, webAppConfig } from './lib/flow.mjs';
import { totp } from './lib/totp.mjs';

const HOST = 'hooks.example.test';
const MOCK_SO = path.join(buildDir, 'connectors', 'mock', 'mock.so');
const HOOK_KEYS = ['config', 'createdAt', 'enabled', 'event', 'events', 'id', 'name', 'signingKey', 'tenantId'];

/** An HTTPS receiver for HOST: records each request; `plan` decides each answer. */
async function startReceiver() {
  const certs = await makeTestCertificates({ host: HOST, label: 'webhook receiver' });
  const received = [];
  const failNext = new Map(); // path → answers to fail
  let hang = false;
  const hung = [];
  const server = https.createServer({ key: certs.leafKey, cert: certs.leafPem }, async (req, res) => {
    const raw = (await readBody(req)).toString('utf8');
    const entry = { path: req.url, method: req.method, headers: req.headers, raw, json: JSON.parse(raw) };
    received.push(entry);
    if (hang) {
      hung.push(res);
      return;
    }
    if ((failNext.get(req.url) ?? 0) > 0) {
      failNext.set(req.url, failNext.get(req.url) - 1);
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":"not now"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    received,
    certs,
    env: { LATCH_OUTBOUND_CA_FILE: certs.caFile, LATCH_OUTBOUND_CONNECT_TO: `${HOST}:443:127.0.0.1:${port}` },
    url: (p = '/hook') => `https://${HOST}${p}`,
    failNext(path, n) { failNext.set(path, n); },
    hang(on) {
      hang = on;
      if (!on) for (const r of hung.splice(0)) r.destroy();
    },
    of(path) { return received.filter((r) => r.path === path); },
    async stop() {
      hang = false;
      for (const r of hung.splice(0)) r.destroy();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
      await rm(certs.dir, { recursive: true, force: true });
    },
  };
}

/** The signature Logto sends: hex HMAC-SHA256 of the raw body under the signing key. */
const sign = (key, raw) => createHmac('sha256', key).update(raw).digest('hex');

function assertSigned(entry, key) {
  assert.equal(entry.headers['logto-signature-sha-256'], sign(key, entry.raw), 'signature of the raw body');
  assert.equal(entry.headers['content-type'], 'application/json');
  assert.equal(entry.headers['user-agent'], 'Logto (https://logto.io/)');
}

async function createHook(api, rx, path, events, extra = {}) {
  const res = await api.post('/hooks', { name: uniq('hook'), events, config: { url: rx.url(path) }, ...extra });
  return expectStatus(res, 201, `POST /hooks ${res.text}`);
}

const waitDelivered = (rx, path, pred, what, timeoutMs = 15000) =>
  waitFor(() => rx.of(path).find(pred), { timeoutMs, what });

describe('webhooks', () => {
  let srv;
  let connectorDir;
  let rx;
  let ctx;
  let api;

  before(async () => {
    rx = await startReceiver();
    // The mock social connector, for a sign-up by just-in-time provisioning.
    connectorDir = await mkdtemp(path.join(os.tmpdir(), 'latch-hook-connectors-'));
    await chmod(connectorDir, 0o755);
    await copyFile(MOCK_SO, path.join(connectorDir, 'mock.so'));
    await chmod(path.join(connectorDir, 'mock.so'), 0o755);
    srv = await startLatchd({ env: { ...rx.env, LATCH_HOOK_RETRY_BASE_MS: '300', LATCH_HOOK_SWEEP_MS: '500',
      LATCH_CONNECTOR_DIR: connectorDir } });
    ctx = await TenantCtx.create(srv, 'hk');
    api = await ctx.api();
  });
  after(async () => {
    if (process.env.LATCH_HOOKS_DEBUG) console.error(srv?.stderrText?.());
    await srv?.stop();
    await rx?.stop();
    if (connectorDir) await rm(connectorDir, { recursive: true, force: true });
  });

  it('CRUD in Logto\'s shapes; the signing key rotates; URLs at loopback are refused', async () => {
    const hook = await createHook(api, rx, '/crud', ['User.Created'], { name: 'crud' });
    assert.deepEqual(Object.keys(hook).sort(), HOOK_KEYS);
    assert.equal(hook.tenantId, ctx.id);
    assert.equal(hook.enabled, true);
    assert.deepEqual(hook.events, ['User.Created']);
    assert.deepEqual(hook.config, { url: rx.url('/crud') });
    assert.match(hook.signingKey, /^[0-9a-z]{32}$/);
    assert.equal(typeof hook.createdAt, 'number');

    const got = expectStatus(await api.get(`/hooks/${hook.id}?includeExecutionStats=true`), 200, 'GET');
    assert.deepEqual(got.executionStats, { requestCount: 0, successCount: 0 });
    const list = expectStatus(await api.get('/hooks'), 200, 'list');
    assert.ok(list.some((h) => h.id === hook.id));

    const patched = expectStatus(await api.patch(`/hooks/${hook.id}`,
      { events: ['User.Created', 'User.Created', 'User.Deleted'], enabled: false }), 200, 'PATCH');
    assert.deepEqual(patched.events, ['User.Created', 'User.Deleted'], 'duplicates removed');
    assert.equal(patched.enabled, false);

    const rotated = expectStatus(await api.patch(`/hooks/${hook.id}/signing-key`, {}), 200, 'rotate');
    assert.notEqual(rotated.signingKey, hook.signingKey);
    assert.match(rotated.signingKey, /^[0-9a-z]{32}$/);

    const bad = await api.post('/hooks', { events: ['Nope.Event'], config: { url: rx.url() } });
    assert.equal(bad.status, 400, bad.text);
    const none = await api.post('/hooks', { name: 'x', config: { url: rx.url() } });
    assert.equal(none.status, 400);
    assert.equal(none.json().code, 'hook.missing_events');
    const plain = await api.post('/hooks', { events: ['PostSignIn'], config: { url: 'http://example.com/hook' } });
    assert.equal(plain.status, 400, `http:// refused: ${plain.text}`);
    const header = await api.post('/hooks', { events: ['PostSignIn'],
      config: { url: rx.url(), headers: { 'logto-signature-sha-256': 'forged' } } });
    assert.equal(header.status, 400, 'the signature header is ours');

    assert.equal((await api.del(`/hooks/${hook.id}`)).status, 204);
    assert.equal((await api.get(`/hooks/${hook.id}`)).status, 404);
  });

  it('sign-up and sign-in: PostRegister, User.Created and PostSignIn, signed, in Logto\'s payloads', async () => {
    const hook = await createHook(api, rx, '/xp', ['PostRegister', 'User.Created', 'PostSignIn']);
    const app = await ctx.createWebApp('http://127.0.0.1:9');
    const config = await webAppConfig(ctx, app);
    const username = uniq('hkuser').replace(/-/g, '_');
    const password = 'A-long-enough-password-42!';

    const xp = new ExperienceClient(ctx, new CookieJar());
    await xp.start(authUrl(config, app, await flowChecks()));
    await xp.begin('Register');
    const v = await xp.call('POST', '/verification/new-password-identity',
      { identifier: { type: 'username', value: username }, password });
    assert.equal(v.status, 200, v.text);
    const ident = await xp.call('POST', '/identification', { verificationId: v.json().verificationId });
    assert.ok(ident.status < 300, ident.text);
    const sub = await xp.call('POST', '/submit');
    assert.equal(sub.status, 200, sub.text);
    // A second submit of the same interaction emits nothing more.
    assert.equal((await xp.call('POST', '/submit')).status, 200);

    const reg = await waitDelivered(rx, '/xp', (r) => r.json.event === 'PostRegister', 'PostRegister');
    assertSigned(reg, hook.signingKey);
    assert.equal(reg.json.hookId, hook.id);
    assert.equal(reg.json.interactionEvent, 'Register');
    assert.equal(reg.json.user.username, username);
    assert.equal(reg.json.userId, reg.json.user.id);
    assert.equal(reg.json.userIp, '127.0.0.1');
    assert.equal(reg.json.application.id, app.id);
    assert.match(reg.json.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(JSON.stringify(reg.json).includes(password), false, 'no password in the payload');
    const created = await waitDelivered(rx, '/xp', (r) => r.json.event === 'User.Created', 'User.Created');
    assertSigned(created, hook.signingKey);
    assert.equal(created.json.data.username, username);
    assert.equal(created.json.data.id, reg.json.userId);

    const xs = new ExperienceClient(ctx, new CookieJar());
    await xs.start(authUrl(config, app, await flowChecks()));
    await xs.passwordSignIn(username, password);
    const signIn = await waitDelivered(rx, '/xp', (r) => r.json.event === 'PostSignIn', 'PostSignIn');
    assertSigned(signIn, hook.signingKey);
    assert.equal(signIn.json.userId, reg.json.userId);
    assert.equal(signIn.json.interactionEvent, 'SignIn');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(rx.of('/xp').filter((r) => r.json.event === 'PostRegister').length, 1, 'once per interaction');
    assert.equal(rx.of('/xp').filter((r) => r.json.event === 'PostSignIn').length, 1);
  });

  it('user and organization changes in the Management API, in order', async () => {
    const hook = await createHook(api, rx, '/data', ['User.Created', 'User.Data.Updated', 'User.Deleted',
      'User.SuspensionStatus.Updated', 'Organization.Created', 'Organization.Data.Updated', 'Organization.Deleted']);
    const user = await ctx.createUser();
    expectStatus(await api.patch(`/users/${user.id}`, { name: 'Renamed' }), 200, 'PATCH user');
    expectStatus(await api.patch(`/users/${user.id}/is-suspended`, { isSuspended: true }), 200, 'suspend');
    const org = expectStatus(await api.post('/organizations', { name: uniq('org') }), 201, 'POST org');
    expectStatus(await api.patch(`/organizations/${org.id}`, { description: 'changed' }), 200, 'PATCH org');
    assert.equal((await api.del(`/organizations/${org.id}`)).status, 204);
    assert.equal((await api.del(`/users/${user.id}`)).status, 204);

    const want = ['User.Created', 'User.Data.Updated', 'User.SuspensionStatus.Updated', 'Organization.Created',
      'Organization.Data.Updated', 'Organization.Deleted', 'User.Deleted'];
    await waitFor(() => rx.of('/data').length >= want.length, { timeoutMs: 15000, what: 'all data events' });
    const got = rx.of('/data');
    assert.deepEqual(got.map((r) => r.json.event), want, 'one hook gets its events in commit order');
    for (const r of got) assertSigned(r, hook.signingKey);
    const [c, u, s, oc, ou, od, ud] = got.map((r) => r.json);
    assert.equal(c.data.id, user.id);
    assert.equal(c.path, '/api/users');
    assert.equal(c.method, 'POST');
    assert.equal(c.matchedRoute, '/api/users');
    assert.equal(c.status, 200);
    assert.equal(c.ip, '127.0.0.1');
    assert.equal(u.data.name, 'Renamed');
    assert.deepEqual(u.params, { userId: user.id });
    assert.equal(u.matchedRoute, '/api/users/:userId');
    assert.equal(s.data.isSuspended, true);
    assert.equal(oc.data.id, org.id);
    assert.equal(oc.status, 201);
    assert.equal(ou.data.description, 'changed');
    assert.equal(od.data.id, org.id);
    assert.equal(od.method, 'DELETE');
    assert.equal(ud.data.id, user.id);
    assert.equal(ud.status, 204);

    // A PATCH stopped at a problem (username in use) changed nothing and reports nothing.
    const other = await ctx.createUser();
    const target = await ctx.createUser();
    const clash = await api.patch(`/users/${target.id}`, { username: other.username });
    assert.equal(clash.status, 422, clash.text);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(rx.of('/data').filter((r) => r.json.event === 'User.Data.Updated').length, 1);
  });

  it('roles, scopes, organization roles and scopes, and the other user routes', async () => {
    const events = ['Role.Created', 'Role.Data.Updated', 'Role.Deleted', 'Scope.Created', 'Scope.Data.Updated',
      'Scope.Deleted', 'OrganizationRole.Created', 'OrganizationRole.Data.Updated', 'OrganizationRole.Deleted',
      'OrganizationScope.Created', 'OrganizationScope.Data.Updated', 'OrganizationScope.Deleted', 'User.Data.Updated'];
    const hook = await createHook(api, rx, '/more', events);
    const role = expectStatus(await api.post('/roles', { name: uniq('role'), description: 'r' }), [200, 201], 'role');
    expectStatus(await api.patch(`/roles/${role.id}`, { description: 'r2' }), 200, 'PATCH role');
    // Refused (a role's type cannot change): nothing changed, nothing reported.
    const typed = await api.patch(`/roles/${role.id}`, { type: 'MachineToMachine' });
    assert.ok(typed.status >= 400, typed.text);
    assert.equal((await api.del(`/roles/${role.id}`)).status, 204);
    const res = expectStatus(await api.post('/resources', { name: uniq('res'), indicator: `https://${uniq('api')}.example` }),
      [200, 201], 'resource');
    const scope = expectStatus(await api.post(`/resources/${res.id}/scopes`, { name: uniq('read') }), [200, 201], 'scope');
    expectStatus(await api.patch(`/resources/${res.id}/scopes/${scope.id}`, { description: 'd' }), 200, 'PATCH scope');
    assert.equal((await api.del(`/resources/${res.id}/scopes/${scope.id}`)).status, 204);
    const orole = expectStatus(await api.post('/organization-roles', { name: uniq('orole') }), 201, 'org role');
    expectStatus(await api.patch(`/organization-roles/${orole.id}`, { description: 'o' }), 200, 'PATCH org role');
    assert.equal((await api.del(`/organization-roles/${orole.id}`)).status, 204);
    const oscope = expectStatus(await api.post('/organization-scopes', { name: uniq('oscope') }), 201, 'org scope');
    expectStatus(await api.patch(`/organization-scopes/${oscope.id}`, { description: 'o' }), 200, 'PATCH org scope');
    assert.equal((await api.del(`/organization-scopes/${oscope.id}`)).status, 204);
    const user = await ctx.createUser();
    expectStatus(await api.patch(`/users/${user.id}/custom-data`, { customData: { plan: 'pro' } }), 200, 'custom data');
    expectStatus(await api.patch(`/users/${user.id}/password`, { password: 'Another-long-password-7!' }), 200, 'password');

    const want = ['Role.Created', 'Role.Data.Updated', 'Role.Deleted', 'Scope.Created', 'Scope.Data.Updated',
      'Scope.Deleted', 'OrganizationRole.Created', 'OrganizationRole.Data.Updated', 'OrganizationRole.Deleted',
      'OrganizationScope.Created', 'OrganizationScope.Data.Updated', 'OrganizationScope.Deleted',
      'User.Data.Updated', 'User.Data.Updated'];
    await waitFor(() => rx.of('/more').length >= want.length, { timeoutMs: 15000, what: 'all events' });
    await new Promise((r) => setTimeout(r, 500));
    const got = rx.of('/more');
    assert.deepEqual(got.map((r) => r.json.event), want);
    for (const r of got) assertSigned(r, hook.signingKey);
    const j = got.map((r) => r.json);
    assert.equal(j[1].data.description, 'r2');
    assert.equal(j[2].data.id, role.id);
    assert.deepEqual(j[4].params, { resourceId: res.id, scopeId: scope.id });
    assert.equal(j[4].matchedRoute, '/api/resources/:resourceId/scopes/:scopeId');
    assert.equal(j[4].data.description, 'd');
    assert.equal(j[6].data.id, orole.id);
    assert.equal(j[10].data.description, 'o');
    assert.deepEqual(j[12].data.customData, { plan: 'pro' });
    assert.equal(j[12].matchedRoute, '/api/users/:userId/custom-data');
    assert.equal(j[13].matchedRoute, '/api/users/:userId/password');
    assert.equal(JSON.stringify(j[13]).includes('Another-long-password'), false, 'no password in the payload');
  });

  it('Organization.Membership.Updated when members are added, replaced or removed', async () => {
    const hook = await createHook(api, rx, '/members', ['Organization.Membership.Updated']);
    const org = expectStatus(await api.post('/organizations', { name: uniq('morg') }), 201, 'org');
    const [a, b] = [await ctx.createUser(), await ctx.createUser()];
    expectStatus(await api.post(`/organizations/${org.id}/users`, { userIds: [a.id] }), [200, 201], 'add');
    expectStatus(await api.put(`/organizations/${org.id}/users`, { userIds: [a.id, b.id] }), [200, 204], 'replace');
    assert.equal((await api.del(`/organizations/${org.id}/users/${b.id}`)).status, 204);
    // Removing someone who is not a member changes nothing and reports nothing.
    const again = await api.del(`/organizations/${org.id}/users/${b.id}`);
    assert.ok(again.status === 404 || again.status === 204, again.text);
    await waitFor(() => rx.of('/members').length >= 3, { timeoutMs: 15000, what: 'three membership events' });
    await new Promise((r) => setTimeout(r, 800));
    const got = rx.of('/members');
    assert.equal(got.length, 3, got.map((r) => r.raw).join('\n'));
    for (const r of got) {
      assertSigned(r, hook.signingKey);
      assert.equal(r.json.event, 'Organization.Membership.Updated');
      assert.equal(r.json.organizationId, org.id);
      assert.equal(r.json.data, undefined);
    }
    assert.deepEqual(got.map((r) => [r.json.method, r.json.matchedRoute]), [
      ['POST', '/api/organizations/:id/users'],
      ['PUT', '/api/organizations/:id/users'],
      ['DELETE', '/api/organizations/:id/users/:userId'],
    ]);
    assert.deepEqual(got[2].json.params, { id: org.id, userId: b.id });
  });

  it('Role.Scopes.Updated and OrganizationRole.Scopes.Updated when the routes change a grant', async () => {
    const hook = await createHook(api, rx, '/grants', ['Role.Scopes.Updated', 'OrganizationRole.Scopes.Updated']);
    const res = expectStatus(await api.post('/resources', { name: uniq('gres'), indicator: `https://${uniq('g')}.example` }),
      [200, 201], 'resource');
    const s1 = expectStatus(await api.post(`/resources/${res.id}/scopes`, { name: uniq('g1') }), [200, 201], 'scope 1');
    const role = expectStatus(await api.post('/roles', { name: uniq('grole'), description: 'g' }), [200, 201], 'role');
    const added = expectStatus(await api.post(`/roles/${role.id}/scopes`, { scopeIds: [s1.id] }), [200, 201], 'grant');
    // Granting it again is refused: nothing changed, nothing reported.
    const again = await api.post(`/roles/${role.id}/scopes`, { scopeIds: [s1.id] });
    assert.equal(again.status, 422, again.text);
    assert.equal((await api.del(`/roles/${role.id}/scopes/${s1.id}`)).status, 204);
    const orole = expectStatus(await api.post('/organization-roles', { name: uniq('gorole') }), 201, 'org role');
    const [o1, o2] = [expectStatus(await api.post('/organization-scopes', { name: uniq('go1') }), 201, 'o1'),
      expectStatus(await api.post('/organization-scopes', { name: uniq('go2') }), 201, 'o2')];
    expectStatus(await api.post(`/organization-roles/${orole.id}/scopes`, { organizationScopeIds: [o1.id] }),
      [200, 201, 204], 'org grant');
    expectStatus(await api.put(`/organization-roles/${orole.id}/scopes`, { organizationScopeIds: [o1.id, o2.id] }),
      [200, 204], 'org replace');
    assert.equal((await api.del(`/organization-roles/${orole.id}/scopes/${o2.id}`)).status, 204);
    // API-resource scopes of an organization role: Logto reports no event for them.
    expectStatus(await api.post(`/organization-roles/${orole.id}/resource-scopes`, { scopeIds: [s1.id] }),
      [200, 201, 204], 'org resource grant');

    const want = [
      ['Role.Scopes.Updated', 'POST', '/api/roles/:id/scopes'],
      ['Role.Scopes.Updated', 'DELETE', '/api/roles/:id/scopes/:scopeId'],
      ['OrganizationRole.Scopes.Updated', 'POST', '/api/organization-roles/:id/scopes'],
      ['OrganizationRole.Scopes.Updated', 'PUT', '/api/organization-roles/:id/scopes'],
      ['OrganizationRole.Scopes.Updated', 'DELETE', '/api/organization-roles/:id/scopes/:organizationScopeId'],
    ];
    await waitFor(() => rx.of('/grants').length >= want.length, { timeoutMs: 15000, what: 'the grant events' });
    await new Promise((r) => setTimeout(r, 1000));
    const got = rx.of('/grants');
    assert.deepEqual(got.map((r) => [r.json.event, r.json.method, r.json.matchedRoute]), want,
      got.map((r) => r.raw).join('\n'));
    for (const r of got) assertSigned(r, hook.signingKey);
    const [rAdd, rDel, oAdd, , oDel] = got.map((r) => r.json);
    assert.deepEqual(rAdd.params, { id: role.id });
    assert.deepEqual(rAdd.data, added, 'the role\'s scopes, as the POST answered them');
    assert.equal(rAdd.data[0].id, s1.id);
    assert.deepEqual(rDel.params, { id: role.id, scopeId: s1.id });
    assert.equal(rDel.data, undefined, 'a 204: no data');
    assert.deepEqual(oAdd.params, { id: orole.id });
    assert.equal(oAdd.data, undefined);
    assert.deepEqual(oDel.params, { id: orole.id, organizationScopeId: o2.id });
  });

  it('Organization.Membership.Updated when an invitation is accepted', async () => {
    const hook = await createHook(api, rx, '/invited', ['Organization.Membership.Updated']);
    const org = expectStatus(await api.post('/organizations', { name: uniq('iorg') }), 201, 'org');
    const email = `${uniq('inv')}@invited.test`;
    const invitee = await ctx.createUser({ primaryEmail: email });
    const invite = (who) => api.post('/organization-invitations',
      { organizationId: org.id, invitee: who, expiresAt: Date.now() + 3600_000, messagePayload: false });
    const inv = expectStatus(await invite(email), 201, 'invite');
    // Revoking changes no membership: no event.
    const other = expectStatus(await invite(`${uniq('other')}@invited.test`), 201, 'invite another');
    expectStatus(await api.put(`/organization-invitations/${other.id}/status`, { status: 'Revoked' }), 200, 'revoke');
    expectStatus(await api.put(`/organization-invitations/${inv.id}/status`,
      { status: 'Accepted', acceptedUserId: invitee.id }), 200, 'accept');
    const got = await waitDelivered(rx, '/invited', () => true, 'the membership event');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(rx.of('/invited').length, 1, rx.of('/invited').map((r) => r.raw).join('\n'));
    assertSigned(got, hook.signingKey);
    assert.equal(got.json.event, 'Organization.Membership.Updated');
    assert.equal(got.json.organizationId, org.id);
    assert.equal(got.json.data, undefined);
    assert.equal(got.json.hookId, hook.id);
    const members = expectStatus(await api.get(`/organizations/${org.id}/users`), 200, 'members');
    assert.ok(members.some((u) => u.id === invitee.id), 'the change the event reports happened');
  });

  it('Organization.Membership.Updated when a social sign-up joins organizations by email domain (JIT)', async () => {
    const hook = await createHook(api, rx, '/jit', ['Organization.Membership.Updated', 'User.Created']);
    const connector = expectStatus(await api.post('/connectors', {
      connectorId: 'mock-social', config: { authorizationEndpoint: 'http://127.0.0.1:9/authorize' },
    }), 200, 'the mock connector');
    await ctx.patchSignInExp({ socialSignInConnectorTargets: ['mock'],
      signUp: { identifiers: [], password: false, verify: false } });
    const domain = `${uniq('jit')}.test`;
    const orgs = [];
    for (const n of ['a', 'b']) {
      const org = expectStatus(await api.post('/organizations', { name: uniq(`jit${n}`) }), 201, 'org');
      expectStatus(await api.post(`/organizations/${org.id}/jit/email-domains`, { emailDomain: domain }), 201, 'domain');
      orgs.push(org.id);
    }
    const app = await ctx.createWebApp('http://127.0.0.1:9');
    const config = await webAppConfig(ctx, app);
    const signUp = async (profile) => {
      const xp = new ExperienceClient(ctx, new CookieJar());
      await xp.start(authUrl(config, app, await flowChecks()));
      const r = await xp.call('POST', `/verification/social/${connector.id}/authorization-uri`,
        { state: 'page-state', redirectUri: `${ctx.base}/callback/${connector.id}` });
      assert.equal(r.status, 200, r.text);
      const upstream = new URL(r.json().authorizationUri);
      const back = new URL(upstream.searchParams.get('redirect_uri'));
      back.searchParams.set('state', upstream.searchParams.get('state'));
      for (const [k, v] of Object.entries(profile)) back.searchParams.set(k, v);
      await xp.resume(back.href);
    };
    const ann = { id: uniq('ann'), name: 'Ann', email: `ann@${domain}`, email_verified: 'true' };
    await signUp(ann);
    await waitFor(() => rx.of('/jit').filter((r) => r.json.event === 'Organization.Membership.Updated').length >= 2,
      { timeoutMs: 15000, what: 'two JIT membership events' });
    // Her next sign-in joins nothing: no more events.
    await signUp(ann);
    await new Promise((r) => setTimeout(r, 1000));
    const got = rx.of('/jit').filter((r) => r.json.event === 'Organization.Membership.Updated');
    assert.equal(got.length, 2, got.map((r) => r.raw).join('\n'));
    for (const r of got) {
      assertSigned(r, hook.signingKey);
      assert.equal(r.json.interactionEvent, 'Register');
      assert.equal(r.json.ip, '127.0.0.1');
      assert.match(r.json.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(r.json.data, undefined);
    }
    assert.deepEqual(got.map((r) => r.json.organizationId).sort(), [...orgs].sort());
  });

  it('a password reset: PostResetPassword and User.Data.Updated, without the password', async () => {
    const hook = await createHook(api, rx, '/reset', ['PostResetPassword', 'User.Data.Updated']);
    await ctx.patchSignInExp({ forgotPasswordMethods: ['EmailVerificationCode'] });
    const email = `${uniq('fay')}@reset.test`;
    const user = await ctx.createUser({ primaryEmail: email });
    const app = await ctx.createWebApp('http://127.0.0.1:9');
    const xp = new ExperienceClient(ctx, new CookieJar());
    await xp.start(authUrl(await webAppConfig(ctx, app), app, await flowChecks()));
    await xp.begin('ForgotPassword');
    // A code as latchd stores one it sent to the address for this interaction.
    const codeKey = Buffer.from(hkdfSync('sha256', Buffer.from(srv.env.LATCH_SECRET_KEY, 'base64'), 'latch',
      'latch/verification-code/v1', 32));
    const id = randomId(21).toLowerCase();
    const code = '246810';
    await adminQuery(
      `INSERT INTO verification_codes (tenant_id, id, interaction_hash, identifier_type, identifier,
         template_type, code_hash, created_at, expires_at, max_tries)
       VALUES ($1, $2, $3, 'email', $4, 'ForgotPassword', $5, now(), now() + interval '10 minutes', 10)`,
      [ctx.id, id, createHash('sha256').update(xp.jar.get(xp.interactionCookie)).digest(), email,
        createHmac('sha256', codeKey).update(`${ctx.id}\n${id}\nemail\n${email}\n${code}`).digest()]);
    const v = await xp.call('POST', '/verification/verification-code/verify',
      { identifier: { type: 'email', value: email }, verificationId: id, code });
    assert.equal(v.status, 200, v.text);
    assert.equal((await xp.call('POST', '/identification', { verificationId: id })).status, 204);
    const password = 'A-new-reset-password-31!';
    assert.equal((await xp.call('PUT', '/profile/password', { password })).status, 204);
    const sub = await xp.call('POST', '/submit');
    assert.equal(sub.status, 204, sub.text);

    await waitFor(() => rx.of('/reset').length >= 2, { timeoutMs: 15000, what: 'the reset events' });
    await new Promise((r) => setTimeout(r, 800));
    const got = rx.of('/reset');
    assert.deepEqual(got.map((r) => r.json.event), ['PostResetPassword', 'User.Data.Updated']);
    for (const r of got) {
      assertSigned(r, hook.signingKey);
      assert.equal(r.json.interactionEvent, 'ForgotPassword');
      assert.equal(r.raw.includes(password), false, 'no password in the payload');
    }
    assert.equal(got[0].json.userId, user.id);
    assert.equal(got[0].json.userIp, '127.0.0.1');
    assert.equal(got[1].json.data.id, user.id);
    assert.equal(got[1].json.data.primaryEmail, email);
    assert.equal(got[1].json.ip, '127.0.0.1');
    assert.equal(got[1].json.path, undefined, 'not a Management API request');
  });

  it('a sign-in that completes the profile or binds an MFA factor: User.Data.Updated, once each change happened', async () => {
    const hook = await createHook(api, rx, '/bound', ['User.Data.Updated']);
    await ctx.patchSignInExp({ mfa: { factors: ['Totp', 'BackupCode'], policy: 'UserControlled' } });
    // Someone without a username, who signs in with the email and sets one.
    const email = `${uniq('ned')}@bound.test`;
    const password = 'A-long-enough-password-43!';
    const user = expectStatus(await api.post('/users', { primaryEmail: email, password }), [200, 201], 'user');
    const app = await ctx.createWebApp('http://127.0.0.1:9');
    const xp = new ExperienceClient(ctx, new CookieJar());
    await xp.start(authUrl(await webAppConfig(ctx, app), app, await flowChecks()));
    await xp.begin('SignIn');
    const v = await xp.verifyPassword(email, password, { type: 'email' });
    assert.equal(v.status, 200, v.text);
    assert.equal((await xp.call('POST', '/identification', { verificationId: v.json().verificationId })).status, 204);
    const username = uniq('ned').replace(/-/g, '_');
    assert.equal((await xp.call('POST', '/profile', { type: 'username', value: username })).status, 204);
    // A second username is refused: nothing changed, nothing reported.
    assert.equal((await xp.call('POST', '/profile', { type: 'username', value: `${username}_2` })).status, 422);
    await waitDelivered(rx, '/bound', (r) => r.json.data.username === username, 'the username change');
    const sec = await xp.call('POST', '/verification/totp/secret');
    assert.equal(sec.status, 200, sec.text);
    const { verificationId, secret } = sec.json();
    // Refused before the secret is proved: nothing bound, nothing reported.
    assert.equal((await xp.call('POST', '/profile/mfa', { type: 'Totp', verificationId })).status, 400);
    assert.equal((await xp.call('POST', '/verification/totp/verify', { verificationId, code: totp(secret) })).status, 200);
    assert.equal((await xp.call('POST', '/profile/mfa', { type: 'Totp', verificationId })).status, 204);

    await waitFor(() => rx.of('/bound').length >= 2, { timeoutMs: 15000, what: 'User.Data.Updated of the binding' });
    await new Promise((r) => setTimeout(r, 1000));
    const got = rx.of('/bound');
    assert.equal(got.length, 2, got.map((r) => r.raw).join('\n'));
    for (const r of got) {
      assertSigned(r, hook.signingKey);
      assert.equal(r.json.event, 'User.Data.Updated');
      assert.equal(r.json.interactionEvent, 'SignIn');
      assert.equal(r.json.data.id, user.id);
      assert.equal(r.json.data.username, username);
      assert.equal(r.json.ip, '127.0.0.1');
      assert.equal(r.raw.includes(secret), false, 'no TOTP secret in the payload');
      assert.equal(r.raw.includes(password), false, 'no password in the payload');
    }
    await ctx.patchSignInExp({ mfa: { factors: [], policy: 'UserControlled' } });
  });

  it('a change rolled back emits nothing', async () => {
    await createHook(api, rx, '/rollback', ['Organization.Created']);
    // A trigger that fails the insert after latch_hook_emit() has run in the same transaction.
    const fn = `hk_boom_${Date.now()}`;
    await adminQuery(`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      IF NEW.name = 'boom-org' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$`);
    await adminQuery(`CREATE CONSTRAINT TRIGGER ${fn} AFTER INSERT ON organizations
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${fn}()`);
    try {
      const t0 = Date.now();
      const res = await api.post('/organizations', { name: 'boom-org' }).catch((e) => {
        throw new Error(`POST boom-org after ${Date.now() - t0} ms: ${e?.name} ${e?.message}`);
      });
      assert.ok(res.status >= 500, `the commit failed: ${res.status} ${res.text}`);
      const orgs = await adminQuery('SELECT count(*)::int AS n FROM organizations WHERE tenant_id = $1 AND name = $2',
        [ctx.id, 'boom-org']);
      assert.equal(orgs.rows[0].n, 0, 'the change was rolled back');
      const ok = expectStatus(await api.post('/organizations', { name: 'fine-org' }), 201, 'POST org');
      await waitDelivered(rx, '/rollback', (r) => r.json.data.id === ok.id, 'the committed one');
      await new Promise((r) => setTimeout(r, 1000));
      assert.deepEqual(rx.of('/rollback').map((r) => r.json.data.name), ['fine-org']);
      const rows = await adminQuery(`SELECT count(*)::int AS n FROM hook_deliveries
        WHERE tenant_id = $1 AND body LIKE '%boom-org%'`, [ctx.id]);
      assert.equal(rows.rows[0].n, 0, 'no outbox row of the rolled-back change');
    } finally {
      await adminQuery(`DROP TRIGGER ${fn} ON organizations`);
      await adminQuery(`DROP FUNCTION ${fn}()`);
    }
  });

  it('a receiver that fails the first attempts gets the event later; every attempt is logged', async () => {
    const hook = await createHook(api, rx, '/retry', ['Organization.Created']);
    rx.failNext('/retry', 2);
    const org = expectStatus(await api.post('/organizations', { name: uniq('retry') }), 201, 'POST org');
    await waitFor(() => rx.of('/retry').length >= 3, { timeoutMs: 20000, what: 'three attempts' });
    const attempts = rx.of('/retry');
    assert.ok(attempts.every((r) => r.raw === attempts[0].raw), 'the same signed body each time');
    assert.equal(attempts[0].json.data.id, org.id);
    assertSigned(attempts[2], hook.signingKey);

    const logs = await waitFor(async () => {
      const res = await api.get(`/hooks/${hook.id}/recent-logs`);
      const l = res.json();
      return l.length >= 3 && l;
    }, { what: 'three logged attempts' });
    assert.deepEqual(logs.map((l) => l.payload.result).sort(), ['Error', 'Error', 'Success']);
    for (const l of logs) {
      assert.equal(l.key, 'TriggerHook.Organization.Created');
      assert.equal(l.payload.hookId, hook.id);
      assert.equal(l.payload.hookRequest.body.data.id, org.id);
      assert.ok([200, 500].includes(l.payload.response.statusCode));
      assert.equal(typeof l.createdAt, 'number');
    }
    const ok = logs.find((l) => l.payload.result === 'Success');
    assert.deepEqual(ok.payload.response.body, { ok: true });
    const withStats = expectStatus(await api.get(`/hooks/${hook.id}?includeExecutionStats=1`), 200, 'stats');
    assert.deepEqual(withStats.executionStats, { requestCount: 3, successCount: 1 });
    const filtered = await api.get(`/hooks/${hook.id}/recent-logs?logKey=TriggerHook.User.Created`);
    assert.deepEqual(filtered.json(), []);
  });

  it('POST /hooks/:id/test sends a signed test payload now and answers with the outcome', async () => {
    const hook = await createHook(api, rx, '/unused', ['PostSignIn']);
    const res = await api.post(`/hooks/${hook.id}/test`,
      { events: ['PostSignIn', 'User.Created'], config: { url: rx.url('/test'), headers: { 'x-extra': 'yes' } } });
    assert.equal(res.status, 204, res.text);
    const got = rx.of('/test');
    assert.deepEqual(got.map((r) => r.json.event), ['PostSignIn', 'User.Created']);
    for (const r of got) {
      assertSigned(r, hook.signingKey);
      assert.equal(r.headers['x-extra'], 'yes');
      assert.equal(r.json.hookId, hook.id);
    }
    assert.equal(got[0].json.user.username, 'fake-user');
    assert.deepEqual(got[1].json.data, { result: 'success' });
    rx.failNext('/test', 1);
    const failed = await api.post(`/hooks/${hook.id}/test`, { events: ['PostSignIn'], config: { url: rx.url('/test') } });
    assert.equal(failed.status, 422, failed.text);
    assert.equal(failed.json().code, 'hook.endpoint_responded_with_error');
    assert.equal(failed.json().data.responseStatus, 500);
    const unknown = await api.post('/hooks/nope/test', { events: ['PostSignIn'], config: { url: rx.url('/test') } });
    assert.equal(unknown.status, 404);
  });

  it('a tenant sees and triggers only its own hooks', async () => {
    const hook = await createHook(api, rx, '/mine', ['Organization.Created']);
    const other = await TenantCtx.create(srv, 'hk2');
    const otherApi = await other.api();
    assert.equal((await otherApi.get(`/hooks/${hook.id}`)).status, 404);
    assert.equal((await otherApi.patch(`/hooks/${hook.id}/signing-key`, {})).status, 404);
    assert.equal((await otherApi.del(`/hooks/${hook.id}`)).status, 404);
    assert.deepEqual(expectStatus(await otherApi.get('/hooks'), 200, 'list'), []);
    expectStatus(await otherApi.post('/organizations', { name: 'theirs' }), 201, 'their org');
    const mine = expectStatus(await api.post('/organizations', { name: 'mine' }), 201, 'my org');
    await waitDelivered(rx, '/mine', (r) => r.json.data.id === mine.id, 'my event');
    await new Promise((r) => setTimeout(r, 800));
    assert.deepEqual(rx.of('/mine').map((r) => r.json.data.name), ['mine']);
    // Row-level security: without the tenant set, the application role sees no hook row.
    const rows = await adminQuery('SELECT count(*)::int AS n FROM hooks WHERE tenant_id = $1', [ctx.id]);
    assert.ok(rows.rows[0].n > 0);
  });
});

describe('webhook URLs under the default outbound policy', () => {
  let srv;
  let rx;
  before(async () => {
    rx = await startReceiver();
    // The receiver's CA only: no connect-to mapping, no private addresses allowed.
    srv = await startLatchd({ env: { LATCH_OUTBOUND_CA_FILE: rx.certs.caFile, LATCH_HOOK_SWEEP_MS: '300' } });
  });
  after(async () => {
    if (process.env.LATCH_HOOKS_DEBUG) console.error(srv?.stderrText?.());
    await srv?.stop();
    await rx?.stop();
  });

  it('loopback, private and link-local URLs are refused at creation and at delivery', async () => {
    const ctx = await TenantCtx.create(srv, 'hkp');
    const api = await ctx.api();
    for (const url of [`https://127.0.0.1:${rx.port}/hook`, 'https://localhost/hook', 'https://app.localhost/x',
      'https://[::1]/x', 'https://[::ffff:127.0.0.1]/x', 'https://169.254.169.254/latest', 'https://10.0.0.1/x',
      'https://192.168.1.1/x', 'https://[fe80::1]/x', 'https://[fd00::1]/x', 'https://224.0.0.1/x']) {
      const res = await api.post('/hooks', { events: ['PostSignIn'], config: { url } });
      assert.equal(res.status, 400, `${url}: ${res.text}`);
      assert.equal(res.json().code, 'guard.invalid_input', url);
      assert.match(res.json().message, /^config\.url: /, url);
    }
    // A name that resolves to loopback (localhost, from /etc/hosts), stored directly as if the
    // policy had changed since: delivery checks the address the name resolves to and refuses it.
    const id = `hkp${Date.now()}`.slice(0, 21);
    await adminQuery(`INSERT INTO hooks (tenant_id, id, name, events, config, signing_key)
      VALUES ($1, $2, 'direct', '["Organization.Created"]', $3, 'k')`,
    [ctx.id, id, JSON.stringify({ url: `https://localhost:${rx.port}/refused` })]);
    expectStatus(await api.post('/organizations', { name: 'refused' }), 201, 'org');
    const logs = await waitFor(async () => {
      const l = (await api.get(`/hooks/${id}/recent-logs`)).json();
      return l.length >= 1 && l;
    }, { what: 'a logged attempt' });
    assert.equal(logs[0].payload.result, 'Error');
    assert.match(logs[0].payload.error, /refused|not allowed|private|loopback/i, logs[0].payload.error);
    assert.equal(logs[0].payload.response, undefined, 'no answer: nothing was sent');
    assert.equal(rx.of('/refused').length, 0, 'the receiver heard nothing');
  });
});

describe('webhooks across nodes', () => {
  let rx;
  let a;
  let b;

  before(async () => {
    rx = await startReceiver();
  });
  after(async () => {
    await a?.stop().catch(() => {});
    await b?.stop();
    await rx?.stop();
  });

  it('a node killed with SIGKILL mid-delivery: another node delivers every committed event', async () => {
    const env = { ...rx.env, LATCH_HOOK_TIMEOUT_MS: '2000', LATCH_HOOK_RETRY_BASE_MS: '200', LATCH_HOOK_SWEEP_MS: '300' };
    a = await startLatchd({ env });
    const ctx = await TenantCtx.create(a, 'hkn');
    const api = await ctx.api();
    await createHook(api, rx, '/nodes', ['Organization.Created']);
    rx.hang(true);
    const orgs = [];
    for (let i = 0; i < 3; i++) {
      orgs.push(expectStatus(await api.post('/organizations', { name: `n${i}` }), 201, `org ${i}`).id);
    }
    // Node A holds the first event (the receiver does not answer); one in flight per hook.
    await waitFor(() => rx.of('/nodes').length >= 1, { what: 'node A attempting' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rx.of('/nodes').length, 1, 'one delivery of a hook in flight at a time');
    await a.stop('SIGKILL', 5000);
    a = null;
    rx.hang(false);

    b = await startLatchd({ env: { ...env, LATCH_SECRET_KEY: ctx.server.env.LATCH_SECRET_KEY } });
    // B takes over once A's lease (timeout + 5 s) has run out.
    await waitFor(() => {
      const ids = new Set(rx.of('/nodes').map((r) => r.json.data.id));
      return orgs.every((id) => ids.has(id));
    }, { timeoutMs: 30000, what: 'node B delivering all three' });
    const seen = rx.of('/nodes').map((r) => r.json.data.id);
    assert.deepEqual([...new Set(seen)], orgs, 'exactly the committed events, in order');
    assert.equal(seen[0], orgs[0], 'the first attempt (A\'s) was of the first event');
  });
});
