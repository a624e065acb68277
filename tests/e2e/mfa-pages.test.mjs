// End-to-end tests of the MFA step on the hosted sign-in page (issue 12), in headless Chromium:
// TOTP enrolment (the QR code the page draws is read back from its canvas and decoded with jsQR,
// and must be the otpauth:// URI of the secret the page shows), a wrong code refused with a
// message, backup codes shown and downloaded, the ID token's amr; the next sign-in asks for a
// factor and switches to a backup code, in Spanish; and a skippable prompt skipped.
// TOTP codes are computed in the test (RFC 6238 with node:crypto).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import jsQR from 'jsqr';
import { startLatchd } from './lib/harness.mjs';
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

describe('MFA on the hosted sign-in page', () => {
  let srv;
  let browser;
  let rp;
  before(async () => {
    srv = await startLatchd();
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

  async function signInWithPassword(t, { locale = 'en-US' } = {}) {
    const checks = await flowChecks();
    const p = await newPage(browser, { locale, acceptDownloads: true });
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
});
