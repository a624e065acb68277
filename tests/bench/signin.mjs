// Load generator of tests/bench/signin.sh: complete password sign-ins without a browser, the way
// the hosted sign-in page does them, each with a fresh cookie jar:
//   GET /oidc/auth → 303 to /sign-in (interaction cookie) → GET /sign-in → GET
//   /api/experience/interaction (csrfToken) → PUT /api/experience → POST
//   /api/experience/verification/password → POST /api/experience/identification → POST
//   /api/experience/submit ({redirectTo}) → GET redirectTo (→ 303 redirect_uri?code) → POST
//   /oidc/token (authorization_code, client_secret_basic, PKCE S256).
// Node 20 built-ins only (node:http with keep-alive), so that it runs without npm.
//
//   node signin.mjs once   → one sign-in; prints the token response JSON
//   node signin.mjs run    → BENCH_CONCURRENCY loops for BENCH_SECONDS; prints a JSON summary
// Settings (environment): BENCH_BASE (tenant endpoint, e.g. http://127.0.0.1:3001),
// BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, BENCH_REDIRECT_URI, BENCH_USERS (file of
// "username password" lines), BENCH_CONCURRENCY (4), BENCH_SECONDS (10), BENCH_CSRF_HEADER
// (x-csrf-token), BENCH_SCOPE (openid offline_access profile email).
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};
const base = env('BENCH_BASE').replace(/\/$/, '');
const clientId = env('BENCH_CLIENT_ID');
const clientSecret = env('BENCH_CLIENT_SECRET');
const redirectUri = env('BENCH_REDIRECT_URI');
const csrfHeader = env('BENCH_CSRF_HEADER', 'x-csrf-token');
const scope = env('BENCH_SCOPE', 'openid offline_access profile email');
const origin = new URL(base).origin;
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`)
  .toString('base64')}`;

/** One HTTP/1.1 request; resolves {status, headers, body (string)}. */
function request(method, url, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const h = { ...headers };
    if (body !== undefined) h['content-length'] = Buffer.byteLength(body);
    const req = http.request({ method, host: u.hostname, port: u.port, path: u.pathname + u.search, headers: h, agent },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
          body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
    req.setTimeout(30000, () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

class Jar {
  constructor() { this.c = new Map(); }
  take(res) {
    for (const line of res.headers['set-cookie'] ?? []) {
      const pair = line.split(';')[0];
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      if (value === '' || /;\s*max-age=0\b/i.test(line)) this.c.delete(name);
      else this.c.set(name, value);
    }
  }
  header() { return [...this.c].map(([k, v]) => `${k}=${v}`).join('; '); }
}

const fail = (step, res) => {
  throw new Error(`${step}: HTTP ${res.status} ${String(res.body).slice(0, 300)}`);
};

/** One complete sign-in; resolves the token response. */
async function signIn(username, password) {
  const jar = new Jar();
  const go = async (method, url, { json, form, headers = {} } = {}) => {
    const h = { ...headers };
    const cookie = jar.header();
    if (cookie) h.cookie = cookie;
    let body;
    if (json !== undefined) {
      h['content-type'] = 'application/json';
      body = JSON.stringify(json);
    } else if (form !== undefined) {
      h['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const res = await request(method, new URL(url, `${base}/`).href, { headers: h, body });
    jar.take(res);
    return res;
  };
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(12).toString('base64url');
  const auth = new URL(`${base}/oidc/auth`);
  for (const [k, v] of Object.entries({ client_id: clientId, redirect_uri: redirectUri, response_type: 'code', scope,
    state, nonce: randomBytes(12).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256' })) {
    auth.searchParams.set(k, v);
  }
  let res = await go('GET', auth.href);
  if (res.status !== 303 && res.status !== 302) fail('GET /oidc/auth', res);
  res = await go('GET', new URL(res.headers.location, auth).href);
  if (res.status !== 200) fail('GET /sign-in', res);
  res = await go('GET', `${base}/api/experience/interaction`);
  if (res.status !== 200) fail('GET /api/experience/interaction', res);
  const csrf = { [csrfHeader]: JSON.parse(res.body).csrfToken };
  res = await go('PUT', `${base}/api/experience`, { json: { interactionEvent: 'SignIn' }, headers: csrf });
  if (res.status >= 300) fail('PUT /api/experience', res);
  res = await go('POST', `${base}/api/experience/verification/password`,
    { json: { identifier: { type: 'username', value: username }, password }, headers: csrf });
  if (res.status !== 200) fail('POST verification/password', res);
  const { verificationId } = JSON.parse(res.body);
  res = await go('POST', `${base}/api/experience/identification`, { json: { verificationId }, headers: csrf });
  if (res.status >= 300) fail('POST identification', res);
  res = await go('POST', `${base}/api/experience/submit`, { headers: csrf });
  if (res.status !== 200) fail('POST submit', res);
  let next = new URL(JSON.parse(res.body).redirectTo, `${base}/`).href;
  let callback = null;
  for (let hop = 0; hop < 10 && !callback; hop++) {
    res = await go('GET', next);
    if (res.status !== 303 && res.status !== 302) fail(`GET ${new URL(next).pathname}`, res);
    const loc = new URL(res.headers.location, next);
    if (loc.origin !== origin) callback = loc;
    else next = loc.href;
  }
  if (!callback) throw new Error('no redirect to the redirect URI');
  const code = callback.searchParams.get('code');
  if (!code || callback.searchParams.get('state') !== state) throw new Error(`bad callback ${callback.href}`);
  res = await request('POST', `${base}/oidc/token`, {
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier })
      .toString(),
  });
  if (res.status !== 200) fail('POST /oidc/token', res);
  const tokens = JSON.parse(res.body);
  if (typeof tokens.id_token !== 'string' || typeof tokens.access_token !== 'string') {
    throw new Error(`token response without tokens: ${res.body.slice(0, 300)}`);
  }
  return tokens;
}

const users = readFileSync(env('BENCH_USERS'), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean)
  .map((l) => l.split(/\s+/));
if (users.length === 0) throw new Error('no users');

const mode = process.argv[2] ?? 'run';
if (mode === 'once') {
  const [u, p] = users[0];
  process.stdout.write(`${JSON.stringify(await signIn(u, p))}\n`);
  agent.destroy();
} else if (mode === 'run') {
  const concurrency = Number(env('BENCH_CONCURRENCY', '4'));
  const seconds = Number(env('BENCH_SECONDS', '10'));
  const durations = [];
  let errors = 0;
  let firstError = null;
  let next = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const loop = async () => {
    while (performance.now() < deadline) {
      const [u, p] = users[next++ % users.length];
      const t0 = performance.now();
      try {
        await signIn(u, p);
        durations.push(performance.now() - t0);
      } catch (err) {
        errors++;
        firstError ??= err.message;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = (performance.now() - start) / 1000;
  durations.sort((a, b) => a - b);
  const pct = (q) => (durations.length
    ? durations[Math.min(durations.length - 1, Math.floor(q * durations.length))] : 0);
  process.stdout.write(`${JSON.stringify({
    completed: durations.length,
    errors,
    first_error: firstError,
    seconds: Number(elapsed.toFixed(3)),
    rate: Number((durations.length / elapsed).toFixed(2)),
    p50_ms: Number(pct(0.5).toFixed(1)),
    p99_ms: Number(pct(0.99).toFixed(1)),
    concurrency,
  })}\n`);
  agent.destroy();
} else {
  throw new Error(`unknown mode ${mode} (once | run)`);
}
