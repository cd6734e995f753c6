// Fencing and crash repair of assign-svc with real processes (2 assign
// replicas, a 300 ms lock TTL, repair after 1 s):
// - a holder paused past its lock TTL (test hook: the x-kn-test-pause-ms
//   metadata, honoured only with KN_TEST_HOOKS=1, sleeps between the ledger
//   insert and the downstream calls) cannot overwrite the newer assignment
//   made meanwhile: order-svc refuses its older fencing token;
// - kill -9 of the replica between steps 2 and 4: the other replica's repair
//   loop rolls the pending entry forward, and order, packages and ledger agree;
// - AssignOrder racing CancelOrder: packages whose change ran ahead of an
//   order that refused it leave the order with the order's assignee.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startCluster, grpc } from '../../scripts/lib/cluster.mjs';
import { makeTenant, makeUsers, makeOrders, makeLocation, makePackages, checkOrder, codeOf } from './assign_fixtures.mjs';
import { callerMeta } from './location_helpers.mjs';

const S = grpc.status;
let c;
let t;
let users;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  c = await startCluster({
    services: ['location', 'order', 'assign'],
    replicas: { assign: 2 },
    env: {
      KN_TEST_HOOKS: '1',
      KN_ASSIGN_LOCK_TTL_MS: '300',
      KN_ASSIGN_REPAIR_AFTER_MS: '1000',
      KN_ASSIGN_REPAIR_INTERVAL_MS: '200',
      KN_ASSIGN_LOCK_WAIT_MS: '8000',
    },
  });
  t = await makeTenant(c);
  users = await makeUsers(c, t, 3);
});

after(async () => {
  await c?.stop();
});

async function retryUnavailable(fn, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (e.code !== S.UNAVAILABLE || Date.now() > end) throw e;
      await sleep(200);
    }
  }
}

async function ledgerRows(orderId) {
  return c.sql('assign', 'SELECT fencing_token::int AS token, state, phase, after_user_id::text AS after '
    + 'FROM assignments WHERE order_id = $1 ORDER BY fencing_token', [orderId]);
}

async function waitFor(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('fencing: a holder paused past its lock TTL cannot overwrite the newer assignment', async () => {
  const [A, B] = users;
  const { orders: [o] } = await makeOrders(c, t, 1, 3);
  const a0 = c.client('assign', { replica: 0 });
  const a1 = c.client('assign', { replica: 1 });
  // A's AssignOrder takes the lock and its token, then stalls for 3 s.
  const slow = c.call(a0, 'AssignOrder', { order_id: o.id, user_id: A.id }, t.hq,
    { metadata: { 'x-kn-test-pause-ms': '3000' } }).then(() => 0, (e) => e);
  await waitFor('A applying', async () => (await ledgerRows(o.id)).some((r) => r.phase === 1));
  await sleep(400); // past the 300 ms TTL: A's lock is gone
  // B comes through the other replica and completes first.
  const t0 = Date.now();
  const fast = await c.call(a1, 'AssignOrder', { order_id: o.id, user_id: B.id }, t.hq);
  assert.equal(fast.state, 'ASSIGNMENT_STATE_DONE');
  assert.equal(fast.after_user_id, B.id);
  const rows = await ledgerRows(o.id);
  const tokA = rows.find((r) => r.after === A.id).token;
  assert.ok(Number(fast.fencing_token) > tokA, 'B holds the newer token');
  await checkOrder(c, t, o, { expect: B.id });
  // A wakes up and sends its older token: refused, nothing changes.
  const err = await slow;
  assert.ok(Date.now() - t0 < 10000);
  assert.equal(err.code, S.ABORTED, `paused holder answered ${err.code} ${err.details}`);
  assert.match(err.details, /superseded/);
  const st = await checkOrder(c, t, o, { expect: B.id });
  // The ledger tells the story: A's change (completed by the repair loop
  // while A slept, so B could go on) and then B's, both done.
  const done = st.ledger.filter((e) => e.state === 'ASSIGNMENT_STATE_DONE').reverse();
  assert.deepEqual(done.map((e) => e.after_user_id), [A.id, B.id]);
  assert.equal(done[1].before_user_id, A.id);
});

test('crash: kill -9 between the ledger entry and the downstream calls, repair converges', async () => {
  const [, , C] = users;
  const { orders: [o] } = await makeOrders(c, t, 1, 3);
  const a0 = c.client('assign', { replica: 0 });
  const doomed = c.call(a0, 'AssignOrder', { order_id: o.id, user_id: C.id }, t.hq,
    { metadata: { 'x-kn-test-pause-ms': '5000' } }).then(() => 0, (e) => e);
  await waitFor('entry applying', async () => (await ledgerRows(o.id)).some((r) => r.phase === 1));
  await c.kill('assign', 0, 'SIGKILL');
  const err = await doomed;
  assert.equal(err.code, S.UNAVAILABLE);
  // Nothing reached order-svc yet...
  assert.equal((await c.call(c.client('order'), 'GetOrder', { id: o.id }, t.hq)).assignee_user_id, '');
  // ...and replica 1's repair loop completes the change with the same token.
  await waitFor('repair', async () => (await ledgerRows(o.id)).every((r) => r.state === 2));
  await checkOrder(c, t, o, { expect: C.id });
  assert.match(c.logs('assign', 1), /repair: assignment .* completed/);
  await c.restart('assign', 0);
  // The order can be reassigned normally afterwards, through the restarted
  // replica (grpc-js shares subchannels between clients, so the first calls
  // may still see the killed connection's backoff: retry those).
  await retryUnavailable(() => c.call(c.client('assign', { replica: 0 }), 'UnassignOrder', { order_id: o.id }, t.hq));
  await checkOrder(c, t, o, { expect: '' });
});

test('crash of a package assignment: repaired the same way', async () => {
  const [A] = users;
  const loc = await makeLocation(c, t);
  const [pid] = await makePackages(c, t, loc, 1);
  const a1 = c.client('assign', { replica: 1 });
  const doomed = c.call(a1, 'AssignPackage', { package_id: pid, user_id: A.id }, t.hq,
    { metadata: { 'x-kn-test-pause-ms': '5000' } }).then(() => 0, (e) => e);
  await waitFor('entry applying', async () => (await c.sql('assign',
    'SELECT 1 FROM assignments WHERE package_id = $1 AND phase = 1', [pid])).length > 0);
  await c.kill('assign', 1, 'SIGKILL');
  assert.equal((await doomed).code, S.UNAVAILABLE);
  await waitFor('repair', async () => (await c.sql('assign',
    'SELECT 1 FROM assignments WHERE package_id = $1 AND state = 2', [pid])).length > 0);
  const p = await c.call(c.client('location'), 'GetPackage', { id: pid }, t.hq);
  assert.equal(p.assignee_user_id, A.id);
  await c.restart('assign', 1);
});

test('the ledger decides before and no-op; an order that disagrees with it still gets the change', async () => {
  // AssignOrder reads the before user from the ledger (only assign-svc
  // ever sets an order's assignee), not from order-svc. If the two ever
  // disagree (an order-svc database restored from an older backup, here
  // an UPDATE behind the services' back), a change the ledger calls a
  // no-op is checked against the order and made from the order's state.
  const [A, B] = users;
  const { orders: [o] } = await makeOrders(c, t, 1, 2);
  const a = c.client('assign');
  const first = await c.call(a, 'AssignOrder', { order_id: o.id, user_id: A.id }, t.hq);
  assert.equal(first.before_user_id, '');
  const second = await c.call(a, 'AssignOrder', { order_id: o.id, user_id: B.id }, t.hq);
  assert.equal(second.before_user_id, A.id, 'the before user comes from the previous entry');
  assert.ok(Number(second.fencing_token) > Number(first.fencing_token));
  const n = (await ledgerRows(o.id)).length;
  // A no-op by the ledger writes nothing and answers the newest entry.
  const same = await c.call(a, 'AssignOrder', { order_id: o.id, user_id: B.id }, t.hq);
  assert.equal(same.id, second.id);
  assert.equal((await ledgerRows(o.id)).length, n);

  await c.sql('order', 'UPDATE orders SET assignee_user_id = NULL, version = version + 1 WHERE id = $1', [o.id]);
  execFileSync('redis-cli', ['-p', String(c.ports.redis), 'DEL', `kn:order:${t.tenant}:order:${o.id}`]);
  const fixed = await c.call(a, 'AssignOrder', { order_id: o.id, user_id: B.id }, t.hq);
  assert.equal(fixed.before_user_id, '', 'the order said unassigned');
  assert.equal(fixed.after_user_id, B.id);
  assert.match(c.logs('assign', 0) + c.logs('assign', 1), /the ledger says assignee/);
  await checkOrder(c, t, o, { expect: B.id });
});

test('packages that ran ahead of an order that then refused are given the order\'s assignee when it lets them go', async () => {
  // AssignOrder sends the packages' change (by order, to location-svc) at
  // the same time as the order's own. If the order was cancelled in
  // between, order-svc refuses the change but the packages may already
  // carry it; the cancel's detach hands them the order's assignee back.
  // The packages' side of such a race, made by hand:
  const [A, B] = users;
  const { orders: [o] } = await makeOrders(c, t, 1, 2);
  const first = await c.call(c.client('assign'), 'AssignOrder', { order_id: o.id, user_id: A.id }, t.hq);
  await c.call(c.client('location'), 'SetPackageAssignee', {
    order_id: o.id, assignee_user_id: B.id, fencing_token: Number(first.fencing_token) + 1000,
  }, t.hq, { metadata: callerMeta(c, t.hq, 'assign-svc') });
  for (const pid of o.packages) {
    assert.equal((await c.call(c.client('location'), 'GetPackage', { id: pid }, t.hq)).assignee_user_id, B.id);
  }
  const cancelled = await c.call(c.client('order'), 'CancelOrder', { id: o.id, reason: 'test' }, t.hq);
  assert.equal(cancelled.assignee_user_id, A.id);
  for (const pid of o.packages) {
    const p = await c.call(c.client('location'), 'GetPackage', { id: pid }, t.hq);
    assert.equal(p.order_id, '', 'detached');
    assert.equal(p.assignee_user_id, A.id, 'the order\'s assignee, not the refused change');
  }
});

test('AssignOrder racing CancelOrder: the packages always end with the order\'s assignee', async () => {
  const [A, B] = users;
  const { orders } = await makeOrders(c, t, 12, 2);
  const a = c.client('assign');
  const o = c.client('order');
  await Promise.all(orders.map((x) => c.call(a, 'AssignOrder', { order_id: x.id, user_id: A.id }, t.hq)));
  const outcomes = { assigned: 0, refused: 0 };
  await Promise.all(orders.map(async (x, i) => {
    // Staggered so that some cancels land inside the assignment.
    const assign = codeOf(c.call(a, 'AssignOrder', { order_id: x.id, user_id: B.id }, t.hq));
    await sleep(i % 4);
    await c.call(o, 'CancelOrder', { id: x.id, reason: 'race' }, t.hq);
    const code = await assign;
    assert.ok(code === 0 || code === S.FAILED_PRECONDITION, `order ${x.id}: AssignOrder answered ${code}`);
    outcomes[code === 0 ? 'assigned' : 'refused']++;
  }));
  for (const x of orders) {
    const got = await c.call(o, 'GetOrder', { id: x.id }, t.hq);
    assert.equal(got.status, 'ORDER_STATUS_CANCELLED');
    for (const pid of x.packages) {
      const p = await c.call(c.client('location'), 'GetPackage', { id: pid }, t.hq);
      assert.equal(p.order_id, '', `package ${pid} detached`);
      assert.equal(p.assignee_user_id, got.assignee_user_id, `package ${pid} left order ${x.id} with its assignee`);
    }
    const led = await c.call(a, 'ListAssignments', { order_id: x.id, page_size: 50 }, t.hq);
    assert.equal(led.assignments.filter((e) => e.state === 'ASSIGNMENT_STATE_PENDING').length, 0);
    const done = led.assignments.filter((e) => e.state === 'ASSIGNMENT_STATE_DONE');
    assert.equal(done[0].after_user_id, got.assignee_user_id, `order ${x.id}: the ledger agrees`);
  }
  assert.equal(outcomes.assigned + outcomes.refused, orders.length);
});
