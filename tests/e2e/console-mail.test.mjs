// End-to-end test of the admin console's Email templates page (issue 13, on the Management API's
// /api/email-templates), in headless Chromium against a real latchd and PostgreSQL: a template
// created in the console is what GET /api/email-templates answers; the replacement of an existing
// language and type is asked first; the filters; an edit; the API's validation errors shown as
// they come; a delete after a confirmation (Escape cancels). And that the template is used: a
// Register code mailed in Spanish by the SMTP connector to a local SMTP server (npm smtp-server)
// carries the subject and content written in the console. axe-core runs on the list, a template's
// page and the Spanish list; a long list is paged by the console (the API answers all at once).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildDir, randomId, startLatchd } from './lib/harness.mjs';
import { launchBrowser } from './lib/browser.mjs';
import { axe, consoleAsNewAdmin } from './lib/console.mjs';
import { startSmtpReceiver } from './lib/smtp-receiver.mjs';
import { ExperienceClient, TenantCtx, authUrl, expectStatus, pkcePair, uniqPassword, uniqUsername } from './lib/oidc.mjs';

const RP = 'http://localhost:3000';

describe('admin console: email templates', () => {
  const auth = { user: 'latch', pass: `pw-${randomId(8)}` };
  const admin = { username: uniqUsername('admin'), password: uniqPassword() };
  let srv;
  let dir;
  let receiver;
  let browser;
  let page;
  let ctx;
  let api;
  let templateId;

  before(async () => {
    receiver = await startSmtpReceiver({ auth });
    dir = await mkdtemp(path.join(os.tmpdir(), 'latch-console-mail-'));
    await chmod(dir, 0o755);
    await copyFile(path.join(buildDir, 'connectors', 'smtp.so'), path.join(dir, 'smtp.so'));
    await chmod(path.join(dir, 'smtp.so'), 0o755);
    // The SMTP receiver is on loopback, which the outbound policy refuses unless allowed.
    srv = await startLatchd({ env: { LATCH_CONNECTOR_DIR: dir, LATCH_OUTBOUND_ALLOW_PRIVATE: '127.0.0.0/8' } });
    ctx = await TenantCtx.create(srv, 'console-mail');
    api = await ctx.api();
    // The connector's own templates: what mails say when the tenant has none.
    expectStatus(await api.post('/connectors', { connectorId: 'simple-mail-transfer-protocol', config: {
      host: '127.0.0.1', port: receiver.port, auth, fromEmail: 'Latch <noreply@latch.test>', ignoreTLS: true,
      templates: ['SignIn', 'Register', 'ForgotPassword', 'Generic'].map((usageType) => ({
        usageType, contentType: 'text/plain', subject: `Connector ${usageType}`, content: 'Connector code {{code}}.' })),
    } }), [200, 201], 'the SMTP connector');

    browser = await launchBrowser();
    page = await consoleAsNewAdmin(srv, browser, ctx.id, admin);
  });
  after(async () => {
    await browser?.close();
    if (srv) assert.equal((await srv.stop()).code, 0);
    await receiver?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const nav = () => page.getByRole('navigation', { name: 'Console sections' });
  const newForm = () => page.locator('form[aria-labelledby="new-mail"]');
  const templates = async (query = '') => expectStatus(await api.get(`/email-templates${query}`), 200, 'GET /email-templates');

  /** Fills the "New email template" form and submits it. */
  async function fillNew({ languageTag, templateType, subject, content, contentType }) {
    const f = newForm();
    await f.getByLabel('Language tag').fill(languageTag);
    await f.getByLabel('Template type').selectOption(templateType);
    await f.getByLabel('Subject').fill(subject);
    await f.getByLabel('Content', { exact: true }).fill(content);
    await f.getByLabel('Content type').selectOption(contentType);
    await f.getByRole('button', { name: 'Create' }).click();
  }

  it('sits next to Connectors; its empty state; the variables explained', async () => {
    const names = await nav().getByRole('link').allInnerTexts();
    assert.equal(names[names.indexOf('Connectors') + 1], 'Email templates', names.join(', '));
    await nav().getByRole('link', { name: 'Email templates', exact: true }).click();
    await page.getByRole('heading', { name: 'Email templates', level: 1 }).waitFor();
    await page.getByText('No email template yet').waitFor();
    assert.match(await page.locator('main p.muted').first().innerText(), /overrides the email connector's own.*\{\{code\}\}.*\{\{link\}\}/s);
    assert.deepEqual(await templates(), []);
  });

  it('creates a template that the API then answers; replacing one is asked first; the filters', async () => {
    await fillNew({ languageTag: 'es', templateType: 'Register', subject: 'Tu código de registro',
      content: 'Hola: tu código es {{code}}.', contentType: 'text/plain' });
    await page.getByRole('heading', { name: 'Sign-up code (Register) · es', level: 1 }).waitFor();
    const [tpl] = await templates('?languageTag=es&templateType=Register');
    assert.ok(tpl, 'GET /api/email-templates has it');
    templateId = tpl.id;
    assert.equal(page.url().endsWith(`/console/email-templates/${tpl.id}`), true, page.url());
    assert.deepEqual(tpl.details, { subject: 'Tu código de registro', content: 'Hola: tu código es {{code}}.', contentType: 'text/plain' });
    await axe(page, 'email template');

    await page.getByRole('link', { name: '← Email templates' }).click();
    await page.getByRole('table').getByText('Tu código de registro').waitFor();
    await axe(page, 'email templates');
    // The same language and type again: the console asks before the PUT replaces it.
    await fillNew({ languageTag: 'es', templateType: 'Register', subject: 'Otro asunto', content: 'x {{code}}', contentType: 'text/html' });
    const dialog = page.getByRole('dialog');
    await dialog.getByText('The tenant already has a template for es and Sign-up code (Register). Replace it?').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await templates('?languageTag=es'))[0].details.subject, 'Tu código de registro', 'cancel keeps it');

    // A second one through the API, then the filters.
    expectStatus(await api.put('/email-templates', { templates: [{ languageTag: 'en', templateType: 'SignIn',
      details: { subject: 'Your sign-in code', content: '{{code}}' } }] }), 200, 'PUT');
    const filters = page.getByRole('search', { name: 'Filter the templates' });
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('table').getByText('(2)').waitFor();
    await filters.getByLabel('Template type').selectOption('Register');
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('table').getByText('(1)').waitFor();
    assert.equal(await page.getByRole('table').getByText('Your sign-in code').count(), 0);
    await filters.getByLabel('Language tag').fill('en');
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No template matches.').waitFor();
    // A filter the API refuses: its error, as it came.
    await filters.getByLabel('Language tag').fill('e$');
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    assert.match(await page.getByRole('alert').innerText(), /languageTag.*must be a language tag/);
    await filters.getByLabel('Language tag').fill('');
    await filters.getByLabel('Template type').selectOption('');
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('table').getByText('(2)').waitFor();
  });

  it('shows the API\'s validation errors on create and edit; an edit is what the API answers', async () => {
    await fillNew({ languageTag: 'es ES', templateType: 'SignIn', subject: 's', content: 'c', contentType: 'text/plain' });
    const err = await newForm().getByRole('alert').innerText();
    assert.match(err, /languageTag/, err);
    assert.match(err, /\(guard\.[a-z_]+\)/, `Logto's code in ${err}`);
    assert.equal((await templates('?templateType=SignIn')).length, 1, 'nothing created');

    await page.getByRole('table').getByRole('link', { name: 'Sign-up code (Register)' }).click();
    await page.getByRole('heading', { name: 'Sign-up code (Register) · es', level: 1 }).waitFor();
    const form = page.locator('form[aria-labelledby="edit-mail"]');
    await form.getByLabel('Subject').fill('');
    await form.getByRole('button', { name: 'Save' }).click();
    assert.match(await form.getByRole('alert').innerText(), /subject/);
    assert.equal(expectStatus(await api.get(`/email-templates/${templateId}`), 200, 'GET').details.subject, 'Tu código de registro');

    await form.getByLabel('Subject').fill('Código para crear tu cuenta');
    await form.getByLabel('Content', { exact: true }).fill('Tu código es {{code}}. Caduca en 10 minutos.');
    await form.getByLabel('Reply-To').fill('ayuda@example.com');
    await form.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    assert.deepEqual(expectStatus(await api.get(`/email-templates/${templateId}`), 200, 'GET').details, {
      subject: 'Código para crear tu cuenta', content: 'Tu código es {{code}}. Caduca en 10 minutos.',
      contentType: 'text/plain', replyTo: 'ayuda@example.com' });
  });

  it('a Register code mailed in Spanish uses the console-made template; English keeps the connector\'s', async () => {
    // Sign-up by an email code (the administrator, already signed in, keeps the username).
    await ctx.patchSignInExp({
      signIn: { methods: [
        { identifier: 'username', password: true, verificationCode: false, isPasswordPrimary: true },
        { identifier: 'email', password: false, verificationCode: true, isPasswordPrimary: false },
      ] },
      signUp: { identifiers: ['email'], password: false, verify: true },
    });
    const app = await ctx.createWebApp(RP);
    const mailCode = async (uiLocales, email) => {
      const pkce = pkcePair();
      const xp = new ExperienceClient(ctx);
      await xp.start(authUrl(ctx, { client_id: app.id, redirect_uri: app.redirectUri, response_type: 'code',
        scope: 'openid', state: `st-${randomId(6)}`, code_challenge: pkce.challenge, code_challenge_method: 'S256',
        ui_locales: uiLocales }));
      await xp.begin('Register');
      const res = await xp.call('POST', '/verification/verification-code',
        { identifier: { type: 'email', value: email }, interactionEvent: 'Register' });
      assert.equal(res.status, 200, `send: ${res.text}`);
      return receiver.waitFor((m) => m.to.includes(email));
    };
    const es = await mailCode('es', `${uniqUsername('ana')}@example.com`.toLowerCase());
    assert.equal(es.subject, 'Código para crear tu cuenta');
    assert.match(es.text, /^Tu código es [0-9]{6}\. Caduca en 10 minutos\./);
    const en = await mailCode('en', `${uniqUsername('ann')}@example.com`.toLowerCase());
    assert.equal(en.subject, 'Connector Register');
  });

  it('renders in Spanish', async () => {
    await page.getByRole('link', { name: '← Email templates' }).click();
    await page.locator('header.top select').selectOption('es'); // the header's language switch
    await page.getByRole('heading', { name: 'Plantillas de correo', level: 1 }).waitFor();
    await page.getByRole('table').getByText('Código de registro (Register)').waitFor();
    await axe(page, 'email templates es');
    await page.locator('header.top select').selectOption('en');
    await page.getByRole('heading', { name: 'Email templates', level: 1 }).waitFor();
  });

  it('deletes a template after a confirmation; Escape cancels', async () => {
    await page.getByRole('table').getByRole('link', { name: 'Sign-up code (Register)' }).click();
    await page.getByRole('heading', { name: 'Sign-up code (Register) · es', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Delete template' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('Delete the template for es and Sign-up code (Register)?').waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expectStatus(await api.get(`/email-templates/${templateId}`), 200, 'Escape keeps it');
    await page.getByRole('button', { name: 'Delete template' }).click();
    await dialog.getByRole('button', { name: 'Delete template' }).click();
    await page.getByRole('heading', { name: 'Email templates', level: 1 }).waitFor();
    await page.getByRole('table').getByText('(1)').waitFor();
    assert.equal((await api.get(`/email-templates/${templateId}`)).status, 404);
    assert.deepEqual((await templates()).map((x) => x.templateType), ['SignIn']);
  });

  it('pages through a long list, 20 at a time', async () => {
    const many = ['fr', 'de', 'it', 'pt', 'nl', 'sv'].flatMap((languageTag) => ['SignIn', 'Register', 'ForgotPassword', 'Generic']
      .map((templateType) => ({ languageTag, templateType, details: { subject: `${languageTag} ${templateType}`, content: '{{code}}' } })));
    expectStatus(await api.put('/email-templates', { templates: many }), 200, 'PUT 24');
    const filters = page.getByRole('search', { name: 'Filter the templates' });
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('table').getByText('(25)').waitFor();
    const pager = page.getByRole('navigation', { name: 'Pages' });
    await pager.getByText('Page 1 of 2').waitFor();
    assert.equal(await page.getByRole('table').locator('tbody tr').count(), 20);
    await pager.getByRole('button', { name: 'Next' }).click();
    await pager.getByText('Page 2 of 2').waitFor();
    assert.equal(await page.getByRole('table').locator('tbody tr').count(), 5);
    // A filter starts again at the first page.
    await filters.getByLabel('Template type').selectOption('Generic');
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('table').getByText('(6)').waitFor();
    assert.equal(await pager.count(), 0, 'one page: no pager');
    assert.equal(await page.getByRole('table').locator('tbody tr').count(), 6);
  });
});
