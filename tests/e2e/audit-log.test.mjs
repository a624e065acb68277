// End-to-end tests of the audit log (issue 14): token grants, the steps of a password sign-in
// through the Experience API and Management API changes are recorded with Logto's log keys, the
// client IP (X-Forwarded-For from a trusted proxy) and User-Agent; no stored row holds any
// password, secret, code or token the test used; GET /api/logs filters and pages as Logto's
// (Total-Number), GET /api/logs/:id and /api/users/:userId/logs; the MFA steps (TOTP, backup codes,
// binding, skip) and the Management API's mfa-verifications, never with a secret or code; one tenant never sees another's
// entries; latchd's retention task drops a partition past LATCH_LOG_RETENTION_DAYS and creates
// the coming days'; LATCH_AUDIT_LOG=off records nothing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { adminQuery, appQuery, freePort, http, startLatchd } from './lib/harness.mjs';
import {
  CookieJar,
  ExperienceClient,
  TenantCtx,
  assertApiError,
  eventually,
  expectStatus,
  uniqPassword,
  uniqUsername,
} from './lib/oidc.mjs';
import { authUrl, flowChecks, webAppConfig } from './lib/flow.mjs';
import { finishInteraction, identifiedByPassword } from './lib/xp-flow.mjs';
import { base32Decode, otherCode, totp, totpStep } from './lib/totp.mjs';

const UA = 'audit-e2e/1.0 (+https://example.test/agent)';
const PROXIED_IP = '203.0.113.7';
const headers = { 'user-agent': UA, 'x-forwarded-for': PROXIED_IP };

/** GET /api/logs<query> until pred holds for the list; resolves {list, res}. */
async function logsUntil(api, query, pred, what) {
  let last;
  await eventually(async () => {
    const res = await api.get(`/logs${query}`);
    last = { list: expectStatus(res, 200, `GET /api/logs${query}`), res };
    return pred(last.list);
  }, what, 15000);
  return last;
}

describe('audit log', () => {
  let srv;
  let metricsPort;
  let a;
  let b;
  before(async () => {
    metricsPort = await freePort();
    srv = await startLatchd({
      env: {
        LATCH_TRUSTED_PROXIES: '127.0.0.1/32',
        LATCH_AUDIT_LOG_FLUSH_MS: '50',
        LATCH_LOG_MAINTENANCE_SECONDS: '1',
        LATCH_METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
      },
    });
    a = await TenantCtx.create(srv, 'audita');
    b = await TenantCtx.create(srv, 'auditb');
  });
  after(async () => {
    await srv?.stop();
  });

  // What the tests used that must never reach a stored row.
  const secrets = new Set();
  const keep = (...values) => values.filter(Boolean).forEach((v) => secrets.add(String(v)));

  describe('token grants', () => {
    it('client_credentials: success and failure, with key, application, IP and user agent', async () => {
      const app = await a.createApp({ type: 'MachineToMachine' });
      keep(app.secret, a.admin.secret);
      const ok = await a.tokenRequest({ client: { id: app.id, secret: app.secret }, headers,
        params: { grant_type: 'client_credentials', resource: a.apiIndicator, scope: 'all' } });
      // Without the management role the scope is not granted: still a token (no scope) or an error.
      const bad = await a.tokenRequest({ client: { id: app.id, secret: 'wrong-secret-value-123' }, headers,
        params: { grant_type: 'client_credentials' } });
      assert.equal(bad.status, 401, bad.text);
      if (ok.status === 200) keep(ok.json().access_token);

      const api = await a.api();
      keep(api.token);
      const { list } = await logsUntil(api,
        `?logKey=ExchangeTokenBy.ClientCredentials&applicationId=${app.id}`,
        (l) => l.length >= 2, 'two client_credentials entries');
      for (const e of list) {
        assert.equal(e.key, 'ExchangeTokenBy.ClientCredentials');
        assert.equal(e.payload.key, e.key);
        assert.equal(e.payload.applicationId, app.id);
        assert.equal(e.payload.ip, PROXIED_IP, 'the client IP from X-Forwarded-For of a trusted proxy');
        assert.equal(e.payload.userAgent, UA);
        assert.equal(typeof e.createdAt, 'number');
        assert.ok(Math.abs(e.createdAt - Date.now()) < 60000, `createdAt ${e.createdAt} is now`);
        assert.equal(typeof e.id, 'string');
        assert.ok(!('tenantId' in e), 'the list omits tenantId (as Logto)');
      }
      const failed = list.find((e) => e.payload.result === 'Error');
      assert.ok(failed, `an Error entry: ${JSON.stringify(list)}`);
      assert.equal(failed.payload.error.error, 'invalid_client');
      assert.equal(failed.payload.error.status, 401);
      if (ok.status === 200) {
        const good = list.find((e) => e.payload.result === 'Success');
        assert.ok(good, `a Success entry: ${JSON.stringify(list)}`);
        assert.deepEqual(good.payload.tokenTypes, ['AccessToken']);
      }
    });
  });

  describe('a password sign-in and the code and refresh grants', () => {
    let user;
    let app;
    let tokens;
    let code;
    before(async () => {
      user = await a.createUser({ username: uniqUsername('audit'), password: uniqPassword() });
      app = await a.createWebApp('http://127.0.0.1:9');
      keep(user.password, app.secret);
      const config = await webAppConfig(a, app);
      const checks = await flowChecks();
      const xp = new ExperienceClient(a, new CookieJar());
      await xp.start(authUrl(config, app, checks));
      keep(xp.jar.get(xp.interactionCookie), xp.csrfToken);
      const put = await xp.call('PUT', '', { interactionEvent: 'SignIn' }, { headers });
      assert.equal(put.status, 204, put.text);
      const wrong = `Wrong-${uniqPassword()}`;
      keep(wrong);
      const no = await xp.call('POST', '/verification/password',
        { identifier: { type: 'username', value: user.username }, password: wrong }, { headers });
      assert.equal(no.status, 422, no.text);
      const yes = await xp.call('POST', '/verification/password',
        { identifier: { type: 'username', value: user.username }, password: user.password }, { headers });
      assert.equal(yes.status, 200, yes.text);
      const { verificationId } = yes.json();
      const ident = await xp.call('POST', '/identification', { verificationId }, { headers });
      assert.ok(ident.status < 300, ident.text);
      const sub = await xp.call('POST', '/submit', undefined, { headers });
      assert.equal(sub.status, 200, sub.text);
      const landed = new URL(await xp.resume(new URL(sub.json().redirectTo, `${a.base}/`).href));
      code = landed.searchParams.get('code');
      assert.ok(code, `a code in ${landed}`);
      keep(code, xp.jar.get(xp.sessionCookie));
      const res = await a.tokenRequest({ client: { id: app.id, secret: app.secret }, headers,
        params: { grant_type: 'authorization_code', code, redirect_uri: app.redirectUri,
          code_verifier: checks.pkceCodeVerifier } });
      assert.equal(res.status, 200, res.text);
      tokens = res.json();
      keep(tokens.access_token, tokens.refresh_token, tokens.id_token, checks.pkceCodeVerifier);
      const again = await a.tokenRequest({ client: { id: app.id, secret: app.secret }, headers,
        params: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token } });
      assert.equal(again.status, 200, again.text);
      keep(again.json().access_token, again.json().refresh_token, again.json().id_token);
      // A used code again: an error entry with the OAuth error.
      const reused = await a.tokenRequest({ client: { id: app.id, secret: app.secret }, headers,
        params: { grant_type: 'authorization_code', code, redirect_uri: app.redirectUri,
          code_verifier: checks.pkceCodeVerifier } });
      assert.equal(reused.status, 400, reused.text);
      const revoked = await http(`${a.base}/oidc/token/revocation`, { method: 'POST',
        headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${app.id}:${app.secret}`).toString('base64')}` },
        body: new URLSearchParams({ token: tokens.refresh_token, token_type_hint: 'refresh_token' }).toString() });
      assert.equal(revoked.status, 200, revoked.text);
    });

    it('every step is recorded under Logto\'s key, with the user, IP and user agent', async () => {
      const api = await a.api();
      const want = [
        'Interaction.SignIn.Update',
        'Interaction.SignIn.Verification.Password.Submit',
        'Interaction.SignIn.Identifier.Submit',
        'Interaction.SignIn.Submit',
        'ExchangeTokenBy.AuthorizationCode',
        'ExchangeTokenBy.RefreshToken',
      ];
      const { list: mine } = await logsUntil(api, `?userId=${user.id}&page_size=100`,
        (l) => want.slice(1).every((k) => l.some((e) => e.key === k)),
        'the sign-in and grant entries of the user');
      const { list: updates } = await logsUntil(api, `?logKey=Interaction.SignIn.Update&applicationId=${app.id}`,
        (l) => l.length === 1, 'the event update');
      const list = [...mine, ...updates].sort((x, y) => y.createdAt - x.createdAt);
      assert.ok(want.every((k) => list.some((e) => e.key === k)));
      for (const e of list.filter((x) => want.includes(x.key))) {
        // Nobody is known yet when the event is chosen.
        if (e.key !== 'Interaction.SignIn.Update') assert.equal(e.payload.userId, user.id, `${e.key}: userId`);
        assert.equal(e.payload.ip, PROXIED_IP, `${e.key}: ip`);
        assert.equal(e.payload.userAgent, UA, `${e.key}: userAgent`);
        assert.equal(e.payload.applicationId, app.id, `${e.key}: applicationId`);
      }
      const pw = list.filter((e) => e.key === 'Interaction.SignIn.Verification.Password.Submit');
      assert.deepEqual(pw.map((e) => e.payload.result).sort(), ['Error', 'Success'], JSON.stringify(pw));
      assert.equal(pw.find((e) => e.payload.result === 'Error').payload.error.status, 422);
      // The reused code names no user: found by the application.
      const { list: codes } = await logsUntil(api,
        `?logKey=ExchangeTokenBy.AuthorizationCode&applicationId=${app.id}`, (l) => l.length === 2,
        'two code exchanges');
      const good = codes.find((e) => e.payload.result === 'Success');
      assert.deepEqual(good.payload.tokenTypes, ['AccessToken', 'RefreshToken', 'IdToken']);
      assert.ok(good.payload.scope.split(' ').includes('openid'), `scope in ${JSON.stringify(good)}`);
      const reused = codes.find((e) => e.payload.result === 'Error');
      assert.equal(reused.payload.error.error, 'invalid_grant', JSON.stringify(reused));
      // Newest first.
      const times = mine.map((e) => e.createdAt);
      assert.deepEqual(times, [...times].sort((x, y) => y - x));

      // The revocation (RFC 7009), by the application.
      const { list: revocations } = await logsUntil(api, `?logKey=RevokeToken&applicationId=${app.id}`,
        (l) => l.length === 1, 'RevokeToken');
      assert.equal(revocations[0].payload.result, 'Success');
      assert.equal(revocations[0].payload.ip, PROXIED_IP);

      // The interaction was created at /oidc/auth for the application.
      await logsUntil(api, `?logKey=Interaction.Create&applicationId=${app.id}`, (l) => l.length >= 1,
        'Interaction.Create');
    });

    it('GET /api/users/:userId/logs lists the user\'s entries; an unknown user is 404', async () => {
      const api = await a.api();
      const res = await api.get(`/users/${user.id}/logs?logKey=Interaction.SignIn.Submit`);
      const list = expectStatus(res, 200, 'user logs');
      assert.equal(list.length, 1, JSON.stringify(list));
      assert.equal(list[0].payload.userId, user.id);
      assert.equal(res.headers.get('total-number'), '1');
      assertApiError(await api.get('/users/nosuchuser123/logs'), 404, 'unknown user');
    });

    it('no stored row holds a password, secret, code or token used by the test', async () => {
      assert.ok(secrets.size >= 10, `secrets collected: ${secrets.size}`);
      const { rows } = await adminQuery(
        'SELECT l::text AS t FROM logs l WHERE tenant_id = ANY($1)', [[a.id, b.id]]);
      assert.ok(rows.length >= 10, `rows of the tenants: ${rows.length}`);
      const text = rows.map((r) => r.t).join('\n');
      for (const s of secrets) {
        assert.ok(!text.includes(s), `a stored row holds "${s.slice(0, 6)}…" (${s.length} chars)`);
      }
    });
  });

  describe('Management API changes', () => {
    it('are recorded with the caller, the target and the path', async () => {
      const user = await a.createUser();
      await a.suspendUser(user.id, true);
      const api = await a.api();
      const { list } = await logsUntil(api, `?userId=${user.id}`,
        (l) => ['User.Created', 'User.SuspensionStatus.Updated'].every((k) => l.some((e) => e.key === k)),
        'user changes');
      const created = list.find((e) => e.key === 'User.Created');
      assert.equal(created.payload.result, 'Success');
      assert.equal(created.payload.applicationId, a.admin.id, 'the caller');
      assert.equal(created.payload.targetId, user.id);
      assert.equal(created.payload.path, '/api/users');
      const suspended = list.find((e) => e.key === 'User.SuspensionStatus.Updated');
      assert.equal(suspended.payload.path, `/api/users/${user.id}/is-suspended`);
      // A failed change is recorded as an Error.
      const bad = await api.patch('/users/nosuchuser123', { name: 'x' });
      assert.equal(bad.status, 404);
      await logsUntil(api, '?logKey=User.Data.Updated&userId=nosuchuser123',
        (l) => l.length === 1 && l[0].payload.result === 'Error', 'the failed change');
    });
  });

  describe('MFA', () => {
    let m;
    let u1;
    let u2;
    let secret;
    let codes;
    const mine = new Set(); // this tenant's secrets and codes (TOTP codes as JSON strings)
    const hold = (...v) => v.filter(Boolean).forEach((x) => { mine.add(String(x)); keep(x); });
    before(async () => {
      m = await TenantCtx.create(srv, 'auditm');
      await m.patchSignInExp({ mfa: { factors: ['Totp', 'BackupCode'], policy: 'UserControlled' } });
      const app = await m.createWebApp('http://localhost:3000');
      u1 = await m.createUser();
      u2 = await m.createUser();
      hold(u1.password, u2.password, app.secret);
      m.t = { ctx: m, app, user: u1 };
    });

    it('TOTP, backup codes, binding and a skip are recorded under Logto\'s keys', async () => {
      // Enrolment: a secret, a wrong code, the right one, the binding; backup codes.
      let flow = await identifiedByPassword(m.t);
      const sec = await flow.xp.call('POST', '/verification/totp/secret');
      assert.equal(sec.status, 200, sec.text);
      ({ secret } = sec.json());
      const { verificationId } = sec.json();
      hold(secret, base32Decode(secret).toString('hex'), sec.json().keyUri);
      const wrong = otherCode(totp(secret), 2);
      hold(JSON.stringify(wrong));
      assert.equal((await flow.xp.call('POST', '/verification/totp/verify', { verificationId, code: wrong })).status, 400);
      const step = totpStep();
      hold(JSON.stringify(totp(secret, step)));
      const ok = await flow.xp.call('POST', '/verification/totp/verify', { verificationId, code: totp(secret, step) });
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await flow.xp.call('POST', '/profile/mfa', { type: 'Totp', verificationId })).status, 204);
      const gen = await flow.xp.call('POST', '/verification/backup-code/generate');
      assert.equal(gen.status, 200, gen.text);
      ({ codes } = gen.json());
      hold(...codes);
      assert.equal((await flow.xp.call('POST', '/profile/mfa',
        { type: 'BackupCode', verificationId: gen.json().verificationId })).status, 204);
      await finishInteraction(m.t, flow);
      // The next sign-in: TOTP, then a backup code.
      flow = await identifiedByPassword(m.t);
      hold(JSON.stringify(totp(secret, step + 1)));
      const signIn = await flow.xp.call('POST', '/verification/totp/verify', { code: totp(secret, step + 1) });
      assert.equal(signIn.status, 200, signIn.text);
      const used = await flow.xp.call('POST', '/verification/backup-code/verify', { code: codes[0] });
      assert.equal(used.status, 200, used.text);
      await finishInteraction(m.t, flow);
      // Someone without a factor skips the enrolment.
      const skip = await identifiedByPassword({ ...m.t, user: u2 });
      assert.equal((await skip.xp.call('POST', '/profile/mfa/mfa-skipped')).status, 204);

      const api = await m.api();
      const want = [
        'Interaction.SignIn.Verification.Totp.Create',
        'Interaction.SignIn.Verification.Totp.Submit',
        'Interaction.SignIn.BindMfa.Totp.Submit',
        'Interaction.SignIn.Verification.BackupCode.Create',
        'Interaction.SignIn.BindMfa.BackupCode.Submit',
        'Interaction.SignIn.Verification.BackupCode.Submit',
      ];
      const { list } = await logsUntil(api, `?userId=${u1.id}&page_size=100`,
        (l) => want.every((k) => l.some((e) => e.key === k))
          && l.filter((e) => e.key === 'Interaction.SignIn.Verification.Totp.Submit').length === 3,
        'the MFA entries of the user');
      for (const e of list.filter((x) => want.includes(x.key))) {
        assert.equal(e.payload.userId, u1.id, `${e.key}: userId`);
        assert.equal(e.payload.interactionEvent, 'SignIn', `${e.key}: interactionEvent`);
        assert.equal(e.payload.applicationId, m.t.app.id, `${e.key}: applicationId`);
        if (e.payload.result === 'Success') assert.match(e.payload.verificationId ?? '', /^[0-9a-z]+$/i, e.key);
      }
      const totps = list.filter((e) => e.key === 'Interaction.SignIn.Verification.Totp.Submit');
      assert.deepEqual(totps.map((e) => e.payload.result).sort(), ['Error', 'Success', 'Success']);
      const failed = totps.find((e) => e.payload.result === 'Error');
      assert.equal(failed.payload.error.code, 'session.mfa.invalid_totp_code');
      assert.equal(failed.payload.error.status, 400);
      assert.equal(list.find((e) => e.key === 'Interaction.SignIn.Verification.Totp.Create').payload.verificationId,
        verificationId);
      assert.equal(list.find((e) => e.key === 'Interaction.SignIn.BindMfa.Totp.Submit').payload.verificationId,
        verificationId);
      const { list: skipped } = await logsUntil(api, `?userId=${u2.id}&logKey=Interaction.SignIn.Profile.Update`,
        (l) => l.length === 1, 'the skip');
      assert.equal(skipped[0].payload.result, 'Success');
    });

    it('Management API: /api/users/:userId/mfa-verifications changes are recorded, without the secret', async () => {
      const api = await m.api();
      const created = expectStatus(await api.post(`/users/${u2.id}/mfa-verifications`, { type: 'Totp' }),
        [200, 201], 'TOTP by an admin');
      hold(created.secret, created.secretQrCode);
      const backup = expectStatus(await api.post(`/users/${u2.id}/mfa-verifications`, { type: 'BackupCode' }),
        [200, 201], 'backup codes by an admin');
      hold(...(backup.codes ?? []));
      const { list } = await logsUntil(api, `?userId=${u2.id}&logKey=ManagementApi.Change`,
        (l) => l.length === 2, 'the two changes');
      for (const e of list) {
        assert.equal(e.payload.result, 'Success');
        assert.equal(e.payload.path, `/api/users/${u2.id}/mfa-verifications`);
        assert.equal(e.payload.applicationId, m.admin.id);
      }
    });

    it('no stored row holds the TOTP secret or a code', async () => {
      assert.ok(mine.size >= 15, `secrets collected: ${mine.size}`);
      const { rows } = await adminQuery('SELECT l::text AS t FROM logs l WHERE tenant_id = $1', [m.id]);
      assert.ok(rows.length >= 10, `rows of the tenant: ${rows.length}`);
      const text = rows.map((r) => r.t).join('\n');
      for (const x of mine) assert.ok(!text.includes(x), `a stored row holds "${x.slice(0, 6)}…" (${x.length} chars)`);
    });
  });

  describe('GET /api/logs', () => {
    it('pages with Total-Number, filters by key and time, and GET /api/logs/:id', async () => {
      const api = await a.api();
      const count = async () => Number((await api.get('/logs?page_size=1')).headers.get('total-number'));
      const before = await count();
      for (let i = 0; i < 3; i++) {
        await a.tokenRequest({ client: a.admin,
          params: { grant_type: 'client_credentials', resource: a.apiIndicator, scope: 'all' } });
      }
      await eventually(async () => (await count()) >= before + 3, 'the three new entries', 15000);
      const total = await count();
      assert.ok(total >= 5, `Total-Number ${total}`);
      const p1 = await api.get('/logs?page=1&page_size=2');
      const p2 = await api.get('/logs?page=2&page_size=2');
      assert.equal(p1.headers.get('total-number'), String(total));
      const l1 = expectStatus(p1, 200, 'page 1');
      const l2 = expectStatus(p2, 200, 'page 2');
      assert.equal(l1.length, 2);
      assert.equal(l2.length, 2);
      assert.ok(l1.every((x) => !l2.some((y) => y.id === x.id)), 'pages do not overlap');
      assert.ok(l1[1].createdAt >= l2[0].createdAt, 'newest first across pages');

      const keyed = expectStatus(await api.get('/logs?logKey=ExchangeTokenBy.ClientCredentials&page_size=100'), 200, 'by key');
      assert.ok(keyed.length >= 3 && keyed.every((e) => e.key === 'ExchangeTokenBy.ClientCredentials'));

      const now = Date.now();
      const future = expectStatus(await api.get(`/logs?startTime=${now + 3600000}`), 200, 'from the future');
      assert.deepEqual(future, []);
      const past = expectStatus(await api.get(`/logs?endTime=${now - 86400000}`), 200, 'until yesterday');
      assert.deepEqual(past, []);
      const window = expectStatus(await api.get(`/logs?startTime=${now - 600000}&endTime=${now + 60000}&page_size=100`),
        200, 'the last minutes');
      assert.ok(window.length >= 3);
      assertApiError(await api.get('/logs?startTime=yesterday'), 400, 'a malformed time');
      assertApiError(await api.get('/logs?page_size=0'), 400, 'a bad page size');

      const one = expectStatus(await api.get(`/logs/${l1[0].id}`), 200, 'one entry');
      assert.equal(one.id, l1[0].id);
      assert.equal(one.tenantId, a.id);
      assert.deepEqual(one.payload, l1[0].payload);
      assertApiError(await api.get('/logs/nosuchlog12345'), 404, 'unknown entry');
    });
  });

  describe('tenant isolation', () => {
    it('tenant B\'s admin never sees tenant A\'s entries', async () => {
      const apiA = await a.api();
      const apiB = await b.api();
      const listA = expectStatus(await apiA.get('/logs?page_size=100'), 200, 'A');
      assert.ok(listA.length > 0);
      // B's own entries (its admin's token requests) exist, and none of A's is among them.
      const { list: listB } = await logsUntil(apiB, '?page_size=100', (l) => l.length > 0, 'B has entries');
      const idsA = new Set(listA.map((e) => e.id));
      assert.ok(listB.every((e) => !idsA.has(e.id)), 'no entry of A in B\'s list');
      assert.ok(listB.every((e) => e.payload.applicationId !== a.admin.id));
      assertApiError(await apiB.get(`/logs/${listA[0].id}`), 404, 'A\'s entry through B');
      const stored = await adminQuery('SELECT tenant_id FROM logs WHERE id = $1', [listA[0].id]);
      assert.deepEqual(stored.rows.map((r) => r.tenant_id), [a.id]);
    });
  });

  describe('retention', () => {
    it('drops a partition past LATCH_LOG_RETENTION_DAYS and keeps the coming days\'', async () => {
      const day = (offset) => {
        const d = new Date(Date.now() + offset * 86400000);
        return d.toISOString().slice(0, 10);
      };
      const name = (d) => `logs_p${d.replace(/-/g, '')}`;
      const exists = async (d) => (await adminQuery('SELECT to_regclass($1) IS NOT NULL AS e', [name(d)])).rows[0].e;
      const old = day(-40);
      const recent = day(-10);
      // As the application role, as latchd does: the partitions are its own.
      await appQuery('SELECT latch_logs_partition($1::date), latch_logs_partition($2::date)', [old, recent]);
      await adminQuery(`INSERT INTO logs (tenant_id, id, key, payload, created_at) VALUES
        ($1, 'oldentry' || substr(md5(random()::text), 1, 8), 'Unknown', '{}', $2::date + time '12:00'),
        ($1, 'recententry' || substr(md5(random()::text), 1, 8), 'Unknown', '{}', $3::date + time '12:00')`,
      [a.id, old, recent]);
      // latchd runs its maintenance every second here (LATCH_LOG_MAINTENANCE_SECONDS=1).
      await eventually(async () => !(await exists(old)), `partition ${name(old)} dropped`, 8000);
      assert.ok(await exists(recent), 'a partition within retention stays');
      for (let i = 0; i <= 7; i++) assert.ok(await exists(day(i)), `partition of ${day(i)} exists ahead`);
      const { rows } = await adminQuery("SELECT count(*)::int AS n FROM logs WHERE tenant_id = $1 AND key = 'Unknown'", [a.id]);
      assert.equal(rows[0].n, 1, 'the recent row stays, the old one went with its partition');
    });
  });

  describe('metrics', () => {
    it('count the entries written', async () => {
      const res = await http(`http://127.0.0.1:${metricsPort}/metrics`);
      assert.equal(res.status, 200);
      const m = /^latch_audit_log_written_total (\d+)$/m.exec(res.text);
      assert.ok(m && Number(m[1]) > 0, `latch_audit_log_written_total in ${res.text.slice(0, 200)}`);
      assert.match(res.text, /^# TYPE latch_audit_log_dropped_total counter$/m);
    });
  });
});

describe('audit log under overload and at shutdown', () => {
  let node;
  after(async () => {
    await node?.stop();
  });
  it('a full queue drops (counted, one warning); a stopping node writes what is queued', async () => {
    const mport = await freePort();
    // One loop, a queue of 16 and a flush far away: nothing is written before the stop.
    node = await startLatchd({ threads: 1, env: { LATCH_AUDIT_LOG_QUEUE: '16',
      LATCH_AUDIT_LOG_FLUSH_MS: '60000', LATCH_METRICS_LISTEN: `127.0.0.1:${mport}` } });
    const t = await TenantCtx.create(node, 'auditfull');
    for (let i = 0; i < 24; i++) {
      const res = await t.tokenRequest({ client: t.admin, headers,
        params: { grant_type: 'client_credentials', resource: t.apiIndicator, scope: 'all' } });
      assert.equal(res.status, 200, 'the grants are served although their entries are dropped');
    }
    const metrics = (await http(`http://127.0.0.1:${mport}/metrics`)).text;
    assert.match(metrics, /^latch_audit_log_dropped_total\{reason="queue_full"\} 8$/m, metrics);
    assert.match(metrics, /^latch_audit_log_written_total 0$/m);
    const warnings = node.logs.filter((l) => typeof l === 'object' &&
      String(l.msg).startsWith('audit log: an entry was dropped'));
    assert.equal(warnings.length, 1, 'one warning for the eight drops (rate-limited)');
    const count = async () => (await adminQuery(
      'SELECT count(*)::int AS n FROM logs WHERE tenant_id = $1', [t.id])).rows[0].n;
    assert.equal(await count(), 0, 'nothing written yet');
    const exit = await node.stop('SIGTERM');
    assert.equal(exit.code, 0);
    assert.equal(await count(), 16, 'the queued entries were written at shutdown');
  });
});

describe('LATCH_AUDIT_LOG=off', () => {
  let srv;
  after(async () => {
    await srv?.stop();
  });
  it('records nothing', async () => {
    srv = await startLatchd({ env: { LATCH_AUDIT_LOG: 'off', LATCH_AUDIT_LOG_FLUSH_MS: '10' } });
    const t = await TenantCtx.create(srv, 'auditoff');
    const app = await t.createApp({ type: 'MachineToMachine' });
    await t.tokenRequest({ client: { id: app.id, secret: app.secret }, params: { grant_type: 'client_credentials' } });
    await new Promise((r) => setTimeout(r, 300));
    const { rows } = await adminQuery('SELECT count(*)::int AS n FROM logs WHERE tenant_id = $1', [t.id]);
    assert.equal(rows[0].n, 0);
  });
});
