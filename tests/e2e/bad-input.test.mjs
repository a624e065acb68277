// Bad input is a clear 4xx, never a 500 or a database code (issue 15, deliverable 5).
//
// A corpus of bad values — ill-formed UTF-8 (%ff, the overlong %c0%af, the lone surrogate
// %ed%a0%80, truncated sequences), NUL bytes, over-long values, and in JSON bodies lone-surrogate
// escapes, raw invalid bytes and duplicate keys — is fed to the OAuth endpoints (token, auth,
// revocation, introspection, userinfo), the Management API (applications, users, signing keys)
// and the Experience API, in query, form, path, header and JSON positions. Every answer must be a
// 4xx in the protocol's shape (RFC 6749 JSON, the authorization endpoint's page-or-redirect rule,
// Logto's {code, message}), must not carry anything shaped like a SQLSTATE (22021), and the rows
// of the tenant's tables must be the same afterwards as before.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { adminQuery, http, startLatchd } from './lib/harness.mjs';
import {
  CSRF_HEADER,
  ExperienceClient,
  TenantCtx,
  authUrl,
  basicAuth,
  isRedirect,
  jarFetch,
  uniqPassword,
  uniqUsername,
} from './lib/oidc.mjs';

const RP = 'http://localhost:3000';

/** Percent-encoded values that decode to ill-formed UTF-8. */
const BAD_UTF8 = ['%ff', '%ff%fe', '%c0%af', '%ed%a0%80', '%e2%82', '%f0%9f%98', 'a%80b', 'ok%c3'];
/** Other bad values: a NUL byte, over-long values. */
const BAD_OTHER = ['%00', 'a%00b', 'x'.repeat(5000)];
const BAD = [...BAD_UTF8, ...BAD_OTHER];

/** JSON strings (already encoded) that decode to ill-formed UTF-8 through escapes. */
const BAD_JSON_STRINGS = ['"\\udc00"', '"\\ud800"', '"a\\udfffb"'];

/** The tables a request could touch; every row of the tenant, hashed. */
const TABLES = ['applications', 'application_secrets', 'users', 'signing_keys', 'interactions',
  'sessions', 'authorization_codes', 'refresh_tokens', 'sentinel_activities', 'resources', 'roles',
  'sign_in_experiences'];

async function snapshot(tenant) {
  const out = {};
  for (const t of TABLES) {
    const r = await adminQuery(`SELECT count(*)::int AS n, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h
      FROM ${t} x WHERE tenant_id = $1`, [tenant]);
    out[t] = `${r.rows[0].n}:${r.rows[0].h}`;
  }
  return out;
}

/** Five characters of [0-9A-Z] starting with a digit, standing alone: a SQLSTATE such as 22021. */
const SQLSTATE = /(?<![0-9A-Za-z])[0-9][0-9A-Z]{4}(?![0-9A-Za-z])/;

function assertNoSqlstate(res, what, strip) {
  let text = res.text;
  for (const s of strip) text = text.split(s).join('');
  const m = text.match(SQLSTATE);
  assert.equal(m, null, `${what}: something like a SQLSTATE (${m?.[0]}) in ${res.text.slice(0, 300)}`);
}

function assert4xx(res, what) {
  assert.ok(res.status >= 400 && res.status < 500, `${what}: want 4xx, got ${res.status} ${res.text.slice(0, 300)}`);
}

/** RFC 6749 §5.2 JSON error; returns the body. */
function assertOAuthShape(res, what, errors) {
  assert4xx(res, what);
  assert.match(res.headers.get('content-type') || '', /^application\/json/, `${what}: content-type`);
  const body = JSON.parse(res.text);
  assert.ok(errors.includes(body.error), `${what}: error ${body.error}, want one of ${errors} (${res.text.slice(0, 300)})`);
  return body;
}

/** Logto's {code, message}; returns the body. */
function assertLogtoShape(res, what) {
  assert4xx(res, what);
  assert.match(res.headers.get('content-type') || '', /^application\/json/, `${what}: content-type`);
  const body = JSON.parse(res.text);
  assert.equal(typeof body.code, 'string', `${what}: code in ${res.text.slice(0, 300)}`);
  assert.equal(typeof body.message, 'string', `${what}: message in ${res.text.slice(0, 300)}`);
  assert.doesNotMatch(body.code, /^[0-9A-Z]{5}$/, `${what}: code is a SQLSTATE`);
  return body;
}

/** A form body from [name, rawValue] pairs; raw values are sent as they are (percent-encoded). */
const form = (pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&');

describe('bad input: 4xx in the protocol shape, no SQLSTATE, nothing stored', () => {
  let srv;
  let ctx;
  let api;
  let web; // Traditional app with a secret
  let m2m;
  let user;
  let xp; // an Experience API client with a live interaction
  let before0;
  let strip;
  let count = 0;

  before(async () => {
    srv = await startLatchd();
    ctx = await TenantCtx.create(srv, 'bad');
    api = await ctx.api();
    web = await ctx.createWebApp(RP);
    const m = await ctx.createApp({ name: 'bad-input m2m', type: 'MachineToMachine' });
    m2m = { id: m.id, secret: m.secret };
    user = await ctx.createUser({ username: uniqUsername('bad'), password: uniqPassword() });
    xp = new ExperienceClient(ctx);
    await xp.start(authUrl(ctx, { client_id: web.id, redirect_uri: web.redirectUri, response_type: 'code',
      scope: 'openid', state: 'st-1' }));
    await xp.begin('SignIn');
    strip = [srv.url, srv.publicUrl, ctx.base, String(new URL(srv.url).port)].filter(Boolean);
    before0 = await snapshot(ctx.id);
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  const seen = (res, what) => {
    count++;
    assertNoSqlstate(res, what, strip);
    return res;
  };

  const post = (path, body, headers = {}) =>
    http(`${ctx.base}${path}`, { method: 'POST', body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });

  it('the token endpoint refuses bad parameters with invalid_request (or invalid_client)', async () => {
    const fields = ['client_id', 'client_secret', 'code', 'refresh_token', 'scope', 'resource', 'grant_type'];
    for (const field of fields) {
      for (const bad of BAD) {
        let pairs;
        if (field === 'code') {
          pairs = [['grant_type', 'authorization_code'], ['client_id', web.id], ['client_secret', web.secret],
            ['redirect_uri', encodeURIComponent(web.redirectUri)], ['code', bad]];
        } else if (field === 'refresh_token') {
          pairs = [['grant_type', 'refresh_token'], ['client_id', web.id], ['client_secret', web.secret],
            ['refresh_token', bad]];
        } else {
          pairs = Object.entries({ grant_type: 'client_credentials', client_id: m2m.id, client_secret: m2m.secret,
            [field]: bad });
        }
        const what = `/oidc/token ${field}=${bad.slice(0, 20)}`;
        const res = seen(await post('/oidc/token', form(pairs)), what);
        const body = assertOAuthShape(res, what, ['invalid_request', 'invalid_client', 'invalid_grant',
          'invalid_scope', 'invalid_target', 'unsupported_grant_type', 'unauthorized_client']);
        if (BAD_UTF8.includes(bad)) {
          assert.equal(body.error, 'invalid_request', `${what}: ${res.text}`);
          assert.equal(res.status, 400, what);
          assert.ok(body.error_description.includes(field), `${what}: names the field: ${res.text}`);
        }
      }
    }
    // The original report: client_id=%ff%fe was a 500 {"code":"22021"}.
    const res = seen(await post('/oidc/token', 'grant_type=client_credentials&client_id=%ff%fe&client_secret=x'), 'report');
    assert.equal(res.status, 400);
    assert.equal(JSON.parse(res.text).error, 'invalid_request');
    // Credentials in HTTP Basic decode the same way (form-urlencoded): refused as client auth.
    for (const bad of BAD_UTF8) {
      const r = seen(await post('/oidc/token', 'grant_type=client_credentials',
        { authorization: basicAuth(bad, 'secret') }), `basic ${bad}`);
      assertOAuthShape(r, `basic ${bad}`, ['invalid_client', 'invalid_request']);
    }
  });

  it('revocation and introspection refuse bad parameters', async () => {
    for (const path of ['/oidc/token/revocation', '/oidc/token/introspection']) {
      for (const field of ['token', 'token_type_hint', 'client_id', 'client_secret']) {
        for (const bad of BAD) {
          const pairs = Object.entries({ token: 'abc', client_id: web.id, client_secret: web.secret, [field]: bad });
          const what = `${path} ${field}=${bad.slice(0, 20)}`;
          const res = seen(await post(path, form(pairs)), what);
          // RFC 7009 §2.2 / RFC 7662 §2.2: a well-formed but unknown token is a 200 (not active).
          if ((field === 'token' || field === 'token_type_hint') && bad.length > 100 && res.status === 200) continue;
          const body = assertOAuthShape(res, what, ['invalid_request', 'invalid_client', 'unsupported_token_type']);
          if (BAD_UTF8.includes(bad)) assert.equal(body.error, 'invalid_request', `${what}: ${res.text}`);
        }
      }
    }
  });

  it('userinfo refuses a bad token in the header, the query or the form', async () => {
    for (const bad of BAD) {
      const what = `/oidc/me ${bad.slice(0, 20)}`;
      const viaForm = seen(await post('/oidc/me', `access_token=${bad}`), `${what} (form)`);
      assert4xx(viaForm, `${what} (form)`);
      const viaHeader = seen(await http(`${ctx.base}/oidc/me`, { headers: { authorization: `Bearer ${bad}` } }),
        `${what} (header)`);
      assert4xx(viaHeader, `${what} (header)`);
    }
    // Raw bytes above 0x7f in the header (latin-1 on the wire).
    const raw = seen(await http(`${ctx.base}/oidc/me`, { headers: { authorization: 'Bearer \xff\xfe\xed\xa0\x80' } }), 'raw header');
    assert4xx(raw, 'raw header');
  });

  it('the authorization endpoint: untrusted → page, trusted → redirect with a valid state only', async () => {
    const good = { client_id: web.id, redirect_uri: encodeURIComponent(web.redirectUri), response_type: 'code',
      scope: 'openid', state: 'good-state' };
    const url = (params) => `${ctx.base}/oidc/auth?${form(Object.entries(params))}`;
    for (const bad of BAD) {
      for (const field of ['client_id', 'redirect_uri']) {
        const what = `/oidc/auth ${field}=${bad.slice(0, 20)}`;
        const res = seen(await http(url({ ...good, [field]: bad })), what);
        assert4xx(res, what);
        assert.equal(res.headers.get('location'), null, `${what}: no redirect to an untrusted URI`);
        assert.match(res.headers.get('content-type') || '', /^text\/html/, `${what}: the error page`);
      }
      for (const field of ['state', 'scope', 'nonce', 'prompt']) {
        const what = `/oidc/auth ${field}=${bad.slice(0, 20)}`;
        const res = seen(await http(url({ ...good, [field]: bad })), what);
        if (BAD_OTHER.includes(bad)) {
          // A NUL is malformed form encoding (page); a long value may pass to a later check.
          assert.ok(res.status < 500, `${what}: ${res.status}`);
          if (!isRedirect(res.status)) assert4xx(res, what);
          continue;
        }
        assert.ok(isRedirect(res.status), `${what}: want a redirect to the client, got ${res.status} ${res.text.slice(0, 200)}`);
        const loc = new URL(res.headers.get('location'));
        assert.equal(`${loc.origin}${loc.pathname}`, web.redirectUri, `${what}: back to the redirect URI`);
        assert.equal(loc.searchParams.get('error'), 'invalid_request', `${what}: ${loc}`);
        assert.equal(loc.searchParams.get('code'), null, `${what}: no code`);
        assert.ok(loc.searchParams.get('error_description').includes(field), `${what}: names the field`);
        assert.equal(loc.searchParams.get('state'), field === 'state' ? null : 'good-state', `${what}: state`);
      }
    }
    // The original report: state=%ff was a 503.
    const res = seen(await http(url({ ...good, state: '%ff' })), 'report');
    assert.equal(res.status, 303);
    // POST carries the same rules.
    const p = seen(await post('/oidc/auth', form(Object.entries({ ...good, scope: '%ed%a0%80' }))), 'POST /oidc/auth');
    assert.ok(isRedirect(p.status), `POST: ${p.status}`);
    assert.equal(new URL(p.headers.get('location')).searchParams.get('error'), 'invalid_request');
  });

  it('the Management API answers 400 naming the path parameter, query parameter or body problem', async () => {
    const paths = [
      ['GET', '/applications/:x'], ['PATCH', '/applications/:x'], ['DELETE', '/applications/:x'],
      ['GET', '/applications/:x/secrets'], ['GET', '/users/:x'], ['PATCH', '/users/:x'],
      ['DELETE', '/configs/oidc/private-keys/:x'], ['GET', '/applications/:x/roles'],
    ];
    for (const [method, pattern] of paths) {
      for (const bad of BAD_UTF8) {
        const p = pattern.replace(':x', bad);
        const what = `${method} /api${p}`;
        const res = seen(await api.req(method, p, method === 'PATCH' ? { name: 'x' } : undefined), what);
        const body = assertLogtoShape(res, what);
        assert.equal(res.status, 400, `${what}: ${res.text}`);
        assert.equal(body.code, 'guard.invalid_input', `${what}: ${res.text}`);
      }
      for (const bad of BAD_OTHER) {
        const p = pattern.replace(':x', bad);
        const what = `${method} /api${p.slice(0, 60)}`;
        assertLogtoShape(seen(await api.req(method, p, method === 'PATCH' ? { name: 'x' } : undefined), what), what);
      }
    }
    // The original report: DELETE …/private-keys/%ff was a 500 {"code":"22021"}.
    const r = seen(await api.del('/configs/oidc/private-keys/%ff'), 'report');
    assert.equal(r.status, 400);
    assert.ok(JSON.parse(r.text).message.includes('keyId'), r.text);
    // Query parameters.
    for (const q of ['search', 'page', 'page_size', 'types']) {
      for (const bad of BAD_UTF8) {
        for (const path of ['/applications', '/users']) {
          const what = `GET /api${path}?${q}=${bad}`;
          const res = seen(await api.get(`${path}?${q}=${bad}`), what);
          const body = assertLogtoShape(res, what);
          assert.equal(res.status, 400, what);
          assert.ok(body.message.includes(q), `${what}: names ${q}: ${res.text}`);
        }
      }
    }
  });

  it('Management API bodies: escapes to bad UTF-8, raw bad bytes, NULs and duplicate keys are 400', async () => {
    const targets = [['POST', '/applications', 'name', { type: 'MachineToMachine' }],
      ['PATCH', `/applications/${m2m.id}`, 'name', {}], ['PATCH', `/applications/${m2m.id}`, 'description', {}],
      ['POST', '/users', 'username', {}], ['PATCH', `/users/${user.id}`, 'name', {}],
      ['POST', '/applications', 'type', { name: 'n' }]];
    for (const [method, path, field, rest] of targets) {
      const prefix = JSON.stringify(rest).slice(1, -1);
      const join = prefix ? `${prefix},` : '';
      const bodies = [
        ...BAD_JSON_STRINGS.map((s) => [`{${join}"${field}":${s}}`, 'escape']),
        [`{${join}"${field}":"a","${field}":"b"}`, 'duplicate'],
        [`{${join}"${field}":"\\u0000"}`, 'nul'],
        [`{${join}"${field}":"${'y'.repeat(300000)}"}`, 'long'],
      ];
      for (const [text, kind] of bodies) {
        const what = `${method} /api${path} ${field} ${kind}`;
        const res = seen(await api.req(method, path, text, { raw: true }), what);
        const body = assertLogtoShape(res, what);
        if (kind === 'duplicate') {
          assert.equal(res.status, 400, what);
          assert.ok(body.message.includes(field), `${what}: names the key: ${res.text}`);
        } else if (kind !== 'long') {
          assert.equal(res.status, 400, `${what}: ${res.text}`);
        }
      }
      for (const bytes of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
        const buf = Buffer.concat([Buffer.from(`{${join}"${field}":"a`), Buffer.from(bytes), Buffer.from('"}')]);
        const what = `${method} /api${path} ${field} raw ${Buffer.from(bytes).toString('hex')}`;
        const res = seen(await api.req(method, path, buf, { raw: true }), what);
        const body = assertLogtoShape(res, what);
        assert.equal(res.status, 400, what);
        assert.match(body.message, /UTF-8/, what);
      }
    }
    // A nested duplicate is found too, and the report's own example.
    const nested = seen(await api.post('/applications', '{"name":"n","type":"Traditional","oidcClientMetadata":' +
      '{"redirectUris":["https://a.example/cb"],"redirectUris":[]}}', { raw: true }), 'nested duplicate');
    assert.ok(assertLogtoShape(nested, 'nested').message.includes('redirectUris'), nested.text);
    const rep = seen(await api.post('/applications', '{"name":"x","name":"y","type":"MachineToMachine"}',
      { raw: true }), 'report duplicate');
    assert.equal(rep.status, 400, rep.text);
  });

  it('Experience API bodies and paths are refused the same way', async () => {
    const bodies = [
      ...BAD_JSON_STRINGS.map((s) => `{"interactionEvent":${s}}`),
      '{"interactionEvent":"SignIn","interactionEvent":"Register"}',
    ];
    for (const text of bodies) {
      const res = seen(await rawXp('PUT', '', text), `PUT /api/experience ${text}`);
      assert.equal(assertLogtoShape(res, `PUT /api/experience ${text}`).code, 'guard.invalid_input', res.text);
    }
    const pw = [
      ...BAD_JSON_STRINGS.map((s) => `{"identifier":{"type":"username","value":${s}},"password":"x"}`),
      ...BAD_JSON_STRINGS.map((s) => `{"identifier":{"type":"username","value":"u"},"password":${s}}`),
      '{"identifier":{"type":"username","value":"u","value":"v"},"password":"x"}',
      '{"identifier":{"type":"username","value":"u"},"password":"x","password":"y"}',
    ];
    for (const text of pw) {
      const what = `POST verification/password ${text.slice(0, 80)}`;
      const res = seen(await rawXp('POST', '/verification/password', text), what);
      const body = assertLogtoShape(res, what);
      assert.equal(res.status, 400, `${what}: ${res.text}`);
      assert.equal(body.code, 'guard.invalid_input', what);
    }
    for (const bytes of [[0xff], [0xed, 0xa0, 0x80]]) {
      const buf = Buffer.concat([Buffer.from('{"identifier":{"type":"username","value":"'), Buffer.from(bytes),
        Buffer.from('"},"password":"x"}')]);
      const res = seen(await rawXp('POST', '/verification/password', buf), 'raw bytes');
      assert.equal(assertLogtoShape(res, 'raw bytes').code, 'guard.invalid_input');
    }
    for (const bad of BAD_UTF8) {
      const res = seen(await rawXp('POST', `/identification`, `{"verificationId":"${bad}"}`), `identification ${bad}`);
      assertLogtoShape(res, `identification ${bad}`);
    }

    function rawXp(method, path, body) {
      return jarFetch(xp.jar, `${ctx.base}/api/experience${path}`, { method, body,
        headers: { 'content-type': 'application/json', [CSRF_HEADER]: xp.csrfToken } });
    }
  });

  it('nothing stored changed', async () => {
    assert.ok(count > 400, `the corpus reached the routes (${count} requests)`);
    assert.deepEqual(await snapshot(ctx.id), before0);
  });
});
