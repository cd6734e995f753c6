// The gateway's limits: body over 1 MiB -> 413, header and URL limits,
// slow clients cut off, per-token rate limit, failed-login rate limit, and
// readyz naming the services that are not there (only assign-svc runs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster } from '../../scripts/lib/cluster.mjs';
import { http, expectError, expectOk, createTenant, rawRequest } from './gateway_helpers.mjs';

let c;
let api;
let tenant;

before(async () => {
  c = await startCluster({
    services: ['assign'],
    gateway: true,
    // assign-svc's own lockout stays out of the way of the gateway's.
    env: { KN_ASSIGN_LOGIN_MAX_FAILURES: '1000' },
    serviceEnv: {
      gateway: {
        KN_GATEWAY_CONN_TIMEOUT_S: '2',
        KN_GATEWAY_RATE_LIMIT_RPS: '2',
        KN_GATEWAY_RATE_LIMIT_BURST: '5',
        KN_GATEWAY_LOGIN_MAX_FAILURES: '3',
        KN_GATEWAY_LOGIN_WINDOW_S: '60',
      },
    },
  });
  api = http(c);
  tenant = createTenant(c, 'limits', 'boss@limits.example', 'boss-password-1');
});

after(async () => {
  await c?.stop();
});

const hqToken = () => c.token({ tenant: tenant.tenant_id, sub: tenant.user_id, role: 'hq', jti: c.uuid() });

test('readyz: 503 naming the services that do not answer SERVING', async () => {
  const r = await api('GET', '/readyz');
  assert.equal(r.status, 503);
  assert.equal(r.json.status, 'unavailable');
  assert.match(r.json.message, /order/);
  assert.match(r.json.message, /location/);
  assert.doesNotMatch(r.json.message, /assign/);
  assert.deepEqual(r.json.services, { order: 'NOT_SERVING', assign: 'SERVING', location: 'NOT_SERVING' });
  expectOk(await api('GET', '/healthz'));
});

test('a body over 1 MiB answers 413 with a JSON error, announced or chunked', async () => {
  const tok = hqToken();
  const big = Buffer.alloc(1024 * 1024 + 1, 'a');
  const r = await api('POST', '/v1/users', { token: tok, body: big });
  expectError(r, 413, 8, /exceeds 1048576 bytes/);
  const chunked = await rawRequest(c, [
    `POST /v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tok}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
    ...Array.from({ length: 17 }, () => `10000\r\n${'b'.repeat(0x10000)}\r\n`),
    '0\r\n\r\n',
  ], { waitMs: 10000 });
  assert.match(chunked.data, /^HTTP\/1\.1 413 /);
  assert.match(chunked.data, /"code":8/);
  // A flood announced far over the limit is refused before it is read.
  const flood = await rawRequest(c, [
    `POST /v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tok}\r\nContent-Type: application/json\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`,
  ], { waitMs: 5000 });
  assert.match(flood.data, /^HTTP\/1\.1 413 /);
  assert.ok(flood.closed, 'the server closed the connection');
  // Exactly at the limit is read and handed on (the service judges it).
  const name = 'n'.repeat(1024 * 1024 - '{"displayName":""}'.length);
  const at = await api('POST', '/v1/users', { token: tok, body: `{"displayName":"${name}"}` });
  assert.notEqual(at.status, 413);
  expectError(at, 400, 3);
});

test('header and URL size limits answer 431 and 414', async () => {
  const h = await rawRequest(c, [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'h'.repeat(40000)}\r\n\r\n`]);
  assert.match(h.data, /^HTTP\/1\.1 431 /);
  const u = await rawRequest(c, [`GET /healthz?q=${'u'.repeat(40000)} HTTP/1.1\r\nHost: x\r\n\r\n`]);
  assert.match(u.data, /^HTTP\/1\.1 414 /);
  expectOk(await api('GET', '/healthz'));
});

test('slow clients are cut off after KN_GATEWAY_CONN_TIMEOUT_S', async () => {
  // Headers that never end.
  const r = await rawRequest(c, ['GET /healthz HTTP/1.1\r\nHost: x\r\n'], { waitMs: 8000 });
  assert.ok(r.closed, 'the server closed the connection');
  assert.equal(r.data, '');
  assert.ok(r.ms >= 1500 && r.ms < 6000, `closed after ${r.ms} ms`);
  // A body that never arrives.
  const b = await rawRequest(c, ['POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"ten'], { waitMs: 8000 });
  assert.ok(b.closed && b.ms < 6000, `closed=${b.closed} after ${b.ms} ms`);
  // An idle keep-alive connection after a complete request.
  const k = await rawRequest(c, ['GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'], { waitMs: 8000 });
  assert.match(k.data, /^HTTP\/1\.1 200 /);
  assert.ok(k.closed && k.ms < 6000, `closed=${k.closed} after ${k.ms} ms`);
});

test('per-token rate limit: 429 with Retry-After, other tokens unaffected', async () => {
  const tok = hqToken();
  const statuses = [];
  let limited = null;
  for (let i = 0; i < 15; i++) {
    const r = await api('GET', '/v1/users?pageSize=1', { token: tok });
    statuses.push(r.status);
    if (r.status === 429) limited = r;
  }
  assert.ok(statuses.slice(0, 5).every((s) => s === 200), statuses.join(','));
  assert.ok(limited, `no 429 in ${statuses.join(',')}`);
  expectError(limited, 429, 8, /rate limit/);
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  expectOk(await api('GET', '/v1/users?pageSize=1', { token: hqToken() }));
  // The bucket refills at KN_GATEWAY_RATE_LIMIT_RPS.
  await new Promise((r) => setTimeout(r, 1100));
  expectOk(await api('GET', '/v1/users?pageSize=1', { token: tok }));
});

test('failed logins: 429 with Retry-After per account and per address, one message', async () => {
  const login = (email, password) => api('POST', '/v1/login', { body: { tenant: 'limits', email, password } });
  expectOk(await login('boss@limits.example', 'boss-password-1'));
  for (let i = 0; i < 3; i++) expectError(await login('boss@limits.example', `wrong-${i}-password`), 401, 16);
  // Now even the right password waits: the account is over its limit.
  const r = await login('BOSS@limits.example', 'boss-password-1');
  expectError(r, 429, 8, /too many failed logins/);
  const ra = Number(r.headers.get('retry-after'));
  assert.ok(ra >= 1 && ra <= 60, `Retry-After ${ra}`);
  // And the address: another account from the same client is held too.
  expectError(await login('someone@limits.example', 'whatever-password'), 429, 8);
  // Logged-in users are not affected.
  expectOk(await api('GET', '/v1/users?pageSize=1', { token: hqToken() }));
});
