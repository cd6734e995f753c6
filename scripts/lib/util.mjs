// Small process, port and file helpers shared by cluster.mjs and the
// cluster CLI. Nothing here knows about Konnect.
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A port nobody listens on right now. The kernel picks it; `taken` keeps one
// cluster from receiving the same port twice before its processes bind.
export async function freePort(taken = new Set()) {
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const srv = net.createServer();
      srv.unref();
      srv.on('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const { port: p } = srv.address();
        srv.close(() => resolve(p));
      });
    });
    if (!taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
}

// true when something accepts TCP connections on 127.0.0.1:port.
export function portInUse(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setTimeout(500);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('timeout', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(false));
  });
}

// Runs a command to completion; rejects with its output on a non-zero exit.
export function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 << 20, ...opts }, (err, stdout, stderr) => {
      if (err) {
        err.message = `${cmd} ${args.join(' ')} failed (${err.code ?? err.signal}):\n${stdout}${stderr}`;
        reject(err);
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}

// Sends PING over a raw TCP connection; resolves true on +PONG.
export function redisPing(port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (v) => { s.destroy(); resolve(v); };
    s.setTimeout(timeoutMs);
    s.once('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
    s.once('timeout', () => done(false));
    s.once('error', () => done(false));
  });
}

// The kernel's start time of a pid (field 22 of /proc/PID/stat), or null when
// no such process. A pid file stores it beside the pid so that a pid reused
// by an unrelated process is never signalled.
export function procStartTime(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); field 22 is rest[19].
    if (rest[0] === 'Z') return null;
    return rest[19];
  } catch {
    return null;
  }
}

export function writePidFile(path, pid) {
  const st = procStartTime(pid);
  fs.writeFileSync(path, `${pid} ${st ?? ''}\n`);
}

// The pid recorded in the file when that very process still runs, else null.
export function livePidFromFile(path) {
  let text;
  try {
    text = fs.readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
  const [pidS, st] = text.split(/\s+/);
  const pid = Number(pidS);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const now = procStartTime(pid);
  if (now === null || (st && now !== st)) return null;
  return pid;
}

// Waits until the pid is gone (polling /proc: works for non-children too).
export async function waitPidGone(pid, timeoutMs) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (procStartTime(pid) === null) return true;
    await sleep(50);
  }
  return procStartTime(pid) === null;
}

// The last `n` characters of a file, '' when it does not exist.
export function tail(path, n = 4000) {
  try {
    const text = fs.readFileSync(path, 'utf8');
    return text.length > n ? '…' + text.slice(-n) : text;
  } catch {
    return '';
  }
}

// Spawns with stdout+stderr appended to logPath.
export function spawnLogged(cmd, args, { env, logPath, detached = false, cwd } = {}) {
  const fd = fs.openSync(logPath, 'a');
  try {
    const child = spawn(cmd, args, { env, cwd, detached, stdio: ['ignore', fd, fd] });
    return child;
  } finally {
    fs.closeSync(fd);
  }
}
