// The write pair (issue 8, item 3): POST /v1/orders through the gateway
// (wrk with a Lua script) against pgbench running order-svc's own CreateOrder
// SQL on the same PostgreSQL, same concurrency, same run.
//
// Stock orders: a job order needs packages that are in no active order, so
// every create would need fresh packages (registered and delivered through
// location-svc first); a stock order only needs stock, so each POST can be
// the same small body (one line, quantity 1, one of `skus` SKUs stocked with
// a billion each at one location, chosen at random per request to spread the
// row locks of location-svc's stock_items).
//
// The pgbench script is built from order-svc/order_store.c at run time (the
// SQL constants, ORDER_COLS expanded), so it follows the service's SQL as it
// changes: the intent lookup and insert (autocommit, as CreateOrder runs
// them), then BEGIN, the intent lock, the one-statement insert of the order,
// its stock line and history row, the read-back, COMMIT. Prepared statements
// (-M prepared), as order-svc uses. What it leaves out and the gateway path
// does: location-svc's ReserveStock transaction (in another database) and the
// Redis time-zone lookup; the reference does less work, so the ratio is a
// lower bound of the goal's "same inserts in one transaction".
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SOURCE_DIR } from '../../../scripts/lib/cluster.mjs';
import { wrk } from './gateway.mjs';

// C string literals and upper-case macro names of a C fragment, in order.
function cTokens(text) {
  const out = [];
  const re = /"((?:[^"\\]|\\.)*)"|\b([A-Z][A-Z0-9_]+)\b/g;
  let m;
  while ((m = re.exec(text))) out.push(m[1] !== undefined ? { lit: m[1].replace(/\\(.)/g, '$1') } : { id: m[2] });
  return out;
}

/** The SQL text of `static const kn_pg_stmt <name>` in a store file. */
export function storeSql(file, names) {
  const src = fs.readFileSync(file, 'utf8');
  // KN_PG_CACHED_PLAN comes from kn_pg.h.
  const header = fs.readFileSync(path.join(path.dirname(file), '..', 'common', 'kn_pg.h'), 'utf8');
  const macros = {};
  for (const m of (header + '\n' + src).matchAll(/^#define (\w+)\s+((?:.*\\\n)*.*)$/gm)) {
    // String macros, also those made of earlier ones (ORDER_COLS).
    const toks = cTokens(m[2]);
    if (toks.length && toks.every((t) => t.lit !== undefined || t.id in macros)) {
      macros[m[1]] = toks.map((t) => (t.lit !== undefined ? t.lit : macros[t.id])).join('');
    }
  }
  const out = {};
  for (const name of names) {
    const m = new RegExp(`static const kn_pg_stmt ${name}\\s*=\\s*\\{([\\s\\S]*?)\\};`).exec(src);
    if (!m) throw new Error(`${path.basename(file)}: no statement ${name} (order-svc's SQL changed: update tests/bench/lib/writes.mjs)`);
    const toks = cTokens(m[1]).slice(1); // the first literal is the statement's name
    out[name] = toks.map((t) => {
      if (t.lit !== undefined) return t.lit;
      if (!(t.id in macros)) throw new Error(`${path.basename(file)}: ${name} uses unknown macro ${t.id}`);
      return macros[t.id];
    }).join('');
  }
  return out;
}

// $n -> params[n-1] (a pgbench :variable or an SQL expression).
function bind(sql, params) {
  const max = Math.max(0, ...[...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  if (max !== params.length) throw new Error(`statement has ${max} parameters, the bench binds ${params.length}: ${sql}`);
  return sql.replace(/\$(\d+)/g, (_, n) => params[Number(n) - 1]);
}

/** The pgbench script of one CreateOrder (stock, one line, no request_id). */
export function createOrderScript(sourceDir) {
  const q = storeSql(path.join(sourceDir, 'order-svc/order_store.c'),
    ['q_intent_find', 'q_intent_create', 'q_intent_lock', 'q_insert', 'q_get']);
  // order-svc keeps these statements' plans (KN_PG_CACHED_PLAN: the session
  // plans them with plan_cache_mode = auto); pgbench's session does the same
  // (PGOPTIONS in pgbench()), which holds only while every one is marked.
  for (const [name, sql] of Object.entries(q)) {
    if (!sql.startsWith('/* kn: cached plan */')) throw new Error(`order_store.c: ${name} is no longer marked KN_PG_CACHED_PLAN: update tests/bench/lib/writes.mjs (pgbench's plan_cache_mode)`);
  }
  const oid = 'md5(CAST(:r AS text))::uuid'; // order_id_random() in C: a fresh uuid
  // No identifier given: '' (pgbench has no empty variables; the CASE on it
  // is decided per execution either way).
  const one = (s) => s.replace(/\s+/g, ' ').trim();
  return [
    '\\set r random(1, 1000000000000000000)',
    // order_store_intent_create: find (none), then insert RETURNING.
    `${one(bind(q.q_intent_find, [oid, ':tenant']))};`,
    `${one(bind(q.q_intent_create, [':tenant', oid, ':type', ':loc', "''", ':hash', ':nopkg']))} \\gset i_`,
    'BEGIN;',
    `${one(bind(q.q_intent_lock, [':i_id']))};`,
    `${one(bind(q.q_insert, [':i_id', oid, ':tenant', ':type', ':i_identifier', ':loc', ':tz', 'NULL', 'NULL', ':nopkg', ':skus', ':qty', ':actor']))};`,
    `${one(bind(q.q_get, [':tenant', oid]))};`,
    'COMMIT;',
    '',
  ].join('\n');
}

// The wrk Lua script: POST a stock order of one random SKU.
export function postOrderLua(locationId, skus) {
  return `wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
math.randomseed(os.time())
request = function()
  local body = '{"type":"ORDER_TYPE_STOCK","locationId":"${locationId}","stockLines":[{"sku":"SKU-' .. math.random(1, ${skus}) .. '","quantity":1}]}'
  return wrk.format(nil, nil, nil, body)
end
`;
}

function pgbench(url, scriptFile, vars, { clients, threads, duration }) {
  const args = ['-n', '-r', '-M', 'prepared', `-c${clients}`, `-j${threads}`, `-T${duration}`, '-f', scriptFile,
    ...Object.entries(vars).flatMap(([k, v]) => ['-D', `${k}=${v}`]), url];
  return new Promise((resolve, reject) => {
    const env = { ...process.env, PGOPTIONS: '-c plan_cache_mode=auto' };
    execFile('pgbench', args, { env, encoding: 'utf8', maxBuffer: 1 << 24, timeout: (duration + 60) * 1000 }, (e, out, err) => {
      if (e) return reject(new Error(`pgbench failed: ${e.message}\n${out}\n${err}`));
      const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1]);
      const avg = Number(/latency average = ([\d.]+) ms/.exec(out)?.[1]);
      const failed = Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0);
      const done = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1]);
      // -r: the per-statement mean latencies, kept for the report.
      const perStatement = out.slice(out.indexOf('statement latencies')).split('\n').slice(1).filter((l) => /^\s+[\d.]+\s+\d+/.test(l))
        .map((l) => { const m = /^\s+([\d.]+)\s+\d+\s+(.*)$/.exec(l); return { ms: Number(m[1]), sql: m[2].slice(0, 60) }; });
      resolve({ tps, avg, failed, done, perStatement, cmd: `PGOPTIONS='-c plan_cache_mode=auto' pgbench ${args.slice(0, -1).map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ')} <konnect_order>`, stderr: err });
    });
  });
}

/**
 * Sets up a tenant, a location and `skus` stocked SKUs (RPCs), then
 * measures. opts: { clients, threads, duration, warmup, skus, dir }.
 * Resolves { system: wrk result + created, reference: pgbench result,
 * ratio, valid, problems, clients, bodyNote }.
 */
export async function writePair(c, opts) {
  const { clients = 8, threads = 2, duration = 10, warmup = 2, skus = 100, dir } = opts;
  const tenant = c.uuid();
  const actor = c.uuid();
  const token = c.token({ tenant, sub: actor, role: 'hq' });
  const loc = c.client('location');
  const location = await c.call(loc, 'CreateLocation', {
    request_id: c.uuid(), name: 'Bench depot', code: `B${tenant.slice(0, 6)}`, address: 'Street 1', time_zone: 'UTC',
  }, token);
  for (let i = 1; i <= skus; i++) {
    await c.call(loc, 'AdjustStock', { location_id: location.id, sku: `SKU-${i}`, delta: 1_000_000_000, reason: 'bench' }, token);
  }
  const lua = path.join(dir, 'post_order.lua');
  fs.writeFileSync(lua, postOrderLua(location.id, skus));
  const script = path.join(dir, 'create_order.sql');
  fs.writeFileSync(script, createOrderScript(SOURCE_DIR));

  const problems = [];
  // One request by hand: the body is accepted.
  const r = await fetch(`${c.gatewayUrl}/v1/orders`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'ORDER_TYPE_STOCK', locationId: location.id, stockLines: [{ sku: 'SKU-1', quantity: 1 }] }),
  });
  if (r.status !== 200 && r.status !== 201) problems.push(`POST /v1/orders answered ${r.status}: ${await r.text()}`);

  const count = async () => Number((await c.sql('order', 'SELECT count(*) AS n FROM orders WHERE tenant_id = $1', [tenant]))[0].n);
  const url = `${c.gatewayUrl}/v1/orders`;
  const settle = () => new Promise((res) => setTimeout(res, 1000)); // requests in flight when wrk stopped
  wrk(url, { token, threads, conns: clients, duration: warmup, extra: ['-s', lua] }); // warm-up
  await settle();
  const before = await count();
  const system = wrk(url, { token, threads, conns: clients, duration, extra: ['-s', lua] });
  await settle();
  system.created = (await count()) - before;
  if (system.non2xx > 0) problems.push(`gateway: ${system.non2xx} non-2xx answers`);
  if (system.sockErr) problems.push(`gateway: ${system.sockErr}`);
  // Every 2xx answer is an order in the database (the run's own count).
  if (Math.abs(system.created - system.requests) > clients) problems.push(`gateway: ${system.requests} answers but ${system.created} new orders`);

  const vars = {
    tenant, loc: location.id, tz: 'UTC', actor, type: 2, hash: 'b'.repeat(64), nopkg: '{}', skus: '{SKU-1}', qty: '{1}',
  };
  const pgUrl = c.pgUrl('order');
  await pgbench(pgUrl, script, vars, { clients, threads, duration: warmup }); // warm-up
  const before2 = await count();
  const reference = await pgbench(pgUrl, script, vars, { clients, threads, duration });
  reference.created = (await count()) - before2;
  if (reference.failed > 0) problems.push(`pgbench: ${reference.failed} failed transactions`);
  if (Math.abs(reference.created - reference.done) > clients) problems.push(`pgbench: ${reference.done} transactions but ${reference.created} new orders`);
  return { system, reference, ratio: system.rps / reference.tps, valid: problems.length === 0, problems, clients, threads, tenant };
}
