// assign-svc rules with real order-svc and location-svc: roles, tenants,
// deactivated users, bad input (nothing written), packages that follow
// their order, and the ledger (ListAssignments).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, grpc } from '../../scripts/lib/cluster.mjs';
import {
  makeTenant, makeUsers, makeOrders, makeLocation, makePackages, checkOrder,
} from './assign_fixtures.mjs';

const S = grpc.status;
let c;
let a;
let t;
let techs;

before(async () => {
  c = await startCluster({ services: ['location', 'order', 'assign'] });
  a = c.client('assign');
  t = await makeTenant(c);
  techs = await makeUsers(c, t, 4);
});

after(async () => {
  await c?.stop();
});

async function rejects(p, code, re) {
  await assert.rejects(p, (e) => {
    assert.equal(e.code, code, `expected ${code}, got ${e.code} ${e.details}`);
    if (re) assert.match(e.details, re);
    return true;
  });
}

const ledgerCount = async () =>
  (await c.sql('assign', 'SELECT count(*)::int AS n FROM assignments'))[0].n;

test('roles: a technician cannot assign others, unassign, or assign packages', async () => {
  const [x, y] = techs;
  const { location, orders: [o] } = await makeOrders(c, t, 1, 2);
  const [loose] = await makePackages(c, t, location, 1);
  const n0 = await ledgerCount();
  await rejects(c.call(a, 'AssignOrder', { order_id: o.id, user_id: y.id }, x.token), S.PERMISSION_DENIED, /hq/);
  await rejects(c.call(a, 'AssignOrder', { order_id: o.id, user_id: x.id }, x.token), S.PERMISSION_DENIED);
  await rejects(c.call(a, 'UnassignOrder', { order_id: o.id }, x.token), S.PERMISSION_DENIED);
  await rejects(c.call(a, 'AssignPackage', { package_id: loose, user_id: x.id }, x.token), S.PERMISSION_DENIED);
  await rejects(c.call(a, 'UnassignPackage', { package_id: loose }, x.token), S.PERMISSION_DENIED);
  await rejects(c.call(a, 'AssignOrder', { order_id: o.id, user_id: y.id }), S.UNAUTHENTICATED);
  assert.equal(await ledgerCount(), n0, 'nothing written');
  // What a technician may do: take it, and taking it again is OK.
  const r1 = await c.call(a, 'SelfAssignOrder', { order_id: o.id }, x.token);
  const r2 = await c.call(a, 'SelfAssignOrder', { order_id: o.id }, x.token);
  assert.equal(r2.id, r1.id);
  assert.equal(await ledgerCount(), n0 + 1);
  await rejects(c.call(a, 'SelfAssignOrder', { order_id: o.id }, y.token), S.FAILED_PRECONDITION, /order is already taken/);
  await checkOrder(c, t, o, { expect: x.id });
});

test('tenants: foreign orders, packages and users answer NOT_FOUND', async () => {
  const other = await makeTenant(c);
  const [ot] = await makeUsers(c, other, 1, { prefix: 'other' });
  const { location, orders: [o] } = await makeOrders(c, t, 1, 1);
  const [loose] = await makePackages(c, t, location, 1);
  const n0 = await ledgerCount();
  await rejects(c.call(a, 'AssignOrder', { order_id: o.id, user_id: ot.id }, other.hq), S.NOT_FOUND, /order/);
  await rejects(c.call(a, 'AssignOrder', { order_id: o.id, user_id: ot.id }, t.hq), S.NOT_FOUND, /user/);
  await rejects(c.call(a, 'UnassignOrder', { order_id: o.id }, other.hq), S.NOT_FOUND);
  await rejects(c.call(a, 'SelfAssignOrder', { order_id: o.id }, ot.token), S.NOT_FOUND);
  await rejects(c.call(a, 'AssignPackage', { package_id: loose, user_id: ot.id }, other.hq), S.NOT_FOUND, /package/);
  await rejects(c.call(a, 'UnassignPackage', { package_id: loose }, other.hq), S.NOT_FOUND);
  await rejects(c.call(a, 'AssignOrder', { order_id: c.uuid(), user_id: techs[0].id }, t.hq), S.NOT_FOUND);
  assert.equal(await ledgerCount(), n0, 'nothing written');
  await c.call(a, 'AssignOrder', { order_id: o.id, user_id: techs[0].id }, t.hq);
  const foreign = await c.call(a, 'ListAssignments', { order_id: o.id }, other.hq);
  assert.deepEqual(foreign.assignments, []);
});

test('deactivated users get no new assignments; existing ones stay visible', async () => {
  const [d] = await makeUsers(c, t, 1, { prefix: 'leaver' });
  const { location, orders: [o1, o2] } = await makeOrders(c, t, 2, 1);
  const [loose] = await makePackages(c, t, location, 1);
  await c.call(a, 'AssignOrder', { order_id: o1.id, user_id: d.id }, t.hq);
  await c.call(a, 'UpdateUser', { id: d.id, active: { value: false } }, t.hq);
  const n0 = await ledgerCount();
  await rejects(c.call(a, 'AssignOrder', { order_id: o2.id, user_id: d.id }, t.hq), S.FAILED_PRECONDITION, /deactivated/);
  await rejects(c.call(a, 'SelfAssignOrder', { order_id: o2.id }, d.token), S.FAILED_PRECONDITION, /deactivated/);
  await rejects(c.call(a, 'AssignPackage', { package_id: loose, user_id: d.id }, t.hq), S.FAILED_PRECONDITION, /deactivated/);
  assert.equal(await ledgerCount(), n0);
  await checkOrder(c, t, o1, { expect: d.id });
  const mine = await c.call(a, 'ListAssignments', { user_id: d.id }, t.hq);
  assert.equal(mine.assignments.length, 1);
  // HQ can still move the order away from the leaver.
  await c.call(a, 'AssignOrder', { order_id: o1.id, user_id: techs[1].id }, t.hq);
  await checkOrder(c, t, o1, { expect: techs[1].id });
});

test('hq self-assign: allowed for an hq user of the tenant, refused for a token without a user', async () => {
  const [boss] = await makeUsers(c, t, 1, { role: 'USER_ROLE_HQ', prefix: 'boss' });
  const { orders: [o1, o2] } = await makeOrders(c, t, 2, 1);
  const r = await c.call(a, 'SelfAssignOrder', { order_id: o1.id }, boss.token);
  assert.equal(r.after_user_id, boss.id);
  await checkOrder(c, t, o1, { expect: boss.id });
  await rejects(c.call(a, 'SelfAssignOrder', { order_id: o2.id }, t.hq), S.FAILED_PRECONDITION, /not a user/);
});

test('bad input and wrong state: clear codes, nothing written', async () => {
  const { orders: [o, cancelled] } = await makeOrders(c, t, 2, 1);
  await c.call(c.client('order'), 'CancelOrder', { id: cancelled.id, reason: 'test' }, t.hq);
  const n0 = await ledgerCount();
  await rejects(c.call(a, 'AssignOrder', { order_id: '', user_id: techs[0].id }, t.hq), S.INVALID_ARGUMENT, /order_id/);
  await rejects(c.call(a, 'AssignOrder', { order_id: o.id, user_id: '' }, t.hq), S.INVALID_ARGUMENT, /user_id/);
  await rejects(c.call(a, 'AssignOrder', { order_id: 'x', user_id: techs[0].id }, t.hq), S.INVALID_ARGUMENT, /order_id/);
  await rejects(c.call(a, 'UnassignOrder', { order_id: '' }, t.hq), S.INVALID_ARGUMENT, /order_id/);
  await rejects(c.call(a, 'SelfAssignOrder', { order_id: '' }, techs[0].token), S.INVALID_ARGUMENT, /order_id/);
  await rejects(c.call(a, 'AssignPackage', { package_id: '', user_id: techs[0].id }, t.hq), S.INVALID_ARGUMENT, /package_id/);
  await rejects(c.call(a, 'UnassignPackage', { package_id: 'nope' }, t.hq), S.INVALID_ARGUMENT, /package_id/);
  await rejects(c.call(a, 'ListAssignments', { order_id: 'nope' }, t.hq), S.INVALID_ARGUMENT, /order_id/);
  await rejects(c.call(a, 'AssignOrder', { order_id: cancelled.id, user_id: techs[0].id }, t.hq), S.FAILED_PRECONDITION, /cancelled/);
  await rejects(c.call(a, 'SelfAssignOrder', { order_id: cancelled.id }, techs[0].token), S.FAILED_PRECONDITION, /cancelled/);
  await rejects(c.call(a, 'UnassignOrder', { order_id: cancelled.id }, t.hq), S.FAILED_PRECONDITION);
  assert.equal(await ledgerCount(), n0, 'nothing written');
  // Unassigning an unassigned order is a no-op.
  await c.call(a, 'UnassignOrder', { order_id: o.id }, t.hq);
  assert.equal(await ledgerCount(), n0);
});

test('packages: loose ones are assigned alone; those in an order follow it', async () => {
  const [x, y] = techs;
  const { location, orders: [o] } = await makeOrders(c, t, 1, 2);
  const [loose, extra] = await makePackages(c, t, location, 2);
  const l = c.client('location');
  const r = await c.call(a, 'AssignPackage', { package_id: loose, user_id: x.id }, t.hq);
  assert.equal(r.target, 'ASSIGNMENT_TARGET_PACKAGE');
  assert.equal(r.package_id, loose);
  assert.equal(r.state, 'ASSIGNMENT_STATE_DONE');
  assert.equal((await c.call(l, 'GetPackage', { id: loose }, t.hq)).assignee_user_id, x.id);
  const again = await c.call(a, 'AssignPackage', { package_id: loose, user_id: x.id }, t.hq);
  assert.equal(again.id, r.id, 'the same assignment again is a no-op');
  await c.call(a, 'AssignPackage', { package_id: loose, user_id: y.id }, t.hq);
  assert.equal((await c.call(l, 'GetPackage', { id: loose }, t.hq)).assignee_user_id, y.id);
  await c.call(a, 'UnassignPackage', { package_id: loose }, t.hq);
  assert.equal((await c.call(l, 'GetPackage', { id: loose }, t.hq)).assignee_user_id, '');
  // A package of an order follows the order.
  await c.call(a, 'AssignOrder', { order_id: o.id, user_id: x.id }, t.hq);
  await rejects(c.call(a, 'AssignPackage', { package_id: o.packages[0], user_id: y.id }, t.hq), S.FAILED_PRECONDITION, /order/);
  await rejects(c.call(a, 'UnassignPackage', { package_id: o.packages[0] }, t.hq), S.FAILED_PRECONDITION, /order/);
  await c.call(a, 'AssignPackage', { package_id: o.packages[0], user_id: x.id }, t.hq); // already so: OK
  // A package added to an assigned order takes the order's assignee.
  await c.call(c.client('order'), 'AddPackages', { order_id: o.id, package_ids: [extra] }, t.hq);
  await checkOrder(c, t, o, { expect: x.id });
  assert.equal((await c.call(l, 'GetPackage', { id: extra }, t.hq)).assignee_user_id, x.id);
});

test('ListAssignments: by user, order, package; paginated; technicians see their own', async () => {
  const [x, y, z] = techs;
  const { orders: [o] } = await makeOrders(c, t, 1, 2);
  await c.call(a, 'AssignOrder', { order_id: o.id, user_id: x.id }, t.hq);
  await c.call(a, 'AssignOrder', { order_id: o.id, user_id: y.id }, t.hq);
  await c.call(a, 'AssignOrder', { order_id: o.id, user_id: z.id }, t.hq);
  await c.call(a, 'UnassignOrder', { order_id: o.id }, t.hq);
  const byOrder = await c.call(a, 'ListAssignments', { order_id: o.id }, t.hq);
  assert.deepEqual(byOrder.assignments.map((e) => [e.before_user_id, e.after_user_id]),
    [[z.id, ''], [y.id, z.id], [x.id, y.id], ['', x.id]]);
  for (const e of byOrder.assignments) {
    assert.equal(e.actor_user_id, t.hqId);
    assert.equal(e.target, 'ASSIGNMENT_TARGET_ORDER');
    assert.ok(e.complete_time);
  }
  // Newest token first, pages of 3 then 1.
  const p1 = await c.call(a, 'ListAssignments', { order_id: o.id, page_size: 3 }, t.hq);
  assert.equal(p1.assignments.length, 3);
  const p2 = await c.call(a, 'ListAssignments', { order_id: o.id, page_size: 3, page_token: p1.next_page_token }, t.hq);
  assert.equal(p2.assignments.length, 1);
  assert.equal(p2.next_page_token, '');
  assert.deepEqual([...p1.assignments, ...p2.assignments].map((e) => e.id), byOrder.assignments.map((e) => e.id));
  await rejects(c.call(a, 'ListAssignments', { user_id: x.id, page_size: 3, page_token: p1.next_page_token }, t.hq), S.INVALID_ARGUMENT, /page_token/);
  // By package: the order's changes reach its packages.
  const byPkg = await c.call(a, 'ListAssignments', { package_id: o.packages[1] }, t.hq);
  assert.equal(byPkg.assignments.length, 4);
  // By user (either side), combined with the order filter.
  const byY = await c.call(a, 'ListAssignments', { user_id: y.id, order_id: o.id }, t.hq);
  assert.equal(byY.assignments.length, 2);
  // A technician sees only entries about themselves.
  const mine = await c.call(a, 'ListAssignments', { order_id: o.id }, y.token);
  assert.equal(mine.assignments.length, 2);
  await rejects(c.call(a, 'ListAssignments', { user_id: x.id }, y.token), S.PERMISSION_DENIED);
});
