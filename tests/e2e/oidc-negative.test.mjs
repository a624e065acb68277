// End-to-end negative cases of the authorization-code flow (issue 4), with oauth4webapi v3 for
// the protocol requests and plain fetch (with a cookie jar) for the rest; sign-ins go through the
// Experience API the way the hosted page does (no browser here):
//  - /oidc/auth with an unknown client_id or an unregistered redirect_uri (not exactly equal to a
//    registered one) → 400 HTML error page and no Location, for GET and POST;
//  - errors after that go back to the redirect URI with error, state and iss:
//    unsupported_response_type, login_required (prompt=none without a session), invalid_request
//    (PKCE missing for an SPA, method plain);
//  - the token endpoint: PKCE mismatch or missing verifier, code reuse (which also revokes the
//    refresh token issued from the first use), an expired code, another client's code, another
//    redirect_uri, another client's refresh token → invalid_grant;
//  - the Experience API: CSRF token required; the sentinel locks an identifier after
//    maxAttempts wrong passwords (even the right password is refused) and answers the same for
//    an identifier that does not exist;
//  - end_session with an unregistered post_logout_redirect_uri, introspection and revocation
//    without client authentication.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import { adminQuery, http, startLatchd } from './lib/harness.mjs';
import {
  CSRF_HEADER,
  CookieJar,
  ExperienceClient,
  REFERENCE_SCOPE,
  TenantCtx,
  assertAuthErrorRedirect,
  assertHtmlErrorPage,
  assertOAuthError,
  authUrl,
  basicAuth,
  isRedirect,
  jarFetch,
  pkcePair,
  sleep,
  uniqPassword,
  uniqUsername,
} from './lib/oidc.mjs';

const RP = 'http://localhost:3000';
const insecure = { [oauth.allowInsecureRequests]: true };

/** Matches an oauth4webapi ResponseBodyError with the given error code. */
const bodyError = (code, status = 400) => (err) => {
  assert.ok(err instanceof oauth.ResponseBodyError, `want a ResponseBodyError, got ${err?.stack ?? err}`);
  assert.equal(err.error, code, `error (${err.error_description ?? ''})`);
  assert.equal(err.status, status, 'status');
  return true;
};

/** Discovery through oauth4webapi; resolves the authorization server metadata. */
async function discover(ctx) {
  const issuer = new URL(ctx.issuer);
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
}

describe('authorization-code flow: negative cases', () => {
  let srv;
  let ctx;
  let as;
  let user;
  let appA; // Traditional, redirect URIs: <RP>/api/auth/callback/logto and <RP>/other
  let appB; // Traditional, also registers appA's redirect URI
  let spa;
  let xp; // an Experience API client with a live session (after the first sign-in)

  before(async () => {
    srv = await startLatchd();
    ctx = await TenantCtx.create(srv, 'neg');
    as = await discover(ctx);
    user = await ctx.createUser({ username: uniqUsername('erin'), name: 'Erin',
      primaryEmail: `erin.${Date.now()}@example.com` });
    appA = await ctx.createWebApp(RP, { extraRedirectUris: [`${RP}/other`] });
    appB = await ctx.createWebApp(RP, { callbackPath: '/b/callback', extraRedirectUris: [appA.redirectUri] });
    spa = await ctx.createWebApp(RP, { type: 'SPA', callbackPath: '/spa/callback' });
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  /** Authorization parameters for app (PKCE S256 unless pkce is false). */
  async function authParams(app, { pkce = true, scope = REFERENCE_SCOPE, redirectUri = app.redirectUri,
    ...extra } = {}) {
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const verifier = oauth.generateRandomCodeVerifier();
    const params = { client_id: app.id, redirect_uri: redirectUri, response_type: 'code', scope, state, nonce };
    if (pkce) {
      params.code_challenge = await oauth.calculatePKCECodeChallenge(verifier);
      params.code_challenge_method = 'S256';
    }
    return { params: { ...params, ...extra }, state, nonce, verifier: pkce ? verifier : undefined, redirectUri };
  }

  /**
   * A code for app: signs in through the Experience API the first time, then relies on the
   * session (SSO). Resolves {callback (URL), state, nonce, verifier, redirectUri}.
   */
  async function codeFor(app, opts) {
    const a = await authParams(app, opts);
    const url = authUrl(ctx, a.params);
    let callback;
    if (xp && xp.jar.has(xp.sessionCookie)) {
      callback = await xp.authorizeSilently(url);
    } else {
      xp = new ExperienceClient(ctx);
      callback = await xp.signIn(url, user.username, user.password);
      assert.ok(xp.jar.has(xp.sessionCookie), `session cookie ${xp.sessionCookie} after the sign-in`);
    }
    const u = new URL(callback);
    assert.equal(`${u.origin}${u.pathname}`, a.redirectUri, `back at the redirect URI: ${callback}`);
    assert.equal(u.searchParams.get('error'), null, `no error: ${callback}`);
    assert.ok(u.searchParams.get('code'), `a code: ${callback}`);
    return { ...a, callback: u };
  }

  /** The raw token response of exchanging a code (oauth4webapi request, no processing). */
  function exchangeRequest(flow, { as: client = appA, redirectUri = flow.redirectUri, verifier = flow.verifier } = {}) {
    const params = oauth.validateAuthResponse(as, { client_id: client.id }, flow.callback, flow.state);
    const auth = client.secret ? oauth.ClientSecretBasic(client.secret) : oauth.None();
    return oauth.authorizationCodeGrantRequest(as, { client_id: client.id }, auth, params, redirectUri,
      verifier ?? oauth.nopkce, insecure);
  }

  /** Exchanges and processes (ID token claims checked, nonce included). */
  async function exchange(flow, opts = {}) {
    const client = opts.as ?? appA;
    const res = await exchangeRequest(flow, opts);
    return oauth.processAuthorizationCodeResponse(as, { client_id: client.id, id_token_signed_response_alg: 'ES384' },
      res, { expectedNonce: flow.nonce, requireIdToken: true });
  }

  function refresh(client, refreshToken) {
    const auth = client.secret ? oauth.ClientSecretBasic(client.secret) : oauth.None();
    return oauth.refreshTokenGrantRequest(as, { client_id: client.id }, auth, refreshToken, insecure)
      .then((res) => oauth.processRefreshTokenResponse(as,
        { client_id: client.id, id_token_signed_response_alg: 'ES384' }, res));
  }

  describe('/oidc/auth checks client_id and redirect_uri first: an HTML page, never a redirect', () => {
    it('unregistered or inexact redirect_uri → 400 HTML without Location (GET)', async () => {
      const variants = [
        'http://evil.example/api/auth/callback/logto',
        `${appA.redirectUri}/`,
        `${appA.redirectUri}x`,
        `${appA.redirectUri}?next=1`,
        `${appA.redirectUri}#frag`,
        appA.redirectUri.toUpperCase(),
        appA.redirectUri.replace('localhost', '127.0.0.1'),
        appA.redirectUri.replace(':3000', ':3001'),
        appA.redirectUri.replace('http:', 'https:'),
        appB.redirectUri.replace('/b/callback', '/b/callbac'),
        spa.redirectUri, // registered, but for another app
        '',
      ];
      for (const redirectUri of variants) {
        const { params } = await authParams(appA, { redirectUri });
        const res = await jarFetch(null, authUrl(ctx, params));
        assertHtmlErrorPage(res, `redirect_uri ${JSON.stringify(redirectUri)}`);
        assert.ok(!res.text.includes('evil.example/api/auth/callback/logto?'), 'no link to the bad URI with a code');
      }
    });

    it('unknown or missing client_id → 400 HTML without Location', async () => {
      for (const clientId of ['nope-' + Date.now(), '', undefined]) {
        const { params } = await authParams(appA);
        if (clientId === undefined) delete params.client_id;
        else params.client_id = clientId;
        const res = await jarFetch(null, authUrl(ctx, params));
        assertHtmlErrorPage(res, `client_id ${JSON.stringify(clientId)}`);
      }
      // An application of another tenant is unknown here.
      const other = await TenantCtx.create(srv, 'negx');
      const foreign = await other.createWebApp(RP);
      const { params } = await authParams(foreign);
      assertHtmlErrorPage(await jarFetch(null, authUrl(ctx, params)), 'client of another tenant');
    });

    it('POST /oidc/auth: the same checks; a valid POST goes to the sign-in page', async () => {
      const post = async (params) => jarFetch(new CookieJar(), `${ctx.base}/oidc/auth`, { method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params).toString() });
      const bad = await authParams(appA, { redirectUri: 'http://evil.example/cb' });
      assertHtmlErrorPage(await post(bad.params), 'POST with an unregistered redirect_uri');
      const unknown = await authParams(appA);
      unknown.params.client_id = 'nope';
      assertHtmlErrorPage(await post(unknown.params), 'POST with an unknown client_id');
      const good = await authParams(appA);
      const res = await post(good.params);
      assert.ok(isRedirect(res.status), `valid POST: ${res.status} ${res.text.slice(0, 200)}`);
      assert.equal(new URL(res.location).pathname, new URL(`${ctx.base}/sign-in`).pathname);
    });
  });

  describe('/oidc/auth errors after that go back with error, state and iss', () => {
    const expectAuthError = async (app, opts, error, what, { allowFragment = false } = {}) => {
      const a = await authParams(app, opts);
      const res = await jarFetch(new CookieJar(), authUrl(ctx, a.params));
      assert.ok(isRedirect(res.status), `${what}: redirect, got ${res.status} ${res.text.slice(0, 200)}`);
      let location = res.location;
      const u = new URL(location);
      if (allowFragment && !u.searchParams.has('error') && u.hash.length > 1) {
        location = `${u.origin}${u.pathname}?${u.hash.slice(1)}`; // the implicit flow's error mode
      }
      assertAuthErrorRedirect(location,
        { redirectUri: a.redirectUri, error, state: a.state, issuer: ctx.issuer }, what);
      // oauth4webapi agrees: iss and state check out, and it is an error response.
      assert.throws(() => oauth.validateAuthResponse(as, { client_id: app.id }, new URL(location), a.state),
        (err) => err instanceof oauth.AuthorizationResponseError && err.error === error);
      return res;
    };

    it('response_type=token → unsupported_response_type', async () => {
      await expectAuthError(appA, { response_type: 'token' }, 'unsupported_response_type', 'response_type=token',
        { allowFragment: true });
      await expectAuthError(appA, { response_type: 'code id_token' }, 'unsupported_response_type', 'hybrid',
        { allowFragment: true });
    });

    it('prompt=none without a session → login_required', async () => {
      await expectAuthError(appA, { prompt: 'none' }, 'login_required', 'prompt=none');
      await expectAuthError(spa, { prompt: 'none' }, 'login_required', 'prompt=none (SPA)');
    });

    it('PKCE: required for an SPA, S256 only (plain → invalid_request)', async () => {
      await expectAuthError(spa, { pkce: false }, 'invalid_request', 'SPA without code_challenge');
      for (const app of [spa, appA]) {
        const v = oauth.generateRandomCodeVerifier();
        await expectAuthError(app, { pkce: false, code_challenge: v, code_challenge_method: 'plain' },
          'invalid_request', `${app === spa ? 'SPA' : 'Traditional'} with method plain`);
      }
      // A Traditional app may go without PKCE: on to the sign-in page.
      const a = await authParams(appA, { pkce: false });
      const res = await jarFetch(new CookieJar(), authUrl(ctx, a.params));
      assert.ok(isRedirect(res.status));
      assert.equal(new URL(res.location).pathname, new URL(`${ctx.base}/sign-in`).pathname, 'sign-in page');
    });
  });

  describe('the token endpoint', () => {
    it('a good exchange works (baseline of the cases below)', async () => {
      const flow = await codeFor(appA);
      const t = await exchange(flow);
      assert.equal(typeof t.access_token, 'string');
      assert.equal(typeof t.refresh_token, 'string');
      assert.equal(oauth.getValidatedIdTokenClaims(t).sub, user.id);
    });

    it('PKCE: a wrong verifier or none at all → invalid_grant', async () => {
      const f1 = await codeFor(appA);
      await assert.rejects(exchange(f1, { verifier: oauth.generateRandomCodeVerifier() }), bodyError('invalid_grant'),
        'wrong verifier');
      const f2 = await codeFor(appA);
      const res = await oauth.authorizationCodeGrantRequest(as, { client_id: appA.id },
        oauth.ClientSecretBasic(appA.secret), oauth.validateAuthResponse(as, { client_id: appA.id }, f2.callback, f2.state),
        appA.redirectUri, oauth.nopkce, insecure);
      await assert.rejects(oauth.processAuthorizationCodeResponse(as, { client_id: appA.id }, res),
        bodyError('invalid_grant'), 'no verifier');
      // An SPA code with a wrong verifier.
      const f3 = await codeFor(spa);
      await assert.rejects(exchange(f3, { as: spa, verifier: pkcePair().verifier }), bodyError('invalid_grant'),
        'SPA, wrong verifier');
    });

    it('code reuse → invalid_grant, and the refresh token issued from the first use stops working', async () => {
      const flow = await codeFor(appA);
      const first = await exchange(flow);
      assert.equal(typeof first.refresh_token, 'string');
      await assert.rejects(exchange(flow), bodyError('invalid_grant'), 'second use of the code');
      await assert.rejects(refresh(appA, first.refresh_token), bodyError('invalid_grant'),
        'the refresh token of the first use is revoked');
    });

    it('an expired code (60 s) → invalid_grant', async () => {
      const app = await ctx.createWebApp(RP, { callbackPath: '/expiry/callback' });
      const flow = await codeFor(app);
      const { rowCount } = await adminQuery(
        `UPDATE authorization_codes SET expires_at = now() - interval '1 second'
          WHERE tenant_id = $1 AND client_id = $2 AND consumed_at IS NULL`, [ctx.id, app.id]);
      assert.equal(rowCount, 1, 'the code of this app is in authorization_codes');
      await assert.rejects(exchange(flow, { as: app }), bodyError('invalid_grant'), 'expired code');

      // And a fresh code of that app lives at most 60 s.
      await codeFor(app);
      const { rows } = await adminQuery(
        `SELECT extract(epoch FROM expires_at - created_at)::float8 AS ttl FROM authorization_codes
          WHERE tenant_id = $1 AND client_id = $2 AND consumed_at IS NULL AND expires_at > now()`, [ctx.id, app.id]);
      assert.equal(rows.length, 1);
      assert.ok(rows[0].ttl > 0 && rows[0].ttl <= 60.5, `code TTL ${rows[0].ttl} s`);
    });

    it('another client\'s code → invalid_grant (even with a redirect URI both registered)', async () => {
      const flow = await codeFor(appA);
      await assert.rejects(exchange(flow, { as: appB }), bodyError('invalid_grant'), 'app B redeems app A\'s code');
      // A public client cannot redeem it either.
      await assert.rejects(exchange(flow, { as: spa }), (err) => err instanceof oauth.ResponseBodyError &&
        ['invalid_grant', 'invalid_client'].includes(err.error), 'the SPA redeems app A\'s code');
    });

    it('a redirect_uri other than the one of the authorization request → invalid_grant', async () => {
      const flow = await codeFor(appA);
      await assert.rejects(exchange(flow, { redirectUri: `${RP}/other` }), bodyError('invalid_grant'),
        'another registered redirect URI');
    });

    it('wrong client secret → invalid_client (401)', async () => {
      const flow = await codeFor(appA);
      const res = await exchangeRequest(flow, { as: { id: appA.id, secret: `${appA.secret}x` } });
      assertOAuthError({ status: res.status, headers: res.headers, text: await res.text() }, 401, 'invalid_client',
        'wrong client secret');
      // The code was not spent by that: the right client still redeems it.
      const t = await exchange(flow);
      assert.equal(typeof t.access_token, 'string');
    });

    it('a refresh token of another client → invalid_grant', async () => {
      const flow = await codeFor(appA);
      const t = await exchange(flow);
      await assert.rejects(refresh(appB, t.refresh_token), bodyError('invalid_grant'),
        'app B uses app A\'s refresh token');
      const spaFlow = await codeFor(spa);
      const ts = await exchange(spaFlow, { as: spa });
      await assert.rejects(refresh(appA, ts.refresh_token), bodyError('invalid_grant'),
        'app A uses the SPA\'s refresh token');
    });

    it('refresh_token absent without offline_access; garbage refresh token → invalid_grant', async () => {
      const flow = await codeFor(appA, { scope: 'openid profile' });
      const t = await exchange(flow);
      assert.equal(t.refresh_token, undefined, 'no offline_access, no refresh token');
      await assert.rejects(refresh(appA, 'not-a-refresh-token'), bodyError('invalid_grant'));
    });

    it('introspection and revocation need client authentication', async () => {
      for (const p of ['/oidc/token/introspection', '/oidc/token/revocation']) {
        const res = await http(`${ctx.base}${p}`, { method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=abc' });
        assertOAuthError(res, 401, 'invalid_client', `${p} without client auth`);
        const wrong = await http(`${ctx.base}${p}`, { method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(appA.id, 'wrong') },
          body: 'token=abc' });
        assertOAuthError(wrong, 401, 'invalid_client', `${p} with a wrong secret`);
      }
    });

    it('end_session with an unregistered post_logout_redirect_uri → 400 HTML, no redirect', async () => {
      const flow = await codeFor(appA);
      const t = await exchange(flow);
      for (const uri of ['http://evil.example/', `${RP}/x`, `${appA.postLogoutRedirectUri}?a=1`]) {
        const u = new URL(`${ctx.base}/oidc/session/end`);
        u.searchParams.set('id_token_hint', t.id_token);
        u.searchParams.set('post_logout_redirect_uri', uri);
        u.searchParams.set('state', 'st');
        const res = await jarFetch(xp.jar, u.href);
        assertHtmlErrorPage(res, `post_logout_redirect_uri ${uri}`);
      }
      // The session survived those: SSO still gives a code.
      await codeFor(appA);
    });
  });

  describe('the Experience API', () => {
    const authParamsFor = (app) => ({ client_id: app.id, redirect_uri: app.redirectUri, response_type: 'code',
      scope: 'openid', state: 'st', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' });

    it('needs the interaction cookie and the CSRF token', async () => {
      const x = new ExperienceClient(ctx);
      await x.start(authUrl(ctx, authParamsFor(appA)));
      await x.begin('SignIn');
      const noCsrf = await x.call('POST', '/verification/password',
        { identifier: { type: 'username', value: user.username }, password: user.password }, { csrf: false });
      assert.ok(noCsrf.status >= 400 && noCsrf.status < 500, `without ${CSRF_HEADER}: ${noCsrf.status} ${noCsrf.text}`);
      assert.ok(!noCsrf.text.includes('verificationId'));
      const wrong = await x.call('POST', '/verification/password',
        { identifier: { type: 'username', value: user.username }, password: user.password },
        { csrf: false, headers: { [CSRF_HEADER]: `${x.csrfToken}x` } });
      assert.ok(wrong.status >= 400 && wrong.status < 500, `wrong CSRF token: ${wrong.status}`);

      // Without the interaction cookie there is nothing to act on.
      const bare = await jarFetch(new CookieJar(), `${ctx.base}/api/experience/verification/password`, { method: 'POST',
        headers: { 'content-type': 'application/json', [CSRF_HEADER]: x.csrfToken },
        body: JSON.stringify({ identifier: { type: 'username', value: user.username }, password: user.password }) });
      assert.ok(bare.status >= 400 && bare.status < 500, `no interaction: ${bare.status}`);
      const inter = await jarFetch(new CookieJar(), `${ctx.base}/api/experience/interaction`);
      assert.ok(inter.status >= 400 && inter.status < 500, `GET interaction without cookie: ${inter.status}`);

      // With both, the same call works.
      const ok = await x.verifyPassword(user.username, user.password);
      assert.equal(ok.status, 200, ok.text);
      assert.equal(typeof ok.json().verificationId, 'string');
    });

    it('sentinel: after maxAttempts wrong passwords the identifier is locked (the right password too), '
      + 'and an unknown identifier gets the same answers', async () => {
      const lock = await TenantCtx.create(srv, 'lock');
      const app = await lock.createWebApp(RP);
      const victim = await lock.createUser({ username: uniqUsername('frank') });
      const bystander = await lock.createUser({ username: uniqUsername('grace') });
      const ghost = uniqUsername('ghost');
      const exp = await lock.patchSignInExp({ sentinelPolicy: { maxAttempts: 3, lockoutDuration: 60 } });
      assert.equal(exp.sentinelPolicy?.maxAttempts, 3, `sentinelPolicy in ${JSON.stringify(exp)}`);
      await sleep(1200); // the sign-in experience cache of every node follows within a second

      const answer = (res, id) => {
        const out = { status: res.status };
        try {
          const body = JSON.parse(res.text);
          out.code = body.code;
          out.message = typeof body.message === 'string' ? body.message.split(id).join('<id>') : body.message;
          out.verificationId = body.verificationId;
        } catch {
          out.text = res.text.split(id).join('<id>');
        }
        return out;
      };
      const interaction = async () => {
        const x = new ExperienceClient(lock);
        await x.start(authUrl(lock, authParamsFor(app)));
        await x.begin('SignIn');
        return x;
      };

      const known = await interaction();
      const unknown = await interaction();
      for (let i = 1; i <= 3; i++) {
        const a = answer(await known.verifyPassword(victim.username, `${victim.password}-wrong`), victim.username);
        const b = answer(await unknown.verifyPassword(ghost, `${victim.password}-wrong`), ghost);
        assert.ok(a.status >= 400 && a.status < 500, `attempt ${i}: refused (${JSON.stringify(a)})`);
        assert.equal(a.verificationId, undefined);
        assert.equal(typeof a.code, 'string', `attempt ${i}: a JSON error {code, message}`);
        assert.deepEqual(b, a, `attempt ${i}: the unknown identifier gets the same answer`);
      }
      // Attempts 4 and 5, in a new interaction, with the right password: still refused.
      const known2 = await interaction();
      const unknown2 = await interaction();
      let locked;
      for (let i = 4; i <= 5; i++) {
        const a = answer(await known2.verifyPassword(victim.username, victim.password), victim.username);
        const b = answer(await unknown2.verifyPassword(ghost, victim.password), ghost);
        assert.ok(a.status >= 400 && a.status < 500,
          `attempt ${i} with the right password: refused (${JSON.stringify(a)})`);
        assert.equal(a.verificationId, undefined, `attempt ${i}: no verification`);
        assert.deepEqual(b, a, `attempt ${i}: the unknown identifier gets the same answer`);
        locked = a;
      }
      // The whole sign-in cannot complete either.
      const submit = await known2.call('POST', '/submit');
      assert.ok(submit.status >= 400, `submit without a verification: ${submit.status}`);

      // Another identifier of the tenant is not locked.
      const other = await interaction();
      const ok = await other.verifyPassword(bystander.username, bystander.password);
      assert.equal(ok.status, 200, `bystander: ${ok.text}`);

      // When the lockout is over, the right password works again.
      const { rowCount } = await adminQuery(
        `UPDATE sentinel_activities SET locked_until = now() - interval '1 second', failed_attempts = 0,
                window_started_at = now() - interval '1 day'
          WHERE tenant_id = $1`, [lock.id]);
      assert.ok(rowCount >= 1, 'sentinel rows exist for the locked identifiers');
      const later = await interaction();
      const res = await later.verifyPassword(victim.username, victim.password);
      assert.equal(res.status, 200, `after the lockout (was ${JSON.stringify(locked)}): ${res.text}`);
    });
  });
});
