// order-svc with a real location-svc: create (job/stock), idempotency,
// identifiers, etags, package edits, cancel/collect and frozen orders,
// cross-tenant ids, technician visibility and roles, SetAssignee fencing,
// history, bad input with nothing written.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster } from '../../scripts/lib/cluster.mjs';
import {
  CODE, expectCode, makeTenant, makePackage, makeJobOrder, setAssignee, internalMetadata,
} from './order_helpers.mjs';

let c;
let t;

before(async () => {
  c = await startCluster({ services: ['location', 'order'], redis: true });
  t = await makeTenant(c);
});

after(async () => {
  await c?.stop();
});

const count = async (table, tenant = t.tenant) => Number((await c.sql('order', `SELECT count(*) AS n FROM ${table} WHERE tenant_id = $1`, [tenant]))[0].n);

test('create a job order: generated identifiers per tenant and type, history, Get', async () => {
  const o1 = await makeJobOrder(c, t, { packages: 2 });
  assert.match(o1.identifier, /^JO-\d{6}$/);
  assert.equal(o1.status, 'ORDER_STATUS_ACTIVE');
  assert.equal(o1.package_ids.length, 2);
  assert.equal(o1.assignee_user_id, '');
  assert.equal(o1.tenant_id, t.tenant);
  const o2 = await makeJobOrder(c, t);
  assert.equal(Number(o2.identifier.slice(3)), Number(o1.identifier.slice(3)) + 1);
  const got = await c.call(t.ord, 'GetOrder', { id: o1.id }, t.hq);
  assert.deepEqual(got.package_ids, o1.package_ids);
  const pkg = await c.call(t.loc, 'GetPackage', { id: o1.package_ids[0] }, t.hq);
  assert.equal(pkg.order_id, o1.id);
  const h = await c.call(t.ord, 'ListOrderHistory', { order_id: o1.id }, t.hq);
  assert.equal(h.entries[0].kind, 'ORDER_HISTORY_KIND_CREATED');
  assert.equal(h.entries[0].actor_user_id, t.hqUser);
});

test('a hand-chosen identifier is unique per tenant; the counter skips it', async () => {
  const next = await c.call(t.ord, 'CreateOrder', { type: 'ORDER_TYPE_JOB', identifier: 'JOB-42', location_id: t.location.id, package_ids: [await makePackage(c, t)] }, t.hq);
  assert.equal(next.identifier, 'JOB-42');
  const before = await count('orders');
  await expectCode(c.call(t.ord, 'CreateOrder', { type: 'ORDER_TYPE_JOB', identifier: 'JOB-42', location_id: t.location.id, package_ids: [await makePackage(c, t)] }, t.hq), CODE.ALREADY_EXISTS, /identifier/);
  assert.equal(await count('orders'), before);
  // Another tenant may use the same identifier.
  const t2 = await makeTenant(c);
  const o = await c.call(t2.ord, 'CreateOrder', { type: 'ORDER_TYPE_JOB', identifier: 'JOB-42', location_id: t2.location.id, package_ids: [await makePackage(c, t2)] }, t2.hq);
  assert.equal(o.identifier, 'JOB-42');
  // The counter skips a number taken by hand.
  const cur = (await c.sql('order', 'SELECT last FROM order_identifier_counters WHERE tenant_id = $1 AND type = 1', [t2.tenant]))[0]?.last ?? 0;
  const taken = `JO-${String(Number(cur) + 1).padStart(6, '0')}`;
  await c.call(t2.ord, 'CreateOrder', { type: 'ORDER_TYPE_JOB', identifier: taken, location_id: t2.location.id, package_ids: [await makePackage(c, t2)] }, t2.hq);
  const gen = await makeJobOrder(c, t2);
  assert.notEqual(gen.identifier, taken);
  assert.match(gen.identifier, /^JO-/);
});

test('request_id: the same body returns the first order, another body ALREADY_EXISTS', async () => {
  const pkgs = [await makePackage(c, t), await makePackage(c, t)];
  const req = { request_id: `r-${c.uuid()}`, type: 'ORDER_TYPE_JOB', location_id: t.location.id, package_ids: pkgs };
  const a = await c.call(t.ord, 'CreateOrder', req, t.hq);
  const b = await c.call(t.ord, 'CreateOrder', req, t.hq);
  assert.equal(b.id, a.id);
  assert.equal(b.identifier, a.identifier);
  const n = await count('orders');
  await expectCode(c.call(t.ord, 'CreateOrder', { ...req, package_ids: [pkgs[0]] }, t.hq), CODE.ALREADY_EXISTS, /request_id/);
  assert.equal(await count('orders'), n);
  // Concurrent retries of one request create one order.
  const pk = await makePackage(c, t);
  const r2 = { request_id: `r-${c.uuid()}`, type: 'ORDER_TYPE_JOB', location_id: t.location.id, package_ids: [pk] };
  const res = await Promise.allSettled(Array.from({ length: 6 }, () => c.call(t.ord, 'CreateOrder', r2, t.hq)));
  const ok = res.filter((r) => r.status === 'fulfilled').map((r) => r.value.id);
  assert.ok(ok.length >= 1);
  assert.equal(new Set(ok).size, 1);
  assert.equal(Number((await c.sql('order', 'SELECT count(*) AS n FROM orders WHERE tenant_id = $1 AND request_id = $2', [t.tenant, r2.request_id]))[0].n), 1);
});

test('a package in an active order cannot go into another; all or none', async () => {
  const o = await makeJobOrder(c, t);
  const fresh = await makePackage(c, t);
  const n = await count('orders');
  const err = await expectCode(c.call(t.ord, 'CreateOrder', { type: 'ORDER_TYPE_JOB', location_id: t.location.id, package_ids: [fresh, o.package_ids[0]] }, t.hq), CODE.FAILED_PRECONDITION);
  assert.match(err.details, new RegExp(o.package_ids[0]));
  assert.equal(await count('orders'), n);
  assert.equal(await count('order_intents'), 0);
  const p = await c.call(t.loc, 'GetPackage', { id: fresh }, t.hq);
  assert.equal(p.order_id, '', 'the other package was not left attached');
  await expectCode(c.call(t.ord, 'CreateOrder', { type: 'ORDER_TYPE_JOB', location_id: c.uuid(), package_ids: [fresh] }, t.hq), CODE.NOT_FOUND, /location/);
  await expectCode(c.call(t.ord, 'CreateOrder', { type: 'ORDER_TYPE_JOB', location_id: t.location.id, package_ids: [c.uuid()] }, t.hq), CODE.NOT_FOUND);
});

test('UpdateOrder: etag required, stale etag ABORTED and nothing changed; concurrent edits: one wins', async () => {
  const o = await makeJobOrder(c, t);
  const u = await c.call(t.ord, 'UpdateOrder', { id: o.id, identifier: `NEW-${o.identifier}`, etag: o.etag }, t.hq);
  assert.equal(u.identifier, `NEW-${o.identifier}`);
  assert.notEqual(u.etag, o.etag);
  await expectCode(c.call(t.ord, 'UpdateOrder', { id: o.id, identifier: 'STALE', etag: o.etag }, t.hq), CODE.ABORTED, /etag/);
  await expectCode(c.call(t.ord, 'UpdateOrder', { id: o.id, identifier: 'X' }, t.hq), CODE.INVALID_ARGUMENT, /etag/);
  assert.equal((await c.call(t.ord, 'GetOrder', { id: o.id }, t.hq)).identifier, u.identifier);
  const res = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => c.call(t.ord, 'UpdateOrder', { id: o.id, identifier: `RACE-${i}-${o.id.slice(0, 6)}`, etag: u.etag }, t.hq)));
  const wins = res.filter((r) => r.status === 'fulfilled');
  assert.equal(wins.length, 1);
  for (const r of res.filter((x) => x.status === 'rejected')) assert.equal(r.reason.code, CODE.ABORTED);
  const h = await c.call(t.ord, 'ListOrderHistory', { order_id: o.id }, t.hq);
  assert.equal(h.entries.filter((e) => e.kind === 'ORDER_HISTORY_KIND_IDENTIFIER_CHANGED').length, 2);
  // Duplicate identifier on update.
  const other = await makeJobOrder(c, t);
  await expectCode(c.call(t.ord, 'UpdateOrder', { id: other.id, identifier: wins[0].value.identifier, etag: other.etag }, t.hq), CODE.ALREADY_EXISTS, /identifier/);
});

test('AddPackages / RemovePackages: history, last package refused, assignee follows', async () => {
  const o = await makeJobOrder(c, t);
  const p2 = await makePackage(c, t);
  const a = await c.call(t.ord, 'AddPackages', { order_id: o.id, package_ids: [p2], etag: o.etag }, t.hq);
  assert.deepEqual(a.package_ids, [...o.package_ids, p2]);
  await expectCode(c.call(t.ord, 'AddPackages', { order_id: o.id, package_ids: [await makePackage(c, t)], etag: o.etag }, t.hq), CODE.ABORTED, /etag/);
  // Assigned order: a package added takes the order's assignee.
  const s = await setAssignee(c, t, o.id, t.techA, 10);
  const p3 = await makePackage(c, t);
  const b = await c.call(t.ord, 'AddPackages', { order_id: o.id, package_ids: [p3] }, t.hq);
  assert.equal(b.package_ids.length, 3);
  assert.equal(s.assignee_user_id, t.techA);
  const pk = await c.call(t.loc, 'GetPackage', { id: p3 }, t.hq);
  assert.equal(pk.order_id, o.id);
  assert.equal(pk.assignee_user_id, t.techA);
  const r = await c.call(t.ord, 'RemovePackages', { order_id: o.id, package_ids: [p2, p3] }, t.hq);
  assert.deepEqual(r.package_ids, o.package_ids);
  assert.equal((await c.call(t.loc, 'GetPackage', { id: p2 }, t.hq)).order_id, '');
  await expectCode(c.call(t.ord, 'RemovePackages', { order_id: o.id, package_ids: o.package_ids }, t.hq), CODE.FAILED_PRECONDITION, /cancel/);
  await expectCode(c.call(t.ord, 'RemovePackages', { order_id: o.id, package_ids: [p2] }, t.hq), CODE.NOT_FOUND, /package/);
  const kinds = (await c.call(t.ord, 'ListOrderHistory', { order_id: o.id }, t.hq)).entries.map((e) => e.kind);
  assert.deepEqual(kinds, ['ORDER_HISTORY_KIND_CREATED', 'ORDER_HISTORY_KIND_PACKAGES_ADDED', 'ORDER_HISTORY_KIND_ASSIGNED', 'ORDER_HISTORY_KIND_PACKAGES_ADDED', 'ORDER_HISTORY_KIND_PACKAGES_REMOVED']);
  // The removed package can go into another order.
  const o2 = await c.call(t.ord, 'CreateOrder', { type: 'ORDER_TYPE_JOB', location_id: t.location.id, package_ids: [p2] }, t.hq);
  assert.deepEqual(o2.package_ids, [p2]);
});

test('cancel releases packages; cancelled and collected orders refuse every edit', async () => {
  const o = await makeJobOrder(c, t);
  const cx = await c.call(t.ord, 'CancelOrder', { id: o.id, reason: 'not needed', etag: o.etag }, t.hq);
  assert.equal(cx.status, 'ORDER_STATUS_CANCELLED');
  assert.ok(cx.cancel_time);
  assert.deepEqual(cx.package_ids, o.package_ids, 'a cancelled order still shows its packages');
  assert.equal((await c.call(t.loc, 'GetPackage', { id: o.package_ids[0] }, t.hq)).order_id, '');
  const again = await c.call(t.ord, 'CreateOrder', { type: 'ORDER_TYPE_JOB', location_id: t.location.id, package_ids: o.package_ids }, t.hq);
  assert.equal(again.status, 'ORDER_STATUS_ACTIVE');

  await setAssignee(c, t, again.id, t.techA, 1);
  const col = await c.call(t.ord, 'CollectOrder', { id: again.id }, t.tA);
  assert.equal(col.status, 'ORDER_STATUS_COLLECTED');
  assert.ok(col.collect_time);
  for (const done of [cx, col]) {
    const cur = await c.call(t.ord, 'GetOrder', { id: done.id }, t.hq);
    await expectCode(c.call(t.ord, 'UpdateOrder', { id: done.id, identifier: 'Z', etag: cur.etag }, t.hq), CODE.FAILED_PRECONDITION);
    await expectCode(c.call(t.ord, 'AddPackages', { order_id: done.id, package_ids: [await makePackage(c, t)] }, t.hq), CODE.FAILED_PRECONDITION);
    await expectCode(c.call(t.ord, 'RemovePackages', { order_id: done.id, package_ids: [done.package_ids[0]] }, t.hq), CODE.FAILED_PRECONDITION);
    await expectCode(c.call(t.ord, 'CancelOrder', { id: done.id }, t.hq), CODE.FAILED_PRECONDITION);
    await expectCode(c.call(t.ord, 'CollectOrder', { id: done.id }, t.hq), CODE.FAILED_PRECONDITION);
    await expectCode(setAssignee(c, t, done.id, t.techB, 100), CODE.FAILED_PRECONDITION);
  }
  // The database refuses too, whatever the C code does.
  await assert.rejects(c.sql('order', 'UPDATE orders SET status = 1, version = version + 1 WHERE id = $1', [cx.id]), /finished/);
  await assert.rejects(c.sql('order', 'UPDATE order_history SET detail = $1 WHERE order_id = $2', ['x', cx.id]), /append-only/);
  assert.equal(await count('order_intents'), 0, 'no intent left behind');
});

test('stock orders: technicians may self-order; reserve and release', async () => {
  await c.call(t.loc, 'AdjustStock', { location_id: t.location.id, sku: 'FILTER-1', delta: 10, reason: 'in', description: 'filter' }, t.hq);
  const o = await c.call(t.ord, 'CreateOrder', { type: 'ORDER_TYPE_STOCK', location_id: t.location.id, stock_lines: [{ sku: 'FILTER-1', quantity: 3 }] }, t.tA);
  assert.match(o.identifier, /^SO-\d{6}$/);
  assert.deepEqual(o.stock_lines, [{ sku: 'FILTER-1', quantity: 3 }]);
  await expectCode(c.call(t.ord, 'CreateOrder', { type: 'ORDER_TYPE_JOB', location_id: t.location.id, package_ids: [await makePackage(c, t)] }, t.tA), CODE.PERMISSION_DENIED);
  await expectCode(c.call(t.ord, 'CreateOrder', { type: 'ORDER_TYPE_STOCK', location_id: t.location.id, stock_lines: [{ sku: 'FILTER-1', quantity: 100 }] }, t.hq), CODE.FAILED_PRECONDITION);
  const stock = await c.call(t.loc, 'ListStock', { location_id: t.location.id }, t.hq);
  assert.equal(stock.items.find((i) => i.sku === 'FILTER-1').quantity_reserved, 3);
  await c.call(t.ord, 'CancelOrder', { id: o.id }, t.hq);
  const after = await c.call(t.loc, 'ListStock', { location_id: t.location.id }, t.hq);
  assert.equal(after.items.find((i) => i.sku === 'FILTER-1').quantity_reserved, 0);
});

test('roles: technicians cannot edit or cancel; see own and unassigned only; collect own only', async () => {
  const mine = await makeJobOrder(c, t);
  const theirs = await makeJobOrder(c, t);
  const free = await makeJobOrder(c, t);
  await setAssignee(c, t, mine.id, t.techA, 1);
  await setAssignee(c, t, theirs.id, t.techB, 1);
  await c.call(t.ord, 'GetOrder', { id: mine.id }, t.tA);
  await c.call(t.ord, 'GetOrder', { id: free.id }, t.tA);
  await expectCode(c.call(t.ord, 'GetOrder', { id: theirs.id }, t.tA), CODE.NOT_FOUND);
  await expectCode(c.call(t.ord, 'ListOrderHistory', { order_id: theirs.id }, t.tA), CODE.NOT_FOUND);
  await expectCode(c.call(t.ord, 'CollectOrder', { id: theirs.id }, t.tA), CODE.NOT_FOUND);
  await expectCode(c.call(t.ord, 'CollectOrder', { id: free.id }, t.tA), CODE.FAILED_PRECONDITION);
  const cur = await c.call(t.ord, 'GetOrder', { id: mine.id }, t.tA);
  await expectCode(c.call(t.ord, 'UpdateOrder', { id: mine.id, identifier: 'T', etag: cur.etag }, t.tA), CODE.PERMISSION_DENIED);
  await expectCode(c.call(t.ord, 'CancelOrder', { id: mine.id }, t.tA), CODE.PERMISSION_DENIED);
  await expectCode(c.call(t.ord, 'AddPackages', { order_id: mine.id, package_ids: [c.uuid()] }, t.tA), CODE.PERMISSION_DENIED);
  await expectCode(c.call(t.ord, 'RemovePackages', { order_id: mine.id, package_ids: [c.uuid()] }, t.tA), CODE.PERMISSION_DENIED);
  const list = await c.call(t.ord, 'ListOrders', { page_size: 500 }, t.tA);
  const ids = new Set(list.orders.map((o) => o.id));
  assert.ok(ids.has(mine.id) && ids.has(free.id) && !ids.has(theirs.id));
  for (const o of list.orders) assert.ok(o.assignee_user_id === '' || o.assignee_user_id === t.techA);
});

test('cross-tenant ids answer NOT_FOUND for every RPC', async () => {
  const o = await makeJobOrder(c, t);
  const t2 = await makeTenant(c);
  await expectCode(c.call(t.ord, 'GetOrder', { id: o.id }, t2.hq), CODE.NOT_FOUND);
  await expectCode(c.call(t.ord, 'UpdateOrder', { id: o.id, identifier: 'X', etag: o.etag }, t2.hq), CODE.NOT_FOUND);
  await expectCode(c.call(t.ord, 'AddPackages', { order_id: o.id, package_ids: [await makePackage(c, t2)] }, t2.hq), CODE.NOT_FOUND);
  await expectCode(c.call(t.ord, 'RemovePackages', { order_id: o.id, package_ids: o.package_ids }, t2.hq), CODE.NOT_FOUND);
  await expectCode(c.call(t.ord, 'CancelOrder', { id: o.id }, t2.hq), CODE.NOT_FOUND);
  await expectCode(c.call(t.ord, 'CollectOrder', { id: o.id }, t2.hq), CODE.NOT_FOUND);
  await expectCode(c.call(t.ord, 'ListOrderHistory', { order_id: o.id }, t2.hq), CODE.NOT_FOUND);
  await expectCode(setAssignee(c, t2, o.id, t2.techA, 1), CODE.NOT_FOUND);
  // Packages of another tenant cannot be put into an order.
  await expectCode(c.call(t.ord, 'CreateOrder', { type: 'ORDER_TYPE_JOB', location_id: t2.location.id, package_ids: [o.package_ids[0]] }, t2.hq), CODE.NOT_FOUND);
  assert.equal((await c.call(t.ord, 'GetOrder', { id: o.id }, t.hq)).status, 'ORDER_STATUS_ACTIVE');
});

test('SetAssignee: internal only, fenced by token', async () => {
  const o = await makeJobOrder(c, t);
  // A user token alone (no caller signature) is refused.
  await expectCode(c.call(t.ord, 'SetAssignee', { order_id: o.id, assignee_user_id: t.techA, fencing_token: '5' }, t.hq), CODE.PERMISSION_DENIED);
  // A forged signature too.
  await expectCode(c.call(t.ord, 'SetAssignee', { order_id: o.id, assignee_user_id: t.techA, fencing_token: '5' }, t.hq, { metadata: { 'x-kn-caller': 'assign-svc', 'x-kn-caller-sig': 'AAAA' } }), CODE.PERMISSION_DENIED);
  const a = await setAssignee(c, t, o.id, t.techA, 5);
  assert.equal(a.assignee_user_id, t.techA);
  assert.deepEqual(a.package_ids, o.package_ids);
  // Same token, same assignee: idempotent retry, nothing changes.
  const again = await setAssignee(c, t, o.id, t.techA, 5);
  assert.equal(again.etag, a.etag);
  // Same token, other assignee; older token: ABORTED, nothing changed.
  await expectCode(setAssignee(c, t, o.id, t.techB, 5), CODE.ABORTED);
  await expectCode(setAssignee(c, t, o.id, t.techB, 4), CODE.ABORTED);
  assert.equal((await c.call(t.ord, 'GetOrder', { id: o.id }, t.hq)).assignee_user_id, t.techA);
  // A technician's forwarded token (self-assign through assign-svc) works.
  const b = await setAssignee(c, t, o.id, t.techB, 6, t.tB);
  assert.equal(b.assignee_user_id, t.techB);
  const un = await setAssignee(c, t, o.id, '', 7);
  assert.equal(un.assignee_user_id, '');
  // Racing tokens: only increasing ones apply, the highest wins.
  const res = await Promise.allSettled([8, 9, 10, 11, 12].map((k) => setAssignee(c, t, o.id, k % 2 ? t.techA : t.techB, k)));
  assert.ok(res.some((r) => r.status === 'fulfilled'));
  const row = (await c.sql('order', 'SELECT fencing_token::int AS f, assignee_user_id::text AS a FROM orders WHERE id = $1', [o.id]))[0];
  assert.equal(row.f, 12);
  assert.equal(row.a, t.techB);
  const kinds = (await c.call(t.ord, 'ListOrderHistory', { order_id: o.id, page_size: 500 }, t.hq)).entries.map((e) => e.kind);
  assert.ok(kinds.includes('ORDER_HISTORY_KIND_UNASSIGNED'));
  await expectCode(setAssignee(c, t, o.id, t.techA, 0), CODE.INVALID_ARGUMENT, /fencing_token/);
  await expectCode(setAssignee(c, t, o.id, 'nope', 99), CODE.INVALID_ARGUMENT, /assignee_user_id/);
  assert.ok(internalMetadata(c, t.hq)['x-kn-caller-sig'].length >= 43);
});

test('SetAssignee: the retry of a change applied before a cancel is OK, a new change refused', async () => {
  // assign-svc's repair re-sends the token of an entry whose first send
  // may have applied; it must hear OK, not "cancelled", or it would record
  // as rolled back a change the order shows.
  const o = await makeJobOrder(c, t);
  await setAssignee(c, t, o.id, t.techA, 20);
  await c.call(t.ord, 'CancelOrder', { id: o.id, reason: 'test' }, t.hq);
  const again = await setAssignee(c, t, o.id, t.techA, 20);
  assert.equal(again.assignee_user_id, t.techA);
  assert.equal(again.status, 'ORDER_STATUS_CANCELLED');
  await expectCode(setAssignee(c, t, o.id, t.techB, 21), CODE.FAILED_PRECONDITION, /cancelled/);
  await expectCode(setAssignee(c, t, o.id, t.techB, 20), CODE.FAILED_PRECONDITION, /cancelled/);
});

test('ListOrderHistory pages', async () => {
  const o = await makeJobOrder(c, t);
  let cur = o;
  for (let i = 0; i < 5; i++) cur = await c.call(t.ord, 'UpdateOrder', { id: o.id, identifier: `H-${i}-${o.id.slice(0, 8)}`, etag: cur.etag }, t.hq);
  const seen = [];
  let page_token = '';
  for (;;) {
    const r = await c.call(t.ord, 'ListOrderHistory', { order_id: o.id, page_size: 2, page_token }, t.hq);
    seen.push(...r.entries.map((e) => e.id));
    if (!r.next_page_token) break;
    page_token = r.next_page_token;
  }
  assert.equal(seen.length, 6);
  assert.equal(new Set(seen).size, 6);
  await expectCode(c.call(t.ord, 'ListOrderHistory', { order_id: o.id, page_size: -3 }, t.hq), CODE.INVALID_ARGUMENT, /page_size/);
});

test('bad input: INVALID_ARGUMENT naming the field, nothing written', async () => {
  const pk = await makePackage(c, t);
  const L = t.location.id;
  const o = await makeJobOrder(c, t);
  const nOrders = await count('orders');
  const nHist = await count('order_history');
  const creates = [
    [{ type: 'ORDER_TYPE_UNSPECIFIED', location_id: L, package_ids: [pk] }, /type/],
    [{ type: 9, location_id: L, package_ids: [pk] }, /type/],
    [{ type: 'ORDER_TYPE_JOB', location_id: 'xyz', package_ids: [pk] }, /location_id/],
    [{ type: 'ORDER_TYPE_JOB', location_id: L, package_ids: [] }, /package_ids/],
    [{ type: 'ORDER_TYPE_JOB', location_id: L, package_ids: ['bad'] }, /package_ids/],
    [{ type: 'ORDER_TYPE_JOB', location_id: L, package_ids: [pk, pk] }, /package_ids/],
    [{ type: 'ORDER_TYPE_JOB', location_id: L, package_ids: [pk], identifier: 'x'.repeat(65) }, /identifier/],
    [{ type: 'ORDER_TYPE_JOB', location_id: L, package_ids: [pk], identifier: 'a\u0001b' }, /identifier/],
    [{ type: 'ORDER_TYPE_JOB', location_id: L, package_ids: [pk], identifier: 'a\nb' }, /identifier/],
    [{ type: 'ORDER_TYPE_STOCK', location_id: L, stock_lines: [] }, /stock_lines/],
    [{ type: 'ORDER_TYPE_STOCK', location_id: L, stock_lines: [{ sku: 'A', quantity: 0 }] }, /quantity/],
    [{ type: 'ORDER_TYPE_STOCK', location_id: L, stock_lines: [{ sku: '', quantity: 1 }] }, /sku/],
    [{ type: 'ORDER_TYPE_STOCK', location_id: L, package_ids: [pk], stock_lines: [{ sku: 'A', quantity: 1 }] }, /package_ids/],
  ];
  for (const [req, re] of creates) await expectCode(c.call(t.ord, 'CreateOrder', req, t.hq), CODE.INVALID_ARGUMENT, re);
  const edits = [
    ['GetOrder', { id: 'nope' }, /id/],
    ['GetOrder', { id: '' }, /id/],
    ['UpdateOrder', { id: o.id, identifier: '', etag: o.etag }, /identifier/],
    ['UpdateOrder', { id: o.id, identifier: 'y'.repeat(65), etag: o.etag }, /identifier/],
    ['UpdateOrder', { id: o.id, identifier: 'tab\there', etag: o.etag }, /identifier/],
    ['UpdateOrder', { id: o.id, identifier: 'ok', etag: 'W/"1"' }, /etag/],
    ['UpdateOrder', { id: 'x', identifier: 'ok', etag: o.etag }, /id/],
    ['AddPackages', { order_id: o.id, package_ids: ['x'] }, /package_ids/],
    ['AddPackages', { order_id: o.id, package_ids: [] }, /package_ids/],
    ['RemovePackages', { order_id: 'x', package_ids: [pk] }, /order_id/],
    ['CancelOrder', { id: '123' }, /id/],
    ['CollectOrder', { id: '123' }, /id/],
    ['ListOrderHistory', { order_id: '123' }, /order_id/],
    ['ListOrderHistory', { order_id: o.id, page_token: 'zz' }, /page_token/],
  ];
  for (const [m, req, re] of edits) await expectCode(c.call(t.ord, m, req, t.hq), CODE.INVALID_ARGUMENT, re);
  assert.equal(await count('orders'), nOrders);
  assert.equal(await count('order_history'), nHist);
  assert.equal((await c.call(t.ord, 'GetOrder', { id: o.id }, t.hq)).etag, o.etag);
});

test('repair tick: an attach whose create died is detached after 30 s', async () => {
  // What a crash between AttachPackages and the insert leaves: the package
  // attached at location-svc to an order id that does not exist, and the
  // intent row (backdated here instead of waiting 30 s).
  const pkg = await makePackage(c, t);
  const orderId = c.uuid();
  await c.call(t.loc, 'AttachPackages', { order_id: orderId, order_identifier: 'JO-CRASH', location_id: t.location.id, package_ids: [pkg] }, t.hq, { metadata: internalMetadata(c, t.hq, 'order-svc') });
  assert.equal((await c.call(t.loc, 'GetPackage', { id: pkg }, t.hq)).order_id, orderId);
  await c.sql('order', `INSERT INTO order_intents (tenant_id, order_id, kind, type, location_id, identifier, package_ids, created)
    VALUES ($1, $2, 'create', 1, $3, 'JO-CRASH', ARRAY[$4::uuid], now() - interval '1 minute')`, [t.tenant, orderId, t.location.id, pkg]);
  const end = Date.now() + 15_000;
  while (Date.now() < end && (await count('order_intents')) > 0) await new Promise((r) => setTimeout(r, 200));
  assert.equal(await count('order_intents'), 0);
  assert.equal((await c.call(t.loc, 'GetPackage', { id: pkg }, t.hq)).order_id, '');
  // The package is free for a real order again.
  const o = await c.call(t.ord, 'CreateOrder', { type: 'ORDER_TYPE_JOB', location_id: t.location.id, package_ids: [pkg] }, t.hq);
  assert.deepEqual(o.package_ids, [pkg]);
});
