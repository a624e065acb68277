// End-to-end tests of failure throttling (issue 15, item 6, first part; docs/operations.md,
// "Throttling"): per node, failed client authentications count per client id
// (LATCH_LIMIT_CLIENT_AUTH_FAILURES a minute) and per client IP (LATCH_LIMIT_IP_AUTH_FAILURES,
// shared with invalid bearer tokens at the Management API). Past the bound the answer is 429
// with Retry-After, in the endpoint's own error shape, before any secret or signature is
// checked, and also for the right secret (a brute force must not learn when it hit); other
// clients and other addresses are not affected. Addresses other than 127.0.0.1 are other
// loopback addresses (Linux routes all of 127/8 to lo).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startLatchd } from './lib/harness.mjs';
import { CookieJar, ExperienceClient, TenantCtx, basicAuth, uniqUsername } from './lib/oidc.mjs';
import { authUrl, flowChecks, webAppConfig } from './lib/flow.mjs';

/** One request from a chosen local address; resolves {status, headers, json}. */
function request(url, { method = 'GET', headers = {}, body, from = '127.0.0.1' } = {}) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers,
      localAddress: from, agent: false,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, json, text });
      });
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

const form = (o) => new URLSearchParams(o).toString();

describe('failure throttling', () => {
  const servers = [];
  after(async () => {
    for (const s of servers) await s.stop();
  });

  async function setUp(env) {
    const srv = await startLatchd({ env });
    servers.push(srv);
    const ctx = await TenantCtx.create(srv, 'throttle');
    const app = await ctx.createApp({ name: 'm2m' });
    return { srv, ctx, app };
  }

  const grant = (ctx, id, secret, from) => request(`${ctx.base}/oidc/token`, {
    method: 'POST', from,
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(id, secret) },
    body: form({ grant_type: 'client_credentials', resource: ctx.apiIndicator }),
  });

  it('failed client authentications of one client: 429 with Retry-After past the bound, even for the right secret', async () => {
    const { ctx, app } = await setUp({ LATCH_LIMIT_CLIENT_AUTH_FAILURES: '5', LATCH_LIMIT_IP_AUTH_FAILURES: '1000' });
    const other = await ctx.createApp({ name: 'other' });
    for (let i = 0; i < 5; i++) {
      const r = await grant(ctx, app.id, 'wrong-secret');
      assert.equal(r.status, 401, r.text);
      assert.equal(r.json.error, 'invalid_client');
    }
    for (const secret of ['wrong-secret', app.secret]) {
      const r = await grant(ctx, app.id, secret);
      assert.equal(r.status, 429, r.text);
      assert.equal(r.json.error, 'temporarily_unavailable');
      assert.equal(typeof r.json.error_description, 'string');
      const ra = Number(r.headers['retry-after']);
      assert.ok(Number.isInteger(ra) && ra >= 1 && ra <= 60, `Retry-After ${r.headers['retry-after']}`);
    }
    // Revocation and introspection authenticate the client the same way.
    const rv = await request(`${ctx.base}/oidc/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(app.id, app.secret) },
      body: form({ token: 'x' }),
    });
    assert.equal(rv.status, 429, rv.text);
    // Another client of the same address is not affected.
    assert.equal((await grant(ctx, other.id, other.secret)).status, 200);
  });

  it('failed client authentications from one address: 429 for that address only', async () => {
    const { ctx, app } = await setUp({ LATCH_LIMIT_CLIENT_AUTH_FAILURES: '1000', LATCH_LIMIT_IP_AUTH_FAILURES: '5' });
    for (let i = 0; i < 5; i++) {
      assert.equal((await grant(ctx, `nobody-${i}`, 'guess', '127.0.0.1')).status, 401);
    }
    const refused = await grant(ctx, app.id, app.secret, '127.0.0.1');
    assert.equal(refused.status, 429, refused.text);
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    assert.equal((await grant(ctx, app.id, app.secret, '127.0.0.2')).status, 200, 'another address');
  });

  /** An Experience API client with an interaction of ctx's web app begun for event. */
  async function interaction(ctx, event) {
    const app = await ctx.createWebApp('http://127.0.0.1:9');
    const config = await webAppConfig(ctx, app);
    const xp = new ExperienceClient(ctx, new CookieJar());
    await xp.start(authUrl(config, app, await flowChecks()));
    await xp.begin(event);
    return xp;
  }

  it('wrong passwords from one address: 429 past the bound, whatever the identifier, even for the right password', async () => {
    const { ctx } = await setUp({ LATCH_LIMIT_IP_PASSWORD_FAILURES: '3' });
    const user = await ctx.createUser();
    const xp = await interaction(ctx, 'SignIn');
    for (let i = 0; i < 3; i++) {
      const r = await xp.verifyPassword(uniqUsername('nobody'), 'wrong-password');
      assert.equal(r.status, 422, r.text);
    }
    const refused = await xp.verifyPassword(user.username, user.password);
    assert.equal(refused.status, 429, refused.text);
    assert.equal(refused.json().code, 'guard.too_many_requests');
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  });

  it('registration attempts that find the username taken: 429 past the bound (no free account oracle)', async () => {
    const { ctx } = await setUp({ LATCH_LIMIT_IP_REGISTRATION_CHECKS: '2' });
    const taken = await ctx.createUser();
    const xp = await interaction(ctx, 'Register');
    const register = (username) => xp.call('POST', '/verification/new-password-identity',
      { identifier: { type: 'username', value: username }, password: 'A-long-enough-password-42!' });
    for (let i = 0; i < 2; i++) {
      const r = await register(taken.username);
      assert.equal(r.status, 422, r.text);
      assert.equal(r.json().code, 'user.username_already_in_use');
    }
    const refused = await register(uniqUsername('fresh'));
    assert.equal(refused.status, 429, refused.text);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  });

  it('invalid bearer tokens at the Management API: 429 past the bound, before verifying a signature', async () => {
    const { ctx } = await setUp({ LATCH_LIMIT_IP_AUTH_FAILURES: '5' });
    const good = await ctx.mgmtToken();
    // A token whose signature is wrong (its kid is the tenant's): each one would cost a verification.
    const [h, p] = good.split('.');
    const forged = `${h}.${p}.${Buffer.alloc(96, 7).toString('base64url')}`;
    const api = (token, from) => request(`${ctx.base}/api/applications`, { from, headers: { authorization: `Bearer ${token}` } });
    for (let i = 0; i < 5; i++) assert.equal((await api(forged, '127.0.0.1')).status, 401);
    const refused = await api(good, '127.0.0.1');
    assert.equal(refused.status, 429, refused.text);
    assert.equal(refused.json.code, 'auth.too_many_requests');
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    assert.equal((await api(good, '127.0.0.2')).status, 200, 'another address');
  });
});
