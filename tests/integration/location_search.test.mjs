// location-svc SearchActivity: ranking (exact > prefix > partial, then
// newest first), the five searchable fields, filters, keyset pagination,
// LIKE metacharacters and tenants.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster } from '../../scripts/lib/cluster.mjs';
import { Status, rejects, tenant, uniq } from './location_helpers.mjs';

let c;
let t;
let other;

before(async () => {
  c = await startCluster({ services: ['location'], redis: true });
  t = tenant(c);
  other = tenant(c);
});
after(async () => { await c?.stop(); });

const search = (req, tok) => t.call('SearchActivity', { page_size: 500, ...req }, tok);
const ids = (r) => r.activities.map((a) => a.package_id);

test('ranking: exact, then prefix, then partial; newest first within a rank', async () => {
  const l = await t.location();
  const stem = uniq('RK');
  // Registered in this order: partial (oldest), exact, prefix, partial (newest).
  const partialOld = await t.pkg(l.id, { barcode: `X${stem}Y1` });
  const exact = await t.pkg(l.id, { barcode: stem });
  const prefix = await t.pkg(l.id, { barcode: `${stem}77` });
  const partialNew = await t.pkg(l.id, { barcode: `Z${stem}` });
  const r = await search({ query: stem.toLowerCase(), location_id: l.id });
  assert.deepEqual(ids(r), [exact.id, prefix.id, partialNew.id, partialOld.id]);
  // Tracking number works the same way, case-insensitively.
  const tn = uniq('TRK');
  const byTn = await t.pkg(l.id, { tracking_number: tn });
  assert.deepEqual(ids(await search({ query: tn.toLowerCase() })), [byTn.id]);
});

test('searchable fields: door label, location name, order identifier', async () => {
  const name = `Kiruna ${uniq('N')}`;
  const l = await t.location({ name });
  const label = uniq('Q');
  const d = await t.door(l.id, { label });
  const p = await t.pkg(l.id);
  await t.call('DeliverPackage', { id: p.id, door_id: d.id });
  const byLabel = await search({ query: label });
  assert.deepEqual(byLabel.activities.map((a) => a.kind), ['ACTIVITY_KIND_DELIVERED']);
  assert.equal(byLabel.activities[0].door_id, d.id, 'the row opens the door');
  assert.equal(byLabel.activities[0].package_id, p.id, 'and the package');
  const byName = await search({ query: name.toUpperCase() });
  assert.equal(byName.activities.length, 2);
  const ident = uniq('JO-');
  await t.icall('AttachPackages', { order_id: c.uuid(), order_identifier: ident, location_id: l.id, package_ids: [p.id] });
  const byOrder = await search({ query: ident.toLowerCase() });
  assert.deepEqual(byOrder.activities.map((a) => a.kind), ['ACTIVITY_KIND_ADDED_TO_ORDER']);
  assert.equal(byOrder.activities[0].order_identifier, ident);
});

test('filters: kind, package, location, time range', async () => {
  const l = await t.location();
  const { pkg } = await t.inLocker(l.id);
  const all = await search({ location_id: l.id });
  assert.equal(all.activities.length, 2);
  const [newest, oldest] = all.activities;
  const delivered = await search({ location_id: l.id, kind: 'ACTIVITY_KIND_DELIVERED' });
  assert.deepEqual(delivered.activities.map((a) => a.id), [newest.id]);
  assert.equal((await search({ package_id: pkg.id })).activities.length, 2);
  const onlyOld = await search({ location_id: l.id, to: oldest.time });
  assert.deepEqual(onlyOld.activities.map((a) => a.id), [oldest.id], 'to is inclusive');
  const onlyNew = await search({ location_id: l.id, from: newest.time });
  assert.deepEqual(onlyNew.activities.map((a) => a.id), [newest.id], 'from is inclusive');
  await rejects(search({ from: newest.time, to: oldest.time }), Status.INVALID_ARGUMENT, /to/);
  await rejects(search({ from: { seconds: '-99999999999999', nanos: 0 } }), Status.INVALID_ARGUMENT, /from/);
});

test('pagination: keyset pages cover the result once, in rank order', async () => {
  const l = await t.location();
  const stem = uniq('PG');
  for (let i = 0; i < 9; i++) await t.pkg(l.id, { barcode: i % 3 === 0 ? `${stem}${i}` : `A${stem}${i}` });
  await t.pkg(l.id, { barcode: stem });
  const whole = await search({ query: stem });
  assert.equal(whole.activities.length, 10);
  assert.equal(whole.next_page_token, '');
  for (const size of [1, 3, 4]) {
    const got = [];
    let token = '';
    let pages = 0;
    do {
      const r = await t.call('SearchActivity', { query: stem, page_size: size, page_token: token });
      got.push(...r.activities.map((a) => a.id));
      token = r.next_page_token;
      pages++;
    } while (token);
    assert.deepEqual(got, whole.activities.map((a) => a.id), `page_size ${size}`);
    assert.equal(pages, Math.ceil(10 / size));
  }
  // Stable under inserts: a new row does not shift the pages already read.
  const first = await t.call('SearchActivity', { location_id: l.id, page_size: 4 });
  await t.pkg(l.id);
  const second = await t.call('SearchActivity', { location_id: l.id, page_size: 4, page_token: first.next_page_token });
  const before = (await search({ location_id: l.id })).activities.map((a) => a.id);
  assert.deepEqual(second.activities.map((a) => a.id), before.slice(5, 9));
  await rejects(t.call('SearchActivity', { query: 'other', page_token: first.next_page_token }), Status.INVALID_ARGUMENT, /page_token/);
  await rejects(other.call('SearchActivity', { location_id: l.id, page_size: 4, page_token: first.next_page_token }), Status.INVALID_ARGUMENT);
});

test('LIKE metacharacters and SQL text are matched literally', async () => {
  const l = await t.location();
  const pct = await t.pkg(l.id, { barcode: `${uniq('M')}100%` });
  const und = await t.pkg(l.id, { barcode: `${uniq('M')}a_b` });
  const bsl = await t.pkg(l.id, { barcode: `${uniq('M')}c\\d` });
  await t.pkg(l.id, { barcode: `${uniq('M')}axb` });
  assert.deepEqual(ids(await search({ query: '%', location_id: l.id })), [pct.id]);
  assert.deepEqual(ids(await search({ query: '_', location_id: l.id })), [und.id]);
  assert.deepEqual(ids(await search({ query: 'a_b', location_id: l.id })), [und.id]);
  assert.deepEqual(ids(await search({ query: '\\', location_id: l.id })), [bsl.id]);
  for (const q of ["'; DROP TABLE activity; --", '%%%', '\\%', "' OR 1=1 --", 'ÅÄÖ ünïcødé']) {
    assert.equal((await search({ query: q, location_id: l.id })).activities.length, 0, q);
  }
  await rejects(search({ query: 'x'.repeat(257) }), Status.INVALID_ARGUMENT, /query/);
  await rejects(search({ query: 'tab\there' }), Status.INVALID_ARGUMENT, /query/);
  assert.ok((await c.sql('location', 'SELECT count(*) AS n FROM activity'))[0].n > 0);
});

test('tenants and roles', async () => {
  const l = await t.location();
  const p = await t.pkg(l.id);
  assert.equal((await other.call('SearchActivity', { query: p.barcode })).activities.length, 0);
  assert.equal((await other.call('SearchActivity', {})).activities.length, 0);
  await rejects(search({}, t.tokA), Status.PERMISSION_DENIED);
  assert.equal((await search({ query: p.barcode })).activities.length, 1);
});

// Every page of a search at one page size, concatenated, and the page sizes.
async function pages(req, size) {
  const got = [];
  const sizes = [];
  const seen = new Set();
  let token = '';
  do {
    const r = await t.call('SearchActivity', { ...req, page_size: size, page_token: token });
    for (const a of r.activities) {
      assert.ok(!seen.has(a.id), `page_size ${size}: ${a.id} twice`);
      seen.add(a.id);
    }
    got.push(...r.activities);
    sizes.push(r.activities.length);
    token = r.next_page_token;
    assert.ok(sizes.length <= 100, 'paging ends');
  } while (token);
  return { got, sizes };
}

test('tiers: pages are full across tier ends, and paging has no duplicates or gaps', async () => {
  const l = await t.location();
  const stem = uniq('TF');
  // Oldest first: partial, exact, prefix, partial, prefix, exact, partial.
  // A row matching on several fields is one row, in its best tier: e1
  // exactly on two fields, e2 exactly on one and by prefix on another.
  const p1 = await t.pkg(l.id, { barcode: `A${stem}` });
  const e1 = await t.pkg(l.id, { barcode: stem, tracking_number: stem });
  const x1 = await t.pkg(l.id, { barcode: `${stem}-1` });
  const p2 = await t.pkg(l.id, { tracking_number: `B${stem}B` });
  const x2 = await t.pkg(l.id, { tracking_number: `${stem}-2` });
  const e2 = await t.pkg(l.id, { barcode: `${stem}-3`, tracking_number: stem.toLowerCase() });
  const p3 = await t.pkg(l.id, { barcode: `C${stem}` });
  const want = [e2, e1, x2, x1, p3, p2, p1].map((p) => p.id);
  const whole = await search({ query: stem, location_id: l.id });
  assert.deepEqual(ids(whole), want);
  assert.equal(whole.next_page_token, '');
  for (let size = 1; size <= 8; size++) {
    const { got, sizes } = await pages({ query: stem, location_id: l.id }, size);
    assert.deepEqual(got.map((a) => a.package_id), want, `page_size ${size}`);
    // Every page but the last is full, whichever tiers it spans.
    for (const n of sizes.slice(0, -1)) assert.equal(n, size, `page_size ${size}: pages ${sizes}`);
    assert.equal(sizes.length, Math.max(1, Math.ceil(want.length / size)), `page_size ${size}: pages ${sizes}`);
  }
  // The first page holds the exact, prefix and partial rows it has room for.
  const first = await t.call('SearchActivity', { query: stem, location_id: l.id, page_size: 5 });
  assert.deepEqual(ids(first), want.slice(0, 5));
  // Filters apply in every tier: DELIVERED rows only, one per tier.
  const d1 = await t.door(l.id);
  const d2 = await t.door(l.id);
  const d3 = await t.door(l.id);
  for (const [p, d] of [[p1, d1], [e1, d2], [x1, d3]]) await t.call('DeliverPackage', { id: p.id, door_id: d.id });
  const delivered = await search({ query: stem, kind: 'ACTIVITY_KIND_DELIVERED' });
  assert.deepEqual(ids(delivered), [e1.id, x1.id, p1.id]);
  const { got } = await pages({ query: stem, kind: 'ACTIVITY_KIND_DELIVERED' }, 1);
  assert.deepEqual(got.map((a) => a.package_id), [e1.id, x1.id, p1.id]);
  // Newer rows go in their tier, not on top: the exact rows still lead.
  const all = await search({ query: stem, location_id: l.id });
  assert.deepEqual(ids(all), [e1.id, e2.id, e1.id, x1.id, x2.id, x1.id, p1.id, p3.id, p2.id, p1.id]);
});

test('tiers: many rows per tier page in order with full pages', async () => {
  const l = await t.location();
  const stem = uniq('TM');
  const made = [];
  // Interleaved in time: the tiers are not in time order.
  for (let i = 0; i < 12; i++) {
    const barcode = [`${stem}`, `${stem}${i}`, `Z${stem}${i}`][i % 3];
    made.push({ tier: i % 3, p: await t.pkg(l.id, barcode === stem ? { tracking_number: stem, barcode: uniq('BC') } : { barcode }) });
  }
  const want = [0, 1, 2].flatMap((k) => made.filter((m) => m.tier === k).reverse().map((m) => m.p.id));
  assert.deepEqual(ids(await search({ query: stem })), want);
  for (const size of [1, 2, 3, 4, 5, 7, 11, 12, 13]) {
    const { got, sizes } = await pages({ query: stem }, size);
    assert.deepEqual(got.map((a) => a.package_id), want, `page_size ${size}`);
    for (const n of sizes.slice(0, -1)) assert.equal(n, size, `page_size ${size}: pages ${sizes}`);
  }
});

test('LIKE metacharacters are literal in every tier, and a partial match is on the first page', async () => {
  // Many prefix matches (a location whose name starts with the query: every
  // row there) and the package whose barcode holds it in the middle.
  const l = await t.location({ name: `%_% ${uniq('Site')}` });
  for (let i = 0; i < 6; i++) await t.pkg(l.id);
  const other = await t.location({ name: `a ${uniq('b')}` });
  const pk = await t.pkg(other.id, { barcode: `BC-%_%-${uniq('X')}` });
  const decoy = await t.pkg(other.id, { barcode: `BC-x%yz${uniq('X')}` });
  const r = await search({ query: '%_%' });
  for (const a of r.activities) {
    assert.ok([a.barcode, a.tracking_number, a.order_identifier, a.door_label, a.location_name]
      .some((s) => s.toLowerCase().includes('%_%')), `matched ${a.barcode} ${a.location_name}`);
  }
  assert.ok(ids(r).includes(pk.id), 'the partial match is on the first page');
  assert.ok(!ids(r).includes(decoy.id));
  assert.equal(ids(r).at(-1), pk.id, 'after the prefix matches');
  assert.ok(ids(await search({ query: '%_%', location_id: other.id })).includes(pk.id));
  // '_' and '%' alone match only rows that hold them.
  assert.deepEqual(ids(await search({ query: '_%-', location_id: other.id })), [pk.id]);
  assert.deepEqual(ids(await search({ query: 'x_y', location_id: other.id })), []);
  assert.deepEqual(ids(await search({ query: 'x%y', location_id: other.id })), [decoy.id]);
});

test('a tier with more values than are read one by one: same rows, same order, same pages', async () => {
  // SearchActivity reads a tier through its distinct values (barcodes
  // here) up to 64 of them, and over the rows beyond that: 70 prefix and
  // 70 partial values take the second way, 3 of each the first.
  const l = await t.location();
  for (const n of [3, 70]) {
    const stem = uniq('MV');
    const made = [];
    for (let i = 0; i < n; i++) {
      made.push({ tier: 1, p: await t.pkg(l.id, { barcode: `${stem}${i}` }) });
      made.push({ tier: 2, p: await t.pkg(l.id, { barcode: `Q${stem}${i}` }) });
    }
    made.push({ tier: 0, p: await t.pkg(l.id, { tracking_number: stem }) });
    const want = [0, 1, 2].flatMap((k) => made.filter((m) => m.tier === k).reverse().map((m) => m.p.id));
    assert.deepEqual(ids(await search({ query: stem })), want, `${n} values`);
    const { got, sizes } = await pages({ query: stem.toLowerCase() }, 50);
    assert.deepEqual(got.map((a) => a.package_id), want, `${n} values, pages`);
    for (const s of sizes.slice(0, -1)) assert.equal(s, 50, `${n} values: pages ${sizes}`);
  }
});

test('values with quotes, backslashes, commas and braces are found as text', async () => {
  const l = await t.location();
  const stem = uniq('QV');
  const odd = [`"${stem}`, `${stem}\\1`, `{${stem},NULL}`, `${stem} "a,b"`];
  const made = [];
  for (const barcode of odd) made.push(await t.pkg(l.id, { barcode }));
  // Prefix: the 2nd and 4th; partial: the 1st and 3rd; newest first in each.
  assert.deepEqual(ids(await search({ query: stem })), [made[3].id, made[1].id, made[2].id, made[0].id]);
  assert.deepEqual(ids(await search({ query: `${stem}\\1` })), [made[1].id]);
  assert.deepEqual(ids(await search({ query: `${stem},null}` })), [made[2].id]);
});
