// Gateway benchmark (issue 8 item 2; run by hand, not in CI):
// cached GET /v1/orders/{id} through the gateway against nginx serving the
// same JSON bytes as a static file, same wrk settings, same run.
//
//   KN_BUILD_DIR=/work/main/build-gwperf KN_SOURCE_DIR=/work/main \
//     node tests/bench/gateway_bench.mjs [--rounds 3] [--duration 10] [--warmup 3] \
//       [--threads 2] [--connections 64] [--out tests/bench/out/gateway.md]
//
// Use a Release build without sanitizers. Needs wrk and nginx (Debian:
// apt-get install -y wrk nginx-light). Per round:
//   1. wrk -t<threads> -c<connections> -d<duration>s --latency on the gateway and
//      on nginx (2 workers, private conf on a free port), alternating which
//      goes first: req/s, p99, the ratio;
//   2. wrk -c256 on the gateway, then its VmHWM (peak RSS) from /proc;
//   3. a fixed-rate run (lib/rate.mjs, wrk2-style, latency from the due time,
//      the first --warmup seconds (3) at the rate not counted)
//      at half the round's gateway peak: p50/p99; the same rate on nginx as
//      the generator's own floor.
// Medians over the rounds. The gateway runs with its per-token rate limit
// off (KN_GATEWAY_RATE_LIMIT_RPS=0): one token makes every request.
// The measuring lives in lib/gateway.mjs (tests/bench/run uses it too).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCluster, SOURCE_DIR, BUILD_DIR } from '../../scripts/lib/cluster.mjs';
import { seedOrders } from '../integration/order_helpers.mjs';
import { arg, loadavg } from './lib/common.mjs';
import { gatewayMarkdown, gatewayMedians, gatewayRound, gatewaySetup, roundLines } from './lib/gateway.mjs';

const ROUNDS = Number(arg('rounds', 3));
const DURATION = Number(arg('duration', 10));
const WARMUP = Number(arg('warmup', 3)); // seconds of the fixed-rate run not counted
const THREADS = Number(arg('threads', 2));
const CONNS = Number(arg('connections', 64));
const OUT = arg('out', path.join(SOURCE_DIR, 'tests/bench/out/gateway.md'));
const ORDER_WORKERS = arg('order-workers', '8'); // order-svc KN_WORKERS (the production default)
const GW_ENV = JSON.parse(arg('gateway-env', '{}')); // extra gateway env, e.g. '{"KN_GATEWAY_CQ_THREADS":"2"}'

const c = await startCluster({
  services: ['order'],
  gateway: true,
  redis: true,
  env: { KN_LOCATION_SVC_TARGET: 'ipv4:127.0.0.1:1', KN_ASSIGN_SVC_TARGET: 'ipv4:127.0.0.1:1', KN_LOG_LEVEL: 'warn' },
  serviceEnv: { gateway: { KN_GATEWAY_RATE_LIMIT_RPS: '0', ...GW_ENV }, order: { KN_WORKERS: ORDER_WORKERS } },
});
let pair = null;
try {
  const tenant = c.uuid();
  await seedOrders(c, tenant, 100, { locations: [c.uuid()], users: [c.uuid()] });
  const [{ id }] = await c.sql('order', 'SELECT id FROM orders WHERE tenant_id = $1 ORDER BY id LIMIT 1', [tenant]);
  const token = c.token({ tenant, sub: c.uuid(), role: 'hq' });
  pair = await gatewaySetup(c, { orderId: id, token });
  const { body, nginx, gwPid } = pair;
  console.log(`order ${id}: ${body.length} bytes of JSON; gateway pid ${gwPid}; nginx on ${nginx.port}`);
  console.log(`nproc ${os.cpus().length}, load average ${loadavg()}`);

  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const row = await gatewayRound(pair, { threads: THREADS, conns: CONNS, duration: DURATION, warmup: WARMUP, round: r });
    const [cpuLine, line] = roundLines(row, r);
    console.log(cpuLine);
    rounds.push(row);
    console.log(line);
  }
  const med = gatewayMedians(rounds);
  const cmd = `KN_BUILD_DIR=${BUILD_DIR} KN_SOURCE_DIR=${SOURCE_DIR} node tests/bench/gateway_bench.mjs ${process.argv.slice(2).join(' ')}`.trim();
  const md = gatewayMarkdown({ rounds, med, body, cmd, conns: CONNS, warmup: WARMUP, gwEnv: { KN_GATEWAY_RATE_LIMIT_RPS: '0', ...GW_ENV }, orderWorkers: ORDER_WORKERS });
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, md);
  console.log(md);
  console.log(`written to ${OUT}`);
} finally {
  if (pair) await pair.stop();
  await c.stop();
}
