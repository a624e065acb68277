// End-to-end tests of the admin console (issue 13) in headless Chromium against a real latchd and
// PostgreSQL: `latchctl admin create` prints a one-time link, the administrator sets a password
// through it and signs in through the tenant's own OIDC (authorization code + PKCE with the
// reserved application admin-console), then sets everything up through the console alone:
// a Traditional application whose secret is shown once, an API resource with a permission, a
// role holding it, a user holding the role, an organization with that user as a member. Also: a
// non-administrator is refused, an administrator of one tenant gets nothing in another, the
// link works once and expires, the console's reserved rows cannot be deleted through the API,
// tokens stay out of web storage, sign-out ends the session, Spanish renders, and axe-core finds
// no serious or critical accessibility violation on any page.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { adminQuery as adminResult, http, startLatchd } from './lib/harness.mjs';
import { adminLink, axe, setPasswordThroughLink, signInToConsole, watch } from './lib/console.mjs';
import { expectErrorShown, fillAndSubmit, launchBrowser, newPage, signInOnPage, startCallbackServer } from './lib/browser.mjs';
import { CALLBACK_PATH, REFERENCE_SCOPE, TenantCtx, expectStatus, scopeSet, uniq, uniqPassword, uniqUsername } from './lib/oidc.mjs';
import * as client from 'openid-client';
import { authUrl, flowChecks, webAppConfig } from './lib/flow.mjs';

/** The rows of one superuser query. */
const adminQuery = async (sql, params) => (await adminResult(sql, params)).rows;

describe('admin console', () => {
  let srv;
  let browser;
  let ctx;
  let endpoint;
  const admin = { username: uniqUsername('admin'), password: uniqPassword() };
  const person = { username: uniqUsername('member'), password: uniqPassword() };
  let adminPage;
  let rp;
  const consoleTokens = []; // what the token endpoint answered the console (seen on the wire)

  before(async () => {
    srv = await startLatchd();
    browser = await launchBrowser();
    rp = await startCallbackServer();
    ctx = await TenantCtx.create(srv, 'console');
    endpoint = ctx.endpoint;
  });
  after(async () => {
    await browser?.close();
    await rp?.close();
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  it('serves the console with a strict CSP that forbids framing', async () => {
    const res = await http(`${ctx.base}/console`);
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const html = res.text;
    assert.doesNotMatch(html, /<script>(?!<)/, 'no inline script');
    assert.match(html, new RegExp(`data-endpoint="${endpoint.replace(/[.]/g, '\\.')}"`));
    // The UI library comes from this server, not from a CDN.
    for (const f of ['preact.js', 'preact-hooks.js', 'htm.js', 'console.js']) {
      const a = await http(`${srv.url}/ui/${f}`);
      assert.equal(a.status, 200, f);
      assert.match(a.headers.get('content-type'), /javascript/);
    }
    assert.equal((await http(`${srv.url}/ui/console.html`)).status, 404, 'the template is not an asset');
  });

  it('an administrator created with latchctl sets a password through the one-time link and signs in', async () => {
    const link = await adminLink(srv, ctx.id, ['--username', admin.username]);
    const { page } = await newPage(browser);
    watch(page);
    adminPage = page;
    page.on('response', async (r) => {
      if (r.url().endsWith('/oidc/token') && r.request().method() === 'POST') consoleTokens.push(await r.json().catch(() => null));
    });
    await page.goto(link);
    await axe(page, 'set-password page');
    await setPasswordThroughLink(page, link, admin.password);
    assert.doesNotMatch(page.url(), /token=/, 'the spent token leaves the address bar');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await signInToConsole(page, admin.username, admin.password);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    assert.equal(new URL(page.url()).pathname, new URL(`${endpoint}/console`).pathname);
    await page.locator('.counts').waitFor();
    await axe(page, 'dashboard');
    // The tokens live in memory only.
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
    assert.doesNotMatch(stored, /eyJ/, 'no JWT in web storage');

    // The console's token: for the Management API with `all`, and a refresh token the console
    // can renew it with (the same request it makes, here from the test).
    const first = consoleTokens.find((x) => x?.access_token);
    assert.ok(first, 'the console redeemed its code');
    assert.ok(scopeSet(first.scope).includes('all'));
    await ctx.verify(first.access_token, { audience: ctx.apiIndicator });
    assert.equal(typeof first.refresh_token, 'string', 'a refresh token (offline_access)');
    const refreshed = await http(`${ctx.base}/oidc/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', client_id: 'admin-console', refresh_token: first.refresh_token, resource: ctx.apiIndicator }).toString(),
    });
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.ok(scopeSet(refreshed.json().scope).includes('all'));

    // The link worked once.
    const token = new URL(link).hash.replace('#token=', '');
    const again = await http(`${ctx.base}/console/password`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, password: uniqPassword() }),
    });
    assert.equal(again.status, 400);
    assert.equal(again.json().code, 'console.link_invalid');
  });

  it('an expired link and a weak password are refused', async () => {
    const link = await adminLink(srv, ctx.id, ['--email', `${uniq('late')}@example.com`]);
    const token = new URL(link).hash.replace('#token=', '');
    const post = (password) => http(`${ctx.base}/console/password`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, password }),
    });
    const weak = await post('aaa');
    assert.equal(weak.status, 422);
    assert.match(weak.json().code, /^password_rejected\./);
    await adminQuery("UPDATE password_links SET expires_at = now() - interval '1 second' WHERE tenant_id = $1 AND used_at IS NULL", [ctx.id]);
    const late = await post(uniqPassword());
    assert.equal(late.status, 400);
    assert.equal(late.json().code, 'console.link_invalid');
  });

  it('the Get started page gives the tenant endpoints and client snippets', async () => {
    const page = adminPage;
    await page.getByRole('navigation').getByRole('link', { name: 'Get started' }).click();
    await page.getByRole('heading', { name: 'Get started' }).waitFor();
    const text = await page.locator('main').innerText();
    assert.ok(text.includes(`${endpoint}/oidc/.well-known/openid-configuration`));
    assert.ok(text.includes("from 'next-auth/providers/logto'"));
    assert.ok(text.includes(`issuer: '${endpoint}/oidc'`));
    assert.ok(text.includes('grant_type=client_credentials'));
    await axe(page, 'get started');
  });

  let appId;
  it('creates a Traditional application, shows its secret once and edits its URIs', async () => {
    const page = adminPage;
    const name = uniq('web');
    await page.getByRole('navigation').getByRole('link', { name: 'Applications' }).click();
    await page.getByRole('heading', { name: 'Applications', level: 1 }).waitFor();
    await axe(page, 'applications');
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Type').selectOption('Traditional');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const secret = (await page.getByTestId('new-secret').innerText()).trim();
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    const [row] = await adminQuery(
      'SELECT a.id, s.secret_hint FROM applications a JOIN application_secrets s ON s.tenant_id = a.tenant_id AND s.application_id = a.id WHERE a.tenant_id = $1 AND a.name = $2',
      [ctx.id, name]);
    assert.equal(row.secret_hint, secret.slice(0, 4));
    appId = row.id;
    await page.getByRole('link', { name: 'Open' }).click();
    await page.getByRole('heading', { name }).waitFor();
    assert.ok(!(await page.content()).includes(secret), 'the secret is not shown again');
    await page.getByLabel('Redirect URIs', { exact: true }).fill('http://localhost:3000/api/auth/callback/logto');
    await page.getByLabel('CORS allowed origins').fill('http://localhost:3000');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    const [app] = await adminQuery('SELECT oidc_client_metadata, custom_client_metadata FROM applications WHERE tenant_id = $1 AND id = $2', [ctx.id, appId]);
    assert.deepEqual(app.oidc_client_metadata.redirectUris, ['http://localhost:3000/api/auth/callback/logto']);
    assert.deepEqual(app.custom_client_metadata.corsAllowedOrigins, ['http://localhost:3000']);
    // A second secret that expires, shown once.
    await page.getByLabel('Name of the new secret').fill('rotation');
    await page.getByLabel('Expires in (days, optional)').fill('30');
    await page.getByRole('button', { name: 'Create a secret' }).click();
    const second = (await page.getByTestId('new-secret').innerText()).trim();
    assert.match(second, /^[A-Za-z0-9_-]{43}$/);
    await page.getByRole('cell', { name: 'rotation' }).waitFor();
    const [exp] = await adminQuery("SELECT expires_at > now() + interval '29 days' AS later FROM application_secrets WHERE tenant_id = $1 AND application_id = $2 AND name = 'rotation'", [ctx.id, appId]);
    assert.equal(exp.later, true);
    // An invalid URI: the API's message is shown.
    await page.getByLabel('Redirect URIs', { exact: true }).fill('javascript:alert(1)');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('form .error[role=alert]').waitFor();
    assert.match(await page.locator('form .error[role=alert]').innerText(), /redirectUris/);
    await axe(page, 'application detail');
  });

  const indicator = `https://api.example.com/${uniq('orders')}`;
  const roleName = uniq('Order reader');
  it('creates an API resource with a permission and a role holding it', async () => {
    const page = adminPage;
    await page.getByRole('navigation').getByRole('link', { name: 'API resources' }).click();
    await page.getByRole('heading', { name: 'API resources', level: 1 }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Orders');
    await page.getByLabel('API identifier (resource indicator)').fill(indicator);
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('heading', { name: 'Orders', level: 1 }).waitFor();
    await page.getByLabel('Permission name').fill('read:orders');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('cell', { name: 'read:orders' }).waitFor();
    await axe(page, 'resource detail');

    await page.getByRole('navigation').getByRole('link', { name: 'Roles' }).click();
    await page.getByRole('heading', { name: 'Roles', level: 1 }).waitFor();
    await axe(page, 'roles');
    await page.getByLabel('Name', { exact: true }).fill(roleName);
    await page.getByLabel('Description', { exact: true }).fill('Reads orders');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('heading', { name: roleName, level: 1 }).waitFor();
    await page.getByLabel('Permission', { exact: true }).selectOption({ label: 'Orders: read:orders' });
    await page.getByRole('button', { name: 'Add the permission' }).click();
    await page.getByRole('cell', { name: 'read:orders' }).waitFor();
    await axe(page, 'role detail');
    const rows = await adminQuery(
      'SELECT s.name FROM roles r JOIN roles_scopes rs ON rs.tenant_id = r.tenant_id AND rs.role_id = r.id JOIN scopes s ON s.tenant_id = rs.tenant_id AND s.id = rs.scope_id WHERE r.tenant_id = $1 AND r.name = $2',
      [ctx.id, roleName]);
    assert.deepEqual(rows.map((r) => r.name), ['read:orders']);
  });

  let userId;
  it('creates a user and gives them the role', async () => {
    const page = adminPage;
    await page.getByRole('navigation').getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    await axe(page, 'users');
    await page.getByLabel('Username', { exact: true }).fill(person.username);
    await page.getByLabel('Password (optional)').fill(person.password);
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('heading', { name: person.username, level: 1 }).waitFor();
    userId = new URL(page.url()).pathname.split('/').pop();
    await page.getByLabel('Roles', { exact: true }).selectOption({ label: roleName });
    await page.getByRole('button', { name: 'Assign' }).click();
    await page.getByRole('link', { name: roleName }).waitFor();
    await axe(page, 'user detail');
    const rows = await adminQuery('SELECT r.name FROM users_roles ur JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id WHERE ur.tenant_id = $1 AND ur.user_id = $2', [ctx.id, userId]);
    assert.deepEqual(rows.map((r) => r.name), [roleName]);
    // Search finds the user.
    await page.getByRole('navigation').getByRole('link', { name: 'Users' }).click();
    await page.getByLabel('Search users').fill(person.username);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('link', { name: person.username }).waitFor();
  });

  it('creates an organization with that user as a member, an organization role, an invitation and a JIT domain', async () => {
    const page = adminPage;
    const name = uniq('Acme');
    const orgRole = uniq('editor');
    await page.getByRole('navigation').getByRole('link', { name: 'Organization template' }).click();
    await page.getByRole('heading', { name: 'Organization template', level: 1 }).waitFor();
    await page.getByLabel('New organization role').fill(orgRole);
    await page.getByRole('button', { name: 'Add the role' }).click();
    await page.getByRole('cell', { name: orgRole }).waitFor();
    await page.getByLabel('New organization permission').fill('edit:docs');
    await page.getByRole('button', { name: 'Add the permission', exact: true }).first().click();
    await page.getByRole('cell', { name: 'edit:docs', exact: true }).waitFor();
    await page.getByLabel('Organization role', { exact: true }).selectOption({ label: orgRole });
    await page.getByLabel('Permission', { exact: true }).selectOption({ label: 'edit:docs' });
    await page.locator('form[aria-labelledby="orgt-grant"] button[type=submit]').click();
    await page.getByRole('row').filter({ hasText: orgRole }).getByText('edit:docs').waitFor();
    await axe(page, 'organization template');
    await page.getByRole('navigation').getByRole('link', { name: 'Organizations' }).click();
    await page.getByRole('heading', { name: 'Organizations', level: 1 }).waitFor();
    await axe(page, 'organizations');
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    await page.getByLabel('Users: Search').fill(person.username);
    await page.getByLabel('Users', { exact: true }).selectOption({ label: person.username });
    await page.getByRole('button', { name: 'Add as member' }).click();
    await page.getByRole('link', { name: person.username }).waitFor();
    await page.locator('form[aria-labelledby="grant"]').getByLabel('Organization role').selectOption({ label: orgRole });
    await page.locator('form[aria-labelledby="grant"] button[type=submit]').click();
    await page.getByRole('row').filter({ hasText: person.username }).getByText(orgRole).waitFor();
    const invitee = `${uniq('guest')}@example.com`;
    await page.getByLabel('Email to invite').fill(invitee);
    await page.getByRole('button', { name: 'Invite', exact: true }).click();
    await page.getByRole('cell', { name: invitee }).waitFor();
    await page.getByLabel('Email domain', { exact: true }).fill('acme.example');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('cell', { name: 'acme.example' }).waitFor();
    await axe(page, 'organization detail');
    const [org] = await adminQuery('SELECT id FROM organizations WHERE tenant_id = $1 AND name = $2', [ctx.id, name]);
    const api = await ctx.api();
    const members = expectStatus(await api.get(`/organizations/${org.id}/users`), 200, 'members');
    assert.deepEqual(members.map((u) => u.id), [userId]);
    const held = expectStatus(await api.get(`/organizations/${org.id}/users/${userId}/scopes`), 200, 'member scopes');
    assert.deepEqual(held.map((x) => x.name), ['edit:docs']);
    const invitations = expectStatus(await api.get(`/organization-invitations?organizationId=${org.id}`), 200, 'invitations');
    assert.deepEqual(invitations.map((i) => [i.invitee, i.status]), [[invitee, 'Pending']]);
    const domains = expectStatus(await api.get(`/organizations/${org.id}/jit/email-domains`), 200, 'jit');
    assert.deepEqual(domains.map((d) => d.emailDomain), ['acme.example']);
  });


  it('configures a Hugging Face connector from its schema and shows it on the sign-in page', async () => {
    const page = adminPage;
    const hfSecret = `hf-secret-${uniq('s')}`;
    await page.getByRole('navigation').getByRole('link', { name: 'Connectors' }).click();
    await page.getByRole('heading', { name: 'Connectors', level: 1 }).waitFor();
    // The factory as loaded: version, ABI version and SHA-256 from the Management API.
    const factory = expectStatus(await (await ctx.api()).get('/connector-factories/huggingface-universal'), 200, 'factory');
    const row = page.getByRole('row').filter({ hasText: 'huggingface-universal' }).first();
    await row.waitFor();
    const rowText = await row.innerText();
    assert.ok(rowText.includes(factory.sha256) && rowText.includes(factory.version) && rowText.includes(factory.abiVersion), rowText);
    await axe(page, 'connectors');
    await page.getByLabel('Factory').selectOption('huggingface-universal');
    await page.getByLabel('Client ID', { exact: true }).fill('hf-client');
    await page.getByLabel('Client Secret', { exact: true }).fill(hfSecret);
    assert.equal(await page.getByLabel('Client Secret', { exact: true }).getAttribute('type'), 'password', 'masked');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('heading', { name: 'Configuration' }).waitFor();
    assert.ok(!(await page.content()).includes(hfSecret), 'the secret is never shown back');
    assert.equal(await page.getByLabel('Client Secret', { exact: true }).inputValue(), '');
    await axe(page, 'connector detail');
    // Saving without touching the secret keeps it.
    await page.getByLabel('Client ID', { exact: true }).fill('hf-client-2');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    await page.getByRole('button', { name: 'Show on the sign-in page' }).click();
    await page.getByRole('button', { name: 'Hide from the sign-in page' }).waitFor();
    const [conn] = await adminQuery("SELECT id, config::text AS config FROM connectors WHERE tenant_id = $1 AND connector_id = 'huggingface-universal'", [ctx.id]);
    assert.ok(!conn.config.includes(hfSecret), 'encrypted at rest');
    const got = expectStatus(await (await ctx.api()).get(`/connectors/${conn.id}`), 200, 'connector');
    assert.equal(got.config.clientId, 'hf-client-2');
    assert.equal(got.config.clientSecret, '********');
    const sie = expectStatus(await (await ctx.api()).get('/sign-in-exp'), 200, 'sign-in exp');
    assert.deepEqual(sie.socialSignInConnectorTargets, ['huggingface']);
  });

  it('a client configured like the reference Auth.js app, set up in the console, signs the user in with the role\'s scopes', async () => {
    const page = adminPage;
    const name = uniq('reference');
    await page.getByRole('navigation').getByRole('link', { name: 'Applications' }).click();
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Type').selectOption('Traditional');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const secret = (await page.getByTestId('new-secret').innerText()).trim();
    const id = (await page.locator('[role=status] code').first().innerText()).trim();
    await page.getByRole('link', { name: 'Open' }).click();
    const redirectUri = `${rp.origin}${CALLBACK_PATH}`;
    await page.getByLabel('Redirect URIs', { exact: true }).fill(redirectUri);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();

    const app = { id, secret, redirectUri };
    const config = await webAppConfig(ctx, app);
    const checks = await flowChecks();
    const { page: userPage, close } = await newPage(browser);
    await userPage.goto(authUrl(config, app, checks, { scope: `${REFERENCE_SCOPE} read:orders`, resource: indicator }));
    await userPage.locator('#social-huggingface').waitFor(); // the connector enabled in the console
    const landed = await signInOnPage(userPage, { username: person.username, password: person.password, redirectUri });
    // The code exchanged for a token of the API resource (RFC 8707 §2.2, as Logto's SDKs do).
    const tokens = await client.authorizationCodeGrant(config, new URL(landed), {
      pkceCodeVerifier: checks.pkceCodeVerifier, expectedState: checks.state, expectedNonce: checks.nonce,
    }, { resource: indicator });
    assert.equal(tokens.claims().sub, userId);
    const at = await ctx.verify(tokens.access_token, { audience: indicator });
    assert.deepEqual(scopeSet(at.payload.scope), ['read:orders']);
    await close();
  });


  it('edits the sign-in experience with a live preview', async () => {
    const page = adminPage;
    await page.getByRole('navigation').getByRole('link', { name: 'Sign-in experience' }).click();
    await page.getByRole('heading', { name: 'Sign-in experience', level: 1 }).waitFor();
    const preview = page.getByRole('region', { name: 'Preview' });
    await preview.getByText('Continue with Hugging Face').waitFor();
    assert.ok(!(await preview.innerText()).includes('Email'));
    await page.getByRole('group', { name: 'Sign-in identifiers' }).getByLabel('Email').check();
    await preview.getByText('Username or Email').waitFor(); // before saving
    await axe(page, 'sign-in experience');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    const sie = expectStatus(await (await ctx.api()).get('/sign-in-exp'), 200, 'sign-in exp');
    assert.deepEqual(sie.signIn.methods.map((m) => m.identifier).sort(), ['email', 'username']);
    assert.deepEqual(sie.socialSignInConnectorTargets, ['huggingface']);
  });

  it('shows the signing keys and rotates them after a confirmation', async () => {
    const page = adminPage;
    const before = (await (await ctx.api()).get('/configs/oidc/private-keys')).json();
    const next = before.find((k) => k.state === 'next');
    await page.getByRole('navigation').getByRole('link', { name: 'Signing keys' }).click();
    await page.getByRole('heading', { name: 'Signing keys', level: 1 }).waitFor();
    await page.getByRole('cell', { name: next.id }).waitFor();
    await axe(page, 'signing keys');
    await page.getByRole('button', { name: 'Rotate the keys' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate the keys' }).click();
    await page.getByText('The keys were rotated.').waitFor();
    const after = (await (await ctx.api()).get('/configs/oidc/private-keys')).json();
    assert.equal(after.find((k) => k.state === 'current').id, next.id, 'the next key became current');
  });

  it('asks before deleting, and deletes', async () => {
    const page = adminPage;
    await page.goto(`${endpoint}/console/applications/${appId}`);
    await signInIfAsked(page);
    await page.getByRole('button', { name: 'Delete application' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await axe(page, 'confirmation dialog');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await adminQuery('SELECT 1 FROM applications WHERE tenant_id = $1 AND id = $2', [ctx.id, appId])).length, 1, 'Escape cancels');
    await page.getByRole('button', { name: 'Delete application' }).click();
    await dialog.getByRole('button', { name: 'Delete application' }).click();
    await page.getByRole('heading', { name: 'Applications', level: 1 }).waitFor();
    assert.equal((await adminQuery('SELECT 1 FROM applications WHERE tenant_id = $1 AND id = $2', [ctx.id, appId])).length, 0);
  });


  it('two administrators work at once', async () => {
    const second = { email: `${uniq('second')}@example.com`, password: uniqPassword() };
    const link = await adminLink(srv, ctx.id, ['--email', second.email]);
    const { page, close } = await newPage(browser);
    watch(page);
    await setPasswordThroughLink(page, link, second.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await signInToConsole(page, second.email, second.password);
    // An administrator made with --email has no username, which the tenant's sign-up asks for
    // (Logto's user.missing_profile): the sign-in page asks for one before the console opens.
    await page.locator('form#code-form').waitFor({ state: 'visible' });
    assert.equal((await page.locator('h1#heading').innerText()).trim(), 'One more step');
    await page.locator('input#cf-address').fill(uniqUsername('second'));
    await page.locator('button#cf-submit').click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await adminPage.goto(`${endpoint}/console/organizations`);
    await signInIfAsked(adminPage);
    const names = [uniq('first-admin-org'), uniq('second-admin-org')];
    const create = async (p, name) => {
      await p.goto(`${endpoint}/console/organizations`);
      await p.getByRole('heading', { name: 'Organizations', level: 1 }).waitFor();
      await p.getByLabel('Name', { exact: true }).fill(name);
      await p.getByRole('button', { name: 'Create', exact: true }).click();
      await p.getByRole('heading', { name, level: 1 }).waitFor();
    };
    await Promise.all([create(adminPage, names[0]), create(page, names[1])]);
    const rows = await adminQuery('SELECT name FROM organizations WHERE tenant_id = $1 AND name = ANY($2) ORDER BY name', [ctx.id, names]);
    assert.deepEqual(rows.map((r) => r.name), [...names].sort());
    await close();
  });

  it('the console application and the administrators role cannot be deleted through the API', async () => {
    const api = await ctx.api();
    const delApp = await api.del('/applications/admin-console');
    assert.equal(delApp.status, 403);
    assert.equal(delApp.json().code, 'application.reserved');
    const patch = await api.patch('/applications/admin-console', { oidcClientMetadata: { redirectUris: ['https://evil.example/cb'] } });
    assert.equal(patch.status, 403);
    const delRole = await api.del('/roles/console-admin');
    assert.equal(delRole.status, 403);
    const delScope = await api.del('/roles/console-admin/scopes/management-api-all');
    assert.equal(delScope.status, 403);
    const asDefault = await api.patch('/roles/console-admin', { isDefault: true });
    assert.equal(asDefault.status, 403, 'everyone signing up would be an administrator');
    expectStatus(await api.patch('/applications/admin-console', { description: 'ours' }), 200, 'renaming is fine');
  });

  it('a non-administrator sees "No access" and no data', async () => {
    const { page, close } = await newPage(browser);
    watch(page);
    const apiCalls = [];
    page.on('request', (r) => { if (new URL(r.url()).pathname.includes('/api/')) apiCalls.push(r.url()); });
    await page.goto(`${endpoint}/console`);
    await signInToConsole(page, person.username, person.password);
    await page.getByRole('heading', { name: 'No access' }).waitFor();
    assert.deepEqual(apiCalls.filter((u) => !u.includes('/api/experience')), [], 'no Management API call');
    await axe(page, 'no access');
    await close();
  });

  it('an administrator of one tenant gets nothing in another', async () => {
    const other = await TenantCtx.create(srv, 'other');
    const { page, close } = await newPage(browser);
    await page.goto(`${other.endpoint}/console`);
    await page.locator('input#identifier').waitFor({ state: 'visible' });
    await fillAndSubmit(page, admin.username, admin.password);
    await expectErrorShown(page, 'tenant A credentials at tenant B');
    assert.ok(new URL(page.url()).pathname.endsWith('/sign-in'), 'still on the sign-in page');
    await close();
  });

  it('renders in Spanish', async () => {
    const { page, close } = await newPage(browser, { locale: 'es-ES' });
    watch(page);
    await page.goto(`${endpoint}/console/users`);
    await signInToConsole(page, admin.username, admin.password);
    await page.getByRole('heading', { name: 'Usuarios', level: 1 }).waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'es');
    await page.getByRole('navigation').getByRole('link', { name: 'Aplicaciones' }).waitFor();
    await axe(page, 'users (es)');
    await page.getByRole('navigation').getByRole('link', { name: 'Primeros pasos' }).click();
    await page.getByRole('heading', { name: 'Primeros pasos', level: 1 }).waitFor();
    await close();
  });

  it('signs out through the end-session endpoint', async () => {
    const page = adminPage;
    await page.goto(`${endpoint}/console`);
    await signInIfAsked(page);
    await page.getByRole('button', { name: 'Sign out' }).click();
    // Ends at the console, which sends a signed-out browser to the sign-in page.
    await page.locator('input#identifier').waitFor({ state: 'visible', timeout: 30000 });
  });

  /** A reload keeps no token: the console signs in again, silently while the session lasts. */
  async function signInIfAsked(page) {
    await Promise.race([
      page.locator('nav.side').waitFor(),
      page.locator('input#identifier').waitFor().then(() => signInToConsole(page, admin.username, admin.password)),
    ]);
    await page.locator('nav.side').waitFor();
  }
});
