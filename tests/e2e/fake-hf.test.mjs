// The fake Hugging Face of the end-to-end tests (lib/fake-hf.mjs) checked on its own, so CI
// exercises it before and apart from the sign-in tests that use it: TLS with its test CA under
// the name huggingface.co, the authorize → token → userinfo flow as the connector drives it,
// the checks a real upstream makes (client authentication, single-use codes, redirect_uri), each
// failure switch, and that Chromium reaches it with the flags the sign-in tests pass.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH, startCallbackServer } from './lib/browser.mjs';
import { SLOW_USERINFO_MS, spkiHash, startFakeHf } from './lib/fake-hf.mjs';
import { requestFake } from './lib/fake-tls.mjs';

const REDIRECT_URI = 'http://localhost:3001/callback/hf0connector1';

/** An https request to https://huggingface.co<path> landing on the fake. */
const hf = (fake, method, path, opts) => requestFake(fake, 'huggingface.co', method, path, opts);

const form = (o) => new URLSearchParams(o).toString();
const basic = (fake, secret = fake.clientSecret) =>
  `Basic ${Buffer.from(`${fake.clientId}:${secret}`).toString('base64')}`;

function authorizeQuery(fake, { scope = 'openid profile email', state = 'st4te' } = {}) {
  // The connector's parameter order.
  return `/oauth/authorize?${form({
    response_type: 'code',
    client_id: fake.clientId,
    scope,
    redirect_uri: REDIRECT_URI,
    state,
  })}`;
}

/** Consent as the person would give it; resolves the URL the fake redirects to. */
async function consent(fake, decision, { scope = 'openid profile email', state = 'st4te' } = {}) {
  const page = await hf(fake, 'GET', authorizeQuery(fake, { scope, state }));
  assert.equal(page.status, 200);
  const res = await hf(fake, 'POST', '/oauth/authorize', {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form({ client_id: fake.clientId, redirect_uri: REDIRECT_URI, scope, state, decision }),
  });
  assert.equal(res.status, 302);
  return new URL(res.headers.location);
}

async function exchange(fake, code, { redirectUri = REDIRECT_URI, auth = basic(fake) } = {}) {
  return hf(fake, 'POST', '/oauth/token', {
    headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
    body: form({ grant_type: 'authorization_code', code, redirect_uri: redirectUri }),
  });
}

async function tokenFor(fake, scope = 'openid profile email') {
  const back = await consent(fake, 'allow', { scope });
  const res = await exchange(fake, back.searchParams.get('code'));
  assert.equal(res.status, 200);
  return `${res.json.token_type} ${res.json.access_token}`;
}

const userinfo = (fake, authorization, opts = {}) =>
  hf(fake, 'GET', '/oauth/userinfo', { headers: { authorization }, ...opts });

describe('fake Hugging Face', () => {
  let fake;
  const users = [
    {
      sub: '66a0000000000000000000a1',
      name: 'Grace Hopper',
      preferred_username: 'grace',
      profile: 'https://huggingface.co/grace',
      picture: 'https://cdn-avatars.huggingface.co/grace.png',
      email: 'grace@example.com',
      email_verified: true,
      isPro: false,
    },
    {
      sub: '66a0000000000000000000b2',
      name: 'Alan Turing',
      preferred_username: 'alan',
      picture: 'https://cdn-avatars.huggingface.co/alan.png',
      email: 'alan@example.com',
      email_verified: false,
      isPro: false,
    },
  ];

  before(async () => {
    fake = await startFakeHf({ users });
  });
  after(async () => {
    await fake?.stop();
  });

  test('serves TLS for huggingface.co under its test CA, and only that CA', async () => {
    const res = await hf(fake, 'GET', '/nowhere');
    assert.equal(res.status, 404);
    await assert.rejects(hf(fake, 'GET', '/nowhere', { systemCa: true }),
      (e) => /self.signed|unable to (get|verify)|local issuer/i.test(`${e.code} ${e.message}`));
    assert.equal(fake.connectTo, `huggingface.co:443:127.0.0.1:${fake.port}`);
    assert.equal(fake.hostResolverRules, `MAP huggingface.co:443 127.0.0.1:${fake.port}`);
  });

  test('spki is the SHA-256 of the key the server presents', async () => {
    const peer = await new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: fake.port, servername: 'huggingface.co',
        ca: fake.caCertPem }, () => {
        const pem = `-----BEGIN CERTIFICATE-----\n${
          s.getPeerCertificate().raw.toString('base64').replace(/.{64}/g, '$&\n')
        }\n-----END CERTIFICATE-----\n`;
        s.end();
        resolve(pem);
      });
      s.on('error', reject);
    });
    assert.equal(spkiHash(peer), fake.spki);
    assert.match(fake.spki, /^[A-Za-z0-9+/]{43}=$/);
    assert.ok(fake.chromiumArgs.includes(`--ignore-certificate-errors-spki-list=${fake.spki}`));
  });

  test('authorize shows a consent page with Allow and Deny', async () => {
    const res = await hf(fake, 'GET', authorizeQuery(fake));
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/html/);
    assert.match(res.text, /<button id="allow"/);
    assert.match(res.text, /<button id="deny"/);
    assert.match(res.text, /<span id="scope">openid profile email<\/span>/);
    const bad = await hf(fake, 'GET', authorizeQuery({ ...fake, clientId: 'someone-else' }));
    assert.equal(bad.status, 400);
  });

  test('Allow: code and state back to redirect_uri; token; userinfo', async () => {
    fake.reset();
    const back = await consent(fake, 'allow');
    assert.equal(`${back.origin}${back.pathname}`, REDIRECT_URI);
    assert.equal(back.searchParams.get('state'), 'st4te');
    const code = back.searchParams.get('code');
    assert.ok(code && code.length >= 20);

    const tok = await exchange(fake, code);
    assert.equal(tok.status, 200);
    assert.equal(tok.json.token_type, 'Bearer');
    assert.equal(tok.json.scope, 'openid profile email');
    assert.equal(typeof tok.json.expires_in, 'number');
    assert.ok(tok.json.access_token.length > 20);

    const me = await userinfo(fake, `Bearer ${tok.json.access_token}`);
    assert.equal(me.status, 200);
    assert.deepEqual(me.json, users[0]);
    assert.equal(fake.issued.codes, 1);
    assert.equal(fake.issued.tokens, 1);
    // The log shows what the connector sent.
    const t = fake.requests.find((r) => r.path === '/oauth/token');
    assert.equal(t.authorization, basic(fake));
    assert.equal(t.host, `huggingface.co:${fake.port}`);
  });

  test('the person picked on the consent page is the one userinfo returns', async () => {
    fake.user = users[1].sub;
    try {
      const me = await userinfo(fake, await tokenFor(fake));
      assert.equal(me.json.sub, users[1].sub);
      assert.equal(me.json.email_verified, false);
    } finally {
      fake.user = users[0];
    }
  });

  test('without the email scope there is no email', async () => {
    const me = await userinfo(fake, await tokenFor(fake, 'profile'));
    assert.equal(me.status, 200);
    assert.equal(me.json.sub, users[0].sub);
    assert.equal(me.json.preferred_username, 'grace');
    assert.equal(me.json.email, undefined);
    assert.equal(me.json.email_verified, undefined);
  });

  test('Deny: error=access_denied and state back to redirect_uri', async () => {
    const back = await consent(fake, 'deny', { state: 'abc' });
    assert.equal(`${back.origin}${back.pathname}`, REDIRECT_URI);
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.equal(back.searchParams.get('state'), 'abc');
    assert.equal(back.searchParams.get('code'), null);
  });

  test('token: client authentication, single-use codes, same redirect_uri', async () => {
    let code = (await consent(fake, 'allow')).searchParams.get('code');
    const wrongSecret = await exchange(fake, code, { auth: basic(fake, 'not-the-secret') });
    assert.equal(wrongSecret.status, 401);
    assert.equal(wrongSecret.json.error, 'invalid_client');
    assert.equal((await exchange(fake, code)).status, 200);
    const again = await exchange(fake, code);
    assert.equal(again.status, 400);
    assert.equal(again.json.error, 'invalid_grant');

    code = (await consent(fake, 'allow')).searchParams.get('code');
    const otherUri = await exchange(fake, code, { redirectUri: 'http://localhost:3001/elsewhere' });
    assert.equal(otherUri.status, 400);
    assert.equal(otherUri.json.error, 'invalid_grant');

    assert.equal((await userinfo(fake, 'Bearer not-a-token')).status, 401);
    assert.equal((await userinfo(fake, '')).status, 401);
  });

  test('failure: token endpoint 400', async () => {
    fake.failures = { token400: true };
    try {
      const code = (await consent(fake, 'allow')).searchParams.get('code');
      const res = await exchange(fake, code);
      assert.equal(res.status, 400);
      assert.equal(res.json.error, 'invalid_grant');
    } finally {
      fake.failures = {};
    }
    assert.ok(Object.values(fake.failures).every((v) => v === false), 'every failure switch reset');
  });

  test('failure: userinfo 401', async () => {
    const auth = await tokenFor(fake);
    fake.failures = { userinfo401: true };
    try {
      const res = await userinfo(fake, auth);
      assert.equal(res.status, 401);
    } finally {
      fake.failures = {};
    }
    assert.equal((await userinfo(fake, auth)).status, 200);
  });

  test('failure: userinfo malformed JSON', async () => {
    const auth = await tokenFor(fake);
    fake.failures = { userinfoMalformed: true };
    try {
      const res = await userinfo(fake, auth);
      assert.equal(res.status, 200);
      assert.equal(res.json, undefined);
      assert.throws(() => JSON.parse(res.text));
    } finally {
      fake.failures = {};
    }
  });

  test('failure: userinfo slower than the connector waits (5 s)', async () => {
    assert.ok(SLOW_USERINFO_MS > 5000);
    const auth = await tokenFor(fake);
    fake.failures = { userinfoSlow: true };
    try {
      const t0 = Date.now();
      await assert.rejects(userinfo(fake, auth, { timeout: 5200 }), { code: 'TIMEOUT' });
      assert.ok(Date.now() - t0 >= 5000);
    } finally {
      fake.failures = {};
    }
    assert.throws(() => {
      fake.failures = { nope: true };
    }, /unknown failure/);
  });

  test('Chromium reaches it as huggingface.co with chromiumArgs', {
    skip: existsSync(CHROMIUM_PATH) ? false : `no chromium at ${CHROMIUM_PATH}`,
  }, async () => {
    const rp = await startCallbackServer();
    const browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: [...CHROMIUM_ARGS, ...fake.chromiumArgs],
      timeout: 60000,
    });
    try {
      const page = await browser.newPage();
      const redirectUri = `${rp.origin}/api/auth/callback/hf`;
      await page.goto(`https://huggingface.co/oauth/authorize?${form({
        response_type: 'code', client_id: fake.clientId, scope: 'openid profile',
        redirect_uri: redirectUri, state: 'browser-state',
      })}`);
      assert.equal(new URL(page.url()).host, 'huggingface.co');
      await page.click('#allow');
      await page.waitForURL((u) => u.href.startsWith(redirectUri), { waitUntil: 'commit' });
      const back = new URL(page.url());
      assert.equal(back.searchParams.get('state'), 'browser-state');
      assert.ok(back.searchParams.get('code'));
    } finally {
      await browser.close();
      await rp.close();
    }
  });
});
