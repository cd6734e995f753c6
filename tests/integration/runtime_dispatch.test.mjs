// The runtime spreads the calls of one client connection over its workers.
//
// The gRPC core hands a connection's calls to the completion queue it was
// accepted on for as long as that queue has a request posted; a server that
// kept requests posted on a busy worker would serve a whole connection (the
// gateway's, say) on one thread. kn_server posts a request only from an idle
// worker, so a fast call sent on the same connection while a slow one runs
// is served by another worker and answers first, and calls beyond the number
// of workers wait for a worker instead of failing.
//
// The slow call is assign-svc CreateUser held by the runtime's test hook
// (KN_TEST_HOOK_SLOW_METHOD/_MS, honoured only with KN_TEST_HOOKS=1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster } from '../../scripts/lib/cluster.mjs';

const SLOW_MS = 1500;

let c;

before(async () => {
  c = await startCluster({
    services: ['assign'],
    redis: false,
    serviceEnv: {
      assign: {
        KN_WORKERS: '2',
        KN_TEST_HOOKS: '1',
        KN_TEST_HOOK_SLOW_METHOD: '/konnect.assign.v1.AssignService/CreateUser',
        KN_TEST_HOOK_SLOW_MS: String(SLOW_MS),
      },
    },
  });
});

after(async () => {
  if (c) await c.stop();
});

function createUser(client, token, email) {
  return c.call(client, 'CreateUser', {
    request_id: c.uuid(),
    display_name: `User ${email}`,
    email,
    role: 'USER_ROLE_TECHNICIAN',
    password: 'correct horse battery staple',
  }, token, { deadlineMs: 30_000 });
}

// Resolves with the order in which the promises settled, by label.
function settleOrder(entries) {
  const order = [];
  return Promise.all(entries.map(([label, p]) => p.then(
    (v) => { order.push(label); return v; },
    (e) => { order.push(label); throw e; },
  ))).then((values) => ({ order, values }));
}

test('a fast call on the connection of a running slow call is served by another worker', async () => {
  const tenant = c.uuid();
  const token = c.token({ tenant, sub: c.uuid(), role: 'hq' });
  const client = c.client('assign', { replica: 0 });
  // Connect first, so both calls below share one established connection.
  await c.call(client, 'ListUsers', { page_size: 1 }, token);

  // Up to three tries: on a machine busy with other tests (ASan, ctest -j2)
  // the worker that answered the connecting call may not have posted its
  // next request within the pause, once in a while. A runtime that serves a
  // connection on one worker fails every try.
  const orders = [];
  for (let i = 0; i < 3 && orders.at(-1)?.[0] !== 'fast'; i++) {
    const slow = createUser(client, token, `slow${i}@example.com`);
    await new Promise((r) => setTimeout(r, 400));
    const fast = c.call(client, 'ListUsers', { page_size: 10 }, token);
    const { order, values } = await settleOrder([['slow', slow], ['fast', fast]]);
    assert.equal(values[0].email, `slow${i}@example.com`);
    orders.push(order);
  }
  assert.deepEqual(orders.at(-1), ['fast', 'slow'], `the fast call waited behind the slow one in every try: ${JSON.stringify(orders)}`);
});

test('calls beyond the number of workers wait for one, and all are served', async () => {
  const tenant = c.uuid();
  const token = c.token({ tenant, sub: c.uuid(), role: 'hq' });
  const client = c.client('assign', { replica: 0 });
  const emails = ['a', 'b', 'c', 'd', 'e'].map((x) => `${x}@example.com`);
  const users = await Promise.all(emails.map((e) => createUser(client, token, e)));
  assert.deepEqual(users.map((u) => u.email), emails);
  const list = await c.call(client, 'ListUsers', { page_size: 10 }, token);
  assert.equal(list.users.length, emails.length);
});
