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
