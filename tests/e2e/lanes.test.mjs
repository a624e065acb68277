// End-to-end test of the worker lanes (issue 10, item 6): a connector upstream that hangs must not
// slow password sign-ins, nor another tenant's connector calls.
//
// latchd runs with a small I/O lane (LATCH_IO_WORKERS=3, of which one tenant may hold 2, with 8 of
// its jobs waiting behind them) and a CPU lane of 2. The fake Hugging Face (lib/fake-hf.mjs)
// accepts the token request of a sign-in callback and never answers it, so each callback holds an
// I/O worker until the connector's own 10 s timeout. Tenant A's callbacks take both of its I/O
// workers and fill its queue; one more is refused at once (503, Retry-After). Meanwhile:
//   - password sign-ins of tenant A through the Experience API (Argon2 on the CPU lane) all
//     succeed, every one of them before any hanging callback has ended;
//   - tenant B's connector call (authorization-uri, on the I/O lane's third worker) succeeds
//     before them too.
// Assertions are on counts and on the order of completions, never on durations. Before the lanes
// there was one pool of LATCH_WORKERS (set to 3 here, as it was then): the hanging callbacks took
// every worker and every sign-in waited for the upstream's timeout.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { buildDir, startLatchd, waitFor } from './lib/harness.mjs';
import { startFakeHf } from './lib/fake-hf.mjs';
import { CookieJar, ExperienceClient, TenantCtx, expectStatus, jarFetch } from './lib/oidc.mjs';
import { authUrl, flowChecks, redeem, webAppConfig } from './lib/flow.mjs';

const connectorDir = process.env.LATCH_TEST_CONNECTOR_DIR || path.join(buildDir, 'connectors');
const ORIGIN = 'http://127.0.0.1:9'; // redirect URIs are never followed here

const IO_WORKERS = 3;
const IO_TENANT_WORKERS = 2;
const IO_TENANT_WAITING = 4 * IO_TENANT_WORKERS; // http/lanes.c: IO_TENANT_QUEUE_PER_WORKER
const REFUSED = 3; // callbacks beyond the tenant's running and waiting jobs
const PASSWORD_SIGN_INS = 10;

/** A tenant with a web app and the Hugging Face connector enabled on its sign-in page. */
async function setUpTenant(srv, fake, prefix) {
  const ctx = await TenantCtx.create(srv, prefix);
  const api = await ctx.api();
  const app = await ctx.createWebApp(ORIGIN);
  const config = await webAppConfig(ctx, app);
  const connector = expectStatus(await api.post('/connectors', {
    connectorId: 'huggingface-universal',
    config: { clientId: fake.clientId, clientSecret: fake.clientSecret, scope: 'openid profile' },
  }), 200, 'create the Hugging Face connector');
  await ctx.patchSignInExp({ socialSignInConnectorTargets: ['huggingface'] });
  return { ctx, app, config, connector };
}

/** An interaction of t with a social verification started: resolves {xp, callbackUrl}. */
async function socialInteraction(t) {
  const xp = new ExperienceClient(t.ctx, new CookieJar());
  await xp.start(authUrl(t.config, t.app, await flowChecks()));
  const r = await xp.call('POST', `/verification/social/${t.connector.id}/authorization-uri`,
    { state: 'page-state', redirectUri: `${t.ctx.base}/callback/${t.connector.id}` });
  assert.equal(r.status, 200, `authorization-uri: ${r.text}`);
  const upstream = new URL(r.json().authorizationUri);
  assert.equal(upstream.origin, 'https://huggingface.co');
  const back = new URL(upstream.searchParams.get('redirect_uri'));
  back.searchParams.set('code', 'any-code');
  back.searchParams.set('state', upstream.searchParams.get('state'));
  return { xp, callbackUrl: back.href };
}

describe('worker lanes: a hanging connector upstream', () => {
  let fake;
  let srv;
  let a;
  let b;
  before(async () => {
    fake = await startFakeHf();
    srv = await startLatchd({
      env: {
        LATCH_CONNECTOR_DIR: connectorDir,
        LATCH_OUTBOUND_CA_FILE: fake.caFile,
        LATCH_OUTBOUND_CONNECT_TO: fake.connectTo,
        LATCH_WORKERS: String(IO_WORKERS), // the one pool before the lanes; LATCH_CPU_WORKERS wins
        LATCH_CPU_WORKERS: '2',
        LATCH_IO_WORKERS: String(IO_WORKERS),
        LATCH_IO_TENANT_WORKERS: String(IO_TENANT_WORKERS),
      },
    });
    a = await setUpTenant(srv, fake, 'lanesa');
    b = await setUpTenant(srv, fake, 'lanesb');
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
    await fake?.stop();
  });

  it('password sign-ins and another tenant keep working while callbacks wait on the upstream', async () => {
    const users = [];
    for (let i = 0; i < 2; i++) users.push(await a.ctx.createUser());
    const started = srv.logs.length;
    // Every interaction first: tenant A's authorization-uri calls are I/O jobs too.
    const hanging = [];
    for (let i = 0; i < IO_TENANT_WORKERS + IO_TENANT_WAITING + REFUSED; i++) {
      hanging.push(await socialInteraction(a));
    }
    const tokenRequests = () => fake.requests.filter((r) => r.path === '/oauth/token').length;
    assert.equal(tokenRequests(), 0);

    const order = []; // completions, in the order they happened
    fake.failures = { tokenHang: true };
    const callback = ({ xp, callbackUrl }) => jarFetch(xp.jar, callbackUrl, { timeoutMs: 60000 })
      .then((res) => {
        order.push(res.status === 503 ? 'refused' : 'callback');
        return res;
      });
    // Two callbacks hold tenant A's two I/O workers at the upstream...
    const running = hanging.slice(0, IO_TENANT_WORKERS).map(callback);
    await waitFor(() => tokenRequests() === IO_TENANT_WORKERS, { what: 'the token requests to hang' });
    // ... the next ones wait behind them, and those beyond A's queue are refused at once.
    const queued = hanging.slice(IO_TENANT_WORKERS).map(callback);
    await waitFor(() => order.filter((o) => o === 'refused').length === REFUSED,
      { what: `${REFUSED} callbacks refused` });

    // Tenant B's connector call runs on the lane's third worker.
    const other = await socialInteraction(b);
    assert.match(other.callbackUrl, /state=/);
    order.push('other tenant');

    // Password sign-ins of tenant A, two at a time, on the CPU lane.
    let signedIn = 0;
    const chain = async (user) => {
      for (let i = 0; i < PASSWORD_SIGN_INS / 2; i++) {
        const checks = await flowChecks();
        const xp = new ExperienceClient(a.ctx, new CookieJar());
        const landed = await xp.signIn(authUrl(a.config, a.app, checks), user.username, user.password);
        const tokens = await redeem(a.config, landed, checks);
        assert.equal(typeof tokens.access_token, 'string');
        signedIn++;
        order.push('password');
      }
    };
    await Promise.all(users.map(chain));
    assert.equal(signedIn, PASSWORD_SIGN_INS, 'every password sign-in succeeded');
    assert.equal(order.filter((o) => o === 'callback').length, 0,
      `no callback has ended yet (completions: ${order.join(', ')})`);
    assert.equal(tokenRequests(), IO_TENANT_WORKERS, 'the waiting callbacks have not reached the upstream');

    // The upstream answers again (the two held requests stay held): the waiting callbacks run
    // once the hanging ones time out, and fail on the made-up code.
    fake.failures = {};
    const timedOut = await Promise.all(running);
    for (const r of timedOut) assert.match(r.text, /did not answer in time/i);
    const settled = await Promise.all(queued);
    const refused = settled.filter((r) => r.status === 503);
    assert.equal(refused.length, REFUSED);
    for (const r of refused) {
      assert.equal(r.headers.get('retry-after'), '1');
      assert.match(r.headers.get('content-type') || '', /^text\/html/);
    }
    const waited = settled.filter((r) => r.status !== 503);
    assert.equal(waited.length, IO_TENANT_WAITING);
    for (const r of waited) assert.match(r.text, /refused the sign-in code/i, 'ran after the hang');
    assert.equal(tokenRequests(), IO_TENANT_WORKERS + IO_TENANT_WAITING);

    // The order, in full: every sign-in and tenant B before the first callback ended.
    const firstCallback = order.indexOf('callback');
    assert.ok(firstCallback > order.lastIndexOf('password'), order.join(', '));
    assert.ok(firstCallback > order.indexOf('other tenant'), order.join(', '));
    const refusals = srv.logs.slice(started).filter((l) => typeof l === 'object' &&
      /io worker lane refused a job/.test(l.msg ?? '') && /^lanesa/.test(l.tenant ?? '') &&
      /^[0-9a-f]{32}$/.test(l.requestId ?? ''));
    assert.ok(refusals.length >= 1, 'the refusal is logged');
  });
});
