// The invariant checker of the reliability suite: reads the three databases
// (order-svc, location-svc, assign-svc) through c.sql after a scenario and
// verifies the rules of SPEC §3 across services. It knows the schema of
// order-svc/migrations, location-svc/migrations and assign-svc/migrations.
//
//   const r = await checkInvariants(c, { tenants: [t] });          // once
//   const r = await settleInvariants(c, { timeoutMs: 45_000 });    // until clean
//   r.violations: [{ rule, detail }], r.stats: counts of what was read.
//
// Rules (each violation names one):
//   one-active-order     a package is held by at most one ACTIVE order, and
//                        order-svc (order_packages.holds) and location-svc
//                        (packages.order_id) agree on which order holds it
//   assignee-agrees      an ACTIVE order and every package it holds have the
//                        same assignee
//   ledger-no-pending    no PENDING ledger entry is left (after the repair
//                        window: settleInvariants waits for it)
//   ledger-agrees        the last DONE order entry (by fencing token) names the
//                        order's assignee and token; no DONE entry: unassigned
//   ledger-chain         each DONE order entry starts where the previous ended
//   history-created      every order has exactly one CREATED entry, its first
//   history-assignment   the ASSIGNED/UNASSIGNED entries of an order are
//                        exactly the assignee changes the ledger's DONE
//                        entries make, in token order, with the same tokens
//   history-append-only  rows seen in an earlier snapshot are all still there,
//                        unchanged (plus the triggers that refuse UPDATE/DELETE)
//   activity-registered  every package has exactly one PACKAGE_REGISTERED row
//   activity-assignee    the last ASSIGNED/UNASSIGNED activity of a package
//                        names its current assignee
//   intent-stale         no create/edit intent older than the repair window
//                        (order_intents) is left
const NIL = '00000000-0000-0000-0000-000000000000';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const norm = (u) => (u ? String(u).toLowerCase() : '');

// tenants: optional list of tenant ids to restrict the check to.
function tenantFilter(tenants, col, firstParam = 1) {
  if (!tenants || !tenants.length) return { sql: 'true', params: [] };
  return { sql: `${col} = ANY($${firstParam}::uuid[])`, params: [tenants] };
}

async function readAll(c, tenants) {
  const o = tenantFilter(tenants, 'tenant_id');
  const orders = await c.sql('order',
    `SELECT id::text, tenant_id::text, status, coalesce(assignee_user_id::text, '') AS assignee,
            fencing_token::bigint AS token, request_id, identifier
       FROM orders WHERE ${o.sql}`, o.params);
  const op = await c.sql('order',
    `SELECT order_id::text, package_id::text, tenant_id::text, holds FROM order_packages WHERE ${o.sql}`, o.params);
  const history = await c.sql('order',
    `SELECT seq::bigint AS seq, id::text, order_id::text, kind, before::text AS before, after::text AS after,
            detail, actor_user_id::text AS actor
       FROM order_history WHERE ${o.sql} ORDER BY seq`, o.params);
  const intents = await c.sql('order',
    `SELECT id::text, order_id::text, kind, extract(epoch FROM now() - created)::float8 AS age_s
       FROM order_intents WHERE ${o.sql}`, o.params);
  const packages = await c.sql('location',
    `SELECT id::text, tenant_id::text, coalesce(order_id::text, '') AS order_id,
            coalesce(assignee_user_id::text, '') AS assignee, assignee_token::bigint AS token, state
       FROM packages WHERE ${o.sql}`, o.params);
  const activity = await c.sql('location',
    `SELECT package_id::text, kind, detail, order_id::text
       FROM activity WHERE package_id IS NOT NULL AND kind IN (1, 3, 4) AND ${o.sql}
      ORDER BY time, id`, o.params);
  const ledger = await c.sql('assign',
    `SELECT id::text, tenant_id::text, target, coalesce(order_id::text, '') AS order_id,
            coalesce(package_id::text, '') AS package_id,
            coalesce(before_user_id::text, '') AS before, coalesce(after_user_id::text, '') AS after,
            fencing_token::bigint AS token, state, phase,
            extract(epoch FROM now() - update_time)::float8 AS age_s
       FROM assignments WHERE ${o.sql} ORDER BY fencing_token`, o.params);
  return { orders, op, history, intents, packages, activity, ledger };
}

// A snapshot of the append-only logs (order history, package activity), to
// compare with a later one: every row seen then must still be there, same.
export async function snapshotLogs(c, { tenants } = {}) {
  const o = tenantFilter(tenants, 'tenant_id');
  const history = await c.sql('order',
    `SELECT id::text, md5(row(seq, tenant_id, order_id, time, actor_user_id, kind, before, after, detail)::text) AS h
       FROM order_history WHERE ${o.sql}`, o.params);
  const activity = await c.sql('location',
    `SELECT id::text, md5(row(tenant_id, time, kind, actor_user_id, package_id, order_id, detail)::text) AS h
       FROM activity WHERE ${o.sql}`, o.params);
  return {
    history: new Map(history.map((r) => [r.id, r.h])),
    activity: new Map(activity.map((r) => [r.id, r.h])),
  };
}

async function checkAppendOnly(c, earlier, tenants, out) {
  const now = await snapshotLogs(c, { tenants });
  for (const [name, rows] of [['order_history', 'history'], ['activity', 'activity']]) {
    let missing = 0;
    let changed = 0;
    for (const [id, h] of earlier[rows]) {
      const cur = now[rows].get(id);
      if (cur === undefined) missing++;
      else if (cur !== h) changed++;
    }
    if (missing || changed) {
      out.push({ rule: 'history-append-only', detail: `${name}: ${missing} rows gone, ${changed} rows changed since the snapshot` });
    }
  }
  // The databases refuse UPDATE and DELETE on the logs (migrations).
  const trig = [
    ['order', 'order_history', 'order_history_append_only'],
    ['location', 'activity', 'activity_append_only'],
  ];
  for (const [db, table, name] of trig) {
    const rows = await c.sql(db,
      `SELECT tgenabled FROM pg_trigger WHERE tgname = $1 AND tgrelid = $2::regclass`, [name, table]);
    if (rows.length !== 1 || rows[0].tgenabled === 'D') {
      out.push({ rule: 'history-append-only', detail: `trigger ${name} on ${table} missing or disabled` });
    }
  }
}

const tokenOf = (detail) => {
  const m = /fencing token (\d+)/.exec(detail || '');
  return m ? m[1] : null;
};

// One pass. Returns { violations, stats }.
export async function checkInvariants(c, { tenants, snapshot, intentMaxAgeS = 40, pendingOk = false } = {}) {
  const v = [];
  const add = (rule, detail) => v.push({ rule, detail });
  const d = await readAll(c, tenants);
  const orders = new Map(d.orders.map((o) => [o.id, o]));
  const pkgs = new Map(d.packages.map((p) => [p.id, p]));
  const inFlight = new Set(d.intents.map((i) => i.order_id));

  // --- one active order per package; order-svc and location-svc agree
  const heldBy = new Map(); // package -> [order ids] (ACTIVE orders holding it)
  const orderPkgs = new Map(); // order -> [packages held]
  for (const r of d.op) {
    const o = orders.get(r.order_id);
    if (!o) continue;
    if (r.holds !== (o.status === 1)) {
      add('one-active-order', `order ${r.order_id} (status ${o.status}) has holds=${r.holds} for package ${r.package_id}`);
    }
    if (o.status === 1 && r.holds) {
      if (!heldBy.has(r.package_id)) heldBy.set(r.package_id, []);
      heldBy.get(r.package_id).push(r.order_id);
      if (!orderPkgs.has(r.order_id)) orderPkgs.set(r.order_id, []);
      orderPkgs.get(r.order_id).push(r.package_id);
    }
  }
  for (const [pid, os] of heldBy) {
    if (os.length > 1) add('one-active-order', `package ${pid} is held by ${os.length} ACTIVE orders: ${os.join(', ')}`);
    const p = pkgs.get(pid);
    if (!p) {
      add('one-active-order', `package ${pid} of order ${os[0]} does not exist in location-svc`);
    } else if (norm(p.order_id) !== norm(os[0])) {
      add('one-active-order', `package ${pid}: order-svc says ACTIVE order ${os[0]}, location-svc says order '${p.order_id}'`);
    }
  }
  for (const p of d.packages) {
    if (!p.order_id) continue;
    const o = orders.get(p.order_id);
    const held = (heldBy.get(p.id) || []).includes(p.order_id);
    if (p.state === 2 || p.state === 1) {
      // EXPECTED / IN_LOCKER with an order: that order must be ACTIVE and hold it.
      if (!held && !inFlight.has(p.order_id)) {
        add('one-active-order', `package ${p.id} is attached (location-svc) to order ${p.order_id} `
          + `which ${o ? `has status ${o.status} and does not hold it` : 'does not exist in order-svc'} (no intent in flight)`);
      }
    }
  }

  // --- order and package assignees agree
  for (const [oid, ps] of orderPkgs) {
    const o = orders.get(oid);
    for (const pid of ps) {
      const p = pkgs.get(pid);
      if (p && norm(p.assignee) !== norm(o.assignee)) {
        add('assignee-agrees', `order ${oid} assignee '${o.assignee}' (token ${o.token}) but its package ${pid} has '${p.assignee}' (token ${p.token})`);
      }
    }
  }

  // --- ledger
  const doneByOrder = new Map();
  let pending = 0;
  for (const e of d.ledger) {
    if (e.state === 1) {
      pending++;
      if (!pendingOk) {
        add('ledger-no-pending', `PENDING ledger entry ${e.id} (target ${e.target}, order ${e.order_id || '-'}, package ${e.package_id || '-'}, token ${e.token}, phase ${e.phase}, untouched ${e.age_s.toFixed(1)} s)`);
      }
    }
    if (e.state === 2 && e.target === 1) {
      if (!doneByOrder.has(e.order_id)) doneByOrder.set(e.order_id, []);
      doneByOrder.get(e.order_id).push(e);
    }
  }
  for (const o of d.orders) {
    const done = doneByOrder.get(o.id) || [];
    const last = done[done.length - 1];
    if (!last) {
      if (o.assignee) add('ledger-agrees', `order ${o.id} has assignee ${o.assignee} (token ${o.token}) but no DONE ledger entry`);
    } else {
      if (norm(last.after) !== norm(o.assignee)) {
        add('ledger-agrees', `order ${o.id}: last DONE ledger entry (token ${last.token}) says '${last.after}', order-svc says '${o.assignee}' (token ${o.token})`);
      }
      if (String(last.token) !== String(o.token)) {
        add('ledger-agrees', `order ${o.id}: last DONE ledger token ${last.token}, order-svc stored token ${o.token}`);
      }
    }
    let prev = '';
    for (const e of done) {
      if (norm(e.before) !== norm(prev)) {
        add('ledger-chain', `order ${o.id}: DONE entry token ${e.token} starts from '${e.before}', previous DONE ended at '${prev}'`);
      }
      prev = e.after;
    }
  }
  for (const [oid] of doneByOrder) {
    if (!orders.has(oid)) add('ledger-agrees', `DONE ledger entries for order ${oid}, which order-svc does not have`);
  }

  // --- order history
  const histByOrder = new Map();
  for (const h of d.history) {
    if (!histByOrder.has(h.order_id)) histByOrder.set(h.order_id, []);
    histByOrder.get(h.order_id).push(h);
  }
  for (const o of d.orders) {
    const hs = histByOrder.get(o.id) || [];
    const created = hs.filter((h) => h.kind === 1);
    if (created.length !== 1) add('history-created', `order ${o.id} has ${created.length} CREATED entries`);
    else if (hs[0].kind !== 1) add('history-created', `order ${o.id}: first history entry is kind ${hs[0].kind}, not CREATED`);
    // The assignee changes the ledger made, in token order.
    const expect = [];
    let cur = '';
    for (const e of doneByOrder.get(o.id) || []) {
      if (norm(e.after) !== norm(cur)) expect.push({ token: String(e.token), after: norm(e.after) });
      cur = e.after;
    }
    const got = hs.filter((h) => h.kind === 5 || h.kind === 6).map((h) => {
      let after = '';
      try {
        after = norm(JSON.parse(h.after).assignee_user_id);
      } catch { /* reported below as a mismatch */ }
      return { token: tokenOf(h.detail), after, kind: h.kind };
    });
    const fmt = (xs) => xs.map((x) => `${x.token}:${x.after ? x.after.slice(0, 8) : '-'}`).join(' ');
    const same = expect.length === got.length
      && expect.every((x, i) => x.token === got[i].token && x.after === got[i].after);
    if (!same) {
      add('history-assignment', `order ${o.id}: ledger assignee changes [${fmt(expect)}] vs history [${fmt(got)}]`);
    }
    for (const g of got) {
      if ((g.kind === 5) !== (g.after !== '')) add('history-assignment', `order ${o.id}: history kind ${g.kind} with assignee '${g.after}'`);
    }
    if (got.length && got[got.length - 1].after !== norm(o.assignee)) {
      add('history-assignment', `order ${o.id}: last history assignee '${got[got.length - 1].after}' but the order has '${o.assignee}'`);
    }
  }
  for (const oid of histByOrder.keys()) {
    if (!orders.has(oid)) add('history-created', `history rows for order ${oid}, which does not exist`);
  }

  // --- package activity
  const actByPkg = new Map();
  for (const a of d.activity) {
    if (!actByPkg.has(a.package_id)) actByPkg.set(a.package_id, []);
    actByPkg.get(a.package_id).push(a);
  }
  for (const p of d.packages) {
    const as = actByPkg.get(p.id) || [];
    const reg = as.filter((a) => a.kind === 1).length;
    if (reg !== 1) add('activity-registered', `package ${p.id} has ${reg} PACKAGE_REGISTERED activity rows`);
    const asg = as.filter((a) => a.kind === 3 || a.kind === 4);
    const last = asg[asg.length - 1];
    const says = !last ? '' : last.kind === 4 ? '' : norm((/assigned to (\S+)/.exec(last.detail) || [])[1]);
    if (says !== norm(p.assignee)) {
      add('activity-assignee', `package ${p.id}: last assignment activity says '${says}', package has '${p.assignee}'`);
    }
  }

  // --- work in flight left behind
  for (const i of d.intents) {
    if (i.age_s > intentMaxAgeS) add('intent-stale', `order intent ${i.id} (${i.kind}, order ${i.order_id}) is ${i.age_s.toFixed(0)} s old`);
  }

  if (snapshot) await checkAppendOnly(c, snapshot, tenants, v);

  return {
    violations: v,
    stats: {
      orders: d.orders.length,
      activeOrders: d.orders.filter((o) => o.status === 1).length,
      assignedOrders: d.orders.filter((o) => o.assignee && o.assignee !== NIL).length,
      packages: d.packages.length,
      ledger: d.ledger.length,
      ledgerPending: pending,
      ledgerDone: d.ledger.filter((e) => e.state === 2).length,
      ledgerRolledBack: d.ledger.filter((e) => e.state === 3).length,
      history: d.history.length,
      intents: d.intents.length,
    },
  };
}

// Checks until clean or timeoutMs (the repair loops may still be finishing
// work a killed process left: assign-svc's after KN_ASSIGN_REPAIR_AFTER_MS,
// order-svc's intents after 30 s). Resolves the last pass, with `waitedMs`.
export async function settleInvariants(c, { timeoutMs = 45_000, everyMs = 1000, ...opts } = {}) {
  const t0 = Date.now();
  for (;;) {
    const r = await checkInvariants(c, opts);
    r.waitedMs = Date.now() - t0;
    if (!r.violations.length || Date.now() - t0 >= timeoutMs) return r;
    await sleep(everyMs);
  }
}

// Human-readable, for assertion messages and t.diagnostic.
export function formatViolations(r, max = 40) {
  const byRule = {};
  for (const x of r.violations) byRule[x.rule] = (byRule[x.rule] || 0) + 1;
  const lines = r.violations.slice(0, max).map((x) => `  [${x.rule}] ${x.detail}`);
  if (r.violations.length > max) lines.push(`  ... and ${r.violations.length - max} more`);
  return `${r.violations.length} violations ${JSON.stringify(byRule)} (stats ${JSON.stringify(r.stats)}):\n${lines.join('\n')}`;
}
