// End-to-end tests behind Debian's PgBouncer in transaction mode, as most managed PostgreSQL
// offerings put in front (docs/operations.md, "PgBouncer"):
//   - two nodes with LATCH_DB_POOL_MODE=transaction through a PgBouncer with fewer server
//     connections than clients (so transactions really hop between server connections), and
//     LATCH_DATABASE_LISTEN_URL straight to PostgreSQL: password sign-ins with refresh grants,
//     steps alternating between the nodes, every answer 2xx or the OAuth error asked for;
//   - invalidation across the nodes still works: an application deleted on one node is refused
//     on the other, a key rotated on one is published by the other;
//   - a node left in session mode behind the same PgBouncer, with LISTEN through it too, says
//     so in its log (the pooling detected and switched, the deaf listener found) and answers no
//     500 while it does.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as client from 'openid-client';
import { databaseUrl, freePort, startLatchd, waitFor } from './lib/harness.mjs';
import { CookieJar, ExperienceClient, TenantCtx, expectStatus, uniq } from './lib/oidc.mjs';
import { authUrl, flowChecks, redeem, webAppConfig } from './lib/flow.mjs';

const PGBOUNCER = '/usr/sbin/pgbouncer';

/** Starts PgBouncer in transaction mode in front of the test database; resolves {url, stop}. */
async function startPgBouncer() {
  const direct = new URL(databaseUrl());
  const dbname = direct.pathname.slice(1);
  const port = await freePort();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'latch-pgbouncer-'));
  await chmod(dir, 0o777);
  const ini = path.join(dir, 'pgbouncer.ini');
  await writeFile(ini, [
    '[databases]',
    `${dbname} = host=${direct.hostname} port=${direct.port} dbname=${dbname}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    `unix_socket_dir =`,
    'auth_type = trust',
    `auth_file = ${path.join(dir, 'users.txt')}`,
    'pool_mode = transaction',
    // Fewer server connections than the nodes' client connections: transactions of one client
    // connection land on different server connections.
    'default_pool_size = 3',
    'max_client_conn = 200',
    // Every server connection forgets its session state between transactions, as it does when
    // transactions hop between server connections: a named prepared statement never survives
    // to the next transaction, so a node in session mode meets the pooler's confusion on its
    // first reuse, whatever the load (the transaction-mode nodes send nothing named).
    'server_reset_query = DISCARD ALL',
    'server_reset_query_always = 1',
    `logfile = ${path.join(dir, 'pgbouncer.log')}`,
    '',
  ].join('\n'));
  await writeFile(path.join(dir, 'users.txt'), `"${decodeURIComponent(direct.username)}" ""\n`);
  await chmod(ini, 0o644);
  // PgBouncer refuses to run as root.
  const asRoot = process.getuid?.() === 0;
  const proc = spawn(asRoot ? 'runuser' : PGBOUNCER,
    asRoot ? ['-u', 'postgres', '--', PGBOUNCER, ini] : [ini],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  const pooled = new URL(direct);
  pooled.port = String(port);
  const url = pooled.toString();
  await waitFor(async () => {
    const pg = (await import('pg')).default;
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await c.end().catch(() => {});
    }
  }, { timeoutMs: 15000, what: `PgBouncer on ${port} (${out})` });
  return {
    url,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The same client configuration with its token endpoint on another node. */
function tokenEndpointOn(config, node, app) {
  const meta = { ...config.serverMetadata() };
  meta.token_endpoint = node.url + new URL(meta.token_endpoint).pathname;
  const c = new client.Configuration(meta, app.id,
    { client_secret: app.secret, id_token_signed_response_alg: 'ES384' }, client.ClientSecretBasic(app.secret));
  client.allowInsecureRequests(c);
  return c;
}

/** A password sign-in through the Experience API on ctx's node; resolves the token set. */
async function passwordSignIn(ctx, config, app, user) {
  const checks = await flowChecks();
  const xp = new ExperienceClient(ctx, new CookieJar());
  const landed = await xp.signIn(authUrl(config, app, checks), user.username, user.password);
  return redeem(config, landed, checks);
}

describe('PgBouncer in transaction mode', () => {
  let bouncer;
  const nodes = [];

  before(async () => {
    bouncer = await startPgBouncer();
  });

  after(async () => {
    for (const n of nodes) await n.stop('SIGKILL');
    if (bouncer) await bouncer.stop();
  });

  it('serves sign-ins, refresh grants and invalidations on two nodes through it', async () => {
    const env = {
      LATCH_DATABASE_URL: bouncer.url,
      LATCH_DATABASE_LISTEN_URL: databaseUrl(),
      LATCH_DB_POOL_MODE: 'transaction',
      LATCH_DB_POOL_SIZE: '4',
    };
    const a = await startLatchd({ env });
    nodes.push(a);
    const b = await startLatchd({ env: { ...env, LATCH_PUBLIC_URL: a.publicUrl } });
    nodes.push(b);
    const ctxA = await TenantCtx.create(a, 'bouncer');
    const ctxB = ctxA.on(b);
    const app = await ctxA.createWebApp('http://localhost:3000');
    const configA = await webAppConfig(ctxA, app);
    const configB = tokenEndpointOn(configA, b, app);
    const users = [];
    for (let i = 0; i < 3; i++) users.push(await ctxA.createUser());

    // Sign in, then refresh on the other node, on this one, and on the other again: every
    // rotation reads and writes through PgBouncer.
    for (const [i, user] of users.entries()) {
      const [config, other] = i % 2 ? [configB, configA] : [configA, configB];
      let tokens = await passwordSignIn(ctxA, configA, app, user);
      assert.equal(typeof tokens.refresh_token, 'string', 'offline_access gives a refresh token');
      for (const cfg of [other, config, other]) {
        tokens = await client.refreshTokenGrant(cfg, tokens.refresh_token);
        assert.equal(typeof tokens.access_token, 'string');
      }
    }

    // A concurrent burst on both nodes: transactions interleave on PgBouncer's 3 server
    // connections. Every answer must be the one asked for.
    const m2m = await ctxA.createApp({ name: uniq('m2m') });
    const statuses = {};
    await Promise.all(Array.from({ length: 60 }, async (_, i) => {
      const ctx = i % 2 ? ctxB : ctxA;
      const res = await ctx.tokenRequest({
        client: { id: m2m.id, secret: m2m.secret },
        params: { grant_type: 'client_credentials', resource: ctx.apiIndicator },
      });
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    }));
    assert.deepEqual(statuses, { 200: 60 }, 'every grant succeeds');

    // Invalidation: NOTIFY reaches the other node over its direct LISTEN connection.
    const api = await ctxA.api();
    const victim = await ctxA.createApp({ name: uniq('victim') });
    const cc = (ctx) => ctx.tokenRequest({
      client: { id: victim.id, secret: victim.secret },
      params: { grant_type: 'client_credentials', resource: ctx.apiIndicator },
    });
    assert.equal((await cc(ctxB)).status, 200, 'B knows the application');
    expectStatus(await api.del(`/applications/${victim.id}`), 204, 'delete on A');
    await waitFor(async () => (await cc(ctxB)).status === 401,
      { timeoutMs: 5000, what: 'the deleted application refused on B' });

    const before = (await ctxB.jwks()).keys.map((k) => k.kid).sort();
    expectStatus(await api.post('/configs/oidc/private-keys/rotate', {}), 200, 'rotate on A');
    await waitFor(async () => {
      const kids = (await ctxB.jwks()).keys.map((k) => k.kid).sort();
      return JSON.stringify(kids) !== JSON.stringify(before);
    }, { timeoutMs: 5000, what: 'the rotated key published by B' });

    for (const n of [a, b]) {
      const text = n.stderrText();
      assert.doesNotMatch(text, /prepared statement .* (does not exist|already exists)/);
      assert.doesNotMatch(text, /did not hear its own NOTIFY/);
    }
  });

  it('a node left in session mode detects the pooler, says what to configure, and answers no 500', async () => {
    const n = await startLatchd({
      env: { LATCH_DATABASE_URL: bouncer.url, LATCH_DATABASE_LISTEN_URL: bouncer.url, LATCH_DB_POOL_SIZE: '4' },
    });
    nodes.push(n);
    const ctx = await TenantCtx.create(n, 'bouncer2');
    const statuses = {};
    // Token grants of a known client may be answered from the node's caches; Management API
    // reads always reach the database, so statements prepared on one server connection are
    // executed on another and the pooler's confusion is certain to be met.
    // The first statements may already meet the confusion (503, nothing ran): retry.
    let api = null;
    for (let attempt = 0; api === null && attempt < 20; attempt++) {
      api = await ctx.api({ refresh: true }).catch(() => null);
    }
    assert.ok(api, 'a Management API token within 20 attempts');
    for (let round = 0; round < 4; round++) {
      await Promise.all(Array.from({ length: 20 }, async (_, i) => {
        const res = i % 2 === 0
          ? await ctx.tokenRequest({
            client: ctx.admin,
            params: { grant_type: 'client_credentials', resource: ctx.apiIndicator, scope: 'all' },
          })
          : await api.get('/applications');
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      }));
    }
    // The calls in flight when the pooler's confusion is first met answer 503 (nothing ran;
    // a retry succeeds); none answers 500.
    assert.equal(statuses[500], undefined, `no 500: ${JSON.stringify(statuses)}`);
    await waitFor(() => /pooled per transaction.*LATCH_DB_POOL_MODE=transaction/.test(n.stderrText()),
      { timeoutMs: 10000, what: 'the pooling detected and logged' });
    // From then on the node works as in transaction mode: every grant succeeds.
    const after = {};
    await Promise.all(Array.from({ length: 20 }, async () => {
      const res = await ctx.tokenRequest({
        client: ctx.admin,
        params: { grant_type: 'client_credentials', resource: ctx.apiIndicator, scope: 'all' },
      });
      after[res.status] = (after[res.status] ?? 0) + 1;
    }));
    assert.deepEqual(after, { 200: 20 }, `after the switch: ${JSON.stringify(after)}`);
    await waitFor(() => /did not hear its own NOTIFY.*LATCH_DATABASE_LISTEN_URL/.test(n.stderrText()),
      { timeoutMs: 10000, what: 'the deaf listener logged' });
  });
});
