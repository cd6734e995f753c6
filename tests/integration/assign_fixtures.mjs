// Shared set-up of the assign-svc integration tests (not a test file):
// a tenant with technicians, a location with packages, and orders.
import assert from 'node:assert/strict';

export async function makeTenant(c) {
  const tenant = c.uuid();
  const hqId = c.uuid();
  const hq = c.token({ tenant, sub: hqId, role: 'hq' });
  return { tenant, hqId, hq };
}

// Creates n users (technicians unless role is given) and their tokens.
export async function makeUsers(c, t, n, { role = 'USER_ROLE_TECHNICIAN', prefix = 'tech' } = {}) {
  const a = c.client('assign');
  const us = await Promise.all(Array.from({ length: n }, (_, i) => c.call(a, 'CreateUser', {
    display_name: `${prefix} ${i}`, email: `${prefix}${i}.${t.tenant.slice(0, 8)}@x.example`, role,
  }, t.hq)));
  return us.map((u) => ({
    id: u.id, token: c.token({ tenant: t.tenant, sub: u.id, role: role === 'USER_ROLE_HQ' ? 'hq' : 'technician' }),
  }));
}

export async function makeLocation(c, t) {
  const l = c.client('location');
  const loc = await c.call(l, 'CreateLocation', {
    name: `Site ${t.tenant.slice(0, 6)}`, code: `S${Math.floor(Math.random() * 1e6)}`, address: 'Gatan 1', time_zone: 'Europe/Stockholm',
  }, t.hq);
  return loc.id;
}

export async function makePackages(c, t, locationId, n) {
  const l = c.client('location');
  const ps = await Promise.all(Array.from({ length: n }, () => c.call(l, 'RegisterPackage', {
    barcode: `BC-${c.uuid().slice(0, 13)}`, tracking_number: `TN-${c.uuid().slice(0, 8)}`, carrier: 'PostNord',
    description: 'part', location_id: locationId,
  }, t.hq)));
  return ps.map((p) => p.id);
}

// n job orders with k packages each at one location.
export async function makeOrders(c, t, n, k, locationId) {
  const o = c.client('order');
  const loc = locationId ?? await makeLocation(c, t);
  const orders = await Promise.all(Array.from({ length: n }, async () => {
    const pk = await makePackages(c, t, loc, k);
    const ord = await c.call(o, 'CreateOrder', {
      type: 'ORDER_TYPE_JOB', location_id: loc, package_ids: pk, request_id: c.uuid(),
    }, t.hq);
    assert.equal(ord.assignee_user_id, '');
    return { id: ord.id, packages: pk };
  }));
  return { location: loc, orders };
}

// The invariant of SPEC §3: the order, its packages and the ledger agree.
export async function checkOrder(c, t, order, { expect } = {}) {
  const got = await c.call(c.client('order'), 'GetOrder', { id: order.id }, t.hq);
  const who = got.assignee_user_id;
  if (expect !== undefined) assert.equal(who, expect, `order ${order.id} assignee`);
  for (const pid of got.package_ids) {
    const p = await c.call(c.client('location'), 'GetPackage', { id: pid }, t.hq);
    assert.equal(p.assignee_user_id, who, `package ${pid} of order ${order.id} follows its order`);
  }
  const led = await c.call(c.client('assign'), 'ListAssignments', { order_id: order.id, page_size: 500 }, t.hq);
  const done = led.assignments.filter((e) => e.state === 'ASSIGNMENT_STATE_DONE');
  assert.equal(led.assignments.filter((e) => e.state === 'ASSIGNMENT_STATE_PENDING').length, 0,
    `no pending ledger entry left for order ${order.id}`);
  if (done.length) assert.equal(done[0].after_user_id, who, `newest done ledger entry of ${order.id} agrees with order-svc`);
  else assert.equal(who, '', `order ${order.id} has no ledger entry but an assignee`);
  return { assignee: who, ledger: led.assignments, order: got };
}

export function codeOf(p) {
  return p.then(() => 0, (e) => {
    if (typeof e.code !== 'number') throw e;
    return e.code;
  });
}
