// End-to-end tests of a cluster: two latchd nodes of the test database behind Debian's haproxy
// running deploy/haproxy.cfg (and nginx with deploy/nginx.conf), under a steady load of
// client-credentials and refresh-token grants sent through the load balancer by a load
// generator that counts every answer (tests/e2e/lib/cluster.mjs):
//   - a sign-in whose steps alternate between the nodes (no affinity needed);
//   - a rolling restart (SIGTERM, start again) of both nodes: no request fails;
//   - kill -9 of a node: at most the requests then in flight fail, the survivor serves the rest;
//   - PostgreSQL restarted: no 500 (503 while it is down), and once it accepts connections every
//     node is ready and serves a refresh grant within 10 polls 100 ms apart;
//   - nginx: deploy/nginx.conf passes `nginx -t` and serves through both nodes.
// Every assertion is on counts; a failure prints the counts by status.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { accessLines, adminQuery, createTenant, http, pgctl, randomId, withAppClient } from './lib/harness.mjs';
import { startHaproxy, startLoad, startNginx, startNodes, freePorts } from './lib/cluster.mjs';
import {
  CookieJar,
  REFERENCE_SCOPE,
  TenantCtx,
  basicAuth,
  isRedirect,
  jarFetch,
  jose,
  pkcePair,
  remoteJwks,
  sleep,
  uniqUsername,
} from './lib/oidc.mjs';

const RP = 'https://rp.cluster.example';

describe('two nodes behind haproxy (deploy/haproxy.cfg)', { timeout: 110000 }, () => {
  let cluster;
  let lb;
  let ctx; // the tenant, through node 0
  let user;
  let web; // Traditional app, refresh tokens not rotated (the load's refresh workers share one)
  let refreshToken;
  let load;
  let pgStopped = false;

  before(async () => {
    const [lbPort] = await freePorts(1);
    cluster = await startNodes({ publicPort: lbPort });
    lb = await startHaproxy([cluster.addr(0), cluster.addr(1)], { port: lbPort });
    await lb.waitStates({ node1: 'UP', node2: 'UP' });
    ctx = await TenantCtx.create(cluster.nodes[0], 'cluster');
    user = await ctx.createUser({ username: uniqUsername('cl') });
    web = await ctx.createWebApp(RP, { customClientMetadata: { rotateRefreshToken: false } });
  });

  after(async () => {
    if (load) await load.stop();
    if (pgStopped) await pgctl('start');
    for (const n of cluster?.nodes ?? []) {
      if (n && !n.exitInfo) await n.stop('SIGKILL');
    }
    await lb?.stop();
  });

  const node = (i) => cluster.nodes[i];
  const tenantPath = () => `/t/${ctx.id}`;
  // An absolute URL that latchd gave (public origin = haproxy) rewritten to go to node i directly.
  const onNode = (i, url) => {
    const u = new URL(url);
    const n = new URL(node(i).url);
    u.protocol = n.protocol;
    u.host = n.host;
    return u.href;
  };

  /** The load of the tests below: client credentials and refresh grants through haproxy. */
  function startTokenLoad(opts = {}) {
    return startLoad(lb.url, {
      cc: { path: `${tenantPath()}/oidc/token`, client: ctx.admin, resource: ctx.apiIndicator, scope: 'all' },
      refresh: { path: `${tenantPath()}/oidc/token`, client: web, refreshToken },
      ...opts,
    });
  }

  /** How many token requests node i logged (the load reaches it through haproxy). */
  const tokenRequests = (i) => accessLines(node(i).logs).filter((l) => l.path.endsWith('/oidc/token')).length;

  /** Starts node i again on its port and waits until haproxy has it UP again. */
  async function restart(i) {
    await cluster.start(i);
    await lb.waitStates({ [`node${i + 1}`]: 'UP' });
  }

  it('a sign-in whose steps alternate between the two nodes', async () => {
    const jar = new CookieJar();
    let turn = 0;
    const used = [[], []];
    // Each step goes to the other node than the step before.
    const step = async (url, init) => {
      const i = turn++ % 2;
      used[i].push(new URL(url).pathname);
      return jarFetch(jar, onNode(i, url), init);
    };
    const base = `${ctx.endpoint}`; // public (haproxy) URL of the tenant
    const { verifier, challenge } = pkcePair();
    const state = randomId(16);
    const nonce = randomId(16);
    const auth = new URL(`${base}/oidc/auth`);
    for (const [k, v] of Object.entries({ client_id: web.id, redirect_uri: web.redirectUri, response_type: 'code',
      scope: REFERENCE_SCOPE, state, nonce, code_challenge: challenge, code_challenge_method: 'S256',
    })) {
      auth.searchParams.set(k, v);
    }

    let res = await step(auth.href);
    assert.ok(isRedirect(res.status), `/oidc/auth: ${res.status} ${res.text.slice(0, 200)}`);
    res = await step(res.location);
    assert.equal(res.status, 200, `sign-in page: ${res.text.slice(0, 200)}`);
    res = await step(`${base}/api/experience/interaction`);
    assert.equal(res.status, 200, `interaction: ${res.text}`);
    const csrf = res.json().csrfToken;
    const call = (method, p, body) => step(`${base}/api/experience${p}`, {
      method,
      headers: { 'x-csrf-token': csrf, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    res = await call('PUT', '', { interactionEvent: 'SignIn' });
    assert.ok(res.status >= 200 && res.status < 300, `PUT /api/experience: ${res.status} ${res.text}`);
    res = await call('POST', '/verification/password',
      { identifier: { type: 'username', value: user.username }, password: user.password });
    assert.equal(res.status, 200, `verification/password: ${res.text}`);
    res = await call('POST', '/identification', { verificationId: res.json().verificationId });
    assert.ok([200, 201, 204].includes(res.status), `identification: ${res.status} ${res.text}`);
    res = await call('POST', '/submit');
    assert.equal(res.status, 200, `submit: ${res.text}`);
    let next = new URL(res.json().redirectTo, `${base}/`).href;
    let callback = null;
    for (let hops = 0; hops < 10 && !callback; hops++) {
      res = await step(next);
      assert.ok(isRedirect(res.status), `GET ${next}: ${res.status} ${res.text.slice(0, 200)}`);
      if (res.location.startsWith(RP)) callback = new URL(res.location);
      else next = res.location;
    }
    assert.ok(callback, 'back at the redirect URI');
    assert.equal(callback.searchParams.get('state'), state);
    const code = callback.searchParams.get('code');
    assert.ok(code, `a code: ${callback}`);

    // The code is redeemed, and the refresh token used, on alternating nodes too.
    const token = (form) => step(`${base}/oidc/token`, {
      method: 'POST',
      headers: { authorization: basicAuth(web.id, web.secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
    res = await token({ grant_type: 'authorization_code', code, redirect_uri: web.redirectUri, code_verifier: verifier });
    assert.equal(res.status, 200, `code exchange: ${res.text}`);
    const tokens = res.json();
    const { payload } = await jose.jwtVerify(tokens.id_token, remoteJwks(node(1), ctx.id),
      { issuer: ctx.issuer, audience: web.id });
    assert.equal(payload.sub, user.id);
    assert.equal(payload.nonce, nonce);
    assert.equal(typeof tokens.refresh_token, 'string');
    for (let i = 0; i < 2; i++) {
      res = await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
      assert.equal(res.status, 200, `refresh ${i}: ${res.text}`);
    }
    refreshToken = tokens.refresh_token;

    // Both nodes served steps of the interaction.
    assert.ok(used[0].length >= 5 && used[1].length >= 5, `steps per node: ${JSON.stringify(used)}`);
    for (const i of [0, 1]) {
      const seen = accessLines(node(i).logs).filter((l) => l.path.includes('/api/experience')).length;
      assert.ok(seen >= 2, `node ${i} logged ${seen} Experience API requests`);
    }
  });

  it('a rolling restart (SIGTERM) of both nodes under load: no request fails', async () => {
    assert.ok(refreshToken, 'needs the refresh token of the sign-in test');
    load = startTokenLoad();
    await load.waitOk(200);
    for (const i of [1, 0]) {
      assert.ok(tokenRequests(i) > 0, `node ${i} serves part of the load before its SIGTERM`);
      const stopping = node(i);
      const exit = await stopping.stop('SIGTERM', 60000);
      assert.deepEqual(exit, { code: 0, signal: null }, `node ${i} exits 0 after SIGTERM`);
      // It drained: /readyz failed and it kept answering until haproxy moved the load away.
      const drainAt = stopping.logs.findIndex((l) => /SIGTERM: draining/.test(l?.msg ?? ''));
      assert.ok(drainAt >= 0, `node ${i} logs its drain`);
      const during = accessLines(stopping.logs.slice(drainAt));
      assert.ok(during.some((l) => l.path === '/readyz' && l.status === 503),
        `node ${i} failed /readyz while draining`);
      assert.ok(during.some((l) => /\/oidc\/token$/.test(l.path) && l.status === 200),
        `node ${i} kept serving tokens while draining`);
      await load.waitOk(200); // served by the other node alone
      await restart(i);
      await load.waitOk(200);
    }
    await load.stop();
    const { failed } = load;
    const summary = load.describe();
    load = null;
    assert.equal(failed, 0, `failed requests during the rolling restart: ${summary}`);
  });

  it('the first requests of a new tenant, on both nodes at once, bootstrap it once', async () => {
    // Created without LATCH_SECRET_KEY: the nodes give it its Management API and keys on first use.
    const id = await createTenant('fresh', 'Fresh tenant', { LATCH_SECRET_KEY: undefined });
    const answers = await Promise.all(Array.from({ length: 24 },
      (_, i) => http(`${node(i % 2).url}/t/${id}/oidc/jwks`)));
    const byStatus = {};
    for (const r of answers) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    assert.deepEqual(byStatus, { 200: 24 }, `first requests of a new tenant: ${JSON.stringify(byStatus)}`);
    const { rows } = await adminQuery(
      'SELECT count(*)::int AS n FROM resources WHERE tenant_id = $1 AND is_management', [id]);
    assert.equal(rows[0].n, 1, 'one Management API resource');
  });

  it('two transactions bootstrapping one tenant at once: the second finds the first one\'s rows', async () => {
    const id = await createTenant('boot', 'Boot tenant', { LATCH_SECRET_KEY: undefined });
    const indicator = `${lb.url}/t/${id}/api`;
    const begin = async (c) => {
      await c.query('BEGIN');
      await c.query("SELECT set_config('latch.tenant_id', $1, true)", [id]);
    };
    await withAppClient((a) => withAppClient(async (b) => {
      await begin(a);
      await a.query('SELECT latch_bootstrap_tenant($1, $2)', [id, indicator]);
      await begin(b);
      const second = b.query('SELECT latch_bootstrap_tenant($1, $2) AS rid', [id, indicator])
        .then((r) => r, (e) => e);
      await sleep(300); // b is now waiting for a
      await a.query('COMMIT');
      const r = await second;
      assert.ok(!(r instanceof Error), `the second bootstrap failed: ${r.message}`);
      assert.equal(r.rows[0].rid, 'management-api');
      await b.query('COMMIT');
    }));
  });

  it('kill -9 of a node under load: only the requests then in flight fail', async () => {
    load = startTokenLoad();
    await load.waitOk(200);
    const before = { ok: load.ok, failed: load.failed };
    assert.ok(tokenRequests(0) > 0, 'node 0 serves part of the load before it is killed');
    await node(0).stop('SIGKILL');
    await load.waitOk(300); // the survivor serves the rest
    const failed = load.failed - before.failed;
    await restart(0);
    await load.waitOk(200);
    await load.stop();
    const summary = load.describe();
    load = null;
    assert.ok(failed <= 8, `at most the 8 requests in flight may fail, ${failed} did: ${summary}`);
  });

  it('PostgreSQL restarted under load: no 500, then every node is ready within 10 polls', async () => {
    load = startTokenLoad();
    await load.waitOk(200);
    await pgctl('stop');
    pgStopped = true;
    await sleep(3000); // the load runs against nodes without a database
    await pgctl('start');
    pgStopped = false;

    // Once PostgreSQL accepts connections: every node ready and serving a grant that needs it.
    const maxPolls = 10;
    let polls = 0;
    let lastBad = '';
    for (; polls < maxPolls; polls++) {
      if (polls > 0) await sleep(100);
      const bad = [];
      for (const i of [0, 1]) {
        const ready = await http(`${node(i).url}/readyz`);
        if (ready.status !== 200) bad.push(`node ${i} /readyz ${ready.status} ${ready.text.slice(0, 200)}`);
        const r = await http(`${node(i).url}${tenantPath()}/oidc/token`, {
          method: 'POST',
          headers: { authorization: basicAuth(web.id, web.secret), 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
        });
        if (r.status !== 200) bad.push(`node ${i} refresh grant ${r.status} ${r.text.slice(0, 200)}`);
      }
      if (bad.length === 0) break;
      lastBad = bad.join('; ');
    }
    await load.waitOk(200);
    await load.stop();
    const summary = load.describe();
    const non503 = load.count((k) => !/^2\d\d$/.test(k) && k !== '503');
    const answered500 = load.count((k) => k === '500');
    load = null;
    assert.equal(answered500, 0, `500 answers during the PostgreSQL restart: ${summary}`);
    assert.equal(non503, 0, `failures other than 503: ${summary}`);
    assert.ok(polls < maxPolls, `not every node recovered within ${maxPolls} polls 100 ms apart ` +
      `(last: ${lastBad}); load: ${summary}`);
  });

  it('nginx with deploy/nginx.conf: valid, serves through both nodes, survives a kill -9', async () => {
    const ngx = await startNginx([cluster.addr(0), cluster.addr(1)]);
    try {
      load = startLoad(ngx.url, {
        cc: { path: `${tenantPath()}/oidc/token`, client: ctx.admin, resource: ctx.apiIndicator, scope: 'all' },
        refresh: { path: `${tenantPath()}/oidc/token`, client: web, refreshToken },
      });
      const logged = () => [0, 1].map((i) => accessLines(node(i).logs).length);
      const logged0 = logged();
      await load.waitOk(200);
      const served = logged().map((n, i) => n - logged0[i]);
      const before = load.failed;
      await node(1).stop('SIGKILL');
      await load.waitOk(300);
      const failed = load.failed - before;
      await load.stop();
      const summary = load.describe();
      load = null;
      assert.ok(failed <= 8, `at most the 8 requests in flight may fail, ${failed} did: ${summary}`);
      assert.ok(served.every((n) => n > 0), `both nodes served requests through nginx: ${served}`);
      assert.match(ngx.checkOutput, /test is successful/);
    } finally {
      await ngx.stop();
    }
    await restart(1);
  });
});
