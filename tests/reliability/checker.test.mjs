// The invariant checker itself (lib/checker.mjs): clean on a consistent
// cluster, and each kind of damage, made by hand in one database, is
// reported under its rule. A checker that cannot fail proves nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster } from '../../scripts/lib/cluster.mjs';
import { makeWorld, callRetry } from './lib/load.mjs';
import { checkInvariants, snapshotLogs, formatViolations } from './lib/checker.mjs';

let c;

before(async () => {
  c = await startCluster({ services: ['location', 'order', 'assign'], redis: false });
});

after(async () => {
  await c?.stop();
});

test('the checker is clean on a consistent cluster and names each damage', { timeout: 120_000 }, async () => {
  const world = await makeWorld(c, { techs: 2, packages: 8 });
  const orders = [];
  for (let k = 0; k < 4; k++) {
    const o = await callRetry(c, c.client('order'), 'CreateOrder', {
      request_id: c.uuid(), type: 'ORDER_TYPE_JOB', location_id: world.location, package_ids: world.pool.splice(0, 2),
    }, world.hq);
    await callRetry(c, c.client('assign'), 'AssignOrder', { order_id: o.id, user_id: world.users[k % 2] }, world.hq);
    orders.push(o);
  }
  const tenants = [world.tenant];
  const snapshot = await snapshotLogs(c, { tenants });
  const clean = await checkInvariants(c, { tenants, snapshot });
  assert.equal(clean.violations.length, 0, formatViolations(clean));
  assert.equal(clean.stats.orders, 4);
  assert.equal(clean.stats.ledgerDone, 4);

  // 1. A package that does not follow its order's assignee.
  await c.sql('location', 'UPDATE packages SET assignee_user_id = $1 WHERE id = $2',
    [world.users[1], orders[0].package_ids[0]]);
  // 2. A ledger entry left PENDING.
  await c.sql('assign', 'UPDATE assignments SET state = 1 WHERE order_id = $1', [orders[1].id]);
  // 3. History rewritten behind the trigger's back.
  await c.sql('order', 'ALTER TABLE order_history DISABLE TRIGGER order_history_append_only');
  await c.sql('order', 'DELETE FROM order_history WHERE order_id = $1 AND kind = 1', [orders[2].id]);
  // 4. location-svc forgot which order holds a package.
  await c.sql('location', 'UPDATE packages SET order_id = NULL WHERE id = $1', [orders[3].package_ids[0]]);

  const r = await checkInvariants(c, { tenants, snapshot });
  const rules = new Set(r.violations.map((v) => v.rule));
  for (const rule of ['assignee-agrees', 'activity-assignee', 'ledger-no-pending', 'ledger-agrees',
    'history-created', 'history-append-only', 'one-active-order']) {
    assert.ok(rules.has(rule), `rule ${rule} reported: ${formatViolations(r)}`);
  }
  const about = (rule, id) => r.violations.some((v) => v.rule === rule && v.detail.includes(id));
  assert.ok(about('assignee-agrees', orders[0].package_ids[0]));
  assert.ok(about('ledger-no-pending', orders[1].id));
  assert.ok(about('history-created', orders[2].id));
  assert.ok(about('one-active-order', orders[3].package_ids[0]));
  // Order 4's history still matches its ledger: no false alarm there.
  assert.ok(!about('history-assignment', orders[3].id), formatViolations(r));
});
