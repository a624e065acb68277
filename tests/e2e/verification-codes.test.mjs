// End-to-end tests of verification codes and the Experience API flows built on them (issue 11,
// items 3 and 4): Logto's POST /api/experience/verification/verification-code and …/verify,
// passwordless sign-in and sign-up, registration that requires a verified email, and forgot
// password; plus the sign-in experience fields that govern them in /api/sign-in-exp.
//
// Two kinds of tests. Those of sending need no delivery: validation, which event and identifier a
// tenant allows, the per-IP throttle, and identical answers for an address that has an account and
// one that has none. Those of what a code does after it was delivered plant the code the way
// latchd stores it (schema/0010: the HMAC-SHA-256, under the key HKDF derives from the run's
// LATCH_SECRET_KEY, of "tenant\nid\ntype\nvalue\ncode", bound to the interaction cookie's SHA-256),
// so that the test knows the code as a person who read the mail would.
//
// The last group sends real messages: through the test email and SMS connectors of ABI 1.1
// (tests/abi/mailer.c, "test-mailer" / "test-sms", loaded by a latchd from a connector directory),
// which write each message they are handed to a file; the code is read from there as a person
// reads it from the mail or the SMS. And the real thing: the SMTP connector
// (simple-mail-transfer-protocol) mailing a local SMTP server (npm smtp-server), whose mail gives
// the code; with the server down or refusing the login, a clear error and nothing created.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, hkdfSync } from 'node:crypto';
import { chmod, copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { adminQuery, buildDir, http, randomId, startLatchd } from './lib/harness.mjs';
import { startSmtpReceiver } from './lib/smtp-receiver.mjs';
import {
  ExperienceClient,
  TenantCtx,
  assertApiError,
  assertInvalidField,
  authUrl,
  eventually,
  expectStatus,
  jarFetch,
  pkcePair,
  uniqUsername,
} from './lib/oidc.mjs';

const RP = 'http://localhost:3000';
const IP_SENDS = 4; // LATCH_LIMIT_IP_CODE_SENDS of this node

const emailCodeSignIn = {
  signIn: { methods: [
    { identifier: 'username', password: true, verificationCode: false, isPasswordPrimary: true },
    { identifier: 'email', password: true, verificationCode: true, isPasswordPrimary: false },
  ] },
};

describe('verification codes and the flows they enable', () => {
  let srv;
  let codeKey;
  before(async () => {
    srv = await startLatchd({ env: { LATCH_LIMIT_IP_CODE_SENDS: String(IP_SENDS) } });
    codeKey = Buffer.from(hkdfSync('sha256', Buffer.from(srv.env.LATCH_SECRET_KEY, 'base64'), 'latch',
      'latch/verification-code/v1', 32));
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  /** A tenant (with signInExp patched) and a web app; open(event) starts an interaction. */
  async function tenant(name, signInExp) {
    const ctx = await TenantCtx.create(srv, name);
    if (signInExp) await ctx.patchSignInExp(signInExp);
    const app = await ctx.createWebApp(RP);
    const authParams = (extra = {}) => {
      const pkce = pkcePair();
      return {
        verifier: pkce.verifier,
        params: { client_id: app.id, redirect_uri: app.redirectUri, response_type: 'code',
          scope: 'openid offline_access profile', state: `st-${randomId(6)}`, nonce: 'n-1',
          code_challenge: pkce.challenge, code_challenge_method: 'S256', ...extra },
      };
    };
    const open = async (event = 'SignIn', xp = new ExperienceClient(ctx)) => {
      await xp.start(authUrl(ctx, authParams().params));
      if (event) await xp.begin(event);
      return xp;
    };
    const redeem = (code, verifier) => ctx.tokenRequest({ client: app, params: {
      grant_type: 'authorization_code', code, redirect_uri: app.redirectUri, code_verifier: verifier } });
    return { ctx, app, open, authParams, redeem };
  }

  const send = (xp, value, interactionEvent = 'SignIn', type = 'email') =>
    xp.call('POST', '/verification/verification-code', { identifier: { type, value }, interactionEvent });
  const verify = (xp, verificationId, value, code, type = 'email') =>
    xp.call('POST', '/verification/verification-code/verify', { identifier: { type, value }, verificationId, code });

  /**
   * A code as latchd stores one that was sent to value for this interaction: resolves
   * {verificationId, code}. `expired` backdates it.
   */
  async function plant(xp, value, template, { type = 'email', code = null, expired = false, maxTries = 10,
    tenantId = xp.ctx.id } = {}) {
    const id = randomId(21).toLowerCase();
    const theCode = code ?? String(Math.floor(Math.random() * 1e6)).padStart(6, '0');
    const canonical = type === 'email' ? value.toLowerCase() : value;
    const hash = createHmac('sha256', codeKey)
      .update(`${tenantId}\n${id}\n${type}\n${canonical}\n${theCode}`).digest();
    // A Management API code (xp null) belongs to no interaction.
    const interaction = xp ? createHash('sha256').update(xp.jar.get(xp.interactionCookie)).digest() : null;
    await adminQuery(
      `INSERT INTO verification_codes (tenant_id, id, interaction_hash, identifier_type, identifier,
         template_type, code_hash, created_at, expires_at, max_tries)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now() - interval '2 hours',
         now() + CASE WHEN $8 THEN interval '-1 second' ELSE interval '10 minutes' END, $9)`,
      [tenantId, id, interaction, type, value, template, hash, expired, maxTries]);
    return { verificationId: id, code: theCode };
  }

  /** A wrong code for `code` (never equal to it). */
  const wrong = (code) => String((Number(code) + 1) % 1e6).padStart(6, '0');

  /** Whether the browser's session is alive: prompt=none gives a code, or login_required. */
  async function sessionAlive(t, xp) {
    const a = t.authParams({ prompt: 'none' });
    const res = await jarFetch(xp.jar, authUrl(t.ctx, a.params));
    assert.ok(res.status === 302 || res.status === 303, `prompt=none: ${res.status} ${res.text.slice(0, 200)}`);
    const p = new URL(res.location).searchParams;
    if (p.get('code')) return true;
    assert.equal(p.get('error'), 'login_required', `prompt=none: ${res.location}`);
    return false;
  }

  /** identification + submit + resume; resolves the callback URL. */
  async function finish(xp, verificationId, identStatus = 204) {
    const ident = await xp.call('POST', '/identification', { verificationId });
    assert.equal(ident.status, identStatus, `identification: ${ident.text}`);
    const sub = await xp.call('POST', '/submit');
    assert.equal(sub.status, 200, `submit: ${sub.text}`);
    return new URL(await xp.resume(new URL(sub.json().redirectTo, `${xp.ctx.base}/`).href));
  }

  describe('the sign-in experience fields', () => {
    it('GET /api/sign-in-exp has Logto\'s defaults: username and password, no password reset', async () => {
      const { ctx } = await tenant('codedefaults');
      const api = await ctx.api();
      const sie = expectStatus(await api.get('/sign-in-exp'), 200, 'GET /sign-in-exp');
      assert.deepEqual(sie.signIn, { methods: [
        { identifier: 'username', password: true, verificationCode: false, isPasswordPrimary: true }] });
      assert.deepEqual(sie.forgotPasswordMethods, []);
      assert.deepEqual(sie.verificationCodePolicy, {});
      assert.deepEqual(sie.signUp, { identifiers: ['username'], password: true, verify: false });
    });

    it('PATCH validates signIn, forgotPasswordMethods and verificationCodePolicy and stores them in Logto\'s shapes', async () => {
      const { ctx } = await tenant('codepatch');
      const api = await ctx.api();
      const sie = await ctx.patchSignInExp({ ...emailCodeSignIn,
        forgotPasswordMethods: ['EmailVerificationCode'],
        verificationCodePolicy: { expirationDuration: 300 } });
      assert.deepEqual(sie.signIn, emailCodeSignIn.signIn);
      assert.deepEqual(sie.forgotPasswordMethods, ['EmailVerificationCode']);
      assert.deepEqual(sie.verificationCodePolicy, { expirationDuration: 300, maxRetryAttempts: 10 });
      const again = expectStatus(await api.get('/sign-in-exp'), 200, 'GET after PATCH');
      assert.deepEqual(again.forgotPasswordMethods, ['EmailVerificationCode']);

      for (const [body, field] of [
        [{ signIn: { methods: [{ identifier: 'username', verificationCode: true }] } }, 'signIn.methods[0]'],
        [{ signIn: { methods: [{ identifier: 'email' }, { identifier: 'email' }] } }, 'signIn.methods[1]'],
        [{ signIn: { methods: [{ identifier: 'fax' }] } }, 'signIn.methods[0]'],
        [{ forgotPasswordMethods: ['Password'] }, 'forgotPasswordMethods'],
        [{ forgotPasswordMethods: 'EmailVerificationCode' }, 'forgotPasswordMethods'],
        [{ verificationCodePolicy: { expirationDuration: 30 } }, 'verificationCodePolicy.expirationDuration'],
        [{ verificationCodePolicy: { maxRetryAttempts: 101 } }, 'verificationCodePolicy.maxRetryAttempts'],
      ]) {
        assertInvalidField(await api.patch('/sign-in-exp', body), field, JSON.stringify(body));
      }
      // Nothing of the refused bodies was stored.
      const after = expectStatus(await api.get('/sign-in-exp'), 200, 'GET after refusals');
      assert.deepEqual(after.signIn, emailCodeSignIn.signIn);
      assert.deepEqual(after.verificationCodePolicy, { expirationDuration: 300, maxRetryAttempts: 10 });
    });
  });

  describe('sending', () => {
    it('refuses malformed bodies with 400 naming the field', async () => {
      const { open } = await tenant('codebad', emailCodeSignIn);
      const xp = await open();
      for (const [body, field] of [
        [{ interactionEvent: 'SignIn' }, 'identifier'],
        [{ identifier: { type: 'username', value: 'alice' }, interactionEvent: 'SignIn' }, 'identifier.type'],
        [{ identifier: { type: 'email', value: 'not-an-email' }, interactionEvent: 'SignIn' }, 'identifier.value'],
        [{ identifier: { type: 'phone', value: '+1 555' }, interactionEvent: 'SignIn' }, 'identifier.value'],
        [{ identifier: { type: 'email', value: `${'a'.repeat(130)}@x.io` }, interactionEvent: 'SignIn' }, 'identifier.value'],
        [{ identifier: { type: 'email', value: 'a@b.io' } }, 'interactionEvent'],
        [{ identifier: { type: 'email', value: 'a@b.io' }, interactionEvent: 'Login' }, 'interactionEvent'],
      ]) {
        const res = await xp.call('POST', '/verification/verification-code', body);
        assertInvalidField(res, field, JSON.stringify(body));
      }
      // Without the CSRF token: refused before anything is sent.
      const res = await xp.call('POST', '/verification/verification-code',
        { identifier: { type: 'email', value: 'a@b.io' }, interactionEvent: 'SignIn' }, { csrf: false });
      assert.equal(assertApiError(res, 403, 'no CSRF token').code, 'session.csrf_token_mismatch');
    });

    it('sends only what the tenant enabled: sign-in codes, sign-up identifiers, password reset', async () => {
      const { open } = await tenant('codeoff');
      const xp = await open();
      let res = await send(xp, 'a@b.io', 'SignIn');
      assert.equal(assertApiError(res, 422, 'SignIn code by default').code, 'user.sign_in_method_not_enabled');
      res = await send(xp, 'a@b.io', 'Register');
      assert.equal(assertApiError(res, 422, 'Register code by default').code, 'user.sign_up_method_not_enabled');
      res = await send(xp, 'a@b.io', 'ForgotPassword');
      assert.equal(assertApiError(res, 422, 'ForgotPassword code by default').code, 'session.forgot_password_not_enabled');
    });

    it('ForgotPassword as the interaction event is refused until forgotPasswordMethods enables it', async () => {
      const { ctx, open } = await tenant('codeforgot');
      const xp = await open(null);
      const refused = await xp.call('PUT', '', { interactionEvent: 'ForgotPassword' });
      assert.equal(assertApiError(refused, 422, 'ForgotPassword off').code, 'session.forgot_password_not_enabled');
      await ctx.patchSignInExp({ forgotPasswordMethods: ['EmailVerificationCode'] });
      const ok = await xp.call('PUT', '', { interactionEvent: 'ForgotPassword' });
      assert.equal(ok.status, 204, ok.text);
      const state = await xp.loadInteraction();
      assert.equal(state.interactionEvent, 'ForgotPassword');
      // A sign-in-less tenant has no password to reset.
      await ctx.patchSignInExp({ signInMode: 'Register' });
      const reg = await xp.call('PUT', '/interaction-event', { interactionEvent: 'ForgotPassword' });
      assertApiError(reg, 403, 'ForgotPassword with signInMode Register');
    });

    it('answers a code to an address nobody has exactly as one to an account\'s address', async () => {
      const { ctx, open } = await tenant('codeenum', emailCodeSignIn);
      const known = `${uniqUsername('kim')}@example.com`;
      await ctx.createUser({ primaryEmail: known });
      const unknown = `${uniqUsername('nobody')}@example.com`;
      const answers = [];
      for (const value of [known, unknown]) {
        const res = await send(await open(), value);
        const body = JSON.parse(res.text);
        answers.push({ status: res.status, code: body.code, message: body.message,
          hasId: typeof body.verificationId === 'string' });
      }
      assert.deepEqual(answers[1], answers[0], 'same answer whether or not an account has the address');
      const rows = await adminQuery(
        'SELECT count(*)::int AS n FROM verification_codes WHERE tenant_id = $1', [ctx.id]);
      if (answers[0].status === 200) {
        assert.equal(rows.rows[0].n, 2, 'both codes stored');
      } else {
        // No email connector in this tenant: nothing was sent, and no code is left behind.
        assert.equal(answers[0].code, 'connector.not_found', JSON.stringify(answers[0]));
        assert.equal(rows.rows[0].n, 0, 'an unsent code is forgotten');
      }
    });

    it('throttles sends per tenant and client IP: 429 with Retry-After and when to retry', async () => {
      const { open } = await tenant('codeip', emailCodeSignIn);
      const xp = await open();
      for (let i = 0; i < IP_SENDS; i++) {
        const res = await send(xp, `${uniqUsername('ip')}@example.com`);
        assert.notEqual(res.status, 429, `send ${i + 1} of ${IP_SENDS}: ${res.text}`);
      }
      const res = await send(xp, `${uniqUsername('ip')}@example.com`);
      const body = assertApiError(res, 429, 'one send too many');
      assert.equal(body.code, 'guard.too_many_requests');
      assert.match(body.message, /try again in \d+ seconds?/);
      const ra = Number(res.headers.get('retry-after'));
      assert.ok(ra >= 1 && ra <= 60, `Retry-After ${res.headers.get('retry-after')}`);
      // Another tenant's budget is its own.
      const other = await tenant('codeip2', emailCodeSignIn);
      const fresh = await send(await other.open(), `${uniqUsername('ip')}@example.com`);
      assert.notEqual(fresh.status, 429, fresh.text);
    });
  });

  describe('checking a code', () => {
    it('a wrong code counts; past maxRetryAttempts even the right code is refused', async () => {
      const { ctx, open } = await tenant('codetries', { ...emailCodeSignIn,
        verificationCodePolicy: { maxRetryAttempts: 3 } });
      const xp = await open();
      const email = `${uniqUsername('t')}@example.com`;
      const c = await plant(xp, email, 'SignIn', { maxTries: 3 });
      for (let i = 0; i < 3; i++) {
        const res = await verify(xp, c.verificationId, email, wrong(c.code));
        assert.equal(assertApiError(res, 400, `wrong code ${i + 1}`).code, 'verification_code.code_mismatch');
      }
      const res = await verify(xp, c.verificationId, email, c.code);
      assert.equal(assertApiError(res, 400, 'right code after 3 wrong').code, 'verification_code.exceed_max_try');
      const rows = await adminQuery('SELECT try_count, verified_at FROM verification_codes WHERE tenant_id = $1 AND id = $2',
        [ctx.id, c.verificationId]);
      assert.equal(rows.rows[0].try_count, 3);
      assert.equal(rows.rows[0].verified_at, null);
    });

    it('concurrent guesses cannot exceed the bound', async () => {
      const { ctx, open } = await tenant('coderace', emailCodeSignIn);
      const xp = await open();
      const email = `${uniqUsername('r')}@example.com`;
      const c = await plant(xp, email, 'SignIn', { maxTries: 5 });
      const guesses = await Promise.all(Array.from({ length: 20 }, (_, i) =>
        verify(xp, c.verificationId, email, String((Number(c.code) + 1 + i) % 1e6).padStart(6, '0'))));
      const codes = guesses.map((r) => JSON.parse(r.text).code);
      assert.equal(codes.filter((x) => x === 'verification_code.code_mismatch').length, 5, codes.join());
      assert.equal(codes.filter((x) => x === 'verification_code.exceed_max_try').length, 15, codes.join());
      const rows = await adminQuery('SELECT try_count FROM verification_codes WHERE tenant_id = $1 AND id = $2',
        [ctx.id, c.verificationId]);
      assert.equal(rows.rows[0].try_count, 5);
    });

    it('expired, sent to another address, of another interaction, used once already: Logto\'s errors', async () => {
      const { open } = await tenant('codeerrs', emailCodeSignIn);
      const xp = await open();
      const email = `${uniqUsername('e')}@example.com`;
      const old = await plant(xp, email, 'SignIn', { expired: true });
      let res = await verify(xp, old.verificationId, email, old.code);
      assert.equal(assertApiError(res, 400, 'expired').code, 'verification_code.expired');

      const c = await plant(xp, email, 'SignIn');
      res = await verify(xp, c.verificationId, `x${email}`, c.code);
      assert.equal(assertApiError(res, 400, 'other address').code, 'verification_code.email_mismatch');
      res = await verify(xp, c.verificationId, '15550001', c.code, 'phone');
      assert.equal(assertApiError(res, 400, 'other identifier type').code, 'verification_code.not_found');

      const stranger = await open();
      res = await verify(stranger, c.verificationId, email, c.code);
      assert.equal(assertApiError(res, 400, 'another interaction').code, 'verification_code.not_found');

      res = await verify(xp, c.verificationId, email.toUpperCase(), c.code);
      assert.equal(res.status, 200, `right code (address in another case): ${res.text}`);
      assert.equal(res.json().verificationId, c.verificationId);
      res = await verify(xp, c.verificationId, email, c.code);
      assert.equal(assertApiError(res, 400, 'second use').code, 'verification_code.not_found');

      res = await verify(xp, 'nosuchverification', email, '123456');
      assert.equal(assertApiError(res, 400, 'unknown id').code, 'verification_code.not_found');
      res = await xp.call('POST', '/verification/verification-code/verify',
        { identifier: { type: 'email', value: email }, verificationId: c.verificationId, code: '1'.repeat(33) });
      assertInvalidField(res, 'code', 'an over-long code');
    });
  });

  describe('passwordless sign-in', () => {
    it('a verified email code signs in the user who has that email; tokens follow', async () => {
      const t = await tenant('codesignin', emailCodeSignIn);
      const email = `${uniqUsername('pat')}@example.com`.toLowerCase();
      const user = await t.ctx.createUser({ primaryEmail: email });
      const xp = await t.open();
      const c = await plant(xp, email, 'SignIn');
      const v = await verify(xp, c.verificationId, email.toUpperCase(), c.code);
      assert.equal(v.status, 200, v.text);
      const a = t.authParams();
      await xp.start(authUrl(t.ctx, a.params));
      await xp.begin('SignIn');
      // The restart (PUT /api/experience) dropped the verification: a new code is needed.
      const stale = await xp.call('POST', '/identification', { verificationId: c.verificationId });
      assertApiError(stale, 404, 'verification after a restart');
      const c2 = await plant(xp, email, 'SignIn');
      assert.equal((await verify(xp, c2.verificationId, email, c2.code)).status, 200);
      const callback = await finish(xp, c2.verificationId);
      const tokens = await t.redeem(callback.searchParams.get('code'), a.verifier);
      assert.equal(tokens.status, 200, tokens.text);
      const claims = JSON.parse(Buffer.from(tokens.json().id_token.split('.')[1], 'base64url'));
      assert.equal(claims.sub, user.id);
      // The code was consumed by the identification.
      const again = await xp.call('POST', '/identification', { verificationId: c2.verificationId });
      assert.ok(again.status >= 400, `a consumed code identifies nobody: ${again.status}`);
    });

    it('after a verified code, an address nobody has is said so (404 user.user_not_exist) and nobody signs in', async () => {
      const t = await tenant('codenouser', emailCodeSignIn);
      const xp = await t.open();
      const email = `${uniqUsername('ghost')}@example.com`;
      const c = await plant(xp, email, 'SignIn');
      assert.equal((await verify(xp, c.verificationId, email, c.code)).status, 200);
      const ident = await xp.call('POST', '/identification', { verificationId: c.verificationId });
      assert.equal(assertApiError(ident, 404, 'unknown address').code, 'user.user_not_exist');
      const sub = await xp.call('POST', '/submit');
      assertApiError(sub, 400, 'submit without anyone identified');
    });

    it('a code sent for registration does not sign in', async () => {
      const t = await tenant('codewrongtpl', { ...emailCodeSignIn,
        signUp: { identifiers: ['email'], password: false, verify: true } });
      const email = `${uniqUsername('reg')}@example.com`;
      await t.ctx.createUser({ primaryEmail: email });
      const xp = await t.open();
      const c = await plant(xp, email, 'Register');
      assert.equal((await verify(xp, c.verificationId, email, c.code)).status, 200);
      const ident = await xp.call('POST', '/identification', { verificationId: c.verificationId });
      assert.equal(assertApiError(ident, 400, 'Register code at SignIn').code, 'session.verification_failed');
    });

    it('a suspended user is refused', async () => {
      const t = await tenant('codesusp', emailCodeSignIn);
      const email = `${uniqUsername('sus')}@example.com`;
      const user = await t.ctx.createUser({ primaryEmail: email });
      await t.ctx.suspendUser(user.id);
      const xp = await t.open();
      const c = await plant(xp, email, 'SignIn');
      assert.equal((await verify(xp, c.verificationId, email, c.code)).status, 200);
      const ident = await xp.call('POST', '/identification', { verificationId: c.verificationId });
      assert.equal(assertApiError(ident, 401, 'suspended').code, 'user.suspended');
    });
  });

  describe('sign-up with a verified email', () => {
    it('passwordless: a verified email creates the user with it as primary email', async () => {
      const t = await tenant('codesignup', { signUp: { identifiers: ['email'], password: false, verify: true } });
      const xp = await t.open('Register');
      const email = `${uniqUsername('new')}@example.com`;
      const c = await plant(xp, email, 'Register');
      assert.equal((await verify(xp, c.verificationId, email, c.code)).status, 200);
      const callback = await finish(xp, c.verificationId, 201);
      assert.ok(callback.searchParams.get('code'), `a code at the callback: ${callback}`);
      const found = await t.ctx.searchUsers(email);
      assert.equal(found.length, 1, `one user with ${email}`);
      assert.equal(found[0].primaryEmail, email);
      assert.equal(found[0].hasPassword, false);

      // The audit log: the code checked and the registration submitted, naming the new user;
      // the code itself is never stored.
      const api = await t.ctx.api();
      await eventually(async () => expectStatus(await api.get(
        `/logs?userId=${found[0].id}&logKey=Interaction.Register.Submit`), 200, 'submit entries').length === 1,
      'Interaction.Register.Submit of the new user', 5000);
      const checked = expectStatus(await api.get(
        '/logs?logKey=Interaction.Register.Verification.EmailVerificationCode.Submit'), 200, 'code entries');
      assert.ok(checked.some((e) => e.payload.result === 'Success' && e.payload.verificationId === c.verificationId),
        JSON.stringify(checked));
      const { rows } = await adminQuery('SELECT l::text AS t FROM logs l WHERE tenant_id = $1', [t.ctx.id]);
      assert.ok(rows.length > 0 && rows.every((r) => !r.t.includes(c.code)), 'no stored entry holds the code');

      // The same address again: taken.
      const xp2 = await t.open('Register');
      const c2 = await plant(xp2, email.toUpperCase(), 'Register');
      assert.equal((await verify(xp2, c2.verificationId, email.toUpperCase(), c2.code)).status, 200);
      const ident = await xp2.call('POST', '/identification', { verificationId: c2.verificationId });
      assert.equal(assertApiError(ident, 422, 'address taken').code, 'user.email_already_in_use');
    });

    it('signUp.verify: no account before the email is verified; then username, password and email together', async () => {
      const t = await tenant('codeverify', { signUp: { identifiers: ['username', 'email'], password: true, verify: true } });
      const xp = await t.open('Register');
      const username = uniqUsername('vera');
      const password = `Pw-${randomId(12)}-9x!Q`;
      const npi = await xp.call('POST', '/verification/new-password-identity',
        { identifier: { type: 'username', value: username }, password });
      assert.equal(npi.status, 200, npi.text);
      const refused = await xp.call('POST', '/identification', { verificationId: npi.json().verificationId });
      const body = assertApiError(refused, 422, 'registration before the email is verified');
      assert.equal(body.code, 'user.missing_profile');
      assert.deepEqual(body.data, { missingProfile: ['email'] });
      assert.equal((await t.ctx.searchUsers(username)).length, 0, 'no user was created');

      const email = `${username}@example.com`;
      const c = await plant(xp, email, 'Register');
      assert.equal((await verify(xp, c.verificationId, email, c.code)).status, 200);
      await finish(xp, c.verificationId, 201);
      const found = await t.ctx.searchUsers(username);
      assert.equal(found.length, 1);
      assert.equal(found[0].primaryEmail, email);
      assert.equal(found[0].hasPassword, true);
      // The password works.
      const next = await t.open();
      assert.equal((await next.verifyPassword(username, password)).status, 200);
    });

    it('a code alone does not create an account when signUp asks for a username and password', async () => {
      const t = await tenant('codeneedpw', { signUp: { identifiers: ['username', 'email'], password: true, verify: true } });
      const xp = await t.open('Register');
      const email = `${uniqUsername('np')}@example.com`;
      const c = await plant(xp, email, 'Register');
      assert.equal((await verify(xp, c.verificationId, email, c.code)).status, 200);
      const ident = await xp.call('POST', '/identification', { verificationId: c.verificationId });
      const body = assertApiError(ident, 422, 'code without username');
      assert.equal(body.code, 'user.missing_profile');
      assert.equal((await t.ctx.searchUsers(email)).length, 0);
    });
  });

  describe('Management API /api/verification-codes', () => {
    it('sends a Generic code (or says there is no connector) and verifies the latest one once', async () => {
      const { ctx } = await tenant('codemgmt');
      const api = await ctx.api();
      const email = `${uniqUsername('m')}@example.com`;
      assertInvalidField(await api.post('/verification-codes', {}), 'email', 'neither email nor phone');
      assertInvalidField(await api.post('/verification-codes', { email: 'nope' }), 'email', 'a bad email');
      const sent = await api.post('/verification-codes', { email });
      if (sent.status !== 204) assert.equal(assertApiError(sent, 400, 'no connector').code, 'connector.not_found');

      const c = await plant(null, email, 'Generic', { tenantId: ctx.id });
      let res = await api.post('/verification-codes/verify', { email, verificationCode: wrong(c.code) });
      assert.equal(assertApiError(res, 400, 'wrong code').code, 'verification_code.code_mismatch');
      res = await api.post('/verification-codes/verify', { email: `x${email}`, verificationCode: c.code });
      assert.equal(assertApiError(res, 400, 'another address').code, 'verification_code.not_found');
      res = await api.post('/verification-codes/verify', { email, verificationCode: c.code });
      assert.equal(res.status, 204, res.text);
      res = await api.post('/verification-codes/verify', { email, verificationCode: c.code });
      assert.equal(assertApiError(res, 400, 'used twice').code, 'verification_code.not_found');
    });
  });

  describe('forgot password', () => {
    it('a code, a new password checked against the policy, then every session and refresh token is dead', async () => {
      const t = await tenant('codereset', { forgotPasswordMethods: ['EmailVerificationCode'] });
      const email = `${uniqUsername('fay')}@example.com`;
      const user = await t.ctx.createUser({ primaryEmail: email });

      // A signed-in browser with a refresh token and an access token.
      const old = new ExperienceClient(t.ctx);
      const a = t.authParams();
      const cb = new URL(await old.signIn(authUrl(t.ctx, a.params), user.username, user.password));
      const tokens = await t.redeem(cb.searchParams.get('code'), a.verifier);
      assert.equal(tokens.status, 200, tokens.text);
      const { refresh_token: rt, access_token: at } = tokens.json();
      assert.equal(await sessionAlive(t, old), true);
      const me = (token) => http(`${t.ctx.base}/oidc/me`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal((await me(at)).status, 200);

      const xp = await t.open('ForgotPassword');
      // Submit before anything: nobody identified.
      assertApiError(await xp.call('POST', '/submit'), 400, 'submit before identification');
      // A password before identification is refused.
      const early = await xp.call('PUT', '/profile/password', { password: 'Another-9x!Qpass' });
      assert.equal(assertApiError(early, 400, 'password before identification').code, 'session.identifier_not_found');

      const c = await plant(xp, email, 'ForgotPassword');
      assert.equal((await verify(xp, c.verificationId, email, c.code)).status, 200);
      const ident = await xp.call('POST', '/identification', { verificationId: c.verificationId });
      assert.equal(ident.status, 204, ident.text);
      assert.equal(assertApiError(await xp.call('POST', '/submit'), 422, 'submit before the new password').code,
        'user.new_password_required_in_profile');

      const weak = await xp.call('PUT', '/profile/password', { password: 'short' });
      const rejected = assertApiError(weak, 422, 'a password shorter than the policy');
      assert.equal(rejected.code, 'password.rejected');
      assert.ok(rejected.data.issues.some((i) => i.code === 'password_rejected.too_short'), weak.text);

      const newPassword = `New-${randomId(12)}-7y!R`;
      const set = await xp.call('PUT', '/profile/password', { password: newPassword });
      assert.equal(set.status, 204, set.text);
      // Nothing changed yet.
      assert.equal((await (await t.open()).verifyPassword(user.username, user.password)).status, 200);

      const sub = await xp.call('POST', '/submit');
      assert.equal(sub.status, 204, sub.text);
      const state = await xp.loadInteraction();
      assert.equal(state.interactionEvent, null, 'the interaction starts over');

      const oldPw = await (await t.open()).verifyPassword(user.username, user.password);
      assert.equal(assertApiError(oldPw, 422, 'the old password').code, 'session.invalid_credentials');
      assert.equal((await (await t.open()).verifyPassword(email, newPassword, { type: 'email' })).status, 200);

      assert.equal(await sessionAlive(t, old), false, 'the old session has ended');
      const refreshed = await t.ctx.tokenRequest({ client: t.app, params: { grant_type: 'refresh_token', refresh_token: rt } });
      assert.equal(refreshed.status, 400, refreshed.text);
      assert.equal(refreshed.json().error, 'invalid_grant');
      assert.equal((await me(at)).status, 401, 'the old access token is refused at userinfo');

      // The same interaction signs in with the new password.
      await xp.begin('SignIn');
      const v = await xp.verifyPassword(user.username, newPassword);
      assert.equal(v.status, 200, v.text);
    });

    it('a reset needs a code: a password verification does not identify for ForgotPassword', async () => {
      const t = await tenant('coderesetpw', { forgotPasswordMethods: ['EmailVerificationCode'] });
      const user = await t.ctx.createUser({ primaryEmail: `${uniqUsername('pp')}@example.com` });
      const xp = await t.open('SignIn');
      const v = await xp.verifyPassword(user.username, user.password);
      assert.equal(v.status, 200);
      const ev = await xp.call('PUT', '/interaction-event', { interactionEvent: 'ForgotPassword' });
      assert.equal(ev.status, 204, ev.text);
      const ident = await xp.call('POST', '/identification', { verificationId: v.json().verificationId });
      assert.equal(assertApiError(ident, 400, 'password verification for ForgotPassword').code,
        'session.verification_failed');
    });

    it('a phone code is refused when only email resets are enabled', async () => {
      const t = await tenant('codephonerst', { forgotPasswordMethods: ['EmailVerificationCode'] });
      const xp = await t.open('ForgotPassword');
      const res = await send(xp, '15550001', 'ForgotPassword', 'phone');
      assert.equal(assertApiError(res, 422, 'phone reset').code, 'session.forgot_password_not_enabled');
    });
  });
});

describe('verification codes delivered through an email and an SMS connector', () => {
  let srv;
  let dir;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'latch-codes-'));
    await chmod(dir, 0o755);
    for (const name of ['mailer.so', 'mailer_sms.so']) {
      await copyFile(path.join(buildDir, 'tests', 'abi', name), path.join(dir, name));
      await chmod(path.join(dir, name), 0o755);
    }
    srv = await startLatchd({ env: { LATCH_CONNECTOR_DIR: dir } });
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A tenant with the test email and SMS connectors; inbox(kind) reads the last message. */
  async function tenant(name, signInExp) {
    const ctx = await TenantCtx.create(srv, name);
    const api = await ctx.api();
    const files = { email: path.join(dir, `${ctx.id}-mail.json`), sms: path.join(dir, `${ctx.id}-sms.json`) };
    for (const [connectorId, outFile] of [['test-mailer', files.email], ['test-sms', files.sms]]) {
      expectStatus(await api.post('/connectors', { connectorId, config: { outFile } }), [200, 201],
        `create ${connectorId}`);
    }
    if (signInExp) await ctx.patchSignInExp(signInExp);
    const app = await ctx.createWebApp(RP);
    const open = async (event = 'SignIn') => {
      const pkce = pkcePair();
      const xp = new ExperienceClient(ctx);
      await xp.start(authUrl(ctx, { client_id: app.id, redirect_uri: app.redirectUri, response_type: 'code',
        scope: 'openid profile', state: `st-${randomId(6)}`, nonce: 'n-1',
        code_challenge: pkce.challenge, code_challenge_method: 'S256' }));
      if (event) await xp.begin(event);
      return xp;
    };
    /** The message the connector was last handed (after a 200 it has been written). */
    const inbox = async (kind = 'email') => JSON.parse(await readFile(files[kind], 'utf8'));
    return { ctx, api, app, open, inbox, files };
  }

  const send = (xp, value, interactionEvent, type = 'email') =>
    xp.call('POST', '/verification/verification-code', { identifier: { type, value }, interactionEvent });
  const verify = (xp, verificationId, value, code, type = 'email') =>
    xp.call('POST', '/verification/verification-code/verify', { identifier: { type, value }, verificationId, code });

  /** Sends a code to value and reads it from the message; resolves {verificationId, code, message}. */
  async function sendAndRead(t, xp, value, event, type = 'email') {
    const res = await send(xp, value, event, type);
    assert.equal(res.status, 200, `send ${event} code to ${value}: ${res.text}`);
    const { verificationId } = res.json();
    assert.equal(typeof verificationId, 'string');
    const message = await t.inbox(type === 'phone' ? 'sms' : 'email');
    assert.equal(message.to, value, 'the message went to the address asked for');
    assert.equal(message.type_name, event, 'Logto\'s template type of the event');
    assert.match(message.vars.code, /^[0-9]{6}$/, `a 6-digit code in ${JSON.stringify(message.vars)}`);
    return { verificationId, code: message.vars.code, message };
  }

  it('passwordless sign-up, then sign-in, with codes read from the mail; the code is stored only hashed', async () => {
    const t = await tenant('mailsignup', { ...emailCodeSignIn,
      signUp: { identifiers: ['email'], password: false, verify: true } });
    const email = `${uniqUsername('mia')}@example.com`.toLowerCase();
    const xp = await t.open('Register');
    const c = await sendAndRead(t, xp, email, 'Register');
    assert.match(c.message.body, new RegExp(`Register: your code is ${c.code}`));
    const stored = await adminQuery('SELECT code_hash FROM verification_codes WHERE tenant_id = $1 AND id = $2',
      [t.ctx.id, c.verificationId]);
    assert.equal(stored.rows.length, 1);
    assert.ok(!stored.rows[0].code_hash.toString('hex').includes(Buffer.from(c.code).toString('hex')) &&
      !stored.rows[0].code_hash.toString('latin1').includes(c.code), 'the code is not stored in clear');
    const v = await verify(xp, c.verificationId, email, c.code);
    assert.equal(v.status, 200, v.text);
    assert.equal((await xp.call('POST', '/identification', { verificationId: c.verificationId })).status, 201);
    const sub = await xp.call('POST', '/submit');
    assert.equal(sub.status, 200, sub.text);
    const [user] = await t.ctx.searchUsers(email);
    assert.equal(user?.primaryEmail, email);

    // The address had its code less than a minute ago: let the minute pass.
    await adminQuery("UPDATE verification_codes SET created_at = created_at - interval '61 seconds' WHERE tenant_id = $1",
      [t.ctx.id]);
    const si = await t.open('SignIn');
    const c2 = await sendAndRead(t, si, email, 'SignIn');
    assert.equal((await verify(si, c2.verificationId, email, c2.code)).status, 200);
    assert.equal((await si.call('POST', '/identification', { verificationId: c2.verificationId })).status, 204);
    const sub2 = await si.call('POST', '/submit');
    assert.equal(sub2.status, 200, sub2.text);
    const landed = new URL(await si.resume(new URL(sub2.json().redirectTo, `${t.ctx.base}/`).href));
    assert.ok(landed.searchParams.get('code'), `signed in: ${landed}`);
  });

  it('an address nobody has gets the same answer and the same mail as an account\'s', async () => {
    const t = await tenant('mailenum', emailCodeSignIn);
    const known = `${uniqUsername('kay')}@example.com`;
    await t.ctx.createUser({ primaryEmail: known });
    const unknown = `${uniqUsername('nobody')}@example.com`;
    const seen = [];
    for (const value of [known, unknown]) {
      const res = await send(await t.open(), value, 'SignIn');
      const body = res.json();
      const message = await t.inbox();
      seen.push({ status: res.status, keys: Object.keys(body).sort(), idLength: body.verificationId.length,
        type: message.type_name, codeShape: /^[0-9]{6}$/.test(message.vars.code), to: message.to === value });
    }
    assert.deepEqual(seen[1], seen[0]);
    assert.equal(seen[0].status, 200);
  });

  it('a second code to the same address within a minute: 429 with Retry-After, whichever interaction asks', async () => {
    const t = await tenant('mailresend', emailCodeSignIn);
    const email = `${uniqUsername('rex')}@example.com`;
    await sendAndRead(t, await t.open(), email, 'SignIn');
    const res = await send(await t.open(), email.toUpperCase(), 'SignIn');
    const body = assertApiError(res, 429, 'resend within a minute');
    assert.equal(body.code, 'guard.too_many_requests');
    assert.match(body.message, /recently.*try again in \d+ seconds?/i);
    const ra = Number(res.headers.get('retry-after'));
    assert.ok(ra >= 1 && ra <= 60, `Retry-After ${res.headers.get('retry-after')}`);
    // Another address is not held back.
    await sendAndRead(t, await t.open(), `${uniqUsername('sam')}@example.com`, 'SignIn');
  });

  it('forgot password by a code from the mail: old password refused, new one works', async () => {
    const t = await tenant('mailreset', { forgotPasswordMethods: ['EmailVerificationCode'] });
    const email = `${uniqUsername('flo')}@example.com`;
    const user = await t.ctx.createUser({ primaryEmail: email });
    const xp = await t.open('ForgotPassword');
    const c = await sendAndRead(t, xp, email, 'ForgotPassword');
    assert.equal((await verify(xp, c.verificationId, email, c.code)).status, 200);
    assert.equal((await xp.call('POST', '/identification', { verificationId: c.verificationId })).status, 204);
    const newPassword = `New-${randomId(12)}-7y!R`;
    assert.equal((await xp.call('PUT', '/profile/password', { password: newPassword })).status, 204);
    assert.equal((await xp.call('POST', '/submit')).status, 204);
    const old = await (await t.open()).verifyPassword(user.username, user.password);
    assert.equal(assertApiError(old, 422, 'old password').code, 'session.invalid_credentials');
    assert.equal((await (await t.open()).verifyPassword(user.username, newPassword)).status, 200);
  });

  it('passwordless sign-in by SMS', async () => {
    const t = await tenant('smssignin', { signIn: { methods: [
      { identifier: 'username', password: true },
      { identifier: 'phone', password: false, verificationCode: true }] } });
    const phone = `1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
    const user = await t.ctx.createUser({ primaryPhone: phone });
    const xp = await t.open();
    const c = await sendAndRead(t, xp, phone, 'SignIn', 'phone');
    const wrongCode = String((Number(c.code) + 1) % 1e6).padStart(6, '0');
    assert.equal(assertApiError(await verify(xp, c.verificationId, phone, wrongCode, 'phone'), 400, 'wrong').code,
      'verification_code.code_mismatch');
    assert.equal((await verify(xp, c.verificationId, phone, c.code, 'phone')).status, 200);
    assert.equal((await xp.call('POST', '/identification', { verificationId: c.verificationId })).status, 204);
    const state = await xp.loadInteraction();
    assert.equal(state.identified, true);
    const sub = await xp.call('POST', '/submit');
    assert.equal(sub.status, 200, sub.text);
    const landed = new URL(await xp.resume(new URL(sub.json().redirectTo, `${t.ctx.base}/`).href));
    assert.ok(landed.searchParams.get('code'), `signed in as ${user.id}: ${landed}`);
  });

  it('a connector that fails: its error, and no code is left behind', async () => {
    const t = await tenant('mailfail', emailCodeSignIn);
    const connectors = expectStatus(await t.api.get('/connectors'), 200, 'list connectors');
    const mailer = connectors.find((c) => c.connectorId === 'test-mailer');
    // A report file it cannot write: the connector fails (LATCH_CONNECTOR_ERR_GENERAL).
    expectStatus(await t.api.patch(`/connectors/${mailer.id}`,
      { config: { outFile: path.join(dir, 'no-such-dir', 'x.json') } }), 200, 'make the mailer fail');
    const res = await send(await t.open(), `${uniqUsername('f')}@example.com`, 'SignIn');
    const body = assertApiError(res, [400, 502, 503], 'a failing connector');
    assert.match(body.code, /^connector\./, res.text);
    const rows = await adminQuery('SELECT count(*)::int AS n FROM verification_codes WHERE tenant_id = $1', [t.ctx.id]);
    assert.equal(rows.rows[0].n, 0);
  });

  it('Management API: POST /api/verification-codes sends, /verify checks the code from the mail', async () => {
    const t = await tenant('mailmgmt');
    const email = `${uniqUsername('api')}@example.com`;
    const sent = await t.api.post('/verification-codes', { email });
    assert.equal(sent.status, 204, sent.text);
    const message = await t.inbox();
    assert.equal(message.type_name, 'Generic');
    const code = message.vars.code;
    const wrongCode = String((Number(code) + 1) % 1e6).padStart(6, '0');
    assert.equal(assertApiError(await t.api.post('/verification-codes/verify', { email, verificationCode: wrongCode }),
      400, 'wrong').code, 'verification_code.code_mismatch');
    const ok = await t.api.post('/verification-codes/verify', { email, verificationCode: code });
    assert.equal(ok.status, 204, ok.text);
  });
});

describe('verification codes by real mail: the SMTP connector and a local SMTP server', () => {
  const auth = { user: 'latch', pass: `pw-${randomId(8)}` };
  let srv;
  let dir;
  let receiver;
  before(async () => {
    receiver = await startSmtpReceiver({ auth });
    dir = await mkdtemp(path.join(os.tmpdir(), 'latch-codes-smtp-'));
    await chmod(dir, 0o755);
    await copyFile(path.join(buildDir, 'connectors', 'smtp.so'), path.join(dir, 'smtp.so'));
    await chmod(path.join(dir, 'smtp.so'), 0o755);
    // The receiver is on loopback, which the outbound policy refuses unless allowed.
    srv = await startLatchd({ env: { LATCH_CONNECTOR_DIR: dir, LATCH_OUTBOUND_ALLOW_PRIVATE: '127.0.0.0/8' } });
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
    await receiver?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const smtpConfig = (over = {}) => ({
    host: '127.0.0.1',
    port: receiver.port,
    auth,
    fromEmail: 'Latch <noreply@latch.test>',
    ignoreTLS: true,
    templates: ['SignIn', 'Register', 'ForgotPassword', 'Generic'].map((usageType) => ({
      usageType, contentType: 'text/plain', subject: `Your ${usageType} code`,
      content: `Your code is {{code}}. It expires in 10 minutes.` })),
    ...over,
  });

  async function tenant(name, signInExp, config = smtpConfig()) {
    const ctx = await TenantCtx.create(srv, name);
    const api = await ctx.api();
    expectStatus(await api.post('/connectors', { connectorId: 'simple-mail-transfer-protocol', config }),
      [200, 201], 'create the SMTP connector');
    await ctx.patchSignInExp(signInExp);
    const app = await ctx.createWebApp(RP);
    const open = async (event) => {
      const pkce = pkcePair();
      const xp = new ExperienceClient(ctx);
      await xp.start(authUrl(ctx, { client_id: app.id, redirect_uri: app.redirectUri, response_type: 'code',
        scope: 'openid profile', state: `st-${randomId(6)}`, nonce: 'n-1',
        code_challenge: pkce.challenge, code_challenge_method: 'S256' }));
      await xp.begin(event);
      return xp;
    };
    return { ctx, api, open };
  }

  /** Sends a code to email and reads it from the mail the receiver got. */
  async function mailedCode(xp, email, event) {
    const res = await xp.call('POST', '/verification/verification-code',
      { identifier: { type: 'email', value: email }, interactionEvent: event });
    assert.equal(res.status, 200, `send: ${res.text}`);
    const mail = await receiver.waitFor((m) => m.to.includes(email) && m.subject === `Your ${event} code`);
    const code = /Your code is ([0-9]{6})\./.exec(mail.text)?.[1];
    assert.ok(code, `a code in the mail: ${mail.text}`);
    return { verificationId: res.json().verificationId, code };
  }
  const verifyAndIdentify = async (xp, email, c, status) => {
    const v = await xp.call('POST', '/verification/verification-code/verify',
      { identifier: { type: 'email', value: email }, verificationId: c.verificationId, code: c.code });
    assert.equal(v.status, 200, `verify: ${v.text}`);
    const ident = await xp.call('POST', '/identification', { verificationId: c.verificationId });
    assert.equal(ident.status, status, `identification: ${ident.text}`);
  };

  it('passwordless sign-up and sign-in, and a password reset, with codes read from the mail', async () => {
    const t = await tenant('smtpflows', { ...emailCodeSignIn,
      signUp: { identifiers: ['email'], password: false, verify: true },
      forgotPasswordMethods: ['EmailVerificationCode'] });
    const email = `${uniqUsername('ann')}@example.com`.toLowerCase();

    const reg = await t.open('Register');
    await verifyAndIdentify(reg, email, await mailedCode(reg, email, 'Register'), 201);
    assert.equal((await reg.call('POST', '/submit')).status, 200);
    const [user] = await t.ctx.searchUsers(email);
    assert.equal(user?.primaryEmail, email);

    // The next code to the address waits out the minute; let it pass.
    await adminQuery("UPDATE verification_codes SET created_at = created_at - interval '61 seconds' WHERE tenant_id = $1",
      [t.ctx.id]);
    const si = await t.open('SignIn');
    await verifyAndIdentify(si, email, await mailedCode(si, email, 'SignIn'), 204);
    const sub = await si.call('POST', '/submit');
    assert.equal(sub.status, 200, sub.text);

    await adminQuery("UPDATE verification_codes SET created_at = created_at - interval '61 seconds' WHERE tenant_id = $1",
      [t.ctx.id]);
    const fp = await t.open('ForgotPassword');
    await verifyAndIdentify(fp, email, await mailedCode(fp, email, 'ForgotPassword'), 204);
    const newPassword = `New-${randomId(12)}-7y!R`;
    assert.equal((await fp.call('PUT', '/profile/password', { password: newPassword })).status, 204);
    assert.equal((await fp.call('POST', '/submit')).status, 204);
    const pw = await (await t.open('SignIn')).verifyPassword(email, newPassword, { type: 'email' });
    assert.equal(pw.status, 200, pw.text);
  });

  it('the SMTP server refusing the login, or down: a clear error, no code and no account', async () => {
    const signUp = { signUp: { identifiers: ['email'], password: false, verify: true } };
    for (const [name, config] of [
      ['smtpauth', smtpConfig({ auth: { user: 'latch', pass: 'wrong' } })],
      ['smtpdown', smtpConfig({ port: 1 })],
    ]) {
      const t = await tenant(name, signUp, config);
      const email = `${uniqUsername('z')}@example.com`;
      const xp = await t.open('Register');
      const res = await xp.call('POST', '/verification/verification-code',
        { identifier: { type: 'email', value: email }, interactionEvent: 'Register' });
      const body = assertApiError(res, [400, 502, 503], `${name}: sending`);
      assert.match(body.code, /^connector\./, `${name}: ${res.text}`);
      assert.ok(!/your code is/i.test(res.text), 'the answer does not carry the message');
      const rows = await adminQuery('SELECT count(*)::int AS n FROM verification_codes WHERE tenant_id = $1', [t.ctx.id]);
      assert.equal(rows.rows[0].n, 0, `${name}: no code left`);
      assert.equal((await t.ctx.searchUsers(email)).length, 0, `${name}: no account`);
    }
  });
});

