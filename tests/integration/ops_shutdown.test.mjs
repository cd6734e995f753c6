// SIGTERM with a call in flight (what Kubernetes does on a rollout after the
// preStop pause): Health goes NOT_SERVING, the in-flight call completes OK,
// new calls are refused (and not executed), and the process exits 0 within
// KN_SHUTDOWN_GRACE_MS.
//
// The slow call is assign-svc CreateUser, held for a fixed time before its
// handler by the runtime's test hook (KN_TEST_HOOK_SLOW_METHOD/_MS, honoured
// only with KN_TEST_HOOKS=1), so the timing does not depend on how fast the
// machine hashes passwords.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, grpc, loadProtos } from '../../scripts/lib/cluster.mjs';

// Below the harness's 10 s wait for a SIGTERMed process.
const GRACE_MS = 9000;
const SLOW_MS = 2500;
const SLOW_ENV = {
  KN_TEST_HOOKS: '1',
  KN_TEST_HOOK_SLOW_METHOD: '/konnect.assign.v1.AssignService/CreateUser',
  KN_TEST_HOOK_SLOW_MS: String(SLOW_MS),
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let c;

before(async () => {
  c = await startCluster({
    services: ['assign'],
    redis: false,
    env: { KN_SHUTDOWN_GRACE_MS: String(GRACE_MS) },
    serviceEnv: { assign: SLOW_ENV },
  });
});

after(async () => {
  if (c) await c.stop();
});

function createUser(client, token, email, requestId, deadlineMs = 30_000) {
  return c.call(client, 'CreateUser', {
    request_id: requestId,
    display_name: `User ${email}`,
    email,
    role: 'USER_ROLE_TECHNICIAN',
    password: 'correct horse battery staple',
  }, token, { deadlineMs });
}

// Health/Watch on one replica: every status it streams, and how it ended.
function watchHealth(addr) {
  const { ctor } = loadProtos();
  const client = new ctor.health(addr, grpc.credentials.createInsecure());
  const seen = [];
  const stream = client.Watch({ service: '' });
  const ended = new Promise((resolve) => {
    stream.on('data', (m) => seen.push({ status: m.status, at: Date.now() }));
    stream.on('error', (e) => resolve({ code: e.code, details: e.details }));
    stream.on('end', () => resolve({ code: 0 }));
  });
  return { seen, ended, close: () => { stream.cancel(); client.close(); } };
}

async function until(fn, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

test('SIGTERM: NOT_SERVING, in-flight call completes, new calls refused, exit 0 in the grace period', async (t) => {
  const tenant = c.uuid();
  const token = c.token({ tenant, sub: c.uuid(), role: 'hq' });
  const client = c.client('assign', { replica: 0 });

  // The call is slow enough to still run when SIGTERM arrives.
  const t0 = Date.now();
  await createUser(client, token, 'calibrate@example.com', c.uuid());
  const callMs = Date.now() - t0;
  assert.ok(callMs >= SLOW_MS, `CreateUser took only ${callMs} ms: the slow-method hook is not in effect`);
  assert.ok(callMs < GRACE_MS - 1500, `CreateUser took ${callMs} ms, too close to the ${GRACE_MS} ms grace period`);

  const watch = watchHealth(c.addr('assign', 0));
  await until(() => watch.seen.some((s) => s.status === 'SERVING'), 5000, 'Watch SERVING');

  const slowId = c.uuid();
  const slowStart = Date.now();
  const slow = createUser(client, token, 'inflight@example.com', slowId).then(
    (res) => ({ ok: true, res, at: Date.now() }),
    (err) => ({ ok: false, err, at: Date.now() }),
  );
  // Let the call reach its handler (it then hashes for seconds).
  await sleep(Math.min(400, callMs / 4));

  const termAt = Date.now();
  const exited = c.kill('assign', 0, 'SIGTERM');

  // Readiness drops first.
  await until(() => watch.seen.some((s) => s.status === 'NOT_SERVING' && s.at >= termAt), 3000,
    'Watch NOT_SERVING after SIGTERM');

  // New calls, on a new connection and on the existing channel, are refused
  // and never executed.
  const fresh = c.client('assign', { replica: 0, fresh: true });
  const refused = [];
  for (const [name, cl] of [['new connection', fresh], ['existing channel', client]]) {
    try {
      await createUser(cl, token, `refused-${refused.length}@example.com`, c.uuid(), 3000);
      refused.push(`${name}: accepted`);
    } catch (e) {
      refused.push(`${name}: ${e.code}`);
      assert.equal(e.code, grpc.status.UNAVAILABLE, `${name}: ${e.code} ${e.details}`);
    }
  }
  assert.ok(!refused.some((r) => r.endsWith('accepted')), refused.join('; '));
  // A health check on a new connection: refused or NOT_SERVING, never SERVING.
  const { ctor } = loadProtos();
  const h = new ctor.health(c.addr('assign', 0), grpc.credentials.createInsecure());
  const check = await new Promise((resolve) => {
    h.Check({ service: '' }, { deadline: Date.now() + 2000 }, (err, res) => resolve(err ? `error ${err.code}` : res.status));
  });
  h.close();
  assert.notEqual(check, 'SERVING');

  const r = await slow;
  assert.ok(r.ok, `the in-flight call failed: ${r.err?.code} ${r.err?.details}`);
  assert.equal(r.res.email, 'inflight@example.com');
  assert.ok(r.at > termAt, 'the call was still running when SIGTERM was sent');

  const exit = await exited;
  const exitMs = Date.now() - termAt;
  assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}`);
  assert.ok(exitMs < GRACE_MS, `exited ${exitMs} ms after SIGTERM, grace is ${GRACE_MS} ms`);
  // The stream ends with UNAVAILABLE once the server stops.
  const end = await watch.ended;
  watch.close();
  assert.notEqual(end.code, 0);

  // The in-flight user exists, the refused ones do not.
  const rows = await c.sql('assign', 'SELECT email FROM users WHERE tenant_id = $1 ORDER BY email', [tenant]);
  assert.deepEqual(rows.map((x) => x.email), ['calibrate@example.com', 'inflight@example.com']);

  const logs = c.logs('assign', 0);
  assert.match(logs, /received SIGTERM/);
  assert.doesNotMatch(logs, /cancelling them/, 'nothing was cancelled');
  const lines = logs.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const termLine = lines.findIndex((l) => /received SIGTERM/.test(l.msg ?? l.message ?? JSON.stringify(l)));
  const okAfter = lines.slice(termLine + 1).filter((l) => /CreateUser$/.test(l.method ?? '') && l.code === 'OK');
  assert.equal(okAfter.length, 1, 'the in-flight call is logged OK after SIGTERM');
  t.diagnostic(`CreateUser ${callMs} ms; in-flight call ended ${r.at - termAt} ms after SIGTERM; exit after ${exitMs} ms (started ${termAt - slowStart} ms into the call)`);
});
