// End-to-end tests of role-based access control for users in the Management API, Logto's paths
// and shapes: the users of a role (GET/POST /api/roles/:id/users, DELETE …/users/:userId) agree
// with the roles of a user (/api/users/:id/roles) whichever side writes; only User roles go to
// users (422 user.invalid_role_type), a user who already holds the role is refused with
// 422 role.user_exists and nothing is written, unknown users and roles answer 404 naming them;
// the list searches and pages like GET /api/users (Total-Number); default User roles are given to
// a user created through POST /api/users (and a role that is no longer default is not); and a
// tenant can neither see nor change another tenant's roles and users. Stored rows are checked as
// the superuser (adminQuery).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { adminQuery, randomId, startLatchd } from './lib/harness.mjs';
import { TenantCtx, assertApiError, assertInvalidField, expectStatus, uniq } from './lib/oidc.mjs';

/** A fresh username in Logto's format (^[A-Z_a-z]\w*$). */
const uname = (prefix = 'u') => `${prefix}_${randomId(10)}`;

const USER_KEYS = ['applicationId', 'avatar', 'createdAt', 'customData', 'hasPassword', 'id',
  'identities', 'isSuspended', 'lastSignInAt', 'name', 'primaryEmail', 'primaryPhone', 'profile',
  'updatedAt', 'username'].sort();

/** The role ids a user holds, as stored. */
async function storedRoles(tenant, userId) {
  const { rows } = await adminQuery(
    'SELECT role_id FROM users_roles WHERE tenant_id = $1 AND user_id = $2 ORDER BY role_id', [tenant, userId]);
  return rows.map((r) => r.role_id);
}

describe('Users of a role and default roles (Management API)', () => {
  let srv;
  let a;
  let b;
  let api;

  const createUser = async (client, body, what = 'create user') =>
    expectStatus(await client.post('/users', body), 200, what);
  const createUserRole = async (client, extra = {}) =>
    expectStatus(await client.post('/roles', { name: uniq('reader'), description: 'reads', type: 'User', ...extra }),
      200, 'create User role');
  const roleUsers = async (client, roleId, query = '') => {
    const res = await client.get(`/roles/${roleId}/users${query}`);
    const list = expectStatus(res, 200, `GET /roles/${roleId}/users${query}`);
    return { list, total: Number(res.headers.get('total-number')), ids: list.map((u) => u.id) };
  };
  const userRoleIds = async (client, userId) =>
    expectStatus(await client.get(`/users/${userId}/roles`), 200, `GET /users/${userId}/roles`).map((r) => r.id).sort();

  before(async () => {
    srv = await startLatchd();
    a = await TenantCtx.create(srv, 'rbaca');
    b = await TenantCtx.create(srv, 'rbacb');
    api = await a.api();
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  it('assigns users to a role and both sides agree', async () => {
    const role = await createUserRole(api);
    const other = await createUserRole(api);
    const alice = await createUser(api, { username: uname('Alice'), name: 'Alice' });
    const bob = await createUser(api, { username: uname('Bob') });
    const carol = await createUser(api, { username: uname('Carol') });

    let got = await roleUsers(api, role.id);
    assert.deepEqual(got.list, []);
    assert.equal(got.total, 0);

    // role side writes: 201 without a body, as Logto
    const res = await api.post(`/roles/${role.id}/users`, { userIds: [alice.id, bob.id] });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.text, '');
    got = await roleUsers(api, role.id);
    assert.equal(got.total, 2);
    assert.deepEqual(got.ids.sort(), [alice.id, bob.id].sort());
    // the users are the Management API's user JSON, newest first
    assert.deepEqual(got.list.map((u) => u.id), [bob.id, alice.id], 'newest first');
    assert.deepEqual(Object.keys(got.list[1]).sort(), USER_KEYS);
    assert.deepEqual(got.list[1], expectStatus(await api.get(`/users/${alice.id}`), 200, 'GET alice'));
    assert.deepEqual(await userRoleIds(api, alice.id), [role.id]);
    assert.deepEqual(await userRoleIds(api, bob.id), [role.id]);
    assert.deepEqual(await userRoleIds(api, carol.id), []);

    // user side writes: the role side sees it
    expectStatus(await api.post(`/users/${carol.id}/roles`, { roleIds: [role.id, other.id] }), 201, 'user side adds');
    got = await roleUsers(api, role.id);
    assert.deepEqual(got.ids.sort(), [alice.id, bob.id, carol.id].sort());
    assert.deepEqual((await roleUsers(api, other.id)).ids, [carol.id]);

    // the role list's counters follow
    const row = expectStatus(await api.get('/roles?type=User&page_size=100'), 200, 'role list')
      .find((r) => r.id === role.id);
    assert.equal(row.usersCount, 3);

    // role side removes: the user side sees it; the user's other role stays
    expectStatus(await api.del(`/roles/${role.id}/users/${carol.id}`), 204, 'DELETE carol');
    assert.deepEqual(await userRoleIds(api, carol.id), [other.id]);
    assert.deepEqual((await roleUsers(api, role.id)).ids.sort(), [alice.id, bob.id].sort());
    // user side removes: the role side sees it
    expectStatus(await api.del(`/users/${bob.id}/roles/${role.id}`), 204, 'user side removes');
    assert.deepEqual((await roleUsers(api, role.id)).ids, [alice.id]);
    assert.deepEqual(await storedRoles(a.id, alice.id), [role.id]);
    assert.deepEqual(await storedRoles(a.id, bob.id), []);

    // deleting a user or the role takes the assignments with it
    expectStatus(await api.del(`/users/${alice.id}`), 204, 'DELETE alice');
    assert.deepEqual((await roleUsers(api, role.id)).list, []);
    expectStatus(await api.del(`/roles/${other.id}`), 204, 'DELETE other role');
    assert.deepEqual(await userRoleIds(api, carol.id), []);
    assertApiError(await api.get(`/roles/${other.id}/users`), 404, 'users of a deleted role');
  });

  it('refuses what Logto refuses and writes nothing then', async () => {
    const role = await createUserRole(api);
    const m2m = await a.createRole();
    const held = await createUser(api, { username: uname('Held') });
    const fresh = await createUser(api, { username: uname('Fresh') });
    expectStatus(await api.post(`/roles/${role.id}/users`, { userIds: [held.id] }), 201, 'first add');

    // a user who already holds the role: 422 naming them, and the others are not added either
    let err = assertApiError(await api.post(`/roles/${role.id}/users`, { userIds: [fresh.id, held.id] }), 422,
      'already held');
    assert.equal(err.code, 'role.user_exists');
    assert.ok(err.message.includes(held.id), err.message);
    assert.deepEqual(await storedRoles(a.id, fresh.id), []);

    // an unknown user: 404 naming it, nothing added
    err = assertApiError(await api.post(`/roles/${role.id}/users`, { userIds: [fresh.id, 'nosuchuser12'] }), 404,
      'unknown user');
    assert.equal(err.code, 'entity.not_exists_with_id');
    assert.ok(err.message.includes('nosuchuser12'), err.message);
    assert.deepEqual(await storedRoles(a.id, fresh.id), []);

    // a MachineToMachine role cannot go to users, from either side
    err = assertApiError(await api.post(`/roles/${m2m.id}/users`, { userIds: [fresh.id] }), 422, 'M2M role');
    assert.equal(err.code, 'user.invalid_role_type');
    assert.ok(err.message.includes(m2m.id), err.message);
    assert.equal(assertApiError(await api.post(`/users/${fresh.id}/roles`, { roleIds: [m2m.id] }), 422,
      'M2M role, user side').code, 'user.invalid_role_type');
    assert.deepEqual(await storedRoles(a.id, fresh.id), []);
    // ... and lists no users
    assert.deepEqual((await roleUsers(api, m2m.id)).list, []);

    // unknown role
    err = assertApiError(await api.post('/roles/nosuchrole/users', { userIds: [fresh.id] }), 404, 'unknown role');
    assert.equal(err.code, 'entity.not_exists_with_id');
    assert.ok(err.message.includes('nosuchrole'), err.message);
    assertApiError(await api.get('/roles/nosuchrole/users'), 404, 'list of an unknown role');
    assertApiError(await api.get(`/roles/${'x'.repeat(40)}/users`), 404, 'an id that cannot be one');

    // the body: userIds required, non-empty, strings
    assertInvalidField(await api.post(`/roles/${role.id}/users`, {}), 'userIds');
    assertInvalidField(await api.post(`/roles/${role.id}/users`, { userIds: [] }), 'userIds');
    assertInvalidField(await api.post(`/roles/${role.id}/users`, { userIds: [7] }), 'userIds');
    assertInvalidField(await api.post(`/roles/${role.id}/users`, { userIds: 'abc' }), 'userIds');
    assertApiError(await api.post(`/roles/${role.id}/users`, '{', { raw: true }), 400, 'not JSON');

    // removing: not held → 404 entity.not_found; unknown user or role → 404 naming it
    err = assertApiError(await api.del(`/roles/${role.id}/users/${fresh.id}`), 404, 'not held');
    assert.equal(err.code, 'entity.not_found');
    err = assertApiError(await api.del(`/roles/${role.id}/users/nosuchuser12`), 404, 'unknown user');
    assert.ok(err.message.includes('nosuchuser12'), err.message);
    err = assertApiError(await api.del(`/roles/nosuchrole/users/${held.id}`), 404, 'unknown role');
    assert.ok(err.message.includes('nosuchrole'), err.message);
    assert.deepEqual(await storedRoles(a.id, held.id), [role.id], 'the failures removed nothing');
    expectStatus(await api.del(`/roles/${role.id}/users/${held.id}`), 204, 'remove');
    assert.equal(assertApiError(await api.del(`/roles/${role.id}/users/${held.id}`), 404, 'remove again').code,
      'entity.not_found');

    // duplicates in one body count once
    expectStatus(await api.post(`/roles/${role.id}/users`, { userIds: [fresh.id, fresh.id] }), 201, 'duplicates');
    assert.deepEqual(await storedRoles(a.id, fresh.id), [role.id]);
  });

  it('pages and searches the users of a role like GET /api/users', async () => {
    const role = await createUserRole(api);
    const tag = `pg${randomId(6)}`;
    const users = [];
    for (let i = 0; i < 5; i++) {
      users.push(await createUser(api, { username: `${tag}_${i}`, primaryEmail: `person${i}.${tag}@example.com` }));
    }
    const outsider = await createUser(api, { username: `${tag}_9` }, 'a user without the role');
    expectStatus(await api.post(`/roles/${role.id}/users`, { userIds: users.map((u) => u.id) }), 201, 'add five');

    const newestFirst = users.map((u) => u.id).reverse();
    const p1 = await roleUsers(api, role.id, '?page=1&page_size=2');
    const p2 = await roleUsers(api, role.id, '?page=2&page_size=2');
    const p3 = await roleUsers(api, role.id, '?page=3&page_size=2');
    assert.deepEqual([p1.total, p2.total, p3.total], [5, 5, 5], 'Total-Number on every page');
    assert.deepEqual([...p1.ids, ...p2.ids, ...p3.ids], newestFirst, 'pages in order, none twice');
    assert.deepEqual((await roleUsers(api, role.id, '?page=4&page_size=2')).list, []);
    // default page size is 20: the five of them
    assert.deepEqual((await roleUsers(api, role.id)).ids, newestFirst);

    // search over id, username, email, phone and name; only the role's users
    let got = await roleUsers(api, role.id, `?search=${tag}`);
    assert.equal(got.total, 5, 'the outsider matches the text but does not hold the role');
    assert.ok(!got.ids.includes(outsider.id));
    got = await roleUsers(api, role.id, `?search=person3.${tag}`);
    assert.deepEqual(got.ids, [users[3].id]);
    assert.equal(got.total, 1);
    got = await roleUsers(api, role.id, `?search=${users[2].id}`);
    assert.deepEqual(got.ids, [users[2].id]);
    // plain text takes _ literally; a % pattern is used as given
    assert.deepEqual((await roleUsers(api, role.id, `?search=${tag}_1`)).ids, [users[1].id]);
    assert.equal((await roleUsers(api, role.id, `?search=${tag}x1`)).total, 0);
    assert.equal((await roleUsers(api, role.id, `?search=${encodeURIComponent(`${tag}_%`)}`)).total, 5);
    got = await roleUsers(api, role.id, `?search=${tag}&page=2&page_size=3`);
    assert.equal(got.total, 5);
    assert.deepEqual(got.ids, newestFirst.slice(3));

    assertApiError(await api.get(`/roles/${role.id}/users?page=0`), 400, 'page 0');
    assertApiError(await api.get(`/roles/${role.id}/users?page_size=101`), 400, 'page_size 101');
    assertApiError(await api.get(`/roles/${role.id}/users?page_size=abc`), 400, 'page_size abc');
    assertInvalidField(await api.get(`/roles/${role.id}/users?search=${'x'.repeat(300)}`), 'search');
  });

  it('gives default User roles to users created through the API', async () => {
    // A tenant of its own, so that its default roles reach no other test's users.
    const d = await TenantCtx.create(srv, 'rbacd');
    const dApi = await d.api();
    const def1 = await createUserRole(dApi, { isDefault: true });
    const def2 = await createUserRole(dApi, { isDefault: true });
    const plain = await createUserRole(dApi);
    const m2mDefault = expectStatus(await dApi.post('/roles', { name: uniq('m2m'), description: 'machine',
      type: 'MachineToMachine', isDefault: true }), 200, 'default M2M role');
    assert.equal(m2mDefault.isDefault, true);

    // with a password (hashed on the worker pool first) and without
    const withPw = await createUser(dApi, { username: uname('Def'), password: `Pw-${randomId(12)}-9x!Q` });
    const noPw = await createUser(dApi, { username: uname('Def') });
    for (const u of [withPw, noPw]) {
      assert.deepEqual(await userRoleIds(dApi, u.id), [def1.id, def2.id].sort(), 'both default User roles');
      assert.deepEqual(await storedRoles(d.id, u.id), [def1.id, def2.id].sort(), 'not the M2M one, not the plain one');
    }
    assert.deepEqual((await roleUsers(dApi, def1.id)).ids.sort(), [withPw.id, noPw.id].sort());
    assert.deepEqual((await roleUsers(dApi, plain.id)).list, []);

    // a role that is no longer default is not given; one made default now is
    const patched = expectStatus(await dApi.patch(`/roles/${def1.id}`, { isDefault: false }), 200, 'un-default');
    assert.equal(patched.isDefault, false);
    expectStatus(await dApi.patch(`/roles/${plain.id}`, { isDefault: true }), 200, 'make default');
    const later = await createUser(dApi, { username: uname('Later') });
    assert.deepEqual(await userRoleIds(dApi, later.id), [def2.id, plain.id].sort());
    // earlier users keep what they were given
    assert.deepEqual(await userRoleIds(dApi, noPw.id), [def1.id, def2.id].sort());

    // a failed creation (taken username) leaves no assignment behind
    const before = (await adminQuery('SELECT count(*)::int AS n FROM users_roles WHERE tenant_id = $1', [d.id])).rows[0].n;
    assertApiError(await dApi.post('/users', { username: later.username }), 422, 'taken username');
    const afterFail = (await adminQuery('SELECT count(*)::int AS n FROM users_roles WHERE tenant_id = $1', [d.id])).rows[0].n;
    assert.equal(afterFail, before);

    // default roles are the tenant's own: a user created in A gets none of d's
    const inA = await createUser(api, { username: uname('NoDef') });
    assert.deepEqual(await storedRoles(a.id, inA.id), []);
  });

  it('keeps tenants apart', async () => {
    const apiB = await b.api();
    const roleA = await createUserRole(api);
    const userA = await createUser(api, { username: uname('IsoA') });
    expectStatus(await api.post(`/roles/${roleA.id}/users`, { userIds: [userA.id] }), 201, 'A assigns');
    const roleB = await createUserRole(apiB);
    const userB = await createUser(apiB, { username: uname('IsoB') });

    // B cannot list, add to or remove from A's role
    assertApiError(await apiB.get(`/roles/${roleA.id}/users`), 404, 'B lists A\'s role');
    assertApiError(await apiB.post(`/roles/${roleA.id}/users`, { userIds: [userB.id] }), 404, 'B adds to A\'s role');
    assertApiError(await apiB.del(`/roles/${roleA.id}/users/${userA.id}`), 404, 'B removes from A\'s role');
    // B cannot give its role to A's user, from either side
    const err = assertApiError(await apiB.post(`/roles/${roleB.id}/users`, { userIds: [userA.id] }), 404,
      'B gives its role to A\'s user');
    assert.ok(err.message.includes(userA.id), err.message);
    assertApiError(await apiB.post(`/users/${userA.id}/roles`, { roleIds: [roleB.id] }), 404, 'B, user side');
    assertApiError(await apiB.del(`/roles/${roleB.id}/users/${userA.id}`), 404, 'B removes A\'s user');
    // A cannot give its role to B's user
    assertApiError(await api.post(`/roles/${roleA.id}/users`, { userIds: [userB.id] }), 404, 'A adds B\'s user');

    // nothing moved
    assert.deepEqual(await storedRoles(a.id, userA.id), [roleA.id]);
    assert.deepEqual(await storedRoles(b.id, userB.id), []);
    const { rows } = await adminQuery('SELECT count(*)::int AS n FROM users_roles WHERE tenant_id = $1 AND role_id = $2',
      [b.id, roleB.id]);
    assert.equal(rows[0].n, 0);
    assert.deepEqual((await roleUsers(api, roleA.id)).ids, [userA.id]);
    assert.deepEqual((await roleUsers(apiB, roleB.id)).list, []);

    // without a token: 401
    const anon = await fetch(`${a.base}/api/roles/${roleA.id}/users`);
    assert.equal(anon.status, 401);
  });

  it('documents the routes in swagger.json', async () => {
    const doc = expectStatus(await api.get('/swagger.json'), 200, 'swagger');
    assert.ok(doc.paths['/api/roles/{id}/users']?.get, 'GET listed');
    assert.ok(doc.paths['/api/roles/{id}/users']?.post, 'POST listed');
    assert.ok(doc.paths['/api/roles/{id}/users/{userId}']?.delete, 'DELETE listed');
  });
});
