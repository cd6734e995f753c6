// tests/bench/run's outputs: report.json (everything measured), report.md
// (the tables), chart.png (gnuplot: the ratios against their goals, and the
// latency figures).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const fr = (x) => (Number.isFinite(x) ? x.toFixed(3) : '-');
const int = (x) => (Number.isFinite(x) ? Math.round(x).toString() : '-');

// The goal rows: { what, system, reference, value, goal, met }.
export function goalRows(R) {
  const rows = [];
  const met = (ok, valid = true) => (!valid ? 'invalid' : ok ? 'yes' : 'no');
  for (const p of R.grpc?.pairs ?? []) {
    const goal = p.name === 'health' ? 0.5 : 0.35;
    rows.push({
      what: p.name === 'health' ? 'gRPC Health/Check vs nghttpd (req/s)' : 'gRPC cached GetOrder vs nghttpd (req/s)',
      system: int(p.system.rps), reference: int(p.reference.rps), value: fr(p.ratio), goal: `≥ ${goal}`, met: met(p.ratio >= goal, p.valid), ratio: p.ratio, goalNum: goal,
      note: `${p.bytes}-byte answer; p50/p99 ${f(p.system.p50, 2)}/${f(p.system.p99, 2)} ms vs ${f(p.reference.p50, 2)}/${f(p.reference.p99, 2)} ms`,
    });
  }
  const g = R.gateway?.med;
  if (g) {
    rows.push({ what: 'gateway cached GET /v1/orders/{id} vs nginx (req/s)', system: int(g.gw), reference: int(g.ng), value: fr(g.ratio), goal: '≥ 0.25', met: met(g.ratio >= 0.25, R.gateway.valid), ratio: g.ratio, goalNum: 0.25, note: `${R.gateway.bytes}-byte JSON` });
    rows.push({ what: `gateway p99 at half the peak (fixed ${int(g.rate)} req/s, achieved ${int(g.achieved)})`, system: `${f(g.fp99, 2)} ms`, reference: `${f(g.np99, 2)} ms`, value: `${f(g.fp99, 2)} ms`, goal: '≤ 10 ms', met: met(g.fp99 <= 10 && g.achieved >= 0.95 * g.rate, R.gateway.valid), note: `reference: nginx at the same rate (the generator's floor); ${R.options?.warmup ?? 3} s at the rate first, not counted` });
    rows.push({ what: 'gateway peak RSS after wrk -c256', system: `${f(g.hwm)} MiB`, reference: '', value: `${f(g.hwm)} MiB`, goal: '< 64 MiB', met: met(g.hwm < 64), note: '' });
  }
  const w = R.writes;
  if (w?.system) {
    rows.push({ what: 'POST /v1/orders (stock) vs pgbench of CreateOrder\'s SQL (per s)', system: int(w.system.rps), reference: int(w.reference.tps), value: fr(w.ratio), goal: '≥ 0.5', met: met(w.ratio >= 0.5, w.valid), ratio: w.ratio, goalNum: 0.5, note: `${w.clients} connections each; gateway p50/p99 ${f(w.system.p50, 2)}/${f(w.system.p99, 2)} ms, pgbench mean ${f(w.reference.avg, 2)} ms` });
  }
  return rows;
}

// Latency rows: { group, name, p50, p99, extra }.
export function latencyRows(R) {
  const rows = [];
  for (const r of R.orderList?.rows ?? []) rows.push({ group: 'ListOrders', name: r.name, p50: Number(r.p50), p99: Number(r.p99), extra: `${r.rows} rows, ${r.rps} calls/s` });
  const s = R.search;
  if (s?.barcode) {
    for (const [k, label] of [['barcode', 'exact barcode'], ['tracking', 'exact tracking number'], ['partial', 'free text (6 chars)']]) {
      rows.push({ group: 'SearchActivity', name: label, p50: s[k].p50, p99: s[k].p99, extra: `${s[k].rps} req/s, ${s[k].empty} queries found nothing` });
    }
  }
  const a = R.assign;
  if (a?.latency) {
    rows.push({ group: 'AssignOrder', name: 'uncontended, 5 packages, 1 caller', p50: a.latency.p50, p99: a.latency.p99, extra: `n=${a.latency.n}` });
    rows.push({ group: 'SelfAssignOrder', name: `contested: ${a.race.n} calls (50 technicians × 20 orders)`, p50: a.race.p50, p99: a.race.p99, extra: `settled in ${a.raceMs} ms, ${a.race.won} won` });
  }
  return rows;
}

export function markdown(R) {
  const goals = goalRows(R);
  const lat = latencyRows(R);
  const lines = [];
  lines.push(`# Konnect benchmark (${R.when})`, '');
  lines.push(`Command: \`${R.command}\``);
  lines.push('', `PostgreSQL with its production durability (fsync and synchronous_commit on) and shared_buffers = ${R.pgSharedBuffers ?? '128MB (initdb default)'}, as every service and the pgbench reference use it.`, '');
  lines.push(`Machine: ${R.machine.cpus} CPUs (${R.machine.model}), ${R.machine.memGiB} GiB; load average at the start ${R.machine.loadStart}, at the end ${R.machine.loadEnd} (the run's own processes included; each part's start is in the last table)${R.machine.loaded ? ' — **loaded** at the start: other jobs shared the cores, the figures bound the cost from above' : ''}.`);
  lines.push(`Build: ${R.buildDir}. Data: ${R.data.big} + ${R.data.tenants} × ${R.data.small} orders, ${R.data.activity} activity rows (seeded in ${f(R.data.seedS, 0)} s).${R.quick ? ' **--quick run: 2 % of the data, short runs; not a measurement of the goals.**' : ''}`);
  lines.push('');
  lines.push('| pair | Konnect | reference | ratio / value | goal | met |', '|---|---|---|---|---|---|');
  for (const g of goals) lines.push(`| ${g.what} | ${g.system} | ${g.reference} | **${g.value}** | ${g.goal} | ${g.met} |`);
  lines.push('');
  for (const g of goals) if (g.note) lines.push(`- ${g.what}: ${g.note}`);
  const probs = [...(R.grpc?.pairs ?? []).flatMap((p) => p.problems.map((x) => `gRPC ${p.name}: ${x}`)),
    ...(R.gateway?.problems ?? []).map((x) => `gateway: ${x}`), ...(R.writes?.problems ?? []).map((x) => `writes: ${x}`),
    ...(R.orderList?.problems ?? []).map((x) => `ListOrders: ${x}`),
    ...['barcode', 'tracking', 'partial'].flatMap((k) => (R.search?.[k]?.problems ?? []).map((x) => `SearchActivity: ${x}`))];
  if (probs.length) lines.push('', 'Problems (a pair with a problem is marked invalid):', ...probs.map((p) => `- ${p}`));
  lines.push('', '| latency | case | p50 ms | p99 ms | |', '|---|---|---|---|---|');
  for (const r of lat) lines.push(`| ${r.group} | ${r.name} | ${f(r.p50, 2)} | ${f(r.p99, 2)} | ${r.extra} |`);
  lines.push('', 'Client-side latencies: ListOrders and SearchActivity by h2load (8 connections, one call in flight on each), AssignOrder and SelfAssignOrder by the Node client; every load generator shares the 2 cores.', '');
  lines.push('| part | seconds | waited for a quiet machine (s, CPU busy in the last second) | load average at its start |', '|---|---|---|---|');
  for (const p of R.parts) lines.push(`| ${p.name} | ${f(p.s, 0)} | ${p.settle ? `${p.settle.s}, ${p.settle.busy} %` : '–'} | ${p.load}${p.skipped ? ` (skipped: ${p.skipped})` : ''}${p.error ? ` (FAILED: ${p.error.split('\n')[0]})` : ''} |`);
  if (R.error) lines.push('', `**The run stopped early:** ${R.error.split('\n')[0]}`);
  lines.push('', 'Commands:', '');
  for (const c of R.commands) lines.push(`- \`${c}\``);
  return lines.join('\n') + '\n';
}

/** Writes the chart with gnuplot; returns its path, or null (and why). */
export function chart(R, dir) {
  const goals = goalRows(R).filter((g) => Number.isFinite(g.ratio));
  const lat = latencyRows(R);
  const ratios = path.join(dir, 'ratios.dat');
  fs.writeFileSync(ratios, goals.map((g, i) => `${i} "${g.what.replace(/ \(.*$/, '').replace(/"/g, '')}" ${g.ratio} ${g.goalNum}`).join('\n') + '\n');
  const lats = path.join(dir, 'latency.dat');
  fs.writeFileSync(lats, lat.map((r, i) => `${i} "${`${r.group}: ${r.name}`.replace(/"/g, '').slice(0, 48)}" ${Number.isFinite(r.p50) ? r.p50 : 0} ${Number.isFinite(r.p99) ? r.p99 : 0}`).join('\n') + '\n');
  const png = path.join(dir, 'chart.png');
  if (!goals.length && !lat.length) return 'no chart: nothing was measured';
  const ratioPlot = `
set style fill solid 0.8 border -1
set boxwidth 0.35
set title "Konnect / reference (blue) and the goal (grey)"
set yrange [0:*]
set xtics rotate by -30 left font ",8"
set grid ytics
set key top right
plot "${ratios}" using ($1-0.18):3:xtic(2) with boxes lc rgb "#4477aa" title "ratio", \\
     "" using ($1+0.18):4 with boxes lc rgb "#cccccc" title "goal"
unset xtics
set xtics
unset grid
`;
  const latPlot = `
set title "Latency (ms, client side): p50 and p99"
set logscale x
set xrange [0.1:*]
set ytics font ",7"
set yrange [-1:${lat.length}]
set grid xtics
set key bottom right
plot "${lats}" using 3:1:ytic(2) with points pt 7 lc rgb "#4477aa" title "p50", \\
     "" using 4:1 with points pt 5 lc rgb "#cc3311" title "p99"
`;
  const both = goals.length && lat.length;
  const gp = `
set terminal pngcairo size ${both ? 1600 : 900},${Math.max(700, 160 + lat.length * 22)} font "DejaVu Sans,10"
set output "${png}"
set multiplot layout 1,${both ? 2 : 1} title "Konnect benchmark ${R.when}  (load average ${R.machine.loadStart})"
${goals.length ? ratioPlot : ''}
${lat.length ? latPlot : ''}
unset multiplot
`;
  const gpFile = path.join(dir, 'chart.gp');
  fs.writeFileSync(gpFile, gp);
  try {
    execFileSync('gnuplot', [gpFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    return png;
  } catch (e) {
    return `gnuplot failed: ${e.stderr?.toString() ?? e.message}`;
  }
}
