// The gRPC runtime pair (issue 8, item 1): h2load on a unary gRPC method
// of a Konnect service against h2load on nghttpd serving a static response
// of the same size, at the same :path, with the same request headers and
// body, the same connections, streams and threads, in the same run.
//
// h2load speaks gRPC well enough for this: POST of a file holding the
// 5-byte length-prefixed request message, content-type application/grpc,
// te: trailers. Its "2xx" count cannot see a gRPC error (the status is in
// the trailers), so a run counts only when the DATA bytes per answer equal
// the size of the expected message (checked by an untimed run of 256
// requests before the timed ones): an error answer has no DATA frame.
// nghttpd adds a grpc-status trailer so both answers have the same shape
// (HEADERS, DATA, trailing HEADERS).
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { grpc } from '../../../scripts/lib/cluster.mjs';
import { freePort, pct, sleep } from './common.mjs';

// The 5-byte gRPC message prefix (uncompressed, big-endian length) + message.
export function frame(msg) {
  const b = Buffer.alloc(5 + msg.length);
  b.writeUInt32BE(msg.length, 1);
  msg.copy(b, 5);
  return b;
}

// Protobuf field 1 as a length-delimited string (GetOrderRequest.id).
export const pbString1 = (s) => {
  const v = Buffer.from(s, 'utf8');
  if (v.length > 127) throw new Error('pbString1: only short strings');
  return Buffer.concat([Buffer.from([0x0a, v.length]), v]);
};

/** One raw unary call; resolves the response message bytes. */
export function rawUnary(addr, methodPath, reqMsg, token) {
  const client = new grpc.Client(addr, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(methodPath, (b) => b, (b) => b, reqMsg, md, { deadline: Date.now() + 10_000 }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res);
    });
  });
}

/** nghttpd over h2c serving `files` { urlPath: bytes }; 2 worker threads. */
export async function startNghttpd(dir, files, { workers = 2 } = {}) {
  const htdocs = path.join(dir, 'htdocs');
  for (const [p, bytes] of Object.entries(files)) {
    fs.mkdirSync(path.join(htdocs, path.dirname(p)), { recursive: true });
    fs.writeFileSync(path.join(htdocs, p), bytes);
  }
  const port = await freePort();
  const proc = spawn('nghttpd', ['--no-tls', '-d', htdocs, '-n', String(workers), '--trailer', 'grpc-status: 0', '--address', '127.0.0.1', String(port)],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : proc.once('exit', r)));
    }
  };
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`nghttpd exited: ${err}`);
    const up = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (up) return { port, pid: proc.pid, addr: `127.0.0.1:${port}`, stop };
    await sleep(50);
  }
  await stop();
  throw new Error(`nghttpd did not listen on ${port}: ${err}`);
}

/**
 * h2load against http://addr{urlPath}, POSTing reqFile. opts: { clients,
 * streams, threads, duration, warmup (s), headers {}, logFile }. Resolves
 * { rps, ok, failed, errored, dataBytes, p50, p99, mean, cmd }.
 */
export function h2load(addr, urlPath, reqFile, { clients = 16, streams = 16, threads = 2, duration = 10, warmup = 2, headers = {}, logFile, requests }) {
  const hdr = { 'content-type': 'application/grpc', te: 'trailers', ...headers };
  const load = requests ? [`-n${requests}`] : [`-D${duration}`, `--warm-up-time=${warmup}`];
  const args = [`-c${clients}`, `-m${streams}`, `-t${threads}`, ...load,
    ...Object.entries(hdr).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), '-d', reqFile, ...(logFile ? ['--log-file', logFile] : []), `http://${addr}${urlPath}`];
  const shown = args.map((a) => (a.startsWith('authorization:') ? "'authorization: Bearer <token>'" : /\s/.test(a) ? `'${a}'` : a)).join(' ');
  return new Promise((resolve, reject) => {
    execFile('h2load', args, { encoding: 'utf8', maxBuffer: 1 << 24, timeout: (duration + warmup + 30) * 1000 }, (e, out) => {
      if (e) return reject(new Error(`h2load failed: ${e.message}\n${out ?? ''}`));
      const num = (re) => Number(re.exec(out)?.[1] ?? NaN);
      const rps = num(/finished in [\d.]+\w+, ([\d.]+) req\/s/);
      const ok = num(/(\d+) succeeded/);
      const failed = num(/(\d+) failed/);
      const errored = num(/(\d+) errored/);
      // "traffic: 1.23MB (1289482) total, 12.3KB (12345) headers (space savings ..), 4.5MB (4500000) data"
      // (with a warm-up, the traffic counts include the warm-up's answers).
      const dataBytes = num(/\((\d+)\) data/);
      let lat = [];
      try {
        if (logFile) lat = fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => Number(l.split('\t')[2]) / 1000);
      } catch { /* no log */ }
      lat.sort((a, b) => a - b);
      const mean = lat.length ? lat.reduce((s, x) => s + x, 0) / lat.length : NaN;
      resolve({
        rps, ok, failed, errored, dataBytes,
        p50: lat.length ? pct(lat, 50) : NaN, p99: lat.length ? pct(lat, 99) : NaN, mean,
        cmd: `h2load ${shown}`,
      });
    });
  });
}

/**
 * One pair: the service's method against nghttpd's file of the same size.
 * spec: { name, addr (service), methodPath, reqMsg, token, nghttpd (from
 * startNghttpd, serving respFrame at methodPath), respFrame, first:
 * 'system'|'reference' }; opts: h2load's. Resolves { name, bytes, system,
 * reference, ratio, valid, problems }.
 */
export async function grpcPair(dir, spec, opts) {
  const reqFile = path.join(dir, `${spec.name}.req`);
  fs.writeFileSync(reqFile, frame(spec.reqMsg));
  const headers = spec.token ? { authorization: `Bearer ${spec.token}` } : {};
  const run = (who, addr) => h2load(addr, spec.methodPath, reqFile, { ...opts, headers, logFile: path.join(dir, `${spec.name}.${who}.log`) });
  // Untimed check first: 256 requests, every answer must carry exactly
  // one message of the expected size (a gRPC error answer has no DATA).
  const problems = [];
  const CHECK = 256;
  for (const [who, addr] of [['system', spec.addr], ['reference', spec.nghttpd.addr]]) {
    const r = await h2load(addr, spec.methodPath, reqFile, { ...opts, threads: 1, requests: CHECK, headers });
    if (r.ok !== CHECK || r.dataBytes !== CHECK * spec.respFrame.length) {
      problems.push(`${who}: check run: ${r.ok}/${CHECK} succeeded, ${r.dataBytes} DATA bytes (expected ${CHECK * spec.respFrame.length}; a gRPC error carries none)`);
    }
  }
  let system, reference;
  if (spec.first === 'reference') {
    reference = await run('reference', spec.nghttpd.addr);
    system = await run('system', spec.addr);
  } else {
    system = await run('system', spec.addr);
    reference = await run('reference', spec.nghttpd.addr);
  }
  for (const [who, r] of [['system', system], ['reference', reference]]) {
    if (!(r.ok > 0)) problems.push(`${who}: no request succeeded`);
    if (r.failed > 0 || r.errored > 0) problems.push(`${who}: ${r.failed} failed, ${r.errored} errored`);
  }
  return { name: spec.name, bytes: spec.respFrame.length, system, reference, ratio: system.rps / reference.rps, valid: problems.length === 0, problems };
}

/**
 * Client-side latency of one unary request at `clients` concurrent callers,
 * measured by h2load (one stream per connection, so `clients` calls are in
 * flight at any time): a C load generator that costs the 2 cores little,
 * where a Node gRPC client spent as much CPU per call as the service. The
 * expected answer is fetched once (a gRPC error rejects); an untimed check
 * run must get exactly that answer size every time; the timed run lasts
 * `duration` s after `warmup` s (connection setup is in the warm-up, and
 * h2load logs only the timed calls). spec: { dir, name, addr, method
 * (client ctor's service entry: path + requestSerialize), request (object),
 * token, headers }. Resolves { lat (ms, sorted), rps, problems, cmd, bytes }.
 */
export async function h2Latency(spec, { clients = 8, duration = 1, warmup = 1 } = {}) {
  const reqMsg = spec.method.requestSerialize(spec.request);
  const resp = await rawUnary(spec.addr, spec.method.path, reqMsg, spec.token);
  const reqFile = path.join(spec.dir, `${spec.name}.req`);
  const logFile = path.join(spec.dir, `${spec.name}.log`);
  fs.writeFileSync(reqFile, frame(reqMsg));
  fs.rmSync(logFile, { force: true });
  const headers = { ...(spec.token ? { authorization: `Bearer ${spec.token}` } : {}), ...(spec.headers ?? {}) };
  const bytes = resp.length + 5;
  const problems = [];
  const CHECK = 32;
  const check = await h2load(spec.addr, spec.method.path, reqFile, { clients, streams: 1, threads: 1, requests: CHECK, headers });
  if (check.ok !== CHECK || check.dataBytes !== CHECK * bytes) {
    problems.push(`${spec.name}: check run: ${check.ok}/${CHECK} succeeded, ${check.dataBytes} DATA bytes (expected ${CHECK * bytes})`);
  }
  const r = await h2load(spec.addr, spec.method.path, reqFile, { clients, streams: 1, threads: 1, duration, warmup, headers, logFile });
  // The DATA count includes the warm-up's answers: a whole number of them.
  if (!(r.ok > 0) || r.failed > 0 || r.errored > 0 || r.dataBytes % bytes !== 0 || r.dataBytes < r.ok * bytes) {
    problems.push(`${spec.name}: ${r.ok} succeeded, ${r.failed} failed, ${r.errored} errored, ${r.dataBytes} DATA bytes (answers of ${bytes})`);
  }
  const lat = fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => Number(l.split('\t')[2]) / 1000);
  lat.sort((a, b) => a - b);
  return { lat, rps: r.rps, problems, cmd: r.cmd, bytes };
}
