// End-to-end tests of multi-factor authentication (issue 12): the sign-in experience's mfa
// settings, TOTP and backup codes through Logto's Experience API (enrolment, verification at
// sign-in, replays refused), the policies (Mandatory, prompt with skip, NoPrompt, an organization
// that requires MFA), the RFC 8176 amr claim of ID tokens (also after a refresh), and that
// /oidc/auth/resume does not let an interaction past an unfinished MFA step.
//
// TOTP codes are computed here (RFC 6238 with node:crypto) from the secret latchd hands out, as
// an authenticator app would.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { adminQuery, randomId, startLatchd } from './lib/harness.mjs';
import { assertError, finishInteraction, identifiedByPassword, startInteraction } from './lib/xp-flow.mjs';
import { base32Decode, otherCode, totp, totpStep } from './lib/totp.mjs';
import {
  TenantCtx,
  expectStatus,
  jarFetch,
  jose,
} from './lib/oidc.mjs';

const RP = 'http://localhost:3000';

describe('multi-factor authentication', () => {
  let srv;
  before(async () => {
    srv = await startLatchd();
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  async function tenant(name, mfa) {
    const ctx = await TenantCtx.create(srv, name);
    if (mfa) await ctx.patchSignInExp({ mfa });
    const app = await ctx.createWebApp(RP);
    const user = await ctx.createUser();
    return { ctx, app, user };
  }

  const identified = identifiedByPassword;
  const finish = finishInteraction;

  let enrolStep; // the time step whose code proved the last secret enrolled

  /** Enrols TOTP in the interaction; resolves the secret. */
  async function enrolTotp(xp) {
    const sec = await xp.call('POST', '/verification/totp/secret');
    assert.equal(sec.status, 200, sec.text);
    const { verificationId, secret, keyUri } = sec.json();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    assert.match(keyUri, /^otpauth:\/\/totp\/.+\?secret=[A-Z2-7]{32}&issuer=.+&algorithm=SHA1&digits=6&period=30$/);
    const bad = await xp.call('POST', '/verification/totp/verify',
      { verificationId, code: otherCode(totp(secret), 1) });
    assertError(bad, 400, 'session.mfa.invalid_totp_code', 'a wrong code for the new secret');
    // Binding an unproved secret is refused.
    assertError(await xp.call('POST', '/profile/mfa', { type: 'Totp', verificationId }), 400,
      'session.verification_failed', 'binding before the proof');
    enrolStep = totpStep();
    const ok = await xp.call('POST', '/verification/totp/verify',
      { verificationId, code: totp(secret, enrolStep) });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json().verificationId, verificationId);
    const bind = await xp.call('POST', '/profile/mfa', { type: 'Totp', verificationId });
    assert.equal(bind.status, 204, bind.text);
    return secret;
  }

  it('sign-in experience: mfa in GET/PATCH /api/sign-in-exp, validated', async () => {
    const ctx = await TenantCtx.create(srv, 'mfa-sie');
    const api = await ctx.api();
    const sie = expectStatus(await api.get('/sign-in-exp'), 200, 'GET');
    assert.deepEqual(sie.mfa, { factors: [], policy: 'UserControlled', organizationRequiredMfaPolicy: 'NoPrompt' });
    const patched = await ctx.patchSignInExp({ mfa: { factors: ['Totp', 'BackupCode'], policy: 'PromptOnlyAtSignIn' } });
    assert.deepEqual(patched.mfa, { factors: ['Totp', 'BackupCode'], policy: 'PromptOnlyAtSignIn',
      organizationRequiredMfaPolicy: 'NoPrompt' });
    for (const bad of [{ factors: ['Sms'], policy: 'Mandatory' }, { factors: ['Totp', 'Totp'], policy: 'Mandatory' },
      { factors: ['BackupCode'], policy: 'Mandatory' }, { factors: ['Totp'], policy: 'Always' },
      { factors: ['Totp'], policy: 'Mandatory', organizationRequiredMfaPolicy: 'Sometimes' }, 'Totp']) {
      const res = await api.patch('/sign-in-exp', { mfa: bad });
      assert.equal(res.status, 400, `${JSON.stringify(bad)}: ${res.status} ${res.text}`);
    }
    assert.deepEqual(expectStatus(await api.get('/sign-in-exp'), 200, 'GET').mfa.factors, ['Totp', 'BackupCode']);
  });

  it('Mandatory: enrolment of TOTP and backup codes, then sign-in with each; replays refused; amr', async () => {
    const t = await tenant('mfa-mand', { factors: ['Totp', 'BackupCode'], policy: 'Mandatory' });
    // Enrolment at the first sign-in.
    let step = await identified(t);
    let { xp } = step;
    let body = assertError(await xp.call('POST', '/submit'), 422, 'user.missing_mfa', 'submit without a factor');
    assert.deepEqual(body.data.availableFactors, ['Totp']);
    assert.equal(body.data.skippable, undefined, 'Mandatory is not skippable');
    assertError(await xp.call('POST', '/profile/mfa/mfa-skipped'), 422,
      'session.mfa.mfa_policy_not_user_controlled', 'skip under Mandatory');
    const view = await xp.loadInteraction();
    assert.deepEqual(view.mfa.factors, ['Totp', 'BackupCode']);
    assert.equal(view.mfaStep.problem, 'missing_mfa');
    // /oidc/auth/resume does not let the interaction past the MFA step.
    const early = await jarFetch(xp.jar, `${t.ctx.base}/oidc/auth/resume`);
    assert.equal(early.status, 303);
    assert.equal(new URL(early.location).pathname.endsWith('/sign-in'), true, early.location);
    // Backup codes cannot be the only factor.
    const gen0 = await xp.call('POST', '/verification/backup-code/generate');
    assert.equal(gen0.status, 200, gen0.text);
    assertError(await xp.call('POST', '/profile/mfa', { type: 'BackupCode', verificationId: gen0.json().verificationId }),
      422, 'session.mfa.backup_code_can_not_be_alone');
    const secret = await enrolTotp(xp);
    assertError(await xp.call('POST', '/submit'), 422, 'session.mfa.backup_code_required', 'backup codes next');
    const gen = await xp.call('POST', '/verification/backup-code/generate');
    assert.equal(gen.status, 200, gen.text);
    const { codes, verificationId: backupId } = gen.json();
    assert.equal(codes.length, 10);
    for (const c of codes) assert.match(c, /^[0-9a-f]{10}$/);
    assert.equal(new Set(codes).size, 10);
    assert.equal((await xp.call('POST', '/profile/mfa', { type: 'BackupCode', verificationId: backupId })).status, 204);
    let { tokens, claims } = await finish(t, step);
    assert.deepEqual([...claims.amr].sort(), ['mfa', 'otp', 'pwd'], `amr ${JSON.stringify(claims.amr)}`);
    // The refresh-issued ID token says the same.
    const refreshed = await t.ctx.tokenRequest({ client: t.app, params: {
      grant_type: 'refresh_token', refresh_token: tokens.refresh_token } });
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.deepEqual([...jose.decodeJwt(refreshed.json().id_token).amr].sort(), ['mfa', 'otp', 'pwd']);

    // At rest: the secret sealed, the codes hashed.
    const rows = await adminQuery(
      `SELECT f.type, encode(f.totp_secret_sealed, 'hex') AS sealed,
              (SELECT count(*) FROM mfa_backup_codes c WHERE c.tenant_id = f.tenant_id AND c.factor_id = f.id) AS n,
              (SELECT string_agg(encode(c.code_hash, 'hex'), ',') FROM mfa_backup_codes c
                WHERE c.tenant_id = f.tenant_id AND c.factor_id = f.id) AS hashes
         FROM mfa_factors f WHERE f.tenant_id = $1 AND f.user_id = $2 ORDER BY f.type`, [t.ctx.id, t.user.id]);
    assert.deepEqual(rows.rows.map((r) => r.type), ['BackupCode', 'Totp']);
    const sealed = rows.rows[1].sealed;
    assert.ok(!sealed.includes(base32Decode(secret).toString('hex')), 'the TOTP secret is not stored in the clear');
    assert.equal(Number(rows.rows[0].n), 10);
    for (const c of codes) assert.ok(!rows.rows[0].hashes.includes(Buffer.from(c).toString('hex')), 'codes hashed');

    // The next sign-in asks for a factor.
    step = await identified(t);
    ({ xp } = step);
    body = assertError(await xp.call('POST', '/submit'), 403, 'session.mfa.require_mfa_verification');
    assert.deepEqual([...body.data.availableFactors].sort(), ['BackupCode', 'Totp']);
    assert.equal(body.data.backupCodesLeft, 10);
    // The password alone cannot replace the second factor: binding waits for a verification.
    const regen = await xp.call('POST', '/verification/backup-code/generate');
    assert.equal(regen.status, 200, regen.text);
    assertError(await xp.call('POST', '/profile/mfa', { type: 'BackupCode', verificationId: regen.json().verificationId }),
      403, 'session.mfa.require_mfa_verification', 'new backup codes before MFA');
    const sec2 = (await xp.call('POST', '/verification/totp/secret')).json();
    assert.equal((await xp.call('POST', '/verification/totp/verify',
      { verificationId: sec2.verificationId, code: totp(sec2.secret) })).status, 200);
    assertError(await xp.call('POST', '/profile/mfa', { type: 'Totp', verificationId: sec2.verificationId }),
      403, 'session.mfa.require_mfa_verification', 'a new TOTP before MFA');
    const early2 = await jarFetch(xp.jar, `${t.ctx.base}/oidc/auth/resume`);
    assert.ok(new URL(early2.location).pathname.endsWith('/sign-in'), `resume: ${early2.location}`);
    const wrong = await xp.call('POST', '/verification/totp/verify', { code: otherCode(totp(secret), 3) });
    assertError(wrong, 400, 'session.mfa.invalid_totp_code');
    // The code that proved the secret at enrolment does not sign in as well.
    assertError(await xp.call('POST', '/verification/totp/verify', { code: totp(secret, enrolStep) }), 400,
      'session.mfa.invalid_totp_code', 'the enrolment code again');
    const code = totp(secret, enrolStep + 1);
    const ok = await xp.call('POST', '/verification/totp/verify', { code });
    assert.equal(ok.status, 200, ok.text);
    ({ claims } = await finish(t, step));
    assert.deepEqual([...claims.amr].sort(), ['mfa', 'otp', 'pwd']);

    // The same code again (within its window) is refused; so is the code of the step before.
    step = await identified(t);
    ({ xp } = step);
    assertError(await xp.call('POST', '/verification/totp/verify', { code }), 400, 'session.mfa.invalid_totp_code',
      'a TOTP code reused');
    assertError(await xp.call('POST', '/verification/totp/verify',
      { code: totp(secret, totpStep() - 1) }), 400, 'session.mfa.invalid_totp_code',
    'an older step after a newer one was accepted');
    assertError(await xp.call('POST', '/submit'), 403, 'session.mfa.require_mfa_verification');
    // A backup code works once.
    const used = await xp.call('POST', '/verification/backup-code/verify', { code: codes[3].toUpperCase() });
    assert.equal(used.status, 200, used.text);
    assert.equal(used.json().remainCodes, 9, 'the person is told how many remain');
    await finish(t, step);
    step = await identified(t);
    ({ xp } = step);
    assertError(await xp.call('POST', '/verification/backup-code/verify', { code: codes[3] }), 400,
      'session.mfa.invalid_backup_code', 'a backup code used twice');
    assertError(await xp.call('POST', '/verification/backup-code/verify', { code: 'not-a-code' }), 400,
      'session.mfa.invalid_backup_code', 'a backup code of another shape');
    const other = await xp.call('POST', '/verification/backup-code/verify', { code: codes[4] });
    assert.equal(other.status, 200, other.text);
    await finish(t, step);
    const left = await adminQuery(
      `SELECT count(*) FROM mfa_backup_codes c JOIN mfa_factors f ON f.tenant_id = c.tenant_id AND f.id = c.factor_id
        WHERE f.tenant_id = $1 AND f.user_id = $2 AND c.used_at IS NULL`, [t.ctx.id, t.user.id]);
    assert.equal(Number(left.rows[0].count), 8);

    // All backup codes used: after the authenticator, new ones are asked for.
    await adminQuery(`UPDATE mfa_backup_codes SET used_at = now() WHERE tenant_id = $1`, [t.ctx.id]);
    step = await identified(t);
    ({ xp } = step);
    const bodyAll = assertError(await xp.call('POST', '/submit'), 403, 'session.mfa.require_mfa_verification');
    assert.deepEqual(bodyAll.data.availableFactors, ['Totp'], 'used-up backup codes are not offered');
    // (As if a minute had passed since the last accepted code.)
    await adminQuery('UPDATE mfa_factors SET totp_last_step = $2 WHERE tenant_id = $1 AND type = $3',
      [t.ctx.id, totpStep() - 2, 'Totp']);
    assert.equal((await xp.call('POST', '/verification/totp/verify', { code: totp(secret) })).status, 200,
      'a fresh code');
    assertError(await xp.call('POST', '/submit'), 422, 'session.mfa.backup_code_required', 'new backup codes');
    const fresh = (await xp.call('POST', '/verification/backup-code/generate')).json();
    assert.equal((await xp.call('POST', '/profile/mfa', { type: 'BackupCode', verificationId: fresh.verificationId })).status, 204);
    await finish(t, step);
  });

  it('wrong codes are limited per interaction', async () => {
    const t = await tenant('mfa-lim', { factors: ['Totp'], policy: 'Mandatory' });
    const step = await identified(t);
    const secret = await enrolTotp(step.xp);
    await finish(t, step);
    const { xp } = await identified(t);
    const bad = otherCode(totp(secret), 5);
    let last;
    for (let i = 0; i < 11; i++) last = await xp.call('POST', '/verification/totp/verify', { code: bad });
    assertError(last, 429, 'guard.too_many_requests', 'after ten wrong codes');
    assertError(await xp.call('POST', '/verification/totp/verify', { code: totp(secret) }), 429,
      'guard.too_many_requests', 'even the right code');
  });

  it('prompt policies: skippable enrolment remembered; NoPrompt; PromptOnlyAtSignIn at registration', async () => {
    const t = await tenant('mfa-prompt', { factors: ['Totp'], policy: 'PromptAtSignInAndSignUp' });
    let step = await identified(t);
    const body = assertError(await step.xp.call('POST', '/submit'), 422, 'user.missing_mfa');
    assert.equal(body.data.skippable, true);
    assert.equal((await step.xp.call('POST', '/profile/mfa/mfa-skipped')).status, 204);
    let { claims } = await finish(t, step);
    assert.deepEqual(claims.amr, ['pwd'], 'password only: no mfa');
    // Not asked again.
    step = await identified(t);
    await finish(t, step);

    const n = await tenant('mfa-noprompt', { factors: ['Totp'], policy: 'NoPrompt' });
    step = await identified(n);
    ({ claims } = await finish(n, step));
    assert.deepEqual(claims.amr, ['pwd']);
    // A person who enrols anyway is asked for the factor from then on.
    step = await identified(n);
    await enrolTotp(step.xp);
    await finish(n, step);
    step = await identified(n);
    assertError(await step.xp.call('POST', '/submit'), 403, 'session.mfa.require_mfa_verification');

    // PromptOnlyAtSignIn lets a registration through.
    const r = await tenant('mfa-reg', { factors: ['Totp'], policy: 'PromptOnlyAtSignIn' });
    const reg = await startInteraction(r, { scope: 'openid' });
    const { xp } = reg;
    await xp.begin('Register');
    const np = await xp.call('POST', '/verification/new-password-identity',
      { identifier: { type: 'username', value: `reg_${randomId(8)}` }, password: `Pw-${randomId(12)}-9x!Q` });
    assert.equal(np.status, 200, np.text);
    assert.equal((await xp.call('POST', '/identification', { verificationId: np.json().verificationId })).status, 201);
    ({ claims } = await finish(r, reg));
    assert.deepEqual(claims.amr, ['pwd']);
  });

  it('an organization that requires MFA: enrolment not skippable; organization tokens refused without MFA', async () => {
    const t = await tenant('mfa-org', { factors: ['Totp'], policy: 'NoPrompt' });
    const api = await t.ctx.api();
    const org = expectStatus(await api.post('/organizations', { name: `Org ${randomId(6)}`, isMfaRequired: true }),
      [200, 201], 'create organization');
    expectStatus(await api.post(`/organizations/${org.id}/users`, { userIds: [t.user.id] }), 201, 'add member');
    // organizationRequiredMfaPolicy NoPrompt: sign-in goes through; the organization token does not.
    let step = await identified(t, { scope: 'openid offline_access profile urn:logto:scope:organizations' });
    const { tokens } = await finish(t, step);
    const refused = await t.ctx.tokenRequest({ client: t.app, params: {
      grant_type: 'refresh_token', refresh_token: tokens.refresh_token, organization_id: org.id } });
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.json().error, 'invalid_grant');
    assert.match(refused.json().error_description, /multi-factor/);
    // The refusal did not use up the refresh token.
    const still = await t.ctx.tokenRequest({ client: t.app, params: {
      grant_type: 'refresh_token', refresh_token: tokens.refresh_token } });
    assert.equal(still.status, 200, still.text);

    await t.ctx.patchSignInExp({ mfa: { factors: ['Totp'], policy: 'NoPrompt', organizationRequiredMfaPolicy: 'Mandatory' } });
    step = await identified(t);
    const body = assertError(await step.xp.call('POST', '/submit'), 422, 'user.missing_mfa');
    assert.equal(body.data.skippable, undefined);
    assertError(await step.xp.call('POST', '/profile/mfa/mfa-skipped'), 422, 'session.mfa.mfa_policy_not_user_controlled');
    await enrolTotp(step.xp);
    await finish(t, step);
  });

  it('Management API: /api/users/:userId/mfa-verifications lists, creates and deletes; changes sign the person out', async () => {
    const t = await tenant('mfa-mgmt', { factors: ['Totp', 'BackupCode'], policy: 'UserControlled' });
    const api = await t.ctx.api();
    const base = `/users/${t.user.id}/mfa-verifications`;
    assert.deepEqual(expectStatus(await api.get(base), 200, 'empty list'), []);
    assert.equal((await api.get('/users/nobody/mfa-verifications')).status, 404);
    // Backup codes need another factor first.
    const alone = await api.post(base, { type: 'BackupCode' });
    assert.equal(alone.status, 422, alone.text);
    assert.equal(alone.json().code, 'session.mfa.backup_code_can_not_be_alone');
    assert.equal((await api.post(base, { type: 'Sms' })).status, 400);

    // A signed-in session, to see it end.
    let step = await identified(t);
    assertError(await step.xp.call('POST', '/submit'), 422, 'user.missing_mfa');
    assert.equal((await step.xp.call('POST', '/profile/mfa/mfa-skipped')).status, 204);
    const { tokens } = await finish(t, step);

    const created = expectStatus(await api.post(base, { type: 'Totp' }), 200, 'create TOTP');
    assert.equal(created.type, 'Totp');
    assert.match(created.secret, /^[A-Z2-7]{32}$/);
    assert.match(created.secretQrCode, /^otpauth:\/\/totp\//);
    const again = await api.post(base, { type: 'Totp' });
    assert.equal(again.status, 422);
    assert.equal(again.json().code, 'user.totp_already_in_use');
    const backup = expectStatus(await api.post(base, { type: 'BackupCode' }), 200, 'create backup codes');
    assert.equal(backup.codes.length, 10);
    assert.equal((await api.post(base, { type: 'BackupCode' })).json().code, 'user.backup_code_already_in_use');
    const list = expectStatus(await api.get(base), 200, 'list');
    assert.deepEqual(list.map((f) => f.type).sort(), ['BackupCode', 'Totp']);
    const b = list.find((f) => f.type === 'BackupCode');
    assert.equal(b.remainCodes, 10);
    assert.ok(!Number.isNaN(Date.parse(b.createdAt)), b.createdAt);
    assert.equal(list.find((f) => f.type === 'Totp').remainCodes, undefined);

    // The change ended the session: the refresh token is revoked.
    const rt = await t.ctx.tokenRequest({ client: t.app, params: {
      grant_type: 'refresh_token', refresh_token: tokens.refresh_token } });
    assert.equal(rt.status, 400, rt.text);
    assert.equal(rt.json().error, 'invalid_grant');

    // The factors the admin created work at sign-in, the skip notwithstanding.
    step = await identified(t);
    assertError(await step.xp.call('POST', '/submit'), 403, 'session.mfa.require_mfa_verification');
    assert.equal((await step.xp.call('POST', '/verification/totp/verify', { code: totp(created.secret) })).status, 200);
    await finish(t, step);
    step = await identified(t);
    assert.equal((await step.xp.call('POST', '/verification/backup-code/verify', { code: backup.codes[0] })).status, 200);
    const { tokens: t2 } = await finish(t, step);
    assert.equal(expectStatus(await api.get(base), 200, 'list').find((f) => f.type === 'BackupCode').remainCodes, 9);

    // Deleting: 404 for an unknown id; the TOTP factor goes and the person is signed out.
    const missing = await api.del(`${base}/nope`);
    assert.equal(missing.status, 404, missing.text);
    assert.equal(missing.json().code, 'entity.not_found');
    const totpId = list.find((f) => f.type === 'Totp').id;
    assert.equal((await api.del(`${base}/${totpId}`)).status, 204);
    assert.deepEqual(expectStatus(await api.get(base), 200, 'list').map((f) => f.type), ['BackupCode']);
    const rt2 = await t.ctx.tokenRequest({ client: t.app, params: {
      grant_type: 'refresh_token', refresh_token: t2.refresh_token } });
    assert.equal(rt2.status, 400, rt2.text);

    // Used-up backup codes can be replaced by the admin (with a TOTP factor again).
    expectStatus(await api.post(base, { type: 'Totp' }), 200, 'TOTP again');
    await adminQuery('UPDATE mfa_backup_codes SET used_at = now() WHERE tenant_id = $1', [t.ctx.id]);
    const renewed = expectStatus(await api.post(base, { type: 'BackupCode' }), 200, 'new backup codes');
    assert.equal(renewed.codes.length, 10);
    assert.equal(expectStatus(await api.get(base), 200, 'list').find((f) => f.type === 'BackupCode').remainCodes, 10);
  });
});
