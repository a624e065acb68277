// End-to-end tests of accept back-pressure (docs/operations.md, "Connection limits"):
//   - at LATCH_MAX_CONNECTIONS a node stops accepting: a client over the bound waits in the
//     kernel's backlog, unanswered, and is served once connections close; both are logged;
//   - out of file descriptors (EMFILE, under prlimit), accepting pauses instead of spinning: the
//     failure is logged a bounded number of times (it used to be logged a million times in 10 s),
//     and the node serves again once descriptors are free.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { latchdPath, openRaw, startLatchd, waitFor } from './lib/harness.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const REQUEST = 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n';

describe('accept back-pressure', () => {
  const servers = [];
  const sockets = [];

  after(async () => {
    for (const s of sockets) s.socket.destroy();
    for (const srv of servers) await srv.stop('SIGKILL');
  });

  it('LATCH_MAX_CONNECTIONS: accepting pauses at the bound and resumes below it', async () => {
    const srv = await startLatchd({ threads: 1, env: { LATCH_MAX_CONNECTIONS: '16' } });
    servers.push(srv);
    const held = [];
    for (let i = 0; i < 40 && !/LATCH_MAX_CONNECTIONS reached/.test(srv.stderrText()); i++) {
      const c = await openRaw(srv.port);
      sockets.push(c);
      held.push(c);
      await sleep(20);
    }
    await waitFor(() => /LATCH_MAX_CONNECTIONS reached/.test(srv.stderrText()),
      { timeoutMs: 5000, what: 'the bound reached and logged' });
    assert.ok(held.length <= 16, `paused after at most 16 connections (opened ${held.length})`);

    const waiting = await openRaw(srv.port); // the kernel completes it into the backlog
    sockets.push(waiting);
    await waiting.write(REQUEST);
    await sleep(500);
    assert.equal(waiting.received(), '', 'a client over the bound is not served');

    for (const c of held) c.socket.destroy();
    const res = await waiting.readResponse({ timeoutMs: 10000 });
    assert.equal(res.status, 200, 'served once connections closed');
    assert.match(srv.stderrText(), /accepting connections again/);
  });

  it('EMFILE: accepting pauses with a bounded log instead of spinning, then serves again', async () => {
    const srv = await startLatchd({
      threads: 1,
      exe: 'prlimit',
      args: ['--nofile=96', latchdPath],
      env: { LATCH_MAX_CONNECTIONS: '100000' },
    });
    servers.push(srv);
    const held = [];
    for (let i = 0; i < 150; i++) {
      const c = await openRaw(srv.port);
      sockets.push(c);
      held.push(c);
    }
    await waitFor(() => /accept failed: .*pausing accepting/.test(srv.stderrText()),
      { timeoutMs: 10000, what: 'EMFILE logged' });
    await sleep(2000); // 20 pauses of 100 ms: a spinning loop would log thousands of lines
    const lines = srv.stderrText().split('\n').filter((l) => /accept failed/.test(l));
    assert.ok(lines.length <= 2, `accept failures logged ${lines.length} times in 2 s`);

    for (const c of held) c.socket.destroy();
    await waitFor(async () => {
      const c = await openRaw(srv.port);
      sockets.push(c);
      await c.write(REQUEST);
      const res = await c.readResponse({ timeoutMs: 3000 }).catch(() => null);
      c.socket.destroy();
      return res?.status === 200;
    }, { timeoutMs: 15000, what: 'a request served after the descriptors were freed' });
    assert.equal(srv.exitInfo, null, 'latchd kept running');
  });
});
