// assign-svc measurements, shared by tests/bench/assign_bench.mjs and
// tests/bench/run, on a running cluster with location, order and assign:
//  1. uncontended AssignOrder of orders with 5 packages: p50/p99 latency,
//     one caller, each call on a different order (sequential);
//  2. throughput of uncontended AssignOrder at `concurrency` callers;
//  3. the contested batch of the race test (50 technicians x 20 orders):
//     wall time until every SelfAssignOrder has answered, and the p50/p99
//     of those calls.
import { makeTenant, makeUsers, makeOrders } from '../../integration/assign_fixtures.mjs';
import { pct } from './common.mjs';

const ms = (ns) => Number(ns) / 1e6;

async function batchOrders(c, t, n) {
  const out = [];
  for (let i = 0; i < n; i += 25) out.push(...(await makeOrders(c, t, Math.min(25, n - i), 5)).orders);
  return out;
}

/**
 * opts: { orders (per part 1 and 2), concurrency, throughput: false skips
 * part 2, technicians (50), raceOrders (20) }. Resolves { latency: { n, p50,
 * p99 }, throughput?, raceMs, race: { n, p50, p99, won } }.
 */
export async function measureAssign(c, { orders = 300, concurrency = 16, throughput = true, technicians = 50, raceOrders = 20 } = {}) {
  const t = await makeTenant(c);
  const users = await makeUsers(c, t, technicians);
  const a = c.client('assign');
  const result = {};

  // 1. latency, one caller
  const lat = await batchOrders(c, t, orders);
  // As the other parts do after seeding: statistics for the rows just
  // written (without them the planner takes the tenant's 2,600 new packages
  // for a handful and reads them all to find five), and their WAL flushed
  // before, not during, the measurement.
  for (const db of ['order', 'location', 'assign']) await c.sql(db, 'VACUUM ANALYZE');
  await c.sql('order', 'CHECKPOINT');
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

  // 2. throughput, `concurrency` callers, each order once
  if (throughput) {
    const thr = await batchOrders(c, t, orders);
    let next = 0;
    const t0 = Date.now();
    await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
      while (next < thr.length) {
        const o = thr[next++];
        await c.call(a, 'AssignOrder', { order_id: o.id, user_id: users[w % users.length].id }, t.hq);
      }
    }));
    result.throughput = Math.round(thr.length / ((Date.now() - t0) / 1000));
  }

  // 3. the contested batch: every technician takes every order at once.
  const race = (await makeOrders(c, t, raceOrders, 2)).orders;
  const raceLat = [];
  let won = 0;
  const r0 = Date.now();
  await Promise.all(users.flatMap((u) => race.map(async (o) => {
    const s = process.hrtime.bigint();
    try {
      await c.call(a, 'SelfAssignOrder', { order_id: o.id }, u.token);
      won++;
    } catch { /* lost the race: an expected answer */ }
    raceLat.push(ms(process.hrtime.bigint() - s));
  })));
  result.raceMs = Date.now() - r0;
  raceLat.sort((x, y) => x - y);
  result.race = { n: raceLat.length, p50: pct(raceLat, 50), p99: pct(raceLat, 99), won };
  return result;
}
