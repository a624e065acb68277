// End-to-end tests of the per-connection limits (docs/operations.md, "Connection limits"):
//   - the request head has a deadline from its first byte (LATCH_HEADER_TIMEOUT_MS) that bytes
//     arriving do not restart: a client dribbling header lines gets 408 and is closed although
//     it keeps sending (the idle timeout, 60 s here, restarts on every byte and never fires);
//   - a body has a deadline too (LATCH_BODY_TIMEOUT_MS plus its length at LATCH_MIN_BODY_RATE),
//     with Content-Length and chunked;
//   - 50 dribbling clients do not keep a normal client from being served;
//   - LATCH_MAX_CONNECTIONS_PER_IP counts the TCP peer across loop threads; other peers and
//     trusted proxies (LATCH_TRUSTED_PROXIES) are not affected; refusals are logged rate-limited.
// Linux routes all of 127/8 to loopback, so clients bind 127.0.0.2-4 to be other peers.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openRaw, startLatchd, waitFor } from './lib/harness.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const GET = 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n';
const MAX_PIECES = 40; // 12 s at 300 ms: far past the test deadlines, far below the idle timeout

// Sends `first`, then `piece` every 300 ms until the server ends the connection or MAX_PIECES
// have been sent; returns how many pieces were sent after `first`.
async function dribble(conn, first, piece) {
  await conn.write(first);
  let sent = 0;
  while (!conn.ended && sent < MAX_PIECES) {
    await sleep(300);
    if (conn.ended) break;
    try {
      await conn.write(piece);
    } catch {
      break;
    }
    sent++;
  }
  return sent;
}

async function expectTimedOut(conn, sent, what) {
  const res = await conn.readResponse({ timeoutMs: 1000 });
  assert.equal(res.status, 408, `${what}: 408`);
  assert.equal(JSON.parse(res.body).code, 'http.request_timeout', `${what}: error code`);
  assert.equal(res.headers.connection, 'close', `${what}: Connection: close`);
  assert.ok(sent >= 3, `${what}: the client kept sending before the deadline (${sent} pieces)`);
  assert.ok(sent < MAX_PIECES, `${what}: cut off by the deadline, not by the client stopping`);
  await Promise.race([conn.closed, sleep(5000).then(() => assert.fail(`${what}: not closed`))]);
}

describe('slow clients', () => {
  const servers = [];
  const sockets = [];
  const open = async (port, opts) => {
    const c = await openRaw(port, opts);
    sockets.push(c);
    return c;
  };

  after(async () => {
    for (const s of sockets) s.socket.destroy();
    for (const srv of servers) await srv.stop('SIGKILL');
  });

  const deadlines = {
    LATCH_HEADER_TIMEOUT_MS: '1500',
    LATCH_BODY_TIMEOUT_MS: '1500',
    LATCH_MIN_BODY_RATE: '100000', // a 60000-byte body: 1.5 s + 0.6 s
    LATCH_IDLE_TIMEOUT_MS: '60000',
  };

  it('a head dribbled one line every 300 ms gets 408 and is closed at the head deadline', async () => {
    const srv = await startLatchd({ threads: 1, env: deadlines });
    servers.push(srv);
    const c = await open(srv.port);
    const sent = await dribble(c, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n', 'X-Slow: 1\r\n');
    await expectTimedOut(c, sent, 'slow head');
    await waitFor(() => /request head from 127\.0\.0\.1 too slow/.test(srv.stderrText()),
      { timeoutMs: 3000, what: 'the slow head logged' });
  });

  it('the head deadline starts at the first byte, not when a keep-alive connection idles', async () => {
    const srv = await startLatchd({ threads: 1, env: deadlines });
    servers.push(srv);
    const c = await open(srv.port);
    await c.write(GET);
    assert.equal((await c.readResponse()).status, 200);
    await sleep(2500); // idle longer than the head deadline, shorter than the idle timeout
    await c.write(GET);
    assert.equal((await c.readResponse()).status, 200, 'the idle connection is still served');
  });

  it('a body dribbled too slowly gets 408, Content-Length or chunked; a body at pace does not', async () => {
    const srv = await startLatchd({ threads: 1, env: deadlines });
    servers.push(srv);
    const slow = await open(srv.port);
    const sent = await dribble(slow,
      // Within the 64 KiB that a request matching no route may send (docs/operations.md).
      'POST /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 60000\r\n\r\n', 'x'.repeat(10));
    await expectTimedOut(slow, sent, 'slow Content-Length body');

    const chunked = await open(srv.port);
    const sentChunks = await dribble(chunked,
      'POST /healthz HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n', '1\r\nx\r\n');
    await expectTimedOut(chunked, sentChunks, 'slow chunked body');

    // 4000 bytes in 4 pieces over ~0.4 s: within 1.5 s + 4000 B at 100000 B/s.
    const paced = await open(srv.port);
    await paced.write('POST /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4000\r\n\r\n');
    for (let i = 0; i < 4; i++) {
      await sleep(100);
      await paced.write('y'.repeat(1000));
    }
    const res = await paced.readResponse();
    assert.equal(res.status, 405, 'the body was read whole and the request routed');
  });

  it('while 50 slow clients dribble, a normal client keeps being served', async () => {
    const srv = await startLatchd({ threads: 2, env: deadlines });
    servers.push(srv);
    const slow = [];
    for (let i = 0; i < 50; i++) slow.push(await open(srv.port));
    const dribbling = slow.map((c) =>
      dribble(c, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n', 'X-Slow: 1\r\n')
        .then((sent) => c.readResponse({ timeoutMs: 1000 }).then((res) => ({ sent, res }))));
    let done = false;
    const all = Promise.all(dribbling).finally(() => {
      done = true;
    });

    const normal = await open(srv.port);
    const statuses = [];
    while (!done) {
      await normal.write(GET);
      statuses.push((await normal.readResponse({ timeoutMs: 5000 })).status);
      await sleep(50);
    }
    const results = await all;
    assert.ok(statuses.length >= 10, `the normal client made ${statuses.length} requests`);
    assert.deepEqual(statuses.filter((s) => s !== 200), [], 'every request of the normal client: 200');
    assert.equal(results.filter((r) => r.res.status === 408).length, 50, 'every slow client: 408');
    assert.equal(results.filter((r) => r.sent >= MAX_PIECES).length, 0, 'none outlived the deadline');
  });

  it('LATCH_MAX_CONNECTIONS_PER_IP: the 9th connection of a peer is refused, other peers and trusted proxies are served', async () => {
    const srv = await startLatchd({
      threads: 2, // the count is shared by the loops
      env: { LATCH_MAX_CONNECTIONS_PER_IP: '8', LATCH_TRUSTED_PROXIES: '127.0.0.3/32' },
    });
    servers.push(srv);
    const served = async (c) => {
      await c.write(GET);
      return (await c.readResponse({ timeoutMs: 5000 })).status;
    };
    // The limited peer is 127.0.0.4: the harness's own HTTP client may hold connections from
    // 127.0.0.1 (its readiness checks), which count too.
    const PEER = { localAddress: '127.0.0.4' };
    const held = [];
    for (let i = 0; i < 8; i++) {
      const c = await open(srv.port, PEER);
      held.push(c);
      assert.equal(await served(c), 200, `connection ${i + 1} of 127.0.0.4 served`);
    }

    // Over the bound: a 429 if the client reads it before the close, else just the close.
    const refusedStatuses = [];
    for (let i = 0; i < 20; i++) {
      const c = await open(srv.port, PEER);
      // Half of them send nothing: those must read the 429 (nothing unread, no reset).
      if (i % 2 === 1) await c.write(GET).catch(() => {});
      const res = await c.readResponse({ timeoutMs: 5000 }).catch(() => null);
      refusedStatuses.push(res?.status ?? 'closed');
      await Promise.race([c.closed, sleep(5000).then(() => assert.fail('refused connection not closed'))]);
    }
    assert.deepEqual(refusedStatuses.filter((s) => s !== 429 && s !== 'closed'), [],
      `over the bound: 429 or closed (${refusedStatuses.join(',')})`);
    assert.ok(refusedStatuses.includes(429), 'the refusal is explained with a 429');

    const other = await open(srv.port, { localAddress: '127.0.0.2' });
    assert.equal(await served(other), 200, '127.0.0.2 is another peer, served');

    for (let i = 0; i < 12; i++) {
      const c = await open(srv.port, { localAddress: '127.0.0.3' });
      assert.equal(await served(c), 200, `trusted proxy connection ${i + 1} served`);
    }

    // 20 refusals within a few seconds: at most one line per loop thread.
    const lines = srv.stderrText().split('\n')
      .filter((l) => /refused a connection from 127\.0\.0\.4: LATCH_MAX_CONNECTIONS_PER_IP/.test(l));
    assert.ok(lines.length >= 1 && lines.length <= 2, `refusals logged ${lines.length} times`);

    // A connection closed frees its place.
    held.pop().close();
    await waitFor(async () => {
      const c = await open(srv.port, PEER);
      const ok = await served(c).catch(() => null);
      if (ok === 200) held.push(c);
      return ok === 200;
    }, { timeoutMs: 5000, what: 'a new 127.0.0.4 connection served after one closed' });
  });
});
