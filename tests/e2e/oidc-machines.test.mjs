// End-to-end tests of OIDC for machines (issue 3): discovery and JWKS per tenant, the
// client-credentials grant with real clients (openid-client: ClientSecretBasic and
// ClientSecretPost; jose: signature and claims against the published JWKS), scope intersection,
// the token endpoint's errors (RFC 6749 §5.2, RFC 8707), signing-key rotation for every key type
// with a grace period for tokens issued before, latchctl keys rotate, two nodes on one database
// (rotation and application changes seen by the other node within ~2 s), and tenant isolation.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import {
  ctlEnv,
  createTenant,
  http,
  latchctl,
  latchctlOk,
  rawRequest,
  startLatchd,
} from './lib/harness.mjs';
import {
  KEY_TYPES,
  PRIVATE_JWK_MEMBERS,
  TenantCtx,
  apiClient,
  assertApiError,
  assertInvalidField,
  assertNoneOrNotFound,
  assertOAuthError,
  basicAuth,
  createAppWithCtl,
  currentKey,
  eventually,
  expectStatus,
  fetchJwks,
  issuerOf,
  jose,
  managementIndicator,
  nodeBase,
  scopeSet,
  uniq,
  verifyAccessToken,
} from './lib/oidc.mjs';

const KNOWN_ALGS = ['ES256', 'ES384', 'RS256', 'EdDSA'];
const now = () => Math.floor(Date.now() / 1000);

/** Asserts the RFC 9068 claims of a client-credentials access token. */
function assertAccessClaims(payload, { issuer, clientId, audience, ttl, scope }) {
  assert.equal(payload.iss, issuer, 'iss');
  assert.equal(payload.sub, clientId, 'sub = client id');
  assert.equal(payload.client_id, clientId, 'client_id');
  if (Array.isArray(payload.aud)) assert.deepEqual(payload.aud, [audience], 'aud');
  else assert.equal(payload.aud, audience, 'aud');
  if (scope !== undefined) assert.deepEqual(scopeSet(payload.scope), [...scope].sort(), 'scope');
  assert.equal(typeof payload.jti, 'string', 'jti');
  assert.ok(payload.jti.length >= 8, `jti ${payload.jti}`);
  assert.ok(Number.isInteger(payload.iat), 'iat');
  assert.ok(Math.abs(payload.iat - now()) <= 60, `iat ${payload.iat} is now`);
  assert.ok(Number.isInteger(payload.exp), 'exp');
  if (ttl !== undefined) assert.equal(payload.exp - payload.iat, ttl, 'exp - iat = resource TTL');
  if (payload.nbf !== undefined) assert.ok(payload.nbf <= payload.iat + 1, 'nbf');
}

/** Asserts a public JWK of the given key type; returns it. */
async function assertPublicJwk(jwk, type) {
  for (const m of PRIVATE_JWK_MEMBERS) {
    assert.ok(!(m in jwk), `JWK ${jwk.kid} must not carry private member "${m}"`);
  }
  assert.equal(jwk.kty, type.kty, `kty of ${jwk.kid}`);
  if (type.crv) assert.equal(jwk.crv, type.crv, `crv of ${jwk.kid}`);
  assert.equal(jwk.alg, type.alg, `alg of ${jwk.kid}`);
  if ('use' in jwk) assert.equal(jwk.use, 'sig');
  assert.equal(typeof jwk.kid, 'string');
  assert.equal(jwk.kid, await jose.calculateJwkThumbprint(jwk, 'sha256'),
    'kid is the RFC 7638 thumbprint');
  return jwk;
}

const ES384 = KEY_TYPES.find((k) => k.alg === 'ES384');

async function checkDiscovery(server, tenant) {
  const issuer = issuerOf(server, tenant);
  const res = await http(`${nodeBase(server, tenant)}/oidc/.well-known/openid-configuration`);
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get('content-type') || '', /^application\/json/);
  const cc = res.headers.get('cache-control') || '';
  assert.ok(cc.length > 0 && !/no-store/.test(cc), `Cache-Control of discovery: "${cc}"`);
  const d = res.json();

  assert.equal(d.issuer, issuer, 'issuer = <tenant endpoint>/oidc');
  assert.ok(!d.issuer.endsWith('/'), 'no trailing slash');
  assert.ok(!d.issuer.replace(/^https?:\/\//, '').includes('//'), 'no double slash');
  assert.equal(d.jwks_uri, `${issuer}/jwks`);
  assert.equal(d.token_endpoint, `${issuer}/token`);
  for (const [k, v] of Object.entries(d)) {
    if (!k.endsWith('_endpoint')) continue;
    assert.equal(typeof v, 'string', k);
    assert.ok(v.startsWith(`${issuer}/`), `${k} = ${v} is under the issuer`);
    assert.ok(!v.replace(/^https?:\/\//, '').includes('//'), `${k} = ${v}: no double slash`);
  }

  const methods = d.token_endpoint_auth_methods_supported;
  assert.ok(Array.isArray(methods), 'token_endpoint_auth_methods_supported');
  for (const m of ['client_secret_basic', 'client_secret_post']) assert.ok(methods.includes(m), m);
  for (const m of methods) {
    assert.ok(['client_secret_basic', 'client_secret_post', 'none'].includes(m),
      `auth method ${m} is not implemented`);
  }
  assert.ok(Array.isArray(d.grant_types_supported), 'grant_types_supported');
  assert.ok(d.grant_types_supported.includes('client_credentials'));
  assert.ok(!d.grant_types_supported.includes('password'), 'no password grant');
  assert.ok(!d.grant_types_supported.includes('implicit'), 'no implicit grant');

  const algs = d.id_token_signing_alg_values_supported;
  assert.ok(Array.isArray(algs), 'id_token_signing_alg_values_supported');
  assert.ok(algs.includes('ES384'), 'ES384 (the default key)');
  for (const a of algs) assert.ok(KNOWN_ALGS.includes(a), `alg ${a} is not implemented`);
  if ('response_types_supported' in d) assert.ok(Array.isArray(d.response_types_supported));

  // Served from a cache: the same document again.
  const again = await http(`${nodeBase(server, tenant)}/oidc/.well-known/openid-configuration`);
  assert.equal(again.status, 200);
  assert.deepEqual(again.json(), d);
  return d;
}

describe('OIDC for machines', () => {
  let srv;
  before(async () => {
    srv = await startLatchd();
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  describe('discovery and JWKS', () => {
    it('tenant default: issuer <public URL>/oidc, every endpoint under it', async () => {
      const d = await checkDiscovery(srv, 'default');
      assert.equal(d.issuer, `${srv.publicUrl}/oidc`);
    });

    it('a tenant /t/<id>: issuer <public URL>/t/<id>/oidc, every endpoint under it', async () => {
      const id = await createTenant('disc', 'Discovery', ctlEnv(srv));
      const d = await checkDiscovery(srv, id);
      assert.equal(d.issuer, `${srv.publicUrl}/t/${id}/oidc`);
    });

    it('an unknown tenant has no discovery document or JWKS (404 JSON)', async () => {
      for (const p of ['/oidc/.well-known/openid-configuration', '/oidc/jwks']) {
        const res = await http(`${srv.url}/t/nope-${uniq('x')}${p}`);
        assert.equal(res.status, 404, `${p}: ${res.text}`);
        assert.match(res.headers.get('content-type') || '', /^application\/json/);
      }
    });

    it('a new tenant publishes EC P-384 ES384 keys (current, maybe next), kid = thumbprint, '
      + 'with Cache-Control', async () => {
      const id = await createTenant('jwks', 'JWKS', ctlEnv(srv));
      const { res, keys } = await fetchJwks(srv, id);
      assert.match(res.headers.get('content-type') || '',
        /^application\/(jwk-set\+)?json/);
      const cc = res.headers.get('cache-control') || '';
      assert.match(cc, /max-age=\d+/, `Cache-Control of the JWKS: "${cc}"`);
      assert.ok(keys.length === 1 || keys.length === 2, `current (+ next) only: ${res.text}`);
      for (const k of keys) {
        const jwk = await assertPublicJwk(k, ES384);
        assert.equal(typeof jwk.x, 'string');
        assert.equal(typeof jwk.y, 'string');
        assert.equal(Buffer.from(jwk.x, 'base64url').length, 48, 'x of P-384');
        assert.equal(Buffer.from(jwk.y, 'base64url').length, 48, 'y of P-384');
      }
      assert.equal(new Set(keys.map((k) => k.kid)).size, keys.length, 'distinct kids');
    });

    it('the JWKS of tenant default has only public keys with distinct kids', async () => {
      const { keys } = await fetchJwks(srv, 'default');
      assert.ok(keys.length >= 1);
      for (const k of keys) {
        for (const m of PRIVATE_JWK_MEMBERS) assert.ok(!(m in k), `private member ${m}`);
        assert.ok(KNOWN_ALGS.includes(k.alg), `alg ${k.alg}`);
      }
      assert.equal(new Set(keys.map((k) => k.kid)).size, keys.length);
    });
  });

  describe('client credentials', () => {
    let ctx;
    before(async () => {
      ctx = await TenantCtx.create(srv, 'cc');
    });
    // The seeded Management API resource: TTL 3600, scope `all` held by ctx.admin.
    const MGMT_TTL = 3600;

    for (const [label, auth] of [['ClientSecretBasic', client.ClientSecretBasic],
      ['ClientSecretPost', client.ClientSecretPost]]) {
      it(`openid-client: discovery + client_credentials with ${label}; jose verifies the JWT`,
        async () => {
          const app = ctx.admin;
          const config = await client.discovery(new URL(ctx.issuer), app.id, app.secret,
            auth(app.secret), { execute: [client.allowInsecureRequests] });
          assert.equal(config.serverMetadata().issuer, ctx.issuer);
          const tok = await client.clientCredentialsGrant(config,
            { resource: ctx.apiIndicator, scope: 'all' });
          assert.equal(String(tok.token_type).toLowerCase(), 'bearer');
          assert.equal(tok.expires_in, MGMT_TTL);
          assert.deepEqual(scopeSet(tok.scope), ['all']);
          assert.equal(tok.refresh_token, undefined, 'no refresh token');
          assert.equal(tok.id_token, undefined, 'no ID token');

          const { payload, protectedHeader } = await ctx.verify(tok.access_token,
            { audience: ctx.apiIndicator, alg: 'ES384' });
          const { keys } = await ctx.jwks();
          assert.ok(keys.some((k) => k.kid === protectedHeader.kid), 'kid is in the JWKS');
          assertAccessClaims(payload, {
            issuer: ctx.issuer, clientId: app.id, audience: ctx.apiIndicator, ttl: MGMT_TTL,
            scope: ['all'],
          });
        });
    }

    it('the token response: 200 JSON, token_type Bearer, expires_in, scope, Cache-Control no-store',
      async () => {
        const res = await ctx.tokenRequest({
          client: ctx.admin, params: { grant_type: 'client_credentials', resource: ctx.apiIndicator },
        });
        assert.equal(res.status, 200, res.text);
        assert.match(res.headers.get('content-type') || '', /^application\/json/);
        assert.match(res.headers.get('cache-control') || '', /no-store/);
        const body = res.json();
        assert.equal(body.token_type, 'Bearer');
        assert.equal(body.expires_in, MGMT_TTL);
        assert.equal(typeof body.access_token, 'string');
        assert.equal(body.access_token.split('.').length, 3, 'a JWS compact JWT');
        const { payload } = await ctx.verify(body.access_token, { audience: ctx.apiIndicator });
        assert.deepEqual(scopeSet(body.scope), scopeSet(payload.scope), 'response scope = claim');
        assert.deepEqual(scopeSet(payload.scope), ['all'], 'no scope requested = all held');
      });

    it('every token has its own jti', async () => {
      const a = (await ctx.clientCredentials(ctx.admin, { resource: ctx.apiIndicator })).access_token;
      const b = (await ctx.clientCredentials(ctx.admin, { resource: ctx.apiIndicator })).access_token;
      assert.notEqual(a, b);
      assert.notEqual(jose.decodeJwt(a).jti, jose.decodeJwt(b).jti);
    });

    it('client_secret_basic with form-urlencoded credentials (RFC 6749 §2.3.1) works', async () => {
      const res = await ctx.tokenRequest({
        auth: 'none',
        headers: { authorization: basicAuth(ctx.admin.id, ctx.admin.secret, { encode: true }) },
        params: { grant_type: 'client_credentials', resource: ctx.apiIndicator },
      });
      assert.equal(res.status, 200, res.text);
    });

    it('an unheld scope of the Management API is dropped silently', async () => {
      const plain = await createAppWithCtl(srv, ctx.id, { name: uniq('plain') });
      const tok = await ctx.clientCredentials(plain, { resource: ctx.apiIndicator, scope: 'all' });
      assert.deepEqual(scopeSet(tok.scope), []);
      const { payload } = await ctx.verify(tok.access_token, { audience: ctx.apiIndicator });
      assert.deepEqual(scopeSet(payload.scope), []);
      const mixed = await ctx.clientCredentials(ctx.admin, { resource: ctx.apiIndicator, scope: 'nope all other' });
      assert.deepEqual(scopeSet(mixed.scope), ['all']);
    });

    it('tenant default issues tokens under <public URL>/oidc', async () => {
      const mgmt = await createAppWithCtl(srv, 'default', { name: uniq('dflt'), management: true });
      const indicator = managementIndicator(srv, 'default');
      const tok = await clientCredentialsFor(srv, 'default', mgmt, indicator);
      const { payload } = await verifyAccessToken(srv, 'default', tok, { audience: indicator });
      assertAccessClaims(payload, {
        issuer: `${srv.publicUrl}/oidc`, clientId: mgmt.id, audience: indicator, ttl: MGMT_TTL,
        scope: ['all'],
      });
    });

    describe('with a resource, scopes and a role made through the Management API', () => {
      let resource;
      let scopes;
      let app;
      const TTL = 1234;
      before(async () => {
        ({ resource, scopes } = await ctx.createResource({
          accessTokenTtl: TTL, scopes: ['read:docs', 'write:docs', 'admin:docs'],
        }));
        const role = await ctx.createRole({ scopeIds: [scopes['read:docs'].id, scopes['write:docs'].id] });
        app = await createAppWithCtl(srv, ctx.id, { name: uniq('m2m') });
        await ctx.assignRoles(app.id, [role.id]);
      });

      it('openid-client gets a token whose exp - iat is the resource TTL', async () => {
        const config = await client.discovery(new URL(ctx.issuer), app.id, app.secret,
          client.ClientSecretBasic(app.secret), { execute: [client.allowInsecureRequests] });
        const tok = await client.clientCredentialsGrant(config,
          { resource: resource.indicator, scope: 'read:docs write:docs' });
        assert.equal(tok.expires_in, TTL);
        const { payload } = await ctx.verify(tok.access_token, { audience: resource.indicator, alg: 'ES384' });
        assertAccessClaims(payload, {
          issuer: ctx.issuer, clientId: app.id, audience: resource.indicator, ttl: TTL,
          scope: ['read:docs', 'write:docs'],
        });
      });

      it('scope = requested ∩ held: unheld scopes are dropped, none requested = all held',
        async () => {
          const cases = [
            ['read:docs admin:docs', ['read:docs']],
            [undefined, ['read:docs', 'write:docs']],
            ['write:docs', ['write:docs']],
            ['write:docs all read:docs nope', ['read:docs', 'write:docs']],
            ['admin:docs', []],
          ];
          for (const [scope, want] of cases) {
            const tok = await ctx.clientCredentials(app, { resource: resource.indicator, scope });
            const { payload } = await ctx.verify(tok.access_token, { audience: resource.indicator });
            assert.deepEqual(scopeSet(payload.scope), want, `requested ${scope}: claim`);
            assert.deepEqual(scopeSet(tok.scope), want, `requested ${scope}: response`);
          }
        });

      it('a scope of the Management API is not granted for another resource', async () => {
        const admin = await ctx.clientCredentials(ctx.admin, { resource: resource.indicator, scope: 'all' });
        assert.deepEqual(scopeSet(admin.scope), []);
      });
    });
  });

  describe('token endpoint errors', () => {
    let ctx;
    let app;
    let resource;
    before(async () => {
      ctx = await TenantCtx.create(srv, 'err');
      // The tenant's Management API is a resource every tenant has.
      resource = { indicator: ctx.apiIndicator };
      app = await createAppWithCtl(srv, ctx.id, { name: uniq('m2m') });
    });
    const cc = () => ({ grant_type: 'client_credentials', resource: resource.indicator });

    it('a wrong secret (Basic) → 401 invalid_client with WWW-Authenticate', async () => {
      const res = await ctx.tokenRequest({ client: { id: app.id, secret: `${app.secret}x` }, params: cc() });
      assertOAuthError(res, 401, 'invalid_client', 'wrong secret');
      assert.match(res.headers.get('www-authenticate') || '', /^Basic/i, 'WWW-Authenticate');
    });

    it('an unknown client (Basic) → 401 invalid_client with WWW-Authenticate', async () => {
      const res = await ctx.tokenRequest({ client: { id: 'nosuchclient', secret: app.secret }, params: cc() });
      assertOAuthError(res, 401, 'invalid_client', 'unknown client');
      assert.match(res.headers.get('www-authenticate') || '', /^Basic/i);
    });

    it('an empty secret (Basic) → 401 invalid_client', async () => {
      const res = await ctx.tokenRequest({ client: { id: app.id, secret: '' }, params: cc() });
      assertOAuthError(res, 401, 'invalid_client', 'empty secret');
    });

    it('a wrong secret or unknown client (client_secret_post) → 401 invalid_client', async () => {
      for (const c of [{ id: app.id, secret: 'wrong' }, { id: 'nosuchclient', secret: app.secret }]) {
        const res = await ctx.tokenRequest({ client: c, auth: 'post', params: cc() });
        assertOAuthError(res, 401, 'invalid_client', `post ${c.id}`);
      }
    });

    it('no client authentication → invalid_client (401) or invalid_request (400)', async () => {
      const res = await ctx.tokenRequest({ auth: 'none', params: cc() });
      assert.ok([400, 401].includes(res.status), `status ${res.status}: ${res.text}`);
      assertOAuthError(res, res.status, res.status === 401 ? 'invalid_client' : 'invalid_request');
    });

    it('a malformed Authorization header → 400 or 401, never a token', async () => {
      for (const h of ['Basic', 'Basic !!!not-base64!!!', `Basic ${Buffer.from('nocolon').toString('base64')}`,
        'Bearer abc']) {
        const res = await ctx.tokenRequest({ auth: 'none', headers: { authorization: h }, params: cc() });
        assert.ok([400, 401].includes(res.status), `${h}: status ${res.status} ${res.text}`);
        assertOAuthError(res, res.status, res.status === 401 ? 'invalid_client' : 'invalid_request', h);
      }
    });

    it('conflicting credentials (Basic right, body wrong) never give a token', async () => {
      const res = await ctx.tokenRequest({
        client: app, params: { ...cc(), client_id: app.id, client_secret: 'wrong' },
      });
      assert.ok([400, 401].includes(res.status), `status ${res.status}: ${res.text}`);
    });

    it('an unsupported grant type → 400 unsupported_grant_type', async () => {
      for (const g of ['password', 'urn:example:nope', 'implicit']) {
        const res = await ctx.tokenRequest({ client: app, params: { grant_type: g, resource: resource.indicator } });
        assertOAuthError(res, 400, 'unsupported_grant_type', g);
      }
    });

    it('no grant_type → 400 invalid_request', async () => {
      const res = await ctx.tokenRequest({ client: app, params: { resource: resource.indicator } });
      assertOAuthError(res, 400, 'invalid_request', 'no grant_type');
    });

    it('client_credentials for a Traditional app → 400 unauthorized_client', async () => {
      const trad = await createAppWithCtl(srv, ctx.id, { type: 'Traditional', name: uniq('web') });
      const res = await ctx.tokenRequest({ client: { id: trad.id, secret: trad.secret }, params: cc() });
      assertOAuthError(res, 400, 'unauthorized_client', 'Traditional app');
    });

    it('an unknown resource → 400 invalid_target', async () => {
      const res = await ctx.tokenRequest({
        client: app, params: { grant_type: 'client_credentials', resource: 'https://unknown.example/api' },
      });
      assertOAuthError(res, 400, 'invalid_target', 'unknown resource');
    });

    it('a resource of another tenant → 400 invalid_target', async () => {
      const other = await createTenant('err2', 'Other', ctlEnv(srv));
      const res = await ctx.tokenRequest({
        client: app, params: { grant_type: 'client_credentials', resource: managementIndicator(srv, other) },
      });
      assertOAuthError(res, 400, 'invalid_target', 'resource of another tenant');
    });

    it('a resource that is not an absolute URI → 400 invalid_target or invalid_request', async () => {
      const res = await ctx.tokenRequest({
        client: app, params: { grant_type: 'client_credentials', resource: 'not a uri' },
      });
      assert.equal(res.status, 400, res.text);
      assert.ok(['invalid_target', 'invalid_request'].includes(res.json().error), res.text);
    });

    it('a repeated parameter → 400 invalid_request', async () => {
      const cases = [
        [['grant_type', 'client_credentials'], ['grant_type', 'client_credentials'],
          ['resource', resource.indicator]],
        [['grant_type', 'client_credentials'], ['resource', resource.indicator], ['scope', 'x'],
          ['scope', 'x']],
      ];
      for (const params of cases) {
        const res = await ctx.tokenRequest({ client: app, params });
        assertOAuthError(res, 400, 'invalid_request', `repeated: ${new URLSearchParams(params)}`);
      }
      const post = await ctx.tokenRequest({
        params: [...Object.entries(cc()), ['client_id', app.id], ['client_id', app.id],
          ['client_secret', app.secret]],
        auth: 'none',
      });
      assertOAuthError(post, 400, 'invalid_request', 'repeated client_id');
    });

    it('a malformed form body → 400 invalid_request', async () => {
      const auth = basicAuth(app.id, app.secret);
      for (const body of ['grant_type=client_credentials&resource=%ZZ',
        'grant_type=client_credentials&resource=%',
        'grant_type=client_credentials%00&resource=x',
        `grant_type=client_credentials&resource=${encodeURIComponent(resource.indicator)}&scope=a%00b`]) {
        const res = await ctx.tokenRequest({ auth: 'none', headers: { authorization: auth }, body });
        assertOAuthError(res, 400, 'invalid_request', `body ${body}`);
      }
    });

    it('an oversized body → 413', async () => {
      const big = `grant_type=client_credentials&scope=${'a'.repeat(2 * 1024 * 1024)}`;
      const path = `/t/${ctx.id}/oidc/token`;
      const res = await rawRequest(srv.port,
        `POST ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${basicAuth(app.id, app.secret)}\r\n` +
        `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${big.length}\r\n\r\n${big}`);
      assert.equal(res.status, 413, `status ${res.status}`);
    });

    it('GET on the token endpoint is refused (4xx, no token)', async () => {
      const res = await http(`${ctx.base}/oidc/token?grant_type=client_credentials`, {
        headers: { authorization: basicAuth(app.id, app.secret) },
      });
      assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
    });

    it('the server is still healthy after all of that', async () => {
      const tok = await ctx.clientCredentials(app, { resource: resource.indicator });
      assert.equal(typeof tok.access_token, 'string');
    });
  });

  describe('signing key rotation', () => {
    let ctx;
    before(async () => {
      ctx = await TenantCtx.create(srv, 'rot');
    });

    it('the private-keys list starts with one current EC key', async () => {
      const api = await ctx.api();
      const list = expectStatus(await api.get('/configs/oidc/private-keys'), 200, 'list keys');
      assert.ok(Array.isArray(list));
      const stateOf = (k) => String(k.state ?? k.status ?? '').toLowerCase();
      assert.ok(list.length === 1 || (list.length === 2 && list.some((k) => stateOf(k) === 'next')),
        `current (+ next) only: ${JSON.stringify(list)}`);
      if (list.some((k) => 'state' in k)) {
        assert.equal(list.filter((k) => stateOf(k) === 'current').length, 1, 'one current key');
      }
      const k = currentKey(list);
      for (const key of list) {
        assert.equal(key.signingKeyAlgorithm, 'EC');
        assert.equal(typeof key.id, 'string');
        assert.ok(key.createdAt !== undefined, 'createdAt');
        for (const field of ['value', 'privateKey', 'private_key', 'd']) {
          assert.ok(!(field in key), `no private material (${field}) in the list`);
        }
      }
      const { keys } = await ctx.jwks();
      assert.deepEqual(keys.map((j) => j.kid).sort(), list.map((x) => x.id).sort(),
        'the listed key ids are the JWKS kids');
      const tok = await ctx.mgmtToken({ refresh: true });
      assert.equal(jose.decodeProtectedHeader(tok).kid, k.id, 'tokens are signed with the current key');
    });

    const sequence = [...KEY_TYPES.filter((k) => k.alg !== 'ES384'), ES384];
    for (const type of sequence) {
      it(`rotate to ${type.signingKeyAlgorithm}: new tokens ${type.alg}, older tokens still verify`,
        async () => {
          const older = await ctx.mgmtToken({ refresh: true });
          const olderHeader = jose.decodeProtectedHeader(older);
          const api = await ctx.api();
          const res = await api.post('/configs/oidc/private-keys/rotate',
            { signingKeyAlgorithm: type.signingKeyAlgorithm });
          const list = expectStatus(res, [200, 201], `rotate to ${type.signingKeyAlgorithm}`);
          const cur = currentKey(list);
          assert.equal(cur.signingKeyAlgorithm, type.signingKeyAlgorithm, JSON.stringify(list));
          assert.notEqual(cur.id, olderHeader.kid, 'a new key');
          assert.ok(list.some((k) => k.id === olderHeader.kid), 'the previous key is listed');

          // A new token is signed with the new key.
          const after = await eventually(async () => {
            const t = await ctx.mgmtToken({ refresh: true });
            return jose.decodeProtectedHeader(t).kid === cur.id ? t : null;
          }, `a token signed with ${cur.id}`);
          const { keys } = await ctx.jwks();
          const jwk = keys.find((k) => k.kid === cur.id);
          assert.ok(jwk, `new kid ${cur.id} in the JWKS`);
          await assertPublicJwk(jwk, type);
          const v = await ctx.verify(after, { audience: ctx.apiIndicator, alg: type.alg });
          assert.equal(v.protectedHeader.kid, cur.id);

          // The token of before the rotation still verifies against the refreshed JWKS.
          assert.ok(keys.some((k) => k.kid === olderHeader.kid), 'previous key still published');
          await ctx.verify(older, { audience: ctx.apiIndicator, alg: olderHeader.alg });
          // And the Management API still takes it during the grace period.
          const old = await apiClient(srv, ctx.id, older).get('/configs/oidc/private-keys');
          assert.equal(old.status, 200, `pre-rotation token at the Management API: ${old.text}`);
        });
    }

    it('an unknown signingKeyAlgorithm → 400 naming it', async () => {
      const api = await ctx.api({ refresh: true });
      for (const alg of ['DSA', 'es384', '']) {
        assertInvalidField(await api.post('/configs/oidc/private-keys/rotate', { signingKeyAlgorithm: alg }),
          'signingKeyAlgorithm', `signingKeyAlgorithm "${alg}"`);
      }
    });

    it('the current key cannot be deleted; a previous key can, and leaves the JWKS', async () => {
      const api = await ctx.api({ refresh: true });
      const list = expectStatus(await api.get('/configs/oidc/private-keys'), 200, 'list keys');
      const cur = currentKey(list);
      const refused = await api.del(`/configs/oidc/private-keys/${encodeURIComponent(cur.id)}`);
      assertApiError(refused, [400, 403, 409, 422], 'delete the current key');
      const still = expectStatus(await api.get('/configs/oidc/private-keys'), 200, 'list keys');
      assert.ok(still.some((k) => k.id === cur.id), 'the current key is still there');

      const stateOf = (k) => String(k.state ?? k.status ?? '').toLowerCase();
      const other = list.find((k) => stateOf(k) === 'previous') ?? list.find((k) => k.id !== cur.id);
      assert.ok(other, `a non-current key in ${JSON.stringify(list)}`);
      expectStatus(await api.del(`/configs/oidc/private-keys/${encodeURIComponent(other.id)}`), [200, 204],
        'delete a previous key');
      const left = expectStatus(await api.get('/configs/oidc/private-keys'), 200, 'list keys');
      assert.ok(!left.some((k) => k.id === other.id), 'deleted key gone from the list');
      await eventually(async () => !(await ctx.jwks()).keys.some((k) => k.kid === other.id),
        'deleted key gone from the JWKS');

      const missing = await api.del('/configs/oidc/private-keys/no-such-key');
      assertApiError(missing, 404, 'delete an unknown key');
    });

    it('latchctl keys rotate --tenant <id> publishes and signs with a new key', async () => {
      const beforeTok = await ctx.mgmtToken({ refresh: true });
      const oldKid = jose.decodeProtectedHeader(beforeTok).kid;
      await latchctlOk(['keys', 'rotate', '--tenant', ctx.id], ctlEnv(srv));
      const fresh = await eventually(async () => {
        const t = await ctx.mgmtToken({ refresh: true });
        return jose.decodeProtectedHeader(t).kid !== oldKid ? t : null;
      }, 'a token signed with the key from latchctl');
      const newKid = jose.decodeProtectedHeader(fresh).kid;
      const { keys } = await ctx.jwks();
      assert.ok(keys.some((k) => k.kid === newKid), 'new kid published');
      assert.ok(keys.some((k) => k.kid === oldKid), 'old kid kept for the grace period');
      await ctx.verify(fresh, { audience: ctx.apiIndicator });
      await ctx.verify(beforeTok, { audience: ctx.apiIndicator });
    });

    it('latchctl keys rotate --algorithm Ed25519 gives EdDSA tokens', async () => {
      await latchctlOk(['keys', 'rotate', '--tenant', ctx.id, '--algorithm', 'Ed25519'], ctlEnv(srv));
      const tok = await eventually(async () => {
        const t = await ctx.mgmtToken({ refresh: true });
        return jose.decodeProtectedHeader(t).alg === 'EdDSA' ? t : null;
      }, 'an EdDSA token after latchctl keys rotate --algorithm Ed25519');
      await ctx.verify(tok, { audience: ctx.apiIndicator, alg: 'EdDSA' });
    });

    it('latchctl keys rotate for an unknown tenant fails', async () => {
      const r = await latchctl(['keys', 'rotate', '--tenant', `nope-${uniq('k')}`], ctlEnv(srv));
      assert.notEqual(r.code, 0, r.stdout);
    });
  });

  describe('two nodes on one database', () => {
    let nodeB;
    let ctxA;
    let ctxB;
    before(async () => {
      // Behind one public URL (same issuer), sharing the key-encryption key.
      nodeB = await startLatchd({
        env: { LATCH_SECRET_KEY: srv.env.LATCH_SECRET_KEY, LATCH_PUBLIC_URL: srv.env.LATCH_PUBLIC_URL },
      });
      ctxA = await TenantCtx.create(srv, 'two');
      ctxB = ctxA.on(nodeB);
    });
    after(async () => {
      if (nodeB) assert.equal((await nodeB.stop()).code, 0);
    });

    it('node B serves the same discovery document and JWKS', async () => {
      const a = await http(`${ctxA.base}/oidc/.well-known/openid-configuration`);
      const b = await http(`${ctxB.base}/oidc/.well-known/openid-configuration`);
      assert.equal(b.status, 200, b.text);
      assert.deepEqual(b.json(), a.json());
      const byKid = (keys) => [...keys].sort((x, y) => x.kid.localeCompare(y.kid));
      assert.deepEqual(byKid((await ctxB.jwks()).keys), byKid((await ctxA.jwks()).keys));
    });

    it('a token of node B verifies against node A\'s JWKS and vice versa', async () => {
      const tb = await ctxB.mgmtToken({ refresh: true });
      await ctxA.verify(tb, { audience: ctxA.apiIndicator });
      const ta = await ctxA.mgmtToken({ refresh: true });
      await ctxB.verify(ta, { audience: ctxA.apiIndicator });
      // And each node's Management API takes the other's token.
      assert.equal((await apiClient(nodeB, ctxA.id, ta).get('/applications')).status, 200);
      assert.equal((await apiClient(srv, ctxA.id, tb).get('/applications')).status, 200);
    });

    it('a rotation on node A shows in node B\'s JWKS within ~2 s and B signs with the new key',
      async () => {
        // Warm node B's caches first.
        const warm = await ctxB.mgmtToken({ refresh: true });
        const oldKid = jose.decodeProtectedHeader(warm).kid;
        assert.ok((await ctxB.jwks()).keys.some((k) => k.kid === oldKid));

        const api = await ctxA.api({ refresh: true });
        const list = expectStatus(await api.post('/configs/oidc/private-keys/rotate',
          { signingKeyAlgorithm: 'EC-P256' }), [200, 201], 'rotate on A');
        const t0 = Date.now();
        const kid = currentKey(list).id;
        await eventually(async () => (await ctxB.jwks()).keys.some((k) => k.kid === kid),
          `node B's JWKS lists ${kid}`, 2500);
        const seenAfter = Date.now() - t0;
        const tok = await eventually(async () => {
          const t = await ctxB.mgmtToken({ refresh: true });
          return jose.decodeProtectedHeader(t).kid === kid ? t : null;
        }, `node B signs with ${kid}`, 2500);
        const v = await ctxA.verify(tok, { audience: ctxA.apiIndicator, alg: 'ES256' });
        assert.equal(v.protectedHeader.kid, kid);
        await ctxB.verify(warm, { audience: ctxA.apiIndicator });
        assert.ok(seenAfter <= 2500, `seen after ${seenAfter} ms`);
      });

    it('an application and a secret made on node A work on node B at once; deletions too',
      async () => {
        const { resource, scopes } = await ctxA.createResource({ scopes: ['go'] });
        const role = await ctxA.createRole({ scopeIds: [scopes.go.id] });
        const app = await ctxA.createApp({ name: uniq('twonode') });
        await ctxA.assignRoles(app.id, [role.id]);
        const creds = { id: app.id, secret: app.secret };
        const tok = await eventually(async () => {
          const r = await ctxB.tokenRequest({ client: creds, params: { grant_type: 'client_credentials', resource: resource.indicator } });
          return r.status === 200 ? r.json() : null;
        }, 'node B knows the new application', 2500);
        assert.deepEqual(scopeSet(tok.scope), ['go']);

        const api = await ctxA.api({ refresh: true });
        const sec = expectStatus(await api.post(`/applications/${app.id}/secrets`, { name: 'extra' }), 201,
          'add secret on A');
        const extra = { id: app.id, secret: sec.value };
        await eventually(async () => (await ctxB.tokenRequest({ client: extra,
          params: { grant_type: 'client_credentials', resource: resource.indicator } })).status === 200,
        'node B takes the new secret', 2500);

        expectStatus(await api.del(`/applications/${app.id}/secrets/extra`), 204, 'delete secret on A');
        await eventually(async () => (await ctxB.tokenRequest({ client: extra,
          params: { grant_type: 'client_credentials', resource: resource.indicator } })).status === 401,
        'node B refuses the deleted secret', 2500);

        // Remove the scope from the role on A: B stops granting it.
        expectStatus(await api.del(`/roles/${role.id}/scopes/${scopes.go.id}`), 204, 'unlink scope on A');
        await eventually(async () => {
          const r = await ctxB.tokenRequest({ client: creds, params: { grant_type: 'client_credentials', resource: resource.indicator } });
          return r.status === 200 && scopeSet(r.json().scope).length === 0;
        }, 'node B drops the unlinked scope', 2500);

        expectStatus(await api.del(`/applications/${app.id}`), 204, 'delete app on A');
        await eventually(async () => (await ctxB.tokenRequest({ client: creds,
          params: { grant_type: 'client_credentials', resource: resource.indicator } })).status === 401,
        'node B refuses the deleted application', 2500);
      });
  });

  describe('tenant isolation', () => {
    let a;
    let b;
    let objsA;
    before(async () => {
      a = await TenantCtx.create(srv, 'iso-a');
      b = await TenantCtx.create(srv, 'iso-b');
      const marker = uniq('only-in-a');
      const { resource, scopes } = await a.createResource({ name: `${marker}-res`, scopes: ['s'] });
      const role = await a.createRole({ name: `${marker}-role`, scopeIds: [scopes.s.id] });
      const app = await a.createApp({ name: `${marker}-app` });
      await a.assignRoles(app.id, [role.id]);
      objsA = { marker, resource, scope: scopes.s, role, app };
    });

    it('an application of tenant A cannot authenticate at tenant B (invalid_client)', async () => {
      const creds = { id: objsA.app.id, secret: objsA.app.secret };
      // It works at A...
      await a.clientCredentials(creds, { resource: objsA.resource.indicator });
      // ...not at B, whatever the resource and the method.
      for (const resource of [objsA.resource.indicator, b.apiIndicator]) {
        for (const auth of ['basic', 'post']) {
          const res = await b.tokenRequest({ client: creds, auth,
            params: { grant_type: 'client_credentials', resource } });
          assertOAuthError(res, 401, 'invalid_client', `A's app at B (${auth}, ${resource})`);
        }
      }
      // A's management app neither, nor at the tenant default.
      const res = await b.tokenRequest({ client: a.admin,
        params: { grant_type: 'client_credentials', resource: b.apiIndicator, scope: 'all' } });
      assertOAuthError(res, 401, 'invalid_client', 'A\'s management app at B');
      const dflt = await http(`${srv.url}/oidc/token`, {
        method: 'POST',
        headers: { authorization: basicAuth(a.admin.id, a.admin.secret),
          'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials',
          resource: managementIndicator(srv, 'default'), scope: 'all' }).toString(),
      });
      assertOAuthError(dflt, 401, 'invalid_client', 'A\'s management app at default');
    });

    it('a management token of tenant A is refused (401) by tenant B\'s Management API', async () => {
      const tokenA = await a.mgmtToken({ refresh: true });
      for (const p of ['/applications', '/resources', '/roles', '/configs/oidc/private-keys',
        `/applications/${objsA.app.id}`]) {
        const res = await apiClient(srv, b.id, tokenA).get(p);
        assertApiError(res, 401, `A's token at B ${p}`);
      }
      const res = await apiClient(srv, 'default', tokenA).get('/applications');
      assertApiError(res, 401, 'A\'s token at default');
      // Writes neither.
      const w = await apiClient(srv, b.id, tokenA).post('/applications', { name: 'x', type: 'MachineToMachine' });
      assertApiError(w, 401, 'A\'s token creating at B');
    });

    it('tenant B\'s lists never show A\'s objects, and A\'s ids are 404 at B', async () => {
      const api = await b.api({ refresh: true });
      const lists = {
        '/applications': [objsA.app.id],
        '/resources': [objsA.resource.id],
        '/roles': [objsA.role.id],
        '/configs/oidc/private-keys': (await a.jwks()).keys.map((k) => k.kid),
      };
      for (const [p, ids] of Object.entries(lists)) {
        const res = await api.get(p);
        const body = expectStatus(res, 200, `B ${p}`);
        assert.ok(Array.isArray(body), `${p} is an array`);
        assert.ok(!res.text.includes(objsA.marker), `B ${p} shows A's names: ${res.text}`);
        for (const id of ids) assert.ok(!body.some((o) => o.id === id), `B ${p} shows A's ${id}`);
      }
      const paged = await api.get('/applications?page=1&page_size=100');
      assert.ok(!paged.text.includes(objsA.marker));

      for (const p of [`/applications/${objsA.app.id}`, `/resources/${objsA.resource.id}`,
        `/roles/${objsA.role.id}`]) {
        assertApiError(await api.get(p), 404, `B GET ${p}`);
      }
      for (const p of [`/applications/${objsA.app.id}/secrets`, `/applications/${objsA.app.id}/roles`,
        `/resources/${objsA.resource.id}/scopes`, `/roles/${objsA.role.id}/scopes`,
        `/roles/${objsA.role.id}/applications`]) {
        assertNoneOrNotFound(await api.get(p), `B GET ${p}`);
      }
      const { keys: keysB } = await b.jwks();
      const { keys: keysA } = await a.jwks();
      for (const k of keysA) assert.ok(!keysB.some((x) => x.kid === k.kid), 'JWKS share no key');
    });

    it('tenant B cannot change, delete or link A\'s objects', async () => {
      const api = await b.api();
      assertApiError(await api.patch(`/applications/${objsA.app.id}`, { name: 'hijacked' }), 404, 'patch A app');
      assertApiError(await api.del(`/applications/${objsA.app.id}`), 404, 'delete A app');
      assertApiError(await api.del(`/resources/${objsA.resource.id}`), 404, 'delete A resource');
      assertApiError(await api.del(`/roles/${objsA.role.id}`), 404, 'delete A role');
      const r = await api.post(`/applications/${objsA.app.id}/secrets`, { name: 'steal' });
      assertApiError(r, 404, 'add a secret to A app');

      const appB = await b.createApp({ name: uniq('b-app') });
      const link = await api.post(`/applications/${appB.id}/roles`, { roleIds: [objsA.role.id] });
      assert.ok(link.status >= 400 && link.status < 500, `link A's role to B's app: ${link.status} ${link.text}`);
      const link2 = await api.post(`/roles/${objsA.role.id}/applications`, { applicationIds: [appB.id] });
      assert.ok(link2.status >= 400 && link2.status < 500, `link via A's role: ${link2.status}`);

      // A is intact.
      const apiA = await a.api({ refresh: true });
      const app = expectStatus(await apiA.get(`/applications/${objsA.app.id}`), 200, 'A app still there');
      assert.equal(app.name, `${objsA.marker}-app`);
      const tok = await a.clientCredentials({ id: objsA.app.id, secret: objsA.app.secret },
        { resource: objsA.resource.indicator });
      assert.deepEqual(scopeSet(tok.scope), ['s']);
    });

    it('the same indicator in two tenants gives tokens of each tenant\'s issuer', async () => {
      const api = await b.api();
      const res = expectStatus(await api.post('/resources', { name: uniq('same'), indicator: objsA.resource.indicator }),
        [200, 201], 'B resource with A\'s indicator');
      assert.equal(res.indicator, objsA.resource.indicator);
      const tb = await b.clientCredentials(b.admin, { resource: objsA.resource.indicator });
      await b.verify(tb.access_token, { audience: objsA.resource.indicator });
      await assert.rejects(a.verify(tb.access_token, { audience: objsA.resource.indicator }),
        'B\'s token does not verify as A\'s');
    });

    it('a Management API change is seen by the very next request on the same node', async () => {
      // The node drops its cached view of the tenant before answering a successful write, so
      // no request after the answer can meet the old view (other nodes follow by NOTIFY).
      const api = await b.api();
      for (let i = 0; i < 15; i++) {
        const indicator = `https://e2e.example/${uniq('ryw')}`;
        expectStatus(await api.post('/resources', { name: uniq('ryw'), indicator }), [200, 201], 'create');
        const r = await b.tokenRequest({
          client: b.admin, params: { grant_type: 'client_credentials', resource: indicator },
        });
        assert.equal(r.status, 200, `round ${i}: ${r.text}`);
      }
    });
  });
});

/** client_credentials at a tenant for the given resource; resolves the access token. */
async function clientCredentialsFor(server, tenant, creds, resource) {
  const res = await http(`${nodeBase(server, tenant)}/oidc/token`, {
    method: 'POST',
    headers: { authorization: basicAuth(creds.id, creds.secret),
      'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource }).toString(),
  });
  assert.equal(res.status, 200, res.text);
  return res.json().access_token;
}
