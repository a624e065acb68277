// End-to-end tests of issue 15's logout and token hardening, against a real latchd and
// PostgreSQL with plain fetch and a cookie jar (sign-ins through the Experience API, as the hosted
// page does them):
//  - RP-initiated logout without a valid id_token_hint (GET or POST with only the session cookie)
//    shows a confirmation page and the session survives; the page's form, posted back with its
//    xsrf token and logout=yes, ends the session and goes to post_logout_redirect_uri with state;
//    logout=no keeps it; a forged POST (no token, a wrong one, another session's) is refused and
//    the session survives; with a valid id_token_hint the session ends at once as before;
//  - Strict-Transport-Security on every response when LATCH_PUBLIC_URL is https, none with http;
//  - a reused authorization code revokes the access token issued from it (401 at userinfo) and
//    its refresh token (OpenID conformance oidcc-codereuse), and nothing else.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { http, startLatchd } from './lib/harness.mjs';
import {
  CookieJar,
  ExperienceClient,
  TenantCtx,
  assertHtmlErrorPage,
  authUrl,
  jarFetch,
  pkcePair,
  uniqUsername,
} from './lib/oidc.mjs';

const RP = 'http://localhost:3000';
const HSTS = 'max-age=31536000; includeSubDomains';

describe('logout confirmation, HSTS, code reuse', () => {
  let srv;
  let ctx;
  let app;
  let user;

  before(async () => {
    srv = await startLatchd();
    ctx = await TenantCtx.create(srv, 'bye');
    user = await ctx.createUser({ username: uniqUsername('lou') });
    app = await ctx.createWebApp(RP);
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  /** Authorization parameters for app: {params, verifier}. */
  function authParams(extra = {}) {
    const pkce = pkcePair();
    return {
      verifier: pkce.verifier,
      params: { client_id: app.id, redirect_uri: app.redirectUri, response_type: 'code',
        scope: 'openid offline_access profile', state: `st-${Date.now()}`, nonce: 'n-1',
        code_challenge: pkce.challenge, code_challenge_method: 'S256', ...extra },
    };
  }

  /** A fresh browser signed in; resolves {xp, code, verifier}. */
  async function signedIn() {
    const xp = new ExperienceClient(ctx);
    const a = authParams();
    const callback = new URL(await xp.signIn(authUrl(ctx, a.params), user.username, user.password));
    assert.ok(xp.jar.has(xp.sessionCookie), 'a session cookie after the sign-in');
    return { xp, code: callback.searchParams.get('code'), verifier: a.verifier };
  }

  /** Whether the browser's session is alive: prompt=none gives a code, or login_required. */
  async function sessionAlive(xp) {
    const a = authParams({ prompt: 'none' });
    const res = await jarFetch(xp.jar, authUrl(ctx, a.params));
    assert.ok(res.status === 302 || res.status === 303, `prompt=none: ${res.status} ${res.text.slice(0, 200)}`);
    const p = new URL(res.location).searchParams;
    if (p.get('code')) return true;
    assert.equal(p.get('error'), 'login_required', `prompt=none: ${res.location}`);
    return false;
  }

  function redeem(code, verifier) {
    return ctx.tokenRequest({ client: app, params: { grant_type: 'authorization_code', code,
      redirect_uri: app.redirectUri, code_verifier: verifier } });
  }

  const endSessionUrl = (params = {}) => {
    const u = new URL(`${ctx.base}/oidc/session/end`);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return u.href;
  };

  const postForm = (jar, fields) => jarFetch(jar, endSessionUrl(), { method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString() });

  /** The confirmation page's form: {action, fields (hidden inputs and the xsrf token)}. */
  function readForm(res, what) {
    assert.equal(res.status, 200, `${what}: status (${res.text.slice(0, 300)})`);
    assert.match(res.headers.get('content-type') || '', /^text\/html/, `${what}: HTML`);
    assert.equal(res.headers.get('location'), null, `${what}: no redirect`);
    assert.match(res.headers.get('content-security-policy') || '', /frame-ancestors 'none'/, `${what}: CSP`);
    const form = res.text.match(/<form id="logout" method="post" action="([^"]*)">([\s\S]*?)<\/form>/);
    assert.ok(form, `${what}: a logout form in ${res.text}`);
    const fields = {};
    for (const m of form[2].matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
      fields[m[1]] = m[2].replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'")
        .replace(/&lt;/g, '<').replace(/&gt;/g, '>');
    }
    assert.match(fields.xsrf ?? '', /^[A-Za-z0-9_-]{43}$/, `${what}: an xsrf token`);
    assert.match(form[2], /name="logout" value="yes"/, `${what}: a confirm button`);
    return { action: form[1], fields };
  }

  it('GET or POST session/end with only the cookie shows the confirmation page; the session survives', async () => {
    const { xp } = await signedIn();
    const get = await jarFetch(xp.jar, endSessionUrl());
    const { action, fields } = readForm(get, 'GET');
    assert.equal(action, new URL(`${ctx.base}/oidc/session/end`).pathname, 'the form posts back to session/end');
    assert.match(get.text, /Do you want to sign out/, 'English by default');
    assert.ok(xp.jar.has(xp.sessionCookie), 'the session cookie is not cleared');
    assert.equal(await sessionAlive(xp), true, 'a silent authorize still works after the GET');

    // The same without the confirm field, as a POST (an application's form).
    const post = await postForm(xp.jar, { client_id: app.id });
    assert.equal(readForm(post, 'POST').fields.xsrf, fields.xsrf, 'the token belongs to the session');
    assert.equal(await sessionAlive(xp), true, 'a silent authorize still works after the POST');

    // Spanish through ui_locales (kept for the POST) or Accept-Language.
    const es = await jarFetch(xp.jar, endSessionUrl({ ui_locales: 'es' }));
    assert.equal(es.headers.get('content-language'), 'es');
    assert.match(es.text, /<html lang="es">/);
    assert.match(es.text, /cerrar la sesi\u00f3n/);
    assert.equal(readForm(es, 'es').fields.ui_locales, 'es');
    const es2 = await jarFetch(xp.jar, endSessionUrl(), { headers: { 'accept-language': 'es-ES,es;q=0.9' } });
    assert.equal(es2.headers.get('content-language'), 'es');
  });

  it('confirming through the form with its token ends the session and goes to post_logout_redirect_uri with state', async () => {
    const { xp } = await signedIn();
    const state = 'a b&c=ñ';
    const page = await jarFetch(xp.jar, endSessionUrl({ client_id: app.id,
      post_logout_redirect_uri: app.postLogoutRedirectUri, state }));
    const { fields } = readForm(page, 'with a post-logout URI');
    assert.equal(fields.client_id, app.id);
    assert.equal(fields.post_logout_redirect_uri, app.postLogoutRedirectUri);
    assert.equal(fields.state, state, 'state carried through the form');

    // "No, stay signed in": back to the application with state, session kept.
    const no = await postForm(xp.jar, { ...fields, logout: 'no' });
    assert.equal(no.status, 303, `logout=no: ${no.text.slice(0, 200)}`);
    assert.equal(new URL(no.location).searchParams.get('state'), state);
    assert.equal(await sessionAlive(xp), true, 'logout=no keeps the session');

    const yes = await postForm(xp.jar, { ...fields, logout: 'yes' });
    assert.equal(yes.status, 303, `confirmed: ${yes.text.slice(0, 200)}`);
    const u = new URL(yes.location);
    assert.equal(`${u.origin}${u.pathname}`, app.postLogoutRedirectUri);
    assert.equal(u.searchParams.get('state'), state, 'state back');
    assert.ok(!xp.jar.has(xp.sessionCookie), 'the session cookie is cleared');
    assert.equal(await sessionAlive(xp), false, 'the session has ended');

    // The old token no longer ends anything, and an unregistered URI is still refused.
    const bad = await postForm(xp.jar, { ...fields, post_logout_redirect_uri: 'http://evil.example/', logout: 'yes' });
    assertHtmlErrorPage(bad, 'an unregistered post_logout_redirect_uri in the form');
  });

  it('a forged POST (no token, a wrong one, another session\'s) is refused and the session survives', async () => {
    const victim = await signedIn();
    const other = await signedIn();
    const otherToken = readForm(await jarFetch(other.xp.jar, endSessionUrl()), 'other').fields.xsrf;
    const ownToken = readForm(await jarFetch(victim.xp.jar, endSessionUrl()), 'own').fields.xsrf;
    assert.notEqual(otherToken, ownToken, 'tokens differ per session');
    const wrong = `${ownToken.slice(0, 42)}${ownToken[42] === 'A' ? 'B' : 'A'}`;
    for (const [what, xsrf] of [['no token', undefined], ['empty', ''], ['wrong', wrong],
      ['another session\'s', otherToken], ['too long', `${ownToken}A`]]) {
      const form = { logout: 'yes', client_id: app.id, post_logout_redirect_uri: app.postLogoutRedirectUri, state: 's' };
      if (xsrf !== undefined) form.xsrf = xsrf;
      const res = await postForm(victim.xp.jar, form);
      assertHtmlErrorPage(res, `forged POST (${what})`);
      assert.ok(victim.xp.jar.has(victim.xp.sessionCookie), `${what}: cookie kept`);
      assert.equal(await sessionAlive(victim.xp), true, `${what}: the session survives`);
    }
    // The forged query string of a GET does not confirm either.
    const get = await jarFetch(victim.xp.jar, endSessionUrl({ logout: 'yes', xsrf: ownToken }));
    readForm(get, 'GET with logout=yes');
    assert.equal(await sessionAlive(victim.xp), true, 'a GET never ends the session without a hint');
    assert.equal(await sessionAlive(other.xp), true, 'the other session is untouched');
  });

  it('with a valid id_token_hint the session ends at once and goes to post_logout_redirect_uri with state', async () => {
    const { xp, code, verifier } = await signedIn();
    const t = await redeem(code, verifier);
    assert.equal(t.status, 200, t.text);
    const state = 'st-hint';
    const res = await jarFetch(xp.jar, endSessionUrl({ id_token_hint: t.json().id_token,
      post_logout_redirect_uri: app.postLogoutRedirectUri, state }));
    assert.equal(res.status, 303, `with a hint: ${res.text.slice(0, 200)}`);
    const u = new URL(res.location);
    assert.equal(`${u.origin}${u.pathname}`, app.postLogoutRedirectUri);
    assert.equal(u.searchParams.get('state'), state);
    assert.equal(await sessionAlive(xp), false, 'the session has ended');

    // A hint that does not verify is refused, session kept.
    const again = await signedIn();
    const tampered = `${t.json().id_token.slice(0, -4)}AAAA`;
    assertHtmlErrorPage(await jarFetch(again.xp.jar, endSessionUrl({ id_token_hint: tampered })), 'a bad hint');
    assert.equal(await sessionAlive(again.xp), true, 'a bad hint ends nothing');
  });

  it('a reused code revokes its access token at userinfo and its refresh token; other grants keep working', async () => {
    const { xp, code, verifier } = await signedIn();
    const first = await redeem(code, verifier);
    assert.equal(first.status, 200, first.text);
    const { access_token: at, refresh_token: rt } = first.json();
    assert.equal(typeof rt, 'string', 'offline_access gives a refresh token');
    const me = (token) => http(`${ctx.base}/oidc/me`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await me(at)).status, 200, 'the access token works before the reuse');

    // Another grant of the same user and client, which the reuse must not touch.
    const a2 = authParams();
    const cb = new URL(await xp.authorizeSilently(authUrl(ctx, a2.params)));
    const other = await redeem(cb.searchParams.get('code'), a2.verifier);
    assert.equal(other.status, 200, other.text);

    const second = await redeem(code, verifier);
    assert.equal(second.status, 400, second.text);
    assert.equal(second.json().error, 'invalid_grant');

    const revoked = await me(at);
    assert.equal(revoked.status, 401, `the first access token after the reuse: ${revoked.text}`);
    assert.match(revoked.headers.get('www-authenticate') || '', /error="invalid_token"/);
    const refreshed = await ctx.tokenRequest({ client: app, params: { grant_type: 'refresh_token', refresh_token: rt } });
    assert.equal(refreshed.status, 400, refreshed.text);
    assert.equal(refreshed.json().error, 'invalid_grant');

    assert.equal((await me(other.json().access_token)).status, 200, 'another grant\'s access token still works');
    const otherRefresh = await ctx.tokenRequest({ client: app,
      params: { grant_type: 'refresh_token', refresh_token: other.json().refresh_token } });
    assert.equal(otherRefresh.status, 200, `another grant's refresh token: ${otherRefresh.text}`);
    assert.equal((await me(otherRefresh.json().access_token)).status, 200);
  });

  it('no Strict-Transport-Security when LATCH_PUBLIC_URL is http', async () => {
    for (const url of [`${srv.url}/healthz`, `${ctx.base}/oidc/.well-known/openid-configuration`, `${srv.url}/nope`]) {
      const res = await http(url);
      assert.equal(res.headers.get('strict-transport-security'), null, `${url} (${res.status})`);
    }
  });
});

describe('HSTS with an https public URL', () => {
  let srv;
  before(async () => {
    srv = await startLatchd({ env: { LATCH_PUBLIC_URL: 'https://latch.example' } });
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  it('every response carries Strict-Transport-Security (200, 404, 401, discovery)', async () => {
    const statuses = new Set();
    for (const p of ['/healthz', '/oidc/.well-known/openid-configuration', '/oidc/jwks', '/nope', '/oidc/me',
      '/api/applications']) {
      const res = await http(`${srv.url}${p}`);
      statuses.add(res.status);
      assert.equal(res.headers.get('strict-transport-security'), HSTS, `${p} (${res.status})`);
    }
    assert.ok(statuses.has(200) && statuses.has(404) && statuses.has(401), `statuses seen: ${[...statuses]}`);
  });
});
