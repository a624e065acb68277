// End-to-end test of social sign-in finished through the Experience API (issue 11, item 4), as
// a custom sign-in UI written against Logto does it: POST …/social/:connectorId/authorization-uri
// with the UI's own {state, redirectUri}; the upstream returns to the UI, which hands the
// callback's parameters to POST …/social/:connectorId/verify {connectorData, verificationId};
// POST /api/experience/identification {verificationId} then signs the person in (204), or answers
// 422 user.identity_not_exist for an unknown identity, after which the UI switches the event to
// Register and identifies again (201, the user is created from the profile); POST submit, and the
// application gets its code and tokens (openid-client).
//
// The mock connector (connectors/mock) stands in for the upstream: its authorization URI carries
// the state and redirect URI it was given, and its profile comes from the callback parameters
// (id, name, email, email_verified), so the test plays the upstream by building connectorData.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { adminQuery, buildDir, randomId, startLatchd } from './lib/harness.mjs';
import { CookieJar, ExperienceClient, TenantCtx, eventually, expectStatus, uniq } from './lib/oidc.mjs';
import { authUrl, flowChecks, redeem, webAppConfig } from './lib/flow.mjs';

const mockDir = path.join(buildDir, 'connectors', 'mock');
const UI_CALLBACK = 'https://signin.example.com/social/callback';

async function usersWithIdentity(tenant, userId) {
  const r = await adminQuery(
    "SELECT id, name, primary_email FROM users WHERE tenant_id = $1 AND identities->'mock'->>'userId' = $2",
    [tenant, userId]);
  return r.rows;
}

async function userCount(tenant) {
  const r = await adminQuery('SELECT count(*)::int AS n FROM users WHERE tenant_id = $1', [tenant]);
  return r.rows[0].n;
}

describe('social sign-in through the Experience API (a custom sign-in UI)', () => {
  let srv;
  let ctx;
  let app;
  let config;
  let connector;
  before(async () => {
    assert.ok(existsSync(path.join(mockDir, 'mock.so')), `the build has ${mockDir}/mock.so`);
    srv = await startLatchd({ env: { LATCH_CONNECTOR_DIR: mockDir } });
    ctx = await TenantCtx.create(srv, 'socialapi');
    const api = await ctx.api();
    app = await ctx.createWebApp('http://localhost:3000', { name: 'Custom UI app' });
    config = await webAppConfig(ctx, app);
    connector = expectStatus(await api.post('/connectors', {
      connectorId: 'mock-social',
      config: { authorizationEndpoint: 'https://upstream.example.com/authorize' },
    }), 200, 'create connector');
    await ctx.patchSignInExp({ socialSignInConnectorTargets: ['mock'] });
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  /** A started interaction and its authorization-uri answer for the UI's redirect URI. */
  async function startSocial(checks, state = `ui-${uniq('state')}`) {
    const xp = new ExperienceClient(ctx, new CookieJar());
    await xp.start(authUrl(config, app, checks));
    await xp.begin('SignIn');
    const r = await xp.call('POST', `/verification/social/${connector.id}/authorization-uri`,
      { state, redirectUri: UI_CALLBACK });
    assert.equal(r.status, 200, `authorization-uri: ${r.text}`);
    const { authorizationUri, verificationId } = r.json();
    return { xp, state, verificationId, upstream: new URL(authorizationUri) };
  }

  it('authorization-uri passes the UI\'s own redirect URI and state to the connector', async () => {
    const { upstream, state, verificationId } = await startSocial(await flowChecks());
    assert.equal(upstream.origin + upstream.pathname, 'https://upstream.example.com/authorize');
    assert.equal(upstream.searchParams.get('redirect_uri'), UI_CALLBACK);
    assert.equal(upstream.searchParams.get('state'), state);
    assert.equal(typeof verificationId, 'string');
  });

  it('a redirect URI of its own needs a state; a redirect URI must be an absolute http(s) URL', async () => {
    const xp = new ExperienceClient(ctx, new CookieJar());
    await xp.start(authUrl(config, app, await flowChecks()));
    await xp.begin('SignIn');
    const noState = await xp.call('POST', `/verification/social/${connector.id}/authorization-uri`,
      { redirectUri: UI_CALLBACK });
    assert.equal(noState.status, 400, noState.text);
    assert.equal(noState.json().code, 'guard.invalid_input');
    for (const redirectUri of ['javascript:alert(1)', '/relative', 'https://x.example/#frag', 'https:///nohost']) {
      const bad = await xp.call('POST', `/verification/social/${connector.id}/authorization-uri`,
        { state: 's', redirectUri });
      assert.equal(bad.status, 400, `${redirectUri}: ${bad.text}`);
      assert.equal(bad.json().code, 'guard.invalid_input');
    }
  });

  it('verify refuses a wrong state, another verification id and malformed connectorData; nothing is created', async () => {
    const before = await userCount(ctx.id);
    const { xp, state, verificationId } = await startSocial(await flowChecks());
    const person = { id: `mock-${uniq('eve')}`, name: 'Eve' };
    const path = `/verification/social/${connector.id}/verify`;
    const wrongState = await xp.call('POST', path,
      { verificationId, connectorData: { state: `${state}x`, ...person } });
    assert.equal(wrongState.status, 400, wrongState.text);
    assert.equal(wrongState.json().code, 'session.connector_validation_session_not_found');
    const otherId = await xp.call('POST', path,
      { verificationId: 'not-this-one', connectorData: { state, ...person } });
    assert.equal(otherId.status, 404, otherId.text);
    assert.equal(otherId.json().code, 'session.verification_session_not_found');
    for (const connectorData of [undefined, 'code=1', ['a'], { state, id: 5 }]) {
      const bad = await xp.call('POST', path, { verificationId, connectorData });
      assert.equal(bad.status, 400, `${JSON.stringify(connectorData)}: ${bad.text}`);
      assert.equal(bad.json().code, 'guard.invalid_input');
    }
    const noCsrf = await xp.call('POST', path, { verificationId, connectorData: { state, ...person } },
      { csrf: false });
    assert.equal(noCsrf.status, 403, noCsrf.text);
    // Identification before a successful verify finds no social profile.
    const early = await xp.call('POST', '/identification', { verificationId });
    assert.equal(early.status, 404, early.text);
    assert.equal(early.json().code, 'session.verification_session_not_found');
    assert.equal(await userCount(ctx.id), before, 'no user created');
    assert.deepEqual(await usersWithIdentity(ctx.id, person.id), []);
  });

  const zoe = { id: `mock-${uniq('zoe')}`, name: 'Zoe Custom', email: `zoe.${Date.now()}@example.com` };
  let zoeSub;

  it('a new identity: SignIn identification → 422 user.identity_not_exist; Register → 201; the app gets tokens', async () => {
    const checks = await flowChecks();
    const { xp, state, verificationId } = await startSocial(checks);
    const v = await xp.call('POST', `/verification/social/${connector.id}/verify`, {
      verificationId,
      connectorData: { state, id: zoe.id, name: zoe.name, email: zoe.email, email_verified: 'true' },
    });
    assert.equal(v.status, 200, `verify: ${v.text}`);
    assert.deepEqual(v.json(), { verificationId });
    // The flow's profile is kept once: a second verify is refused.
    const again = await xp.call('POST', `/verification/social/${connector.id}/verify`,
      { verificationId, connectorData: { state, id: zoe.id } });
    assert.equal(again.status, 404, again.text);

    const signIn = await xp.call('POST', '/identification', { verificationId });
    assert.equal(signIn.status, 422, signIn.text);
    assert.equal(signIn.json().code, 'user.identity_not_exist');
    assert.deepEqual(await usersWithIdentity(ctx.id, zoe.id), [], 'not created by a SignIn');

    const ev = await xp.call('PUT', '/interaction-event', { interactionEvent: 'Register' });
    assert.equal(ev.status, 204, ev.text);
    const reg = await xp.call('POST', '/identification', { verificationId });
    assert.equal(reg.status, 201, reg.text);
    const users = await usersWithIdentity(ctx.id, zoe.id);
    assert.equal(users.length, 1);
    assert.equal(users[0].name, zoe.name);
    assert.equal(users[0].primary_email, zoe.email, 'the verified email becomes the primary email');

    // The tenant's signUp asks for a username (the default), which the provider did not give:
    // Logto's user.missing_profile, fulfilled through the profile (the social identity stands in
    // for the password).
    const missing = await xp.call('POST', '/submit');
    assert.equal(missing.status, 422, missing.text);
    assert.equal(missing.json().code, 'user.missing_profile');
    assert.deepEqual(missing.json().data.missingProfile, ['username']);
    const named = await xp.call('POST', '/profile', { type: 'username', value: `zoe_${randomId(6)}` });
    assert.equal(named.status, 204, named.text);

    const sub = await xp.call('POST', '/submit');
    assert.equal(sub.status, 200, sub.text);
    const landed = await xp.resume(new URL(sub.json().redirectTo, ctx.base + '/').href);
    const tokens = await redeem(config, landed, checks);
    zoeSub = tokens.claims().sub;
    assert.equal(zoeSub, users[0].id);
  });

  it('the same identity again signs in as the same user (204), with no second user', async () => {
    const before = await userCount(ctx.id);
    const checks = await flowChecks();
    const { xp, state, verificationId } = await startSocial(checks);
    const v = await xp.call('POST', `/verification/social/${connector.id}/verify`,
      { verificationId, connectorData: { state, id: zoe.id, name: zoe.name } });
    assert.equal(v.status, 200, v.text);
    const ident = await xp.call('POST', '/identification', { verificationId });
    assert.equal(ident.status, 204, ident.text);
    const sub = await xp.call('POST', '/submit');
    assert.equal(sub.status, 200, sub.text);
    const landed = await xp.resume(new URL(sub.json().redirectTo, ctx.base + '/').href);
    const tokens = await redeem(config, landed, checks);
    assert.equal(tokens.claims().sub, zoeSub);
    assert.equal(await userCount(ctx.id), before);
  });

  it('a suspended user is refused at identification', async () => {
    await ctx.suspendUser(zoeSub, true);
    try {
      const { xp, state, verificationId } = await startSocial(await flowChecks());
      const v = await xp.call('POST', `/verification/social/${connector.id}/verify`,
        { verificationId, connectorData: { state, id: zoe.id } });
      assert.equal(v.status, 200, v.text);
      const ident = await xp.call('POST', '/identification', { verificationId });
      assert.equal(ident.status, 401, ident.text);
      assert.equal(ident.json().code, 'user.suspended');
    } finally {
      await ctx.suspendUser(zoeSub, false);
    }
  });

  it('the audit log records the social steps with the connector, its version and the user', async () => {
    const api = await ctx.api();
    const list = async (key) => expectStatus(await api.get(`/logs?logKey=${key}&page_size=100`), 200, key)
      .filter((e) => e.payload.result === 'Success');
    const create = 'Interaction.SignIn.Verification.Social.Create';
    const submit = 'Interaction.SignIn.Verification.Social.Submit';
    await eventually(async () => (await list(submit)).length >= 2, `${submit} entries`, 5000);
    for (const key of [create, submit]) {
      const entries = await list(key);
      assert.ok(entries.length >= 2, `${key}: ${entries.length}`);
      for (const e of entries) {
        assert.equal(e.payload.connectorId, connector.id, `${key}: connectorId`);
        assert.equal(typeof e.payload.connectorVersion, 'string', `${key}: connectorVersion`);
        assert.ok(e.payload.connectorVersion.length > 0, `${key}: a version`);
      }
    }
    const zoeSignIns = await list('Interaction.SignIn.Submit');
    assert.ok(zoeSignIns.some((e) => e.payload.userId === zoeSub), 'the social sign-in names the user');
  });
});
