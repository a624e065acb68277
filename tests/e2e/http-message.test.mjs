// The http-email and http-sms connectors end to end: a real latchd loads http-email.so and
// http-sms.so from a connector directory of its own and POSTs each message to a fake endpoint
// that serves https://hooks.example.com under a test CA (lib/fake-tls.mjs; LATCH_OUTBOUND_CONNECT_TO
// points the name at it, LATCH_OUTBOUND_CA_FILE makes latchd trust it). Checked through the
// Management API's connector test endpoint: the exact request (method, path and query,
// Content-Type, the configured Authorization, Logto's JSON {to, type, payload, ip}); the
// endpoint's refusals as Logto-style errors; a configuration refused before any request; and,
// through the Experience API, a passwordless email sign-in with the code the endpoint received.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTestCertificates, readBody } from './lib/fake-tls.mjs';
import { buildDir, randomId, startLatchd } from './lib/harness.mjs';
import { ExperienceClient, TenantCtx, authUrl, expectStatus, pkcePair, uniqUsername } from './lib/oidc.mjs';

const HOST = 'hooks.example.com';
const AUTHORIZATION = `Bearer ${randomId(24)}`;

/** The fake endpoint: records every request; answers `status` (200 unless a test sets it). */
async function startEndpoint() {
  const certs = await makeTestCertificates({ host: HOST, label: 'fake message endpoint' });
  const received = [];
  const state = { status: 200 };
  const server = https.createServer({ key: certs.leafKey, cert: certs.leafPem }, async (req, res) => {
    const text = await readBody(req).catch(() => '');
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    received.push({ method: req.method, url: req.url, headers: req.headers, text, json });
    res.writeHead(state.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(state.status < 300 ? { ok: true } : { message: `refused (${state.status})` }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return {
    caFile: certs.caFile,
    connectTo: `${HOST}:443:127.0.0.1:${server.address().port}`,
    received,
    state,
    async stop() {
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
      await rm(certs.dir, { recursive: true, force: true });
    },
  };
}

let endpoint;
let srv;
let dir;
let n = 0;

before(async () => {
  endpoint = await startEndpoint();
  dir = await mkdtemp(path.join(os.tmpdir(), 'latch-http-message-'));
  await chmod(dir, 0o755);
  for (const id of ['http-email', 'http-sms']) {
    const so = path.join(buildDir, 'connectors', id, `${id}.so`);
    assert.ok(existsSync(so), `the build has ${so}`);
    await copyFile(so, path.join(dir, `${id}.so`));
    await chmod(path.join(dir, `${id}.so`), 0o755);
  }
  srv = await startLatchd({
    env: {
      LATCH_CONNECTOR_DIR: dir,
      LATCH_OUTBOUND_CA_FILE: endpoint.caFile,
      LATCH_OUTBOUND_CONNECT_TO: endpoint.connectTo,
    },
  });
});
after(async () => {
  if (srv) assert.equal((await srv.stop()).code, 0);
  await endpoint?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const config = (p = '/latch/send?tenant=acme') => ({ endpoint: `https://${HOST}${p}`, authorization: AUTHORIZATION });

describe('http-email and http-sms against a fake endpoint over TLS', () => {
  const tenantApi = async () => (await TenantCtx.create(srv, `hm${++n}`)).api();

  for (const [factory, to, recipient] of [
    ['http-email', { email: 'ada@example.com' }, 'ada@example.com'],
    ['http-sms', { phone: '15551234567' }, '15551234567'],
  ]) {
    test(`${factory}: a test message is Logto's JSON POST with the configured Authorization`, async () => {
      const api = await tenantApi();
      endpoint.received.length = 0;
      endpoint.state.status = 202;
      const res = await api.post(`/connectors/${factory}/test`, { ...to, locale: 'es', config: config() });
      assert.equal(res.status, 204, res.text);
      assert.equal(endpoint.received.length, 1);
      const r = endpoint.received[0];
      assert.equal(r.method, 'POST');
      assert.equal(r.url, '/latch/send?tenant=acme');
      assert.equal(r.headers.host, HOST);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers.authorization, AUTHORIZATION);
      assert.deepEqual(Object.keys(r.json), ['to', 'type', 'payload', 'ip']);
      assert.equal(r.json.to, recipient);
      assert.equal(r.json.type, 'Generic');
      assert.equal(r.json.payload.code, '000000');
      assert.equal(r.json.payload.locale, 'es');
      assert.ok(Object.values(r.json.payload).every((v) => typeof v === 'string'), 'payload values are strings');
      assert.equal(typeof r.json.ip, 'string');
    });
  }

  test('the endpoint\'s refusals are Logto-style errors; a bad config sends nothing', async () => {
    const api = await tenantApi();
    const body = { email: 'ada@example.com', config: config() };
    for (const [status, want, code] of [[401, 400, 'connector.invalid_config'], [404, 400, 'connector.invalid_config'],
      [500, 502, 'connector.general'], [302, 502, 'connector.general']]) {
      endpoint.received.length = 0;
      endpoint.state.status = status;
      const res = await api.post('/connectors/http-email/test', body);
      assert.equal(res.status, want, `endpoint ${status}: ${res.text}`);
      assert.equal(res.json().code, code);
      assert.equal(endpoint.received.length, 1);
    }
    endpoint.state.status = 200;
    endpoint.received.length = 0;
    for (const bad of [{ endpoint: `http://${HOST}/x` }, { endpoint: `https://user:pw@${HOST}/x` },
      { endpoint: `https://${HOST}/x`, authorization: 'Bearer a\r\nX-Evil: 1' }]) {
      const res = await api.post('/connectors/http-email/test', { email: 'ada@example.com', config: bad });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json().code, 'connector.invalid_config');
    }
    assert.equal(endpoint.received.length, 0);
    const lines = srv.logs.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');
    assert.ok(!lines.includes(AUTHORIZATION.slice(7)), 'the authorization is not logged');
    assert.ok(lines.includes('the email endpoint answered HTTP 401'), 'the refusal is logged');
  });

  test('passwordless email sign-in with the code the endpoint received', async () => {
    const ctx = await TenantCtx.create(srv, `hm${++n}`);
    const api = await ctx.api();
    expectStatus(await api.post('/connectors', { connectorId: 'http-email', config: config('/mail') }),
      200, 'create the email connector');
    await ctx.patchSignInExp({ signIn: { methods: [
      { identifier: 'username', password: true, verificationCode: false, isPasswordPrimary: true },
      { identifier: 'email', password: false, verificationCode: true, isPasswordPrimary: false },
    ] } });
    const app = await ctx.createWebApp('http://localhost:3000');
    const email = `${uniqUsername('grace')}@example.com`.toLowerCase();
    const user = await ctx.createUser({ primaryEmail: email });
    const pkce = pkcePair();
    const xp = new ExperienceClient(ctx);
    await xp.start(authUrl(ctx, { client_id: app.id, redirect_uri: app.redirectUri, response_type: 'code',
      scope: 'openid email', state: 'st-1', code_challenge: pkce.challenge, code_challenge_method: 'S256' }));
    await xp.begin('SignIn');
    endpoint.state.status = 200;
    endpoint.received.length = 0;
    const identifier = { type: 'email', value: email };
    const sent = await xp.call('POST', '/verification/verification-code', { identifier, interactionEvent: 'SignIn' });
    assert.equal(sent.status, 200, sent.text);
    assert.equal(endpoint.received.length, 1);
    const mail = endpoint.received[0].json;
    assert.equal(mail.to, email);
    assert.equal(mail.type, 'SignIn');
    assert.match(mail.payload.code, /^\d{6}$/);
    const { verificationId } = sent.json();
    const v = await xp.call('POST', '/verification/verification-code/verify',
      { identifier, verificationId, code: mail.payload.code });
    assert.equal(v.status, 200, v.text);
    assert.equal((await xp.call('POST', '/identification', { verificationId })).status, 204);
    const sub = await xp.call('POST', '/submit');
    assert.equal(sub.status, 200, sub.text);
    const callback = new URL(await xp.resume(new URL(sub.json().redirectTo, `${ctx.base}/`).href));
    const tokens = await ctx.tokenRequest({ client: app, params: { grant_type: 'authorization_code',
      code: callback.searchParams.get('code'), redirect_uri: app.redirectUri, code_verifier: pkce.verifier } });
    assert.equal(tokens.status, 200, tokens.text);
    assert.equal(JSON.parse(Buffer.from(tokens.json().id_token.split('.')[1], 'base64url')).sub, user.id);
  });
});
