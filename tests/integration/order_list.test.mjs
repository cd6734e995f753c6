// ListOrders: every filter alone and combined against a brute-force check
// over the same rows, technician visibility, keyset pagination under
// concurrent inserts, page tokens, bad input, and the plans (EXPLAIN: no
// sequential scan on orders for any filter combination).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startCluster, SOURCE_DIR } from '../../scripts/lib/cluster.mjs';
import { CODE, expectCode, seedOrders } from './order_helpers.mjs';

let c;
const T = {};
const ZONES = ['UTC', 'Europe/Stockholm', 'America/Los_Angeles', 'Pacific/Kiritimati'];

before(async () => {
  c = await startCluster({ services: ['order'], redis: true, env: { KN_LOCATION_SVC_TARGET: 'ipv4:127.0.0.1:1' } });
  T.tenant = c.uuid();
  T.other = c.uuid();
  T.locations = [c.uuid(), c.uuid(), c.uuid()];
  T.users = [c.uuid(), c.uuid(), c.uuid(), c.uuid()];
  T.hq = c.token({ tenant: T.tenant, sub: c.uuid(), role: 'hq' });
  T.tech = c.token({ tenant: T.tenant, sub: T.users[0], role: 'technician' });
  T.ord = c.client('order');
  // 1,200 rows over 20 days for the brute-force checks; the other tenant's
  // rows share locations and users to prove tenant scoping.
  await seedOrders(c, T.tenant, 1200, { locations: T.locations, users: T.users, zones: ZONES, days: 20 });
  await seedOrders(c, T.other, 300, { locations: T.locations, users: T.users, zones: ZONES, days: 20 });
});

after(async () => {
  await c?.stop();
});

const localDate = (date, tz) => new Intl.DateTimeFormat('en-CA', {
  timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit',
}).format(date);

async function allRows(tenant) {
  const rows = await c.sql('order', `SELECT id::text, type, status, location_id::text,
      coalesce(assignee_user_id::text, '') AS assignee, time_zone,
      (extract(epoch from create_time) * 1000000)::bigint::text AS us
    FROM orders WHERE tenant_id = $1`, [tenant]);
  for (const r of rows) {
    r.us = BigInt(r.us);
    r.date = localDate(new Date(Number(r.us / 1000n)), r.time_zone);
  }
  return rows;
}

const STATUS = { ORDER_STATUS_ACTIVE: 1, ORDER_STATUS_COLLECTED: 2, ORDER_STATUS_CANCELLED: 3 };
const TYPE = { ORDER_TYPE_JOB: 1, ORDER_TYPE_STOCK: 2 };

function expected(rows, f, me = null) {
  return rows.filter((r) => {
    if (me && r.assignee !== '' && r.assignee !== me) return false;
    if (f.status && r.status !== STATUS[f.status]) return false;
    if (f.type && r.type !== TYPE[f.type]) return false;
    if (f.location_id && r.location_id !== f.location_id) return false;
    if (f.assignee_user_id && r.assignee !== f.assignee_user_id) return false;
    if (f.assignment === 'ASSIGNMENT_FILTER_ASSIGNED' && r.assignee === '') return false;
    if (f.assignment === 'ASSIGNMENT_FILTER_UNASSIGNED' && r.assignee !== '') return false;
    if (f.start_date && r.date < f.start_date) return false;
    if (f.end_date && r.date > f.end_date) return false;
    return true;
  }).sort((a, b) => (a.us === b.us ? (a.id < b.id ? 1 : -1) : (a.us < b.us ? 1 : -1)))
    .map((r) => r.id);
}

async function walk(filter, token, pageSize = 97) {
  const ids = [];
  let page_token = '';
  for (let i = 0; i < 1000; i++) {
    const res = await c.call(T.ord, 'ListOrders', { ...filter, page_size: pageSize, page_token }, token);
    assert.ok(res.orders.length <= pageSize);
    for (const o of res.orders) ids.push(o.id);
    if (!res.next_page_token) return ids;
    page_token = res.next_page_token;
  }
  throw new Error('pagination did not end');
}

function combos() {
  const days = [];
  const now = new Date();
  const d = (n) => localDate(new Date(now.getTime() - n * 86400000), 'UTC');
  days.push({ start_date: d(5) }, { end_date: d(10) }, { start_date: d(12), end_date: d(3) },
    { start_date: d(7), end_date: d(7) });
  const dims = {
    status: [undefined, 'ORDER_STATUS_ACTIVE', 'ORDER_STATUS_COLLECTED', 'ORDER_STATUS_CANCELLED'],
    assignment: [undefined, 'ASSIGNMENT_FILTER_ANY', 'ASSIGNMENT_FILTER_ASSIGNED', 'ASSIGNMENT_FILTER_UNASSIGNED'],
    assignee_user_id: [undefined, T.users[1]],
    location_id: [undefined, T.locations[2]],
    dates: [undefined, ...days],
    type: [undefined, 'ORDER_TYPE_JOB', 'ORDER_TYPE_STOCK'],
  };
  // Every filter alone, every pair, and a deterministic sample of the rest.
  const out = [{}];
  const keys = Object.keys(dims);
  const put = (f, k, v) => (k === 'dates' ? Object.assign(f, v) : (f[k] = v));
  for (const k of keys) for (const v of dims[k].slice(1)) { const f = {}; put(f, k, v); out.push(f); }
  for (let i = 0; i < keys.length; i++) {
    for (let j = i + 1; j < keys.length; j++) {
      for (const a of dims[keys[i]].slice(1)) {
        for (const b of dims[keys[j]].slice(1)) {
          const f = {}; put(f, keys[i], a); put(f, keys[j], b); out.push(f);
        }
      }
    }
  }
  let seed = 7;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  for (let i = 0; i < 60; i++) {
    const f = {};
    for (const k of keys) { const v = dims[k][rnd(dims[k].length)]; if (v !== undefined) put(f, k, v); }
    out.push(f);
  }
  return out;
}

test('every filter alone and combined matches a brute-force check (hq)', async () => {
  const rows = await allRows(T.tenant);
  const all = combos();
  let nonEmpty = 0;
  for (const f of all) {
    const want = expected(rows, f);
    const got = await walk(f, T.hq, 211);
    assert.deepEqual(got, want, `filter ${JSON.stringify(f)}`);
    if (want.length) nonEmpty++;
  }
  assert.ok(nonEmpty > all.length / 2, 'most combinations select rows');
});

test('a technician sees only own and unassigned orders, with every filter', async () => {
  const rows = await allRows(T.tenant);
  for (const f of combos().slice(0, 80)) {
    const want = expected(rows, f, T.users[0]);
    const got = await walk(f, T.tech, 157);
    assert.deepEqual(got, want, `technician filter ${JSON.stringify(f)}`);
  }
});

test('pagination walks every page with no duplicate and no gap while orders are inserted', async () => {
  const before = expected(await allRows(T.tenant), {});
  let stop = false;
  const inserter = (async () => {
    let n = 0;
    while (!stop && n < 200) {
      await seedOrders(c, T.tenant, 3, { locations: T.locations, users: T.users, zones: ZONES, days: 0 });
      n++;
    }
  })();
  const seen = [];
  let page_token = '';
  for (;;) {
    const res = await c.call(T.ord, 'ListOrders', { page_size: 25, page_token }, T.hq);
    seen.push(...res.orders.map((o) => o.id));
    if (!res.next_page_token) break;
    page_token = res.next_page_token;
  }
  stop = true;
  await inserter;
  assert.equal(new Set(seen).size, seen.length, 'no duplicates');
  const seenSet = new Set(seen);
  for (const id of before) assert.ok(seenSet.has(id), `row ${id} that existed before the walk was skipped`);
  // Newest first throughout.
  const res = await c.call(T.ord, 'ListOrders', { page_size: 500 }, T.hq);
  for (let i = 1; i < res.orders.length; i++) {
    const a = res.orders[i - 1].create_time; const b = res.orders[i].create_time;
    assert.ok(BigInt(a.seconds) * 1000000000n + BigInt(a.nanos) >= BigInt(b.seconds) * 1000000000n + BigInt(b.nanos));
  }
});

test('a listed order equals GetOrder, packages and stock lines included (hq and technician)', async () => {
  // The newest 40 orders of each type get packages (job) or stock lines
  // (stock), written by SQL as CreateOrder would; the list statements read
  // them by type and the technician's statement reads them after merging
  // its two ranges.
  const picks = await c.sql('order', `SELECT id::text, type FROM (SELECT id, type,
      row_number() OVER (PARTITION BY type ORDER BY create_time DESC, id DESC) AS n
    FROM orders WHERE tenant_id = $1) x WHERE n <= 40`, [T.tenant]);
  for (const p of picks) {
    if (p.type === 1) {
      await c.sql('order', `INSERT INTO order_packages (order_id, package_id, tenant_id, position)
        SELECT $1::uuid, gen_random_uuid(), $2::uuid, g FROM generate_series(1, 1 + ascii($1::text) % 3) g`, [p.id, T.tenant]);
    } else {
      await c.sql('order', `INSERT INTO order_stock_lines (order_id, sku, quantity, position)
        SELECT $1::uuid, 'SKU-' || g || '-' || left($1::text, 4), g * 2, g FROM generate_series(1, 1 + ascii($1::text) % 2) g`, [p.id]);
    }
  }
  const pickIds = new Set(picks.map((p) => p.id));
  let packages = 0;
  let lines = 0;
  let techSeen = 0;
  let compared = 0;
  for (const [token, isTech, type] of [[T.hq, false, 'ORDER_TYPE_JOB'], [T.hq, false, 'ORDER_TYPE_STOCK'],
    [T.tech, true, 'ORDER_TYPE_JOB'], [T.tech, true, 'ORDER_TYPE_STOCK']]) {
    const res = await c.call(T.ord, 'ListOrders', { type, page_size: 100 }, token);
    for (const o of res.orders) {
      if (!pickIds.has(o.id)) continue;
      const got = await c.call(T.ord, 'GetOrder', { id: o.id }, T.hq);
      assert.deepEqual(o, got, `listed order ${o.id} (${isTech ? 'technician' : 'hq'})`);
      if (!isTech) {
        compared++;
        packages += o.package_ids.length;
        lines += o.stock_lines.length;
      } else techSeen++;
    }
  }
  assert.equal(compared, 80, 'hq saw every picked order');
  assert.ok(packages > 0 && lines > 0, 'the picked orders carry packages and stock lines');
  assert.ok(techSeen > 0, 'the technician saw some of the picked orders');
});

test('page_size default 50, capped at 500; tokens are bound to the query', async () => {
  let res = await c.call(T.ord, 'ListOrders', {}, T.hq);
  assert.equal(res.orders.length, 50);
  res = await c.call(T.ord, 'ListOrders', { page_size: 100000 }, T.hq);
  assert.equal(res.orders.length, 500);
  const tok = res.next_page_token;
  assert.ok(tok);
  // The same token with other filters, another caller or another tenant.
  await expectCode(c.call(T.ord, 'ListOrders', { page_token: tok, status: 'ORDER_STATUS_ACTIVE' }, T.hq), CODE.INVALID_ARGUMENT, /page_token/);
  await expectCode(c.call(T.ord, 'ListOrders', { page_token: tok }, T.tech), CODE.INVALID_ARGUMENT, /page_token/);
  const foreign = c.token({ tenant: T.other, sub: c.uuid(), role: 'hq' });
  await expectCode(c.call(T.ord, 'ListOrders', { page_token: tok }, foreign), CODE.INVALID_ARGUMENT, /page_token/);
  await expectCode(c.call(T.ord, 'ListOrders', { page_token: 'garbage!!' }, T.hq), CODE.INVALID_ARGUMENT, /page_token/);
  await expectCode(c.call(T.ord, 'ListOrders', { page_token: tok.slice(0, -2) + (tok.endsWith('AA') ? 'BB' : 'AA') }, T.hq), CODE.INVALID_ARGUMENT, /page_token/);
});

test('tenants are isolated', async () => {
  const foreign = c.token({ tenant: T.other, sub: c.uuid(), role: 'hq' });
  const mine = new Set(expected(await allRows(T.tenant), {}));
  const theirs = await walk({}, foreign, 500);
  assert.equal(theirs.length, 300);
  for (const id of theirs) assert.ok(!mine.has(id));
});

test('bad input answers INVALID_ARGUMENT naming the field', async () => {
  const bad = [
    [{ page_size: -1 }, /page_size/],
    [{ status: 9 }, /status/],
    [{ assignment: 7 }, /assignment/],
    [{ type: 5 }, /type/],
    [{ assignee_user_id: 'not-a-uuid' }, /assignee_user_id/],
    [{ location_id: '1234' }, /location_id/],
    [{ start_date: '2024-13-01' }, /start_date/],
    [{ end_date: '2024-02-30' }, /end_date/],
    [{ start_date: '24-01-01' }, /start_date/],
    [{ start_date: '2024-05-02', end_date: '2024-05-01' }, /end_date/],
  ];
  for (const [f, re] of bad) await expectCode(c.call(T.ord, 'ListOrders', f, T.hq), CODE.INVALID_ARGUMENT, re);
});

// The statements are the ones order_store.c prepares: read them from the
// source so the test checks the real SQL.
function listStatements() {
  const src = fs.readFileSync(path.join(SOURCE_DIR, 'order-svc/order_store.c'), 'utf8');
  const macros = {};
  // #define NAME "..." "..." (with line continuations) → the joined string.
  const defRe = /#define (\w+)[ \t]*\\?\s*((?:"(?:[^"\\]|\\.)*"[ \t]*\\?\s*)+)/g;
  for (const m of src.matchAll(defRe)) macros[m[1]] = joinLiterals(m[2]);
  const filterDef = src.match(/#define LIST_FILTER\(([^)]*)\)([\s\S]*?)\n#define LIST_FILTER2/);
  const params = filterDef[1].split(',').map((s) => s.trim());
  const body = filterDef[2].replace(/\\\n/g, ' ');
  const expandFilter = (args) => {
    // Tokens: "literal" or " #name " pieces.
    let out = '';
    for (const m of body.matchAll(/"((?:[^"\\]|\\.)*)"|#(\w+)/g)) {
      if (m[1] !== undefined) out += m[1];
      else out += args[params.indexOf(m[2])];
    }
    return out;
  };
  macros.LIST_FILTER2 = expandFilter([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  macros.LIST_FILTER3 = expandFilter([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  macros.LIST_FILTER4 = expandFilter([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
  const stmts = {};
  const stRe = /static const kn_pg_stmt (order_list_\w+) = \{\s*"\w+",\s*([\s\S]*?),\s*(\d+)\};/g;
  for (const m of src.matchAll(stRe)) {
    let sql = '';
    for (const t of m[2].matchAll(/"((?:[^"\\]|\\.)*)"|([A-Z_0-9]+)/g)) {
      if (t[1] !== undefined) sql += t[1].replace(/\\"/g, '"');
      else sql += macros[t[2]] ?? (t[2] === 'ORDER_NIL_UUID' ? '00000000-0000-0000-0000-000000000000' : '');
    }
    stmts[m[1]] = { sql, nparams: Number(m[3]) };
  }
  return stmts;
}

function joinLiterals(s) {
  let out = '';
  for (const m of s.matchAll(/"((?:[^"\\]|\\.)*)"/g)) out += m[1].replace(/\\"/g, '"');
  return out;
}

test('EXPLAIN: no filter combination scans orders sequentially', async () => {
  // A realistic table: 20k rows in the tenant (plus the others), analyzed.
  await seedOrders(c, T.tenant, 20000, { locations: [...T.locations, ...Array.from({ length: 20 }, () => c.uuid())], users: [...T.users, ...Array.from({ length: 40 }, () => c.uuid())], zones: ZONES, days: 365 });
  const stmts = listStatements();
  assert.deepEqual(Object.keys(stmts).sort(), ['order_list_all', 'order_list_assignee', 'order_list_assignee_loc', 'order_list_location', 'order_list_status', 'order_list_tech', 'order_list_tech_loc']);
  const NIL = '00000000-0000-0000-0000-000000000000';
  const MAX = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
  const filters = [];
  for (const status of [null, 1, 3]) {
    for (const type of [null, 2]) {
      for (const loc of [null, T.locations[0]]) {
        for (const akey of [null, 'assigned', NIL, T.users[1]]) {
          for (const dates of [null, ['2024-01-01', '2030-01-01']]) filters.push({ status, type, loc, akey, dates });
        }
      }
    }
  }
  const client = await (await import('pg')).default;
  const conn = new client.Client({ connectionString: c.pgUrl('order') });
  await conn.connect();
  try {
    let checked = 0;
    for (const [name, st] of Object.entries(stmts)) {
      await conn.query(`PREPARE ${name} AS ${st.sql}`);
      // The service plans with the actual parameters (migration 0002); the
      // generic plan is checked too: it must not scan sequentially either.
      for (const mode of ['force_custom_plan', 'force_generic_plan']) {
        await conn.query(`SET plan_cache_mode = ${mode}`);
        for (const f of filters) {
          const common = [
            f.status ?? 1, f.status ?? 3, f.type ?? 1, f.type ?? 2,
            f.loc ?? NIL, f.loc ?? MAX,
            f.akey === 'assigned' ? '00000000-0000-0000-0000-000000000001' : (f.akey ?? NIL),
            f.akey === 'assigned' ? MAX : (f.akey ?? MAX),
            f.dates ? f.dates[0] : '-infinity', f.dates ? f.dates[1] : 'infinity',
            f.dates ? `${f.dates[0]} 00:00+00` : '-infinity',
            // The end of a date range travels as the keyset cursor.
            f.dates ? `${f.dates[1]} 12:00+00` : 'infinity', f.dates ? NIL : MAX, 51,
          ];
          let params;
          if (name === 'order_list_all') params = [T.tenant, ...common];
          else if (name === 'order_list_location') params = [T.tenant, f.loc ?? T.locations[1], ...common];
          else if (name === 'order_list_status') params = [T.tenant, f.status ?? 2, ...common];
          else if (name.endsWith('_loc')) params = [T.tenant, f.akey && f.akey !== 'assigned' ? f.akey : T.users[0], f.loc ?? T.locations[1], ...common];
          else params = [T.tenant, f.akey && f.akey !== 'assigned' ? f.akey : T.users[0], ...common];
          const lit = params.map((p) => (typeof p === 'number' ? String(p) : `'${p}'`)).join(', ');
          const plan = (await conn.query(`EXPLAIN EXECUTE ${name}(${lit})`)).rows.map((r) => r['QUERY PLAN']).join('\n');
          assert.doesNotMatch(plan, /Seq Scan on orders/, `${name} ${mode} ${JSON.stringify(f)}:\n${plan}`);
          assert.match(plan, /Index (Only )?Scan|Bitmap Index Scan/);
          // Both leading equalities in one index: no other location's rows.
          if (name.endsWith('_loc') && mode === 'force_custom_plan') assert.match(plan, /orders_list_assignee_location/, `${name} ${JSON.stringify(f)}:\n${plan}`);
          checked++;
        }
      }
    }
    assert.ok(checked >= 400);
    await conn.query('RESET plan_cache_mode');
    const mode = (await conn.query('SHOW plan_cache_mode')).rows[0].plan_cache_mode;
    assert.equal(mode, 'force_custom_plan', 'the database makes sessions plan with the actual parameters');
  } finally {
    await conn.end();
  }
});
