// Shared helpers of the gateway_*.test.mjs files (not a test file itself).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { SOURCE_DIR, BUILD_DIR } from '../../scripts/lib/cluster.mjs';

// One HTTP request to the gateway; the body is JSON unless a string.
export function http(c) {
  return async (method, p, { token, body, headers = {} } = {}) => {
    const h = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    let b;
    if (body !== undefined) {
      b = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
    }
    const r = await fetch(c.gatewayUrl + p, { method, headers: h, body: b });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, headers: r.headers, json, text };
  };
}

// Asserts an error answer: HTTP status, gRPC code, the body's shape and
// optionally a message pattern.
export function expectError(r, status, code, re) {
  assert.equal(r.status, status, `expected HTTP ${status}, got ${r.status}: ${r.text}`);
  assert.ok(r.json, `error body is JSON: ${r.text}`);
  assert.equal(r.json.code, code, `expected code ${code}: ${r.text}`);
  assert.equal(typeof r.json.message, 'string');
  assert.ok(Array.isArray(r.json.details));
  if (re) assert.match(r.json.message, re);
}

export function expectOk(r, status = 200) {
  assert.equal(r.status, status, `expected HTTP ${status}, got ${r.status}: ${r.text}`);
  return r.json;
}

// scripts/create-tenant: a tenant and its first hq user with this password.
export function createTenant(c, code, email, password) {
  const out = execFileSync(path.join(SOURCE_DIR, 'scripts/create-tenant'),
    ['--code', code, '--name', `${code} AB`, '--email', email, '--display-name', 'HQ Boss'], {
      env: { ...process.env, KN_BUILD_DIR: BUILD_DIR, KN_ASSIGN_SVC_DATABASE_URL: c.pgUrl('assign'), KN_NEW_PASSWORD: password },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  return JSON.parse(out.toString());
}

export const rand = (n = 4) => crypto.randomBytes(n).toString('hex');

// Raw bytes to the gateway; resolves { data, closed, ms } when the server
// closes the connection or after waitMs; gapMs writes the chunks apart.
export function rawRequest(c, chunks, { waitMs = 5000, gapMs = 0 } = {}) {
  const { port } = new URL(c.gatewayUrl);
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect({ host: '127.0.0.1', port: Number(port) });
    let data = '';
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      s.destroy();
      resolve({ data, closed, ms: Date.now() - t0 });
    };
    s.on('data', (d) => { data += d.toString(); });
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
    s.on('connect', async () => {
      for (const ch of chunks) {
        if (s.destroyed || done) break;
        s.write(ch);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
    setTimeout(() => finish(false), waitMs);
  });
}
