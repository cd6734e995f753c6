// kn_pg against a real PostgreSQL (tests/integration/c/kn_pg_reconnect.c):
// one kn_pg survives a server restart (first call after it may answer
// UNAVAILABLE, the next succeeds on a new session with its statements
// prepared again), its round-trip savers keep transactions atomic, each
// statement runs with the plan_cache_mode its mark asks for, and
// kn_pg_migrate applies files once, in numeric order, under its advisory
// lock, and reports a failing file by name.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCluster, BUILD_DIR } from '../../scripts/lib/cluster.mjs';

const PROGRAM = path.join(BUILD_DIR, 'tests', 'integration', 'kn_pg_reconnect');

let c;
const tmpDirs = [];

before(async () => {
  c = await startCluster({ services: [], redis: false });
});

after(async () => {
  if (c) await c.stop();
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

// Spawns the program; lines() resolves stdout so far, waitFor(re) the first
// line matching, done the exit { code, stdout, stderr }.
function run(args, { timeoutMs = 60_000 } = {}) {
  const child = spawn(PROGRAM, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, KN_LOG_LEVEL: 'debug' } });
  let stdout = '';
  let stderr = '';
  const waiters = [];
  const check = () => {
    for (const w of [...waiters]) {
      const m = stdout.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout.on('data', (d) => {
    stdout += d;
    check();
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const w of waiters) w.reject(new Error(`exited (${code ?? signal}) before ${w.re}:\n${stdout}\n${stderr}`));
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    done,
    waitFor: (re) =>
      new Promise((resolve, reject) => {
        waiters.push({ re, resolve, reject });
        check();
      }),
  };
}

function assertNoSanitizerReport(stderr) {
  assert.doesNotMatch(stderr, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/, stderr);
}

test('kn_pg reconnects after a PostgreSQL restart without a new kn_pg', async () => {
  assert.ok(fs.existsSync(PROGRAM), `${PROGRAM} missing: build target kn_pg_reconnect`);
  const p = run(['reconnect', c.pgUrl('order')]);
  await p.waitFor(/^ready$/m);
  await c.stopPostgres();
  await c.startPostgres();
  p.child.stdin.end('go\n');
  const r = await p.done;
  assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  const before = r.stdout.match(/^before: OK value=42 pid=(\d+)$/m);
  assert.ok(before, r.stdout);
  // Either the first attempt already succeeds, or it answers UNAVAILABLE
  // (never INTERNAL or a database text) and the second succeeds.
  const first = r.stdout.match(/^attempt1: (\S+)(.*)$/m);
  assert.ok(first, r.stdout);
  if (first[1] !== 'OK') {
    assert.equal(first[1], 'UNAVAILABLE', r.stdout);
    assert.equal(first[2].trim(), 'database unavailable');
    assert.match(r.stdout, /^attempt2: OK value=42 pid=\d+$/m);
  }
  const afterPid = r.stdout.match(/^attempt\d: OK value=42 pid=(\d+)$/m)[1];
  assert.notEqual(afterPid, before[1], 'a new server session');
  assert.match(r.stdout, /^ping-after: 1$/m);
  assert.match(r.stdout, /^reconnected$/m);
  assertNoSanitizerReport(r.stderr);
});

function migrationsDir(files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'konnect-migrations-'));
  tmpDirs.push(dir);
  for (const [name, sql] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), sql);
  return dir;
}

const ORDERED = {
  '1_a.sql': 'CREATE TABLE steps (n int PRIMARY KEY, what text NOT NULL);\nINSERT INTO steps VALUES (1, \'a\');\n',
  '2_b.sql': 'INSERT INTO steps VALUES (2, \'b\');\nCREATE INDEX steps_what ON steps (what);\n',
  // Lexical order would run this before 2_b.sql and fail.
  '10_c.sql':
    "DO $$ BEGIN IF (SELECT count(*) FROM steps) <> 2 THEN RAISE EXCEPTION 'out of order'; END IF; END $$;\n" +
    "INSERT INTO steps VALUES (10, 'c');\n",
  'README.md': 'not a migration',
};

test('kn_pg pipelines keep transactions atomic: deferred BEGIN, queued writes, a commit riding on a read', async () => {
  const r = await run(['pipeline', c.pgUrl('order')]).done;
  assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^pipeline: OK$/m);
  assertNoSanitizerReport(r.stderr);
});

test('kn_pg plans statements marked KN_PG_CACHED_PLAN once, the others with the database setting', async () => {
  const r = await run(['plan', c.pgUrl('location')]).done;
  assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^plan: OK$/m);
  assertNoSanitizerReport(r.stderr);
});

test('kn_pg_migrate applies each file once, in numeric order, with replicas racing', async () => {
  const dir = migrationsDir(ORDERED);
  const url = c.pgUrl('assign');
  // Three "replicas" start together: the advisory lock serialises them.
  const results = await Promise.all([1, 2, 3].map(() => run(['migrate', url, dir]).done));
  for (const r of results) {
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^migrate: OK/m);
    assertNoSanitizerReport(r.stderr);
  }
  const versions = (await c.sql('assign', 'SELECT version FROM schema_migrations ORDER BY applied_at, version')).map((x) => x.version);
  assert.deepEqual(versions, ['1_a.sql', '2_b.sql', '10_c.sql']);
  const rows = await c.sql('assign', 'SELECT n FROM steps ORDER BY n');
  assert.deepEqual(rows.map((x) => x.n), [1, 2, 10]);
  const applied = results.map((r) => (r.stderr.match(/migration applied: /g) ?? []).length);
  assert.equal(applied.reduce((a, b) => a + b, 0), 3, 'each file applied by exactly one replica');

  // Running again applies nothing.
  const again = await run(['migrate', url, dir]).done;
  assert.equal(again.code, 0, again.stdout);
  assert.doesNotMatch(again.stderr, /migration applied/);
});

test('kn_pg_migrate reports a failing file by name and applies none of it', async () => {
  const dir = migrationsDir({
    ...ORDERED,
    '11_bad.sql': "INSERT INTO steps VALUES (11, 'd');\nSELEC broken;\n",
  });
  const url = c.pgUrl('location');
  const r = await run(['migrate', url, dir]).done;
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.stdout, /^migrate: INTERNAL migration 11_bad\.sql failed$/m);
  assert.match(r.stdout, /^version: 10_c\.sql$/m);
  assert.doesNotMatch(r.stdout, /^version: 11_bad\.sql$/m);
  const rows = await c.sql('location', 'SELECT n FROM steps ORDER BY n');
  assert.deepEqual(rows.map((x) => x.n), [1, 2, 10], 'the failed file left nothing behind');
  assertNoSanitizerReport(r.stderr);
});

test('kn_pg_migrate answers UNAVAILABLE when the database cannot be reached', async () => {
  const dir = migrationsDir(ORDERED);
  const r = await run(['migrate', 'postgresql://postgres@127.0.0.1:1/konnect_none?connect_timeout=2', dir]).done;
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.stdout, /^migrate: UNAVAILABLE database unavailable$/m);
});
