// Demo data for the local cluster, made through the services' real RPCs
// (never SQL), so it obeys every rule the services enforce. Each step runs
// once: what succeeded is recorded in <data>/demo.json, and a step that the
// services do not implement yet (UNIMPLEMENTED) is skipped and tried again
// on the next `scripts/cluster up`. Creates carry a fixed request_id, so a
// step repeated after a crash creates nothing twice.
//
//   node scripts/lib/demo-data.mjs     # seed the running local cluster
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { attachCluster, grpc } from './cluster.mjs';
import { dataDir as defaultDataDir, secrets as loadSecrets } from './local.mjs';

export const DEMO_TENANT_CODE = 'demo';
export const DEMO_USERS = [
  { key: 'hq', display_name: 'Hanna Holm (HQ)', email: 'hq@demo.konnect.test', employee_number: 'HQ-001', role: 'USER_ROLE_HQ', password: 'demo-hq-password' },
  { key: 'tech1', display_name: 'Teo Tekniker', email: 'tech1@demo.konnect.test', employee_number: 'T-101', role: 'USER_ROLE_TECHNICIAN', password: 'demo-tech-password' },
  { key: 'tech2', display_name: 'Tove Tekniker', email: 'tech2@demo.konnect.test', employee_number: 'T-102', role: 'USER_ROLE_TECHNICIAN', password: 'demo-tech-password' },
  { key: 'tech3', display_name: 'Tage Tekniker', email: 'tech3@demo.konnect.test', employee_number: 'T-103', role: 'USER_ROLE_TECHNICIAN', password: 'demo-tech-password' },
];
const LOCATIONS = [
  { key: 'sto', name: 'Stockholm Central', code: 'STO-C', address: 'Centralplan 15, Stockholm', time_zone: 'Europe/Stockholm' },
  { key: 'gbg', name: 'Göteborg Hamn', code: 'GBG-H', address: 'Hamnkanalen 2, Göteborg', time_zone: 'Europe/Stockholm' },
];
const DOORS = [
  { label: 'A1', size: 'DOOR_SIZE_S' }, { label: 'A2', size: 'DOOR_SIZE_M' },
  { label: 'A3', size: 'DOOR_SIZE_L' }, { label: 'A4', size: 'DOOR_SIZE_XL' },
  { label: 'B1', size: 'DOOR_SIZE_L', multi_item: true },
];
const CARRIERS = ['PostNord', 'DHL', 'Schenker', 'Bring'];

function loadState(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Seeds what the services implement; returns { done, skipped, failed, state }.
 * c: a cluster handle (startCluster or attachCluster). stateFile: where the
 * progress is kept.
 */
export async function seedDemo(c, stateFile, log = () => {}) {
  const state = loadState(stateFile) ?? { tenant: null, ids: {}, done: [] };
  const save = () => fs.writeFileSync(stateFile, JSON.stringify(state, null, 2) + '\n');
  const done = new Set(state.done);
  const result = { done: [], skipped: [], failed: [], state };
  const hqToken = () => c.token({ tenant: state.tenant, sub: state.ids['user:hq'], role: 'hq' });
  const clients = { location: c.client('location'), order: c.client('order'), assign: c.client('assign') };
  const call = (svc, method, req, token = hqToken()) => c.call(clients[svc], method, req, token, { deadlineMs: 15_000 });

  async function step(name, needs, fn) {
    if (done.has(name)) return;
    const missing = needs.filter((n) => !done.has(n));
    if (missing.length) {
      result.skipped.push(`${name} (needs ${missing.join(', ')})`);
      return;
    }
    try {
      const id = await fn();
      if (id) state.ids[name] = id;
      done.add(name);
      state.done = [...done];
      result.done.push(name);
      save();
    } catch (e) {
      if (e.code === grpc.status.UNIMPLEMENTED) {
        result.skipped.push(`${name} (UNIMPLEMENTED: ${e.details})`);
      } else {
        result.failed.push(`${name}: ${e.details ?? e.message} (code ${e.code})`);
      }
    }
  }

  save();
  // The tenant and its first HQ user come from the operator's command
  // (assign-svc create-tenant, idempotent); every other step needs them.
  await step('tenant', [], async () => {
    const hqUser = DEMO_USERS[0];
    const out = await createTenant(c, {
      code: DEMO_TENANT_CODE, name: 'Demo Logistik AB', email: hqUser.email,
      displayName: hqUser.display_name, timeZone: 'Europe/Stockholm', password: hqUser.password,
    });
    state.tenant = out.tenant_id;
    state.ids['user:hq'] = out.user_id;
  });
  for (const u of DEMO_USERS.slice(1)) {
    const { key, ...req } = u;
    await step(`user:${key}`, ['tenant'], async () => (await call('assign', 'CreateUser', { request_id: `demo-user-${key}`, ...req })).id);
  }
  for (const l of LOCATIONS) {
    const { key, ...req } = l;
    await step(`location:${key}`, ['tenant'], async () => (await call('location', 'CreateLocation', { request_id: `demo-location-${key}`, ...req })).id);
    for (const d of DOORS) {
      await step(`door:${key}:${d.label}`, [`location:${key}`], async () => (await call('location', 'CreateDoor', {
        location_id: state.ids[`location:${key}`], label: d.label, size: d.size, multi_item: !!d.multi_item,
      })).id);
    }
    for (let n = 1; n <= 4; n++) {
      const pkg = `package:${key}:${n}`;
      await step(pkg, [`location:${key}`], async () => (await call('location', 'RegisterPackage', {
        request_id: `demo-package-${key}-${n}`,
        barcode: `DEMO${key.toUpperCase()}${String(n).padStart(6, '0')}`,
        tracking_number: `TRK-${key.toUpperCase()}-${1000 + n}`,
        carrier: CARRIERS[n % CARRIERS.length],
        description: `Spare part kit ${n}`,
        location_id: state.ids[`location:${key}`],
      })).id);
      const door = `door:${key}:A${n}`;
      await step(`deliver:${key}:${n}`, [pkg, door], async () => {
        await call('location', 'DeliverPackage', { id: state.ids[pkg], door_id: state.ids[door] });
      });
    }
  }
  for (const [sku, delta, description] of [['FILTER-100', 20, 'Air filter 100 mm'], ['CABLE-5M', 12, 'Cable 5 m'], ['FUSE-10A', 50, 'Fuse 10 A']]) {
    await step(`stock:sto:${sku}`, ['location:sto'], async () => {
      await call('location', 'AdjustStock', { location_id: state.ids['location:sto'], sku, delta, reason: 'demo stock', description });
    });
  }
  await step('order:unassigned', ['deliver:sto:1', 'deliver:sto:2'], async () => (await call('order', 'CreateOrder', {
    request_id: 'demo-order-unassigned', type: 'ORDER_TYPE_JOB', location_id: state.ids['location:sto'],
    package_ids: [state.ids['package:sto:1'], state.ids['package:sto:2']],
  })).id);
  await step('order:assigned', ['deliver:sto:3'], async () => (await call('order', 'CreateOrder', {
    request_id: 'demo-order-assigned', type: 'ORDER_TYPE_JOB', location_id: state.ids['location:sto'],
    package_ids: [state.ids['package:sto:3']],
  })).id);
  await step('assign:order:assigned', ['order:assigned', 'user:tech1'], async () => {
    await call('assign', 'AssignOrder', { order_id: state.ids['order:assigned'], user_id: state.ids['user:tech1'] });
  });
  await step('order:gbg', ['deliver:gbg:1'], async () => (await call('order', 'CreateOrder', {
    request_id: 'demo-order-gbg', type: 'ORDER_TYPE_JOB', location_id: state.ids['location:gbg'],
    package_ids: [state.ids['package:gbg:1']],
  })).id);
  await step('order:stock', ['stock:sto:FILTER-100'], async () => (await call('order', 'CreateOrder', {
    request_id: 'demo-order-stock', type: 'ORDER_TYPE_STOCK', location_id: state.ids['location:sto'],
    stock_lines: [{ sku: 'FILTER-100', quantity: 2 }],
  })).id);

  if (result.done.length) log(`demo data: made ${result.done.length} item(s)`);
  if (result.skipped.length) {
    const methods = [...new Set(result.skipped.map((s) => /UNIMPLEMENTED: .*?([A-Z]\w+)\W*\)$/.exec(s)?.[1] ?? /UNIMPLEMENTED: (.*)\)$/.exec(s)?.[1]).filter(Boolean))];
    log(`demo data: ${result.skipped.length} step(s) skipped, tried again at the next up`
      + `${methods.length ? ` (not implemented yet: ${methods.join(', ')})` : ''}`);
  }
  for (const f of result.failed) log(`demo data: FAILED ${f}`);
  return result;
}

// Runs `assign-svc create-tenant` against the cluster's assign database.
function createTenant(c, { code, name, email, displayName, timeZone, password }) {
  const bin = path.join(c.buildDir, 'assign-svc', 'assign-svc');
  const args = ['create-tenant', '--code', code, '--name', name, '--email', email,
    '--display-name', displayName, '--time-zone', timeZone, '--password-env', 'KN_NEW_PASSWORD'];
  return new Promise((resolve, reject) => {
    execFile(bin, args, { env: { ...c.env, KN_NEW_PASSWORD: password }, timeout: 60_000 }, (err, stdout, stderr) => {
      const line = stdout.trim().split('\n').pop() || '';
      if (err || !line.startsWith('{')) {
        const e = new Error(`assign-svc create-tenant failed: ${(stderr || stdout || err?.message || '').trim().slice(0, 500)}`);
        // An assign-svc without the subcommand (usage text) counts as "not yet".
        if (/usage|unknown|not implemented/i.test(stderr) && !/create-tenant:/.test(stderr)) {
          e.code = grpc.status.UNIMPLEMENTED;
          e.details = 'assign-svc create-tenant';
        }
        reject(e);
        return;
      }
      resolve(JSON.parse(line));
    });
  });
}

// A demo HQ token (12 h) for the tenant of the demo data, or null before
// the tenant exists.
export function demoToken(c, state) {
  if (!state.tenant || !state.ids['user:hq']) return null;
  return c.token({
    tenant: state.tenant, sub: state.ids['user:hq'], role: 'hq',
    exp: Math.floor(Date.now() / 1000) + 12 * 3600,
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = defaultDataDir();
  const c = attachCluster(dir, loadSecrets(dir));
  try {
    const r = await seedDemo(c, path.join(dir, 'demo.json'), (m) => console.log(m));
    if (!r.done.length && !r.skipped.length && !r.failed.length) console.log('demo data: all present');
    process.exitCode = r.failed.length ? 1 : 0;
  } finally {
    await c.disconnect();
  }
}
