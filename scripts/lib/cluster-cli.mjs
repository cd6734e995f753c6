// scripts/cluster's engine: up | down | status | logs [svc] for the
// persistent local cluster in $KN_DATA_DIR (default ./.data). The bash
// wrapper installs dependencies and builds before `up`.
import fs from 'node:fs';
import path from 'node:path';
import { startCluster, stopPersistent, persistentStatus, readState, SERVICES } from './cluster.mjs';
import { dataDir, buildDir, ports, secrets } from './local.mjs';
import { seedDemo, demoToken, DEMO_USERS, DEMO_TENANT_CODE } from './demo-data.mjs';

const log = (m) => console.log(`cluster: ${m}`);

function usage(code = 2) {
  console.error(`usage: scripts/cluster up [--replicas N] [--no-seed] | down | status | logs [SERVICE] [--lines N]
  SERVICE: location order assign gateway redis postgres
  env: KN_DATA_DIR (./.data) KN_BUILD_DIR (./build) KN_PG_PORT (55432) KN_REDIS_PORT (56379)
       KN_LOCATION_PORT (7101) KN_ORDER_PORT (7102) KN_ASSIGN_PORT (7103) KN_GATEWAY_PORT (8080)`);
  process.exit(code);
}

async function up(args) {
  let replicas = 1;
  let seed = true;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--replicas') {
      replicas = Number(args[++i]);
      if (!Number.isInteger(replicas) || replicas < 1 || replicas > 9) usage();
    } else if (args[i] === '--no-seed') {
      seed = false;
    } else {
      usage();
    }
  }
  const dir = dataDir();
  const sec = secrets(dir, { create: true });
  const c = await startCluster({
    dataDir: dir,
    buildDir: buildDir(),
    ports: ports(),
    detached: true,
    secrets: sec,
    services: [...SERVICES],
    replicas: Object.fromEntries(SERVICES.map((s) => [s, replicas])),
    gateway: true,
    redis: true,
    log,
  });
  try {
    const stateFile = path.join(dir, 'demo.json');
    let state = null;
    if (seed) {
      state = (await seedDemo(c, stateFile, log)).state;
    } else if (fs.existsSync(stateFile)) {
      state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
    }
    console.log('');
    console.log(`Konnect is up (data in ${dir}, logs in ${path.join(dir, 'logs')}).`);
    console.log(`  HQ:       ${c.gatewayUrl}/`);
    for (const s of SERVICES) console.log(`  ${`${s}-svc:`.padEnd(14)}${c.target(s)}`);
    console.log(`  postgres: ${c.pgUrl('postgres')}   redis: redis://127.0.0.1:${c.ports.redis}`);
    if (state) {
      console.log(`Demo logins (tenant "${DEMO_TENANT_CODE}"):`);
      for (const u of DEMO_USERS) {
        const made = state.ids[`user:${u.key}`] ? '' : '   (not created yet)';
        console.log(`  ${u.email.padEnd(26)} ${u.password}${made}`);
      }
      const tok = demoToken(c, state);
      if (tok) {
        console.log(`Demo HQ token (12 h, tenant ${state.tenant}):`);
        console.log(`  ${tok}`);
      } else {
        console.log('Demo HQ token: none yet (the demo tenant could not be created, see above)');
      }
    }
    console.log('Stop with: scripts/cluster down');
  } finally {
    await c.disconnect();
  }
}

async function down() {
  const dir = dataDir();
  const stopped = await stopPersistent(dir, log);
  log(stopped.length ? `stopped ${stopped.join(', ')}` : 'nothing was running');
}

async function status() {
  const rows = await persistentStatus(dataDir());
  if (!rows) {
    log(`no cluster in ${dataDir()} (scripts/cluster up)`);
    process.exitCode = 3;
    return;
  }
  for (const r of rows) {
    console.log(`${r.name.padEnd(16)} ${String(r.pid ?? '-').padEnd(8)} ${r.addr.padEnd(24)} ${r.state}`);
  }
  const bad = rows.some((r) => !['running', 'SERVING', 'ready'].includes(r.state));
  process.exitCode = bad ? 1 : 0;
}

function logs(args) {
  let lines = 200;
  let svc = null;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--lines') lines = Number(args[++i]);
    else if (!svc) svc = args[i];
    else usage();
  }
  const dir = path.join(dataDir(), 'logs');
  if (!fs.existsSync(dir)) {
    log(`no logs in ${dir}`);
    return;
  }
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.log')).sort()
    .filter((f) => !svc || f === `${svc}.log` || f.startsWith(`${svc.replace(/-svc$/, '')}-`));
  if (svc && !files.length) {
    log(`no log for ${svc}`);
    process.exitCode = 1;
  }
  for (const f of files) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8').split('\n');
    console.log(`==> ${path.join(dir, f)} <==`);
    console.log(text.slice(-lines - 1).join('\n'));
  }
}

const [cmd, ...rest] = process.argv.slice(2);
try {
  switch (cmd) {
    case 'up': await up(rest); break;
    case 'down': await down(); break;
    case 'status': await status(); break;
    case 'logs': logs(rest); break;
    case 'state': console.log(JSON.stringify(readState(dataDir()), null, 2)); break;
    default: usage(cmd === undefined || cmd === '-h' || cmd === '--help' ? 0 : 2);
  }
} catch (e) {
  console.error(`cluster: ${e.message}`);
  if (cmd === 'up') console.error('cluster: what did start keeps running: `scripts/cluster logs`, `scripts/cluster down`');
  process.exitCode = 1;
}
