// Shared helpers of the order_*.test.mjs files (not a test file itself).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { grpc } from '../../scripts/lib/cluster.mjs';

export const CODE = grpc.status;

export async function expectCode(promise, code, fieldRe) {
  let err = null;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${code} but the call succeeded`);
  assert.equal(err.code, code, `expected code ${code}, got ${err.code}: ${err.details}`);
  if (fieldRe) assert.match(err.details, fieldRe);
  return err;
}

// A tenant with an hq user, two technicians, and a location with doors.
export async function makeTenant(c, { timeZone = 'Europe/Stockholm' } = {}) {
  const tenant = c.uuid();
  const hqUser = c.uuid();
  const techA = c.uuid();
  const techB = c.uuid();
  const t = {
    tenant, hqUser, techA, techB,
    hq: c.token({ tenant, sub: hqUser, role: 'hq' }),
    tA: c.token({ tenant, sub: techA, role: 'technician' }),
    tB: c.token({ tenant, sub: techB, role: 'technician' }),
    loc: c.client('location'),
    ord: c.client('order'),
  };
  t.location = await c.call(t.loc, 'CreateLocation', {
    request_id: c.uuid(), name: `Site ${tenant.slice(0, 8)}`, code: `S${tenant.slice(0, 6)}`,
    address: 'Street 1', time_zone: timeZone,
  }, t.hq);
  t.doorSeq = 0;
  return t;
}

// Registers and delivers a package at t.location (or the given location).
export async function makePackage(c, t, locationId = t.location.id) {
  const n = ++t.doorSeq;
  const door = await c.call(t.loc, 'CreateDoor', {
    location_id: locationId, label: `D${n}-${crypto.randomBytes(3).toString('hex')}`,
    size: 'DOOR_SIZE_M', multi_item: false,
  }, t.hq);
  const pkg = await c.call(t.loc, 'RegisterPackage', {
    request_id: c.uuid(), barcode: `BC${crypto.randomBytes(6).toString('hex')}`,
    tracking_number: `TN${crypto.randomBytes(6).toString('hex')}`, carrier: 'PostNord',
    description: 'part', location_id: locationId,
  }, t.hq);
  await c.call(t.loc, 'DeliverPackage', { id: pkg.id, door_id: door.id }, t.hq);
  return pkg.id;
}

export async function makeJobOrder(c, t, { packages = 1, identifier = '', requestId = '' } = {}) {
  const ids = [];
  for (let i = 0; i < packages; i++) ids.push(await makePackage(c, t));
  return c.call(t.ord, 'CreateOrder', {
    request_id: requestId, type: 'ORDER_TYPE_JOB', identifier, location_id: t.location.id,
    package_ids: ids,
  }, t.hq);
}

// x-kn-caller-sig as kn_call_downstream computes it: the signature of an
// internal call from assign-svc.
export function internalMetadata(c, token, caller = 'assign-svc') {
  const sig = crypto.createHmac('sha256', c.internalSecret).update(`${caller}\n${token}`)
    .digest('base64url');
  return { 'x-kn-caller': caller, 'x-kn-caller-sig': sig };
}

export async function setAssignee(c, t, orderId, userId, fencingToken, token = t.hq) {
  return c.call(t.ord, 'SetAssignee', {
    order_id: orderId, assignee_user_id: userId, fencing_token: String(fencingToken),
  }, token, { metadata: internalMetadata(c, token) });
}

// Bulk SQL seeding straight into order-svc's database: `n` orders of one
// tenant spread over locations, assignees, statuses, types and 90 days.
export async function seedOrders(c, tenant, n, { locations, users, zones = ['UTC'], days = 90 } = {}) {
  await c.sql('order', `
    INSERT INTO orders (id, tenant_id, type, identifier, status, location_id, time_zone,
      assignee_user_id, version, create_time, create_date, update_time, collect_time, cancel_time)
    SELECT gen_random_uuid(), $1::uuid, t.type, 'S-' || replace(gen_random_uuid()::text, '-', ''), t.status, t.loc, t.tz, t.assignee, 1,
      t.ct, (t.ct AT TIME ZONE t.tz)::date, t.ct,
      CASE WHEN t.status = 2 THEN t.ct END, CASE WHEN t.status = 3 THEN t.ct END
    FROM generate_series(1, $2::int) g,
    LATERAL (SELECT
      1 + ((g / 10) % 2) AS type,
      CASE WHEN g % 10 < 7 THEN 1 WHEN g % 10 < 9 THEN 2 ELSE 3 END AS status,
      ($3::uuid[])[1 + (g * 7) % cardinality($3::uuid[])] AS loc,
      ($5::text[])[1 + (g * 3) % cardinality($5::text[])] AS tz,
      CASE WHEN g % 3 = 0 THEN NULL ELSE ($4::uuid[])[1 + (g * 13) % cardinality($4::uuid[])] END
        AS assignee,
      now() - make_interval(secs => (g::double precision * 86400 * $6::int) / $2::int) AS ct
    ) t`, [tenant, n, locations, users, zones, days]);
  await c.sql('order', 'ANALYZE orders');
}
