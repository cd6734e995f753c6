// location-svc: locations, doors, packages, the door/package state machine,
// collecting, technician visibility, tenants, activity, bad input.
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

test('locations: create, get, list with pagination and query, rules', async () => {
  const code = uniq('CODE');
  const l = await t.location({ code, name: 'Göteborg Hub', time_zone: 'Europe/Stockholm' });
  assert.equal(l.code, code);
  assert.equal(l.time_zone, 'Europe/Stockholm');
  assert.equal(l.tenant_id, t.id);
  assert.deepEqual(await t.call('GetLocation', { id: l.id }, t.tokA), l, 'technicians may read');
  // Code unique per tenant, case-insensitively; another tenant may reuse it.
  await rejects(t.location({ code: code.toLowerCase() }), Status.ALREADY_EXISTS, /code/);
  await other.location({ code });
  // Unknown time zone names the field; empty means UTC.
  await rejects(t.location({ time_zone: 'Mars/Olympus' }), Status.INVALID_ARGUMENT, /time_zone/);
  assert.equal((await t.location({ time_zone: '' })).time_zone, 'UTC');
  await rejects(t.location({ name: '' }), Status.INVALID_ARGUMENT, /name/);
  await rejects(t.location({}, t.tokA), Status.PERMISSION_DENIED);
  await rejects(t.call('CreateLocation', { name: 'x', code: uniq() }, t.tokA), Status.PERMISSION_DENIED);
  // request_id: a retry returns the first result and creates nothing.
  const rid = c.uuid();
  const body = { request_id: rid, name: `Depot ${uniq('R')}`, code: uniq('C'), address: 'Street 2', time_zone: '' };
  const a1 = await t.location(body);
  const a2 = await t.location(body);
  assert.equal(a2.id, a1.id);
  assert.equal(a2.time_zone, 'UTC');
  // The same request_id with another body is a client bug, never a silent replay.
  for (const change of [{ name: 'Other' }, { code: uniq('C') }, { address: 'Street 3' }, { time_zone: 'Europe/Oslo' }]) {
    await rejects(t.location({ ...body, ...change }), Status.ALREADY_EXISTS,
      /^request_id was already used with a different request/);
  }
  // Another tenant's request_id space is its own.
  const o1 = await other.location({ ...body, code: uniq('C') });
  assert.notEqual(o1.id, a1.id);
  assert.equal((await t.location(body)).id, a1.id, 'still replays after the refusals');
  // List: pages cover everything once, newest first; query matches code.
  const seen = [];
  let token = '';
  do {
    const r = await t.call('ListLocations', { page_size: 2, page_token: token });
    assert.ok(r.locations.length <= 2);
    seen.push(...r.locations.map((x) => x.id));
    token = r.next_page_token;
  } while (token);
  assert.equal(new Set(seen).size, seen.length);
  assert.ok(seen.includes(l.id) && seen.includes(a1.id));
  const q = await t.call('ListLocations', { query: code.slice(2).toLowerCase() });
  assert.deepEqual(q.locations.map((x) => x.id), [l.id]);
  assert.equal((await t.call('ListLocations', { query: '%' })).locations.length, 0);
  assert.equal((await t.call('ListLocations', { query: '_' })).locations.length, 0);
  await rejects(t.call('ListLocations', { page_token: 'garbage!' }), Status.INVALID_ARGUMENT, /page_token/);
});

test('cross-tenant and malformed ids', async () => {
  const { door, pkg } = await t.inLocker(loc.id);
  await rejects(other.call('GetLocation', { id: loc.id }), Status.NOT_FOUND);
  await rejects(other.call('GetPackage', { id: pkg.id }), Status.NOT_FOUND);
  await rejects(other.call('ListDoors', { location_id: loc.id }), Status.NOT_FOUND);
  await rejects(other.call('ListDoorContents', { location_id: loc.id, door_id: door.id }), Status.NOT_FOUND);
  await rejects(other.call('CreateDoor', { location_id: loc.id, label: 'Z1' }), Status.NOT_FOUND);
  await rejects(other.pkg(loc.id), Status.NOT_FOUND, /location_id/);
  await rejects(other.call('ReturnPackage', { id: pkg.id }), Status.NOT_FOUND);
  await rejects(other.call('CollectPackages', { package_ids: [pkg.id] }), Status.NOT_FOUND);
  await rejects(other.call('ListStock', { location_id: loc.id }), Status.NOT_FOUND);
  assert.equal((await other.call('ListPackages', { location_id: loc.id })).packages.length, 0);
  assert.equal((await other.call('SearchActivity', { package_id: pkg.id })).activities.length, 0);
  for (const id of ['', 'nope', "1' OR '1'='1", '00000000-0000-0000-0000-00000000000g']) {
    await rejects(t.call('GetPackage', { id }), Status.INVALID_ARGUMENT, /id/);
  }
  await rejects(t.call('GetLocation', { id: c.uuid() }), Status.NOT_FOUND);
});

test('doors: create, unique label, sizes, list by label, out of service', async () => {
  const l = await t.location();
  const d1 = await t.door(l.id, { label: 'B2' });
  assert.equal(d1.state, 'DOOR_STATE_EMPTY');
  assert.equal(d1.size, 'DOOR_SIZE_M');
  await t.door(l.id, { label: 'A1', size: 'DOOR_SIZE_XL' });
  await t.door(l.id, { label: 'C3', multi_item: true });
  await rejects(t.door(l.id, { label: 'b2' }), Status.ALREADY_EXISTS, /label/);
  await rejects(t.door(l.id, { label: '' }), Status.INVALID_ARGUMENT, /label/);
  await rejects(t.door(l.id, { size: 99 }), Status.INVALID_ARGUMENT, /size/);
  await rejects(t.door(l.id, {}, t.tokA), Status.PERMISSION_DENIED);
  const p1 = await t.call('ListDoors', { location_id: l.id, page_size: 2 });
  assert.deepEqual(p1.doors.map((d) => d.label), ['A1', 'B2']);
  const p2 = await t.call('ListDoors', { location_id: l.id, page_size: 2, page_token: p1.next_page_token });
  assert.deepEqual(p2.doors.map((d) => d.label), ['C3']);
  assert.equal(p2.next_page_token, '');
  // Out of service: refuses deliveries; EMPTY puts it back.
  const oos = await t.call('UpdateDoor', { location_id: l.id, id: d1.id, state: 'DOOR_STATE_OUT_OF_SERVICE' });
  assert.equal(oos.state, 'DOOR_STATE_OUT_OF_SERVICE');
  const p = await t.pkg(l.id);
  const before = await activityCount();
  await rejects(t.call('DeliverPackage', { id: p.id, door_id: d1.id }), Status.FAILED_PRECONDITION, /out of service/);
  assert.equal(await activityCount(), before, 'no activity for a failed change');
  await rejects(t.call('UpdateDoor', { id: d1.id, state: 'DOOR_STATE_OCCUPIED' }), Status.INVALID_ARGUMENT, /state/);
  assert.equal((await t.call('UpdateDoor', { id: d1.id, state: 'DOOR_STATE_EMPTY' })).state, 'DOOR_STATE_EMPTY');
  await t.call('DeliverPackage', { id: p.id, door_id: d1.id });
  // A door holding a package cannot stop being... (single) — make it multi, add two, and refuse single.
  await t.call('UpdateDoor', { id: d1.id, multi_item: true, update_multi_item: true });
  const p2b = await t.pkg(l.id);
  await t.call('DeliverPackage', { id: p2b.id, door_id: d1.id });
  await rejects(t.call('UpdateDoor', { id: d1.id, multi_item: false, update_multi_item: true }),
    Status.FAILED_PRECONDITION, /multi_item/);
});

test('packages: register rules, request_id, barcode unique per tenant', async () => {
  const bc = uniq('BC');
  const p = await t.pkg(loc.id, { barcode: bc });
  assert.equal(p.state, 'PACKAGE_STATE_EXPECTED');
  assert.equal(p.door_id, '');
  await rejects(t.pkg(loc.id, { barcode: bc }), Status.ALREADY_EXISTS, /barcode/);
  await other.pkg((await other.location()).id, { barcode: bc });
  await rejects(t.pkg(loc.id, { barcode: '' }), Status.INVALID_ARGUMENT, /barcode/);
  await rejects(t.pkg(loc.id, { barcode: 'x'.repeat(257) }), Status.INVALID_ARGUMENT, /barcode/);
  await rejects(t.pkg(loc.id, { barcode: 'a\u0001b' }), Status.INVALID_ARGUMENT, /barcode/);
  await rejects(t.pkg(loc.id, { barcode: 'a\nb' }), Status.INVALID_ARGUMENT, /barcode/);
  await rejects(t.pkg(loc.id, {}, t.tokA), Status.PERMISSION_DENIED);
  await rejects(t.pkg(c.uuid()), Status.NOT_FOUND, /location_id/);
  const rid = c.uuid();
  const body = { request_id: rid, barcode: uniq('BC'), tracking_number: uniq('TN'), carrier: 'DHL', description: 'a part' };
  const r1 = await t.pkg(loc.id, body);
  const r2 = await t.pkg(loc.id, body);
  assert.equal(r1.id, r2.id);
  const loc2 = await t.location();
  for (const [change, locId] of [[{ barcode: uniq('BC') }, loc.id], [{ tracking_number: '' }, loc.id],
    [{ carrier: 'UPS' }, loc.id], [{ description: 'another' }, loc.id], [{}, loc2.id]]) {
    await rejects(t.pkg(locId, { ...body, ...change }), Status.ALREADY_EXISTS,
      /^request_id was already used with a different request/);
  }
  assert.equal((await t.pkg(loc.id, body)).id, r1.id);
  const regs = (await t.activity(r1.id)).filter((a) => a.kind === 'ACTIVITY_KIND_PACKAGE_REGISTERED');
  assert.equal(regs.length, 1, 'replays and refusals write no activity');
  // SQL metacharacters are data.
  for (const weird of ["50%_off\\", "x'; DROP TABLE packages; --", 'a_b%c']) {
    const w = await t.pkg(loc.id, { barcode: `${weird}${uniq()}` });
    assert.ok(w.barcode.startsWith(weird));
    const found = await t.call('ListPackages', { query: weird });
    assert.ok(found.packages.some((x) => x.id === w.id));
    assert.ok(found.packages.every((x) => (x.barcode + x.tracking_number + x.carrier + x.description).includes(weird)));
  }
});

test('state machine: deliver, return, collect and every illegal transition', async () => {
  const l = await t.location();
  const single = await t.door(l.id);
  const multi = await t.door(l.id, { multi_item: true });
  const elsewhere = await t.door((await t.location()).id);
  const p1 = await t.pkg(l.id);
  const p2 = await t.pkg(l.id);
  const p3 = await t.pkg(l.id);
  const before = await activityCount();
  // EXPECTED: cannot be returned or collected.
  await rejects(t.call('ReturnPackage', { id: p1.id }), Status.FAILED_PRECONDITION, /IN_LOCKER/);
  await rejects(t.call('CollectPackages', { package_ids: [p1.id] }), Status.FAILED_PRECONDITION, /IN_LOCKER/);
  await rejects(t.call('DeliverPackage', { id: p1.id, door_id: elsewhere.id }), Status.FAILED_PRECONDITION, /location/);
  await rejects(t.call('DeliverPackage', { id: p1.id, door_id: c.uuid() }), Status.NOT_FOUND, /door_id/);
  await rejects(t.call('DeliverPackage', { id: p1.id, door_id: single.id }, t.tokA), Status.PERMISSION_DENIED);
  assert.equal(await activityCount(), before, 'failed changes write no activity');

  const d1 = await t.call('DeliverPackage', { id: p1.id, door_id: single.id });
  assert.equal(d1.state, 'PACKAGE_STATE_IN_LOCKER');
  assert.equal(d1.door_id, single.id);
  const contents = await t.call('ListDoorContents', { location_id: l.id, door_id: single.id });
  assert.equal(contents.door.state, 'DOOR_STATE_OCCUPIED');
  assert.deepEqual(contents.packages.map((p) => p.id), [p1.id]);
  // The door is full; the package cannot be delivered twice.
  await rejects(t.call('DeliverPackage', { id: p2.id, door_id: single.id }), Status.FAILED_PRECONDITION, /occupied/);
  await rejects(t.call('DeliverPackage', { id: p1.id, door_id: multi.id }), Status.FAILED_PRECONDITION, /EXPECTED/);
  // A multi-item door takes several.
  await t.call('DeliverPackage', { id: p2.id, door_id: multi.id });
  await t.call('DeliverPackage', { id: p3.id, door_id: multi.id });
  const mc = await t.call('ListDoorContents', { location_id: l.id, door_id: multi.id });
  assert.deepEqual(mc.packages.map((p) => p.id).sort(), [p2.id, p3.id].sort());
  // Return: IN_LOCKER → RETURNED, the door empties.
  const r = await t.call('ReturnPackage', { id: p1.id, reason: 'damaged' });
  assert.equal(r.state, 'PACKAGE_STATE_RETURNED');
  const after1 = await t.call('ListDoorContents', { location_id: l.id, door_id: single.id });
  assert.equal(after1.door.state, 'DOOR_STATE_EMPTY');
  assert.equal(after1.packages.length, 0);
  const b2 = await activityCount();
  await rejects(t.call('ReturnPackage', { id: p1.id }), Status.FAILED_PRECONDITION);
  await rejects(t.call('CollectPackages', { package_ids: [p1.id] }), Status.FAILED_PRECONDITION);
  await rejects(t.call('DeliverPackage', { id: p1.id, door_id: single.id }), Status.FAILED_PRECONDITION);
  // All or none: one bad package keeps the good one in the locker.
  await rejects(t.call('CollectPackages', { package_ids: [p2.id, p1.id] }), Status.FAILED_PRECONDITION);
  assert.equal((await t.call('GetPackage', { id: p2.id })).state, 'PACKAGE_STATE_IN_LOCKER');
  assert.equal(await activityCount(), b2);
  // hq collects one of two: the multi door stays occupied, then empties.
  const col = await t.call('CollectPackages', { package_ids: [p2.id] });
  assert.equal(col.packages[0].state, 'PACKAGE_STATE_COLLECTED');
  assert.equal((await t.call('ListDoorContents', { location_id: l.id, door_id: multi.id })).door.state, 'DOOR_STATE_OCCUPIED');
  await t.call('CollectPackages', { package_ids: [p3.id] });
  assert.equal((await t.call('ListDoorContents', { location_id: l.id, door_id: multi.id })).door.state, 'DOOR_STATE_EMPTY');
  await rejects(t.call('CollectPackages', { package_ids: [p3.id] }), Status.FAILED_PRECONDITION, /COLLECTED/);
  await rejects(t.call('ReturnPackage', { id: p3.id }), Status.FAILED_PRECONDITION);
  // Activity: every change, newest first, with the names copied in.
  const kinds = (await t.activity(p3.id)).map((a) => a.kind);
  assert.deepEqual(kinds, ['ACTIVITY_KIND_COLLECTED', 'ACTIVITY_KIND_DELIVERED', 'ACTIVITY_KIND_PACKAGE_REGISTERED']);
  const opened = (await t.call('SearchActivity', { location_id: l.id, kind: 'ACTIVITY_KIND_DOOR_OPENED' })).activities;
  assert.equal(opened.length, 2);
  assert.ok(opened.every((a) => a.door_id === multi.id && a.door_label === multi.label));
  const ret = (await t.activity(p1.id))[0];
  assert.equal(ret.kind, 'ACTIVITY_KIND_RETURNED');
  assert.equal(ret.detail, 'damaged');
  assert.equal(ret.door_label, single.label);
  assert.equal(ret.location_name, l.name);
  assert.equal(ret.barcode, p1.barcode);
  assert.equal(ret.actor_user_id, t.hqId);
});

test('technicians: see own and unassigned packages, collect only their own', async () => {
  const l = await t.location();
  const mine = await t.inLocker(l.id);
  const theirs = await t.inLocker(l.id);
  const free = await t.inLocker(l.id);
  await t.icall('SetPackageAssignee', { package_ids: [mine.pkg.id], assignee_user_id: t.techA, fencing_token: 1 }, t.hq, 'assign-svc');
  await t.icall('SetPackageAssignee', { package_ids: [theirs.pkg.id], assignee_user_id: t.techB, fencing_token: 1 }, t.hq, 'assign-svc');
  assert.equal((await t.call('GetPackage', { id: mine.pkg.id }, t.tokA)).assignee_user_id, t.techA);
  await t.call('GetPackage', { id: free.pkg.id }, t.tokA);
  await rejects(t.call('GetPackage', { id: theirs.pkg.id }, t.tokA), Status.NOT_FOUND);
  const listed = (await t.call('ListPackages', { location_id: l.id }, t.tokA)).packages.map((p) => p.id).sort();
  assert.deepEqual(listed, [mine.pkg.id, free.pkg.id].sort());
  const assigned = (await t.call('ListPackages', { location_id: l.id, assignment: 'ASSIGNMENT_FILTER_ASSIGNED' })).packages;
  assert.deepEqual(assigned.map((p) => p.id).sort(), [mine.pkg.id, theirs.pkg.id].sort());
  const unassigned = (await t.call('ListPackages', { location_id: l.id, assignment: 'ASSIGNMENT_FILTER_UNASSIGNED' })).packages;
  assert.deepEqual(unassigned.map((p) => p.id), [free.pkg.id]);
  const byB = (await t.call('ListPackages', { assignee_user_id: t.techB })).packages;
  assert.deepEqual(byB.map((p) => p.id), [theirs.pkg.id]);
  assert.equal((await t.call('ListDoorContents', { location_id: l.id, door_id: theirs.door.id }, t.tokA)).packages.length, 0);
  // Collect: another's is invisible, an unassigned one is not theirs to take.
  await rejects(t.call('CollectPackages', { package_ids: [theirs.pkg.id] }, t.tokA), Status.NOT_FOUND);
  await rejects(t.call('CollectPackages', { package_ids: [free.pkg.id] }, t.tokA), Status.PERMISSION_DENIED);
  const got = await t.call('CollectPackages', { package_ids: [mine.pkg.id] }, t.tokA);
  assert.equal(got.packages[0].state, 'PACKAGE_STATE_COLLECTED');
  const acts = await t.activity(mine.pkg.id);
  assert.equal(acts[0].kind, 'ACTIVITY_KIND_COLLECTED');
  assert.equal(acts[0].actor_user_id, t.techA);
  await rejects(t.call('SearchActivity', {}, t.tokA), Status.PERMISSION_DENIED);
});

test('bad input: enums, page sizes, tokens, lists', async () => {
  await rejects(t.call('ListPackages', { state: 99 }), Status.INVALID_ARGUMENT, /state/);
  await rejects(t.call('ListPackages', { assignment: 42 }), Status.INVALID_ARGUMENT, /assignment/);
  await rejects(t.call('SearchActivity', { kind: 77 }), Status.INVALID_ARGUMENT, /kind/);
  await rejects(t.call('ListPackages', { page_size: -1 }), Status.INVALID_ARGUMENT, /page_size/);
  await rejects(t.call('ListPackages', { query: 'q'.repeat(300) }), Status.INVALID_ARGUMENT, /query/);
  await rejects(t.call('ListPackages', { query: 'a\u0007b' }), Status.INVALID_ARGUMENT, /query/);
  await rejects(t.call('ListPackages', { door_id: 'x' }), Status.INVALID_ARGUMENT, /door_id/);
  await rejects(t.call('CollectPackages', { package_ids: [] }), Status.INVALID_ARGUMENT, /package_ids/);
  const id = c.uuid();
  await rejects(t.call('CollectPackages', { package_ids: [id, id] }), Status.INVALID_ARGUMENT, /package_ids/);
  await rejects(t.call('CollectPackages', { package_ids: [id] }), Status.NOT_FOUND);
  const big = (await t.call('ListPackages', { page_size: 100000 })).packages;
  assert.ok(Array.isArray(big));
  // A token of one query is refused for another.
  for (let i = 0; i < 3; i++) await t.pkg(loc.id);
  const p = await t.call('ListPackages', { location_id: loc.id, page_size: 1 });
  assert.ok(p.next_page_token);
  await rejects(t.call('ListPackages', { page_size: 1, page_token: p.next_page_token }), Status.INVALID_ARGUMENT, /page_token/);
  await rejects(other.call('ListPackages', { location_id: loc.id, page_size: 1, page_token: p.next_page_token }), Status.INVALID_ARGUMENT);
});
