// SearchActivity: seeding and measuring, shared by
// tests/bench/location_search_bench.mjs and tests/bench/run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadProtos } from '../../../scripts/lib/cluster.mjs';
import { pct } from './common.mjs';
import { h2Latency } from './grpc_h2.mjs';

const CHUNK = 500_000;
// Five activity rows per package, as a package's life produces.
export const PER_PACKAGE = 5;

/**
 * Seeds `rows` activity rows of one tenant by bulk SQL into location-svc's
 * database, then VACUUM ANALYZE. Barcodes BC + 10 digits, tracking numbers
 * TN + 12 digits, 50 locations with 200 doors each, an order identifier on
 * two rows in five. log(line) is called after each chunk. Resolves ms.
 * The values of the searchable fields go to activity_terms by the
 * migrations' own trigger, one statement per chunk.
 * rebuildIndexes: the indexes the migrations declare on activity and
 * activity_terms (but their primary keys: the trigger's ON CONFLICT needs
 * that of activity_terms) are dropped for the load and rebuilt from their
 * own definitions (pg_indexes) afterwards: the same indexes, built in bulk
 * instead of row by row (the 4-gram GIN index and the five per-field
 * indexes make row-by-row loading of 5,000,000 rows take minutes);
 * tests/bench/run uses it to fit its time budget.
 */
export async function seedActivity(c, tenantId, rows, { log = (l) => process.stdout.write(`${l}\n`), rebuildIndexes = false } = {}) {
  const t0 = Date.now();
  const idx = !rebuildIndexes ? [] : await c.sql('location', `SELECT indexname, indexdef FROM pg_indexes
    WHERE tablename IN ('activity', 'activity_terms') AND indexname NOT LIKE '%_pkey' ORDER BY indexname`);
  for (const i of idx) await c.sql('location', `DROP INDEX ${i.indexname}`);
  for (let from = 0; from < rows; from += CHUNK) {
    const to = Math.min(rows, from + CHUNK) - 1;
    await c.sql('location', `
      INSERT INTO activity (tenant_id, time, kind, actor_user_id, location_id, door_id, package_id,
        order_id, barcode, tracking_number, order_identifier, door_label, location_name, detail)
      SELECT $1::uuid,
        now() - (($3::bigint - i) * interval '1 second'),
        1 + (i % 9),
        $1::uuid,
        md5('loc' || ((i / 5) % 50))::uuid,
        md5('door' || ((i / 5) % 10000))::uuid,
        md5('pkg' || (i / 5))::uuid,
        CASE WHEN i % 5 < 2 THEN md5('ord' || (i / 50))::uuid END,
        'BC' || lpad(((i / 5) * 7919 % 10000000000)::text, 10, '0'),
        'TN' || lpad(((i / 5) * 104729 % 1000000000000)::text, 12, '0'),
        CASE WHEN i % 5 < 2 THEN 'JO-' || lpad((i / 50)::text, 6, '0') ELSE '' END,
        chr((65 + (i / 5) % 20)::int) || ((i / 5) % 200),
        'Depot ' || ((i / 5) % 50),
        ''
      FROM generate_series($2::bigint, $3::bigint) AS i`, [tenantId, from, to]);
    log(`seeded ${to + 1} rows (${Math.round((Date.now() - t0) / 1000)} s)`);
  }
  for (const i of idx) {
    // One statement: the SET applies to the session running the build.
    await c.sql('location', `SET maintenance_work_mem = '512MB'; ${i.indexdef}`);
    log(`built ${i.indexname} (${Math.round((Date.now() - t0) / 1000)} s)`);
  }
  await c.sql('location', 'VACUUM ANALYZE activity');
  await c.sql('location', 'VACUUM ANALYZE activity_terms');
  return Date.now() - t0;
}

// The three query shapes over `rows` seeded rows:
// [name, makeQuery(i)].
export function searchShapes(rows) {
  const packages = Math.floor(rows / PER_PACKAGE);
  const pick = (i) => (i * 2654435761) % packages;
  const barcode = (p) => `BC${String((p * 7919) % 1e10).padStart(10, '0')}`;
  const tracking = (p) => `TN${String((p * 104729) % 1e12).padStart(12, '0')}`;
  return {
    barcode: ['exact barcode', (i) => barcode(pick(i)).toLowerCase()],
    tracking: ['exact tracking number', (i) => tracking(pick(i))],
    partial: ['partial (6 chars)', (i) => barcode(pick(i)).slice(4, 10)],
  };
}

/**
 * SearchActivity (page_size 50) at `concurrency` callers, by h2load
 * (grpc_h2.mjs: h2Latency): `queries` different queries of the shape, each
 * for `duration` s after a warm-up, latencies pooled. Prints one line
 * unless quiet. Resolves { p50, p99, max, rps, empty, problems, line }.
 */
export async function measureSearch(c, token, name, makeQuery, { queries = 10, concurrency = 8, duration = 1, quiet = false, dir } = {}) {
  const client = c.client('location');
  const method = loadProtos().ctor.location.service.SearchActivity;
  const work = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'kn-search-'));
  const lat = [];
  const problems = [];
  let empty = 0;
  let rps = 0;
  for (let i = 0; i < queries; i++) {
    const request = { query: makeQuery(i), page_size: 50 };
    if ((await c.call(client, 'SearchActivity', request, token)).activities.length === 0) empty++;
    const r = await h2Latency({ dir: work, name: `search${i}`, addr: c.addr('location', 0), method, request, token },
      { clients: concurrency, duration });
    lat.push(...r.lat);
    problems.push(...r.problems);
    rps += r.rps / queries;
  }
  lat.sort((a, b) => a - b);
  rps = Math.round(rps);
  const line = `${name.padEnd(22)} p50 ${pct(lat, 50).toFixed(2)} ms  p99 ${pct(lat, 99).toFixed(2)} ms  `
    + `max ${lat[lat.length - 1].toFixed(2)} ms  ${rps} req/s  (${empty} of ${queries} queries found nothing)`;
  if (!quiet) console.log(line);
  return { p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1], rps, empty, problems, line };
}

/** The three shapes; resolves { barcode, tracking, partial }. */
export async function measureSearchShapes(c, token, rows, opts = {}) {
  const s = searchShapes(rows);
  return {
    barcode: await measureSearch(c, token, ...s.barcode, opts),
    tracking: await measureSearch(c, token, ...s.tracking, opts),
    partial: await measureSearch(c, token, ...s.partial, opts),
  };
}
