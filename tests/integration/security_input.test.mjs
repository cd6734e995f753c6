// Input handling: mass assignment (fields a client must not set) answers
// 400 naming the field and writes nothing; SQL metacharacters in every text
// field, query parameter and path variable give a correct answer (stored
// and read back verbatim, searched literally, or 400), never a 5xx or a
// database error text, and leave the data intact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSecCluster, httpApi, httpErr, ok, rpc, rpcOk, allRpcs, gatewayRoutes, makeWorld, rowCounts,
  assertNoSecretsInLogs, G, DB_ERROR_RE, rand,
} from './security_helpers.mjs';

let c;
let api;
let A;

before(async () => {
  // Many failing logins below: the login limits must not turn them into 429.
  c = await startSecCluster({ gatewayEnv: { KN_GATEWAY_LOGIN_MAX_FAILURES: '1000' } });
  api = httpApi(c);
  A = await makeWorld(c, 'input');
});

after(async () => {
  await c?.stop();
});

const idem = () => ({ 'idempotency-key': c.uuid() });

// ------------------------------------------------------------------ mass assignment

test('mass assignment: output-only and foreign fields in bodies answer 400 naming the field, nothing written', async () => {
  const o2 = await rpcOk(c, 'order', 'GetOrder', { id: A.order2.id }, A.hq);
  const t1 = await rpcOk(c, 'assign', 'GetUser', { id: A.tech1.id }, A.hq);
  const counts = await rowCounts(c);
  const ts = '2020-01-01T00:00:00Z';
  const other = c.uuid();
  const newOrder = { type: 'ORDER_TYPE_JOB', locationId: A.loc.id, packageIds: [A.pkgFree.id] };
  const newUser = { displayName: 'Mass A', email: `mass-${rand()}@input.example`, role: 'USER_ROLE_TECHNICIAN' };
  const newPkg = { barcode: `BC-M-${rand()}`, trackingNumber: 'TN-M', carrier: 'x', locationId: A.loc.id };
  const newLoc = { name: 'Mass site', code: `M${rand(2)}`, address: 'x', timeZone: 'UTC' };
  // [method, path, base body, extra field, value, headers]
  const cases = [];
  const patchOrder = ['PATCH', `/v1/orders/${A.order2.id}`, { identifier: 'MASS-1' }, { 'if-match': `"${o2.etag}"` }];
  for (const [f, v] of [['status', 'ORDER_STATUS_CANCELLED'], ['tenantId', other], ['tenant_id', other], ['assigneeUserId', A.tech1.id],
    ['assignee_user_id', A.tech1.id], ['etag', 'abc'], ['id', other], ['createTime', ts], ['updateTime', ts], ['cancelTime', ts],
    ['collectTime', ts], ['packageIds', [A.pkgFree.id]], ['locationId', other], ['type', 'ORDER_TYPE_STOCK'], ['fencingToken', '999']]) {
    cases.push([patchOrder[0], patchOrder[1], patchOrder[2], f, v, patchOrder[3]]);
  }
  for (const [f, v] of [['status', 'ORDER_STATUS_COLLECTED'], ['tenantId', other], ['id', other], ['etag', 'x'], ['createTime', ts], ['requestId', 'r1']]) {
    cases.push(['POST', '/v1/orders', newOrder, f, v, idem()]);
  }
  for (const [f, v] of [['tenantId', other], ['id', other], ['active', false], ['createTime', ts], ['passwordHash', 'x']]) {
    cases.push(['POST', '/v1/users', newUser, f, v, idem()]);
  }
  for (const [f, v] of [['role', 'USER_ROLE_HQ'], ['email', 'new@input.example'], ['tenantId', other], ['id', other], ['createTime', ts]]) {
    cases.push(['PATCH', `/v1/users/${A.tech1.id}`, { displayName: 'Renamed' }, f, v, {}]);
  }
  for (const [f, v] of [['state', 'PACKAGE_STATE_COLLECTED'], ['assigneeUserId', A.tech1.id], ['orderId', A.order1.id], ['doorId', A.door1.id],
    ['tenantId', other], ['id', other], ['createTime', ts]]) {
    cases.push(['POST', '/v1/packages', newPkg, f, v, idem()]);
  }
  for (const [f, v] of [['tenantId', other], ['id', other], ['createTime', ts]]) cases.push(['POST', '/v1/locations', newLoc, f, v, idem()]);
  for (const [f, v] of [['state', 'DOOR_STATE_OPEN'], ['tenantId', other], ['id', other], ['locationId', other]]) {
    cases.push(['POST', `/v1/locations/${A.loc.id}/doors`, { label: 'MX', size: 'DOOR_SIZE_S' }, f, v, {}]);
  }
  cases.push(['POST', `/v1/orders/${A.order2.id}:assign`, { userId: A.tech2.id }, 'orderId', A.order1.id, {}]);
  cases.push(['POST', `/v1/orders/${A.order2.id}:take`, {}, 'userId', A.tech2.id, {}]);
  cases.push(['POST', `/v1/orders/${A.order2.id}:take`, {}, 'orderId', A.order3.id, {}]);
  cases.push(['POST', `/v1/orders/${A.order2.id}:cancel`, { reason: 'x' }, 'id', A.order1.id, {}]);
  cases.push(['POST', `/v1/orders/${A.order2.id}:cancel`, { reason: 'x' }, 'status', 'ORDER_STATUS_COLLECTED', {}]);
  cases.push(['POST', `/v1/packages/${A.pkgFree.id}:assign`, { userId: A.tech1.id }, 'packageId', A.pkgLoose1.id, {}]);
  cases.push(['POST', `/v1/locations/${A.loc.id}/stock:adjust`, { sku: A.stock.sku, delta: 1 }, 'quantityOnHand', 999, {}]);
  cases.push(['POST', `/v1/locations/${A.loc.id}/stock:adjust`, { sku: A.stock.sku, delta: 1 }, 'quantityReserved', 0, {}]);
  const failures = [];
  for (const [m, p, base, f, v, headers] of cases) {
    const tok = p.endsWith(':take') ? A.tech1.token : A.hq;
    const r = await api(m, p, { token: tok, body: { ...base, [f]: v }, headers });
    const what = `${m} ${p.replace(/[0-9a-f-]{36}/g, '{id}')} with ${f}`;
    if (r.status !== 400 || r.json?.code !== G.INVALID_ARGUMENT) failures.push(`${what}: expected 400, got ${r.status} ${r.text.slice(0, 160)}`);
    else if (!r.json.message.includes(`"${f}"`) && !r.json.message.includes(f)) failures.push(`${what}: message does not name the field: ${r.json.message}`);
  }
  // JSON tricks: duplicate keys, __proto__, constructor.
  for (const raw of ['{"identifier":"MASS-2","identifier":"MASS-3"}', '{"identifier":"MASS-4","__proto__":{"status":"ORDER_STATUS_CANCELLED"}}',
    '{"identifier":"MASS-5","constructor":{"prototype":{"status":3}}}']) {
    const r = await api('PATCH', `/v1/orders/${A.order2.id}`, { token: A.hq, body: raw, headers: { 'if-match': `"${o2.etag}"` } });
    if (r.status !== 400) failures.push(`PATCH order ${raw}: expected 400, got ${r.status} ${r.text.slice(0, 160)}`);
  }
  assert.deepEqual(failures, [], failures.join('\n'));
  assert.deepEqual(await rpcOk(c, 'order', 'GetOrder', { id: A.order2.id }, A.hq), o2, 'order unchanged');
  assert.deepEqual(await rpcOk(c, 'assign', 'GetUser', { id: A.tech1.id }, A.hq), t1, 'user unchanged');
  const after_ = await rowCounts(c);
  assert.deepEqual(after_, counts, 'nothing was written');
  const rows = await c.sql('order', 'SELECT count(*)::int AS n FROM orders WHERE tenant_id::text <> $1', [A.tenant]);
  assert.equal(rows[0].n, 0, 'no order in another tenant');
});

// ------------------------------------------------------------------ SQL metacharacters

const META = [
  "'", '"', ';', '--', '%', '_', '\\', "' OR 1=1 --", '%_%', "'; DROP TABLE orders; --", '" OR ""="', "\\'; SELECT pg_sleep(3); --",
  '$1', '%%', '_%', '\\%', '[a-z]*', ".*", "O'Brien", 'a\\', "'||'", '/**/', 'x" --',
];

// A 200 or a 4xx with the JSON error shape; never 5xx, never a database text.
function sane(r, what) {
  assert.ok(r.status < 500, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
  assert.doesNotMatch(r.text, DB_ERROR_RE, `${what}: database error text in ${r.text.slice(0, 200)}`);
  if (r.status !== 200) assert.ok(r.json && typeof r.json.message === 'string', `${what}: ${r.text.slice(0, 200)}`);
}

test('SQL metacharacters in every text field of every create and update are stored verbatim or refused with 400', async () => {
  const tables = await c.sql('order', "SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
  const failures = [];
  const check = (r, what) => {
    try { sane(r, what); } catch (e) { failures.push(e.message); return false; }
    // 404: a reference that does not exist (an unstocked sku); 409: a state
    // conflict (returning a package that is not in a locker).
    if (![200, 400, 404, 409].includes(r.status)) { failures.push(`${what}: ${r.status} ${r.text.slice(0, 160)}`); return false; }
    return r.status === 200;
  };
  await Promise.all(META.map(async (v, i) => {
    const u = `${i}-${rand(2)}`;
    // Locations: name, code, address.
    for (const f of ['name', 'code', 'address']) {
      const body = { name: `Loc ${u}`, code: `C${u}`, address: 'Gatan', timeZone: 'UTC', [f]: `${f === 'code' ? 'C' : ''}${v}${u}` };
      const r = await api('POST', '/v1/locations', { token: A.hq, body, headers: idem() });
      if (check(r, `POST /v1/locations ${f}=${v}`)) {
        const g = ok(await api('GET', `/v1/locations/${r.json.id}`, { token: A.hq }));
        if (g[f] !== body[f]) failures.push(`location ${f}: stored ${JSON.stringify(g[f])}, sent ${JSON.stringify(body[f])}`);
      }
    }
    // Doors: label.
    {
      const r = await api('POST', `/v1/locations/${A.loc.id}/doors`, { token: A.hq, body: { label: `D${v}${u}`.slice(0, 32), size: 'DOOR_SIZE_S' } });
      check(r, `POST doors label=${v}`);
    }
    // Packages: barcode, trackingNumber, carrier, description.
    for (const f of ['barcode', 'trackingNumber', 'carrier', 'description']) {
      const body = { barcode: `BC-${u}-${f}`, trackingNumber: `TN-${u}`, carrier: 'PostNord', description: 'd', locationId: A.loc.id, [f]: `${v}${u}` };
      const r = await api('POST', '/v1/packages', { token: A.hq, body, headers: idem() });
      if (check(r, `POST /v1/packages ${f}=${v}`)) {
        const g = ok(await api('GET', `/v1/packages/${r.json.id}`, { token: A.hq }));
        if (g[f] !== body[f]) failures.push(`package ${f}: stored ${JSON.stringify(g[f])}, sent ${JSON.stringify(body[f])}`);
      }
    }
    // Users: displayName, employeeNumber, email (password: below, hashed).
    for (const f of ['displayName', 'employeeNumber', 'email']) {
      const body = { displayName: `U ${u}`, email: `u${u}@input.example`, employeeNumber: `N${u}`, role: 'USER_ROLE_TECHNICIAN', [f]: f === 'email' ? `${v}${u}@input.example` : `${v}${u}` };
      const r = await api('POST', '/v1/users', { token: A.hq, body, headers: idem() });
      if (check(r, `POST /v1/users ${f}=${v}`)) {
        const g = ok(await api('GET', `/v1/users/${r.json.id}`, { token: A.hq }));
        if (g[f] !== body[f]) failures.push(`user ${f}: stored ${JSON.stringify(g[f])}, sent ${JSON.stringify(body[f])}`);
      }
    }
    check(await api('PATCH', `/v1/users/${A.tech2.id}`, { token: A.hq, body: { displayName: `T2 ${v}` } }), `PATCH user displayName=${v}`);
    check(await api('PATCH', `/v1/users/${A.tech2.id}`, { token: A.hq, body: { employeeNumber: `E2${v}` } }), `PATCH user employeeNumber=${v}`);
    // Orders: identifier (create and update), stock line sku; stock: sku, reason, description.
    {
      const r = await api('POST', '/v1/orders', { token: A.hq, body: { type: 'ORDER_TYPE_STOCK', locationId: A.loc.id, identifier: `ID${v}${u}`, stockLines: [{ sku: A.stock.sku, quantity: 1 }] }, headers: idem() });
      if (check(r, `POST /v1/orders identifier=${v}`)) {
        const g = ok(await api('GET', `/v1/orders/${r.json.id}`, { token: A.hq }));
        if (g.identifier !== `ID${v}${u}`) failures.push(`order identifier: stored ${JSON.stringify(g.identifier)}`);
        check(await api('PATCH', `/v1/orders/${r.json.id}`, { token: A.hq, body: { identifier: `ID2${v}${u}` }, headers: { 'if-match': `"${g.etag}"` } }), `PATCH order identifier=${v}`);
        check(await api('POST', `/v1/orders/${r.json.id}:cancel`, { token: A.hq, body: { reason: `${v}` } }), `cancel reason=${v}`);
      }
      check(await api('POST', '/v1/orders', { token: A.hq, body: { type: 'ORDER_TYPE_STOCK', locationId: A.loc.id, stockLines: [{ sku: `S${v}`, quantity: 1 }] }, headers: idem() }), `POST /v1/orders sku=${v}`);
    }
    check(await api('POST', `/v1/locations/${A.loc.id}/stock:adjust`, { token: A.hq, body: { sku: `K${v}${u}`.slice(0, 60), delta: 1, reason: v, description: v } }), `stock:adjust sku=${v}`);
    check(await api('POST', `/v1/packages/${A.pkgFree.id}:return`, { token: A.hq, body: { reason: v } }), `return reason=${v}`);
    // Login fields: 401 (or 400), never a 5xx.
    for (const f of ['tenant', 'email', 'password']) {
      const body = { tenant: A.code, email: A.hqEmail, password: 'wrong-password-1', [f]: v };
      const r = await api('POST', '/v1/login', { body });
      try { sane(r, `login ${f}=${v}`); } catch (e) { failures.push(e.message); }
      if (![400, 401].includes(r.status)) failures.push(`login ${f}=${v}: ${r.status} ${r.text.slice(0, 100)}`);
    }
  }));
  // A password made of metacharacters works for login, verbatim.
  const pw = "' OR 1=1 --%_%\\\"; DROP";
  const u = ok(await api('POST', '/v1/users', { token: A.hq, body: { displayName: 'Meta PW', email: 'metapw@input.example', role: 'USER_ROLE_TECHNICIAN', password: pw }, headers: idem() }));
  assert.equal((await api('POST', '/v1/login', { body: { tenant: A.code, email: 'metapw@input.example', password: pw } })).status, 200, 'login with a metacharacter password');
  assert.equal((await api('POST', '/v1/login', { body: { tenant: A.code, email: 'metapw@input.example', password: "' OR 1=1 --" } })).status, 401);
  assert.equal((await api('POST', '/v1/login', { body: { tenant: A.code, email: "metapw@input.example' --", password: 'x' } })).status, 401);
  assert.ok(u.id);
  assert.deepEqual(failures, [], failures.join('\n'));
  assert.deepEqual(await c.sql('order', "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"), tables, 'tables intact');
});

test('SQL metacharacters in every query parameter and path variable: 200 or 400, never a 5xx', async () => {
  const { defs } = await import('../../scripts/lib/cluster.mjs').then((m) => m.loadProtos());
  const full = { order: 'konnect.order.v1.OrderService', assign: 'konnect.assign.v1.AssignService', location: 'konnect.location.v1.LocationService' };
  const camel = (s) => s.replace(/_([a-z])/g, (_, x) => x.toUpperCase());
  const failures = [];
  const routes = gatewayRoutes().filter((r) => r.method === 'GET' && r.rpc && r.flags.includes('query'));
  assert.ok(routes.length >= 9, `${routes.length} GET routes with query parameters`);
  let n = 0;
  for (const route of routes) {
    const svc = Object.keys(full).find((k) => route.rpc && Object.keys(defs[full[k]]).includes(route.rpc));
    const fields = defs[full[svc]][route.rpc].requestType.type.field.filter((f) => !route.vars.includes(f.name)).map((f) => camel(f.name));
    const p = route.path.replace('{id}', route.path.startsWith('/v1/orders') ? A.order1.id : A.loc.id).replace('{doorId}', A.door1.id);
    await Promise.all(fields.map(async (f) => {
      for (const v of META) {
        for (const tok of [A.hq, A.tech1.token]) {
          const r = await api('GET', `${p}?${f}=${encodeURIComponent(v)}`, { token: tok });
          n++;
          try { sane(r, `GET ${route.path}?${f}=${v}`); } catch (e) { failures.push(e.message); continue; }
          if (![200, 400, 403, 404].includes(r.status)) failures.push(`GET ${route.path}?${f}=${v}: ${r.status} ${r.text.slice(0, 120)}`);
        }
      }
    }));
  }
  // Path variables.
  const idRoutes = gatewayRoutes().filter((r) => r.path.includes('{id}'));
  for (const route of idRoutes) {
    for (const v of META) {
      const p = route.path.replace('{id}', encodeURIComponent(v)).replace('{doorId}', encodeURIComponent(v));
      const r = await api(route.method, p, { token: A.hq, body: route.method === 'GET' ? undefined : {}, headers: route.flags.includes('if-match-required') ? { 'if-match': '"x"' } : {} });
      n++;
      try { sane(r, `${route.method} ${p}`); } catch (e) { failures.push(e.message); continue; }
      if (![400, 404, 405].includes(r.status)) failures.push(`${route.method} ${p}: expected 400/404, got ${r.status} ${r.text.slice(0, 120)}`);
    }
  }
  assert.ok(n > 500, `${n} requests`);
  assert.deepEqual(failures, [], failures.join('\n'));
});

test('gRPC: SQL metacharacters in every string field of every RPC never give INTERNAL/UNKNOWN or a database text', async () => {
  const failures = [];
  const rpcs = allRpcs().filter((m) => !m.public && !m.internal);
  const { defs } = await import('../../scripts/lib/cluster.mjs').then((m) => m.loadProtos());
  const full = { order: 'konnect.order.v1.OrderService', assign: 'konnect.assign.v1.AssignService', location: 'konnect.location.v1.LocationService' };
  for (const m of rpcs) {
    const fields = defs[full[m.svc]][m.method].requestType.type.field.filter((f) => f.type === 'TYPE_STRING' && f.label !== 'LABEL_REPEATED').map((f) => f.name);
    // Creates get a fresh request_id per call so that each is judged.
    await Promise.all(fields.filter((f) => f !== 'password').map(async (f) => {
      for (const v of ["'", '%_%', "' OR 1=1 --", '\\', "'; DROP TABLE users; --"]) {
        const req = { [f]: v };
        if (m.fields.includes('request_id') && f !== 'request_id') req.request_id = c.uuid();
        const r = await rpc(c, m.svc, m.method, req, A.hq);
        if ([G.INTERNAL, G.UNKNOWN].includes(r.code) || DB_ERROR_RE.test(r.details)) failures.push(`${m.method}.${f}=${v}: ${r.code} ${r.details}`);
      }
    }));
  }
  assert.deepEqual(failures, [], failures.join('\n'));
});

test('searches treat metacharacters literally: %, _, \\ and quotes match only themselves', async () => {
  const failures = [];
  // Users whose names hold metacharacters, and one that holds none.
  const names = ['Pct %_% Person', "Quote O'Brien", 'Back\\slash Bob', 'Under_score Una', 'Plain Paula'];
  for (const n of names) ok(await api('POST', '/v1/users', { token: A.hq, body: { displayName: n, email: `${rand()}@search.example`, role: 'USER_ROLE_TECHNICIAN' }, headers: idem() }));
  const all = ok(await api('GET', '/v1/users?pageSize=500', { token: A.hq })).users;
  for (const q of ['%_%', '%', '_', "'", '\\', "O'Brien", "' OR 1=1 --", '%%', 'Person', 'l%a']) {
    const r = await api('GET', `/v1/users?pageSize=500&query=${encodeURIComponent(q)}`, { token: A.hq });
    if (r.status !== 200) { failures.push(`ListUsers query=${q}: ${r.status} ${r.text.slice(0, 120)}`); continue; }
    const got = r.json.users.map((u) => u.id).sort();
    const want = all.filter((u) => [u.displayName, u.email, u.employeeNumber].some((s) => s.toLowerCase().includes(q.toLowerCase()))).map((u) => u.id).sort();
    if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`ListUsers query=${q}: got ${got.length} users, want ${want.length}`);
  }
  // Packages and locations: every hit contains the text literally, and the
  // one made for it is found.
  const pk = ok(await api('POST', '/v1/packages', { token: A.hq, body: { barcode: 'BC-%_%-\'X', trackingNumber: 'TN-\\_Y', carrier: 'x', locationId: A.loc.id }, headers: idem() }));
  for (const q of ['%_%', "'X", '\\_', '%', '_']) {
    const r = await api('GET', `/v1/packages?pageSize=500&query=${encodeURIComponent(q)}`, { token: A.hq });
    if (r.status !== 200) { failures.push(`ListPackages query=${q}: ${r.status} ${r.text.slice(0, 120)}`); continue; }
    for (const p of r.json.packages) {
      if (![p.barcode, p.trackingNumber, p.description, p.carrier].some((s) => s.toLowerCase().includes(q.toLowerCase()))) failures.push(`ListPackages query=${q} matched ${p.barcode}`);
    }
    if (!r.json.packages.some((p) => p.id === pk.id)) failures.push(`ListPackages query=${q} misses ${pk.barcode}`);
  }
  const loc = ok(await api('POST', '/v1/locations', { token: A.hq, body: { name: "Site %_% O'Hara", code: 'META1', address: 'x', timeZone: 'UTC' }, headers: idem() }));
  for (const q of ['%_%', "O'Hara", '_', '%']) {
    const r = await api('GET', `/v1/locations?pageSize=500&query=${encodeURIComponent(q)}`, { token: A.hq });
    if (r.status !== 200) { failures.push(`ListLocations query=${q}: ${r.status} ${r.text.slice(0, 120)}`); continue; }
    for (const l of r.json.locations) if (![l.name, l.code, l.address].some((s) => s.toLowerCase().includes(q.toLowerCase()))) failures.push(`ListLocations query=${q} matched ${l.name}`);
    if (!r.json.locations.some((l) => l.id === loc.id)) failures.push(`ListLocations query=${q} misses ${loc.name}`);
  }
  for (const q of ['%_%', "'X", '_', "' OR 1=1 --"]) {
    const r = await api('GET', `/v1/activity?pageSize=500&query=${encodeURIComponent(q)}`, { token: A.hq });
    if (r.status !== 200) { failures.push(`SearchActivity query=${q}: ${r.status} ${r.text.slice(0, 120)}`); continue; }
    for (const a of r.json.activities) {
      if (![a.barcode, a.trackingNumber, a.orderIdentifier, a.doorLabel, a.locationName].some((s) => (s ?? '').toLowerCase().includes(q.toLowerCase()))) failures.push(`SearchActivity query=${q} matched ${JSON.stringify(a).slice(0, 120)}`);
    }
    if (q === '%_%' && !r.json.activities.some((a) => a.packageId === pk.id)) failures.push('SearchActivity query=%_% misses the package registered with it');
  }
  assert.deepEqual(failures, [], failures.join('\n'));
});

test('the data is intact afterwards: every table is there and the world reads back', async () => {
  for (const db of ['order', 'assign', 'location']) {
    const t = await c.sql(db, "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
    assert.ok(t[0].n >= 3, `${db} tables`);
  }
  for (const k of ['order1', 'order2', 'order3']) assert.equal((await rpcOk(c, 'order', 'GetOrder', { id: A[k].id }, A.hq)).id, A[k].id);
  for (const k of ['pkgOrder1', 'pkgLoose1', 'pkgLoose2']) assert.equal((await rpcOk(c, 'location', 'GetPackage', { id: A[k].id }, A.hq)).id, A[k].id);
  const t1 = await rpcOk(c, 'assign', 'GetUser', { id: A.tech1.id }, A.hq);
  assert.equal(t1.display_name, 'Tech 1 input');
  const l = await api('POST', '/v1/login', { body: { tenant: A.code, email: A.hqEmail, password: A.hqPassword } });
  assert.equal(l.status, 200, 'the hq user still logs in');
  const orders = await c.sql('order', 'SELECT count(*)::int AS n FROM orders WHERE tenant_id::text = $1', [A.tenant]);
  assert.ok(orders[0].n >= 3);
});

test('no secret, password or bearer token in any log', () => {
  assertNoSecretsInLogs(c, [['a metacharacter password', "' OR 1=1 --%_%\\\"; DROP"]]);
});
