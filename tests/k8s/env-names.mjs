// The environment variables a binary reads, found in its sources: every
// "KN_..." string literal of the app's folder, and for the three services
// the shared settings of common/kn_config.c, whose per-service names are
// composed from the service's prefix and a "_SUFFIX" literal.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const LITERAL = /"(KN_[A-Z0-9_]*[A-Z0-9])"/g;
const SUFFIX = /"(_[A-Z][A-Z0-9_]*)"/g;
const IGNORED = /^KN_(TEST_|VERSION$|DEFAULT_)/;

function literals(file, re) {
  return [...readFileSync(file, 'utf8').matchAll(re)].map((m) => m[1]);
}

function cFiles(dir) {
  return readdirSync(dir).filter((f) => f.endsWith('.c')).map((f) => join(dir, f));
}

export function serviceEnvNames(src, app) {
  const names = new Set();
  for (const f of cFiles(join(src, app))) for (const n of literals(f, LITERAL)) names.add(n);
  if (app !== 'gateway') {
    const config = join(src, 'common/kn_config.c');
    for (const n of literals(config, LITERAL)) names.add(n);
    const prefix = `KN_${app.replace('-', '_').toUpperCase()}`;
    for (const s of literals(config, SUFFIX)) names.add(prefix + s);
  }
  return [...names].filter((n) => !IGNORED.test(n) && !n.endsWith('_'));
}
