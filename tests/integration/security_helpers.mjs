// Shared set-up of the security_*.test.mjs files (not a test file itself):
// the cluster, two tenants with users, locations, doors, packages, orders and
// stock, the gateway's route table and the services' RPC list, forged
// tokens, and the "no secret in any log" check. docs/security.md says which
// test proves what.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startCluster, loadProtos, signJwt, grpc, BUILD_DIR } from '../../scripts/lib/cluster.mjs';
import { createTenant } from './gateway_helpers.mjs';

export const rand = (n = 4) => crypto.randomBytes(n).toString('hex');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// gRPC status codes by name.
export const G = {
  OK: 0, INVALID_ARGUMENT: 3, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, INTERNAL: 13, UNKNOWN: 2, UNAUTHENTICATED: 16,
};

// What a database error looks like when it leaks into an answer.
export const DB_ERROR_RE = /syntax error|SQLSTATE|PGRES|libpq|\bpq_|relation "|column "|duplicate key|violates|unterminated|invalid input syntax|ERROR:|postgres|\bsql\b/i;

// The full process set, one cluster per test file. The per-token rate limit
// is off (these files send many requests with one token) unless a file sets
// it; assign-svc's own login lockout stays out of the way of the gateway's.
export async function startSecCluster({ gatewayEnv = {}, env = {} } = {}) {
  return startCluster({
    services: ['location', 'order', 'assign'],
    gateway: true,
    env: { KN_ASSIGN_LOGIN_MAX_FAILURES: '1000', ...env },
    serviceEnv: { gateway: { KN_GATEWAY_RATE_LIMIT_RPS: '0', ...gatewayEnv } },
  });
}

// ------------------------------------------------------------------ HTTP

// One request to the gateway. Resolves {status, headers, json, text}. The
// body is JSON unless a string or Buffer. `localAddress` picks the client's
// source address (127.0.0.x) for the per-address limits.
export function httpApi(c) {
  const { port } = new URL(c.gatewayUrl);
  return (method, p, { token, body, headers = {}, localAddress, rawAuth } = {}) => new Promise((resolve, reject) => {
    const h = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    if (rawAuth !== undefined) h.authorization = rawAuth;
    let b = null;
    if (body !== undefined) {
      b = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
      h['content-length'] = Buffer.byteLength(b);
    }
    const req = http.request({
      host: '127.0.0.1', port: Number(port), method, path: p, headers: h, localAddress, agent: false,
    }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, json, text });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (b !== null) req.write(b);
    req.end();
  });
}

export function ok(r, what = '') {
  assert.equal(r.status, 200, `${what} expected 200, got ${r.status}: ${r.text}`);
  return r.json;
}

// An error answer of the gateway: status, the JSON error shape, the gRPC
// code, and never a database error text.
export function httpErr(r, status, what = '', { code, re } = {}) {
  assert.equal(r.status, status, `${what}: expected HTTP ${status}, got ${r.status}: ${r.text.slice(0, 300)}`);
  assert.ok(r.json && typeof r.json.message === 'string', `${what}: JSON error body: ${r.text.slice(0, 300)}`);
  if (code !== undefined) assert.equal(r.json.code, code, `${what}: gRPC code in ${r.text.slice(0, 300)}`);
  if (re) assert.match(r.json.message, re, `${what}: message`);
  assert.doesNotMatch(r.text, DB_ERROR_RE, `${what}: database error text in ${r.text.slice(0, 300)}`);
}

// ------------------------------------------------------------------ gRPC

// Resolves {code, details, res}: never rejects for a gRPC status.
export function rpc(c, svc, method, req, token, { metadata = {}, deadlineMs = 15000 } = {}) {
  const client = c.client(svc);
  const md = new grpc.Metadata();
  if (token !== undefined && token !== null) md.set('authorization', token.startsWith('RAW:') ? token.slice(4) : `Bearer ${token}`);
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve) => {
    client[method](req, md, { deadline: Date.now() + deadlineMs }, (err, res) => {
      if (err) resolve({ code: err.code, details: err.details ?? err.message, res: null });
      else resolve({ code: 0, details: '', res });
    });
  });
}

export async function rpcOk(c, svc, method, req, token) {
  const r = await rpc(c, svc, method, req, token);
  assert.equal(r.code, 0, `${svc}.${method}: ${r.code} ${r.details}`);
  return r.res;
}

// The metadata with which another Konnect service proves itself on an
// internal method (kn_server.h): HMAC-SHA256(internal secret, "<caller>\n<token>").
export function internalMd(c, token, caller = 'assign-svc') {
  const sig = crypto.createHmac('sha256', c.internalSecret).update(`${caller}\n${token}`).digest('base64url');
  return { 'x-kn-caller': caller, 'x-kn-caller-sig': sig };
}

// Every RPC of the three services from the proto descriptors:
// [{svc, method, path, fields, internal, public}].
export const INTERNAL_RPCS = new Set(['SetAssignee', 'AttachPackages', 'DetachPackages', 'SetPackageAssignee', 'ReserveStock', 'ReleaseStock']);
export const PUBLIC_RPCS = new Set(['Authenticate']);
export function allRpcs() {
  const { defs } = loadProtos();
  const svcs = { order: 'konnect.order.v1.OrderService', assign: 'konnect.assign.v1.AssignService', location: 'konnect.location.v1.LocationService' };
  const out = [];
  for (const [svc, full] of Object.entries(svcs)) {
    for (const [method, d] of Object.entries(defs[full])) {
      out.push({
        svc, method, path: d.path, fields: d.requestType.type.field.map((f) => f.name),
        internal: INTERNAL_RPCS.has(method), public: PUBLIC_RPCS.has(method),
      });
    }
  }
  return out;
}

// ------------------------------------------------------------------ routes

// `gateway --print-routes`: [{method, path, rpc, kind, vars, flags}].
export function gatewayRoutes() {
  const out = execFileSync(path.join(BUILD_DIR, 'gateway', 'gateway'), ['--print-routes']).toString();
  return out.trim().split('\n').map((l) => {
    const [method, p, rpcName, kind, vars, flags] = l.split('\t');
    return { method, path: p, rpc: rpcName === '-' ? null : rpcName.split('/')[1], kind, vars: vars === '-' ? [] : vars.split(','), flags: flags === '-' ? [] : flags.split(',') };
  });
}

// A route's path with real ids: {id} and {doorId} from the resource the
// route is about (w is a tenant's world).
export function fillPath(route, w) {
  const p = route.path;
  let id;
  if (p.startsWith('/v1/orders/')) id = w.order1.id;
  else if (p.startsWith('/v1/users/')) id = w.tech1.id;
  else if (p.startsWith('/v1/locations/')) id = w.loc.id;
  else if (p.startsWith('/v1/packages/')) id = w.pkgLoose1.id;
  return p.replace('{id}', id).replace('{doorId}', w.door1.id);
}

// ------------------------------------------------------------------ tokens

// Tokens that must all be refused, for a real user of a real tenant (so that
// only the token's flaw makes the difference).
export function badTokens(c, { tenant, sub, role = 'hq' }) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub, tenant, role, iat: now, exp: now + 3600 };
  const good = c.token({ tenant, sub, role });
  const [h, p, s] = good.split('.');
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const other = crypto.randomBytes(32).toString('hex');
  return [
    ['expired', signJwt(c.secret, { ...claims, iat: now - 7200, exp: now - 3600 })],
    ['expired beyond the leeway', signJwt(c.secret, { ...claims, iat: now - 600, exp: now - 120 })],
    ['not yet valid (nbf in 1 h)', signJwt(c.secret, { ...claims, nbf: now + 3600 })],
    ['not yet valid (nbf beyond the leeway)', signJwt(c.secret, { ...claims, nbf: now + 300 })],
    ['tampered payload (role)', `${h}.${b64({ ...claims, role: role === 'hq' ? 'technician' : 'hq' })}.${s}`],
    ['tampered payload (tenant)', `${h}.${b64({ ...claims, tenant: crypto.randomUUID() })}.${s}`],
    ['tampered signature', `${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`],
    ['wrong secret', signJwt(other, claims)],
    ['alg none, no signature', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`],
    ['alg none, HMAC signature', signJwt(c.secret, claims, { header: { alg: 'none', typ: 'JWT' } })],
    ['alg None', `${b64({ alg: 'None', typ: 'JWT' })}.${b64(claims)}.`],
    ['RS256 header signed with the HMAC secret', signJwt(c.secret, claims, { header: { alg: 'RS256', typ: 'JWT' } })],
    ['HS512 header', signJwt(c.secret, claims, { header: { alg: 'HS512', typ: 'JWT' } })],
    ['no exp', signJwt(c.secret, { sub, tenant, role, iat: now })],
    ['garbage', 'not-a-jwt'],
    ['empty signature part', `${h}.${p}`],
  ];
}

// ------------------------------------------------------------------ worlds

export const PASSWORDS = [];
const pw = () => {
  const p = `Pw-${rand(8)}-secret`;
  PASSWORDS.push(p);
  return p;
};

// One tenant with an hq user (created the operator's way), two technicians,
// a location with doors, packages, orders and stock. Returns ids and tokens.
export async function makeWorld(c, code) {
  const hqPassword = pw();
  const hqEmail = `boss@${code}.example`;
  const t = createTenant(c, code, hqEmail, hqPassword);
  const tenant = t.tenant_id;
  const hq = c.token({ tenant, sub: t.user_id, role: 'hq' });
  const w = { code, tenant, hq, hqId: t.user_id, hqEmail, hqPassword };
  const mkTech = async (n) => {
    const password = pw();
    const email = `tech${n}@${code}.example`;
    const u = await rpcOk(c, 'assign', 'CreateUser', {
      display_name: `Tech ${n} ${code}`, email, employee_number: `E${n}-${code}`, role: 'USER_ROLE_TECHNICIAN', password,
    }, hq);
    return { id: u.id, email, password, token: c.token({ tenant, sub: u.id, role: 'technician' }) };
  };
  const door = (label) => rpcOk(c, 'location', 'CreateDoor', { location_id: w.loc.id, label, size: 'DOOR_SIZE_M' }, hq);
  const pkg = (tag) => rpcOk(c, 'location', 'RegisterPackage', {
    barcode: `BC-${code}-${tag}`, tracking_number: `TN-${code}-${tag}`, carrier: 'PostNord', description: `part ${tag}`, location_id: w.loc.id,
  }, hq);
  const order = (p) => rpcOk(c, 'order', 'CreateOrder', {
    type: 'ORDER_TYPE_JOB', location_id: w.loc.id, package_ids: [p.id], request_id: c.uuid(),
  }, hq);
  [w.tech1, w.tech2, w.loc] = await Promise.all([mkTech(1), mkTech(2), rpcOk(c, 'location', 'CreateLocation', {
    name: `Site ${code}`, code: `S-${code}`.slice(0, 30), address: 'Gatan 1', time_zone: 'Europe/Stockholm',
  }, hq)]);
  [w.door1, w.door2, w.door3, w.pkgOrder1, w.pkgOrder2, w.pkgOrder3, w.pkgLoose1, w.pkgLoose2, w.pkgFree] = await Promise.all([
    door('A1'), door('A2'), door('A3'), pkg('o1'), pkg('o2'), pkg('o3'), pkg('l1'), pkg('l2'), pkg('f')]);
  await Promise.all([
    rpcOk(c, 'location', 'DeliverPackage', { id: w.pkgOrder1.id, door_id: w.door1.id }, hq),
    rpcOk(c, 'location', 'DeliverPackage', { id: w.pkgLoose1.id, door_id: w.door2.id }, hq),
    rpcOk(c, 'location', 'DeliverPackage', { id: w.pkgLoose2.id, door_id: w.door3.id }, hq),
  ]);
  // order1 is tech1's, order2 is unassigned, order3 is tech2's.
  [w.order1, w.order2, w.order3] = await Promise.all([order(w.pkgOrder1), order(w.pkgOrder2), order(w.pkgOrder3)]);
  [,,,, w.stock] = await Promise.all([
    rpcOk(c, 'assign', 'AssignOrder', { order_id: w.order1.id, user_id: w.tech1.id }, hq),
    rpcOk(c, 'assign', 'AssignOrder', { order_id: w.order3.id, user_id: w.tech2.id }, hq),
    rpcOk(c, 'assign', 'AssignPackage', { package_id: w.pkgLoose1.id, user_id: w.tech1.id }, hq),
    rpcOk(c, 'assign', 'AssignPackage', { package_id: w.pkgLoose2.id, user_id: w.tech2.id }, hq),
    rpcOk(c, 'location', 'AdjustStock', { location_id: w.loc.id, sku: `SKU-${code}`, delta: 10, reason: 'initial' }, hq),
  ]);
  w.order1 = await rpcOk(c, 'order', 'GetOrder', { id: w.order1.id }, hq);
  return w;
}

// ------------------------------------------------------------------ data snapshots

// Row counts of every table of the three databases (a cheap "nothing was
// written" and "the data is intact" check).
export async function rowCounts(c) {
  const out = {};
  for (const db of ['order', 'assign', 'location']) {
    const tables = await c.sql(db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
    for (const { tablename } of tables) {
      const [{ n }] = await c.sql(db, `SELECT count(*)::int AS n FROM "${tablename}"`);
      out[`${db}.${tablename}`] = n;
    }
  }
  return out;
}

// ------------------------------------------------------------------ logs

const JWT_RE = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/;

// No log of any process (services, gateway, PostgreSQL, Redis) contains a
// secret, a password used, an Argon2id hash, or a full bearer token.
export function assertNoSecretsInLogs(c, extra = []) {
  const procs = [['gateway', 0], ['postgres', 0], ['redis', 0]];
  for (const s of ['location', 'order', 'assign']) for (let i = 0; i < (c.replicas[s] ?? 1); i++) procs.push([s, i]);
  const secrets = [['KN_JWT_SECRET', c.secret], ['KN_INTERNAL_SECRET', c.internalSecret],
    ...PASSWORDS.map((p) => ['a password', p]), ...extra];
  for (const [svc, i] of procs) {
    const log = c.logs(svc, i);
    if (svc !== 'redis' && svc !== 'postgres') assert.ok(log.length > 0, `${svc}[${i}] log is empty: nothing checked`);
    for (const [what, s] of secrets) {
      assert.ok(!log.includes(s), `${svc}[${i}] log contains ${what}`);
    }
    const m = log.match(JWT_RE);
    assert.ok(!m, `${svc}[${i}] log contains a bearer token: ${m?.[0].slice(0, 40)}...`);
    assert.ok(!/\$argon2id\$/.test(log), `${svc}[${i}] log contains a password hash`);
  }
}
