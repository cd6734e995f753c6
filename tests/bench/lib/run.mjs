// The one-shot benchmark of issue 8 (started by tests/bench/run, which
// installs the tools and builds build-rel first; see the usage there).
// One cluster (location, order, assign, gateway, Redis, PostgreSQL) with
// seeded data, then each pair side by side in the same run:
//   1. grpc     h2load on Health/Check and cached GetOrder vs nghttpd
//   2. gateway  wrk on cached GET /v1/orders/{id} vs nginx (lib/gateway.mjs)
//   3. writes   POST /v1/orders vs pgbench of CreateOrder's SQL (lib/writes.mjs)
//   4. latency  ListOrders, SearchActivity, AssignOrder and the contested
//               self-assign (lib/order_list.mjs, activity.mjs, assign.mjs)
// Every part has a time estimate; a part that would not fit in what is left
// of --budget is skipped (and says so), and a watchdog stops everything
// shortly after the budget, so a run always ends by itself.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCluster, SOURCE_DIR, BUILD_DIR } from '../../../scripts/lib/cluster.mjs';
import { measureSearchShapes, seedActivity } from './activity.mjs';
import { measureAssign } from './assign.mjs';
import { arg, loadavg, settle } from './common.mjs';
import { gatewayMedians, gatewayRound, gatewaySetup, wrk } from './gateway.mjs';
import { frame, grpcPair, pbString1, rawUnary, startNghttpd } from './grpc_h2.mjs';
import { measureOrderList, seedOrderList } from './order_list.mjs';
import { chart, markdown } from './report.mjs';
import { writePair } from './writes.mjs';

// The budget counts from tests/bench/run's start (its tool check and build
// included) when it says when that was.
const T0 = Number(process.env.KN_BENCH_STARTED_MS) || Date.now();
const argv = process.argv.slice(2);
const has = (name) => argv.includes(`--${name}`);
const QUICK = has('quick');
const num = (name, full, quick) => Number(arg(name, QUICK ? quick : full, process.argv));
const O = {
  scale: num('scale', 1, 0.02), // fraction of the issue's data
  duration: num('duration', 10, 3), // seconds per measured load run
  warmup: num('warmup', 3, 1), // seconds of warm-up before each
  rounds: num('rounds', 2, 1), // gateway rounds (medians)
  threads: num('threads', 2, 2), // load generator threads, every pair
  h2Clients: num('h2-clients', 16, 16),
  h2Streams: num('h2-streams', 16, 16),
  connections: num('connections', 64, 64), // gateway pair (wrk, the fixed-rate run)
  writeConnections: num('write-connections', 8, 8), // writes pair: wrk connections = pgbench clients
  latency: num('latency-duration', 1, 1), // seconds per ListOrders case and per SearchActivity query (h2load, after 1 s of warm-up)
  searchQueries: num('search-queries', 10, 3), // different queries per SearchActivity shape
  // AssignOrder latency part: 20 of them warm up, the rest are measured; 500
  // make the p99 the fifth-slowest call rather than nearly the slowest.
  assignOrders: num('assign-orders', 520, 30),
  budget: num('budget', 840, 300), // seconds for the whole run, seeding included
  // KN_WORKERS of order-svc and assign-svc. With PostgreSQL on the same 2
  // cores, 8 workers slice CPU-bound calls among 16 runnable threads and 2
  // leave commits' fsync waits idle; 4 serve both (docs/performance.md).
  workers: arg('workers', '4'),
  // location-svc's calls are all CPU work of its PostgreSQL (no commit to
  // wait for in the measured parts): one worker per core; more threads
  // only add context switches (docs/performance.md, "Activity search").
  locationWorkers: arg('location-workers', String(os.cpus().length)),
};
const PARTS = (arg('parts', 'grpc,gateway,writes,latency')).split(',');
const DATA = {
  big: Math.round(1_000_000 * O.scale), tenants: 10, small: Math.round(100_000 * O.scale), activity: Math.round(5_000_000 * O.scale),
};
const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/-\d+Z$/, 'Z');
const OUT = path.resolve(arg('out', path.join(SOURCE_DIR, 'tests/bench/out', stamp)));
fs.mkdirSync(OUT, { recursive: true });
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-bench-'));

const elapsed = () => (Date.now() - T0) / 1000;
const left = () => O.budget - elapsed();
const log = (s) => console.log(`[${elapsed().toFixed(0).padStart(4)} s] ${s}`);

const R = {
  when: new Date().toISOString(), quick: QUICK, options: O, data: { ...DATA },
  command: `tests/bench/run ${argv.join(' ')}`.trim(),
  buildDir: BUILD_DIR,
  machine: {
    cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '?', memGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    loadStart: loadavg(), loadEnd: null, loaded: false,
  },
  parts: [], commands: [],
  pgSharedBuffers: arg('pg-shared-buffers', `${Math.min(4096, Math.floor(os.totalmem() / 4 / 2 ** 20))}MB`),
};

let cluster = null;
const cleanups = [];
let finishing = false; // finish() runs once (the watchdog or the end)
async function cleanup() {
  for (const f of cleanups.splice(0).reverse()) {
    try { await f(); } catch (e) { console.error(`cleanup: ${e.message}`); }
  }
  if (cluster) {
    const c = cluster;
    cluster = null;
    // PostgreSQL's log (checkpoints, autovacuum) tells what ran during a part.
    try { fs.copyFileSync(path.join(c.logDir, 'postgres.log'), path.join(OUT, 'postgres.log')); } catch { /* no log */ }
    try { await c.stop(); } catch (e) { console.error(`cluster stop: ${e.message}`); }
  }
  fs.rmSync(work, { recursive: true, force: true });
}
// The watchdog: past the budget (plus a margin for the part in flight to
// finish), stop everything (10 s at most) and exit, whatever is running:
// budget + 40 s at the latest.
const watchdog = setTimeout(async () => {
  R.error = `the budget of ${O.budget} s was exceeded by 30 s: stopped (parts after it are missing)`;
  console.error(`bench: ${R.error}`);
  await finish(3);
}, Math.max(1, (O.budget + 30) * 1000 - (Date.now() - T0)));
watchdog.unref();
// On any exit (the cluster's own signal hook exits at once), the reference
// servers go too.
const childPids = new Set();
process.on('exit', () => {
  for (const pid of childPids) {
    try {
      // Only if the pid is still ours (not reused by another process).
      if (/^(nginx|nghttpd)/.test(fs.readFileSync(`/proc/${pid}/comm`, 'utf8'))) process.kill(pid, 'SIGTERM');
    } catch { /* gone */ }
  }
});

// Runs one part if its estimate fits in what is left; records its time.
async function part(name, estimateS, fn) {
  const entry = { name, s: 0, load: loadavg() };
  R.parts.push(entry);
  if (!PARTS.includes(name.split(':')[0]) && !name.startsWith('setup')) {
    entry.skipped = 'not in --parts';
    return;
  }
  if (estimateS > left()) {
    entry.skipped = `needs ~${estimateS.toFixed(0)} s, ${left().toFixed(0)} s left of the budget`;
    log(`${name}: skipped (${entry.skipped})`);
    return;
  }
  if (!name.startsWith('setup')) {
    // A quiet machine first: what an earlier part set off (a checkpoint,
    // autovacuum, the kernel's writeback) must not run inside this one.
    const q = await settle({ limitS: Math.max(2, Math.min(30, left() - estimateS)) });
    entry.settle = { s: Number(q.s.toFixed(1)), busy: Number((q.busy * 100).toFixed(0)) };
    entry.load = loadavg();
    if (q.busy >= 0.15) log(`${name}: the machine stayed busy (${entry.settle.busy} % of the CPUs) for ${entry.settle.s} s; measuring anyway`);
  }
  const t = Date.now();
  entry.startedAt = t;
  log(`${name}: start (estimate ${estimateS.toFixed(0)} s, load average ${entry.load}${entry.settle ? `, quiet after ${entry.settle.s} s` : ''})`);
  try {
    await fn();
  } catch (e) {
    entry.error = e.message;
    log(`${name}: FAILED: ${e.stack ?? e.message}`);
  }
  entry.s = (Date.now() - t) / 1000;
  delete entry.startedAt;
  log(`${name}: done in ${entry.s.toFixed(1)} s`);
}

let ctx = {};
try {
  await part('setup: cluster', 30, async () => {
    cluster = await startCluster({
      services: ['location', 'order', 'assign'],
      gateway: true,
      redis: true,
      // PostgreSQL as in production (fsync, synchronous_commit), not the
      // tests' throw-away settings: writes pay for their commits.
      durable: true,
      // and its memory: initdb's 128 MB of shared_buffers hold a tenth of
      // the seeded orders' table and indexes, so every part would read
      // through the kernel's page cache. A quarter of RAM, at most 4 GB,
      // is the usual production starting point (pgbench shares it).
      pgSettings: { shared_buffers: R.pgSharedBuffers, log_checkpoints: 'on', log_autovacuum_min_duration: '0' },
      env: { KN_WORKERS: O.workers, KN_LOG_LEVEL: 'warn' },
      serviceEnv: { gateway: { KN_GATEWAY_RATE_LIMIT_RPS: '0' }, location: { KN_WORKERS: O.locationWorkers } },
    });
  });
  if (!cluster) throw new Error('the cluster did not start');
  const c = cluster;

  // Orders and activity go to two databases: seeded side by side (one
  // PostgreSQL backend each, so both cores work).
  await part('setup: seeding', 200 * O.scale + 20, async () => {
    const t = Date.now();
    const actTenant = c.uuid();
    const [orders] = await Promise.all([
      seedOrderList(c, { big: DATA.big, small: DATA.small, tenants: DATA.tenants }),
      seedActivity(c, actTenant, DATA.activity, { log: (l) => log(`activity: ${l}`), rebuildIndexes: true }),
    ]);
    // The seeding's WAL is flushed now, not by a checkpoint in a measurement.
    await c.sql('order', 'CHECKPOINT');
    ctx = { orders, actTenant };
    const [{ id }] = await c.sql('order', 'SELECT id FROM orders WHERE tenant_id = $1 ORDER BY id LIMIT 1', [orders.tenant]);
    ctx.orderId = id;
    ctx.hq = c.token({ tenant: orders.tenant, sub: c.uuid(), role: 'hq' });
    R.data.seedS = (Date.now() - t) / 1000;
    log(`seeded ${DATA.big} + ${DATA.tenants} x ${DATA.small} orders and ${DATA.activity} activity rows`);
  });
  if (!ctx.orderId) throw new Error('seeding failed');

  const loadRun = O.warmup + O.duration;
  // 1. gRPC runtime.
  await part('grpc', 2 * 2 * (loadRun + 3) + 5, async () => {
    const addr = c.addr('order');
    const health = '/grpc.health.v1.Health/Check';
    const getOrder = '/konnect.order.v1.OrderService/GetOrder';
    const hResp = await rawUnary(addr, health, Buffer.alloc(0));
    const gReq = pbString1(ctx.orderId);
    const gResp = await rawUnary(addr, getOrder, gReq, ctx.hq); // fills the cache
    const ng = await startNghttpd(work, { [health]: frame(hResp), [getOrder]: frame(gResp) });
    childPids.add(ng.pid);
    cleanups.push(() => ng.stop());
    const opts = { clients: O.h2Clients, streams: O.h2Streams, threads: O.threads, duration: O.duration, warmup: O.warmup };
    const pairs = [];
    pairs.push(await grpcPair(work, { name: 'health', addr, methodPath: health, reqMsg: Buffer.alloc(0), nghttpd: ng, respFrame: frame(hResp), first: 'system' }, opts));
    pairs.push(await grpcPair(work, { name: 'getorder', addr, methodPath: getOrder, reqMsg: gReq, token: ctx.hq, nghttpd: ng, respFrame: frame(gResp), first: 'reference' }, opts));
    await ng.stop();
    for (const f of ['health.req', 'getorder.req']) fs.copyFileSync(path.join(work, f), path.join(OUT, f));
    R.grpc = { pairs, nghttpd: 'nghttpd --no-tls -n 2 --trailer "grpc-status: 0"' };
    for (const p of pairs) {
      R.commands.push(p.system.cmd);
      log(`  ${p.name}: order-svc ${p.system.rps.toFixed(0)} req/s, nghttpd ${p.reference.rps.toFixed(0)} req/s, ratio ${p.ratio.toFixed(3)}${p.valid ? '' : ` INVALID: ${p.problems.join('; ')}`}`);
    }
  });

  // 2. Gateway.
  await part('gateway', O.rounds * (5 * O.duration + 8) + 5, async () => {
    const pair = await gatewaySetup(c, { orderId: ctx.orderId, token: ctx.hq });
    childPids.add(pair.nginx.pid);
    cleanups.push(() => pair.stop());
    const rounds = [];
    for (let r = 0; r < O.rounds; r++) {
      // Warm-up of both sides (connections, caches), untimed.
      wrk(pair.gwUrl, { token: ctx.hq, threads: O.threads, conns: O.connections, duration: O.warmup });
      wrk(pair.nginx.url, { token: ctx.hq, threads: O.threads, conns: O.connections, duration: O.warmup });
      rounds.push(await gatewayRound(pair, { threads: O.threads, conns: O.connections, duration: O.duration, warmup: O.warmup, round: r }));
    }
    await pair.stop();
    const med = gatewayMedians(rounds);
    const problems = [];
    for (const x of rounds) {
      if (x.gw.non2xx || x.gw.sockErr) problems.push(`gateway wrk: ${x.gw.non2xx} non-2xx ${x.gw.sockErr}`);
      if (x.ng.non2xx || x.ng.sockErr) problems.push(`nginx wrk: ${x.ng.non2xx} non-2xx ${x.ng.sockErr}`);
      if (x.fixed.errors || x.fixed.non2xx) problems.push(`fixed rate: ${x.fixed.errors} errors, ${x.fixed.non2xx} non-2xx`);
    }
    R.gateway = { rounds, med, bytes: pair.body.length, valid: problems.length === 0, problems };
    R.commands.push(rounds[0].gw.cmd);
    log(`  gateway ${med.gw.toFixed(0)} req/s, nginx ${med.ng.toFixed(0)} req/s, ratio ${med.ratio.toFixed(3)}; fixed ${med.rate} req/s p99 ${med.fp99.toFixed(2)} ms; VmHWM ${med.hwm.toFixed(1)} MiB`);
  });

  // 3. Writes.
  await part('writes', 2 * (loadRun + 2) + 10, async () => {
    const w = await writePair(c, { clients: O.writeConnections, threads: O.threads, duration: O.duration, warmup: O.warmup, dir: work });
    for (const f of ['create_order.sql', 'post_order.lua']) fs.copyFileSync(path.join(work, f), path.join(OUT, f));
    R.writes = w;
    R.commands.push(w.system.cmd, w.reference.cmd);
    log(`  POST /v1/orders ${w.system.rps.toFixed(0)}/s, pgbench ${w.reference.tps.toFixed(0)} tps, ratio ${w.ratio.toFixed(3)}${w.valid ? '' : ` INVALID: ${w.problems.join('; ')}`}`);
  });

  // 4. Latency figures of the service issues.
  await part('latency: ListOrders', 29 * (O.latency + 2) + 5, async () => {
    R.orderList = await measureOrderList(c, ctx.orders, { duration: O.latency, concurrency: 8, dir: work });
    R.commands.push(R.orderList.cmd);
    log(`  ListOrders: worst client p99 ${R.orderList.worst.toFixed(1)} ms over ${R.orderList.rows.length} cases`);
  });
  await part('latency: SearchActivity', 3 * O.searchQueries * (O.latency + 2) + 5, async () => {
    const token = c.token({ tenant: ctx.actTenant, sub: c.uuid(), role: 'hq' });
    R.search = await measureSearchShapes(c, token, DATA.activity, { queries: O.searchQueries, duration: O.latency, concurrency: 8, dir: work });
  });
  await part('latency: assign', O.assignOrders * 0.06 + 15, async () => {
    R.assign = await measureAssign(c, { orders: O.assignOrders, throughput: false });
    log(`  AssignOrder p50 ${R.assign.latency.p50.toFixed(2)} p99 ${R.assign.latency.p99.toFixed(2)} ms; contested SelfAssignOrder p50 ${R.assign.race.p50.toFixed(1)} p99 ${R.assign.race.p99.toFixed(1)} ms, settled in ${R.assign.raceMs} ms`);
  });
} catch (e) {
  R.error = e.stack ?? e.message;
  console.error(`bench: ${R.error}`);
} finally {
  await finish();
}

// Stops what runs, writes the reports, exits.
async function finish(code = 0) {
  if (finishing) return;
  finishing = true;
  clearTimeout(watchdog);
  for (const p of R.parts) {
    if (p.startedAt) { // interrupted by the watchdog
      p.s = (Date.now() - p.startedAt) / 1000;
      p.skipped = 'interrupted by the watchdog';
      delete p.startedAt;
    }
  }
  const t = Date.now();
  await Promise.race([cleanup(), new Promise((r) => setTimeout(r, 10_000))]);
  R.parts.push({ name: 'teardown', s: (Date.now() - t) / 1000, load: loadavg() });
  R.machine.loadEnd = loadavg();
  // Only the start says whether others were busy: during the run, its own
  // load generators and services keep both cores busy (a load average of
  // 4-6 by themselves).
  R.machine.loaded = Number(R.machine.loadStart.split(' ')[0]) >= 2;
  R.totalS = elapsed();
  fs.writeFileSync(path.join(OUT, 'report.json'), JSON.stringify(R, null, 2) + '\n');
  const md = markdown(R) + `\nTotal: ${R.totalS.toFixed(0)} s.\n`;
  fs.writeFileSync(path.join(OUT, 'report.md'), md);
  const png = chart(R, OUT);
  console.log(`\n${md}`);
  console.log(`report: ${OUT}/report.md, report.json; chart: ${png}`);
  // grpc-js may keep a timer alive for a while: exit now.
  process.exit(code || (R.error || R.parts.some((p) => p.error) ? 1 : 0));
}
