// End-to-end tests of one-time codes on the hosted sign-in page (issue 11, item 4), in headless
// Chromium, with real mail: the tenant's email connector is the SMTP connector (factory
// `simple-mail-transfer-protocol`) talking to a local SMTP server (tests/e2e/lib/smtp-receiver.mjs),
// and each code is read from the mail Latch sent.
//
// Covered: "Forgot your password?" (code by email, a wrong code refused, a new password checked
// against the policy, the old password refused afterwards and the new one signing in); "Sign in
// with a code instead" (passwordless sign-in to the application); registration by code alone
// when signUp asks only for a verified email; the links only when the sign-in experience enables
// them; the Spanish page; and no mail server → a clear message and no code stored.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { adminQuery, startLatchd } from './lib/harness.mjs';
import {
  assertLabelled,
  expectErrorShown,
  launchBrowser,
  newPage,
  signInOnPage,
  startCallbackServer,
  waitForUrlPrefix,
} from './lib/browser.mjs';
import { CookieJar, ExperienceClient, TenantCtx, expectStatus, jarFetch, uniq } from './lib/oidc.mjs';
import { authUrl, flowChecks, redeem, webAppConfig } from './lib/flow.mjs';
import { startSmtpReceiver } from './lib/smtp-receiver.mjs';

const EMAIL_CODES = {
  signIn: { methods: [
    { identifier: 'username', password: true, verificationCode: false, isPasswordPrimary: true },
    { identifier: 'email', password: true, verificationCode: true, isPasswordPrimary: false },
  ] },
  forgotPasswordMethods: ['EmailVerificationCode'],
};

describe('one-time codes on the hosted sign-in page', () => {
  let srv;
  let browser;
  let rp;
  let box;
  before(async () => {
    box = await startSmtpReceiver({ auth: { user: 'latch', pass: 'smtp-secret' } });
    srv = await startLatchd({ env: { LATCH_OUTBOUND_ALLOW_PRIVATE: '127.0.0.0/8' } });
    browser = await launchBrowser();
    rp = await startCallbackServer();
  });
  after(async () => {
    await browser?.close();
    await rp?.close();
    await box?.close();
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  /** A tenant with the SMTP connector, a web app at rp and the sign-in experience given. */
  async function tenant(name, signInExp, { connector = true } = {}) {
    const ctx = await TenantCtx.create(srv, name);
    const api = await ctx.api();
    if (connector) {
      expectStatus(await api.post('/connectors', {
        connectorId: 'simple-mail-transfer-protocol',
        config: box.connectorConfig(),
      }), 200, 'create the SMTP connector');
    }
    if (signInExp) await ctx.patchSignInExp(signInExp);
    const app = await ctx.createWebApp(rp.origin, { name: 'Codes app' });
    const config = await webAppConfig(ctx, app);
    return { ctx, app, config, redirectUri: app.redirectUri ?? `${rp.origin}/api/auth/callback/logto` };
  }

  async function openSignIn(t, { locale = 'en-US' } = {}) {
    const checks = await flowChecks();
    const p = await newPage(browser, { locale });
    await p.page.goto(authUrl(t.config, t.app, checks));
    await p.page.locator('input#identifier').waitFor({ state: 'visible' });
    return { ...p, checks };
  }

  async function codeFromMail(to, mark) {
    const mail = await box.next(to, { after: mark });
    return box.code(mail);
  }

  /** Sends a code to email in xp's interaction and verifies it from the mail: {verificationId, mail}. */
  async function proveEmailBy(xp, email) {
    const mark = box.messages.length;
    const send = await xp.call('POST', '/verification/verification-code',
      { identifier: { type: 'email', value: email }, interactionEvent: 'SignIn' });
    assert.equal(send.status, 200, send.text);
    const mail = await box.next(email, { after: mark });
    const { verificationId } = send.json();
    const v = await xp.call('POST', '/verification/verification-code/verify',
      { identifier: { type: 'email', value: email }, verificationId, code: box.code(mail) });
    assert.equal(v.status, 200, v.text);
    return { verificationId, mail };
  }

  it('forgot password: a code by mail, a wrong code refused, the new password signs in and the old one no longer does', async () => {
    const t = await tenant('cforgot', EMAIL_CODES);
    const email = `ada.${Date.now()}@example.com`;
    const user = await t.ctx.createUser({ primaryEmail: email });
    const p = await openSignIn(t);
    try {
      const forgot = p.page.locator('a#forgot');
      await forgot.waitFor({ state: 'visible' });
      assert.equal((await forgot.innerText()).trim(), 'Forgot your password?');
      await forgot.click();
      await p.page.locator('form#code-form').waitFor({ state: 'visible' });
      assert.equal((await p.page.locator('h1#heading').innerText()).trim(), 'Reset your password');
      await assertLabelled(p.page, 'the reset form');
      let mark = box.messages.length;
      await p.page.locator('input#cf-address').fill(email);
      await p.page.locator('button#cf-submit').click();
      const code = await codeFromMail(email, mark);
      const mail = box.messages[box.messages.length - 1];
      assert.match(mail.subject, /Password reset code/);
      await p.page.locator('input#cf-code').waitFor({ state: 'visible' });

      // A wrong code first: refused with a message, the form stays.
      const wrong = code === '000000' ? '111111' : '000000';
      await p.page.locator('input#cf-code').fill(wrong);
      await p.page.locator('button#cf-submit').click();
      const text = await expectErrorShown(p.page, 'a wrong code');
      assert.match(text, /not right/);

      await p.page.locator('input#cf-code').fill(code);
      await p.page.locator('button#cf-submit').click();
      await p.page.locator('input#cf-password').waitFor({ state: 'visible' });
      // The policy applies: too short first.
      await p.page.locator('input#cf-password').fill('short');
      await p.page.locator('button#cf-submit').click();
      assert.match(await expectErrorShown(p.page, 'a short password'), /at least/);
      const newPassword = `New-${uniq('pw')}-9z`;
      await p.page.locator('input#cf-password').fill(newPassword);
      await p.page.locator('button#cf-submit').click();
      const notice = p.page.locator('p#notice');
      await p.page.waitForFunction(() => document.getElementById('notice').textContent.length > 0);
      assert.match(await notice.innerText(), /password was changed/);
      // Back on the sign-in form, the email filled in: the new password signs in.
      await p.page.locator('form#form').waitFor({ state: 'visible' });
      assert.equal(await p.page.locator('input#identifier').inputValue(), email);
      const landed = await signInOnPage(p.page, { username: email, password: newPassword, redirectUri: rp.origin });
      const tokens = await redeem(t.config, landed, p.checks);
      assert.equal(tokens.claims().sub, user.id);
      // The old password is refused.
      const xp = new ExperienceClient(t.ctx, new CookieJar());
      await xp.start(authUrl(t.config, t.app, await flowChecks()));
      await xp.begin('SignIn');
      const old = await xp.verifyPassword(user.username, user.password);
      assert.equal(old.status, 422, old.text);
    } finally {
      await p.close();
    }
  });

  it('sign in with a code instead: passwordless sign-in into the application', async () => {
    const t = await tenant('cpwless', EMAIL_CODES);
    const email = `grace.${Date.now()}@example.com`;
    const user = await t.ctx.createUser({ primaryEmail: email });
    const p = await openSignIn(t);
    try {
      await p.page.locator('a#use-code').click();
      await p.page.locator('input#cf-address').waitFor({ state: 'visible' });
      const mark = box.messages.length;
      await p.page.locator('input#cf-address').fill(email);
      await p.page.locator('button#cf-submit').click();
      const code = await codeFromMail(email, mark);
      assert.match(box.messages[box.messages.length - 1].subject, /Sign-in code/);
      await p.page.locator('input#cf-code').fill(code);
      await p.page.locator('button#cf-submit').click();
      const landed = await waitForUrlPrefix(p.page, rp.origin);
      const tokens = await redeem(t.config, landed, p.checks);
      assert.equal(tokens.claims().sub, user.id);
    } finally {
      await p.close();
    }
  });

  it('registration by code alone when signUp asks only for a verified email', async () => {
    const t = await tenant('creg', {
      signUp: { identifiers: ['email'], password: false, verify: true },
    });
    const email = `new.${Date.now()}@example.com`;
    const checks = await flowChecks();
    const p = await newPage(browser);
    try {
      await p.page.goto(authUrl(t.config, t.app, checks, { first_screen: 'register' }));
      await p.page.waitForURL((u) => u.pathname.endsWith('/register'));
      await p.page.locator('input#cf-address').waitFor({ state: 'visible' });
      assert.equal(await p.page.locator('form#form').isVisible(), false, 'no username and password form');
      const mark = box.messages.length;
      await p.page.locator('input#cf-address').fill(email);
      await p.page.locator('button#cf-submit').click();
      const code = await codeFromMail(email, mark);
      await p.page.locator('input#cf-code').fill(code);
      await p.page.locator('button#cf-submit').click();
      const landed = await waitForUrlPrefix(p.page, rp.origin);
      const tokens = await redeem(t.config, landed, checks);
      const r = await adminQuery('SELECT primary_email FROM users WHERE tenant_id = $1 AND id = $2',
        [t.ctx.id, tokens.claims().sub]);
      assert.equal(r.rows[0]?.primary_email, email);
    } finally {
      await p.close();
    }
  });

  it('registration with a username and password that must verify an email: the account exists only after the code', async () => {
    const t = await tenant('cregv', { signUp: { identifiers: ['username', 'email'], password: true, verify: true } });
    const username = `reg_${Date.now()}`;
    const email = `reg.${Date.now()}@example.com`;
    const checks = await flowChecks();
    const p = await newPage(browser);
    try {
      await p.page.goto(authUrl(t.config, t.app, checks, { first_screen: 'register' }));
      await p.page.locator('input#contact').waitFor({ state: 'visible' });
      assert.equal((await p.page.locator('label#contact-label').innerText()).trim(), 'Email');
      await assertLabelled(p.page, 'the registration form');
      await p.page.locator('input#identifier').fill(username);
      await p.page.locator('input#password').fill(`Pw-${uniq('x')}-42`);
      await p.page.locator('input#contact').fill(email);
      const mark = box.messages.length;
      await p.page.locator('button#submit').click();
      const code = await codeFromMail(email, mark);
      assert.match(box.messages[box.messages.length - 1].subject, /Sign-up code/);
      await p.page.locator('input#cf-code').waitFor({ state: 'visible' });
      const none = await adminQuery('SELECT count(*)::int AS n FROM users WHERE tenant_id = $1 AND username = $2',
        [t.ctx.id, username]);
      assert.equal(none.rows[0].n, 0, 'no account before the code');
      await p.page.locator('input#cf-code').fill(code);
      await p.page.locator('button#cf-submit').click();
      const landed = await waitForUrlPrefix(p.page, rp.origin);
      const sub = (await redeem(t.config, landed, checks)).claims().sub;
      const r = await adminQuery('SELECT username, primary_email, password_encrypted IS NOT NULL AS pw FROM users WHERE tenant_id = $1 AND id = $2',
        [t.ctx.id, sub]);
      assert.deepEqual(r.rows[0], { username, primary_email: email, pw: true });
    } finally {
      await p.close();
    }
  });

  it('the links appear only when the sign-in experience enables codes; the Spanish page says so in Spanish', async () => {
    const plain = await tenant('cnone', null);
    let p = await openSignIn(plain);
    try {
      assert.equal(await p.page.locator('a#forgot').isVisible(), false);
      assert.equal(await p.page.locator('a#use-code').isVisible(), false);
    } finally {
      await p.close();
    }
    const t = await tenant('ces', EMAIL_CODES);
    p = await openSignIn(t, { locale: 'es-ES' });
    try {
      await p.page.locator('a#forgot').waitFor({ state: 'visible' });
      assert.equal((await p.page.locator('a#forgot').innerText()).trim(), '¿Olvidaste tu contraseña?');
      assert.equal((await p.page.locator('a#use-code').innerText()).trim(), 'Iniciar sesión con un código');
    } finally {
      await p.close();
    }
  });

  it('no email connector: a clear message, and nothing stored', async () => {
    const t = await tenant('cnoconn', EMAIL_CODES, { connector: false });
    const p = await openSignIn(t);
    try {
      await p.page.locator('a#forgot').click();
      await p.page.locator('input#cf-address').fill(`x.${Date.now()}@example.com`);
      await p.page.locator('button#cf-submit').click();
      assert.match(await expectErrorShown(p.page, 'no connector'), /cannot be sent/);
      const r = await adminQuery('SELECT count(*)::int AS n FROM verification_codes WHERE tenant_id = $1', [t.ctx.id]);
      assert.equal(r.rows[0].n, 0);
    } finally {
      await p.close();
    }
  });

  it('an invitation mail (HTML-escaped variables) whose link brings the invitee in: sign-up by code, accepted, a member', async () => {
    const templates = [
      ...box.connectorConfig().templates,
      { usageType: 'OrganizationInvitation', contentType: 'text/html',
        subject: 'Join {{organization}}',
        content: '<p>{{inviter}} invites you to <b>{{organization}}</b>: <a href="{{link}}">accept</a></p>' },
    ];
    const t = await tenant('cinvite', { signUp: { identifiers: ['email'], password: false, verify: true } },
      { connector: false });
    const api = await t.ctx.api();
    expectStatus(await api.post('/connectors', {
      connectorId: 'simple-mail-transfer-protocol', config: box.connectorConfig({ templates }),
    }), 200, 'the SMTP connector with an invitation template');
    const org = expectStatus(await api.post('/organizations', { name: 'Acme <R&D>' }), 201, 'organization');
    const inviter = await t.ctx.createUser({ name: 'Ada "the inviter"' });
    const invitee = `invited.${Date.now()}@example.com`;
    let mark = box.messages.length;
    const created = await api.post('/organization-invitations', {
      organizationId: org.id, invitee, inviterId: inviter.id, expiresAt: Date.now() + 86400000,
      messagePayload: { link: 'https://app.example/join?a=1&b=2' },
    });
    const invitation = expectStatus(created, 201, 'invitation with a mail');
    let mail = await box.next(invitee, { after: mark });
    assert.match(mail.subject, /Join Acme <R&D>/);
    assert.ok(mail.text.includes('Ada &quot;the inviter&quot; invites you to <b>Acme &lt;R&amp;D&gt;</b>'), mail.text);
    assert.ok(mail.text.includes('href="https://app.example/join?a=1&amp;b=2"'), mail.text);

    // The application mails it again with a link naming the invitation (POST /:id/message).
    mark = box.messages.length;
    const link = `${rp.origin}/invitation/${invitation.id}`;
    expectStatus(await api.post(`/organization-invitations/${invitation.id}/message`, { link }), 204, 'message');
    mail = await box.next(invitee, { after: mark });
    const href = /href="([^"]+)"/.exec(mail.text)[1];
    assert.equal(href, link);
    assert.equal((await api.post('/organization-invitations/nosuchinvite/message', { link })).status, 404);

    // Following the link, the application signs the invitee up with the invited email (a code
    // by mail), then accepts on their behalf: they are a member with an organization token.
    const invitationId = href.split('/').pop();
    const checks = await flowChecks();
    const xp = new ExperienceClient(t.ctx, new CookieJar());
    await xp.start(authUrl(t.config, t.app, checks, { first_screen: 'register', login_hint: invitee }), { page: 'register' });
    await xp.begin('Register');
    mark = box.messages.length;
    const send = await xp.call('POST', '/verification/verification-code',
      { identifier: { type: 'email', value: invitee }, interactionEvent: 'Register' });
    assert.equal(send.status, 200, send.text);
    const code = box.code(await box.next(invitee, { after: mark }));
    const { verificationId } = send.json();
    const verified = await xp.call('POST', '/verification/verification-code/verify',
      { identifier: { type: 'email', value: invitee }, verificationId, code });
    assert.equal(verified.status, 200, verified.text);
    const ident = await xp.call('POST', '/identification', { verificationId });
    assert.equal(ident.status, 201, ident.text);
    const sub = await xp.call('POST', '/submit');
    assert.equal(sub.status, 200, sub.text);
    const landed = await xp.resume(new URL(sub.json().redirectTo, t.ctx.base + '/').href);
    const userId = (await redeem(t.config, landed, checks)).claims().sub;
    const accepted = expectStatus(await api.put(`/organization-invitations/${invitationId}/status`,
      { status: 'Accepted', acceptedUserId: userId }), 200, 'accept');
    assert.equal(accepted.status, 'Accepted');
    const members = expectStatus(await api.get(`/organizations/${org.id}/users`), 200, 'members');
    assert.ok(members.some((u) => u.id === userId), `the invitee is a member: ${JSON.stringify(members.map((u) => u.id))}`);
  });

  it('an invitation whose mail cannot be sent is not kept', async () => {
    const t = await tenant('cinvfail', null);
    const api = await t.ctx.api();
    const org = expectStatus(await api.post('/organizations', { name: 'Refusing' }), 201, 'organization');
    const invitee = `nobody.${Date.now()}@example.com`;
    box.refuse = true;
    try {
      const r = await api.post('/organization-invitations', {
        organizationId: org.id, invitee, expiresAt: Date.now() + 86400000, messagePayload: { link: 'https://app.example/' },
      });
      assert.equal(r.status >= 400 && r.status < 600, true, r.text);
      assert.match(r.json().code, /^connector\./);
    } finally {
      box.refuse = false;
    }
    const list = expectStatus(await api.get(`/organization-invitations?invitee=${encodeURIComponent(invitee)}`), 200, 'list');
    assert.deepEqual(list, []);
  });

  it('the mail server refusing the credentials, or down: a clear error, no code stored, nothing created', async () => {
    const t = await tenant('csmtpbad', EMAIL_CODES, { connector: false });
    const api = await t.ctx.api();
    const wrong = { ...box.connectorConfig(), auth: { user: 'latch', pass: 'not-the-password' } };
    const conn = expectStatus(await api.post('/connectors',
      { connectorId: 'simple-mail-transfer-protocol', config: wrong }), 200, 'connector with a wrong password');
    const email = `who.${Date.now()}@example.com`;
    const tryCode = async () => {
      const xp = new ExperienceClient(t.ctx, new CookieJar());
      await xp.start(authUrl(t.config, t.app, await flowChecks()));
      await xp.begin('SignIn');
      return xp.call('POST', '/verification/verification-code',
        { identifier: { type: 'email', value: email }, interactionEvent: 'SignIn' });
    };
    const auths = box.auths;
    const refused = await tryCode();
    assert.ok(refused.status >= 400, refused.text);
    assert.equal(refused.json().code, 'connector.invalid_config', refused.text);
    assert.ok(box.auths > auths, 'the server was asked to authenticate');
    assert.doesNotMatch(refused.text, /not-the-password/);
    assert.doesNotMatch(srv.stderrText(), /not-the-password/, 'no password in the log');

    // The server gone: a port nothing listens on.
    const down = { ...box.connectorConfig(), port: 1 };
    expectStatus(await api.patch(`/connectors/${conn.id}`, { config: down }), 200, 'point at a closed port');
    const gone = await tryCode();
    assert.ok(gone.status >= 400, gone.text);
    assert.match(gone.json().code, /^connector\./, gone.text);

    const r = await adminQuery('SELECT count(*)::int AS n FROM verification_codes WHERE tenant_id = $1', [t.ctx.id]);
    assert.equal(r.rows[0].n, 0, 'no code stored');
    assert.equal(box.messages.filter((m) => m.to.includes(email)).length, 0);
  });

  it('BindNewIdentifier: once someone is identified, a code proves a new email that POST /api/experience/profile binds to the account', async () => {
    const templates = [
      ...box.connectorConfig().templates,
      { usageType: 'BindNewIdentifier', contentType: 'text/plain', subject: 'Confirm your new email',
        content: 'Your code to add this email is {{code}}.' },
    ];
    const t = await tenant('cbind', { signUp: { identifiers: ['username', 'email'], password: true, verify: false } },
      { connector: false });
    const api = await t.ctx.api();
    expectStatus(await api.post('/connectors', {
      connectorId: 'simple-mail-transfer-protocol', config: box.connectorConfig({ templates }),
    }), 200, 'the SMTP connector with a BindNewIdentifier template');
    const user = await t.ctx.createUser();
    const taken = `taken.${Date.now()}@example.com`;
    await t.ctx.createUser({ primaryEmail: taken });
    const fresh = `fresh.${Date.now()}@example.com`;
    const checks = await flowChecks();
    const xp = new ExperienceClient(t.ctx, new CookieJar());
    await xp.start(authUrl(t.config, t.app, checks));
    await xp.begin('SignIn');

    // Before anyone is identified, a bind is refused.
    const early = await xp.call('POST', '/profile', { type: 'email', verificationId: 'x' });
    assert.equal(early.status, 400, early.text);
    assert.equal(early.json().code, 'session.identifier_not_found');

    const pw = await xp.verifyPassword(user.username, user.password);
    assert.equal(pw.status, 200, pw.text);
    const ident = await xp.call('POST', '/identification', { verificationId: pw.json().verificationId });
    assert.equal(ident.status, 204, ident.text);

    const proveEmail = async (email) => {
      const { verificationId, mail } = await proveEmailBy(xp, email);
      assert.equal(mail.subject, 'Confirm your new email', 'the BindNewIdentifier template');
      return verificationId;
    };

    // Another account's email cannot be bound.
    const takenId = await proveEmail(taken);
    const refused = await xp.call('POST', '/profile', { type: 'email', verificationId: takenId });
    assert.equal(refused.status, 422, refused.text);
    assert.equal(refused.json().code, 'user.email_already_in_use');

    const freshId = await proveEmail(fresh);
    // A bind code signs nobody in.
    const asSignIn = await xp.call('POST', '/identification', { verificationId: freshId });
    assert.ok(asSignIn.status >= 400, asSignIn.text);
    const wrongType = await xp.call('POST', '/profile', { type: 'phone', verificationId: freshId });
    assert.equal(wrongType.status, 404, wrongType.text);
    const bound = await xp.call('POST', '/profile', { type: 'email', verificationId: freshId });
    assert.equal(bound.status, 204, bound.text);
    const again = await xp.call('POST', '/profile', { type: 'email', verificationId: freshId });
    assert.equal(again.status, 404, 'a code binds once');
    const r = await adminQuery('SELECT primary_email FROM users WHERE tenant_id = $1 AND id = $2', [t.ctx.id, user.id]);
    assert.equal(r.rows[0].primary_email, fresh);

    const sub = await xp.call('POST', '/submit');
    assert.equal(sub.status, 200, sub.text);
    const landed = await xp.resume(new URL(sub.json().redirectTo, t.ctx.base + '/').href);
    const tokens = await redeem(t.config, landed, checks);
    assert.equal(tokens.claims().sub, user.id);
  });

  // Logto's user.missing_profile: a person whose account lacks what signUp requires (an email,
  // a username, a password) is asked for it before the sign-in finishes, and skipping submit gets
  // them nowhere.
  describe('accounts that lack what the sign-up settings require', () => {
    const proveEmail = async (xp, email) => (await proveEmailBy(xp, email)).verificationId;

    it('a sign-in without the email signUp requires: submit answers user.missing_profile, resume sends the browser back to the page, and a verified email lets it through', async () => {
      const t = await tenant('cmissmail', { signUp: { identifiers: ['username', 'email'], password: true, verify: true } });
      const user = await t.ctx.createUser();
      const checks = await flowChecks();
      const xp = new ExperienceClient(t.ctx, new CookieJar());
      await xp.start(authUrl(t.config, t.app, checks));
      await xp.begin('SignIn');
      const pw = await xp.verifyPassword(user.username, user.password);
      assert.equal(pw.status, 200, pw.text);
      const ident = await xp.call('POST', '/identification', { verificationId: pw.json().verificationId });
      assert.equal(ident.status, 204, ident.text);

      const sub = await xp.call('POST', '/submit');
      assert.equal(sub.status, 422, sub.text);
      assert.equal(sub.json().code, 'user.missing_profile');
      assert.deepEqual(sub.json().data.missingProfile, ['email']);

      // Straight to /oidc/auth/resume without a successful submit: back to the page, no code.
      const skip = await jarFetch(xp.jar, `${t.ctx.base}/oidc/auth/resume`);
      assert.equal(skip.status, 303, skip.text);
      assert.equal(new URL(skip.location).pathname, new URL(`${t.ctx.base}/sign-in`).pathname);
      assert.equal(new URL(skip.location).searchParams.get('code'), null);

      const email = `bound.${Date.now()}@example.com`;
      const bound = await xp.call('POST', '/profile', { type: 'email', verificationId: await proveEmail(xp, email) });
      assert.equal(bound.status, 204, bound.text);
      const sub2 = await xp.call('POST', '/submit');
      assert.equal(sub2.status, 200, sub2.text);
      const landed = await xp.resume(new URL(sub2.json().redirectTo, t.ctx.base + '/').href);
      const tokens = await redeem(t.config, landed, checks);
      assert.equal(tokens.claims().sub, user.id);
      const r = await adminQuery('SELECT primary_email FROM users WHERE tenant_id = $1 AND id = $2', [t.ctx.id, user.id]);
      assert.equal(r.rows[0].primary_email, email);
    });

    it('a passwordless account on a tenant that requires a username and a password sets both through POST /api/experience/profile', async () => {
      const t = await tenant('cmissname', {
        ...EMAIL_CODES, signUp: { identifiers: ['username'], password: true, verify: false },
      });
      const api = await t.ctx.api();
      const email = `nameless.${Date.now()}@example.com`;
      const user = expectStatus(await api.post('/users', { primaryEmail: email }), [200, 201], 'a user with only an email');
      const other = await t.ctx.createUser();
      const checks = await flowChecks();
      const xp = new ExperienceClient(t.ctx, new CookieJar());
      await xp.start(authUrl(t.config, t.app, checks));
      await xp.begin('SignIn');

      // A value before anyone is identified: refused.
      const early = await xp.call('POST', '/profile', { type: 'username', value: 'early_bird' });
      assert.equal(early.status, 400, early.text);
      assert.equal(early.json().code, 'session.identifier_not_found');

      const mark = box.messages.length;
      const send = await xp.call('POST', '/verification/verification-code',
        { identifier: { type: 'email', value: email }, interactionEvent: 'SignIn' });
      assert.equal(send.status, 200, send.text);
      const { verificationId } = send.json();
      const v = await xp.call('POST', '/verification/verification-code/verify',
        { identifier: { type: 'email', value: email }, verificationId, code: await codeFromMail(email, mark) });
      assert.equal(v.status, 200, v.text);
      const ident = await xp.call('POST', '/identification', { verificationId });
      assert.equal(ident.status, 204, ident.text);

      let sub = await xp.call('POST', '/submit');
      assert.equal(sub.status, 422, sub.text);
      assert.deepEqual(sub.json().data.missingProfile, ['username', 'password']);

      const bad = await xp.call('POST', '/profile', { type: 'username', value: '1 not valid' });
      assert.equal(bad.status, 400, bad.text);
      const taken = await xp.call('POST', '/profile', { type: 'username', value: other.username.toUpperCase() });
      assert.equal(taken.status, 422, taken.text);
      assert.equal(taken.json().code, 'user.username_already_in_use');
      const username = `named_${Date.now()}`;
      assert.equal((await xp.call('POST', '/profile', { type: 'username', value: username })).status, 204);
      const twice = await xp.call('POST', '/profile', { type: 'username', value: `${username}_2` });
      assert.equal(twice.status, 422, twice.text);
      assert.equal(twice.json().code, 'user.username_exists_in_profile');

      sub = await xp.call('POST', '/submit');
      assert.equal(sub.status, 422, sub.text);
      assert.deepEqual(sub.json().data.missingProfile, ['password']);
      const short = await xp.call('POST', '/profile', { type: 'password', value: 'short' });
      assert.equal(short.status, 422, short.text);
      assert.equal(short.json().code, 'password.rejected');
      // PUT …/profile/password is the reset's, not this.
      const reset = await xp.call('PUT', '/profile/password', { password: 'Another-pw-77x' });
      assert.equal(reset.status, 400, reset.text);
      const password = `Set-${uniq('pw')}-4q`;
      assert.equal((await xp.call('POST', '/profile', { type: 'password', value: password })).status, 204);
      const again = await xp.call('POST', '/profile', { type: 'password', value: `${password}x` });
      assert.equal(again.status, 422, again.text);
      assert.equal(again.json().code, 'user.password_exists_in_profile');

      sub = await xp.call('POST', '/submit');
      assert.equal(sub.status, 200, sub.text);
      const landed = await xp.resume(new URL(sub.json().redirectTo, t.ctx.base + '/').href);
      assert.equal((await redeem(t.config, landed, checks)).claims().sub, user.id);

      // The name and password just chosen sign in.
      const checks2 = await flowChecks();
      const xp2 = new ExperienceClient(t.ctx, new CookieJar());
      await xp2.start(authUrl(t.config, t.app, checks2));
      const landed2 = await xp2.resume(await xp2.passwordSignIn(username, password));
      assert.equal((await redeem(t.config, landed2, checks2)).claims().sub, user.id);
    });

    it('the hosted page asks for the missing email after the password, mails a code, and finishes the sign-in', async () => {
      const t = await tenant('cmisspage', { signUp: { identifiers: ['username', 'email'], password: true, verify: true } });
      const user = await t.ctx.createUser();
      const p = await openSignIn(t);
      try {
        await p.page.locator('input#identifier').fill(user.username);
        await p.page.locator('input#password').fill(user.password);
        await p.page.locator('button#submit').click();
        await p.page.locator('form#code-form').waitFor({ state: 'visible' });
        assert.equal((await p.page.locator('h1#heading').innerText()).trim(), 'One more step');
        assert.match(await p.page.locator('p#cf-intro').innerText(), /verified email/);
        await assertLabelled(p.page, 'the missing-email form');
        assert.equal(await p.page.locator('p#back-line').isVisible(), false, 'no way back to the password form');
        const email = `page.${Date.now()}@example.com`;
        const mark = box.messages.length;
        await p.page.locator('input#cf-address').fill(email);
        await p.page.locator('button#cf-submit').click();
        const code = await codeFromMail(email, mark);
        await p.page.locator('input#cf-code').waitFor({ state: 'visible' });
        await p.page.locator('input#cf-code').fill(code);
        await p.page.locator('button#cf-submit').click();
        const landed = await waitForUrlPrefix(p.page, rp.origin);
        const tokens = await redeem(t.config, landed, p.checks);
        assert.equal(tokens.claims().sub, user.id);
        const r = await adminQuery('SELECT primary_email FROM users WHERE tenant_id = $1 AND id = $2', [t.ctx.id, user.id]);
        assert.equal(r.rows[0].primary_email, email);
      } finally {
        await p.close();
      }
    });
  });
});
