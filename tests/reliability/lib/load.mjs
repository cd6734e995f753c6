// Shared pieces of the reliability scenarios: fixtures (a tenant, its
// technicians, a location with packages), a call that retries with the SAME
// request (same request_id) and records every error it saw, and the steady
// create + assign load the scenarios run while they break things.
import { grpc } from '../../../scripts/lib/cluster.mjs';

export const S = grpc.status;
export const CODE_NAME = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Fresh round-robin clients over all replicas of each service.
export function loadClients(c) {
  const o = { fresh: true, options: FAST_RECONNECT };
  return { order: c.client('order', o), assign: c.client('assign', o), location: c.client('location', o) };
}

// Channel options for the load's clients: short reconnect backoff, so that
// a restarted replica is used again within the scenario.
export const FAST_RECONNECT = { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 1000 };

// Every attempt's error, every request that failed for good, counts of OK.
export class Recorder {
  constructor() {
    this.ok = {};
    this.retried = {}; // method -> requests that succeeded after >= 1 error
    this.attemptErrors = []; // { t, method, code, details, attempt }
    this.failed = []; // { t, method, code, details, attempts }
    this.t0 = Date.now();
  }

  attempt(method, e, attempt) {
    this.attemptErrors.push({ t: Date.now() - this.t0, method, code: e.code, name: CODE_NAME[e.code] ?? String(e.code), details: e.details ?? e.message, attempt });
  }

  success(method, attempts) {
    this.ok[method] = (this.ok[method] ?? 0) + 1;
    if (attempts > 1) this.retried[method] = (this.retried[method] ?? 0) + 1;
  }

  fail(method, e, attempts) {
    this.failed.push({ t: Date.now() - this.t0, method, code: e.code, name: CODE_NAME[e.code] ?? String(e.code), details: e.details ?? e.message, attempts });
  }

  // { "AssignOrder UNAVAILABLE": 3, ... }
  errorCounts(list = this.attemptErrors) {
    const out = {};
    for (const x of list) {
      const k = `${x.method} ${x.name}`;
      out[k] = (out[k] ?? 0) + 1;
    }
    return out;
  }

  summary() {
    return `ok ${JSON.stringify(this.ok)}; completed after a retry ${JSON.stringify(this.retried)}; `
      + `attempt errors ${JSON.stringify(this.errorCounts())}; failed for good ${this.failed.length} ${JSON.stringify(this.errorCounts(this.failed))}`;
  }
}

// Calls and retries the same request while the code is in `retryOn`,
// waiting a little longer each time, up to `maxMs` in all. Every error is
// recorded. Resolves the response; rejects with the last error.
export async function callRetry(c, client, method, req, token, rec, {
  retryOn = [S.UNAVAILABLE], maxMs = 30_000, deadlineMs = 10_000,
} = {}) {
  const t0 = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await c.call(client, method, req, token, { deadlineMs });
      rec?.success(method, attempt);
      return res;
    } catch (e) {
      if (typeof e.code !== 'number') {
        rec?.fail(method, e, attempt);
        throw e;
      }
      rec?.attempt(method, e, attempt);
      if (!retryOn.includes(e.code) || Date.now() - t0 > maxMs) {
        rec?.fail(method, e, attempt);
        throw e;
      }
      await sleep(Math.min(1000, 50 * 2 ** Math.min(attempt, 5)) + Math.floor(Math.random() * 50));
    }
  }
}

// A tenant, its HQ token, `techs` technicians (users in assign-svc), one
// location and `packages` registered packages there (all through retrying
// calls: fixtures are made before anything is broken, but be safe).
export async function makeWorld(c, { techs = 6, packages = 0, rec } = {}) {
  const tenant = c.uuid();
  const hqId = c.uuid();
  const hq = c.token({ tenant, sub: hqId, role: 'hq' });
  const a = c.client('assign');
  const users = [];
  for (let i = 0; i < techs; i++) {
    const u = await callRetry(c, a, 'CreateUser', {
      display_name: `rel tech ${i}`, email: `rel${i}.${tenant.slice(0, 8)}@x.example`, role: 'USER_ROLE_TECHNICIAN',
      request_id: c.uuid(),
    }, hq, rec);
    users.push(u.id);
  }
  const loc = await callRetry(c, c.client('location'), 'CreateLocation', {
    request_id: c.uuid(), name: `Rel ${tenant.slice(0, 6)}`, code: `REL${tenant.slice(0, 6)}`, address: 'Gatan 1', time_zone: 'Europe/Stockholm',
  }, hq, rec);
  const world = { tenant, hqId, hq, users, location: loc.id, pool: [] };
  if (packages) world.pool.push(...await registerPackages(c, world, packages, { rec }));
  return world;
}

export async function registerPackages(c, world, n, { rec, concurrency = 4, retryOn, maxMs, client } = {}) {
  const l = client ?? c.client('location');
  const out = [];
  let i = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (i < n) {
      i++;
      const p = await callRetry(c, l, 'RegisterPackage', {
        request_id: c.uuid(), barcode: `REL-${c.uuid().slice(0, 18)}`, tracking_number: `TN-${c.uuid().slice(0, 8)}`,
        carrier: 'PostNord', description: 'reliability', location_id: world.location,
      }, world.hq, rec, { ...(retryOn ? { retryOn } : {}), ...(maxMs ? { maxMs } : {}) });
      out.push(p.id);
    }
  }));
  return out;
}

// The steady load: `workers` loops, each: CreateOrder (1–2 packages from
// the pool, a fresh request_id, retried with the same request) then
// AssignOrder to a technician, and every `reassignEvery`-th order a second
// AssignOrder to another technician. Records what the client saw
// acknowledged: creates { request_id, id, packages } and the last
// acknowledged assignee of each order.
//
// retryOn: the codes a retry is allowed on (recorded all the same; the
// scenario asserts on rec.attemptErrors which codes were seen).
export function startLoad(c, world, {
  workers = 3, clients, rec = new Recorder(), retryOn = [S.UNAVAILABLE], maxMs = 30_000,
  reassignEvery = 3, pauseMs = 0, deadlineMs = 10_000, refillBelow = 0,
} = {}) {
  const order = clients?.order ?? c.client('order');
  const assign = clients?.assign ?? c.client('assign');
  const acked = []; // { request_id, id, packages, identifier }
  const lastAssignee = new Map(); // order id -> user id (acknowledged)
  const unfinished = []; // requests the client never saw acknowledged
  let stop = false;
  let n = 0;
  const opts = { retryOn, maxMs, deadlineMs };

  async function one(k) {
    if (world.pool.length === 0) {
      await sleep(100);
      return;
    }
    const pk = world.pool.splice(0, k % 4 === 0 ? 2 : 1);
    const request_id = c.uuid();
    let ord;
    try {
      ord = await callRetry(c, order, 'CreateOrder', {
        request_id, type: 'ORDER_TYPE_JOB', location_id: world.location, package_ids: pk,
      }, world.hq, rec, opts);
    } catch (e) {
      unfinished.push({ method: 'CreateOrder', request_id, packages: pk, code: e.code, details: e.details ?? e.message });
      if (typeof e.code !== 'number') stop = true; // not an answer (client closed...): end the load
      return;
    }
    acked.push({ request_id, id: ord.id, packages: pk, identifier: ord.identifier });
    const rounds = k % reassignEvery === 0 ? 2 : 1;
    for (let r = 0; r < rounds; r++) {
      const user = world.users[(k + r) % world.users.length];
      try {
        await callRetry(c, assign, 'AssignOrder', { order_id: ord.id, user_id: user }, world.hq, rec, opts);
        lastAssignee.set(ord.id, user);
      } catch (e) {
        unfinished.push({ method: 'AssignOrder', order_id: ord.id, user, code: e.code, details: e.details ?? e.message });
        if (typeof e.code !== 'number') stop = true;
        // The outcome is unknown: the order may or may not be assigned.
        lastAssignee.set(ord.id, null);
        return;
      }
    }
  }

  const loops = Array.from({ length: workers }, async () => {
    while (!stop) {
      await one(n++);
      // Always yield to the event loop (timers, signals, child exits), even
      // when every call fails at once.
      await sleep(pauseMs);
    }
  });
  // Keeps the package pool from running dry: RegisterPackage (with a
  // request_id, retried like the rest) is part of the load.
  if (refillBelow > 0) {
    loops.push((async () => {
      while (!stop) {
        if (world.pool.length >= refillBelow) {
          await sleep(50);
          continue;
        }
        try {
          world.pool.push(...await registerPackages(c, world, 1, { rec, concurrency: 1, retryOn, maxMs, client: clients?.location }));
        } catch (e) {
          unfinished.push({ method: 'RegisterPackage', code: e.code, details: e.details ?? e.message });
          if (typeof e.code !== 'number') stop = true;
          await sleep(50);
        }
      }
    })());
  }
  return {
    rec,
    acked,
    lastAssignee,
    unfinished,
    get count() {
      return n;
    },
    async stop() {
      stop = true;
      await Promise.all(loops);
    },
  };
}

// Every create the client saw acknowledged exists exactly once in
// order-svc's database (by request_id and by id), with its packages; no
// order exists for a request_id the client never sent. Returns problems.
export async function checkAcknowledged(c, world, load, { alsoSent = [] } = {}) {
  const problems = [];
  const rows = await c.sql('order',
    `SELECT o.id::text, o.request_id, o.identifier,
            array(SELECT package_id::text FROM order_packages p WHERE p.order_id = o.id ORDER BY position) AS packages
       FROM orders o WHERE o.tenant_id = $1`, [world.tenant]);
  const byReq = new Map();
  for (const r of rows) {
    if (!r.request_id) continue;
    if (!byReq.has(r.request_id)) byReq.set(r.request_id, []);
    byReq.get(r.request_id).push(r);
  }
  const sent = new Set([...alsoSent, ...load.acked.map((a) => a.request_id), ...load.unfinished.filter((u) => u.request_id).map((u) => u.request_id)]);
  for (const a of load.acked) {
    const got = byReq.get(a.request_id) || [];
    if (got.length !== 1) {
      problems.push(`acknowledged create ${a.request_id} (order ${a.id}) exists ${got.length} times`);
      continue;
    }
    if (got[0].id !== a.id) problems.push(`acknowledged create ${a.request_id}: client got id ${a.id}, database has ${got[0].id}`);
    if (got[0].identifier !== a.identifier) problems.push(`acknowledged create ${a.request_id}: client got identifier ${a.identifier}, database has ${got[0].identifier}`);
    if (JSON.stringify(got[0].packages) !== JSON.stringify(a.packages)) {
      problems.push(`acknowledged create ${a.request_id}: packages ${JSON.stringify(got[0].packages)} != sent ${JSON.stringify(a.packages)}`);
    }
  }
  const ids = new Map();
  for (const r of rows) ids.set(r.id, (ids.get(r.id) ?? 0) + 1);
  for (const r of rows) {
    if (r.request_id && !sent.has(r.request_id)) problems.push(`order ${r.id} has request_id ${r.request_id} the client never sent`);
  }
  // The client's orders (by identifier) are distinct too.
  const idents = new Set(load.acked.map((a) => a.identifier));
  if (idents.size !== load.acked.length) problems.push(`${load.acked.length - idents.size} acknowledged creates share an identifier`);
  return { problems, rows: rows.length };
}

// The last acknowledged AssignOrder of each order is its assignee now (no
// acknowledged assignment was lost). Returns problems.
export async function checkAssignees(c, world, load) {
  const problems = [];
  const rows = await c.sql('order',
    `SELECT id::text, coalesce(assignee_user_id::text, '') AS assignee FROM orders WHERE tenant_id = $1`, [world.tenant]);
  const cur = new Map(rows.map((r) => [r.id, r.assignee]));
  for (const [oid, user] of load.lastAssignee) {
    if (user === null) continue; // outcome unknown (reported with the failures)
    if (cur.get(oid) !== user) problems.push(`order ${oid}: last acknowledged AssignOrder named ${user}, order has '${cur.get(oid)}'`);
  }
  return problems;
}

// The lines of every service replica's log that mention one of `needles`
// (an order id, a request id), for the report of an unexpected error.
export function logLinesAbout(c, needles, { max = 40 } = {}) {
  const out = [];
  for (const svc of ['location', 'order', 'assign']) {
    for (let i = 0; i < (c.replicas?.[svc] ?? 1); i++) {
      for (const line of c.logs(svc, i).split('\n')) {
        if (needles.some((n) => n && line.includes(n))) out.push(`${svc}[${i}] ${line.slice(0, 400)}`);
      }
    }
  }
  return out.slice(-max);
}

// Request log lines (the services' JSON "request" records) that took at
// least `ms` or answered one of `codes`, across all replicas.
export function slowRequests(c, { ms = 2000, codes = ['DEADLINE_EXCEEDED', 'UNKNOWN', 'INTERNAL', 'CANCELLED'], max = 30 } = {}) {
  const out = [];
  for (const svc of ['location', 'order', 'assign']) {
    for (let i = 0; i < (c.replicas?.[svc] ?? 1); i++) {
      for (const line of c.logs(svc, i).split('\n')) {
        if (!line.includes('"request"')) continue;
        let r;
        try {
          r = JSON.parse(line);
        } catch {
          continue;
        }
        if (r.duration_ms >= ms || codes.includes(r.code)) {
          out.push(`${svc}[${i}] ${r.time} ${r.method} ${r.code} ${Math.round(r.duration_ms)} ms ${r.message ?? ''}`.slice(0, 300));
        }
      }
    }
  }
  return out.slice(0, max);
}
