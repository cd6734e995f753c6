// The container images are complete: scripts/build-images builds the four
// FROM-scratch images with podman (storage in a temporary folder), then each
// image's filesystem is exported and its binary run inside it with chroot,
// as the image's non-root user, on a READ-ONLY view of the root filesystem
// (the Deployments set readOnlyRootFilesystem: true):
//   - `<name> --version` prints "<name> <version>" (loader and every shared
//     library are in the image);
//   - each service, without a database, exits non-zero with a JSON log line
//     saying the database is unreachable (no crash, no missing file);
//   - the gateway starts and answers /healthz 200, and exits 0 on SIGTERM.
// `podman run` is blocked in this sandbox; chroot is what proves the image.
// The binaries may be built with ASan, which needs /proc: it is mounted in
// the chroot for the run and unmounted after.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const SRC = process.env.KN_SOURCE_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const BUILD = process.env.KN_BUILD_DIR || path.join(SRC, 'build');
const SERVICES = ['location-svc', 'order-svc', 'assign-svc'];
const IMAGES = [...SERVICES, 'gateway'];
const VERSION = fs.readFileSync(path.join(SRC, 'CMakeLists.txt'), 'utf8').match(/project\(konnect VERSION ([0-9.]+)/)[1];
const USER = '10001:10001';

function have(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const isRoot = process.getuid?.() === 0;
// The child's PATH is the image's; chroot itself is found on ours.
const CHROOT = ['/usr/sbin/chroot', '/usr/bin/chroot', '/sbin/chroot'].find((p) => fs.existsSync(p)) ?? 'chroot';
const skip = !have('podman')
  ? 'podman is not installed (scripts/install-deps installs it): container images not tested'
  : !isRoot ? 'chroot and mount need root: container images not tested' : false;

let tmp;
let podman;
const mounts = []; // unmounted in reverse order by after()
const rootfs = {}; // name → read-only root of the exported image

function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

function mounted(dir) {
  const real = fs.realpathSync(dir);
  return fs.readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === real);
}

function mount(args, target) {
  sh('mount', [...args, target]);
  mounts.push(target);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// The KN_*_DIR settings of the base ConfigMap: the image must match them.
function configMapDirs() {
  const text = fs.readFileSync(path.join(SRC, 'k8s/base/configmap.yaml'), 'utf8');
  const out = {};
  for (const m of text.matchAll(/^\s+(KN_[A-Z_]+_(?:MIGRATIONS_DIR|WEB_DIR)):\s*(\S+)\s*$/gm)) out[m[1]] = m[2];
  return out;
}

const envPrefix = (name) => `KN_${name.replace(/-/g, '_').toUpperCase()}_`;

// A clean environment: nothing of the host's KN_* settings leaks in.
function baseEnv(extra = {}) {
  return {
    PATH: '/usr/bin',
    ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0:halt_on_error=1',
    UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
    KN_JWT_SECRET: 'image-test-jwt-secret-0123456789abcdef',
    KN_INTERNAL_SECRET: 'image-test-internal-secret-0123456789',
    KN_REDIS_URL: '',
    KN_WORKERS: '2',
    ...extra,
  };
}

// Runs the image's binary in its root, as the image user. Resolves
// { code, signal, stdout, stderr, ms }; `onSpawn(child)` for long runs.
function runInImage(name, args, env, { timeoutMs = 60_000, onSpawn } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(CHROOT, [`--userspec=${USER}`, rootfs[name], `/usr/bin/${name}`, ...args],
      { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
    onSpawn?.(child, () => stderr);
  });
}

function jsonLines(text) {
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      return { unparsable: l };
    }
  });
}

function assertNoSanitizerReport(text, what) {
  assert.doesNotMatch(text, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|LeakSanitizer has encountered/, `${what}:\n${text}`);
}

before(async () => {
  if (skip) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'konnect-images-'));
  const store = path.join(tmp, 'podman');
  podman = (args) => sh('podman', ['--root', store, '--runroot', path.join(store, 'run'), '--storage-driver', 'vfs', ...args]);
  sh(path.join(SRC, 'scripts/build-images'), ['--build-dir', BUILD, '--out', path.join(tmp, 'out'), '--podman-root', store],
    { timeout: 15 * 60_000 });
  for (const name of IMAGES) {
    const image = `konnect/${name}:${VERSION}`;
    const cid = podman(['create', image]).trim();
    const tar = path.join(tmp, `${name}.tar`);
    try {
      podman(['export', '-o', tar, cid]);
    } finally {
      podman(['rm', cid]);
    }
    const dir = path.join(tmp, 'fs', name);
    fs.mkdirSync(dir, { recursive: true });
    sh('tar', ['-xf', tar, '-C', dir]);
    fs.rmSync(tar);
    // ASan reads /proc; the image has no /proc of its own (the runtime mounts one).
    fs.mkdirSync(path.join(dir, 'proc'), { recursive: true });
    // The run happens on a read-only bind of the exported tree.
    const ro = path.join(tmp, 'ro', name);
    fs.mkdirSync(ro, { recursive: true });
    mount(['--bind', dir], ro);
    sh('mount', ['-o', 'remount,bind,ro', ro]);
    mount(['-t', 'proc', 'proc'], path.join(ro, 'proc'));
    rootfs[name] = ro;
  }
});

after(() => {
  if (!tmp) return;
  const stuck = [];
  for (const m of mounts.reverse()) {
    try {
      sh('umount', [m]);
    } catch {
      try {
        sh('umount', ['-l', m]);
      } catch { /* checked below */ }
    }
    if (fs.existsSync(m) && mounted(m)) stuck.push(m);
  }
  // Never remove through a mount that is still there (it could be /proc).
  if (stuck.length === 0) fs.rmSync(tmp, { recursive: true, force: true });
  else console.error(`images.test: still mounted, ${tmp} left in place: ${stuck.join(', ')}`);
});

test('each image: FROM scratch config, non-root user, no shell, the files the ConfigMap names', { skip }, () => {
  const dirs = configMapDirs();
  for (const name of IMAGES) {
    const cfg = JSON.parse(podman(['image', 'inspect', `konnect/${name}:${VERSION}`]))[0].Config;
    assert.equal(cfg.User, USER, `${name}: image user`);
    assert.deepEqual(cfg.Entrypoint, [`/usr/bin/${name}`], `${name}: entrypoint`);
    const root = rootfs[name];
    assert.ok(!fs.existsSync(path.join(root, 'bin/sh')) && !fs.existsSync(path.join(root, 'usr/bin/sh')), `${name}: no shell in the image`);
    assert.match(fs.readFileSync(path.join(root, 'etc/passwd'), 'utf8'), /^konnect:x:10001:10001:/m);
    assert.ok(fs.statSync(path.join(root, 'etc/ssl/certs/ca-certificates.crt')).size > 1000, `${name}: CA certificates`);
    // Read-only, as in the pod.
    assert.throws(() => fs.writeFileSync(path.join(root, 'tmp', 'x'), 'x'), /EROFS/);
    if (name === 'gateway') {
      const web = dirs.KN_GATEWAY_WEB_DIR;
      assert.ok(web, 'KN_GATEWAY_WEB_DIR in the ConfigMap');
      assert.ok(fs.existsSync(path.join(root, web, 'index.html')), `gateway: ${web}/index.html in the image`);
    } else {
      const key = `${envPrefix(name)}MIGRATIONS_DIR`;
      const dir = dirs[key];
      assert.ok(dir, `${key} in the ConfigMap`);
      const files = fs.readdirSync(path.join(root, dir)).filter((f) => f.endsWith('.sql'));
      assert.ok(files.length > 0, `${name}: migrations in ${dir}`);
      assert.deepEqual(files.sort(), fs.readdirSync(path.join(SRC, name, 'migrations')).filter((f) => f.endsWith('.sql')).sort());
    }
  }
});

test('each image: the binary runs in its image (--version)', { skip }, async () => {
  for (const name of IMAGES) {
    const r = await runInImage(name, ['--version'], baseEnv(), { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `${name} --version: exit ${r.code ?? r.signal}\n${r.stdout}\n${r.stderr}`);
    assert.equal(r.stdout.trim(), `${name} ${VERSION}`);
    assertNoSanitizerReport(r.stderr, `${name} --version`);
  }
});

test('each service image: without a database it exits non-zero, saying why in a JSON log line', { skip }, async (t) => {
  const dirs = configMapDirs();
  const closed = await freePort(); // nothing listens there
  const runs = SERVICES.map(async (name) => {
    const P = envPrefix(name);
    const env = baseEnv({
      [`${P}LISTEN`]: `127.0.0.1:${await freePort()}`,
      [`${P}DATABASE_URL`]: `postgresql://konnect@127.0.0.1:${closed}/konnect?connect_timeout=2`,
      [`${P}MIGRATIONS_DIR`]: dirs[`${P}MIGRATIONS_DIR`],
    });
    // kn_service retries an unreachable database for 30 s before giving up.
    return [name, await runInImage(name, [], env, { timeoutMs: 90_000 })];
  });
  for (const [name, r] of await Promise.all(runs)) {
    t.diagnostic(`${name}: exit ${r.code ?? r.signal} after ${r.ms} ms`);
    assert.equal(r.signal, null, `${name} was killed (${r.signal}) after ${r.ms} ms:\n${r.stderr.slice(-3000)}`);
    assert.notEqual(r.code, 0, `${name} exited 0 without a database`);
    const lines = jsonLines(r.stderr);
    assert.ok(lines.length > 0 && lines.every((l) => !l.unparsable), `${name}: JSON log lines only:\n${r.stderr.slice(-3000)}`);
    const err = lines.find((l) => l.level === 'error');
    assert.ok(err, `${name}: an error line:\n${r.stderr.slice(-3000)}`);
    assert.match(JSON.stringify(err), /database/i, `${name}: the error names the database`);
    assert.equal(err.service, name);
    assertNoSanitizerReport(r.stderr, name);
  }
});

test('gateway image: starts, /healthz answers 200, exits 0 on SIGTERM', { skip }, async () => {
  const port = await freePort();
  const closed = await freePort();
  const dirs = configMapDirs();
  const env = baseEnv({
    KN_GATEWAY_LISTEN: `127.0.0.1:${port}`,
    KN_GATEWAY_WEB_DIR: dirs.KN_GATEWAY_WEB_DIR,
    KN_LOCATION_SVC_TARGET: `ipv4:127.0.0.1:${closed}`,
    KN_ORDER_SVC_TARGET: `ipv4:127.0.0.1:${closed}`,
    KN_ASSIGN_SVC_TARGET: `ipv4:127.0.0.1:${closed}`,
  });
  let child;
  let errText = () => '';
  const done = runInImage('gateway', [], env, {
    timeoutMs: 60_000,
    onSpawn: (c, e) => {
      child = c;
      errText = e;
    },
  });
  let exited = null;
  done.then((r) => { exited = r; });
  const end = Date.now() + 30_000;
  let status = 0;
  let body = '';
  let openapi = null;
  while (Date.now() < end && exited === null) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
      status = res.status;
      body = await res.text();
      if (status === 200) {
        // The OpenAPI document the gateway serves is part of the image too.
        const o = await fetch(`http://127.0.0.1:${port}/openapi.yaml`, { signal: AbortSignal.timeout(2000) });
        openapi = { status: o.status, body: await o.text() };
        break;
      }
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (exited === null) child.kill('SIGTERM');
  const r = await done;
  assert.equal(status, 200, `gateway /healthz ${status} ${body}; exit ${r.code ?? r.signal}:\n${errText().slice(-3000)}`);
  assert.equal(r.code, 0, `gateway exit on SIGTERM: ${r.code ?? r.signal}\n${r.stderr.slice(-3000)}`);
  if (fs.existsSync(path.join(SRC, 'gateway/openapi.yaml'))) {
    assert.equal(openapi?.status, 200, `GET /openapi.yaml in the image: ${openapi?.status} (build-images must copy gateway/openapi.yaml next to the web folder)`);
    assert.match(openapi.body, /^openapi: /m);
  }
  assertNoSanitizerReport(r.stderr, 'gateway');
});
