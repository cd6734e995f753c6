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
// The measuring lives in lib/assign.mjs (tests/bench/run uses it too).
import { startCluster } from '../../scripts/lib/cluster.mjs';
import { measureAssign } from './lib/assign.mjs';

const ORDERS = Number(process.env.BENCH_ORDERS ?? 300);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const WORKERS = process.env.BENCH_WORKERS ?? '8';

async function run(replicas) {
  const c = await startCluster({
    services: ['location', 'order', 'assign'],
    replicas: { assign: replicas, order: 2 },
    env: { KN_WORKERS: WORKERS, KN_LOG_LEVEL: 'warn' },
  });
  try {
    const { latency, throughput, raceMs } = await measureAssign(c, { orders: ORDERS, concurrency: CONCURRENCY });
    return { replicas, latency, throughput, raceMs };
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
