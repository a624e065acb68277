// End-to-end tests of the Management API side of issue 11's messages: email and SMS connectors
// in /api/connectors (Logto's one-per-kind rule: a second email connector replaces the first),
// POST /api/connectors/:factoryId/test sending a real mail through the SMTP connector to a local
// SMTP server (npm smtp-server, tests/e2e/lib/smtp-receiver.mjs) and its errors, and
// /api/email-templates (CRUD, validation, bulk deletion, tenant isolation) and which of them the
// mail latch_messages_send delivers carries (through POST /api/verification-codes).
//
// latchd gets a connector directory of its own holding the build's email and SMS connectors, and
// LATCH_OUTBOUND_ALLOW_PRIVATE=127.0.0.0/8 so that the SMTP connector may reach the receiver on
// loopback (the outbound policy refuses private addresses otherwise, which one test checks).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { adminQuery, buildDir, freePort, randomId, startLatchd } from './lib/harness.mjs';
import {
  CookieJar, ExperienceClient, TenantCtx, assertApiError, assertInvalidField, expectStatus,
} from './lib/oidc.mjs';
import { authUrl, flowChecks, webAppConfig } from './lib/flow.mjs';
import { startSmtpReceiver } from './lib/smtp-receiver.mjs';

const SMTP = 'simple-mail-transfer-protocol';
const HTTP_EMAIL = 'http-email';
const HTTP_SMS = 'http-sms';

/** The build's connector files (every *.so of <build>/connectors and its subfolders but the
 * mock's upgrade versions), copied into a directory of their own. */
function connectorDir() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'latch-msg-connectors-'));
  const root = path.join(buildDir, 'connectors');
  const seen = new Set();
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.so') && !/^mock_v\d\.so$/.test(e.name) && !seen.has(e.name)) {
        seen.add(e.name);
        copyFileSync(p, path.join(dir, e.name));
      }
    }
  };
  walk(root);
  return dir;
}

/** The SMTP connector's config (Logto's keys) for the receiver, without TLS (loopback), with a
 * template for each usage type Logto requires: subject "<type> <code>", body "<type>: your code
 * is <code>". */
const smtpConfigFor = (receiver, auth, over = {}) => ({
  host: '127.0.0.1',
  port: receiver.port,
  auth,
  fromEmail: 'Latch Test <noreply@latch.test>',
  ignoreTLS: true,
  templates: ['SignIn', 'Register', 'ForgotPassword', 'Generic'].map((usageType) => ({
    usageType, contentType: 'text/plain', subject: `${usageType} {{code}}`, content: `${usageType}: your code is {{code}}`,
  })),
  ...over,
});

const connectorsOf = async (tenant) =>
  (await adminQuery('SELECT id, connector_id, type FROM connectors WHERE tenant_id = $1 ORDER BY created_at',
    [tenant])).rows;

describe('email templates (/api/email-templates)', () => {
  let srv;
  let ctx;
  let other;
  let api;
  before(async () => {
    srv = await startLatchd();
    ctx = await TenantCtx.create(srv, 'tpl');
    other = await TenantCtx.create(srv, 'tplo');
    api = await ctx.api();
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  const signIn = {
    languageTag: 'en',
    templateType: 'SignIn',
    details: { subject: 'Sign in to {{application.name}}', content: '<p>Your code is {{code}}</p>\n', contentType: 'text/html' },
  };
  const register = {
    languageTag: 'es-MX',
    templateType: 'Register',
    details: { subject: 'Tu código', content: 'Tu código es {{code}}', contentType: 'text/plain', sendFrom: 'Acme', extra: 'dropped' },
  };

  it('PUT validates every template and names the field', async () => {
    assertInvalidField(await api.put('/email-templates', {}), 'templates', 'no templates');
    assertInvalidField(await api.put('/email-templates', { templates: [] }), 'templates', 'empty list');
    assertInvalidField(await api.put('/email-templates', { templates: [{ ...signIn, templateType: 'Continue' }] }),
      'templates[0].templateType', 'unknown type');
    assertInvalidField(await api.put('/email-templates', { templates: [signIn, { ...signIn, templateType: 'signin' }] }),
      'templates[1].templateType', 'names are case-sensitive');
    assertInvalidField(await api.put('/email-templates', { templates: [{ ...signIn, languageTag: 'en"><x' }] }),
      'templates[0].languageTag', 'bad language tag');
    assertInvalidField(await api.put('/email-templates', { templates: [{ ...signIn, languageTag: 'a'.repeat(17) }] }),
      'templates[0].languageTag', 'language tag too long');
    assertInvalidField(await api.put('/email-templates', { templates: [{ ...signIn, details: { content: 'x' } }] }),
      'templates[0].details.subject', 'subject required');
    assertInvalidField(await api.put('/email-templates', { templates: [{ ...signIn, details: { subject: 's' } }] }),
      'templates[0].details.content', 'content required');
    assertInvalidField(await api.put('/email-templates', { templates: [{ ...signIn, details: { ...signIn.details, contentType: 'text/markdown' } }] }),
      'templates[0].details.contentType', 'content type');
    assertInvalidField(await api.put('/email-templates', { templates: [{ ...signIn, details: { ...signIn.details, content: 'x'.repeat(65537) } }] }),
      'templates[0].details.content', 'content too long');
    assertInvalidField(await api.put('/email-templates', { templates: [{ ...signIn, details: { ...signIn.details, subject: 'a\u0007b' } }] }),
      'templates[0].details.subject', 'control character');
    const many = Array.from({ length: 101 }, (_, i) => ({ ...signIn, languageTag: `l${i}` }));
    assertInvalidField(await api.put('/email-templates', { templates: many }), 'templates', 'more than 100');
    const none = expectStatus(await api.get('/email-templates'), 200, 'list after refusals');
    assert.deepEqual(none, [], 'nothing was stored by a refused PUT');
  });

  let created;
  it('PUT creates templates (Logto shape, given order); the same language and type replaces details', async () => {
    created = expectStatus(await api.put('/email-templates', { templates: [register, signIn] }), 200, 'put');
    assert.equal(created.length, 2);
    assert.deepEqual(created.map((t) => [t.languageTag, t.templateType]), [['es-MX', 'Register'], ['en', 'SignIn']]);
    for (const t of created) {
      assert.equal(t.tenantId, ctx.id);
      assert.match(t.id, /^[0-9a-z]{21}$/);
      assert.equal(typeof t.createdAt, 'number');
    }
    assert.deepEqual(created[0].details, { subject: 'Tu código', content: 'Tu código es {{code}}', contentType: 'text/plain', sendFrom: 'Acme' },
      'unknown details members are dropped');
    assert.deepEqual(created[1].details, signIn.details, 'line breaks and markup kept as given');

    const changed = { ...signIn, details: { subject: 'New subject', content: 'New {{code}}' } };
    const again = expectStatus(await api.put('/email-templates', { templates: [changed] }), 200, 'upsert');
    assert.equal(again.length, 1);
    assert.equal(again[0].id, created[1].id, 'the stored template keeps its id');
    assert.deepEqual(again[0].details, changed.details, 'details replaced, not merged');

    // Duplicates in one body: the last one wins, as Logto's one-by-one upserts.
    const dup = expectStatus(await api.put('/email-templates', {
      templates: [{ ...changed, details: { subject: 'first', content: '1' } }, { ...changed, details: { subject: 'last', content: '2' } }],
    }), 200, 'duplicates');
    assert.equal(dup.length, 1);
    assert.equal(dup[0].details.subject, 'last');
  });

  it('GET lists (filters languageTag and templateType) and GET /:id reads one', async () => {
    const all = expectStatus(await api.get('/email-templates'), 200, 'list');
    assert.deepEqual(all.map((t) => [t.languageTag, t.templateType]), [['en', 'SignIn'], ['es-MX', 'Register']],
      'by language tag, then type');
    const en = expectStatus(await api.get('/email-templates?languageTag=en'), 200, 'by language');
    assert.deepEqual(en.map((t) => t.id), [created[1].id]);
    const reg = expectStatus(await api.get('/email-templates?templateType=Register'), 200, 'by type');
    assert.deepEqual(reg.map((t) => t.id), [created[0].id]);
    assert.deepEqual(expectStatus(await api.get('/email-templates?languageTag=en&templateType=Register'), 200, 'both'), []);
    assertInvalidField(await api.get('/email-templates?templateType=Nope'), 'templateType', 'unknown type filter');
    const one = expectStatus(await api.get(`/email-templates/${created[0].id}`), 200, 'get one');
    assert.equal(one.templateType, 'Register');
    assertApiError(await api.get('/email-templates/nosuchtemplate'), 404, 'unknown id');
  });

  it('another tenant sees, changes and deletes none of them', async () => {
    const oapi = await other.api();
    assert.deepEqual(expectStatus(await oapi.get('/email-templates'), 200, 'other list'), []);
    assertApiError(await oapi.get(`/email-templates/${created[0].id}`), 404, 'other get');
    assertApiError(await oapi.patch(`/email-templates/${created[0].id}/details`, { subject: 'x' }), 404, 'other patch');
    assertApiError(await oapi.del(`/email-templates/${created[0].id}`), 404, 'other delete');
    const bulk = expectStatus(await oapi.del('/email-templates?languageTag=en'), 200, 'other bulk delete');
    assert.deepEqual(bulk, { rowCount: 0 });
    expectStatus(await api.get(`/email-templates/${created[0].id}`), 200, 'still there');
  });

  it('PATCH /:id/details replaces the members given', async () => {
    const patched = expectStatus(await api.patch(`/email-templates/${created[0].id}/details`, { subject: 'Bienvenida', replyTo: 'soporte' }),
      200, 'patch');
    assert.deepEqual(patched.details, {
      subject: 'Bienvenida', content: 'Tu código es {{code}}', contentType: 'text/plain', sendFrom: 'Acme', replyTo: 'soporte',
    });
    assertInvalidField(await api.patch(`/email-templates/${created[0].id}/details`, { contentType: 'application/pdf' }),
      'contentType', 'bad content type');
    assertApiError(await api.patch('/email-templates/nosuchtemplate/details', { subject: 'x' }), 404, 'unknown id');
  });

  it('DELETE with filters needs one (422) and answers the rowCount; DELETE /:id answers 204, then 404', async () => {
    const body = assertApiError(await api.del('/email-templates'), 422, 'no filter');
    assert.equal(body.code, 'connector.email_connector.bulk_deletion_no_filter');
    expectStatus(await api.put('/email-templates', { templates: [{ ...signIn, languageTag: 'fr' }, { ...signIn, languageTag: 'fr', templateType: 'Generic' }] }),
      200, 'two in fr');
    assert.deepEqual(expectStatus(await api.del('/email-templates?languageTag=fr&templateType=Generic'), 200, 'fr Generic'), { rowCount: 1 });
    assert.deepEqual(expectStatus(await api.del('/email-templates?languageTag=fr'), 200, 'fr'), { rowCount: 1 });
    assert.equal((await api.del(`/email-templates/${created[0].id}`)).status, 204);
    assertApiError(await api.del(`/email-templates/${created[0].id}`), 404, 'deleted twice');
    const left = expectStatus(await api.get('/email-templates'), 200, 'left');
    assert.deepEqual(left.map((t) => t.languageTag), ['en']);
  });
});

describe('email and SMS connectors and the test endpoint', () => {
  const auth = { user: 'latch', pass: `pw-${randomId(10)}` };
  let receiver;
  let dir;
  let srv;
  let ctx;
  let api;
  let outDir;
  before(async () => {
    receiver = await startSmtpReceiver({ auth });
    dir = connectorDir();
    // The test connectors of tests/abi/ (factories test-mailer and test-sms) record what they
    // were asked to send in the file their config names.
    for (const f of ['mailer.so', 'mailer_sms.so']) {
      const p = path.join(buildDir, 'tests', 'abi', f);
      assert.ok(existsSync(p), `the build has ${p}`);
      copyFileSync(p, path.join(dir, f));
    }
    outDir = mkdtempSync(path.join(os.tmpdir(), 'latch-msg-out-'));
    srv = await startLatchd({ env: { LATCH_CONNECTOR_DIR: dir, LATCH_OUTBOUND_ALLOW_PRIVATE: '127.0.0.0/8' } });
    ctx = await TenantCtx.create(srv, 'msg');
    api = await ctx.api();
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
    await receiver?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  const smtpConfig = (over = {}) => smtpConfigFor(receiver, auth, over);
  const mailerConfig = () => ({ outFile: path.join(outDir, `${randomId(8)}.json`) });

  it('GET /api/connector-factories lists email and SMS factories with their type', async () => {
    const list = expectStatus(await api.get('/connector-factories'), 200, 'factories');
    const byId = Object.fromEntries(list.map((f) => [f.id, f]));
    assert.equal(byId['test-mailer']?.type, 'Email', `test-mailer in ${Object.keys(byId)}`);
    assert.equal(byId['test-sms']?.type, 'Sms');
    assert.equal(byId['huggingface-universal']?.type, 'Social');
    assert.equal(byId[SMTP]?.type, 'Email', `${SMTP} in ${Object.keys(byId)}`);
  });

  let mailer;
  let smsConnector;
  it('creates an email connector and an SMS connector (Logto shape, secrets masked)', async () => {
    const secret = `s-${randomId(12)}`;
    mailer = expectStatus(await api.post('/connectors', { connectorId: 'test-mailer', config: { ...mailerConfig(), smtpPass: secret } }),
      200, 'email connector');
    assert.equal(mailer.type, 'Email');
    assert.equal(mailer.platform, null);
    assert.equal(mailer.connectorId, 'test-mailer');
    assert.equal(mailer.config.smtpPass, '********');
    assert.ok(!JSON.stringify(mailer).includes(secret), 'the secret is never answered');
    const row = (await adminQuery('SELECT config::text AS c, type FROM connectors WHERE tenant_id = $1 AND id = $2',
      [ctx.id, mailer.id])).rows[0];
    assert.equal(row.type, 'Email');
    assert.ok(!row.c.includes(secret), 'the secret is sealed at rest');

    smsConnector = expectStatus(await api.post('/connectors', { connectorId: 'test-sms', config: mailerConfig() }), 200, 'sms');
    assert.equal(smsConnector.type, 'Sms');
    assert.equal(smsConnector.platform, null);
    const listed = expectStatus(await api.get('/connectors'), 200, 'list');
    assert.deepEqual(listed.map((c) => [c.id, c.type]), [[mailer.id, 'Email'], [smsConnector.id, 'Sms']]);
    // Logto's ?target= filter, with Total-Number counting what it kept.
    // (Both test connectors of tests/abi/mailer.c have the target "mailer".)
    assert.equal(smsConnector.target, 'mailer');
    const res = await api.get('/connectors?target=mailer');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json().map((c) => c.id), [mailer.id, smsConnector.id]);
    assert.equal(res.headers.get('total-number'), '2');
    const none = await api.get('/connectors?target=no-such-target');
    assert.deepEqual(none.json(), []);
    assert.equal(none.headers.get('total-number'), '0');

    // A PATCH that sends the mask back keeps the stored secret.
    const outFile = path.join(outDir, 'patched.json');
    const patched = expectStatus(await api.patch(`/connectors/${mailer.id}`, { config: { outFile, smtpPass: '********' } }),
      200, 'patch with the mask');
    assert.equal(patched.config.outFile, outFile);
    const after = (await adminQuery('SELECT config::text AS c FROM connectors WHERE tenant_id = $1 AND id = $2',
      [ctx.id, mailer.id])).rows[0].c;
    assert.match(after, /"smtpPass": \{"\$sealed"/, 'still sealed');
    const body = assertApiError(await api.patch(`/connectors/${mailer.id}`, { syncProfile: true }), 422, 'sync profile');
    assert.equal(body.code, 'connector.invalid_type_for_syncing_profile');
    expectStatus(await api.patch(`/connectors/${mailer.id}`, { syncProfile: false }), 200, 'syncProfile false is fine');
  });

  it('one connector per factory: the same email or SMS factory again → 422, nothing changes', async () => {
    let body = assertApiError(await api.post('/connectors', { connectorId: 'test-mailer', config: mailerConfig() }), 422, 'same factory');
    assert.equal(body.code, 'connector.multiple_instances_not_supported');
    body = assertApiError(await api.post('/connectors', { connectorId: 'test-sms', config: mailerConfig() }), 422, 'same SMS factory');
    assert.equal(body.code, 'connector.multiple_instances_not_supported');
    assert.deepEqual((await connectorsOf(ctx.id)).map((r) => r.id), [mailer.id, smsConnector.id], 'nothing added, nothing lost');
  });

  let smtpConnector;
  it('a second email connector of another factory replaces the first (SMTP, its auth object sealed)', async () => {
    smtpConnector = expectStatus(await api.post('/connectors', { connectorId: SMTP, config: smtpConfig() }), 200, 'smtp');
    assert.equal(smtpConnector.type, 'Email');
    assert.equal(smtpConnector.config.host, '127.0.0.1');
    assert.equal(smtpConnector.config.auth, '********', 'the confidential auth object is masked');
    assert.ok(!JSON.stringify(smtpConnector).includes(auth.pass), 'the password is never answered');
    assertApiError(await api.get(`/connectors/${mailer.id}`), 404, 'the replaced connector');
    const rows = await connectorsOf(ctx.id);
    assert.deepEqual(rows.map((r) => [r.connector_id, r.type]), [['test-sms', 'Sms'], [SMTP, 'Email']]);
    const stored = (await adminQuery('SELECT config::text AS c FROM connectors WHERE tenant_id = $1 AND id = $2',
      [ctx.id, smtpConnector.id])).rows[0].c;
    assert.ok(!stored.includes(auth.pass), 'the password is sealed at rest');
    assert.match(stored, /"\$sealedJson"/);
    // The mask keeps the sealed object, and the connector still validates with it.
    expectStatus(await api.patch(`/connectors/${smtpConnector.id}`, { config: { ...smtpConfig(), auth: '********' } }),
      200, 'patch smtp with the mask');
  });

  it('an email or SMS connector is never a social button, even when its target is enabled', async () => {
    const list = expectStatus(await api.get('/connector-factories'), 200, 'factories');
    const targets = [...new Set(list.filter((f) => f.type !== 'Social').map((f) => f.target))];
    expectStatus(await api.patch('/sign-in-exp', { socialSignInConnectorTargets: targets }), 200, 'enable their targets');
    const app = await ctx.createWebApp('http://localhost:3000', { name: 'Messages app' });
    const xp = new ExperienceClient(ctx, new CookieJar());
    await xp.start(authUrl(await webAppConfig(ctx, app), app, await flowChecks()));
    const state = await xp.loadInteraction();
    assert.deepEqual(state.socialConnectors, [], `no button in ${JSON.stringify(state.socialConnectors)}`);
    for (const c of await connectorsOf(ctx.id)) {
      const res = await xp.call('POST', `/verification/social/${c.id}/authorization-uri`, {});
      assertApiError(res, 404, `authorization-uri of the ${c.type} connector`);
    }
    expectStatus(await api.patch('/sign-in-exp', { socialSignInConnectorTargets: [] }), 200, 'reset');
    expectStatus(await api.get('/connectors'), 200, 'the node still serves');
  });

  it('POST /api/connectors/:factoryId/test refuses what it cannot send, in Logto\'s shape', async () => {
    const to = { email: 'ada@example.com', config: mailerConfig() };
    let body = assertApiError(await api.post('/connectors/no-such-factory/test', to), 404, 'unknown factory');
    assert.equal(body.code, 'connector.not_found');
    body = assertApiError(await api.post('/connectors/huggingface-universal/test', to), 404, 'a social factory');
    assert.equal(body.code, 'connector.not_found');
    assertInvalidField(await api.post('/connectors/test-mailer/test', { config: mailerConfig() }), 'email', 'no recipient');
    assertApiError(await api.post('/connectors/test-mailer/test', { email: 'not-an-address', config: mailerConfig() }), 400, 'bad address');
    assertInvalidField(await api.post('/connectors/test-mailer/test', { email: 'ada@example.com' }), 'config', 'no config');
    assertInvalidField(await api.post('/connectors/test-mailer/test', { email: 'ada@example.com', config: [] }), 'config', 'config array');
    body = assertApiError(await api.post('/connectors/test-mailer/test', { phone: '34600111222', config: mailerConfig() }), 400, 'phone to email');
    assert.equal(body.code, 'connector.unexpected_type');
    body = assertApiError(await api.post('/connectors/test-sms/test', { email: 'ada@example.com', config: mailerConfig() }), 400, 'email to SMS');
    assert.equal(body.code, 'connector.unexpected_type');
    assertApiError(await api.post('/connectors/test-sms/test', { phone: '+34 600', config: mailerConfig() }), 400, 'bad phone');
    body = assertApiError(await api.post('/connectors/test-mailer/test', { email: 'ada@example.com', config: {} }), 400, 'invalid config');
    assert.equal(body.code, 'connector.invalid_config');
    assert.match(body.message, /outFile/);
  });

  it('the connector\'s failures become Logto\'s answers (400, 501, 502) with a clear message', async () => {
    const cases = [
      [2, 400, 'connector.invalid_config'],
      [3, 400, 'connector.invalid_response'],
      [7, 502, 'connector.timeout'],
      [1, 502, 'connector.general'],
      [8, 501, 'connector.not_implemented'],
    ];
    for (const [fail, status, code] of cases) {
      const body = assertApiError(await api.post('/connectors/test-mailer/test',
        { email: 'ada@example.com', config: { ...mailerConfig(), fail: String(fail) } }), status, `fail ${fail}`);
      assert.equal(body.code, code, `fail ${fail}`);
      assert.match(body.message, /email/, `fail ${fail}: ${body.message}`);
    }
  });

  it('sends the Generic template with code 000000 through SMTP to the receiver, storing nothing', async () => {
    const before = await connectorsOf(ctx.id);
    const res = await api.post(`/connectors/${SMTP}/test`, { email: 'grace@example.com', config: smtpConfig({ fromEmail: 'Test Sender <tests@latch.test>' }) });
    assert.equal(res.status, 204, res.text);
    const mail = await receiver.waitFor((m) => m.to.includes('grace@example.com'));
    assert.equal(mail.from, 'tests@latch.test');
    assert.equal(mail.subject, 'Generic 000000');
    assert.match(mail.text, /Generic: your code is 000000/);
    assert.deepEqual(await connectorsOf(ctx.id), before, 'the test stored nothing');
  });

  it('the SMTP server refusing the password, or down, is a clear error and nothing is sent', async () => {
    const sent = receiver.messages.length;
    let body = assertApiError(await api.post(`/connectors/${SMTP}/test`,
      { email: 'ada@example.com', config: smtpConfig({ auth: { user: auth.user, pass: 'Not-The-Pass-42' } }) }), 400, 'wrong password');
    assert.equal(body.code, 'connector.invalid_config');
    assert.ok(!body.message.includes('Not-The-Pass-42'), 'the password is not echoed');
    const closed = await freePort();
    body = assertApiError(await api.post(`/connectors/${SMTP}/test`,
      { email: 'ada@example.com', config: smtpConfig({ port: closed }) }), 502, 'server down');
    assert.equal(body.code, 'connector.general');
    assert.equal(receiver.messages.length, sent);
    const logs = srv.logs.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');
    assert.ok(!logs.includes(auth.pass), 'no password in the log');
  });

  it('an SMS factory gets the test message for a phone number', async () => {
    const config = mailerConfig();
    const res = await api.post('/connectors/test-sms/test', { phone: '34600111222', config, locale: 'es' });
    assert.equal(res.status, 204, res.text);
    const { readFileSync } = await import('node:fs');
    const report = JSON.parse(readFileSync(config.outFile, 'utf8'));
    assert.equal(report.to, '34600111222');
    assert.equal(report.type_name, 'Generic');
    assert.equal(report.locale, 'es');
    assert.deepEqual(report.vars, { code: '000000' });
  });

  it('a node whose outbound policy refuses loopback refuses the SMTP server there', async () => {
    const strict = await startLatchd({ env: { LATCH_CONNECTOR_DIR: dir } });
    try {
      const sapi = await ctx.on(strict).api();
      const body = assertApiError(await sapi.post(`/connectors/${SMTP}/test`, { email: 'ada@example.com', config: smtpConfig() }),
        400, 'loopback refused');
      assert.equal(body.code, 'connector.address_refused');
    } finally {
      assert.equal((await strict.stop()).code, 0);
    }
  });

  it('test messages are throttled per tenant (10 a minute), with Retry-After', async () => {
    const t = await TenantCtx.create(srv, 'msgthr');
    const tapi = await t.api();
    for (let i = 0; i < 10; i++) {
      const res = await tapi.post('/connectors/test-mailer/test', { email: `n${i}@example.com`, config: mailerConfig() });
      assert.equal(res.status, 204, `send ${i}: ${res.text}`);
    }
    const res = await tapi.post('/connectors/test-mailer/test', { email: 'n10@example.com', config: mailerConfig() });
    const body = assertApiError(res, 429, 'the eleventh');
    assert.equal(body.code, 'guard.too_many_requests');
    assert.ok(Number(res.headers.get('retry-after')) >= 1, 'Retry-After');
    // Another tenant is not affected.
    const t2 = await TenantCtx.create(srv, 'msgthr');
    const res2 = await (await t2.api()).post('/connectors/test-mailer/test', { email: 'x@example.com', config: mailerConfig() });
    assert.equal(res2.status, 204, res2.text);
  });
});

// The tenant's email templates in a real mail, sent by latch_messages_send for
// POST /api/verification-codes (Logto's: the Generic template, locale "en").
describe('the tenant\'s email templates in the mail latch_messages_send sends', () => {
  const auth = { user: 'latch', pass: `pw-${randomId(10)}` };
  let receiver;
  let dir;
  let srv;
  let ctx;
  let api;
  before(async () => {
    receiver = await startSmtpReceiver({ auth });
    dir = connectorDir();
    srv = await startLatchd({ env: { LATCH_CONNECTOR_DIR: dir, LATCH_OUTBOUND_ALLOW_PRIVATE: '127.0.0.0/8' } });
    ctx = await TenantCtx.create(srv, 'msgtpl');
    api = await ctx.api();
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
    await receiver?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const smtpConfig = () => smtpConfigFor(receiver, auth);

  it('without an email connector: 400 connector.not_found', async () => {
    const body = assertApiError(await api.post('/verification-codes', { email: 'nobody@example.com' }), 400, 'no connector');
    assert.equal(body.code, 'connector.not_found');
  });

  it('the connector\'s template without a tenant template; the tenant\'s (text/html) once set; the connector\'s again once deleted', async () => {
    expectStatus(await api.post('/connectors', { connectorId: SMTP, config: smtpConfig() }), 200, 'smtp connector');
    assert.equal((await api.post('/verification-codes', { email: 'one@example.com' })).status, 204);
    let mail = await receiver.waitFor((m) => m.to.includes('one@example.com'));
    assert.match(mail.subject, /^Generic \d{6}$/);
    assert.match(mail.text, /Generic: your code is \d{6}/, 'the connector\'s template');

    // The fallback language (en) Generic template applies to a message without a locale.
    const [tpl] = expectStatus(await api.put('/email-templates', {
      templates: [{ languageTag: 'en', templateType: 'Generic', details: { subject: 'Tenant code {{code}}', content: '<p>Tenant <b>{{code}}</b></p>', contentType: 'text/html' } }],
    }), 200, 'tenant template');
    assert.equal((await api.post('/verification-codes', { email: 'two@example.com' })).status, 204);
    mail = await receiver.waitFor((m) => m.to.includes('two@example.com'));
    assert.match(mail.subject, /^Tenant code \d{6}$/);
    assert.match(mail.contentType, /text\/html/);
    assert.match(mail.text, /<p>Tenant <b>\d{6}<\/b><\/p>/);

    assert.equal((await api.del(`/email-templates/${tpl.id}`)).status, 204);
    assert.equal((await api.post('/verification-codes', { email: 'three@example.com' })).status, 204);
    mail = await receiver.waitFor((m) => m.to.includes('three@example.com'));
    assert.match(mail.subject, /^Generic \d{6}$/, 'the connector\'s template again');
  });

  it('which template: the message\'s locale (any case) before the fallback language\'s', async () => {
    // /api/verification-codes sends in locale "en"; the tenant falls back to Spanish.
    expectStatus(await api.patch('/sign-in-exp', { languageInfo: { autoDetect: true, fallbackLanguage: 'es' } }), 200, 'fallback es');
    expectStatus(await api.put('/email-templates', {
      templates: [
        { languageTag: 'es', templateType: 'Generic', details: { subject: 'Código {{code}}', content: 'Tu código: {{code}}', contentType: 'text/plain' } },
        { languageTag: 'fr', templateType: 'Generic', details: { subject: 'Code fr {{code}}', content: 'fr {{code}}', contentType: 'text/plain' } },
      ],
    }), 200, 'es and fr templates');
    assert.equal((await api.post('/verification-codes', { email: 'four@example.com' })).status, 204);
    let mail = await receiver.waitFor((m) => m.to.includes('four@example.com'));
    assert.match(mail.subject, /^Código \d{6}$/, 'no en template: the fallback language\'s');

    expectStatus(await api.put('/email-templates', {
      templates: [{ languageTag: 'EN', templateType: 'Generic', details: { subject: 'Exact {{code}}', content: 'Exact: {{code}}', contentType: 'text/plain' } }],
    }), 200, 'EN template');
    assert.equal((await api.post('/verification-codes', { email: 'five@example.com' })).status, 204);
    mail = await receiver.waitFor((m) => m.to.includes('five@example.com'));
    assert.match(mail.subject, /^Exact \d{6}$/, 'the locale\'s template, whatever its case');
    expectStatus(await api.patch('/sign-in-exp', { languageInfo: { autoDetect: true, fallbackLanguage: 'en' } }), 200, 'reset');
  });
});
