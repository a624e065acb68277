// Cluster helpers of the end-to-end tests: two latchd nodes of the test database behind Debian's
// haproxy running deploy/haproxy.cfg itself (its addresses come from LATCH_LB_* variables), the
// haproxy runtime API (server states), nginx with deploy/nginx.conf, and a load generator that
// sends a steady, bounded stream of token requests through the load balancer over keep-alive
// connections and counts every answer by status (network errors by code). Loopback only.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startLatchd, waitFor } from './harness.mjs';
import { basicAuth } from './oidc.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');
export const haproxyCfg = path.join(repoRoot, 'deploy', 'haproxy.cfg');
export const nginxConf = path.join(repoRoot, 'deploy', 'nginx.conf');
const haproxyBin = process.env.LATCH_TEST_HAPROXY || '/usr/sbin/haproxy';
const nginxBin = process.env.LATCH_TEST_NGINX || '/usr/sbin/nginx';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** n distinct free ports on 127.0.0.1. */
export async function freePorts(n) {
  const ports = new Set();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

// Keeps the last `max` lines a process printed, for failure messages.
function tailOf(proc, max = 200) {
  const lines = [];
  for (const stream of [proc.stdout, proc.stderr]) {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (lines.length > max) lines.shift();
      }
    });
  }
  return () => lines.join('\n');
}

function accepts(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

// Waits for a spawned helper process to listen on port; throws with its output if it exits.
async function waitListening(proc, port, tail, what) {
  let exited = null;
  proc.once('exit', (code, signal) => { exited = { code, signal }; });
  await waitFor(async () => {
    if (exited) throw new Error(`${what} exited (${JSON.stringify(exited)}):\n${tail()}`);
    return accepts(port);
  }, { timeoutMs: 10000, intervalMs: 50, what: `${what} to listen on ${port}` });
}

function stopProc(proc, signal = 'SIGTERM') {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10000);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill(signal);
  });
}

/**
 * Starts haproxy in the foreground with deploy/haproxy.cfg, bound to a free 127.0.0.1 port, in
 * front of nodes (two "host:port" addresses: node1 and node2 of the file). Resolves
 * {url, port, states(), waitStates(want), stop(), output()}.
 */
export async function startHaproxy(nodes, { port } = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'latch-haproxy-'));
  const lbPort = port ?? await freePort();
  const socket = path.join(dir, 'admin.sock');
  const proc = spawn(haproxyBin, ['-db', '-f', haproxyCfg], {
    env: {
      ...process.env,
      LATCH_LB_BIND: `127.0.0.1:${lbPort}`,
      LATCH_LB_NODE1: nodes[0],
      LATCH_LB_NODE2: nodes[1],
      LATCH_LB_ADMIN_SOCKET: socket,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.unref();
  const output = tailOf(proc);
  await waitListening(proc, lbPort, output, 'haproxy');

  /** One runtime API command; resolves its answer. */
  const command = (cmd) => new Promise((resolve, reject) => {
    const sock = net.connect({ path: socket });
    let out = '';
    sock.setEncoding('utf8');
    sock.on('data', (d) => { out += d; });
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
    sock.write(`${cmd}\n`);
  });

  /** The check status of each server of backend latchd: {node1: 'UP', node2: 'DOWN', ...}. */
  const states = async () => {
    const csv = (await command('show stat')).trim().split('\n');
    const cols = csv[0].replace(/^# /, '').split(',');
    const sv = cols.indexOf('svname');
    const px = cols.indexOf('pxname');
    const st = cols.indexOf('status');
    const out = {};
    for (const line of csv.slice(1)) {
      const f = line.split(',');
      if (f[px] === 'latchd' && f[sv] !== 'BACKEND') out[f[sv]] = f[st];
    }
    return out;
  };

  return {
    url: `http://127.0.0.1:${lbPort}`,
    port: lbPort,
    command,
    states,
    /** Waits until every server named in want ({node1: 'UP'}) has that status. */
    async waitStates(want, timeoutMs = 15000) {
      let last;
      try {
        await waitFor(async () => {
          last = await states();
          return Object.entries(want).every(([k, v]) => last[k] === v);
        }, { timeoutMs, intervalMs: 50, what: `haproxy servers ${JSON.stringify(want)}` });
      } catch (err) {
        err.message += ` (last: ${JSON.stringify(last)})`;
        throw err;
      }
    },
    output,
    async stop() {
      await stopProc(proc);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts nginx with deploy/nginx.conf (a conf.d snippet) included in a minimal main
 * configuration, its two upstream servers and its listen port replaced by ours. Resolves
 * {url, port, stop(), output()}; throws with `nginx -t`'s output when the file is invalid.
 */
export async function startNginx(nodes) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'latch-nginx-'));
  const port = await freePort();
  let snippet = await readFile(nginxConf, 'utf8');
  const replace = (from, to) => {
    if (!snippet.includes(from)) throw new Error(`deploy/nginx.conf no longer contains ${from}`);
    snippet = snippet.split(from).join(to);
  };
  replace('server 127.0.0.1:3001', `server ${nodes[0]}`);
  replace('server 127.0.0.1:3002', `server ${nodes[1]}`);
  replace('listen 80;', `listen 127.0.0.1:${port};`);
  await writeFile(path.join(dir, 'latch.conf'), snippet);
  await writeFile(path.join(dir, 'nginx.conf'), [
    `pid ${dir}/nginx.pid;`,
    'error_log stderr warn;',
    'worker_processes 1;',
    'events { worker_connections 512; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${dir}/body;`,
    `  proxy_temp_path ${dir}/proxy;`,
    `  include ${dir}/latch.conf;`,
    '}',
    '',
  ].join('\n'));
  const args = ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', 'stderr'];
  const check = await new Promise((resolve, reject) => {
    const p = spawn(nginxBin, [...args, '-t'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    p.stderr.setEncoding('utf8').on('data', (d) => { out += d; });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out }));
  });
  if (check.code !== 0) throw new Error(`nginx -t rejects deploy/nginx.conf:\n${check.out}`);
  const proc = spawn(nginxBin, [...args, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.unref();
  const output = tailOf(proc);
  await waitListening(proc, port, output, 'nginx');
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    checkOutput: check.out,
    output,
    async stop() {
      await stopProc(proc, 'SIGQUIT');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Two latchd nodes of the test database whose public URL is the load balancer's (publicPort),
 * on ports chosen here, so that a node can be started again where haproxy expects it.
 * Resolves {ports, nodes, start(i), addr(i)}.
 */
export async function startNodes({ publicPort, env = {} }) {
  const ports = await freePorts(2);
  const nodeEnv = {
    LATCH_PUBLIC_URL: `http://127.0.0.1:${publicPort}`,
    LATCH_TRUSTED_PROXIES: '127.0.0.1/32',
    // Longer than haproxy needs to see /readyz fail (about 0.7 s with deploy/haproxy.cfg).
    LATCH_DRAIN_DELAY_MS: '1500',
    ...env,
  };
  const cluster = {
    ports,
    nodes: [null, null],
    addr: (i) => `127.0.0.1:${ports[i]}`,
    /** (Re)starts node i on its port; resolves the harness server. */
    async start(i) {
      cluster.nodes[i] = await startLatchd({ port: ports[i], env: nodeEnv });
      return cluster.nodes[i];
    },
  };
  await Promise.all([cluster.start(0), cluster.start(1)]);
  return cluster;
}

/**
 * A steady load through baseUrl: `concurrency` workers over keep-alive connections, each
 * sending one request at a time with a short pause, until stop() or maxRequests or maxMs.
 * Even workers ask for client-credentials tokens (cc: {path, client, resource, scope}), odd
 * ones refresh (refresh: {path, client, refreshToken}, an application that does not rotate
 * refresh tokens, so every worker can keep using the same one). A request fails when the
 * answer is not 2xx or when no answer came (network error or timeout).
 *
 * Returns {ok, failed, byStatus, waitOk(n), stop(), describe()}; byStatus counts answers by
 * status and failures without an answer by error code.
 */
export function startLoad(baseUrl, { cc, refresh, concurrency = 8, pauseMs = 5, maxRequests = 200000,
  maxMs = 90000, timeoutMs = 20000 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const base = new URL(baseUrl);
  const deadline = Date.now() + maxMs;
  const byStatus = {};
  const samples = [];
  const state = { ok: 0, failed: 0, sent: 0, stopping: false };

  const requestOf = (kind) => {
    if (kind === 'cc') {
      const form = new URLSearchParams({ grant_type: 'client_credentials', resource: cc.resource, scope: cc.scope });
      return { path: cc.path, auth: basicAuth(cc.client.id, cc.client.secret), body: form.toString() };
    }
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh.refreshToken });
    return { path: refresh.path, auth: basicAuth(refresh.client.id, refresh.client.secret), body: form.toString() };
  };

  const send = (r) => new Promise((resolve) => {
    const req = http.request({
      host: base.hostname,
      port: base.port,
      method: 'POST',
      path: r.path,
      agent,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': Buffer.byteLength(r.body),
        authorization: r.auth,
      },
      timeout: timeoutMs,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { if (body.length < 300) body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', (err) => resolve({ error: err.code || err.message }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err) => resolve({ error: err.code || err.message }));
    req.end(r.body);
  });

  const worker = async (i) => {
    const kind = i % 2 === 0 ? 'cc' : 'refresh';
    while (!state.stopping && state.sent < maxRequests && Date.now() < deadline) {
      state.sent += 1;
      const res = await send(requestOf(kind));
      const key = res.error ? `error:${res.error}` : String(res.status);
      byStatus[key] = (byStatus[key] ?? 0) + 1;
      if (res.status >= 200 && res.status < 300) {
        state.ok += 1;
      } else {
        state.failed += 1;
        if (samples.length < 10) samples.push({ kind, ...res, afterOk: state.ok });
      }
      await sleep(pauseMs);
    }
  };
  const workers = Array.from({ length: concurrency }, (_, i) => worker(i));

  const load = {
    concurrency,
    byStatus,
    get ok() { return state.ok; },
    get failed() { return state.failed; },
    get total() { return state.ok + state.failed; },
    /** Counts answers with a status (network errors by key) passing the predicate. */
    count(pred) {
      return Object.entries(byStatus).filter(([k]) => pred(k)).reduce((n, [, v]) => n + v, 0);
    },
    /** Resolves once n more requests succeeded than when called (throws when the load ended). */
    async waitOk(n, timeoutMs = 30000) {
      const target = state.ok + n;
      await waitFor(() => {
        if (state.ok >= target) return true;
        if (state.stopping || state.sent >= maxRequests || Date.now() >= deadline) {
          throw new Error(`the load ended before ${n} more successes: ${load.describe()}`);
        }
        return false;
      }, { timeoutMs, intervalMs: 20, what: `${n} more successful requests (${load.describe()})` });
    },
    async stop() {
      state.stopping = true;
      await Promise.all(workers);
      agent.destroy();
      return load;
    },
    describe() {
      return `${state.ok} ok, ${state.failed} failed; by status ${JSON.stringify(byStatus)}` +
        (samples.length ? `; first failures: ${JSON.stringify(samples)}` : '');
    },
  };
  return load;
}
