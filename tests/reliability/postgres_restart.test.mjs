// Reliability 2 — PostgreSQL restart under load (issue 8).
//
// All three services (order-svc with two replicas) under the create +
// assign load, plus a probe that calls one read per service replica every
// ~100 ms. PostgreSQL is stopped (pg_ctl -m fast: sessions are cut), kept
// down a few seconds, and started again. Asserted:
//   - during the outage every answer is OK (e.g. a cached read) or
//     UNAVAILABLE: never UNKNOWN, INTERNAL, DEADLINE_EXCEEDED..., and no
//     database text in a message;
//   - readiness follows: every replica's Health/Check says NOT_SERVING
//     during the outage and SERVING again after it;
//   - within 5 s of PostgreSQL being back every replica answers its read
//     OK and is SERVING, in the same process (no restart);
//   - the load's requests (retried on UNAVAILABLE with the same request_id)
//     all complete, every acknowledged create exists exactly once, and the
//     invariant checker finds the databases consistent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, healthCheck } from '../../scripts/lib/cluster.mjs';
import {
  S, CODE_NAME, sleep, slowRequests, makeWorld, startLoad, loadClients, Recorder, callRetry, checkAcknowledged, checkAssignees,
} from './lib/load.mjs';
import { settleInvariants, formatViolations } from './lib/checker.mjs';

const REPLICAS = { location: 1, order: 2, assign: 1 };
const RECOVER_MS = 5000;
// Words of PostgreSQL / libpq errors that must never reach a client.
const DB_TEXT = /(postgres|libpq|PGRES|SQLSTATE|connection to server|server closed the connection|terminating connection|could not connect)/i;

let c;
let probing = false;
let load; // stopped in after() too, so that a failed test ends its loops

before(async () => {
  c = await startCluster({ services: ['location', 'order', 'assign'], replicas: REPLICAS, redis: true });
});

after(async () => {
  await load?.stop();
  await c?.stop();
});

const replicas = () => Object.entries(REPLICAS).flatMap(([svc, n]) => Array.from({ length: n }, (_, i) => [svc, i]));

async function health(svc, i) {
  try {
    return await healthCheck(c.addr(svc, i), '', 1000);
  } catch (e) {
    return `error ${CODE_NAME[e.code] ?? e.message}`;
  }
}

test('PostgreSQL stop and start under load: UNAVAILABLE during, recovery within 5 s, readiness follows', { timeout: 150_000 }, async (t) => {
  const rec = new Recorder();
  const world = await makeWorld(c, { techs: 4, packages: 30 });
  const seedRequest = c.uuid();
  const seed = await callRetry(c, c.client('order'), 'CreateOrder', {
    request_id: seedRequest, type: 'ORDER_TYPE_JOB', location_id: world.location, package_ids: world.pool.splice(0, 1),
  }, world.hq);
  // Reads per service, through a client bound to each replica: one the
  // services may answer from Redis (GetLocation, GetOrder) and one that
  // always needs PostgreSQL.
  const reads = {
    location: [['GetLocation', { id: world.location }], ['ListPackages', { location_id: world.location, page_size: 1 }]],
    order: [['GetOrder', { id: seed.id }], ['ListOrders', { page_size: 1 }]],
    assign: [['GetUser', { id: world.users[0] }], ['ListAssignments', { page_size: 1 }]],
  };
  const probeClients = Object.fromEntries(replicas().map(([s, i]) => [`${s}/${i}`, c.client(s, { replica: i, fresh: true, options: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 500 } })]));
  const pids = Object.fromEntries(replicas().map(([s, i]) => [`${s}/${i}`, c.pid(s, i)]));

  // phase: 'before' | 'down' | 'up'; answers: every probe answer with time.
  let phase = 'before';
  let upAt = 0;
  const answers = [];
  probing = true;
  const probe = (async () => {
    while (probing) {
      await Promise.all(replicas().flatMap(([svc, i]) => reads[svc].map(async ([m, req]) => {
        const t0 = Date.now();
        const ph = phase;
        try {
          await c.call(probeClients[`${svc}/${i}`], m, req, world.hq, { deadlineMs: 4000 });
          answers.push({ svc, i, m, phase: ph, t: t0, ms: Date.now() - t0, code: 0 });
        } catch (e) {
          answers.push({ svc, i, m, phase: ph, t: t0, ms: Date.now() - t0, code: e.code, details: e.details });
        }
      })));
      await sleep(100);
    }
  })();

  load = startLoad(c, world, {
    workers: 2, clients: loadClients(c), rec, retryOn: [S.UNAVAILABLE], maxMs: 40_000, refillBelow: 10, pauseMs: 30,
  });
  await sleep(2000);

  // --- outage
  phase = 'down';
  const downAt = Date.now();
  await c.stopPostgres();
  const stoppedMs = Date.now() - downAt;
  // Readiness: each replica reports NOT_SERVING while the database is gone.
  const notServing = {};
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    for (const [s, i] of replicas()) {
      if (!notServing[`${s}/${i}`] && (await health(s, i)) === 'NOT_SERVING') notServing[`${s}/${i}`] = Date.now() - downAt;
    }
    if (replicas().every(([s, i]) => notServing[`${s}/${i}`] !== undefined)) break;
    await sleep(100);
  }
  await sleep(Math.max(0, 3000 - (Date.now() - downAt)));
  const outageMs = Date.now() - downAt;

  // --- back
  await c.startPostgres();
  phase = 'up';
  upAt = Date.now();
  // Per replica: the first time its read answered OK after upAt, and the
  // first time its Health said SERVING.
  const readOk = {};
  const serving = {};
  while (Date.now() - upAt < 15_000) {
    for (const [s, i] of replicas()) {
      const k = `${s}/${i}`;
      if (serving[k] === undefined && (await health(s, i)) === 'SERVING') serving[k] = Date.now() - upAt;
      if (readOk[k] === undefined) {
        // Every read of the replica answered OK at least once.
        const oks = reads[s].map(([m]) => answers.find((x) => x.svc === s && x.i === i && x.m === m && x.phase === 'up' && x.code === 0));
        if (oks.every(Boolean)) readOk[k] = Math.max(...oks.map((a) => a.t + a.ms - upAt));
      }
    }
    if (replicas().every(([s, i]) => serving[`${s}/${i}`] !== undefined && readOk[`${s}/${i}`] !== undefined)) break;
    await sleep(50);
  }
  await sleep(2000);
  probing = false;
  await probe;
  await load.stop();

  const during = answers.filter((a) => a.phase === 'down');
  const byCode = {};
  for (const a of answers) {
    const k = `${a.phase} ${a.m} ${CODE_NAME[a.code] ?? a.code}`;
    byCode[k] = (byCode[k] ?? 0) + 1;
  }
  t.diagnostic(`pg stop took ${stoppedMs} ms, outage ${outageMs} ms; NOT_SERVING after (ms) ${JSON.stringify(notServing)}`);
  t.diagnostic(`after start: read OK after (ms) ${JSON.stringify(readOk)}; SERVING after (ms) ${JSON.stringify(serving)}`);
  t.diagnostic(`probe answers ${JSON.stringify(byCode)}`);
  t.diagnostic(`load: ${rec.summary()}; orders acknowledged ${load.acked.length}`);
  t.diagnostic(`phases: stop at ${new Date(downAt).toISOString()}, back at ${new Date(upAt).toISOString()}`);
  for (const l of slowRequests(c)) t.diagnostic(`  slow or failed in the services' logs: ${l}`);
  const lateTimeouts = answers.filter((a) => a.code === S.DEADLINE_EXCEEDED);
  for (const a of lateTimeouts) t.diagnostic(`  probe DEADLINE_EXCEEDED: ${a.svc}[${a.i}] ${a.m} sent ${new Date(a.t).toISOString()} (${a.phase})`);

  // Never anything but OK / UNAVAILABLE while the database is down.
  const bad = during.filter((a) => a.code !== 0 && a.code !== S.UNAVAILABLE);
  assert.deepEqual(bad.map((a) => `${a.svc}[${a.i}] ${a.m} ${CODE_NAME[a.code]}: ${a.details}`), [], 'only OK or UNAVAILABLE during the outage');
  assert.ok(during.some((a) => a.code === S.UNAVAILABLE), 'the outage was seen (some UNAVAILABLE)');
  const leaks = answers.filter((a) => a.code !== 0 && DB_TEXT.test(a.details ?? ''));
  assert.deepEqual(leaks.map((a) => a.details), [], 'no database text in an error message');
  const loadBad = rec.attemptErrors.filter((e) => e.code !== S.UNAVAILABLE);
  assert.deepEqual(loadBad.map((e) => `${e.method} ${e.name}: ${e.details}`), [], 'the load saw only UNAVAILABLE');
  assert.deepEqual(rec.attemptErrors.filter((e) => DB_TEXT.test(e.details)).map((e) => e.details), [], 'no database text in the load errors');

  for (const [s, i] of replicas()) {
    const k = `${s}/${i}`;
    assert.ok(notServing[k] !== undefined, `${k} reported NOT_SERVING during the outage`);
    assert.ok(readOk[k] !== undefined && readOk[k] <= RECOVER_MS, `${k} answered its read OK within ${RECOVER_MS} ms of PostgreSQL being back (${readOk[k]} ms)`);
    assert.ok(serving[k] !== undefined && serving[k] <= RECOVER_MS, `${k} SERVING within ${RECOVER_MS} ms (${serving[k]} ms)`);
    assert.equal(c.pid(s, i), pids[k], `${k} recovered without a restart`);
  }
  // After recovery every probe answers OK.
  const lateBad = answers.filter((a) => a.phase === 'up' && a.t - upAt > RECOVER_MS && a.code !== 0);
  assert.deepEqual(lateBad.map((a) => `${a.svc}[${a.i}] ${a.m} ${CODE_NAME[a.code]}: ${a.details}`), [], 'every read OK after the recovery window');

  assert.deepEqual(load.unfinished, [], 'every request of the load completed');
  assert.deepEqual(rec.failed, [], 'no load request failed for good');
  const ack = await checkAcknowledged(c, world, load, { alsoSent: [seedRequest] });
  assert.deepEqual(ack.problems, [], 'every acknowledged create exists exactly once');
  assert.deepEqual(await checkAssignees(c, world, load), [], 'no acknowledged assignment was lost');
  const inv = await settleInvariants(c, { tenants: [world.tenant], timeoutMs: 45_000 });
  t.diagnostic(`checker: ${inv.violations.length} violations after ${inv.waitedMs} ms; stats ${JSON.stringify(inv.stats)}`);
  assert.equal(inv.violations.length, 0, formatViolations(inv));
});
