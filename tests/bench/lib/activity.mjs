// SearchActivity: seeding and measuring, shared by
// tests/bench/location_search_bench.mjs and tests/bench/run.
import { pct } from './common.mjs';

const CHUNK = 500_000;
// Five activity rows per package, as a package's life produces.
export const PER_PACKAGE = 5;

/**
 * Seeds `rows` activity rows of one tenant by bulk SQL into location-svc's
 * database, then VACUUM ANALYZE. Barcodes BC + 10 digits, tracking numbers
 * TN + 12 digits, 50 locations with 200 doors each, an order identifier on
 * two rows in five. log(line) is called after each chunk. Resolves ms.
 * rebuildIndexes: the activity indexes the migrations declare are dropped
 * for the load and rebuilt from their own definitions (pg_indexes)
 * afterwards: the same indexes, built in bulk instead of row by row (the
 * trigram GIN index makes row-by-row loading of 5,000,000 rows take
 * minutes); tests/bench/run uses it to fit its time budget.
 */
export async function seedActivity(c, tenantId, rows, { log = (l) => process.stdout.write(`${l}\n`), rebuildIndexes = false } = {}) {
  const t0 = Date.now();
  const idx = !rebuildIndexes ? [] : await c.sql('location', `SELECT indexname, indexdef FROM pg_indexes
    WHERE tablename = 'activity' AND indexname <> 'activity_pkey' ORDER BY indexname`);
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
  return Date.now() - t0;
}

// The three query shapes (and the warm-up) over `rows` seeded rows:
// [name, makeQuery(i)].
export function searchShapes(rows) {
  const packages = Math.floor(rows / PER_PACKAGE);
  const pick = (i) => (i * 2654435761) % packages;
  const barcode = (p) => `BC${String((p * 7919) % 1e10).padStart(10, '0')}`;
  const tracking = (p) => `TN${String((p * 104729) % 1e12).padStart(12, '0')}`;
  return {
    warmup: ['warm-up', (i) => barcode(pick(i + 7))],
    barcode: ['exact barcode', (i) => barcode(pick(i)).toLowerCase()],
    tracking: ['exact tracking number', (i) => tracking(pick(i))],
    partial: ['partial (6 chars)', (i) => barcode(pick(i)).slice(4, 10)],
  };
}

/**
 * `requests` SearchActivity calls (page_size 50) at `concurrency` callers;
 * prints one line (as location_search_bench.mjs always did) unless
 * quiet. Resolves { p50, p99, max, rps, empty }.
 */
export async function measureSearch(c, token, name, makeQuery, { requests = 2000, concurrency = 8, quiet = false } = {}) {
  const client = c.client('location');
  const lat = [];
  let next = 0;
  let empty = 0;
  const worker = async () => {
    while (next < requests) {
      const i = next++;
      const t0 = process.hrtime.bigint();
      const r = await c.call(client, 'SearchActivity', { query: makeQuery(i), page_size: 50 }, token);
      lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (r.activities.length === 0) empty++;
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (Date.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const rps = Math.round(requests / secs);
  const line = `${name.padEnd(22)} p50 ${pct(lat, 50).toFixed(2)} ms  p99 ${pct(lat, 99).toFixed(2)} ms  `
    + `max ${lat[lat.length - 1].toFixed(2)} ms  ${rps} req/s  (${empty} empty)`;
  if (!quiet) console.log(line);
  return { p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1], rps, empty, line };
}

/** Warm-up then the three shapes; resolves { barcode, tracking, partial }. */
export async function measureSearchShapes(c, token, rows, opts = {}) {
  const s = searchShapes(rows);
  await measureSearch(c, token, ...s.warmup, opts);
  return {
    barcode: await measureSearch(c, token, ...s.barcode, opts),
    tracking: await measureSearch(c, token, ...s.tracking, opts),
    partial: await measureSearch(c, token, ...s.partial, opts),
  };
}
