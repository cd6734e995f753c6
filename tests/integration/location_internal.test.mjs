// location-svc internal RPCs (order-svc / assign-svc callers): attach and
// detach with their race, fenced package assignment (by ids or by order),
// detach with the order's assignee, collecting an order,
// and the locker stock with its oversell race.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster } from '../../scripts/lib/cluster.mjs';
import { Status, rejects, tenant, uniq } from './location_helpers.mjs';

let c;
let t;
let other;
let loc;

before(async () => {
  c = await startCluster({ services: ['location'], redis: true });
  t = tenant(c);
  other = tenant(c);
  loc = await t.location();
});
after(async () => { await c?.stop(); });

const activityCount = async () => Number((await c.sql('location', 'SELECT count(*) AS n FROM activity'))[0].n);
const attach = (orderId, ids, over = {}, tok = t.hq) => t.icall('AttachPackages', {
  order_id: orderId, order_identifier: 'JO-000001', location_id: loc.id, package_ids: ids, ...over,
}, tok);

test('internal RPCs need a signed service caller', async () => {
  const p = await t.pkg(loc.id);
  await rejects(t.call('AttachPackages', { order_id: c.uuid(), location_id: loc.id, package_ids: [p.id] }), Status.PERMISSION_DENIED);
  await rejects(t.call('SetPackageAssignee', { package_ids: [p.id], assignee_user_id: t.techA, fencing_token: 1 }), Status.PERMISSION_DENIED);
  await rejects(t.call('ReserveStock', { order_id: c.uuid(), location_id: loc.id, lines: [{ sku: 'A', quantity: 1 }] }), Status.PERMISSION_DENIED);
  const bad = { 'x-kn-caller': 'order-svc', 'x-kn-caller-sig': 'AAAA' };
  await rejects(c.call(c.client('location'), 'DetachPackages', { order_id: c.uuid() }, t.hq, { metadata: bad }), Status.PERMISSION_DENIED);
  assert.equal((await t.call('GetPackage', { id: p.id })).order_id, '');
});

test('attach: all or none, rules, retry, assignee follows the order', async () => {
  const p1 = await t.pkg(loc.id);
  const { pkg: p2 } = await t.inLocker(loc.id);
  const busy = await t.pkg(loc.id);
  const far = await t.pkg((await t.location()).id);
  const o1 = c.uuid();
  const o2 = c.uuid();
  await attach(o2, [busy.id]);
  const n0 = await activityCount();
  await rejects(attach(o1, [p1.id, busy.id]), Status.FAILED_PRECONDITION, /another order/);
  await rejects(attach(o1, [p1.id, far.id]), Status.FAILED_PRECONDITION, /location/);
  await rejects(attach(o1, [p1.id, c.uuid()]), Status.NOT_FOUND);
  await rejects(other.icall('AttachPackages', { order_id: o1, location_id: loc.id, package_ids: [p1.id] }), Status.NOT_FOUND);
  await rejects(attach(o1, [p1.id, p1.id]), Status.INVALID_ARGUMENT, /package_ids/);
  await rejects(attach('nope', [p1.id]), Status.INVALID_ARGUMENT, /order_id/);
  assert.equal((await t.call('GetPackage', { id: p1.id })).order_id, '', 'none attached');
  assert.equal(await activityCount(), n0, 'no activity for refused attaches');

  const r = await attach(o1, [p1.id, p2.id], { assignee_user_id: t.techA, fencing_token: 7 });
  assert.ok(r.packages.every((p) => p.order_id === o1 && p.assignee_user_id === t.techA));
  const n1 = await activityCount();
  assert.equal(n1 - n0, 4, 'ADDED_TO_ORDER and ASSIGNED for each');
  await attach(o1, [p1.id, p2.id], { assignee_user_id: t.techA, fencing_token: 7 });
  assert.equal(await activityCount(), n1, 'a retry changes nothing');
  const acts = await t.activity(p2.id);
  assert.deepEqual(acts.slice(0, 2).map((a) => a.kind), ['ACTIVITY_KIND_ASSIGNED', 'ACTIVITY_KIND_ADDED_TO_ORDER']);
  assert.equal(acts[1].order_id, o1);
  assert.equal(acts[1].order_identifier, 'JO-000001');
  // A newer token already on a package wins over the order's older one.
  const p3 = await t.pkg(loc.id);
  await t.icall('SetPackageAssignee', { package_ids: [p3.id], assignee_user_id: t.techB, fencing_token: 20 }, t.hq, 'assign-svc');
  const r3 = await attach(o1, [p3.id], { assignee_user_id: t.techA, fencing_token: 10 });
  assert.equal(r3.packages[0].assignee_user_id, t.techB);
  assert.equal(r3.packages[0].order_id, o1);
});

test('attach race: two orders grab the same package, exactly one wins', async () => {
  for (let i = 0; i < 10; i++) {
    const p = await t.pkg(loc.id);
    const orders = [c.uuid(), c.uuid(), c.uuid()];
    const results = await Promise.allSettled(orders.map((o) => attach(o, [p.id])));
    const won = results.filter((x) => x.status === 'fulfilled');
    assert.equal(won.length, 1, `round ${i}: exactly one winner`);
    for (const x of results.filter((y) => y.status === 'rejected')) {
      assert.equal(x.reason.code, Status.FAILED_PRECONDITION);
    }
    const winner = orders[results.findIndex((x) => x.status === 'fulfilled')];
    assert.equal((await t.call('GetPackage', { id: p.id })).order_id, winner);
    const added = (await t.activity(p.id)).filter((a) => a.kind === 'ACTIVITY_KIND_ADDED_TO_ORDER');
    assert.equal(added.length, 1);
  }
});

test('detach: by ids or the whole order, retries, other orders refused', async () => {
  const o = c.uuid();
  const ps = [await t.pkg(loc.id), await t.pkg(loc.id), await t.pkg(loc.id)];
  await attach(o, ps.map((p) => p.id));
  const stranger = await t.pkg(loc.id);
  await attach(c.uuid(), [stranger.id]);
  await rejects(t.icall('DetachPackages', { order_id: o, package_ids: [ps[0].id, stranger.id] }), Status.FAILED_PRECONDITION);
  assert.equal((await t.call('GetPackage', { id: ps[0].id })).order_id, o, 'all or none');
  const d = await t.icall('DetachPackages', { order_id: o, package_ids: [ps[0].id] });
  assert.equal(d.packages[0].order_id, '');
  await t.icall('DetachPackages', { order_id: o, package_ids: [ps[0].id] });
  const acts = await t.activity(ps[0].id);
  assert.equal(acts.filter((a) => a.kind === 'ACTIVITY_KIND_REMOVED_FROM_ORDER').length, 1);
  assert.equal(acts[0].order_id, o, 'the removal row names the order');
  const all = await t.icall('DetachPackages', { order_id: o });
  assert.equal(all.packages.length, 2);
  assert.ok(all.packages.every((p) => p.order_id === ''));
  // Released packages can go into another order.
  await attach(c.uuid(), [ps[1].id]);
});

test('SetPackageAssignee: fencing', async () => {
  const p = await t.pkg(loc.id);
  const set = (assignee, token, over = {}) => t.icall('SetPackageAssignee', {
    package_ids: [p.id], assignee_user_id: assignee, fencing_token: token, ...over,
  }, t.hq, 'assign-svc');
  assert.equal((await set(t.techA, 5)).packages[0].assignee_user_id, t.techA);
  const n = await activityCount();
  await set(t.techA, 5);
  assert.equal(await activityCount(), n, 'same token and assignee: a retry, no change');
  await rejects(set(t.techB, 5), Status.ABORTED);
  await rejects(set(t.techB, 4), Status.ABORTED);
  await rejects(set('', 3), Status.ABORTED);
  assert.equal((await t.call('GetPackage', { id: p.id })).assignee_user_id, t.techA);
  assert.equal(await activityCount(), n, 'nothing changed');
  const un = await set('', 6);
  assert.equal(un.packages[0].assignee_user_id, '');
  assert.equal((await t.activity(p.id))[0].kind, 'ACTIVITY_KIND_UNASSIGNED');
  await rejects(set('not-a-uuid', 9), Status.INVALID_ARGUMENT, /assignee_user_id/);
  // In an order: only through the order.
  const o = c.uuid();
  await attach(o, [p.id]);
  await rejects(set(t.techB, 8), Status.FAILED_PRECONDITION, /order/);
  const viaOrder = await set(t.techB, 8, { order_id: o });
  assert.equal(viaOrder.packages[0].assignee_user_id, t.techB);
});

test('SetPackageAssignee by order: every package attached to it', async () => {
  const o = c.uuid();
  const ps = [await t.pkg(loc.id), await t.pkg(loc.id)];
  const outside = await t.pkg(loc.id);
  await attach(o, ps.map((p) => p.id), { assignee_user_id: t.techA, fencing_token: 3 });
  const set = (over) => t.icall('SetPackageAssignee', { assignee_user_id: t.techB, fencing_token: 4, ...over }, t.hq, 'assign-svc');
  await rejects(set({}), Status.INVALID_ARGUMENT, /package_ids/);
  const r = await set({ order_id: o });
  assert.deepEqual(r.packages.map((p) => p.id).sort(), ps.map((p) => p.id).sort(), 'the answer lists the order\'s packages');
  assert.ok(r.packages.every((p) => p.assignee_user_id === t.techB));
  assert.equal((await t.call('GetPackage', { id: outside.id })).assignee_user_id, '', 'no other package');
  const n = await activityCount();
  await set({ order_id: o });
  assert.equal(await activityCount(), n, 'a retry changes nothing');
  await rejects(set({ order_id: o, fencing_token: 2 }), Status.ABORTED, /stale/);
  // An order with nothing attached (any more): nothing to do, an empty answer.
  assert.deepEqual((await set({ order_id: c.uuid(), fencing_token: 9 })).packages ?? [], []);
});

test('detach with the order\'s assignee: a package change the order refused is undone', async () => {
  const o = c.uuid();
  const ps = [await t.pkg(loc.id), await t.pkg(loc.id)];
  await attach(o, ps.map((p) => p.id), { assignee_user_id: t.techA, fencing_token: 5 });
  // assign-svc's package change ran beside the order's, which refused it
  // (the order was cancelled meanwhile): the packages carry techB and token 6.
  await t.icall('SetPackageAssignee', { order_id: o, assignee_user_id: t.techB, fencing_token: 6 }, t.hq, 'assign-svc');
  await rejects(t.icall('DetachPackages', { order_id: o, set_assignee: true, assignee_user_id: 'x' }), Status.INVALID_ARGUMENT, /assignee_user_id/);
  const d = await t.icall('DetachPackages', { order_id: o, set_assignee: true, assignee_user_id: t.techA });
  assert.ok(d.packages.every((p) => p.order_id === '' && p.assignee_user_id === t.techA), 'they leave with the order\'s assignee');
  const acts = await t.activity(ps[0].id);
  assert.deepEqual(acts.slice(0, 2).map((a) => a.kind), ['ACTIVITY_KIND_REMOVED_FROM_ORDER', 'ACTIVITY_KIND_ASSIGNED']);
  assert.equal(acts[1].order_id, o, 'the re-assignment is logged while the package is still in the order');
  const tokens = await c.sql('location', 'SELECT assignee_token FROM packages WHERE id = ANY($1::uuid[])', [ps.map((p) => p.id)]);
  assert.ok(tokens.every((r) => Number(r.assignee_token) === 6), 'the token stays: a retry of the undone change is stale');
  // Without set_assignee the assignee stays, as before.
  const o2 = c.uuid();
  const q = await t.pkg(loc.id);
  await attach(o2, [q.id], { assignee_user_id: t.techB, fencing_token: 7 });
  const d2 = await t.icall('DetachPackages', { order_id: o2 });
  assert.equal(d2.packages[0].assignee_user_id, t.techB);
});

test('collecting an order: only through order-svc, idempotent', async () => {
  const o = c.uuid();
  const a = await t.inLocker(loc.id);
  const b = await t.inLocker(loc.id);
  await attach(o, [a.pkg.id, b.pkg.id], { assignee_user_id: t.techA, fencing_token: 3 });
  await rejects(t.call('CollectPackages', { package_ids: [a.pkg.id] }, t.tokA), Status.FAILED_PRECONDITION, /collect the order/);
  await rejects(t.call('CollectPackages', { order_id: o }, t.tokA), Status.PERMISSION_DENIED);
  const r = await t.icall('CollectPackages', { order_id: o }, t.tokA, 'order-svc');
  assert.equal(r.packages.length, 2);
  assert.ok(r.packages.every((p) => p.state === 'PACKAGE_STATE_COLLECTED'));
  const n = await activityCount();
  await t.icall('CollectPackages', { order_id: o }, t.tokA, 'order-svc');
  assert.equal(await activityCount(), n, 'a retry collects nothing twice');
  const acts = await t.activity(a.pkg.id);
  assert.equal(acts[0].kind, 'ACTIVITY_KIND_COLLECTED');
  assert.equal(acts[0].order_id, o);
  const door = await t.call('ListDoorContents', { location_id: loc.id, door_id: a.door.id });
  assert.equal(door.door.state, 'DOOR_STATE_EMPTY');
});

test('stock: adjust, never below reserved, reserve/release, oversell race', async () => {
  const sku = uniq('SKU');
  await rejects(t.call('AdjustStock', { location_id: loc.id, sku, delta: 5, reason: 'x' }, t.tokA), Status.PERMISSION_DENIED);
  await rejects(t.call('AdjustStock', { location_id: loc.id, sku, delta: 5, reason: '' }), Status.INVALID_ARGUMENT, /reason/);
  await rejects(t.call('AdjustStock', { location_id: loc.id, sku, delta: -1, reason: 'x' }), Status.FAILED_PRECONDITION);
  const item = await t.call('AdjustStock', { location_id: loc.id, sku, delta: 10, reason: 'delivery', description: 'Fuse 10A' });
  assert.equal(item.quantity_on_hand, 10);
  assert.equal(item.description, 'Fuse 10A');
  // 50 concurrent orders of one unit for the last 10 units.
  const orders = Array.from({ length: 50 }, () => c.uuid());
  const res = await Promise.allSettled(orders.map((o) => t.icall('ReserveStock', {
    order_id: o, location_id: loc.id, lines: [{ sku, quantity: 1 }],
  })));
  const ok = res.filter((r) => r.status === 'fulfilled');
  assert.equal(ok.length, 10, 'exactly 10 reserved');
  for (const r of res.filter((x) => x.status === 'rejected')) assert.equal(r.reason.code, Status.FAILED_PRECONDITION);
  const [row] = await c.sql('location', 'SELECT quantity_on_hand, quantity_reserved FROM stock_items WHERE sku = $1', [sku]);
  assert.deepEqual(row, { quantity_on_hand: 10, quantity_reserved: 10 });
  await rejects(t.call('AdjustStock', { location_id: loc.id, sku, delta: -1, reason: 'lost' }), Status.FAILED_PRECONDITION, /reserved/);
  const winner = orders[res.findIndex((r) => r.status === 'fulfilled')];
  // A retry of a reservation reserves nothing twice.
  const again = await t.icall('ReserveStock', { order_id: winner, location_id: loc.id, lines: [{ sku, quantity: 1 }] });
  assert.equal(again.items[0].quantity_reserved, 10);
  // Release: back to free stock; collected: leaves the locker.
  const rel = await t.icall('ReleaseStock', { order_id: winner, location_id: loc.id, collected: false });
  assert.equal(rel.items[0].quantity_reserved, 9);
  assert.equal((await t.icall('ReleaseStock', { order_id: winner, location_id: loc.id })).items.length, 0, 'idempotent');
  const other2 = orders[res.findLastIndex((r) => r.status === 'fulfilled')];
  const col = await t.icall('ReleaseStock', { order_id: other2, location_id: loc.id, collected: true });
  assert.deepEqual([col.items[0].quantity_on_hand, col.items[0].quantity_reserved], [9, 8]);
  // Lines: unknown sku, too many, duplicates, non-positive.
  await rejects(t.icall('ReserveStock', { order_id: c.uuid(), location_id: loc.id, lines: [{ sku: 'NOPE', quantity: 1 }] }), Status.NOT_FOUND, /sku/);
  await rejects(t.icall('ReserveStock', { order_id: c.uuid(), location_id: loc.id, lines: [{ sku, quantity: 5 }] }), Status.FAILED_PRECONDITION, /insufficient/);
  await rejects(t.icall('ReserveStock', { order_id: c.uuid(), location_id: loc.id, lines: [{ sku, quantity: 0 }] }), Status.INVALID_ARGUMENT, /quantity/);
  await rejects(t.icall('ReserveStock', { order_id: c.uuid(), location_id: loc.id, lines: [{ sku, quantity: 1 }, { sku, quantity: 1 }] }), Status.INVALID_ARGUMENT, /repeated/);
  await rejects(t.icall('ReserveStock', { order_id: c.uuid(), location_id: c.uuid(), lines: [{ sku, quantity: 1 }] }), Status.NOT_FOUND, /location_id/);
  // Multi-line reservations are all or none.
  const sku2 = uniq('SKU');
  await t.call('AdjustStock', { location_id: loc.id, sku: sku2, delta: 1, reason: 'r' });
  await rejects(t.icall('ReserveStock', { order_id: c.uuid(), location_id: loc.id, lines: [{ sku: sku2, quantity: 1 }, { sku, quantity: 100 }] }), Status.FAILED_PRECONDITION);
  const list = await t.call('ListStock', { location_id: loc.id, page_size: 1 }, t.tokA);
  assert.equal(list.items.length, 1);
  const list2 = await t.call('ListStock', { location_id: loc.id, page_size: 1, page_token: list.next_page_token });
  assert.equal(list2.items.length, 1);
  assert.notEqual(list2.items[0].sku, list.items[0].sku);
  const s2 = [...list.items, ...list2.items].find((x) => x.sku === sku2);
  assert.equal(s2.quantity_reserved, 0, 'the refused multi-line reservation held nothing');
});
