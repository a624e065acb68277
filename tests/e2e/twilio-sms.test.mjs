// The twilio-sms connector end to end: a real latchd loads twilio-sms.so from a connector
// directory of its own and, through the Management API's connector test endpoint (Logto's
// POST /api/connectors/:factoryId/test), sends real HTTPS requests to a fake Twilio
// (lib/fake-twilio.mjs) that serves api.twilio.com under a test CA: LATCH_OUTBOUND_CONNECT_TO
// points the name at it, LATCH_OUTBOUND_CA_FILE makes latchd trust it. Checked: the factory as
// the Management API lists it; the message Twilio receives (Basic credentials checked by the
// fake, To with its '+', the Messaging Service, the Generic template filled with the test code,
// RiskCheck); Twilio's refusals (wrong Auth Token, unknown account, rate limit, outage, a slow
// Twilio) as Logto-style errors with nothing sent; a configuration refused before any request;
// and an SMS connector created for the tenant with its token stored sealed and never shown.
// Then the flows of the Experience API on it, the code read from the text Twilio received:
// passwordless sign-in and sign-up by phone, the same answer for a number without an account, and
// Twilio down (a clear error, nothing created).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startFakeTwilio } from './lib/fake-twilio.mjs';
import { adminQuery, buildDir, http, randomId, startLatchd } from './lib/harness.mjs';
import {
  ExperienceClient,
  TenantCtx,
  assertApiError,
  authUrl,
  expectStatus,
  pkcePair,
} from './lib/oidc.mjs';

const FACTORY = 'twilio-short-message-service'; // Logto's id (target twilio-sms)
const SO = path.join(buildDir, 'connectors', 'twilio-sms', 'twilio-sms.so');
const PHONE = '15551234567';
const TEMPLATES = [
  { usageType: 'SignIn', content: 'Acme sign-in code {{code}}' },
  { usageType: 'Register', content: 'Acme sign-up code {{code}}' },
  { usageType: 'ForgotPassword', content: 'Acme reset code {{code}}' },
  { usageType: 'Generic', content: 'Acme code {{ code }} <b>&amp;</b>' },
];

let fake;
let srv;
let dir;
let n = 0;

// One latchd for the file, with twilio-sms.so alone in its connector directory.
before(async () => {
  assert.ok(existsSync(SO), `the build has ${SO}`);
  fake = await startFakeTwilio();
  dir = await mkdtemp(path.join(os.tmpdir(), 'latch-twilio-'));
  await chmod(dir, 0o755);
  await copyFile(SO, path.join(dir, 'twilio-sms.so'));
  await chmod(path.join(dir, 'twilio-sms.so'), 0o755);
  srv = await startLatchd({
    env: {
      LATCH_CONNECTOR_DIR: dir,
      LATCH_OUTBOUND_CA_FILE: fake.caFile,
      LATCH_OUTBOUND_CONNECT_TO: fake.connectTo,
    },
  });
});
after(async () => {
  if (srv) assert.equal((await srv.stop()).code, 0);
  await fake?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('twilio-sms connector against a fake Twilio over TLS', () => {
  // A tenant of its own per test: the test endpoint allows 10 sends a minute per tenant.
  const tenantApi = async () => (await TenantCtx.create(srv, `tw${++n}`)).api();
  const testSend = (api, body) => api.post(`/connectors/${FACTORY}/test`, body);

  test('is listed as an SMS connector factory with Logto\'s config keys', async () => {
    const api = await tenantApi();
    const f = expectStatus(await api.get(`/connector-factories/${FACTORY}`), 200, 'the factory');
    assert.equal(f.id, FACTORY);
    assert.equal(f.type, 'Sms');
    assert.deepEqual(f.formItems.map((i) => i.key),
      ['accountSID', 'authToken', 'fromMessagingServiceSID', 'disableRiskCheck', 'templates']);
  });

  test('a test message reaches Twilio as its API documents it', async () => {
    const api = await tenantApi();
    fake.reset();
    const res = await testSend(api, { phone: PHONE, config: fake.connectorConfig(TEMPLATES) });
    assert.equal(res.status, 204, res.text);
    assert.equal(fake.requests.length, 1);
    const r = fake.requests[0];
    assert.equal(r.method, 'POST');
    assert.equal(r.path, `/2010-04-01/Accounts/${fake.accountSid}/Messages.json`);
    assert.equal(r.host, 'api.twilio.com');
    assert.equal(r.contentType, 'application/x-www-form-urlencoded');
    assert.equal(r.authorization,
      `Basic ${Buffer.from(`${fake.accountSid}:${fake.authToken}`).toString('base64')}`);
    assert.deepEqual(Object.keys(r.form), ['To', 'MessagingServiceSid', 'Body', 'RiskCheck']);
    assert.equal(fake.messages.length, 1);
    const m = fake.messages[0];
    assert.equal(m.to, `+${PHONE}`);
    assert.equal(m.messagingServiceSid, fake.messagingServiceSid);
    assert.equal(m.riskCheck, 'enable');
    // Logto's test message: the Generic template, the code 000000, nothing HTML-escaped.
    assert.equal(m.body, 'Acme code 000000 <b>&amp;</b>');
    assert.equal(fake.lastCodeTo(PHONE), '000000');

    // The risk check off, and the connector's default templates.
    fake.reset();
    const config = { ...fake.connectorConfig(), disableRiskCheck: true };
    assert.equal((await testSend(api, { phone: PHONE, config })).status, 204);
    assert.equal(fake.messages[0].riskCheck, 'disable');
    assert.match(fake.messages[0].body, /^Your verification code is 000000\./);
  });

  test('Twilio\'s refusals become clear errors, with nothing sent', async () => {
    const api = await tenantApi();
    const cases = [
      // A wrong Auth Token: Twilio's 401, error 20003.
      [{ ...fake.connectorConfig(TEMPLATES), authToken: 'f'.repeat(32) }, {}, 400,
        'connector.invalid_config'],
      // An account that is not the credentials': 401 as well (Twilio checks the pair).
      [{ ...fake.connectorConfig(TEMPLATES), accountSID: `AC${'0'.repeat(32)}` }, {}, 400,
        'connector.invalid_config'],
      [fake.connectorConfig(TEMPLATES), { rateLimited: true }, 502, 'connector.general'],
      [fake.connectorConfig(TEMPLATES), { serverError: true }, 502, 'connector.general'],
      [fake.connectorConfig(TEMPLATES), { unsubscribed: true }, 502, 'connector.general'],
    ];
    for (const [config, failures, status, code] of cases) {
      fake.reset();
      fake.failures = failures;
      const res = await testSend(api, { phone: PHONE, config });
      assert.equal(res.status, status, `${JSON.stringify(failures)}: ${res.text}`);
      assert.equal(res.json().code, code);
      assert.equal(fake.requests.length, 1, 'one request reached Twilio');
      assert.equal(fake.messages.length, 0, 'and no message was sent');
    }
    fake.reset();
    // Neither the token nor the code was logged.
    const lines = srv.logs.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');
    assert.ok(!lines.includes(fake.authToken), 'the Auth Token is not logged');
    assert.ok(lines.includes('Twilio refused the message: HTTP 401'), 'the refusal is logged');
  });

  test('a slow Twilio times out', { timeout: 60_000 }, async () => {
    const api = await tenantApi();
    fake.reset();
    fake.failures = { hang: true };
    const started = Date.now();
    // The connector gives Twilio 10 s: wait longer than the API client's default for the answer.
    const res = await http(`${api.base}/connectors/${FACTORY}/test`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ phone: PHONE, config: fake.connectorConfig(TEMPLATES) }),
      timeoutMs: 30_000,
    });
    assert.equal(res.status, 502, res.text);
    assert.equal(res.json().code, 'connector.timeout');
    assert.equal(fake.requests.length, 1);
    assert.equal(fake.messages.length, 0);
    assert.ok(Date.now() - started < 30_000, 'within the connector\'s bound');
    fake.reset();
  });

  test('a configuration the connector refuses sends nothing', async () => {
    const api = await tenantApi();
    fake.reset();
    const bad = [
      { ...fake.connectorConfig(TEMPLATES), accountSID: 'AC123' },
      { ...fake.connectorConfig(TEMPLATES), fromMessagingServiceSID: '+15550100' },
      fake.connectorConfig([{ usageType: 'SignIn', content: 'x {{code}}' }]),
      fake.connectorConfig([...TEMPLATES, { usageType: 'Signin', content: 'typo' }]),
    ];
    for (const config of bad) {
      const res = await testSend(api, { phone: PHONE, config });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json().code, 'connector.invalid_config');
    }
    // An email address is no recipient for an SMS connector.
    const res = await testSend(api, { email: 'ada@example.com', config: fake.connectorConfig() });
    assert.equal(res.status, 400);
    assert.equal(res.json().code, 'connector.unexpected_type');
    assert.equal(fake.requests.length, 0);
  });

  test('the tenant\'s SMS connector keeps its Auth Token sealed and never shows it', async () => {
    const api = await tenantApi();
    const created = expectStatus(await api.post('/connectors', {
      connectorId: FACTORY,
      config: fake.connectorConfig(TEMPLATES),
    }), 200, 'create the SMS connector');
    assert.equal(created.connectorId, FACTORY);
    assert.equal(created.type, 'Sms');
    assert.ok(!JSON.stringify(created).includes(fake.authToken), 'the token is not shown');
    assert.equal(created.config.accountSID, fake.accountSid);
    const rows = await adminQuery('SELECT config::text AS config FROM connectors WHERE id = $1',
      [created.id]);
    assert.equal(rows.rows.length, 1);
    assert.ok(!rows.rows[0].config.includes(fake.authToken), 'the token is stored sealed');
  });
});

describe('sign-in and sign-up by SMS through Twilio', () => {
  const RP = 'http://localhost:3000';
  const phoneSignIn = {
    signIn: { methods: [
      { identifier: 'username', password: true, verificationCode: false, isPasswordPrimary: true },
      { identifier: 'phone', password: false, verificationCode: true, isPasswordPrimary: false },
    ] },
  };
  const newPhone = () => `1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;

  /** A tenant whose SMS connector is twilio-sms on the fake, and a web app. */
  async function smsTenant(signInExp) {
    const ctx = await TenantCtx.create(srv, `sms${++n}`);
    const api = await ctx.api();
    expectStatus(await api.post('/connectors', {
      connectorId: FACTORY,
      config: fake.connectorConfig(TEMPLATES),
    }), 200, 'create the SMS connector');
    await ctx.patchSignInExp(signInExp);
    const app = await ctx.createWebApp(RP);
    /** A new interaction for event; resolves {xp, verifier}. */
    const open = async (event) => {
      const pkce = pkcePair();
      const xp = new ExperienceClient(ctx);
      await xp.start(authUrl(ctx, { client_id: app.id, redirect_uri: app.redirectUri,
        response_type: 'code', scope: 'openid profile phone', state: `st-${randomId(6)}`,
        code_challenge: pkce.challenge, code_challenge_method: 'S256' }));
      await xp.begin(event);
      return { xp, verifier: pkce.verifier };
    };
    /** The authorization code flow's end: the id_token's claims. Identification answers 201 when
     * it makes a new account (Register), 204 otherwise. */
    const finish = async ({ xp, verifier }, verificationId, identStatus = 204) => {
      const ident = await xp.call('POST', '/identification', { verificationId });
      assert.equal(ident.status, identStatus, `identification: ${ident.text}`);
      const sub = await xp.call('POST', '/submit');
      assert.equal(sub.status, 200, `submit: ${sub.text}`);
      const callback = new URL(await xp.resume(new URL(sub.json().redirectTo, `${ctx.base}/`).href));
      const tokens = await ctx.tokenRequest({ client: app, params: { grant_type: 'authorization_code',
        code: callback.searchParams.get('code'), redirect_uri: app.redirectUri, code_verifier: verifier } });
      assert.equal(tokens.status, 200, tokens.text);
      return JSON.parse(Buffer.from(tokens.json().id_token.split('.')[1], 'base64url'));
    };
    return { ctx, api, open, finish };
  }

  const sendCode = (xp, phone, interactionEvent) => xp.call('POST', '/verification/verification-code',
    { identifier: { type: 'phone', value: phone }, interactionEvent });
  const verifyCode = (xp, verificationId, phone, code) => xp.call('POST',
    '/verification/verification-code/verify', { identifier: { type: 'phone', value: phone }, verificationId, code });

  /** Sends a code to phone and reads it from the text Twilio got; resolves {verificationId, code, body}. */
  async function codeBySms(flow, phone, event) {
    const since = Date.now();
    const res = await sendCode(flow.xp, phone, event);
    assert.equal(res.status, 200, `send: ${res.text}`);
    const m = await fake.waitForMessage(phone, { after: since });
    return { verificationId: res.json().verificationId, code: fake.lastCodeTo(phone), body: m.body };
  }

  test('passwordless sign-in: the code Twilio delivered signs in the person with that phone', async () => {
    const t = await smsTenant(phoneSignIn);
    const phone = newPhone();
    const user = await t.ctx.createUser({ primaryPhone: phone });
    const flow = await t.open('SignIn');
    const c = await codeBySms(flow, phone, 'SignIn');
    // The SignIn template, with a fresh 6-digit code.
    assert.match(c.body, /^Acme sign-in code \d{6}$/);
    assert.match(c.code, /^\d{6}$/);
    assert.notEqual(c.code, '000000');
    const wrong = String((Number(c.code) + 1) % 1e6).padStart(6, '0');
    assert.ok((await verifyCode(flow.xp, c.verificationId, phone, wrong)).status >= 400, 'a wrong code');
    const v = await verifyCode(flow.xp, c.verificationId, phone, c.code);
    assert.equal(v.status, 200, v.text);
    const claims = await t.finish(flow, c.verificationId);
    assert.equal(claims.sub, user.id);
  });

  test('passwordless sign-up: the code Twilio delivered creates the account with that phone', async () => {
    const t = await smsTenant({ ...phoneSignIn,
      signUp: { identifiers: ['phone'], password: false, verify: true } });
    const phone = newPhone();
    const flow = await t.open('Register');
    const c = await codeBySms(flow, phone, 'Register');
    assert.match(c.body, /^Acme sign-up code \d{6}$/);
    assert.equal((await verifyCode(flow.xp, c.verificationId, phone, c.code)).status, 200);
    const claims = await t.finish(flow, c.verificationId, 201);
    const user = expectStatus(await t.api.get(`/users/${claims.sub}`), 200, 'the new user');
    assert.equal(user.primaryPhone, phone);
  });

  test('a number without an account gets the same answer and the same text', async () => {
    const t = await smsTenant(phoneSignIn);
    const known = newPhone();
    await t.ctx.createUser({ primaryPhone: known });
    const unknown = newPhone();
    const a = await codeBySms(await t.open('SignIn'), known, 'SignIn');
    const b = await codeBySms(await t.open('SignIn'), unknown, 'SignIn');
    assert.equal(a.body.replace(/\d{6}/, 'N'), b.body.replace(/\d{6}/, 'N'));
  });

  test('Twilio down: a clear error, no text, and no account created', async () => {
    const t = await smsTenant({ ...phoneSignIn,
      signUp: { identifiers: ['phone'], password: false, verify: true } });
    const phone = newPhone();
    const flow = await t.open('Register');
    for (const failures of [{ serverError: true }, { unauthorized: true }]) {
      fake.failures = failures;
      const res = await sendCode(flow.xp, phone, 'Register');
      fake.reset();
      const err = assertApiError(res, [400, 502], JSON.stringify(failures));
      assert.match(err.code, /^connector\./);
      assert.equal(fake.messagesTo(phone).length, 0);
    }
    const users = expectStatus(await t.api.get(`/users?search=${phone}`), 200, 'users');
    assert.ok(!JSON.stringify(users).includes(phone), 'nobody has the number');
  });
});
