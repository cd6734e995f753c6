// ListOrders: seeding and measuring, shared by tests/bench/order_list_bench.mjs
// and tests/bench/run. Bulk SQL seeding (order_helpers.seedOrders): `big`
// orders in one tenant (50 locations, 100 users, 365 days) plus 10 tenants
// of `small`; then every filter combination at `concurrency` callers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadProtos } from '../../../scripts/lib/cluster.mjs';
import { seedOrders } from '../../integration/order_helpers.mjs';
import { pct } from './common.mjs';
import { h2Latency } from './grpc_h2.mjs';

/** Seeds and resolves ctx { tenant, locations, users, ms } for the cases. */
export async function seedOrderList(c, { big = 1_000_000, small = 100_000, tenants = 10 } = {}) {
  const tenant = c.uuid();
  const locations = Array.from({ length: 50 }, () => c.uuid());
  const users = Array.from({ length: 100 }, () => c.uuid());
  const zones = ['Europe/Stockholm', 'UTC', 'America/New_York'];
  const t0 = Date.now();
  for (let done = 0; done < big; done += 250_000) {
    await seedOrders(c, tenant, Math.min(250_000, big - done), { locations, users, zones, days: 365 });
  }
  for (let i = 0; i < tenants; i++) {
    await seedOrders(c, c.uuid(), small, { locations: Array.from({ length: 10 }, () => c.uuid()), users: Array.from({ length: 20 }, () => c.uuid()), zones, days: 365 });
  }
  await c.sql('order', 'VACUUM ANALYZE orders');
  return { tenant, locations, users, ms: Date.now() - t0 };
}

// [name, filters, token?]: every filter alone and in the combinations the
// service issue names; `_pages` n: page n (tokens fetched untimed).
export function orderListCases(c, { tenant, locations, users }) {
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
  return cases.map(([name, f, tok = hq]) => [name, f, tok]);
}

/**
 * Measures every case: ListOrders (page_size default 50) at `concurrency`
 * callers for `duration` s after a `warmup` s, by h2load (grpc_h2.mjs:
 * h2Latency). Server-side durations come from order-svc's request log
 * (needs KN_LOG_LEVEL info; '-' when absent). Resolves { rows, worst,
 * worstServer, problems, cmd } (rows' figures are strings with one/two
 * decimals, as printed).
 */
export async function measureOrderList(c, ctx, { concurrency = 8, duration = 1, warmup = 1, dir } = {}) {
  const client = c.client('order');
  const method = loadProtos().ctor.order.service.ListOrders;
  const work = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'kn-list-'));
  const rows = [];
  const problems = [];
  let worst = 0;
  let cmd = '';
  for (const [ci, [name, f0, tok]] of orderListCases(c, ctx).entries()) {
    const { _pages = 1, ...f } = f0;
    // Page tokens for deeper pages are fetched once, outside the timing.
    let page_token = '';
    for (let i = 1; i < _pages; i++) page_token = (await c.call(client, 'ListOrders', { ...f, page_token }, tok)).next_page_token;
    const request = { ...f, page_token };
    const count = (await c.call(client, 'ListOrders', request, tok)).orders.length;
    const r = await h2Latency({ dir: work, name: `list${ci}`, addr: c.addr('order', 0), method, request, token: tok,
      headers: { 'x-request-id': `bench${ci}-h2` } }, { clients: concurrency, duration, warmup });
    problems.push(...r.problems);
    cmd = r.cmd;
    const p99 = pct(r.lat, 99);
    worst = Math.max(worst, p99);
    rows.push({ ci, name, rows: count, p50: pct(r.lat, 50).toFixed(1), p99: p99.toFixed(1), rps: r.rps.toFixed(0) });
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
  return { rows, worst, worstServer, problems, cmd };
}

// The table order_list_bench.mjs prints.
export function orderListTable({ rows, worst, worstServer }, { duration, concurrency }) {
  return ['| case | rows | client p50 ms | client p99 ms | server p50 ms | server p99 ms | calls/s |\n|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.name} | ${r.rows} | ${r.p50} | ${r.p99} | ${r.sp50} | ${r.sp99} | ${r.rps} |`),
    `worst p99: client ${worst.toFixed(1)} ms, server ${worstServer.toFixed(2)} ms (${concurrency} concurrent callers, ${duration} s per case, page_size 50)`].join('\n');
}
