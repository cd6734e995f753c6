// SearchActivity benchmark (not run in CI): seeds BENCH_ROWS activity rows
// (default 5,000,000) by bulk SQL into a private cluster's location-svc
// database, then measures p50/p99 latency at BENCH_CONCURRENCY (8) callers
// for three query shapes: an exact barcode, an exact tracking number, and a
// free-text partial (a fragment from the middle of a barcode).
//
//   KN_BUILD_DIR=build KN_SOURCE_DIR=. node tests/bench/location_search_bench.mjs
//   BENCH_ROWS=1000000 BENCH_QUERIES=5 node tests/bench/location_search_bench.mjs
//
// Targets (issue 4): barcode/tracking p99 <= 15 ms, partial p99 <= 50 ms.
// The seeding and the query shapes live in lib/activity.mjs (tests/bench/run
// uses them too).
import os from 'node:os';
import { startCluster } from '../../scripts/lib/cluster.mjs';
import { measureSearchShapes, seedActivity } from './lib/activity.mjs';

const ROWS = Number(process.env.BENCH_ROWS ?? 5_000_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 10); // per query shape, 1 s of h2load each

const c = await startCluster({ services: ['location'], redis: true, env: { KN_WORKERS: String(os.cpus().length) } });
try {
  const tenantId = c.uuid();
  const token = c.token({ tenant: tenantId, sub: c.uuid(), role: 'hq' });
  const ms = await seedActivity(c, tenantId, ROWS);
  console.log(`seeded ${ROWS} activity rows in ${(ms / 1000).toFixed(1)} s; ${CONCURRENCY} callers, ${QUERIES} queries per shape`);
  const res = await measureSearchShapes(c, token, ROWS, { queries: QUERIES, concurrency: CONCURRENCY });
  const ok = res.barcode.p99 <= 15 && res.tracking.p99 <= 15 && res.partial.p99 <= 50;
  console.log(ok ? 'targets met' : 'targets NOT met');
} finally {
  await c.stop();
}
