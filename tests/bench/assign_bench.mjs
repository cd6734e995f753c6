// assign-svc benchmark (not run in CI), issue 5 "Speed":
//  1. uncontended AssignOrder of orders with 5 packages: p50/p99 latency,
//     one caller, each call on a different order (sequential);
//  2. throughput of uncontended AssignOrder at BENCH_CONCURRENCY callers with
//     1 and with 3 assign-svc replicas (2 order-svc replicas);
//  3. the contested batch of the race test (50 technicians x 20 orders):
//     wall time until every SelfAssignOrder has answered.
//
//   KN_BUILD_DIR=<release build> KN_SOURCE_DIR=/work/main node tests/bench/assign_bench.mjs
//   BENCH_ORDERS=400 BENCH_CONCURRENCY=16 ...
//
// Targets: AssignOrder p99 <= 15 ms; the contested batch settles in < 2 s.
import { startCluster } from '../../scripts/lib/cluster.mjs';
import { makeTenant, makeUsers, makeOrders } from '../integration/assign_fixtures.mjs';

const ORDERS = Number(process.env.BENCH_ORDERS ?? 300);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const WORKERS = process.env.BENCH_WORKERS ?? '8';

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (ns) => Number(ns) / 1e6;

async function batchOrders(c, t, n) {
  const out = [];
  for (let i = 0; i < n; i += 25) out.push(...(await makeOrders(c, t, Math.min(25, n - i), 5)).orders);
  return out;
}

async function run(replicas) {
  const c = await startCluster({
    services: ['location', 'order', 'assign'],
    replicas: { assign: replicas, order: 2 },
    env: { KN_WORKERS: WORKERS, KN_LOG_LEVEL: 'warn' },
  });
  try {
    const t = await makeTenant(c);
    const users = await makeUsers(c, t, 50);
    const a = c.client('assign');
    const result = { replicas };

    // 1. latency, one caller
    const lat = await batchOrders(c, t, ORDERS);
    for (let i = 0; i < 20; i++) { // warm-up: connections, prepared statements
      await c.call(a, 'AssignOrder', { order_id: lat[i].id, user_id: users[0].id }, t.hq);
    }
    const times = [];
    for (const o of lat.slice(20)) {
      const t0 = process.hrtime.bigint();
      await c.call(a, 'AssignOrder', { order_id: o.id, user_id: users[1].id }, t.hq);
      times.push(ms(process.hrtime.bigint() - t0));
    }
    times.sort((x, y) => x - y);
    result.latency = { n: times.length, p50: pct(times, 50), p99: pct(times, 99) };

    // 2. throughput, CONCURRENCY callers, each order once
    const thr = await batchOrders(c, t, ORDERS);
    let next = 0;
    const t0 = Date.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async (_, w) => {
      while (next < thr.length) {
        const o = thr[next++];
        await c.call(a, 'AssignOrder', { order_id: o.id, user_id: users[w % users.length].id }, t.hq);
      }
    }));
    result.throughput = Math.round(thr.length / ((Date.now() - t0) / 1000));

    // 3. the contested batch
    const race = (await makeOrders(c, t, 20, 2)).orders;
    const r0 = Date.now();
    await Promise.all(users.flatMap((u) => race.map((o) =>
      c.call(a, 'SelfAssignOrder', { order_id: o.id }, u.token).catch(() => null))));
    result.raceMs = Date.now() - r0;
    return result;
  } finally {
    await c.stop();
  }
}

const results = [];
for (const r of [1, 3]) {
  const res = await run(r);
  results.push(res);
  console.log(`assign replicas ${r}: AssignOrder (5 packages) p50 ${res.latency.p50.toFixed(2)} ms `
    + `p99 ${res.latency.p99.toFixed(2)} ms (n=${res.latency.n}); ${res.throughput} AssignOrder/s at `
    + `${CONCURRENCY} callers; contested batch (1000 SelfAssignOrder) settled in ${res.raceMs} ms`);
}
console.log(JSON.stringify(results));
