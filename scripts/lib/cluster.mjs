// The one implementation of "start PostgreSQL + Redis + the Konnect services
// (+ gateway)". Used by the integration tests (a private cluster per test
// file, in a temporary folder, on free ports) and by `scripts/cluster up`
// (the persistent local cluster: fixed ports, data under ./.data, processes
// detached with pid files so that `down` stops exactly them).
//
//   const c = await startCluster({ services: ['location', 'order'], redis: true });
//   const order = c.client('order');
//   await c.call(order, 'GetOrder', { id }, c.token({ tenant, sub, role: 'hq' }));
//   await c.stop();   // throws when a service crashed or a sanitizer reported
//
// See the README's "Tests" section and docs/testing.md.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

import {
  freePort, livePidFromFile, portInUse, redisPing, run, sleep, spawnLogged, tail,
  waitPidGone, writePidFile,
} from './util.mjs';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const pg = require('pg');

export const SOURCE_DIR = process.env.KN_SOURCE_DIR
  || path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BUILD_DIR = process.env.KN_BUILD_DIR || path.join(SOURCE_DIR, 'build');
export { grpc, protoLoader };

// Start order follows the call graph: a service starts after those it calls.
export const SERVICES = ['location', 'order', 'assign'];
const FULL_NAME = {
  location: 'konnect.location.v1.LocationService',
  order: 'konnect.order.v1.OrderService',
  assign: 'konnect.assign.v1.AssignService',
};
const DEFAULT_PORTS = { postgres: 55432, redis: 56379, location: 7101, order: 7102, assign: 7103, gateway: 8080 };
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
const SANITIZER_MARKERS = ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:'];

export const PROTO_LOADER_OPTIONS = {
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
  includeDirs: [path.join(SOURCE_DIR, 'proto'), '/usr/include', '/usr/share/grpc-proto'],
};

let protoCache = null;
// The repo's protos plus grpc.health.v1, loaded once per process.
export function loadProtos() {
  if (protoCache) return protoCache;
  const files = SERVICES.map((s) => `konnect/${s}/v1/${s}.proto`);
  const defs = protoLoader.loadSync([...files, 'grpc/health/v1/health.proto'], PROTO_LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(defs);
  protoCache = {
    defs,
    pkg,
    ctor: {
      location: pkg.konnect.location.v1.LocationService,
      order: pkg.konnect.order.v1.OrderService,
      assign: pkg.konnect.assign.v1.AssignService,
      health: pkg.grpc.health.v1.Health,
    },
  };
  return protoCache;
}

// ---------------------------------------------------------------- JWT

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// HS256 JWT as the services expect it (claims sub, tenant, role, exp).
// `claims` may override or add anything (exp in the past, extra claims...);
// `header` lets a test forge e.g. alg "none".
export function signJwt(secret, claims, { header = { alg: 'HS256', typ: 'JWT' } } = {}) {
  const h = b64url(JSON.stringify(header));
  const p = b64url(JSON.stringify(claims));
  const sig = crypto.createHmac('sha256', secret).update(`${h}.${p}`).digest();
  return `${h}.${p}.${b64url(sig)}`;
}

// ---------------------------------------------------------------- PostgreSQL

function pgBinDir() {
  const root = '/usr/lib/postgresql';
  if (fs.existsSync(`${root}/15/bin/initdb`)) return `${root}/15/bin`;
  const versions = fs.existsSync(root)
    ? fs.readdirSync(root).filter((v) => fs.existsSync(`${root}/${v}/bin/initdb`)).sort((a, b) => b - a)
    : [];
  if (!versions.length) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql: run scripts/install-deps');
  return `${root}/${versions[0]}/bin`;
}

// A backend allocates and frees several MB for each statement it plans;
// with glibc's defaults it gives the top of its heap back to the kernel
// after each one (trim threshold 128 kB) and faults it in again, page by
// page, for the next. On this VM a page fault is a VM exit: a technician's
// ListOrders (a custom-planned UNION) spent most of its time there and ran
// at a third of the rate it has when a backend keeps up to 64 MB of free
// heap (docs/performance.md, docs/operations.md). Setting one malloc
// parameter turns off glibc's sliding mmap threshold, so it is set too:
// with the trim threshold alone every block over 128 kB was mapped and
// unmapped again, and SearchActivity ran 2.5x slower. The MALLOC_*_
// variables, one per parameter, because Debian 12's ld.so passes on only
// the first entry of GLIBC_TUNABLES to a child process.
const PG_MALLOC_ENV = { MALLOC_TRIM_THRESHOLD_: '67108864', MALLOC_MMAP_THRESHOLD_: '33554432' };

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

// PostgreSQL refuses to run as root: when root, run its tools as `postgres`.
function asPg(bin, args) {
  return isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

function chownPg(p) {
  if (!isRoot()) return;
  const { uid, gid } = pgUser();
  fs.chownSync(p, uid, gid);
}

let pgUserCache = null;
function pgUser() {
  if (pgUserCache) return pgUserCache;
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root needs the `postgres` OS user (installed with the postgresql package)');
  const f = line.split(':');
  pgUserCache = { uid: Number(f[2]), gid: Number(f[3]) };
  return pgUserCache;
}

class Postgres {
  constructor({ dir, logPath, port, testMode, settings = {} }) {
    this.bin = pgBinDir();
    this.settings = settings;
    this.dataDir = path.join(dir, 'pgdata');
    this.sockDir = path.join(dir, 'pgsock');
    this.logPath = logPath;
    this.port = port;
    this.testMode = testMode;
  }

  async init() {
    if (fs.existsSync(path.join(this.dataDir, 'PG_VERSION'))) return false;
    fs.mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    chownPg(this.dataDir);
    if (isRoot()) {
      // The postgres user must be able to reach its data folder.
      try {
        execFileSync('runuser', ['-u', 'postgres', '--', 'test', '-w', this.dataDir]);
      } catch {
        throw new Error(`the postgres OS user cannot write ${this.dataDir}: a parent folder is not `
          + 'traversable by others; choose a data folder elsewhere (KN_DATA_DIR)');
      }
    }
    const [cmd, args] = asPg(path.join(this.bin, 'initdb'),
      ['-D', this.dataDir, '-U', 'postgres', '-A', 'trust', '--no-locale', '-E', 'UTF8',
        ...(this.testMode ? ['--no-sync'] : [])]);
    await run(cmd, args);
    return true;
  }

  running() {
    try {
      const [cmd, args] = asPg(path.join(this.bin, 'pg_ctl'), ['-D', this.dataDir, 'status']);
      execFileSync(cmd, args, { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }

  async start() {
    fs.mkdirSync(this.sockDir, { recursive: true });
    chownPg(this.sockDir);
    if (!fs.existsSync(this.logPath)) fs.writeFileSync(this.logPath, '');
    chownPg(this.logPath);
    let opts = `-p ${this.port} -k ${this.sockDir} -c listen_addresses=127.0.0.1 -c max_connections=300`;
    // Durability is worthless for a throw-away test cluster and costs seconds.
    if (this.testMode) opts += ' -c fsync=off -c synchronous_commit=off -c full_page_writes=off';
    for (const [k, v] of Object.entries(this.settings)) {
      if (!/^[a-z_.]+$/.test(k) || !/^[\w.]+$/.test(String(v))) throw new Error(`pgSettings: ${k}=${v}`);
      opts += ` -c ${k}=${v}`;
    }
    const [cmd, args] = asPg(path.join(this.bin, 'pg_ctl'),
      ['-D', this.dataDir, '-l', this.logPath, '-w', '-t', '60', '-o', opts, 'start']);
    try {
      // The server inherits PG_MALLOC_ENV (see there) unless the caller's
      // environment sets those variables itself.
      await run(cmd, args, { env: { ...PG_MALLOC_ENV, ...process.env } });
    } catch (e) {
      e.message += `\n--- ${this.logPath}\n${tail(this.logPath)}`;
      throw e;
    }
  }

  async stop(mode = 'fast') {
    if (!fs.existsSync(path.join(this.dataDir, 'postmaster.pid'))) return;
    const [cmd, args] = asPg(path.join(this.bin, 'pg_ctl'), ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
    await run(cmd, args);
  }

  // Synchronous, for process-exit cleanup.
  stopNow() {
    if (!fs.existsSync(path.join(this.dataDir, 'postmaster.pid'))) return;
    try {
      const [cmd, args] = asPg(path.join(this.bin, 'pg_ctl'), ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']);
      execFileSync(cmd, args, { stdio: 'ignore' });
    } catch { /* already gone */ }
  }

  url(db) {
    return `postgresql://postgres@127.0.0.1:${this.port}/${db}`;
  }

  async createDatabases(names) {
    const client = new pg.Client({ connectionString: this.url('postgres') });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT datname FROM pg_database');
      const have = new Set(rows.map((r) => r.datname));
      for (const n of names) {
        if (!have.has(n)) await client.query(`CREATE DATABASE ${n}`);
      }
    } finally {
      await client.end();
    }
  }
}

export const dbName = (svc) => (svc.startsWith('konnect_') || svc === 'postgres' ? svc : `konnect_${svc.replace(/-svc$/, '')}`);

// ---------------------------------------------------------------- processes

// One supervised process: a service replica, the gateway, or redis.
class Proc {
  constructor({ name, cmd, args = [], env, logPath, pidPath, detached }) {
    Object.assign(this, { name, cmd, args, env, logPath, pidPath, detached });
    this.child = null;
    this.pid = null;
    this.exit = null; // { code, signal } of the last exit
    this.failures = []; // unexpected exits, kept for stop()
    this.expectExit = null; // the signal the harness sent, if any
  }

  start() {
    if (!fs.existsSync(this.cmd)) {
      throw new Error(`${this.name}: ${this.cmd} does not exist (build first: cmake --build ${BUILD_DIR})`);
    }
    if (fs.existsSync(this.logPath) && fs.statSync(this.logPath).size > 0) {
      fs.appendFileSync(this.logPath, `\n==== harness: ${this.name} started again ${new Date().toISOString()} ====\n`);
    }
    const child = spawnLogged(this.cmd, this.args, { env: this.env, logPath: this.logPath, detached: this.detached });
    this.child = child;
    this.pid = child.pid;
    this.exit = null;
    this.expectExit = null;
    child.on('error', (e) => {
      this.exit = { code: null, signal: null, error: e };
      this.failures.push(`${this.name}: could not start: ${e.message}`);
    });
    child.on('exit', (code, signal) => {
      this.exit = { code, signal };
      const expected = this.expectExit;
      if (expected === 'SIGKILL' && signal === 'SIGKILL') return;
      if (expected && code === 0) return;
      if (!expected && !this.detached) {
        this.failures.push(`${this.name} exited on its own (code ${code}, signal ${signal})`);
      } else if (code !== 0) {
        this.failures.push(`${this.name} exited with code ${code} signal ${signal} after ${expected}`);
      }
    });
    // The test runner must not wait for services: stop() or the exit hook ends them.
    child.unref();
    if (this.pidPath) writePidFile(this.pidPath, child.pid);
    return this;
  }

  // Adopts a detached process left running by an earlier `up`.
  adopt(pid) {
    this.pid = pid;
    this.child = null;
    this.exit = null;
    return this;
  }

  alive() {
    if (this.child) return this.exit === null;
    return this.pid !== null && livePidFromFile(this.pidPath) === this.pid;
  }

  async signal(sig = 'SIGTERM', timeoutMs = STOP_TIMEOUT_MS) {
    if (!this.alive()) return this.exit;
    this.expectExit = sig;
    try {
      process.kill(this.pid, sig);
    } catch { /* already gone */ }
    const gone = await this.waitExit(timeoutMs);
    if (!gone) {
      this.failures.push(`${this.name} did not exit within ${timeoutMs / 1000} s of ${sig}: killed`);
      this.expectExit = 'SIGKILL';
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch { /* gone */ }
      await this.waitExit(5000);
    }
    if (this.pidPath) fs.rmSync(this.pidPath, { force: true });
    return this.exit;
  }

  async waitExit(timeoutMs) {
    if (this.child) {
      const end = Date.now() + timeoutMs;
      while (this.exit === null && Date.now() < end) await sleep(20);
      return this.exit !== null;
    }
    return waitPidGone(this.pid, timeoutMs);
  }

  killNow() {
    if (this.alive()) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch { /* gone */ }
    }
  }
}

// Sanitizer reports in a log: the text from each marker on.
export function sanitizerReports(text) {
  const out = [];
  for (const m of SANITIZER_MARKERS) {
    let i = text.indexOf(m);
    while (i !== -1) {
      const start = text.lastIndexOf('\n', i) + 1;
      out.push(text.slice(start, start + 6000));
      i = text.indexOf(m, i + m.length);
      if (out.length > 5) return out;
    }
  }
  return out;
}

// ---------------------------------------------------------------- gRPC helpers

function grpcTarget(ports) {
  return `ipv4:${ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
}

const CHANNEL_OPTIONS = {
  'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  'grpc.max_receive_message_length': 64 << 20,
  'grpc.max_send_message_length': 64 << 20,
};

// Resolves the status name ("SERVING"...) of grpc.health.v1.Health/Check.
export function healthCheck(addr, service = '', deadlineMs = 2000) {
  const { ctor } = loadProtos();
  const client = new ctor.health(addr, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.Check({ service }, { deadline: Date.now() + deadlineMs }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res.status);
    });
  });
}

export function callUnary(client, method, request, token, { deadlineMs = 30_000, metadata = {} } = {}) {
  const fn = client[method];
  if (typeof fn !== 'function') {
    return Promise.reject(new Error(`no method ${method} on this client`));
  }
  const md = new grpc.Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve, reject) => {
    fn.call(client, request, md, { deadline: Date.now() + deadlineMs }, (err, res) => {
      if (err) reject(err);
      else resolve(res);
    });
  });
}

async function httpOk(url, timeoutMs = 2000) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- the cluster

const liveClusters = new Set();
let exitHookInstalled = false;

// A test that throws before stop() must not leave PostgreSQL or a service
// running: kill everything this process started when it exits.
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of liveClusters) c._killNow();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      for (const c of liveClusters) c._killNow();
      process.exit(128 + os.constants.signals[sig]);
    });
  }
}

/**
 * Starts a cluster. Options:
 *   services   ['location','order','assign'] which services to start
 *   replicas   { assign: 2 } per service, default 1
 *   gateway    false: start the HTTP gateway too
 *   redis      true: start a private redis-server (false: KN_REDIS_URL='')
 *   postgres   true
 *   env        extra env for every service process
 *   serviceEnv { order: {...} } extra env per service
 *   buildDir   default $KN_BUILD_DIR or <repo>/build
 *   durable    true: PostgreSQL keeps its production durability (fsync,
 *              synchronous_commit); test clusters turn both off unless
 *              this (or KN_PG_DURABLE=1 in the environment) is set, so
 *              benchmarks of writes set it
 *   pgSettings { shared_buffers: '4GB', ... } server settings (-c) for
 *              PostgreSQL started here
 * Persistent mode (scripts/cluster): dataDir, ports, detached: true, secrets
 * { jwt, internal }. Data is reused when it exists; processes left running by
 * an earlier `up` (pid files in dataDir/run) are adopted, not restarted.
 */
export async function startCluster(opts = {}) {
  // A free port is picked by binding port 0 and closing it, then used a
  // moment later; a test starting its own cluster in parallel (ctest -j2)
  // can take it meanwhile. A private cluster that lost a port starts again
  // on new ones; a persistent one has fixed ports and reports it.
  for (let attempt = 1; ; attempt++) {
    const c = new Cluster(opts);
    if (!c.detached) {
      installExitHook();
      liveClusters.add(c);
    }
    try {
      await c._start();
      return c;
    } catch (e) {
      if (!c.detached) {
        try {
          await c._teardown();
        } catch { /* the start error is the one to report */ }
        liveClusters.delete(c);
        if (c.dir && !process.env.KN_KEEP_TEST_DIR) fs.rmSync(c.dir, { recursive: true, force: true });
      }
      if (c.persistent || attempt >= 3 || !/address (already )?in use|EADDRINUSE|is in use/i.test(String(e.message))) throw e;
      process.stderr.write(`cluster: a port was taken meanwhile, starting again on new ports (${attempt})\n`);
    }
  }
}

class Cluster {
  constructor(opts) {
    this.opts = opts;
    this.services = opts.services ?? [...SERVICES];
    for (const s of this.services) {
      if (!SERVICES.includes(s)) throw new Error(`unknown service ${s}`);
    }
    this.services.sort((a, b) => SERVICES.indexOf(a) - SERVICES.indexOf(b));
    this.replicas = Object.fromEntries(SERVICES.map((s) => [s, opts.replicas?.[s] ?? 1]));
    this.withGateway = !!opts.gateway;
    this.withRedis = opts.redis ?? true;
    this.withPostgres = opts.postgres ?? true;
    this.buildDir = opts.buildDir ?? BUILD_DIR;
    this.detached = !!opts.detached;
    this.persistent = !!opts.dataDir;
    this.durable = this.persistent || (opts.durable ?? process.env.KN_PG_DURABLE === '1');
    this.secret = opts.secrets?.jwt ?? crypto.randomBytes(32).toString('hex');
    this.internalSecret = opts.secrets?.internal ?? crypto.randomBytes(32).toString('hex');
    this.procs = {}; // key "order/0" → Proc
    this.clients = new Map();
    this.pools = new Map();
    this.stopped = false;
    this.gatewayUrl = null;
    this.log = opts.log ?? (() => {});
  }

  // ------------------------------------------------------------ setup

  async _start() {
    if (this.persistent) {
      this.dir = path.resolve(this.opts.dataDir);
      fs.mkdirSync(this.dir, { recursive: true });
    } else {
      this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'konnect-'));
    }
    // The postgres OS user has to traverse it to reach its own folders.
    fs.chmodSync(this.dir, 0o755);
    this.logDir = path.join(this.dir, 'logs');
    this.runDir = path.join(this.dir, 'run');
    fs.mkdirSync(this.logDir, { recursive: true });
    fs.mkdirSync(this.runDir, { recursive: true });

    await this._allocatePorts();
    if (this.withPostgres) await this._startPostgres();
    if (this.withRedis) await this._startRedisProc();
    this.env = this._serviceEnv();

    for (const svc of this.services) {
      // Replicas of one service start together (they race on migrations,
      // which the runtime serialises with an advisory lock).
      const starts = [];
      for (let i = 0; i < this.replicas[svc]; i++) starts.push(this._startService(svc, i));
      await Promise.all(starts);
    }
    if (this.withGateway) await this._startGateway();
    this._writeState();
  }

  async _allocatePorts() {
    const fixed = this.opts.ports;
    const taken = new Set();
    const pick = async (name, i = 0) => {
      if (this.persistent) {
        const base = fixed?.[name] ?? DEFAULT_PORTS[name];
        return base + 10 * i;
      }
      return freePort(taken);
    };
    this.ports = { postgres: await pick('postgres'), redis: await pick('redis'), gateway: await pick('gateway') };
    this.adminPorts = {};
    // Every service gets ports even when not started, so that a downstream
    // target never falls back to a default address (the developer's cluster).
    for (const s of SERVICES) {
      this.ports[s] = [];
      this.adminPorts[s] = [];
      for (let i = 0; i < this.replicas[s]; i++) {
        const p = await pick(s, i);
        this.ports[s].push(p);
        this.adminPorts[s].push(this.persistent ? p + 100 : await freePort(taken));
      }
    }
  }

  async _startPostgres() {
    this.pg = new Postgres({
      dir: this.dir,
      logPath: path.join(this.logDir, 'postgres.log'),
      port: this.ports.postgres,
      testMode: !this.durable,
      settings: this.opts.pgSettings,
    });
    const fresh = await this.pg.init();
    if (fresh) this.log(`initialised PostgreSQL in ${this.pg.dataDir}`);
    if (this.persistent && this.pg.running()) {
      this.log(`PostgreSQL already running on ${this.ports.postgres}`);
    } else {
      if (this.persistent && (await portInUse(this.ports.postgres))) {
        throw new Error(`port ${this.ports.postgres} is in use: set KN_PG_PORT`);
      }
      await this.pg.start();
    }
    await this.pg.createDatabases(SERVICES.map(dbName));
  }

  _redisProc() {
    const redisDir = path.join(this.dir, 'redis');
    fs.mkdirSync(redisDir, { recursive: true });
    return new Proc({
      name: 'redis',
      cmd: '/usr/bin/redis-server',
      args: ['--port', String(this.ports.redis), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--dir', redisDir, '--daemonize', 'no'],
      env: { PATH: process.env.PATH },
      logPath: path.join(this.logDir, 'redis.log'),
      pidPath: path.join(this.runDir, 'redis.pid'),
      detached: this.detached,
    });
  }

  async _startRedisProc() {
    let p = this.procs.redis;
    if (!p) p = this.procs.redis = this._redisProc();
    const existing = this.persistent ? livePidFromFile(p.pidPath) : null;
    if (existing) {
      p.adopt(existing);
    } else {
      if (await portInUse(this.ports.redis)) {
        throw new Error(`port ${this.ports.redis} (redis) is in use${this.persistent ? ': set KN_REDIS_PORT' : ''}`);
      }
      p.start();
    }
    const end = Date.now() + 20_000;
    while (!(await redisPing(this.ports.redis))) {
      if (!p.alive() || Date.now() > end) {
        throw new Error(`redis did not start on ${this.ports.redis}:\n${tail(p.logPath)}`);
      }
      await sleep(50);
    }
  }

  _serviceEnv() {
    const env = {};
    for (const [k, v] of Object.entries(process.env)) {
      // A developer's own KN_* settings must not leak into a test cluster;
      // the local cluster passes them on (KN_LOG_LEVEL, KN_WORKERS...).
      if (this.persistent || !k.startsWith('KN_') || k === 'KN_BUILD_DIR' || k === 'KN_SOURCE_DIR') env[k] = v;
    }
    for (const s of SERVICES) {
      const P = `KN_${s.toUpperCase()}_SVC_`;
      env[`${P}TARGET`] = grpcTarget(this.ports[s]);
      env[`${P}DATABASE_URL`] = this.pg ? this.pg.url(dbName(s)) : 'postgresql://postgres@127.0.0.1:1/none';
    }
    env.KN_REDIS_URL = this.withRedis ? `redis://127.0.0.1:${this.ports.redis}` : '';
    env.KN_JWT_SECRET = this.secret;
    env.KN_INTERNAL_SECRET = this.internalSecret;
    env.KN_GATEWAY_LISTEN = `127.0.0.1:${this.ports.gateway}`;
    if (!this.persistent) {
      env.KN_WORKERS = '2';
      // Argon2id at its cheapest in test clusters: the sanitizer build makes
      // the production cost (t=2, 19 MiB) take about a second per login, and
      // tests log in many times. Tests of the hashing itself set their own.
      env.KN_ASSIGN_PWHASH_OPSLIMIT = '1';
      env.KN_ASSIGN_PWHASH_MEMLIMIT_KIB = '8192';
    }
    const supp = path.join(SOURCE_DIR, 'tests', 'lsan.supp');
    env.ASAN_OPTIONS = 'detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0';
    env.UBSAN_OPTIONS = 'print_stacktrace=1:halt_on_error=1';
    env.LSAN_OPTIONS = fs.existsSync(supp) ? `suppressions=${supp}:print_suppressions=0` : '';
    Object.assign(env, this.opts.env ?? {});
    return env;
  }

  _envFor(svc, i) {
    const P = `KN_${svc.toUpperCase()}_SVC_`;
    return {
      ...this.env,
      [`${P}LISTEN`]: `127.0.0.1:${this.ports[svc][i]}`,
      [`${P}ADMIN_LISTEN`]: `127.0.0.1:${this.adminPorts[svc][i]}`,
      ...(this.opts.serviceEnv?.[svc] ?? {}),
    };
  }

  _serviceProc(svc, i) {
    const key = `${svc}/${i}`;
    if (!this.procs[key]) {
      this.procs[key] = new Proc({
        name: `${svc}-svc[${i}]`,
        cmd: path.join(this.buildDir, `${svc}-svc`, `${svc}-svc`),
        env: this._envFor(svc, i),
        logPath: path.join(this.logDir, `${svc}-${i}.log`),
        pidPath: path.join(this.runDir, `${svc}-${i}.pid`),
        detached: this.detached,
      });
    }
    return this.procs[key];
  }

  async _startService(svc, i) {
    const p = this._serviceProc(svc, i);
    const existing = this.persistent ? livePidFromFile(p.pidPath) : null;
    if (existing) {
      p.adopt(existing);
      this.log(`${p.name} already running (pid ${existing})`);
    } else {
      if (await portInUse(this.ports[svc][i])) {
        throw new Error(`port ${this.ports[svc][i]} for ${p.name} is in use by another process`);
      }
      p.start();
    }
    await this._waitServing(p, `127.0.0.1:${this.ports[svc][i]}`);
    this.log(`${p.name} SERVING on 127.0.0.1:${this.ports[svc][i]}`);
  }

  async _waitServing(p, addr) {
    const end = Date.now() + READY_TIMEOUT_MS;
    let last = 'no answer';
    for (;;) {
      if (!p.alive()) {
        throw new Error(`${p.name} exited during start (${JSON.stringify(p.exit)}):\n${tail(p.logPath)}`);
      }
      try {
        const st = await healthCheck(addr, '', 1000);
        if (st === 'SERVING') return;
        last = `status ${st}`;
      } catch (e) {
        last = e.details || e.message;
      }
      if (Date.now() > end) {
        throw new Error(`${p.name} not SERVING on ${addr} after ${READY_TIMEOUT_MS / 1000} s (${last}):\n${tail(p.logPath)}`);
      }
      await sleep(100);
    }
  }

  _gatewayProc() {
    if (!this.procs.gateway) {
      this.procs.gateway = new Proc({
        name: 'gateway',
        cmd: path.join(this.buildDir, 'gateway', 'gateway'),
        env: { ...this.env, ...(this.opts.serviceEnv?.gateway ?? {}) },
        logPath: path.join(this.logDir, 'gateway.log'),
        pidPath: path.join(this.runDir, 'gateway.pid'),
        detached: this.detached,
      });
    }
    return this.procs.gateway;
  }

  async _startGateway() {
    const p = this._gatewayProc();
    this.gatewayUrl = `http://127.0.0.1:${this.ports.gateway}`;
    const existing = this.persistent ? livePidFromFile(p.pidPath) : null;
    if (existing) {
      p.adopt(existing);
    } else {
      if (await portInUse(this.ports.gateway)) {
        throw new Error(`port ${this.ports.gateway} for the gateway is in use${this.persistent ? ': set KN_GATEWAY_PORT' : ''}`);
      }
      p.start();
    }
    const end = Date.now() + READY_TIMEOUT_MS;
    while (!(await httpOk(`${this.gatewayUrl}/healthz`, 1000))) {
      if (!p.alive()) throw new Error(`gateway exited during start (${JSON.stringify(p.exit)}):\n${tail(p.logPath)}`);
      if (Date.now() > end) throw new Error(`gateway not healthy at ${this.gatewayUrl}/healthz after 60 s:\n${tail(p.logPath)}`);
      await sleep(100);
    }
    this.log(`gateway healthy on ${this.gatewayUrl}`);
  }

  // What `scripts/cluster status|logs|down` need to find the pieces again.
  _writeState() {
    if (!this.persistent) return;
    const state = {
      dir: this.dir,
      buildDir: this.buildDir,
      services: this.services,
      replicas: this.replicas,
      gateway: this.withGateway,
      redis: this.withRedis,
      ports: this.ports,
      adminPorts: this.adminPorts,
    };
    fs.writeFileSync(path.join(this.runDir, 'cluster.json'), JSON.stringify(state, null, 2) + '\n');
  }

  // ------------------------------------------------------------ API

  get tmpDir() {
    return this.dir;
  }

  uuid() {
    return crypto.randomUUID();
  }

  // HS256 JWT signed with this cluster's secret; exp in 1 h unless given.
  token({ tenant, sub, role = 'hq', ...extra } = {}, { secret = this.secret, header } = {}) {
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub, tenant, role, iat: now, exp: now + 3600, ...extra };
    for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
    return signJwt(secret, claims, header ? { header } : {});
  }

  addr(svc, i = 0) {
    if (svc === 'gateway') return `127.0.0.1:${this.ports.gateway}`;
    return `127.0.0.1:${this.ports[svc][i]}`;
  }

  // The replica's KN_<SVC>_ADMIN_LISTEN (metrics).
  adminAddr(svc, i = 0) {
    return `127.0.0.1:${this.adminPorts[svc][i]}`;
  }

  // The gRPC target string of all replicas of a service.
  target(svc) {
    return grpcTarget(this.ports[svc]);
  }

  // A grpc-js client: round-robin over all replicas, or one replica.
  // `svc` may also be 'health' (of: the service it asks). Cached;
  // { fresh: true } makes a new one.
  client(svc, { replica, fresh = false, options = {}, of = 'order' } = {}) {
    const key = `${svc}/${svc === 'health' ? `${of}/` : ''}${replica ?? '*'}`;
    if (!fresh && this.clients.has(key)) return this.clients.get(key);
    const { ctor } = loadProtos();
    const Ctor = ctor[svc];
    if (!Ctor) throw new Error(`unknown service ${svc}`);
    const ownerSvc = svc === 'health' ? of : svc;
    const target = replica === undefined ? this.target(ownerSvc) : this.addr(ownerSvc, replica);
    const client = new Ctor(target, grpc.credentials.createInsecure(), { ...CHANNEL_OPTIONS, ...options });
    if (fresh) {
      this.clients.set(`${key}#${crypto.randomUUID()}`, client);
    } else {
      this.clients.set(key, client);
    }
    return client;
  }

  // A Health client for one replica of a service.
  healthClient(svc, i = 0) {
    const { ctor } = loadProtos();
    const key = `health:${svc}/${i}`;
    if (!this.clients.has(key)) {
      this.clients.set(key, new ctor.health(this.addr(svc, i), grpc.credentials.createInsecure()));
    }
    return this.clients.get(key);
  }

  // Resolves the response; rejects with the grpc-js error (code, details).
  call(client, method, request = {}, token, opts) {
    return callUnary(client, method, request, token, opts);
  }

  pgUrl(db) {
    return this.pg.url(dbName(db));
  }

  async sql(db, text, params = []) {
    const name = dbName(db);
    let pool = this.pools.get(name);
    if (!pool) {
      pool = new pg.Pool({ connectionString: this.pg.url(name), max: 4, idleTimeoutMillis: 5000 });
      // An idle connection broken by stopPostgres() must not crash the test.
      pool.on('error', () => {});
      this.pools.set(name, pool);
    }
    const res = await pool.query(text, params);
    return res.rows;
  }

  logs(svc, i = 0) {
    let file;
    if (svc === 'gateway' || svc === 'redis' || svc === 'postgres') file = `${svc}.log`;
    else file = `${svc}-${i}.log`;
    try {
      return fs.readFileSync(path.join(this.logDir, file), 'utf8');
    } catch {
      return '';
    }
  }

  logPath(svc, i = 0) {
    const file = ['gateway', 'redis', 'postgres'].includes(svc) ? `${svc}.log` : `${svc}-${i}.log`;
    return path.join(this.logDir, file);
  }

  pid(svc, i = 0) {
    const p = svc === 'gateway' ? this.procs.gateway : this.procs[`${svc}/${i}`];
    return p?.alive() ? p.pid : null;
  }

  // Sends a signal to one replica and waits for it to exit. Resolves the
  // exit { code, signal }.
  async kill(svc, i = 0, signal = 'SIGTERM') {
    const p = svc === 'gateway' ? this.procs.gateway : this.procs[`${svc}/${i}`];
    if (!p) throw new Error(`${svc}[${i}] was not started`);
    return p.signal(signal);
  }

  // Starts one replica again (stopping it first when it runs), same port.
  async restart(svc, i = 0) {
    if (svc === 'gateway') {
      const p = this._gatewayProc();
      if (p.alive()) await p.signal('SIGTERM');
      return this._startGateway();
    }
    const p = this._serviceProc(svc, i);
    if (p.alive()) await p.signal('SIGTERM');
    p.start();
    await this._waitServing(p, this.addr(svc, i));
  }

  async stopRedis() {
    if (this.procs.redis) await this.procs.redis.signal('SIGTERM');
  }

  async startRedis() {
    await this._startRedisProc();
  }

  async stopPostgres() {
    await this._endPools();
    await this.pg.stop('fast');
  }

  async startPostgres() {
    await this.pg.start();
  }

  async _endPools() {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.end().catch(() => {})));
  }

  // Closes the clients and pools of this process; leaves the cluster running
  // (scripts/cluster after `up`).
  async disconnect() {
    for (const cl of this.clients.values()) cl.close();
    this.clients.clear();
    await this._endPools();
  }

  // Stops everything, removes the temp folder, and throws when any service
  // crashed, exited non-zero, hung on SIGTERM or printed a sanitizer report
  // (ASan, LSan at exit, UBSan). The logs of a failed run are kept under
  // $KN_TEST_OUT/cluster-logs/ (default $KN_BUILD_DIR/test-out).
  async stop() {
    if (this.stopped) return;
    this.stopped = true;
    await this.disconnect();
    const failures = await this._teardown();
    liveClusters.delete(this);
    if (failures.length) {
      let kept = '';
      try {
        const dest = path.join(process.env.KN_TEST_OUT || path.join(this.buildDir, 'test-out'), 'cluster-logs', path.basename(this.dir));
        fs.mkdirSync(dest, { recursive: true });
        fs.cpSync(this.logDir, dest, { recursive: true });
        kept = `\n(logs kept in ${dest})`;
      } catch { /* best effort */ }
      if (!this.persistent && !process.env.KN_KEEP_TEST_DIR) fs.rmSync(this.dir, { recursive: true, force: true });
      throw new Error(`cluster stop found problems:\n${failures.join('\n\n')}${kept}`);
    }
    if (!this.persistent && !process.env.KN_KEEP_TEST_DIR) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  async _teardown() {
    const failures = [];
    const services = Object.entries(this.procs).filter(([k]) => k !== 'redis');
    // The gateway first, then all services together.
    if (this.procs.gateway) await this.procs.gateway.signal('SIGTERM');
    await Promise.all(services.filter(([k]) => k !== 'gateway').map(([, p]) => p.signal('SIGTERM')));
    for (const [, p] of services) {
      failures.push(...p.failures);
      for (const r of sanitizerReports(tail(p.logPath, 1 << 24))) failures.push(`${p.name}: sanitizer report:\n${r}`);
    }
    if (this.procs.redis) await this.procs.redis.signal('SIGTERM');
    if (this.pg) {
      try {
        await this.pg.stop('fast');
      } catch (e) {
        failures.push(`postgres: ${e.message}`);
      }
    }
    return failures;
  }

  _killNow() {
    for (const p of Object.values(this.procs)) p.killNow();
    if (this.pg) this.pg.stopNow();
    if (!this.persistent && !process.env.KN_KEEP_TEST_DIR) {
      try {
        fs.rmSync(this.dir, { recursive: true, force: true });
      } catch { /* best effort */ }
    }
  }
}

// ---------------------------------------------------------------- persistent cluster control

// A handle on the persistent cluster that `up` started in dataDir (clients,
// tokens, sql), without starting or stopping anything.
export function attachCluster(dataDir, secrets) {
  const st = readState(dataDir);
  if (!st) throw new Error(`no cluster was started in ${dataDir} (scripts/cluster up)`);
  const c = new Cluster({
    dataDir, secrets, services: st.services, replicas: st.replicas, gateway: st.gateway,
    redis: st.redis, buildDir: st.buildDir, detached: true,
  });
  c.dir = st.dir;
  c.logDir = path.join(st.dir, 'logs');
  c.runDir = path.join(st.dir, 'run');
  c.ports = st.ports;
  c.adminPorts = st.adminPorts;
  c.pg = new Postgres({ dir: st.dir, logPath: path.join(c.logDir, 'postgres.log'), port: st.ports.postgres });
  c.gatewayUrl = st.gateway ? `http://127.0.0.1:${st.ports.gateway}` : null;
  c.env = c._serviceEnv();
  return c;
}

// The state `up` wrote, or null when no cluster was started in dataDir.
export function readState(dataDir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dataDir, 'run', 'cluster.json'), 'utf8'));
  } catch {
    return null;
  }
}

// Stops exactly the processes recorded in dataDir/run/*.pid and the
// PostgreSQL cluster in dataDir/pgdata. Returns what it stopped.
export async function stopPersistent(dataDir, log = () => {}) {
  const runDir = path.join(dataDir, 'run');
  const stopped = [];
  const pidFiles = fs.existsSync(runDir) ? fs.readdirSync(runDir).filter((f) => f.endsWith('.pid')) : [];
  // Gateway, then services, then redis.
  const rank = (f) => (f.startsWith('gateway') ? 0 : f.startsWith('redis') ? 2 : 1);
  pidFiles.sort((a, b) => rank(a) - rank(b));
  for (const group of [0, 1, 2]) {
    await Promise.all(pidFiles.filter((f) => rank(f) === group).map(async (f) => {
      const pidPath = path.join(runDir, f);
      const pid = livePidFromFile(pidPath);
      const name = f.replace(/\.pid$/, '');
      if (pid) {
        process.kill(pid, 'SIGTERM');
        if (!(await waitPidGone(pid, STOP_TIMEOUT_MS))) {
          log(`${name} (pid ${pid}) did not stop in ${STOP_TIMEOUT_MS / 1000} s: SIGKILL`);
          try {
            process.kill(pid, 'SIGKILL');
          } catch { /* gone */ }
          await waitPidGone(pid, 5000);
        }
        stopped.push(`${name} (pid ${pid})`);
      }
      fs.rmSync(pidPath, { force: true });
    }));
  }
  const pgData = path.join(dataDir, 'pgdata');
  if (fs.existsSync(path.join(pgData, 'postmaster.pid'))) {
    const pgc = new Postgres({ dir: dataDir, logPath: path.join(dataDir, 'logs', 'postgres.log'), port: 0 });
    if (pgc.running()) {
      await pgc.stop('fast');
      stopped.push('postgres');
    }
  }
  return stopped;
}

// Status of each piece of the persistent cluster in dataDir.
export async function persistentStatus(dataDir) {
  const st = readState(dataDir);
  if (!st) return null;
  const rows = [];
  const pgc = new Postgres({ dir: dataDir, logPath: '', port: st.ports.postgres });
  let pgPid = null;
  try {
    pgPid = Number(fs.readFileSync(path.join(pgc.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]) || null;
  } catch { /* not running */ }
  const pgUp = pgc.running();
  rows.push({ name: 'postgres', pid: pgUp ? pgPid : null, addr: `127.0.0.1:${st.ports.postgres}`, state: pgUp ? 'running' : 'stopped' });
  if (st.redis) {
    const pid = livePidFromFile(path.join(dataDir, 'run', 'redis.pid'));
    rows.push({ name: 'redis', pid, addr: `127.0.0.1:${st.ports.redis}`, state: pid ? ((await redisPing(st.ports.redis)) ? 'running' : 'not answering') : 'stopped' });
  }
  for (const s of st.services) {
    for (let i = 0; i < st.replicas[s]; i++) {
      const pid = livePidFromFile(path.join(dataDir, 'run', `${s}-${i}.pid`));
      const addr = `127.0.0.1:${st.ports[s][i]}`;
      let state = 'stopped';
      if (pid) {
        try {
          state = await healthCheck(addr, '', 2000);
        } catch (e) {
          state = `not answering (${e.details || e.message})`;
        }
      }
      rows.push({ name: `${s}-svc[${i}]`, pid, addr, state });
    }
  }
  if (st.gateway) {
    const pid = livePidFromFile(path.join(dataDir, 'run', 'gateway.pid'));
    const url = `http://127.0.0.1:${st.ports.gateway}`;
    let state = 'stopped';
    if (pid) state = (await httpOk(`${url}/readyz`)) ? 'ready' : (await httpOk(`${url}/healthz`)) ? 'healthy, not ready' : 'not answering';
    rows.push({ name: 'gateway', pid, addr: url, state });
  }
  return rows;
}
