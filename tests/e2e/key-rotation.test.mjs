// End-to-end tests of signing-key rotation without a cliff (issue 10): a tenant holds at most
// KEY_LIMIT signing keys (the current key, the next key and KEY_LIMIT - 2 previous keys in their
// grace period; LATCH_KEYS_MAX in core/tenants/keys.h). Rotation prunes previous keys whose grace
// period has ended and refuses (422 oidc.key_limit; latchctl exits non-zero naming the limit) a
// rotation that would keep more; every node holds current, next and the newest previous keys,
// drops a previous key from the JWKS and from verification when its grace period ends, and keeps
// signing even when the database holds more keys than that (rows written before the limit). After
// every rotation a client-credentials token is issued and verifies with jose against the JWKS,
// which publishes the current and the next key.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, generateKeyPairSync, hkdfSync, randomBytes } from 'node:crypto';
import { adminQuery, ctlEnv, latchctl, startLatchd, waitFor } from './lib/harness.mjs';
import {
  TenantCtx,
  apiClient,
  assertApiError,
  expectStatus,
  jose,
} from './lib/oidc.mjs';

const KEY_LIMIT = 8;
const ROTATE = '/configs/oidc/private-keys/rotate';
const KEYS = '/configs/oidc/private-keys';
const LIMIT_MESSAGE = new RegExp(`at most ${KEY_LIMIT} signing keys.*${KEY_LIMIT - 2} previous keys`);

const stateOf = (list, state) => list.filter((k) => k.state === state);

/** The one key of list in state; fails when there is not exactly one. */
function only(list, state) {
  const keys = stateOf(list, state);
  assert.equal(keys.length, 1, `one ${state} key in ${JSON.stringify(list)}`);
  return keys[0];
}

/**
 * What must hold at any moment, also while a rotation is still reaching the other loop threads:
 * the JWKS has between 2 and KEY_LIMIT keys, and a fresh client-credentials token is issued and
 * verifies with jose against it. Resolves {kid, kids}.
 */
async function assertServing(ctx, what) {
  const { keys } = await ctx.jwks();
  assert.ok(keys.length >= 2 && keys.length <= KEY_LIMIT, `${what}: ${keys.length} keys in the JWKS`);
  const token = await ctx.mgmtToken({ refresh: true });
  const { protectedHeader } = await ctx.verify(token, { audience: ctx.apiIndicator });
  return { kid: protectedHeader.kid, kids: keys.map((k) => k.kid) };
}

/**
 * After a rotation that left list (the Management API's key list): once the change reached every
 * loop, the JWKS has the listed keys (less those whose grace period has ended since), among them
 * the current and the next one, and tokens are signed with the current key and verify against it.
 */
async function assertPublished(ctx, list, what) {
  const cur = only(list, 'current');
  const nxt = only(list, 'next');
  assert.ok(list.length <= KEY_LIMIT, `${what}: ${list.length} keys listed`);
  await assertServing(ctx, what);
  let seen;
  await waitFor(async () => {
    seen = await assertServing(ctx, what);
    const { kid, kids } = seen;
    // Nothing but listed keys; a listed previous key may be missing only once its grace period
    // has ended (it may end while this waits).
    return kid === cur.id && kids.includes(nxt.id) &&
      kids.every((id) => list.some((k) => k.id === id)) &&
      list.every((k) => kids.includes(k.id) || (k.state === 'previous' && k.expiresAt <= Date.now()));
  }, { timeoutMs: 10000, intervalMs: 50, what: `${what}: JWKS = ${JSON.stringify(list)}, signed by ${cur.id}` })
    .catch((err) => {
      throw new Error(`${err.message}; last seen ${JSON.stringify(seen)}`);
    });
}

/** Rotates through the Management API; resolves the response. */
async function rotate(ctx, body) {
  return (await ctx.api({ refresh: true })).post(ROTATE, body);
}

/** Asserts the refusal of a rotation over the limit. */
function assertRefused(res, what) {
  const body = assertApiError(res, 422, what);
  assert.equal(body.code, 'oidc.key_limit', `${what}: ${res.text}`);
  assert.match(body.message, LIMIT_MESSAGE, `${what}: the message names the limit`);
}

/**
 * Rotates until accepted: while too many previous keys are in their grace period the rotation is
 * refused (422 oidc.key_limit), and the tenant must keep serving meanwhile. Resolves the new key
 * list and the number of refusals.
 */
async function rotateUntilAccepted(ctx, body, what) {
  let refusals = 0;
  const list = await waitFor(async () => {
    const res = await rotate(ctx, body);
    if (res.status === 422) {
      assertRefused(res, what);
      refusals++;
      await assertServing(ctx, `${what} (refused)`);
      return null;
    }
    return expectStatus(res, 200, what);
  }, { timeoutMs: 60000, intervalMs: 200, what });
  return { list, refusals };
}

/** latchctl keys rotate for ctx; resolves {code, stdout, stderr}. */
const ctlRotate = (ctx, args = []) =>
  latchctl(['keys', 'rotate', '--tenant', ctx.id, ...args], ctlEnv(ctx.server));

const ALGORITHMS = ['EC', 'EC', 'Ed25519', 'EC', 'EC-P256', 'EC', 'EC', 'EC', 'EC', 'RSA'];

describe('signing key rotation without a cliff', () => {
  let srv;
  before(async () => {
    srv = await startLatchd({ threads: 2 });
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  it('30 rotations in a row through the Management API, and 3 with latchctl: tokens keep being issued and verify against a JWKS with the current and next keys', async () => {
    const ctx = await TenantCtx.create(srv, 'rot30');
    const grace = 4; // short enough for the test to wait for grace periods to end
    let refusals = 0;
    let prevCurrent = null;
    for (let i = 0; i < 30; i++) {
      const signingKeyAlgorithm = ALGORITHMS[i % ALGORITHMS.length];
      const what = `rotation ${i + 1} (${signingKeyAlgorithm})`;
      const got = await rotateUntilAccepted(ctx, { signingKeyAlgorithm, gracePeriod: grace }, what);
      refusals += got.refusals;
      const cur = only(got.list, 'current');
      assert.equal(cur.signingKeyAlgorithm, signingKeyAlgorithm, what);
      assert.notEqual(cur.id, prevCurrent, `${what}: a new current key`);
      prevCurrent = cur.id;
      assert.ok(stateOf(got.list, 'previous').length <= KEY_LIMIT - 2, `${what}: ${JSON.stringify(got.list)}`);
      await assertPublished(ctx, got.list, what);
    }
    for (let i = 0; i < 3; i++) {
      const what = `latchctl rotation ${i + 1}`;
      const before = await assertServing(ctx, what);
      await waitFor(async () => {
        const r = await ctlRotate(ctx, ['--grace', String(grace)]);
        if (r.code === 0) return true;
        // Refused over the limit: a clear message, and nothing else wrong.
        assert.match(r.stderr, LIMIT_MESSAGE, `${what}: ${r.stderr}`);
        refusals++;
        return false;
      }, { timeoutMs: 60000, intervalMs: 200, what });
      const list = expectStatus(await (await ctx.api({ refresh: true })).get(KEYS), 200, what);
      assert.notEqual(only(list, 'current').id, before.kid, `${what}: a new current key`);
      await assertPublished(ctx, list, what);
    }
    // Rotations came faster than grace periods ended, so the limit was met and waited out.
    assert.ok(refusals > 0, 'some rotation met the limit');
    const pruned = await adminQuery(
      'SELECT count(*)::int AS n FROM signing_keys WHERE tenant_id = $1', [ctx.id]);
    assert.ok(pruned.rows[0].n <= KEY_LIMIT, `${pruned.rows[0].n} rows left: expired keys are pruned`);
  });

  it('long grace periods: the rotation over the limit is refused with 422 oidc.key_limit, and nothing changes', async () => {
    const ctx = await TenantCtx.create(srv, 'rotlim');
    const first = await ctx.mgmtToken({ refresh: true });
    const firstKid = jose.decodeProtectedHeader(first).kid;
    let list;
    for (let i = 0; i < KEY_LIMIT - 2; i++) {
      list = expectStatus(await rotate(ctx, {}), 200, `rotation ${i + 1}`);
    }
    assert.equal(list.length, KEY_LIMIT, JSON.stringify(list));
    assert.equal(stateOf(list, 'previous').length, KEY_LIMIT - 2);
    await assertPublished(ctx, list, 'at the limit');

    const refused = await rotate(ctx, { signingKeyAlgorithm: 'EC', gracePeriod: 3600 });
    assertRefused(refused, 'rotation over the limit');
    const after = expectStatus(await (await ctx.api()).get(KEYS), 200, 'list after the refusal');
    assert.deepEqual(after.map((k) => [k.id, k.state]), list.map((k) => [k.id, k.state]),
      'a refused rotation changes nothing');
    await assertPublished(ctx, after, 'after the refusal');
    // The grace period is kept: the token of before the first rotation still verifies and is
    // taken by the Management API.
    await ctx.verify(first, { audience: ctx.apiIndicator });
    assert.equal((await apiClient(srv, ctx.id, first).get(KEYS)).status, 200, 'oldest token accepted');

    const ctl = await ctlRotate(ctx);
    assert.notEqual(ctl.code, 0, `latchctl over the limit: ${ctl.stdout}`);
    assert.match(ctl.stderr, LIMIT_MESSAGE, `latchctl says why: ${ctl.stderr}`);
    assert.match(ctl.stderr, new RegExp(`${KEY_LIMIT - 2} previous keys are in their grace period`),
      `latchctl passes on the database's detail: ${ctl.stderr}`);

    // Deleting a previous key makes room for one rotation.
    const oldest = stateOf(after, 'previous').find((k) => k.id === firstKid);
    assert.ok(oldest, `the first key is a previous key: ${JSON.stringify(after)}`);
    expectStatus(await (await ctx.api()).del(`${KEYS}/${encodeURIComponent(oldest.id)}`), [200, 204],
      'delete the oldest previous key');
    list = expectStatus(await rotate(ctx, {}), 200, 'rotation after a delete');
    assert.equal(list.length, KEY_LIMIT);
    await assertPublished(ctx, list, 'after a delete and a rotation');
    assertRefused(await rotate(ctx, {}), 'at the limit again');

    // A rotation without a grace period adds no previous key: it is always possible.
    const oldCurrent = only(list, 'current').id;
    list = expectStatus(await rotate(ctx, { gracePeriod: 0 }), 200, 'rotation with gracePeriod 0');
    assert.equal(list.length, KEY_LIMIT);
    assert.ok(!list.some((k) => k.id === oldCurrent), 'the old current key is gone at once');
    await assertPublished(ctx, list, 'after a rotation with gracePeriod 0');
    assert.ok(!srv.logs.some((l) => typeof l?.msg === 'string' && l.msg.includes(ctx.id) &&
      l.msg.includes('left out')), 'no key was dropped');
  });

  it('a previous key leaves the JWKS and stops verifying when its grace period ends', async () => {
    const ctx = await TenantCtx.create(srv, 'rotexp');
    const old = await ctx.mgmtToken({ refresh: true });
    const oldKid = jose.decodeProtectedHeader(old).kid;
    const list = expectStatus(await rotate(ctx, { gracePeriod: 1 }), 200, 'rotate with gracePeriod 1');
    const prev = list.find((k) => k.id === oldKid);
    assert.equal(prev?.state, 'previous', JSON.stringify(list));
    assert.equal(typeof prev.expiresAt, 'number', 'a previous key says when it expires');

    await waitFor(async () => !(await ctx.jwks()).keys.some((k) => k.kid === oldKid),
      { timeoutMs: 15000, what: 'the expired key leaves the JWKS' });
    await waitFor(async () => (await apiClient(srv, ctx.id, old).get(KEYS)).status === 401,
      { timeoutMs: 15000, what: 'a token of the expired key is refused (401)' });
    // Every loop, not only one: the JWKS and the Management API stay that way.
    for (let i = 0; i < 8; i++) {
      assert.ok(!(await ctx.jwks()).keys.some((k) => k.kid === oldKid), 'expired key not published');
      assert.equal((await apiClient(srv, ctx.id, old).get(KEYS)).status, 401, 'expired key not accepted');
    }
    const now = expectStatus(await (await ctx.api({ refresh: true })).get(KEYS), 200, 'list');
    assert.ok(!now.some((k) => k.id === oldKid), 'expired key not listed');
    await assertPublished(ctx, now, 'after the grace period');
    // It was ignored, not yet pruned; the next rotation prunes it.
    const rows = async () => (await adminQuery(
      'SELECT count(*)::int AS n FROM signing_keys WHERE tenant_id = $1 AND id = $2', [ctx.id, oldKid])).rows[0].n;
    assert.equal(await rows(), 1, 'the expired row is still there');
    expectStatus(await rotate(ctx, {}), 200, 'rotate again');
    assert.equal(await rows(), 0, 'rotation prunes expired keys');
  });

  it('an expired key is neither published nor trusted on another node that had it cached, without a restart', async () => {
    const other = await startLatchd({ threads: 2, env: { LATCH_PUBLIC_URL: srv.publicUrl } });
    try {
      const ctx = await TenantCtx.create(srv, 'rotexp2');
      const ctx2 = ctx.on(other);
      const old = await ctx.mgmtToken({ refresh: true });
      const oldKid = jose.decodeProtectedHeader(old).kid;
      // The other node has the key cached, and trusts the token.
      assert.ok((await ctx2.jwks()).keys.some((k) => k.kid === oldKid), 'published on the other node');
      assert.equal((await apiClient(other, ctx.id, old).get(KEYS)).status, 200, 'trusted on the other node');
      expectStatus(await rotate(ctx, { gracePeriod: 2 }), 200, 'rotate with gracePeriod 2');
      assert.equal((await apiClient(other, ctx.id, old).get(KEYS)).status, 200, 'still trusted in its grace period');
      await waitFor(async () => !(await ctx2.jwks()).keys.some((k) => k.kid === oldKid),
        { timeoutMs: 15000, what: 'the expired key leaves the other node\'s JWKS' });
      for (let i = 0; i < 8; i++) {
        assert.ok(!(await ctx2.jwks()).keys.some((k) => k.kid === oldKid), 'not published on the other node');
        assert.equal((await apiClient(other, ctx.id, old).get(KEYS)).status, 401, 'refused on the other node');
      }
    } finally {
      await other.stop();
    }
  });

  it('a tenant holding more keys than a node can (rows from before the limit) keeps its current and next keys', async () => {
    const ctx = await TenantCtx.create(srv, 'rotover');
    const list = expectStatus(await (await ctx.api()).get(KEYS), 200, 'list');
    await assertPublished(ctx, list, 'before');
    // 12 previous keys in their grace period, all older than the current and next keys: the
    // 8 oldest keys (what nodes used to hold) are all previous ones.
    const seal = Buffer.from(hkdfSync('sha256', Buffer.from(srv.env.LATCH_SECRET_KEY, 'base64'),
      'latch', 'latch/signing-keys/v1', 32));
    const extra = [];
    const rows = [];
    for (let i = 0; i < 12; i++) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
      const jwk = publicKey.export({ format: 'jwk' });
      const kid = await jose.calculateJwkThumbprint(jwk, 'sha256');
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', seal, iv);
      c.setAAD(Buffer.from(`${ctx.id}/${kid}`));
      const der = privateKey.export({ format: 'der', type: 'pkcs8' });
      const sealed = Buffer.concat([iv, c.update(der), c.final(), c.getAuthTag()]);
      rows.push({ kid, sealed: sealed.toString('hex'), jwk: { ...jwk, kid, alg: 'ES384', use: 'sig' }, i });
      extra.push(kid);
    }
    // One statement, one transaction: every node sees the 14 keys at once.
    await adminQuery(
      `INSERT INTO signing_keys (tenant_id, id, algorithm, state, private_key, public_jwk,
                                 created_at, expires_at)
       SELECT $1, r.kid, 'EC', 'previous', decode(r.sealed, 'hex'), r.jwk,
              now() - interval '1 hour' + make_interval(secs => r.i), now() + interval '1 day'
         FROM jsonb_to_recordset($2::jsonb) AS r(kid text, sealed text, jwk jsonb, i int)`,
      [ctx.id, JSON.stringify(rows)]);
    const newest = extra.slice(-(KEY_LIMIT - 2));
    await waitFor(async () => {
      const { kid, kids } = await assertServing(ctx, 'over the limit');
      return kid === only(list, 'current').id && kids.length === KEY_LIMIT &&
        kids.includes(only(list, 'next').id) && newest.every((k) => kids.includes(k));
    }, { timeoutMs: 10000, intervalMs: 50, what: 'current, next and the 6 newest previous keys published' });
    const warned = () => srv.logs.filter((l) => typeof l?.msg === 'string' && l.msg.includes(ctx.id) &&
      l.msg.includes('left out'));
    await waitFor(() => warned().length > 0, { what: 'a warning that keys were left out' });
    for (const l of warned()) {
      assert.equal(l.level, 'warn', JSON.stringify(l));
      assert.match(l.msg, new RegExp(`14 signing keys are live but a node holds ${KEY_LIMIT}: the 6 oldest`));
      assert.ok(!extra.some((k) => l.msg.includes(k)), 'no key material or ids in the log');
    }
    // Rotating with a grace period would keep even more: refused. Without one, it goes through.
    assertRefused(await rotate(ctx, {}), 'rotation while over the limit');
    const after = expectStatus(await rotate(ctx, { gracePeriod: 0 }), 200, 'rotation with gracePeriod 0');
    const kids = (await waitFor(async () => {
      const s = await assertServing(ctx, 'after rotating');
      return s.kid === only(after, 'current').id && s.kids.includes(only(after, 'next').id) ? s.kids : null;
    }, { timeoutMs: 10000, intervalMs: 50, what: 'the new current and next keys published' }));
    assert.equal(kids.length, KEY_LIMIT);
  });
});
