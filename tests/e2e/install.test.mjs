// End-to-end test of the installed layout: `meson install --destdir` of the build under test puts
// latchd and latchctl in <prefix>/<bindir> and the connectors in <prefix>/<libdir>/latch/connectors;
// the installed latchd, run with no LATCH_CONNECTOR_DIR, finds them there (its compiled-in
// default) and offers the Hugging Face factory at GET /api/connector-factories. To run the
// installed files at the paths they were built for without writing to <prefix>, the test mounts
// <destdir>/<prefix> over <prefix> in a private mount namespace (unshare; as root, else in a user
// namespace). It also checks what MemoryDenyWriteExecute=yes in deploy/latchd.service needs of the
// connectors (no text relocations, no executable stack) and runs `systemd-analyze verify` on
// deploy/latchd.service.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildDir, startLatchd } from './lib/harness.mjs';
import { repoRoot } from './lib/cluster.mjs';
import { TenantCtx, expectStatus } from './lib/oidc.mjs';

/** The connectors `meson install` puts in place (connectors/meson.build's `offered`), sorted. */
const OFFERED = ['http-email.so', 'http-sms.so', 'huggingface.so', 'oidc.so', 'smtp.so',
  'twilio-sms.so'];

/** Runs a command; resolves {code, out} (stdout and stderr together). */
function run(cmd, args, { env = process.env } = {}) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    p.stderr.setEncoding('utf8').on('data', (d) => { out += d; });
    p.on('error', (err) => resolve({ code: -1, out: String(err.message) }));
    p.on('close', (code) => resolve({ code, out }));
  });
}

describe('meson install', () => {
  let destdir;
  let layout; // {prefix, bin, connectors} as built, and where they are under destdir
  let unshareArgs = null; // how to enter a private mount namespace here
  let srv;

  before(async () => {
    destdir = await mkdtemp(path.join(os.tmpdir(), 'latch-install-'));
    const inst = await run('meson', ['install', '-C', buildDir, '--destdir', destdir, '--no-rebuild', '--quiet']);
    assert.equal(inst.code, 0, `meson install --destdir failed:\n${inst.out}`);
    const intro = await run('meson', ['introspect', '--buildoptions', buildDir]);
    assert.equal(intro.code, 0, intro.out);
    const opts = Object.fromEntries(JSON.parse(intro.out).map((o) => [o.name, o.value]));
    const prefix = opts.prefix;
    const abs = (p) => (path.isAbsolute(p) ? p : path.join(prefix, p));
    layout = {
      prefix,
      latchd: path.join(abs(opts.bindir), 'latchd'),
      latchctl: path.join(abs(opts.bindir), 'latchctl'),
      connectors: path.join(abs(opts.libdir), 'latch', 'connectors'),
    };
    for (const flags of [['--mount'], ['--mount', '--map-root-user']]) {
      if ((await run('unshare', [...flags, 'true'])).code === 0) {
        unshareArgs = flags;
        break;
      }
    }
  });

  after(async () => {
    if (srv && !srv.exitInfo) await srv.stop('SIGKILL');
    if (destdir) await rm(destdir, { recursive: true, force: true });
  });

  const staged = (p) => path.join(destdir, p);

  // argv that runs an installed program with <destdir>/<prefix> mounted over <prefix>.
  const inNamespace = (program, ...args) => [...unshareArgs, '--', 'sh', '-c',
    'mount --bind "$1" "$2" && shift 2 && exec "$@"', 'sh', staged(layout.prefix), layout.prefix, program, ...args];

  it('installs latchd, latchctl and the offered connectors (not the test ones)', async () => {
    await access(staged(layout.latchd));
    await access(staged(layout.latchctl));
    const files = (await readdir(staged(layout.connectors))).sort();
    assert.deepEqual(files, OFFERED, `connectors installed in ${layout.connectors}`);
  });

  it('the installed connectors load under MemoryDenyWriteExecute (no TEXTREL, no executable stack)', async () => {
    for (const f of OFFERED) {
      const file = path.join(staged(layout.connectors), f);
      const dyn = await run('readelf', ['-dW', file]);
      assert.equal(dyn.code, 0, dyn.out);
      assert.doesNotMatch(dyn.out, /TEXTREL/, `${f} needs text relocations`);
      const seg = await run('readelf', ['-lW', file]);
      assert.equal(seg.code, 0, seg.out);
      const stack = seg.out.split('\n').find((l) => l.includes('GNU_STACK'));
      assert.ok(stack, `${f} has a GNU_STACK header`);
      assert.doesNotMatch(stack, /RWE/, `${f} asks for an executable stack: ${stack}`);
    }
  });

  it('the installed latchd finds them by default: Hugging Face is offered', async (t) => {
    if (!unshareArgs) {
      t.skip('cannot make a private mount namespace here (unshare --mount fails as this user and ' +
        'in a user namespace), so the installed files cannot be run at their built-in paths');
      return;
    }
    // The prefix must exist to be mounted over (it does for /usr/local and /usr).
    await access(layout.prefix);
    srv = await startLatchd({ exe: 'unshare', args: inNamespace(layout.latchd),
      env: { LATCH_CONNECTOR_DIR: undefined } });
    const ctx = await TenantCtx.create(srv, 'install');
    const api = await ctx.api();
    const list = expectStatus(await api.get('/connector-factories'), 200, 'GET /api/connector-factories');
    const ids = list.map((f) => f.id);
    assert.ok(ids.includes('huggingface-universal'), `factories offered: ${JSON.stringify(ids)}`);
    assert.ok(srv.stderrText().includes(`connector directory ${layout.connectors}`),
      `latchd logs its connector directory, ${layout.connectors}`);
    assert.deepEqual(await srv.stop(), { code: 0, signal: null });

    // The installed latchctl reads the same directory by default.
    const env = { ...process.env };
    delete env.LATCH_CONNECTOR_DIR;
    const ls = await run('unshare', inNamespace(layout.latchctl, 'connectors', 'list', '--json'), { env });
    assert.equal(ls.code, 0, ls.out);
    assert.match(ls.out, /huggingface-universal/, ls.out);
    const listed = JSON.parse(ls.out);
    assert.equal(listed.find((c) => c.id === 'huggingface-universal')?.type, 'Social', ls.out);
    assert.equal(listed.find((c) => c.id === 'simple-mail-transfer-protocol')?.type, 'Email', ls.out);
  });

  it('deploy/latchd.service passes systemd-analyze verify', async (t) => {
    const which = await run('sh', ['-c', 'command -v systemd-analyze']);
    if (which.code !== 0) {
      t.skip('systemd-analyze not found (Debian package systemd, in LATCH_TEST_PACKAGES): ' +
        'deploy/latchd.service not verified');
      return;
    }
    // verify also checks that ExecStart is executable: point it at the installed latchd.
    const unit = await readFile(path.join(repoRoot, 'deploy', 'latchd.service'), 'utf8');
    assert.match(unit, /^ExecStart=\/usr\/local\/bin\/latchd$/m);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'latch-unit-'));
    try {
      const file = path.join(dir, 'latchd.service');
      await writeFile(file, unit.replace(/^ExecStart=\S+/m, `ExecStart=${staged(layout.latchd)}`));
      const v = await run('systemd-analyze', ['verify', file]);
      assert.equal(v.code, 0, `systemd-analyze verify:\n${v.out}`);
      assert.equal(v.out.trim(), '', `systemd-analyze verify printed warnings:\n${v.out}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
