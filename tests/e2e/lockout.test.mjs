// End-to-end tests of the sentinel counting the user and of per-tenant throttling limits (issue 15,
// item 6; docs/operations.md, "Throttling"). The sentinel (Logto's sentinelPolicy, in PostgreSQL)
// counts wrong passwords against the user an identifier names, so failures through the username
// and through the email add up and the lockout holds for every identifier of that user; an
// identifier nobody has is counted and locked by itself, with the same answers. The sign-in
// experience's `rateLimits` override the node's per-IP limits for one tenant; the buckets are
// per tenant and address, so one tenant's failures do not spend another's budget.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLatchd } from './lib/harness.mjs';
import { CookieJar, ExperienceClient, TenantCtx, assertInvalidField, uniqUsername } from './lib/oidc.mjs';
import { authUrl, flowChecks, webAppConfig } from './lib/flow.mjs';

const LOCKED = 'session.verification_blocked_too_many_attempts';

describe('sentinel lockout per user and per-tenant limits', () => {
  let srv;
  before(async () => {
    // The node's per-IP limits: generous for passwords except where a test sets its tenant's own.
    srv = await startLatchd({
      env: { LATCH_LIMIT_IP_PASSWORD_FAILURES: '3', LATCH_LIMIT_IP_REGISTRATION_CHECKS: '3' },
    });
  });
  after(async () => {
    await srv?.stop();
  });

  /** A tenant with a web app, and a function opening Experience API sign-ins for it. */
  async function tenant(name, signInExp) {
    const ctx = await TenantCtx.create(srv, name);
    if (signInExp) await ctx.patchSignInExp(signInExp);
    const app = await ctx.createWebApp('http://127.0.0.1:9');
    const config = await webAppConfig(ctx, app);
    const open = async (event = 'SignIn') => {
      const xp = new ExperienceClient(ctx, new CookieJar());
      await xp.start(authUrl(config, app, await flowChecks()));
      await xp.begin(event);
      return xp;
    };
    return { ctx, open };
  }

  /** {status, code, message} of an answer, with `id` replaced so answers compare across ids. */
  const answer = (res, id) => {
    const body = JSON.parse(res.text);
    return { status: res.status, code: body.code, message: String(body.message).split(id).join('<id>'),
      verificationId: body.verificationId };
  };

  describe('the sentinel counts the user, whichever identifier is typed', () => {
    // The per-IP limit must not interfere: these tenants allow many failures per address.
    const lenient = { sentinelPolicy: { maxAttempts: 3, lockoutDuration: 60 },
      rateLimits: { passwordFailuresPerIpPerMinute: 1000 } };

    it('failures through the username and the email add up; then the right password is refused through either', async () => {
      const { ctx, open } = await tenant('lockuser', lenient);
      const email = `${uniqUsername('carol')}@example.com`;
      const carol = await ctx.createUser({ username: uniqUsername('carol'), primaryEmail: email });
      const bystander = await ctx.createUser();
      const xp = await open();
      // Two failures through the username, the third through the email (case changed): locked.
      for (const [value, type] of [[carol.username, 'username'], [carol.username.toUpperCase(), 'username'],
        [email.toUpperCase(), 'email']]) {
        const r = await xp.verifyPassword(value, 'wrong-password-1', { type });
        assert.equal(r.status, 422, `${type} ${value}: ${r.text}`);
        assert.equal(r.json().code, 'session.invalid_credentials');
      }
      for (const [value, type] of [[email, 'email'], [carol.username, 'username']]) {
        const r = await (await open()).verifyPassword(value, carol.password, { type });
        assert.equal(r.status, 400, `right password through the ${type} while locked: ${r.text}`);
        assert.equal(r.json().code, LOCKED);
        assert.equal(r.json().verificationId, undefined);
      }
      // Another user of the tenant is not locked.
      const ok = await (await open()).verifyPassword(bystander.username, bystander.password);
      assert.equal(ok.status, 200, ok.text);
    });

    it('failures through the email lock the username too', async () => {
      const { ctx, open } = await tenant('lockmail', lenient);
      const email = `${uniqUsername('dave')}@example.com`;
      const dave = await ctx.createUser({ username: uniqUsername('dave'), primaryEmail: email });
      const xp = await open();
      for (let i = 0; i < 3; i++) {
        assert.equal((await xp.verifyPassword(email, `wrong-${i}`, { type: 'email' })).status, 422);
      }
      const r = await (await open()).verifyPassword(dave.username, dave.password);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json().code, LOCKED);
    });

    it('a success clears the user\'s count for every identifier', async () => {
      const { ctx, open } = await tenant('lockclear', lenient);
      const email = `${uniqUsername('erin')}@example.com`;
      const erin = await ctx.createUser({ username: uniqUsername('erin'), primaryEmail: email });
      const xp = await open();
      for (let i = 0; i < 2; i++) assert.equal((await xp.verifyPassword(erin.username, `wrong-${i}`)).status, 422);
      assert.equal((await xp.verifyPassword(email, erin.password, { type: 'email' })).status, 200);
      // Two more failures would have been the fourth and fifth: after the success they are the first two.
      const xp2 = await open();
      for (let i = 0; i < 2; i++) assert.equal((await xp2.verifyPassword(email, `wrong-${i}`, { type: 'email' })).status, 422);
      assert.equal((await xp2.verifyPassword(erin.username, erin.password)).status, 200);
    });

    it('an identifier nobody has locks after the same failures, with the same answers as a user\'s', async () => {
      const { ctx, open } = await tenant('lockghost', lenient);
      const frank = await ctx.createUser({ username: uniqUsername('frank') });
      const ghost = uniqUsername('ghost');
      const known = await open();
      const unknown = await open();
      for (let i = 1; i <= 5; i++) {
        // Attempts 1-3 are wrong passwords; 4 and 5 the user's right password (the ghost's "right" too).
        const pw = i <= 3 ? `wrong-${i}` : frank.password;
        const a = answer(await known.verifyPassword(frank.username, pw), frank.username);
        const b = answer(await unknown.verifyPassword(ghost, pw), ghost);
        assert.equal(a.status, i <= 3 ? 422 : 400, `attempt ${i}: ${JSON.stringify(a)}`);
        assert.equal(a.code, i <= 3 ? 'session.invalid_credentials' : LOCKED);
        assert.deepEqual(b, a, `attempt ${i}: the unknown identifier gets the same answer`);
      }
      // The ghost's lock is its own: an email nobody has is still only "invalid credentials".
      const other = answer(await unknown.verifyPassword(`${ghost}@example.com`, 'x-password', { type: 'email' }), ghost);
      assert.equal(other.status, 422);
    });
  });

  describe('rateLimits in the sign-in experience', () => {
    it('are validated: 400 naming the member for bad values and unknown members, nothing stored', async () => {
      const { ctx } = await tenant('rlbad');
      const api = await ctx.api();
      const set = await ctx.patchSignInExp({ rateLimits: { passwordFailuresPerIpPerMinute: 7 } });
      assert.deepEqual(set.rateLimits, { passwordFailuresPerIpPerMinute: 7 });
      const bad = [
        [{ passwordFailuresPerIpPerMinute: 0 }, 'rateLimits.passwordFailuresPerIpPerMinute'],
        [{ passwordFailuresPerIpPerMinute: 10001 }, 'rateLimits.passwordFailuresPerIpPerMinute'],
        [{ passwordFailuresPerIpPerMinute: 2.5 }, 'rateLimits.passwordFailuresPerIpPerMinute'],
        [{ registrationChecksPerIpPerMinute: '5' }, 'rateLimits.registrationChecksPerIpPerMinute'],
        [{ registrationChecksPerIpPerMinute: -1 }, 'rateLimits.registrationChecksPerIpPerMinute'],
        [{ clientAuthFailuresPerMinute: 5 }, 'rateLimits.clientAuthFailuresPerMinute'],
        [[3], 'rateLimits'],
        ['fast', 'rateLimits'],
      ];
      for (const [value, field] of bad) {
        assertInvalidField(await api.patch('/sign-in-exp', { rateLimits: value }), field, JSON.stringify(value));
      }
      const now = await api.get('/sign-in-exp');
      assert.equal(now.status, 200);
      assert.deepEqual(JSON.parse(now.text).rateLimits, { passwordFailuresPerIpPerMinute: 7 }, 'unchanged');
      // An empty object (or null members) gives the node's limits back.
      const reset = await ctx.patchSignInExp({ rateLimits: { registrationChecksPerIpPerMinute: null } });
      assert.deepEqual(reset.rateLimits, {});
    });

    it('a tenant\'s password limit applies to that tenant only; another tenant keeps the node\'s', async () => {
      // Node: 3 failures a minute per address. Tenant A: 1. Tenant B: the node's 3.
      const a = await tenant('rla', { rateLimits: { passwordFailuresPerIpPerMinute: 1 } });
      const b = await tenant('rlb');
      const userA = await a.ctx.createUser();
      const userB = await b.ctx.createUser();
      const xa = await a.open();
      assert.equal((await xa.verifyPassword(uniqUsername('nobody'), 'wrong-password')).status, 422);
      const refused = await xa.verifyPassword(userA.username, userA.password);
      assert.equal(refused.status, 429, refused.text);
      assert.equal(refused.json().code, 'guard.too_many_requests');
      const ra = Number(refused.headers.get('retry-after'));
      assert.ok(Number.isInteger(ra) && ra >= 1 && ra <= 60, `Retry-After ${refused.headers.get('retry-after')}`);

      // Same address, tenant B: A's failures spent none of B's budget, and B's is the node's 3.
      const xb = await b.open();
      for (let i = 0; i < 2; i++) assert.equal((await xb.verifyPassword(uniqUsername('nobody'), 'wrong')).status, 422);
      assert.equal((await xb.verifyPassword(userB.username, userB.password)).status, 200, 'B still accepts');
      const xb2 = await b.open();
      assert.equal((await xb2.verifyPassword(uniqUsername('nobody'), 'wrong')).status, 422, 'third failure');
      const bRefused = await xb2.verifyPassword(userB.username, userB.password);
      assert.equal(bRefused.status, 429, `B past the node's limit: ${bRefused.text}`);
      assert.ok(Number(bRefused.headers.get('retry-after')) >= 1);
    });

    it('a tenant may raise the limit above the node\'s', async () => {
      const c = await tenant('rlc', { rateLimits: { passwordFailuresPerIpPerMinute: 5 } });
      const userC = await c.ctx.createUser();
      const xc = await c.open();
      // Five failures, more than the node's 3, are all answered; the sixth attempt is refused.
      for (let i = 0; i < 5; i++) assert.equal((await xc.verifyPassword(uniqUsername('nobody'), 'wrong')).status, 422, `failure ${i + 1}`);
      const refused = await xc.verifyPassword(userC.username, userC.password);
      assert.equal(refused.status, 429, refused.text);
    });

    it('a tenant\'s registration-check limit applies to that tenant only', async () => {
      const d = await tenant('rld', { rateLimits: { registrationChecksPerIpPerMinute: 1 } });
      const e = await tenant('rle');
      const register = (xp, username) => xp.call('POST', '/verification/new-password-identity',
        { identifier: { type: 'username', value: username }, password: 'A-long-enough-password-42!' });
      const takenD = await d.ctx.createUser();
      const takenE = await e.ctx.createUser();
      const xd = await d.open('Register');
      const first = await register(xd, takenD.username);
      assert.equal(first.status, 422, first.text);
      assert.equal(first.json().code, 'user.username_already_in_use');
      const refused = await register(xd, uniqUsername('fresh'));
      assert.equal(refused.status, 429, refused.text);
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      // Tenant E, same address, the node's 3.
      const xe = await e.open('Register');
      for (let i = 0; i < 3; i++) {
        const r = await register(xe, takenE.username);
        assert.equal(r.json().code, 'user.username_already_in_use', `check ${i + 1}: ${r.text}`);
      }
      assert.equal((await register(xe, takenE.username)).status, 429);
    });
  });
});
