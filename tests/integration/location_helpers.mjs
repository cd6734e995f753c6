// Shared setup of the location-svc integration tests (location_*.test.mjs):
// a tenant with an hq user and technicians, a location with doors, and the
// signed service-caller metadata the internal RPCs require.
import crypto from 'node:crypto';
import assert from 'node:assert/strict';
import { grpc } from '../../scripts/lib/cluster.mjs';

export const Status = grpc.status;

// x-kn-caller / x-kn-caller-sig as kn_call_downstream signs them.
export function callerMeta(c, token, caller = 'order-svc') {
  const sig = crypto.createHmac('sha256', c.env.KN_INTERNAL_SECRET)
    .update(`${caller}\n${token}`).digest('base64url');
  return { 'x-kn-caller': caller, 'x-kn-caller-sig': sig };
}

// Rejects with code (and, when given, a message matching re).
export async function rejects(promise, code, re) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.details}`);
    if (re) assert.match(e.details, re);
    return e;
  }
  assert.fail(`expected gRPC code ${code}, call succeeded`);
}

let seq = 0;
export const uniq = (p = 'X') => `${p}${Date.now().toString(36)}${(seq++).toString(36)}`.toUpperCase();

// A tenant: tokens for hq and two technicians, and helpers bound to them.
export function tenant(c) {
  const t = {
    id: c.uuid(),
    hqId: c.uuid(),
    techA: c.uuid(),
    techB: c.uuid(),
  };
  t.hq = c.token({ tenant: t.id, sub: t.hqId, role: 'hq' });
  t.tokA = c.token({ tenant: t.id, sub: t.techA, role: 'technician' });
  t.tokB = c.token({ tenant: t.id, sub: t.techB, role: 'technician' });
  const loc = c.client('location');
  t.call = (m, req, tok = t.hq, opts) => c.call(loc, m, req, tok, opts);
  // Internal call, signed as order-svc (or another caller).
  t.icall = (m, req, tok = t.hq, caller = 'order-svc') =>
    c.call(loc, m, req, tok, { metadata: callerMeta(c, tok, caller) });
  t.location = async (over = {}, tok = t.hq) => t.call('CreateLocation', {
    name: `Depot ${uniq('L')}`, code: uniq('C'), address: 'Street 1', time_zone: 'Europe/Stockholm', ...over,
  }, tok);
  t.door = async (locationId, over = {}, tok = t.hq) => t.call('CreateDoor', {
    location_id: locationId, label: uniq('D'), size: 'DOOR_SIZE_M', ...over,
  }, tok);
  t.pkg = async (locationId, over = {}, tok = t.hq) => t.call('RegisterPackage', {
    location_id: locationId, barcode: uniq('BC'), tracking_number: uniq('TN'), carrier: 'PostNord',
    description: 'a part', ...over,
  }, tok);
  // A package delivered into a fresh door.
  t.inLocker = async (locationId, over = {}) => {
    const d = await t.door(locationId);
    const p = await t.pkg(locationId, over);
    const q = await t.call('DeliverPackage', { id: p.id, door_id: d.id });
    return { door: d, pkg: q };
  };
  t.activity = async (packageId) => (await t.call('SearchActivity', { package_id: packageId, page_size: 500 })).activities;
  return t;
}
