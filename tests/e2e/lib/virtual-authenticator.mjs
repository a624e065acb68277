// WebAuthn in headless Chromium for the end-to-end tests (issue 12): a CDP virtual authenticator
// (the WebAuthn domain of the DevTools protocol: ctap2, internal transport, resident keys, user
// verification) attached to a Playwright page, its credentials read and rewritten (to lower a
// sign counter, as a cloned authenticator would), and the two ceremonies run in the page with
// navigator.credentials, their results handed back with every binary field in base64url (the
// shape of PublicKeyCredential.toJSON() and of @simplewebauthn, which Logto's routes take).
//
// The page must be a secure context whose host is the RP ID: http://localhost:PORT qualifies, an
// IP address does not (WebAuthn refuses IP RP IDs), so tests run latchd with
// LATCH_PUBLIC_URL=http://localhost:PORT.

/**
 * Enables the WebAuthn domain on page's target and adds a virtual authenticator. Options are the
 * protocol's VirtualAuthenticatorOptions; the defaults are a platform passkey provider:
 * ctap2, internal, resident keys, user verification performed, presence simulated.
 * Resolves {authenticatorId, cdp, credentials(), credential(id), addCredential(c),
 * removeCredential(id), setSignCount(id, n), setUserVerified(bool), remove()}.
 */
export async function addVirtualAuthenticator(page, options = {}) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
      ...options,
    },
  });
  const auth = {
    authenticatorId,
    cdp,
    /** The authenticator's credentials (credentialId, userHandle and privateKey in base64). */
    async credentials() {
      return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    },
    async credential(credentialId) {
      const found = (await auth.credentials()).find(
        (c) => toBase64url(c.credentialId) === toBase64url(credentialId));
      if (!found) throw new Error(`virtual authenticator has no credential ${credentialId}`);
      return found;
    },
    addCredential: (credential) => cdp.send('WebAuthn.addCredential', { authenticatorId, credential }),
    removeCredential: (credentialId) => cdp.send('WebAuthn.removeCredential',
      { authenticatorId, credentialId: toBase64(credentialId) }),
    /** Puts the credential back with the counter n: its next assertion signs n + 1. */
    async setSignCount(credentialId, n) {
      const c = await auth.credential(credentialId);
      await auth.removeCredential(c.credentialId);
      await auth.addCredential({ ...c, signCount: n });
    },
    setUserVerified: (isUserVerified) => cdp.send('WebAuthn.setUserVerified',
      { authenticatorId, isUserVerified }),
    async remove() {
      await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
      await cdp.detach();
    },
  };
  return auth;
}

/** base64 or base64url (the protocol answers base64) to unpadded base64url. */
export function toBase64url(s) {
  return s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** base64url to padded base64 (what the protocol takes). */
export function toBase64(s) {
  const b = s.replace(/-/g, '+').replace(/_/g, '/');
  return b + '='.repeat((4 - (b.length % 4)) % 4);
}

// In-page helpers, passed as source text: the page's CSP does not apply to code the DevTools
// protocol evaluates.
const PAGE_CODEC = `
  const fromB64url = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')
    + '='.repeat((4 - s.length % 4) % 4)), (c) => c.charCodeAt(0));
  const toB64url = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
    .replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
`;

/**
 * Runs `body` (source text of an async function body that sets `cred` and `response`) in the
 * page with the options as `o`; resolves the credential's common fields plus `response`, or
 * {error: {name, message}} when the browser refuses.
 */
function ceremony(page, body, options) {
  return page.evaluate(`(async (o) => {
    ${PAGE_CODEC}
    try {
      let cred;
      let response;
      ${body}
      return {
        id: cred.id,
        rawId: toB64url(cred.rawId),
        type: cred.type,
        authenticatorAttachment: cred.authenticatorAttachment,
        response,
        clientExtensionResults: cred.getClientExtensionResults(),
      };
    } catch (e) {
      return { error: { name: e.name, message: e.message } };
    }
  })(${JSON.stringify(options)})`);
}

/**
 * navigator.credentials.create() in the page. Arguments mirror Logto's registration options
 * (@simplewebauthn's PublicKeyCredentialCreationOptionsJSON): rp {id, name}, user {id (base64url),
 * name, displayName}, challenge (base64url), pubKeyCredParams, authenticatorSelection,
 * attestation, excludeCredentials [{id, type}]. Resolves {id, rawId, type,
 * response: {clientDataJSON, attestationObject, transports}, authenticatorAttachment} or
 * {error: {name, message}} when the browser refuses.
 */
export function createCredential(page, options) {
  return ceremony(page, `
    cred = await navigator.credentials.create({ publicKey: {
      rp: o.rp,
      user: { ...o.user, id: fromB64url(o.user.id) },
      challenge: fromB64url(o.challenge),
      pubKeyCredParams: o.pubKeyCredParams ?? [
        { type: 'public-key', alg: -7 }, { type: 'public-key', alg: -8 },
        { type: 'public-key', alg: -257 }],
      authenticatorSelection: o.authenticatorSelection ?? {
        residentKey: 'required', userVerification: 'required' },
      attestation: o.attestation ?? 'none',
      excludeCredentials: (o.excludeCredentials ?? []).map((c) => ({ ...c, id: fromB64url(c.id) })),
      timeout: 20000,
    } });
    response = {
      clientDataJSON: toB64url(cred.response.clientDataJSON),
      attestationObject: toB64url(cred.response.attestationObject),
      transports: cred.response.getTransports ? cred.response.getTransports() : [],
    };`, options);
}

/**
 * navigator.credentials.get() in the page: challenge (base64url), rpId, allowCredentials
 * [{id, type}] (empty for a discoverable, passkey sign-in), userVerification. Resolves {id, rawId,
 * type, response: {clientDataJSON, authenticatorData, signature, userHandle}} (base64url;
 * userHandle undefined when the authenticator sent none) or {error: {name, message}}.
 */
export function getAssertion(page, options) {
  return ceremony(page, `
    cred = await navigator.credentials.get({ publicKey: {
      challenge: fromB64url(o.challenge),
      rpId: o.rpId,
      allowCredentials: (o.allowCredentials ?? []).map((c) => ({ type: 'public-key', ...c,
        id: fromB64url(c.id) })),
      userVerification: o.userVerification ?? 'required',
      timeout: 20000,
    } });
    const r = cred.response;
    response = {
      clientDataJSON: toB64url(r.clientDataJSON),
      authenticatorData: toB64url(r.authenticatorData),
      signature: toB64url(r.signature),
      userHandle: r.userHandle ? toB64url(r.userHandle) : undefined,
    };`, options);
}
