// Driver of tests/bench/hooks.sh: an HTTPS webhook receiver (the certificate the script made,
// served for BENCH_HOST on 127.0.0.1:BENCH_RECEIVER_PORT), BENCH_HOOKS hooks subscribed to
// Organization.Created created through the Management API, then BENCH_EVENTS organizations
// created BENCH_CONCURRENCY at a time; waits until every hook got every event, checking each
// signature (hex HMAC-SHA256 of the raw body under the hook's signing key). Prints one JSON
// summary line. Node 20 built-ins only.
// Settings: BENCH_BASE, BENCH_TOKEN (a Management API token), BENCH_RECEIVER_PORT, BENCH_CERT,
// BENCH_KEY, BENCH_HOST, BENCH_HOOKS (8), BENCH_EVENTS (500), BENCH_CONCURRENCY (8),
// BENCH_TIMEOUT_S (120).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};
const base = env('BENCH_BASE').replace(/\/$/, '');
const token = env('BENCH_TOKEN');
const nhooks = Number(env('BENCH_HOOKS', '8'));
const nevents = Number(env('BENCH_EVENTS', '500'));
const concurrency = Number(env('BENCH_CONCURRENCY', '8'));
const timeoutMs = Number(env('BENCH_TIMEOUT_S', '120')) * 1000;
const host = env('BENCH_HOST');
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function api(method, path, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const u = new URL(`${base}/api${path}`);
    const req = http.request({ method, host: u.hostname, port: u.port, path: u.pathname, agent, headers: {
      authorization: `Bearer ${token}`,
      ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
    } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
        else resolve(text ? JSON.parse(text) : null);
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const keys = new Map(); // hook id → signing key
const got = new Map(); // `${hookId} ${orgId}` → receipt time
const createdAt = new Map(); // org id → time its creation was answered
let duplicates = 0;
let badSignatures = 0;
let lastReceipt = 0;
let done;
const allDone = new Promise((resolve) => { done = resolve; });

const server = https.createServer({ cert: readFileSync(env('BENCH_CERT')), key: readFileSync(env('BENCH_KEY')) },
  (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = JSON.parse(raw.toString());
      const key = keys.get(body.hookId);
      const want = key ? createHmac('sha256', key).update(raw).digest() : Buffer.alloc(32);
      const sig = Buffer.from(String(req.headers['logto-signature-sha-256'] ?? ''), 'hex');
      if (sig.length !== 32 || !timingSafeEqual(sig, want)) badSignatures++;
      const k = `${body.hookId} ${body.data?.id}`;
      if (got.has(k)) duplicates++;
      else got.set(k, Date.now());
      lastReceipt = Date.now();
      res.writeHead(204).end();
      if (got.size === nhooks * nevents) done();
    });
  });
await new Promise((resolve) => server.listen(Number(env('BENCH_RECEIVER_PORT')), '127.0.0.1', resolve));

for (let i = 0; i < nhooks; i++) {
  const hook = await api('POST', '/hooks', { name: `bench-${i}`, events: ['Organization.Created'],
    config: { url: `https://${host}/hook/${i}` } });
  keys.set(hook.id, hook.signingKey);
}

const t0 = Date.now();
let next = 0;
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (next < nevents) {
    const i = next++;
    const org = await api('POST', '/organizations', { name: `bench-org-${i}` });
    createdAt.set(org.id, Date.now());
  }
}));
const createdMs = Date.now() - t0;
const timer = setTimeout(() => done(), timeoutMs);
await allDone;
clearTimeout(timer);
const totalMs = lastReceipt - t0;
const lat = [...got.entries()].map(([k, t]) => t - createdAt.get(k.split(' ')[1])).sort((a, b) => a - b);
const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : null);
console.log(JSON.stringify({
  hooks: nhooks,
  events: nevents,
  deliveries: got.size,
  missing: nhooks * nevents - got.size,
  duplicates,
  bad_signatures: badSignatures,
  create_s: createdMs / 1000,
  created_rate: nevents / (createdMs / 1000),
  total_s: totalMs / 1000,
  delivery_rate: got.size / (totalMs / 1000),
  p50_ms: pct(0.5),
  p99_ms: pct(0.99),
  max_ms: lat.at(-1) ?? null,
}));
server.closeAllConnections();
server.close();
agent.destroy();
