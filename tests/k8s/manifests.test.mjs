// Renders both kustomize overlays offline and checks every object: schema
// validity (kubernetes-models), no unknown fields, an allowlist of
// apiVersions, and the operational policies of issue 7 (probes, resources,
// security context, pinned images, Services that select pods, env vars the
// code reads, ports the binaries listen on, NetworkPolicies = call graph).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { serviceEnvNames } from './env-names.mjs';

const require = createRequire(import.meta.url);
const SRC = process.env.KN_SOURCE_DIR || join(dirname(new URL(import.meta.url).pathname), '../..');
const MODELS = dirname(require.resolve('kubernetes-models'));

const API_ALLOWLIST = new Map([
  ['v1', ['Namespace', 'ConfigMap', 'Secret', 'Service', 'ServiceAccount']],
  ['apps/v1', ['Deployment', 'StatefulSet']],
  ['autoscaling/v2', ['HorizontalPodAutoscaler']],
  ['policy/v1', ['PodDisruptionBudget']],
  ['networking.k8s.io/v1', ['NetworkPolicy', 'Ingress']],
]);

// The synchronous call graph of SPEC §4 (caller → callee), plus the ingress.
const CALL_GRAPH = new Set([
  'ingress->gateway',
  'gateway->order-svc', 'gateway->assign-svc', 'gateway->location-svc',
  'assign-svc->order-svc', 'assign-svc->location-svc',
  'order-svc->location-svc',
]);
const SERVICES = ['location-svc', 'order-svc', 'assign-svc'];
const APPS = [...SERVICES, 'gateway'];

function render(overlay) {
  const out = execFileSync('kubectl', ['kustomize', join(SRC, 'k8s/overlays', overlay)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parseAllDocuments(out).map((d) => {
    assert.equal(d.errors.length, 0, `YAML error in ${overlay}: ${d.errors}`);
    const o = d.toJSON();
    delete o.status;
    // kustomize folds long base64 values over lines; the API server's
    // decoder skips the newlines, so compare as it does.
    if (o.kind === 'Secret') for (const k of Object.keys(o.data || {})) o.data[k] = o.data[k].replace(/\s+/g, '');
    return o;
  });
}

function schemaName(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['core', apiVersion];
  const g = group.replace('.k8s.io', '').split('.').map((p) => p[0].toUpperCase() + p.slice(1)).join('');
  return `IoK8sApi${g}${version[0].toUpperCase()}${version.slice(1)}${kind}`;
}

// The validators only read the properties their schema declares: a Proxy
// records what they read, and any key never read is unknown to Kubernetes.
function tracked(obj, path, seen) {
  if (obj === null || typeof obj !== 'object') return obj;
  return new Proxy(obj, {
    get(t, k) {
      if (typeof k !== 'string') return Reflect.get(t, k);
      seen.add(`${path}/${k}`);
      return tracked(t[k], `${path}/${k}`, seen);
    },
  });
}
function unknownKeys(obj, path, seen, out) {
  if (obj === null || typeof obj !== 'object') return;
  for (const k of Object.keys(obj)) {
    const p = `${path}/${k}`;
    if (!seen.has(p)) out.push(p);
    else unknownKeys(obj[k], p, seen, out);
  }
}

async function validateObject(o) {
  const kinds = API_ALLOWLIST.get(o.apiVersion);
  assert.ok(kinds && kinds.includes(o.kind), `${o.kind} ${o.metadata?.name}: apiVersion ${o.apiVersion} not allowed`);
  const file = join(MODELS, '_schemas', `${schemaName(o.apiVersion, o.kind)}.mjs`);
  const { validate } = await import(pathToFileURL(file));
  const seen = new Set();
  const ok = validate(tracked(o, '', seen));
  assert.ok(ok, `${o.kind}/${o.metadata.name}: ${JSON.stringify(validate.errors)}`);
  const unknown = [];
  unknownKeys(o, '', seen, unknown);
  assert.deepEqual(unknown, [], `${o.kind}/${o.metadata.name}: unknown fields`);
}

const workloads = (objs) => objs.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
const byKind = (objs, kind) => objs.filter((o) => o.kind === kind);
const matches = (sel, labels) => Object.entries(sel || {}).every(([k, v]) => labels?.[k] === v);

function configMapData(objs) {
  const data = {};
  for (const cm of byKind(objs, 'ConfigMap')) Object.assign(data, cm.data);
  return data;
}

function containerEnv(objs, c) {
  const env = new Map();
  const cms = new Map(byKind(objs, 'ConfigMap').map((cm) => [cm.metadata.name, cm.data || {}]));
  for (const from of c.envFrom || []) {
    const d = cms.get(from.configMapRef?.name);
    assert.ok(d, `envFrom refers to a missing ConfigMap ${from.configMapRef?.name}`);
    for (const [k, v] of Object.entries(d)) env.set(k, v);
  }
  for (const e of c.env || []) env.set(e.name, e.value ?? '<secret>');
  return env;
}

// Which app a NetworkPolicy peer selects (only podSelector by name here).
function peerApps(peer) {
  if (peer.namespaceSelector && !peer.podSelector) {
    return peer.namespaceSelector.matchLabels?.['kubernetes.io/metadata.name'] === 'ingress-nginx' ? ['ingress'] : ['other'];
  }
  const name = peer.podSelector?.matchLabels?.['app.kubernetes.io/name'];
  return name ? [name] : ['other'];
}

// Edges a policy lets in (on the callee) and lets out (on the caller); a call
// passes only when both allow it.
function policyEdges(objs) {
  const ingress = new Set();
  const egress = new Set();
  for (const np of byKind(objs, 'NetworkPolicy')) {
    const target = np.spec.podSelector?.matchLabels?.['app.kubernetes.io/name'];
    if (!target || !APPS.includes(target)) continue;
    for (const rule of np.spec.ingress || []) {
      for (const peer of rule.from || []) for (const a of peerApps(peer)) if (a !== 'other') ingress.add(`${a}->${target}`);
    }
    for (const rule of np.spec.egress || []) {
      for (const peer of rule.to || []) for (const a of peerApps(peer)) if (APPS.includes(a)) egress.add(`${target}->${a}`);
    }
  }
  return { ingress, egress };
}

for (const overlay of ['dev', 'prod']) {
  test(`${overlay}: renders and every object validates with no unknown fields`, async () => {
    const objs = render(overlay);
    assert.ok(objs.length > 20);
    for (const o of objs) await validateObject(o);
  });

  test(`${overlay}: every Konnect Deployment has probes, resources, security context, pinned image`, () => {
    const objs = render(overlay);
    const deps = byKind(objs, 'Deployment').filter((d) => APPS.includes(d.metadata.name));
    assert.deepEqual(deps.map((d) => d.metadata.name).sort(), [...APPS].sort());
    for (const d of deps) {
      const pod = d.spec.template.spec;
      const name = d.metadata.name;
      assert.equal(pod.securityContext.runAsNonRoot, true, name);
      assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault', name);
      assert.ok(pod.terminationGracePeriodSeconds * 1000 >
        Number(configMapData(objs).KN_SHUTDOWN_GRACE_MS) + (pod.containers[0].lifecycle.preStop.sleep.seconds * 1000), name);
      assert.ok(pod.topologySpreadConstraints?.length > 0, name);
      for (const c of pod.containers) {
        assert.match(c.image, /^[^:@]+:(?!latest$)[\w.-]+$/, `${name}: image tag pinned`);
        for (const p of ['startupProbe', 'readinessProbe', 'livenessProbe']) assert.ok(c[p], `${name}: ${p}`);
        if (SERVICES.includes(name)) {
          for (const p of ['startupProbe', 'readinessProbe', 'livenessProbe']) assert.ok(c[p].grpc, `${name}: ${p} is a native gRPC probe`);
          // A database outage must not restart the pods: liveness asks the
          // runtime's "liveness" health name, which ignores the database.
          assert.equal(c.livenessProbe.grpc.service, 'liveness', `${name}: liveness probe service`);
        }
        assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, `${name}: resources`);
        assert.equal(c.securityContext.readOnlyRootFilesystem, true, name);
        assert.equal(c.securityContext.allowPrivilegeEscalation, false, name);
        assert.deepEqual(c.securityContext.capabilities.drop, ['ALL'], name);
      }
      const hpa = byKind(objs, 'HorizontalPodAutoscaler').find((h) => h.spec.scaleTargetRef.name === name);
      assert.ok(hpa, `${name}: HPA`);
      if (overlay === 'prod') assert.ok(hpa.spec.minReplicas >= 2, `${name}: HPA min >= 2`);
      assert.ok(byKind(objs, 'PodDisruptionBudget').some((p) => matches(p.spec.selector.matchLabels, d.spec.template.metadata.labels)), `${name}: PDB`);
      assert.ok(matches(d.spec.selector.matchLabels, d.spec.template.metadata.labels), `${name}: selector matches template`);
    }
  });

  test(`${overlay}: every Service selects pods and targets a declared port`, () => {
    const objs = render(overlay);
    for (const s of byKind(objs, 'Service')) {
      const w = workloads(objs).filter((x) => matches(s.spec.selector, x.spec.template.metadata.labels));
      assert.ok(w.length > 0, `Service ${s.metadata.name} selects no pods`);
      for (const p of s.spec.ports) {
        const names = w.flatMap((x) => x.spec.template.spec.containers.flatMap((c) => (c.ports || []).map((cp) => cp.name)));
        assert.ok(names.includes(p.targetPort), `Service ${s.metadata.name}: targetPort ${p.targetPort}`);
      }
      if (SERVICES.includes(s.metadata.name)) assert.equal(s.spec.clusterIP, 'None', `${s.metadata.name} is headless for dns:/// round robin`);
    }
  });

  test(`${overlay}: env vars the code reads are set, and ports match what the binaries listen on`, () => {
    const objs = render(overlay);
    for (const app of APPS) {
      const d = byKind(objs, 'Deployment').find((x) => x.metadata.name === app);
      const c = d.spec.template.spec.containers[0];
      const env = containerEnv(objs, c);
      for (const name of serviceEnvNames(SRC, app)) assert.ok(env.has(name), `${app}: ${name} is not set`);
      const listen = env.get(app === 'gateway' ? 'KN_GATEWAY_LISTEN' : `KN_${app.replace('-', '_').toUpperCase()}_LISTEN`);
      const port = Number(listen.split(':').pop());
      const declared = c.ports.map((p) => p.containerPort);
      assert.ok(declared.includes(port), `${app}: listens on ${port}, declares ${declared}`);
      for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
        const p = c[probe].grpc?.port ?? c.ports.find((x) => x.name === c[probe].httpGet?.port)?.containerPort;
        assert.equal(p, port, `${app}: ${probe} port`);
      }
    }
  });

  test(`${overlay}: NetworkPolicies deny by default and allow exactly the call graph`, () => {
    const objs = render(overlay);
    const deny = byKind(objs, 'NetworkPolicy').find((n) => Object.keys(n.spec.podSelector).length === 0 &&
      !n.spec.ingress && !n.spec.egress && n.spec.policyTypes.includes('Ingress') && n.spec.policyTypes.includes('Egress'));
    assert.ok(deny, 'a default-deny policy');
    const { ingress, egress } = policyEdges(objs);
    assert.deepEqual([...ingress].sort(), [...CALL_GRAPH].sort());
    assert.deepEqual([...egress].sort(), [...CALL_GRAPH].filter((e) => !e.startsWith('ingress->')).sort());
  });
}
