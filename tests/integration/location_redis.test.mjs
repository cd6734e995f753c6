// location-svc cache-aside in Redis: door contents and locations are served
// from the cache, every write through the service invalidates, and with
// Redis down every RPC still answers correctly (and nothing stale comes
// back when Redis does).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster } from '../../scripts/lib/cluster.mjs';
import { tenant } from './location_helpers.mjs';

let c;
let t;

before(async () => {
  c = await startCluster({ services: ['location'], redis: true, env: { KN_CACHE_TTL_S: '300' } });
  t = tenant(c);
});
after(async () => { await c?.stop(); });

const contents = (l, d, tok) => t.call('ListDoorContents', { location_id: l.id, door_id: d.id }, tok);

test('door contents come from the cache and every write invalidates', async () => {
  const l = await t.location();
  const d = await t.door(l.id, { multi_item: true });
  const p1 = await t.pkg(l.id);
  await t.call('DeliverPackage', { id: p1.id, door_id: d.id });
  assert.equal((await contents(l, d)).packages.length, 1);
  // A change behind the service's back is invisible while cached: the
  // answer came from Redis, not from SQL.
  await c.sql('location', "UPDATE packages SET description = 'changed in SQL' WHERE id = $1", [p1.id]);
  assert.equal((await contents(l, d)).packages[0].description, 'a part');
  // Writes through the service invalidate: deliver, assign, attach, collect.
  const p2 = await t.pkg(l.id);
  await t.call('DeliverPackage', { id: p2.id, door_id: d.id });
  const after = await contents(l, d);
  assert.equal(after.packages.length, 2);
  assert.equal(after.packages.find((p) => p.id === p1.id).description, 'changed in SQL');
  await t.icall('SetPackageAssignee', { package_ids: [p1.id], assignee_user_id: t.techA, fencing_token: 1 }, t.hq, 'assign-svc');
  assert.equal((await contents(l, d)).packages.find((p) => p.id === p1.id).assignee_user_id, t.techA);
  // Technician filtering applies to cached entries too.
  await t.icall('SetPackageAssignee', { package_ids: [p2.id], assignee_user_id: t.techB, fencing_token: 1 }, t.hq, 'assign-svc');
  assert.deepEqual((await contents(l, d, t.tokA)).packages.map((p) => p.id), [p1.id]);
  assert.deepEqual((await contents(l, d, t.tokB)).packages.map((p) => p.id), [p2.id]);
  const o = c.uuid();
  await t.icall('AttachPackages', { order_id: o, location_id: l.id, package_ids: [p2.id] });
  assert.equal((await contents(l, d)).packages.find((p) => p.id === p2.id).order_id, o);
  await t.call('CollectPackages', { package_ids: [p1.id] }, t.tokA);
  const left = await contents(l, d);
  assert.deepEqual(left.packages.map((p) => p.id), [p2.id]);
  await t.call('UpdateDoor', { id: d.id, state: 'DOOR_STATE_OUT_OF_SERVICE' });
  assert.equal((await contents(l, d)).door.state, 'DOOR_STATE_OUT_OF_SERVICE');
  // The cache key is per tenant: another tenant sees nothing.
  const other = tenant(c);
  await assert.rejects(other.call('ListDoorContents', { location_id: l.id, door_id: d.id }), (e) => e.code === 5);
  // And per door: the right door at the wrong location is NOT_FOUND.
  const l2 = await t.location();
  await assert.rejects(t.call('ListDoorContents', { location_id: l2.id, door_id: d.id }), (e) => e.code === 5);
  // One change over packages in several doors invalidates every one of them.
  const doors = [await t.door(l.id), await t.door(l.id), await t.door(l.id)];
  const pkgs = [];
  for (const dd of doors) {
    const p = await t.pkg(l.id);
    await t.call('DeliverPackage', { id: p.id, door_id: dd.id });
    pkgs.push(p);
    assert.equal((await contents(l, dd)).packages[0].assignee_user_id, '');
  }
  await t.icall('SetPackageAssignee', { package_ids: pkgs.map((p) => p.id), assignee_user_id: t.techB, fencing_token: 2 }, t.hq, 'assign-svc');
  for (const dd of doors) assert.equal((await contents(l, dd)).packages[0].assignee_user_id, t.techB);
});

test('Redis down: every RPC answers correctly, nothing stale afterwards', async () => {
  const l = await t.location();
  const d = await t.door(l.id, { multi_item: true });
  const p1 = await t.pkg(l.id);
  await t.call('DeliverPackage', { id: p1.id, door_id: d.id });
  assert.equal((await contents(l, d)).packages.length, 1); // cached
  await t.call('GetLocation', { id: l.id }); // cached
  await c.stopRedis();
  try {
    const p2 = await t.pkg(l.id);
    await t.call('DeliverPackage', { id: p2.id, door_id: d.id });
    assert.equal((await contents(l, d)).packages.length, 2);
    assert.equal((await t.call('GetLocation', { id: l.id })).id, l.id);
    const l2 = await t.location();
    await t.door(l2.id);
    assert.equal((await t.call('ListDoors', { location_id: l2.id })).doors.length, 1);
    await t.call('AdjustStock', { location_id: l.id, sku: 'S1', delta: 3, reason: 'r' });
    await t.icall('ReserveStock', { order_id: c.uuid(), location_id: l.id, lines: [{ sku: 'S1', quantity: 2 }] });
    assert.equal((await t.call('SearchActivity', { location_id: l.id })).activities.length, 4);
    await t.call('CollectPackages', { package_ids: [p1.id] });
  } finally {
    await c.startRedis();
  }
  // The entry cached before the outage (one package) must not come back.
  const now = await contents(l, d);
  assert.equal(now.packages.length, 1);
  assert.equal(now.packages[0].state, 'PACKAGE_STATE_IN_LOCKER');
  assert.notEqual(now.packages[0].id, p1.id);
});
