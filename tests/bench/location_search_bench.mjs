// SearchActivity benchmark (not run in CI): seeds BENCH_ROWS activity rows
// (default 5,000,000) by bulk SQL into a private cluster's location-svc
// database, then measures p50/p99 latency at BENCH_CONCURRENCY (8) callers
// for three query shapes: an exact barcode, an exact tracking number, and a
// free-text partial (a fragment from the middle of a barcode).
//
//   KN_BUILD_DIR=build KN_SOURCE_DIR=. node tests/bench/location_search_bench.mjs
//   BENCH_ROWS=1000000 BENCH_REQUESTS=400 node tests/bench/location_search_bench.mjs
//
// Targets (issue 4): barcode/tracking p99 <= 15 ms, partial p99 <= 50 ms.
import { startCluster } from '../../scripts/lib/cluster.mjs';

const ROWS = Number(process.env.BENCH_ROWS ?? 5_000_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000); // per query shape
const CHUNK = 500_000;
// Five activity rows per package, as a package's life produces.
const PER_PACKAGE = 5;

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function seed(c, tenantId) {
  const t0 = Date.now();
  for (let from = 0; from < ROWS; from += CHUNK) {
    const to = Math.min(ROWS, from + CHUNK) - 1;
    // Barcodes BC + 10 digits, tracking numbers TN + 12 digits, 50 locations
    // with 200 doors each, an order identifier on two rows in five.
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
    process.stdout.write(`seeded ${to + 1} rows (${Math.round((Date.now() - t0) / 1000)} s)\n`);
  }
  await c.sql('location', 'VACUUM ANALYZE activity');
  return Date.now() - t0;
}

async function measure(c, token, name, makeQuery) {
  const client = c.client('location');
  const lat = [];
  let next = 0;
  let empty = 0;
  const worker = async () => {
    while (next < REQUESTS) {
      const i = next++;
      const t0 = process.hrtime.bigint();
      const r = await c.call(client, 'SearchActivity', { query: makeQuery(i), page_size: 50 }, token);
      lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (r.activities.length === 0) empty++;
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const secs = (Date.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const line = `${name.padEnd(22)} p50 ${pct(lat, 50).toFixed(2)} ms  p99 ${pct(lat, 99).toFixed(2)} ms  `
    + `max ${lat[lat.length - 1].toFixed(2)} ms  ${Math.round(REQUESTS / secs)} req/s  (${empty} empty)`;
  console.log(line);
  return { p50: pct(lat, 50), p99: pct(lat, 99) };
}

const c = await startCluster({ services: ['location'], redis: true, env: { KN_WORKERS: '8' } });
try {
  const tenantId = c.uuid();
  const token = c.token({ tenant: tenantId, sub: c.uuid(), role: 'hq' });
  const ms = await seed(c, tenantId);
  console.log(`seeded ${ROWS} activity rows in ${(ms / 1000).toFixed(1)} s; ${CONCURRENCY} callers, ${REQUESTS} requests per shape`);
  const packages = Math.floor(ROWS / PER_PACKAGE);
  const pick = (i) => (i * 2654435761) % packages;
  const barcode = (p) => `BC${String((p * 7919) % 1e10).padStart(10, '0')}`;
  const tracking = (p) => `TN${String((p * 104729) % 1e12).padStart(12, '0')}`;
  await measure(c, token, 'warm-up', (i) => barcode(pick(i + 7)));
  const res = {
    barcode: await measure(c, token, 'exact barcode', (i) => barcode(pick(i)).toLowerCase()),
    tracking: await measure(c, token, 'exact tracking number', (i) => tracking(pick(i))),
    partial: await measure(c, token, 'partial (6 chars)', (i) => barcode(pick(i)).slice(4, 10)),
  };
  const ok = res.barcode.p99 <= 15 && res.tracking.p99 <= 15 && res.partial.p99 <= 50;
  console.log(ok ? 'targets met' : 'targets NOT met');
} finally {
  await c.stop();
}
