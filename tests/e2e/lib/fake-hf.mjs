// A fake Hugging Face for the end-to-end tests: the three OAuth endpoints the Hugging Face
// connector talks to (/oauth/authorize, /oauth/token, /oauth/userinfo) over real TLS, with a test
// CA and a leaf certificate for huggingface.co made at start-up by the openssl CLI in a temp dir.
// Latch keeps the real https://huggingface.co URLs; the tests point the name at this server:
//
//   latchd:   LATCH_OUTBOUND_CONNECT_TO=<fake.connectTo>  LATCH_OUTBOUND_CA_FILE=<fake.caFile>
//   chromium: fake.chromiumArgs, i.e.
//             --host-resolver-rules=MAP huggingface.co:443 127.0.0.1:<port>
//             --ignore-certificate-errors-spki-list=<base64 SHA-256 of the leaf's SPKI>
//   (Chromium honours the SPKI list only with a --user-data-dir, which playwright always passes;
//   it then trusts exactly this leaf key and nothing else.)
//   node:     https.request(..., {ca: fake.caCertPem, lookup → 127.0.0.1, port: fake.port})
//
// The fake behaves like huggingface.co where Latch can tell: the consent page redirects to the
// registered redirect_uri with code and state (Allow) or error=access_denied and state (Deny);
// /oauth/token wants client_secret_basic, a fresh code and the same redirect_uri, and answers
// {access_token, token_type: "Bearer", scope, expires_in}; /oauth/userinfo wants that bearer
// token and answers the profile (email and email_verified only when the scope has `email`).
// Switches make each upstream failure happen (see `failures`).
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import https from 'node:https';

import { makeTestCertificates, readBody, safeEqual, spkiHash } from './fake-tls.mjs';

export { spkiHash };

/** How long the fake's `userinfoSlow` failure waits: beyond the connector's 5 s timeout. */
export const SLOW_USERINFO_MS = 7000;
const CODE_TTL_MS = 60_000;

/** The default test users (Hugging Face's userinfo shape). */
export const DEFAULT_USERS = [
  {
    sub: '6650b7a5e1f4c4d2a8b3c901',
    name: 'Ada Lovelace',
    preferred_username: 'ada',
    profile: 'https://huggingface.co/ada',
    picture: 'https://cdn-avatars.huggingface.co/v1/production/uploads/ada.png',
    website: 'https://ada.example',
    email: 'ada@example.com',
    email_verified: true,
    isPro: false,
  },
];

const NO_FAILURES = Object.freeze({
  token400: false, // /oauth/token answers 400 {"error":"invalid_grant"}
  userinfo401: false, // /oauth/userinfo answers 401 {"error":"invalid_token"}
  userinfoMalformed: false, // /oauth/userinfo answers 200 with a body that is not JSON
  userinfoSlow: false, // /oauth/userinfo answers only after SLOW_USERINFO_MS
  tokenHang: false, // /oauth/token never answers: the request is held until the client gives up
});

const html = (s) => String(s).replace(/[&<>"']/g, (c) =>
  ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/**
 * Starts the fake on 127.0.0.1 (a free port). Options:
 *   users         profiles in Hugging Face's userinfo shape (default DEFAULT_USERS); the consent
 *                 page signs in as `fake.user` (the first one unless changed), or as the one
 *                 picked in its <select id="user">
 *   clientId, clientSecret   the registered OAuth app (default 'hf-test-client' / a random secret)
 * Resolves {
 *   port, origin ('https://huggingface.co' — what the URLs say), caFile, caCertPem, spki,
 *   connectTo ('huggingface.co:443:127.0.0.1:<port>', for LATCH_OUTBOUND_CONNECT_TO),
 *   hostResolverRules ('MAP huggingface.co:443 127.0.0.1:<port>'), chromiumArgs,
 *   clientId, clientSecret, users, user (get/set: who "is signed in" on huggingface.co),
 *   failures (get/set: {token400, userinfo401, userinfoMalformed, userinfoSlow, tokenHang}; assigning an
 *             object turns on what it sets true and turns everything else off),
 *   requests ([{method, path, query, authorization, body}] of every request, newest last),
 *   issued ({codes, tokens} counts), reset() (failures off, log cleared), stop()
 * }.
 */
export async function startFakeHf({
  users = DEFAULT_USERS,
  clientId = 'hf-test-client',
  clientSecret = randomBytes(18).toString('base64url'),
} = {}) {
  if (!Array.isArray(users) || users.length === 0 || users.some((u) => !u || !u.sub)) {
    throw new Error('startFakeHf: users must be a non-empty array of profiles with a sub');
  }
  const certs = await makeTestCertificates({ host: 'huggingface.co', label: 'fake Hugging Face' });
  const { dir } = certs;

  const codes = new Map(); // code -> {sub, redirectUri, scope, expires}
  const tokens = new Map(); // access token -> {sub, scope}
  const requests = [];
  const timers = new Set();
  const held = new Set(); // responses tokenHang never answers
  const issued = { codes: 0, tokens: 0 };
  let failures = { ...NO_FAILURES };
  let currentSub = users[0].sub;

  const findUser = (sub) => users.find((u) => u.sub === sub);

  const send = (res, status, body, headers = {}) => {
    const isJson = typeof body !== 'string';
    res.writeHead(status, {
      'content-type': isJson ? 'application/json' : 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      ...headers,
    });
    res.end(isJson ? JSON.stringify(body) : body);
  };

  function consentPage(q) {
    const hidden = ['client_id', 'redirect_uri', 'scope', 'state']
      .map((k) => `<input type="hidden" name="${k}" value="${html(q.get(k) ?? '')}">`).join('');
    const options = users.map((u) => `<option value="${html(u.sub)}"${
      u.sub === currentSub ? ' selected' : ''}>${html(u.name ?? u.sub)}</option>`).join('');
    return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Authorize application - Hugging Face (fake)</title></head><body>
<h1>Authorize <span id="client">${html(q.get('client_id'))}</span></h1>
<p>Scopes: <span id="scope">${html(q.get('scope') ?? '')}</span></p>
<form method="post" action="/oauth/authorize">${hidden}
<label>Signed in as <select id="user" name="sub">${options}</select></label>
<button id="allow" type="submit" name="decision" value="allow">Allow</button>
<button id="deny" type="submit" name="decision" value="deny">Deny</button>
</form></body></html>`;
  }

  // GET: checks the request as huggingface.co would and shows the consent page.
  function authorize(req, res, q) {
    if (q.get('response_type') !== 'code') {
      return send(res, 400, '<!doctype html><p id="error">unsupported response_type</p>');
    }
    if (q.get('client_id') !== clientId) {
      return send(res, 400, '<!doctype html><p id="error">unknown client_id</p>');
    }
    const redirectUri = q.get('redirect_uri');
    if (!redirectUri || !/^https?:\/\//.test(redirectUri)) {
      return send(res, 400, '<!doctype html><p id="error">invalid redirect_uri</p>');
    }
    return send(res, 200, consentPage(q));
  }

  // POST (the consent form): back to redirect_uri with a code, or with error=access_denied.
  function decide(res, form) {
    if (form.get('client_id') !== clientId) {
      return send(res, 400, '<!doctype html><p id="error">unknown client_id</p>');
    }
    let target;
    try {
      target = new URL(form.get('redirect_uri'));
    } catch {
      return send(res, 400, '<!doctype html><p id="error">invalid redirect_uri</p>');
    }
    const state = form.get('state');
    if (form.get('decision') === 'allow') {
      const sub = form.get('sub') || currentSub;
      if (!findUser(sub)) return send(res, 400, '<!doctype html><p id="error">unknown user</p>');
      const code = randomBytes(24).toString('base64url');
      codes.set(code, {
        sub,
        redirectUri: form.get('redirect_uri'),
        scope: form.get('scope') ?? '',
        expires: Date.now() + CODE_TTL_MS,
      });
      issued.codes++;
      target.searchParams.set('code', code);
    } else {
      target.searchParams.set('error', 'access_denied');
      target.searchParams.set('error_description', 'The user denied the request');
    }
    if (state !== null) target.searchParams.set('state', state);
    return send(res, 302, '', { location: target.href });
  }

  function token(req, res, form) {
    const auth = req.headers.authorization ?? '';
    const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(auth);
    const expected = Buffer.from(`${clientId}:${clientSecret}`).toString('base64');
    if (!m || !safeEqual(m[1], expected)) {
      return send(res, 401, { error: 'invalid_client' }, { 'www-authenticate': 'Basic' });
    }
    if (failures.token400) return send(res, 400, { error: 'invalid_grant' });
    if (failures.tokenHang) {
      held.add(res);
      res.on('close', () => held.delete(res));
      return undefined;
    }
    if (form.get('grant_type') !== 'authorization_code') {
      return send(res, 400, { error: 'unsupported_grant_type' });
    }
    const code = form.get('code');
    const grant = code ? codes.get(code) : undefined;
    if (code) codes.delete(code); // single use, whatever happens next
    if (!grant || grant.expires < Date.now() || grant.redirectUri !== form.get('redirect_uri')) {
      return send(res, 400, { error: 'invalid_grant' });
    }
    const accessToken = `hf_oauth_${randomBytes(24).toString('base64url')}`;
    tokens.set(accessToken, { sub: grant.sub, scope: grant.scope });
    issued.tokens++;
    return send(res, 200, {
      access_token: accessToken,
      token_type: 'Bearer',
      scope: grant.scope,
      expires_in: 28800,
    });
  }

  function userinfo(req, res) {
    const m = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '');
    const grant = m ? tokens.get(m[1]) : undefined;
    const answer = () => {
      if (failures.userinfo401 || !grant) {
        return send(res, 401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer' });
      }
      if (failures.userinfoMalformed) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('{"sub": "oops", this is not JSON');
      }
      const { email, email_verified: verified, ...profile } = findUser(grant.sub);
      const scopes = grant.scope.split(/\s+/);
      return send(res, 200, scopes.includes('email')
        ? { ...profile, email, email_verified: verified }
        : profile);
    };
    if (failures.userinfoSlow) {
      const t = setTimeout(() => {
        timers.delete(t);
        if (!res.destroyed) answer();
      }, SLOW_USERINFO_MS);
      timers.add(t);
      return undefined;
    }
    return answer();
  }

  const server = https.createServer({ key: certs.leafKey, cert: certs.leafPem }, async (req, res) => {
    const url = new URL(req.url, 'https://huggingface.co');
    let body = '';
    try {
      if (req.method === 'POST') body = await readBody(req);
    } catch {
      return send(res, 413, { error: 'invalid_request' });
    }
    requests.push({
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorization: req.headers.authorization ?? null,
      host: req.headers.host ?? null,
      body,
    });
    const form = new URLSearchParams(body);
    if (url.pathname === '/oauth/authorize' && req.method === 'GET') {
      return authorize(req, res, url.searchParams);
    }
    if (url.pathname === '/oauth/authorize' && req.method === 'POST') return decide(res, form);
    if (url.pathname === '/oauth/token' && req.method === 'POST') return token(req, res, form);
    if (url.pathname === '/oauth/userinfo' && req.method === 'GET') return userinfo(req, res);
    return send(res, 404, { error: 'not_found' });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  server.unref();
  const { port } = server.address();
  const spki = spkiHash(certs.leafPem);
  const hostResolverRules = `MAP huggingface.co:443 127.0.0.1:${port}`;

  return {
    port,
    origin: 'https://huggingface.co',
    caFile: certs.caFile,
    caCertPem: certs.caCertPem,
    spki,
    connectTo: `huggingface.co:443:127.0.0.1:${port}`,
    hostResolverRules,
    chromiumArgs: [
      `--host-resolver-rules=${hostResolverRules}`,
      `--ignore-certificate-errors-spki-list=${spki}`,
    ],
    clientId,
    clientSecret,
    users,
    get user() {
      return findUser(currentSub);
    },
    set user(u) {
      const sub = typeof u === 'string' ? u : u?.sub;
      if (!findUser(sub)) throw new Error(`fake-hf: no user with sub ${sub}`);
      currentSub = sub;
    },
    get failures() {
      return { ...failures };
    },
    set failures(f) {
      const next = { ...NO_FAILURES };
      for (const [k, v] of Object.entries(f ?? {})) {
        if (!(k in NO_FAILURES)) throw new Error(`fake-hf: unknown failure ${k}`);
        next[k] = Boolean(v);
      }
      failures = next;
    },
    requests,
    issued,
    reset() {
      failures = { ...NO_FAILURES };
      requests.length = 0;
      currentSub = users[0].sub;
    },
    async stop() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const res of held) res.destroy();
      held.clear();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
