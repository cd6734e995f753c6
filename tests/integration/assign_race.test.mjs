// The self-assign race of issue 5 with real processes: 3 assign-svc
// replicas, 2 order-svc replicas, one location-svc, PostgreSQL and Redis.
// 50 technicians try to take the same 20 unassigned orders at once (every
// technician every order, through the client's round-robin): each order
// ends with exactly one owner, exactly one SelfAssign per order succeeded,
// the others got FAILED_PRECONDITION (or ABORTED), and order-svc,
// location-svc and the ledger agree. Then the same with HQ reassignments
// mixed in, and with Redis stopped halfway.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, grpc } from '../../scripts/lib/cluster.mjs';
import { makeTenant, makeUsers, makeOrders, checkOrder, codeOf } from './assign_fixtures.mjs';

const S = grpc.status;
let c;
let t;
let techs;

before(async () => {
  c = await startCluster({
    services: ['location', 'order', 'assign'],
    replicas: { assign: 3, order: 2 },
  });
  t = await makeTenant(c);
  techs = await makeUsers(c, t, 50);
});

after(async () => {
  await c?.stop();
});

function shuffle(xs) {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

// Every done ledger entry of an order starts from where the previous one
// ended: no assignment was lost or applied on a stale view.
function checkChain(ledger, orderId) {
  const done = ledger.filter((e) => e.state === 'ASSIGNMENT_STATE_DONE')
    .sort((x, y) => Number(x.fencing_token) - Number(y.fencing_token));
  let prev = '';
  for (const e of done) {
    assert.equal(e.before_user_id, prev, `ledger chain of order ${orderId} at token ${e.fencing_token}`);
    prev = e.after_user_id;
  }
  return done;
}

// All technicians try all orders at once; returns per order the winners.
async function race(orders, { during } = {}) {
  const a = c.client('assign');
  const calls = [];
  for (const tech of techs) {
    for (const o of shuffle(orders)) {
      calls.push(c.call(a, 'SelfAssignOrder', { order_id: o.id }, tech.token)
        .then(() => ({ order: o.id, tech: tech.id, code: 0 }),
          (e) => ({ order: o.id, tech: tech.id, code: e.code, details: e.details })));
    }
  }
  const t0 = Date.now();
  const extra = during ? during() : Promise.resolve();
  const results = await Promise.all(calls);
  await extra;
  const ms = Date.now() - t0;
  const byOrder = new Map(orders.map((o) => [o.id, []]));
  for (const r of results) {
    assert.ok([0, S.FAILED_PRECONDITION, S.ABORTED].includes(r.code),
      `SelfAssignOrder answered ${r.code} (${r.details}) for order ${r.order}`);
    if (r.code === 0) byOrder.get(r.order).push(r.tech);
  }
  return { byOrder, ms, results };
}

test('race: 50 technicians x 20 orders, exactly one winner per order, all services agree', async () => {
  const { orders } = await makeOrders(c, t, 20, 2);
  const { byOrder, ms, results } = await race(orders);
  console.log(`# race: ${results.length} SelfAssignOrder calls settled in ${ms} ms`);
  for (const o of orders) {
    const winners = byOrder.get(o.id);
    assert.equal(winners.length, 1, `order ${o.id}: ${winners.length} SelfAssign succeeded`);
    const st = await checkOrder(c, t, o, { expect: winners[0] });
    const done = checkChain(st.ledger, o.id);
    assert.equal(done.length, 1, 'one done ledger entry per order');
    assert.equal(done[0].actor_user_id, winners[0]);
  }
  // Every loser was told the order is taken (or to retry), never a 2nd owner.
  const taken = results.filter((r) => r.code === S.FAILED_PRECONDITION).length;
  assert.ok(taken > 0);
});

test('race with HQ reassignments mixed in: no lost update, services agree', async () => {
  const { orders } = await makeOrders(c, t, 10, 2);
  const a = c.client('assign');
  const hqCodes = [];
  const { byOrder } = await race(orders, {
    during: async () => {
      // Three rounds of HQ reassignments, spread over the race.
      for (let round = 0; round < 3; round++) {
        await new Promise((r) => setTimeout(r, 20 + round * 30));
        const rs = await Promise.all(orders.map((o) => codeOf(c.call(a, 'AssignOrder', {
          order_id: o.id, user_id: techs[Math.floor(Math.random() * techs.length)].id,
        }, t.hq))));
        hqCodes.push(...rs);
      }
    },
  });
  for (const code of hqCodes) assert.ok([0, S.ABORTED].includes(code), `AssignOrder answered ${code}`);
  assert.ok(hqCodes.filter((x) => x === 0).length > 0, 'some HQ assignments went through');
  for (const o of orders) {
    const st = await checkOrder(c, t, o);
    assert.notEqual(st.assignee, '');
    const done = checkChain(st.ledger, o.id);
    // HQ never unassigns here, so at most one technician could take it...
    const selfDone = done.filter((e) => e.actor_user_id !== t.hqId);
    assert.ok(selfDone.length <= 1, `order ${o.id}: ${selfDone.length} self-assignments applied`);
    // ...and every technician told "OK" did hold the order at that point
    // (the taker, or one HQ had just assigned it to: an idempotent OK).
    const holders = new Set(done.map((e) => e.after_user_id));
    for (const w of byOrder.get(o.id)) assert.ok(holders.has(w), `order ${o.id}: ${w} was told OK but never held it`);
    if (selfDone.length) assert.ok(byOrder.get(o.id).includes(selfDone[0].after_user_id));
  }
});

test('race with Redis stopped halfway: PostgreSQL locks take over, still one winner', async () => {
  const { orders } = await makeOrders(c, t, 10, 2);
  let stopped = false;
  const { byOrder } = await race(orders, {
    during: async () => {
      await new Promise((r) => setTimeout(r, 40));
      await c.stopRedis();
      stopped = true;
    },
  });
  assert.ok(stopped);
  for (const o of orders) {
    const winners = byOrder.get(o.id);
    assert.equal(winners.length, 1, `order ${o.id}: ${winners.length} SelfAssign succeeded`);
    const st = await checkOrder(c, t, o, { expect: winners[0] });
    assert.equal(checkChain(st.ledger, o.id).length, 1);
  }
  // With Redis still down, assignments keep working (PostgreSQL advisory lock).
  const more = await makeOrders(c, t, 2, 2);
  const a = c.client('assign');
  await c.call(a, 'AssignOrder', { order_id: more.orders[0].id, user_id: techs[0].id }, t.hq);
  await c.call(a, 'SelfAssignOrder', { order_id: more.orders[1].id }, techs[1].token);
  await checkOrder(c, t, more.orders[0], { expect: techs[0].id });
  await checkOrder(c, t, more.orders[1], { expect: techs[1].id });
  await c.startRedis();
  // And again once Redis is back.
  await c.call(a, 'UnassignOrder', { order_id: more.orders[0].id }, t.hq);
  await checkOrder(c, t, more.orders[0], { expect: '' });
});
