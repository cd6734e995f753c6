// Interop: an independent gRPC implementation (@grpc/grpc-js +
// @grpc/proto-loader, loading the repo's protos) and the C client
// (kn_grpc_probe on the runtime's kn_client) against the three services
// built on the gRPC core. Checks the runtime's contract for health, auth,
// bad input and unknown methods; the process must keep serving after each,
// and stop() fails the test on any sanitizer report.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startCluster, grpc, BUILD_DIR, signJwt } from '../../scripts/lib/cluster.mjs';

const S = grpc.status;
const FULL = {
  location: 'konnect.location.v1.LocationService',
  order: 'konnect.order.v1.OrderService',
  assign: 'konnect.assign.v1.AssignService',
};
// One cheap authenticated read per service, used for the auth checks.
const PROBE = {
  location: ['GetLocation', { id: '00000000-0000-4000-8000-000000000000' }],
  order: ['GetOrder', { id: '00000000-0000-4000-8000-000000000000' }],
  assign: ['GetUser', { id: '00000000-0000-4000-8000-000000000000' }],
};

let c;
let tenant;
let hq;

before(async () => {
  c = await startCluster({ services: ['location', 'order', 'assign'], redis: true });
  tenant = c.uuid();
  hq = c.token({ tenant, sub: c.uuid(), role: 'hq' });
});

after(async () => {
  if (c) await c.stop();
});

// Rejects/resolves like c.call, for a raw request with our own serializer.
function rawCall(svc, method, bytes, token, { deadlineMs = 10_000 } = {}) {
  const client = c.client(svc);
  const md = new grpc.Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      method,
      (b) => b,
      (b) => b,
      bytes,
      md,
      { deadline: Date.now() + deadlineMs },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
  });
}

async function rejectsWith(promise, code, detailsRe) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${code} (${Object.keys(S).find((k) => S[k] === code)}), the call succeeded`);
  assert.equal(err.code, code, `expected code ${code}, got ${err.code}: ${err.details}`);
  if (detailsRe) assert.match(err.details, detailsRe);
  return err;
}

async function stillServing(svc) {
  const res = await c.call(c.healthClient(svc), 'Check', { service: '' });
  assert.equal(res.status, 'SERVING');
}

for (const svc of ['location', 'order', 'assign']) {
  test(`${svc}: Health/Check answers SERVING for "" and ${FULL[svc]}`, async () => {
    const h = c.healthClient(svc);
    assert.equal((await c.call(h, 'Check', { service: '' })).status, 'SERVING');
    assert.equal((await c.call(h, 'Check', { service: FULL[svc] })).status, 'SERVING');
  });

  test(`${svc}: Health/Check of an unknown service name answers NOT_FOUND`, async () => {
    await rejectsWith(c.call(c.healthClient(svc), 'Check', { service: 'no.such.Service' }), S.NOT_FOUND);
  });

  test(`${svc}: an RPC without a token answers UNAUTHENTICATED`, async () => {
    const [method, req] = PROBE[svc];
    await rejectsWith(c.call(c.client(svc), method, req), S.UNAUTHENTICATED);
  });

  test(`${svc}: bad tokens answer UNAUTHENTICATED`, async () => {
    const [method, req] = PROBE[svc];
    const cl = c.client(svc);
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: c.uuid(), tenant, role: 'hq', exp: now + 3600 };
    const bad = {
      'wrong secret': signJwt('not-the-secret', claims),
      expired: signJwt(c.secret, { ...claims, exp: now - 60 }),
      'alg none': `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.`
        + `${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`,
      'missing tenant': signJwt(c.secret, { sub: claims.sub, role: 'hq', exp: claims.exp }),
      garbage: 'not.a.jwt',
    };
    for (const [what, tok] of Object.entries(bad)) {
      await rejectsWith(c.call(cl, method, req, tok), S.UNAUTHENTICATED).catch((e) => {
        e.message = `${what}: ${e.message}`;
        throw e;
      });
    }
  });

  test(`${svc}: malformed protobuf bytes answer INVALID_ARGUMENT and the service keeps serving`, async () => {
    const [method] = PROBE[svc];
    await rejectsWith(rawCall(svc, `/${FULL[svc]}/${method}`, Buffer.from([0xff, 0xff, 0xff]), hq), S.INVALID_ARGUMENT);
    await stillServing(svc);
  });

  test(`${svc}: an unknown method answers UNIMPLEMENTED`, async () => {
    await rejectsWith(rawCall(svc, `/${FULL[svc]}/NoSuchMethod`, Buffer.alloc(0), hq), S.UNIMPLEMENTED);
    await rejectsWith(rawCall(svc, '/no.such.v1.Service/Nothing', Buffer.alloc(0), hq), S.UNIMPLEMENTED);
    await stillServing(svc);
  });
}

test('order: a message over KN_MAX_MESSAGE_BYTES (default 4 MiB) answers RESOURCE_EXHAUSTED', async () => {
  const big = Buffer.alloc(5 * 1024 * 1024, 0x41);
  await rejectsWith(rawCall('order', `/${FULL.order}/GetOrder`, big, hq), S.RESOURCE_EXHAUSTED);
  await stillServing('order');
});

test('order: GetOrder with id "not-a-uuid" answers INVALID_ARGUMENT naming id', async () => {
  await rejectsWith(c.call(c.client('order'), 'GetOrder', { id: 'not-a-uuid' }, hq), S.INVALID_ARGUMENT, /\bid\b/);
});

test('order: ListOrders with page_size -1 answers INVALID_ARGUMENT naming page_size', async () => {
  await rejectsWith(c.call(c.client('order'), 'ListOrders', { page_size: -1 }, hq), S.INVALID_ARGUMENT, /page_size/);
});

// The C side: the runtime's own client (common/kn_client.c) in a separate
// program, against each service.
const probe = path.join(BUILD_DIR, 'tests', 'integration', 'kn_grpc_probe');

function runProbe(args) {
  return new Promise((resolve) => {
    execFile(probe, args, { timeout: 30_000, env: { ...process.env, ...c.env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? err.signal) : 0, stdout, stderr });
    });
  });
}

for (const svc of ['location', 'order', 'assign']) {
  test(`C client: kn_grpc_probe health against ${svc}`, { skip: !fs.existsSync(probe) && `${probe} not built` }, async () => {
    for (const args of [[c.addr(svc), 'health'], [`ipv4:${c.addr(svc)}`, 'health', FULL[svc]]]) {
      const r = await runProbe(args);
      assert.equal(r.code, 0, `kn_grpc_probe ${args.join(' ')} exited ${r.code}:\n${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /SERVING/);
      assert.doesNotMatch(r.stdout + r.stderr, /NOT_SERVING|ERROR: AddressSanitizer|runtime error:/);
    }
  });
}
