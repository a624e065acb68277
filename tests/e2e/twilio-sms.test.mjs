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
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startFakeTwilio } from './lib/fake-twilio.mjs';
import { adminQuery, buildDir, http, startLatchd } from './lib/harness.mjs';
import { TenantCtx, expectStatus } from './lib/oidc.mjs';

const FACTORY = 'twilio-sms';
const SO = path.join(buildDir, 'connectors', 'twilio-sms', 'twilio-sms.so');
const PHONE = '15551234567';
const TEMPLATES = [
  { usageType: 'SignIn', content: 'Acme sign-in code {{code}}' },
  { usageType: 'Register', content: 'Acme sign-up code {{code}}' },
  { usageType: 'ForgotPassword', content: 'Acme reset code {{code}}' },
  { usageType: 'Generic', content: 'Acme code {{ code }} <b>&amp;</b>' },
];

describe('twilio-sms connector against a fake Twilio over TLS', () => {
  let fake;
  let srv;
  let dir;
  let n = 0;

  // A tenant of its own per test: the test endpoint allows 10 sends a minute per tenant.
  const tenantApi = async () => (await TenantCtx.create(srv, `tw${++n}`)).api();
  const testSend = (api, body) => api.post(`/connectors/${FACTORY}/test`, body);

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
