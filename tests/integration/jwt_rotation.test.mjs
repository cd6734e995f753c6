// Rotating the JWT secret without rejecting live sessions: tokens signed
// with KN_JWT_VERIFY_SECRET are accepted next to those of KN_JWT_SECRET
// (docs/operations.md, "Rotate the JWT secret"); any other secret is
// refused, and so is an expired token of the verify-only secret.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startCluster, grpc, signJwt } from '../../scripts/lib/cluster.mjs';

const OLD = crypto.randomBytes(32).toString('hex');
let c;

before(async () => {
  c = await startCluster({ services: ['location'], redis: false, env: { KN_JWT_VERIFY_SECRET: OLD } });
});

after(async () => {
  if (c) await c.stop();
});

function claims(expInS) {
  return { sub: c.uuid(), tenant: c.uuid(), role: 'hq', exp: Math.floor(Date.now() / 1000) + expInS };
}

async function listLocations(token) {
  try {
    await c.call(c.client('location'), 'ListLocations', {}, token);
    return grpc.status.OK;
  } catch (e) {
    return e.code;
  }
}

test('tokens of the signing and of the verify-only secret are accepted', async () => {
  assert.equal(await listLocations(c.token({ tenant: c.uuid(), sub: c.uuid(), role: 'hq' })), grpc.status.OK);
  assert.equal(await listLocations(signJwt(OLD, claims(300))), grpc.status.OK);
});

test('another secret, or an expired token of the verify-only one, is refused', async () => {
  assert.equal(await listLocations(signJwt(crypto.randomBytes(32).toString('hex'), claims(300))), grpc.status.UNAUTHENTICATED);
  assert.equal(await listLocations(signJwt(OLD, claims(-600))), grpc.status.UNAUTHENTICATED);
});
