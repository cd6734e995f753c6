// Small helpers shared by the bench scripts and tests/bench/run.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';

// `--name value` from argv, or def.
export function arg(name, def, argv = process.argv) {
  const i = argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < argv.length ? argv[i + 1] : def;
}

// The nearest-rank-below percentile of the scripts' first versions:
// sorted[floor(p% of n)], clamped.
export const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const loadavg = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// CPU seconds (user + system) used so far by pid, and by pid plus its
// direct children (nginx: the master and its workers).
const TICK = 100; // USER_HZ
export function cpuOf(pid) {
  const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK; // utime, stime
}
export function cpuTree(pid) {
  let total = cpuOf(pid);
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) total += cpuOf(Number(d));
    } catch { /* gone */ }
  }
  return total;
}

// A /proc/<pid>/status memory figure (VmHWM, VmRSS) in MiB.
export function vm(pid, key) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(s);
  return m ? Number(m[1]) / 1024 : NaN;
}

// wrk / h2load duration strings ("812.00us", "1.2ms", "3s") -> ms.
export function toMs(v) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v);
  if (!m) return NaN;
  const x = Number(m[1]);
  return { us: x / 1000, ms: x, s: x * 1000, m: x * 60000 }[m[2]];
}

// Busy share of all CPUs over the next `ms` (from /proc/stat).
async function busyOver(ms) {
  const read = () => {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] ?? 0); // idle + iowait
    return { idle, total: f.reduce((s, x) => s + x, 0) };
  };
  const a = read();
  await sleep(ms);
  const b = read();
  return b.total > a.total ? 1 - (b.idle - a.idle) / (b.total - a.total) : 0;
}

/**
 * Waits until the machine is quiet (under `maxBusy` of all CPUs busy for
 * two seconds in a row, e.g. after a checkpoint or autovacuum an earlier
 * part set off), at most `limitS` seconds. Resolves { s, busy } (busy: the
 * last second's share).
 */
export async function settle({ maxBusy = 0.15, limitS = 45 } = {}) {
  const t0 = Date.now();
  let quiet = 0;
  let busy = 1;
  while (quiet < 2 && Date.now() - t0 < limitS * 1000) {
    busy = await busyOver(1000);
    quiet = busy < maxBusy ? quiet + 1 : 0;
  }
  return { s: (Date.now() - t0) / 1000, busy };
}
