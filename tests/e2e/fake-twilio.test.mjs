// The fake Twilio of the end-to-end tests (lib/fake-twilio.mjs) checked on its own, so CI
// exercises it before and apart from the SMS tests that use it: TLS with its test CA under the
// name api.twilio.com, the create-message request as the twilio-sms connector sends it, the
// checks Twilio makes (Basic credentials, the account in the path, To, MessagingServiceSid, Body,
// RiskCheck) with Twilio's error shape, each failure switch, and the helpers tests read codes
// with. Needs no latchd.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SLOW_MS, startFakeTwilio } from './lib/fake-twilio.mjs';
import { requestFake } from './lib/fake-tls.mjs';

/** An https request to https://api.twilio.com<path> landing on the fake. */
const twilio = (fake, method, path, opts) => requestFake(fake, 'api.twilio.com', method, path, opts);

const basic = (user, password) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A create-message request as the connector sends it (params override the form). */
function sendSms(fake, params = {}, { account = fake.accountSid, token = fake.authToken, ...opts } = {}) {
  const form = new URLSearchParams({
    To: '+15551234567',
    MessagingServiceSid: fake.messagingServiceSid,
    Body: 'Your sign-in code is 482913. It expires in 10 minutes.',
    RiskCheck: 'enable',
    ...params,
  });
  for (const [k, v] of Object.entries(params)) if (v === undefined) form.delete(k);
  return twilio(fake, 'POST', `/2010-04-01/Accounts/${account}/Messages.json`, {
    headers: {
      authorization: basic(fake.accountSid, token),
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: form.toString(),
    ...opts,
  });
}

describe('fake Twilio', () => {
  let fake;
  before(async () => {
    fake = await startFakeTwilio();
  });
  after(async () => {
    await fake?.stop();
  });

  test('has Twilio-shaped credentials and a connector config for them', () => {
    assert.match(fake.accountSid, /^AC[0-9a-f]{32}$/);
    assert.match(fake.authToken, /^[0-9a-f]{32}$/);
    assert.match(fake.messagingServiceSid, /^MG[0-9a-f]{32}$/);
    assert.equal(fake.connectTo, `api.twilio.com:443:127.0.0.1:${fake.port}`);
    assert.deepEqual(fake.connectorConfig(), {
      accountSID: fake.accountSid,
      authToken: fake.authToken,
      fromMessagingServiceSID: fake.messagingServiceSid,
    });
  });

  test('serves TLS for api.twilio.com under its own test CA only', async () => {
    await assert.rejects(sendSms(fake, {}, { systemCa: true }), (e) =>
      /self-signed|unable to get local issuer|UNABLE_TO_VERIFY/i.test(`${e.code} ${e.message}`));
  });

  test('accepts a message and answers 201 with the message resource', async () => {
    fake.reset();
    const before = Date.now();
    const res = await sendSms(fake);
    assert.equal(res.status, 201);
    assert.match(res.json.sid, /^SM[0-9a-f]{32}$/);
    assert.equal(res.json.status, 'accepted');
    assert.equal(res.json.to, '+15551234567');
    assert.equal(res.json.account_sid, fake.accountSid);
    assert.equal(res.json.messaging_service_sid, fake.messagingServiceSid);
    assert.equal(res.json.error_code, null);
    assert.equal(res.json.uri, `/2010-04-01/Accounts/${fake.accountSid}/Messages/${res.json.sid}.json`);
    assert.equal(fake.messages.length, 1);
    assert.equal(fake.messages[0].riskCheck, 'enable');
    assert.equal(fake.lastCodeTo('15551234567'), '482913');
    assert.equal(fake.lastCodeTo('+15551234567'), '482913');
    assert.equal(fake.lastCodeTo('15550000000'), undefined);
    const m = await fake.waitForMessage('15551234567', { after: before });
    assert.equal(m.sid, res.json.sid);
    assert.equal(fake.requests[0].contentType, 'application/x-www-form-urlencoded');
    assert.equal(fake.requests[0].form.Body, 'Your sign-in code is 482913. It expires in 10 minutes.');
  });

  test('waitForMessage resolves on a later message and rejects after its timeout', async () => {
    fake.reset();
    const waiting = fake.waitForMessage('15557654321', { timeoutMs: 5000 });
    await sendSms(fake, { To: '+15557654321', Body: 'Code 111222' });
    assert.equal((await waiting).body, 'Code 111222');
    await assert.rejects(fake.waitForMessage('15550000001', { timeoutMs: 50 }), /no message/);
  });

  test('refuses what Twilio refuses, in Twilio\'s error shape', async () => {
    fake.reset();
    const cases = [
      [{}, { token: 'wrong' }, 401, 20003],
      [{}, { account: `AC${'0'.repeat(32)}` }, 404, 20404],
      [{ To: undefined }, {}, 400, 21604],
      [{ To: '15551234567' }, {}, 400, 21211],
      [{ MessagingServiceSid: undefined }, {}, 400, 21603],
      [{ MessagingServiceSid: `MG${'1'.repeat(32)}` }, {}, 400, 21705],
      [{ Body: undefined }, {}, 400, 21602],
      [{ Body: 'é'.repeat(1601) }, {}, 400, 21617],
      [{ RiskCheck: 'maybe' }, {}, 400, 21620],
    ];
    for (const [params, opts, status, code] of cases) {
      const res = await sendSms(fake, params, opts);
      assert.equal(res.status, status, JSON.stringify(params));
      assert.equal(res.json.code, code);
      assert.equal(res.json.status, status);
      assert.equal(typeof res.json.message, 'string');
      assert.equal(res.json.more_info, `https://www.twilio.com/docs/errors/${code}`);
    }
    // 1600 characters are fine.
    assert.equal((await sendSms(fake, { Body: 'é'.repeat(1600) })).status, 201);
    assert.equal(fake.messages.length, 1);
    const res = await twilio(fake, 'GET', `/2010-04-01/Accounts/${fake.accountSid}/Messages.json`);
    assert.equal(res.status, 405);
  });

  test('failure switches', async () => {
    const expect = [
      ['unauthorized', 401, 20003],
      ['rateLimited', 429, 20429],
      ['unsubscribed', 400, 21610],
    ];
    for (const [failure, status, code] of expect) {
      fake.reset();
      fake.failures = { [failure]: true };
      const res = await sendSms(fake);
      assert.equal(res.status, status, failure);
      assert.equal(res.json.code, code);
      assert.equal(fake.messages.length, 0);
    }
    fake.failures = { serverError: true };
    let res = await sendSms(fake);
    assert.equal(res.status, 500);
    assert.equal(res.json, undefined);
    fake.failures = { malformed: true };
    res = await sendSms(fake);
    assert.equal(res.status, 201);
    assert.equal(res.json, undefined);
    for (const failure of ['hang', 'slow']) {
      fake.failures = { [failure]: true };
      await assert.rejects(sendSms(fake, {}, { timeout: 300 }), { code: 'TIMEOUT' });
    }
    assert.ok(SLOW_MS > 10_000, 'slow must outlast the connector\'s 10 s timeout');
    assert.throws(() => {
      fake.failures = { nope: true };
    }, /unknown failure/);
    fake.reset();
    assert.deepEqual(Object.values(fake.failures).filter(Boolean), []);
    assert.equal((await sendSms(fake)).status, 201);
  });
});
