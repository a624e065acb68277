// End-to-end test of a PostgreSQL outage under a running latchd (docs/operations.md, "Database
// outages"): routes that need the database answer 503 JSON with Retry-After (never 500); what
// the node serves from its caches keeps serving (discovery, JWKS, client-credentials tokens of a
// client already seen); /readyz stays 200 and reports the database down (a shared outage must
// not empty the load balancer), while /readyz/database, the monitoring check, answers 503.
// Once PostgreSQL accepts connections again, the same latchd serves normally within a few
// 100 ms polls, with no restart.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { adminQuery, createTenant, databaseUrl, http, pgctl, randomId, startLatchd, waitFor } from './lib/harness.mjs';
import { createAppWithCtl, tokenRequest } from './lib/oidc.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

describe('PostgreSQL outage', () => {
  let srv;
  let pgStopped = false;

  after(async () => {
    // Never leave the shared test database down for the files that run after this one.
    if (pgStopped) await pgctl('start');
    if (srv) await srv.stop('SIGKILL');
  });

  it('serves from its caches while PostgreSQL is down, 503 elsewhere, and recovers at once', async () => {
    const id = await createTenant('outage');
    srv = await startLatchd();
    const base = `${srv.url}/t/${id}`;
    const route = `${base}/api/status`;
    const m2m = await createAppWithCtl(srv, id, { management: true });
    const token = () => tokenRequest(srv, id, {
      client: m2m,
      params: { grant_type: 'client_credentials', resource: `${base}/api`, scope: 'all' },
    });
    assert.equal((await http(route)).status, 204);
    const readyUp = await http(`${srv.url}/readyz`);
    assert.equal(readyUp.status, 200, readyUp.text);
    assert.equal(readyUp.json().database, 'up');
    assert.equal((await http(`${srv.url}/readyz/database`)).status, 200);
    // Warm the caches this node serves from: discovery, JWKS, the client.
    assert.equal((await http(`${base}/oidc/.well-known/openid-configuration`)).status, 200);
    assert.equal((await http(`${base}/oidc/jwks`)).status, 200);
    for (let i = 0; i < 4; i++) assert.equal((await token()).status, 200);
    // A rotation whose grace period ends during the outage: the node must then reload the
    // tenant's keys, cannot, and keeps serving what it had.
    const mgmt = (await token()).json().access_token;
    const rotated = await http(`${base}/api/configs/oidc/private-keys/rotate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${mgmt}`, 'content-type': 'application/json' },
      body: JSON.stringify({ gracePeriod: 1 }),
    });
    assert.equal(rotated.status, 200, rotated.text);
    for (let i = 0; i < 4; i++) assert.equal((await token()).status, 200);
    const pid = srv.proc.pid;

    await pgctl('stop');
    pgStopped = true;

    const down = await waitFor(async () => {
      const r = await http(route);
      return r.status === 503 ? r : null;
    }, { timeoutMs: 15000, what: '503 from a tenant route with PostgreSQL down' });
    assert.match(down.headers.get('content-type') || '', /^application\/json/);
    assert.equal(down.headers.get('retry-after'), '1');
    assert.equal(typeof down.json().code, 'string', down.text);

    // A tenant never seen before cannot be resolved either.
    const unseen = await http(`${srv.url}/t/never-${randomId(6)}/api/status`);
    assert.equal(unseen.status, 503, unseen.text);
    assert.ok(unseen.headers.get('retry-after'), 'Retry-After on 503');

    // What the caches hold keeps serving (also past the rotated-out key's grace period).
    await sleep(1500);
    for (let i = 0; i < 8; i++) {
      const d = await http(`${base}/oidc/.well-known/openid-configuration`);
      assert.equal(d.status, 200, `discovery while down: ${d.text}`);
      const j = await http(`${base}/oidc/jwks`);
      assert.equal(j.status, 200, `JWKS while down: ${j.text}`);
      const t = await token();
      assert.equal(t.status, 200, `client-credentials token while down: ${t.text}`);
    }

    // Readiness keeps the node in the load balancer; the monitoring check tells the truth.
    const ready = await http(`${srv.url}/readyz`);
    assert.equal(ready.status, 200, ready.text);
    assert.equal(ready.json().database, 'down');
    const dbCheck = await http(`${srv.url}/readyz/database`);
    assert.equal(dbCheck.status, 503, dbCheck.text);
    assert.match(dbCheck.headers.get('content-type') || '', /^application\/json/);
    assert.equal(dbCheck.json().reason, 'database unreachable');
    assert.equal((await http(`${srv.url}/healthz`)).status, 200);

    // Long enough for every connection's backoff to have grown to its bound.
    await sleep(3000);
    await pgctl('start');
    pgStopped = false;

    // pg_ctl start -w returns once PostgreSQL accepts connections: from there, polls every
    // 100 ms must find the node serving within 10 (the design's "within a second"), and no
    // answer may be a 500.
    const statuses = [];
    let polls = 0;
    for (; polls < 20; polls++) {
      const [a, b] = await Promise.all([http(route), http(`${srv.url}/readyz/database`)]);
      statuses.push(a.status, b.status);
      if (a.status === 204 && b.status === 200) break;
      await sleep(100);
    }
    assert.ok(!statuses.includes(500), `no 500 while recovering: ${statuses.join(',')}`);
    assert.ok(polls < 10, `serving within 10 polls of 100 ms after PostgreSQL returned ` +
      `(took ${polls + 1}: ${statuses.join(',')})`);
    assert.equal((await token()).status, 200);
    assert.equal(srv.exitInfo, null, 'latchd kept running');
    assert.equal(srv.proc.pid, pid);

    // Logged errors are current: nothing says the connection is refused after recovery.
    const recovered = srv.logs.findIndex((l) => typeof l === 'object' && /re-established/.test(l.msg ?? ''));
    assert.ok(recovered >= 0, 'the recovery is logged');
    const after = srv.logs.slice(recovered + 1).filter((l) => /Connection refused/.test(JSON.stringify(l)));
    assert.deepEqual(after, [], 'no stale "Connection refused" after the recovery');

    const exit = await srv.stop();
    assert.deepEqual(exit, { code: 0, signal: null });
    srv = null;
  });

  it('a database host name (localhost) is resolved off the loop and connected to by address', async () => {
    const url = new URL(databaseUrl());
    url.hostname = 'localhost';
    const id = await createTenant('byname');
    srv = await startLatchd({ env: { LATCH_DATABASE_URL: url.toString() } });
    assert.equal((await http(`${srv.url}/t/${id}/api/status`)).status, 204);
    assert.equal((await http(`${srv.url}/readyz/database`)).status, 200);
    assert.doesNotMatch(srv.stderrText(), /could not resolve/);
    await srv.stop();
    srv = null;
  });

  it('connections terminated by the administrator (57P01) under load: 503 or success, never 500', async () => {
    const id = await createTenant('terminated');
    srv = await startLatchd();
    const route = `${srv.url}/t/${id}/api/status`;
    assert.equal((await http(route)).status, 204);
    const statuses = {};
    let stop = false;
    const workers = Array.from({ length: 6 }, async () => {
      while (!stop) {
        const r = await http(route);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      }
    });
    for (let round = 0; round < 5; round++) {
      await sleep(200);
      const { rows } = await adminQuery("SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) " +
        "FROM pg_stat_activity WHERE application_name = 'latchd' AND pid <> pg_backend_pid()) t");
      assert.ok(rows[0].n > 0, 'latchd connections were terminated');
    }
    await sleep(300);
    stop = true;
    await Promise.all(workers);
    assert.equal(statuses[500], undefined, `no 500 (statuses ${JSON.stringify(statuses)})`);
    assert.ok((statuses[204] ?? 0) > 0, `requests succeeded (statuses ${JSON.stringify(statuses)})`);
    assert.equal((await http(route)).status, 204, 'serving again');
  });
});
