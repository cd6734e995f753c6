// /metrics on the admin port (KN_<SVC>_ADMIN_LISTEN) of a running service:
// Prometheus text format 0.0.4 that parses, gRPC requests counted by method
// and code with a latency histogram, database pool gauges, cache and lock
// series, process metrics; /healthz answers 200.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, grpc } from '../../scripts/lib/cluster.mjs';

const SVC = 'konnect.location.v1.LocationService';

let c;

before(async () => {
  c = await startCluster({ services: ['location'], redis: true });
});

after(async () => {
  if (c) await c.stop();
});

async function get(pathname) {
  const url = `http://${c.adminAddr('location', 0)}${pathname}`;
  let res;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (e) {
    assert.fail(`${url}: ${e.cause?.code ?? e.message}: the service does not run its admin listener `
      + '(kn_service_main must call kn_admin_start when KN_<SVC>_ADMIN_LISTEN is set)');
  }
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

// Parses the text format strictly enough to catch a malformed line: every
// sample's metric family has a TYPE line before it, names and labels are
// well-formed, values are numbers. Returns Map "name{labels}" → value.
function parse(text) {
  const types = new Map();
  const samples = new Map();
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    let m;
    if ((m = line.match(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/))) {
      assert.ok(!types.has(m[1]), `one TYPE per family: ${m[1]}`);
      types.set(m[1], m[2]);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
    m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf|NaN)$/);
    assert.ok(m, `malformed line: ${JSON.stringify(line)}`);
    const family = m[1].replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(m[1]) || (types.get(family) === 'histogram'), `sample before its TYPE: ${line}`);
    samples.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return { types, samples };
}

test('admin listener: /metrics in the Prometheus text format, /healthz', async () => {
  const token = c.token({ tenant: c.uuid(), sub: c.uuid(), role: 'hq' });
  const client = c.client('location');
  const loc = await c.call(client, 'CreateLocation', { request_id: c.uuid(), name: 'Metrics', code: `M-${Date.now()}`, address: '', time_zone: 'UTC' }, token);
  for (let i = 0; i < 3; i++) await c.call(client, 'GetLocation', { id: loc.id }, token);
  await assert.rejects(c.call(client, 'GetLocation', { id: c.uuid() }, token), (e) => e.code === grpc.status.NOT_FOUND);
  await assert.rejects(c.call(client, 'GetLocation', { id: 'not-a-uuid' }, token), (e) => e.code === grpc.status.INVALID_ARGUMENT);

  const h = await get('/healthz');
  assert.equal(h.status, 200);

  const r = await get('/metrics');
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  const { types, samples } = parse(r.body);

  const s = (k) => samples.get(k);
  const req = (method, code) => s(`konnect_grpc_requests_total{method="/${SVC}/${method}",code="${code}"}`);
  assert.equal(types.get('konnect_grpc_requests_total'), 'counter');
  assert.equal(req('CreateLocation', 'OK'), 1, r.body);
  assert.equal(req('GetLocation', 'OK'), 3);
  assert.equal(req('GetLocation', 'NOT_FOUND'), 1);
  assert.equal(req('GetLocation', 'INVALID_ARGUMENT'), 1);

  assert.equal(types.get('konnect_grpc_request_duration_seconds'), 'histogram');
  const hist = (suffix, extra = '') => s(`konnect_grpc_request_duration_seconds_${suffix}{method="/${SVC}/GetLocation",code="OK"${extra}}`);
  assert.equal(hist('count'), 3);
  assert.equal(hist('bucket', ',le="+Inf"'), 3);
  assert.ok(hist('bucket', ',le="0.0005"') <= hist('bucket', ',le="5"'));
  assert.ok(hist('sum') > 0 && hist('sum') < 15);

  assert.ok(s('konnect_db_connections_open') >= 1, 'database connections are counted');
  assert.ok(s('konnect_db_connections_in_use') >= 0);
  assert.ok(s('konnect_db_errors_total') >= 0);
  for (const res of ['hit', 'miss', 'error']) assert.ok(s(`konnect_cache_requests_total{result="${res}"}`) >= 0);
  assert.equal(types.get('konnect_lock_wait_seconds'), 'histogram');
  assert.ok(s('konnect_process_start_time_seconds') > Date.now() / 1000 - 3600);
  assert.ok(s('konnect_process_resident_memory_bytes') > 1 << 20);
  const info = [...samples.keys()].filter((k) => /^konnect_build_info\{service="location-svc",version="[0-9.]+"\}$/.test(k));
  assert.equal(info.length, 1, 'konnect_build_info names the service and version');
  assert.equal(s(info[0]), 1);

  const nf = await get('/nope');
  assert.equal(nf.status, 404);
});
