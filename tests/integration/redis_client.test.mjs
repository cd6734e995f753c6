// kn_redis / kn_cache against a real redis-server
// (tests/integration/c/kn_redis_check.c): set/get/del, binary values, TTL;
// with Redis stopped every call fails (-1 / NULL) quickly and nothing
// crashes; when Redis is back the SAME kn_redis works again, without being
// recreated. The program answers one line per step on stdout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startCluster, BUILD_DIR, SOURCE_DIR } from '../../scripts/lib/cluster.mjs';

const PROGRAM = path.join(BUILD_DIR, 'tests', 'integration', 'kn_redis_check');

let c;

before(async () => {
  c = await startCluster({ services: [], redis: true, postgres: false });
});

after(async () => {
  if (c) await c.stop();
});

function start(url) {
  const supp = path.join(SOURCE_DIR, 'tests', 'lsan.supp');
  const child = spawn(PROGRAM, [url], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...process.env,
      KN_LOG_LEVEL: 'debug',
      ASAN_OPTIONS: 'detect_leaks=1:halt_on_error=1',
      LSAN_OPTIONS: fs.existsSync(supp) ? `suppressions=${supp}:print_suppressions=0` : '',
    },
  });
  let stdout = '';
  let stderr = '';
  let consumed = 0;
  const waiters = [];
  const check = () => {
    while (waiters.length) {
      const nl = stdout.indexOf('\n', consumed);
      if (nl === -1) return;
      const line = stdout.slice(consumed, nl);
      consumed = nl + 1;
      waiters.shift().resolve(line);
    }
  };
  child.stdout.on('data', (d) => {
    stdout += d;
    check();
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const done = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const w of waiters.splice(0)) {
        w.reject(new Error(`kn_redis_check exited (${code ?? signal}):\n${stdout}\n${stderr}`));
      }
      resolve({ code, signal, stdout, stderr });
    });
  });
  const nextLine = () =>
    new Promise((resolve, reject) => {
      waiters.push({ resolve, reject });
      check();
    });
  return {
    child,
    done,
    stderr: () => stderr,
    nextLine,
    // Sends a step, resolves its answer line; asserts it is "ok <step>".
    async step(name) {
      child.stdin.write(`${name}\n`);
      const line = await nextLine();
      assert.match(line, new RegExp(`^ok ${name}\\b`), `step ${name}: ${line}\n--- stderr\n${stderr.slice(-4000)}`);
      return line;
    },
  };
}

test('kn_redis: commands, binary values, TTL, Redis down and back with the same kn_redis', async (t) => {
  assert.ok(fs.existsSync(PROGRAM), `${PROGRAM} missing: build the target kn_redis_check`);
  const p = start(`redis://127.0.0.1:${c.ports.redis}`);
  assert.equal(await p.nextLine(), 'ready');

  await t.test('set / get / del, binary and empty values, error replies', () => p.step('basic'));
  await t.test('a TTL expires the key', () => p.step('ttl'));

  await t.test('Redis stopped: every call fails fast, no crash', async () => {
    await c.stopRedis();
    const line = await p.step('down');
    const m = line.match(/rest_max_us=(\d+)/);
    assert.ok(m, line);
    // The throttle makes a call with Redis down cost a flag check, not a connect.
    t.diagnostic(`with Redis down: ${line}`);
  });

  await t.test('Redis back: the same kn_redis works again', async () => {
    await c.startRedis();
    const line = await p.step('up');
    const ms = Number(line.match(/recovered_ms=(\d+)/)[1]);
    // Reconnects are tried at most every second.
    assert.ok(ms < 3000, line);
    t.diagnostic(line);
  });

  await t.test('a second outage and recovery', async () => {
    await c.stopRedis();
    await p.step('down');
    await c.startRedis();
    await p.step('up');
    await p.step('basic');
  });

  p.child.stdin.end('quit\n');
  const r = await p.done;
  assert.equal(r.code, 0, `exit ${r.code ?? r.signal}\n${r.stdout}\n${r.stderr.slice(-4000)}`);
  assert.doesNotMatch(r.stderr, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/, r.stderr);
  // A lost Redis is logged once per outage, as JSON, and its recovery too.
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('{'));
  for (const l of lines) JSON.parse(l);
  assert.ok(lines.some((l) => /unavailable/.test(l)), 'a log line for the outage');
  assert.ok(lines.some((l) => /reachable again/.test(l)), 'a log line for the recovery');
  assert.ok(lines.filter((l) => /redis .* unavailable/.test(l)).length <= 4, 'not one line per call');
});
