// End-to-end tests of organizations in the Management API (issue 6), Logto's paths and shapes
// under <tenant endpoint>/api/organizations: create/read/update/delete with Logto's
// Organization JSON, search (`q`), optional pagination (Total-Number) and showFeatured; user
// members with their organization roles and the organization scopes those grant; the
// MachineToMachine application members and their roles; just-in-time email domains and roles;
// GET /api/users/:userId/organizations; bad bodies (400 naming the field), unknown ids (404),
// refused requests that change nothing, and tenant isolation. Organization roles and scopes come
// from /api/organization-roles and /api/organization-scopes (OrgTemplate below). Stored rows are
// checked with adminQuery.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { adminQuery, randomId, startLatchd } from './lib/harness.mjs';
import { TenantCtx, assertApiError, assertInvalidField, expectStatus, uniq } from './lib/oidc.mjs';

const ORG_KEYS = ['branding', 'createdAt', 'customData', 'description', 'id', 'isMfaRequired', 'name',
  'tenantId'].sort();
const ORG_ROLE_KEYS = ['createdAt', 'description', 'id', 'name', 'tenantId', 'type'].sort();
const USER_KEYS = ['applicationId', 'avatar', 'createdAt', 'customData', 'hasPassword', 'id',
  'identities', 'isSuspended', 'lastSignInAt', 'name', 'primaryEmail', 'primaryPhone', 'profile',
  'updatedAt', 'username'].sort();
const APP_KEYS = ['createdAt', 'customClientMetadata', 'customData', 'description', 'id', 'isThirdParty',
  'name', 'oidcClientMetadata', 'tenantId', 'type'].sort();

const byId = (list) => Object.fromEntries(list.map((x) => [x.id, x]));
const ids = (list) => list.map((x) => x.id).sort();

function assertOrgShape(org, tenant, what) {
  assert.deepEqual(Object.keys(org).sort(), ORG_KEYS, `${what}: keys of ${JSON.stringify(org)}`);
  assert.equal(org.tenantId, tenant, `${what}: tenantId`);
  assert.match(org.id, /^[0-9a-z]{21}$/, `${what}: id`);
  assert.equal(typeof org.createdAt, 'number', `${what}: createdAt in ms`);
  assert.ok(Math.abs(org.createdAt - Date.now()) < 10 * 60 * 1000, `${what}: createdAt is ms`);
  assert.equal(typeof org.isMfaRequired, 'boolean', `${what}: isMfaRequired`);
  for (const k of ['customData', 'branding']) {
    assert.ok(org[k] !== null && typeof org[k] === 'object' && !Array.isArray(org[k]), `${what}: ${k} object`);
  }
}

/** Organization roles and scopes for the tests, through /api/organization-scopes and -roles. */
class OrgTemplate {
  constructor(api) {
    this.api = api;
  }

  static async create(ctx) {
    return new OrgTemplate(await ctx.api());
  }

  /** An organization scope {id, name}. */
  async scope(name = uniq('scope')) {
    const s = expectStatus(await this.api.post('/organization-scopes', { name, description: `e2e ${name}` }),
      [200, 201], `create organization scope ${name}`);
    return { id: s.id, name: s.name };
  }

  /** An organization role {id, name, type} granting the organization scopes scopeIds. */
  async role({ name = uniq('orgrole'), type = 'User', scopeIds = [] } = {}) {
    const body = { name, description: `e2e ${name}`, type };
    if (scopeIds.length) body.organizationScopeIds = scopeIds;
    const r = expectStatus(await this.api.post('/organization-roles', body), [200, 201],
      `create organization role ${name}`);
    assert.equal(r.type, type);
    return { id: r.id, name: r.name, type: r.type };
  }
}

describe('Organizations (Management API)', () => {
  let srv;
  let a;
  let b;
  let api;
  let apiB;
  let tpl;

  const newOrg = async (body = {}) => expectStatus(await api.post('/organizations', { name: uniq('org'), ...body }),
    201, 'create organization');

  before(async () => {
    srv = await startLatchd();
    a = await TenantCtx.create(srv, 'orga');
    b = await TenantCtx.create(srv, 'orgb');
    api = await a.api();
    apiB = await b.api();
    tpl = await OrgTemplate.create(a);
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  it('creates, reads, updates and deletes an organization in Logto\'s shape', async () => {
    const name = uniq('Acme');
    const created = expectStatus(await api.post('/organizations', {
      name,
      description: 'A customer',
      customData: { plan: 'pro', seats: 3, tags: ['a'], nested: { ok: true } },
      isMfaRequired: true,
      branding: { logoUrl: 'https://cdn.example.com/acme.png' },
    }), 201, 'POST /organizations');
    assertOrgShape(created, a.id, 'created');
    assert.equal(created.name, name);
    assert.equal(created.description, 'A customer');
    assert.deepEqual(created.customData, { plan: 'pro', seats: 3, tags: ['a'], nested: { ok: true } });
    assert.equal(created.isMfaRequired, true);
    assert.deepEqual(created.branding, { logoUrl: 'https://cdn.example.com/acme.png' });

    const { rows } = await adminQuery('SELECT name, description, is_mfa_required FROM organizations WHERE tenant_id = $1 AND id = $2',
      [a.id, created.id]);
    assert.deepEqual(rows, [{ name, description: 'A customer', is_mfa_required: true }]);

    assert.deepEqual(expectStatus(await api.get(`/organizations/${created.id}`), 200, 'GET'), created);

    // defaults
    const bare = await newOrg();
    assertOrgShape(bare, a.id, 'bare');
    assert.equal(bare.description, null);
    assert.deepEqual(bare.customData, {});
    assert.deepEqual(bare.branding, {});
    assert.equal(bare.isMfaRequired, false);
    assert.notEqual(bare.id, created.id);

    // PATCH is partial: what is not given stays; customData is replaced as given
    const renamed = expectStatus(await api.patch(`/organizations/${created.id}`, { name: `${name}-2` }), 200, 'PATCH name');
    assert.equal(renamed.name, `${name}-2`);
    assert.equal(renamed.description, 'A customer');
    assert.equal(renamed.isMfaRequired, true);
    assert.deepEqual(renamed.customData, created.customData);
    assert.equal(renamed.createdAt, created.createdAt);
    const patched = expectStatus(await api.patch(`/organizations/${created.id}`, {
      description: null, customData: { plan: 'free' }, isMfaRequired: false, branding: {},
    }), 200, 'PATCH the rest');
    assert.equal(patched.name, `${name}-2`);
    assert.equal(patched.description, null);
    assert.deepEqual(patched.customData, { plan: 'free' });
    assert.equal(patched.isMfaRequired, false);
    assert.deepEqual(patched.branding, {});
    assert.deepEqual(expectStatus(await api.get(`/organizations/${created.id}`), 200, 'GET after PATCH'), patched);

    expectStatus(await api.del(`/organizations/${created.id}`), 204, 'DELETE');
    const gone = assertApiError(await api.get(`/organizations/${created.id}`), 404, 'GET after DELETE');
    assert.equal(gone.code, 'entity.not_exists_with_id');
    assert.ok(gone.message.includes(created.id), gone.message);
    assertApiError(await api.del(`/organizations/${created.id}`), 404, 'DELETE twice');
    assertApiError(await api.patch(`/organizations/${created.id}`, { name: 'x' }), 404, 'PATCH deleted');
    assertApiError(await api.get('/organizations/not%20an%20id'), 404, 'GET of a non-id');
    assertApiError(await api.get(`/organizations/${'x'.repeat(40)}`), 404, 'GET of a too long id');
  });

  it('refuses bad organization bodies with 400 naming the field', async () => {
    assertInvalidField(await api.post('/organizations', {}), 'name', 'no name');
    assertInvalidField(await api.post('/organizations', { name: '' }), 'name', 'empty name');
    assertInvalidField(await api.post('/organizations', { name: 'x'.repeat(129) }), 'name', 'long name');
    assertInvalidField(await api.post('/organizations', { name: 42 }), 'name', 'name a number');
    assertInvalidField(await api.post('/organizations', { name: 'n', description: 'd'.repeat(257) }),
      'description', 'long description');
    assertInvalidField(await api.post('/organizations', { name: 'n', customData: [1] }), 'customData', 'customData array');
    assertInvalidField(await api.post('/organizations', { name: 'n', customData: null }), 'customData', 'customData null');
    assertInvalidField(await api.post('/organizations', { name: 'n', isMfaRequired: 'yes' }), 'isMfaRequired',
      'isMfaRequired a string');
    assertInvalidField(await api.post('/organizations', { name: 'n', branding: 'blue' }), 'branding', 'branding a string');
    assertInvalidField(await api.post('/organizations', '{"name": '), 'body', 'broken JSON');
    assertInvalidField(await api.post('/organizations', '[]'), 'body', 'array body');

    // exactly the limits are fine
    const edge = await newOrg({ name: 'é'.repeat(128), description: 'd'.repeat(256) });
    assert.equal(edge.name, 'é'.repeat(128));

    const org = await newOrg();
    assertInvalidField(await api.patch(`/organizations/${org.id}`, { name: null }), 'name', 'PATCH name null');
    assertInvalidField(await api.patch(`/organizations/${org.id}`, { customData: 'x' }), 'customData', 'PATCH customData');
    assert.deepEqual(expectStatus(await api.get(`/organizations/${org.id}`), 200, 'unchanged'), org);
  });

  it('lists organizations newest first, with q, optional pagination and showFeatured', async () => {
    const tag = randomId(10).toLowerCase();
    const made = [];
    for (let i = 0; i < 5; i++) {
      made.push(await newOrg({ name: `list-${tag}-${i}`, description: i === 4 ? `desc-${tag}-special` : null }));
    }
    const newestFirst = [...made].reverse().map((o) => o.id);

    const res = await api.get(`/organizations?q=${tag}`);
    const all = expectStatus(res, 200, 'search');
    assert.deepEqual(all.map((o) => o.id), newestFirst, 'newest first');
    assert.equal(res.headers.get('total-number'), '5');
    for (const o of all) assertOrgShape(o, a.id, 'listed');
    assert.deepEqual(all[0], made[4]);

    const p2 = await api.get(`/organizations?q=${tag}&page=2&page_size=2`);
    assert.deepEqual(expectStatus(p2, 200, 'page 2').map((o) => o.id), newestFirst.slice(2, 4));
    assert.equal(p2.headers.get('total-number'), '5');
    const p3 = expectStatus(await api.get(`/organizations?q=${tag}&page=3&page_size=2`), 200, 'page 3');
    assert.deepEqual(p3.map((o) => o.id), newestFirst.slice(4));
    assert.deepEqual(expectStatus(await api.get(`/organizations?q=${tag}&page=9`), 200, 'past the end'), []);

    // q matches id, name and description, without case
    assert.deepEqual(ids(expectStatus(await api.get(`/organizations?q=${tag.toUpperCase()}-SPECIAL`), 200, 'by description')),
      [made[4].id]);
    assert.deepEqual(ids(expectStatus(await api.get(`/organizations?q=${made[1].id}`), 200, 'by id')), [made[1].id]);
    assert.deepEqual(expectStatus(await api.get(`/organizations?q=nothing-${tag}`), 200, 'no match'), []);

    // without pagination: the whole list
    const whole = expectStatus(await api.get('/organizations'), 200, 'whole list');
    assert.ok(whole.length >= 5);
    for (const o of made) assert.ok(whole.some((x) => x.id === o.id));

    assertApiError(await api.get('/organizations?page=0'), 400, 'page 0');
    assertApiError(await api.get('/organizations?page_size=101'), 400, 'page_size 101');
    assertApiError(await api.get(`/organizations?q=${'q'.repeat(300)}`), 400, 'long q');

    // showFeatured: usersCount and up to three featured users
    const users = [];
    for (let i = 0; i < 4; i++) users.push(await a.createUser({ name: `Feat ${i}`, avatar: `https://cdn.example.com/${i}.png` }));
    expectStatus(await api.post(`/organizations/${made[0].id}/users`, { userIds: users.map((u) => u.id) }), 201, 'add 4');
    const featured = byId(expectStatus(await api.get(`/organizations?q=${tag}&showFeatured=true`), 200, 'showFeatured'));
    assert.equal(featured[made[0].id].usersCount, 4);
    assert.equal(featured[made[0].id].featuredUsers.length, 3);
    for (const fu of featured[made[0].id].featuredUsers) {
      assert.deepEqual(Object.keys(fu).sort(), ['avatar', 'id', 'name']);
      const u = users.find((x) => x.id === fu.id);
      assert.ok(u, `a member: ${fu.id}`);
      assert.equal(fu.name, u.name);
      assert.equal(fu.avatar, u.avatar);
    }
    assert.equal(featured[made[1].id].usersCount, 0);
    assert.deepEqual(featured[made[1].id].featuredUsers, []);
    const plain = byId(expectStatus(await api.get(`/organizations?q=${tag}`), 200, 'without showFeatured'));
    assert.ok(!('usersCount' in plain[made[0].id]));
  });

  it('adds, lists, replaces and removes user members', async () => {
    const org = await newOrg();
    const [u1, u2, u3] = [await a.createUser({ name: 'Member One' }), await a.createUser(), await a.createUser()];

    expectStatus(await api.post(`/organizations/${org.id}/users`, { userIds: [u1.id, u2.id] }), 201, 'add');
    // idempotent, duplicates in the list are fine
    expectStatus(await api.post(`/organizations/${org.id}/users`, { userIds: [u1.id, u1.id] }), 201, 'add again');

    let res = await api.get(`/organizations/${org.id}/users`);
    let members = expectStatus(res, 200, 'list');
    assert.deepEqual(ids(members), [u1.id, u2.id].sort());
    assert.equal(res.headers.get('total-number'), '2');
    const m1 = byId(members)[u1.id];
    assert.deepEqual(Object.keys(m1).sort(), [...USER_KEYS, 'organizationRoles'].sort());
    assert.deepEqual(m1.organizationRoles, []);
    // the same user JSON as GET /api/users/:id
    const { organizationRoles, ...plain } = m1;
    assert.deepEqual(plain, expectStatus(await api.get(`/users/${u1.id}`), 200, 'GET user'));

    // q over the users' columns, pagination
    assert.deepEqual(ids(expectStatus(await api.get(`/organizations/${org.id}/users?q=member%20one`), 200, 'q')), [u1.id]);
    res = await api.get(`/organizations/${org.id}/users?page=2&page_size=1`);
    assert.equal(expectStatus(res, 200, 'page 2').length, 1);
    assert.equal(res.headers.get('total-number'), '2');

    // an unknown user: 422 naming it, and nothing added
    const missing = assertApiError(await api.post(`/organizations/${org.id}/users`, { userIds: [u3.id, 'nosuchuser1'] }),
      [404, 422], 'unknown user');
    assert.ok(missing.message.includes('nosuchuser1'), missing.message);
    assert.deepEqual(ids(expectStatus(await api.get(`/organizations/${org.id}/users`), 200, 'after refusal')),
      [u1.id, u2.id].sort());

    // PUT replaces the set
    expectStatus(await api.put(`/organizations/${org.id}/users`, { userIds: [u2.id, u3.id] }), 204, 'PUT');
    assert.deepEqual(ids(expectStatus(await api.get(`/organizations/${org.id}/users`), 200, 'after PUT')),
      [u2.id, u3.id].sort());
    assertApiError(await api.put(`/organizations/${org.id}/users`, { userIds: [u1.id, 'nosuchuser2'] }), [404, 422],
      'PUT with an unknown user');
    assert.deepEqual(ids(expectStatus(await api.get(`/organizations/${org.id}/users`), 200, 'after refused PUT')),
      [u2.id, u3.id].sort());

    // DELETE one member; 404 when not a member
    expectStatus(await api.del(`/organizations/${org.id}/users/${u2.id}`), 204, 'DELETE member');
    assertApiError(await api.del(`/organizations/${org.id}/users/${u2.id}`), 404, 'DELETE non-member');
    assertApiError(await api.del(`/organizations/${org.id}/users/nosuchuser3`), 404, 'DELETE unknown user');
    const { rows } = await adminQuery(
      'SELECT user_id FROM organization_user_relations WHERE tenant_id = $1 AND organization_id = $2', [a.id, org.id]);
    assert.deepEqual(rows.map((r) => r.user_id), [u3.id]);

    // PUT [] empties the organization
    expectStatus(await api.put(`/organizations/${org.id}/users`, { userIds: [] }), 204, 'PUT []');
    assert.deepEqual(expectStatus(await api.get(`/organizations/${org.id}/users`), 200, 'empty'), []);

    // bad bodies
    assertInvalidField(await api.post(`/organizations/${org.id}/users`, {}), 'userIds', 'no userIds');
    assertInvalidField(await api.post(`/organizations/${org.id}/users`, { userIds: [] }), 'userIds', 'POST []');
    assertInvalidField(await api.post(`/organizations/${org.id}/users`, { userIds: 'u' }), 'userIds', 'not an array');
    assertInvalidField(await api.post(`/organizations/${org.id}/users`, { userIds: [7] }), 'userIds', 'not strings');
    assertInvalidField(await api.post(`/organizations/${org.id}/users`, { userIds: Array(101).fill(u1.id) }),
      'userIds', '101 ids');
    assertInvalidField(await api.put(`/organizations/${org.id}/users`, {}), 'userIds', 'PUT without userIds');

    // a deleted user leaves its organizations
    expectStatus(await api.post(`/organizations/${org.id}/users`, { userIds: [u1.id] }), 201, 're-add');
    expectStatus(await api.del(`/users/${u1.id}`), 204, 'delete the user');
    assert.deepEqual(expectStatus(await api.get(`/organizations/${org.id}/users`), 200, 'after user deletion'), []);
  });

  it('gives members organization roles (User roles only) and shows the scopes they grant', async () => {
    const org = await newOrg();
    const [u1, u2, outsider] = [await a.createUser(), await a.createUser(), await a.createUser()];
    const read = await tpl.scope(uniq('read'));
    const write = await tpl.scope(uniq('write'));
    const viewer = await tpl.role({ name: uniq('viewer'), scopeIds: [read.id] });
    const editor = await tpl.role({ name: uniq('editor'), scopeIds: [read.id, write.id] });
    const robot = await tpl.role({ name: uniq('robot'), type: 'MachineToMachine' });
    expectStatus(await api.post(`/organizations/${org.id}/users`, { userIds: [u1.id, u2.id] }), 201, 'members');

    // POST /users/roles: every user gets every role
    expectStatus(await api.post(`/organizations/${org.id}/users/roles`,
      { userIds: [u1.id, u2.id], organizationRoleIds: [viewer.id] }), 201, 'users/roles');
    expectStatus(await api.post(`/organizations/${org.id}/users/roles`,
      { userIds: [u1.id], organizationRoleIds: [viewer.id, editor.id] }), 201, 'users/roles again (idempotent)');

    // a non-member, an unknown role, a MachineToMachine role: 422, nothing written
    let err = assertApiError(await api.post(`/organizations/${org.id}/users/roles`,
      { userIds: [u2.id, outsider.id], organizationRoleIds: [editor.id] }), 422, 'non-member');
    assert.equal(err.code, 'organization.require_membership');
    assert.ok(err.message.includes(outsider.id), err.message);
    err = assertApiError(await api.post(`/organizations/${org.id}/users/roles`,
      { userIds: [u2.id], organizationRoleIds: [editor.id, 'nosuchrole'] }), 422, 'unknown role');
    assert.ok(err.message.includes('nosuchrole'), err.message);
    err = assertApiError(await api.post(`/organizations/${org.id}/users/roles`,
      { userIds: [u2.id], organizationRoleIds: [editor.id, robot.id] }), 422, 'M2M role to a user');
    assert.equal(err.code, 'user.invalid_role_type');
    assert.ok(err.message.includes(robot.id), err.message);
    assertInvalidField(await api.post(`/organizations/${org.id}/users/roles`, { userIds: [u1.id] }),
      'organizationRoleIds', 'no roles');
    assertInvalidField(await api.post(`/organizations/${org.id}/users/roles`, { userIds: [], organizationRoleIds: [viewer.id] }),
      'userIds', 'no users');

    const rolesOf = async (u) => expectStatus(await api.get(`/organizations/${org.id}/users/${u.id}/roles`), 200, 'roles');
    let r1 = await rolesOf(u1);
    assert.deepEqual(ids(r1), [viewer.id, editor.id].sort());
    for (const r of r1) {
      assert.deepEqual(Object.keys(r).sort(), ORG_ROLE_KEYS);
      assert.equal(r.tenantId, a.id);
      assert.equal(r.type, 'User');
      assert.equal(typeof r.createdAt, 'number');
    }
    assert.deepEqual(ids(await rolesOf(u2)), [viewer.id]);
    const page = await api.get(`/organizations/${org.id}/users/${u1.id}/roles?page=1&page_size=1`);
    assert.equal(expectStatus(page, 200, 'paged roles').length, 1);
    assert.equal(page.headers.get('total-number'), '2');

    // the member list shows them as {id, name}
    const listed = byId(expectStatus(await api.get(`/organizations/${org.id}/users`), 200, 'members'));
    assert.deepEqual(listed[u1.id].organizationRoles.map((r) => r.id).sort(), [viewer.id, editor.id].sort());
    for (const r of listed[u1.id].organizationRoles) assert.deepEqual(Object.keys(r).sort(), ['id', 'name']);

    // scopes: distinct, by name
    const scopes = expectStatus(await api.get(`/organizations/${org.id}/users/${u1.id}/scopes`), 200, 'scopes');
    assert.deepEqual(scopes.map((s) => s.id), [read, write].sort((x, y) => x.name.localeCompare(y.name)).map((s) => s.id));
    for (const s of scopes) {
      assert.ok(['description', 'id', 'name', 'tenantId'].every((k) => k in s), JSON.stringify(s));
      assert.equal(s.tenantId, a.id);
    }
    assert.deepEqual(expectStatus(await api.get(`/organizations/${org.id}/users/${u2.id}/scopes`), 200, 'u2 scopes')
      .map((s) => s.id), [read.id]);

    // POST / PUT / DELETE on one member
    expectStatus(await api.post(`/organizations/${org.id}/users/${u2.id}/roles`, { organizationRoleIds: [editor.id] }),
      201, 'POST roles');
    assert.deepEqual(ids(await rolesOf(u2)), [viewer.id, editor.id].sort());
    err = assertApiError(await api.post(`/organizations/${org.id}/users/${u2.id}/roles`, { organizationRoleIds: [robot.id] }),
      422, 'POST M2M role');
    assert.equal(err.code, 'user.invalid_role_type');
    expectStatus(await api.put(`/organizations/${org.id}/users/${u2.id}/roles`, { organizationRoleIds: [editor.id] }),
      204, 'PUT roles');
    assert.deepEqual(ids(await rolesOf(u2)), [editor.id]);
    assertApiError(await api.put(`/organizations/${org.id}/users/${u2.id}/roles`, { organizationRoleIds: [viewer.id, robot.id] }),
      422, 'PUT with an M2M role');
    assert.deepEqual(ids(await rolesOf(u2)), [editor.id], 'a refused PUT changes nothing');
    expectStatus(await api.del(`/organizations/${org.id}/users/${u2.id}/roles/${editor.id}`), 204, 'DELETE role');
    assert.deepEqual(await rolesOf(u2), []);
    err = assertApiError(await api.del(`/organizations/${org.id}/users/${u2.id}/roles/${editor.id}`), 404, 'DELETE again');
    assert.equal(err.code, 'entity.not_found');
    expectStatus(await api.put(`/organizations/${org.id}/users/${u1.id}/roles`, { organizationRoleIds: [] }), 204, 'PUT []');
    assert.deepEqual(await rolesOf(u1), []);
    assertInvalidField(await api.post(`/organizations/${org.id}/users/${u1.id}/roles`, { organizationRoleIds: [] }),
      'organizationRoleIds', 'POST []');

    // not a member: 422 organization.require_membership on every per-member route
    for (const [what, res] of [
      ['GET roles', await api.get(`/organizations/${org.id}/users/${outsider.id}/roles`)],
      ['POST roles', await api.post(`/organizations/${org.id}/users/${outsider.id}/roles`, { organizationRoleIds: [viewer.id] })],
      ['PUT roles', await api.put(`/organizations/${org.id}/users/${outsider.id}/roles`, { organizationRoleIds: [] })],
      ['DELETE role', await api.del(`/organizations/${org.id}/users/${outsider.id}/roles/${viewer.id}`)],
      ['GET scopes', await api.get(`/organizations/${org.id}/users/${outsider.id}/scopes`)],
    ]) {
      assert.equal(assertApiError(res, 422, what).code, 'organization.require_membership', what);
    }

    // leaving the organization takes the roles along
    expectStatus(await api.post(`/organizations/${org.id}/users/${u1.id}/roles`, { organizationRoleIds: [viewer.id] }), 201);
    expectStatus(await api.del(`/organizations/${org.id}/users/${u1.id}`), 204, 'remove u1');
    expectStatus(await api.post(`/organizations/${org.id}/users`, { userIds: [u1.id] }), 201, 'u1 back');
    assert.deepEqual(await rolesOf(u1), [], 'no roles after re-joining');
    expectStatus(await api.post(`/organizations/${org.id}/users/${u1.id}/roles`, { organizationRoleIds: [viewer.id] }), 201);
    expectStatus(await api.put(`/organizations/${org.id}/users`, { userIds: [u2.id] }), 204, 'PUT without u1');
    const { rows } = await adminQuery(`SELECT count(*)::int AS n FROM organization_role_user_relations
      WHERE tenant_id = $1 AND organization_id = $2 AND user_id = $3`, [a.id, org.id, u1.id]);
    assert.equal(rows[0].n, 0, 'PUT removed u1\'s roles');
  });

  it('lists a user\'s organizations with its roles there', async () => {
    const [o1, o2, o3] = [await newOrg(), await newOrg(), await newOrg()];
    const user = await a.createUser();
    const admin = await tpl.role({ name: uniq('admin') });
    expectStatus(await api.post(`/organizations/${o1.id}/users`, { userIds: [user.id] }), 201);
    expectStatus(await api.post(`/organizations/${o2.id}/users`, { userIds: [user.id] }), 201);
    expectStatus(await api.post(`/organizations/${o2.id}/users/${user.id}/roles`, { organizationRoleIds: [admin.id] }), 201);

    const orgs = expectStatus(await api.get(`/users/${user.id}/organizations`), 200, 'user organizations');
    assert.deepEqual(ids(orgs), [o1.id, o2.id].sort());
    assert.ok(!orgs.some((o) => o.id === o3.id));
    const got = byId(orgs);
    const { organizationRoles, ...org2 } = got[o2.id];
    assert.deepEqual(org2, o2);
    assert.deepEqual(organizationRoles, [{ id: admin.id, name: admin.name }]);
    assert.deepEqual(got[o1.id].organizationRoles, []);

    const none = await a.createUser();
    assert.deepEqual(expectStatus(await api.get(`/users/${none.id}/organizations`), 200, 'no organizations'), []);
    assert.equal(assertApiError(await api.get('/users/nosuchuser9/organizations'), 404, 'unknown user').code,
      'entity.not_exists_with_id');
  });

  it('adds MachineToMachine applications only, with MachineToMachine roles only', async () => {
    const org = await newOrg();
    const m2m = await a.createApp({ type: 'MachineToMachine' });
    const m2m2 = await a.createApp({ type: 'MachineToMachine' });
    const spa = await a.createApp({ type: 'SPA' });
    const robot = await tpl.role({ name: uniq('robot'), type: 'MachineToMachine' });
    const human = await tpl.role({ name: uniq('human') });

    let err = assertApiError(await api.post(`/organizations/${org.id}/applications`, { applicationIds: [m2m.id, spa.id] }),
      422, 'SPA member');
    assert.equal(err.code, 'application.invalid_type');
    assert.deepEqual(expectStatus(await api.get(`/organizations/${org.id}/applications`), 200, 'nothing added'), []);
    err = assertApiError(await api.post(`/organizations/${org.id}/applications`, { applicationIds: ['nosuchapp'] }),
      [404, 422], 'unknown app');
    assert.ok(err.message.includes('nosuchapp'), err.message);

    expectStatus(await api.post(`/organizations/${org.id}/applications`, { applicationIds: [m2m.id] }), 201, 'add');
    expectStatus(await api.post(`/organizations/${org.id}/applications`, { applicationIds: [m2m.id, m2m2.id] }), 201, 'add more');
    let res = await api.get(`/organizations/${org.id}/applications`);
    const apps = expectStatus(res, 200, 'list');
    assert.deepEqual(ids(apps), [m2m.id, m2m2.id].sort());
    assert.equal(res.headers.get('total-number'), '2');
    const listed = byId(apps)[m2m.id];
    assert.deepEqual(Object.keys(listed).sort(), [...APP_KEYS, 'organizationRoles'].sort());
    assert.deepEqual(listed.organizationRoles, []);
    assert.equal(listed.type, 'MachineToMachine');
    assert.ok(!('secret' in listed));
    assert.deepEqual(ids(expectStatus(await api.get(`/organizations/${org.id}/applications?q=${m2m2.name}`), 200, 'q')),
      [m2m2.id]);
    res = await api.get(`/organizations/${org.id}/applications?page=1&page_size=1`);
    assert.equal(expectStatus(res, 200, 'page').length, 1);

    // roles: MachineToMachine only, members only
    err = assertApiError(await api.post(`/organizations/${org.id}/applications/roles`,
      { applicationIds: [m2m.id], organizationRoleIds: [human.id] }), 422, 'User role to an app');
    assert.equal(err.code, 'application.invalid_role_type');
    expectStatus(await api.post(`/organizations/${org.id}/applications/roles`,
      { applicationIds: [m2m.id, m2m2.id], organizationRoleIds: [robot.id] }), 201, 'applications/roles');
    const rolesOf = async (app) => expectStatus(await api.get(`/organizations/${org.id}/applications/${app.id}/roles`),
      200, 'app roles');
    const r = await rolesOf(m2m);
    assert.deepEqual(ids(r), [robot.id]);
    assert.deepEqual(Object.keys(r[0]).sort(), ORG_ROLE_KEYS);
    assert.equal(r[0].type, 'MachineToMachine');
    const again = byId(expectStatus(await api.get(`/organizations/${org.id}/applications`), 200, 'list again'));
    assert.deepEqual(again[m2m.id].organizationRoles, [{ id: robot.id, name: robot.name }]);

    expectStatus(await api.put(`/organizations/${org.id}/applications/${m2m.id}/roles`, { organizationRoleIds: [] }),
      204, 'PUT []');
    assert.deepEqual(await rolesOf(m2m), []);
    expectStatus(await api.post(`/organizations/${org.id}/applications/${m2m.id}/roles`, { organizationRoleIds: [robot.id] }),
      201, 'POST');
    assert.deepEqual(ids(await rolesOf(m2m)), [robot.id]);
    err = assertApiError(await api.post(`/organizations/${org.id}/applications/${m2m.id}/roles`,
      { organizationRoleIds: [human.id] }), 422, 'POST a User role');
    assert.equal(err.code, 'application.invalid_role_type');
    expectStatus(await api.del(`/organizations/${org.id}/applications/${m2m.id}/roles/${robot.id}`), 204, 'DELETE role');
    assertApiError(await api.del(`/organizations/${org.id}/applications/${m2m.id}/roles/${robot.id}`), 404, 'DELETE again');

    // not a member
    err = assertApiError(await api.get(`/organizations/${org.id}/applications/${spa.id}/roles`), 422, 'non-member roles');
    assert.equal(err.code, 'organization.require_membership');
    err = assertApiError(await api.post(`/organizations/${org.id}/applications/roles`,
      { applicationIds: [spa.id], organizationRoleIds: [robot.id] }), 422, 'non-member applications/roles');
    assert.equal(err.code, 'organization.require_membership');

    // PUT replaces the members (and their roles go along); DELETE one
    expectStatus(await api.put(`/organizations/${org.id}/applications`, { applicationIds: [m2m.id] }), 204, 'PUT');
    assert.deepEqual(ids(expectStatus(await api.get(`/organizations/${org.id}/applications`), 200, 'after PUT')), [m2m.id]);
    const { rows } = await adminQuery(`SELECT count(*)::int AS n FROM organization_role_application_relations
      WHERE tenant_id = $1 AND organization_id = $2 AND application_id = $3`, [a.id, org.id, m2m2.id]);
    assert.equal(rows[0].n, 0);
    assertApiError(await api.put(`/organizations/${org.id}/applications`, { applicationIds: [spa.id] }), 422, 'PUT SPA');
    expectStatus(await api.del(`/organizations/${org.id}/applications/${m2m.id}`), 204, 'DELETE');
    assertApiError(await api.del(`/organizations/${org.id}/applications/${m2m.id}`), 404, 'DELETE again');
    assertInvalidField(await api.post(`/organizations/${org.id}/applications`, { applicationIds: [] }),
      'applicationIds', 'POST []');
  });

  it('manages just-in-time email domains and roles', async () => {
    const org = await newOrg();
    const base = `jit${randomId(6).toLowerCase()}`;

    const row = expectStatus(await api.post(`/organizations/${org.id}/jit/email-domains`, { emailDomain: `${base}.Example.COM` }),
      201, 'POST domain');
    assert.deepEqual(row, { tenantId: a.id, organizationId: org.id, emailDomain: `${base}.example.com` });
    const dup = assertApiError(await api.post(`/organizations/${org.id}/jit/email-domains`, { emailDomain: `${base}.example.com` }),
      422, 'duplicate');
    assert.equal(dup.code, 'entity.unique_integrity_violation');
    for (const bad of ['', 'localhost', '.example.com', 'example.com.', '-a.com', 'a.com-', 'a b.com', 'a..com',
      'ex_ample.com', 'user@example.com', 'ü.com', `${'a'.repeat(125)}.com`, 42, null]) {
      assertInvalidField(await api.post(`/organizations/${org.id}/jit/email-domains`, { emailDomain: bad }), 'emailDomain',
        `bad domain ${JSON.stringify(bad)}`);
    }
    assertInvalidField(await api.post(`/organizations/${org.id}/jit/email-domains`, {}), 'emailDomain', 'no domain');

    expectStatus(await api.post(`/organizations/${org.id}/jit/email-domains`, { emailDomain: `a.${base}.io` }), 201, 'second');
    let res = await api.get(`/organizations/${org.id}/jit/email-domains`);
    assert.deepEqual(expectStatus(res, 200, 'list').map((d) => d.emailDomain), [`${base}.example.com`, `a.${base}.io`].sort());
    res = await api.get(`/organizations/${org.id}/jit/email-domains?page=2&page_size=1`);
    assert.equal(expectStatus(res, 200, 'page 2').length, 1);
    assert.equal(res.headers.get('total-number'), '2');

    expectStatus(await api.put(`/organizations/${org.id}/jit/email-domains`,
      { emailDomains: [`B.${base}.org`, `a.${base}.io`, `b.${base}.org`] }), 204, 'PUT');
    assert.deepEqual(expectStatus(await api.get(`/organizations/${org.id}/jit/email-domains`), 200, 'after PUT')
      .map((d) => d.emailDomain), [`a.${base}.io`, `b.${base}.org`]);
    assertInvalidField(await api.put(`/organizations/${org.id}/jit/email-domains`, { emailDomains: ['ok.com', 'bad'] }),
      'emailDomains', 'PUT a bad domain');
    assertInvalidField(await api.put(`/organizations/${org.id}/jit/email-domains`, {}), 'emailDomains', 'PUT nothing');
    assertInvalidField(await api.put(`/organizations/${org.id}/jit/email-domains`,
      { emailDomains: Array.from({ length: 101 }, (_, i) => `d${i}.com`) }), 'emailDomains', 'PUT 101');

    expectStatus(await api.del(`/organizations/${org.id}/jit/email-domains/B.${base}.ORG`), 204, 'DELETE (any case)');
    assertApiError(await api.del(`/organizations/${org.id}/jit/email-domains/b.${base}.org`), 404, 'DELETE again');
    assertApiError(await api.del(`/organizations/${org.id}/jit/email-domains/not-there.com`), 404, 'DELETE absent');
    expectStatus(await api.put(`/organizations/${org.id}/jit/email-domains`, { emailDomains: [] }), 204, 'PUT []');
    assert.deepEqual(expectStatus(await api.get(`/organizations/${org.id}/jit/email-domains`), 200, 'empty'), []);

    // JIT roles: User roles only
    const member = await tpl.role({ name: uniq('jitmember') });
    const guest = await tpl.role({ name: uniq('jitguest') });
    const robot = await tpl.role({ name: uniq('jitrobot'), type: 'MachineToMachine' });
    expectStatus(await api.post(`/organizations/${org.id}/jit/roles`, { organizationRoleIds: [member.id] }), 201, 'POST role');
    let err = assertApiError(await api.post(`/organizations/${org.id}/jit/roles`, { organizationRoleIds: [guest.id, robot.id] }),
      422, 'M2M JIT role');
    assert.ok(err.message.includes(robot.id), err.message);
    err = assertApiError(await api.post(`/organizations/${org.id}/jit/roles`, { organizationRoleIds: ['nosuchrole'] }),
      422, 'unknown JIT role');
    assert.ok(err.message.includes('nosuchrole'), err.message);
    let roles = expectStatus(await api.get(`/organizations/${org.id}/jit/roles`), 200, 'JIT roles');
    assert.deepEqual(ids(roles), [member.id]);
    assert.deepEqual(Object.keys(roles[0]).sort(), ORG_ROLE_KEYS);
    expectStatus(await api.put(`/organizations/${org.id}/jit/roles`, { organizationRoleIds: [guest.id] }), 204, 'PUT roles');
    roles = expectStatus(await api.get(`/organizations/${org.id}/jit/roles`), 200, 'after PUT');
    assert.deepEqual(ids(roles), [guest.id]);
    expectStatus(await api.del(`/organizations/${org.id}/jit/roles/${guest.id}`), 204, 'DELETE role');
    assertApiError(await api.del(`/organizations/${org.id}/jit/roles/${guest.id}`), 404, 'DELETE again');
    assertInvalidField(await api.post(`/organizations/${org.id}/jit/roles`, { organizationRoleIds: [] }),
      'organizationRoleIds', 'POST []');

    // deleting the organization takes its JIT rows along
    expectStatus(await api.post(`/organizations/${org.id}/jit/email-domains`, { emailDomain: `${base}.net` }), 201);
    expectStatus(await api.post(`/organizations/${org.id}/jit/roles`, { organizationRoleIds: [member.id] }), 201);
    expectStatus(await api.del(`/organizations/${org.id}`), 204, 'DELETE organization');
    const { rows } = await adminQuery(`SELECT (SELECT count(*) FROM organization_jit_email_domains WHERE tenant_id = $1
      AND organization_id = $2)::int + (SELECT count(*) FROM organization_jit_roles WHERE tenant_id = $1
      AND organization_id = $2)::int AS n`, [a.id, org.id]);
    assert.equal(rows[0].n, 0);
  });

  it('answers 404 for an organization that does not exist, on every route', async () => {
    const user = await a.createUser();
    const role = await tpl.role({ name: uniq('r404') });
    const app = await a.createApp({ type: 'MachineToMachine' });
    const nope = 'nosuchorganization0';
    const calls = [
      ['GET', `/organizations/${nope}`],
      ['PATCH', `/organizations/${nope}`, { name: 'x' }],
      ['DELETE', `/organizations/${nope}`],
      ['GET', `/organizations/${nope}/users`],
      ['POST', `/organizations/${nope}/users`, { userIds: [user.id] }],
      ['PUT', `/organizations/${nope}/users`, { userIds: [user.id] }],
      ['DELETE', `/organizations/${nope}/users/${user.id}`],
      ['POST', `/organizations/${nope}/users/roles`, { userIds: [user.id], organizationRoleIds: [role.id] }],
      ['GET', `/organizations/${nope}/users/${user.id}/roles`],
      ['POST', `/organizations/${nope}/users/${user.id}/roles`, { organizationRoleIds: [role.id] }],
      ['PUT', `/organizations/${nope}/users/${user.id}/roles`, { organizationRoleIds: [] }],
      ['DELETE', `/organizations/${nope}/users/${user.id}/roles/${role.id}`],
      ['GET', `/organizations/${nope}/users/${user.id}/scopes`],
      ['GET', `/organizations/${nope}/applications`],
      ['POST', `/organizations/${nope}/applications`, { applicationIds: [app.id] }],
      ['PUT', `/organizations/${nope}/applications`, { applicationIds: [] }],
      ['DELETE', `/organizations/${nope}/applications/${app.id}`],
      ['POST', `/organizations/${nope}/applications/roles`, { applicationIds: [app.id], organizationRoleIds: [role.id] }],
      ['GET', `/organizations/${nope}/applications/${app.id}/roles`],
      ['POST', `/organizations/${nope}/applications/${app.id}/roles`, { organizationRoleIds: [role.id] }],
      ['PUT', `/organizations/${nope}/applications/${app.id}/roles`, { organizationRoleIds: [] }],
      ['DELETE', `/organizations/${nope}/applications/${app.id}/roles/${role.id}`],
      ['GET', `/organizations/${nope}/jit/email-domains`],
      ['POST', `/organizations/${nope}/jit/email-domains`, { emailDomain: 'example.com' }],
      ['PUT', `/organizations/${nope}/jit/email-domains`, { emailDomains: ['example.com'] }],
      ['DELETE', `/organizations/${nope}/jit/email-domains/example.com`],
      ['GET', `/organizations/${nope}/jit/roles`],
      ['POST', `/organizations/${nope}/jit/roles`, { organizationRoleIds: [role.id] }],
      ['PUT', `/organizations/${nope}/jit/roles`, { organizationRoleIds: [] }],
      ['DELETE', `/organizations/${nope}/jit/roles/${role.id}`],
    ];
    for (const [method, p, body] of calls) {
      const err = assertApiError(await api.req(method, p, body), 404, `${method} ${p}`);
      assert.equal(err.code, 'entity.not_exists_with_id', `${method} ${p}: ${err.code}`);
      assert.ok(err.message.includes(nope), `${method} ${p}: ${err.message}`);
    }
    const { rows } = await adminQuery('SELECT count(*)::int AS n FROM organizations WHERE tenant_id = $1 AND id = $2',
      [a.id, nope]);
    assert.equal(rows[0].n, 0);
  });

  it('keeps tenants apart', async () => {
    const org = await newOrg({ name: uniq('private') });
    const userA = await a.createUser();
    expectStatus(await api.post(`/organizations/${org.id}/users`, { userIds: [userA.id] }), 201, 'member in A');
    const userB = await b.createUser();
    const appB = await b.createApp({ type: 'MachineToMachine' });

    // A's organization is invisible from B
    for (const [method, p, body] of [
      ['GET', `/organizations/${org.id}`],
      ['PATCH', `/organizations/${org.id}`, { name: 'stolen' }],
      ['DELETE', `/organizations/${org.id}`],
      ['GET', `/organizations/${org.id}/users`],
      ['POST', `/organizations/${org.id}/users`, { userIds: [userB.id] }],
      ['PUT', `/organizations/${org.id}/users`, { userIds: [] }],
      ['DELETE', `/organizations/${org.id}/users/${userA.id}`],
      ['GET', `/organizations/${org.id}/users/${userA.id}/roles`],
      ['POST', `/organizations/${org.id}/applications`, { applicationIds: [appB.id] }],
      ['POST', `/organizations/${org.id}/jit/email-domains`, { emailDomain: 'evil.example' }],
    ]) {
      assertApiError(await apiB.req(method, p, body), 404, `B: ${method} ${p}`);
    }
    const listB = expectStatus(await apiB.get('/organizations'), 200, 'B lists');
    assert.ok(!listB.some((o) => o.id === org.id));
    assertApiError(await apiB.get(`/users/${userA.id}/organizations`), 404, 'B reads A\'s user organizations');

    // A cannot add B's user or application to its organization either
    const err = assertApiError(await api.post(`/organizations/${org.id}/users`, { userIds: [userB.id] }), [404, 422],
      'A adds B\'s user');
    assert.ok(err.message.includes(userB.id), err.message);
    assertApiError(await api.post(`/organizations/${org.id}/applications`, { applicationIds: [appB.id] }), [404, 422],
      'A adds B\'s application');
    // nor give a role of B's template
    const roleB = await (await OrgTemplate.create(b)).role({ name: uniq('brole') });
    assertApiError(await api.post(`/organizations/${org.id}/users/${userA.id}/roles`, { organizationRoleIds: [roleB.id] }),
      422, 'A uses B\'s role');

    // nothing changed in A
    const { rows } = await adminQuery(
      'SELECT tenant_id, user_id FROM organization_user_relations WHERE organization_id = $1', [org.id]);
    assert.deepEqual(rows, [{ tenant_id: a.id, user_id: userA.id }]);
    const still = expectStatus(await api.get(`/organizations/${org.id}`), 200, 'A still has it');
    assert.equal(still.name, org.name);
    assert.deepEqual(await adminQuery('SELECT 1 FROM organization_jit_email_domains WHERE organization_id = $1', [org.id])
      .then((r) => r.rows), []);

    // without a token: 401
    assert.equal((await fetch(`${a.base}/api/organizations`)).status, 401);
  });
});
