// The application side of the authorization-code flow with openid-client, as the reference
// Auth.js app does it: discovery with ES384 ID tokens checked, PKCE S256, state and nonce, and
// the code redeemed at the token endpoint.
import * as client from 'openid-client';
import { REFERENCE_SCOPE } from './oidc.mjs';

/** Fresh state, nonce and PKCE S256 pair. */
export async function flowChecks() {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  return {
    state: client.randomState(),
    nonce: client.randomNonce(),
    pkceCodeVerifier,
    codeChallenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
  };
}

/**
 * openid-client Configuration of a confidential web app ({id, secret}) of tenant ctx, through
 * discovery, client_secret_basic, ID token signatures checked (ES384).
 */
export async function webAppConfig(ctx, app) {
  const config = await client.discovery(new URL(ctx.issuer), app.id,
    { client_secret: app.secret, id_token_signed_response_alg: 'ES384' },
    client.ClientSecretBasic(app.secret), { execute: [client.allowInsecureRequests] });
  client.enableNonRepudiationChecks(config);
  return config;
}

/** The authorization URL for app ({redirectUri}); scope defaults to the reference scenario's. */
export function authUrl(config, app, checks, extra = {}) {
  return client.buildAuthorizationUrl(config, {
    redirect_uri: app.redirectUri,
    scope: REFERENCE_SCOPE,
    state: checks.state,
    nonce: checks.nonce,
    code_challenge: checks.codeChallenge,
    code_challenge_method: 'S256',
    ...extra,
  }).href;
}

/** The code of the landing URL exchanged by the app; resolves the tokens. */
export function redeem(config, landed, checks) {
  return client.authorizationCodeGrant(config, new URL(landed), {
    pkceCodeVerifier: checks.pkceCodeVerifier, expectedState: checks.state, expectedNonce: checks.nonce,
  });
}
