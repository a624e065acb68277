// End-to-end test of a PostgreSQL outage: with the database stopped under a running latchd,
// routes that need it answer 503 JSON and /readyz says why; once it is back, the same latchd
// recovers by itself (no restart) within 30 s.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTenant, http, pgctl, randomId, startLatchd, waitFor } from './lib/harness.mjs';

describe('PostgreSQL outage', () => {
  let srv;
  let pgStopped = false;

  after(async () => {
    // Never leave the shared test database down for the files that run after this one.
    if (pgStopped) await pgctl('start');
    if (srv) await srv.stop('SIGKILL');
  });

  it('answers 503 while PostgreSQL is down and recovers without a restart', async () => {
    const id = await createTenant('outage');
    srv = await startLatchd();
    const route = `${srv.url}/t/${id}/api/status`;
    assert.equal((await http(route)).status, 204);
    assert.equal((await http(`${srv.url}/readyz`)).status, 200);
    const pid = srv.proc.pid;

    await pgctl('stop');
    pgStopped = true;

    const down = await waitFor(async () => {
      const r = await http(route);
      return r.status === 503 ? r : null;
    }, { timeoutMs: 15000, what: '503 from a tenant route with PostgreSQL down' });
    assert.match(down.headers.get('content-type') || '', /^application\/json/);
    const body = down.json();
    assert.equal(typeof body.code, 'string', JSON.stringify(body));

    // A tenant never seen before cannot be resolved either.
    const unseen = await http(`${srv.url}/t/never-${randomId(6)}/api/status`);
    assert.equal(unseen.status, 503, unseen.text);

    const ready = await waitFor(async () => {
      const r = await http(`${srv.url}/readyz`);
      return r.status === 503 ? r : null;
    }, { timeoutMs: 15000, what: '/readyz 503' });
    assert.match(ready.headers.get('content-type') || '', /^application\/json/);
    assert.equal(typeof ready.json(), 'object');

    // The node itself stays alive.
    const health = await http(`${srv.url}/healthz`);
    assert.equal(health.status, 200);

    await pgctl('start');
    pgStopped = false;

    await waitFor(async () => (await http(route)).status === 204,
      { timeoutMs: 30000, intervalMs: 250, what: 'the tenant route to answer 204 again' });
    await waitFor(async () => (await http(`${srv.url}/readyz`)).status === 200,
      { timeoutMs: 30000, intervalMs: 250, what: '/readyz 200 again' });
    assert.equal(srv.exitInfo, null, 'latchd kept running');
    assert.equal(srv.proc.pid, pid);

    const exit = await srv.stop();
    assert.deepEqual(exit, { code: 0, signal: null });
  });
});
