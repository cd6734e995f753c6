// Gateway benchmark (issue 8 item 2; run by hand, not in CI):
// cached GET /v1/orders/{id} through the gateway against nginx serving the
// same JSON bytes as a static file, same wrk settings, same run.
//
//   KN_BUILD_DIR=/work/main/build-gwperf KN_SOURCE_DIR=/work/main \
//     node tests/bench/gateway_bench.mjs [--rounds 3] [--duration 10] \
//       [--threads 2] [--connections 64] [--out tests/bench/out/gateway.md]
//
// Use a Release build without sanitizers. Needs wrk and nginx (Debian:
// apt-get install -y wrk nginx-light). Per round:
//   1. wrk -t<threads> -c<connections> -d<duration>s --latency on the gateway and
//      on nginx (2 workers, private conf on a free port), alternating which
//      goes first: req/s, p99, the ratio;
//   2. wrk -c256 on the gateway, then its VmHWM (peak RSS) from /proc;
//   3. a fixed-rate run (lib/rate.mjs, wrk2-style, latency from the due time)
//      at half the round's gateway peak: p50/p99; the same rate on nginx as
//      the generator's own floor.
// Medians over the rounds. The gateway runs with its per-token rate limit
// off (KN_GATEWAY_RATE_LIMIT_RPS=0): one token makes every request.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startCluster, SOURCE_DIR, BUILD_DIR } from '../../scripts/lib/cluster.mjs';
import { seedOrders } from '../integration/order_helpers.mjs';
import { runFixedRate } from './lib/rate.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const ROUNDS = Number(arg('rounds', 3));
const DURATION = Number(arg('duration', 10));
const THREADS = Number(arg('threads', 2));
const CONNS = Number(arg('connections', 64));
const OUT = arg('out', path.join(SOURCE_DIR, 'tests/bench/out/gateway.md'));
const ORDER_WORKERS = arg('order-workers', '8'); // order-svc KN_WORKERS (the production default)
const GW_ENV = JSON.parse(arg('gateway-env', '{}')); // extra gateway env, e.g. '{"KN_GATEWAY_CQ_THREADS":"2"}'

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const loadavg = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// wrk's --latency output -> { rps, p50, p99 (ms), non2xx, errors }
function toMs(v) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v);
  if (!m) return NaN;
  const x = Number(m[1]);
  return { us: x / 1000, ms: x, s: x * 1000, m: x * 60000 }[m[2]];
}
function wrk(url, { threads = THREADS, conns = CONNS, duration = DURATION, token }) {
  const args = [`-t${threads}`, `-c${conns}`, `-d${duration}s`, '--latency', '-H', `Authorization: Bearer ${token}`, url];
  const out = execFileSync('wrk', args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = toMs(/\n\s+50%\s+(\S+)/.exec(out)?.[1] ?? '');
  const p99 = toMs(/\n\s+99%\s+(\S+)/.exec(out)?.[1] ?? '');
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sockErr = /Socket errors:.*/.exec(out)?.[0] ?? '';
  return { rps, p50, p99, non2xx, sockErr, duration, cmd: `wrk ${args.slice(0, 5).join(' ')} 'Authorization: Bearer <token>' ${url}` };
}

// CPU seconds (user + system) used so far by pid and its children's
// threads (nginx: the master and its workers).
const TICK = 100; // USER_HZ
function cpuOf(pid) {
  const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK; // utime, stime
}
function cpuTree(pid) {
  let total = cpuOf(pid);
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) total += cpuOf(Number(d));
    } catch { /* gone */ }
  }
  return total;
}
// Runs fn (a wrk run) and adds the CPU microseconds per request of each
// named pid to its result.
function withCpu(pids, fn) {
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuTree(p)]));
  const r = fn();
  const n = r.rps * r.duration;
  r.cpuUs = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, ((cpuTree(p) - before[k]) * 1e6) / n]));
  return r;
}

function vm(pid, key) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(s);
  return m ? Number(m[1]) / 1024 : NaN; // MiB
}

async function startNginx(body, urlPath) {
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
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}${urlPath}`);
      if (r.status === 200 && (await r.text()) === body) break;
    } catch { /* not up yet */ }
    await sleep(50);
  }
  return {
    url: `http://127.0.0.1:${port}${urlPath}`, port, pid: p.pid,
    async stop() {
      p.kill('SIGQUIT');
      await new Promise((r) => (p.exitCode !== null ? r() : p.once('exit', r)));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const c = await startCluster({
  services: ['order'],
  gateway: true,
  redis: true,
  env: { KN_LOCATION_SVC_TARGET: 'ipv4:127.0.0.1:1', KN_ASSIGN_SVC_TARGET: 'ipv4:127.0.0.1:1', KN_LOG_LEVEL: 'warn' },
  serviceEnv: { gateway: { KN_GATEWAY_RATE_LIMIT_RPS: '0', ...GW_ENV }, order: { KN_WORKERS: ORDER_WORKERS } },
});
let nginx = null;
try {
  const tenant = c.uuid();
  await seedOrders(c, tenant, 100, { locations: [c.uuid()], users: [c.uuid()] });
  const [{ id }] = await c.sql('order', 'SELECT id FROM orders WHERE tenant_id = $1 ORDER BY id LIMIT 1', [tenant]);
  const token = c.token({ tenant, sub: c.uuid(), role: 'hq' });
  const urlPath = `/v1/orders/${id}`;
  const gwUrl = c.gatewayUrl + urlPath;
  let body = null;
  for (let i = 0; i < 20; i++) { // warms the order cache
    const r = await fetch(gwUrl, { headers: { authorization: `Bearer ${token}` } });
    if (r.status !== 200) throw new Error(`GET ${urlPath}: ${r.status} ${await r.text()}`);
    body = await r.text();
  }
  nginx = await startNginx(body, urlPath);
  const gwPid = c.procs.gateway.pid;
  const { port: gwPort } = new URL(c.gatewayUrl);
  const headers = { Authorization: `Bearer ${token}` };
  const svcPids = { gateway: gwPid, order: c.procs['order/0'].pid, redis: c.procs.redis?.pid };
  if (!svcPids.redis) delete svcPids.redis;
  console.log(`order ${id}: ${body.length} bytes of JSON; gateway pid ${gwPid}; nginx on ${nginx.port}`);
  console.log(`nproc ${os.cpus().length}, load average ${loadavg()}`);

  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const la = loadavg();
    let gw, ng;
    const runGw = () => withCpu(svcPids, () => wrk(gwUrl, { token }));
    const runNg = () => withCpu({ nginx: nginx.pid }, () => wrk(nginx.url, { token }));
    if (r % 2 === 0) {
      gw = runGw();
      ng = runNg();
    } else {
      ng = runNg();
      gw = runGw();
    }
    const gw256 = wrk(gwUrl, { token, conns: 256 });
    const hwm = vm(gwPid, 'VmHWM');
    const rss = vm(gwPid, 'VmRSS');
    const rate = Math.round(gw.rps / 2);
    const fixed = await runFixedRate({ port: Number(gwPort), path: urlPath, headers, rate, durationS: DURATION, connections: CONNS });
    const fixedNg = await runFixedRate({ port: nginx.port, path: urlPath, headers, rate, durationS: DURATION, connections: CONNS });
    const row = { la, gw, ng, ratio: gw.rps / ng.rps, gw256, hwm, rss, fixed, fixedNg };
    const cpu = (x) => Object.entries(x.cpuUs).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ');
    console.log(`  CPU us per request: ${cpu(gw)}; ${cpu(ng)}`);
    rounds.push(row);
    console.log(`round ${r + 1} (load ${la}): gateway ${gw.rps.toFixed(0)} req/s p99 ${gw.p99} ms` +
      ` (non-2xx ${gw.non2xx}${gw.sockErr ? `, ${gw.sockErr}` : ''}); nginx ${ng.rps.toFixed(0)} req/s p99 ${ng.p99} ms;` +
      ` ratio ${row.ratio.toFixed(3)}; c256 ${gw256.rps.toFixed(0)} req/s p99 ${gw256.p99} ms (non-2xx ${gw256.non2xx}${gw256.sockErr ? `, ${gw256.sockErr}` : ''});` +
      ` VmHWM ${hwm.toFixed(1)} MiB; fixed ${rate}/s: achieved ${fixed.achieved}, p50 ${fixed.p50.toFixed(2)} p99 ${fixed.p99.toFixed(2)} ms` +
      ` (errors ${fixed.errors}, non-2xx ${fixed.non2xx}); nginx at that rate p50 ${fixedNg.p50.toFixed(2)} p99 ${fixedNg.p99.toFixed(2)} ms`);
  }
  const m = (f) => median(rounds.map(f));
  const med = {
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
  const f1 = (x) => (Number.isFinite(x) ? x.toFixed(x < 10 ? 2 : 0) : '-');
  const when = new Date().toISOString();
  const cmd = `KN_BUILD_DIR=${BUILD_DIR} KN_SOURCE_DIR=${SOURCE_DIR} node tests/bench/gateway_bench.mjs ${process.argv.slice(2).join(' ')}`.trim();
  const md = `# Gateway benchmark (${when})

Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB,
load average at the start of each round: ${rounds.map((x) => x.la).join(' | ')} (the machine was shared).
Command: \`${cmd}\`
wrk: \`${rounds[0].gw.cmd}\` (same settings for nginx); ${ROUNDS} rounds, medians.
Response: ${body.length} bytes of JSON (GET ${'/v1/orders/{id}'}, cached in order-svc's Redis cache).
Gateway: ${JSON.stringify({ KN_GATEWAY_RATE_LIMIT_RPS: '0', ...GW_ENV })}; one order-svc replica (KN_WORKERS=${ORDER_WORKERS}), Redis, PostgreSQL on the same machine.
${spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim().replace(/^nginx version: /, '')}: 2 workers, the same bytes as a static file.

| measure | gateway | nginx | goal |
|---|---|---|---|
| peak req/s (wrk -c${CONNS}) | ${f1(med.gw)} | ${f1(med.ng)} | |
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

The fixed-rate load comes from tests/bench/lib/rate.mjs (wrk2 is not in Debian): ${CONNS} keep-alive
connections, requests due at constant intervals, latency counted from the due time (no
coordinated omission); the nginx column at the same rate shows the generator's own floor.
`;
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, md);
  console.log(md);
  console.log(`written to ${OUT}`);
} finally {
  if (nginx) await nginx.stop();
  await c.stop();
}
