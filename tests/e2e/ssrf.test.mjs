// End-to-end test of the outbound address policy (issue 15, item 3; docs/operations.md,
// "Outbound requests"): a tenant administrator who points a connector at the server's own
// network (here an OIDC connector whose issuer is https://127.0.0.1:<port>) gets a clear error
// code at sign-in, connector.address_refused, and the server never opens a connection there;
// with LATCH_OUTBOUND_ALLOW_PRIVATE naming that network the same connector does connect. A plain
// TCP listener counts the connections. Only loopback is used; the other ranges are unit-tested
// (tests/unit/outbound).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { buildDir, startLatchd, waitFor } from './lib/harness.mjs';
import { CookieJar, ExperienceClient, TenantCtx, expectStatus } from './lib/oidc.mjs';
import { authUrl, flowChecks, webAppConfig } from './lib/flow.mjs';

const connectorDir = process.env.LATCH_TEST_CONNECTOR_DIR || path.join(buildDir, 'connectors');

/** A TCP listener on loopback that counts connections and closes them. */
async function countingListener() {
  let connections = 0;
  const server = net.createServer((sock) => {
    connections++;
    sock.destroy();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    get connections() { return connections; },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** A tenant whose sign-in offers an OIDC connector with issuer; resolves the authorization-uri answer. */
async function authorizationUri(srv, issuer) {
  const ctx = await TenantCtx.create(srv, 'ssrf');
  const api = await ctx.api();
  const app = await ctx.createWebApp('http://127.0.0.1:9');
  const config = await webAppConfig(ctx, app);
  const connector = expectStatus(await api.post('/connectors', {
    connectorId: 'oidc',
    config: { clientId: 'rp', clientSecret: 'rp-secret', issuer, scope: 'openid' },
  }), 200, 'create the OIDC connector');
  await ctx.patchSignInExp({ socialSignInConnectorTargets: ['oidc'] });
  const xp = new ExperienceClient(ctx, new CookieJar());
  await xp.start(authUrl(config, app, await flowChecks()));
  const res = await xp.call('POST', `/verification/social/${connector.id}/authorization-uri`,
    { state: 'page-state', redirectUri: `${ctx.base}/callback/${connector.id}` });
  res.tenantId = ctx.id;
  return res;
}

/** The JSON log lines of srv that carry requestId. */
function linesOf(srv, requestId) {
  return srv.logs.filter((l) => typeof l === 'object' && l !== null && l.requestId === requestId);
}

describe('outbound address policy', () => {
  let upstream;
  const servers = [];
  before(async () => {
    upstream = await countingListener();
  });
  after(async () => {
    for (const s of servers) await s.stop();
    await upstream?.close();
  });

  it('a connector pointed at loopback is refused with connector.address_refused, and nothing connects', async () => {
    const srv = await startLatchd({ env: { LATCH_CONNECTOR_DIR: connectorDir } });
    servers.push(srv);
    for (const host of ['127.0.0.1', 'localhost', '[::1]']) {
      const res = await authorizationUri(srv, `https://${host}:${upstream.port}`);
      assert.equal(res.status, 400, `${host}: ${res.text}`);
      assert.equal(res.json().code, 'connector.address_refused', `${host}: ${res.text}`);
    }
    assert.equal(upstream.connections, 0, 'no connection was opened to the refused address');
    assert.match(srv.stderrText(), /resolves to an address that is not public/);
  });

  it('the lines logged for a refused sign-in carry its request id and tenant (issue 15, item 9)', async () => {
    const srv = await startLatchd({ env: { LATCH_CONNECTOR_DIR: connectorDir } });
    servers.push(srv);
    const results = [];
    for (let i = 0; i < 2; i++) results.push(await authorizationUri(srv, `https://127.0.0.1:${upstream.port}`));
    const ids = results.map((r) => r.headers.get('x-request-id'));
    assert.ok(ids.every((id) => /^[0-9a-f]{32}$/.test(id ?? '')), `request ids: ${ids}`);
    assert.notEqual(ids[0], ids[1]);
    for (const [i, res] of results.entries()) {
      assert.equal(res.json().code, 'connector.address_refused', res.text);
      // Written before the answer, but read from another pipe than the answer: wait for them.
      await waitFor(() => linesOf(srv, ids[i]).some((l) => l.msg === 'request'),
        { what: `the access line of request ${ids[i]}` });
      const lines = linesOf(srv, ids[i]);
      // The connector's own warning (host services) and the sign-in's, both with the tenant.
      const connector = lines.find((l) => /^connector \S+ \S+: http GET .*not public/.test(l.msg));
      const signIn = lines.find((l) => /authorization URI failed/.test(l.msg));
      assert.ok(connector, `the connector's line carries the request id: ${JSON.stringify(lines)}`);
      assert.ok(signIn, `the sign-in's line carries the request id: ${JSON.stringify(lines)}`);
      for (const l of [connector, signIn]) {
        assert.equal(l.tenant, res.tenantId);
        assert.equal(l.level, 'warn');
      }
      // No line of this request is attributed to the other one.
      assert.ok(!linesOf(srv, ids[1 - i]).some((l) => l.tenant !== results[1 - i].tenantId));
    }
  });

  it('LATCH_OUTBOUND_ALLOW_PRIVATE lets the operator allow that network', async () => {
    const srv = await startLatchd({
      env: { LATCH_CONNECTOR_DIR: connectorDir, LATCH_OUTBOUND_ALLOW_PRIVATE: '127.0.0.0/8' },
    });
    servers.push(srv);
    const res = await authorizationUri(srv, `https://127.0.0.1:${upstream.port}`);
    // The listener is no TLS server: the call fails, but after connecting.
    assert.notEqual(res.json().code, 'connector.address_refused', res.text);
    assert.ok(upstream.connections > 0, 'the allowed address was connected to');
  });
});
