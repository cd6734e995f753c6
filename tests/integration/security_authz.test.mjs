// Authorization: tenant A's tokens on tenant B's ids answer 404 / NOT_FOUND
// for every resource type, through the gateway and through gRPC (internal
// RPCs too, with a valid service signature), and change nothing; a
// technician gets 403 on hq-only actions and 404 on another technician's
// orders and packages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSecCluster, httpApi, httpErr, ok, rpc, rpcOk, internalMd, gatewayRoutes, fillPath, makeWorld, rowCounts,
  assertNoSecretsInLogs, G, DB_ERROR_RE,
} from './security_helpers.mjs';

let c;
let api;
let A;
let B;

before(async () => {
  c = await startSecCluster();
  api = httpApi(c);
  [A, B] = await Promise.all([makeWorld(c, 'tenanta'), makeWorld(c, 'tenantb')]);
});

after(async () => {
  await c?.stop();
});

// Everything of B, read with B's own token, to prove nothing changed.
async function snapshotB() {
  const s = {};
  const t = B.hq;
  for (const k of ['order1', 'order2', 'order3']) s[k] = await rpcOk(c, 'order', 'GetOrder', { id: B[k].id }, t);
  for (const k of ['pkgOrder1', 'pkgOrder2', 'pkgOrder3', 'pkgLoose1', 'pkgLoose2', 'pkgFree']) s[k] = await rpcOk(c, 'location', 'GetPackage', { id: B[k].id }, t);
  for (const k of ['tech1', 'tech2']) s[k] = await rpcOk(c, 'assign', 'GetUser', { id: B[k].id }, t);
  s.loc = await rpcOk(c, 'location', 'GetLocation', { id: B.loc.id }, t);
  s.doors = await rpcOk(c, 'location', 'ListDoors', { location_id: B.loc.id }, t);
  s.stock = await rpcOk(c, 'location', 'ListStock', { location_id: B.loc.id }, t);
  s.ledger = await rpcOk(c, 'assign', 'ListAssignments', { page_size: 500 }, t);
  s.history = await rpcOk(c, 'order', 'ListOrderHistory', { order_id: B.order1.id }, t);
  s.contents = await rpcOk(c, 'location', 'ListDoorContents', { location_id: B.loc.id, door_id: B.door1.id }, t);
  return s;
}

// The body each {id} route gets: valid apart from the foreign id.
function bodyFor(route, W) {
  const p = route.path;
  if (route.method === 'GET') return undefined;
  if (p === '/v1/orders/{id}') return { identifier: 'PWNED-1' };
  if (p.endsWith(':cancel')) return { reason: 'pwned' };
  if (p.endsWith(':assign')) return { userId: W.tech2.id };
  if (p.endsWith('packages:add')) return { packageIds: [W.pkgFree.id] };
  if (p.endsWith('packages:remove')) return { packageIds: [W.pkgOrder1.id] };
  if (p === '/v1/users/{id}') return { displayName: 'pwned' };
  if (p === '/v1/locations/{id}/doors') return { label: 'Z9', size: 'DOOR_SIZE_M' };
  if (p.endsWith('/doors/{doorId}')) return { state: 'DOOR_STATE_OUT_OF_SERVICE' };
  if (p.endsWith('stock:adjust')) return { sku: B.stock.sku, delta: 5, reason: 'pwned' };
  if (p.endsWith(':deliver')) return { doorId: W.door2.id };
  if (p.endsWith(':return')) return { reason: 'pwned' };
  return {};
}

test('HTTP: every route with a path id answers 404 for tenant B\'s ids with tenant A\'s tokens', async () => {
  const snap = await snapshotB();
  const counts = await rowCounts(c);
  const routes = gatewayRoutes().filter((r) => r.path.includes('{id}'));
  assert.ok(routes.length >= 24, `${routes.length} routes with ids`);
  for (const route of routes) {
    for (const [who, tok] of [['hq', A.hq], ['technician', A.tech1.token]]) {
      const headers = route.flags.includes('if-match') ? { 'if-match': `"${B.order1.etag}"` } : {};
      const r = await api(route.method, fillPath(route, B), { token: tok, body: bodyFor(route, B), headers });
      const what = `${route.method} ${route.path} as A's ${who}`;
      // A technician may be refused by role first (403); never 200, never
      // anything that tells B's ids exist beyond "not found".
      if (who === 'technician' && r.status === 403) continue;
      httpErr(r, 404, what, { code: G.NOT_FOUND });
      assert.ok(!r.text.includes(B.tenant), `${what}: B's tenant id in the answer`);
    }
  }
  // Mixed: A's own resource with a B id inside.
  const mixed = [
    ['GET', `/v1/locations/${A.loc.id}/doors/${B.door1.id}/contents`, undefined],
    ['PATCH', `/v1/locations/${A.loc.id}/doors/${B.door1.id}`, { state: 'DOOR_STATE_OUT_OF_SERVICE' }],
    ['PATCH', `/v1/locations/${B.loc.id}/doors/${A.door1.id}`, { state: 'DOOR_STATE_OUT_OF_SERVICE' }],
    ['POST', `/v1/orders/${A.order2.id}:assign`, { userId: B.tech1.id }],
    ['POST', `/v1/packages/${A.pkgFree.id}:assign`, { userId: B.tech1.id }],
    ['POST', `/v1/orders/${A.order2.id}/packages:add`, { packageIds: [B.pkgFree.id] }],
    ['POST', `/v1/packages/${A.pkgFree.id}:deliver`, { doorId: B.door2.id }],
    ['POST', '/v1/orders', { type: 'ORDER_TYPE_JOB', locationId: B.loc.id, packageIds: [B.pkgFree.id] }],
    ['POST', '/v1/orders', { type: 'ORDER_TYPE_JOB', locationId: A.loc.id, packageIds: [B.pkgFree.id] }],
    ['POST', '/v1/orders', { type: 'ORDER_TYPE_STOCK', locationId: B.loc.id, stockLines: [{ sku: B.stock.sku, quantity: 1 }] }],
    ['POST', '/v1/orders', { type: 'ORDER_TYPE_JOB', locationId: A.loc.id, packageIds: [A.pkgFree.id], assigneeUserId: B.tech1.id }],
    ['POST', '/v1/packages', { barcode: 'BC-X-1', trackingNumber: 'TN-X-1', carrier: 'X', locationId: B.loc.id }],
  ];
  for (const [m, p, body] of mixed) {
    const r = await api(m, p, { token: A.hq, body, headers: m === 'POST' && !p.includes(':') && !p.includes('packages:') ? { 'idempotency-key': c.uuid() } : {} });
    if (p === '/v1/orders' && body.assigneeUserId) {
      // The saga creates the order, then the foreign assignee is refused.
      assert.equal(r.status, 404, `${m} ${p} with B's assignee: ${r.status} ${r.text}`);
      continue;
    }
    httpErr(r, 404, `${m} ${p} ${JSON.stringify(body ?? {})}`, { code: G.NOT_FOUND });
  }
  assert.deepEqual(await snapshotB(), snap, 'B\'s data is unchanged');
  const after_ = await rowCounts(c);
  // The saga's order (A's own, unassigned) is the only row allowed to appear
  // (with its activity, and that activity's new search value: the order's
  // identifier).
  for (const k of Object.keys(counts)) {
    if (['order.orders', 'order.order_packages', 'order.order_history', 'order.order_intents', 'location.activity', 'location.activity_terms'].includes(k)) continue;
    assert.equal(after_[k], counts[k], `rows of ${k}`);
  }
});

test('HTTP: tenant A\'s lists never show tenant B\'s data, whatever the filter', async () => {
  const bIds = [B.tenant, B.loc.id, B.door1.id, B.tech1.id, B.order1.id, B.pkgLoose1.id, B.pkgFree.id, `BC-${B.code}`, B.tech1.email];
  const lists = [
    '/v1/orders', `/v1/orders?locationId=${B.loc.id}`, `/v1/orders?assigneeUserId=${B.tech1.id}`,
    '/v1/users', `/v1/users?query=${encodeURIComponent(B.tech1.email)}`, '/v1/users?query=tenantb',
    '/v1/locations', '/v1/locations?query=tenantb',
    '/v1/packages', `/v1/packages?locationId=${B.loc.id}`, `/v1/packages?orderId=${B.order1.id}`, `/v1/packages?doorId=${B.door1.id}`,
    `/v1/packages?assigneeUserId=${B.tech1.id}`, `/v1/packages?query=BC-${B.code}`,
    '/v1/activity', `/v1/activity?locationId=${B.loc.id}`, `/v1/activity?packageId=${B.pkgLoose1.id}`, `/v1/activity?query=BC-${B.code}`,
    '/v1/assignments', `/v1/assignments?orderId=${B.order1.id}`, `/v1/assignments?userId=${B.tech1.id}`, `/v1/assignments?packageId=${B.pkgLoose1.id}`,
  ];
  for (const p of lists) {
    for (const tok of [A.hq, A.tech1.token]) {
      const r = await api('GET', p, { token: tok });
      if (r.status === 404 || (tok !== A.hq && r.status === 403)) continue;
      assert.equal(r.status, 200, `GET ${p}: ${r.status} ${r.text.slice(0, 200)}`);
      for (const id of bIds) assert.ok(!r.text.includes(id), `GET ${p} shows B's ${id}`);
    }
  }
  // The control: the same lists show A's data to A.
  assert.ok(ok(await api('GET', '/v1/orders', { token: A.hq })).orders.length >= 3);
  assert.ok(ok(await api('GET', `/v1/packages?query=BC-${A.code}`, { token: A.hq })).packages.length >= 6);
});

// [svc, method, request, token, expectation]: 'nf' NOT_FOUND; 'empty:<field>'
// OK with nothing in the list (or NOT_FOUND); 'nf|ok' either (no-ops).
function grpcCases() {
  const uuid = () => c.uuid();
  return [
    ['order', 'GetOrder', { id: B.order1.id }, A.hq, 'nf'],
    ['order', 'GetOrder', { id: B.order2.id }, A.tech1.token, 'nf'],
    ['order', 'ListOrders', { location_id: B.loc.id }, A.hq, 'empty:orders'],
    ['order', 'ListOrders', { assignee_user_id: B.tech1.id }, A.hq, 'empty:orders'],
    ['order', 'ListOrders', { location_id: B.loc.id, assignment: 'ASSIGNMENT_FILTER_UNASSIGNED' }, A.tech1.token, 'empty:orders'],
    ['order', 'UpdateOrder', { id: B.order1.id, identifier: 'PWNED-2', etag: B.order1.etag }, A.hq, 'nf'],
    ['order', 'AddPackages', { order_id: B.order2.id, package_ids: [B.pkgFree.id] }, A.hq, 'nf'],
    ['order', 'AddPackages', { order_id: A.order2.id, package_ids: [B.pkgFree.id] }, A.hq, 'nf'],
    ['order', 'RemovePackages', { order_id: B.order1.id, package_ids: [B.pkgOrder1.id] }, A.hq, 'nf'],
    ['order', 'CancelOrder', { id: B.order2.id, reason: 'x' }, A.hq, 'nf'],
    ['order', 'CollectOrder', { id: B.order1.id }, A.hq, 'nf'],
    ['order', 'CollectOrder', { id: B.order1.id }, A.tech1.token, 'nf'],
    ['order', 'ListOrderHistory', { order_id: B.order1.id }, A.hq, 'nf'],
    ['order', 'CreateOrder', { type: 'ORDER_TYPE_JOB', location_id: B.loc.id, package_ids: [B.pkgFree.id], request_id: uuid() }, A.hq, 'nf'],
    ['order', 'CreateOrder', { type: 'ORDER_TYPE_JOB', location_id: A.loc.id, package_ids: [B.pkgFree.id], request_id: uuid() }, A.hq, 'nf'],
    ['order', 'CreateOrder', { type: 'ORDER_TYPE_STOCK', location_id: B.loc.id, stock_lines: [{ sku: B.stock.sku, quantity: 1 }], request_id: uuid() }, A.tech1.token, 'nf'],
    ['order', 'SetAssignee', { order_id: B.order2.id, assignee_user_id: A.tech1.id, fencing_token: '999999999999' }, A.hq, 'nf'],
    ['assign', 'GetUser', { id: B.tech1.id }, A.hq, 'nf'],
    ['assign', 'GetUser', { id: B.hqId }, A.hq, 'nf'],
    ['assign', 'ListUsers', { query: B.tech1.email }, A.hq, 'empty:users'],
    ['assign', 'ListUsers', { include_inactive: true, page_size: 500 }, A.hq, 'noB:users'],
    ['assign', 'UpdateUser', { id: B.tech1.id, display_name: 'pwned' }, A.hq, 'nf'],
    ['assign', 'UpdateUser', { id: B.tech1.id, active: { value: false } }, A.hq, 'nf'],
    ['assign', 'UpdateUser', { id: B.hqId, password: 'pwned-password-123' }, A.hq, 'nf'],
    ['assign', 'AssignOrder', { order_id: B.order2.id, user_id: B.tech1.id }, A.hq, 'nf'],
    ['assign', 'AssignOrder', { order_id: B.order2.id, user_id: A.tech1.id }, A.hq, 'nf'],
    ['assign', 'AssignOrder', { order_id: A.order2.id, user_id: B.tech1.id }, A.hq, 'nf'],
    ['assign', 'UnassignOrder', { order_id: B.order1.id }, A.hq, 'nf'],
    ['assign', 'SelfAssignOrder', { order_id: B.order2.id }, A.tech1.token, 'nf'],
    ['assign', 'AssignPackage', { package_id: B.pkgFree.id, user_id: B.tech1.id }, A.hq, 'nf'],
    ['assign', 'AssignPackage', { package_id: A.pkgFree.id, user_id: B.tech1.id }, A.hq, 'nf'],
    ['assign', 'UnassignPackage', { package_id: B.pkgLoose1.id }, A.hq, 'nf'],
    ['assign', 'ListAssignments', { order_id: B.order1.id }, A.hq, 'empty:assignments'],
    ['assign', 'ListAssignments', { user_id: B.tech1.id }, A.hq, 'empty:assignments'],
    ['assign', 'ListAssignments', { package_id: B.pkgLoose1.id }, A.hq, 'empty:assignments'],
    ['location', 'GetLocation', { id: B.loc.id }, A.hq, 'nf'],
    ['location', 'GetLocation', { id: B.loc.id }, A.tech1.token, 'nf'],
    ['location', 'ListLocations', { page_size: 500 }, A.hq, 'noB:locations'],
    ['location', 'ListLocations', { query: B.loc.name }, A.hq, 'empty:locations'],
    ['location', 'CreateDoor', { location_id: B.loc.id, label: 'Z1', size: 'DOOR_SIZE_M' }, A.hq, 'nf'],
    ['location', 'ListDoors', { location_id: B.loc.id }, A.hq, 'nf'],
    ['location', 'UpdateDoor', { location_id: B.loc.id, id: B.door1.id, state: 'DOOR_STATE_OUT_OF_SERVICE' }, A.hq, 'nf'],
    ['location', 'UpdateDoor', { id: B.door1.id, state: 'DOOR_STATE_OUT_OF_SERVICE' }, A.hq, 'nf'],
    ['location', 'UpdateDoor', { location_id: A.loc.id, id: B.door1.id, multi_item: true, update_multi_item: true }, A.hq, 'nf'],
    ['location', 'RegisterPackage', { location_id: B.loc.id, barcode: 'BC-PWN', tracking_number: 'TN-PWN', carrier: 'x', request_id: uuid() }, A.hq, 'nf'],
    ['location', 'GetPackage', { id: B.pkgLoose1.id }, A.hq, 'nf'],
    ['location', 'GetPackage', { id: B.pkgFree.id }, A.tech1.token, 'nf'],
    ['location', 'ListPackages', { location_id: B.loc.id }, A.hq, 'empty:packages'],
    ['location', 'ListPackages', { order_id: B.order1.id }, A.hq, 'empty:packages'],
    ['location', 'ListPackages', { door_id: B.door1.id }, A.hq, 'empty:packages'],
    ['location', 'ListPackages', { assignee_user_id: B.tech1.id }, A.hq, 'empty:packages'],
    ['location', 'ListPackages', { query: `BC-${B.code}` }, A.hq, 'empty:packages'],
    ['location', 'ListPackages', { query: `BC-${B.code}` }, A.tech1.token, 'empty:packages'],
    ['location', 'DeliverPackage', { id: B.pkgFree.id, door_id: B.door2.id }, A.hq, 'nf'],
    ['location', 'DeliverPackage', { id: A.pkgFree.id, door_id: B.door2.id }, A.hq, 'nf'],
    ['location', 'ListDoorContents', { location_id: B.loc.id, door_id: B.door1.id }, A.hq, 'nf'],
    ['location', 'ListDoorContents', { location_id: A.loc.id, door_id: B.door1.id }, A.hq, 'nf'],
    ['location', 'ListDoorContents', { location_id: B.loc.id, door_id: B.door2.id }, A.tech1.token, 'nf'],
    ['location', 'CollectPackages', { package_ids: [B.pkgLoose1.id] }, A.hq, 'nf'],
    ['location', 'CollectPackages', { package_ids: [B.pkgLoose1.id] }, A.tech1.token, 'nf'],
    ['location', 'ReturnPackage', { id: B.pkgLoose1.id, reason: 'x' }, A.hq, 'nf'],
    ['location', 'SearchActivity', { location_id: B.loc.id }, A.hq, 'empty:activities'],
    ['location', 'SearchActivity', { package_id: B.pkgLoose1.id }, A.hq, 'empty:activities'],
    ['location', 'SearchActivity', { query: `BC-${B.code}` }, A.hq, 'empty:activities'],
    ['location', 'SearchActivity', { page_size: 500 }, A.hq, 'noB:activities'],
    ['location', 'ListStock', { location_id: B.loc.id }, A.hq, 'nf'],
    ['location', 'ListStock', { location_id: B.loc.id }, A.tech1.token, 'nf'],
    ['location', 'AdjustStock', { location_id: B.loc.id, sku: B.stock.sku, delta: 5, reason: 'x' }, A.hq, 'nf'],
    // Internal RPCs, correctly signed: still scoped by the forwarded token.
    ['location', 'AttachPackages', { order_id: uuid(), order_identifier: 'JO-PWN', location_id: B.loc.id, package_ids: [B.pkgFree.id] }, A.hq, 'nf'],
    ['location', 'AttachPackages', { order_id: A.order2.id, order_identifier: A.order2.identifier, location_id: A.loc.id, package_ids: [B.pkgFree.id] }, A.hq, 'nf'],
    ['location', 'DetachPackages', { order_id: B.order1.id, package_ids: [B.pkgOrder1.id] }, A.hq, 'nf'],
    ['location', 'SetPackageAssignee', { package_ids: [B.pkgLoose1.id], assignee_user_id: A.tech1.id, fencing_token: '999999999999' }, A.hq, 'nf'],
    ['location', 'ReserveStock', { order_id: uuid(), location_id: B.loc.id, lines: [{ sku: B.stock.sku, quantity: 1 }] }, A.hq, 'nf'],
    ['location', 'ReleaseStock', { order_id: B.order1.id, location_id: B.loc.id }, A.hq, 'nf|ok'],
  ];
}

test('gRPC: tenant A\'s tokens on tenant B\'s ids answer NOT_FOUND for every RPC, and change nothing', async () => {
  const snap = await snapshotB();
  const counts = await rowCounts(c);
  const failures = [];
  const seen = new Set();
  for (const [svc, method, req, tok, expect] of grpcCases()) {
    seen.add(method);
    const md = ['SetAssignee', 'AttachPackages', 'DetachPackages', 'SetPackageAssignee', 'ReserveStock', 'ReleaseStock'].includes(method) ? internalMd(c, tok) : {};
    const r = await rpc(c, svc, method, req, tok, { metadata: md });
    const what = `${method}(${JSON.stringify(req).slice(0, 120)}) as A's ${tok === A.hq ? 'hq' : 'technician'}`;
    if (DB_ERROR_RE.test(r.details)) failures.push(`${what}: database error text: ${r.details}`);
    if (expect === 'nf') {
      if (r.code !== G.NOT_FOUND) failures.push(`${what}: expected NOT_FOUND, got ${r.code} ${r.details}`);
    } else if (expect === 'nf|ok') {
      if (r.code !== G.NOT_FOUND && r.code !== 0) failures.push(`${what}: expected NOT_FOUND or a no-op, got ${r.code} ${r.details}`);
    } else if (expect.startsWith('empty:')) {
      const f = expect.slice(6);
      if (r.code === 0 && r.res[f].length) failures.push(`${what}: ${r.res[f].length} of B's ${f} shown: ${JSON.stringify(r.res[f][0]).slice(0, 200)}`);
      else if (r.code !== 0 && r.code !== G.NOT_FOUND) failures.push(`${what}: expected an empty list or NOT_FOUND, got ${r.code} ${r.details}`);
    } else if (expect.startsWith('noB:')) {
      const f = expect.slice(4);
      if (r.code !== 0) failures.push(`${what}: ${r.code} ${r.details}`);
      else if (JSON.stringify(r.res).includes(B.tenant) || JSON.stringify(r.res).includes(`-${B.code}`)) failures.push(`${what}: B's ${f} shown`);
    }
  }
  // Every non-public RPC has a case.
  const all = ['CreateOrder', 'GetOrder', 'ListOrders', 'UpdateOrder', 'AddPackages', 'RemovePackages', 'CancelOrder', 'CollectOrder', 'ListOrderHistory', 'SetAssignee',
    'CreateUser', 'GetUser', 'ListUsers', 'UpdateUser', 'AssignOrder', 'UnassignOrder', 'SelfAssignOrder', 'AssignPackage', 'UnassignPackage', 'ListAssignments',
    'CreateLocation', 'GetLocation', 'ListLocations', 'CreateDoor', 'ListDoors', 'UpdateDoor', 'RegisterPackage', 'GetPackage', 'ListPackages', 'DeliverPackage',
    'ListDoorContents', 'CollectPackages', 'ReturnPackage', 'SearchActivity', 'ListStock', 'AdjustStock', 'AttachPackages', 'DetachPackages', 'SetPackageAssignee',
    'ReserveStock', 'ReleaseStock'];
  // CreateUser and CreateLocation take no foreign id: nothing to cross.
  for (const m of all) if (!['CreateUser', 'CreateLocation'].includes(m)) assert.ok(seen.has(m), `no cross-tenant case for ${m}`);
  assert.deepEqual(failures, [], failures.join('\n'));
  assert.deepEqual(await snapshotB(), snap, 'B\'s data is unchanged');
  assert.deepEqual(await rowCounts(c), counts, 'nothing was written');
});

test('technicians: hq-only actions answer 403 / PERMISSION_DENIED and change nothing', async () => {
  const t = A.tech1.token;
  const counts = await rowCounts(c);
  const o1 = await rpcOk(c, 'order', 'GetOrder', { id: A.order1.id }, A.hq);
  // gRPC, on the technician's own, visible resources (so 403, not 404).
  const cases = [
    ['assign', 'CreateUser', { display_name: 'x', email: `x-${c.uuid().slice(0, 6)}@a.example`, role: 'USER_ROLE_HQ', password: 'long-enough-pw' }],
    ['assign', 'ListUsers', {}],
    ['assign', 'UpdateUser', { id: A.tech1.id, display_name: 'self rename' }],
    ['assign', 'UpdateUser', { id: A.tech2.id, active: { value: false } }],
    ['assign', 'AssignOrder', { order_id: A.order2.id, user_id: A.tech2.id }],
    ['assign', 'AssignOrder', { order_id: A.order1.id, user_id: A.tech2.id }],
    ['assign', 'UnassignOrder', { order_id: A.order1.id }],
    ['assign', 'AssignPackage', { package_id: A.pkgFree.id, user_id: A.tech1.id }],
    ['assign', 'UnassignPackage', { package_id: A.pkgLoose1.id }],
    ['order', 'CreateOrder', { type: 'ORDER_TYPE_JOB', location_id: A.loc.id, package_ids: [A.pkgFree.id], request_id: c.uuid() }],
    ['order', 'UpdateOrder', { id: A.order1.id, identifier: 'TECH-1', etag: o1.etag }],
    ['order', 'AddPackages', { order_id: A.order1.id, package_ids: [A.pkgFree.id] }],
    ['order', 'RemovePackages', { order_id: A.order1.id, package_ids: [A.pkgOrder1.id] }],
    ['order', 'CancelOrder', { id: A.order1.id, reason: 'no' }],
    ['location', 'CreateLocation', { name: 'Tech site', code: 'TS1', address: 'x', time_zone: 'UTC', request_id: c.uuid() }],
    ['location', 'CreateDoor', { location_id: A.loc.id, label: 'T1', size: 'DOOR_SIZE_S' }],
    ['location', 'UpdateDoor', { location_id: A.loc.id, id: A.door2.id, state: 'DOOR_STATE_OUT_OF_SERVICE' }],
    ['location', 'RegisterPackage', { location_id: A.loc.id, barcode: 'BC-T', tracking_number: 'TN-T', carrier: 'x', request_id: c.uuid() }],
    ['location', 'DeliverPackage', { id: A.pkgFree.id, door_id: A.door1.id }],
    ['location', 'ReturnPackage', { id: A.pkgLoose1.id, reason: 'x' }],
    ['location', 'AdjustStock', { location_id: A.loc.id, sku: A.stock.sku, delta: 100 }],
    ['location', 'SearchActivity', {}],
  ];
  const failures = [];
  for (const [svc, method, req] of cases) {
    const r = await rpc(c, svc, method, req, t);
    if (r.code !== G.PERMISSION_DENIED) failures.push(`gRPC ${method}(${JSON.stringify(req).slice(0, 100)}): expected PERMISSION_DENIED, got ${r.code} ${r.details}`);
  }
  // The same through the gateway.
  const http = [
    ['POST', '/v1/users', { displayName: 'x', email: 'y@a.example', role: 'USER_ROLE_HQ', password: 'long-enough-pw' }],
    ['GET', '/v1/users'],
    ['PATCH', `/v1/users/${A.tech1.id}`, { displayName: 'self rename' }],
    ['POST', `/v1/orders/${A.order2.id}:assign`, { userId: A.tech2.id }],
    ['POST', `/v1/orders/${A.order1.id}:unassign`, {}],
    ['POST', `/v1/packages/${A.pkgFree.id}:assign`, { userId: A.tech1.id }],
    ['POST', `/v1/packages/${A.pkgLoose1.id}:unassign`, {}],
    ['POST', '/v1/orders', { type: 'ORDER_TYPE_JOB', locationId: A.loc.id, packageIds: [A.pkgFree.id] }],
    ['PATCH', `/v1/orders/${A.order1.id}`, { identifier: 'TECH-2' }, { 'if-match': `"${o1.etag}"` }],
    ['POST', `/v1/orders/${A.order1.id}/packages:add`, { packageIds: [A.pkgFree.id] }],
    ['POST', `/v1/orders/${A.order1.id}/packages:remove`, { packageIds: [A.pkgOrder1.id] }],
    ['POST', `/v1/orders/${A.order1.id}:cancel`, {}],
    ['POST', '/v1/locations', { name: 'Tech site', code: 'TS2', address: 'x', timeZone: 'UTC' }],
    ['POST', `/v1/locations/${A.loc.id}/doors`, { label: 'T2', size: 'DOOR_SIZE_S' }],
    ['PATCH', `/v1/locations/${A.loc.id}/doors/${A.door2.id}`, { state: 'DOOR_STATE_OUT_OF_SERVICE' }],
    ['POST', '/v1/packages', { locationId: A.loc.id, barcode: 'BC-T2', trackingNumber: 'TN-T2', carrier: 'x' }],
    ['POST', `/v1/packages/${A.pkgFree.id}:deliver`, { doorId: A.door1.id }],
    ['POST', `/v1/packages/${A.pkgLoose1.id}:return`, { reason: 'x' }],
    ['POST', `/v1/locations/${A.loc.id}/stock:adjust`, { sku: A.stock.sku, delta: 100 }],
    ['GET', '/v1/activity'],
  ];
  for (const [m, p, body, headers = {}] of http) {
    const r = await api(m, p, { token: t, body, headers: m === 'POST' && ['/v1/users', '/v1/orders', '/v1/locations', '/v1/packages'].includes(p) ? { ...headers, 'idempotency-key': c.uuid() } : headers });
    if (r.status !== 403 || r.json?.code !== G.PERMISSION_DENIED) failures.push(`HTTP ${m} ${p}: expected 403, got ${r.status} ${r.text.slice(0, 160)}`);
  }
  assert.deepEqual(failures, [], failures.join('\n'));
  assert.deepEqual(await rpcOk(c, 'order', 'GetOrder', { id: A.order1.id }, A.hq), o1, 'order1 unchanged');
  assert.deepEqual(await rowCounts(c), counts, 'nothing was written');
});

test('technicians: another technician\'s orders and packages answer 404 and never appear in lists', async () => {
  const t = A.tech1.token;
  const failures = [];
  const expectNf = async (svc, method, req) => {
    const r = await rpc(c, svc, method, req, t);
    if (r.code !== G.NOT_FOUND) failures.push(`gRPC ${method}(${JSON.stringify(req)}): expected NOT_FOUND, got ${r.code} ${r.details}`);
  };
  // Control: the technician sees their own and the unassigned order.
  await rpcOk(c, 'order', 'GetOrder', { id: A.order1.id }, t);
  await rpcOk(c, 'order', 'GetOrder', { id: A.order2.id }, t);
  await rpcOk(c, 'location', 'GetPackage', { id: A.pkgLoose1.id }, t);
  await expectNf('order', 'GetOrder', { id: A.order3.id });
  await expectNf('order', 'ListOrderHistory', { order_id: A.order3.id });
  await expectNf('order', 'CollectOrder', { id: A.order3.id });
  await expectNf('location', 'GetPackage', { id: A.pkgOrder3.id });
  await expectNf('location', 'GetPackage', { id: A.pkgLoose2.id });
  await expectNf('location', 'CollectPackages', { package_ids: [A.pkgLoose2.id] });
  for (const [m, p] of [['GET', `/v1/orders/${A.order3.id}`], ['GET', `/v1/orders/${A.order3.id}/history`], ['POST', `/v1/orders/${A.order3.id}:collect`],
    ['GET', `/v1/packages/${A.pkgOrder3.id}`], ['GET', `/v1/packages/${A.pkgLoose2.id}`]]) {
    const r = await api(m, p, { token: t, body: m === 'POST' ? {} : undefined });
    if (r.status !== 404) failures.push(`HTTP ${m} ${p}: expected 404, got ${r.status} ${r.text.slice(0, 160)}`);
  }
  // Lists: nothing of tech2's, whatever the filter.
  const hidden = [A.order3.id, A.pkgOrder3.id, A.pkgLoose2.id];
  for (const p of ['/v1/orders', `/v1/orders?assigneeUserId=${A.tech2.id}`, '/v1/orders?assignment=ASSIGNED', `/v1/orders?locationId=${A.loc.id}`,
    '/v1/packages', `/v1/packages?assigneeUserId=${A.tech2.id}`, `/v1/packages?orderId=${A.order3.id}`, `/v1/packages?doorId=${A.door3.id}`,
    `/v1/packages?query=BC-${A.code}`, `/v1/locations/${A.loc.id}/doors/${A.door3.id}/contents`,
    `/v1/assignments?userId=${A.tech2.id}`, `/v1/assignments?orderId=${A.order3.id}`, `/v1/assignments?packageId=${A.pkgLoose2.id}`]) {
    const r = await api('GET', p, { token: t });
    if (r.status === 404 || r.status === 403) continue;
    if (r.status !== 200) failures.push(`HTTP GET ${p}: ${r.status} ${r.text.slice(0, 160)}`);
    for (const id of hidden) if (r.text.includes(id)) failures.push(`HTTP GET ${p} shows tech2's ${id}`);
  }
  const mine = ok(await api('GET', '/v1/orders', { token: t })).orders.map((o) => o.id);
  if (!mine.includes(A.order1.id) || !mine.includes(A.order2.id)) failures.push(`technician's own list lacks own/unassigned orders: ${mine}`);
  assert.deepEqual(failures, [], failures.join('\n'));
});

test('no secret, password or bearer token in any log', () => {
  assertNoSecretsInLogs(c);
});
