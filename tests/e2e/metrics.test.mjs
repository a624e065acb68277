// End-to-end tests of the Prometheus metrics (issue 10, deliverable 7): a latchd with
// LATCH_METRICS_LISTEN on a loopback port of its own serves GET /metrics in the text format 0.0.4
// there and nowhere else (the public port answers 404); the output parses as Prometheus text
// (every sample under a declared family, HELP and TYPE once each, cumulative buckets whose +Inf
// equals _count, every bounded label within its fixed set); and a client-credentials token, a
// 404 and a /metrics on the public port move the counters by exactly what was done. The listener
// answers 404 elsewhere, 405 to other methods and 431 to an oversized head; LATCH_METRICS_LISTEN
// on the public port is refused at start-up.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createTenant,
  freePort,
  http,
  latchdPath,
  rawHttp,
  rawRequest,
  runLatchdToExit,
  startLatchd,
  waitFor,
} from './lib/harness.mjs';
import { clientCredentials, createAppWithCtl, managementIndicator } from './lib/oidc.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

// Every label whose values are a fixed set, with that set. A label not listed here must be one
// of FREE_LABELS (bounded by what the node loaded, not by traffic).
const BOUNDED = {
  route: ['unmatched', 'oidc_token', 'oidc_auth', 'oidc_discovery', 'oidc_jwks', 'oidc_userinfo',
    'oidc_other', 'experience', 'mgmt', 'pages', 'health', 'other'],
  status: ['2xx', '3xx', '4xx', '5xx'],
  pool: ['requests', 'listener'],
  lane: ['cpu', 'io'],
  cache: ['tenant', 'state'],
  result: ['hit', 'miss'],
  scope: ['tenant', 'all'],
  alg: ['ES256', 'ES384', 'RS256', 'EdDSA'],
  method: ['password', 'social'],
  outcome: ['success', 'failure', 'locked', 'suspended', 'ok', 'error'],
  op: ['authorization_uri', 'user_info', 'validate_config'],
  reason: ['queue_full', 'write_failed'],
  class: null, // checked by pattern: a SQLSTATE class or "other"
  le: null, // checked as a number or +Inf
};
const FREE_LABELS = ['version', 'connector'];
const TYPES = ['counter', 'gauge', 'histogram'];
const MAX_SERIES = 2000;

/** Splits `a="x",b="y\"z"` into an object; throws on anything else. */
function parseLabels(text, line) {
  const labels = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/y;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    assert.ok(m, `malformed labels at ${at} in: ${line}`);
    assert.ok(!(m[1] in labels), `label ${m[1]} twice in: ${line}`);
    labels[m[1]] = m[2].replace(/\\(["\\n])/g, (_, c) => (c === 'n' ? '\n' : c));
    at = re.lastIndex;
  }
  return labels;
}

/**
 * Parses the text exposition format 0.0.4 strictly enough to catch what Prometheus would refuse.
 * Returns {families: Map(name → {type, help}), samples: [{name, family, labels, value}]}.
 */
function parseExposition(text) {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  const families = new Map();
  const samples = [];
  const seen = new Set();
  for (const line of text.slice(0, -1).split('\n')) {
    let m;
    if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line))) {
      const f = families.get(m[1]) ?? {};
      assert.equal(f.help, undefined, `HELP ${m[1]} twice`);
      families.set(m[1], { ...f, help: m[2] });
      continue;
    }
    if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\S+)$/.exec(line))) {
      const f = families.get(m[1]) ?? {};
      assert.equal(f.type, undefined, `TYPE ${m[1]} twice`);
      assert.ok(TYPES.includes(m[2]), `type ${m[2]} of ${m[1]}`);
      assert.ok(!samples.some((s) => s.family === m[1]), `TYPE ${m[1]} after its samples`);
      families.set(m[1], { ...f, type: m[2] });
      continue;
    }
    assert.ok(!line.startsWith('#'), `unexpected comment: ${line}`);
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `malformed sample line: ${JSON.stringify(line)}`);
    const [, name, labelText = '', valueText] = m;
    const value = valueText === '+Inf' ? Infinity : Number(valueText);
    assert.ok(!Number.isNaN(value), `value of ${line}`);
    const labels = parseLabels(labelText, line);
    // The family: the name itself, or a histogram's _bucket/_sum/_count.
    let family = null;
    if (families.has(name) && families.get(name).type !== 'histogram') family = name;
    const hm = /^(.*)_(bucket|sum|count)$/.exec(name);
    if (!family && hm && families.get(hm[1])?.type === 'histogram') family = hm[1];
    assert.ok(family, `sample of no declared family: ${line}`);
    assert.ok(families.get(family).help, `family ${family} has no HELP`);
    assert.equal('le' in labels, hm?.[2] === 'bucket' && family === hm[1], `le only on buckets: ${line}`);
    for (const [k, v] of Object.entries(labels)) {
      if (k === 'le') assert.ok(v === '+Inf' || !Number.isNaN(Number(v)), `le="${v}"`);
      else if (k === 'class') assert.match(v, /^([0-9A-Z]{2}|other)$/, `class="${v}"`);
      else if (BOUNDED[k]) assert.ok(BOUNDED[k].includes(v), `${k}="${v}" is not in its fixed set`);
      else assert.ok(FREE_LABELS.includes(k), `unexpected label ${k} in: ${line}`);
    }
    const key = `${name}{${Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',')}}`;
    assert.ok(!seen.has(key), `series twice: ${key}`);
    seen.add(key);
    if (families.get(family).type === 'counter') assert.ok(value >= 0, `counter below 0: ${line}`);
    samples.push({ name, family, labels, value });
  }
  assert.ok(samples.length <= MAX_SERIES, `${samples.length} samples`);

  // Histograms: per series, buckets ascending in le and cumulative, +Inf = _count.
  const groups = new Map();
  for (const s of samples) {
    if (families.get(s.family).type !== 'histogram') continue;
    const { le, ...rest } = s.labels;
    const key = `${s.family}${JSON.stringify(rest)}`;
    const g = groups.get(key) ?? { buckets: [], count: undefined, sum: undefined };
    if (s.name.endsWith('_bucket')) g.buckets.push([le === '+Inf' ? Infinity : Number(le), s.value]);
    else if (s.name.endsWith('_count')) g.count = s.value;
    else g.sum = s.value;
    groups.set(key, g);
  }
  for (const [key, g] of groups) {
    assert.ok(g.buckets.length > 0 && g.count !== undefined && g.sum !== undefined, key);
    for (let i = 1; i < g.buckets.length; i++) {
      assert.ok(g.buckets[i][0] > g.buckets[i - 1][0], `le ascending in ${key}`);
      assert.ok(g.buckets[i][1] >= g.buckets[i - 1][1], `buckets cumulative in ${key}`);
    }
    assert.equal(g.buckets.at(-1)[0], Infinity, `+Inf bucket last in ${key}`);
    assert.equal(g.buckets.at(-1)[1], g.count, `+Inf = _count in ${key}`);
    assert.ok(g.sum >= 0, key);
  }
  return { families, samples };
}

/** The value of the series name{labels} (labels exactly), 0 when absent (sparse families). */
function value(parsed, name, labels = {}) {
  const want = JSON.stringify(Object.entries(labels).sort());
  const s = parsed.samples.find((x) => x.name === name &&
    JSON.stringify(Object.entries(x.labels).sort()) === want);
  return s ? s.value : 0;
}

/** Sum of every series of name whose labels include `match`. */
function total(parsed, name, match = {}) {
  return parsed.samples
    .filter((x) => x.name === name && Object.entries(match).every(([k, v]) => x.labels[k] === v))
    .reduce((a, x) => a + x.value, 0);
}

describe('Prometheus metrics', () => {
  let srv;
  let metricsUrl;
  let metricsPort;
  let tenant;
  let app;

  before(async () => {
    tenant = await createTenant('metrics');
    metricsPort = await freePort();
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    srv = await startLatchd({
      threads: 2,
      env: {
        LATCH_METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
        LATCH_CPU_WORKERS: '3',
        LATCH_IO_WORKERS: '5',
        LATCH_DB_POOL_SIZE: '2',
      },
    });
    app = await createAppWithCtl(srv, tenant, { management: true });
  });

  after(async () => {
    if (srv) await srv.stop();
  });

  async function scrape() {
    const res = await http(metricsUrl);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('content-type'), CONTENT_TYPE);
    return parseExposition(res.text);
  }

  it('serves the text format on its own port and nothing on the public one', async () => {
    const m = await scrape();
    for (const f of ['latch_http_requests_total', 'latch_http_request_duration_seconds',
      'latch_db_connections', 'latch_db_connections_ready', 'latch_db_connections_busy',
      'latch_db_calls_waiting', 'latch_db_reconnects_total', 'latch_db_statement_errors_total',
      'latch_worker_threads', 'latch_worker_queue_capacity', 'latch_worker_queue_depth',
      'latch_worker_busy', 'latch_worker_rejected_total', 'latch_tenant_cache_lookups_total',
      'latch_invalidations_total', 'latch_invalidation_last_timestamp_seconds',
      'latch_tokens_signed_total', 'latch_signin_attempts_total', 'latch_connector_calls_total',
      'latch_connector_call_duration_seconds', 'latch_audit_log_written_total',
      'latch_audit_log_dropped_total', 'latch_build_info', 'process_start_time_seconds']) {
      assert.ok(m.families.has(f), `family ${f}`);
    }
    // The build as latchd --version names it.
    const version = spawnSync(latchdPath, ['--version'], { encoding: 'utf8' }).stdout.split(' ')[1];
    assert.equal(value(m, 'latch_build_info', { version }), 1);
    const started = value(m, 'process_start_time_seconds');
    assert.ok(started > 1.6e9 && started <= Date.now() / 1000 + 1, `start time ${started}`);

    // Gauges sampled on the owning threads: 2 loops x 2 connections, one listener, 3 CPU and 5
    // I/O workers.
    assert.equal(value(m, 'latch_db_connections', { pool: 'requests' }), 4);
    assert.equal(value(m, 'latch_db_connections', { pool: 'listener' }), 1);
    assert.equal(value(m, 'latch_worker_threads', { lane: 'cpu' }), 3);
    assert.equal(value(m, 'latch_worker_threads', { lane: 'io' }), 5);
    for (const lane of ['cpu', 'io']) {
      assert.ok(value(m, 'latch_worker_queue_capacity', { lane }) > 0);
      assert.equal(value(m, 'latch_worker_rejected_total', { lane }), 0);
    }
    const ready = await waitFor(async () => {
      const s = await scrape();
      return value(s, 'latch_db_connections_ready', { pool: 'listener' }) === 1 &&
        value(s, 'latch_db_connections_ready', { pool: 'requests' }) === 4 ? s : null;
    }, { what: 'every database connection established' });
    assert.equal(value(ready, 'latch_db_calls_waiting', { pool: 'requests' }), 0);
    // The listener's first connect flushed every tenant once.
    assert.ok(value(ready, 'latch_invalidations_total', { scope: 'all' }) >= 1);

    // Every metric the Grafana dashboard queries exists (histograms through _bucket).
    const dashboard = readFileSync(path.join(repoRoot, 'deploy', 'grafana-dashboard.json'), 'utf8');
    const queried = new Set(JSON.parse(dashboard).panels.flatMap((p) => p.targets ?? [])
      .flatMap((t) => t.expr.match(/\b(latch_[a-z_]+|process_[a-z_]+)\b/g) ?? []));
    assert.ok(queried.size >= 15, [...queried].join(' '));
    for (const name of queried) {
      const family = name.replace(/_bucket$/, '');
      assert.ok(m.families.has(family) && (family === name || m.families.get(family).type === 'histogram'),
        `the dashboard queries ${name}, which latchd does not expose`);
    }

    // /metrics on the public port is an unknown route, never the metrics.
    const pub = await http(`${srv.url}/metrics`);
    assert.equal(pub.status, 404);
    assert.doesNotMatch(pub.text, /latch_http_requests_total/);
  });

  it('moves the counters by exactly the requests made', async () => {
    const before = await scrape();
    const resource = managementIndicator(srv, tenant);

    const pub = await http(`${srv.url}/metrics`);
    assert.equal(pub.status, 404);
    const miss = await http(`${srv.url}/t/${tenant}/no-such-route`);
    assert.equal(miss.status, 404);
    const tok = await clientCredentials(srv, tenant, app, { resource, scope: 'all' });
    assert.equal(typeof tok.access_token, 'string');
    const alg = JSON.parse(Buffer.from(tok.access_token.split('.')[0], 'base64url')).alg;

    const after = await scrape();
    const delta = (name, labels) => value(after, name, labels) - value(before, name, labels);
    const deltaTotal = (name, match) => total(after, name, match) - total(before, name, match);

    assert.equal(deltaTotal('latch_http_requests_total'), 3, 'three requests in all');
    assert.equal(delta('latch_http_requests_total', { route: 'oidc_token', status: '2xx' }), 1);
    assert.equal(delta('latch_http_requests_total', { route: 'unmatched', status: '4xx' }), 2);
    assert.equal(deltaTotal('latch_http_request_duration_seconds_count'), 3);
    assert.equal(delta('latch_http_request_duration_seconds_count', { route: 'oidc_token' }), 1);
    assert.equal(delta('latch_http_request_duration_seconds_count', { route: 'unmatched' }), 2);
    assert.equal(delta('latch_http_request_duration_seconds_bucket', { route: 'oidc_token', le: '+Inf' }), 1);
    assert.ok(delta('latch_http_request_duration_seconds_sum', { route: 'oidc_token' }) > 0);

    // One JWT signed, with the tenant's algorithm.
    assert.equal(deltaTotal('latch_tokens_signed_total'), 1);
    assert.equal(delta('latch_tokens_signed_total', { alg }), 1);
    // One tenant route answered: one tenant lookup (the unmatched route never reached one).
    assert.equal(deltaTotal('latch_tenant_cache_lookups_total', { cache: 'tenant' }), 1);
    assert.ok(deltaTotal('latch_tenant_cache_lookups_total', { cache: 'state' }) >= 1);
    // Nothing here signs anyone in or calls a connector.
    assert.equal(deltaTotal('latch_signin_attempts_total'), 0);
    assert.equal(deltaTotal('latch_connector_calls_total'), 0);

    // The same token again: the tenant is cached now.
    await clientCredentials(srv, tenant, app, { resource, scope: 'all' });
    const again = await scrape();
    assert.equal(value(again, 'latch_tenant_cache_lookups_total', { cache: 'tenant', result: 'hit' }) -
      value(after, 'latch_tenant_cache_lookups_total', { cache: 'tenant', result: 'hit' }), 1);
    assert.equal(total(again, 'latch_tokens_signed_total') - total(after, 'latch_tokens_signed_total'), 1);
  });

  it('counts the invalidations this node receives', async () => {
    const before = await scrape();
    // A new application in the tenant: its trigger NOTIFYs latch_invalidate with the tenant id.
    await createAppWithCtl(srv, tenant);
    const after = await waitFor(async () => {
      const s = await scrape();
      return value(s, 'latch_invalidations_total', { scope: 'tenant' }) >
        value(before, 'latch_invalidations_total', { scope: 'tenant' }) ? s : null;
    }, { what: 'the invalidation to be counted' });
    assert.ok(value(after, 'latch_invalidation_last_timestamp_seconds') >=
      value(before, 'latch_invalidation_last_timestamp_seconds'));
  });

  it('answers only GET and HEAD /metrics, with bounded requests', async () => {
    const other = await http(`http://127.0.0.1:${metricsPort}/other`);
    assert.equal(other.status, 404);
    const post = await http(metricsUrl, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    // HEAD: the headers of the 200, no body (the listener closes after its answer).
    const head = await rawHttp(metricsPort, 'HEAD /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      { responses: 2 });
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(head, /\r\nContent-Length: [1-9][0-9]*\r\n/);
    assert.ok(head.endsWith('\r\n\r\n'), `no body after the head: ${JSON.stringify(head.slice(-80))}`);
    const query = await http(`${metricsUrl}?name[]=latch_build_info`);
    assert.equal(query.status, 200);
    const huge = await rawRequest(metricsPort,
      `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(5000)}\r\n\r\n`);
    assert.equal(huge.status, 431);
    const bad = await rawRequest(metricsPort, 'GARBAGE\r\n\r\n');
    assert.equal(bad.status, 400);
    // Still serving after all that.
    await scrape();
  });

  it('refuses LATCH_METRICS_LISTEN on the public port', async () => {
    const port = await freePort();
    const r = await runLatchdToExit({
      env: { LATCH_LISTEN: `127.0.0.1:${port}`, LATCH_METRICS_LISTEN: `127.0.0.1:${port}` },
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr + r.stdout, /LATCH_METRICS_LISTEN/);
  });
});
