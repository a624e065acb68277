// Helpers of the OIDC and Management API end-to-end tests (issue 3): tenant endpoints and
// issuers, token requests by hand, Management API calls, applications made with latchctl, and
// verification of access tokens with jose against the published JWKS.
//
// URLs: a node is contacted at server.url; what it calls itself (issuer, the Management API
// indicator) derives from its public URL (server.publicUrl, LATCH_PUBLIC_URL). Both are the same
// for a single node; nodes behind one public URL share it but keep their own server.url.
import assert from 'node:assert/strict';
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
