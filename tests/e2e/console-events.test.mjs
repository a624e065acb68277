// End-to-end tests of the admin console's pages for what landed after it (issues 12 and 14), in
// headless Chromium against a real latchd and PostgreSQL: the audit log (filters, an entry, a
// user's logs, the dashboard's recent sign-ins), webhooks (create, edit, signing key rotated after
// a confirmation, a signed test delivery, recent executions of a real event, delete), a user's
// MFA factors (one removed, then all reset) and "sign out everywhere" — with the Management API
// route it calls (DELETE /api/users/:userId/sessions) — and the sign-in experience's MFA,
// passkey and branding settings (logo and colours: the API's color, the console's preview and
// the hosted sign-in page that uses them). axe-core runs on every new page; Spanish renders.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import https from 'node:https';
import { readFile, rm } from 'node:fs/promises';
import { adminQuery, startLatchd, waitFor } from './lib/harness.mjs';
import { launchBrowser, newPage, signInOnPage, startCallbackServer } from './lib/browser.mjs';
import { axe, consoleAsNewAdmin, signInToConsole, watch } from './lib/console.mjs';
import { makeTestCertificates, readBody } from './lib/fake-tls.mjs';
import { CALLBACK_PATH, TenantCtx, expectStatus, uniq, uniqPassword, uniqUsername } from './lib/oidc.mjs';
import * as client from 'openid-client';
import { authUrl, flowChecks, redeem, webAppConfig } from './lib/flow.mjs';

const HOOK_HOST = 'console-hooks.example.test';
// The tenant's logo host: the browser contexts answer it themselves (context.route).
const BRAND_HOST = 'brand.example.test';
const LOGO_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><rect width="120" height="40" fill="#0b6e4f"/></svg>';

/** An HTTPS webhook receiver for HOOK_HOST on loopback: records each request; failNext(n) answers 500. */
async function startReceiver() {
  const certs = await makeTestCertificates({ host: HOOK_HOST, label: 'console webhook receiver' });
  const received = [];
  let failing = 0;
  const server = https.createServer({ key: certs.leafKey, cert: certs.leafPem }, async (req, res) => {
    const raw = (await readBody(req)).toString('utf8');
    received.push({ path: req.url, headers: req.headers, raw, json: JSON.parse(raw) });
    const fail = failing > 0;
    if (fail) failing--;
    res.writeHead(fail ? 500 : 200, { 'content-type': 'application/json' });
    res.end(fail ? '{"error":"not now"}' : '{"ok":true}');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    received,
    env: { LATCH_OUTBOUND_CA_FILE: certs.caFile, LATCH_OUTBOUND_CONNECT_TO: `${HOOK_HOST}:443:127.0.0.1:${server.address().port}` },
    url: (p) => `https://${HOOK_HOST}${p}`,
    failNext(n) { failing = n; },
    async stop() {
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
      await rm(certs.dir, { recursive: true, force: true });
    },
  };
}

describe('admin console: audit log, webhooks, MFA, sessions', () => {
  let srv;
  let browser;
  let rp;
  let rx;
  let ctx;
  let api;
  let endpoint;
  let page;
  let app; // a web application people sign in to
  const admin = { username: uniqUsername('admin'), password: uniqPassword() };
  const person = { username: uniqUsername('person'), password: uniqPassword() };
  let personId;

  before(async () => {
    rx = await startReceiver();
    srv = await startLatchd({ env: { ...rx.env, LATCH_HOOK_RETRY_BASE_MS: '300', LATCH_HOOK_SWEEP_MS: '500' } });
    browser = await launchBrowser();
    rp = await startCallbackServer();
    ctx = await TenantCtx.create(srv, 'console-ev');
    endpoint = ctx.endpoint;
    api = await ctx.api();
    const redirectUri = `${rp.origin}${CALLBACK_PATH}`;
    const created = await ctx.createApp({ type: 'Traditional', oidcClientMetadata: { redirectUris: [redirectUri], postLogoutRedirectUris: [] } });
    app = { id: created.id, secret: created.secret, redirectUri };
    personId = expectStatus(await api.post('/users', { username: person.username, password: person.password }), 200, 'person').id;

    page = await consoleAsNewAdmin(srv, browser, ctx.id, admin);
  });
  after(async () => {
    await browser?.close();
    await rp?.close();
    if (srv) assert.equal((await srv.stop()).code, 0);
    await rx?.stop();
  });

  /** The person signs in to the web application in a fresh browser; resolves the app's tokens. */
  async function personSignsIn() {
    const config = await webAppConfig(ctx, app);
    const checks = await flowChecks();
    const { page: p, close } = await newPage(browser);
    await p.goto(authUrl(config, app, checks));
    const landed = await signInOnPage(p, { username: person.username, password: person.password, redirectUri: app.redirectUri });
    const tokens = await redeem(config, landed, checks);
    await close();
    assert.equal(typeof tokens.refresh_token, 'string', 'offline_access gave a refresh token');
    return { config, tokens };
  }

  /** Whether the refresh token still works. */
  async function refreshWorks(config, tokens) {
    try {
      await client.refreshTokenGrant(config, tokens.refresh_token);
      return true;
    } catch (e) {
      assert.equal(e.error, 'invalid_grant', String(e));
      return false;
    }
  }

  /** The audit log's entries of key for the user, once the batch that holds them is written. */
  const logged = (key, userId, n = 1) => waitFor(async () => {
    const rows = expectStatus(await api.get(`/logs?logKey=${key}&userId=${userId}`), 200, 'logs');
    return rows.length >= n ? rows : null;
  }, { timeoutMs: 15000, what: `${n} ${key} entries of ${userId}` });

  async function openSection(name) {
    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name, exact: true }).click();
    await page.getByRole('heading', { name, level: 1 }).waitFor();
  }

  it('the English and Spanish translations have the same keys', async () => {
    const read = async (l) => JSON.parse(await readFile(new URL(`../../core/console/console-${l}.json`, import.meta.url), 'utf8'));
    const [en, es] = [await read('en'), await read('es')];
    assert.deepEqual(Object.keys(es).sort(), Object.keys(en).sort());
    for (const [k, v] of Object.entries(es)) assert.ok(v.length > 0, `es ${k}`);
  });

  it('Management API: DELETE /api/users/:userId/sessions ends the sessions and revokes the refresh tokens', async () => {
    const { config, tokens } = await personSignsIn();
    const live = async () => Number((await adminQuery(
      'SELECT count(*) AS n FROM sessions WHERE tenant_id = $1 AND user_id = $2 AND ended_at IS NULL', [ctx.id, personId])).rows[0].n);
    assert.ok(await live() > 0, 'a live session before');
    assert.equal(await refreshWorks(config, tokens), true, 'before');
    const res = await api.del(`/users/${personId}/sessions`);
    assert.equal(res.status, 204, res.text);
    assert.equal(res.text, '');
    assert.equal(await live(), 0, 'every session ended');
    assert.equal(await refreshWorks(config, tokens), false, 'the refresh token is revoked');
    const unknown = await api.del('/users/nobody-here/sessions');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json().code, 'entity.not_exists_with_id');
    const other = await TenantCtx.create(srv, 'console-ev2');
    assert.equal((await (await other.api()).del(`/users/${personId}/sessions`)).status, 404, 'another tenant');
    const [entry] = await logged('User.Sessions.Ended', personId);
    assert.equal(entry.payload.result, 'Success');
    assert.equal(entry.payload.path, `/api/users/${personId}/sessions`);
    assert.equal(entry.payload.userId, personId);
  });

  it('signs a user out everywhere from the user page, after a confirmation', async () => {
    const { config, tokens } = await personSignsIn();
    await page.goto(`${endpoint}/console/users/${personId}`);
    await signInIfAsked();
    await page.getByRole('heading', { name: person.username, level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('Sign this user out everywhere?').waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await refreshWorks(config, tokens), true, 'Escape cancels');
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await dialog.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.getByText('The user was signed out everywhere.').waitFor();
    assert.equal(await refreshWorks(config, tokens), false, 'the refresh token is revoked');
  });

  it('shows sign-ins in the audit log, an entry, the user\'s logs and the dashboard', async () => {
    const [latest] = await logged('Interaction.SignIn.Submit', personId, 2);
    await openSection('Audit log');
    await page.getByRole('table').waitFor();
    await axe(page, 'audit log');
    await page.getByLabel('Log key', { exact: true }).fill('Interaction.SignIn.Submit');
    await page.getByLabel('User ID', { exact: true }).fill(personId);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('table').getByText('(2)').waitFor(); // the caption's total
    const rows = page.getByRole('table').locator('tbody tr');
    assert.equal(await rows.count(), 2);
    for (const text of await rows.allInnerTexts()) {
      assert.ok(text.includes('Interaction.SignIn.Submit') && text.includes(personId) && text.includes('Success'), text);
    }
    // A time range that ends before the sign-ins leaves nothing.
    await page.getByLabel('Until (exclusive)').fill('2020-01-01T00:00');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No entries match.').waitFor();
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByRole('table').waitFor();
    // An entry.
    await page.goto(`${endpoint}/console/logs/${latest.id}`);
    await signInIfAsked();
    await page.getByRole('heading', { name: 'Interaction.SignIn.Submit', level: 1 }).waitFor();
    assert.ok((await page.getByLabel('Everything recorded').innerText()).includes(`"userId": "${personId}"`));
    await axe(page, 'audit log entry');
    // The user's page: the Logs section, with the sessions and MFA sections.
    await page.getByRole('link', { name: personId }).click();
    await page.getByRole('heading', { name: person.username, level: 1 }).waitFor();
    const logs = page.locator('.card').filter({ has: page.getByRole('heading', { name: 'Audit log' }) });
    await logs.getByText('Interaction.SignIn.Submit').first().waitFor();
    await logs.getByText('User.Sessions.Ended').first().waitFor();
    await axe(page, 'user detail with MFA, sessions and logs');
    // The dashboard.
    await openSection('Dashboard');
    const recent = page.getByRole('table', { name: /Recent sign-ins/ });
    await recent.getByRole('link', { name: personId }).first().waitFor();
    await axe(page, 'dashboard with recent sign-ins');
  });

  let hookId;
  it('creates a webhook, sends a signed test delivery, and shows a real event\'s execution', async () => {
    await openSection('Webhooks');
    await page.getByText('No webhooks yet.').waitFor();
    await axe(page, 'webhooks');
    const name = uniq('crm');
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Endpoint URL').fill(rx.url('/console-hook'));
    await page.getByRole('group', { name: 'Events' }).getByLabel('User.Created', { exact: true }).check();
    await page.getByLabel('Extra headers').fill('x-from: console');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    hookId = new URL(page.url()).pathname.split('/').pop();
    const hook = expectStatus(await api.get(`/hooks/${hookId}`), 200, 'hook');
    assert.deepEqual(hook.events, ['User.Created']);
    assert.deepEqual(hook.config, { url: rx.url('/console-hook'), headers: { 'x-from': 'console' } });
    assert.equal(hook.enabled, true);
    const key = (await page.getByTestId('signing-key').innerText()).trim();
    assert.equal(key, hook.signingKey);
    await axe(page, 'webhook detail');

    // A test delivery, signed with the key.
    await page.getByRole('button', { name: 'Send a test' }).click();
    await page.getByText('The test was delivered').waitFor();
    const test = rx.received.filter((r) => r.path === '/console-hook');
    assert.equal(test.length, 1);
    assert.equal(test[0].json.event, 'User.Created');
    assert.equal(test[0].headers['x-from'], 'console');
    assert.equal(test[0].headers['logto-signature-sha-256'], createHmac('sha256', key).update(test[0].raw).digest('hex'));
    // A receiver that fails: the API's error is shown.
    rx.failNext(1);
    await page.getByRole('button', { name: 'Send a test' }).click();
    const err = page.locator('.card .error[role=alert]');
    await err.waitFor();
    assert.match(await err.innerText(), /hook\.endpoint_responded_with_error.*HTTP 500/);

    // A real event: its delivery appears among the recent executions.
    const newcomer = expectStatus(await api.post('/users', { username: uniqUsername('newcomer') }), 200, 'newcomer');
    await waitFor(() => rx.received.some((r) => r.json.event === 'User.Created' && r.json.data?.id === newcomer.id),
      { timeoutMs: 15000, what: 'the User.Created delivery' });
    const runs = page.getByRole('table', { name: /Recent executions/ });
    await waitFor(async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      return (await runs.count()) > 0 && (await runs.innerText()).includes('HTTP 200');
    }, { timeoutMs: 15000, what: 'the execution shown' });
    assert.ok((await runs.innerText()).includes('User.Created'));
    await page.getByText('1 of 1 succeeded').waitFor(); // the execution stats
    await openSection('Webhooks');
    await page.getByRole('row').filter({ hasText: name }).getByText('1 of 1 succeeded').waitFor();
  });

  it('edits a webhook, rotates its signing key after a confirmation, and deletes it after one', async () => {
    await page.goto(`${endpoint}/console/webhooks/${hookId}`);
    await signInIfAsked();
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    const settings = page.locator('form[aria-labelledby="hook-settings"]');
    await settings.getByLabel('PostSignIn', { exact: true }).check();
    await settings.getByLabel('Enabled', { exact: true }).uncheck();
    await settings.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    let hook = expectStatus(await api.get(`/hooks/${hookId}`), 200, 'hook');
    assert.deepEqual(hook.events.sort(), ['PostSignIn', 'User.Created']);
    assert.equal(hook.enabled, false);
    // No event: the console says so before calling the API.
    await settings.getByLabel('PostSignIn', { exact: true }).uncheck();
    await settings.getByLabel('User.Created', { exact: true }).uncheck();
    await settings.getByRole('button', { name: 'Save' }).click();
    await settings.getByText('Choose at least one event.').waitFor();

    const before = hook.signingKey;
    await page.getByRole('button', { name: 'Rotate the signing key' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate the signing key' }).click();
    await page.getByText('The signing key was rotated.').waitFor();
    hook = expectStatus(await api.get(`/hooks/${hookId}`), 200, 'hook');
    assert.notEqual(hook.signingKey, before);
    assert.equal((await page.getByTestId('signing-key').innerText()).trim(), hook.signingKey);

    await page.getByRole('button', { name: 'Delete webhook' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete webhook' }).click();
    await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    assert.equal((await api.get(`/hooks/${hookId}`)).status, 404);
  });

  it('renders the new pages in Spanish', async () => {
    const { page: es, close } = await newPage(browser, { locale: 'es-ES' });
    watch(es);
    await es.goto(`${endpoint}/console/logs`);
    await signInToConsole(es, admin.username, admin.password);
    await es.getByRole('heading', { name: 'Registro de auditoría', level: 1 }).waitFor();
    await es.getByRole('button', { name: 'Aplicar filtros' }).waitFor();
    await axe(es, 'audit log (es)');
    await es.getByRole('navigation').getByRole('link', { name: 'Webhooks' }).click();
    await es.getByRole('heading', { name: 'Crear un webhook' }).waitFor();
    await axe(es, 'webhooks (es)');
    await es.goto(`${endpoint}/console/users/${personId}`);
    await es.getByRole('button', { name: 'Cerrar sesión en todas partes' }).waitFor();
    await es.getByRole('heading', { name: 'Autenticación multifactor' }).waitFor();
    await close();
  });

  it('edits MFA, passkey sign-in and branding in the sign-in experience, with the preview', async () => {
    await openSection('Sign-in experience');
    const mfa = page.getByRole('group', { name: 'Multi-factor authentication' });
    await mfa.getByLabel('Authenticator app (TOTP)').check();
    await mfa.getByLabel('Backup codes').check();
    await mfa.getByLabel('MFA policy').selectOption('PromptOnlyAtSignIn');
    await mfa.getByLabel('Organizations that require MFA').selectOption('Mandatory');
    const preview = page.getByRole('region', { name: 'Preview' });
    await preview.getByText('Then, for people who enrolled one: a second step').waitFor();
    const passkey = page.getByRole('group', { name: 'Passkey sign-in' });
    assert.equal(await passkey.getByLabel('Show a "Sign in with a passkey" button').isDisabled(), true, 'off until passkeys are on');
    await passkey.getByLabel('Allow signing in with a passkey').check();
    await passkey.getByLabel('Show a "Sign in with a passkey" button').check();
    await preview.getByText('Sign in with a passkey').waitFor(); // before saving
    await page.getByLabel('Logo URL', { exact: true }).fill('https://cdn.example.com/logo.svg');
    await axe(page, 'sign-in experience with MFA');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    const sie = expectStatus(await api.get('/sign-in-exp'), 200, 'sign-in exp');
    assert.deepEqual(sie.mfa, { factors: ['Totp', 'BackupCode'], policy: 'PromptOnlyAtSignIn', organizationRequiredMfaPolicy: 'Mandatory' });
    assert.deepEqual(sie.passkeySignIn, { enabled: true, showPasskeyButton: true, allowAutofill: false });
    assert.deepEqual(sie.branding, { logoUrl: 'https://cdn.example.com/logo.svg' });
    // Backup codes alone: the API refuses, and its message is shown.
    await mfa.getByLabel('Authenticator app (TOTP)').uncheck();
    await page.getByRole('button', { name: 'Save' }).click();
    const err = page.locator('form .error[role=alert]');
    await err.waitFor();
    assert.match(await err.innerText(), /BackupCode cannot be the only factor/);
  });

  it('Management API: the sign-in experience\'s color round-trips and is validated as Logto\'s', async () => {
    const before = expectStatus(await api.get('/sign-in-exp'), 200, 'sign-in exp');
    assert.deepEqual(before.color, { primaryColor: '#6139F6', isDarkModeEnabled: false, darkPrimaryColor: '#8C70FF' }, 'Logto\'s default');
    const color = { primaryColor: '#0B6E4F', isDarkModeEnabled: true, darkPrimaryColor: '#fd3' };
    const patched = expectStatus(await api.patch('/sign-in-exp', { color }), 200, 'PATCH color');
    assert.deepEqual(patched.color, color);
    assert.deepEqual(patched.branding, before.branding, 'branding untouched');
    assert.deepEqual(expectStatus(await api.get('/sign-in-exp'), 200, 'GET').color, color);
    const refused = async (body, field) => {
      const res = await api.patch('/sign-in-exp', body);
      const err = expectStatus(res, 400, `PATCH ${JSON.stringify(body)}`);
      assert.equal(err.code, 'guard.invalid_input');
      assert.ok(err.message.startsWith(`${field}: `), `${JSON.stringify(body)}: ${err.message}`);
    };
    await refused({ color: { ...color, primaryColor: '6139F6' } }, 'color.primaryColor');
    await refused({ color: { ...color, primaryColor: '#6139F' } }, 'color.primaryColor');
    await refused({ color: { ...color, primaryColor: 'red' } }, 'color.primaryColor');
    await refused({ color: { ...color, darkPrimaryColor: '#12345g' } }, 'color.darkPrimaryColor');
    await refused({ color: { primaryColor: '#123456', isDarkModeEnabled: false } }, 'color.darkPrimaryColor');
    await refused({ color: { ...color, isDarkModeEnabled: 'yes' } }, 'color.isDarkModeEnabled');
    await refused({ color: { ...color, accent: '#000000' } }, 'color.accent');
    await refused({ color: '#123456' }, 'color');
    await refused({ branding: { logoUrl: 'javascript:alert(1)' } }, 'branding.logoUrl');
    assert.deepEqual(expectStatus(await api.get('/sign-in-exp'), 200, 'GET').color, color, 'nothing refused was stored');
  });

  it('edits the colours in the console, with the logo and colour in the preview', async () => {
    await page.context().route(`https://${BRAND_HOST}/**`, (route) => route.fulfill({ contentType: 'image/svg+xml', body: LOGO_SVG }));
    await openSection('Dashboard');
    await openSection('Sign-in experience');
    const branding = page.getByRole('group', { name: 'Branding' });
    // The stored colours (the previous test's), as the inputs show them.
    assert.equal(await branding.getByLabel('Primary colour (buttons, links, focus)').inputValue(), '#0b6e4f');
    assert.equal(await branding.getByLabel('Use a dark-mode logo and colour when the visitor\'s browser prefers dark').isChecked(), true);
    await branding.getByLabel('Primary colour (buttons, links, focus)').fill('#ffd23f');
    await branding.getByLabel('Primary colour in dark mode').fill('#0b6e4f');
    await page.getByLabel('Logo URL', { exact: true }).fill(`https://${BRAND_HOST}/logo.svg`);
    await page.getByLabel('Logo URL for dark mode').fill(`http://${BRAND_HOST}/dark.svg`);
    const preview = page.getByRole('region', { name: 'Preview' });
    const button = preview.locator('.preview-primary');
    // Before saving: a yellow button with black text, and the logo.
    assert.equal(await button.evaluate((e) => getComputedStyle(e).backgroundColor), 'rgb(255, 210, 63)');
    assert.equal(await button.evaluate((e) => getComputedStyle(e).color), 'rgb(0, 0, 0)');
    await preview.getByRole('img', { name: 'Your logo' }).waitFor();
    assert.equal(await preview.getByRole('img', { name: 'Your logo' }).evaluate((e) => e.naturalWidth > 0), true, 'the logo loaded under the console\'s CSP');
    await axe(page, 'sign-in experience branding');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    const sie = expectStatus(await api.get('/sign-in-exp'), 200, 'sign-in exp');
    assert.deepEqual(sie.color, { primaryColor: '#ffd23f', isDarkModeEnabled: true, darkPrimaryColor: '#0b6e4f' });
    assert.deepEqual(sie.branding, { logoUrl: `https://${BRAND_HOST}/logo.svg`, darkLogoUrl: `http://${BRAND_HOST}/dark.svg` });
  });

  it('the hosted sign-in page shows the tenant\'s logo and primary colour, readable, in light and dark', async () => {
    const config = await webAppConfig(ctx, app);
    const open = async (colorScheme) => {
      const { page: p, context, close } = await newPage(browser, { colorScheme });
      watch(p);
      await context.route(`https://${BRAND_HOST}/**`, (route) => route.fulfill({ contentType: 'image/svg+xml', body: LOGO_SVG }));
      await p.goto(authUrl(config, app, await flowChecks()));
      await p.locator('body:not(.loading)').waitFor();
      // A logo shown: the tenant's, or Latch's after the tenant's failed to load.
      await p.waitForFunction(() => { const i = document.querySelector('img.logo'); return i.complete && i.naturalWidth > 0; });
      return { p, close };
    };
    const look = (p) => p.evaluate(() => {
      // The buttons fade between colours (a CSS transition): read where they end.
      for (const a of document.getAnimations()) a.finish();
      const css = (sel, prop) => getComputedStyle(document.querySelector(sel))[prop];
      const img = document.querySelector('img.logo');
      return { logo: img.currentSrc, loaded: img.naturalWidth > 0, button: css('#submit', 'backgroundColor'),
        buttonText: css('#submit', 'color'), link: css('#to-register', 'color'), card: css('.card', 'backgroundColor') };
    });
    const rgb = (s) => s.match(/\d+/g).slice(0, 3).map(Number);
    const lum = (c) => { const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
    const ratio = (a, b) => { const [x, y] = [lum(rgb(a)), lum(rgb(b))].sort((m, n) => n - m); return (x + 0.05) / (y + 0.05); };

    // Light: the https logo loads (img-src allows it), yellow buttons with black text, links darkened until readable.
    let { p, close } = await open('light');
    let seen = await look(p);
    assert.equal(seen.logo, `https://${BRAND_HOST}/logo.svg`);
    assert.equal(seen.loaded, true, 'the logo loaded under the page\'s CSP');
    assert.equal(seen.button, 'rgb(255, 210, 63)');
    assert.equal(seen.buttonText, 'rgb(0, 0, 0)');
    assert.ok(ratio(seen.link, seen.card) >= 4.5, `link ${seen.link} on ${seen.card}: ${ratio(seen.link, seen.card)}`);
    assert.ok(ratio(seen.button, seen.buttonText) >= 4.5);
    await axe(p, 'hosted sign-in page branded (light)');
    await close();

    // Dark, dark mode enabled: the dark colour (white text, links lightened); the dark logo is
    // plain http, which the CSP refuses, so Latch's logo stays.
    ({ p, close } = await open('dark'));
    seen = await look(p);
    assert.match(seen.logo, /\/ui\/logo\.svg\?v=/);
    assert.equal(seen.loaded, true);
    assert.equal(seen.button, 'rgb(11, 110, 79)');
    assert.equal(seen.buttonText, 'rgb(255, 255, 255)');
    assert.ok(ratio(seen.link, seen.card) >= 4.5, `link ${seen.link} on ${seen.card}: ${ratio(seen.link, seen.card)}`);
    await axe(p, 'hosted sign-in page branded (dark)');
    await close();

    // Dark mode off: the light logo and colour in a dark browser too.
    await ctx.patchSignInExp({ color: { primaryColor: '#ffd23f', isDarkModeEnabled: false, darkPrimaryColor: '#0b6e4f' } });
    ({ p, close } = await open('dark'));
    seen = await look(p);
    assert.equal(seen.logo, `https://${BRAND_HOST}/logo.svg`);
    assert.equal(seen.button, 'rgb(255, 210, 63)');
    await close();
  });

  it('lists a user\'s MFA factors, removes one and resets the rest after confirmations', async () => {
    const base = `/users/${personId}/mfa-verifications`;
    expectStatus(await api.post(base, { type: 'Totp' }), 200, 'TOTP');
    expectStatus(await api.post(base, { type: 'BackupCode' }), 200, 'backup codes');
    // Within the console (no reload: the tenant now has MFA settings; the session carries on).
    await openSection('Users');
    await page.getByLabel('Search users').fill(person.username);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('link', { name: person.username }).click();
    await page.getByRole('heading', { name: person.username, level: 1 }).waitFor();
    const card = page.locator('.card').filter({ has: page.getByRole('heading', { name: 'Multi-factor authentication' }) });
    await card.getByRole('cell', { name: 'Authenticator app (TOTP)' }).waitFor();
    await card.getByRole('cell', { name: '10 unused' }).waitFor();
    await axe(page, 'user MFA factors');
    await card.getByRole('row').filter({ hasText: 'Backup codes' }).getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
    await page.getByText('The factor was removed.').waitFor();
    await card.getByRole('cell', { name: 'Backup codes' }).waitFor({ state: 'detached' });
    assert.deepEqual(expectStatus(await api.get(base), 200, 'factors').map((f) => f.type), ['Totp']);
    expectStatus(await api.post(base, { type: 'BackupCode' }), 200, 'backup codes again');
    await openSection('Dashboard');
    await page.goBack(); // back to the user's page, which loads its factors again
    await card.getByRole('cell', { name: 'Backup codes' }).waitFor();
    await card.getByRole('button', { name: 'Reset MFA' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Reset MFA' }).click();
    await page.getByText('Every MFA factor was removed.').waitFor();
    await card.getByText('No factor enrolled.').waitFor();
    assert.deepEqual(expectStatus(await api.get(base), 200, 'factors'), []);
    // A factor removed behind the console's back: the API's error shows in the card, the page stays.
    const totp = expectStatus(await api.post(base, { type: 'Totp' }), 200, 'TOTP again');
    assert.equal(totp.type, 'Totp');
    await openSection('Dashboard');
    await page.goBack();
    await card.getByRole('cell', { name: 'Authenticator app (TOTP)' }).waitFor();
    const [factor] = expectStatus(await api.get(base), 200, 'factors');
    expectStatus(await api.del(`${base}/${factor.id}`), 204, 'removed through the API');
    await card.getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
    await card.locator('.error[role=alert]').waitFor();
    assert.match(await card.locator('.error[role=alert]').innerText(), /\(entity\.[a-z_]+\)/);
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
  });

  /** A reload keeps no token: the console signs in again, silently while the session lasts. */
  async function signInIfAsked() {
    await Promise.race([
      page.locator('nav.side').waitFor(),
      page.locator('input#identifier').waitFor().then(() => signInToConsole(page, admin.username, admin.password)),
    ]);
    await page.locator('nav.side').waitFor();
  }
});
