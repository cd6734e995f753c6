// The gateway pair (issue 8, item 2), shared by tests/bench/gateway_bench.mjs
// and tests/bench/run: wrk on cached GET /v1/orders/{id} through the
// gateway against wrk on nginx serving the same JSON bytes as a static
// file; wrk -c256 for the gateway's peak RSS; a fixed-rate run (lib/rate.mjs)
// at half the gateway's peak for its p99, with nginx at the same rate as the
// generator's own floor.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuTree, freePort, loadavg, median, sleep, toMs, vm } from './common.mjs';
import { runFixedRate } from './rate.mjs';

// wrk's --latency output -> { rps, p50, p99 (ms), non2xx, sockErr, duration, cmd }.
// extra: more wrk arguments (e.g. ['-s', 'post.lua']), placed before the URL.
export function wrk(url, { threads = 2, conns = 64, duration = 10, token, extra = [] }) {
  const args = [`-t${threads}`, `-c${conns}`, `-d${duration}s`, '--latency', '-H', `Authorization: Bearer ${token}`, ...extra, url];
  const out = execFileSync('wrk', args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = toMs(/\n\s+50%\s+(\S+)/.exec(out)?.[1] ?? '');
  const p99 = toMs(/\n\s+99%\s+(\S+)/.exec(out)?.[1] ?? '');
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const sockErr = /Socket errors:.*/.exec(out)?.[0] ?? '';
  return {
    rps, p50, p99, non2xx, requests, sockErr, duration,
    cmd: `wrk ${args.slice(0, 5).join(' ')} 'Authorization: Bearer <token>' ${[...extra, url].join(' ')}`,
  };
}

// Runs fn (a wrk run) and adds the CPU microseconds per request of each
// named pid (and its children) to its result.
export function withCpu(pids, fn) {
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuTree(p)]));
  const r = fn();
  const n = r.rps * r.duration;
  r.cpuUs = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, ((cpuTree(p) - before[k]) * 1e6) / n]));
  return r;
}

// nginx with a private conf on a free port, 2 workers, serving `body` as the
// static file urlPath. Resolves once it answers with exactly those bytes.
export async function startNginx(body, urlPath) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-nginx-'));
  const www = path.join(dir, 'www');
  fs.mkdirSync(path.join(www, path.dirname(urlPath)), { recursive: true });
  fs.writeFileSync(path.join(www, urlPath), body);
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, `
user root;
worker_processes 2;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/t1; proxy_temp_path ${dir}/t2; fastcgi_temp_path ${dir}/t3;
  uwsgi_temp_path ${dir}/t4; scgi_temp_path ${dir}/t5;
  default_type application/json;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  server {
    listen 127.0.0.1:${port} backlog=1024;
    root ${www};
  }
}
`);
  const p = spawn('nginx', ['-c', conf, '-p', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  let up = false;
  for (let i = 0; i < 100 && !up; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}${urlPath}`);
      up = r.status === 200 && (await r.text()) === body;
    } catch { /* not up yet */ }
    if (!up) await sleep(50);
  }
  const stop = async () => {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGQUIT');
      await new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', r)));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  if (!up) {
    await stop();
    throw new Error(`nginx did not serve ${urlPath} on ${port}`);
  }
  return { url: `http://127.0.0.1:${port}${urlPath}`, port, pid: p.pid, stop };
}

export const nginxVersion = () => spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim().replace(/^nginx version: /, '');

/**
 * One round of the gateway pair. ctx: { gwUrl, gwPort, gwPid, svcPids,
 * nginx, urlPath, token }; opts: { threads, conns, duration, warmup (seconds
 * of the fixed-rate run not counted), round }.
 * Which side goes first alternates with the round number. Resolves
 * { la, gw, ng, ratio, gw256, hwm, rss, fixed, fixedNg }.
 */
export async function gatewayRound(ctx, { threads = 2, conns = 64, duration = 10, warmup = 3, round = 0 }) {
  const { gwUrl, gwPort, gwPid, svcPids, nginx, urlPath, token } = ctx;
  const headers = { Authorization: `Bearer ${token}` };
  const la = loadavg();
  let gw, ng;
  const runGw = () => withCpu(svcPids, () => wrk(gwUrl, { token, threads, conns, duration }));
  const runNg = () => withCpu({ nginx: nginx.pid }, () => wrk(nginx.url, { token, threads, conns, duration }));
  if (round % 2 === 0) {
    gw = runGw();
    ng = runNg();
  } else {
    ng = runNg();
    gw = runGw();
  }
  const gw256 = wrk(gwUrl, { token, threads, conns: 256, duration });
  const hwm = vm(gwPid, 'VmHWM');
  const rss = vm(gwPid, 'VmRSS');
  const rate = Math.round(gw.rps / 2);
  const fixed = await runFixedRate({ port: Number(gwPort), path: urlPath, headers, rate, durationS: duration, warmupS: warmup, connections: conns });
  const fixedNg = await runFixedRate({ port: nginx.port, path: urlPath, headers, rate, durationS: duration, warmupS: warmup, connections: conns });
  return { la, gw, ng, ratio: gw.rps / ng.rps, gw256, hwm, rss, fixed, fixedNg };
}

// The per-round console lines of gateway_bench.mjs.
export function roundLines(row, r) {
  const { la, gw, ng, gw256, hwm, fixed, fixedNg } = row;
  const cpu = (x) => Object.entries(x.cpuUs).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ');
  return [`  CPU us per request: ${cpu(gw)}; ${cpu(ng)}`,
    `round ${r + 1} (load ${la}): gateway ${gw.rps.toFixed(0)} req/s p99 ${gw.p99} ms` +
    ` (non-2xx ${gw.non2xx}${gw.sockErr ? `, ${gw.sockErr}` : ''}); nginx ${ng.rps.toFixed(0)} req/s p99 ${ng.p99} ms;` +
    ` ratio ${row.ratio.toFixed(3)}; c256 ${gw256.rps.toFixed(0)} req/s p99 ${gw256.p99} ms (non-2xx ${gw256.non2xx}${gw256.sockErr ? `, ${gw256.sockErr}` : ''});` +
    ` VmHWM ${hwm.toFixed(1)} MiB; fixed ${fixed.target}/s: achieved ${fixed.achieved}, p50 ${fixed.p50.toFixed(2)} p99 ${fixed.p99.toFixed(2)} ms` +
    ` (errors ${fixed.errors}, non-2xx ${fixed.non2xx}); nginx at that rate p50 ${fixedNg.p50.toFixed(2)} p99 ${fixedNg.p99.toFixed(2)} ms`];
}

// Medians over the rounds (peak RSS: the maximum).
export function gatewayMedians(rounds) {
  const m = (f) => median(rounds.map(f));
  return {
    gw: m((x) => x.gw.rps), ng: m((x) => x.ng.rps), ratio: m((x) => x.ratio),
    gwP99: m((x) => x.gw.p99), ngP99: m((x) => x.ng.p99), gwP50: m((x) => x.gw.p50),
    gw256: m((x) => x.gw256.rps), gw256P99: m((x) => x.gw256.p99),
    hwm: Math.max(...rounds.map((x) => x.hwm)),
    rate: m((x) => x.fixed.target), achieved: m((x) => x.fixed.achieved),
    fp50: m((x) => x.fixed.p50), fp99: m((x) => x.fixed.p99),
    np50: m((x) => x.fixedNg.p50), np99: m((x) => x.fixedNg.p99),
    cpuGw: m((x) => x.gw.cpuUs.gateway), cpuOrder: m((x) => x.gw.cpuUs.order),
    cpuRedis: m((x) => x.gw.cpuUs.redis), cpuNg: m((x) => x.ng.cpuUs.nginx),
  };
}

// The Markdown report of gateway_bench.mjs.
export function gatewayMarkdown({ rounds, med, body, cmd, conns, warmup = 3, gwEnv, orderWorkers }) {
  const f1 = (x) => (Number.isFinite(x) ? x.toFixed(x < 10 ? 2 : 0) : '-');
  const when = new Date().toISOString();
  return `# Gateway benchmark (${when})

Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB,
load average at the start of each round: ${rounds.map((x) => x.la).join(' | ')} (the machine was shared).
Command: \`${cmd}\`
wrk: \`${rounds[0].gw.cmd}\` (same settings for nginx); ${rounds.length} rounds, medians.
Response: ${body.length} bytes of JSON (GET ${'/v1/orders/{id}'}, cached in order-svc's Redis cache).
Gateway: ${JSON.stringify(gwEnv)}; one order-svc replica (KN_WORKERS=${orderWorkers}), Redis, PostgreSQL on the same machine.
${nginxVersion()}: 2 workers, the same bytes as a static file.

| measure | gateway | nginx | goal |
|---|---|---|---|
| peak req/s (wrk -c${conns}) | ${f1(med.gw)} | ${f1(med.ng)} | |
| ratio gateway / nginx | **${med.ratio.toFixed(3)}** | | ≥ 0.25 |
| p50 / p99 at peak (ms) | ${f1(med.gwP50)} / ${f1(med.gwP99)} | - / ${f1(med.ngP99)} | |
| fixed rate (half the gateway peak): target / achieved req/s | ${f1(med.rate)} / ${f1(med.achieved)} | same | |
| p50 / p99 at the fixed rate (ms) | ${f1(med.fp50)} / **${f1(med.fp99)}** | ${f1(med.np50)} / ${f1(med.np99)} | p99 ≤ 10 |
| wrk -c256: req/s, p99 (ms) | ${f1(med.gw256)}, ${f1(med.gw256P99)} | | |
| gateway peak RSS (VmHWM, after the c256 runs) | **${med.hwm.toFixed(1)} MiB** | | < 64 MiB |
| CPU µs per request at peak: gateway / order-svc / redis | ${f1(med.cpuGw)} / ${f1(med.cpuOrder)} / ${f1(med.cpuRedis)} | ${f1(med.cpuNg)} (nginx) | |

Per round:

| round | load avg | gateway req/s | nginx req/s | ratio | gw p99 | c256 req/s | VmHWM MiB | fixed rate | achieved | p50 | p99 |
|---|---|---|---|---|---|---|---|---|---|---|---|
${rounds.map((x, i) => `| ${i + 1} | ${x.la} | ${x.gw.rps.toFixed(0)} | ${x.ng.rps.toFixed(0)} | ${x.ratio.toFixed(3)} | ${x.gw.p99} | ${x.gw256.rps.toFixed(0)} | ${x.hwm.toFixed(1)} | ${x.fixed.target} | ${x.fixed.achieved} | ${x.fixed.p50.toFixed(2)} | ${x.fixed.p99.toFixed(2)} |`).join('\n')}

The fixed-rate load comes from tests/bench/lib/rate.mjs (wrk2 is not in Debian): ${conns} keep-alive
connections, requests due at constant intervals, latency counted from the due time (no
coordinated omission), the first ${warmup} s at the rate on the same connections not counted;
the nginx column at the same rate shows the generator's own floor.
`;
}

/**
 * Sets up the pair on a running cluster (gateway, order-svc, Redis): warms
 * the order cache through the gateway, takes the exact response bytes,
 * starts nginx serving them. Resolves ctx for gatewayRound, plus body and
 * stop() (stops nginx).
 */
export async function gatewaySetup(c, { orderId, token }) {
  const urlPath = `/v1/orders/${orderId}`;
  const gwUrl = c.gatewayUrl + urlPath;
  let body = null;
  for (let i = 0; i < 20; i++) { // warms the order cache
    const r = await fetch(gwUrl, { headers: { authorization: `Bearer ${token}` } });
    if (r.status !== 200) throw new Error(`GET ${urlPath}: ${r.status} ${await r.text()}`);
    body = await r.text();
  }
  const nginx = await startNginx(body, urlPath);
  const gwPid = c.procs.gateway.pid;
  const { port: gwPort } = new URL(c.gatewayUrl);
  const svcPids = { gateway: gwPid, order: c.procs['order/0'].pid, redis: c.procs.redis?.pid };
  if (!svcPids.redis) delete svcPids.redis;
  return { gwUrl, gwPort, gwPid, svcPids, nginx, urlPath, token, body, stop: () => nginx.stop() };
}
