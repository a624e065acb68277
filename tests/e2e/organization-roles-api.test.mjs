// End-to-end tests of the organization template and invitations in the Management API (issue 6),
// Logto's paths and shapes under <tenant endpoint>/api: organization scopes and organization roles
// (create/read/update/delete, `q` search, optional pagination with Total-Number, duplicate names,
// the role type fixed once created), the organization scopes and API-resource scopes a role
// grants (add, replace, remove, missing ids, no Management API scopes), and organization
// invitations (create, the invitee's acceptance making them a member with the invitation's roles,
// the email check, revocation, expiry, every refusal) and tenant isolation. Memberships are
// checked in the database as the superuser (adminQuery).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { adminQuery, randomId, startLatchd } from './lib/harness.mjs';
import { TenantCtx, assertApiError, assertInvalidField, expectStatus, uniq } from './lib/oidc.mjs';

const ROLE_KEYS = ['createdAt', 'description', 'id', 'name', 'tenantId', 'type'];
const ROLE_WITH_SCOPES_KEYS = [...ROLE_KEYS, 'resourceScopes', 'scopes'].sort();
const ORG_SCOPE_KEYS = ['createdAt', 'description', 'id', 'name', 'tenantId'];
const INVITATION_KEYS = ['acceptedUserId', 'createdAt', 'expiresAt', 'id', 'invitee', 'inviterId',
  'organizationId', 'organizationRoles', 'status', 'tenantId', 'updatedAt'];

const MINUTE = 60 * 1000;
const DAY = 24 * 60 * MINUTE;

const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const idsOf = (list) => list.map((x) => x.id).sort();

function assertKeys(obj, keys, what) {
  assert.deepEqual(Object.keys(obj).sort(), [...keys].sort(), `${what}: keys of ${JSON.stringify(obj)}`);
}

function assertMs(v, what) {
  assert.equal(typeof v, 'number', `${what}: a number of ms`);
  assert.ok(Math.abs(v - Date.now()) < 10 * MINUTE, `${what}: epoch ms near now (${v})`);
}

/** A Management API error with this status and code; returns the body. */
function assertCode(res, status, code, what) {
  const body = assertApiError(res, status, what);
  assert.equal(body.code, code, `${what}: code in ${res.text}`);
  return body;
}

// ---- organizations and memberships (core/mgmt/organizations.c) ------------------------------

async function createOrg(ctx, api, name = uniq('org')) {
  return expectStatus(await api.post('/organizations', { name }), 201, 'POST /organizations').id;
}

async function addMember(ctx, api, orgId, userId) {
  expectStatus(await api.post(`/organizations/${orgId}/users`, { userIds: [userId] }), 201,
    'POST /organizations/:id/users');
}

async function isMember(ctx, orgId, userId) {
  const { rows } = await adminQuery(
    'SELECT 1 FROM organization_user_relations WHERE tenant_id = $1 AND organization_id = $2 AND user_id = $3',
    [ctx.id, orgId, userId]);
  return rows.length === 1;
}

async function memberRoleIds(ctx, orgId, userId) {
  const { rows } = await adminQuery(
    'SELECT organization_role_id FROM organization_role_user_relations'
    + ' WHERE tenant_id = $1 AND organization_id = $2 AND user_id = $3 ORDER BY 1',
    [ctx.id, orgId, userId]);
  return rows.map((r) => r.organization_role_id);
}

/** A user without a password (cheap) with this primary email. */
async function createUser(api, primaryEmail) {
  const body = { username: `u_${randomId(10)}` };
  if (primaryEmail) body.primaryEmail = primaryEmail;
  const user = expectStatus(await api.post('/users', body), [200, 201], 'POST /users');
  assert.equal(typeof user.id, 'string');
  return user;
}

/** The scope `all` of the tenant's Management API resource. */
async function managementScopeId(ctx) {
  const { rows } = await adminQuery(
    'SELECT s.id FROM scopes s JOIN resources r ON r.tenant_id = s.tenant_id AND r.id = s.resource_id'
    + ' WHERE s.tenant_id = $1 AND r.is_management ORDER BY s.name LIMIT 1', [ctx.id]);
  assert.equal(rows.length, 1, 'the Management API resource has a scope');
  return rows[0].id;
}

describe('Organization template and invitations (Management API)', () => {
  let srv;
  let a;
  let b;
  let api;
  let apiB;

  const createScope = async (name = `s:${randomId(10)}`, description = 'e2e scope') =>
    expectStatus(await api.post('/organization-scopes', { name, description }), 201, 'POST /organization-scopes');
  const createRole = async (body = {}) =>
    expectStatus(await api.post('/organization-roles', { name: uniq('orole'), ...body }), 201,
      'POST /organization-roles');

  before(async () => {
    srv = await startLatchd();
    a = await TenantCtx.create(srv, 'orga');
    b = await TenantCtx.create(srv, 'orgb');
    api = await a.api();
    apiB = await b.api();
  });
  after(async () => {
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  describe('organization scopes', () => {
    it('creates, reads, updates and deletes a scope in Logto\'s shape', async () => {
      const name = `read:${randomId(8)}`;
      const created = await createScope(name, 'Read documents');
      assertKeys(created, ORG_SCOPE_KEYS, 'created');
      assert.match(created.id, /^[0-9a-z]{21}$/);
      assert.equal(created.tenantId, a.id);
      assert.equal(created.name, name);
      assert.equal(created.description, 'Read documents');
      assertMs(created.createdAt, 'createdAt');

      assert.deepEqual(expectStatus(await api.get(`/organization-scopes/${created.id}`), 200, 'GET'), created);

      const renamed = `write:${randomId(8)}`;
      const patched = expectStatus(await api.patch(`/organization-scopes/${created.id}`, { name: renamed }),
        200, 'PATCH name');
      assert.equal(patched.name, renamed);
      assert.equal(patched.description, 'Read documents', 'description kept');
      const cleared = expectStatus(await api.patch(`/organization-scopes/${created.id}`, { description: null }),
        200, 'PATCH description null');
      assert.equal(cleared.description, null);
      assert.equal(cleared.name, renamed);
      assert.equal(cleared.createdAt, created.createdAt);

      assert.equal((await api.del(`/organization-scopes/${created.id}`)).status, 204);
      assertCode(await api.get(`/organization-scopes/${created.id}`), 404, 'entity.not_exists_with_id', 'GET deleted');
      assertCode(await api.del(`/organization-scopes/${created.id}`), 404, 'entity.not_exists_with_id', 'DELETE twice');
      assertCode(await api.patch(`/organization-scopes/${created.id}`, { name: 'x' }), 404,
        'entity.not_exists_with_id', 'PATCH deleted');
      assertCode(await api.get('/organization-scopes/not%20an%20id'), 404, 'entity.not_exists_with_id', 'bad id');
    });

    it('refuses bad names and duplicate names', async () => {
      assertInvalidField(await api.post('/organization-scopes', { description: 'no name' }), 'name');
      assertInvalidField(await api.post('/organization-scopes', { name: '' }), 'name');
      assertInvalidField(await api.post('/organization-scopes', { name: 'has space' }), 'name');
      assertInvalidField(await api.post('/organization-scopes', { name: 'x'.repeat(129) }), 'name');
      assertInvalidField(await api.post('/organization-scopes', { name: 42 }), 'name');
      assertInvalidField(await api.post('/organization-scopes', { name: `d:${randomId(6)}`, description: 'd'.repeat(257) }),
        'description');
      assertInvalidField(await api.post('/organization-scopes', '[]'), 'body');
      expectStatus(await api.post('/organization-scopes', { name: randomId(8) + 'x'.repeat(120) }), 201, '128 characters');

      const s = await createScope();
      assertCode(await api.post('/organization-scopes', { name: s.name }), 422, 'entity.unique_integrity_violation',
        'duplicate name');
      const other = await createScope();
      assertCode(await api.patch(`/organization-scopes/${other.id}`, { name: s.name }), 422,
        'entity.unique_integrity_violation', 'PATCH to a taken name');
      assertInvalidField(await api.patch(`/organization-scopes/${other.id}`, { name: 'a b' }), 'name');
      const after = expectStatus(await api.get(`/organization-scopes/${other.id}`), 200, 'GET');
      assert.equal(after.name, other.name, 'refused changes changed nothing');
    });

    it('lists by name with q search and optional pagination', async () => {
      const tag = randomId(8);
      const made = [];
      for (const n of ['c', 'a', 'b']) made.push(await createScope(`${tag}:${n}`, `about ${n}`));
      const marked = await createScope(`other:${randomId(8)}`, `mentions ${tag} in its description`);

      const res = await api.get(`/organization-scopes?q=${tag}`);
      const found = expectStatus(res, 200, 'GET ?q');
      assert.deepEqual(found.map((s) => s.name), [marked.name, `${tag}:a`, `${tag}:b`, `${tag}:c`].sort(),
        'name and description matches, by name');
      for (const s of found) assertKeys(s, ORG_SCOPE_KEYS, 'listed');
      assert.equal(expectStatus(await api.get(`/organization-scopes?q=${made[0].id}`), 200, 'q=id')[0].id, made[0].id);

      const p1 = await api.get(`/organization-scopes?q=${tag}&page=1&page_size=3`);
      assert.deepEqual(expectStatus(p1, 200, 'page 1').map((s) => s.id), found.slice(0, 3).map((s) => s.id));
      assert.equal(p1.headers.get('total-number'), '4');
      const p2 = await api.get(`/organization-scopes?q=${tag}&page=2&page_size=3`);
      assert.deepEqual(expectStatus(p2, 200, 'page 2').map((s) => s.id), [found[3].id]);
      assert.equal(p2.headers.get('total-number'), '4');

      const all = expectStatus(await api.get('/organization-scopes'), 200, 'whole list');
      assert.ok(all.length >= 4, 'without page and page_size: the whole list');
      assert.deepEqual(all.map((s) => s.name), all.map((s) => s.name).sort(), 'by name');

      assertCode(await api.get('/organization-scopes?page=0'), 400, 'guard.invalid_pagination', 'page=0');
      assertInvalidField(await api.get(`/organization-scopes?q=${'q'.repeat(257)}`), 'q');
    });
  });

  describe('organization roles', () => {
    let scopes;
    let res;

    before(async () => {
      scopes = [await createScope(), await createScope()];
      res = await a.createResource({ scopes: ['read', 'write'] });
    });

    it('creates a role with scopes and reads it in Logto\'s shapes', async () => {
      const name = uniq('Admin');
      const role = await createRole({
        name,
        description: 'Organization admin',
        organizationScopeIds: [scopes[0].id, scopes[1].id, scopes[0].id],
        resourceScopeIds: [res.scopes.read.id],
      });
      assertKeys(role, ROLE_KEYS, 'created');
      assert.match(role.id, /^[0-9a-z]{21}$/);
      assert.equal(role.tenantId, a.id);
      assert.equal(role.name, name);
      assert.equal(role.description, 'Organization admin');
      assert.equal(role.type, 'User', 'User by default');
      assertMs(role.createdAt, 'createdAt');

      const got = expectStatus(await api.get(`/organization-roles/${role.id}`), 200, 'GET');
      assertKeys(got, ROLE_WITH_SCOPES_KEYS, 'GET');
      assert.deepEqual(got.scopes, scopes.map((s) => ({ id: s.id, name: s.name })).sort(byName));
      assert.deepEqual(got.resourceScopes, [{ id: res.scopes.read.id, name: 'read',
        resource: { id: res.resource.id, name: res.resource.name } }]);
      for (const k of ROLE_KEYS) assert.deepEqual(got[k], role[k], `GET ${k}`);

      const listed = expectStatus(await api.get(`/organization-roles?q=${encodeURIComponent(name)}`), 200, 'list');
      assert.deepEqual(listed, [got], 'the list shows the same role with its scopes');

      const m2m = await createRole({ type: 'MachineToMachine', description: null });
      assert.equal(m2m.type, 'MachineToMachine');
      assert.equal(m2m.description, null);
      const bare = expectStatus(await api.get(`/organization-roles/${m2m.id}`), 200, 'GET bare');
      assert.deepEqual(bare.scopes, []);
      assert.deepEqual(bare.resourceScopes, []);
    });

    it('refuses bad bodies, duplicate names, missing and Management API scopes, creating nothing', async () => {
      assertInvalidField(await api.post('/organization-roles', { description: 'x' }), 'name');
      assertInvalidField(await api.post('/organization-roles', { name: '' }), 'name');
      assertInvalidField(await api.post('/organization-roles', { name: 'n'.repeat(129) }), 'name');
      assertInvalidField(await api.post('/organization-roles', { name: uniq('t'), type: 'Admin' }), 'type');
      assertInvalidField(await api.post('/organization-roles', { name: uniq('t'), organizationScopeIds: 'x' }),
        'organizationScopeIds');
      assertInvalidField(await api.post('/organization-roles', { name: uniq('t'), resourceScopeIds: [1] }),
        'resourceScopeIds');
      const tooMany = Array.from({ length: 101 }, (_, i) => `id${i}`);
      assertInvalidField(await api.post('/organization-roles', { name: uniq('t'), organizationScopeIds: tooMany }),
        'organizationScopeIds');

      const taken = await createRole();
      assertCode(await api.post('/organization-roles', { name: taken.name }), 422,
        'entity.unique_integrity_violation', 'duplicate name');

      const names = [];
      const tryCreate = async (body, status, code, mention, what) => {
        const name = uniq('refused');
        names.push(name);
        const body2 = assertCode(await api.post('/organization-roles', { name, ...body }), status, code, what);
        if (mention) assert.ok(body2.message.includes(mention), `${what}: message names ${mention}: ${body2.message}`);
      };
      await tryCreate({ organizationScopeIds: [scopes[0].id, 'nosuchscope'] }, 422,
        'entity.relation_foreign_key_not_found', 'nosuchscope', 'missing organization scope');
      await tryCreate({ resourceScopeIds: ['nosuchresscope'] }, 422,
        'entity.relation_foreign_key_not_found', 'nosuchresscope', 'missing resource scope');
      await tryCreate({ organizationScopeIds: [res.scopes.read.id] }, 422,
        'entity.relation_foreign_key_not_found', res.scopes.read.id, 'a resource scope given as organization scope');
      await tryCreate({ resourceScopeIds: [res.scopes.read.id, await managementScopeId(a)] }, 403,
        'role.management_api_scopes_not_assignable_to_user_role', null, 'Management API scope');
      await tryCreate({ type: 'MachineToMachine', resourceScopeIds: [await managementScopeId(a)] }, 403,
        'role.management_api_scopes_not_assignable_to_user_role', null, 'Management API scope, M2M role');
      for (const name of names) {
        assert.deepEqual(expectStatus(await api.get(`/organization-roles?q=${name}`), 200, 'list'), [],
          `${name} was not created`);
      }
    });

    it('updates name and description; the type is fixed once created', async () => {
      const role = await createRole({ description: 'before' });
      const name = uniq('renamed');
      const patched = expectStatus(await api.patch(`/organization-roles/${role.id}`, { name, description: 'after' }),
        200, 'PATCH');
      assertKeys(patched, ROLE_KEYS, 'PATCH');
      assert.equal(patched.name, name);
      assert.equal(patched.description, 'after');
      assert.equal(patched.createdAt, role.createdAt);
      assert.equal(expectStatus(await api.patch(`/organization-roles/${role.id}`, { description: null }), 200,
        'clear description').description, null);
      assert.equal(expectStatus(await api.patch(`/organization-roles/${role.id}`, { type: 'User' }), 200,
        'same type').type, 'User');

      assertCode(await api.patch(`/organization-roles/${role.id}`, { type: 'MachineToMachine', name: uniq('x') }),
        400, 'guard.invalid_input', 'type change');
      assertInvalidField(await api.patch(`/organization-roles/${role.id}`, { type: 'Robot' }), 'type');
      const other = await createRole();
      assertCode(await api.patch(`/organization-roles/${other.id}`, { name }), 422,
        'entity.unique_integrity_violation', 'PATCH to a taken name');
      const got = expectStatus(await api.get(`/organization-roles/${role.id}`), 200, 'GET');
      assert.equal(got.type, 'User', 'type unchanged');
      assert.equal(got.name, name, 'the refused PATCH changed nothing');
      assertCode(await api.patch('/organization-roles/nosuchrole', { name: uniq('x') }), 404,
        'entity.not_exists_with_id', 'PATCH unknown');
    });

    it('deletes a role with its grants', async () => {
      const role = await createRole({ organizationScopeIds: [scopes[0].id], resourceScopeIds: [res.scopes.write.id] });
      assert.equal((await api.del(`/organization-roles/${role.id}`)).status, 204);
      assertCode(await api.get(`/organization-roles/${role.id}`), 404, 'entity.not_exists_with_id', 'GET deleted');
      assertCode(await api.del(`/organization-roles/${role.id}`), 404, 'entity.not_exists_with_id', 'DELETE twice');
      const { rows } = await adminQuery(
        'SELECT (SELECT count(*) FROM organization_role_scope_relations WHERE tenant_id = $1 AND organization_role_id = $2)'
        + ' + (SELECT count(*) FROM organization_role_resource_scope_relations WHERE tenant_id = $1'
        + ' AND organization_role_id = $2) AS n', [a.id, role.id]);
      assert.equal(Number(rows[0].n), 0, 'grants removed');
      expectStatus(await api.get(`/organization-scopes/${scopes[0].id}`), 200, 'the scope stays');
    });

    it('lists roles by name with q search and optional pagination', async () => {
      const tag = randomId(8);
      for (const n of ['b', 'c', 'a']) await createRole({ name: `${tag}-${n}` });
      const described = await createRole({ description: `has ${tag} inside` });
      const found = expectStatus(await api.get(`/organization-roles?q=${tag}`), 200, 'q');
      assert.deepEqual(found.map((r) => r.name), [`${tag}-a`, `${tag}-b`, `${tag}-c`, described.name].sort());
      for (const r of found) assertKeys(r, ROLE_WITH_SCOPES_KEYS, 'listed');

      const p1 = await api.get(`/organization-roles?q=${tag}&page=1&page_size=2`);
      assert.deepEqual(idsOf(expectStatus(p1, 200, 'page 1')), idsOf(found.slice(0, 2)));
      assert.equal(p1.headers.get('total-number'), '4');
      const p2 = await api.get(`/organization-roles?q=${tag}&page=2&page_size=2`);
      assert.deepEqual(idsOf(expectStatus(p2, 200, 'page 2')), idsOf(found.slice(2)));
      assert.deepEqual(expectStatus(await api.get(`/organization-roles?q=${tag}&page=3&page_size=2`), 200, 'p3'), []);
      const all = expectStatus(await api.get('/organization-roles'), 200, 'all');
      assert.ok(all.length >= 4);
      assert.deepEqual(all.map((r) => r.name), all.map((r) => r.name).sort(), 'by name');
      assertCode(await api.get('/organization-roles?page_size=101'), 400, 'guard.invalid_pagination', 'page_size');
    });

    it('grants organization scopes: add, replace, list, remove', async () => {
      const role = await createRole();
      const base = `/organization-roles/${role.id}/scopes`;
      assert.deepEqual(expectStatus(await api.get(base), 200, 'none yet'), []);
      const added = await api.post(base, { organizationScopeIds: [scopes[1].id, scopes[0].id] });
      assert.equal(added.status, 201, added.text);
      assert.equal(added.text, '', 'no body');
      const list = expectStatus(await api.get(base), 200, 'GET');
      assert.deepEqual(list.map((s) => s.id), [...scopes].sort(byName).map((s) => s.id), 'by name');
      for (const s of list) assertKeys(s, ORG_SCOPE_KEYS, 'granted scope');
      assert.deepEqual(list.find((s) => s.id === scopes[0].id), scopes[0]);
      assert.equal((await api.post(base, { organizationScopeIds: [scopes[0].id] })).status, 201,
        'granting again is fine');

      const page = await api.get(`${base}?page=1&page_size=1`);
      assert.equal(expectStatus(page, 200, 'page').length, 1);
      assert.equal(page.headers.get('total-number'), '2');

      const missing = assertCode(await api.post(base, { organizationScopeIds: [scopes[0].id, 'nosuchscope'] }), 422,
        'entity.relation_foreign_key_not_found', 'missing scope');
      assert.ok(missing.message.includes('nosuchscope'), missing.message);
      assertInvalidField(await api.post(base, { organizationScopeIds: [] }), 'organizationScopeIds');
      assertInvalidField(await api.post(base, {}), 'organizationScopeIds');

      assert.equal((await api.put(base, { organizationScopeIds: [scopes[1].id] })).status, 204);
      assert.deepEqual(idsOf(expectStatus(await api.get(base), 200, 'after PUT')), [scopes[1].id]);
      assertCode(await api.put(base, { organizationScopeIds: [scopes[0].id, 'nosuchscope'] }), 422,
        'entity.relation_foreign_key_not_found', 'PUT missing');
      assert.deepEqual(idsOf(expectStatus(await api.get(base), 200, 'refused PUT')), [scopes[1].id],
        'a refused PUT changes nothing');

      assertCode(await api.del(`${base}/${scopes[0].id}`), 404, 'entity.not_found', 'remove what is not granted');
      assert.equal((await api.del(`${base}/${scopes[1].id}`)).status, 204);
      assert.deepEqual(expectStatus(await api.get(base), 200, 'after DELETE'), []);
      assert.equal((await api.put(base, { organizationScopeIds: [scopes[0].id, scopes[1].id] })).status, 204);
      assert.equal((await api.put(base, { organizationScopeIds: [] })).status, 204, 'PUT [] clears');
      assert.deepEqual(expectStatus(await api.get(base), 200, 'after PUT []'), []);

      for (const [what, r] of [
        ['GET', await api.get('/organization-roles/nosuchrole/scopes')],
        ['POST', await api.post('/organization-roles/nosuchrole/scopes', { organizationScopeIds: [scopes[0].id] })],
        ['PUT', await api.put('/organization-roles/nosuchrole/scopes', { organizationScopeIds: [] })],
        ['DELETE', await api.del(`/organization-roles/nosuchrole/scopes/${scopes[0].id}`)],
      ]) assertCode(r, 404, 'entity.not_exists_with_id', `${what} of an unknown role`);
    });

    it('grants API-resource scopes, never the Management API\'s', async () => {
      const role = await createRole({ type: 'MachineToMachine' });
      const base = `/organization-roles/${role.id}/resource-scopes`;
      assert.equal((await api.post(base, { scopeIds: [res.scopes.read.id, res.scopes.write.id] })).status, 201);
      const list = expectStatus(await api.get(base), 200, 'GET');
      assert.deepEqual(idsOf(list), idsOf([res.scopes.read, res.scopes.write]));
      const read = list.find((s) => s.id === res.scopes.read.id);
      assert.deepEqual(Object.keys(read).sort(),
        ['createdAt', 'description', 'id', 'name', 'resource', 'resourceId', 'tenantId'].sort());
      assert.equal(read.resourceId, res.resource.id);
      assert.equal(read.resource.id, res.resource.id);
      assert.equal(read.resource.indicator, res.resource.indicator);

      const mgmt = await managementScopeId(a);
      assertCode(await api.post(base, { scopeIds: [mgmt] }), 403,
        'role.management_api_scopes_not_assignable_to_user_role', 'POST Management API scope');
      assertCode(await api.put(base, { scopeIds: [res.scopes.read.id, mgmt] }), 403,
        'role.management_api_scopes_not_assignable_to_user_role', 'PUT Management API scope');
      assertCode(await api.post(base, { scopeIds: [scopes[0].id] }), 422,
        'entity.relation_foreign_key_not_found', 'an organization scope is not a resource scope');
      assert.deepEqual(idsOf(expectStatus(await api.get(base), 200, 'unchanged')),
        idsOf([res.scopes.read, res.scopes.write]), 'refusals changed nothing');

      assert.equal((await api.put(base, { scopeIds: [res.scopes.write.id] })).status, 204);
      assert.deepEqual(idsOf(expectStatus(await api.get(base), 200, 'after PUT')), [res.scopes.write.id]);
      const got = expectStatus(await api.get(`/organization-roles/${role.id}`), 200, 'role');
      assert.deepEqual(got.resourceScopes, [{ id: res.scopes.write.id, name: 'write',
        resource: { id: res.resource.id, name: res.resource.name } }]);
      assertCode(await api.del(`${base}/${res.scopes.read.id}`), 404, 'entity.not_found', 'not granted');
      assert.equal((await api.del(`${base}/${res.scopes.write.id}`)).status, 204);
      assert.deepEqual(expectStatus(await api.get(base), 200, 'empty'), []);
      assertCode(await api.get('/organization-roles/nosuchrole/resource-scopes'), 404,
        'entity.not_exists_with_id', 'unknown role');
    });
  });

  describe('organization invitations', () => {
    let org;
    let roleA;
    let roleB;
    let m2mRole;
    let inviter;

    const email = (p = 'inv') => `${p}.${randomId(8)}@example.com`;
    const invite = (body) => api.post('/organization-invitations', {
      organizationId: org, expiresAt: Date.now() + DAY, messagePayload: false, ...body });

    before(async () => {
      org = await createOrg(a, api);
      roleB = await createRole({ name: uniq('zeta') });
      roleA = await createRole({ name: uniq('alpha') });
      m2mRole = await createRole({ type: 'MachineToMachine' });
      inviter = await createUser(api, email('inviter'));
    });

    it('life cycle: created Pending, accepted by the invitee, who becomes a member with its roles', async () => {
      const invitee = email('Ada').replace('example.com', 'Example.COM');
      const expiresAt = Date.now() + 7 * DAY;
      const created = expectStatus(await invite({ invitee, expiresAt, inviterId: inviter.id,
        organizationRoleIds: [roleB.id, roleA.id, roleA.id] }), 201, 'POST');
      assertKeys(created, INVITATION_KEYS, 'created');
      assert.match(created.id, /^[0-9a-z]{21}$/);
      assert.equal(created.tenantId, a.id);
      assert.equal(created.status, 'Pending');
      assert.equal(created.invitee, invitee);
      assert.equal(created.inviterId, inviter.id);
      assert.equal(created.organizationId, org);
      assert.equal(created.acceptedUserId, null);
      assert.equal(created.expiresAt, expiresAt, 'expiresAt kept to the millisecond');
      assertMs(created.createdAt, 'createdAt');
      assertMs(created.updatedAt, 'updatedAt');
      assert.deepEqual(created.organizationRoles, [{ id: roleA.id, name: roleA.name }, { id: roleB.id, name: roleB.name }],
        'roles by name');
      assert.deepEqual(expectStatus(await api.get(`/organization-invitations/${created.id}`), 200, 'GET'), created);

      for (const q of [`organizationId=${org}`, `inviterId=${inviter.id}`,
        `invitee=${encodeURIComponent(invitee.toUpperCase())}`]) {
        const list = expectStatus(await api.get(`/organization-invitations?${q}`), 200, `list ${q}`);
        assert.ok(list.some((i) => i.id === created.id), `${q} finds it`);
        assert.deepEqual(list.find((i) => i.id === created.id), created);
      }
      assert.deepEqual(expectStatus(await api.get('/organization-invitations?inviterId=nosuchuser'), 200, 'none'), []);

      // One pending invitation per invitee and organization, whatever the case of the email.
      assertCode(await invite({ invitee: invitee.toLowerCase() }), 422, 'entity.unique_integrity_violation',
        'second pending invitation');

      // Someone else cannot accept it: accepting requires the invited email.
      const stranger = await createUser(api, email('stranger'));
      const mismatch = assertCode(await api.put(`/organization-invitations/${created.id}/status`,
        { status: 'Accepted', acceptedUserId: stranger.id }), 422, 'organization_invitation.email_mismatch',
      'accepted by another user');
      assert.match(mismatch.message, /invited email/);
      const noEmail = await createUser(api);
      assertCode(await api.put(`/organization-invitations/${created.id}/status`,
        { status: 'Accepted', acceptedUserId: noEmail.id }), 422, 'organization_invitation.email_mismatch',
      'accepted by a user without an email');
      assert.deepEqual(expectStatus(await api.get(`/organization-invitations/${created.id}`), 200, 'GET'), created,
        'the refused acceptances changed nothing');
      assert.equal(await isMember(a, org, stranger.id), false, 'the stranger did not join');

      assertCode(await api.put(`/organization-invitations/${created.id}/status`, { status: 'Accepted' }), 422,
        'request.invalid_input', 'Accepted without acceptedUserId');
      assertInvalidField(await api.put(`/organization-invitations/${created.id}/status`, { status: 'Expired' }),
        'status');
      assertInvalidField(await api.put(`/organization-invitations/${created.id}/status`, {}), 'status');
      assertCode(await api.put(`/organization-invitations/${created.id}/status`,
        { status: 'Accepted', acceptedUserId: 'nosuchuser' }), 404, 'entity.not_exists_with_id', 'unknown user');

      const ada = await createUser(api, invitee.toLowerCase());
      const accepted = expectStatus(await api.put(`/organization-invitations/${created.id}/status`,
        { status: 'Accepted', acceptedUserId: ada.id }), 200, 'accept');
      assertKeys(accepted, INVITATION_KEYS, 'accepted');
      assert.equal(accepted.status, 'Accepted');
      assert.equal(accepted.acceptedUserId, ada.id);
      assert.ok(accepted.updatedAt >= created.updatedAt, 'updatedAt moves');
      assert.deepEqual(accepted.organizationRoles, created.organizationRoles);
      assert.deepEqual(expectStatus(await api.get(`/organization-invitations/${created.id}`), 200, 'GET'), accepted);
      assert.equal(await isMember(a, org, ada.id), true, 'the invitee is a member');
      assert.deepEqual(await memberRoleIds(a, org, ada.id), [roleA.id, roleB.id].sort(), 'with the invitation\'s roles');

      for (const body of [{ status: 'Accepted', acceptedUserId: ada.id }, { status: 'Revoked' }]) {
        const r = assertCode(await api.put(`/organization-invitations/${created.id}/status`, body), 422,
          'request.invalid_input', `${body.status} after Accepted`);
        assert.match(r.message, /Accepted/);
      }
      // A member is not invited again.
      const again = assertCode(await invite({ invitee: invitee.toUpperCase() }), 422, 'request.invalid_input',
        'inviting a member');
      assert.match(again.message, /already a member/);

      assert.equal((await api.del(`/organization-invitations/${created.id}`)).status, 204);
      assertCode(await api.get(`/organization-invitations/${created.id}`), 404, 'entity.not_exists_with_id', 'deleted');
      assertCode(await api.del(`/organization-invitations/${created.id}`), 404, 'entity.not_exists_with_id', 'twice');
      assert.equal(await isMember(a, org, ada.id), true, 'deleting the invitation keeps the membership');
    });

    it('accepting keeps an existing membership and adds the roles', async () => {
      const invitee = email('member');
      const user = await createUser(api, invitee);
      const org2 = await createOrg(a, api);
      const inv = expectStatus(await invite({ organizationId: org2, invitee, organizationRoleIds: [roleA.id] }),
        201, 'POST');
      await addMember(a, api, org2, user.id);
      const accepted = expectStatus(await api.put(`/organization-invitations/${inv.id}/status`,
        { status: 'Accepted', acceptedUserId: user.id }), 200, 'accept as a member');
      assert.equal(accepted.status, 'Accepted');
      assert.deepEqual(await memberRoleIds(a, org2, user.id), [roleA.id]);
    });

    it('revoking ends a pending invitation; the invitee may be invited again', async () => {
      const invitee = email('rev');
      const inv = expectStatus(await invite({ invitee }), 201, 'POST');
      assert.deepEqual(inv.organizationRoles, []);
      assert.equal(inv.inviterId, null);
      const revoked = expectStatus(await api.put(`/organization-invitations/${inv.id}/status`,
        { status: 'Revoked', acceptedUserId: null }), 200, 'revoke');
      assert.equal(revoked.status, 'Revoked');
      assert.equal(revoked.acceptedUserId, null);
      const user = await createUser(api, invitee);
      const late = assertCode(await api.put(`/organization-invitations/${inv.id}/status`,
        { status: 'Accepted', acceptedUserId: user.id }), 422, 'request.invalid_input', 'accept a revoked one');
      assert.match(late.message, /Revoked/);
      assert.equal(await isMember(a, org, user.id), false);
      const again = expectStatus(await invite({ invitee }), 201, 'invite again after revoking');
      assert.equal(again.status, 'Pending');
    });

    it('an invitation past expiresAt reads Expired and cannot be accepted', async () => {
      const invitee = email('late');
      const inv = expectStatus(await invite({ invitee, expiresAt: Date.now() + MINUTE,
        organizationRoleIds: [roleA.id] }), 201, 'POST');
      assert.equal(inv.status, 'Pending');
      await adminQuery("UPDATE organization_invitations SET expires_at = now() - interval '1 second'"
        + ' WHERE tenant_id = $1 AND id = $2', [a.id, inv.id]);
      const got = expectStatus(await api.get(`/organization-invitations/${inv.id}`), 200, 'GET');
      assert.equal(got.status, 'Expired');
      const listed = expectStatus(await api.get(`/organization-invitations?invitee=${encodeURIComponent(invitee)}`),
        200, 'list');
      assert.deepEqual(listed.map((i) => i.status), ['Expired']);

      const user = await createUser(api, invitee);
      const refused = assertCode(await api.put(`/organization-invitations/${inv.id}/status`,
        { status: 'Accepted', acceptedUserId: user.id }), 422, 'request.invalid_input', 'accept an expired one');
      assert.match(refused.message, /Expired/);
      assertCode(await api.put(`/organization-invitations/${inv.id}/status`, { status: 'Revoked' }), 422,
        'request.invalid_input', 'revoke an expired one');
      assert.equal(await isMember(a, org, user.id), false, 'not a member');
      assert.deepEqual(await memberRoleIds(a, org, user.id), []);

      // A new invitation replaces the expired one (stored Expired from then on).
      const fresh = expectStatus(await invite({ invitee }), 201, 'invite again');
      assert.equal(fresh.status, 'Pending');
      const { rows } = await adminQuery('SELECT status FROM organization_invitations WHERE tenant_id = $1 AND id = $2',
        [a.id, inv.id]);
      assert.equal(rows[0].status, 'Expired');
      const both = expectStatus(await api.get(`/organization-invitations?invitee=${encodeURIComponent(invitee)}`),
        200, 'list');
      assert.deepEqual(both.map((i) => i.id), [fresh.id, inv.id], 'newest first');
    });

    it('refuses bad bodies and unknown references', async () => {
      const invitee = email('bad');
      assertCode(await invite({ invitee, expiresAt: Date.now() - 1000 }), 400, 'request.invalid_input', 'past expiresAt');
      assertInvalidField(await invite({ invitee, expiresAt: undefined }), 'expiresAt');
      assertInvalidField(await invite({ invitee, expiresAt: 'tomorrow' }), 'expiresAt');
      assertInvalidField(await invite({ invitee: 'not-an-email' }), 'invitee');
      assertInvalidField(await invite({ invitee: 'a b@example.com' }), 'invitee');
      assertInvalidField(await invite({ invitee: `${'x'.repeat(250)}@example.com` }), 'invitee');
      assertInvalidField(await invite({}), 'invitee');
      assertInvalidField(await invite({ invitee, organizationId: undefined }), 'organizationId');
      // A payload asks for the invitation mail: this tenant has no email connector, so the
      // invitation is not kept (the list below is still empty).
      assertCode(await invite({ invitee, messagePayload: { link: 'https://x' } }), 400, 'connector.not_found',
        'messagePayload without an email connector');
      assertInvalidField(await invite({ invitee, messagePayload: true }), 'messagePayload');
      assertInvalidField(await invite({ invitee, messagePayload: { link: 5 } }), 'messagePayload');
      assertInvalidField(await invite({ invitee, organizationRoleIds: Array.from({ length: 101 }, () => roleA.id) }),
        'organizationRoleIds');

      const unknown = async (body, mention, what) => {
        const r = assertCode(await invite({ invitee, ...body }), 422, 'entity.relation_foreign_key_not_found', what);
        assert.ok(r.message.includes(mention), `${what}: names ${mention}: ${r.message}`);
      };
      await unknown({ organizationId: 'nosuchorg' }, 'nosuchorg', 'unknown organization');
      await unknown({ inviterId: 'nosuchuser' }, 'nosuchuser', 'unknown inviter');
      await unknown({ organizationRoleIds: [roleA.id, 'nosuchrole'] }, 'nosuchrole', 'unknown role');
      const m2m = assertCode(await invite({ invitee, organizationRoleIds: [m2mRole.id] }), 422, 'request.invalid_input',
        'MachineToMachine role');
      assert.ok(m2m.message.includes(m2mRole.id), m2m.message);
      assert.deepEqual(expectStatus(await api.get(`/organization-invitations?invitee=${encodeURIComponent(invitee)}`),
        200, 'list'), [], 'nothing was created');

      // Without messagePayload at all no mail is sent, and none is needed.
      const ok = await api.post('/organization-invitations', { organizationId: org, invitee, expiresAt: Date.now() + DAY });
      expectStatus(ok, 201, 'without messagePayload');
      assertCode(await api.get('/organization-invitations/nosuchinvitation'), 404, 'entity.not_exists_with_id', 'unknown');
      assertCode(await api.put('/organization-invitations/nosuchinvitation/status', { status: 'Revoked' }), 404,
        'entity.not_exists_with_id', 'status of unknown');
    });
  });

  it('tenant isolation: another tenant cannot see or use the template or the invitations', async () => {
    const scope = await createScope();
    const res = await a.createResource({ scopes: ['iso'] });
    const role = await createRole({ organizationScopeIds: [scope.id], resourceScopeIds: [res.scopes.iso.id] });
    const org = await createOrg(a, api);
    const invitee = `iso.${randomId(8)}@example.com`;
    const inv = expectStatus(await api.post('/organization-invitations', { organizationId: org, invitee,
      expiresAt: Date.now() + DAY, organizationRoleIds: [role.id] }), 201, 'invite in A');
    const userB = await createUser(apiB, invitee);

    const notFound = (r, what) => assertCode(r, 404, 'entity.not_exists_with_id', `tenant B: ${what}`);
    notFound(await apiB.get(`/organization-roles/${role.id}`), 'GET role');
    notFound(await apiB.patch(`/organization-roles/${role.id}`, { name: uniq('stolen') }), 'PATCH role');
    notFound(await apiB.del(`/organization-roles/${role.id}`), 'DELETE role');
    notFound(await apiB.get(`/organization-roles/${role.id}/scopes`), 'GET role scopes');
    notFound(await apiB.put(`/organization-roles/${role.id}/scopes`, { organizationScopeIds: [] }), 'PUT role scopes');
    notFound(await apiB.del(`/organization-roles/${role.id}/resource-scopes/${res.scopes.iso.id}`), 'DELETE grant');
    notFound(await apiB.get(`/organization-scopes/${scope.id}`), 'GET scope');
    notFound(await apiB.patch(`/organization-scopes/${scope.id}`, { description: 'x' }), 'PATCH scope');
    notFound(await apiB.del(`/organization-scopes/${scope.id}`), 'DELETE scope');
    notFound(await apiB.get(`/organization-invitations/${inv.id}`), 'GET invitation');
    notFound(await apiB.put(`/organization-invitations/${inv.id}/status`,
      { status: 'Accepted', acceptedUserId: userB.id }), 'accept invitation');
    notFound(await apiB.del(`/organization-invitations/${inv.id}`), 'DELETE invitation');

    const listsB = [
      await apiB.get(`/organization-roles?q=${role.name}`),
      await apiB.get(`/organization-scopes?q=${scope.name}`),
      await apiB.get(`/organization-invitations?invitee=${encodeURIComponent(invitee)}`),
      await apiB.get(`/organization-invitations?organizationId=${org}`),
    ];
    for (const r of listsB) assert.deepEqual(expectStatus(r, 200, 'list in B'), []);

    // A's ids are unknown in B, also as references.
    assertCode(await apiB.post('/organization-roles', { name: uniq('b'), organizationScopeIds: [scope.id] }), 422,
      'entity.relation_foreign_key_not_found', 'B role with A\'s scope');
    assertCode(await apiB.post('/organization-roles', { name: uniq('b'), resourceScopeIds: [res.scopes.iso.id] }), 422,
      'entity.relation_foreign_key_not_found', 'B role with A\'s resource scope');
    const roleB = expectStatus(await apiB.post('/organization-roles', { name: role.name }), 201,
      'the same name in B is another role');
    assert.notEqual(roleB.id, role.id);
    assertCode(await apiB.post(`/organization-roles/${roleB.id}/scopes`, { organizationScopeIds: [scope.id] }), 422,
      'entity.relation_foreign_key_not_found', 'grant A\'s scope in B');
    assertCode(await apiB.post(`/organization-roles/${roleB.id}/resource-scopes`, { scopeIds: [res.scopes.iso.id] }),
      422, 'entity.relation_foreign_key_not_found', 'grant A\'s resource scope in B');
    assertCode(await apiB.post('/organization-invitations', { organizationId: org, invitee,
      expiresAt: Date.now() + DAY }), 422, 'entity.relation_foreign_key_not_found', 'invite to A\'s organization');
    const orgB = await createOrg(b, apiB);
    assertCode(await apiB.post('/organization-invitations', { organizationId: orgB, invitee,
      expiresAt: Date.now() + DAY, organizationRoleIds: [role.id] }), 422, 'entity.relation_foreign_key_not_found',
    'invite with A\'s role');

    // Nothing of A changed, and A still cannot accept with B's user.
    assert.deepEqual(expectStatus(await api.get(`/organization-invitations/${inv.id}`), 200, 'A GET'), inv);
    assertCode(await api.put(`/organization-invitations/${inv.id}/status`, { status: 'Accepted', acceptedUserId: userB.id }),
      404, 'entity.not_exists_with_id', 'A accepting with B\'s user');
    const roleA = expectStatus(await api.get(`/organization-roles/${role.id}`), 200, 'A role');
    assert.equal(roleA.name, role.name);
    assert.deepEqual(roleA.scopes, [{ id: scope.id, name: scope.name }]);
    assert.equal(roleA.resourceScopes.length, 1);
  });
});
