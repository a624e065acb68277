// End-to-end tests of social sign-in (issue 5, items 6 and 7): connectors through the Management
// API (factories, create, masking of confidential values, one instance per factory), the sign-in
// experience's socialSignInConnectorTargets, the "Continue with …" button on the hosted page
// (headless Chromium), the flow button → upstream → <tenant endpoint>/callback/<connectorId> →
// the application with a code (openid-client, the reference Auth.js scenario), a new user created
// from the profile and found again by identity on the next sign-in, and callbacks that must fail
// on an error page without creating anyone; with MFA required, the callback leads to the page's
// MFA step before the application.
//
// Part 1 uses the mock connector (connectors/mock, factory `mock-social`, target `mock`), whose
// "upstream" is a tiny HTTP server here that sends the browser straight back to the redirect URI
// with the state and the person's id, name and email. Part 2 (when tests/e2e/lib/fake-hf.mjs
// exists) does the same against a fake Hugging Face over TLS, reached by latchd through
// LATCH_OUTBOUND_CONNECT_TO and by Chromium through --host-resolver-rules.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import nodeHttp from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';
import { adminQuery, buildDir, http, randomId, startLatchd } from './lib/harness.mjs';
import {
  CHROMIUM_ARGS,
  CHROMIUM_PATH,
  launchBrowser,
  newPage,
  startCallbackServer,
  waitForUrlPrefix,
} from './lib/browser.mjs';
import { REFERENCE_SCOPE, TenantCtx, eventually, expectStatus, uniq } from './lib/oidc.mjs';
import { authUrl, flowChecks, webAppConfig } from './lib/flow.mjs';
import { totp } from './lib/totp.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
// The build offers huggingface.so in <build>/connectors; the mock test connector lives in
// <build>/connectors/mock (mock.so, and mock_v1.so / mock_v2.so for upgrades).
const connectorDir = process.env.LATCH_TEST_CONNECTOR_DIR || path.join(buildDir, 'connectors');
const mockDir = path.join(buildDir, 'connectors', 'mock');
const fakeHfPath = path.join(here, 'lib', 'fake-hf.mjs');

/**
 * The mock connector's upstream: GET /authorize?state&redirect_uri answers 302 to
 * redirect_uri?state&id&name&email for `person`, unless `mode` says otherwise
 * ('wrong-state' sends another state back).
 */
async function startMockUpstream() {
  const up = { person: null, mode: 'ok', hits: [] };
  const srv = nodeHttp.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    up.hits.push(u.href);
    if (u.pathname !== '/authorize' || !up.person) {
      res.writeHead(404).end();
      return;
    }
    const back = new URL(u.searchParams.get('redirect_uri'));
    back.searchParams.set('state', up.mode === 'wrong-state' ? `${u.searchParams.get('state')}x` : u.searchParams.get('state'));
    back.searchParams.set('id', up.person.id);
    back.searchParams.set('name', up.person.name);
    back.searchParams.set('email', up.person.email);
    res.writeHead(302, { location: back.href, 'cache-control': 'no-store' }).end();
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  srv.unref();
  up.origin = `http://127.0.0.1:${srv.address().port}`;
  up.close = () => new Promise((resolve) => { srv.closeAllConnections?.(); srv.close(() => resolve()); });
  return up;
}

/** Users of the tenant whose identities hold target with userId (superuser: no RLS). */
async function usersWithIdentity(tenant, target, userId) {
  const r = await adminQuery(
    "SELECT id, username, name, primary_email, identities FROM users WHERE tenant_id = $1 AND identities->$2->>'userId' = $3",
    [tenant, target, userId]);
  return r.rows;
}

async function userCount(tenant) {
  const r = await adminQuery('SELECT count(*)::int AS n FROM users WHERE tenant_id = $1', [tenant]);
  return r.rows[0].n;
}

/** Clicks the social button on the page of authorization URL `url`; resolves the landing URL. */
async function socialSignIn(page, url, { buttonId, expectText, redirectUri }) {
  await page.goto(url);
  const button = page.locator(`button#${buttonId}`);
  await button.waitFor({ state: 'visible' });
  if (expectText) assert.equal((await button.innerText()).trim(), expectText, 'button text');
  await button.click();
  if (!redirectUri) return null;
  return waitForUrlPrefix(page, redirectUri);
}

/** Waits for latchd's error page (after the callback) and resolves its #error text. */
async function errorPageText(page, what) {
  await page.waitForURL((u) => u.pathname.includes('/callback/'), { waitUntil: 'commit' });
  const el = page.locator('p#error');
  await el.waitFor({ state: 'attached', timeout: 20000 }).catch((err) => {
    throw new Error(`${what}: no error page at ${page.url()}`, { cause: err });
  });
  return (await el.innerText()).trim();
}

describe('social sign-in with the mock connector', () => {
  let srv;
  let browser;
  let cb;
  let up;
  let ctx;
  let api;
  let app;
  let config;
  let connector;
  let factory;
  before(async () => {
    up = await startMockUpstream();
    assert.ok(existsSync(path.join(mockDir, 'mock.so')), `the build has ${mockDir}/mock.so`);
    srv = await startLatchd({ env: { LATCH_CONNECTOR_DIR: mockDir } });
    browser = await launchBrowser();
    cb = await startCallbackServer();
    ctx = await TenantCtx.create(srv, 'social');
    api = await ctx.api();
    app = await ctx.createWebApp(cb.origin, { name: 'Bookstore' });
    config = await webAppConfig(ctx, app);
  });
  after(async () => {
    await browser?.close();
    await cb?.close();
    await up?.close();
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  it('GET /api/connector-factories lists the mock factory; /:id gives it; unknown → 404', async () => {
    const list = expectStatus(await api.get('/connector-factories'), 200, 'factories');
    assert.ok(Array.isArray(list));
    factory = list.find((f) => f.id === 'mock-social');
    assert.ok(factory, `mock-social in ${JSON.stringify(list.map((f) => f.id))}`);
    assert.equal(factory.target, 'mock');
    assert.equal(typeof factory.name?.en, 'string');
    const one = expectStatus(await api.get('/connector-factories/mock-social'), 200, 'factory');
    assert.equal(one.id, 'mock-social');
    assert.equal((await api.get('/connector-factories/no-such-factory')).status, 404);
  });

  it('POST /api/connectors creates the connector (Logto shape); a second instance → 422', async () => {
    const bad = await api.post('/connectors', { connectorId: 'no-such-factory', config: {} });
    assert.equal(bad.status, 422, bad.text);
    assert.equal(bad.json().code, 'connector.not_found_with_connector_id');

    connector = expectStatus(await api.post('/connectors', {
      connectorId: 'mock-social',
      config: { authorizationEndpoint: `${up.origin}/authorize` },
    }), 200, 'create connector');
    assert.equal(typeof connector.id, 'string');
    assert.equal(connector.connectorId, 'mock-social');
    assert.equal(connector.tenantId, ctx.id);
    assert.equal(connector.target, 'mock');
    assert.equal(connector.type, 'Social');
    assert.equal(connector.platform, 'Universal');
    assert.equal(connector.syncProfile, false);
    assert.equal(typeof connector.createdAt, 'number');
    assert.deepEqual(connector.config, { authorizationEndpoint: `${up.origin}/authorize` });

    const again = await api.post('/connectors', { connectorId: 'mock-social', config: { authorizationEndpoint: `${up.origin}/authorize` } });
    assert.equal(again.status, 422, again.text);
    assert.equal(again.json().code, 'connector.multiple_instances_not_supported');

    const listed = expectStatus(await api.get('/connectors'), 200, 'list connectors');
    assert.deepEqual(listed.map((c) => c.id), [connector.id]);
    const got = expectStatus(await api.get(`/connectors/${connector.id}`), 200, 'get connector');
    assert.equal(got.connectorId, 'mock-social');
    assert.equal((await api.get('/connectors/nope')).status, 404);
  });

  const secretParams = { token: `tok-${uniq('secret')}`, n: 3 };

  it('a confidential Json field is sealed as a whole ($sealedJson), masked, and kept by "********"', async () => {
    const config = { authorizationEndpoint: `${up.origin}/authorize`, secretParams };
    const patched = expectStatus(await api.patch(`/connectors/${connector.id}`, { config }), 200, 'PATCH secretParams');
    assert.equal(patched.config.secretParams, '********');
    const sealedRow = async () => (await adminQuery('SELECT config FROM connectors WHERE tenant_id = $1 AND id = $2',
      [ctx.id, connector.id])).rows[0].config;
    let row = await sealedRow();
    assert.equal(typeof row.secretParams.$sealedJson, 'string', 'sealed at rest');
    assert.ok(!JSON.stringify(row).includes(secretParams.token), 'no plaintext in PostgreSQL');
    assert.equal(expectStatus(await api.get(`/connectors/${connector.id}`), 200, 'GET').config.secretParams, '********');
    // "********" sent back keeps the stored value (the sign-in below shows the connector gets it).
    expectStatus(await api.patch(`/connectors/${connector.id}`, {
      config: { authorizationEndpoint: `${up.origin}/authorize`, secretParams: '********' },
    }), 200, 'PATCH keeps secretParams');
    row = await sealedRow();
    assert.equal(typeof row.secretParams.$sealedJson, 'string', 'still sealed');
  });

  it('PATCH /api/sign-in-exp takes socialSignInConnectorTargets and a social-only signUp', async () => {
    const sie = await ctx.patchSignInExp({
      socialSignInConnectorTargets: ['mock'],
      signUp: { identifiers: [], password: false, verify: false },
    });
    assert.deepEqual(sie.socialSignInConnectorTargets, ['mock']);
    assert.deepEqual(sie.signUp, { identifiers: [], password: false, verify: false });
    const bad = await (await ctx.api()).patch('/sign-in-exp', { socialSignInConnectorTargets: 'mock' });
    assert.equal(bad.status, 400, bad.text);
  });

  const alice = { id: `mock-${uniq('alice')}`, name: 'Alice Social', email: `alice.${Date.now()}@example.com` };
  let aliceSub;

  it('the page shows "Continue with …"; the flow creates the user and the app gets tokens', async () => {
    up.person = alice;
    up.mode = 'ok';
    const before0 = await userCount(ctx.id);
    const pc = await newPage(browser);
    try {
      const checks = await flowChecks();
      const landed = await socialSignIn(pc.page, authUrl(config, app, checks), {
        buttonId: 'social-mock', expectText: `Continue with ${factory.name.en}`, redirectUri: app.redirectUri,
      });
      assert.ok(pc.navigations.some((u) => u.startsWith(`${up.origin}/authorize`)), 'went through the upstream');
      assert.ok(pc.navigations.some((u) => u.startsWith(`${ctx.base}/callback/${connector.id}?`)), 'came back to the callback');
      const tokens = await client.authorizationCodeGrant(config, new URL(landed), {
        pkceCodeVerifier: checks.pkceCodeVerifier, expectedState: checks.state, expectedNonce: checks.nonce,
      });
      assert.equal(typeof tokens.access_token, 'string');
      assert.equal(typeof tokens.refresh_token, 'string', 'offline_access gives a refresh token');
      const claims = tokens.claims();
      aliceSub = claims.sub;
      assert.equal(claims.name, alice.name, 'name from the profile');
    } finally {
      await pc.close();
    }
    assert.equal(await userCount(ctx.id), before0 + 1, 'one user created');
    const rows = await usersWithIdentity(ctx.id, 'mock', alice.id);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].id, aliceSub);
    assert.equal(rows[0].name, alice.name);
    assert.equal(rows[0].identities.mock.details.email, alice.email);
    assert.equal(rows[0].identities.mock.details.name, alice.name);
    // The primary email is taken only when the connector says it is verified.
    assert.ok(rows[0].primary_email === null || rows[0].primary_email === alice.email, rows[0].primary_email);
    const user = expectStatus(await api.get(`/users/${aliceSub}`), 200, 'GET user');
    assert.equal(user.identities.mock.userId, alice.id);
    // The sealed Json field reached the connector opened, as configured.
    assert.deepEqual(rows[0].identities.mock.details.rawData.secretParams, secretParams);
  });

  it('the same person signing in again is the same user (no second user)', async () => {
    up.person = alice;
    const before1 = await userCount(ctx.id);
    const pc = await newPage(browser);
    try {
      const checks = await flowChecks();
      const landed = await socialSignIn(pc.page, authUrl(config, app, checks),
        { buttonId: 'social-mock', redirectUri: app.redirectUri });
      const tokens = await client.authorizationCodeGrant(config, new URL(landed), {
        pkceCodeVerifier: checks.pkceCodeVerifier, expectedState: checks.state, expectedNonce: checks.nonce,
      });
      assert.equal(tokens.claims().sub, aliceSub);
    } finally {
      await pc.close();
    }
    assert.equal(await userCount(ctx.id), before1, 'no user created');
    assert.equal((await usersWithIdentity(ctx.id, 'mock', alice.id)).length, 1);
  });

  it('with MFA mandatory, the callback lands on the MFA step of the page; enrolment, then the app (amr otp, mfa)', async () => {
    up.person = alice;
    await ctx.patchSignInExp({ mfa: { factors: ['Totp'], policy: 'Mandatory' } });
    const pc = await newPage(browser);
    try {
      const checks = await flowChecks();
      await socialSignIn(pc.page, authUrl(config, app, checks), { buttonId: 'social-mock' });
      // /oidc/auth/resume sends the browser back to the page, at the MFA step.
      await pc.page.locator('section#mfa').waitFor({ state: 'visible' });
      assert.equal((await pc.page.locator('h1#heading').innerText()).trim(), 'Set up two-step verification');
      await pc.page.waitForFunction(() => document.getElementById('mfa-secret').textContent.length > 0);
      const secret = (await pc.page.locator('code#mfa-secret').innerText()).replace(/\s/g, '');
      await pc.page.locator('input#mfa-code').fill(totp(secret));
      await pc.page.locator('button#mfa-submit').click();
      const landed = await waitForUrlPrefix(pc.page, app.redirectUri);
      const tokens = await client.authorizationCodeGrant(config, new URL(landed), {
        pkceCodeVerifier: checks.pkceCodeVerifier, expectedState: checks.state, expectedNonce: checks.nonce,
      });
      assert.equal(tokens.claims().sub, aliceSub);
      assert.deepEqual([...tokens.claims().amr].sort(), ['mfa', 'otp'], 'social (no RFC 8176 value) + TOTP');
    } finally {
      await pc.close();
      await ctx.patchSignInExp({ mfa: { factors: [], policy: 'UserControlled' } });
    }
  });

  it('a callback with a wrong state ends on an error page and creates no user', async () => {
    const mallory = { id: `mock-${uniq('mallory')}`, name: 'Mallory', email: `m.${Date.now()}@example.com` };
    up.person = mallory;
    up.mode = 'wrong-state';
    const before2 = await userCount(ctx.id);
    const pc = await newPage(browser);
    try {
      const checks = await flowChecks();
      await socialSignIn(pc.page, authUrl(config, app, checks), { buttonId: 'social-mock' });
      const text = await errorPageText(pc.page, 'wrong state');
      assert.match(text, /state/i);
      assert.equal(cb.hits.filter((h) => h.url.includes(checks.state)).length, 0, 'the app got nothing');
    } finally {
      await pc.close();
      up.mode = 'ok';
    }
    assert.equal(await userCount(ctx.id), before2);
    assert.equal((await usersWithIdentity(ctx.id, 'mock', mallory.id)).length, 0);
  });

  it('the audit log has the hosted page\'s callbacks: the signed-in one, and the wrong state as an error', async () => {
    const api2 = await ctx.api();
    const key = 'Interaction.SignIn.Verification.Social.Submit';
    let list = [];
    await eventually(async () => {
      list = expectStatus(await api2.get(`/logs?logKey=${key}&page_size=100`), 200, key);
      return list.some((e) => e.payload.result === 'Success') && list.some((e) => e.payload.result === 'Error');
    }, `${key}: a Success and an Error`, 5000);
    for (const e of list) assert.equal(e.payload.connectorId, connector.id, JSON.stringify(e));
    assert.equal(list.find((e) => e.payload.result === 'Error').payload.error.status, 400);
  });

  it('a callback without the interaction cookie is an error page; a form POST becomes a 303 to the GET', async () => {
    const res = await http(`${ctx.base}/callback/${connector.id}?state=x&id=1`);
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    const post = await http(`${ctx.base}/callback/${connector.id}`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'state=abc&code=1',
    });
    assert.equal(post.status, 303, 'a form post becomes a GET (as Logto)');
    assert.equal(post.headers.get('location'), `${ctx.endpoint}/callback/${connector.id}?state=abc&code=1`);
  });

  it('DELETE /api/connectors/:id removes the connector and its button', async () => {
    const del = await api.del(`/connectors/${connector.id}`);
    assert.equal(del.status, 204);
    assert.equal((await api.get(`/connectors/${connector.id}`)).status, 404);
    // Gone: the page shows no button any more.
    const pc = await newPage(browser);
    try {
      const checks = await flowChecks();
      await pc.page.goto(authUrl(config, app, checks));
      await pc.page.locator('input#identifier').waitFor({ state: 'visible' });
      await pc.page.waitForFunction(() => !document.body.classList.contains('loading'));
      assert.equal(await pc.page.locator('button#social-mock').count(), 0);
    } finally {
      await pc.close();
    }
  });
});

describe('social sign-in with Hugging Face over TLS (fake upstream)', () => {
  const hfUser = (tag) => ({
    sub: `66${randomId(22)}`,
    name: `HF ${tag}`,
    preferred_username: `${tag}${randomId(6)}`,
    profile: `https://huggingface.co/${tag}`,
    picture: `https://cdn-avatars.huggingface.co/${tag}.png`,
    email: `${tag}.${Date.now()}@example.com`,
    email_verified: true,
    isPro: false,
  });
  const ada = hfUser('ada');
  const failing = hfUser('eve'); // signs in only through failures: must never become a user
  const bob = hfUser('bob'); // signs up while the tenant requires a username
  let fake;
  let srv;
  let browser;
  let cb;
  let ctx;
  let api;
  let app;
  let config;
  let connector;
  let adaSub;
  before(async () => {
    const mod = await import('./lib/fake-hf.mjs');
    fake = await mod.startFakeHf({ users: [ada, failing, bob] });
    srv = await startLatchd({
      env: {
        LATCH_CONNECTOR_DIR: connectorDir,
        LATCH_OUTBOUND_CA_FILE: fake.caFile,
        LATCH_OUTBOUND_CONNECT_TO: fake.connectTo,
      },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: [...CHROMIUM_ARGS, ...fake.chromiumArgs],
      timeout: 60000,
    });
    cb = await startCallbackServer();
    ctx = await TenantCtx.create(srv, 'hf');
    api = await ctx.api();
    app = await ctx.createWebApp(cb.origin, { name: 'Auth.js app' });
    config = await webAppConfig(ctx, app);
  });
  after(async () => {
    await browser?.close();
    await cb?.close();
    if (srv) assert.equal((await srv.stop()).code, 0);
    await fake?.stop();
  });

  /** Button → huggingface.co consent page → Allow (or Deny). */
  async function hfSignIn(page, checks, { expectText, decision = 'allow', redirectUri } = {}) {
    await socialSignIn(page, authUrl(config, app, checks), { buttonId: 'social-huggingface', expectText });
    await page.waitForURL((u) => u.hostname === 'huggingface.co', { waitUntil: 'commit' });
    const button = page.locator(`button#${decision}`);
    await button.waitFor({ state: 'visible' });
    await button.click();
    return redirectUri ? waitForUrlPrefix(page, redirectUri) : null;
  }

  it('creates the Hugging Face connector: clientSecret sealed at rest, masked in answers', async () => {
    const missing = await api.post('/connectors', { connectorId: 'huggingface-universal', config: { clientId: 'x' } });
    assert.equal(missing.status, 400, missing.text);
    assert.equal(missing.json().code, 'connector.invalid_config');
    connector = expectStatus(await api.post('/connectors', {
      connectorId: 'huggingface-universal',
      config: { clientId: fake.clientId, clientSecret: fake.clientSecret, scope: 'openid profile email' },
    }), 200, 'create HF connector');
    assert.equal(connector.target, 'huggingface');
    assert.equal(connector.name.en, 'Hugging Face');
    assert.equal(connector.config.clientSecret, '********');
    assert.equal(connector.config.clientId, fake.clientId);
    const row = (await adminQuery('SELECT config FROM connectors WHERE tenant_id = $1 AND id = $2',
      [ctx.id, connector.id])).rows[0];
    assert.equal(typeof row.config.clientSecret.$sealed, 'string', 'sealed at rest');
    assert.ok(!JSON.stringify(row.config).includes(fake.clientSecret), 'no plaintext secret in PostgreSQL');
    // "********" sent back keeps the stored secret.
    const patched = expectStatus(await api.patch(`/connectors/${connector.id}`, {
      config: { clientId: fake.clientId, clientSecret: '********', scope: 'openid profile email' },
    }), 200, 'PATCH keeps the secret');
    assert.equal(patched.config.clientSecret, '********');
    // The reference guide's optional step: no sign-up identifier when only social sign-in is
    // needed (with one, a new social user is asked for it; tested below).
    await ctx.patchSignInExp({ socialSignInConnectorTargets: ['huggingface'],
      signUp: { identifiers: [], password: false, verify: false } });
  });

  it('"Continue with Hugging Face": a new user from the HF profile, tokens for the app', async () => {
    fake.user = ada.sub;
    fake.failures = {};
    const n = await userCount(ctx.id);
    const pc = await newPage(browser);
    try {
      const checks = await flowChecks();
      const landed = await hfSignIn(pc.page, checks, { expectText: 'Continue with Hugging Face', redirectUri: app.redirectUri });
      const tokens = await client.authorizationCodeGrant(config, new URL(landed), {
        pkceCodeVerifier: checks.pkceCodeVerifier, expectedState: checks.state, expectedNonce: checks.nonce,
      });
      adaSub = tokens.claims().sub;
      assert.equal(tokens.claims().name, ada.name);
      assert.equal(tokens.claims().email, ada.email, 'verified email becomes the primary email');
    } finally {
      await pc.close();
    }
    assert.equal(await userCount(ctx.id), n + 1);
    const rows = await usersWithIdentity(ctx.id, 'huggingface', ada.sub);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].id, adaSub);
    assert.equal(rows[0].identities.huggingface.details.avatar, ada.picture);
    assert.equal(rows[0].identities.huggingface.details.rawData.preferred_username, ada.preferred_username);
  });

  it('the same Hugging Face account again is the same user; the Spanish page says "Continuar con Hugging Face"', async () => {
    fake.user = ada.sub;
    const n = await userCount(ctx.id);
    const pc = await newPage(browser, { locale: 'es-ES' });
    try {
      const checks = await flowChecks();
      const landed = await hfSignIn(pc.page, checks, { expectText: 'Continuar con Hugging Face', redirectUri: app.redirectUri });
      const tokens = await client.authorizationCodeGrant(config, new URL(landed), {
        pkceCodeVerifier: checks.pkceCodeVerifier, expectedState: checks.state, expectedNonce: checks.nonce,
      });
      assert.equal(tokens.claims().sub, adaSub);
    } finally {
      await pc.close();
    }
    assert.equal(await userCount(ctx.id), n);
  });

  it('with a username required at sign-up, a new Hugging Face user chooses one on the page before reaching the app', async () => {
    await ctx.patchSignInExp({ signUp: { identifiers: ['username'], password: true, verify: false } });
    fake.user = bob.sub;
    fake.failures = {};
    const pc = await newPage(browser);
    try {
      const checks = await flowChecks();
      await hfSignIn(pc.page, checks);
      // Back on the sign-in page: one more step, a username (a social identity stands in for
      // the password).
      await pc.page.locator('form#code-form').waitFor({ state: 'visible' });
      assert.equal((await pc.page.locator('h1#heading').innerText()).trim(), 'One more step');
      assert.equal((await pc.page.locator('label#cf-address-label').innerText()).trim(), 'Username');
      assert.equal(cb.hits.filter((h) => h.url.includes(checks.state)).length, 0, 'the app got nothing yet');
      const username = `bob_${randomId(6)}`;
      await pc.page.locator('input#cf-address').fill(username);
      await pc.page.locator('button#cf-submit').click();
      const landed = await waitForUrlPrefix(pc.page, app.redirectUri);
      const tokens = await client.authorizationCodeGrant(config, new URL(landed), {
        pkceCodeVerifier: checks.pkceCodeVerifier, expectedState: checks.state, expectedNonce: checks.nonce,
      });
      const rows = await usersWithIdentity(ctx.id, 'huggingface', bob.sub);
      assert.equal(rows.length, 1);
      assert.equal(tokens.claims().sub, rows[0].id);
      assert.equal(rows[0].username, username);
    } finally {
      await pc.close();
      await ctx.patchSignInExp({ signUp: { identifiers: [], password: false, verify: false } });
    }
  });

  for (const [what, failures, decision, pattern] of [
    ['consent denied', {}, 'deny', /cancelled|consent/i],
    ['the token endpoint refuses the code', { token400: true }, 'allow', /refused the sign-in code/i],
    ['userinfo rejects the token (401)', { userinfo401: true }, 'allow', /rejected the access token/i],
    ['userinfo times out', { userinfoSlow: true }, 'allow', /did not answer in time/i],
    ['userinfo is malformed', { userinfoMalformed: true }, 'allow', /malformed/i],
  ]) {
    it(`${what}: a clear error page, no user created`, async () => {
      fake.user = failing.sub;
      fake.failures = failures;
      const n = await userCount(ctx.id);
      const pc = await newPage(browser);
      try {
        const checks = await flowChecks();
        await hfSignIn(pc.page, checks, { decision });
        const text = await errorPageText(pc.page, what);
        assert.match(text, pattern);
        assert.equal(cb.hits.filter((h) => h.url.includes(checks.state)).length, 0, 'the app got nothing');
      } finally {
        await pc.close();
        fake.failures = {};
      }
      assert.equal(await userCount(ctx.id), n, 'no user created');
      assert.equal((await usersWithIdentity(ctx.id, 'huggingface', failing.sub)).length, 0);
    });
  }
});
