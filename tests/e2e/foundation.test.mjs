// End-to-end tests of the foundation (issue 2): node endpoints, tenant resolution, bounded
// HTTP parsing, keep-alive, request ids, the access log, configuration errors and graceful stop.
// Each test talks to a real latchd on loopback and the test PostgreSQL (see lib/harness.mjs).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  accessLines,
  adminUrl,
  connectionRefused,
  createTenant,
  http,
  latchctlOk,
  openRaw,
  rawRequest,
  runLatchdToExit,
  startLatchd,
  waitFor,
} from './lib/harness.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function assertJsonError(res, status, what) {
  assert.equal(res.status, status, `${what}: status (body: ${res.text ?? res.body})`);
  const type = typeof res.headers.get === 'function'
    ? res.headers.get('content-type') : res.headers['content-type'];
  assert.match(type || '', /^application\/json/, `${what}: content-type`);
  const body = JSON.parse(res.text ?? res.body);
  assert.equal(typeof body, 'object', `${what}: JSON object`);
  assert.equal(typeof body.code, 'string', `${what}: "code" in ${JSON.stringify(body)}`);
  assert.ok(body.code.length > 0, `${what}: non-empty code`);
  return body;
}

describe('node endpoints and tenant routes', () => {
  let srv;
  before(async () => {
    srv = await startLatchd();
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  it('GET /healthz answers 200 {"status":"ok"}', async () => {
    const res = await http(`${srv.url}/healthz`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') || '', /^application\/json/);
    assert.deepEqual(res.json(), { status: 'ok' });
  });

  it('GET /readyz answers 200 with a JSON body once migrated', async () => {
    const res = await http(`${srv.url}/readyz`);
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') || '', /^application\/json/);
    assert.equal(typeof res.json(), 'object');
  });

  it('an unknown route answers 404 JSON', async () => {
    const res = await http(`${srv.url}/no/such/route`);
    assertJsonError(res, 404, 'unknown route');
  });

  it('tenant default (seeded by the migrations) answers 204 on /api/status', async () => {
    const res = await http(`${srv.url}/api/status`);
    assert.equal(res.status, 204, res.text);
    assert.equal(res.text, '');
  });

  it('an unknown tenant answers 404 JSON with a code', async () => {
    const res = await http(`${srv.url}/t/nope/api/status`);
    assertJsonError(res, 404, 'unknown tenant');
  });

  it('a tenant id that is not valid answers 404 or 400 JSON, never 5xx', async () => {
    // (No dot segments: fetch() would resolve them before sending.)
    for (const bad of ['UPPER', 'has_underscore', 'a.b', 'x'.repeat(300)]) {
      const res = await http(`${srv.url}/t/${bad}/api/status`);
      assert.ok([400, 404].includes(res.status), `${bad}: got ${res.status} ${res.text}`);
      assertJsonError(res, res.status, `tenant id ${bad.slice(0, 20)}`);
    }
  });

  it('a created tenant answers 204; suspended 403 JSON; resumed 204 again', async () => {
    const id = await createTenant('found');
    const route = `${srv.url}/t/${id}/api/status`;
    const first = await http(route);
    assert.equal(first.status, 204, first.text);

    await latchctlOk(['tenant', 'suspend', id]);
    // Caches are invalidated across nodes within a second (LISTEN/NOTIFY).
    const suspended = await waitFor(async () => {
      const r = await http(route);
      return r.status === 403 ? r : null;
    }, { timeoutMs: 5000, what: '403 after suspend' });
    assertJsonError(suspended, 403, 'suspended tenant');

    await latchctlOk(['tenant', 'resume', id]);
    await waitFor(async () => (await http(route)).status === 204,
      { timeoutMs: 5000, what: '204 after resume' });
  });

  it('every response carries an X-Request-Id, different for each request', async () => {
    const ids = new Set();
    for (const p of ['/healthz', '/readyz', '/no/such/route', '/t/nope/api/status', '/api/status']) {
      const res = await http(`${srv.url}${p}`);
      const id = res.headers.get('x-request-id');
      assert.ok(id && id.length > 0 && id.length <= 128, `${p}: X-Request-Id ${id}`);
      ids.add(id);
    }
    assert.equal(ids.size, 5);
  });

  it('X-Request-Id from a client that is not a trusted proxy is not echoed', async () => {
    const res = await http(`${srv.url}/healthz`, { headers: { 'X-Request-Id': 'e2e-untrusted-42' } });
    const id = res.headers.get('x-request-id');
    assert.ok(id, 'generated id');
    assert.notEqual(id, 'e2e-untrusted-42');
  });

  it('keeps the connection alive across requests, and answers pipelined requests in order',
    async () => {
      const conn = await openRaw(srv.port);
      try {
        await conn.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
        const a = await conn.readResponse();
        assert.equal(a.status, 200);
        assert.deepEqual(JSON.parse(a.body), { status: 'ok' });
        await conn.write('GET /api/status HTTP/1.1\r\nHost: localhost\r\n\r\n');
        const b = await conn.readResponse();
        assert.equal(b.status, 204);
        // Two requests in one segment.
        await conn.write('GET /no/such HTTP/1.1\r\nHost: localhost\r\n\r\n' +
          'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
        const c = await conn.readResponse();
        const d = await conn.readResponse();
        assert.equal(c.status, 404);
        assert.equal(d.status, 200);
        assert.equal(conn.ended, false, 'connection still open');
      } finally {
        conn.close();
      }
    });

  it('closes the connection after a response to "Connection: close"', async () => {
    const conn = await openRaw(srv.port);
    try {
      await conn.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      const res = await conn.readResponse();
      assert.equal(res.status, 200);
      await Promise.race([
        conn.closed,
        sleep(3000).then(() => assert.fail('connection not closed within 3 s')),
      ]);
    } finally {
      conn.close();
    }
  });
});

describe('bounded requests', () => {
  let srv;
  const maxBody = 1024;
  const maxHeader = 8192;
  before(async () => {
    srv = await startLatchd({
      env: { LATCH_MAX_BODY_BYTES: String(maxBody), LATCH_MAX_HEADER_BYTES: String(maxHeader) },
    });
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  const post = (len) =>
    `POST /api/status HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n` +
    `Content-Length: ${len}\r\n\r\n${'b'.repeat(len)}`;

  it('a body larger than LATCH_MAX_BODY_BYTES answers 413 JSON', async () => {
    const res = await rawRequest(srv.port, post(maxBody * 2));
    assertJsonError(res, 413, 'body too large');
  });

  it('a body of exactly LATCH_MAX_BODY_BYTES is not refused as too large', async () => {
    const res = await rawRequest(srv.port, post(maxBody));
    assert.notEqual(res.status, 413);
    assert.ok(res.status < 500, `status ${res.status}`);
  });

  it('a Content-Length announcing a huge body answers 413 before the body is sent', async () => {
    const res = await rawRequest(srv.port,
      'POST /api/status HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000000\r\n\r\n');
    assertJsonError(res, 413, 'announced body too large');
  });

  it('a 64 KiB Cookie header answers 431 JSON', async () => {
    const res = await rawRequest(srv.port,
      `GET /healthz HTTP/1.1\r\nHost: localhost\r\nCookie: a=${'c'.repeat(64 * 1024)}\r\n\r\n`);
    assertJsonError(res, 431, 'huge header');
  });

  it('headers below LATCH_MAX_HEADER_BYTES are accepted', async () => {
    const res = await rawRequest(srv.port,
      `GET /healthz HTTP/1.1\r\nHost: localhost\r\nCookie: a=${'c'.repeat(maxHeader / 2)}\r\n\r\n`);
    assert.equal(res.status, 200);
  });

  it('headers just above LATCH_MAX_HEADER_BYTES answer 431', async () => {
    const res = await rawRequest(srv.port,
      `GET /healthz HTTP/1.1\r\nHost: localhost\r\nCookie: a=${'c'.repeat(maxHeader + 16)}\r\n\r\n`);
    assertJsonError(res, 431, 'header just above the bound');
  });

  it('too many header fields answer 431 (or 400) JSON', async () => {
    let req = 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n';
    for (let i = 0; i < 200; i++) req += `X-H${i}: 1\r\n`;
    const res = await rawRequest(srv.port, `${req}\r\n`);
    assert.ok([400, 431].includes(res.status), `status ${res.status}`);
    assertJsonError(res, res.status, 'too many headers');
  });

  it('a very long request line answers 414 or 431 JSON', async () => {
    const res = await rawRequest(srv.port,
      `GET /${'p'.repeat(64 * 1024)} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    assert.ok([414, 431].includes(res.status), `status ${res.status}`);
    assertJsonError(res, res.status, 'long request line');
  });

  it('a malformed request line answers 400', async () => {
    for (const line of ['GARBAGE', 'GET', 'GET /healthz', 'GET /healthz HTTP/1.1 extra',
      'GET /healthz FTP/1.1']) {
      const res = await rawRequest(srv.port, `${line}\r\nHost: localhost\r\n\r\n`);
      assert.equal(res.status, 400, `${JSON.stringify(line)}: status ${res.status}`);
    }
  });

  it('a malformed header line or Content-Length answers 400', async () => {
    const a = await rawRequest(srv.port, 'GET /healthz HTTP/1.1\r\nHost localhost\r\n\r\n');
    assert.equal(a.status, 400, 'header without colon');
    const b = await rawRequest(srv.port,
      'POST /api/status HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n');
    assert.equal(b.status, 400, 'bad Content-Length');
  });

  it('the server still serves normal requests after all of that', async () => {
    const res = await http(`${srv.url}/healthz`);
    assert.equal(res.status, 200);
  });
});

describe('request ids from trusted proxies and the access log', () => {
  let srv;
  before(async () => {
    srv = await startLatchd({ env: { LATCH_TRUSTED_PROXIES: '127.0.0.1/32' } });
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  it('X-Request-Id from a trusted proxy is echoed', async () => {
    const res = await http(`${srv.url}/healthz`, { headers: { 'X-Request-Id': 'e2e-trusted-42' } });
    assert.equal(res.headers.get('x-request-id'), 'e2e-trusted-42');
  });

  it('an oversized X-Request-Id from a trusted proxy is not passed on as is', async () => {
    const long = 'r'.repeat(4000);
    const res = await http(`${srv.url}/healthz`, { headers: { 'X-Request-Id': long } });
    assert.equal(res.status, 200);
    const id = res.headers.get('x-request-id');
    assert.ok(id && id.length > 0 && id.length <= 256, `X-Request-Id of ${id?.length} chars`);
  });

  it('writes one JSON access-log line per request, without the query string', async () => {
    const secret = `secret-${Date.now()}`;
    const id = await createTenant('log');
    const a = await http(`${srv.url}/healthz?code=${secret}&x=1`);
    const b = await http(`${srv.url}/t/${id}/api/status?code=${secret}`);
    assert.equal(a.status, 200);
    assert.equal(b.status, 204);
    const ridA = a.headers.get('x-request-id');
    const ridB = b.headers.get('x-request-id');

    const [lineA, lineB] = await waitFor(() => {
      const lines = accessLines(srv.logs);
      const la = lines.find((l) => l.requestId === ridA);
      const lb = lines.find((l) => l.requestId === ridB);
      return la && lb ? [la, lb] : null;
    }, { timeoutMs: 5000, what: 'access-log lines' });

    for (const [line, path, status] of [[lineA, '/healthz', 200],
      [lineB, `/t/${id}/api/status`, 204]]) {
      assert.equal(line.method, 'GET');
      assert.equal(line.path, path);
      assert.equal(line.status, status);
      assert.equal(typeof line.durationMs, 'number');
      assert.ok(line.durationMs >= 0);
      assert.equal(typeof line.time, 'string');
      assert.ok(!Number.isNaN(Date.parse(line.time)), `time ${line.time}`);
    }
    assert.equal(lineB.tenant, id, 'tenant of a tenant route');
    assert.ok(lineA.tenant === null || lineA.tenant === undefined || lineA.tenant === '',
      `no tenant on /healthz: ${lineA.tenant}`);
    assert.ok(!srv.stderrText().includes(secret), 'the query string never reaches the logs');
    assert.equal(accessLines(srv.logs).filter((l) => l.requestId === ridA).length, 1);
  });
});

describe('configuration errors', () => {
  const cases = [
    ['LATCH_THREADS', 'abc'],
    ['LATCH_THREADS', '0'],
    ['LATCH_LISTEN', 'not-a-host-port'],
    ['LATCH_PUBLIC_URL', 'ftp://example.com'],
    ['LATCH_SECRET_KEY', 'c2hvcnQ='],
    ['LATCH_TRUSTED_PROXIES', '300.1.2.3/40'],
    ['LATCH_LOG_LEVEL', 'chatty'],
    ['LATCH_MAX_BODY_BYTES', '-5'],
    ['LATCH_SHUTDOWN_GRACE_MS', 'soon'],
  ];
  for (const [name, value] of cases) {
    it(`${name}=${value} stops start-up with a message naming ${name}`, async () => {
      const r = await runLatchdToExit({ env: { [name]: value } });
      assert.notEqual(r.code, 0, `exit code (stderr: ${r.stderr})`);
      assert.equal(r.signal, null, `no crash (stderr: ${r.stderr})`);
      assert.ok(r.stderr.includes(name), `stderr names ${name}: ${r.stderr}`);
    });
  }

  for (const name of ['LATCH_DATABASE_URL', 'LATCH_SECRET_KEY']) {
    it(`a missing ${name} stops start-up with a message naming it`, async () => {
      const r = await runLatchdToExit({ env: { [name]: undefined } });
      assert.notEqual(r.code, 0);
      assert.equal(r.signal, null);
      assert.ok(r.stderr.includes(name), `stderr names ${name}: ${r.stderr}`);
    });
  }

  it('refuses to run as a PostgreSQL superuser (row-level security would not apply)', async () => {
    const r = await runLatchdToExit({ env: { LATCH_DATABASE_URL: adminUrl(), LATCH_AUTO_MIGRATE: '1' } });
    assert.notEqual(r.code, 0, `exit code (stderr: ${r.stderr})`);
    assert.equal(r.signal, null);
    assert.match(r.stderr, /superuser|bypassrls/i);
  });
});

describe('graceful stop', () => {
  it('SIGTERM finishes a request in flight, refuses new connections, then exits 0', async () => {
    const srv = await startLatchd({ env: { LATCH_SHUTDOWN_GRACE_MS: '10000' } });
    const conn = await openRaw(srv.port);
    try {
      // Headers and half of the body: the request is in flight.
      await conn.write('POST /api/status HTTP/1.1\r\nHost: localhost\r\n' +
        'Content-Type: text/plain\r\nContent-Length: 10\r\n\r\n12345');
      await sleep(200);
      assert.equal(conn.received(), '', 'no answer before the body is complete');

      srv.proc.kill('SIGTERM');
      await waitFor(() => connectionRefused(srv.port),
        { timeoutMs: 5000, what: 'new connections refused after SIGTERM' });
      assert.equal(srv.exitInfo, null, 'latchd waits for the request in flight');

      await conn.write('67890');
      const res = await conn.readResponse({ timeoutMs: 5000 });
      assert.ok(res.status >= 200 && res.status < 500, `complete answer, status ${res.status}`);
      assert.notEqual(res.status, 503);

      const exit = await srv.waitExit(15000, 'after SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null });
    } finally {
      conn.close();
      await srv.stop('SIGKILL');
    }
  });

  it('SIGTERM with only idle keep-alive connections exits 0 promptly', async () => {
    const srv = await startLatchd({ env: { LATCH_SHUTDOWN_GRACE_MS: '10000', LATCH_IDLE_TIMEOUT_MS: '60000' } });
    const conn = await openRaw(srv.port);
    try {
      await conn.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
      assert.equal((await conn.readResponse()).status, 200);
      const t0 = Date.now();
      const exit = await srv.stop('SIGTERM', 8000);
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(Date.now() - t0 < 5000, `exited after ${Date.now() - t0} ms`);
    } finally {
      conn.close();
    }
  });

  it('SIGINT stops it the same way (exit 0)', async () => {
    const srv = await startLatchd();
    const exit = await srv.stop('SIGINT', 10000);
    assert.deepEqual(exit, { code: 0, signal: null });
  });

  it('a request that never completes does not hold the exit past the grace period', async () => {
    const srv = await startLatchd({ env: { LATCH_SHUTDOWN_GRACE_MS: '500' } });
    const conn = await openRaw(srv.port);
    try {
      await conn.write('POST /api/status HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n1');
      await sleep(100);
      const t0 = Date.now();
      const exit = await srv.stop('SIGTERM', 8000);
      assert.equal(exit.signal, null, 'not killed by a signal');
      assert.ok(Date.now() - t0 < 5000, `exited after ${Date.now() - t0} ms`);
    } finally {
      conn.close();
    }
  });
});

describe('SIGHUP', () => {
  it('reloads the log level from LATCH_CONFIG_FILE without a restart', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'latch-sighup-'));
    const file = path.join(dir, 'latch.conf');
    writeFileSync(file, 'LATCH_LOG_LEVEL=warn\n');
    // The level comes from the file only (the environment would win over it).
    const srv = await startLatchd({ env: { LATCH_LOG_LEVEL: undefined, LATCH_CONFIG_FILE: file } });
    try {
      const before = (await fetch(`${srv.url}/healthz`)).status;
      assert.equal(before, 200);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(accessLines(srv.logs).length, 0, 'warn level: no access lines');

      writeFileSync(file, 'LATCH_LOG_LEVEL=info\n');
      srv.proc.kill('SIGHUP');
      await waitFor(() => srv.logs.some((l) => l && l.msg === 'SIGHUP: log level is info'),
        { timeoutMs: 5000, intervalMs: 50 });
      assert.equal((await fetch(`${srv.url}/healthz?after=hup`)).status, 200);
      await waitFor(() => accessLines(srv.logs).some((l) => l.path === '/healthz'),
        { timeoutMs: 5000, intervalMs: 50 });

      // A broken file keeps the level it had, and the node keeps serving.
      writeFileSync(file, 'LATCH_LOG_LEVEL=loud\n');
      srv.proc.kill('SIGHUP');
      await waitFor(() => srv.logs.some((l) => l && typeof l.msg === 'string' &&
        l.msg.startsWith('SIGHUP:') && l.msg.includes('keeping log level info')),
        { timeoutMs: 5000, intervalMs: 50 });
      assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
      const code = await srv.stop('SIGTERM');
      assert.deepEqual(code, { code: 0, signal: null });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
