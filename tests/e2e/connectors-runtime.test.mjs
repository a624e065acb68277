// End-to-end tests of connectors loaded at run time (issue 5, item 7): what an operator does with
// `latchctl connectors load|unload` while latchd keeps serving, seen from the sign-in page, the
// Management API and the users created.
//
//   a. upgrade while a sign-in is under way: the flow begun on mock 1.0.0 finishes on 1.0.0, the
//      next one runs on 2.0.0 ("Continue with Mock v2");
//   b. unload: the button goes, and the callback of a flow begun before ends on a clear error
//      page without creating anyone;
//   c. two latchd nodes on one PostgreSQL, each with its own connector directory: a load is
//      followed by both within 2 s (NOTIFY latch_connectors);
//   d. the Hugging Face connector, when its userinfo answers malformed JSON: a clear error page,
//      no user.
//
// Every test has its own connector directory (mkdtemp, mode 0755: the loader refuses a directory
// or file anyone may write to) into which the connector files are copied under a temporary name
// and renamed into place, as an operator installs them; and its own latchd started on it with
// LATCH_CONNECTOR_DIR.
//
// The mock connector (connectors/mock, factory `mock-social`, target `mock`) needs an "upstream":
// a tiny HTTP server here whose GET /authorize sends the browser back to the redirect URI with
// the state and the person's id, name and email. It can hold that answer until the test releases
// it, so a sign-in stays "at the upstream" while the operator acts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import nodeHttp from 'node:http';
import os from 'node:os';
import path from 'node:path';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';
import {
  adminQuery,
  buildDir,
  ctlEnv,
  latchctlOk,
  randomId,
  startLatchd,
  waitFor,
} from './lib/harness.mjs';
import {
  CHROMIUM_ARGS,
  CHROMIUM_PATH,
  launchBrowser,
  newPage,
  startCallbackServer,
  waitForUrlPrefix,
} from './lib/browser.mjs';
import { startFakeHf } from './lib/fake-hf.mjs';
import {
  CookieJar,
  ExperienceClient,
  REFERENCE_SCOPE,
  TenantCtx,
  expectStatus,
  uniq,
} from './lib/oidc.mjs';
import { authUrl, flowChecks, redeem, webAppConfig } from './lib/flow.mjs';

// The build's connectors: huggingface.so in <build>/connectors; the mock in
// <build>/connectors/mock (mock_v1.so = 1.0.0 "Mock", mock_v2.so = 2.0.0 "Mock v2").
const buildConnectors = path.join(buildDir, 'connectors');
const MOCK_V1 = path.join(buildConnectors, 'mock', 'mock_v1.so');
const MOCK_V2 = path.join(buildConnectors, 'mock', 'mock_v2.so');
const HF_SO = path.join(buildConnectors, 'huggingface.so');

const MOCK_ID = 'mock-social';
const HF_ID = 'huggingface-universal';

// ---- connector directories ------------------------------------------------------------------

const madeDirs = new Set();

/** A fresh connector directory (mode 0755, not world-writable). */
async function makeConnectorDir() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'latch-connectors-'));
  await chmod(dir, 0o755);
  madeDirs.add(dir);
  return dir;
}

/**
 * Installs src into dir as name the way an operator should: copy to a temporary name (not *.so,
 * so no scan picks it up half-written), then rename into place. Mode 0755.
 */
async function installConnector(dir, src, name) {
  assert.ok(existsSync(src), `the build has ${src}`);
  const tmp = path.join(dir, `.${name}.${randomId(6)}.tmp`);
  await copyFile(src, tmp);
  await chmod(tmp, 0o755);
  await rename(tmp, path.join(dir, name));
  const st = await stat(path.join(dir, name));
  assert.equal(st.mode & 0o002, 0, `${name} is not world-writable`);
}

/** A connector directory holding the given files ({name: source}). */
async function connectorDirWith(files) {
  const dir = await makeConnectorDir();
  for (const [name, src] of Object.entries(files)) await installConnector(dir, src, name);
  return dir;
}

after(async () => {
  for (const dir of madeDirs) await rm(dir, { recursive: true, force: true });
});

// ---- the mock connector's upstream -------------------------------------------------------------

/**
 * GET /authorize?state&redirect_uri answers 302 to redirect_uri?state&id&name&email for the
 * person set when the request arrived. While `hold` is true the answer waits in `held` until
 * release(h) (or up.releaseAll()).
 */
async function startMockUpstream() {
  const up = { person: null, hold: false, held: [], hits: [] };
  const srv = nodeHttp.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    up.hits.push(u.href);
    if (u.pathname !== '/authorize' || !up.person) {
      res.writeHead(404).end();
      return;
    }
    const person = up.person;
    const respond = () => {
      if (res.writableEnded || res.destroyed) return;
      const back = new URL(u.searchParams.get('redirect_uri'));
      back.searchParams.set('state', u.searchParams.get('state'));
      back.searchParams.set('id', person.id);
      back.searchParams.set('name', person.name);
      back.searchParams.set('email', person.email);
      res.writeHead(302, { location: back.href, 'cache-control': 'no-store' }).end();
    };
    if (up.hold) up.held.push({ url: u, person, respond });
    else respond();
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  srv.unref();
  up.origin = `http://127.0.0.1:${srv.address().port}`;
  /** Resolves the oldest held request (waits for one). */
  up.nextHeld = () => waitFor(() => up.held.shift(),
    { timeoutMs: 20000, intervalMs: 50, what: 'the sign-in to reach the mock upstream' });
  up.close = () => new Promise((resolve) => {
    for (const h of up.held.splice(0)) h.respond();
    srv.closeAllConnections?.();
    srv.close(() => resolve());
  });
  return up;
}

// ---- OIDC client, pages, users -----------------------------------------------------------------

/**
 * Opens the sign-in page of url, checks the button's text, clicks it. held: the upstream holds
 * its answer, so the click must not wait for the navigation it starts.
 */
async function clickSocial(page, url, { buttonId, expectText, held = false }) {
  await page.goto(url);
  const button = page.locator(`button#${buttonId}`);
  await button.waitFor({ state: 'visible' });
  if (expectText !== undefined) assert.equal((await button.innerText()).trim(), expectText, 'button text');
  await button.click(held ? { noWaitAfter: true } : {});
}

/** Waits for latchd's error page after the callback; resolves {text, status}. */
async function callbackErrorPage(page, callbackResponse, what) {
  await page.waitForURL((u) => u.pathname.includes('/callback/'), { waitUntil: 'commit' });
  const el = page.locator('p#error');
  await el.waitFor({ state: 'attached', timeout: 20000 }).catch((err) => {
    throw new Error(`${what}: no error page at ${page.url()}`, { cause: err });
  });
  const res = await callbackResponse;
  return { text: (await el.innerText()).trim(), status: res.status() };
}

/** A promise of the browser's response from <tenant endpoint>/callback/<connectorId>. */
function callbackResponseOf(page, ctx, connectorId) {
  const p = page.waitForResponse((r) => r.url().startsWith(`${ctx.endpoint}/callback/${connectorId}?`),
    { timeout: 30000 });
  p.catch(() => {}); // awaited later; a failure before that must not be an unhandled rejection
  return p;
}

async function userCount(tenant) {
  const r = await adminQuery('SELECT count(*)::int AS n FROM users WHERE tenant_id = $1', [tenant]);
  return r.rows[0].n;
}

/** Users of the tenant whose identities hold target with userId (superuser: no RLS). */
async function usersWithIdentity(tenant, target, userId) {
  const r = await adminQuery(
    "SELECT id, name, identities FROM users WHERE tenant_id = $1 AND identities->$2->>'userId' = $3",
    [tenant, target, userId]);
  return r.rows;
}

const person = (tag) => ({
  id: `mock-${uniq(tag)}`,
  name: `${tag} ${randomId(4)}`,
  email: `${tag}.${randomId(8)}@example.com`,
});

/** The factories of GET /api/connector-factories, by id. */
async function factories(api) {
  const list = expectStatus(await api.get('/connector-factories'), 200, 'GET /api/connector-factories');
  assert.ok(Array.isArray(list), 'an array of factories');
  return new Map(list.map((f) => [f.id, f]));
}

/**
 * A tenant on srv with a web application (redirect URI on the callback server cb) and the mock
 * connector (upstream up) enabled in its sign-in experience, social-only sign-up.
 */
async function mockTenant(srv, cb, up, prefix) {
  const ctx = await TenantCtx.create(srv, prefix);
  const api = await ctx.api();
  const app = await ctx.createWebApp(cb.origin, { name: 'Bookstore' });
  const config = await webAppConfig(ctx, app);
  const connector = expectStatus(await api.post('/connectors', {
    connectorId: MOCK_ID,
    config: { authorizationEndpoint: `${up.origin}/authorize` },
  }), 200, 'create the mock connector');
  assert.equal(connector.connectorId, MOCK_ID);
  assert.equal(connector.target, 'mock');
  const sie = await ctx.patchSignInExp({
    socialSignInConnectorTargets: ['mock'],
    signUp: { identifiers: [], password: false, verify: false },
  });
  assert.deepEqual(sie.socialSignInConnectorTargets, ['mock']);
  return { ctx, api, app, config, connector };
}

/** The log lines of server whose msg matches re. */
const logged = (srv, re) => srv.logs.filter((l) => l && typeof l === 'object' && re.test(l.msg ?? ''));

// ---- a, b, c: the mock connector ---------------------------------------------------------------

describe('connectors loaded, upgraded and unloaded at run time', () => {
  let browser;
  let cb;
  let up;
  before(async () => {
    browser = await launchBrowser();
    cb = await startCallbackServer();
    up = await startMockUpstream();
  });
  after(async () => {
    await browser?.close();
    await cb?.close();
    await up?.close();
  });

  it('upgrade while a sign-in is under way: it finishes on 1.0.0, the next runs on 2.0.0', async () => {
    const dir = await connectorDirWith({ 'mock.so': MOCK_V1 });
    const srv = await startLatchd({ env: { LATCH_CONNECTOR_DIR: dir } });
    try {
      const { ctx, api, app, config, connector } = await mockTenant(srv, cb, up, 'upgrade');
      let v2;
      const v1 = (await factories(api)).get(MOCK_ID);
      assert.ok(v1, 'mock-social is loaded from the directory');
      assert.equal(v1.name.en, 'Mock', 'version 1 is "Mock"');

      // 1. A sign-in on v1 gets as far as the upstream and waits there.
      const first = person('first');
      up.person = first;
      up.hold = true;
      const checks1 = await flowChecks();
      const pc1 = await newPage(browser);
      let held;
      try {
        await clickSocial(pc1.page, authUrl(config, app, checks1),
          { buttonId: 'social-mock', expectText: 'Continue with Mock', held: true });
        held = await up.nextHeld();
        up.hold = false;
        assert.equal(held.url.searchParams.get('redirect_uri'), `${ctx.endpoint}/callback/${connector.id}`,
          'the redirect URI is <tenant endpoint>/callback/<connector id>');

        // 2. The operator installs v2 under a new name and loads it.
        await installConnector(dir, MOCK_V2, 'mock-v2.so');
        const out = await latchctlOk(['connectors', 'load', 'mock-v2.so'],
          { ...ctlEnv(srv), LATCH_CONNECTOR_DIR: dir });
        assert.match(out, /mock-v2\.so: mock-social 2\.0\.0 \(ABI 1\.\d+, sha256 [0-9a-f]{64}\)/,
          'latchctl checked the file on this host');
        assert.match(out, /sent 'load mock-v2\.so'/);

        // 3. The node follows: the factory is 2.0.0 ("Mock v2") now. (Its version is checked
        // at the end, so that the flows below run whatever the factory JSON says.)
        v2 = await waitFor(async () => {
          const f = (await factories(api)).get(MOCK_ID);
          return f?.version === '2.0.0' || f?.name?.en === 'Mock v2' ? f : null;
        }, { timeoutMs: 5000, intervalMs: 100, what: 'GET /api/connector-factories to show mock-social 2.0.0' });
        assert.equal(v2.name.en, 'Mock v2');
        assert.equal(logged(srv,
          /^connector upgraded: id=mock-social version=2\.0\.0 .*replacing version=1\.0\.0/).length, 1,
          'latchd logged the upgrade');

        // 4. The first sign-in is released: it finishes, on the version it started with.
        const before1 = await userCount(ctx.id);
        held.respond();
        held = null;
        const landed = await waitForUrlPrefix(pc1.page, app.redirectUri);
        const tokens = await redeem(config, landed, checks1);
        const sub = tokens.claims().sub;
        assert.equal(tokens.claims().name, first.name);
        assert.equal(await userCount(ctx.id), before1 + 1, 'one user created');
        const user = expectStatus(await api.get(`/users/${sub}`), 200, 'GET the first user');
        assert.equal(user.identities.mock.userId, first.id);
        assert.equal(user.identities.mock.details.rawData.connectorVersion, '1.0.0',
          'the flow begun on 1.0.0 finished on 1.0.0');
      } finally {
        held?.respond();
        up.hold = false;
        await pc1.close();
      }

      // 5. A new sign-in runs on v2.
      const second = person('second');
      up.person = second;
      const checks2 = await flowChecks();
      const pc2 = await newPage(browser);
      let sub2;
      try {
        await clickSocial(pc2.page, authUrl(config, app, checks2),
          { buttonId: 'social-mock', expectText: 'Continue with Mock v2' });
        const landed = await waitForUrlPrefix(pc2.page, app.redirectUri);
        sub2 = (await redeem(config, landed, checks2)).claims().sub;
      } finally {
        await pc2.close();
      }
      const user2 = expectStatus(await api.get(`/users/${sub2}`), 200, 'GET the second user');
      assert.equal(user2.identities.mock.userId, second.id);
      assert.equal(user2.identities.mock.details.rawData.connectorVersion, '2.0.0',
        'a sign-in begun after the upgrade runs on 2.0.0');
      const rows = await usersWithIdentity(ctx.id, 'mock', second.id);
      assert.equal(rows.length, 1);
      assert.equal(rows[0].identities.mock.details.rawData.connectorVersion, '2.0.0');

      // The factory JSON names the version loaded: 1.0.0 before the upgrade, 2.0.0 after.
      const brief = (f) => JSON.stringify(f).slice(0, 200);
      assert.equal(v1.version, '1.0.0', `version of mock-social before the upgrade in ${brief(v1)}`);
      assert.equal(v2.version, '2.0.0', `version of mock-social after the upgrade in ${brief(v2)}`);
    } finally {
      assert.equal((await srv.stop()).code, 0, 'latchd exits cleanly');
    }
  });

  it('unload: the button goes; a callback of a flow begun before ends on an error page, no user', async () => {
    const dir = await connectorDirWith({ 'mock.so': MOCK_V1 });
    const srv = await startLatchd({ env: { LATCH_CONNECTOR_DIR: dir } });
    try {
      const { ctx, api, app, config, connector } = await mockTenant(srv, cb, up, 'unload');
      assert.ok((await factories(api)).has(MOCK_ID), 'mock-social is loaded');

      // The Experience API of a fresh interaction lists the mock connector before the unload.
      const xp = new ExperienceClient(ctx, new CookieJar());
      await xp.start(authUrl(config, app, await flowChecks()));
      const socialTargets = async () => {
        const body = await xp.loadInteraction();
        assert.ok(Array.isArray(body.socialConnectors), `socialConnectors in ${JSON.stringify(body)}`);
        return body.socialConnectors.map((c) => c.target);
      };
      assert.deepEqual(await socialTargets(), ['mock'], 'one social connector before the unload');

      // A sign-in gets as far as the upstream and waits there.
      const late = person('late');
      up.person = late;
      up.hold = true;
      const checks = await flowChecks();
      const pc = await newPage(browser);
      let held;
      const before0 = await userCount(ctx.id);
      try {
        await clickSocial(pc.page, authUrl(config, app, checks),
          { buttonId: 'social-mock', expectText: 'Continue with Mock', held: true });
        held = await up.nextHeld();
        up.hold = false;

        // The operator unloads the factory.
        const out = await latchctlOk(['connectors', 'unload', MOCK_ID], ctlEnv(srv));
        assert.match(out, /sent 'unload mock-social'/);
        await waitFor(async () => (await socialTargets()).length === 0,
          { timeoutMs: 5000, intervalMs: 100, what: 'socialConnectors to be empty after the unload' });
        assert.equal((await factories(api)).has(MOCK_ID), false, 'the factory is gone from the API');
        assert.equal(logged(srv, /^connector unloaded: id=mock-social /).length, 1, 'latchd logged the unload');

        // The sign-in page shows no mock button any more.
        const pc2 = await newPage(browser);
        try {
          await pc2.page.goto(authUrl(config, app, await flowChecks()));
          await pc2.page.locator('input#identifier').waitFor({ state: 'visible' });
          await pc2.page.waitForFunction(() => !document.body.classList.contains('loading'));
          assert.equal(await pc2.page.locator('button#social-mock').count(), 0, 'no mock button');
        } finally {
          await pc2.close();
        }

        // The flow begun before the unload comes back: a clear error page.
        const response = callbackResponseOf(pc.page, ctx, connector.id);
        held.respond();
        held = null;
        const { text, status } = await callbackErrorPage(pc.page, response, 'callback after the unload');
        assert.match(text, /no longer available/i);
        assert.equal(status, 410, 'the callback answers 410 Gone');
        assert.equal(cb.hits.filter((h) => h.url.includes(checks.state)).length, 0, 'the app got nothing');
      } finally {
        held?.respond();
        up.hold = false;
        await pc.close();
      }
      assert.equal(await userCount(ctx.id), before0, 'no user created');
      assert.equal((await usersWithIdentity(ctx.id, 'mock', late.id)).length, 0);
    } finally {
      assert.equal((await srv.stop()).code, 0, 'latchd exits cleanly');
    }
  });

  it('two nodes on one PostgreSQL: a load is followed by both within 2 s', async () => {
    const dirA = await connectorDirWith({ 'mock.so': MOCK_V1 });
    const dirB = await connectorDirWith({ 'mock.so': MOCK_V1 });
    const nodeA = await startLatchd({ env: { LATCH_CONNECTOR_DIR: dirA } });
    let nodeB;
    try {
      // Behind one public URL, sharing the key-encryption key.
      nodeB = await startLatchd({
        env: {
          LATCH_CONNECTOR_DIR: dirB,
          LATCH_SECRET_KEY: nodeA.env.LATCH_SECRET_KEY,
          LATCH_PUBLIC_URL: nodeA.env.LATCH_PUBLIC_URL,
        },
      });
      const ctxA = await TenantCtx.create(nodeA, 'twonode');
      const ctxB = ctxA.on(nodeB);
      const apiA = await ctxA.api();
      const apiB = await ctxB.api();
      for (const [node, api] of [['A', apiA], ['B', apiB]]) {
        const f = await factories(api);
        assert.equal(f.get(MOCK_ID)?.name.en, 'Mock', `node ${node} has mock 1.0.0`);
        assert.equal(f.has(HF_ID), false, `node ${node} has no Hugging Face connector yet`);
      }

      /** Loads file (already in both directories) and times until both nodes pass check. */
      const loadOnBoth = async (file, check, what) => {
        const out = await latchctlOk(['connectors', 'load', file], ctlEnv(nodeA));
        assert.match(out, new RegExp(`sent 'load ${file.replace('.', '\\.')}'`));
        const t0 = Date.now();
        const seen = {};
        await Promise.all([['A', apiA], ['B', apiB]].map(([node, api]) => waitFor(async () => {
          if (!check(await factories(api))) return false;
          seen[node] = Date.now() - t0;
          return true;
        }, { timeoutMs: 2000, intervalMs: 50, what: `node ${node} to show ${what} within 2 s` })));
        for (const node of ['A', 'B']) assert.ok(seen[node] <= 2000, `node ${node} saw ${what} after ${seen[node]} ms`);
        return seen;
      };

      // A new factory: huggingface.so, copied into both directories, then loaded.
      await installConnector(dirA, HF_SO, 'huggingface.so');
      await installConnector(dirB, HF_SO, 'huggingface.so');
      await loadOnBoth('huggingface.so', (f) => f.get(HF_ID)?.target === 'huggingface', HF_ID);
      for (const [node, api] of [['A', apiA], ['B', apiB]]) {
        const f = await factories(api);
        assert.equal(f.get(HF_ID).name.en, 'Hugging Face', `node ${node}: the Hugging Face factory`);
        assert.equal(f.get(MOCK_ID)?.name.en, 'Mock', `node ${node} still has mock 1.0.0`);
      }

      // An upgrade: mock_v2.so as mock-v2.so in both directories.
      await installConnector(dirA, MOCK_V2, 'mock-v2.so');
      await installConnector(dirB, MOCK_V2, 'mock-v2.so');
      await loadOnBoth('mock-v2.so', (f) => f.get(MOCK_ID)?.name.en === 'Mock v2', 'mock-social 2.0.0 ("Mock v2")');
      for (const [node, srv] of [['A', nodeA], ['B', nodeB]]) {
        assert.equal(logged(srv, /^connector loaded: id=huggingface-universal /).length, 1,
          `node ${node} logged the load`);
        assert.equal(logged(srv, /^connector upgraded: id=mock-social version=2\.0\.0 /).length, 1,
          `node ${node} logged the upgrade`);
      }
      for (const [node, api] of [['A', apiA], ['B', apiB]]) {
        const f = (await factories(api)).get(MOCK_ID);
        assert.equal(f.version, '2.0.0', `node ${node}: version of mock-social in ${JSON.stringify(f).slice(0, 200)}`);
      }
    } finally {
      if (nodeB) assert.equal((await nodeB.stop()).code, 0, 'node B exits cleanly');
      assert.equal((await nodeA.stop()).code, 0, 'node A exits cleanly');
    }
  });
});

// ---- d: Hugging Face, malformed userinfo -------------------------------------------------------

describe('the Hugging Face connector loaded from a connector directory', () => {
  const eve = {
    sub: `66${randomId(22)}`,
    name: 'HF Eve',
    preferred_username: `eve${randomId(6)}`,
    profile: 'https://huggingface.co/eve',
    picture: 'https://cdn-avatars.huggingface.co/eve.png',
    email: `eve.${Date.now()}@example.com`,
    email_verified: true,
    isPro: false,
  };
  let fake;
  let browser;
  let cb;
  before(async () => {
    fake = await startFakeHf({ users: [eve] });
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: [...CHROMIUM_ARGS, ...fake.chromiumArgs],
      timeout: 60000,
    });
    cb = await startCallbackServer();
  });
  after(async () => {
    await browser?.close();
    await cb?.close();
    await fake?.stop();
  });

  it('userinfo answers malformed JSON: a clear error page, no user created', async () => {
    const dir = await connectorDirWith({ 'huggingface.so': HF_SO, 'mock.so': MOCK_V1 });
    const srv = await startLatchd({
      env: {
        LATCH_CONNECTOR_DIR: dir,
        LATCH_OUTBOUND_CA_FILE: fake.caFile,
        LATCH_OUTBOUND_CONNECT_TO: fake.connectTo,
      },
    });
    try {
      const ctx = await TenantCtx.create(srv, 'hfbad');
      const api = await ctx.api();
      const app = await ctx.createWebApp(cb.origin, { name: 'Auth.js app' });
      const config = await webAppConfig(ctx, app);
      assert.ok((await factories(api)).has(HF_ID), 'huggingface-universal is loaded from the directory');
      const connector = expectStatus(await api.post('/connectors', {
        connectorId: HF_ID,
        config: { clientId: fake.clientId, clientSecret: fake.clientSecret, scope: 'openid profile email' },
      }), 200, 'create the Hugging Face connector');
      assert.equal(connector.target, 'huggingface');
      await ctx.patchSignInExp({ socialSignInConnectorTargets: ['huggingface'] });

      fake.reset();
      fake.user = eve.sub;
      fake.failures = { userinfoMalformed: true };
      const n = await userCount(ctx.id);
      const checks = await flowChecks();
      const pc = await newPage(browser);
      try {
        await clickSocial(pc.page, authUrl(config, app, checks),
          { buttonId: 'social-huggingface', expectText: 'Continue with Hugging Face' });
        await pc.page.waitForURL((u) => u.hostname === 'huggingface.co', { waitUntil: 'commit' });
        const allow = pc.page.locator('button#allow');
        await allow.waitFor({ state: 'visible' });
        const response = callbackResponseOf(pc.page, ctx, connector.id);
        await allow.click();
        const { text, status } = await callbackErrorPage(pc.page, response, 'malformed userinfo');
        assert.match(text, /malformed/i);
        assert.equal(status, 502, 'a bad answer from the upstream: 502');
        assert.equal(cb.hits.filter((h) => h.url.includes(checks.state)).length, 0, 'the app got nothing');
      } finally {
        await pc.close();
        fake.failures = {};
      }
      // The failure really was the profile: the code was exchanged and userinfo was asked.
      assert.equal(fake.requests.filter((r) => r.path === '/oauth/token').length, 1, 'one token request');
      assert.equal(fake.requests.filter((r) => r.path === '/oauth/userinfo').length, 1, 'one userinfo request');
      assert.equal(await userCount(ctx.id), n, 'no user created');
      assert.equal((await usersWithIdentity(ctx.id, 'huggingface', eve.sub)).length, 0);
    } finally {
      assert.equal((await srv.stop()).code, 0, 'latchd exits cleanly');
    }
  });
});
