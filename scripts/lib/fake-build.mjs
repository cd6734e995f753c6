// Stand-in executables for the harness self-test (and for trying
// scripts/cluster without the C build): each serves grpc.health.v1 SERVING
// on its KN_<SVC>_SVC_LISTEN (the gateway: /healthz) with grpc-js.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SOURCE_DIR } from './cluster.mjs';

// A fake service binary: serves Health SERVING on $KN_<SVC>_SVC_LISTEN (or
// the gateway's /healthz), prints its env on request, and on SIGTERM exits
// 0, or prints a fake sanitizer report when FAKE_REPORT is set.
export function fakeBuildDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'konnect-fakebuild-'));
  const svcScript = `#!/usr/bin/env node
const { createRequire } = require('node:module');
const req = createRequire(${JSON.stringify(path.join(SOURCE_DIR, 'package.json'))});
const grpc = req('@grpc/grpc-js');
const loader = req('@grpc/proto-loader');
const name = require('node:path').basename(process.argv[1]);
const prefix = 'KN_' + name.toUpperCase().replace(/-/g, '_') + '_';
const def = loader.loadSync('grpc/health/v1/health.proto', { includeDirs: ['/usr/share/grpc-proto'] });
const health = grpc.loadPackageDefinition(def).grpc.health.v1.Health;
const server = new grpc.Server();
server.addService(health.service, {
  Check: (call, cb) => cb(null, { status: 'SERVING' }),
  Watch: (call) => call.end(),
});
console.error(JSON.stringify({ msg: 'env', listen: process.env[prefix + 'LISTEN'],
  db: process.env[prefix + 'DATABASE_URL'], redis: process.env.KN_REDIS_URL,
  location: process.env.KN_LOCATION_SVC_TARGET, assign: process.env.KN_ASSIGN_SVC_TARGET,
  extra: process.env.FAKE_EXTRA }));
server.bindAsync(process.env[prefix + 'LISTEN'], grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) { console.error(err.message); process.exit(3); }
});
process.on('SIGTERM', () => {
  if (process.env.FAKE_REPORT) console.error('==1==ERROR: AddressSanitizer: heap-use-after-free on address 0x0');
  server.forceShutdown();
  process.exit(0);
});
`;
  const gwScript = `#!/usr/bin/env node
const http = require('node:http');
const [host, port] = process.env.KN_GATEWAY_LISTEN.split(':');
const srv = http.createServer((req, res) => { res.writeHead(req.url === '/healthz' ? 200 : 404); res.end('ok'); });
srv.listen(Number(port), host);
process.on('SIGTERM', () => { srv.close(); process.exit(0); });
`;
  for (const s of ['location', 'order', 'assign']) {
    fs.mkdirSync(path.join(dir, `${s}-svc`));
    fs.writeFileSync(path.join(dir, `${s}-svc`, `${s}-svc`), svcScript, { mode: 0o755 });
  }
  fs.mkdirSync(path.join(dir, 'gateway'));
  fs.writeFileSync(path.join(dir, 'gateway', 'gateway'), gwScript, { mode: 0o755 });
  return dir;
}

