// The HTTP/JSON API of SPEC §6 through the gateway, with the real services
// behind: every route, the gRPC -> HTTP status mapping, the proto3 JSON
// mapping, Idempotency-Key, ETag / If-Match, the create-and-assign saga,
// mass-assignment refusals, CORS, static files, probes and metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster } from '../../scripts/lib/cluster.mjs';
import { http, expectError, expectOk, createTenant, rand, rawRequest } from './gateway_helpers.mjs';

const ORIGIN = 'http://hq.example';
let c;
let api;
let tenant;
let hq; // token from POST /v1/login
let tech; // { user, token }
let tech2;
let loc;

async function login(tenantCode, email, password) {
  return api('POST', '/v1/login', { body: { tenant: tenantCode, email, password } });
}

async function makeUser(role, name) {
  const email = `${name}-${rand()}@acme.example`;
  const password = `pw-${rand(8)}`;
  const u = expectOk(await api('POST', '/v1/users', {
    token: hq,
    headers: { 'Idempotency-Key': `user-${rand()}` },
    body: { displayName: name, email, employeeNumber: `E${rand(3)}`, role, password },
  }));
  const l = expectOk(await login('acme', email, password));
  return { user: u, token: l.token, email, password };
}

let doorSeq = 0;
async function makePackage(locationId = loc.id) {
  const door = expectOk(await api('POST', `/v1/locations/${locationId}/doors`, {
    token: hq, body: { label: `D${++doorSeq}-${rand(2)}`, size: 'DOOR_SIZE_M', multiItem: false },
  }));
  const pkg = expectOk(await api('POST', '/v1/packages', {
    token: hq,
    headers: { 'Idempotency-Key': `pkg-${rand()}` },
    body: { barcode: `BC${rand(6)}`, trackingNumber: `TN${rand(6)}`, carrier: 'PostNord', description: 'part', locationId },
  }));
  expectOk(await api('POST', `/v1/packages/${pkg.id}:deliver`, { token: hq, body: { doorId: door.id } }));
  return { pkg, door };
}

before(async () => {
  c = await startCluster({
    services: ['location', 'order', 'assign'],
    gateway: true,
    serviceEnv: { gateway: { KN_CORS_ORIGINS: `${ORIGIN}, http://other.example` } },
  });
  api = http(c);
  tenant = createTenant(c, 'acme', 'boss@acme.example', 'boss-password-1');
  const l = expectOk(await login('acme', 'boss@acme.example', 'boss-password-1'));
  hq = l.token;
  tech = await makeUser('USER_ROLE_TECHNICIAN', 'Tina');
  tech2 = await makeUser('USER_ROLE_TECHNICIAN', 'Tom');
  loc = expectOk(await api('POST', '/v1/locations', {
    token: hq,
    headers: { 'Idempotency-Key': `loc-${rand()}` },
    body: { name: 'Central', code: `C${rand(2)}`, address: 'Main street 1', timeZone: 'Europe/Stockholm' },
  }));
});

after(async () => {
  await c?.stop();
});

test('healthz, readyz, openapi.yaml and the request id', async () => {
  const h = await api('GET', '/healthz');
  assert.deepEqual(expectOk(h), { status: 'ok' });
  assert.match(h.headers.get('x-request-id'), /^[0-9a-f-]{36}$/);
  const r = await api('GET', '/readyz', { headers: { 'X-Request-Id': 'my-req-1' } });
  assert.equal(r.headers.get('x-request-id'), 'my-req-1');
  assert.deepEqual(expectOk(r), { status: 'ok', services: { order: 'SERVING', assign: 'SERVING', location: 'SERVING' } });
  const o = await api('GET', '/openapi.yaml');
  assert.equal(o.status, 200);
  assert.match(o.headers.get('content-type'), /yaml/);
  assert.match(o.text, /^openapi: "3\.1\.0"$/m);
});

test('login: a token for the user, one answer for every wrong part', async () => {
  const l = expectOk(await login('ACME', 'Boss@acme.example', 'boss-password-1'));
  assert.equal(typeof l.token, 'string');
  const exp = Date.parse(l.expiresAt);
  assert.ok(exp > Date.now() + 800_000 && exp <= Date.now() + 901_000, l.expiresAt);
  assert.equal(l.user.id, tenant.user_id);
  assert.equal(l.user.tenantId, tenant.tenant_id);
  assert.equal(l.user.role, 'USER_ROLE_HQ');
  assert.equal(l.user.active, true);
  assert.ok(!('password' in l.user) && !('passwordHash' in l.user));
  const claims = JSON.parse(Buffer.from(l.token.split('.')[1], 'base64url'));
  assert.equal(claims.sub, tenant.user_id);
  assert.equal(claims.tenant, tenant.tenant_id);
  assert.equal(claims.role, 'hq');
  assert.equal(tech.user.role, 'USER_ROLE_TECHNICIAN');
  assert.equal(JSON.parse(Buffer.from(tech.token.split('.')[1], 'base64url')).role, 'technician');

  const wrong = [
    ['acme', 'boss@acme.example', 'wrong-password-1'],
    ['nosuch', 'boss@acme.example', 'boss-password-1'],
    ['acme', 'nobody@acme.example', 'boss-password-1'],
  ];
  const messages = new Set();
  for (const [t, e, p] of wrong) {
    const r = await login(t, e, p);
    expectError(r, 401, 16);
    messages.add(r.json.message);
  }
  assert.equal(messages.size, 1);
  expectError(await api('POST', '/v1/login', { body: { tenant: 'acme', email: 'x' } }), 400, 3, /password/);
  expectError(await api('POST', '/v1/login', { body: { tenant: 'acme', email: 'x', password: 'y', role: 'hq' } }), 400, 3, /"role"/);
  expectError(await api('POST', '/v1/login', { body: '{"tenant":' }), 400, 3);
});

test('authentication and the status mapping', async () => {
  expectError(await api('GET', '/v1/orders'), 401, 16);
  const noTok = await api('GET', '/v1/orders', { headers: { authorization: 'Basic abc' } });
  expectError(noTok, 401, 16);
  assert.equal(noTok.headers.get('www-authenticate'), 'Bearer');
  expectError(await api('GET', '/v1/orders', { token: 'a.b.c' }), 401, 16);
  const expired = c.token({ tenant: tenant.tenant_id, sub: tenant.user_id, role: 'hq', exp: 1000 });
  expectError(await api('GET', '/v1/orders', { token: expired }), 401, 16);
  const forged = c.token({ tenant: tenant.tenant_id, sub: tenant.user_id, role: 'hq' }, { secret: 'not-the-secret-at-all-1234567890' });
  expectError(await api('GET', '/v1/orders', { token: forged }), 401, 16);

  expectError(await api('GET', `/v1/orders/${c.uuid()}`, { token: hq }), 404, 5);
  expectError(await api('GET', '/v1/orders/not-a-uuid', { token: hq }), 400, 3, /id/);
  expectError(await api('POST', '/v1/users', { token: tech.token, body: { displayName: 'X', email: 'x@acme.example', role: 'USER_ROLE_HQ', password: 'long-enough-1' } }), 403, 7);
  expectError(await api('DELETE', '/v1/orders', { token: hq }), 405, 12);
  const del = await api('DELETE', `/v1/orders/${c.uuid()}`, { token: hq });
  expectError(del, 405, 12);
  assert.equal(del.headers.get('allow'), 'GET, PATCH');
  expectError(await api('GET', '/v1/nothing', { token: hq }), 404, 5);
  // A foreign tenant's order is NOT_FOUND, never PERMISSION_DENIED.
  const { pkg } = await makePackage();
  const o = expectOk(await api('POST', '/v1/orders', { token: hq, body: { type: 'ORDER_TYPE_JOB', locationId: loc.id, packageIds: [pkg.id] } }));
  const other = c.token({ tenant: c.uuid(), sub: c.uuid(), role: 'hq' });
  expectError(await api('GET', `/v1/orders/${o.id}`, { token: other }), 404, 5);
  // Wrong state: FAILED_PRECONDITION -> 409.
  expectOk(await api('POST', `/v1/orders/${o.id}:cancel`, { token: hq, body: { reason: 'test' } }));
  expectError(await api('POST', `/v1/orders/${o.id}:cancel`, { token: hq, body: {} }), 409, 9);
});

test('request bodies: unknown, output-only and mistyped fields answer 400 naming the field', async () => {
  const base = { type: 'ORDER_TYPE_JOB', locationId: loc.id, packageIds: [c.uuid()] };
  for (const [field, value] of [['id', c.uuid()], ['tenantId', c.uuid()], ['status', 'ORDER_STATUS_COLLECTED'], ['etag', 'x'],
    ['createTime', '2024-01-01T00:00:00Z'], ['updateTime', '2024-01-01T00:00:00Z'], ['requestId', 'k'], ['tenant_id', c.uuid()], ['bogus', 1]]) {
    const r = await api('POST', '/v1/orders', { token: hq, body: { ...base, [field]: value } });
    expectError(r, 400, 3, new RegExp(`"${field}"`));
  }
  expectError(await api('POST', '/v1/orders', { token: hq, body: { ...base, type: 'JOB' } }), 400, 3, /"type"/);
  expectError(await api('POST', '/v1/orders', { token: hq, body: { ...base, stockLines: [{ sku: 'a', quantity: 'many' }] } }), 400, 3, /stockLines\[0\]\.quantity/);
  expectError(await api('POST', '/v1/orders', { token: hq, body: { ...base, packageIds: 'p' } }), 400, 3, /packageIds/);
  expectError(await api('POST', '/v1/orders', { token: hq, body: '[1,2]' }), 400, 3);
  expectError(await api('POST', '/v1/orders', { token: hq, body: '{"type": "ORDER_TYPE_JOB", "type": "ORDER_TYPE_JOB"}' }), 400, 3, /duplicate/);
  expectError(await api('POST', '/v1/orders', { token: hq, body: 'type=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 3);
  // The path variable may not be overridden from the body.
  expectError(await api('POST', `/v1/orders/${c.uuid()}:assign`, { token: hq, body: { orderId: c.uuid(), userId: tech.user.id } }), 400, 3, /"orderId"/);
  expectError(await api('PATCH', `/v1/users/${tech.user.id}`, { token: hq, body: { id: c.uuid() } }), 400, 3, /"id"/);
  expectError(await api('PATCH', `/v1/users/${tech.user.id}`, { token: hq, body: { role: 'USER_ROLE_HQ' } }), 400, 3, /"role"/);
  const gb = await rawRequest(c, [`GET /v1/orders/${c.uuid()} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${hq}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`]);
  assert.match(gb.data, /^HTTP\/1\.1 400 .*takes no body/s);
  // Query parameters: unknown ones and bad values.
  expectError(await api('GET', '/v1/orders?colour=red', { token: hq }), 400, 3, /colour/);
  expectError(await api('GET', '/v1/orders?status=DONE', { token: hq }), 400, 3, /status/);
  expectError(await api('GET', '/v1/orders?pageSize=ten', { token: hq }), 400, 3, /pageSize/);
  expectError(await api('GET', `/v1/orders/${c.uuid()}?x=1`, { token: hq }), 400, 3, /"x"/);
});

test('users: create (idempotent), get, list, update', async () => {
  const key = `u-${rand()}`;
  const body = { displayName: 'Ulla Tekniker', email: `ulla-${rand()}@acme.example`, employeeNumber: 'E-77', role: 'USER_ROLE_TECHNICIAN', password: 'ulla-password-1' };
  const u = expectOk(await api('POST', '/v1/users', { token: hq, headers: { 'Idempotency-Key': key }, body }));
  assert.equal(u.displayName, 'Ulla Tekniker');
  assert.equal(u.tenantId, tenant.tenant_id);
  assert.match(u.createTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  assert.ok(!('password' in u));
  const again = expectOk(await api('POST', '/v1/users', { token: hq, headers: { 'Idempotency-Key': key }, body }));
  assert.equal(again.id, u.id);
  assert.equal(expectOk(await api('GET', `/v1/users/${u.id}`, { token: hq })).email, body.email);
  const list = expectOk(await api('GET', `/v1/users?query=${encodeURIComponent('ulla tek')}&role=TECHNICIAN&pageSize=10`, { token: hq }));
  assert.ok(list.users.some((x) => x.id === u.id));
  assert.equal(typeof list.nextPageToken, 'string');
  const up = expectOk(await api('PATCH', `/v1/users/${u.id}`, { token: hq, body: { displayName: 'Ulla T', active: false } }));
  assert.equal(up.displayName, 'Ulla T');
  assert.equal(up.active, false);
  expectError(await login('acme', body.email, body.password), 401, 16);
});

test('locations, doors, door contents and stock', async () => {
  assert.equal(loc.timeZone, 'Europe/Stockholm');
  assert.equal(expectOk(await api('GET', `/v1/locations/${loc.id}`, { token: hq })).name, 'Central');
  const list = expectOk(await api('GET', '/v1/locations?query=centr', { token: hq }));
  assert.ok(list.locations.some((l) => l.id === loc.id));
  const { pkg, door } = await makePackage();
  assert.equal(door.size, 'DOOR_SIZE_M');
  assert.equal(door.state, 'DOOR_STATE_EMPTY');
  const doors = expectOk(await api('GET', `/v1/locations/${loc.id}/doors?pageSize=500`, { token: hq }));
  assert.ok(doors.doors.some((d) => d.id === door.id && d.state === 'DOOR_STATE_OCCUPIED'));
  const contents = expectOk(await api('GET', `/v1/locations/${loc.id}/doors/${door.id}/contents`, { token: hq }));
  assert.equal(contents.door.id, door.id);
  assert.deepEqual(contents.packages.map((p) => p.id), [pkg.id]);
  assert.equal(contents.packages[0].state, 'PACKAGE_STATE_IN_LOCKER');
  const upd = expectOk(await api('PATCH', `/v1/locations/${loc.id}/doors/${door.id}`, { token: hq, body: { multiItem: true, updateMultiItem: true } }));
  assert.equal(upd.multiItem, true);
  const item = expectOk(await api('POST', `/v1/locations/${loc.id}/stock:adjust`, { token: hq, body: { sku: 'SKU-9', delta: 7, reason: 'delivery', description: 'Fuse 10A' } }));
  assert.equal(item.quantityOnHand, 7);
  const stock = expectOk(await api('GET', `/v1/locations/${loc.id}/stock`, { token: hq }));
  assert.ok(stock.items.some((i) => i.sku === 'SKU-9' && i.quantityOnHand === 7));
  // A stock order reserves it.
  const so = expectOk(await api('POST', '/v1/orders', { token: hq, body: { type: 'ORDER_TYPE_STOCK', locationId: loc.id, stockLines: [{ sku: 'SKU-9', quantity: 2 }] } }));
  assert.equal(so.type, 'ORDER_TYPE_STOCK');
  assert.match(so.identifier, /^SO-\d+/);
  assert.deepEqual(so.stockLines, [{ sku: 'SKU-9', quantity: 2 }]);
});

test('packages: register (idempotent), get, list, assign, unassign, return, activity', async () => {
  const key = `p-${rand()}`;
  const body = { barcode: `BC${rand(6)}`, trackingNumber: `TN${rand(6)}`, carrier: 'DHL', description: 'valve', locationId: loc.id };
  const p = expectOk(await api('POST', '/v1/packages', { token: hq, headers: { 'Idempotency-Key': key }, body }));
  assert.equal(p.state, 'PACKAGE_STATE_EXPECTED');
  assert.equal(expectOk(await api('POST', '/v1/packages', { token: hq, headers: { 'Idempotency-Key': key }, body })).id, p.id);
  const door = expectOk(await api('POST', `/v1/locations/${loc.id}/doors`, { token: hq, body: { label: `R${rand(2)}`, size: 'DOOR_SIZE_S' } }));
  const d = expectOk(await api('POST', `/v1/packages/${p.id}:deliver`, { token: hq, body: { doorId: door.id } }));
  assert.equal(d.state, 'PACKAGE_STATE_IN_LOCKER');
  assert.equal(d.doorId, door.id);
  assert.equal(expectOk(await api('GET', `/v1/packages/${p.id}`, { token: hq })).barcode, body.barcode);
  const list = expectOk(await api('GET', `/v1/packages?locationId=${loc.id}&state=IN_LOCKER&assignment=UNASSIGNED&pageSize=500`, { token: hq }));
  assert.ok(list.packages.some((x) => x.id === p.id));
  expectOk(await api('POST', `/v1/packages/${p.id}:assign`, { token: hq, body: { userId: tech.user.id } }));
  assert.equal(expectOk(await api('GET', `/v1/packages/${p.id}`, { token: hq })).assigneeUserId, tech.user.id);
  const mine = expectOk(await api('GET', `/v1/packages?assignment=ASSIGNED&assigneeUserId=${tech.user.id}`, { token: hq }));
  assert.ok(mine.packages.some((x) => x.id === p.id));
  expectOk(await api('POST', `/v1/packages/${p.id}:unassign`, { token: hq }));
  assert.equal(expectOk(await api('GET', `/v1/packages/${p.id}`, { token: hq })).assigneeUserId, '');
  const ret = expectOk(await api('POST', `/v1/packages/${p.id}:return`, { token: hq, body: { reason: 'damaged' } }));
  assert.equal(ret.state, 'PACKAGE_STATE_RETURNED');
  const act = expectOk(await api('GET', `/v1/activity?query=${body.barcode}&pageSize=50`, { token: hq }));
  const kinds = act.activities.map((a) => a.kind);
  for (const k of ['ACTIVITY_KIND_PACKAGE_REGISTERED', 'ACTIVITY_KIND_DELIVERED', 'ACTIVITY_KIND_ASSIGNED', 'ACTIVITY_KIND_RETURNED']) assert.ok(kinds.includes(k), `${k} in ${kinds}`);
  const byPkg = expectOk(await api('GET', `/v1/activity?packageId=${p.id}&kind=DELIVERED&from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00%2B01:00`, { token: hq }));
  assert.deepEqual(byPkg.activities.map((a) => a.kind), ['ACTIVITY_KIND_DELIVERED']);
  expectError(await api('GET', '/v1/activity?from=yesterday', { token: hq }), 400, 3, /from/);
  const assignments = expectOk(await api('GET', `/v1/assignments?packageId=${p.id}`, { token: hq }));
  assert.ok(assignments.assignments.length >= 2);
  assert.match(assignments.assignments[0].fencingToken, /^\d+$/);
});

test('orders: create with Idempotency-Key, 422 on another body, get with ETag, list filters', async () => {
  const { pkg } = await makePackage();
  const key = `o-${rand()}`;
  const body = { type: 'ORDER_TYPE_JOB', locationId: loc.id, packageIds: [pkg.id] };
  const r = await api('POST', '/v1/orders', { token: hq, headers: { 'Idempotency-Key': key }, body });
  const o = expectOk(r);
  assert.equal(o.status, 'ORDER_STATUS_ACTIVE');
  assert.match(o.identifier, /^JO-\d+/);
  assert.deepEqual(o.packageIds, [pkg.id]);
  assert.equal(o.assigneeUserId, '');
  const again = expectOk(await api('POST', '/v1/orders', { token: hq, headers: { 'Idempotency-Key': key }, body }));
  assert.equal(again.id, o.id);
  const other = await makePackage();
  expectError(await api('POST', '/v1/orders', { token: hq, headers: { 'Idempotency-Key': key }, body: { ...body, packageIds: [other.pkg.id] } }), 422, 6, /request_id/);

  const g = await api('GET', `/v1/orders/${o.id}`, { token: hq });
  assert.equal(expectOk(g).id, o.id);
  assert.equal(g.headers.get('etag'), `"${o.etag}"`);

  const list = expectOk(await api('GET', `/v1/orders?status=ACTIVE&assignment=UNASSIGNED&locationId=${loc.id}&type=ORDER_TYPE_JOB&pageSize=100000`, { token: hq }));
  assert.ok(list.orders.some((x) => x.id === o.id));
  assert.ok(list.orders.every((x) => x.status === 'ORDER_STATUS_ACTIVE' && x.assigneeUserId === ''));
  // Empty values (an HTML form's unset filters) mean "not set".
  const blank = expectOk(await api('GET', `/v1/orders?status=&assignment=&assigneeUserId=&locationId=${loc.id}&startDate=&endDate=&type=&pageSize=&pageToken=`, { token: hq }));
  assert.ok(blank.orders.some((x) => x.id === o.id));
  const cancelled = expectOk(await api('GET', `/v1/orders?status=ORDER_STATUS_CANCELLED&locationId=${loc.id}`, { token: hq }));
  assert.ok(!cancelled.orders.some((x) => x.id === o.id));
  const today = new Date().toISOString().slice(0, 10);
  const dated = expectOk(await api('GET', `/v1/orders?startDate=2000-01-01&endDate=2999-12-31&locationId=${loc.id}`, { token: hq }));
  assert.ok(dated.orders.some((x) => x.id === o.id), today);
  // Paging: pageSize 1 gives a token that leads on.
  const p1 = expectOk(await api('GET', `/v1/orders?pageSize=1&locationId=${loc.id}`, { token: hq }));
  assert.equal(p1.orders.length, 1);
  assert.ok(p1.nextPageToken);
  const p2 = expectOk(await api('GET', `/v1/orders?pageSize=1&locationId=${loc.id}&pageToken=${encodeURIComponent(p1.nextPageToken)}`, { token: hq }));
  assert.notEqual(p2.orders[0].id, p1.orders[0].id);
});

test('orders: PATCH with If-Match (412 stale, 428 missing), packages add/remove, history', async () => {
  const a = await makePackage();
  const b = await makePackage();
  const o = expectOk(await api('POST', '/v1/orders', { token: hq, body: { type: 'ORDER_TYPE_JOB', locationId: loc.id, packageIds: [a.pkg.id] } }));
  expectError(await api('PATCH', `/v1/orders/${o.id}`, { token: hq, body: { identifier: `X-${rand()}` } }), 428, 9);
  const ident = `JOB-${rand()}`;
  const p = await api('PATCH', `/v1/orders/${o.id}`, { token: hq, headers: { 'If-Match': `"${o.etag}"` }, body: { identifier: ident } });
  const up = expectOk(p);
  assert.equal(up.identifier, ident);
  assert.notEqual(up.etag, o.etag);
  assert.equal(p.headers.get('etag'), `"${up.etag}"`);
  const stale = await api('PATCH', `/v1/orders/${o.id}`, { token: hq, headers: { 'If-Match': `"${o.etag}"` }, body: { identifier: `Y-${rand()}` } });
  expectError(stale, 412, 10);
  assert.equal(expectOk(await api('GET', `/v1/orders/${o.id}`, { token: hq })).identifier, ident);
  const added = expectOk(await api('POST', `/v1/orders/${o.id}/packages:add`, { token: hq, headers: { 'If-Match': up.etag }, body: { packageIds: [b.pkg.id] } }));
  assert.deepEqual([...added.packageIds].sort(), [a.pkg.id, b.pkg.id].sort());
  expectError(await api('POST', `/v1/orders/${o.id}/packages:remove`, { token: hq, headers: { 'If-Match': up.etag }, body: { packageIds: [a.pkg.id] } }), 412, 10);
  const removed = expectOk(await api('POST', `/v1/orders/${o.id}/packages:remove`, { token: hq, body: { packageIds: [a.pkg.id] } }));
  assert.deepEqual(removed.packageIds, [b.pkg.id]);
  const h = expectOk(await api('GET', `/v1/orders/${o.id}/history?pageSize=50`, { token: hq }));
  const kinds = h.entries.map((e) => e.kind);
  for (const k of ['ORDER_HISTORY_KIND_CREATED', 'ORDER_HISTORY_KIND_IDENTIFIER_CHANGED', 'ORDER_HISTORY_KIND_PACKAGES_ADDED', 'ORDER_HISTORY_KIND_PACKAGES_REMOVED']) assert.ok(kinds.includes(k), `${k} in ${kinds}`);
  assert.ok(h.entries.every((e) => e.orderId === o.id && typeof e.time === 'string'));
});

test('orders: assign, unassign, take (one winner), collect, cancel', async () => {
  const a = await makePackage();
  const o = expectOk(await api('POST', '/v1/orders', { token: hq, body: { type: 'ORDER_TYPE_JOB', locationId: loc.id, packageIds: [a.pkg.id] } }));
  const asg = expectOk(await api('POST', `/v1/orders/${o.id}:assign`, { token: hq, body: { userId: tech.user.id } }));
  assert.equal(asg.afterUserId, tech.user.id);
  assert.equal(asg.target, 'ASSIGNMENT_TARGET_ORDER');
  assert.equal(expectOk(await api('GET', `/v1/orders/${o.id}`, { token: hq })).assigneeUserId, tech.user.id);
  assert.equal(expectOk(await api('GET', `/v1/packages/${a.pkg.id}`, { token: hq })).assigneeUserId, tech.user.id);
  expectOk(await api('POST', `/v1/orders/${o.id}:unassign`, { token: hq }));
  assert.equal(expectOk(await api('GET', `/v1/orders/${o.id}`, { token: hq })).assigneeUserId, '');
  expectError(await api('POST', `/v1/orders/${o.id}:assign`, { token: hq, body: { userId: c.uuid() } }), 404, 5);

  // Two technicians take the same order at once: exactly one wins.
  const [r1, r2] = await Promise.all([
    api('POST', `/v1/orders/${o.id}:take`, { token: tech.token }),
    api('POST', `/v1/orders/${o.id}:take`, { token: tech2.token }),
  ]);
  const oks = [r1, r2].filter((r) => r.status === 200);
  assert.equal(oks.length, 1, `${r1.status} ${r1.text} / ${r2.status} ${r2.text}`);
  const loser = [r1, r2].find((r) => r.status !== 200);
  assert.equal(loser.status, 409, loser.text);
  assert.ok([9, 10].includes(loser.json.code));
  const winner = r1.status === 200 ? tech : tech2;
  const collected = expectOk(await api('POST', `/v1/orders/${o.id}:collect`, { token: winner.token }));
  assert.equal(collected.status, 'ORDER_STATUS_COLLECTED');
  assert.ok(collected.collectTime);
  expectError(await api('POST', `/v1/orders/${o.id}:cancel`, { token: hq }), 409, 9);

  const b = await makePackage();
  const o2 = expectOk(await api('POST', '/v1/orders', { token: hq, body: { type: 'ORDER_TYPE_JOB', locationId: loc.id, packageIds: [b.pkg.id] } }));
  expectError(await api('POST', `/v1/orders/${o2.id}:cancel`, { token: hq, headers: { 'If-Match': '"stale"' }, body: {} }), 412, 10);
  const cancelled = expectOk(await api('POST', `/v1/orders/${o2.id}:cancel`, { token: hq, headers: { 'If-Match': `"${o2.etag}"` }, body: { reason: 'not needed' } }));
  assert.equal(cancelled.status, 'ORDER_STATUS_CANCELLED');
  assert.ok(cancelled.cancelTime);
  // The package is free again.
  expectOk(await api('POST', '/v1/orders', { token: hq, body: { type: 'ORDER_TYPE_JOB', locationId: loc.id, packageIds: [b.pkg.id] } }));
});

test('POST /v1/orders with assigneeUserId: create and assign; a retry completes a half-done saga', async () => {
  const a = await makePackage();
  const o = expectOk(await api('POST', '/v1/orders', {
    token: hq, headers: { 'Idempotency-Key': `s-${rand()}` },
    body: { type: 'ORDER_TYPE_JOB', locationId: loc.id, packageIds: [a.pkg.id], assigneeUserId: tech.user.id },
  }));
  assert.equal(o.assigneeUserId, tech.user.id);
  assert.equal(expectOk(await api('GET', `/v1/packages/${a.pkg.id}`, { token: hq })).assigneeUserId, tech.user.id);

  // A first try that created the order but never assigned it (the gateway
  // died in between): the order exists, unassigned, under the key.
  const b = await makePackage();
  const key = `half-${rand()}`;
  const body = { type: 'ORDER_TYPE_JOB', locationId: loc.id, packageIds: [b.pkg.id] };
  const half = expectOk(await api('POST', '/v1/orders', { token: hq, headers: { 'Idempotency-Key': key }, body }));
  assert.equal(half.assigneeUserId, '');
  const done = expectOk(await api('POST', '/v1/orders', { token: hq, headers: { 'Idempotency-Key': key }, body: { ...body, assigneeUserId: tech.user.id } }));
  assert.equal(done.id, half.id);
  assert.equal(done.assigneeUserId, tech.user.id);
  // Retrying once more changes nothing.
  const again = expectOk(await api('POST', '/v1/orders', { token: hq, headers: { 'Idempotency-Key': key }, body: { ...body, assigneeUserId: tech.user.id } }));
  assert.equal(again.id, half.id);
  assert.equal(again.assigneeUserId, tech.user.id);
  const ledger = expectOk(await api('GET', `/v1/assignments?orderId=${half.id}`, { token: hq }));
  assert.equal(ledger.assignments.filter((x) => x.afterUserId === tech.user.id).length, 1);
  // An unknown assignee: the order is created, the error says so.
  const cpk = await makePackage();
  const bad = await api('POST', '/v1/orders', { token: hq, body: { type: 'ORDER_TYPE_JOB', locationId: loc.id, packageIds: [cpk.pkg.id], assigneeUserId: c.uuid() } });
  expectError(bad, 404, 5, /created but not assigned/);
  assert.ok(bad.json.details[0].orderId);
});

test('CORS: preflight and response headers for the configured origins only', async () => {
  const pre = await api('OPTIONS', '/v1/orders', { headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type, idempotency-key' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), ORIGIN);
  assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
  assert.match(pre.headers.get('access-control-allow-headers'), /Idempotency-Key/i);
  assert.match(pre.headers.get('access-control-allow-headers'), /If-Match/i);
  const other = await api('OPTIONS', '/v1/orders', { headers: { Origin: 'http://other.example', 'Access-Control-Request-Method': 'GET' } });
  assert.equal(other.headers.get('access-control-allow-origin'), 'http://other.example');
  const evil = await api('OPTIONS', '/v1/orders', { headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'GET' } });
  assert.equal(evil.status, 403);
  assert.equal(evil.headers.get('access-control-allow-origin'), null);
  const get = await api('GET', '/v1/orders?pageSize=1', { token: hq, headers: { Origin: ORIGIN } });
  assert.equal(get.status, 200);
  assert.equal(get.headers.get('access-control-allow-origin'), ORIGIN);
  assert.match(get.headers.get('access-control-expose-headers'), /ETag/);
  assert.equal(get.headers.get('vary'), 'Origin');
  const err = await api('GET', '/v1/orders', { headers: { Origin: ORIGIN } });
  assert.equal(err.status, 401);
  assert.equal(err.headers.get('access-control-allow-origin'), ORIGIN);
  const none = await api('GET', '/v1/orders?pageSize=1', { token: hq, headers: { Origin: 'http://evil.example' } });
  assert.equal(none.headers.get('access-control-allow-origin'), null);
});

test('static files: index.html at /, content types, no way out of the web folder', async () => {
  const root = await api('GET', '/');
  assert.equal(root.status, 200);
  assert.match(root.headers.get('content-type'), /^text\/html/);
  assert.match(root.text, /<html/i);
  const idx = await api('GET', '/index.html');
  assert.equal(idx.text, root.text);
  expectError(await api('GET', '/no-such-file.js'), 404, 5);
  expectError(await api('GET', '/..%2f..%2fetc%2fpasswd'), 404, 5);
  expectError(await api('GET', '/%2e%2e/%2e%2e/etc/passwd'), 404, 5);
  for (const p of ['/../../../../etc/passwd', '/./index.html/../../CMakeLists.txt', '/.hidden', '/gateway/../index.html']) {
    const r = await rawRequest(c, [`GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`], { waitMs: 3000 });
    assert.match(r.data, /^HTTP\/1\.1 (404|400)/, `${p}: ${r.data.slice(0, 200)}`);
    assert.ok(!r.data.includes('root:'), p);
  }
});

test('metrics: requests by route and status, latency histogram', async () => {
  await api('GET', `/v1/orders/${c.uuid()}`, { token: hq });
  const m = await api('GET', '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type'), /^text\/plain/);
  assert.match(m.text, /^kn_gateway_requests_total\{method="GET",route="\/v1\/orders\/\{id\}",status="404"\} \d+$/m);
  assert.match(m.text, /^kn_gateway_requests_total\{method="POST",route="\/v1\/login",status="200"\} \d+$/m);
  assert.match(m.text, /^kn_gateway_request_duration_seconds_bucket\{method="POST",route="\/v1\/orders",le="\+Inf"\} \d+$/m);
  assert.match(m.text, /^kn_gateway_request_duration_seconds_count\{method="GET",route="\/v1\/orders"\} \d+$/m);
  assert.match(m.text, /^kn_gateway_open_connections \d+$/m);
});

test('a service down: 503 with Retry-After, readyz names it, back after restart', async () => {
  await c.kill('order', 0, 'SIGKILL');
  const r = await api('GET', `/v1/orders?pageSize=1`, { token: hq });
  expectError(r, 503, 14, /order service unavailable/);
  assert.equal(r.headers.get('retry-after'), '1');
  const ready = await api('GET', '/readyz');
  assert.equal(ready.status, 503);
  assert.match(ready.json.message, /order/);
  assert.equal(ready.json.services.order, 'NOT_SERVING');
  assert.equal(ready.json.services.assign, 'SERVING');
  await c.restart('order', 0);
  let ok = null;
  for (let i = 0; i < 50 && ok?.status !== 200; i++) {
    ok = await api('GET', '/v1/orders?pageSize=1', { token: hq });
    if (ok.status !== 200) await new Promise((res) => setTimeout(res, 200));
  }
  expectOk(ok);
  assert.equal((await api('GET', '/readyz')).status, 200);
});
