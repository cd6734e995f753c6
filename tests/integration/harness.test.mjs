// Self-test of scripts/lib/cluster.mjs: the PostgreSQL and Redis parts for
// real, and the service supervision (readiness, env, logs, kill/restart,
// sanitizer detection) with stand-in service executables written here (a
// few lines of grpc-js serving grpc.health.v1), so that the harness is
// proven independently of the C services.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCluster, grpc } from '../../scripts/lib/cluster.mjs';
import { fakeBuildDir } from '../../scripts/lib/fake-build.mjs';

test('PostgreSQL and Redis: databases, sql, restart of each, cleanup', async () => {
  const c = await startCluster({ services: [], redis: true });
  const dir = c.tmpDir;
  try {
    for (const s of ['location', 'order', 'assign']) {
      const rows = await c.sql(s, 'SELECT current_database() AS db, $1::int + 1 AS n', [41]);
      assert.deepEqual(rows, [{ db: `konnect_${s}`, n: 42 }]);
    }
    assert.match(c.pgUrl('order'), /^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/konnect_order$/);
    await c.sql('order', 'CREATE TABLE t (x int)');
    await c.sql('order', 'INSERT INTO t VALUES (1)');
    await c.stopPostgres();
    await assert.rejects(c.sql('order', 'SELECT 1'));
    await c.startPostgres();
    assert.deepEqual(await c.sql('order', 'SELECT x FROM t'), [{ x: 1 }]);
    await c.stopRedis();
    await c.startRedis();
    assert.equal(c.env.KN_REDIS_URL, `redis://127.0.0.1:${c.ports.redis}`);
  } finally {
    await c.stop();
  }
  assert.equal(fs.existsSync(dir), false, 'temp folder removed');
});

test('token: HS256 with the cluster secret and the contract claims', async () => {
  const c = await startCluster({ services: [], redis: false, postgres: false });
  try {
    const tenant = c.uuid();
    const sub = c.uuid();
    const tok = c.token({ tenant, sub, role: 'technician' });
    const [h, p, sig] = tok.split('.');
    assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url')), { alg: 'HS256', typ: 'JWT' });
    const claims = JSON.parse(Buffer.from(p, 'base64url'));
    assert.equal(claims.tenant, tenant);
    assert.equal(claims.sub, sub);
    assert.equal(claims.role, 'technician');
    assert.ok(claims.exp > Date.now() / 1000 + 3500);
    const want = crypto.createHmac('sha256', c.secret).update(`${h}.${p}`).digest('base64url');
    assert.equal(sig, want);
    assert.equal(c.env.KN_JWT_SECRET, c.secret);
    assert.equal(c.env.KN_REDIS_URL, '');
  } finally {
    await c.stop();
  }
});

test('services: env, readiness, clients, kill/restart, logs', async () => {
  const buildDir = fakeBuildDir();
  const c = await startCluster({
    services: ['location', 'order', 'assign'],
    replicas: { assign: 2 },
    gateway: true,
    buildDir,
    env: { FAKE_EXTRA: 'x1' },
  });
  try {
    const env = JSON.parse(c.logs('assign', 1).split('\n')[0]);
    assert.equal(env.listen, c.addr('assign', 1));
    assert.equal(env.db, c.pgUrl('assign'));
    assert.equal(env.extra, 'x1');
    assert.equal(env.assign, `ipv4:${c.addr('assign', 0)},${c.addr('assign', 1)}`);
    assert.equal(env.location, `ipv4:${c.addr('location', 0)}`);
    assert.equal(env.redis, `redis://127.0.0.1:${c.ports.redis}`);

    const h = c.client('health', { of: 'assign' });
    assert.equal((await c.call(h, 'Check', { service: '' })).status, 'SERVING');
    const res = await fetch(`${c.gatewayUrl}/healthz`);
    assert.equal(res.status, 200);

    // A client of a service that only serves Health: UNIMPLEMENTED, proving
    // the call path and the error shape (numeric code).
    await assert.rejects(c.call(c.client('order'), 'GetOrder', { id: c.uuid() }, c.token({ tenant: c.uuid(), sub: c.uuid() })),
      (e) => e.code === grpc.status.UNIMPLEMENTED);

    const exit = await c.kill('assign', 1, 'SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');
    assert.equal(c.pid('assign', 1), null);
    await c.restart('assign', 1);
    assert.ok(c.pid('assign', 1));
    assert.match(c.logs('assign', 1), /started again/);
  } finally {
    await c.stop();
    fs.rmSync(buildDir, { recursive: true, force: true });
  }
});

test('stop() throws on a sanitizer report, naming the service', async () => {
  const buildDir = fakeBuildDir();
  const c = await startCluster({
    services: ['order'], redis: false, buildDir, serviceEnv: { order: { FAKE_REPORT: '1' } },
  });
  await assert.rejects(c.stop(), (e) => /order-svc\[0\]: sanitizer report/.test(e.message)
    && /heap-use-after-free/.test(e.message));
  fs.rmSync(buildDir, { recursive: true, force: true });
});

test('stop() throws when a service died on its own', async () => {
  const buildDir = fakeBuildDir();
  const c = await startCluster({ services: ['location'], redis: false, postgres: false, buildDir });
  process.kill(c.pid('location', 0), 'SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  await assert.rejects(c.stop(), /location-svc\[0\] exited on its own/);
  fs.rmSync(buildDir, { recursive: true, force: true });
});

test('startCluster fails fast with the log tail when a binary is missing', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'konnect-nobuild-'));
  await assert.rejects(startCluster({ services: ['order'], redis: false, postgres: false, buildDir: empty }),
    /order-svc does not exist/);
  fs.rmSync(empty, { recursive: true, force: true });
});
