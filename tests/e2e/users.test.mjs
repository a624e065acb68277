// End-to-end tests of users in the Management API (issue 4, item 1), Logto's paths and shapes
// under <tenant endpoint>/api/users: create/read/update/delete with Logto's user JSON, search
// and pagination (Total-Number), identifier formats and conflicts (422 user.*_already_in_use),
// passwords set and verified (Argon2i PHC with the configured parameters), imported Argon2id and
// bcrypt digests that verify and are upgraded to Argon2i on the first successful verification,
// suspension (ends the user's sessions), custom data, profile, identities, User roles, the
// LATCH_PASSWORD_ARGON2_* settings, and tenant isolation. The stored rows are checked as the
// superuser (adminQuery).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { adminQuery, randomId, runLatchdToExit, startLatchd } from './lib/harness.mjs';
import { TenantCtx, assertApiError, assertInvalidField, expectStatus, uniq } from './lib/oidc.mjs';

// Argon2 authors' reference vector (phc-winner-argon2 src/test.c): "password", salt "somesalt".
const ARGON2ID_KAT = '$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4';
// python3 -c "import crypt; print(crypt.crypt('correct horse', '$2b$04$abcdefghijklmnopqrstuu'))"
const BCRYPT_HASH = '$2b$04$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e';
const BCRYPT_PASSWORD = 'correct horse';
// crypt_blowfish's vector in the $2y$ (PHP) flavour.
const BCRYPT_2Y = '$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW';

const DEFAULT_PHC_PREFIX = '$argon2i$v=19$m=8192,t=8,p=1$';

const USER_KEYS = ['applicationId', 'avatar', 'createdAt', 'customData', 'hasPassword', 'id',
  'identities', 'isSuspended', 'lastSignInAt', 'name', 'primaryEmail', 'primaryPhone', 'profile',
  'updatedAt', 'username'].sort();

/** A fresh username in Logto's format (^[A-Z_a-z]\w*$). */
const uname = (prefix = 'u') => `${prefix}_${randomId(10)}`;

async function storedPassword(tenant, userId) {
  const { rows } = await adminQuery(
    'SELECT password_encrypted, password_encryption_method FROM users WHERE tenant_id = $1 AND id = $2',
    [tenant, userId]);
  assert.equal(rows.length, 1, `user ${userId} in ${tenant}`);
  return { hash: rows[0].password_encrypted, method: rows[0].password_encryption_method };
}

function assertUserShape(user, what) {
  assert.deepEqual(Object.keys(user).sort(), USER_KEYS, `${what}: keys of ${JSON.stringify(user)}`);
  assert.match(user.id, /^[0-9a-z]{12}$/, `${what}: id`);
  assert.equal(typeof user.createdAt, 'number', `${what}: createdAt in ms`);
  assert.equal(typeof user.updatedAt, 'number', `${what}: updatedAt in ms`);
  assert.ok(Math.abs(user.createdAt - Date.now()) < 10 * 60 * 1000, `${what}: createdAt is ms`);
  assert.equal(typeof user.isSuspended, 'boolean');
  assert.equal(typeof user.hasPassword, 'boolean');
  for (const k of ['customData', 'identities', 'profile']) {
    assert.equal(typeof user[k], 'object', `${what}: ${k}`);
    assert.ok(user[k] !== null && !Array.isArray(user[k]), `${what}: ${k} is an object`);
  }
  assert.ok(!JSON.stringify(user).includes('$argon2'), `${what}: no hash in the JSON`);
}

describe('Users (Management API)', () => {
  let srv;
  let a;
  let b;
  let api;

  before(async () => {
    srv = await startLatchd();
    a = await TenantCtx.create(srv, 'usra');
    b = await TenantCtx.create(srv, 'usrb');
    api = await a.api();
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  it('creates, reads, updates and deletes a user in Logto\'s shape', async () => {
    const username = uname('Crud');
    const email = `${username.toLowerCase()}@Example.COM`;
    const created = expectStatus(await api.post('/users', {
      username,
      primaryEmail: email,
      primaryPhone: '8613800000000',
      name: 'Ada Lovelace',
      avatar: 'https://cdn.example.com/ada.png',
      customData: { plan: 'pro', seats: 3, tags: ['a', 'b'], nested: { ok: true } },
      profile: { givenName: 'Ada', familyName: 'Lovelace', locale: 'en-GB',
        address: { country: 'UK', locality: 'London' }, notAClaim: 'dropped' },
    }), 200, 'POST /users');
    assertUserShape(created, 'created');
    assert.equal(created.username, username);
    assert.equal(created.primaryEmail, email);
    assert.equal(created.primaryPhone, '8613800000000');
    assert.equal(created.name, 'Ada Lovelace');
    assert.equal(created.avatar, 'https://cdn.example.com/ada.png');
    assert.deepEqual(created.customData, { plan: 'pro', seats: 3, tags: ['a', 'b'], nested: { ok: true } });
    assert.deepEqual(created.profile, { givenName: 'Ada', familyName: 'Lovelace', locale: 'en-GB',
      address: { country: 'UK', locality: 'London' } });
    assert.deepEqual(created.identities, {});
    assert.equal(created.hasPassword, false);
    assert.equal(created.isSuspended, false);
    assert.equal(created.lastSignInAt, null);
    assert.equal(created.applicationId, null);

    const got = expectStatus(await api.get(`/users/${created.id}`), 200, 'GET /users/:id');
    assert.deepEqual(got, created);

    // PATCH replaces what it names (customData and profile as a whole), "" or null clear.
    const patched = expectStatus(await api.patch(`/users/${created.id}`, {
      name: 'Ada King',
      primaryPhone: '',
      avatar: null,
      customData: { plan: 'free' },
      profile: { nickname: 'ada' },
    }), 200, 'PATCH /users/:id');
    assertUserShape(patched, 'patched');
    assert.equal(patched.name, 'Ada King');
    assert.equal(patched.primaryPhone, null);
    assert.equal(patched.avatar, null);
    assert.equal(patched.username, username, 'unnamed members keep their values');
    assert.equal(patched.primaryEmail, email);
    assert.deepEqual(patched.customData, { plan: 'free' });
    assert.deepEqual(patched.profile, { nickname: 'ada' });
    assert.equal(patched.createdAt, created.createdAt);
    assert.ok(patched.updatedAt >= created.updatedAt);

    // custom data and profile: GET, and PATCH that merges (Logto's default jsonb mode)
    assert.deepEqual(expectStatus(await api.get(`/users/${created.id}/custom-data`), 200, 'GET custom-data'),
      { plan: 'free' });
    assert.deepEqual(expectStatus(await api.patch(`/users/${created.id}/custom-data`,
      { customData: { seats: 5 } }), 200, 'PATCH custom-data'), { plan: 'free', seats: 5 });
    assertInvalidField(await api.patch(`/users/${created.id}/custom-data`, { customData: [1] }), 'customData');
    assertInvalidField(await api.patch(`/users/${created.id}/custom-data`, {}), 'customData');
    assert.deepEqual(expectStatus(await api.patch(`/users/${created.id}/profile`,
      { profile: { website: 'https://ada.example' } }), 200, 'PATCH profile'),
    { nickname: 'ada', website: 'https://ada.example' });
    assertInvalidField(await api.patch(`/users/${created.id}/profile`, { profile: { nickname: 7 } }),
      'profile.nickname');
    assert.deepEqual(expectStatus(await api.get(`/users/${created.id}/identities`), 200, 'GET identities'), {});
    assert.deepEqual(expectStatus(await api.get(`/users/${created.id}/has-password`), 200, 'has-password'),
      { hasPassword: false });
    const again = expectStatus(await api.get(`/users/${created.id}`), 200, 'GET after patches');
    assert.deepEqual(again.customData, { plan: 'free', seats: 5 });

    // A user with no identifier at all is allowed, as in Logto.
    const bare = expectStatus(await api.post('/users', {}), 200, 'POST /users {}');
    assertUserShape(bare, 'bare');
    assert.equal(bare.username, null);

    expectStatus(await api.del(`/users/${created.id}`), 204, 'DELETE /users/:id');
    const gone = assertApiError(await api.get(`/users/${created.id}`), 404, 'GET deleted');
    assert.equal(gone.code, 'entity.not_exists_with_id');
    assertApiError(await api.del(`/users/${created.id}`), 404, 'DELETE twice');
    assertApiError(await api.patch(`/users/${created.id}`, { name: 'x' }), 404, 'PATCH deleted');
    assertApiError(await api.get('/users/not-a-user-id'), 404, 'unknown id');
    assertApiError(await api.get('/users/%2e%2e'), 404, 'id that cannot be one');
  });

  it('validates bodies and identifier formats', async () => {
    const bad = [
      [{ username: '1abc' }, 'username'],
      [{ username: 'has space' }, 'username'],
      [{ username: 'dash-ed' }, 'username'],
      [{ username: 'x'.repeat(129) }, 'username'],
      [{ username: 7 }, 'username'],
      [{ primaryEmail: 'not-an-email' }, 'primaryEmail'],
      [{ primaryEmail: 'a@b' }, 'primaryEmail'],
      [{ primaryPhone: '+1 555' }, 'primaryPhone'],
      [{ primaryPhone: '' }, 'primaryPhone'],
      [{ avatar: 'javascript:alert(1)' }, 'avatar'],
      [{ name: 'x'.repeat(129) }, 'name'],
      [{ password: '' }, 'password'],
      [{ password: 'x'.repeat(257) }, 'password'],
      [{ customData: 'text' }, 'customData'],
      [{ profile: [] }, 'profile'],
      [{ passwordDigest: ARGON2ID_KAT, passwordAlgorithm: 'MD5' }, 'passwordAlgorithm'],
      [{ passwordDigest: ARGON2ID_KAT, passwordAlgorithm: 'Argon2i' }, 'passwordDigest'],
      [{ passwordDigest: 'plain', passwordAlgorithm: 'Bcrypt' }, 'passwordDigest'],
    ];
    for (const [body, field] of bad) {
      assertInvalidField(await api.post('/users', body), field, `POST /users ${JSON.stringify(body).slice(0, 80)}`);
    }
    const both = assertApiError(await api.post('/users', { password: 'Secret-123', passwordDigest: ARGON2ID_KAT,
      passwordAlgorithm: 'Argon2id' }), 400, 'password and digest');
    assert.equal(both.code, 'user.password_and_digest');
    const noAlg = assertApiError(await api.post('/users', { passwordDigest: ARGON2ID_KAT }), 400, 'digest without algorithm');
    assert.equal(noAlg.code, 'user.password_algorithm_required');
    assertApiError(await api.post('/users', '{"username":"a\\u0000b"}', { raw: true }), 400, 'NUL escape');
    assertApiError(await api.post('/users', 'not json', { raw: true }), 400, 'not JSON');
    // a password of exactly 256 bytes is fine
    const max = expectStatus(await api.post('/users', { username: uname('Max'), password: 'é'.repeat(128) }),
      200, '256-byte password');
    assert.equal(max.hasPassword, true);
    expectStatus(await api.post(`/users/${max.id}/password/verify`, { password: 'é'.repeat(128) }), 204,
      'verify the 256-byte password');
  });

  it('answers 422 for identifiers already in use, without case for username and email', async () => {
    const username = uname('Dup');
    const email = `${username.toLowerCase()}@example.com`;
    const first = expectStatus(await api.post('/users', { username, primaryEmail: email, primaryPhone: '15550001' + randomId(4).replace(/\D/g, '7') }),
      200, 'first');
    const conflicts = [
      [{ username: username.toUpperCase() }, 'user.username_already_in_use'],
      [{ username: uname('Other'), primaryEmail: email.toUpperCase() }, 'user.email_already_in_use'],
      [{ primaryPhone: first.primaryPhone }, 'user.phone_already_in_use'],
    ];
    for (const [body, code] of conflicts) {
      const err = assertApiError(await api.post('/users', body), 422, `POST ${JSON.stringify(body)}`);
      assert.equal(err.code, code);
    }
    // PATCH: the same checks against every other user, not against the user itself
    const second = expectStatus(await api.post('/users', { username: uname('Second') }), 200, 'second');
    for (const [body, code] of conflicts) {
      const err = assertApiError(await api.patch(`/users/${second.id}`, body), 422, `PATCH ${JSON.stringify(body)}`);
      assert.equal(err.code, code);
    }
    const same = expectStatus(await api.patch(`/users/${first.id}`, { username: username.toLowerCase(),
      primaryEmail: email }), 200, 'PATCH to its own identifiers');
    assert.equal(same.username, username.toLowerCase());
    // nothing was created by the failed attempts
    const { rows } = await adminQuery('SELECT count(*)::int AS n FROM users WHERE tenant_id = $1 AND lower(username) = lower($2)',
      [a.id, username]);
    assert.equal(rows[0].n, 1);
  });

  it('searches username, email and name (plain text or % patterns) with pagination', async () => {
    const tag = `srch${randomId(6)}`;
    const made = [];
    for (let i = 0; i < 5; i += 1) {
      made.push(expectStatus(await api.post('/users', {
        username: `${tag}_${i}`,
        primaryEmail: `person${i}.${tag}@example.org`,
        name: `Person ${i} ${tag.toUpperCase()}`,
      }), 200, `user ${i}`));
    }
    // another user that only matches by name, one by email
    const byName = expectStatus(await api.post('/users', { username: uname('N'), name: `Named ${tag}` }), 200, 'by name');
    const byEmail = expectStatus(await api.post('/users', { username: uname('E'), primaryEmail: `x.${tag}@example.net` }),
      200, 'by email');

    const page = async (q, p, size) => {
      const res = await api.get(`/users?search=${encodeURIComponent(q)}&page=${p}&page_size=${size}`);
      const list = expectStatus(res, 200, `search ${q} page ${p}`);
      return { list, total: Number(res.headers.get('total-number')) };
    };
    let r = await page(tag, 1, 3);
    assert.equal(r.total, 7, 'Total-Number counts every match');
    assert.equal(r.list.length, 3);
    r.list.forEach((u) => assertUserShape(u, 'listed'));
    const seen = new Set(r.list.map((u) => u.id));
    r = await page(tag, 2, 3);
    assert.equal(r.list.length, 3);
    r.list.forEach((u) => seen.add(u.id));
    r = await page(tag, 3, 3);
    assert.equal(r.list.length, 1);
    r.list.forEach((u) => seen.add(u.id));
    assert.equal(seen.size, 7, 'pages do not overlap');
    for (const u of [...made, byName, byEmail]) assert.ok(seen.has(u.id));
    // newest first, as Logto
    const all = (await page(tag, 1, 20)).list;
    for (let i = 1; i < all.length; i += 1) assert.ok(all[i - 1].createdAt >= all[i].createdAt);

    // case-insensitive, anywhere in the field; Logto's % patterns work as given
    assert.equal((await page(tag.toUpperCase(), 1, 20)).total, 7);
    assert.equal((await page(`%${tag}%`, 1, 20)).total, 7);
    assert.equal((await page(`${tag}_%`, 1, 20)).total, 5, 'a % pattern is used as is (username prefix)');
    assert.deepEqual((await page(`person3.${tag}`, 1, 20)).list.map((u) => u.id), [made[3].id]);
    assert.deepEqual((await page(`Named ${tag}`, 1, 20)).list.map((u) => u.id), [byName.id]);
    // plain text takes _ literally: "<tag>_1" matches user 1 only, "<tag>x1" nothing
    assert.deepEqual((await page(`${tag}_1`, 1, 20)).list.map((u) => u.id), [made[1].id]);
    assert.equal((await page(`${tag}x1`, 1, 20)).total, 0);
    assert.equal((await page(`${tag}\\`, 1, 20)).total, 0);

    // without search: the whole tenant, and page defaults
    const res = await api.get('/users');
    const list = expectStatus(res, 200, 'GET /users');
    assert.ok(list.length <= 20);
    assert.ok(Number(res.headers.get('total-number')) >= 7);
    assertApiError(await api.get('/users?page=0'), 400, 'page 0');
    assertApiError(await api.get('/users?page_size=101'), 400, 'page_size 101');
    assertInvalidField(await api.get(`/users?search=${'x'.repeat(300)}`), 'search');
  });

  it('sets and verifies passwords on the worker pool (Argon2i, Logto parameters)', async () => {
    const password = `Pw-${randomId(12)}`;
    const user = expectStatus(await api.post('/users', { username: uname('Pw'), password }), 200, 'create with password');
    assert.equal(user.hasPassword, true);
    let stored = await storedPassword(a.id, user.id);
    assert.equal(stored.method, 'Argon2i');
    assert.ok(stored.hash.startsWith(DEFAULT_PHC_PREFIX), stored.hash);

    expectStatus(await api.post(`/users/${user.id}/password/verify`, { password }), 204, 'right password');
    const wrong = assertApiError(await api.post(`/users/${user.id}/password/verify`, { password: `${password}x` }),
      422, 'wrong password');
    assert.equal(wrong.code, 'session.invalid_credentials');
    assertInvalidField(await api.post(`/users/${user.id}/password/verify`, {}), 'password');
    assertApiError(await api.post('/users/nosuchuser12/password/verify', { password }), 404, 'unknown user');

    const next = `Nx-${randomId(12)}`;
    const changed = expectStatus(await api.patch(`/users/${user.id}/password`, { password: next }), 200,
      'PATCH password');
    assertUserShape(changed, 'after PATCH password');
    assert.equal(changed.hasPassword, true);
    const after = await storedPassword(a.id, user.id);
    assert.notEqual(after.hash, stored.hash);
    assert.ok(after.hash.startsWith(DEFAULT_PHC_PREFIX));
    assertApiError(await api.post(`/users/${user.id}/password/verify`, { password }), 422, 'old password');
    expectStatus(await api.post(`/users/${user.id}/password/verify`, { password: next }), 204, 'new password');
    assertApiError(await api.patch('/users/nosuchuser12/password', { password: next }), 404, 'PATCH password unknown');

    // a user without a password cannot be verified
    const none = expectStatus(await api.post('/users', { username: uname('NoPw') }), 200, 'no password');
    const err = assertApiError(await api.post(`/users/${none.id}/password/verify`, { password: 'anything' }), 422,
      'verify without a password');
    assert.equal(err.code, 'session.invalid_credentials');

    // several verifications at once: all answered, the node keeps serving meanwhile
    const started = Date.now();
    const results = await Promise.all([
      ...Array.from({ length: 6 }, () => api.post(`/users/${user.id}/password/verify`, { password: next })),
      api.get(`/users/${user.id}`),
    ]);
    results.slice(0, 6).forEach((res) => assert.equal(res.status, 204));
    assert.equal(results[6].status, 200);
    assert.ok(Date.now() - started < 20000);
    stored = await storedPassword(a.id, user.id);
    assert.equal(stored.hash, after.hash, 'a current hash is not rewritten');
  });

  for (const [label, digest, algorithm, password] of [
    ['argon2id', ARGON2ID_KAT, 'Argon2id', 'password'],
    ['bcrypt $2b$', BCRYPT_HASH, 'Bcrypt', BCRYPT_PASSWORD],
    ['bcrypt $2y$', BCRYPT_2Y, 'Bcrypt', 'U*U'],
  ]) {
    it(`imports a ${label} digest, verifies it and upgrades it to Argon2i`, async () => {
      const user = expectStatus(await api.post('/users', {
        username: uname('Imp'), passwordDigest: digest, passwordAlgorithm: algorithm,
      }), 200, `import ${label}`);
      assert.equal(user.hasPassword, true);
      assert.deepEqual(await storedPassword(a.id, user.id), { hash: digest, method: algorithm });

      // a wrong password changes nothing
      assertApiError(await api.post(`/users/${user.id}/password/verify`, { password: `${password}!` }), 422,
        'wrong password');
      assert.deepEqual(await storedPassword(a.id, user.id), { hash: digest, method: algorithm });

      expectStatus(await api.post(`/users/${user.id}/password/verify`, { password }), 204, 'right password');
      const upgraded = await storedPassword(a.id, user.id);
      assert.equal(upgraded.method, 'Argon2i');
      assert.ok(upgraded.hash.startsWith(DEFAULT_PHC_PREFIX), upgraded.hash);
      // the same password keeps working against the new hash, which stays as it is
      expectStatus(await api.post(`/users/${user.id}/password/verify`, { password }), 204, 'after the upgrade');
      assert.equal((await storedPassword(a.id, user.id)).hash, upgraded.hash);
      assertApiError(await api.post(`/users/${user.id}/password/verify`, { password: 'nope' }), 422,
        'wrong after the upgrade');
    });
  }

  it('suspends a user: sessions end, refresh tokens are revoked, and back', async () => {
    const user = expectStatus(await api.post('/users', { username: uname('Susp'), password: 'Secret-123' }), 200, 'user');
    const other = expectStatus(await api.post('/users', { username: uname('Keep') }), 200, 'other user');
    const app = await a.createApp({ type: 'Traditional', name: uniq('web') });
    const idHash = () => createHash('sha256').update(randomBytes(32)).digest();
    for (const u of [user, other]) {
      await adminQuery(`INSERT INTO sessions (tenant_id, id_hash, sid, user_id, expires_at)
                        VALUES ($1, $2, $3, $4, now() + interval '1 day')`, [a.id, idHash(), randomId(20), u.id]);
      await adminQuery(`INSERT INTO refresh_tokens (tenant_id, token_hash, family_id, grant_id, client_id,
                          user_id, scope, auth_time, expires_at)
                        VALUES ($1, $2, $3, $4, $5, $6, 'openid', now(), now() + interval '1 day')`,
      [a.id, idHash(), randomId(20), randomId(20), app.id, u.id]);
    }
    const live = async (u) => {
      const s = await adminQuery('SELECT count(*)::int AS n FROM sessions WHERE tenant_id = $1 AND user_id = $2 AND ended_at IS NULL',
        [a.id, u.id]);
      const t = await adminQuery('SELECT count(*)::int AS n FROM refresh_tokens WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL',
        [a.id, u.id]);
      return { sessions: s.rows[0].n, tokens: t.rows[0].n };
    };
    assert.deepEqual(await live(user), { sessions: 1, tokens: 1 });

    const suspended = expectStatus(await api.patch(`/users/${user.id}/is-suspended`, { isSuspended: true }), 200,
      'suspend');
    assertUserShape(suspended, 'suspended');
    assert.equal(suspended.isSuspended, true);
    assert.deepEqual(await live(user), { sessions: 0, tokens: 0 });
    assert.deepEqual(await live(other), { sessions: 1, tokens: 1 }, 'other users keep theirs');
    assert.equal(expectStatus(await api.get(`/users/${user.id}`), 200, 'GET').isSuspended, true);

    const back = expectStatus(await api.patch(`/users/${user.id}/is-suspended`, { isSuspended: false }), 200,
      'unsuspend');
    assert.equal(back.isSuspended, false);
    assertInvalidField(await api.patch(`/users/${user.id}/is-suspended`, {}), 'isSuspended');
    assertInvalidField(await api.patch(`/users/${user.id}/is-suspended`, { isSuspended: 'yes' }), 'isSuspended');
    assertApiError(await api.patch('/users/nosuchuser12/is-suspended', { isSuspended: true }), 404, 'unknown user');
  });

  it('lists and removes social identities', async () => {
    const user = expectStatus(await api.post('/users', { username: uname('Soc') }), 200, 'user');
    const identities = { huggingface: { userId: 'hf-123', details: { id: 'hf-123', name: 'HF' } } };
    await adminQuery('UPDATE users SET identities = $3 WHERE tenant_id = $1 AND id = $2',
      [a.id, user.id, JSON.stringify(identities)]);
    assert.deepEqual(expectStatus(await api.get(`/users/${user.id}/identities`), 200, 'GET identities'), identities);
    const after = expectStatus(await api.del(`/users/${user.id}/identities/huggingface`), 200, 'DELETE identity');
    assert.deepEqual(after.identities, {});
    const err = assertApiError(await api.del(`/users/${user.id}/identities/huggingface`), 404, 'DELETE again');
    assert.equal(err.code, 'user.identity_not_exist');
  });

  it('assigns User roles only', async () => {
    const user = expectStatus(await api.post('/users', { username: uname('Roles') }), 200, 'user');
    const userRole = expectStatus(await api.post('/roles', { name: uniq('reader'), description: 'reads', type: 'User' }),
      [200, 201], 'User role');
    const userRole2 = expectStatus(await api.post('/roles', { name: uniq('writer'), description: 'writes', type: 'User' }),
      [200, 201], 'second User role');
    const m2mRole = await a.createRole();

    let res = await api.get(`/users/${user.id}/roles`);
    assert.deepEqual(expectStatus(res, 200, 'no roles'), []);
    assert.equal(res.headers.get('total-number'), '0');

    res = await api.post(`/users/${user.id}/roles`, { roleIds: [userRole.id] });
    assert.equal(res.status, 201, res.text);
    res = await api.post(`/users/${user.id}/roles`, { roleIds: [userRole.id, userRole2.id] });
    assert.equal(res.status, 201, `existing roles are skipped: ${res.text}`);
    res = await api.get(`/users/${user.id}/roles?page=1&page_size=1`);
    const firstPage = expectStatus(res, 200, 'roles page 1');
    assert.equal(res.headers.get('total-number'), '2');
    assert.equal(firstPage.length, 1);
    const allRoles = expectStatus(await api.get(`/users/${user.id}/roles`), 200, 'roles');
    assert.deepEqual(allRoles.map((r) => r.id).sort(), [userRole.id, userRole2.id].sort());
    assert.equal(allRoles[0].type, 'User');
    // The role list counts and features the role's users, as Logto's does.
    const roleRow = expectStatus(await api.get('/roles?type=User&page_size=100'), 200, 'role list')
      .find((r) => r.id === userRole.id);
    assert.ok(roleRow, 'the role is listed');
    assert.equal(roleRow.usersCount, 1, 'usersCount');
    assert.deepEqual(roleRow.featuredUsers.map((u) => u.id), [user.id], 'featuredUsers');

    const notUser = assertApiError(await api.post(`/users/${user.id}/roles`, { roleIds: [m2mRole.id] }), 422,
      'M2M role');
    assert.equal(notUser.code, 'user.invalid_role_type');
    assertApiError(await api.post(`/users/${user.id}/roles`, { roleIds: ['nosuchrole'] }), 404, 'unknown role');
    assertApiError(await api.post('/users/nosuchuser12/roles', { roleIds: [userRole.id] }), 404, 'unknown user');
    assertInvalidField(await api.post(`/users/${user.id}/roles`, {}), 'roleIds');
    const { rows } = await adminQuery('SELECT role_id FROM users_roles WHERE tenant_id = $1 AND user_id = $2 ORDER BY role_id',
      [a.id, user.id]);
    assert.deepEqual(rows.map((r) => r.role_id), [userRole.id, userRole2.id].sort(), 'nothing added by the failures');

    // excludeRoleId leaves out the role's users
    const listed = expectStatus(await api.get(`/users?search=${user.username}&excludeRoleId=${userRole.id}`), 200,
      'excludeRoleId');
    assert.deepEqual(listed, []);

    // replace, then remove
    expectStatus(await api.put(`/users/${user.id}/roles`, { roleIds: [userRole2.id] }), 200, 'PUT roles');
    assert.deepEqual(expectStatus(await api.get(`/users/${user.id}/roles`), 200, 'after PUT').map((r) => r.id),
      [userRole2.id]);
    expectStatus(await api.del(`/users/${user.id}/roles/${userRole2.id}`), 204, 'DELETE role');
    const missing = assertApiError(await api.del(`/users/${user.id}/roles/${userRole2.id}`), 404, 'DELETE again');
    assert.equal(missing.code, 'entity.not_found');
    assert.deepEqual(expectStatus(await api.get(`/users/${user.id}/roles`), 200, 'after DELETE'), []);

    // deleting the role or the user removes the assignment
    expectStatus(await api.post(`/users/${user.id}/roles`, { roleIds: [userRole.id] }), 201, 're-add');
    expectStatus(await api.del(`/roles/${userRole.id}`), 204, 'DELETE the role');
    assert.deepEqual(expectStatus(await api.get(`/users/${user.id}/roles`), 200, 'after role deletion'), []);
  });

  it('keeps tenants apart', async () => {
    const apiB = await b.api();
    const username = uname('Iso');
    const email = `${username.toLowerCase()}@example.com`;
    const inA = expectStatus(await api.post('/users', { username, primaryEmail: email, password: 'Secret-123' }),
      200, 'user in A');

    assertApiError(await apiB.get(`/users/${inA.id}`), 404, 'B reads A\'s user');
    assertApiError(await apiB.patch(`/users/${inA.id}`, { name: 'stolen' }), 404, 'B patches A\'s user');
    assertApiError(await apiB.del(`/users/${inA.id}`), 404, 'B deletes A\'s user');
    assertApiError(await apiB.patch(`/users/${inA.id}/password`, { password: 'Hijack-123' }), 404, 'B sets the password');
    assertApiError(await apiB.post(`/users/${inA.id}/password/verify`, { password: 'Secret-123' }), 404, 'B verifies');
    assertApiError(await apiB.patch(`/users/${inA.id}/is-suspended`, { isSuspended: true }), 404, 'B suspends');
    assertApiError(await apiB.get(`/users/${inA.id}/custom-data`), 404, 'B reads custom data');
    assertApiError(await apiB.get(`/users/${inA.id}/roles`), 404, 'B lists roles');
    const res = await apiB.get(`/users?search=${username}`);
    assert.deepEqual(expectStatus(res, 200, 'B searches'), []);
    assert.equal(res.headers.get('total-number'), '0');
    const allB = expectStatus(await apiB.get('/users?page_size=100'), 200, 'B lists');
    assert.ok(!allB.some((u) => u.id === inA.id));

    // identifiers are unique per tenant only
    const inB = expectStatus(await apiB.post('/users', { username, primaryEmail: email }), 200, 'same username in B');
    assert.notEqual(inB.id, inA.id);

    // A's user is untouched
    const still = expectStatus(await api.get(`/users/${inA.id}`), 200, 'A still has it');
    assert.equal(still.name, null);
    assert.equal(still.isSuspended, false);
    expectStatus(await api.post(`/users/${inA.id}/password/verify`, { password: 'Secret-123' }), 204, 'A verifies');

    // without a token: 401
    const anon = await fetch(`${a.base}/api/users`);
    assert.equal(anon.status, 401);
  });

  it('documents POST /api/users and PATCH /api/users/{userId} in swagger.json', async () => {
    const doc = expectStatus(await api.get('/swagger.json'), 200, 'swagger');
    const post = doc.paths['/api/users']?.post;
    assert.ok(post, 'POST /api/users listed');
    const schema = post.requestBody.content['application/json'].schema;
    assert.ok(schema.properties.passwordDigest && schema.properties.username);
    const patch = doc.paths['/api/users/{userId}']?.patch;
    assert.ok(patch?.requestBody.content['application/json'].schema.properties.primaryEmail);
    assert.ok(doc.paths['/api/users/{userId}/password/verify']?.post);
  });
});

describe('LATCH_PASSWORD_ARGON2_* settings', () => {
  it('new hashes and upgrades use the configured parameters', async () => {
    const srv = await startLatchd({ env: {
      LATCH_PASSWORD_ARGON2_ITERATIONS: '3',
      LATCH_PASSWORD_ARGON2_MEMORY_KIB: '4096',
      LATCH_PASSWORD_ARGON2_PARALLELISM: '2',
    } });
    try {
      const ctx = await TenantCtx.create(srv, 'usrc');
      const api = await ctx.api();
      const user = expectStatus(await api.post('/users', { username: uname('Cfg'), password: 'Secret-123' }), 200, 'user');
      const stored = await storedPassword(ctx.id, user.id);
      assert.ok(stored.hash.startsWith('$argon2i$v=19$m=4096,t=3,p=2$'), stored.hash);
      expectStatus(await api.post(`/users/${user.id}/password/verify`, { password: 'Secret-123' }), 204, 'verify');
      assert.equal((await storedPassword(ctx.id, user.id)).hash, stored.hash, 'current parameters: no upgrade');

      // an Argon2i hash made with Logto's defaults is stronger in t and m but has fewer lanes
      const imported = expectStatus(await api.post('/users', { username: uname('Lanes'), passwordDigest: ARGON2ID_KAT,
        passwordAlgorithm: 'Argon2id' }), 200, 'import');
      expectStatus(await api.post(`/users/${imported.id}/password/verify`, { password: 'password' }), 204, 'verify');
      assert.ok((await storedPassword(ctx.id, imported.id)).hash.startsWith('$argon2i$v=19$m=4096,t=3,p=2$'));
    } finally {
      assert.equal((await srv.stop()).code, 0);
    }
  });

  for (const [name, value] of [
    ['LATCH_PASSWORD_ARGON2_ITERATIONS', '0'],
    ['LATCH_PASSWORD_ARGON2_MEMORY_KIB', '512'],
    ['LATCH_PASSWORD_ARGON2_PARALLELISM', 'two'],
  ]) {
    it(`refuses ${name}=${value} at start-up with a message naming it`, async () => {
      const r = await runLatchdToExit({ env: { [name]: value } });
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes(name), r.stderr);
    });
  }
});
