// Shared setup of the browser tests: the back end (the real cluster through
// scripts/lib/cluster.mjs, or the in-memory mock with KN_E2E_MOCK=1), data
// made through the HTTP API, and Debian's chromium driven by playwright-core.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export const OUT = process.env.KN_TEST_OUT ? path.join(process.env.KN_TEST_OUT, 'e2e') : '/tmp/konnect-e2e';
mkdirSync(OUT, { recursive: true });

const CHROMIUM = process.env.KN_CHROMIUM || '/usr/bin/chromium';

export async function launchBrowser() {
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    throw new Error(`playwright-core is not installed (npm i playwright-core): ${e.message}`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// A JSON client of the gateway. Rejects with {status, code, message} on an
// error answer so that a test's setup step fails loudly.
function httpClient(base) {
  return async function http(method, p, body, { token, headers } = {}) {
    const h = { Accept: 'application/json', ...(headers || {}) };
    if (token) h.Authorization = `Bearer ${token}`;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    const r = await fetch(base + p, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    const data = text ? JSON.parse(text) : {};
    if (!r.ok) {
      const e = new Error(`${method} ${p} → ${r.status} ${text}`);
      Object.assign(e, { status: r.status, code: data.code, body: data });
      throw e;
    }
    return data;
  };
}

// Starts the back end and makes a tenant with an HQ user who can log in.
// Returns {url, http, token, hqUser, tenantCode, email, password, canLogin,
// stop()}.
export async function startBackend() {
  const tenantCode = `e2e${Date.now().toString(36)}`;
  const email = `hq-${tenantCode}@example.test`;
  const password = 'correct-horse-battery';

  if (process.env.KN_E2E_MOCK === '1') {
    const { createMock } = await import('./mock-gateway.mjs');
    const mock = createMock();
    mock.api.tenant.code = tenantCode;
    const hqUser = mock.api.addUser({ displayName: 'Hedda HQ', email, role: 'USER_ROLE_HQ', password });
    const url = await mock.listen();
    const http = httpClient(url);
    const { token } = await http('POST', '/v1/login', { tenant: tenantCode, email, password });
    return { url, http, token, hqUser, tenantCode, email, password, canLogin: true, mock, stop: () => mock.close() };
  }

  const { startCluster } = await import('../../scripts/lib/cluster.mjs');
  const c = await startCluster({ services: ['location', 'order', 'assign'], gateway: true });
  try {
    const url = c.gatewayUrl;
    const http = httpClient(url);
    // The operator's way in (SPEC §3): assign-svc create-tenant makes the
    // tenant and its first HQ user, who then logs in like a person would.
    let canLogin = true;
    let tenantId;
    let hqUser;
    try {
      const out = await createTenant(c, { code: tenantCode, email, password });
      tenantId = out.tenant_id;
      hqUser = { id: out.user_id, displayName: 'Hedda HQ', email };
    } catch (e) {
      canLogin = false;
      console.log(`# ${e.message}; using a minted token instead of a login`);
      tenantId = c.uuid();
      const bootstrap = c.token({ tenant: tenantId, sub: c.uuid(), role: 'hq' });
      hqUser = await http('POST', '/v1/users', { displayName: 'Hedda HQ', email, role: 'USER_ROLE_HQ', password }, { token: bootstrap, headers: { 'Idempotency-Key': randomUUID() } });
    }
    let token = c.token({ tenant: tenantId, sub: hqUser.id, role: 'hq' });
    if (canLogin) {
      try {
        const r = await http('POST', '/v1/login', { tenant: tenantCode, email, password });
        token = r.token;
        if (r.user) hqUser = r.user;
      } catch (e) {
        canLogin = false;
        console.log(`# login through the API failed (${e.message}); using a minted token`);
      }
    }
    return { url, http, token, hqUser, tenantCode, email, password, canLogin, cluster: c, stop: () => c.stop() };
  } catch (e) {
    await c.stop().catch(() => {});
    throw e;
  }
}

// `assign-svc create-tenant` against the cluster's assign database; prints
// one JSON object {tenant_id, user_id, ...}.
function createTenant(c, { code, email, password }) {
  const bin = process.env.KN_ASSIGN_SVC_BIN || path.join(c.buildDir, 'assign-svc', 'assign-svc');
  const args = ['create-tenant', '--code', code, '--name', 'E2E tenant', '--email', email, '--display-name', 'Hedda HQ', '--time-zone', 'UTC', '--password-env', 'KN_NEW_PASSWORD'];
  return new Promise((resolve, reject) => {
    execFile(bin, args, { env: { ...process.env, ...c.env, KN_NEW_PASSWORD: password }, timeout: 60_000 }, (err, stdout, stderr) => {
      const line = String(stdout).trim().split('\n').pop() || '';
      if (err || !line.startsWith('{')) {
        reject(new Error(`assign-svc create-tenant failed: ${String(stderr || stdout || err?.message).trim().slice(0, 400)}`));
        return;
      }
      resolve(JSON.parse(line));
    });
  });
}

// Data through the HTTP API, with names unique per call so that tests can
// share one back end.
export function seeder(be) {
  const auth = { token: be.token };
  const post = (p, body) => be.http('POST', p, body, { ...auth, headers: { 'Idempotency-Key': randomUUID() } });
  let n = 0;
  const uniq = () => `${Date.now().toString(36).slice(-5)}${(n++).toString(36)}`.toUpperCase();
  return {
    uniq,
    get: (p) => be.http('GET', p, undefined, auth),
    post,
    async location(name) {
      const u = uniq();
      return post('/v1/locations', { name: name || `Plats ${u}`, code: `L${u}`, address: 'Testgatan 1', timeZone: 'UTC' });
    },
    async door(locationId, label) {
      return post(`/v1/locations/${locationId}/doors`, { label: label || `D${uniq()}`, size: 'DOOR_SIZE_M', multiItem: true });
    },
    // A package registered at the location; delivered into doorId when given.
    async pkg(locationId, doorId, extra = {}) {
      const u = uniq();
      const p = await post('/v1/packages', { barcode: `BC${u}`, trackingNumber: `TN${u}`, carrier: 'DHL', description: `Part ${u}`, locationId, ...extra });
      if (doorId) return post(`/v1/packages/${p.id}:deliver`, { doorId });
      return p;
    },
    async user(name) {
      const u = uniq();
      return post('/v1/users', { displayName: name || `Tekniker ${u}`, email: `tech-${u.toLowerCase()}@example.test`, employeeNumber: `E${u}`, role: 'USER_ROLE_TECHNICIAN', password: 'technician-pass-1' });
    },
    async order(locationId, packageIds, assigneeUserId) {
      const body = { type: 'ORDER_TYPE_JOB', locationId, packageIds };
      if (assigneeUserId) body.assigneeUserId = assigneeUserId;
      return post('/v1/orders', body);
    },
  };
}

// A fresh browser context that is logged in: through the login form when
// `viaForm`, otherwise by putting the token into sessionStorage.
export async function openPage(browser, be, { lang = 'en', viaForm = false } = {}) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 860 }, locale: lang === 'sv' ? 'sv-SE' : 'en-GB' });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  await context.addInitScript(
    ({ lang, token, user, inject }) => {
      localStorage.setItem('kn.lang', lang);
      if (inject && !sessionStorage.getItem('kn.token') && !sessionStorage.getItem('kn.e2e.injected')) {
        sessionStorage.setItem('kn.e2e.injected', '1');
        sessionStorage.setItem('kn.token', token);
        sessionStorage.setItem('kn.user', JSON.stringify(user));
      }
    },
    { lang, token: be.token, user: { id: be.hqUser.id, displayName: be.hqUser.displayName, email: be.hqUser.email, role: 'USER_ROLE_HQ' }, inject: !viaForm },
  );
  page.problems = problems;
  return { context, page };
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true });
}

// Waits until the locator's text contains `text`.
export async function waitText(locator, text, timeout = 15000) {
  await locator.filter({ hasText: text }).first().waitFor({ timeout });
}

export async function waitNoSpinner(page) {
  await page.waitForFunction(() => !document.querySelector('.loading-row, .page-loading, .btn.busy'), null, { timeout: 15000 });
}

export { assert };
