// End-to-end tests of people signing in (issue 4) with real clients: headless Chromium (Debian's
// chromium through playwright-core) on latchd's hosted sign-in page, and openid-client v6 as the
// relying party — the reference scenario of Auth.js with Logto's provider: a Traditional app,
// redirect URI <origin>/api/auth/callback/logto, scopes `openid offline_access profile email`,
// ES384 ID tokens. Covered: discovery, the code flow with PKCE through the real page, the ID
// token (signature checked by openid-client and jose, claims, at_hash), userinfo, refresh-token
// rotation and family revocation on reuse, introspection and revocation, single sign-on for a
// second app, prompt=none / prompt=login, RP-initiated logout, an SPA (public client, PKCE), the
// Spanish page, registration (allowed and refused), wrong passwords, suspended users and the
// security headers of the page.
//
// The relying party's redirect and post-logout URIs live on a local HTTP server on 127.0.0.1, so
// Chromium really follows latchd's redirects to the application.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { http, startLatchd } from './lib/harness.mjs';
import {
  assertLabelled,
  expectErrorShown,
  fillAndSubmit,
  launchBrowser,
  newPage,
  signInOnPage,
  startCallbackServer,
  waitForUrlPrefix,
} from './lib/browser.mjs';
import {
  ExperienceClient,
  REFERENCE_SCOPE,
  TenantCtx,
  authUrl,
  eventually,
  jose,
  leftHalfHash,
  remoteJwks,
  scopeSet,
  tenantPath,
  uniqPassword,
  uniqUsername,
} from './lib/oidc.mjs';
import { authUrl as referenceAuthUrl, flowChecks } from './lib/flow.mjs';

const now = () => Math.floor(Date.now() / 1000);

/** Matches an openid-client / oauth4webapi error of the token endpoint with the given code. */
const oauthError = (code) => (err) => {
  assert.equal(err?.error, code,
    `want error ${code}, got ${err?.error ?? err}: ${err?.error_description ?? err?.message}`);
  return true;
};

/**
 * openid-client Configuration for app through discovery, with the ID token signature checked
 * (enableNonRepudiationChecks) and every HTTP response recorded in `seen`.
 */
async function configFor(ctx, app, { pub = false } = {}) {
  const seen = [];
  const recordingFetch = async (url, init) => {
    const res = await fetch(url, init);
    seen.push({ url: String(url), status: res.status, headers: res.headers });
    return res;
  };
  const metadata = pub
    ? { token_endpoint_auth_method: 'none', id_token_signed_response_alg: 'ES384' }
    : { client_secret: app.secret, id_token_signed_response_alg: 'ES384' };
  const auth = pub ? client.None() : client.ClientSecretBasic(app.secret);
  const config = await client.discovery(new URL(ctx.issuer), app.id, metadata, auth,
    { execute: [client.allowInsecureRequests], [client.customFetch]: recordingFetch });
  client.enableNonRepudiationChecks(config);
  return { config, seen };
}

/** Asserts the ID token claims of the reference scenario; returns the claims. */
function assertIdClaims(claims, { issuer, clientId, user, nonce, accessToken, scopes = REFERENCE_SCOPE }) {
  assert.equal(claims.iss, issuer, 'iss');
  assert.equal(claims.sub, user.id, 'sub = user id');
  if (Array.isArray(claims.aud)) assert.deepEqual(claims.aud, [clientId], 'aud');
  else assert.equal(claims.aud, clientId, 'aud = client id');
  assert.ok(Number.isInteger(claims.iat) && Math.abs(claims.iat - now()) <= 60, `iat ${claims.iat}`);
  assert.ok(Number.isInteger(claims.exp) && claims.exp > claims.iat, `exp ${claims.exp}`);
  assert.ok(Number.isInteger(claims.auth_time), `auth_time ${claims.auth_time}`);
  assert.ok(claims.auth_time <= claims.iat + 1 && claims.auth_time >= now() - 900, `auth_time ${claims.auth_time}`);
  if (nonce !== undefined) assert.equal(claims.nonce, nonce, 'nonce');
  if (accessToken !== undefined) assert.equal(claims.at_hash, leftHalfHash(accessToken, 'ES384'), 'at_hash');
  assert.equal(typeof claims.sid, 'string', 'sid');
  assert.ok(claims.sid.length > 0, 'sid');
  const s = scopeSet(scopes);
  if (s.includes('profile')) {
    assert.equal(claims.name, user.name, 'name (profile)');
    assert.equal(claims.username, user.username, 'username (profile)');
    assert.equal(claims.picture, user.avatar, 'picture (profile)');
    assert.equal(typeof claims.updated_at, 'number', 'updated_at (profile)');
  } else {
    for (const c of ['name', 'username', 'picture']) assert.ok(!(c in claims), `no ${c} without profile`);
  }
  if (s.includes('email')) {
    assert.equal(claims.email, user.primaryEmail, 'email (email)');
    assert.equal(claims.email_verified, true, 'email_verified (email)');
  } else {
    assert.ok(!('email' in claims), 'no email without scope email');
  }
  for (const secret of ['password', 'passwordEncrypted', 'password_encrypted']) {
    assert.ok(!(secret in claims), `no ${secret} in the ID token`);
  }
  return claims;
}

/** Verifies an ID token with jose against the tenant's JWKS: ES384, issuer, audience. */
async function joseVerifyIdToken(ctx, idToken, clientId) {
  const { payload, protectedHeader } = await jose.jwtVerify(idToken, remoteJwks(ctx.server, ctx.id),
    { issuer: ctx.issuer, audience: clientId, algorithms: ['ES384'] });
  assert.equal(protectedHeader.alg, 'ES384');
  assert.equal(typeof protectedHeader.kid, 'string', 'kid');
  return payload;
}

/** Asserts the page is latchd's sign-in (or register) page of ctx. */
function assertOnPage(page, ctx, which = 'sign-in') {
  const u = new URL(page.url());
  assert.equal(`${u.origin}${u.pathname}`, `${ctx.base}/${which}`, `on the ${which} page (${page.url()})`);
}

/** The main-frame navigations since index `from` that showed one of latchd's pages. */
const pageVisits = (nav, from = 0) =>
  nav.slice(from).filter((u) => /\/(sign-in|register|consent)(\?|$)/.test(new URL(u).pathname + '?'));

describe('people sign in (browser + openid-client)', () => {
  let srv;
  let browser;
  let cb;
  let ctx;
  let user;
  let appA;
  let appB;
  before(async () => {
    srv = await startLatchd();
    browser = await launchBrowser();
    cb = await startCallbackServer();
    ctx = await TenantCtx.create(srv, 'signin');
    user = await ctx.createUser({
      username: uniqUsername('alice'),
      password: uniqPassword(),
      primaryEmail: `alice.${Date.now()}@example.com`,
      name: 'Alice Example',
      avatar: 'https://example.com/avatars/alice.png',
    });
    appA = await ctx.createWebApp(cb.origin, { name: 'Bookstore' });
    appB = await ctx.createWebApp(cb.origin, { name: 'Second app', callbackPath: '/second/callback' });
  });
  after(async () => {
    await browser?.close();
    await cb?.close();
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  it('discovery advertises the code flow endpoints, S256, scopes, ES384 and "none"', async () => {
    const res = await http(`${ctx.base}/oidc/.well-known/openid-configuration`);
    assert.equal(res.status, 200, res.text);
    const d = res.json();
    const iss = ctx.issuer;
    assert.equal(d.issuer, iss);
    assert.equal(d.authorization_endpoint, `${iss}/auth`);
    assert.equal(d.token_endpoint, `${iss}/token`);
    assert.equal(d.userinfo_endpoint, `${iss}/me`);
    assert.equal(d.end_session_endpoint, `${iss}/session/end`);
    assert.equal(d.revocation_endpoint, `${iss}/token/revocation`);
    assert.equal(d.introspection_endpoint, `${iss}/token/introspection`);
    assert.equal(d.jwks_uri, `${iss}/jwks`);
    assert.deepEqual(d.response_types_supported, ['code']);
    for (const g of ['authorization_code', 'refresh_token', 'client_credentials']) {
      assert.ok(d.grant_types_supported.includes(g), `grant type ${g}`);
    }
    assert.ok(!d.grant_types_supported.includes('implicit') && !d.grant_types_supported.includes('password'));
    assert.deepEqual(d.code_challenge_methods_supported, ['S256']);
    for (const s of ['openid', 'offline_access', 'profile', 'email', 'phone', 'custom_data', 'identities', 'roles',
      'urn:logto:scope:organizations', 'urn:logto:scope:organization_roles']) {
      assert.ok(d.scopes_supported.includes(s), `scope ${s} in ${d.scopes_supported}`);
    }
    assert.deepEqual(d.id_token_signing_alg_values_supported, ['ES384'], 'the current key of a new tenant');
    for (const m of ['none', 'client_secret_basic', 'client_secret_post']) {
      assert.ok(d.token_endpoint_auth_methods_supported.includes(m), `auth method ${m}`);
    }
    assert.ok(Array.isArray(d.claims_supported), 'claims_supported');
    for (const c of ['sub', 'name', 'username', 'picture', 'email', 'email_verified']) {
      assert.ok(d.claims_supported.includes(c), `claim ${c} in ${d.claims_supported}`);
    }
  });

  describe('the reference scenario: one browser, app A then app B, then logout', () => {
    let page;
    let pageCtl;
    let configA;
    let seenA;
    let tokens; // of the first sign-in
    let claims;
    let refreshed; // the rotation chain [r1, r2]
    let lastIdToken; // the newest ID token of app A (id_token_hint of the logout)
    before(async () => {
      pageCtl = await newPage(browser);
      page = pageCtl.page;
      ({ config: configA, seen: seenA } = await configFor(ctx, appA));
    });
    after(async () => {
      await pageCtl?.close();
    });

    it('openid-client: code flow with PKCE through the real sign-in page; ES384 ID token', async () => {
      const checks = await flowChecks();
      const url = referenceAuthUrl(configA, appA, checks);
      const resp = await page.goto(url);
      assertOnPage(page, ctx);
      assert.equal(resp.status(), 200, 'the sign-in page');
      assert.equal(await page.title(), 'Sign in');
      await assertLabelled(page, 'sign-in page');

      const callbackUrl = await signInOnPage(page, { username: user.username, password: user.password,
        redirectUri: appA.redirectUri });
      const cbParams = new URL(callbackUrl).searchParams;
      assert.equal(cbParams.get('state'), checks.state, 'state back');
      assert.equal(cbParams.get('iss'), ctx.issuer, 'iss back (RFC 9207)');
      assert.equal(typeof cbParams.get('code'), 'string', 'a code');
      assert.ok(cb.hitsFor(appA.redirectUri).some((h) => h.url === callbackUrl), 'the app received the callback');

      tokens = await client.authorizationCodeGrant(configA, new URL(callbackUrl), {
        pkceCodeVerifier: checks.pkceCodeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      });
      assert.equal(typeof tokens.access_token, 'string');
      assert.equal(typeof tokens.id_token, 'string');
      assert.equal(typeof tokens.refresh_token, 'string', 'offline_access gives a refresh token');
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.ok(Number.isInteger(tokens.expires_in) && tokens.expires_in > 0, `expires_in ${tokens.expires_in}`);
      assert.deepEqual(scopeSet(tokens.scope), scopeSet(REFERENCE_SCOPE), 'scope granted');

      const tokenRes = seenA.filter((s) => s.url === `${ctx.issuer}/token`).at(-1);
      assert.ok(tokenRes, 'token response recorded');
      assert.match(tokenRes.headers.get('cache-control') || '', /no-store/, 'Cache-Control: no-store on tokens');

      assert.equal(jose.decodeProtectedHeader(tokens.id_token).alg, 'ES384');
      claims = assertIdClaims(tokens.claims(), { issuer: ctx.issuer, clientId: appA.id, user, nonce: checks.nonce,
        accessToken: tokens.access_token });
      const verified = await joseVerifyIdToken(ctx, tokens.id_token, appA.id);
      assert.equal(verified.sub, user.id);
      lastIdToken = tokens.id_token;

      // The session cookie: HttpOnly, SameSite=Lax, scoped to the tenant.
      const cookies = await pageCtl.context.cookies(`${ctx.base}/`);
      const session = cookies.find((c) => c.name === `latch_session_${ctx.id}`);
      assert.ok(session, `cookie latch_session_${ctx.id} in ${cookies.map((c) => c.name)}`);
      assert.equal(session.httpOnly, true, 'HttpOnly');
      assert.equal(session.sameSite, 'Lax', 'SameSite=Lax');
      assert.ok(session.path.startsWith(`${tenantPath(ctx.id)}/`), `path ${session.path} within the tenant`);
    });

    it('userinfo: fetchUserInfo gives the claims of the granted scopes; GET and POST; 401 for a bad token',
      async () => {
      assert.ok(tokens, 'needs the sign-in above');
      const info = await client.fetchUserInfo(configA, tokens.access_token, user.id);
      assert.equal(info.sub, user.id);
      assert.equal(info.name, user.name);
      assert.equal(info.username, user.username);
      assert.equal(info.picture, user.avatar);
      assert.equal(info.email, user.primaryEmail);
      assert.equal(info.email_verified, true);
      assert.ok(!('phone_number' in info), 'no phone claims without scope phone');

      const post = await http(`${ctx.base}/oidc/me`, { method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ access_token: tokens.access_token }).toString() });
      assert.equal(post.status, 200, `POST /oidc/me with the token in the body: ${post.text}`);
      assert.equal(post.json().sub, user.id);

      for (const authz of ['Bearer not-a-token', `Bearer ${tokens.access_token}x`]) {
        const bad = await http(`${ctx.base}/oidc/me`, { headers: { authorization: authz } });
        assert.equal(bad.status, 401, `${authz.slice(0, 20)}: ${bad.text}`);
        assert.match(bad.headers.get('www-authenticate') || '', /^Bearer\b/i, 'WWW-Authenticate: Bearer');
      }
      const none = await http(`${ctx.base}/oidc/me`);
      assert.equal(none.status, 401, 'no token');
    });

    it('refresh_token grant rotates: a new refresh token each time, ID token of the same user', async () => {
      assert.ok(tokens, 'needs the sign-in above');
      const r1 = await client.refreshTokenGrant(configA, tokens.refresh_token);
      assert.equal(typeof r1.refresh_token, 'string');
      assert.notEqual(r1.refresh_token, tokens.refresh_token, 'rotated');
      assert.notEqual(r1.access_token, tokens.access_token, 'a new access token');
      if (r1.id_token) {
        const c = r1.claims();
        assert.equal(c.sub, user.id);
        assert.equal(c.aud === appA.id || (Array.isArray(c.aud) && c.aud[0] === appA.id), true, 'aud');
        assert.equal(jose.decodeProtectedHeader(r1.id_token).alg, 'ES384');
      }
      const info = await client.fetchUserInfo(configA, r1.access_token, user.id);
      assert.equal(info.sub, user.id, 'the refreshed access token works at userinfo');
      const r2 = await client.refreshTokenGrant(configA, r1.refresh_token);
      assert.notEqual(r2.refresh_token, r1.refresh_token, 'rotated again');
      refreshed = [r1, r2];
    });

    it('reusing a rotated refresh token → invalid_grant, and the whole family is revoked', async () => {
      assert.ok(refreshed, 'needs the rotation above');
      const [r1, r2] = refreshed;
      await assert.rejects(client.refreshTokenGrant(configA, tokens.refresh_token), oauthError('invalid_grant'),
        'the first (consumed) refresh token');
      await assert.rejects(client.refreshTokenGrant(configA, r2.refresh_token), oauthError('invalid_grant'),
        'the newest refresh token of the family is revoked too');
      await assert.rejects(client.refreshTokenGrant(configA, r1.refresh_token), oauthError('invalid_grant'),
        'and the middle one');
    });

    it('SSO: app B of the same tenant gets a code in the same browser without the page', async () => {
      assert.ok(claims, 'needs the sign-in above');
      const { config: configB } = await configFor(ctx, appB);
      const checks = await flowChecks();
      const mark = pageCtl.navigations.length;
      await page.goto(referenceAuthUrl(configB, appB, checks));
      const callbackUrl = await waitForUrlPrefix(page, appB.redirectUri);
      assert.deepEqual(pageVisits(pageCtl.navigations, mark), [], 'no sign-in page on the way');
      const tb = await client.authorizationCodeGrant(configB, new URL(callbackUrl), {
        pkceCodeVerifier: checks.pkceCodeVerifier, expectedState: checks.state, expectedNonce: checks.nonce,
        idTokenExpected: true });
      const cB = assertIdClaims(tb.claims(), { issuer: ctx.issuer, clientId: appB.id, user, nonce: checks.nonce,
        accessToken: tb.access_token });
      assert.equal(cB.sid, claims.sid, 'the same IdP session');
      assert.equal(cB.auth_time, claims.auth_time, 'no new authentication');
      await joseVerifyIdToken(ctx, tb.id_token, appB.id);
    });

    it('with the session, prompt=none succeeds and prompt=login shows the page again', async () => {
      assert.ok(claims, 'needs the sign-in above');
      const checks = await flowChecks();
      const mark = pageCtl.navigations.length;
      await page.goto(referenceAuthUrl(configA, appA, checks, { prompt: 'none' }));
      const callbackUrl = await waitForUrlPrefix(page, appA.redirectUri);
      assert.deepEqual(pageVisits(pageCtl.navigations, mark), [], 'no page for prompt=none');
      const p = new URL(callbackUrl).searchParams;
      assert.equal(p.get('error'), null, `prompt=none with a session: ${callbackUrl}`);
      const t = await client.authorizationCodeGrant(configA, new URL(callbackUrl), {
        pkceCodeVerifier: checks.pkceCodeVerifier, expectedState: checks.state, expectedNonce: checks.nonce });
      assert.equal(t.claims().sub, user.id);

      const checks2 = await flowChecks();
      await page.goto(referenceAuthUrl(configA, appA, checks2, { prompt: 'login' }));
      assertOnPage(page, ctx);
      const cbUrl = await signInOnPage(page, { username: user.username, password: user.password,
        redirectUri: appA.redirectUri });
      const t2 = await client.authorizationCodeGrant(configA, new URL(cbUrl), {
        pkceCodeVerifier: checks2.pkceCodeVerifier, expectedState: checks2.state, expectedNonce: checks2.nonce });
      assert.equal(t2.claims().sub, user.id);
      assert.ok(t2.claims().auth_time >= claims.auth_time, 'a new authentication');
      lastIdToken = t2.id_token;
    });

    it('introspection (RFC 7662) and revocation (RFC 7009) with client authentication', async () => {
      const checks = await flowChecks();
      await page.goto(referenceAuthUrl(configA, appA, checks));
      const callbackUrl = await waitForUrlPrefix(page, appA.redirectUri);
      const t = await client.authorizationCodeGrant(configA, new URL(callbackUrl), {
        pkceCodeVerifier: checks.pkceCodeVerifier, expectedState: checks.state, expectedNonce: checks.nonce });

      const at = await client.tokenIntrospection(configA, t.access_token);
      assert.equal(at.active, true, `access token: ${JSON.stringify(at)}`);
      assert.equal(at.sub, user.id);
      assert.equal(at.client_id, appA.id);
      assert.ok(scopeSet(at.scope).includes('openid'), `scope ${at.scope}`);
      assert.ok(Number.isInteger(at.exp) && at.exp > now(), `exp ${at.exp}`);

      const rt = await client.tokenIntrospection(configA, t.refresh_token);
      assert.equal(rt.active, true, `refresh token: ${JSON.stringify(rt)}`);
      assert.equal(rt.client_id, appA.id);

      const junk = await client.tokenIntrospection(configA, 'not-a-token');
      assert.equal(junk.active, false);

      await client.tokenRevocation(configA, t.refresh_token);
      await assert.rejects(client.refreshTokenGrant(configA, t.refresh_token), oauthError('invalid_grant'),
        'a revoked refresh token');
      const revoked = await client.tokenIntrospection(configA, t.refresh_token);
      assert.equal(revoked.active, false, 'revoked → inactive');
      // Revoking an unknown token is not an error (RFC 7009 §2.2).
      await client.tokenRevocation(configA, 'not-a-token');
    });

    it('logout: end_session in the browser (303 to the post-logout URI with state), then prompt=none → '
      + 'login_required for both apps', async () => {
      assert.ok(tokens, 'needs the sign-in above');
      const state = client.randomState();
      const endUrl = client.buildEndSessionUrl(configA, {
        id_token_hint: lastIdToken,
        post_logout_redirect_uri: appA.postLogoutRedirectUri,
        state,
      });
      await page.goto(endUrl.href);
      const landed = await waitForUrlPrefix(page, appA.postLogoutRedirectUri);
      const u = new URL(landed);
      assert.equal(`${u.origin}${u.pathname}`, appA.postLogoutRedirectUri);
      assert.equal(u.searchParams.get('state'), state, 'state back');

      for (const [app, config] of [[appA, configA], [appB, (await configFor(ctx, appB)).config]]) {
        const checks = await flowChecks();
        await page.goto(referenceAuthUrl(config, app, checks, { prompt: 'none' }));
        const back = await waitForUrlPrefix(page, app.redirectUri);
        const p = new URL(back).searchParams;
        assert.equal(p.get('error'), 'login_required', `${app.redirectUri}: ${back}`);
        assert.equal(p.get('state'), checks.state);
        assert.equal(p.get('iss'), ctx.issuer);
        assert.equal(p.get('code'), null);
      }
      // Without prompt=none the page shows again.
      await page.goto(referenceAuthUrl(configA, appA, await flowChecks()));
      assertOnPage(page, ctx);
    });
  });

  it('prompt=none without a session (fresh browser) → login_required with state and iss', async () => {
    const pc = await newPage(browser);
    try {
      const { config } = await configFor(ctx, appA);
      const checks = await flowChecks();
      await pc.page.goto(referenceAuthUrl(config, appA, checks, { prompt: 'none' }));
      const back = await waitForUrlPrefix(pc.page, appA.redirectUri);
      assert.deepEqual(pageVisits(pc.navigations), [], 'no page');
      const p = new URL(back).searchParams;
      assert.equal(p.get('error'), 'login_required', back);
      assert.equal(p.get('state'), checks.state);
      assert.equal(p.get('iss'), ctx.issuer);
      await assert.rejects(client.authorizationCodeGrant(config, new URL(back), {
        pkceCodeVerifier: checks.pkceCodeVerifier, expectedState: checks.state }),
      (err) => err instanceof client.AuthorizationResponseError && err.error === 'login_required');
    } finally {
      await pc.close();
    }
  });

  it('an SPA (public client, token_endpoint_auth_method none) with PKCE; userinfo from the browser '
    + 'through CORS', async () => {
    const spa = await ctx.createWebApp(cb.origin, { type: 'SPA', name: 'Single page', callbackPath: '/spa/callback',
      customClientMetadata: { corsAllowedOrigins: [cb.origin] } });
    assert.equal(spa.secret, undefined, 'an SPA has no secret');
    const { config } = await configFor(ctx, spa, { pub: true });
    const pc = await newPage(browser);
    try {
      const checks = await flowChecks();
      await pc.page.goto(referenceAuthUrl(config, spa, checks));
      assertOnPage(pc.page, ctx);
      const back = await signInOnPage(pc.page, { username: user.username, password: user.password,
        redirectUri: spa.redirectUri });
      const t = await client.authorizationCodeGrant(config, new URL(back), {
        pkceCodeVerifier: checks.pkceCodeVerifier, expectedState: checks.state, expectedNonce: checks.nonce,
        idTokenExpected: true });
      assertIdClaims(t.claims(), { issuer: ctx.issuer, clientId: spa.id, user, nonce: checks.nonce,
        accessToken: t.access_token });
      await joseVerifyIdToken(ctx, t.id_token, spa.id);
      assert.equal(typeof t.refresh_token, 'string', 'offline_access');

      // The page now sits on the SPA's origin: call userinfo from there (a real CORS request
      // with a preflight for the Authorization header).
      const fromBrowser = await pc.page.evaluate(async ([url, token]) => {
        const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
        return { status: r.status, body: await r.json() };
      }, [`${ctx.base}/oidc/me`, t.access_token]);
      assert.equal(fromBrowser.status, 200);
      assert.equal(fromBrowser.body.sub, user.id);
      const evil = await http(`${ctx.base}/oidc/me`, { headers: { authorization: `Bearer ${t.access_token}`,
        origin: 'http://evil.example' } });
      assert.notEqual(evil.headers.get('access-control-allow-origin'), 'http://evil.example',
        'no CORS for an origin the app does not allow');
      assert.notEqual(evil.headers.get('access-control-allow-origin'), '*');

      // Public clients rotate refresh tokens; a code cannot be redeemed without its verifier.
      const r = await client.refreshTokenGrant(config, t.refresh_token);
      assert.notEqual(r.refresh_token, t.refresh_token);
    } finally {
      await pc.close();
    }
  });

  describe('the page', () => {
    it('English by default; Spanish with ui_locales=es, and from Accept-Language; ui_locales wins', async () => {
      const { config } = await configFor(ctx, appA);
      const cases = [
        { locale: 'en-US', extra: {}, title: 'Sign in' },
        { locale: 'en-US', extra: { ui_locales: 'es' }, title: 'Iniciar sesión' },
        { locale: 'es-ES', extra: {}, title: 'Iniciar sesión' },
        { locale: 'es-ES', extra: { ui_locales: 'en' }, title: 'Sign in' },
      ];
      for (const c of cases) {
        const pc = await newPage(browser, { locale: c.locale });
        try {
          await pc.page.goto(referenceAuthUrl(config, appA, await flowChecks(), c.extra));
          assertOnPage(pc.page, ctx);
          assert.equal(await pc.page.title(), c.title, `Accept-Language ${c.locale}, ${JSON.stringify(c.extra)}`);
          const lang = await pc.page.evaluate(() => document.documentElement.lang);
          assert.equal(lang.slice(0, 2), c.title === 'Sign in' ? 'en' : 'es', 'html lang');
        } finally {
          await pc.close();
        }
      }
    });

    it('the Spanish page signs in too, and shows its errors', async () => {
      const { config } = await configFor(ctx, appA);
      const pc = await newPage(browser, { locale: 'en-US' });
      try {
        const checks = await flowChecks();
        await pc.page.goto(referenceAuthUrl(config, appA, checks, { ui_locales: 'es' }));
        assert.equal(await pc.page.title(), 'Iniciar sesión');
        await assertLabelled(pc.page, 'Spanish sign-in page');
        await fillAndSubmit(pc.page, user.username, 'definitely-wrong-password');
        await expectErrorShown(pc.page, 'Spanish page, wrong password');
        const back = await signInOnPage(pc.page, { username: user.username, password: user.password,
          redirectUri: appA.redirectUri });
        const t = await client.authorizationCodeGrant(config, new URL(back), {
          pkceCodeVerifier: checks.pkceCodeVerifier, expectedState: checks.state, expectedNonce: checks.nonce });
        assert.equal(t.claims().sub, user.id);
      } finally {
        await pc.close();
      }
    });

    it('a wrong password shows #error and stays on the page; the right one then goes through', async () => {
      const { config } = await configFor(ctx, appA);
      const pc = await newPage(browser);
      try {
        const checks = await flowChecks();
        await pc.page.goto(referenceAuthUrl(config, appA, checks));
        for (const [id, pw] of [[user.username, `${user.password}x`], [uniqUsername('nobody'), user.password]]) {
          await fillAndSubmit(pc.page, id, pw);
          await expectErrorShown(pc.page, `wrong credentials for ${id}`);
          assertOnPage(pc.page, ctx);
        }
        assert.equal(cb.hits.filter((h) => h.url.includes(`state=${checks.state}`)).length, 0, 'no callback yet');
        const back = await signInOnPage(pc.page, { username: user.username, password: user.password,
          redirectUri: appA.redirectUri });
        assert.equal(new URL(back).searchParams.get('state'), checks.state);
      } finally {
        await pc.close();
      }
    });

    it('a suspended user cannot sign in', async () => {
      const bob = await ctx.createUser({ username: uniqUsername('bob'), name: 'Bob' });
      await ctx.suspendUser(bob.id, true);
      const { config } = await configFor(ctx, appA);
      const pc = await newPage(browser);
      try {
        const checks = await flowChecks();
        await pc.page.goto(referenceAuthUrl(config, appA, checks));
        await fillAndSubmit(pc.page, bob.username, bob.password);
        await expectErrorShown(pc.page, 'suspended user');
        await pc.page.waitForTimeout(500);
        assertOnPage(pc.page, ctx);
        assert.equal(cb.hits.filter((h) => h.url.includes(`state=${checks.state}`)).length, 0, 'no callback');
        const cookies = await pc.context.cookies(`${ctx.base}/`);
        assert.ok(!cookies.some((c) => c.name === `latch_session_${ctx.id}`), 'no session');
      } finally {
        await pc.close();
      }
      // Resumed, the same user signs in.
      await ctx.suspendUser(bob.id, false);
      const pc2 = await newPage(browser);
      try {
        await pc2.page.goto(referenceAuthUrl(config, appA, await flowChecks()));
        await signInOnPage(pc2.page, { username: bob.username, password: bob.password, redirectUri: appA.redirectUri });
      } finally {
        await pc2.close();
      }
    });

    it('security headers: strict CSP with frame-ancestors \'none\', no-store, Referrer-Policy, nosniff; '
      + 'no third-party assets', async () => {
      const { config } = await configFor(ctx, appA);
      const pc = await newPage(browser);
      try {
        const resp = await pc.page.goto(referenceAuthUrl(config, appA, await flowChecks()));
        assertOnPage(pc.page, ctx);
        await pc.page.waitForLoadState('load');
        const h = resp.headers();
        const csp = h['content-security-policy'] || '';
        assert.match(csp, /frame-ancestors 'none'/, `CSP: ${csp}`);
        const directive = (name) => csp.split(';').map((d) => d.trim()).find((d) => d.startsWith(`${name} `));
        const scriptSrc = directive('script-src') ?? directive('default-src') ?? '';
        assert.ok(scriptSrc, `CSP restricts scripts: ${csp}`);
        assert.ok(!/'unsafe-inline'|'unsafe-eval'|\s\*(\s|$)/.test(scriptSrc),
          `script sources are strict: ${scriptSrc}`);
        assert.match(h['cache-control'] || '', /no-store/, 'Cache-Control: no-store');
        assert.ok((h['referrer-policy'] || '').length > 0, 'Referrer-Policy');
        assert.equal((h['x-content-type-options'] || '').toLowerCase(), 'nosniff');
        assert.match(h['content-type'] || '', /^text\/html/);
        const latchOrigin = new URL(srv.url).origin;
        const foreign = pc.requests.filter((u) => !u.startsWith('data:') && !u.startsWith('blob:') &&
          new URL(u).origin !== latchOrigin);
        assert.deepEqual(foreign, [], 'every asset comes from latchd');
      } finally {
        await pc.close();
      }
    });

    it('the interaction cookie is HttpOnly', async () => {
      const { config } = await configFor(ctx, appA);
      const pc = await newPage(browser);
      try {
        await pc.page.goto(referenceAuthUrl(config, appA, await flowChecks()));
        const cookies = await pc.context.cookies(`${ctx.base}/`);
        const inter = cookies.find((c) => c.name === `latch_interaction_${ctx.id}`);
        assert.ok(inter, `cookie latch_interaction_${ctx.id} in ${cookies.map((c) => c.name)}`);
        assert.equal(inter.httpOnly, true);
        assert.ok(['Lax', 'Strict'].includes(inter.sameSite), `SameSite ${inter.sameSite}`);
      } finally {
        await pc.close();
      }
    });
  });

  describe('registration', () => {
    it('first_screen=register shows /register; a new account signs up and comes back with a code; '
      + 'it then signs in', async () => {
      const { config } = await configFor(ctx, appA);
      const username = uniqUsername('carol');
      const password = uniqPassword();
      let newId;
      const pc = await newPage(browser);
      try {
        const checks = await flowChecks();
        await pc.page.goto(referenceAuthUrl(config, appA, checks, { first_screen: 'register' }));
        assertOnPage(pc.page, ctx, 'register');
        await assertLabelled(pc.page, 'register page');
        const back = await signInOnPage(pc.page, { username, password, redirectUri: appA.redirectUri });
        const t = await client.authorizationCodeGrant(config, new URL(back), {
          pkceCodeVerifier: checks.pkceCodeVerifier, expectedState: checks.state, expectedNonce: checks.nonce });
        const c = t.claims();
        assert.equal(c.username, username);
        newId = c.sub;
      } finally {
        await pc.close();
      }
      const found = await ctx.searchUsers(username);
      assert.deepEqual(found.map((u) => u.id), [newId], 'the new user exists');
      assert.equal(found[0].username, username);

      const pc2 = await newPage(browser);
      try {
        await pc2.page.goto(referenceAuthUrl(config, appA, await flowChecks()));
        assertOnPage(pc2.page, ctx);
        // The link from the sign-in page leads to the register page.
        await pc2.page.locator('a#to-register').click();
        await pc2.page.waitForURL((u) => u.pathname.endsWith('/register'));
        assertOnPage(pc2.page, ctx, 'register');
        await pc2.page.goto(referenceAuthUrl(config, appA, await flowChecks()));
        assertOnPage(pc2.page, ctx);
        await signInOnPage(pc2.page, { username, password, redirectUri: appA.redirectUri });
      } finally {
        await pc2.close();
      }
    });

    it('with signInMode SignIn, registration is refused (page and Experience API) and no user appears', async () => {
      const closed = await TenantCtx.create(srv, 'noreg');
      const app = await closed.createWebApp(cb.origin);
      await closed.patchSignInExp({ signInMode: 'SignIn' });
      // The Experience API refuses a Register interaction (once the change reached the cache).
      await eventually(async () => {
        const xp = new ExperienceClient(closed);
        await xp.start(authUrl(closed, { client_id: app.id, redirect_uri: app.redirectUri, response_type: 'code',
          scope: 'openid', state: 's', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
          code_challenge_method: 'S256' }));
        const res = await xp.call('PUT', '', { interactionEvent: 'Register' });
        return res.status >= 400 && res.status < 500;
      }, 'PUT /api/experience Register refused', 5000);

      const { config } = await configFor(closed, app);
      const username = uniqUsername('dave');
      const pc = await newPage(browser);
      try {
        const checks = await flowChecks();
        await pc.page.goto(referenceAuthUrl(config, app, checks, { first_screen: 'register' }));
        const path = new URL(pc.page.url()).pathname;
        if (path.endsWith('/register') && await pc.page.locator('button#submit').count() > 0) {
          await fillAndSubmit(pc.page, username, uniqPassword());
          await expectErrorShown(pc.page, 'registration refused');
        } else {
          assertOnPage(pc.page, closed); // the sign-in page instead of a register form
        }
        await pc.page.waitForTimeout(300);
        assert.equal(cb.hits.filter((h) => h.url.includes(`state=${checks.state}`)).length, 0, 'no callback');
      } finally {
        await pc.close();
      }
      assert.deepEqual(await closed.searchUsers(username), [], 'no user was created');
    });
  });
});
