// Reliability 3 — Redis stop and start under load (issue 8).
//
// Two replicas of order-svc and location-svc share one Redis (their GetOrder
// and door-contents caches). The create + assign load runs throughout (with
// Redis down assign-svc locks in PostgreSQL). Each round:
//   1. fills the caches: GetOrder of some orders and ListDoorContents of a
//      multi-item door, through both replicas (the keys are checked to be
//      in Redis, so the test is not vacuous);
//   2. stops Redis; through replica 0 only, changes every order's
//      identifier (UpdateOrder, acknowledged) and delivers one more package
//      into the door (DeliverPackage, acknowledged);
//   3. while Redis is down, reads through replica 1 show the new values;
//   4. starts Redis and reads through replica 1, then replica 0, for 3 s:
//      never a value older than the acknowledged write.
// Round A is the harness's plain stop/start (Redis comes back empty).
// Round B is Redis with persistence: a SAVE before the stop, so Redis comes
// back with the snapshot it had (production Redis with RDB/AOF, or a
// replica promoted after a failover) — the case where a delete that could
// not reach Redis matters. Throughout: no request of the load failed, no
// error at all (Redis is never the source of truth), and the invariant
// checker finds the databases consistent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startCluster } from '../../scripts/lib/cluster.mjs';
import {
  S, sleep, makeWorld, startLoad, loadClients, Recorder, callRetry, registerPackages, checkAcknowledged, checkAssignees,
} from './lib/load.mjs';
import { settleInvariants, formatViolations } from './lib/checker.mjs';

const ORDERS_PER_ROUND = 8;
const WATCH_MS = 3000;

let c;
let world;
let load;
let rec;
let door;
const extraRequests = [];
const inDoor = []; // every package delivered into the door so far

const redis = (...args) => execFileSync('redis-cli', ['-p', String(c.ports.redis), ...args], { encoding: 'utf8' }).trim();

before(async () => {
  c = await startCluster({
    services: ['location', 'order', 'assign'], replicas: { location: 2, order: 2, assign: 1 }, redis: true,
  });
  rec = new Recorder();
  world = await makeWorld(c, { techs: 4, packages: 30 });
  door = await callRetry(c, c.client('location'), 'CreateDoor', {
    location_id: world.location, label: 'R1', size: 'DOOR_SIZE_M', multi_item: true,
  }, world.hq);
  load = startLoad(c, world, {
    workers: 2, clients: loadClients(c), rec, retryOn: [S.UNAVAILABLE], maxMs: 20_000, refillBelow: 10, pauseMs: 30,
  });
});

after(async () => {
  await load?.stop();
  await c?.stop();
});

async function round(t, { persist }) {
  const o = [0, 1].map((i) => c.client('order', { replica: i }));
  const l = [0, 1].map((i) => c.client('location', { replica: i }));
  const tag = persist ? 'B' : 'A';
  const t0 = Date.now();

  // Orders of this round and two packages for the door.
  const orders = [];
  for (let k = 0; k < ORDERS_PER_ROUND; k++) {
    const request_id = c.uuid();
    extraRequests.push(request_id);
    const [pk] = await registerPackages(c, world, 1);
    orders.push(await callRetry(c, o[k % 2], 'CreateOrder', {
      request_id, type: 'ORDER_TYPE_JOB', location_id: world.location, package_ids: [pk],
    }, world.hq));
  }
  const [pa, pb] = await registerPackages(c, world, 2);
  await c.call(l[0], 'DeliverPackage', { id: pa, door_id: door.id }, world.hq);
  inDoor.push(pa);
  const ph = [`setup ${Date.now() - t0} ms`];

  // 1. Fill the caches through both replicas.
  const etags = new Map();
  for (const ord of orders) {
    for (const cl of o) etags.set(ord.id, (await c.call(cl, 'GetOrder', { id: ord.id }, world.hq)).etag);
  }
  const doorReq = { location_id: world.location, door_id: door.id };
  for (const cl of l) await c.call(cl, 'ListDoorContents', doorReq, world.hq);
  const cached = orders.filter((ord) => redis('EXISTS', `kn:order:${world.tenant}:order:${ord.id}`) === '1').length;
  const doorCached = redis('EXISTS', `kn:location:${world.tenant}:door:${door.id}:contents`) === '1';
  t.diagnostic(`round ${tag}: ${cached}/${orders.length} orders and door contents (${doorCached}) cached before the outage`);
  assert.equal(cached, orders.length, 'GetOrder fills the cache (otherwise this test proves nothing)');
  assert.ok(doorCached, 'ListDoorContents fills the cache');
  if (persist) redis('SAVE');

  // 2. Redis down; writes through replica 0, acknowledged.
  await c.stopRedis();
  const want = new Map();
  for (const ord of orders) {
    const identifier = `REL-${tag}-${ord.id.slice(0, 8)}`;
    const res = await c.call(o[0], 'UpdateOrder', { id: ord.id, identifier, etag: etags.get(ord.id) }, world.hq);
    assert.equal(res.identifier, identifier);
    want.set(ord.id, { identifier, etag: res.etag });
  }
  await c.call(l[0], 'DeliverPackage', { id: pb, door_id: door.id }, world.hq);
  inDoor.push(pb);
  const wantDoor = [...inDoor].sort();
  ph.push(`writes done ${Date.now() - t0} ms`);

  const stale = [];
  const readAll = async (phase, t0) => {
    for (const i of [1, 0]) {
      for (const ord of orders) {
        const got = await c.call(o[i], 'GetOrder', { id: ord.id }, world.hq);
        const w = want.get(ord.id);
        if (got.identifier !== w.identifier || got.etag !== w.etag) {
          stale.push(`${phase} +${Date.now() - t0} ms order-svc[${i}] GetOrder ${ord.id}: identifier '${got.identifier}' etag ${got.etag}, acknowledged '${w.identifier}' etag ${w.etag}`);
        }
      }
      const dc = await c.call(l[i], 'ListDoorContents', doorReq, world.hq);
      const ids = dc.packages.map((p) => p.id).sort();
      if (JSON.stringify(ids) !== JSON.stringify(wantDoor)) {
        stale.push(`${phase} +${Date.now() - t0} ms location-svc[${i}] ListDoorContents ${door.id}: ${ids.length} packages [${ids.join(',')}], acknowledged [${wantDoor.join(',')}]`);
      }
    }
  };
  // 3. Correct while Redis is down.
  await readAll('redis down', Date.now());

  ph.push(`reads while down done ${Date.now() - t0} ms`);
  // 4. Redis back: never older than the acknowledged writes.
  await c.startRedis();
  ph.push(`redis back ${Date.now() - t0} ms`);
  const upAt = Date.now();
  const passes = [];
  while (Date.now() - upAt < WATCH_MS) {
    const p0 = Date.now();
    await readAll('redis back', upAt);
    passes.push(Date.now() - p0);
    await sleep(250);
  }
  ph.push(`read passes after the restart took [${passes.join(', ')}] ms`);
  t.diagnostic(`round ${tag}: ${ph.join(', ')}`);
  t.diagnostic(`round ${tag}: ${stale.length} stale reads${stale.length ? `, first: ${stale.slice(0, 6).join(' | ')}` : ''}`);
  return stale;
}

test('Redis stop and start (comes back empty): no stale read after an acknowledged write', { timeout: 60_000 }, async (t) => {
  await sleep(1000);
  const stale = await round(t, { persist: false });
  assert.deepEqual(stale, [], 'no read older than an acknowledged write');
});

test('Redis stop and start with its data (persistence): no stale read after an acknowledged write', { timeout: 60_000 }, async (t) => {
  const stale = await round(t, { persist: true });
  assert.deepEqual(stale, [], 'no read older than an acknowledged write');
});

test('the load saw no error at all, and the databases are consistent', { timeout: 90_000 }, async (t) => {
  await sleep(1000);
  await load.stop();
  t.diagnostic(`load: ${rec.summary()}; orders acknowledged ${load.acked.length}`);
  assert.ok(load.acked.length >= 5, `the load ran (${load.acked.length} orders)`);
  assert.deepEqual(rec.attemptErrors.map((e) => `${e.method} ${e.name}: ${e.details}`), [], 'no error while Redis was down or back');
  assert.deepEqual(load.unfinished, []);
  const ack = await checkAcknowledged(c, world, load, { alsoSent: extraRequests });
  assert.deepEqual(ack.problems, [], 'every acknowledged create exists exactly once');
  assert.deepEqual(await checkAssignees(c, world, load), [], 'no acknowledged assignment was lost');
  const inv = await settleInvariants(c, { tenants: [world.tenant], timeoutMs: 45_000 });
  t.diagnostic(`checker: ${inv.violations.length} violations after ${inv.waitedMs} ms; stats ${JSON.stringify(inv.stats)}`);
  assert.equal(inv.violations.length, 0, formatViolations(inv));
});
