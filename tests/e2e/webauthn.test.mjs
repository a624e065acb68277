// WebAuthn end to end with a real browser (issue 12): headless Chromium with a CDP virtual
// authenticator (tests/e2e/lib/virtual-authenticator.mjs) registers and asserts credentials on a
// latchd page at http://localhost:PORT (a secure context whose host is the RP ID), and what the
// browser produced is verified by core/webauthn/ through the test-only command
// build/tests/webauthn_verify (tests/unit/webauthn/webauthn_verify.c). The Experience API routes
// for WebAuthn build on the same library; until they exist this proves the library accepts real
// browser output and refuses it when the origin, RP ID, challenge, signature or counter is wrong.
//
// The second suite runs the same ceremonies through latchd's Experience API routes
// (…/verification/web-authn/registration[/verify], …/authentication[/verify], binding with
// POST …/profile/mfa): enrolment, sign-in with WebAuthn as the second factor (amr pwd hwk mfa),
// a spent challenge, a tampered assertion, and a lowered counter refused and logged; the audit
// log's entries of the ceremonies and of a passkey sign-in, under Logto's keys, with no credential
// or assertion in them.
//
// Covered: ES256, EdDSA and RS256 credentials; attestation none and direct (packed x5c from
// Chromium's virtual device); assertions with an allow list and discoverable (passkey) ones with
// the user handle; user verification required / not performed; a replayed assertion; a lowered
// sign counter (the authenticator's credential put back with a smaller counter) reported as a
// clone; a tampered signature and authenticator data.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dns from 'node:dns';
import path from 'node:path';
import { buildDir, freePort, startLatchd } from './lib/harness.mjs';
import { launchBrowser, newPage } from './lib/browser.mjs';
import { assertError, finishInteraction, identifiedByPassword, startInteraction } from './lib/xp-flow.mjs';
import { TenantCtx, eventually, expectStatus } from './lib/oidc.mjs';
import {
  addVirtualAuthenticator,
  createCredential,
  getAssertion,
  toBase64url,
} from './lib/virtual-authenticator.mjs';

// latchd listens on 127.0.0.1 and is addressed as localhost (the RP ID): resolve that to IPv4.
dns.setDefaultResultOrder('ipv4first');

const verifier = path.join(buildDir, 'tests', 'webauthn_verify');
const b64url = (buf) => Buffer.from(buf).toString('base64url');
const challenge = () => b64url(randomBytes(32));

/** Runs the test-only verifier on one request; resolves its JSON answer. */
function verify(request) {
  const r = spawnSync(verifier, { input: JSON.stringify(request), encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 0, `webauthn_verify exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('WebAuthn ceremonies from headless Chromium, verified by core/webauthn', () => {
  let srv;
  let browser;
  let origin;
  const rpId = 'localhost';

  before(async () => {
    const port = await freePort();
    origin = `http://localhost:${port}`;
    srv = await startLatchd({ port, env: { LATCH_PUBLIC_URL: origin } });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  /** A fresh page on latchd's origin with a virtual authenticator of its own. */
  async function session(authOptions = {}) {
    const p = await newPage(browser);
    await p.page.goto(`${origin}/sign-in`, { waitUntil: 'commit' }).catch(() => {});
    await p.page.waitForLoadState('domcontentloaded');
    assert.equal(await p.page.evaluate('location.origin'), origin);
    assert.equal(await p.page.evaluate('window.isSecureContext'), true, 'localhost is secure');
    const auth = await addVirtualAuthenticator(p.page, authOptions);
    return { ...p, auth };
  }

  /** Registers a credential (alg preference given) and verifies it; resolves what to store. */
  async function register(s, { algs = [-7], attestation = 'none', userId = b64url(randomBytes(16)) } = {}) {
    const c = challenge();
    const cred = await createCredential(s.page, {
      rp: { id: rpId, name: 'Latch' },
      user: { id: userId, name: 'ada@example.com', displayName: 'Ada' },
      challenge: c,
      pubKeyCredParams: algs.map((alg) => ({ type: 'public-key', alg })),
      attestation,
    });
    assert.equal(cred.error, undefined, `create(): ${JSON.stringify(cred.error)}`);
    const request = {
      ceremony: 'registration', rpId, origin, challenge: c, requireUv: true,
      clientDataJSON: cred.response.clientDataJSON,
      attestationObject: cred.response.attestationObject,
    };
    const res = verify(request);
    assert.equal(res.ok, true, `registration refused: ${res.message}`);
    assert.equal(res.credentialId, cred.rawId);
    assert.equal(res.alg, algs[0]);
    assert.ok(res.flags & 0x04, 'UV flag');
    return { cred, res, request, userId };
  }

  async function assertion(s, { allow, userVerification = 'required' } = {}) {
    const c = challenge();
    const a = await getAssertion(s.page, {
      challenge: c, rpId, userVerification,
      allowCredentials: allow ? [{ id: allow, type: 'public-key' }] : [],
    });
    assert.equal(a.error, undefined, `get(): ${JSON.stringify(a.error)}`);
    return { a, c };
  }

  function verifyAssertion(reg, { a, c }, over = {}) {
    return verify({
      ceremony: 'authentication', rpId, origin, challenge: c, requireUv: true,
      publicKey: reg.res.publicKey, storedSignCount: reg.res.signCount,
      clientDataJSON: a.response.clientDataJSON,
      authenticatorData: a.response.authenticatorData,
      signature: a.response.signature,
      userHandle: a.response.userHandle,
      ...over,
    });
  }

  it('registers and signs in with ES256, EdDSA and RS256 credentials', async () => {
    for (const alg of [-7, -8, -257]) {
      const s = await session();
      try {
        const reg = await register(s, { algs: [alg] });
        assert.equal(reg.res.attestation, 'none');
        assert.equal(reg.res.fmt, 'none');
        const stored = await s.auth.credential(reg.cred.rawId);
        assert.equal(toBase64url(stored.credentialId), reg.res.credentialId);
        assert.equal(stored.rpId, rpId);

        const first = await assertion(s, { allow: reg.cred.rawId });
        const ok = verifyAssertion(reg, first);
        assert.equal(ok.ok, true, `alg ${alg}: ${ok.message}`);
        assert.ok(ok.signCount > reg.res.signCount, 'counter moved forward');
        assert.ok(ok.flags & 0x04, 'UV');
        assert.equal(ok.userHandle, reg.userId);
      } finally {
        await s.close();
      }
    }
  });

  it('checks attestation "direct" from the virtual device (packed x5c) for every algorithm', async () => {
    const s = await session();
    try {
      for (const alg of [-7, -8, -257]) {
        // The batch certificate's key signs whatever the credential's algorithm is.
        const reg = await register(s, { algs: [alg], attestation: 'direct' });
        assert.equal(reg.res.fmt, 'packed');
        assert.equal(reg.res.attestation, 'basic');
        // The last byte is the credential key's: the statement no longer covers it.
        const ao = Buffer.from(reg.request.attestationObject, 'base64url');
        ao[ao.length - 1] ^= 0x01;
        const bad = verify({ ...reg.request, attestationObject: b64url(ao) });
        assert.equal(bad.ok, false);
      }
    } finally {
      await s.close();
    }
  });

  it('refuses a registration for another origin, RP ID, challenge or type', async () => {
    const s = await session();
    try {
      const { request } = await register(s);
      for (const [over, why] of [
        [{ origin: 'http://localhost:1' }, /origin/],
        [{ origin: origin.replace('localhost', '127.0.0.1') }, /origin/],
        [{ rpId: 'example.com' }, /RP ID/],
        [{ challenge: challenge() }, /challenge/],
        [{ ceremony: 'authentication', publicKey: 'pQECAyYgASFYIA', authenticatorData: '',
          signature: '' }, /type is not webauthn.get/],
      ]) {
        const res = verify({ ...request, ...over });
        assert.equal(res.ok, false, JSON.stringify(over));
        assert.equal(res.status, 400);
        assert.equal(res.code, 'session.mfa.webauthn_verification_failed');
        assert.match(res.message, why);
      }
    } finally {
      await s.close();
    }
  });

  it('signs in with a discoverable credential (passkey) and returns the user handle', async () => {
    const s = await session();
    try {
      const reg = await register(s);
      const pass = await assertion(s);
      assert.equal(pass.a.rawId, reg.cred.rawId);
      const ok = verifyAssertion(reg, pass);
      assert.equal(ok.ok, true, ok.message);
      assert.equal(ok.userHandle, reg.userId);
    } finally {
      await s.close();
    }
  });

  it('refuses a replayed assertion, a tampered one and one from another origin or RP ID', async () => {
    const s = await session();
    try {
      const reg = await register(s);
      const got = await assertion(s, { allow: reg.cred.rawId });
      const ok = verifyAssertion(reg, got);
      assert.equal(ok.ok, true, ok.message);
      // Replayed in a later ceremony: that ceremony's challenge differs.
      const later = verifyAssertion(reg, got, { challenge: challenge(), storedSignCount: ok.signCount });
      assert.equal(later.ok, false);
      assert.match(later.message, /challenge/);
      // Replayed with its own challenge after it was used: the counter did not move.
      const again = verifyAssertion(reg, got, { storedSignCount: ok.signCount });
      assert.equal(again.ok, false);
      assert.equal(again.clone, true);

      const sig = Buffer.from(got.a.response.signature, 'base64url');
      sig[sig.length - 2] ^= 0x01;
      const badSig = verifyAssertion(reg, got, { signature: b64url(sig) });
      assert.equal(badSig.ok, false);
      assert.match(badSig.message, /signature/);
      const ad = Buffer.from(got.a.response.authenticatorData, 'base64url');
      ad[36] ^= 0x10; // the counter's low byte
      const badAd = verifyAssertion(reg, got, { authenticatorData: b64url(ad) });
      assert.equal(badAd.ok, false);
      assert.match(badAd.message, /signature/);
      const otherOrigin = verifyAssertion(reg, got, { origin: 'http://localhost:1' });
      assert.match(otherOrigin.message, /origin/);
      const otherRp = verifyAssertion(reg, got, { rpId: 'evil.localhost' });
      assert.match(otherRp.message, /RP ID/);
    } finally {
      await s.close();
    }
  });

  it('reports a lowered sign counter as a cloned authenticator', async () => {
    const s = await session();
    try {
      const reg = await register(s);
      const first = verifyAssertion(reg, await assertion(s, { allow: reg.cred.rawId }));
      assert.equal(first.ok, true, first.message);
      const second = verifyAssertion(reg, await assertion(s, { allow: reg.cred.rawId }),
        { storedSignCount: first.signCount });
      assert.equal(second.ok, true, second.message);
      assert.ok(second.signCount > first.signCount);

      // A copy of the key that lags behind: the same credential with a counter of 0.
      await s.auth.setSignCount(reg.cred.rawId, 0);
      assert.equal((await s.auth.credential(reg.cred.rawId)).signCount, 0);
      const cloned = verifyAssertion(reg, await assertion(s, { allow: reg.cred.rawId }),
        { storedSignCount: second.signCount });
      assert.equal(cloned.ok, false);
      assert.equal(cloned.clone, true);
      assert.equal(cloned.code, 'session.mfa.webauthn_cloned_authenticator');
    } finally {
      await s.close();
    }
  });

  it('requires user verification when the caller does', async () => {
    const s = await session();
    try {
      const reg = await register(s);
      await s.auth.setUserVerified(false);
      const got = await assertion(s, { allow: reg.cred.rawId, userVerification: 'discouraged' });
      const flags = Buffer.from(got.a.response.authenticatorData, 'base64url')[32];
      assert.equal(flags & 0x04, 0, 'no UV flag');
      const refused = verifyAssertion(reg, got);
      assert.equal(refused.ok, false);
      assert.match(refused.message, /user verification/);
      const accepted = verifyAssertion(reg, got, { requireUv: false });
      assert.equal(accepted.ok, true, accepted.message);
      assert.equal(accepted.flags & 0x04, 0);
    } finally {
      await s.close();
    }
  });
});

describe('WebAuthn through the Experience API', () => {
  let srv;
  let local; // srv addressed as http://localhost:PORT, its public URL
  let browser;
  let origin;
  const RP = 'http://localhost:3000';

  before(async () => {
    const port = await freePort();
    origin = `http://localhost:${port}`;
    srv = await startLatchd({ port, env: { LATCH_PUBLIC_URL: origin } });
    local = Object.create(srv, { url: { value: origin } });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  async function tenant(name, { mfa = { factors: ['WebAuthn'], policy: 'UserControlled' }, passkeySignIn } = {}) {
    const ctx = await TenantCtx.create(local, name);
    await ctx.patchSignInExp({ mfa, ...(passkeySignIn ? { passkeySignIn } : {}) });
    return { ctx, app: await ctx.createWebApp(RP), user: await ctx.createUser() };
  }

  const identified = (t) => identifiedByPassword(t, { scope: 'openid' });
  const finish = async (t, flow) => (await finishInteraction(t, flow)).claims;

  async function page() {
    const p = await newPage(browser);
    await p.page.goto(`${origin}/sign-in`, { waitUntil: 'commit' }).catch(() => {});
    await p.page.waitForLoadState('domcontentloaded');
    return { ...p, auth: await addVirtualAuthenticator(p.page) };
  }

  /** Enrols the virtual authenticator's new credential in the interaction; resolves its id.
   * bindStatus: what binding answers (204, or 403 while another factor waits for its proof). */
  async function enrol(p, xp, { bindStatus = 204 } = {}) {
    const reg = await xp.call('POST', '/verification/web-authn/registration');
    assert.equal(reg.status, 200, reg.text);
    const { verificationId, registrationOptions: o } = reg.json();
    assert.equal(o.rp.id, 'localhost');
    assert.match(o.challenge, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(o.pubKeyCredParams.map((c) => c.alg), [-7, -8, -257]);
    assert.equal(o.attestation, 'none');
    const cred = await createCredential(p.page, o);
    assert.equal(cred.error, undefined, JSON.stringify(cred.error));
    const payload = { ...cred, type: 'WebAuthn' };
    // Binding before the verification is refused.
    const early = await xp.call('POST', '/profile/mfa', { type: 'WebAuthn', verificationId });
    assert.equal(early.status, 400, early.text);
    const ok = await xp.call('POST', '/verification/web-authn/registration/verify', { verificationId, payload });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json().verificationId, verificationId);
    const bind = await xp.call('POST', '/profile/mfa', { type: 'WebAuthn', verificationId });
    assert.equal(bind.status, bindStatus, bind.text);
    if (bindStatus !== 204) return { verificationId, bind };
    return cred.rawId;
  }

  /** The audit-log entries of t.user once every key in `want` is there (Logto's keys); no entry
   * holds a credential id, challenge or signature of `secrets`; `until(list)` must hold too
   * (an entry of this very verification: each event loop flushes its own batch, so an earlier
   * step's entry of the same key may be there first). Resolves the list. */
  async function auditEntries(t, want, secrets = [], until = () => true) {
    const api = await t.ctx.api();
    let list = [];
    await eventually(async () => {
      list = expectStatus(await api.get(`/logs?userId=${t.user.id}&page_size=100`), 200, 'GET /api/logs');
      return want.every(([key, result]) => list.some((e) => e.key === key && e.payload.result === result))
        && until(list);
    }, `audit entries ${JSON.stringify(want)}`, 15000);
    for (const e of list.filter((x) => want.some(([k]) => k === x.key))) {
      assert.equal(e.payload.userId, t.user.id, `${e.key}: userId`);
      assert.equal(e.payload.interactionEvent, 'SignIn', `${e.key}: interactionEvent`);
    }
    const text = JSON.stringify(list);
    for (const x of secrets) assert.ok(!text.includes(x), `an entry holds "${x.slice(0, 8)}…"`);
    return list;
  }

  /** Asks for authentication options and runs get() in the page; resolves {verificationId, payload}. */
  async function assertWith(p, xp, credId) {
    const res = await xp.call('POST', '/verification/web-authn/authentication');
    assert.equal(res.status, 200, res.text);
    const { verificationId, authenticationOptions: o } = res.json();
    assert.equal(o.rpId, 'localhost');
    assert.deepEqual(o.allowCredentials.map((c) => c.id), [credId]);
    const a = await getAssertion(p.page, o);
    assert.equal(a.error, undefined, JSON.stringify(a.error));
    return { verificationId, payload: { ...a, type: 'WebAuthn' } };
  }

  it('enrols a credential, then signs in with it as the second factor; amr hwk', async () => {
    const t = await tenant('wa-xp');
    const p = await page();
    try {
      const first = await identified(t);
      // Before identification state exists nothing is offered; after, enrolment works.
      const credId = await enrol(p, first.xp);
      const enrolled = await finish(t, first);
      assert.deepEqual([...enrolled.amr].sort(), ['hwk', 'mfa', 'pwd']);
      const rows = await t.ctx.api().then((api) => api.get(`/users/${t.user.id}/mfa-verifications`));
      assert.equal(rows.status, 200, rows.text);
      assert.deepEqual(rows.json().map((f) => f.type), ['WebAuthn']);

      // The next sign-in requires the factor.
      const second = await identified(t);
      const refusedSubmit = await second.xp.call('POST', '/submit');
      assert.equal(refusedSubmit.status, 403, refusedSubmit.text);
      assert.equal(refusedSubmit.json().code, 'session.mfa.require_mfa_verification');
      const { verificationId, payload } = await assertWith(p, second.xp, credId);
      // Tampered: refused with Logto's code, and the interaction stays unverified.
      const badSig = Buffer.from(payload.response.signature, 'base64url');
      badSig[badSig.length - 1] ^= 1;
      const bad = await second.xp.call('POST', '/verification/web-authn/authentication/verify', {
        verificationId, payload: { ...payload, response: { ...payload.response, signature: b64url(badSig) } } });
      assert.equal(bad.status, 400, bad.text);
      assert.equal(bad.json().code, 'session.mfa.webauthn_verification_failed');
      const ok = await second.xp.call('POST', '/verification/web-authn/authentication/verify',
        { verificationId, payload });
      assert.equal(ok.status, 200, ok.text);
      // The challenge is spent: the same assertion again finds no pending verification.
      const again = await second.xp.call('POST', '/verification/web-authn/authentication/verify',
        { verificationId, payload });
      assert.equal(again.status, 404, again.text);
      const claims = await finish(t, second);
      assert.deepEqual([...claims.amr].sort(), ['hwk', 'mfa', 'pwd']);
      const list = await auditEntries(t, [
        ['Interaction.SignIn.Verification.WebAuthn.Create', 'Success'],
        ['Interaction.SignIn.Verification.WebAuthn.Submit', 'Success'],
        ['Interaction.SignIn.Verification.WebAuthn.Submit', 'Error'],
        ['Interaction.SignIn.BindMfa.WebAuthn.Submit', 'Success'],
      ], [payload.response.signature, payload.response.clientDataJSON, payload.response.authenticatorData, credId],
      (l) => l.some((e) => e.key === 'Interaction.SignIn.Verification.WebAuthn.Submit'
        && e.payload.verificationId === verificationId && e.payload.result === 'Success'));
      const failed = list.find((e) => e.key === 'Interaction.SignIn.Verification.WebAuthn.Submit'
        && e.payload.result === 'Error' && e.payload.error.code === 'session.mfa.webauthn_verification_failed');
      assert.ok(failed, 'the tampered assertion, with the error');
      assert.ok(list.some((e) => e.key === 'Interaction.SignIn.Verification.WebAuthn.Submit'
        && e.payload.verificationId === verificationId && e.payload.result === 'Success'));
    } finally {
      await p.close();
    }
  });

  it('a second security key is bound only after the first one was used in the sign-in', async () => {
    const t = await tenant('wa-second');
    const p1 = await page();
    const p2 = await page();
    try {
      const first = await identified(t);
      const credId = await enrol(p1, first.xp);
      await finish(t, first);

      // The password alone cannot add a key: that would replace the second factor.
      const second = await identified(t);
      const { verificationId, bind } = await enrol(p2, second.xp, { bindStatus: 403 });
      assert.equal(bind.json().code, 'session.mfa.require_mfa_verification');
      const v = await assertWith(p1, second.xp, credId);
      const ok = await second.xp.call('POST', '/verification/web-authn/authentication/verify', v);
      assert.equal(ok.status, 200, ok.text);
      const again = await second.xp.call('POST', '/profile/mfa', { type: 'WebAuthn', verificationId });
      assert.equal(again.status, 204, again.text);
      await finish(t, second);
      const api = await t.ctx.api();
      const rows = await api.get(`/users/${t.user.id}/mfa-verifications`);
      assert.deepEqual(rows.json().map((f) => f.type), ['WebAuthn', 'WebAuthn']);
    } finally {
      await p1.close();
      await p2.close();
    }
  });

  it('refuses and logs a lowered sign counter (a cloned authenticator)', async () => {
    const t = await tenant('wa-clone');
    const p = await page();
    try {
      const first = await identified(t);
      const credId = await enrol(p, first.xp);
      await finish(t, first);
      const second = await identified(t);
      const v1 = await assertWith(p, second.xp, credId);
      const ok = await second.xp.call('POST', '/verification/web-authn/authentication/verify', v1);
      assert.equal(ok.status, 200, ok.text);
      await finish(t, second);

      await p.auth.setSignCount(credId, 0);
      const third = await identified(t);
      const v2 = await assertWith(p, third.xp, credId);
      const cloned = await third.xp.call('POST', '/verification/web-authn/authentication/verify', v2);
      assert.equal(cloned.status, 400, cloned.text);
      assert.equal(cloned.json().code, 'session.mfa.webauthn_verification_failed');
      assert.match(cloned.json().message, /counter/);
      assert.ok(srv.logs.some((l) => typeof l === 'object' && /cloned authenticator/.test(l.msg ?? l.message ?? '')),
        'the clone is logged');
      const sub = await third.xp.call('POST', '/submit');
      assert.equal(sub.status, 403, sub.text);
    } finally {
      await p.close();
    }
  });

  it('refuses a registration whose client data names another origin', async () => {
    const t = await tenant('wa-origin');
    const p = await page();
    try {
      const { xp } = await identified(t);
      const reg = await xp.call('POST', '/verification/web-authn/registration');
      const { verificationId, registrationOptions: o } = reg.json();
      const cred = await createCredential(p.page, o);
      const cd = JSON.parse(Buffer.from(cred.response.clientDataJSON, 'base64url').toString());
      cd.origin = 'http://localhost:1';
      const payload = { ...cred, type: 'WebAuthn',
        response: { ...cred.response, clientDataJSON: b64url(Buffer.from(JSON.stringify(cd))) } };
      const res = await xp.call('POST', '/verification/web-authn/registration/verify', { verificationId, payload });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json().code, 'session.mfa.webauthn_verification_failed');
      assert.match(res.json().message, /origin/);
      const bind = await xp.call('POST', '/profile/mfa', { type: 'WebAuthn', verificationId });
      assert.equal(bind.status, 400, bind.text);
    } finally {
      await p.close();
    }
  });

  // ---- passkey sign-in (Logto's passkeySignIn): a discoverable credential, no password ----

  /** A new SignIn interaction with no one identified; asks for passkey options and runs a
   * discoverable get() in the page; resolves {flow, verificationId, payload}. */
  async function passkeyAssertion(t, p, over = {}) {
    const flow = await startInteraction(t, { scope: 'openid' });
    await flow.xp.begin('SignIn');
    const res = await flow.xp.call('POST', '/verification/sign-in-passkey/authentication', {});
    assert.equal(res.status, 200, res.text);
    const { verificationId, authenticationOptions: o } = res.json();
    assert.deepEqual(o.allowCredentials, [], 'discoverable: no allow list');
    assert.equal(o.rpId, 'localhost');
    const a = await getAssertion(p.page, { ...o, ...over });
    assert.equal(a.error, undefined, JSON.stringify(a.error));
    return { flow, verificationId, payload: { ...a, type: 'WebAuthn' } };
  }

  const passkeyVerify = (flow, body) =>
    flow.xp.call('POST', '/verification/sign-in-passkey/authentication/verify', body);

  it('passkey sign-in: settings; a passkey enrolled after a password sign-in then signs in alone; amr hwk mfa, no pwd', async () => {
    const t = await tenant('pk-ok', { passkeySignIn: { enabled: true } });
    const api = await t.ctx.api();
    const sie = await api.get('/sign-in-exp');
    assert.deepEqual(sie.json().passkeySignIn, { enabled: true, showPasskeyButton: false, allowAutofill: false });
    assert.equal((await api.patch('/sign-in-exp', { passkeySignIn: { enabled: 'yes' } })).status, 400);
    const p = await page();
    try {
      const first = await identified(t);
      const credId = await enrol(p, first.xp);
      await finish(t, first);
      const [stored] = await p.auth.credentials();
      assert.equal(stored.isResidentCredential, true, 'a discoverable credential');
      assert.equal(Buffer.from(stored.userHandle, 'base64').toString(), t.user.id, 'user.id is the user id');

      const { flow, verificationId, payload } = await passkeyAssertion(t, p);
      assert.equal(payload.rawId, credId);
      const info = await flow.xp.call('GET', '/interaction');
      assert.deepEqual(info.json().passkeySignIn, { enabled: true, showPasskeyButton: false, allowAutofill: false });
      // Before the proof the verification identifies nobody.
      assertError(await flow.xp.call('POST', '/identification', { verificationId }), 404,
        'session.verification_session_not_found', 'identification before the proof');
      const ok = await passkeyVerify(flow, { verificationId, payload });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json().verificationId, verificationId);
      const again = await passkeyVerify(flow, { verificationId, payload });
      assert.equal(again.status, 404, `the challenge is spent: ${again.text}`);
      const ident = await flow.xp.call('POST', '/identification', { verificationId });
      assert.equal(ident.status, 204, ident.text);
      const claims = await finish(t, flow);
      assert.equal(claims.sub, t.user.id);
      assert.deepEqual([...claims.amr].sort(), ['hwk', 'mfa']);
      // The passkey's entries name its owner, found when the assertion was verified.
      const list = await auditEntries(t, [
        ['Interaction.SignIn.Verification.SignInPasskey.Submit', 'Success'],
        ['Interaction.SignIn.Verification.SignInPasskey.Submit', 'Error'],
      ], [payload.response.signature, payload.response.clientDataJSON, credId],
      (l) => l.some((e) => e.key === 'Interaction.SignIn.Verification.SignInPasskey.Submit'
        && e.payload.verificationId === verificationId && e.payload.result === 'Success'));
      assert.ok(list.some((e) => e.key === 'Interaction.SignIn.Verification.SignInPasskey.Submit'
        && e.payload.verificationId === verificationId && e.payload.result === 'Success'));
      const api = await t.ctx.api();
      let created = [];
      await eventually(async () => {
        created = expectStatus(await api.get('/logs?logKey=Interaction.SignIn.Verification.SignInPasskey.Create'),
          200, 'the options entry');
        return created.length === 1;
      }, 'the SignInPasskey.Create entry', 15000);
      assert.equal(created[0].payload.verificationId, verificationId);
      assert.equal(created[0].payload.userId, undefined, 'nobody is known when the options are asked for');
    } finally {
      await p.close();
    }
  });

  it('passkey sign-in refuses a passkey of another tenant, a user handle naming someone else, and a disabled setting', async () => {
    const a = await tenant('pk-a', { passkeySignIn: { enabled: true } });
    const b = await tenant('pk-b', { passkeySignIn: { enabled: true } });
    const p = await page();
    try {
      const first = await identified(a);
      await enrol(p, first.xp);
      await finish(a, first);

      // Tenant b shares the RP ID (localhost), so the browser offers a's passkey there too.
      const other = await passkeyAssertion(b, p);
      const refused = await passkeyVerify(other.flow, { verificationId: other.verificationId, payload: other.payload });
      assertError(refused, 400, 'session.mfa.webauthn_verification_failed', "another tenant's passkey");
      assert.match(refused.json().message, /not registered/);
      assertError(await other.flow.xp.call('POST', '/identification', { verificationId: other.verificationId }), 404,
        'session.verification_session_not_found', 'identification after a refusal');

      // A passkey for this RP that was never registered (created in the browser, not bound).
      const stray = await page();
      try {
        const made = await createCredential(stray.page, { rp: { id: 'localhost', name: 'Latch' },
          user: { id: b64url(Buffer.from(a.user.id)), name: 'stray', displayName: 'Stray' },
          challenge: b64url(randomBytes(32)) });
        assert.equal(made.error, undefined, JSON.stringify(made.error));
        const unknown = await passkeyAssertion(a, stray);
        assertError(await passkeyVerify(unknown.flow, { verificationId: unknown.verificationId, payload: unknown.payload }),
          400, 'session.mfa.webauthn_verification_failed', 'an unknown credential');
      } finally {
        await stray.close();
      }

      // The user handle is not signed: it must still name the credential's owner.
      const own = await passkeyAssertion(a, p);
      const forged = { ...own.payload, response: { ...own.payload.response, userHandle: b64url(Buffer.from(b.user.id)) } };
      const bad = await passkeyVerify(own.flow, { verificationId: own.verificationId, payload: forged });
      assertError(bad, 400, 'session.mfa.webauthn_verification_failed', 'a user handle naming someone else');
      assert.match(bad.json().message, /user handle/);
      const noHandle = { ...own.payload, response: { ...own.payload.response, userHandle: undefined } };
      assertError(await passkeyVerify(own.flow, { verificationId: own.verificationId, payload: noHandle }), 400,
        'session.mfa.webauthn_verification_failed', 'no user handle');

      // Disabled: no options, and a started ceremony cannot finish.
      const late = await passkeyAssertion(a, p);
      await a.ctx.patchSignInExp({ passkeySignIn: { enabled: false } });
      assertError(await passkeyVerify(late.flow, { verificationId: late.verificationId, payload: late.payload }), 422,
        'user.sign_in_method_not_enabled', 'verify while disabled');
      assertError(await late.flow.xp.call('POST', '/verification/sign-in-passkey/authentication', {}), 422,
        'user.sign_in_method_not_enabled', 'options while disabled');
    } finally {
      await p.close();
    }
  });

  /** A tenant with passkey sign-in on whose user enrolled a passkey (after a password sign-in)
   * in a new page's authenticator; resolves {t, p, credId}, p for the caller to close. */
  async function passkeyTenant(name) {
    const t = await tenant(name, { passkeySignIn: { enabled: true } });
    const p = await page();
    try {
      const first = await identified(t);
      const credId = await enrol(p, first.xp);
      await finish(t, first);
      return { t, p, credId };
    } catch (e) {
      await p.close();
      throw e;
    }
  }

  it("passkey sign-in with Logto's identifier: that person's credentials only; an unknown identifier answers as one without a passkey", async () => {
    const { t, p, credId } = await passkeyTenant('pk-id');
    try {
      const other = await t.ctx.createUser(); // has no passkey
      const flow = await startInteraction(t, { scope: 'openid' });
      await flow.xp.begin('SignIn');
      const options = (identifier) => flow.xp.call('POST', '/verification/sign-in-passkey/authentication', { identifier });
      const res = await options({ type: 'username', value: t.user.username.toUpperCase() });
      assert.equal(res.status, 200, res.text);
      const { verificationId, authenticationOptions: o } = res.json();
      assert.deepEqual(o.allowCredentials.map((c) => c.id), [credId], "the identifier's person's credentials");
      assert.equal(o.rpId, 'localhost');

      // Nobody by that identifier: the very answer of a person without a passkey.
      const none = await options({ type: 'username', value: other.username });
      const unknown = await options({ type: 'username', value: `${other.username}x` });
      assertError(none, 400, 'session.mfa.webauthn_verification_not_found', 'a person without a passkey');
      assert.equal(unknown.status, none.status);
      assert.equal(unknown.text, none.text, 'an unknown identifier answers the same');
      assertError(await options({ type: 'nickname', value: 'x' }), 400, 'guard.invalid_input', 'an unknown type');
      assertError(await options('alice'), 400, 'guard.invalid_input', 'not an object');

      // The refusals did not replace the options: the assertion for them signs the person in.
      const a = await getAssertion(p.page, o);
      assert.equal(a.error, undefined, JSON.stringify(a.error));
      const payload = { ...a, type: 'WebAuthn' };
      const ok = await passkeyVerify(flow, { verificationId, payload });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json().verificationId, verificationId);
      assert.equal((await flow.xp.call('POST', '/identification', { verificationId })).status, 204);
      const claims = await finish(t, flow);
      assert.equal(claims.sub, t.user.id);
      assert.deepEqual([...claims.amr].sort(), ['hwk', 'mfa']);

      // Options for another person take only that person's passkey (Logto's 409).
      const second = await identified({ ...t, user: other });
      const otherCred = await enrol(p, second.xp);
      await finish(t, second);
      const mixed = await startInteraction(t, { scope: 'openid' });
      await mixed.xp.begin('SignIn');
      const forOther = await mixed.xp.call('POST', '/verification/sign-in-passkey/authentication',
        { identifier: { type: 'username', value: other.username } });
      assert.equal(forOther.status, 200, forOther.text);
      const oo = forOther.json().authenticationOptions;
      assert.deepEqual(oo.allowCredentials.map((c) => c.id), [otherCred]);
      const wrong = await getAssertion(p.page, { ...oo, allowCredentials: [{ type: 'public-key', id: credId }] });
      assert.equal(wrong.error, undefined, JSON.stringify(wrong.error));
      assertError(await passkeyVerify(mixed, { verificationId: forOther.json().verificationId,
        payload: { ...wrong, type: 'WebAuthn' } }), 409, 'session.identity_conflict', "another person's passkey");

      // Lookups that find no passkey spend the client IP's registration-check budget (a token
      // bucket): past it, 429 for any identifier, a person with a passkey too.
      await t.ctx.patchSignInExp({ rateLimits: { registrationChecksPerIpPerMinute: 1 } });
      const lookup = (identifier) => mixed.xp.call('POST', '/verification/sign-in-passkey/authentication',
        { identifier });
      let limited;
      for (let i = 0; i < 40 && !limited; i++) {
        const r = await lookup({ type: 'email', value: 'nobody@example.com' });
        if (r.status === 429) limited = r;
        else assertError(r, 400, 'session.mfa.webauthn_verification_not_found', `miss ${i}`);
      }
      assert.ok(limited, 'refused within 40 misses');
      assertError(limited, 429, 'guard.too_many_requests', 'past the budget');
      assert.ok(Number(limited.headers.get('retry-after')) >= 1, 'Retry-After');
      assertError(await lookup({ type: 'username', value: t.user.username }), 429, 'guard.too_many_requests',
        'a person with a passkey, past the budget');
      // The discoverable routes look nobody up and stay open.
      assert.equal((await mixed.xp.call('POST', '/preflight/sign-in-passkey/authentication')).status, 200);
    } finally {
      await p.close();
    }
  });

  it('passkey preflight (Logto): options before the interaction event, verify without verificationId; single use', async () => {
    const { t, p, credId } = await passkeyTenant('pk-pre');
    try {
      const flow = await startInteraction(t, { scope: 'openid' });
      const pre = await flow.xp.call('POST', '/preflight/sign-in-passkey/authentication');
      assert.equal(pre.status, 200, pre.text);
      assert.deepEqual(Object.keys(pre.json()), ['authenticationOptions'], "Logto's answer: the options alone");
      const o = pre.json().authenticationOptions;
      assert.deepEqual(o.allowCredentials, []);
      assert.match(o.challenge, /^[A-Za-z0-9_-]{43}$/);
      // The page starts the event afterwards (Logto keeps the preflight options across it).
      await flow.xp.begin('SignIn');
      const a = await getAssertion(p.page, o);
      assert.equal(a.error, undefined, JSON.stringify(a.error));
      assert.equal(a.rawId, credId);
      const payload = { ...a, type: 'WebAuthn' };
      // A verificationId names identifier options, never the preflight's.
      assertError(await passkeyVerify(flow, { verificationId: 'x'.repeat(21), payload }), 404,
        'session.verification_session_not_found', 'a verificationId with preflight options');
      const ok = await passkeyVerify(flow, { payload });
      assert.equal(ok.status, 200, ok.text);
      const { verificationId } = ok.json();
      assert.match(verificationId, /^[A-Za-z0-9_-]+$/);
      // Replayed: the challenge is spent.
      assertError(await passkeyVerify(flow, { payload }), 404, 'session.verification_session_not_found',
        'a replayed preflight assertion');
      assertError(await passkeyVerify(flow, { verificationId, payload }), 404,
        'session.verification_session_not_found', 'a replay naming the verification');
      assert.equal((await flow.xp.call('POST', '/identification', { verificationId })).status, 204);
      const claims = await finish(t, flow);
      assert.equal(claims.sub, t.user.id);
      assert.deepEqual([...claims.amr].sort(), ['hwk', 'mfa']);

      // Without preflight options there is nothing to verify against; disabled, no options.
      const bare = await startInteraction(t, { scope: 'openid' });
      await bare.xp.begin('SignIn');
      assertError(await passkeyVerify(bare, { payload }), 404, 'session.verification_session_not_found',
        'verify without any options');
      await t.ctx.patchSignInExp({ passkeySignIn: { enabled: false } });
      assertError(await bare.xp.call('POST', '/preflight/sign-in-passkey/authentication'), 422,
        'user.sign_in_method_not_enabled', 'preflight while disabled');
    } finally {
      await p.close();
    }
  });

  it('a passkey without user verification is one factor: the MFA policy still applies', async () => {
    const t = await tenant('pk-uv', { mfa: { factors: ['Totp', 'WebAuthn'], policy: 'Mandatory' },
      passkeySignIn: { enabled: true } });
    const p = await page();
    try {
      const first = await identified(t);
      const credId = await enrol(p, first.xp);
      await finish(t, first);

      // With user verification: two factors, Mandatory satisfied.
      let pk = await passkeyAssertion(t, p);
      assert.equal((await passkeyVerify(pk.flow, { verificationId: pk.verificationId, payload: pk.payload })).status, 200);
      assert.equal((await pk.flow.xp.call('POST', '/identification', { verificationId: pk.verificationId })).status, 204);
      const claims = await finish(t, pk.flow);
      assert.deepEqual([...claims.amr].sort(), ['hwk', 'mfa']);

      // Without (an authenticator that skips it): the person is identified, and must still
      // verify a factor.
      await p.auth.setUserVerified(false);
      pk = await passkeyAssertion(t, p, { userVerification: 'discouraged' });
      assert.equal(Buffer.from(pk.payload.response.authenticatorData, 'base64url')[32] & 0x04, 0, 'no UV flag');
      assert.equal((await passkeyVerify(pk.flow, { verificationId: pk.verificationId, payload: pk.payload })).status, 200);
      assert.equal((await pk.flow.xp.call('POST', '/identification', { verificationId: pk.verificationId })).status, 204);
      assertError(await pk.flow.xp.call('POST', '/submit'), 403, 'session.mfa.require_mfa_verification');
      await p.auth.setUserVerified(true);
      const v = await assertWith(p, pk.flow.xp, credId);
      assert.equal((await pk.flow.xp.call('POST', '/verification/web-authn/authentication/verify', v)).status, 200);
      const second = await finish(t, pk.flow);
      assert.deepEqual([...second.amr].sort(), ['hwk', 'mfa']);
    } finally {
      await p.close();
    }
  });
});
