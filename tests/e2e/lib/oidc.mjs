// Helpers of the OIDC and Management API end-to-end tests (issue 3): tenant endpoints and
// issuers, token requests by hand, Management API calls, applications made with latchctl, and
// verification of access tokens with jose against the published JWKS. Issue 4 adds users, the
// sign-in experience, web applications, a cookie jar and a client of the Experience API that
// signs in without a browser (what the hosted page's script does).
//
// URLs: a node is contacted at server.url; what it calls itself (issuer, the Management API
// indicator) derives from its public URL (server.publicUrl, LATCH_PUBLIC_URL). Both are the same
// for a single node; nodes behind one public URL share it but keep their own server.url.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as jose from 'jose';
import { createTenant, ctlEnv, http, latchctlOk, randomId, waitFor } from './harness.mjs';

export { jose };

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A unique name for this run: prefix-<random>. */
export const uniq = (prefix) => `${prefix}-${randomId(8)}`;

/** '' for the tenant `default`, '/t/<id>' for the others. */
export const tenantPath = (tenant) => (tenant === 'default' ? '' : `/t/${tenant}`);
/** The tenant endpoint as the server names it (from its public URL). */
export const tenantEndpoint = (server, tenant) => `${server.publicUrl}${tenantPath(tenant)}`;
/** Issuer = <tenant endpoint>/oidc. */
export const issuerOf = (server, tenant) => `${tenantEndpoint(server, tenant)}/oidc`;
/** Indicator of the tenant's Management API resource = <tenant endpoint>/api. */
export const managementIndicator = (server, tenant) => `${tenantEndpoint(server, tenant)}/api`;
/** Where to reach the tenant on this very node. */
export const nodeBase = (server, tenant) => `${server.url}${tenantPath(tenant)}`;

/** Key types of the rotate route (signingKeyAlgorithm) with their JWS alg and JWK shape. */
export const KEY_TYPES = [
  { signingKeyAlgorithm: 'EC', alg: 'ES384', kty: 'EC', crv: 'P-384' },
  { signingKeyAlgorithm: 'EC-P256', alg: 'ES256', kty: 'EC', crv: 'P-256' },
  { signingKeyAlgorithm: 'RSA', alg: 'RS256', kty: 'RSA' },
  { signingKeyAlgorithm: 'Ed25519', alg: 'EdDSA', kty: 'OKP', crv: 'Ed25519' },
];

/** Members of a JWK that only a private key has. */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** HTTP Basic credentials as RFC 6749 §2.3.1 wants them (form-urlencoded, then base64). */
export function basicAuth(id, secret, { encode = false } = {}) {
  const f = (s) => (encode ? encodeURIComponent(s).replace(/[-_.!~*'()]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+') : s);
  return `Basic ${Buffer.from(`${f(id)}:${f(secret)}`).toString('base64')}`;
}

/**
 * POST <tenant>/oidc/token by hand.
 *  client: {id, secret}; auth: 'basic' (default) | 'post' | 'none';
 *  params: an object, or an array of [name, value] pairs (for repeated parameters);
 *  body: a raw body instead of params; headers: extra headers.
 * Resolves harness http() results ({status, headers, text, json()}).
 */
export function tokenRequest(server, tenant, { client, auth = 'basic', params = {}, body,
  headers = {}, contentType = 'application/x-www-form-urlencoded' } = {}) {
  const h = { 'content-type': contentType, ...headers };
  let payload = body;
  if (payload === undefined) {
    const form = new URLSearchParams(Array.isArray(params) ? params : Object.entries(params));
    if (client && auth === 'post') {
      form.append('client_id', client.id);
      form.append('client_secret', client.secret);
    }
    payload = form.toString();
  }
  if (client && auth === 'basic') h.authorization = basicAuth(client.id, client.secret);
  return http(`${nodeBase(server, tenant)}/oidc/token`, { method: 'POST', headers: h, body: payload });
}

/** client_credentials grant that must succeed; resolves the token response JSON. */
export async function clientCredentials(server, tenant, client, { resource, scope, auth } = {}) {
  const params = { grant_type: 'client_credentials' };
  if (resource !== undefined) params.resource = resource;
  if (scope !== undefined) params.scope = scope;
  const res = await tokenRequest(server, tenant, { client, auth, params });
  assert.equal(res.status, 200, `token request for ${resource} (${scope ?? 'no scope'}): ${res.text}`);
  return res.json();
}

/** Asserts an RFC 6749 §5.2 error response; returns the body. */
export function assertOAuthError(res, status, error, what = error) {
  assert.equal(res.status, status, `${what}: status (body: ${res.text})`);
  assert.match(res.headers.get('content-type') || '', /^application\/json/, `${what}: content-type`);
  const body = JSON.parse(res.text);
  assert.equal(body.error, error, `${what}: error in ${res.text}`);
  if ('error_description' in body) {
    assert.equal(typeof body.error_description, 'string', `${what}: error_description`);
  }
  return body;
}

/** Asserts a Management API error {code, message}; returns the body. */
export function assertApiError(res, statuses, what) {
  const list = Array.isArray(statuses) ? statuses : [statuses];
  assert.ok(list.includes(res.status), `${what}: status ${res.status}, want ${list} (body: ${res.text})`);
  assert.match(res.headers.get('content-type') || '', /^application\/json/, `${what}: content-type`);
  const body = JSON.parse(res.text);
  assert.equal(typeof body.code, 'string', `${what}: "code" in ${res.text}`);
  assert.ok(body.code.length > 0, `${what}: non-empty code`);
  assert.equal(typeof body.message, 'string', `${what}: "message" in ${res.text}`);
  return body;
}

/** Asserts a 400 whose message names field; returns the body. */
export function assertInvalidField(res, field, what = `invalid ${field}`) {
  const body = assertApiError(res, 400, what);
  assert.ok(body.message.includes(field), `${what}: message names "${field}": ${res.text}`);
  return body;
}

/**
 * A sub-collection of a parent that does not exist (in this tenant): 404 {code, message}, or
 * (as some Logto routes do) 200 with an empty array — never anyone's items.
 */
export function assertNoneOrNotFound(res, what) {
  if (res.status === 200) {
    assert.deepEqual(JSON.parse(res.text), [], `${what}: 200 must be an empty list`);
    return;
  }
  assertApiError(res, 404, what);
}

/** Asserts one of statuses and returns the JSON body (null when empty). */
export function expectStatus(res, statuses, what) {
  const list = Array.isArray(statuses) ? statuses : [statuses];
  assert.ok(list.includes(res.status), `${what}: status ${res.status}, want ${list} (body: ${res.text})`);
  if (res.text === '') return null;
  if (res.status !== 204) {
    assert.match(res.headers.get('content-type') || '', /^application\/json/, `${what}: content-type`);
  }
  return JSON.parse(res.text);
}

/** Management API client for tenant on server with a bearer token. */
export function apiClient(server, tenant, token) {
  const base = `${nodeBase(server, tenant)}/api`;
  const req = (method, p, body, { headers = {}, raw = false } = {}) => {
    const h = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    let payload;
    if (body !== undefined) {
      h['content-type'] ??= 'application/json';
      payload = raw || typeof body === 'string' ? body : JSON.stringify(body);
    }
    return http(base + p, { method, headers: h, body: payload });
  };
  return {
    base,
    token,
    req,
    get: (p, opts) => req('GET', p, undefined, opts),
    post: (p, body, opts) => req('POST', p, body, opts),
    patch: (p, body, opts) => req('PATCH', p, body, opts),
    put: (p, body, opts) => req('PUT', p, body, opts),
    del: (p, opts) => req('DELETE', p, undefined, opts),
  };
}

/** The JSON of stdout, which must be exactly one JSON document. */
function parseJsonStdout(stdout, what) {
  try {
    return JSON.parse(stdout.trim());
  } catch (err) {
    throw new Error(`${what}: stdout is not one JSON document (${err.message}):\n${stdout}`);
  }
}

/**
 * latchctl app create --tenant <tenant> --type <type> --name <name> [--management] for the
 * latchd `server`; resolves {id, secret} (what it printed).
 */
export async function createAppWithCtl(server, tenant, { name = uniq('app'), type = 'MachineToMachine',
  management = false } = {}) {
  const args = ['app', 'create', '--tenant', tenant, '--type', type, '--name', name];
  if (management) args.push('--management');
  const out = await latchctlOk(args, ctlEnv(server));
  const app = parseJsonStdout(out, `latchctl ${args.join(' ')}`);
  assert.equal(typeof app.id, 'string', `app id in ${out}`);
  assert.equal(typeof app.secret, 'string', `app secret in ${out}`);
  return { id: app.id, secret: app.secret };
}

/** A new JWKS fetcher without caching (so that a rotation shows at once). */
export const remoteJwks = (server, tenant) =>
  jose.createRemoteJWKSet(new URL(`${nodeBase(server, tenant)}/oidc/jwks`),
    { cacheMaxAge: 0, cooldownDuration: 0, timeoutDuration: 10000 });

/** GET <tenant>/oidc/jwks; resolves {res, keys}. */
export async function fetchJwks(server, tenant) {
  const res = await http(`${nodeBase(server, tenant)}/oidc/jwks`);
  assert.equal(res.status, 200, `JWKS: ${res.text}`);
  const body = res.json();
  assert.ok(Array.isArray(body.keys), `JWKS keys: ${res.text}`);
  return { res, keys: body.keys };
}

/**
 * Verifies an access token with jose against the node's JWKS: signature, iss, aud, typ at+jwt
 * (exactly), and alg when given. issuerServer names the issuer (defaults to server).
 * Resolves jose's {payload, protectedHeader}.
 */
export async function verifyAccessToken(server, tenant, token, { audience, alg, issuerServer = server } = {}) {
  const result = await jose.jwtVerify(token, remoteJwks(server, tenant), {
    issuer: issuerOf(issuerServer, tenant),
    audience,
    typ: 'at+jwt',
    ...(alg ? { algorithms: [alg] } : {}),
  });
  assert.equal(result.protectedHeader.typ, 'at+jwt', 'typ header exactly at+jwt');
  assert.equal(typeof result.protectedHeader.kid, 'string', 'kid header');
  if (alg) assert.equal(result.protectedHeader.alg, alg);
  return result;
}

/** The space-separated scope of a token or response, as a sorted array. */
export const scopeSet = (scope) => (scope ?? '').split(' ').filter(Boolean).sort();

/** The current key of a private-keys list: state "current" when given, else the first one. */
export function currentKey(list) {
  assert.ok(Array.isArray(list) && list.length > 0, `private keys: ${JSON.stringify(list)}`);
  const stateOf = (k) => String(k.state ?? k.status ?? '').toLowerCase();
  return list.find((k) => stateOf(k) === 'current') ?? list[0];
}

/**
 * One tenant as seen through one latchd: its ids and URLs, a management application made with
 * `latchctl app create --management`, and helpers for tokens and the Management API.
 */
export class TenantCtx {
  constructor(server, id, admin) {
    this.server = server;
    this.id = id;
    this.admin = admin; // {id, secret}
    this.tokenCache = null;
  }

  /** Creates a tenant for server (latchctl with its secret key and public URL). */
  static async create(server, prefix, name = `E2E ${prefix}`) {
    const id = await createTenant(prefix, name, ctlEnv(server));
    const admin = await createAppWithCtl(server, id, { name: uniq('admin'), management: true });
    return new TenantCtx(server, id, admin);
  }

  /** The same tenant and management app seen through another node of the same database. */
  on(otherServer) {
    return new TenantCtx(otherServer, this.id, this.admin);
  }

  get endpoint() { return tenantEndpoint(this.server, this.id); }
  get issuer() { return issuerOf(this.server, this.id); }
  get apiIndicator() { return managementIndicator(this.server, this.id); }
  get base() { return nodeBase(this.server, this.id); }

  tokenRequest(opts) { return tokenRequest(this.server, this.id, opts); }

  clientCredentials(client, opts) { return clientCredentials(this.server, this.id, client, opts); }

  /** A management token (scope all) of the admin app; cached unless refresh. */
  async mgmtToken({ refresh = false } = {}) {
    if (refresh || !this.tokenCache) {
      const t = await this.clientCredentials(this.admin, { resource: this.apiIndicator, scope: 'all' });
      this.tokenCache = t.access_token;
    }
    return this.tokenCache;
  }

  async api({ refresh = false } = {}) {
    return apiClient(this.server, this.id, await this.mgmtToken({ refresh }));
  }

  verify(token, opts) { return verifyAccessToken(this.server, this.id, token, opts); }

  jwks() { return fetchJwks(this.server, this.id); }

  /** POST /api/applications; resolves the created application (with its one-time secret). */
  async createApp({ name = uniq('app'), type = 'MachineToMachine', ...rest } = {}) {
    const api = await this.api();
    const body = { name, type, ...rest };
    if (type !== 'MachineToMachine' && !body.oidcClientMetadata) {
      body.oidcClientMetadata = { redirectUris: ['http://localhost:3000/callback'], postLogoutRedirectUris: [] };
    }
    const app = expectStatus(await api.post('/applications', body), 200, `create ${type} app`);
    assert.equal(typeof app.id, 'string');
    return app;
  }

  /**
   * POST /api/resources and its scopes; resolves {resource, scopes: {name: scope}}.
   */
  async createResource({ name = uniq('res'), indicator = `https://e2e.example/${uniq('api')}`,
    accessTokenTtl, scopes = [] } = {}) {
    const api = await this.api();
    const body = { name, indicator };
    if (accessTokenTtl !== undefined) body.accessTokenTtl = accessTokenTtl;
    const resource = expectStatus(await api.post('/resources', body), [200, 201], 'create resource');
    assert.equal(typeof resource.id, 'string');
    const made = {};
    for (const s of scopes) {
      made[s] = expectStatus(await api.post(`/resources/${resource.id}/scopes`, { name: s, description: `e2e ${s}` }),
        [200, 201], `create scope ${s}`);
      assert.equal(typeof made[s].id, 'string');
    }
    return { resource, scopes: made };
  }

  /** POST /api/roles (MachineToMachine); resolves the role. */
  async createRole({ name = uniq('role'), description = 'e2e role', scopeIds } = {}) {
    const api = await this.api();
    const body = { name, description, type: 'MachineToMachine' };
    if (scopeIds) body.scopeIds = scopeIds;
    const role = expectStatus(await api.post('/roles', body), [200, 201], 'create role');
    assert.equal(typeof role.id, 'string');
    return role;
  }

  /** POST /api/users; resolves the user JSON merged with the password given. */
  async createUser({ username = uniqUsername(), password = uniqPassword(),
    primaryEmail, name, ...rest } = {}) {
    const api = await this.api();
    const body = { username, password, ...rest };
    if (primaryEmail !== undefined) body.primaryEmail = primaryEmail;
    if (name !== undefined) body.name = name;
    const user = expectStatus(await api.post('/users', body), [200, 201], 'create user');
    assert.equal(typeof user.id, 'string', `user id in ${JSON.stringify(user)}`);
    assert.equal(user.username, username);
    assert.ok(!('password' in user) && !('passwordEncrypted' in user), 'no password in the user JSON');
    return { ...user, password };
  }

  /** PATCH /api/users/:id/is-suspended. */
  async suspendUser(userId, isSuspended = true) {
    const api = await this.api();
    const user = expectStatus(await api.patch(`/users/${userId}/is-suspended`, { isSuspended }), 200,
      'PATCH is-suspended');
    assert.equal(user.isSuspended, isSuspended);
    return user;
  }

  /** PATCH /api/sign-in-exp; resolves the sign-in experience. */
  async patchSignInExp(body) {
    const api = await this.api();
    return expectStatus(await api.patch('/sign-in-exp', body), 200, `PATCH /sign-in-exp ${JSON.stringify(body)}`);
  }

  /** GET /api/users?search=<q>; resolves the list. */
  async searchUsers(q) {
    const api = await this.api();
    return expectStatus(await api.get(`/users?search=${encodeURIComponent(q)}`), 200, 'search users');
  }

  /**
   * A web application (Traditional by default) whose redirect URIs point at origin (a local
   * callback server such as http://127.0.0.1:PORT): <origin>/api/auth/callback/logto (+ extra ones) and post-logout
   * <origin>/. Resolves {id, secret, redirectUri, postLogoutRedirectUri, app}.
   */
  async createWebApp(origin, { type = 'Traditional', name = uniq(type.toLowerCase()),
    callbackPath = CALLBACK_PATH, extraRedirectUris = [], customClientMetadata } = {}) {
    const redirectUri = `${origin}${callbackPath}`;
    const postLogoutRedirectUri = `${origin}/`;
    const body = {
      name,
      type,
      oidcClientMetadata: {
        redirectUris: [redirectUri, ...extraRedirectUris],
        postLogoutRedirectUris: [postLogoutRedirectUri],
      },
    };
    if (customClientMetadata) body.customClientMetadata = customClientMetadata;
    const app = await this.createApp(body);
    if (type === 'Traditional') assert.equal(typeof app.secret, 'string', 'a Traditional app gets a secret');
    return { id: app.id, secret: app.secret, redirectUri, postLogoutRedirectUri, app };
  }

  /** POST /api/applications/:id/roles. */
  async assignRoles(appId, roleIds) {
    const api = await this.api();
    expectStatus(await api.post(`/applications/${appId}/roles`, { roleIds }), [200, 201, 204],
      'assign roles to application');
  }
}

/** Polls until fn resolves truthy; a short form of waitFor for cache-invalidation checks. */
export const eventually = (fn, what, timeoutMs = 3000) =>
  waitFor(fn, { timeoutMs, intervalMs: 50, what });

// ---- People sign in (issue 4): users, the sign-in experience, /oidc/auth without a browser --------

/**
 * The header that carries the Experience API's CSRF token (the `csrfToken` member of
 * GET /api/experience/interaction) on every call that changes something.
 */
export const CSRF_HEADER = 'x-csrf-token';

/** Path of the registration-capable redirect URI of the reference scenario. */
export const CALLBACK_PATH = '/api/auth/callback/logto';

/** Scopes of the reference scenario (Auth.js + Logto guide). */
export const REFERENCE_SCOPE = 'openid offline_access profile email';

/** A username Logto accepts (^[A-Z_a-z]\w*$): letters, digits and underscores only. */
export const uniqUsername = (prefix = 'user') => `${prefix}_${randomId(10)}`;

/** A password the default policy accepts (8..256 characters, several character types). */
export const uniqPassword = () => `Pw-${randomId(12)}-9x!Q`;

/** SHA-256/384/512 left half, base64url: the at_hash / c_hash of OIDC Core §3.1.3.6. */
export function leftHalfHash(value, alg) {
  const bits = { ES256: 'sha256', RS256: 'sha256', PS256: 'sha256', ES384: 'sha384', RS384: 'sha384',
    PS384: 'sha384', ES512: 'sha512', RS512: 'sha512', PS512: 'sha512', EdDSA: 'sha512' }[alg];
  assert.ok(bits, `no hash for alg ${alg}`);
  const digest = createHash(bits).update(value, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

/**
 * A minimal cookie jar for one host: remembers Set-Cookie values by name (Max-Age=0 or an
 * expiry in the past deletes), ignoring Domain and Path (a test talks to one tenant of one node).
 */
export class CookieJar {
  constructor() {
    this.cookies = new Map(); // name -> {value, attrs (lower-case names), raw}
  }

  /** Takes the Set-Cookie headers of a fetch Response (or a Headers object). */
  store(resOrHeaders) {
    const headers = resOrHeaders.headers ?? resOrHeaders;
    const list = typeof headers.getSetCookie === 'function' ? headers.getSetCookie() : [];
    for (const raw of list) {
      const [pair, ...attrParts] = raw.split(';');
      const i = pair.indexOf('=');
      if (i <= 0) continue;
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const attrs = {};
      for (const a of attrParts) {
        const j = a.indexOf('=');
        const k = (j < 0 ? a : a.slice(0, j)).trim().toLowerCase();
        attrs[k] = j < 0 ? true : a.slice(j + 1).trim();
      }
      const expired = (attrs['max-age'] !== undefined && Number(attrs['max-age']) <= 0) ||
        (typeof attrs.expires === 'string' && Date.parse(attrs.expires) < Date.now()) || value === '';
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, { value, attrs, raw });
    }
  }

  get(name) { return this.cookies.get(name)?.value; }

  has(name) { return this.cookies.has(name); }

  /** The Cookie request header ('' when empty). */
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v.value}`).join('; ');
  }
}

/**
 * fetch() without following redirects, sending and storing the jar's cookies.
 * Resolves {status, headers, text, location (absolute or null), json()}.
 */
export async function jarFetch(jar, url, init = {}) {
  const { timeoutMs = 20000, headers = {}, ...rest } = init;
  const h = { ...headers };
  const cookie = jar?.header();
  if (cookie) h.cookie = cookie;
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs), ...rest, headers: h });
  jar?.store(res);
  const text = await res.text();
  const loc = res.headers.get('location');
  return {
    status: res.status,
    headers: res.headers,
    text,
    location: loc === null ? null : new URL(loc, url).href,
    json() { return JSON.parse(text); },
  };
}

/** True for 302 and 303 (what /oidc/auth and the Experience API's resume may answer). */
export const isRedirect = (status) => status === 302 || status === 303;

/** Asserts an HTML error page without a Location header (an unusable client_id / redirect_uri). */
export function assertHtmlErrorPage(res, what, status = 400) {
  assert.equal(res.status, status, `${what}: status (body: ${res.text.slice(0, 300)})`);
  assert.equal(res.headers.get('location'), null, `${what}: must not redirect anywhere`);
  assert.match(res.headers.get('content-type') || '', /^text\/html/, `${what}: content-type`);
  assert.match(res.text, /<html|<!doctype html/i, `${what}: an HTML page`);
}

/**
 * Asserts an authorization error response (RFC 6749 §4.1.2.1 + RFC 9207) carried by a URL that
 * starts with redirectUri: error, state and iss; returns the URLSearchParams.
 */
export function assertAuthErrorRedirect(location, { redirectUri, error, state, issuer }, what = error) {
  assert.ok(location, `${what}: a redirect`);
  const u = new URL(location);
  assert.equal(`${u.origin}${u.pathname}`, redirectUri, `${what}: back to the redirect URI (${location})`);
  const p = u.searchParams;
  assert.equal(p.get('error'), error, `${what}: error in ${location}`);
  if (state !== undefined) assert.equal(p.get('state'), state, `${what}: state in ${location}`);
  if (issuer !== undefined) assert.equal(p.get('iss'), issuer, `${what}: iss in ${location}`);
  assert.equal(p.get('code'), null, `${what}: no code`);
  if (p.has('error_description')) assert.equal(typeof p.get('error_description'), 'string');
  return p;
}

/** <node base of tenant>/oidc/auth?<params> (params: object; undefined values left out). */
export function authUrl(ctx, params) {
  const u = new URL(`${ctx.base}/oidc/auth`);
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null) u.searchParams.set(k, v);
  }
  return u.href;
}

/** PKCE S256 pair {verifier, challenge} (RFC 7636). */
export function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

/**
 * A sign-in through the Experience API with a cookie jar, as the hosted page does it:
 *   start(url): GET /oidc/auth (303 → <tenant endpoint>/sign-in, interaction cookie), GET the
 *     page, GET /api/experience/interaction for the CSRF token;
 *   call(method, path, body, {csrf}): one Experience API call;
 *   passwordSignIn(identifier, password, {type}): PUT /api/experience {SignIn},
 *     POST verification/password, POST identification, POST submit → redirectTo;
 *   resume(redirectTo): follows latchd's redirects until one leaves latchd (the redirect URI).
 */
export class ExperienceClient {
  constructor(ctx, jar = new CookieJar()) {
    this.ctx = ctx;
    this.jar = jar;
    this.csrfToken = null;
    this.origin = new URL(ctx.server.url).origin;
  }

  get interactionCookie() { return `latch_interaction_${this.ctx.id}`; }

  get sessionCookie() { return `latch_session_${this.ctx.id}`; }

  /** GET the authorization URL; expects the sign-in (or register) page. Returns that page's URL. */
  async start(url, { page = 'sign-in' } = {}) {
    const res = await jarFetch(this.jar, url);
    assert.ok(isRedirect(res.status), `GET /oidc/auth: want 303 to the ${page} page, got ${res.status} ` +
      `(${res.location ?? res.text.slice(0, 300)})`);
    const loc = new URL(res.location);
    assert.equal(loc.origin + loc.pathname, `${this.ctx.base}/${page}`, `redirected to the ${page} page`);
    assert.ok(this.jar.has(this.interactionCookie), `cookie ${this.interactionCookie} set by /oidc/auth ` +
      `(Set-Cookie: ${JSON.stringify(res.headers.getSetCookie())})`);
    const html = await jarFetch(this.jar, loc.href);
    assert.equal(html.status, 200, `GET ${loc.pathname}: ${html.text.slice(0, 300)}`);
    await this.loadInteraction();
    return loc.href;
  }

  /** GET /api/experience/interaction; keeps its csrfToken; resolves the JSON. */
  async loadInteraction() {
    const res = await jarFetch(this.jar, `${this.ctx.base}/api/experience/interaction`);
    assert.equal(res.status, 200, `GET /api/experience/interaction: ${res.text}`);
    const body = res.json();
    assert.equal(typeof body.csrfToken, 'string', `csrfToken in ${res.text}`);
    assert.ok(body.csrfToken.length >= 16, 'a CSRF token of some length');
    this.csrfToken = body.csrfToken;
    return body;
  }

  call(method, path, body, { csrf = true, headers = {} } = {}) {
    const h = { ...headers };
    if (csrf && this.csrfToken) h[CSRF_HEADER] = this.csrfToken;
    let payload;
    if (body !== undefined) {
      h['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    return jarFetch(this.jar, `${this.ctx.base}/api/experience${path}`, { method, headers: h, body: payload });
  }

  /** PUT /api/experience {interactionEvent}; asserts 2xx. */
  async begin(interactionEvent = 'SignIn') {
    const res = await this.call('PUT', '', { interactionEvent });
    assert.ok(res.status >= 200 && res.status < 300,
      `PUT /api/experience ${interactionEvent}: ${res.status} ${res.text}`);
    return res;
  }

  /** POST /api/experience/verification/password; resolves the raw answer (no assertion). */
  verifyPassword(value, password, { type = 'username' } = {}) {
    return this.call('POST', '/verification/password', { identifier: { type, value }, password });
  }

  /** The whole password sign-in; resolves redirectTo (absolute). */
  async passwordSignIn(value, password, { type = 'username' } = {}) {
    await this.begin('SignIn');
    const v = await this.verifyPassword(value, password, { type });
    assert.equal(v.status, 200, `verification/password: ${v.text}`);
    const { verificationId } = v.json();
    assert.equal(typeof verificationId, 'string', `verificationId in ${v.text}`);
    const ident = await this.call('POST', '/identification', { verificationId });
    assert.ok(ident.status === 204 || ident.status === 200 || ident.status === 201,
      `identification: ${ident.status} ${ident.text}`);
    const sub = await this.call('POST', '/submit');
    assert.equal(sub.status, 200, `submit: ${sub.text}`);
    const { redirectTo } = sub.json();
    assert.equal(typeof redirectTo, 'string', `redirectTo in ${sub.text}`);
    return new URL(redirectTo, this.ctx.base + '/').href;
  }

  /**
   * Follows redirects while they stay on latchd (GET); resolves the first Location that leaves
   * it (the redirect URI with code or error), or throws when latchd answers something else.
   */
  async resume(url, { maxHops = 10 } = {}) {
    let cur = url;
    for (let i = 0; i < maxHops; i++) {
      const res = await jarFetch(this.jar, cur);
      assert.ok(isRedirect(res.status), `GET ${cur}: want a redirect, got ${res.status} ${res.text.slice(0, 300)}`);
      if (new URL(res.location).origin !== this.origin) return res.location;
      cur = res.location;
    }
    throw new Error(`more than ${maxHops} redirects from ${url}`);
  }

  /** start + passwordSignIn + resume: resolves the callback URL (redirect URI ?code&state&iss). */
  async signIn(url, username, password) {
    await this.start(url);
    const redirectTo = await this.passwordSignIn(username, password);
    return this.resume(redirectTo);
  }

  /** With a live session: GET /oidc/auth must come straight back to the redirect URI. */
  async authorizeSilently(url) {
    return this.resume(url);
  }
}
