// ListOrders benchmark: 1,000,000 orders in one tenant plus 10 tenants of
// 100,000 each (bulk SQL seeding), then every filter combination below at 8
// concurrent callers (h2load), reporting p50/p99 per combination.
//
//   KN_BUILD_DIR=<release build> KN_SOURCE_DIR=/work/main \
//     node tests/bench/order_list_bench.mjs [--big 1000000] [--small 100000] [--duration 1]
//
// Use a build without sanitizers (ASan roughly doubles the service's CPU).
// The seeding and the cases live in lib/order_list.mjs (tests/bench/run
// uses them too).
import { startCluster } from '../../scripts/lib/cluster.mjs';
import { arg as argOf } from './lib/common.mjs';
import { measureOrderList, orderListTable, seedOrderList } from './lib/order_list.mjs';

const arg = (name, def) => Number(argOf(name, def));
const BIG = arg('big', 1_000_000);
const SMALL = arg('small', 100_000);
const DURATION = arg('duration', 1); // seconds per case, after 1 s of warm-up
const CONCURRENCY = 8;

const c = await startCluster({
  services: ['order'],
  redis: true,
  env: { KN_WORKERS: '4', KN_LOCATION_SVC_TARGET: 'ipv4:127.0.0.1:1' },
});
try {
  const ctx = await seedOrderList(c, { big: BIG, small: SMALL });
  console.log(`seeded ${BIG} + 10 x ${SMALL} orders in ${(ctx.ms / 1000).toFixed(0)} s`);
  const res = await measureOrderList(c, ctx, { duration: DURATION, concurrency: CONCURRENCY });
  console.log(orderListTable(res, { duration: DURATION, concurrency: CONCURRENCY }));
} finally {
  await c.stop();
}
