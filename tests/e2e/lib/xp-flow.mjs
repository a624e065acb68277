// The Experience API sign-in that the MFA tests (mfa.test.mjs, webauthn.test.mjs, passkey tests)
// drive without a browser page: an interaction started for a web app of a tenant, the person
// identified by password, and, once the MFA step is done, submit → /oidc/auth/resume → code →
// tokens. t is {ctx: TenantCtx, app: {id, redirectUri, secret}, user: {username, password}}.
import assert from 'node:assert/strict';
import { randomId } from './harness.mjs';
import { ExperienceClient, authUrl, jose, pkcePair } from './oidc.mjs';

/** A new interaction of t's app, not yet identified; resolves {xp, pkce}. */
export async function startInteraction(t, { scope = 'openid offline_access profile' } = {}) {
  const xp = new ExperienceClient(t.ctx);
  const pkce = pkcePair();
  await xp.start(authUrl(t.ctx, {
    client_id: t.app.id, redirect_uri: t.app.redirectUri, response_type: 'code',
    scope, state: `st-${randomId(6)}`, nonce: 'n-1',
    code_challenge: pkce.challenge, code_challenge_method: 'S256',
  }));
  return { xp, pkce };
}

/** A new interaction up to identification by password (SignIn); resolves {xp, pkce}. */
export async function identifiedByPassword(t, { user = t.user, scope } = {}) {
  const flow = await startInteraction(t, { scope });
  await flow.xp.begin('SignIn');
  const v = await flow.xp.verifyPassword(user.username, user.password);
  assert.equal(v.status, 200, v.text);
  const ident = await flow.xp.call('POST', '/identification', { verificationId: v.json().verificationId });
  assert.equal(ident.status, 204, ident.text);
  return flow;
}

/** submit → resume → code → tokens; resolves the token response and the ID token's claims. */
export async function finishInteraction(t, { xp, pkce }) {
  const sub = await xp.call('POST', '/submit');
  assert.equal(sub.status, 200, `submit: ${sub.text}`);
  const landed = new URL(await xp.resume(new URL(sub.json().redirectTo, t.ctx.base + '/').href));
  const code = landed.searchParams.get('code');
  assert.ok(code, `a code in ${landed}`);
  const res = await t.ctx.tokenRequest({ client: t.app, params: {
    grant_type: 'authorization_code', code, redirect_uri: t.app.redirectUri, code_verifier: pkce.verifier } });
  assert.equal(res.status, 200, res.text);
  const tokens = res.json();
  return { tokens, claims: jose.decodeJwt(tokens.id_token) };
}

/** Asserts an Experience API error answer ({code, message}); resolves its body. */
export function assertError(res, status, code, what = code) {
  assert.equal(res.status, status, `${what}: ${res.status} ${res.text}`);
  assert.equal(res.json().code, code, `${what}: ${res.text}`);
  return res.json();
}
