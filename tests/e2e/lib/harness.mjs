// Harness of the end-to-end tests: starts real latchd processes from the build under test,
// runs latchctl, talks to the test PostgreSQL and speaks raw HTTP/1.1 when a test needs bytes
// that no HTTP client would send. deploy/test.sh sets the environment:
//   LATCH_TEST_BUILD_DIR     absolute build dir (core/latchd, core/latchctl inside)
//   LATCH_TEST_DATABASE_URL  database of the non-superuser role `latch` (what latchd uses)
//   LATCH_TEST_ADMIN_URL     same database as the superuser postgres (bypasses RLS)
//   LATCH_TEST_PGCTL         script taking stop|start for the test PostgreSQL
// Every latchd and latchctl it runs gets LATCH_CONNECTOR_DIR=<build>/connectors unless the test
// passes its own: the compiled-in default is the installed <libdir>/latch/connectors.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..', '..');

export const buildDir = path.resolve(process.env.LATCH_TEST_BUILD_DIR || path.join(repoRoot, 'build'));
export const latchdPath = path.join(buildDir, 'core', 'latchd');
export const latchctlPath = path.join(buildDir, 'core', 'latchctl');
/** The connectors the build offers (connectors/meson.build's `offered`), the tests' LATCH_CONNECTOR_DIR. */
export const buildConnectorDir = path.join(buildDir, 'connectors');

function requireEnv(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: run the end-to-end tests through deploy/test.sh`);
  }
  return v;
}

export const databaseUrl = () => requireEnv('LATCH_TEST_DATABASE_URL');
export const adminUrl = () => requireEnv('LATCH_TEST_ADMIN_URL');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Every latchd this process started and that has not exited yet.
const running = new Set();
process.on('exit', () => {
  for (const proc of running) {
    try {
      proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A fresh key-encryption key, as `openssl rand -base64 32` prints it. */
export const randomSecretKey = () => randomBytes(32).toString('base64');

let runKey = null;
/**
 * The LATCH_SECRET_KEY every latchd and latchctl of this test run uses unless a test passes its
 * own: LATCH_TEST_SECRET_KEY when set, else derived from the test database URL (deploy/test.sh
 * makes a throwaway database per run). One key for the whole database, as in a real deployment:
 * signing keys are sealed and client secrets are keyed under it, and the tenant `default` (shared
 * by every test file) would become unusable if each latchd came with a key of its own.
 */
export function runSecretKey() {
  runKey ??= process.env.LATCH_TEST_SECRET_KEY ||
    createHash('sha256').update(`latch-e2e-secret-key\0${databaseUrl()}`).digest('base64');
  return runKey;
}

/** A random suffix for tenant ids and other names ([a-z0-9]). */
export const randomId = (n = 8) =>
  randomBytes(n).toString('hex').slice(0, n).replace(/^[0-9]/, 'a');

/**
 * Polls fn until it returns a truthy value (which is returned) without throwing.
 * On timeout throws the last error, or a timeout error naming `what`.
 */
export async function waitFor(fn, { timeoutMs = 10000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      lastErr = undefined;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= deadline) {
      const e = new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
        (lastErr ? `: ${lastErr.message}` : ''));
      if (lastErr) e.cause = lastErr;
      throw e;
    }
    await sleep(intervalMs);
  }
}

function collectLines(stream, sink) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      sink(line);
    }
  });
  stream.on('end', () => {
    if (buf) sink(buf);
    buf = '';
  });
}

// The environment of a latchd or latchctl under test: ours without any LATCH_* setting (except
// LATCH_TEST_*), plus `extra`; a key whose value is undefined is left out.
function baseEnv(extra) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith('LATCH_') && !k.startsWith('LATCH_TEST_')) delete env[k];
  }
  Object.assign(env, extra);
  for (const k of Object.keys(env)) {
    if (env[k] === undefined) delete env[k];
  }
  return env;
}

/**
 * Spawns latchd and waits until it exits (for start-up failures).
 * Resolves {code, signal, stderr, stdout}.
 */
export async function runLatchdToExit({ env = {}, timeoutMs = 20000 } = {}) {
  const port = await freePort();
  return new Promise((resolve, reject) => {
    const proc = spawn(latchdPath, [], {
      env: baseEnv({
        LATCH_DATABASE_URL: databaseUrl(),
        LATCH_SECRET_KEY: runSecretKey(),
        LATCH_PUBLIC_URL: `http://127.0.0.1:${port}`,
        LATCH_LISTEN: `127.0.0.1:${port}`,
        LATCH_CONNECTOR_DIR: buildConnectorDir,
        ...env,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    proc.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`latchd did not exit within ${timeoutMs} ms; stderr:\n${stderr.slice(-4000)}`));
    }, timeoutMs);
    proc.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(proc);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Starts latchd on a free 127.0.0.1 port against the test database and waits until /healthz
 * answers 200 (and /readyz, unless waitReady is false). port: the port to listen on (a free one
 * when not given; pass the port of a node that stopped to start it again where a load balancer
 * expects it); exe and args: what to run instead of the build's latchd (e.g. an installed one).
 *
 * Returns {url, port, publicUrl, env, proc, logs, stderrText(), exited, stop(signal)}:
 *  - url: where this node listens; publicUrl: its LATCH_PUBLIC_URL (the same unless env sets it,
 *    e.g. for several nodes behind one public URL);
 *  - env: the LATCH_* settings it runs with (LATCH_SECRET_KEY, LATCH_PUBLIC_URL, ...); pass
 *    ctlEnv(server) to latchctl, and the same LATCH_SECRET_KEY to other nodes of its database;
 *  - logs: every stderr line, parsed JSON when it is JSON, else the string;
 *  - exited: a promise of {code, signal};
 *  - stop(signal = 'SIGTERM', timeoutMs = 30000): sends the signal and resolves {code, signal}.
 */
export async function startLatchd({ env = {}, threads = 2, waitReady = true, timeoutMs = 20000,
  port: wantPort, exe = latchdPath, args = [] } = {}) {
  const port = wantPort ?? await freePort();
  const url = `http://127.0.0.1:${port}`;
  const latchEnv = {
    LATCH_DATABASE_URL: databaseUrl(),
    LATCH_SECRET_KEY: runSecretKey(),
    LATCH_PUBLIC_URL: url,
    LATCH_LISTEN: `127.0.0.1:${port}`,
    LATCH_AUTO_MIGRATE: '1',
    LATCH_THREADS: String(threads),
    LATCH_LOG_LEVEL: 'info',
    // No load balancer watches these nodes: stop at once on SIGTERM unless a test drains.
    LATCH_DRAIN_DELAY_MS: '0',
    LATCH_CONNECTOR_DIR: buildConnectorDir,
    ...env,
  };
  for (const k of Object.keys(latchEnv)) {
    if (latchEnv[k] === undefined) delete latchEnv[k];
  }
  const proc = spawn(exe, args, {
    env: baseEnv(latchEnv),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  // A latchd a test forgot to stop must not keep the test process alive; waits below hold timers.
  proc.unref();
  proc.stdout.unref?.();
  proc.stderr.unref?.();

  const logs = [];
  const rawLines = [];
  // LATCH_E2E_ECHO=1: every line of every latchd also on the test's stderr (debugging a run).
  const echo = process.env.LATCH_E2E_ECHO === '1';
  const onLine = (line) => {
    rawLines.push(line);
    if (echo) process.stderr.write(`[latchd ${port}] ${line}\n`);
    try {
      logs.push(JSON.parse(line));
    } catch {
      logs.push(line);
    }
  };
  collectLines(proc.stderr, onLine);
  collectLines(proc.stdout, onLine);

  let exitInfo = null;
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      running.delete(proc);
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  let spawnError = null;
  proc.on('error', (err) => {
    spawnError = err;
  });

  const stderrText = () => rawLines.join('\n');
  const tail = () => rawLines.slice(-40).join('\n');

  const server = {
    url,
    port,
    publicUrl: latchEnv.LATCH_PUBLIC_URL,
    env: Object.freeze({ ...latchEnv }),
    proc,
    logs,
    exited,
    stderrText,
    get exitInfo() {
      return exitInfo;
    },
    /** Resolves {code, signal} once latchd exited; after timeoutMs kills it and rejects. */
    async waitExit(waitTimeoutMs = 30000, why = 'waiting for exit') {
      if (exitInfo) return exitInfo;
      let timer;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => {
          proc.kill('SIGKILL');
          reject(new Error(`latchd did not exit within ${waitTimeoutMs} ms (${why}); ` +
            `stderr tail:\n${tail()}`));
        }, waitTimeoutMs);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    /** Sends signal (default SIGTERM) and resolves {code, signal} when latchd exited. */
    async stop(signal = 'SIGTERM', stopTimeoutMs = 30000) {
      if (exitInfo) return exitInfo;
      proc.kill(signal);
      return server.waitExit(stopTimeoutMs, `after ${signal}`);
    },
  };

  const deadline = Date.now() + timeoutMs;
  const check = async (p) => {
    const res = await fetch(url + p, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  };
  for (const probe of waitReady ? ['/healthz', '/readyz'] : ['/healthz']) {
    for (;;) {
      if (spawnError) throw new Error(`cannot start ${exe}: ${spawnError.message}`);
      if (exitInfo) {
        throw new Error(`latchd exited during start-up (code ${exitInfo.code}, signal ` +
          `${exitInfo.signal}); stderr tail:\n${tail()}`);
      }
      let ok = false;
      try {
        ok = await check(probe);
      } catch {
        ok = false;
      }
      if (ok) break;
      if (Date.now() >= deadline) {
        proc.kill('SIGKILL');
        throw new Error(`latchd did not answer 200 on ${probe} within ${timeoutMs} ms; ` +
          `stderr tail:\n${tail()}`);
      }
      await sleep(100);
    }
  }
  return server;
}

/**
 * The settings latchctl needs to act for the latchd `server` (same secret key, same public URL):
 * latchctl(args, ctlEnv(server)).
 */
export const ctlEnv = (server) => ({
  LATCH_DATABASE_URL: server.env.LATCH_DATABASE_URL,
  LATCH_SECRET_KEY: server.env.LATCH_SECRET_KEY,
  LATCH_PUBLIC_URL: server.env.LATCH_PUBLIC_URL,
});

/**
 * Runs latchctl with args; resolves {code, signal, stdout, stderr}. It gets LATCH_DATABASE_URL
 * and the run's LATCH_SECRET_KEY unless env overrides them (a value of undefined removes one).
 */
export function latchctl(args, env = {}, { timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(latchctlPath, args, {
      env: baseEnv({ LATCH_DATABASE_URL: databaseUrl(), LATCH_SECRET_KEY: runSecretKey(),
        LATCH_CONNECTOR_DIR: buildConnectorDir, ...env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    proc.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`latchctl ${args.join(' ')} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    proc.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs latchctl and throws unless it exits 0; returns stdout. */
export async function latchctlOk(args, env = {}) {
  const r = await latchctl(args, env);
  if (r.code !== 0) {
    throw new Error(`latchctl ${args.join(' ')} exited ${r.code} (${r.signal ?? ''}):\n` +
      `${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

let migrated = null;
/**
 * Applies the migrations (latchctl migrate) once per test process, so that a test file does not
 * depend on another having started latchd first.
 */
export function ensureMigrated() {
  migrated ??= latchctlOk(['migrate']).catch((err) => {
    migrated = null;
    throw err;
  });
  return migrated;
}

/**
 * Creates a tenant with a random id (prefix-<random>; prefix of at most 12 characters) and
 * returns the id. env goes to latchctl (ctlEnv(server) to create it for a given latchd).
 */
export async function createTenant(prefix = 't', name = 'E2E tenant', env = {}) {
  await ensureMigrated();
  const id = `${prefix}-${randomId(8)}`;
  await latchctlOk(['tenant', 'create', id, '--name', name], env);
  return id;
}

/** Stops or starts the test PostgreSQL (LATCH_TEST_PGCTL). */
export function pgctl(action) {
  const script = requireEnv('LATCH_TEST_PGCTL');
  return new Promise((resolve, reject) => {
    const proc = spawn(script, [action], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    proc.stderr.setEncoding('utf8').on('data', (d) => { out += d; });
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`pgctl ${action} exited ${code}:\n${out}`));
    });
  });
}

async function withClient(connectionString, fn) {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** One query as the superuser postgres (row-level security does not apply). */
export const adminQuery = (sql, params = []) =>
  withClient(adminUrl(), (c) => c.query(sql, params));

/** One query as the application role `latch` (row-level security applies). */
export const appQuery = (sql, params = []) =>
  withClient(databaseUrl(), (c) => c.query(sql, params));

/** Runs fn(client) on a dedicated connection of the application role. */
export const withAppClient = (fn) => withClient(databaseUrl(), fn);

/** Runs fn(client) on a dedicated superuser connection. */
export const withAdminClient = (fn) => withClient(adminUrl(), fn);

/**
 * A raw TCP connection for hand-made HTTP/1.1 (localAddress: the client's source address, e.g.
 * '127.0.0.2', since Linux routes all of 127/8 to loopback).
 *  write(bytes) → Promise; readResponse({timeoutMs}) → next complete response (see parseResponse);
 *  received() → all text so far; closed → Promise resolved when the peer closed; close().
 */
export async function openRaw(port, { host = '127.0.0.1', localAddress } = {}) {
  const sock = net.connect({ host, port, ...(localAddress ? { localAddress } : {}) });
  await new Promise((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  let buf = Buffer.alloc(0);
  let consumed = 0;
  let ended = false;
  let error = null;
  const waiters = new Set();
  const wake = () => {
    for (const w of waiters) w();
  };
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    wake();
  });
  const closed = new Promise((resolve) => {
    sock.on('close', () => {
      ended = true;
      wake();
      resolve();
    });
  });
  sock.on('end', () => {
    ended = true;
    wake();
  });
  sock.on('error', (err) => {
    // ECONNRESET after a response (the server closed with our bytes unread) is not an error of
    // the response itself; keep what arrived.
    error = err;
    ended = true;
    wake();
  });

  return {
    socket: sock,
    closed,
    received: () => buf.toString('latin1'),
    get ended() {
      return ended;
    },
    write(bytes) {
      return new Promise((resolve, reject) => {
        sock.write(bytes, (err) => (err ? reject(err) : resolve()));
      });
    },
    readResponse({ timeoutMs = 10000 } = {}) {
      return new Promise((resolve, reject) => {
        let timer;
        const attempt = () => {
          const parsed = parseResponse(buf.subarray(consumed), { eof: ended });
          if (parsed) {
            consumed += parsed.length;
            done();
            resolve(parsed);
          } else if (ended) {
            done();
            reject(new Error(`connection closed before a complete response` +
              (error ? ` (${error.code || error.message})` : '') +
              `; received: ${JSON.stringify(buf.subarray(consumed).toString('latin1').slice(0, 500))}`));
          }
        };
        const done = () => {
          clearTimeout(timer);
          waiters.delete(attempt);
        };
        timer = setTimeout(() => {
          waiters.delete(attempt);
          reject(new Error(`no complete response within ${timeoutMs} ms; received: ` +
            JSON.stringify(buf.subarray(consumed).toString('latin1').slice(0, 500))));
        }, timeoutMs);
        waiters.add(attempt);
        attempt();
      });
    },
    close() {
      sock.destroy();
    },
  };
}

/**
 * Parses one HTTP/1.1 response at the start of buf. Returns null when incomplete, else
 * {status, reason, headers (lower-case names; repeated ones joined with ", "), body, length,
 * raw}. A response without Content-Length or chunked encoding ends at EOF (eof = true).
 */
export function parseResponse(buf, { eof = false, head = false } = {}) {
  const text = buf.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = text.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(lines[0])}`);
  const headers = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) throw new Error(`bad response header line: ${JSON.stringify(line)}`);
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  const status = Number(m[1]);
  const bodyStart = end + 4;
  let bodyEnd;
  let body;
  if (head || status === 204 || status === 304 || (status >= 100 && status < 200)) {
    bodyEnd = bodyStart;
    body = '';
  } else if (/chunked/i.test(headers['transfer-encoding'] || '')) {
    let pos = bodyStart;
    body = '';
    for (;;) {
      const lineEnd = text.indexOf('\r\n', pos);
      if (lineEnd < 0) return null;
      const size = parseInt(text.slice(pos, lineEnd), 16);
      if (Number.isNaN(size)) throw new Error('bad chunk size');
      if (size === 0) {
        const trailerEnd = text.indexOf('\r\n\r\n', lineEnd);
        if (trailerEnd >= 0) {
          bodyEnd = trailerEnd + 4;
          break;
        }
        if (text.startsWith('\r\n', lineEnd + 2)) {
          bodyEnd = lineEnd + 4;
          break;
        }
        return null;
      }
      if (text.length < lineEnd + 2 + size + 2) return null;
      body += text.slice(lineEnd + 2, lineEnd + 2 + size);
      pos = lineEnd + 2 + size + 2;
    }
  } else if ('content-length' in headers) {
    const len = Number(headers['content-length']);
    if (text.length < bodyStart + len) return null;
    bodyEnd = bodyStart + len;
    body = text.slice(bodyStart, bodyEnd);
  } else {
    if (!eof) return null;
    bodyEnd = text.length;
    body = text.slice(bodyStart);
  }
  return {
    status,
    reason: m[2] || '',
    headers,
    body,
    length: bodyEnd,
    raw: text.slice(0, bodyEnd),
    json() {
      return JSON.parse(body);
    },
  };
}

/**
 * Sends raw bytes on a fresh connection and resolves with the raw response text: everything
 * received until the server closes, or until `responses` complete responses arrived, or
 * timeoutMs passed (then what arrived so far).
 */
export async function rawHttp(port, bytes, { timeoutMs = 10000, responses = 1 } = {}) {
  const conn = await openRaw(port);
  try {
    // The server may answer and close before reading everything (e.g. 431); ignore write errors.
    conn.write(bytes).catch(() => {});
    const deadline = Date.now() + timeoutMs;
    let got = 0;
    while (got < responses && Date.now() < deadline) {
      try {
        await conn.readResponse({ timeoutMs: Math.max(1, deadline - Date.now()) });
        got += 1;
      } catch {
        break;
      }
    }
    return conn.received();
  } finally {
    conn.close();
  }
}

/** rawHttp, then parses the first response (throws when there is none). */
export async function rawRequest(port, bytes, opts = {}) {
  const text = await rawHttp(port, bytes, opts);
  const parsed = parseResponse(Buffer.from(text, 'latin1'), { eof: true });
  if (!parsed) throw new Error(`no complete response; received: ${JSON.stringify(text.slice(0, 500))}`);
  return parsed;
}

/** fetch() with a timeout, returning {status, headers, text, json()}. */
export async function http(url, init = {}) {
  const { timeoutMs = 10000, ...rest } = init;
  const res = await fetch(url, {
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
    ...rest,
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    json() {
      return JSON.parse(text);
    },
  };
}

/** True when a TCP connection to port is refused. */
export function connectionRefused(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(false);
    });
    sock.once('error', (err) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/** The access-log lines among logs (objects with method, path and status). */
export const accessLines = (logs) =>
  logs.filter((l) => l && typeof l === 'object' && 'method' in l && 'path' in l && 'status' in l);
