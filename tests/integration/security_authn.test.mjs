// Authentication: every gateway route (from `gateway --print-routes`) and
// every RPC of the three services (from the proto descriptors) refuses a
// missing token and every kind of bad token (expired, not yet valid,
// tampered, wrong secret, alg none, RS/HS confusion...), and writes nothing
// when it does. Internal RPCs also need a valid service signature.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSecCluster, httpApi, httpErr, rpc, internalMd, allRpcs, gatewayRoutes, fillPath, badTokens,
  makeWorld, rowCounts, assertNoSecretsInLogs, G, DB_ERROR_RE,
} from './security_helpers.mjs';

let c;
let api;
let A;
let routes;
let rpcs;

before(async () => {
  c = await startSecCluster();
  api = httpApi(c);
  A = await makeWorld(c, 'authn');
  routes = gatewayRoutes().filter((r) => !r.flags.includes('public'));
  rpcs = allRpcs().filter((r) => !r.public);
});

after(async () => {
  await c?.stop();
});

function send(route, path, opts) {
  const headers = { ...(opts.headers ?? {}) };
  if (route.flags.includes('if-match-required')) headers['if-match'] = '"x"';
  const body = route.method === 'GET' ? undefined : {};
  return api(route.method, path, { ...opts, headers, body });
}

test('the route table and the RPC list are what the suite expects', () => {
  // A new route or RPC is covered automatically; these floors catch a
  // parse that silently found nothing.
  assert.ok(routes.length >= 34, `${routes.length} protected routes`);
  assert.ok(rpcs.length >= 41, `${rpcs.length} protected RPCs`);
  for (const r of routes) assert.ok(r.path.startsWith('/v1/'), `protected route outside /v1/: ${r.method} ${r.path}`);
  // Only login, probes, metrics, the spec and the web page are public.
  const pub = gatewayRoutes().filter((r) => r.flags.includes('public')).map((r) => `${r.method} ${r.path}`);
  assert.deepEqual(pub.sort(), ['GET /', 'GET /healthz', 'GET /metrics', 'GET /openapi.yaml', 'GET /readyz', 'POST /v1/login'].sort());
});

test('HTTP: every protected route without a token answers 401 with WWW-Authenticate', async () => {
  const before_ = await rowCounts(c);
  await Promise.all(routes.map(async (route) => {
    const p = fillPath(route, A);
    const what = `${route.method} ${route.path}`;
    for (const [name, auth] of [['no header', undefined], ['empty', ''], ['Bearer only', 'Bearer'], ['Bearer empty', 'Bearer '],
      ['Basic', `Basic ${Buffer.from(`${A.hqEmail}:x`).toString('base64')}`], ['token without scheme', c.token({ tenant: A.tenant, sub: A.hqId })]]) {
      const r = await send(route, p, { rawAuth: auth });
      httpErr(r, 401, `${what} (${name})`, { code: G.UNAUTHENTICATED });
      assert.match(String(r.headers['www-authenticate']), /^Bearer/, `${what}: WWW-Authenticate`);
    }
  }));
  assert.deepEqual(await rowCounts(c), before_, 'nothing was written');
});

test('HTTP: every protected route refuses every bad token with 401', async () => {
  const before_ = await rowCounts(c);
  const bad = badTokens(c, { tenant: A.tenant, sub: A.hqId, role: 'hq' });
  await Promise.all(routes.map(async (route) => {
    const p = fillPath(route, A);
    for (const [name, tok] of bad) {
      const r = await send(route, p, { token: tok });
      httpErr(r, 401, `${route.method} ${route.path} with ${name} token`, { code: G.UNAUTHENTICATED });
    }
  }));
  assert.deepEqual(await rowCounts(c), before_, 'nothing was written');
});

test('gRPC: every RPC without a token answers UNAUTHENTICATED', async () => {
  const before_ = await rowCounts(c);
  await Promise.all(rpcs.map(async (m) => {
    const r = await rpc(c, m.svc, m.method, {}, null);
    assert.equal(r.code, G.UNAUTHENTICATED, `${m.path}: ${r.code} ${r.details}`);
    // An internal caller signature does not replace the user's token.
    const r2 = await rpc(c, m.svc, m.method, {}, null, { metadata: internalMd(c, '') });
    assert.equal(r2.code, G.UNAUTHENTICATED, `${m.path} with only a caller signature: ${r2.code} ${r2.details}`);
    for (const raw of ['', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', c.token({ tenant: A.tenant, sub: A.hqId })]) {
      const r3 = await rpc(c, m.svc, m.method, {}, `RAW:${raw}`);
      assert.equal(r3.code, G.UNAUTHENTICATED, `${m.path} with authorization "${raw.slice(0, 12)}": ${r3.code} ${r3.details}`);
    }
  }));
  assert.deepEqual(await rowCounts(c), before_, 'nothing was written');
});

test('gRPC: every RPC refuses every bad token with UNAUTHENTICATED, internal ones even when signed', async () => {
  const before_ = await rowCounts(c);
  const bad = badTokens(c, { tenant: A.tenant, sub: A.hqId, role: 'hq' });
  await Promise.all(rpcs.map(async (m) => {
    for (const [name, tok] of bad) {
      // A real request (ids of tenant A), so that only the token is wrong.
      const req = m.fields.includes('id') ? { id: A.order1.id } : {};
      const r = await rpc(c, m.svc, m.method, req, tok, { metadata: m.internal ? internalMd(c, tok) : {} });
      assert.equal(r.code, G.UNAUTHENTICATED, `${m.path} with ${name} token: ${r.code} ${r.details}`);
      assert.doesNotMatch(r.details, /eyJ/, `${m.path}: the message echoes the token`);
    }
  }));
  assert.deepEqual(await rowCounts(c), before_, 'nothing was written');
});

test('gRPC: internal RPCs refuse a user token without a valid service signature', async () => {
  const tok = c.token({ tenant: A.tenant, sub: A.hqId, role: 'hq' });
  const other = c.token({ tenant: A.tenant, sub: A.tech1.id, role: 'technician' });
  const internal = rpcs.filter((m) => m.internal);
  assert.equal(internal.length, 6);
  const before_ = await rowCounts(c);
  for (const m of internal) {
    const cases = [
      ['no signature', {}],
      ['signature with a wrong secret', { 'x-kn-caller': 'assign-svc', 'x-kn-caller-sig': 'A'.repeat(43) }],
      ['signature of another token', internalMd(c, other)],
      ['signature naming another caller', { ...internalMd(c, tok, 'order-svc'), 'x-kn-caller': 'assign-svc' }],
      ['caller without signature', { 'x-kn-caller': 'assign-svc' }],
    ];
    for (const [name, md] of cases) {
      const r = await rpc(c, m.svc, m.method, { order_id: A.order1.id, package_ids: [A.pkgFree.id] }, tok, { metadata: md });
      assert.equal(r.code, G.PERMISSION_DENIED, `${m.path} (${name}): ${r.code} ${r.details}`);
    }
    // A correct signature gets through to the handler (the control).
    const ok = await rpc(c, m.svc, m.method, {}, tok, { metadata: internalMd(c, tok) });
    assert.ok(![G.PERMISSION_DENIED, G.UNAUTHENTICATED].includes(ok.code), `${m.path} signed: ${ok.code} ${ok.details}`);
  }
  assert.deepEqual(await rowCounts(c), before_, 'nothing was written');
});

test('a token minted by login works; the same token with one claim changed does not', async () => {
  const l = await api('POST', '/v1/login', { body: { tenant: A.code, email: A.hqEmail, password: A.hqPassword } });
  assert.equal(l.status, 200, l.text);
  const tok = l.json.token;
  assert.equal((await api('GET', '/v1/users?pageSize=1', { token: tok })).status, 200);
  const [h, p, s] = tok.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  assert.equal(claims.tenant, A.tenant);
  assert.ok(claims.exp > Date.now() / 1000 && claims.exp < Date.now() / 1000 + 24 * 3600, 'the login token expires');
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, exp: claims.exp + 3600 })).toString('base64url')}.${s}`;
  httpErr(await api('GET', '/v1/users?pageSize=1', { token: forged }), 401, 'extended exp', { code: G.UNAUTHENTICATED });
  const hdr = JSON.parse(Buffer.from(h, 'base64url').toString());
  assert.equal(hdr.alg, 'HS256');
});

test('HTTP control: a valid token gets past authentication on every route', async () => {
  // Unknown ids, empty bodies: the answer is the service's (400/404/409...),
  // never 401, and never a 5xx.
  const tok = c.token({ tenant: A.tenant, sub: A.hqId, role: 'hq' });
  const ghost = { order1: { id: c.uuid() }, tech1: { id: c.uuid() }, loc: { id: c.uuid() }, pkgLoose1: { id: c.uuid() }, door1: { id: c.uuid() } };
  await Promise.all(routes.map(async (route) => {
    const r = await send(route, fillPath(route, ghost), { token: tok });
    assert.ok(r.status !== 401 && r.status < 500, `${route.method} ${route.path}: ${r.status} ${r.text.slice(0, 200)}`);
    assert.doesNotMatch(r.text, DB_ERROR_RE);
  }));
});

test('gRPC control: a valid token gets past authentication on every RPC', async () => {
  const tok = c.token({ tenant: A.tenant, sub: A.hqId, role: 'hq' });
  await Promise.all(rpcs.map(async (m) => {
    const r = await rpc(c, m.svc, m.method, {}, tok);
    assert.notEqual(r.code, G.UNAUTHENTICATED, `${m.path}: ${r.details}`);
    assert.ok(![G.INTERNAL, G.UNKNOWN].includes(r.code), `${m.path}: ${r.code} ${r.details}`);
  }));
});

test('no secret, password or bearer token in any log', () => {
  assertNoSecretsInLogs(c);
});
