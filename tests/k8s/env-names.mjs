// The environment variables a binary reads, found in its sources: every
// "KN_..." string literal of the app's folder and of the common/ files it
// runs (all of them for the services; the logger for the gateway), and for
// the three services the per-service settings of common/kn_config.c, whose per-service names are
// composed by env_name(..., service, "SUFFIX") as KN_<SERVICE>_SUFFIX.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const LITERAL = /"(KN_[A-Z0-9_]*[A-Z0-9])"/g;
const SUFFIX = /env_name\([^;]*?service, "([A-Z][A-Z0-9_]*)"\)/g;
// Test hooks, compile-time names, and KN_NEW_PASSWORD (read only by the
// operator's `assign-svc create-tenant` command, never by the server).
const IGNORED = /^KN_(TEST_|VERSION$|DEFAULT_|NEW_PASSWORD$)/;

function literals(file, re) {
  return [...readFileSync(file, 'utf8').matchAll(re)].map((m) => m[1]);
}

function cFiles(dir) {
  return readdirSync(dir).filter((f) => f.endsWith('.c')).map((f) => join(dir, f));
}

export function serviceEnvNames(src, app) {
  const names = new Set();
  for (const f of cFiles(join(src, app))) for (const n of literals(f, LITERAL)) names.add(n);
  const common = app === 'gateway' ? [join(src, 'common/kn_log.c')] : cFiles(join(src, 'common'));
  for (const f of common) for (const n of literals(f, LITERAL)) names.add(n);
  if (app !== 'gateway') {
    const config = join(src, 'common/kn_config.c');
    const prefix = `KN_${app.replace('-', '_').toUpperCase()}`;
    for (const s of literals(config, SUFFIX)) names.add(`${prefix}_${s}`);
  }
  return [...names].filter((n) => !IGNORED.test(n) && !n.endsWith('_'));
}
