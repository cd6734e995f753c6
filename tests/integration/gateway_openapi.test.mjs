// gateway/openapi.yaml against the gateway's route table
// (`gateway --print-routes`): every route documented, nothing documented
// that is not a route; every schema of a proto message has exactly the
// message's JSON field names; and the document lints clean with
// @redocly/cli (npm, a devDependency installed by scripts/install-deps).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { SOURCE_DIR, BUILD_DIR } from '../../scripts/lib/cluster.mjs';

const DOC = path.join(SOURCE_DIR, 'gateway', 'openapi.yaml');
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function routes() {
  const out = execFileSync(path.join(BUILD_DIR, 'gateway', 'gateway'), ['--print-routes'], { encoding: 'utf8' });
  return out.trim().split('\n').map((l) => l.split('\t').slice(0, 2).join(' '));
}

// The operations of the document: the keys under `paths:` (indent 2) and
// their method keys (indent 4). Block-style YAML as the file is written.
function documented(text) {
  const ops = [];
  let inPaths = false;
  let cur = null;
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) { inPaths = /^paths:\s*$/.test(line); continue; }
    if (!inPaths) continue;
    let m = /^ {2}("?)(\/[^"]*)\1:\s*$/.exec(line);
    if (m) { cur = m[2]; continue; }
    m = /^ {4}([a-z]+):\s*$/.exec(line);
    if (m && cur && METHODS.includes(m[1])) ops.push(`${m[1].toUpperCase()} ${cur}`);
  }
  return ops;
}

function redocly() {
  const cands = [process.env.KN_REDOCLY, path.join(SOURCE_DIR, 'node_modules', '.bin', 'redocly')].filter(Boolean);
  return cands.find((p) => fs.existsSync(p)) ?? null;
}

test('every gateway route is in openapi.yaml and every documented operation is a route', () => {
  const have = new Set(routes());
  const doc = new Set(documented(fs.readFileSync(DOC, 'utf8')));
  assert.ok(have.size >= 40 && doc.size >= 40, `${have.size} routes, ${doc.size} documented`);
  const missing = [...have].filter((r) => !doc.has(r));
  const extra = [...doc].filter((r) => !have.has(r));
  assert.deepEqual(missing, [], `routes missing from gateway/openapi.yaml: ${missing.join(', ')}`);
  assert.deepEqual(extra, [], `documented but not routes of the gateway: ${extra.join(', ')}`);
});

test('openapi.yaml lints clean with @redocly/cli, and its schemas match the protos', () => {
  const bin = redocly();
  assert.ok(bin, '@redocly/cli is not installed: run scripts/install-deps (or set KN_REDOCLY)');
  const lint = spawnSync(bin, ['lint', '--format', 'stylish', DOC], { encoding: 'utf8', env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } });
  assert.equal(lint.status, 0, `redocly lint failed:\n${lint.stdout}\n${lint.stderr}`);
  assert.doesNotMatch(lint.stdout + lint.stderr, /You have \d+ warnings?/, `redocly lint warnings:\n${lint.stdout}\n${lint.stderr}`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-openapi-'));
  try {
    const out = path.join(tmp, 'openapi.json');
    const b = spawnSync(bin, ['bundle', DOC, '--ext', 'json', '-o', out], { encoding: 'utf8', env: { ...process.env, REDOCLY_TELEMETRY: 'off' } });
    assert.equal(b.status, 0, b.stderr);
    const doc = JSON.parse(fs.readFileSync(out, 'utf8'));
    const require = createRequire(path.join(SOURCE_DIR, 'package.json'));
    const protobuf = require('protobufjs');
    const root = new protobuf.Root();
    root.resolvePath = (origin, target) => {
      for (const d of [path.join(SOURCE_DIR, 'proto'), '/usr/include']) {
        if (fs.existsSync(path.join(d, target))) return path.join(d, target);
      }
      return target;
    };
    root.loadSync(['konnect/order/v1/order.proto', 'konnect/assign/v1/assign.proto', 'konnect/location/v1/location.proto'], { keepCase: true });
    const camel = (s) => s.replace(/_([a-z0-9])/g, (_, ch) => ch.toUpperCase());
    let checked = 0;
    for (const [name, s] of Object.entries(doc.components.schemas)) {
      if (!s['x-proto']) continue;
      const typ = root.lookup(s['x-proto']);
      assert.ok(typ, `${name}: no proto type ${s['x-proto']}`);
      if (typ instanceof protobuf.Enum) {
        assert.deepEqual(s.enum, Object.keys(typ.values), `${name} enum values`);
      } else {
        assert.deepEqual(Object.keys(s.properties).sort(), typ.fieldsArray.map((f) => camel(f.name)).sort(), `${name} properties`);
      }
      checked++;
    }
    assert.ok(checked >= 20, `${checked} schemas checked`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
