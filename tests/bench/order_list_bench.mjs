// ListOrders benchmark: 1,000,000 orders in one tenant plus 10 tenants of
// 100,000 each (bulk SQL seeding), then every filter combination below at 8
// concurrent callers, reporting p50/p99 per combination.
//
//   KN_BUILD_DIR=<release build> KN_SOURCE_DIR=/work/main \
//     node tests/bench/order_list_bench.mjs [--big 1000000] [--small 100000] [--calls 400]
//
// Use a build without sanitizers (ASan roughly doubles the service's CPU).
import { startCluster } from '../../scripts/lib/cluster.mjs';
import { seedOrders } from '../integration/order_helpers.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const BIG = arg('big', 1_000_000);
const SMALL = arg('small', 100_000);
const CALLS = arg('calls', 400);
const CONCURRENCY = 8;

const c = await startCluster({
  services: ['order'],
  redis: true,
  env: { KN_WORKERS: '4', KN_LOCATION_SVC_TARGET: 'ipv4:127.0.0.1:1' },
});
try {
  const tenant = c.uuid();
  const locations = Array.from({ length: 50 }, () => c.uuid());
  const users = Array.from({ length: 100 }, () => c.uuid());
  const zones = ['Europe/Stockholm', 'UTC', 'America/New_York'];
  let t0 = Date.now();
  for (let done = 0; done < BIG; done += 250_000) {
    await seedOrders(c, tenant, Math.min(250_000, BIG - done), { locations, users, zones, days: 365 });
  }
  for (let i = 0; i < 10; i++) {
    await seedOrders(c, c.uuid(), SMALL, { locations: Array.from({ length: 10 }, () => c.uuid()), users: Array.from({ length: 20 }, () => c.uuid()), zones, days: 365 });
  }
  await c.sql('order', 'VACUUM ANALYZE orders');
  console.log(`seeded ${BIG} + 10 x ${SMALL} orders in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  const hq = c.token({ tenant, sub: c.uuid(), role: 'hq' });
  const tech = c.token({ tenant, sub: users[3], role: 'technician' });
  const day = (n) => new Date(Date.now() - n * 86400000).toISOString().slice(0, 10);
  const cases = [
    ['no filter', {}],
    ['status ACTIVE', { status: 'ORDER_STATUS_ACTIVE' }],
    ['status CANCELLED', { status: 'ORDER_STATUS_CANCELLED' }],
    ['assigned', { assignment: 'ASSIGNMENT_FILTER_ASSIGNED' }],
    ['unassigned', { assignment: 'ASSIGNMENT_FILTER_UNASSIGNED' }],
    ['assignee', { assignee_user_id: users[5] }],
    ['location', { location_id: locations[7] }],
    ['type STOCK', { type: 'ORDER_TYPE_STOCK' }],
    ['dates 1 day', { start_date: day(30), end_date: day(30) }],
    ['dates 30 days', { start_date: day(60), end_date: day(30) }],
    ['start only', { start_date: day(10) }],
    ['end only', { end_date: day(300) }],
    ['status+location', { status: 'ORDER_STATUS_CANCELLED', location_id: locations[7] }],
    ['status+assignee', { status: 'ORDER_STATUS_COLLECTED', assignee_user_id: users[5] }],
    ['status+unassigned', { status: 'ORDER_STATUS_CANCELLED', assignment: 'ASSIGNMENT_FILTER_UNASSIGNED' }],
    ['status+type', { status: 'ORDER_STATUS_CANCELLED', type: 'ORDER_TYPE_JOB' }],
    ['status+dates', { status: 'ORDER_STATUS_CANCELLED', start_date: day(40), end_date: day(20) }],
    ['location+assignee', { location_id: locations[7], assignee_user_id: users[5] }],
    ['location+unassigned', { location_id: locations[7], assignment: 'ASSIGNMENT_FILTER_UNASSIGNED' }],
    ['location+dates', { location_id: locations[7], start_date: day(40), end_date: day(20) }],
    ['assignee+dates', { assignee_user_id: users[5], start_date: day(100), end_date: day(20) }],
    ['location+type+status', { location_id: locations[7], type: 'ORDER_TYPE_STOCK', status: 'ORDER_STATUS_COLLECTED' }],
    ['all filters', { status: 'ORDER_STATUS_ACTIVE', assignee_user_id: users[5], location_id: locations[7], type: 'ORDER_TYPE_JOB', start_date: day(200), end_date: day(1) }],
    ['all but assignee', { status: 'ORDER_STATUS_CANCELLED', assignment: 'ASSIGNMENT_FILTER_ASSIGNED', location_id: locations[7], type: 'ORDER_TYPE_STOCK', start_date: day(200), end_date: day(1) }],
    ['technician', {}, tech],
    ['technician+location', { location_id: locations[7] }, tech],
    ['technician+status', { status: 'ORDER_STATUS_CANCELLED' }, tech],
    ['page 3 no filter', { _pages: 3 }],
    ['page 3 location', { location_id: locations[7], _pages: 3 }],
  ];
  const client = c.client('order');
  const pct = (a, p) => a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))];
  const rows = [];
  let worst = 0;
  for (const [ci, [name, f0, tok = hq]] of cases.entries()) {
    const { _pages = 1, ...f } = f0;
    // Page tokens for deeper pages are fetched once, outside the timing.
    let page_token = '';
    for (let i = 1; i < _pages; i++) page_token = (await c.call(client, 'ListOrders', { ...f, page_token }, tok)).next_page_token;
    const req = { ...f, page_token };
    for (let i = 0; i < 20; i++) await c.call(client, 'ListOrders', req, tok); // warm
    const lat = [];
    let n = 0;
    let count = 0;
    t0 = Date.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (n < CALLS) {
        n++;
        const s = process.hrtime.bigint();
        const res = await c.call(client, 'ListOrders', req, tok, { metadata: { 'x-request-id': `bench${ci}-${n}` } });
        lat.push(Number(process.hrtime.bigint() - s) / 1e6);
        count = res.orders.length;
      }
    }));
    const secs = (Date.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    const p99 = pct(lat, 99);
    worst = Math.max(worst, p99);
    rows.push({ ci, name, rows: count, p50: pct(lat, 50).toFixed(1), p99: p99.toFixed(1), rps: (lat.length / secs).toFixed(0) });
  }
  // Server-side durations (the service's request log) per case.
  const server = {};
  for (const line of c.logs('order').split('\n')) {
    const m = line.match(/"request_id":"bench(\d+)-/);
    if (!m) continue;
    try { (server[m[1]] ??= []).push(JSON.parse(line).duration_ms); } catch { /* partial line */ }
  }
  let worstServer = 0;
  for (const r of rows) {
    const d = (server[r.ci] ?? []).sort((a, b) => a - b);
    r.sp50 = d.length ? pct(d, 50).toFixed(2) : '-';
    r.sp99 = d.length ? pct(d, 99).toFixed(2) : '-';
    if (d.length) worstServer = Math.max(worstServer, pct(d, 99));
  }
  console.log('| case | rows | client p50 ms | client p99 ms | server p50 ms | server p99 ms | calls/s |\n|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.name} | ${r.rows} | ${r.p50} | ${r.p99} | ${r.sp50} | ${r.sp99} | ${r.rps} |`);
  console.log(`worst p99: client ${worst.toFixed(1)} ms, server ${worstServer.toFixed(2)} ms (${CONCURRENCY} concurrent callers, ${CALLS} calls per case, page_size 50)`);
} finally {
  await c.stop();
}
