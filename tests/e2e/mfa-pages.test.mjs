// End-to-end tests of the MFA step on the hosted sign-in page (issue 12), in headless Chromium:
// TOTP enrolment (the QR code the page draws is read back from its canvas and decoded with jsQR,
// and must be the otpauth:// URI of the secret the page shows), a wrong code refused with a
// message, backup codes shown and downloaded, the ID token's amr; the next sign-in asks for a
// factor and switches to a backup code, in Spanish; and a skippable prompt skipped.
// TOTP codes are computed in the test (RFC 6238 with node:crypto).
//
// WebAuthn on the page, with a CDP virtual authenticator (tests/e2e/lib/virtual-authenticator.mjs):
// the page runs navigator.credentials itself with the options of the Experience API and sends the
// result back (its base64url ⇄ ArrayBuffer conversions are under test). Enrolment in Spanish (TOTP
// offered first, then the switch to "Añadir una llave de seguridad o llave de acceso"), a second
// sign-in with the security key as the second factor; amr holds hwk and mfa both times. A ceremony
// the browser refuses (an authenticator without the credential) shows a message and the person can
// try again. latchd runs with LATCH_PUBLIC_URL=http://localhost:PORT: WebAuthn needs a secure
// context whose host is the RP ID, and localhost is one (an IP address cannot be an RP ID).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dns from 'node:dns';
import { readFile } from 'node:fs/promises';
import jsQR from 'jsqr';
import { freePort, startLatchd } from './lib/harness.mjs';
import { otherCode, totp } from './lib/totp.mjs';
import {
  assertLabelled,
  expectErrorShown,
  fillAndSubmit,
  launchBrowser,
  newPage,
  startCallbackServer,
  waitForUrlPrefix,
} from './lib/browser.mjs';
import { TenantCtx } from './lib/oidc.mjs';
import { authUrl, flowChecks, redeem, webAppConfig } from './lib/flow.mjs';
import { addVirtualAuthenticator } from './lib/virtual-authenticator.mjs';

// latchd listens on 127.0.0.1 and is addressed as localhost (the RP ID): resolve that to IPv4.
dns.setDefaultResultOrder('ipv4first');

describe('MFA on the hosted sign-in page', () => {
  let srv;
  let browser;
  let rp;
  before(async () => {
    const port = await freePort();
    srv = await startLatchd({ port, env: { LATCH_PUBLIC_URL: `http://localhost:${port}` } });
    browser = await launchBrowser();
    rp = await startCallbackServer();
  });
  after(async () => {
    await browser?.close();
    await rp?.close();
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  async function tenant(name, mfa) {
    const ctx = await TenantCtx.create(srv, name);
    await ctx.patchSignInExp({ mfa });
    const app = await ctx.createWebApp(rp.origin, { name: 'MFA app' });
    const config = await webAppConfig(ctx, app);
    const user = await ctx.createUser();
    return { ctx, app, config, user };
  }

  /** Signs in with the password up to the MFA step, in a new page or in p (again). */
  async function signInWithPassword(t, { locale = 'en-US', p } = {}) {
    const checks = await flowChecks();
    p ??= await newPage(browser, { locale, acceptDownloads: true });
    await p.page.goto(authUrl(t.config, t.app, checks));
    await p.page.locator('input#identifier').waitFor({ state: 'visible' });
    await fillAndSubmit(p.page, t.user.username, t.user.password);
    await p.page.locator('section#mfa').waitFor({ state: 'visible' });
    return { ...p, checks };
  }

  const heading = async (page) => (await page.locator('h1#heading').innerText()).trim();

  it('enrolment: QR code, key, a wrong code refused, backup codes downloaded; amr; then verification with a backup code in Spanish', async () => {
    const t = await tenant('mfa-page', { factors: ['Totp', 'BackupCode'], policy: 'Mandatory' });
    let p = await signInWithPassword(t);
    let secret;
    let codes;
    try {
      assert.equal(await heading(p.page), 'Set up two-step verification');
      await p.page.waitForFunction(() => document.getElementById('mfa-secret').textContent.length > 0);
      assert.equal(await p.page.locator('a#mfa-skip').isVisible(), false, 'Mandatory: no skip');
      await assertLabelled(p.page, 'the enrolment step');
      // The QR code, read back from the canvas, is the otpauth URI of the key shown.
      const img = await p.page.evaluate(() => {
        const c = document.getElementById('mfa-qr');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height);
        return { w: c.width, h: c.height, data: Array.from(d.data) };
      });
      assert.ok(img.w > 100, `a QR code of some size (${img.w})`);
      const decoded = jsQR(Uint8ClampedArray.from(img.data), img.w, img.h);
      assert.ok(decoded, 'the canvas holds a readable QR code');
      secret = (await p.page.locator('code#mfa-secret').innerText()).replace(/\s/g, '');
      assert.match(secret, /^[A-Z2-7]{32}$/);
      const uri = new URL(decoded.data);
      assert.equal(uri.protocol, 'otpauth:');
      assert.equal(uri.searchParams.get('secret'), secret);
      assert.equal(uri.searchParams.get('digits'), '6');
      assert.ok(decodeURIComponent(uri.pathname).includes(t.user.username), uri.href);
      assert.equal(await p.page.locator('a#mfa-uri').getAttribute('href'), decoded.data);

      // A wrong code first.
      const wrong = otherCode(totp(secret), 7);
      await p.page.locator('input#mfa-code').fill(wrong);
      await p.page.locator('button#mfa-submit').click();
      assert.match(await expectErrorShown(p.page, 'a wrong TOTP code'), /not right/);
      await p.page.locator('input#mfa-code').fill(totp(secret));
      await p.page.locator('button#mfa-submit').click();

      // Backup codes: ten, downloadable.
      await p.page.locator('div#mfa-backup').waitFor({ state: 'visible' });
      assert.equal(await heading(p.page), 'Save your backup codes');
      await p.page.waitForFunction(() => document.querySelectorAll('#mfa-codes li').length === 10);
      codes = await p.page.locator('#mfa-codes li').allInnerTexts();
      for (const c of codes) assert.match(c, /^[0-9a-f]{10}$/);
      const [download] = await Promise.all([
        p.page.waitForEvent('download'),
        p.page.locator('button#mfa-download').click(),
      ]);
      assert.equal(download.suggestedFilename(), 'backup-codes.txt');
      const text = await readFile(await download.path(), 'utf8');
      for (const c of codes) assert.ok(text.includes(c), `the file holds ${c}`);
      await p.page.locator('button#mfa-saved').click();
      const landed = await waitForUrlPrefix(p.page, rp.origin);
      const tokens = await redeem(t.config, landed, p.checks);
      assert.equal(tokens.claims().sub, t.user.id);
      assert.deepEqual([...tokens.claims().amr].sort(), ['mfa', 'otp', 'pwd']);
    } finally {
      await p.close();
    }

    // The next sign-in, in Spanish: the authenticator first, then a switch to a backup code.
    p = await signInWithPassword(t, { locale: 'es-ES' });
    try {
      assert.equal(await heading(p.page), 'Verificación en dos pasos');
      const switcher = p.page.locator('a#mfa-switch');
      assert.equal((await switcher.innerText()).trim(), 'Usar un código de respaldo');
      await switcher.click();
      assert.equal((await p.page.locator('label#mfa-code-label').innerText()).trim(), 'Código de respaldo');
      assert.match(await p.page.locator('p#mfa-code-hint').innerText(), /restantes: 10\./);
      await p.page.locator('input#mfa-code').fill('0000000000');
      await p.page.locator('button#mfa-submit').click();
      assert.match(await expectErrorShown(p.page, 'a wrong backup code'), /no es correcto/);
      await p.page.locator('input#mfa-code').fill(codes[2]);
      await p.page.locator('button#mfa-submit').click();
      const landed = await waitForUrlPrefix(p.page, rp.origin);
      const tokens = await redeem(t.config, landed, p.checks);
      assert.deepEqual([...tokens.claims().amr].sort(), ['mfa', 'otp', 'pwd']);
    } finally {
      await p.close();
    }
  });

  it('a skippable prompt: "Skip for now" signs in without MFA', async () => {
    const t = await tenant('mfa-skip', { factors: ['Totp'], policy: 'PromptAtSignInAndSignUp' });
    const p = await signInWithPassword(t);
    try {
      assert.equal(await heading(p.page), 'Set up two-step verification');
      const skip = p.page.locator('a#mfa-skip');
      await skip.waitFor({ state: 'visible' });
      await skip.click();
      const landed = await waitForUrlPrefix(p.page, rp.origin);
      const tokens = await redeem(t.config, landed, p.checks);
      assert.deepEqual(tokens.claims().amr, ['pwd']);
    } finally {
      await p.close();
    }
  });

  async function landedClaims(t, p, checks) {
    const landed = await waitForUrlPrefix(p.page, rp.origin);
    return (await redeem(t.config, landed, checks)).claims();
  }

  const text = async (page, selector) => (await page.locator(selector).innerText()).trim();

  /** A page on latchd's origin with a virtual authenticator (it belongs to the page's target). */
  async function keyPage(t, opts) {
    const p = await newPage(browser, opts);
    await p.page.goto(`${t.ctx.base}/sign-in`, { waitUntil: 'commit' }).catch(() => {});
    return { p, auth: await addVirtualAuthenticator(p.page) };
  }

  it('enrols a security key on the page (in Spanish), then signs in with it as the second factor; amr hwk mfa', async () => {
    const t = await tenant('wa-page', { factors: ['Totp', 'WebAuthn'], policy: 'Mandatory' });
    const { p, auth } = await keyPage(t, { locale: 'es-ES' });
    try {
      let { checks } = await signInWithPassword(t, { p });
      assert.equal(await text(p.page, 'h1#heading'), 'Configura la verificación en dos pasos');
      // TOTP first; the security key is one click away.
      await p.page.waitForFunction(() => document.getElementById('mfa-secret').textContent.length > 0);
      const toKey = p.page.locator('a#mfa-switch');
      assert.equal(await text(p.page, 'a#mfa-switch'), 'Añadir una llave de seguridad o llave de acceso');
      await toKey.click();
      const start = p.page.locator('button#mfa-webauthn-start');
      await start.waitFor({ state: 'visible' });
      assert.equal(await p.page.locator('div#mfa-setup').isVisible(), false, 'the QR code is gone');
      assert.equal(await p.page.locator('form#mfa-form').isVisible(), false);
      assert.equal(await text(p.page, 'button#mfa-webauthn-start'), 'Añadir una llave de seguridad o llave de acceso');
      assert.equal(await text(p.page, 'a#mfa-switch'), 'Usar una aplicación de autenticación');
      await start.click();
      let claims = await landedClaims(t, p, checks);
      assert.equal(claims.sub, t.user.id);
      assert.deepEqual([...claims.amr].sort(), ['hwk', 'mfa', 'pwd']);
      const creds = await auth.credentials();
      assert.equal(creds.length, 1, 'the page created one credential');
      const api = await t.ctx.api();
      const rows = await api.get(`/users/${t.user.id}/mfa-verifications`);
      assert.deepEqual(rows.json().map((f) => f.type), ['WebAuthn']);

      // A second sign-in (no session left): the key is asked for, not a code.
      await p.context.clearCookies();
      ({ checks } = await signInWithPassword(t, { p }));
      await start.waitFor({ state: 'visible' });
      assert.match(await text(p.page, 'h1#heading'), /dos pasos/);
      assert.equal(await p.page.locator('a#mfa-switch').isVisible(), false, 'only the key was enrolled');
      assert.equal(await text(p.page, 'button#mfa-webauthn-start'), 'Usar tu llave de seguridad o llave de acceso');
      await start.click();
      claims = await landedClaims(t, p, checks);
      assert.deepEqual([...claims.amr].sort(), ['hwk', 'mfa', 'pwd']);
      assert.ok((await auth.credentials())[0].signCount >= 2, 'the credential signed twice');
    } finally {
      await p.close();
    }
  });

  it('an authenticator without the credential: a message, the step stays, and the right key then works', async () => {
    const t = await tenant('wa-page-miss', { factors: ['WebAuthn'], policy: 'Mandatory' });
    const { p, auth: first } = await keyPage(t);
    try {
      let { checks } = await signInWithPassword(t, { p });
      assert.equal(await text(p.page, 'h1#heading'), 'Set up two-step verification');
      await p.page.locator('button#mfa-webauthn-start').click();
      await landedClaims(t, p, checks);

      // The key is put away and another authenticator (without the credential) is attached.
      const saved = await first.credentials();
      await first.remove();
      const other = await addVirtualAuthenticator(p.page);
      await p.context.clearCookies();
      ({ checks } = await signInWithPassword(t, { p }));
      assert.equal(await text(p.page, 'h1#heading'), 'Two-step verification');
      await p.page.locator('button#mfa-webauthn-start').click();
      assert.match(await expectErrorShown(p.page, 'no matching credential'), /cancelled or timed out/);
      assert.equal(await p.page.locator('section#mfa').isVisible(), true);

      // With the key back, the same button works.
      await other.addCredential(saved[0]);
      await p.page.locator('button#mfa-webauthn-start').click();
      const claims = await landedClaims(t, p, checks);
      assert.deepEqual([...claims.amr].sort(), ['hwk', 'mfa', 'pwd']);
    } finally {
      await p.close();
    }
  });

  it('passkey sign-in on the page: the button, then autofill (conditional mediation), sign in with no password; amr hwk mfa', async () => {
    const t = await tenant('pk-page', { factors: ['WebAuthn'], policy: 'UserControlled' });
    await t.ctx.patchSignInExp({ passkeySignIn: { enabled: true, showPasskeyButton: true, allowAutofill: false } });
    const { p, auth } = await keyPage(t);
    try {
      // Enrolment after a password sign-in.
      let { checks } = await signInWithPassword(t, { p });
      await p.page.locator('button#mfa-webauthn-start').click();
      let claims = await landedClaims(t, p, checks);
      assert.deepEqual([...claims.amr].sort(), ['hwk', 'mfa', 'pwd']);
      assert.equal((await auth.credentials())[0].isResidentCredential, true);

      // The passkey alone.
      await p.context.clearCookies();
      checks = await flowChecks();
      await p.page.goto(authUrl(t.config, t.app, checks));
      const button = p.page.locator('button#passkey-sign-in');
      await button.waitFor({ state: 'visible' });
      assert.equal(await text(p.page, 'button#passkey-sign-in'), 'Sign in with a passkey');
      assert.equal(await p.page.locator('input#identifier').getAttribute('autocomplete'), 'username');
      await button.click();
      claims = await landedClaims(t, p, checks);
      assert.equal(claims.sub, t.user.id);
      assert.deepEqual([...claims.amr].sort(), ['hwk', 'mfa']);

      // Autofill instead of the button: the identifier offers passkeys (a conditional request
      // started at load); Chromium's virtual authenticator answers it at once, without a click.
      await t.ctx.patchSignInExp({ passkeySignIn: { enabled: true, showPasskeyButton: false, allowAutofill: true } });
      await p.context.clearCookies();
      checks = await flowChecks();
      const requests = p.requests.length;
      await p.page.goto(authUrl(t.config, t.app, checks));
      claims = await landedClaims(t, p, checks);
      assert.deepEqual([...claims.amr].sort(), ['hwk', 'mfa']);
      assert.ok(p.requests.slice(requests).some((u) => u.endsWith('/verification/sign-in-passkey/authentication/verify')),
        'signed in by the conditional request');
      assert.equal(p.requests.slice(requests).some((u) => u.endsWith('/verification/password')), false);
    } finally {
      await p.close();
    }
  });
});
