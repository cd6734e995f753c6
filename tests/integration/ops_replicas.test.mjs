// Replicas behind a round-robin channel, as in Kubernetes (headless Service +
// dns:///): under a steady load of idempotent reads from a grpc-js client
// that retries UNAVAILABLE, one replica is SIGKILLed and later restarted.
// No request fails: the only errors seen are UNAVAILABLE attempts that a
// retry then completed. Both replicas serve before the kill, and the
// restarted one serves again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, grpc } from '../../scripts/lib/cluster.mjs';

const CONCURRENCY = 4;
const MAX_ATTEMPTS = 6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let c;

before(async () => {
  c = await startCluster({ services: ['location'], replicas: { location: 2 }, redis: true });
});

after(async () => {
  if (c) await c.stop();
});

// Requests served by replica i so far, from its request log lines.
function served(i, method = 'GetLocation') {
  return c.logs('location', i).split('\n').filter((l) => l.includes('"request"') && l.includes(`/${method}"`)).length;
}

test('SIGKILL of one replica under load: every request completes (retries only on UNAVAILABLE)', async (t) => {
  const tenant = c.uuid();
  const token = c.token({ tenant, sub: c.uuid(), role: 'hq' });
  const created = await c.call(c.client('location', { replica: 0 }), 'CreateLocation', {
    request_id: c.uuid(), name: 'Replica test', code: `RT-${Date.now()}`, address: '1 Main St', time_zone: 'UTC',
  }, token);
  const id = created.id;

  // A fresh round-robin channel over both replicas; short reconnect backoff
  // so that the restarted replica is picked up again within the test.
  const client = c.client('location', {
    fresh: true,
    options: { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 1000 },
  });

  const stats = { ok: 0, failed: [], retried: 0, attemptErrors: {} };
  let stop = false;
  async function one() {
    for (let attempt = 1; ; attempt++) {
      try {
        const loc = await c.call(client, 'GetLocation', { id }, token, { deadlineMs: 5000 });
        assert.equal(loc.id, id);
        stats.ok++;
        if (attempt > 1) stats.retried++;
        return;
      } catch (e) {
        const code = e.code ?? String(e);
        stats.attemptErrors[code] = (stats.attemptErrors[code] ?? 0) + 1;
        if (e.code !== grpc.status.UNAVAILABLE || attempt >= MAX_ATTEMPTS) {
          stats.failed.push(`${e.code} ${e.details ?? e.message} (attempt ${attempt})`);
          return;
        }
        await sleep(25 * 2 ** attempt);
      }
    }
  }
  const loops = Array.from({ length: CONCURRENCY }, async () => {
    while (!stop) await one();
  });

  // Warm up: both replicas take traffic.
  const w0 = Date.now();
  while ((served(0) < 20 || served(1) < 20) && Date.now() - w0 < 15_000) await sleep(100);
  assert.ok(served(0) >= 20 && served(1) >= 20, `both replicas serve: ${served(0)} / ${served(1)}`);

  const okBeforeKill = stats.ok;
  const exit = await c.kill('location', 1, 'SIGKILL');
  assert.equal(exit.signal, 'SIGKILL');
  const killedAt = Date.now();
  await sleep(3000);
  const okWhileDown = stats.ok - okBeforeKill;
  assert.ok(okWhileDown > 50, `the survivor carried the load: ${okWhileDown} reads in 3 s`);

  // Back again: the channel reconnects and round-robins onto it.
  await c.restart('location', 1);
  const before1 = served(1);
  const r0 = Date.now();
  while (served(1) - before1 < 20 && Date.now() - r0 < 20_000) await sleep(100);
  const after1 = served(1) - before1;
  stop = true;
  await Promise.all(loops);

  t.diagnostic(`reads ok ${stats.ok}, completed after a retry ${stats.retried}, attempt errors ${JSON.stringify(stats.attemptErrors)}, `
    + `${okWhileDown} reads in the 3 s after the kill, restarted replica served ${after1} within ${Date.now() - r0} ms (killed at +${killedAt - w0} ms)`);
  assert.deepEqual(stats.failed, [], 'no request failed for good');
  for (const code of Object.keys(stats.attemptErrors)) {
    assert.equal(Number(code), grpc.status.UNAVAILABLE, `only UNAVAILABLE attempts: ${JSON.stringify(stats.attemptErrors)}`);
  }
  assert.ok(after1 >= 20, `the restarted replica serves again (${after1} reads)`);
});
