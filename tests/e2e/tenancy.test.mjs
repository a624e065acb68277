// End-to-end tests of tenancy in the database: every table of schema public with a tenant_id
// column has row-level security enabled and forced, a policy keyed on `latch.tenant_id`, tenant_id
// as its first column and in every unique constraint; and for every such table, the application
// role `latch` sees only the rows of the tenant set for the transaction, none without one, and
// cannot write rows of another tenant. Also latchctl's tenant id validation.
//
// Rows are generated from the catalog, so a new tenant-owned table is covered without editing
// this file (unless it has a column type that fillValue() does not know yet).
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  adminQuery,
  createTenant,
  ensureMigrated,
  latchctl,
  latchctlOk,
  randomId,
  withAdminClient,
  withAppClient,
} from './lib/harness.mjs';

// Tables of schema public that have a tenant_id column. A partition (the audit log's days) is
// tested on its own too: read or written directly, only its own policy binds it. Its rows must
// fall in its range: `lower` is the range partition's lower bound (a value of the key column).
async function tenantTables() {
  const { rows } = await adminQuery(`
    SELECT c.oid::int AS oid, c.relname,
           (SELECT a.attname FROM pg_partitioned_table pt
              JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
             WHERE pt.partrelid = (SELECT inhparent FROM pg_inherits WHERE inhrelid = c.oid))
             AS partition_key,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), $$FROM \\('([^']+)'\\)$$))[1] AS lower
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
       AND EXISTS (SELECT 1 FROM pg_attribute a
                    WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
     ORDER BY c.relname`);
  return rows;
}

async function columnsOf(client, oid) {
  const { rows } = await client.query(`
    SELECT a.attnum, a.attname, a.attnotnull, a.atthasdef, a.attidentity, a.attgenerated,
           format_type(a.atttypid, a.atttypmod) AS type, t.typtype, a.atttypid::int AS typid
      FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attnum`, [oid]);
  return rows;
}

// Foreign keys of a table: [{parent (oid), cols: [child col], pcols: [parent col]}].
async function foreignKeysOf(client, oid) {
  const { rows } = await client.query(`
    SELECT con.confrelid::int AS parent,
           array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
                   JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
                  ORDER BY k.i)::text[] AS cols,
           array(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
                   JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
                  ORDER BY k.i)::text[] AS pcols
      FROM pg_constraint con
     WHERE con.conrelid = $1 AND con.contype = 'f'`, [oid]);
  return rows;
}

let counter = 0;
// A value for a NOT NULL column without default; throws for a type it does not know.
// The first literal a CHECK constraint on this column alone allows, e.g. 'Native' from
// CHECK (type IN ('Native', 'SPA', ...)); null when the column has no such constraint.
async function checkLiteral(client, col, table) {
  const { rows } = await client.query(`
    SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint
     WHERE conrelid = $1 AND contype = 'c' AND conkey = ARRAY[$2::smallint]`,
    [table.oid, col.attnum]);
  for (const { def } of rows) {
    const m = /'((?:[^']|'')*)'::/.exec(def);
    if (m) return m[1].replace(/''/g, "'");
  }
  return null;
}

async function fillValue(client, col, table) {
  counter += 1;
  const tag = `e2e${randomId(6)}${counter}`;
  const type = col.type;
  if (/^(text|character varying.*|character.*|citext|name)$/.test(type)) return tag;
  if (/^(smallint|integer|bigint)$/.test(type)) return String(1000 + Math.floor(Math.random() * 30000));
  if (/^(numeric.*|real|double precision)$/.test(type)) return '1';
  if (type === 'boolean') return 'false';
  if (type === 'jsonb' || type === 'json') return '{}';
  if (/^timestamp|^date$/.test(type)) return new Date().toISOString();
  if (type === 'uuid') return crypto.randomUUID();
  if (type === 'bytea') return '\\x00';
  if (type.endsWith('[]')) return '{}';
  if (col.typtype === 'e') {
    const { rows } = await client.query(
      'SELECT enumlabel FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder LIMIT 1', [col.typid]);
    return rows[0].enumlabel;
  }
  throw new Error(`tenancy.test.mjs cannot fill ${table.relname}.${col.attname} of type ${type}: ` +
    'teach fillValue() that type');
}

/**
 * Builds a row for `table` owned by tenantId: tenant_id, a generated value for each NOT NULL
 * column without default, and foreign-key columns taken from the parent rows made for the same
 * tenant (parents: Map oid → row). Returns {cols, vals}.
 */
async function buildRow(client, table, tenantId, parents, overrides = new Map()) {
  const cols = await columnsOf(client, table.oid);
  const fks = await foreignKeysOf(client, table.oid);
  const values = new Map([['tenant_id', tenantId], ...overrides]);
  for (const fk of fks) {
    let parentRow = parents.get(fk.parent);
    if (!parentRow) continue; // tenants(id) or a table outside the tenant set
    // A composite key may copy a parent column that this table checks again (users_roles
    // takes roles.type and allows only 'User'): then this row needs a parent of its own.
    const needs = new Map();
    for (const [i, c] of fk.cols.entries()) {
      const col = cols.find((x) => x.attname === c);
      const allowed = col ? await checkLiteral(client, col, table) : null;
      if (allowed !== null && String(parentRow[fk.pcols[i]]) !== allowed) needs.set(fk.pcols[i], allowed);
    }
    const own = `${table.oid}->${fk.parent}`;
    if (needs.size > 0 && parents.has(own)) {
      parentRow = parents.get(own); // made on the first pass, as the superuser
    } else if (needs.size > 0) {
      const parentTable = { oid: fk.parent, relname: parentRow.__relname };
      const row = await buildRow(client, parentTable, tenantId, parents, needs);
      const { rows } = await client.query(insertSql(parentTable.relname, row.cols), row.vals);
      parentRow = rows[0];
      parents.set(own, parentRow);
    }
    fk.cols.forEach((c, i) => {
      if (c !== 'tenant_id') values.set(c, parentRow[fk.pcols[i]]);
    });
  }
  for (const col of cols) {
    if (values.has(col.attname)) continue;
    if (col.attgenerated || col.attidentity) continue;
    // Columns with a default are left to it, unless a CHECK names the values they may take
    // (a child row may copy them through a composite foreign key and check them again).
    const allowed = await checkLiteral(client, col, table);
    if (allowed !== null) {
      values.set(col.attname, allowed);
      continue;
    }
    if (col.atthasdef || !col.attnotnull) continue;
    values.set(col.attname, await fillValue(client, col, table));
  }
  return { cols: [...values.keys()], vals: [...values.values()] };
}

const ident = (s) => `"${s.replace(/"/g, '""')}"`;

// Values that put a row into partition t's range (none for other tables).
const inRange = (t) => new Map(t.partition_key && t.lower ? [[t.partition_key, t.lower]] : []);

function insertSql(relname, cols) {
  return `INSERT INTO ${ident(relname)} (${cols.map(ident).join(', ')}) ` +
    `VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING *`;
}

// Orders tables so that a table comes after the tenant tables it references.
async function dependencyOrder(client, tables) {
  const oids = new Set(tables.map((t) => t.oid));
  const deps = new Map();
  for (const t of tables) {
    const fks = await foreignKeysOf(client, t.oid);
    deps.set(t.oid, fks.map((f) => f.parent).filter((p) => oids.has(p) && p !== t.oid));
  }
  const out = [];
  const seen = new Set();
  const visit = (t, stack = new Set()) => {
    if (seen.has(t.oid)) return;
    if (stack.has(t.oid)) throw new Error(`foreign-key cycle through ${t.relname}`);
    stack.add(t.oid);
    for (const p of deps.get(t.oid)) visit(tables.find((x) => x.oid === p), stack);
    stack.delete(t.oid);
    seen.add(t.oid);
    out.push(t);
  };
  for (const t of tables) visit(t);
  return out;
}

describe('row-level security on every tenant-owned table', () => {
  let tables;
  before(async () => {
    // Migrations as the application role (the owner of the tables).
    await ensureMigrated();
    tables = await tenantTables();
  });

  it('there is at least one tenant-owned table', () => {
    assert.ok(tables.length > 0, 'no table in schema public has a tenant_id column');
  });

  it('partitions of tenant-owned tables are among them, each under its own policy', () => {
    const parts = tables.filter((t) => t.partition_key);
    assert.ok(parts.some((t) => /^logs_p\d{8}$/.test(t.relname)),
      `the audit log's day partitions are tested: ${tables.map((t) => t.relname).join(', ')}`);
    for (const t of parts) assert.ok(t.lower, `${t.relname}: a range partition with a lower bound`);
  });

  it('each has RLS enabled and forced, a policy on latch.tenant_id, tenant_id first', async () => {
    for (const t of tables) {
      const { rows: [c] } = await adminQuery(
        'SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = $1', [t.oid]);
      assert.equal(c.relrowsecurity, true, `${t.relname}: ENABLE ROW LEVEL SECURITY`);
      assert.equal(c.relforcerowsecurity, true, `${t.relname}: FORCE ROW LEVEL SECURITY`);

      const { rows: pols } = await adminQuery(`
        SELECT polname, polcmd, polpermissive,
               pg_get_expr(polqual, polrelid) AS qual, pg_get_expr(polwithcheck, polrelid) AS chk
          FROM pg_policy WHERE polrelid = $1`, [t.oid]);
      assert.ok(pols.length > 0, `${t.relname}: a policy`);
      assert.ok(pols.some((p) => `${p.qual} ${p.chk}`.includes('latch.tenant_id')),
        `${t.relname}: a policy reading latch.tenant_id: ${JSON.stringify(pols)}`);

      const { rows: [first] } = await adminQuery(`
        SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped
         ORDER BY attnum LIMIT 1`, [t.oid]);
      assert.equal(first.attname, 'tenant_id', `${t.relname}: tenant_id is the first column`);
    }
  });

  it('latch_tenancy_violations() lists nothing', async () => {
    const { rows } = await adminQuery('SELECT tbl::text, problem FROM latch_tenancy_violations()');
    assert.deepEqual(rows, []);
  });

  it('each unique constraint or index includes tenant_id', async () => {
    for (const t of tables) {
      const { rows } = await adminQuery(`
        SELECT i.indexrelid::regclass::text AS name,
               EXISTS (SELECT 1 FROM unnest(i.indkey) k(n)
                         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
                        WHERE a.attname = 'tenant_id') AS has_tenant
          FROM pg_index i WHERE i.indrelid = $1 AND i.indisunique`, [t.oid]);
      for (const r of rows) {
        assert.ok(r.has_tenant, `${t.relname}: unique index ${r.name} must include tenant_id`);
      }
    }
  });

  it('a tenant sees only its own rows, no tenant sees none, and cannot write another\'s',
    async () => {
      // Bare tenants, straight into the table: latchctl would also give them signing keys and
      // a Management API, and this test wants to own every row it counts.
      const bare = async (prefix) => {
        const id = `${prefix}-${randomId(8)}`;
        await adminQuery('INSERT INTO tenants (id, name) VALUES ($1, $2)', [id, id]);
        return id;
      };
      const a = await bare('rls-a');
      const b = await bare('rls-b');
      const ordered = await withAdminClient((c) => dependencyOrder(c, tables));

      // Rows for both tenants, as the superuser (RLS does not apply to it).
      const parents = { [a]: new Map(), [b]: new Map() };
      await withAdminClient(async (c) => {
        for (const t of ordered) {
          for (const tenant of [a, b]) {
            const row = await buildRow(c, t, tenant, parents[tenant], inRange(t));
            const { rows } = await c.query(insertSql(t.relname, row.cols), row.vals);
            parents[tenant].set(t.oid, { ...rows[0], __relname: t.relname });
          }
        }
      });

      await withAppClient(async (c) => {
        const setTenant = (id) => c.query("SELECT set_config('latch.tenant_id', $1, true)", [id]);

        // Never set on this connection: current_setting() is NULL.
        for (const t of ordered) {
          const { rows } = await c.query(`SELECT count(*)::int AS n FROM ${ident(t.relname)}`);
          assert.equal(rows[0].n, 0, `${t.relname}: no tenant set, no rows`);
        }

        for (const t of ordered) {
          const tn = ident(t.relname);
          await c.query('BEGIN');
          try {
            await setTenant(a);
            const { rows } = await c.query(`SELECT tenant_id FROM ${tn}`);
            assert.ok(rows.length >= 1, `${t.relname}: tenant A sees its row`);
            assert.ok(rows.every((r) => r.tenant_id === a),
              `${t.relname}: tenant A sees only its rows: ${JSON.stringify(rows)}`);
            const upd = await c.query(`UPDATE ${tn} SET tenant_id = tenant_id WHERE tenant_id = $1`, [b]);
            assert.equal(upd.rowCount, 0, `${t.relname}: A cannot update B's rows`);
            const del = await c.query(`DELETE FROM ${tn} WHERE tenant_id = $1`, [b]);
            assert.equal(del.rowCount, 0, `${t.relname}: A cannot delete B's rows`);
          } finally {
            await c.query('ROLLBACK');
          }

          // After a transaction-local setting ended, the setting is '' (not NULL): still nothing.
          const { rows: none } = await c.query(`SELECT count(*)::int AS n FROM ${tn}`);
          assert.equal(none[0].n, 0, `${t.relname}: no rows once the transaction ended`);

          // Writing a row of tenant B with tenant A set fails; the same row for A succeeds.
          const rowB = await buildRow(c, t, b, parents[b], inRange(t));
          const rowA = await buildRow(c, t, a, parents[a], inRange(t));
          await c.query('BEGIN');
          try {
            await setTenant(a);
            await c.query('SAVEPOINT s');
            await assert.rejects(c.query(insertSql(t.relname, rowB.cols), rowB.vals),
              (err) => err.code === '42501',
              `${t.relname}: inserting a row of tenant B with tenant A set must fail (RLS)`);
            await c.query('ROLLBACK TO SAVEPOINT s');
            // A join table's row is all foreign keys, so the same row for A may exist already:
            // a unique violation is raised only after the policy's WITH CHECK passed.
            try {
              const ok = await c.query(insertSql(t.relname, rowA.cols), rowA.vals);
              assert.equal(ok.rowCount, 1, `${t.relname}: inserting a row of tenant A succeeds`);
            } catch (err) {
              assert.equal(err.code, '23505', `${t.relname}: row of tenant A refused: ${err.message}`);
            }
          } finally {
            await c.query('ROLLBACK');
          }

          // With no tenant set, writing fails too.
          await c.query('BEGIN');
          try {
            await assert.rejects(c.query(insertSql(t.relname, rowA.cols), rowA.vals),
              (err) => err.code === '42501', `${t.relname}: no tenant set, no insert`);
          } finally {
            await c.query('ROLLBACK');
          }
        }
      });
    });

  it('the application role is neither a superuser nor BYPASSRLS', async () => {
    const { rows } = await withAppClient((c) => c.query(
      'SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user'));
    assert.deepEqual(rows[0], { rolsuper: false, rolbypassrls: false });
  });
});

describe('latchctl tenants', () => {
  before(() => ensureMigrated());

  it('rejects tenant ids that are not lowercase letters, digits and dashes, or too long',
    async () => {
      for (const bad of ['UPPER', 'has_underscore', 'dot.ted', 'sp ace', '', '../etc', 'é',
        'x'.repeat(22), 'x'.repeat(200), '-', '-abc', 'abc-', '--name']) {
        const r = await latchctl(['tenant', 'create', bad, '--name', 'Bad']);
        assert.notEqual(r.code, 0, `id ${JSON.stringify(bad.slice(0, 30))} accepted: ${r.stdout}`);
      }
      const { rows } = await adminQuery(
        "SELECT id FROM tenants WHERE id !~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$' OR length(id) > 21");
      assert.deepEqual(rows, [], 'no invalid id stored');
    });

  it('accepts the longest valid id (21 characters)', async () => {
    const id = `m${randomId(10)}${randomId(10)}`;
    assert.equal(id.length, 21);
    await latchctlOk(['tenant', 'create', id, '--name', 'Long id']);
    const { rows } = await adminQuery('SELECT name FROM tenants WHERE id = $1', [id]);
    assert.deepEqual(rows, [{ name: 'Long id' }]);
  });

  it('creates, lists (JSON), refuses a duplicate, suspends and resumes a tenant', async () => {
    const id = `ctl-${randomId(8)}`;
    await latchctlOk(['tenant', 'create', id, '--name', 'Acme Inc.']);
    const dup = await latchctl(['tenant', 'create', id, '--name', 'Again']);
    assert.notEqual(dup.code, 0, 'duplicate id refused');

    const list = async () => {
      let data = JSON.parse(await latchctlOk(['tenant', 'list', '--json']));
      if (!Array.isArray(data)) data = data.tenants;
      assert.ok(Array.isArray(data), 'a JSON array of tenants');
      return data;
    };
    const found = (await list()).find((t) => t.id === id);
    assert.ok(found, `${id} listed`);
    assert.equal(found.name, 'Acme Inc.');
    assert.ok((await list()).some((t) => t.id === 'default'), 'tenant default listed');

    await latchctlOk(['tenant', 'suspend', id]);
    let { rows } = await adminQuery('SELECT is_suspended FROM tenants WHERE id = $1', [id]);
    assert.equal(rows[0].is_suspended, true);
    await latchctlOk(['tenant', 'resume', id]);
    ({ rows } = await adminQuery('SELECT is_suspended FROM tenants WHERE id = $1', [id]));
    assert.equal(rows[0].is_suspended, false);

    const missing = await latchctl(['tenant', 'suspend', `nope-${randomId(6)}`]);
    assert.notEqual(missing.code, 0, 'suspending an unknown tenant fails');
  });
});
