// End-to-end tests of the Management API (issue 3), Logto's paths and JSON shapes under
// <tenant endpoint>/api: access (bootstrap application from LATCH_BOOTSTRAP_CLIENT_ID/SECRET,
// `latchctl app create --management`, 401 and 403 cases), applications and their secrets,
// resources and scopes, MachineToMachine roles with their scopes and applications, pagination
// (page, page_size, Total-Number), invalid bodies (400 with a code and a message naming the
// field) and GET /api/swagger.json. Each change is checked where it matters: at the token
// endpoint.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  createTenant,
  ctlEnv,
  http,
  latchctl,
  latchctlOk,
  randomId,
  startLatchd,
} from './lib/harness.mjs';
import {
  TenantCtx,
  apiClient,
  assertApiError,
  assertInvalidField,
  assertNoneOrNotFound,
  assertOAuthError,
  clientCredentials,
  eventually,
  expectStatus,
  jose,
  managementIndicator,
  scopeSet,
  sleep,
  uniq,
  verifyAccessToken,
} from './lib/oidc.mjs';

const CREATED = [200, 201];
const CONFLICT = [400, 409, 422];
const toMs = (v) => (typeof v === 'number' ? v : Date.parse(v));

/** A token request for resource that must succeed; resolves the response JSON. */
const ccToken = (ctx, creds, resource, scope) => ctx.clientCredentials(creds, { resource, scope });

/** Status of a client_credentials request (for "stops working" checks). */
async function ccStatus(ctx, creds, resource) {
  const r = await ctx.tokenRequest({ client: creds, params: { grant_type: 'client_credentials', resource } });
  return r.status;
}

describe('Management API', () => {
  let srv;
  const boot = { id: `boot${randomId(12)}`, secret: randomBytes(32).toString('base64url') };
  before(async () => {
    srv = await startLatchd({
      env: { LATCH_BOOTSTRAP_CLIENT_ID: boot.id, LATCH_BOOTSTRAP_CLIENT_SECRET: boot.secret },
    });
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  describe('access', () => {
    it('the bootstrap application (LATCH_BOOTSTRAP_CLIENT_ID/SECRET) manages tenant default',
      async () => {
        const indicator = managementIndicator(srv, 'default');
        const tok = await clientCredentials(srv, 'default', boot, { resource: indicator, scope: 'all' });
        assert.deepEqual(scopeSet(tok.scope), ['all']);
        const { payload } = await verifyAccessToken(srv, 'default', tok.access_token, { audience: indicator });
        assert.equal(payload.sub, boot.id);
        assert.equal(payload.iss, `${srv.publicUrl}/oidc`);

        const api = apiClient(srv, 'default', tok.access_token);
        const res = await api.get(`/applications/${boot.id}`);
        const app = expectStatus(res, 200, 'GET the bootstrap app at default');
        assert.equal(app.id, boot.id);
        assert.equal(app.type, 'MachineToMachine');
        assert.ok(!res.text.includes(boot.secret), 'the secret is never shown');
        const list = await api.get('/applications?page=1&page_size=20');
        expectStatus(list, 200, 'list at default');
        assert.ok(!list.text.includes(boot.secret), 'the secret is never shown');
        const roles = expectStatus(await api.get(`/applications/${boot.id}/roles`), 200, 'bootstrap roles');
        assert.ok(Array.isArray(roles) && roles.length >= 1, `bootstrap app has the management role: ${JSON.stringify(roles)}`);
      });

    it('a second node with the same bootstrap settings starts and serves the same application',
      async () => {
        const node2 = await startLatchd({
          env: {
            LATCH_SECRET_KEY: srv.env.LATCH_SECRET_KEY,
            LATCH_PUBLIC_URL: srv.env.LATCH_PUBLIC_URL,
            LATCH_BOOTSTRAP_CLIENT_ID: boot.id,
            LATCH_BOOTSTRAP_CLIENT_SECRET: boot.secret,
          },
        });
        try {
          const indicator = managementIndicator(srv, 'default');
          const tok = await clientCredentials(node2, 'default', boot, { resource: indicator, scope: 'all' });
          const app = expectStatus(await apiClient(node2, 'default', tok.access_token)
            .get(`/applications/${boot.id}`), 200, 'the bootstrap app at node 2');
          assert.equal(app.type, 'MachineToMachine');
          // Making sure again did not assign the management role twice.
          const roles = expectStatus(await apiClient(node2, 'default', tok.access_token)
            .get(`/applications/${boot.id}/roles`), 200, 'its roles');
          assert.equal(new Set(roles.map((r) => r.id)).size, roles.length, 'no role assigned twice');
          // The first node still takes the same credentials.
          await clientCredentials(srv, 'default', boot, { resource: indicator, scope: 'all' });
        } finally {
          assert.equal((await node2.stop()).code, 0);
        }
      });

    it('latchctl app create --management prints {"id","secret"}; that app manages its tenant',
      async () => {
        const tenant = await createTenant('ctl', 'CLI', ctlEnv(srv));
        const name = uniq('ctl-admin');
        const out = await latchctlOk(['app', 'create', '--tenant', tenant, '--type', 'MachineToMachine',
          '--name', name, '--management'], ctlEnv(srv));
        const created = JSON.parse(out.trim()); // stdout is exactly one JSON document
        assert.deepEqual(Object.keys(created).sort(), ['id', 'secret'], out);
        assert.ok(created.id.length > 0 && created.id.length <= 21, `id ${created.id}`);
        assert.ok(created.secret.length >= 43, 'a secret of at least 32 random bytes');

        const indicator = managementIndicator(srv, tenant);
        const tok = await clientCredentials(srv, tenant, created, { resource: indicator, scope: 'all' });
        const api = apiClient(srv, tenant, tok.access_token);
        const app = expectStatus(await api.get(`/applications/${created.id}`), 200, 'GET own app');
        assert.equal(app.name, name);
        assert.equal(app.type, 'MachineToMachine');
        assert.ok(!JSON.stringify(app).includes(created.secret), 'the secret is not shown again');
      });

    it('latchctl app create without --management gives no access to the Management API (403)',
      async () => {
        const tenant = await createTenant('ctl2', 'CLI', ctlEnv(srv));
        const out = await latchctlOk(['app', 'create', '--tenant', tenant, '--type', 'MachineToMachine',
          '--name', uniq('plain')], ctlEnv(srv));
        const plain = JSON.parse(out.trim());
        const tok = await clientCredentials(srv, tenant, plain,
          { resource: managementIndicator(srv, tenant), scope: 'all' });
        assert.deepEqual(scopeSet(tok.scope), [], 'scope all is not held');
        const res = await apiClient(srv, tenant, tok.access_token).get('/applications');
        assertApiError(res, 403, 'token without scope all');
      });

    it('latchctl app create refuses bad input', async () => {
      const tenant = await createTenant('ctl3', 'CLI', ctlEnv(srv));
      for (const args of [
        ['app', 'create', '--tenant', `nope-${randomId(6)}`, '--type', 'MachineToMachine', '--name', 'x'],
        ['app', 'create', '--tenant', tenant, '--type', 'Bogus', '--name', 'x'],
        ['app', 'create', '--tenant', tenant, '--type', 'MachineToMachine'],
      ]) {
        const r = await latchctl(args, ctlEnv(srv));
        assert.notEqual(r.code, 0, `${args.join(' ')}: ${r.stdout}`);
        assert.equal(r.stdout.trim(), '', 'nothing on stdout on failure');
      }
    });

    describe('401 and 403', () => {
      let ctx;
      before(async () => {
        ctx = await TenantCtx.create(srv, 'auth');
      });

      it('401 without a token, with a malformed one, with Basic credentials', async () => {
        const url = `${ctx.base}/api/applications`;
        const cases = {
          none: {},
          empty: { authorization: 'Bearer' },
          garbage: { authorization: 'Bearer abc.def.ghi' },
          nonjwt: { authorization: 'Bearer not-a-jwt' },
          basic: { authorization: `Basic ${Buffer.from(`${ctx.admin.id}:${ctx.admin.secret}`).toString('base64')}` },
          otherScheme: { authorization: `Token ${await ctx.mgmtToken()}` },
        };
        for (const [what, headers] of Object.entries(cases)) {
          assertApiError(await http(url, { headers }), 401, what);
        }
      });

      it('401 with a forged or altered token', async () => {
        const good = await ctx.mgmtToken({ refresh: true });
        const [h, p, s] = good.split('.');
        const claims = jose.decodeJwt(good);
        const header = jose.decodeProtectedHeader(good);

        // One character of the signature changed (in the middle: no spare bits there).
        const i = Math.floor(s.length / 2);
        const flipped = `${h}.${p}.${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`;
        // The payload changed, the signature kept.
        const p2 = Buffer.from(JSON.stringify({ ...claims, scope: 'all more' })).toString('base64url');
        // alg none.
        const hNone = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: header.kid })).toString('base64url');
        // Signed by a key of our own with the tenant's kid, issuer, audience and scope.
        const { privateKey } = await jose.generateKeyPair('ES384');
        const forged = await new jose.SignJWT({ ...claims, jti: `forged-${randomId(8)}` })
          .setProtectedHeader({ alg: 'ES384', typ: 'at+jwt', kid: header.kid }).sign(privateKey);
        // HS256 with the public JWK as the secret (algorithm confusion).
        const { keys } = await ctx.jwks();
        const hs = await new jose.SignJWT({ ...claims })
          .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: header.kid })
          .sign(new TextEncoder().encode(JSON.stringify(keys[0])));

        for (const [what, token] of Object.entries({
          flipped, alteredPayload: `${h}.${p2}.${s}`, algNone: `${hNone}.${p}.`, forged, hs,
          truncated: `${h}.${p}`, padded: `${good}.`,
        })) {
          assertApiError(await apiClient(srv, ctx.id, token).get('/applications'), 401, what);
        }
        // The genuine one still works.
        assert.equal((await apiClient(srv, ctx.id, good).get('/applications')).status, 200);
      });

      it('403 with a Management API token that lacks scope all', async () => {
        const tok = await ctx.clientCredentials(ctx.admin, { resource: ctx.apiIndicator, scope: 'not-a-scope' });
        assert.deepEqual(scopeSet(tok.scope), []);
        for (const [m, p, body] of [['GET', '/applications'], ['GET', '/configs/oidc/private-keys'],
          ['POST', '/resources', { name: 'x', indicator: 'https://x.example' }]]) {
          const res = await apiClient(srv, ctx.id, tok.access_token).req(m, p, body);
          assertApiError(res, 403, `${m} ${p} without all`);
        }
      });

      it('a token for another resource, even with a scope named all, is refused (401 or 403)',
        async () => {
          const { resource, scopes } = await ctx.createResource({ scopes: ['all'] });
          const role = await ctx.createRole({ scopeIds: [scopes.all.id] });
          const app = await ctx.createApp({});
          await ctx.assignRoles(app.id, [role.id]);
          const tok = await ctx.clientCredentials({ id: app.id, secret: app.secret },
            { resource: resource.indicator, scope: 'all' });
          assert.deepEqual(scopeSet(tok.scope), ['all']);
          const res = await apiClient(srv, ctx.id, tok.access_token).get('/applications');
          assertApiError(res, [401, 403], 'token with another audience');
        });
    });
  });

  describe('applications', () => {
    let ctx;
    let api;
    before(async () => {
      ctx = await TenantCtx.create(srv, 'apps');
      api = await ctx.api();
    });

    it('POST a MachineToMachine app → 200 with a one-time secret; GET never shows it', async () => {
      const name = uniq('m2m');
      const res = await api.post('/applications', { name, type: 'MachineToMachine', description: 'for e2e' });
      const app = expectStatus(res, 200, 'create M2M');
      assert.equal(typeof app.id, 'string');
      assert.equal(app.name, name);
      assert.equal(app.type, 'MachineToMachine');
      assert.equal(app.description, 'for e2e');
      assert.equal(typeof app.secret, 'string');
      assert.ok(app.secret.length >= 43, `secret of at least 32 random bytes: ${app.secret.length} chars`);
      assert.equal(typeof app.oidcClientMetadata, 'object');
      assert.ok(Array.isArray(app.oidcClientMetadata.redirectUris));
      assert.ok(Array.isArray(app.oidcClientMetadata.postLogoutRedirectUris));
      assert.equal(typeof app.customClientMetadata, 'object');

      const got = await api.get(`/applications/${app.id}`);
      const body = expectStatus(got, 200, 'GET app');
      assert.equal(body.id, app.id);
      assert.equal(body.name, name);
      assert.equal(body.type, 'MachineToMachine');
      assert.equal(body.description, 'for e2e');
      assert.ok(!got.text.includes(app.secret), 'GET does not show the secret');
      const list = await api.get('/applications');
      assert.ok(expectStatus(list, 200, 'list').some((a) => a.id === app.id));
      assert.ok(!list.text.includes(app.secret), 'the list does not show the secret');
    });

    it('two apps never get the same id or secret', async () => {
      const a = await ctx.createApp({});
      const b = await ctx.createApp({});
      assert.notEqual(a.id, b.id);
      assert.notEqual(a.secret, b.secret);
    });

    it('POST a Traditional app with oidcClientMetadata and customClientMetadata round-trips',
      async () => {
        const oidcClientMetadata = {
          redirectUris: ['http://localhost:3000/api/auth/callback/logto'],
          postLogoutRedirectUris: ['http://localhost:3000'],
        };
        const customClientMetadata = {
          idTokenTtl: 1800, refreshTokenTtlInDays: 7, corsAllowedOrigins: ['http://localhost:3000'],
          rotateRefreshToken: true,
        };
        const app = expectStatus(await api.post('/applications', {
          name: uniq('web'), type: 'Traditional', oidcClientMetadata, customClientMetadata,
        }), 200, 'create Traditional');
        assert.equal(typeof app.secret, 'string', 'a Traditional app gets a secret');
        const got = expectStatus(await api.get(`/applications/${app.id}`), 200, 'GET Traditional');
        assert.equal(got.type, 'Traditional');
        assert.deepEqual(got.oidcClientMetadata.redirectUris, oidcClientMetadata.redirectUris);
        assert.deepEqual(got.oidcClientMetadata.postLogoutRedirectUris,
          oidcClientMetadata.postLogoutRedirectUris);
        for (const [k, v] of Object.entries(customClientMetadata)) {
          assert.deepEqual(got.customClientMetadata[k], v, `customClientMetadata.${k}`);
        }
      });

    it('SPA and Native apps can be created', async () => {
      for (const type of ['SPA', 'Native']) {
        const app = expectStatus(await api.post('/applications', {
          name: uniq(type.toLowerCase()), type,
          oidcClientMetadata: { redirectUris: ['http://localhost:5173/callback'], postLogoutRedirectUris: [] },
        }), 200, `create ${type}`);
        assert.equal(app.type, type);
      }
    });

    it('PATCH changes name, description and metadata; GET shows the change', async () => {
      const app = await ctx.createApp({});
      const name = uniq('renamed');
      const patched = expectStatus(await api.patch(`/applications/${app.id}`, {
        name, description: 'changed',
        oidcClientMetadata: { redirectUris: ['https://app.example/cb'], postLogoutRedirectUris: [] },
      }), 200, 'PATCH app');
      assert.equal(patched.name, name);
      assert.equal(patched.description, 'changed');
      const got = expectStatus(await api.get(`/applications/${app.id}`), 200, 'GET patched');
      assert.equal(got.name, name);
      assert.equal(got.description, 'changed');
      assert.deepEqual(got.oidcClientMetadata.redirectUris, ['https://app.example/cb']);
      assert.equal(got.type, 'MachineToMachine');
      assert.ok(!JSON.stringify(got).includes(app.secret));
    });

    it('DELETE → 204; then 404 for GET, PATCH and DELETE, and its secret stops working', async () => {
      const { resource, scopes } = await ctx.createResource({ scopes: ['s'] });
      const role = await ctx.createRole({ scopeIds: [scopes.s.id] });
      const app = await ctx.createApp({});
      await ctx.assignRoles(app.id, [role.id]);
      const creds = { id: app.id, secret: app.secret };
      assert.deepEqual(scopeSet((await ccToken(ctx, creds, resource.indicator)).scope), ['s']);

      expectStatus(await api.del(`/applications/${app.id}`), 204, 'DELETE app');
      assertApiError(await api.get(`/applications/${app.id}`), 404, 'GET deleted');
      assertApiError(await api.patch(`/applications/${app.id}`, { name: 'x' }), 404, 'PATCH deleted');
      assertApiError(await api.del(`/applications/${app.id}`), 404, 'DELETE deleted');
      assert.ok(!expectStatus(await api.get('/applications'), 200, 'list').some((a) => a.id === app.id));
      await eventually(async () => (await ccStatus(ctx, creds, resource.indicator)) === 401,
        'the deleted app cannot get tokens');
      // The role survives without the app.
      const apps = expectStatus(await api.get(`/roles/${role.id}/applications`), 200, 'role apps');
      assert.ok(!apps.some((a) => a.id === app.id));
    });

    it('unknown ids → 404 {code, message}', async () => {
      assertApiError(await api.get('/applications/nosuchapp'), 404, 'GET unknown app');
      for (const p of ['/applications/nosuchapp/secrets', '/applications/nosuchapp/roles']) {
        assertNoneOrNotFound(await api.get(p), `GET ${p}`);
      }
    });

    it('invalid bodies → 400 with a code and a message naming the field', async () => {
      assertInvalidField(await api.post('/applications', {}), 'name', 'no name');
      assertInvalidField(await api.post('/applications', { type: 'MachineToMachine' }), 'name', 'no name');
      assertInvalidField(await api.post('/applications', { name: 42, type: 'MachineToMachine' }), 'name',
        'name not a string');
      assertInvalidField(await api.post('/applications', { name: 'x' }), 'type', 'no type');
      assertInvalidField(await api.post('/applications', { name: 'x', type: 'Bogus' }), 'type', 'bad type');
      assertInvalidField(await api.post('/applications', {
        name: 'x', type: 'Traditional', oidcClientMetadata: { redirectUris: 'http://a', postLogoutRedirectUris: [] },
      }), 'redirectUris', 'redirectUris not an array');
      assertInvalidField(await api.post('/applications', {
        name: 'x', type: 'MachineToMachine', customClientMetadata: { idTokenTtl: 'long' },
      }), 'idTokenTtl', 'idTokenTtl not a number');
      const app = await ctx.createApp({});
      assertInvalidField(await api.patch(`/applications/${app.id}`, { name: 5 }), 'name', 'PATCH name 5');
      for (const [what, body] of [['not JSON', '{"name": '], ['an array', '[]'], ['a string', '"x"']]) {
        assertApiError(await api.post('/applications', body, { raw: true }), 400, `body ${what}`);
      }
      // None of that created anything.
      const names = expectStatus(await api.get('/applications'), 200, 'list').map((a) => a.name);
      assert.ok(!names.includes('x'), 'no app named x');
    });

    it('pagination: page_size=2 gives 2 items, Total-Number the total; pages cover the list once',
      async () => {
        for (let i = 0; i < 5; i++) await ctx.createApp({ name: uniq(`page${i}`) });
        const allRes = await api.get('/applications?page=1&page_size=100');
        const all = expectStatus(allRes, 200, 'list all');
        const total = all.length;
        assert.equal(allRes.headers.get('total-number'), String(total), 'Total-Number of one page');
        assert.ok(total >= 6, `at least 6 apps (got ${total})`);

        const first = await api.get('/applications?page=1&page_size=2');
        const page1 = expectStatus(first, 200, 'page 1');
        assert.equal(page1.length, 2);
        assert.equal(first.headers.get('total-number'), String(total), 'Total-Number');

        const seen = [];
        const pages = Math.ceil(total / 2);
        for (let p = 1; p <= pages; p++) {
          const r = await api.get(`/applications?page=${p}&page_size=2`);
          const items = expectStatus(r, 200, `page ${p}`);
          assert.equal(items.length, p < pages ? 2 : total - 2 * (pages - 1), `items on page ${p}`);
          assert.equal(r.headers.get('total-number'), String(total));
          seen.push(...items.map((a) => a.id));
        }
        assert.equal(new Set(seen).size, seen.length, 'no application on two pages');
        assert.deepEqual([...seen].sort(), all.map((a) => a.id).sort(), 'pages cover the list');

        const beyond = await api.get(`/applications?page=${pages + 5}&page_size=2`);
        assert.deepEqual(expectStatus(beyond, 200, 'page beyond the end'), []);

        for (const q of ['page=0&page_size=2', 'page=1&page_size=0', 'page=abc&page_size=2',
          'page=1&page_size=-1', 'page=1&page_size=100000']) {
          assertApiError(await api.get(`/applications?${q}`), 400, `?${q}`);
        }
      });

    it('pagination of resources and roles too', async () => {
      await ctx.createResource({});
      await ctx.createRole({});
      await ctx.createRole({});
      for (const p of ['/resources', '/roles']) {
        const all = expectStatus(await api.get(`${p}?page=1&page_size=100`), 200, p);
        assert.ok(all.length >= 2, `${p}: at least 2 items`);
        const r = await api.get(`${p}?page=1&page_size=1`);
        assert.equal(expectStatus(r, 200, `${p} page`).length, 1);
        assert.equal(r.headers.get('total-number'), String(all.length), `${p} Total-Number`);
      }
    });
  });

  describe('application secrets', () => {
    let ctx;
    let api;
    let resource;
    let app;
    before(async () => {
      ctx = await TenantCtx.create(srv, 'secr');
      api = await ctx.api();
      const made = await ctx.createResource({ scopes: ['use'] });
      resource = made.resource;
      const role = await ctx.createRole({ scopeIds: [made.scopes.use.id] });
      app = await ctx.createApp({});
      await ctx.assignRoles(app.id, [role.id]);
    });
    const works = async (secret) => (await ccStatus(ctx, { id: app.id, secret }, resource.indicator)) === 200;
    const refused = async (secret) => {
      const r = await ctx.tokenRequest({ client: { id: app.id, secret },
        params: { grant_type: 'client_credentials', resource: resource.indicator } });
      if (r.status !== 401) return false;
      assertOAuthError(r, 401, 'invalid_client');
      return true;
    };

    it('the secret given at creation authenticates', async () => {
      assert.ok(await works(app.secret));
    });

    it('POST → 201 {name, value}; the list never shows values; the new secret authenticates',
      async () => {
        const res = await api.post(`/applications/${app.id}/secrets`, { name: 'second' });
        const sec = expectStatus(res, 201, 'add secret');
        assert.equal(sec.name, 'second');
        assert.equal(typeof sec.value, 'string');
        assert.ok(sec.value.length >= 43, 'at least 32 random bytes');
        assert.notEqual(sec.value, app.secret);
        assert.ok(sec.expiresAt === null || sec.expiresAt === undefined, 'no expiry');

        const listRes = await api.get(`/applications/${app.id}/secrets`);
        const list = expectStatus(listRes, 200, 'list secrets');
        assert.ok(Array.isArray(list));
        const entry = list.find((s) => s.name === 'second');
        assert.ok(entry, 'listed by name');
        assert.ok(!listRes.text.includes(sec.value), 'the list hides the new value');
        assert.ok(!listRes.text.includes(app.secret), 'the list hides the first secret');
        assert.ok(!('value' in entry) || entry.value !== sec.value);

        assert.ok(await works(sec.value), 'the new secret authenticates');
        assert.ok(await works(app.secret), 'the first one still does');
        const got = await api.get(`/applications/${app.id}`);
        assert.ok(!got.text.includes(sec.value), 'GET app hides secrets');
      });

    it('a duplicate name is refused', async () => {
      const name = uniq('dup');
      expectStatus(await api.post(`/applications/${app.id}/secrets`, { name }), 201, 'first');
      assertApiError(await api.post(`/applications/${app.id}/secrets`, { name }), CONFLICT, 'duplicate');
    });

    it('DELETE /secrets/:name → 204; that secret stops authenticating; others keep working',
      async () => {
        const sec = expectStatus(await api.post(`/applications/${app.id}/secrets`, { name: 'doomed' }), 201,
          'add doomed');
        assert.ok(await works(sec.value));
        expectStatus(await api.del(`/applications/${app.id}/secrets/doomed`), 204, 'delete secret');
        const list = expectStatus(await api.get(`/applications/${app.id}/secrets`), 200, 'list');
        assert.ok(!list.some((s) => s.name === 'doomed'));
        await eventually(() => refused(sec.value), 'the deleted secret is refused');
        assert.ok(await works(app.secret));
        assertApiError(await api.del(`/applications/${app.id}/secrets/doomed`), 404, 'delete again');
        assertApiError(await api.del(`/applications/${app.id}/secrets/never-was`), 404, 'delete unknown');
      });

    it('a secret stops authenticating once past its expiresAt', async () => {
      const expiresAt = Date.now() + 4000;
      const sec = expectStatus(await api.post(`/applications/${app.id}/secrets`, { name: 'short', expiresAt }),
        201, 'add expiring secret');
      assert.ok(Math.abs(toMs(sec.expiresAt) - expiresAt) < 1000, `expiresAt ${sec.expiresAt}`);
      const listed = expectStatus(await api.get(`/applications/${app.id}/secrets`), 200, 'list')
        .find((s) => s.name === 'short');
      assert.ok(listed && Math.abs(toMs(listed.expiresAt) - expiresAt) < 1000, 'expiresAt listed');
      if (Date.now() < expiresAt - 1000) assert.ok(await works(sec.value), 'works before expiry');
      await sleep(Math.max(0, expiresAt - Date.now()) + 1000);
      assert.ok(await refused(sec.value), 'refused after expiry');
      assert.ok(await works(app.secret));
    });

    it('an expiresAt in the past is refused, or gives a secret that never authenticates', async () => {
      const res = await api.post(`/applications/${app.id}/secrets`, { name: 'stale', expiresAt: Date.now() - 60000 });
      if (res.status === 201) {
        assert.ok(await refused(res.json().value), 'an expired secret is refused');
      } else {
        assertInvalidField(res, 'expiresAt', 'expiresAt in the past');
      }
    });

    it('invalid bodies → 400 naming the field; unknown application → 404', async () => {
      assertInvalidField(await api.post(`/applications/${app.id}/secrets`, {}), 'name', 'no name');
      assertInvalidField(await api.post(`/applications/${app.id}/secrets`, { name: 7 }), 'name', 'name 7');
      assertInvalidField(await api.post(`/applications/${app.id}/secrets`, { name: 'x', expiresAt: 'tomorrow' }),
        'expiresAt', 'expiresAt not a number');
      assertApiError(await api.post('/applications/nosuchapp/secrets', { name: 'x' }), 404, 'unknown app');
    });
  });

  describe('resources and scopes', () => {
    let ctx;
    let api;
    before(async () => {
      ctx = await TenantCtx.create(srv, 'res');
      api = await ctx.api();
    });

    it('the tenant\'s Management API resource is listed with its scope all', async () => {
      const list = expectStatus(await api.get('/resources'), 200, 'list resources');
      const mgmt = list.find((r) => r.indicator === ctx.apiIndicator);
      assert.ok(mgmt, `a resource with indicator ${ctx.apiIndicator}: ${JSON.stringify(list)}`);
      const scopes = expectStatus(await api.get(`/resources/${mgmt.id}/scopes`), 200, 'its scopes');
      assert.ok(scopes.some((s) => s.name === 'all'));
    });

    it('POST → {id, name, indicator, accessTokenTtl}; GET; listed; TTL defaults to 3600', async () => {
      const name = uniq('api');
      const indicator = `https://e2e.example/${uniq('r')}`;
      const r = expectStatus(await api.post('/resources', { name, indicator, accessTokenTtl: 900 }), CREATED,
        'create resource');
      assert.equal(typeof r.id, 'string');
      assert.equal(r.name, name);
      assert.equal(r.indicator, indicator);
      assert.equal(r.accessTokenTtl, 900);
      const got = expectStatus(await api.get(`/resources/${r.id}`), 200, 'GET resource');
      assert.equal(got.indicator, indicator);
      assert.equal(got.accessTokenTtl, 900);
      assert.ok(expectStatus(await api.get('/resources'), 200, 'list').some((x) => x.id === r.id));

      const d = expectStatus(await api.post('/resources', { name: uniq('api'), indicator: `https://e2e.example/${uniq('d')}` }),
        CREATED, 'create resource without TTL');
      assert.equal(d.accessTokenTtl, 3600);
    });

    it('PATCH name and accessTokenTtl; new tokens carry the new TTL', async () => {
      const { resource, scopes } = await ctx.createResource({ accessTokenTtl: 1000, scopes: ['x'] });
      const role = await ctx.createRole({ scopeIds: [scopes.x.id] });
      const app = await ctx.createApp({});
      await ctx.assignRoles(app.id, [role.id]);
      const creds = { id: app.id, secret: app.secret };
      assert.equal((await ccToken(ctx, creds, resource.indicator)).expires_in, 1000);

      const name = uniq('renamed');
      const p = expectStatus(await api.patch(`/resources/${resource.id}`, { name, accessTokenTtl: 600 }), 200,
        'PATCH resource');
      assert.equal(p.name, name);
      assert.equal(p.accessTokenTtl, 600);
      assert.equal(p.indicator, resource.indicator);
      const tok = await eventually(async () => {
        const t = await ccToken(ctx, creds, resource.indicator);
        return t.expires_in === 600 ? t : null;
      }, 'tokens with the new TTL');
      const { payload } = await ctx.verify(tok.access_token, { audience: resource.indicator });
      assert.equal(payload.exp - payload.iat, 600);
    });

    it('a duplicate indicator in one tenant is refused', async () => {
      const { resource } = await ctx.createResource({});
      assertApiError(await api.post('/resources', { name: uniq('dup'), indicator: resource.indicator }), CONFLICT,
        'duplicate indicator');
    });

    it('scopes: POST, list, PATCH, duplicate name refused, DELETE', async () => {
      const { resource } = await ctx.createResource({});
      const s = expectStatus(await api.post(`/resources/${resource.id}/scopes`,
        { name: 'read:items', description: 'Read items' }), CREATED, 'create scope');
      assert.equal(typeof s.id, 'string');
      assert.equal(s.name, 'read:items');
      assert.equal(s.description, 'Read items');
      if ('resourceId' in s) assert.equal(s.resourceId, resource.id);
      let list = expectStatus(await api.get(`/resources/${resource.id}/scopes`), 200, 'list scopes');
      assert.ok(list.some((x) => x.id === s.id && x.name === 'read:items'));

      const p = expectStatus(await api.patch(`/resources/${resource.id}/scopes/${s.id}`,
        { name: 'read:all-items', description: 'Read all items' }), 200, 'PATCH scope');
      assert.equal(p.name, 'read:all-items');
      assert.equal(p.description, 'Read all items');

      assertApiError(await api.post(`/resources/${resource.id}/scopes`, { name: 'read:all-items' }), CONFLICT,
        'duplicate scope name');
      // The same name on another resource is fine.
      const { resource: other } = await ctx.createResource({});
      expectStatus(await api.post(`/resources/${other.id}/scopes`, { name: 'read:all-items' }), CREATED,
        'same name elsewhere');

      expectStatus(await api.del(`/resources/${resource.id}/scopes/${s.id}`), 204, 'DELETE scope');
      list = expectStatus(await api.get(`/resources/${resource.id}/scopes`), 200, 'list scopes');
      assert.ok(!list.some((x) => x.id === s.id));
      assertApiError(await api.del(`/resources/${resource.id}/scopes/${s.id}`), 404, 'DELETE scope again');
    });

    it('a deleted scope is no longer granted', async () => {
      const { resource, scopes } = await ctx.createResource({ scopes: ['keep', 'drop'] });
      const role = await ctx.createRole({ scopeIds: [scopes.keep.id, scopes.drop.id] });
      const app = await ctx.createApp({});
      await ctx.assignRoles(app.id, [role.id]);
      const creds = { id: app.id, secret: app.secret };
      assert.deepEqual(scopeSet((await ccToken(ctx, creds, resource.indicator)).scope), ['drop', 'keep']);
      expectStatus(await api.del(`/resources/${resource.id}/scopes/${scopes.drop.id}`), 204, 'DELETE scope');
      await eventually(async () => scopeSet((await ccToken(ctx, creds, resource.indicator)).scope).join() === 'keep',
        'the deleted scope is dropped from tokens');
    });

    it('DELETE a resource → 204; 404 afterwards; tokens for it → invalid_target', async () => {
      const { resource, scopes } = await ctx.createResource({ scopes: ['x'] });
      const role = await ctx.createRole({ scopeIds: [scopes.x.id] });
      const app = await ctx.createApp({});
      await ctx.assignRoles(app.id, [role.id]);
      const creds = { id: app.id, secret: app.secret };
      await ccToken(ctx, creds, resource.indicator);

      expectStatus(await api.del(`/resources/${resource.id}`), 204, 'DELETE resource');
      assertApiError(await api.get(`/resources/${resource.id}`), 404, 'GET deleted');
      assertApiError(await api.patch(`/resources/${resource.id}`, { name: 'x' }), 404, 'PATCH deleted');
      assertApiError(await api.del(`/resources/${resource.id}`), 404, 'DELETE deleted');
      assertNoneOrNotFound(await api.get(`/resources/${resource.id}/scopes`), 'scopes of deleted');
      await eventually(async () => {
        const r = await ctx.tokenRequest({ client: creds,
          params: { grant_type: 'client_credentials', resource: resource.indicator } });
        if (r.status !== 400) return false;
        assertOAuthError(r, 400, 'invalid_target');
        return true;
      }, 'invalid_target for the deleted resource');
      // Its scopes are gone from the role.
      const rs = expectStatus(await api.get(`/roles/${role.id}/scopes`), 200, 'role scopes');
      assert.ok(!rs.some((s) => s.id === scopes.x.id));
    });

    it('invalid bodies → 400 naming the field', async () => {
      assertInvalidField(await api.post('/resources', { name: 'x' }), 'indicator', 'no indicator');
      assertInvalidField(await api.post('/resources', { indicator: 'https://e2e.example/n' }), 'name', 'no name');
      assertInvalidField(await api.post('/resources',
        { name: 'x', indicator: 'https://e2e.example/t', accessTokenTtl: 'long' }), 'accessTokenTtl', 'ttl string');
      assertInvalidField(await api.post('/resources',
        { name: 'x', indicator: 'https://e2e.example/t', accessTokenTtl: -5 }), 'accessTokenTtl', 'ttl negative');
      const { resource } = await ctx.createResource({});
      assertInvalidField(await api.patch(`/resources/${resource.id}`, { accessTokenTtl: 'x' }), 'accessTokenTtl',
        'PATCH ttl');
      assertInvalidField(await api.post(`/resources/${resource.id}/scopes`, {}), 'name', 'scope without name');
      assertInvalidField(await api.post(`/resources/${resource.id}/scopes`, { name: 3 }), 'name', 'scope name 3');
    });

    it('unknown resource ids → 404', async () => {
      assertApiError(await api.get('/resources/nosuchres'), 404, 'GET');
      assertApiError(await api.patch('/resources/nosuchres', { name: 'x' }), 404, 'PATCH');
      assertApiError(await api.del('/resources/nosuchres'), 404, 'DELETE');
      assertNoneOrNotFound(await api.get('/resources/nosuchres/scopes'), 'GET scopes');
      assertApiError(await api.post('/resources/nosuchres/scopes', { name: 'x' }), [400, 404, 422], 'POST scope');
    });
  });

  describe('roles', () => {
    let ctx;
    let api;
    let resource;
    let scopes;
    before(async () => {
      ctx = await TenantCtx.create(srv, 'roles');
      api = await ctx.api();
      ({ resource, scopes } = await ctx.createResource({ scopes: ['a', 'b', 'c'] }));
    });
    const tokenScopes = async (creds) => scopeSet((await ccToken(ctx, creds, resource.indicator)).scope);

    it('POST a MachineToMachine role with scopeIds; GET; listed; GET /:id/scopes', async () => {
      const name = uniq('role');
      const role = expectStatus(await api.post('/roles', {
        name, description: 'e2e role', type: 'MachineToMachine', scopeIds: [scopes.a.id],
      }), CREATED, 'create role');
      assert.equal(role.name, name);
      assert.equal(role.description, 'e2e role');
      assert.equal(role.type, 'MachineToMachine');
      const got = expectStatus(await api.get(`/roles/${role.id}`), 200, 'GET role');
      assert.equal(got.name, name);
      assert.equal(got.type, 'MachineToMachine');
      assert.ok(expectStatus(await api.get('/roles'), 200, 'list').some((r) => r.id === role.id));
      const rs = expectStatus(await api.get(`/roles/${role.id}/scopes`), 200, 'role scopes');
      assert.deepEqual(rs.map((s) => s.id), [scopes.a.id]);
      assert.equal(rs[0].name, 'a');
    });

    it('role scopes: POST adds, DELETE removes, tokens follow', async () => {
      const role = await ctx.createRole({ scopeIds: [scopes.a.id] });
      const app = await ctx.createApp({});
      await ctx.assignRoles(app.id, [role.id]);
      const creds = { id: app.id, secret: app.secret };
      assert.deepEqual(await tokenScopes(creds), ['a']);

      expectStatus(await api.post(`/roles/${role.id}/scopes`, { scopeIds: [scopes.b.id, scopes.c.id] }),
        [200, 201, 204], 'add scopes');
      const rs = expectStatus(await api.get(`/roles/${role.id}/scopes`), 200, 'role scopes');
      assert.deepEqual(rs.map((s) => s.id).sort(), [scopes.a.id, scopes.b.id, scopes.c.id].sort());
      await eventually(async () => (await tokenScopes(creds)).join() === 'a,b,c', 'tokens with a b c');

      expectStatus(await api.del(`/roles/${role.id}/scopes/${scopes.b.id}`), 204, 'remove scope');
      await eventually(async () => (await tokenScopes(creds)).join() === 'a,c', 'tokens with a c');
      assertApiError(await api.del(`/roles/${role.id}/scopes/${scopes.b.id}`), 404, 'remove again');
      assertApiError(await api.post(`/roles/${role.id}/scopes`, { scopeIds: ['nosuchscope'] }),
        [400, 404, 422], 'unknown scope id');
      // Adding one it already has is refused (Logto) or a no-op; never a duplicate.
      const again = await api.post(`/roles/${role.id}/scopes`, { scopeIds: [scopes.a.id] });
      assert.ok(again.status < 500, `add again: ${again.status}`);
      const after2 = expectStatus(await api.get(`/roles/${role.id}/scopes`), 200, 'role scopes');
      assert.equal(after2.filter((s) => s.id === scopes.a.id).length, 1);
    });

    it('role applications: POST, GET both ways, DELETE; tokens follow', async () => {
      const role = await ctx.createRole({ scopeIds: [scopes.c.id] });
      const app = await ctx.createApp({});
      const creds = { id: app.id, secret: app.secret };
      assert.deepEqual(await tokenScopes(creds), [], 'no role, no scope');

      expectStatus(await api.post(`/roles/${role.id}/applications`, { applicationIds: [app.id] }),
        [200, 201, 204], 'link app to role');
      const apps = expectStatus(await api.get(`/roles/${role.id}/applications`), 200, 'role apps');
      assert.deepEqual(apps.map((a) => a.id), [app.id]);
      assert.ok(!JSON.stringify(apps).includes(app.secret));
      const roles = expectStatus(await api.get(`/applications/${app.id}/roles`), 200, 'app roles');
      assert.ok(roles.some((r) => r.id === role.id));
      await eventually(async () => (await tokenScopes(creds)).join() === 'c', 'token with c');

      expectStatus(await api.del(`/roles/${role.id}/applications/${app.id}`), 204, 'unlink');
      await eventually(async () => (await tokenScopes(creds)).length === 0, 'token without c');
      assert.deepEqual(expectStatus(await api.get(`/roles/${role.id}/applications`), 200, 'role apps'), []);
      assertApiError(await api.del(`/roles/${role.id}/applications/${app.id}`), 404, 'unlink again');
      assertApiError(await api.post(`/roles/${role.id}/applications`, { applicationIds: ['nosuchapp'] }),
        [400, 404, 422], 'unknown app id');
    });

    it('application roles: POST /applications/:id/roles, DELETE /applications/:id/roles/:roleId',
      async () => {
        const r1 = await ctx.createRole({ scopeIds: [scopes.a.id] });
        const r2 = await ctx.createRole({ scopeIds: [scopes.b.id] });
        const app = await ctx.createApp({});
        const creds = { id: app.id, secret: app.secret };
        expectStatus(await api.post(`/applications/${app.id}/roles`, { roleIds: [r1.id, r2.id] }),
          [200, 201, 204], 'assign two roles');
        const roles = expectStatus(await api.get(`/applications/${app.id}/roles`), 200, 'app roles');
        assert.deepEqual(roles.map((r) => r.id).sort(), [r1.id, r2.id].sort());
        await eventually(async () => (await tokenScopes(creds)).join() === 'a,b', 'token with a b');
        // Scope request intersected with what both roles give.
        assert.deepEqual(scopeSet((await ccToken(ctx, creds, resource.indicator, 'b c')).scope), ['b']);

        expectStatus(await api.del(`/applications/${app.id}/roles/${r1.id}`), 204, 'remove role');
        await eventually(async () => (await tokenScopes(creds)).join() === 'b', 'token with b');
        assertApiError(await api.del(`/applications/${app.id}/roles/${r1.id}`), 404, 'remove again');
        assertApiError(await api.post(`/applications/${app.id}/roles`, { roleIds: ['nosuchrole'] }),
          [400, 404, 422], 'unknown role id');
      });

    it('PATCH name and description; a duplicate name is refused', async () => {
      const role = await ctx.createRole({});
      const name = uniq('renamed');
      const p = expectStatus(await api.patch(`/roles/${role.id}`, { name, description: 'changed' }), 200,
        'PATCH role');
      assert.equal(p.name, name);
      assert.equal(p.description, 'changed');
      const got = expectStatus(await api.get(`/roles/${role.id}`), 200, 'GET');
      assert.equal(got.name, name);
      assertApiError(await api.post('/roles', { name, description: 'x', type: 'MachineToMachine' }), CONFLICT,
        'duplicate role name');
      const other = await ctx.createRole({});
      assertApiError(await api.patch(`/roles/${other.id}`, { name }), CONFLICT, 'rename to a taken name');
    });

    it('DELETE a role → 204; 404 afterwards; its applications lose its scopes', async () => {
      const role = await ctx.createRole({ scopeIds: [scopes.a.id] });
      const app = await ctx.createApp({});
      await ctx.assignRoles(app.id, [role.id]);
      const creds = { id: app.id, secret: app.secret };
      assert.deepEqual(await tokenScopes(creds), ['a']);
      expectStatus(await api.del(`/roles/${role.id}`), 204, 'DELETE role');
      assertApiError(await api.get(`/roles/${role.id}`), 404, 'GET deleted');
      assertApiError(await api.del(`/roles/${role.id}`), 404, 'DELETE deleted');
      assertNoneOrNotFound(await api.get(`/roles/${role.id}/scopes`), 'scopes of deleted');
      assertNoneOrNotFound(await api.get(`/roles/${role.id}/applications`), 'apps of deleted');
      await eventually(async () => (await tokenScopes(creds)).length === 0, 'scope gone with the role');
      const roles = expectStatus(await api.get(`/applications/${app.id}/roles`), 200, 'app roles');
      assert.ok(!roles.some((r) => r.id === role.id));
    });

    it('invalid bodies → 400 naming the field', async () => {
      assertInvalidField(await api.post('/roles', { description: 'd', type: 'MachineToMachine' }), 'name', 'no name');
      assertInvalidField(await api.post('/roles', { name: 5, description: 'd', type: 'MachineToMachine' }), 'name',
        'name 5');
      assertInvalidField(await api.post('/roles', { name: uniq('r'), description: 'd', type: 'Bogus' }), 'type',
        'bad type');
      assertInvalidField(await api.post('/roles', { name: uniq('r'), description: 'd', type: 'MachineToMachine',
        scopeIds: 'a' }), 'scopeIds', 'scopeIds not an array');
      const role = await ctx.createRole({});
      assertInvalidField(await api.post(`/roles/${role.id}/scopes`, {}), 'scopeIds', 'no scopeIds');
      assertInvalidField(await api.post(`/roles/${role.id}/scopes`, { scopeIds: 'x' }), 'scopeIds', 'scopeIds x');
      assertInvalidField(await api.post(`/roles/${role.id}/applications`, {}), 'applicationIds', 'no applicationIds');
      const app = await ctx.createApp({});
      assertInvalidField(await api.post(`/applications/${app.id}/roles`, {}), 'roleIds', 'no roleIds');
      assertInvalidField(await api.post(`/applications/${app.id}/roles`, { roleIds: [1] }), 'roleIds', 'roleIds [1]');
    });
  });

  describe('swagger.json', () => {
    let ctx;
    let api;
    let doc;
    // Every route this file exercises (method, path with {param}).
    const exercised = [
      ['get', '/api/applications'], ['post', '/api/applications'],
      ['get', '/api/applications/{}'], ['patch', '/api/applications/{}'], ['delete', '/api/applications/{}'],
      ['get', '/api/applications/{}/secrets'], ['post', '/api/applications/{}/secrets'],
      ['delete', '/api/applications/{}/secrets/{}'],
      ['get', '/api/applications/{}/roles'], ['post', '/api/applications/{}/roles'],
      ['delete', '/api/applications/{}/roles/{}'],
      ['get', '/api/resources'], ['post', '/api/resources'],
      ['get', '/api/resources/{}'], ['patch', '/api/resources/{}'], ['delete', '/api/resources/{}'],
      ['get', '/api/resources/{}/scopes'], ['post', '/api/resources/{}/scopes'],
      ['patch', '/api/resources/{}/scopes/{}'], ['delete', '/api/resources/{}/scopes/{}'],
      ['get', '/api/roles'], ['post', '/api/roles'],
      ['get', '/api/roles/{}'], ['patch', '/api/roles/{}'], ['delete', '/api/roles/{}'],
      ['get', '/api/roles/{}/scopes'], ['post', '/api/roles/{}/scopes'], ['delete', '/api/roles/{}/scopes/{}'],
      ['get', '/api/roles/{}/applications'], ['post', '/api/roles/{}/applications'],
      ['delete', '/api/roles/{}/applications/{}'],
      ['get', '/api/configs/oidc/private-keys'], ['post', '/api/configs/oidc/private-keys/rotate'],
      ['delete', '/api/configs/oidc/private-keys/{}'],
    ];
    // Documented paths normalised to /api/...{}... → their methods.
    let documented;
    const norm = (p) => {
      const withApi = p.startsWith('/api/') || p === '/api' ? p : `/api${p.startsWith('/') ? '' : '/'}${p}`;
      return withApi.replace(/\{[^}]*\}/g, '{}');
    };

    before(async () => {
      ctx = await TenantCtx.create(srv, 'swag');
      api = await ctx.api();
      const res = await http(`${ctx.base}/api/swagger.json`, {
        headers: { authorization: `Bearer ${await ctx.mgmtToken()}` },
      });
      assert.equal(res.status, 200, res.text.slice(0, 500));
      assert.match(res.headers.get('content-type') || '', /^application\/json/);
      doc = res.json();
      documented = new Map();
      for (const [p, item] of Object.entries(doc.paths || {})) {
        const methods = Object.keys(item).filter((m) =>
          ['get', 'post', 'put', 'patch', 'delete'].includes(m));
        documented.set(norm(p), new Set([...(documented.get(norm(p)) || []), ...methods]));
      }
    });

    it('is an OpenAPI 3 document with info and paths', () => {
      assert.match(String(doc.openapi), /^3\.\d+\.\d+$/, `openapi ${doc.openapi}`);
      assert.equal(typeof doc.info, 'object');
      assert.equal(typeof doc.info.title, 'string');
      assert.equal(typeof doc.info.version, 'string');
      assert.equal(typeof doc.paths, 'object');
    });

    it('documents every route exercised here', () => {
      const missing = exercised.filter(([m, p]) => !documented.get(p)?.has(m));
      assert.deepEqual(missing, [], `undocumented routes; documented: ${[...documented.keys()].join(' ')}`);
    });

    it('every documented GET route without parameters exists', async () => {
      for (const [p, methods] of documented) {
        if (!methods.has('get') || p.includes('{}') || p === '/api/swagger.json') continue;
        const res = await api.get(p.slice('/api'.length));
        assert.ok(![404, 405, 501].includes(res.status), `GET ${p}: ${res.status} ${res.text.slice(0, 200)}`);
        assert.ok(res.status < 500, `GET ${p}: ${res.status}`);
      }
    });

    it('documented GET routes with ids answer like real routes, not like an unknown route',
      async () => {
        const unknown = await api.get(`/no-such-route-${randomId(6)}`);
        assert.equal(unknown.status, 404);
        const unknownCode = unknown.json().code;
        for (const [p, methods] of documented) {
          if (!methods.has('get') || !p.includes('{}')) continue;
          const res = await api.get(p.slice('/api'.length).replaceAll('{}', 'nosuchid'));
          assert.ok(res.status < 500, `GET ${p}: ${res.status}`);
          if (res.status === 404) {
            assert.notEqual(res.json().code, unknownCode, `GET ${p} is documented but unrouted`);
          }
        }
      });
  });
});
