// Limits: bodies over 1 MiB answer 413 on every route that takes a body
// (announced or chunked, with or without a token) and gRPC messages over
// KN_MAX_MESSAGE_BYTES answer RESOURCE_EXHAUSTED; slow clients are cut off
// after KN_GATEWAY_CONN_TIMEOUT_S; failed logins are limited per account and
// per client address (429 + Retry-After, even for the right password), with
// one message for every kind of failure; assign-svc's own lockout holds
// behind it. Finally no log holds a secret, password or token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest } from './gateway_helpers.mjs';
import {
  startSecCluster, httpApi, httpErr, ok, rpc, gatewayRoutes, fillPath, makeWorld, rowCounts, assertNoSecretsInLogs, G,
} from './security_helpers.mjs';

const TIMEOUT_S = 2;
const MAX_FAILURES = 3;
let c;
let api;
let A;

before(async () => {
  c = await startSecCluster({
    gatewayEnv: {
      KN_GATEWAY_CONN_TIMEOUT_S: String(TIMEOUT_S),
      KN_GATEWAY_LOGIN_MAX_FAILURES: String(MAX_FAILURES),
      KN_GATEWAY_LOGIN_WINDOW_S: '60',
    },
    // assign-svc's own lockout: above the gateway's, so the gateway's shows first.
    env: { KN_ASSIGN_LOGIN_MAX_FAILURES: '5', KN_ASSIGN_LOGIN_WINDOW_S: '900' },
  });
  api = httpApi(c);
  A = await makeWorld(c, 'limits');
});

after(async () => {
  await c?.stop();
});

// Raw bytes on a socket of the gateway (gateway_helpers.mjs), waiting
// 8 s by default for the server to close.
const raw = (chunks, opts = {}) => rawRequest(c, chunks, { waitMs: 8000, ...opts });

test('a body over 1 MiB answers 413 on every route that takes one, and nothing is written', async () => {
  const counts = await rowCounts(c);
  const big = JSON.stringify({ displayName: 'x'.repeat(1024 * 1024 + 10) });
  const routes = gatewayRoutes().filter((r) => r.flags.includes('body') || r.kind === 'login' || r.kind === 'create-order');
  assert.ok(routes.length >= 20, `${routes.length} routes with a body`);
  for (const route of routes) {
    const p = fillPath(route, A);
    const headers = route.flags.includes('if-match-required') ? { 'if-match': `"${A.order1.etag}"` } : {};
    const r = await api(route.method, p, { token: A.hq, body: big, headers });
    httpErr(r, 413, `${route.method} ${route.path} with 1 MiB + 10`, { code: G.RESOURCE_EXHAUSTED });
    // Without a token the answer is a refusal too (401 or 413), never a read body.
    const r2 = await api(route.method, p, { body: big, headers });
    assert.ok([401, 413].includes(r2.status), `${route.method} ${route.path} without a token: ${r2.status}`);
  }
  // Chunked, on the public login route.
  const chunked = await raw([
    'POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
    ...Array.from({ length: 17 }, () => `10000\r\n${'b'.repeat(0x10000)}\r\n`), '0\r\n\r\n',
  ], { waitMs: 10000 });
  assert.match(chunked.data, /^HTTP\/1\.1 413 /, 'chunked body over the limit on /v1/login');
  assert.deepEqual(await rowCounts(c), counts, 'nothing was written');
  ok(await api('GET', '/healthz'));
});

test('gRPC: a message over KN_MAX_MESSAGE_BYTES answers RESOURCE_EXHAUSTED', async () => {
  const counts = await rowCounts(c);
  const r = await rpc(c, 'location', 'CreateLocation', { name: 'n'.repeat(5 * 1024 * 1024), code: 'BIG', address: 'x', time_zone: 'UTC' }, A.hq);
  assert.equal(r.code, G.RESOURCE_EXHAUSTED, `${r.code} ${r.details}`);
  const r2 = await rpc(c, 'assign', 'Authenticate', { tenant_code: A.code, email: A.hqEmail, password: 'p'.repeat(5 * 1024 * 1024) }, null);
  assert.equal(r2.code, G.RESOURCE_EXHAUSTED, `Authenticate: ${r2.code} ${r2.details}`);
  assert.deepEqual(await rowCounts(c), counts, 'nothing was written');
});

test('slow clients are cut off after KN_GATEWAY_CONN_TIMEOUT_S', async () => {
  const limitMs = (TIMEOUT_S + 2) * 1000;
  const [stalled, body, idle, trickle] = await Promise.all([
    // Headers that stop arriving.
    raw(['GET /v1/orders HTTP/1.1\r\nHost: x\r\n']),
    // A body that never completes.
    raw([`POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"tenant":"`]),
    // Connected, nothing sent.
    raw([]),
    // Slowloris: a header byte every 500 ms, never finishing the headers
    // (each byte is under the inactivity timeout; the whole exceeds it).
    raw(['GET /healthz HTTP/1.1\r\n', ...'X-A: 1\r\nX-B: 2\r\nX-C: 3\r\nX-D: 4\r\n'.split('')], { gapMs: 500, waitMs: 9000 }),
  ]);
  assert.ok(stalled.closed && stalled.ms < limitMs, `stalled headers: closed=${stalled.closed} after ${stalled.ms} ms`);
  assert.ok(body.closed && body.ms < limitMs, `stalled body: closed=${body.closed} after ${body.ms} ms`);
  assert.ok(idle.closed && idle.ms < limitMs, `idle connection: closed=${idle.closed} after ${idle.ms} ms`);
  assert.ok(trickle.closed && trickle.ms < limitMs,
    `headers trickled a byte every 500 ms: closed=${trickle.closed} after ${trickle.ms} ms (limit ${limitMs} ms), answer ${JSON.stringify(trickle.data.slice(0, 80))}`);
  for (const [n, r] of [['stalled', stalled], ['body', body], ['idle', idle], ['trickle', trickle]]) {
    // Cut off, not answered: a request that never completed gets no 200.
    assert.doesNotMatch(r.data, /^HTTP\/1\.1 200/, `${n}: answered ${r.data.slice(0, 40)}`);
  }
  ok(await api('GET', '/healthz'));
});

const login = (body, localAddress) => api('POST', '/v1/login', { body, localAddress });

test('login failures: one message whatever failed', async () => {
  const msgs = new Set();
  // Each from its own address so the per-address limit stays out of the way.
  const cases = [
    { tenant: 'no-such-tenant', email: A.hqEmail, password: A.hqPassword },
    { tenant: A.code, email: 'nobody@limits.example', password: A.hqPassword },
    { tenant: A.code, email: A.hqEmail, password: 'wrong-password-x' },
    { tenant: A.code, email: 'not-an-email', password: 'wrong-password-x' },
  ];
  let i = 20;
  for (const b of cases) {
    const r = await login(b, `127.0.0.${i++}`);
    httpErr(r, 401, `login ${JSON.stringify(b)}`, { code: G.UNAUTHENTICATED });
    msgs.add(r.json.message);
  }
  assert.equal(msgs.size, 1, `distinct failure messages: ${[...msgs].join(' | ')}`);
});

test('login rate limit per account: 429 with Retry-After, even for the right password from elsewhere', async () => {
  const acct = { tenant: A.code, email: A.tech2.email };
  assert.equal((await login({ ...acct, password: A.tech2.password }, '127.0.0.2')).status, 200, 'the control login');
  for (let i = 0; i < MAX_FAILURES; i++) {
    httpErr(await login({ ...acct, password: `wrong-${i}-password` }, '127.0.0.2'), 401, `failure ${i}`, { code: G.UNAUTHENTICATED });
  }
  // Another address, the right password, the email in other case: held.
  const r = await login({ tenant: A.code.toUpperCase(), email: A.tech2.email.toUpperCase(), password: A.tech2.password }, '127.0.0.3');
  httpErr(r, 429, 'the account over its limit', { code: G.RESOURCE_EXHAUSTED });
  const ra = Number(r.headers['retry-after']);
  assert.ok(ra >= 1 && ra <= 60, `Retry-After ${r.headers['retry-after']}`);
  assert.ok(!('token' in r.json), 'no token with a 429');
  // Another account from that clean address is not held.
  assert.equal((await login({ tenant: A.code, email: A.hqEmail, password: A.hqPassword }, '127.0.0.3')).status, 200);
});

test('login rate limit per address: 429 with Retry-After for any account from that address', async () => {
  for (let i = 0; i < MAX_FAILURES; i++) {
    httpErr(await login({ tenant: A.code, email: `guess${i}@limits.example`, password: 'guess-password' }, '127.0.0.5'), 401, `guess ${i}`);
  }
  const r = await login({ tenant: A.code, email: A.tech1.email, password: A.tech1.password }, '127.0.0.5');
  httpErr(r, 429, 'the address over its limit', { code: G.RESOURCE_EXHAUSTED });
  const ra = Number(r.headers['retry-after']);
  assert.ok(ra >= 1 && ra <= 60, `Retry-After ${r.headers['retry-after']}`);
  // The same account from another address logs in.
  const okr = await login({ tenant: A.code, email: A.tech1.email, password: A.tech1.password }, '127.0.0.6');
  assert.equal(okr.status, 200, okr.text);
  assert.ok(okr.json.token);
});

test('assign-svc\'s own lockout holds behind the gateway (Authenticate over gRPC)', async () => {
  // The hq user's account, attacked directly over gRPC, past the gateway.
  const acct = { tenant_code: A.code, email: A.hqEmail };
  for (let i = 0; i < 5; i++) {
    const r = await rpc(c, 'assign', 'Authenticate', { ...acct, password: `wrong-${i}-password` }, null);
    assert.equal(r.code, G.UNAUTHENTICATED, `failure ${i}: ${r.code} ${r.details}`);
  }
  const r = await rpc(c, 'assign', 'Authenticate', { ...acct, password: A.hqPassword }, null);
  assert.equal(r.code, G.RESOURCE_EXHAUSTED, `the right password after 5 failures: ${r.code} ${r.details}`);
});

test('no secret, password or bearer token in any log', () => {
  assertNoSecretsInLogs(c, [['a guessed password', 'guess-password'], ['a wrong password', 'wrong-0-password']]);
});
