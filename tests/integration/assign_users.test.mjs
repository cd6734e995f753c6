// assign-svc users and login, against a real assign-svc and PostgreSQL:
// scripts/create-tenant, CreateUser / GetUser / ListUsers / UpdateUser,
// Authenticate (Argon2id, same answer for every wrong part, lockout).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startCluster, grpc, SOURCE_DIR, BUILD_DIR } from '../../scripts/lib/cluster.mjs';

const S = grpc.status;
let c;
let a;
let tenant; // { tenant_id, user_id, password }
let hq;

function createTenant(args, env = {}) {
  const out = execFileSync(path.join(SOURCE_DIR, 'scripts/create-tenant'), args, {
    env: { ...process.env, KN_BUILD_DIR: BUILD_DIR, KN_ASSIGN_SVC_DATABASE_URL: c.pgUrl('assign'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return JSON.parse(out.toString());
}

async function rejects(p, code, re) {
  await assert.rejects(p, (e) => {
    assert.equal(e.code, code, `expected ${code}, got ${e.code} ${e.details}`);
    if (re) assert.match(e.details, re);
    return true;
  });
}

before(async () => {
  c = await startCluster({
    services: ['assign'],
    // Argon2id at its production cost (the harness makes it cheap): the
    // "similar time" check needs the hash, not scheduling noise, to dominate.
    env: { KN_ASSIGN_LOGIN_MAX_FAILURES: '5', KN_ASSIGN_PWHASH_OPSLIMIT: '2', KN_ASSIGN_PWHASH_MEMLIMIT_KIB: '19456' },
  });
  a = c.client('assign');
  tenant = createTenant(['--code', 'acme', '--name', 'Acme AB', '--email', 'Boss@Acme.example',
    '--display-name', 'The Boss']);
  hq = c.token({ tenant: tenant.tenant_id, sub: tenant.user_id, role: 'hq' });
});

after(async () => {
  await c?.stop();
});

test('create-tenant: tenant + hq user, generated password, idempotent rerun', async () => {
  assert.equal(tenant.tenant_created, true);
  assert.equal(tenant.user_created, true);
  assert.match(tenant.password, /^.{16}$/);
  const again = createTenant(['--code', 'ACME', '--name', 'x', '--email', 'boss@acme.example']);
  assert.equal(again.tenant_id, tenant.tenant_id);
  assert.equal(again.user_id, tenant.user_id);
  assert.equal(again.tenant_created, false);
  assert.equal(again.user_created, false);
  assert.equal(again.password, undefined);
  const rows = await c.sql('assign', 'SELECT password_hash, role FROM users WHERE id = $1', [tenant.user_id]);
  assert.match(rows[0].password_hash, /^\$argon2id\$/);
  assert.equal(rows[0].role, 1);
  // Password from the environment, checked for length.
  const other = createTenant(['--code', 'beta', '--name', 'Beta', '--email', 'hq@beta.example'],
    { KN_NEW_PASSWORD: 'correct horse battery' });
  assert.equal(other.password, undefined);
  const r = await c.call(a, 'Authenticate', { tenant_code: 'beta', email: 'hq@beta.example', password: 'correct horse battery' });
  assert.equal(r.user.id, other.user_id);
  assert.throws(() => createTenant(['--code', 'gamma', '--name', 'G', '--email', 'hq@g.example'],
    { KN_NEW_PASSWORD: 'short' }));
  assert.throws(() => createTenant(['--code', 'Bad Code!', '--name', 'G', '--email', 'hq@g.example']));
});

test('CreateUser: fields, roles, validation, duplicates, request_id replay', async () => {
  const u = await c.call(a, 'CreateUser', {
    display_name: 'Tekla Tekniker', email: 'Tekla@Acme.example', employee_number: 'E-1001',
    role: 'USER_ROLE_TECHNICIAN', password: 'tekla-password-1', request_id: 'req-tekla',
  }, hq);
  assert.equal(u.tenant_id, tenant.tenant_id);
  assert.equal(u.display_name, 'Tekla Tekniker');
  assert.equal(u.email, 'Tekla@Acme.example');
  assert.equal(u.role, 'USER_ROLE_TECHNICIAN');
  assert.equal(u.active, true);
  assert.ok(Number(u.create_time.seconds) > 0);
  assert.equal(Object.keys(u).some((k) => /pass|hash/i.test(k)), false);
  // Same request_id: same user, nothing new.
  const again = await c.call(a, 'CreateUser', {
    display_name: 'Tekla Tekniker', email: 'Tekla@Acme.example', employee_number: 'E-1001',
    role: 'USER_ROLE_TECHNICIAN', password: 'tekla-password-1', request_id: 'req-tekla',
  }, hq);
  assert.equal(again.id, u.id);
  // The same request_id with another email or role is another request.
  for (const change of [{ email: 'other@acme.example' }, { role: 'USER_ROLE_HQ' }]) {
    await rejects(c.call(a, 'CreateUser', {
      display_name: 'Tekla Tekniker', email: 'Tekla@Acme.example', employee_number: 'E-1001',
      role: 'USER_ROLE_TECHNICIAN', password: 'tekla-password-1', request_id: 'req-tekla', ...change,
    }, hq), S.ALREADY_EXISTS, /^request_id was already used with a different request/);
  }
  // Email unique per tenant, case-insensitively; employee number too.
  await rejects(c.call(a, 'CreateUser', { display_name: 'X', email: 'tekla@ACME.example', role: 'USER_ROLE_TECHNICIAN' }, hq),
    S.ALREADY_EXISTS, /email/);
  await rejects(c.call(a, 'CreateUser', { display_name: 'X', email: 'x@acme.example', employee_number: 'E-1001', role: 'USER_ROLE_TECHNICIAN' }, hq),
    S.ALREADY_EXISTS, /employee_number/);
  // The same email in another tenant is fine.
  const other = c.token({ tenant: c.uuid(), sub: c.uuid(), role: 'hq' });
  await c.call(a, 'CreateUser', { display_name: 'Tekla', email: 'tekla@acme.example', role: 'USER_ROLE_TECHNICIAN' }, other);
  // Validation names the field; nothing written.
  const bad = [
    [{ display_name: '', email: 'a@acme.example', role: 'USER_ROLE_HQ' }, /display_name/],
    [{ display_name: 'A', email: 'not-an-email', role: 'USER_ROLE_HQ' }, /email/],
    [{ display_name: 'A', email: 'a@acme.example', role: 'USER_ROLE_UNSPECIFIED' }, /role/],
    [{ display_name: 'A', email: 'a@acme.example', role: 'USER_ROLE_HQ', password: 'short' }, /password/],
  ];
  for (const [req, re] of bad) await rejects(c.call(a, 'CreateUser', req, hq), S.INVALID_ARGUMENT, re);
  const n = await c.sql('assign', "SELECT count(*)::int AS n FROM users WHERE email = 'a@acme.example'");
  assert.equal(n[0].n, 0);
  // Only hq creates users; no token at all is UNAUTHENTICATED.
  const tech = c.token({ tenant: tenant.tenant_id, sub: u.id, role: 'technician' });
  await rejects(c.call(a, 'CreateUser', { display_name: 'A', email: 'b@acme.example', role: 'USER_ROLE_HQ' }, tech), S.PERMISSION_DENIED);
  await rejects(c.call(a, 'CreateUser', { display_name: 'A', email: 'b@acme.example', role: 'USER_ROLE_HQ' }), S.UNAUTHENTICATED);
});

test('GetUser: own tenant only (NOT_FOUND otherwise), technician reads only themselves', async () => {
  const u = await c.call(a, 'CreateUser', { display_name: 'Gert', email: 'gert@acme.example', role: 'USER_ROLE_TECHNICIAN' }, hq);
  const got = await c.call(a, 'GetUser', { id: u.id }, hq);
  assert.deepEqual(got, u);
  const foreign = c.token({ tenant: c.uuid(), sub: c.uuid(), role: 'hq' });
  await rejects(c.call(a, 'GetUser', { id: u.id }, foreign), S.NOT_FOUND);
  await rejects(c.call(a, 'GetUser', { id: c.uuid() }, hq), S.NOT_FOUND);
  await rejects(c.call(a, 'GetUser', { id: 'nope' }, hq), S.INVALID_ARGUMENT, /id/);
  const tech = c.token({ tenant: tenant.tenant_id, sub: u.id, role: 'technician' });
  assert.equal((await c.call(a, 'GetUser', { id: u.id }, tech)).id, u.id);
  await rejects(c.call(a, 'GetUser', { id: tenant.user_id }, tech), S.PERMISSION_DENIED);
});

test('ListUsers: query over name/email/employee number, prefix and partial, escaped, paginated', async () => {
  const t = c.token({ tenant: c.uuid(), sub: c.uuid(), role: 'hq' });
  const mk = (display_name, email, employee_number = '') =>
    c.call(a, 'CreateUser', { display_name, email, employee_number, role: 'USER_ROLE_TECHNICIAN' }, t);
  const anna = await mk('Anna Andersson', 'anna@x.example', 'T-0042');
  const bo = await mk('Bo Berg', 'bo.berg@x.example', 'T-0043');
  const pct = await mk('100% Sure', 'sure@x.example');
  const und = await mk('Under_Score', 'under@x.example');
  for (let i = 0; i < 23; i++) await mk(`Filler ${String(i).padStart(2, '0')}`, `filler${i}@x.example`);
  const ids = async (query, extra = {}) =>
    (await c.call(a, 'ListUsers', { query, page_size: 100, ...extra }, t)).users.map((u) => u.id).sort();
  assert.deepEqual(await ids('ann'), [anna.id]);               // prefix of the name
  assert.deepEqual(await ids('DERSS'), [anna.id]);             // partial, case-insensitive
  assert.deepEqual(await ids('bo.berg@'), [bo.id]);            // email
  assert.deepEqual(await ids('0042'), [anna.id]);              // employee number, partial
  assert.deepEqual(await ids('t-004'), [anna.id, bo.id].sort());
  assert.deepEqual(await ids('%'), [pct.id]);                  // LIKE metacharacters are literal
  assert.deepEqual(await ids('_'), [und.id]);
  assert.deepEqual(await ids('\\'), []);
  assert.deepEqual(await ids('nobody'), []);
  // Pages of 10 cover everyone once, newest first.
  const seen = [];
  let page_token = '';
  let pages = 0;
  do {
    const r = await c.call(a, 'ListUsers', { page_size: 10, page_token }, t);
    assert.ok(r.users.length <= 10);
    seen.push(...r.users.map((u) => u.id));
    page_token = r.next_page_token;
    pages++;
  } while (page_token);
  assert.equal(pages, 3);
  assert.equal(seen.length, 27);
  assert.equal(new Set(seen).size, 27);
  assert.equal(seen[26], anna.id);
  // A token belongs to its query.
  const first = await c.call(a, 'ListUsers', { page_size: 5 }, t);
  await rejects(c.call(a, 'ListUsers', { page_size: 5, query: 'a', page_token: first.next_page_token }, t),
    S.INVALID_ARGUMENT, /page_token/);
  await rejects(c.call(a, 'ListUsers', { page_size: -1 }, t), S.INVALID_ARGUMENT, /page_size/);
  // Deactivated users are hidden unless asked for; role filter.
  await c.call(a, 'UpdateUser', { id: bo.id, active: { value: false } }, t);
  assert.deepEqual(await ids('bo'), []);
  assert.deepEqual(await ids('bo', { include_inactive: true }), [bo.id]);
  assert.deepEqual(await ids('', { role: 'USER_ROLE_HQ' }), []);
  const tech = c.token({ tenant: tenant.tenant_id, sub: c.uuid(), role: 'technician' });
  await rejects(c.call(a, 'ListUsers', {}, tech), S.PERMISSION_DENIED);
});

test('UpdateUser: rename, employee number, deactivate, password; not yourself', async () => {
  const u = await c.call(a, 'CreateUser', { display_name: 'Ulla', email: 'ulla@acme.example', role: 'USER_ROLE_TECHNICIAN', password: 'ulla-password-1' }, hq);
  const r1 = await c.call(a, 'UpdateUser', { id: u.id, display_name: 'Ulla Ek', employee_number: 'E-7' }, hq);
  assert.equal(r1.display_name, 'Ulla Ek');
  assert.equal(r1.employee_number, 'E-7');
  assert.equal(r1.active, true);
  // Empty fields and absent active change nothing.
  const r2 = await c.call(a, 'UpdateUser', { id: u.id }, hq);
  assert.deepEqual(r2, r1);
  await c.call(a, 'UpdateUser', { id: u.id, password: 'ulla-password-2' }, hq);
  await rejects(c.call(a, 'Authenticate', { tenant_code: 'acme', email: 'ulla@acme.example', password: 'ulla-password-1' }), S.UNAUTHENTICATED);
  assert.equal((await c.call(a, 'Authenticate', { tenant_code: 'acme', email: 'ulla@acme.example', password: 'ulla-password-2' })).user.id, u.id);
  const r3 = await c.call(a, 'UpdateUser', { id: u.id, active: { value: false } }, hq);
  assert.equal(r3.active, false);
  // A deactivated user cannot log in: the same answer as a wrong password.
  await rejects(c.call(a, 'Authenticate', { tenant_code: 'acme', email: 'ulla@acme.example', password: 'ulla-password-2' }),
    S.UNAUTHENTICATED, /^invalid credentials$/);
  await rejects(c.call(a, 'UpdateUser', { id: u.id, password: 'short' }, hq), S.INVALID_ARGUMENT, /password/);
  await rejects(c.call(a, 'UpdateUser', { id: tenant.user_id, active: { value: false } }, hq), S.FAILED_PRECONDITION);
  await rejects(c.call(a, 'UpdateUser', { id: c.uuid(), display_name: 'x' }, hq), S.NOT_FOUND);
  const foreign = c.token({ tenant: c.uuid(), sub: c.uuid(), role: 'hq' });
  await rejects(c.call(a, 'UpdateUser', { id: u.id, display_name: 'x' }, foreign), S.NOT_FOUND);
  const tech = c.token({ tenant: tenant.tenant_id, sub: u.id, role: 'technician' });
  await rejects(c.call(a, 'UpdateUser', { id: u.id, display_name: 'x' }, tech), S.PERMISSION_DENIED);
});

test('Authenticate: one answer for every wrong part, similar time, lockout after failures', async () => {
  await c.call(a, 'CreateUser', { display_name: 'Lars', email: 'lars@acme.example', role: 'USER_ROLE_TECHNICIAN', password: 'lars-password-1' }, hq);
  await c.call(a, 'CreateUser', { display_name: 'Nopw', email: 'nopw@acme.example', role: 'USER_ROLE_TECHNICIAN' }, hq);
  await c.call(a, 'CreateUser', { display_name: 'Timo', email: 'timo@acme.example', role: 'USER_ROLE_TECHNICIAN', password: 'timo-password-1' }, hq);
  const ok = await c.call(a, 'Authenticate', { tenant_code: 'ACME', email: 'LARS@acme.example', password: 'lars-password-1' });
  assert.equal(ok.user.email, 'lars@acme.example');
  assert.equal(ok.user.role, 'USER_ROLE_TECHNICIAN');
  const wrong = [
    { tenant_code: 'acme', email: 'timo@acme.example', password: 'timo-password-X' },
    { tenant_code: 'acme', email: 'nobody@acme.example', password: 'lars-password-1' },
    { tenant_code: 'nope', email: 'lars@acme.example', password: 'lars-password-1' },
    { tenant_code: 'acme', email: 'nopw@acme.example', password: 'anything-at-all' },
  ];
  // Each case's fastest of three tries: a single try can land behind
  // other work on a busy machine (one of four once took 4x the others);
  // the fastest is the verification's own cost. Three failures stay under
  // the lockout's five.
  const times = [];
  for (const req of wrong) {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = process.hrtime.bigint();
      await rejects(c.call(a, 'Authenticate', req), S.UNAUTHENTICATED, /^invalid credentials$/);
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
    }
    times.push(best);
  }
  // Unknown accounts pay for an Argon2id verification too (a dummy hash).
  const max = Math.max(...times);
  for (const t of times) assert.ok(t > max / 4, `times ${times.map(Math.round)} ms differ too much`);
  await rejects(c.call(a, 'Authenticate', { tenant_code: '', email: 'x', password: 'y' }), S.INVALID_ARGUMENT, /tenant_code/);
  // Five failures (KN_ASSIGN_LOGIN_MAX_FAILURES here) lock the account name,
  // even for the right password; other accounts are not affected.
  for (let i = 0; i < 5; i++) {
    await rejects(c.call(a, 'Authenticate', { tenant_code: 'acme', email: 'lars@acme.example', password: `bad-password-${i}` }), S.UNAUTHENTICATED);
  }
  await rejects(c.call(a, 'Authenticate', { tenant_code: 'acme', email: 'lars@acme.example', password: 'lars-password-1' }),
    S.RESOURCE_EXHAUSTED);
  const boss = await c.call(a, 'Authenticate', { tenant_code: 'acme', email: 'boss@acme.example', password: tenant.password });
  assert.equal(boss.user.id, tenant.user_id);
  assert.equal(boss.user.role, 'USER_ROLE_HQ');
  // An unknown account name locks the same way (the lockout reveals nothing).
  for (let i = 0; i < 5; i++) {
    await rejects(c.call(a, 'Authenticate', { tenant_code: 'acme', email: 'ghost@acme.example', password: 'whatever-123' }), S.UNAUTHENTICATED);
  }
  await rejects(c.call(a, 'Authenticate', { tenant_code: 'acme', email: 'ghost@acme.example', password: 'whatever-123' }), S.RESOURCE_EXHAUSTED);
});
