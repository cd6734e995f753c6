// Readiness follows the database: with PostgreSQL gone every service's
// Health/Check answers NOT_SERVING within a few seconds and its RPCs answer
// UNAVAILABLE (no database text leaks); when PostgreSQL is back each is
// SERVING again and answers normally, in the SAME process (no restart).
// Redis, which is never the source of truth, does not affect readiness.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, grpc, healthCheck } from '../../scripts/lib/cluster.mjs';

const SERVICES = ['location', 'order', 'assign'];
// One read per service that needs the database; a random id is NOT_FOUND.
const READS = {
  location: 'GetLocation',
  order: 'GetOrder',
  assign: 'GetUser',
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let c;
let token;

before(async () => {
  c = await startCluster({ services: SERVICES, redis: true });
  token = c.token({ tenant: c.uuid(), sub: c.uuid(), role: 'hq' });
});

after(async () => {
  if (c) await c.stop();
});

async function status(svc, name = '') {
  try {
    return await healthCheck(c.addr(svc, 0), name, 1000);
  } catch (e) {
    return `error ${e.code}`;
  }
}

// Resolves the ms it took until every service reports `want`.
async function allBecome(want, timeoutMs) {
  const t0 = Date.now();
  const last = {};
  for (;;) {
    for (const s of SERVICES) last[s] = await status(s);
    if (SERVICES.every((s) => last[s] === want)) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) {
      assert.fail(`not all ${want} after ${timeoutMs} ms: ${JSON.stringify(last)}`);
    }
    await sleep(100);
  }
}

async function read(svc) {
  try {
    await c.call(c.client(svc, { replica: 0 }), READS[svc], { id: c.uuid() }, token, { deadlineMs: 10_000 });
    return { code: 0 };
  } catch (e) {
    return { code: e.code, details: e.details };
  }
}

test('readiness follows PostgreSQL, without a restart', async (t) => {
  const pids = Object.fromEntries(SERVICES.map((s) => [s, c.pid(s, 0)]));
  for (const s of SERVICES) {
    assert.equal(await status(s), 'SERVING', s);
    assert.equal((await read(s)).code, grpc.status.NOT_FOUND, `${s} ${READS[s]} with the database up`);
  }

  await c.stopPostgres();
  const downMs = await allBecome('NOT_SERVING', 8000);
  t.diagnostic(`NOT_SERVING ${downMs} ms after PostgreSQL stopped`);
  for (const s of SERVICES) {
    const r = await read(s);
    assert.equal(r.code, grpc.status.UNAVAILABLE, `${s} ${READS[s]} with the database down: ${r.code} ${r.details}`);
    // The client learns the dependency is down, not libpq's words.
    assert.doesNotMatch(r.details ?? '', /connection to server|Connection refused|PGRES|libpq|server closed|socket/i, `${s}: ${r.details}`);
  }
  // Still NOT_SERVING a little later (no flapping back while it is down),
  // while the liveness probe's name stays SERVING: Kubernetes must not
  // restart a pod for a database outage.
  await sleep(1500);
  for (const s of SERVICES) {
    assert.equal(await status(s), 'NOT_SERVING', s);
    assert.equal(await status(s, 'liveness'), 'SERVING', `${s} liveness`);
  }

  await c.startPostgres();
  const upMs = await allBecome('SERVING', 15_000);
  t.diagnostic(`SERVING ${upMs} ms after PostgreSQL started`);
  for (const s of SERVICES) {
    // A worker's connection broken by the restart may cost one UNAVAILABLE
    // (the client retries); the next call is served.
    let r = await read(s);
    if (r.code === grpc.status.UNAVAILABLE) r = await read(s);
    assert.equal(r.code, grpc.status.NOT_FOUND, `${s} ${READS[s]} after PostgreSQL is back: ${r.code} ${r.details}`);
    assert.equal(c.pid(s, 0), pids[s], `${s} was not restarted`);
  }
  for (const s of SERVICES) {
    const logs = c.logs(s, 0);
    assert.match(logs, /NOT_SERVING/, `${s} logs the readiness change`);
  }
});

test('Redis down does not make a service unready', async () => {
  await c.stopRedis();
  try {
    await sleep(2500);
    for (const s of SERVICES) {
      assert.equal(await status(s), 'SERVING', `${s} with Redis down`);
      assert.equal((await read(s)).code, grpc.status.NOT_FOUND, `${s} ${READS[s]} with Redis down`);
    }
  } finally {
    await c.startRedis();
  }
});
