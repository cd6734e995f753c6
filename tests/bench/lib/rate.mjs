// A constant-rate HTTP/1.1 load generator (wrk2-style; wrk2 is not in
// Debian). Requests are due at fixed times (start + i / rate); each is sent
// on an idle keep-alive connection as soon as it is due, or waits for one.
// Latency is measured from the time the request was DUE, not from when it
// could be sent, so a server that falls behind shows it in the tail
// (no coordinated omission). Raw sockets with a minimal response parser
// (status line, headers, Content-Length body) keep the generator's own cost
// low enough for tens of thousands of requests per second from one Node
// process; it reports when it could not keep up (achieved < target).
import net from 'node:net';

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

// One keep-alive connection: send(req bytes) -> promise of { status }.
class Conn {
  constructor(host, port, onFree) {
    this.sock = net.connect({ host, port });
    this.sock.setNoDelay(true);
    this.buf = Buffer.alloc(0);
    this.pending = null; // { due, resolve }
    this.onFree = onFree;
    this.ready = new Promise((res, rej) => {
      this.sock.once('connect', res);
      this.sock.once('error', rej);
    });
    this.sock.on('data', (d) => this._data(d));
    this.sock.on('error', () => {});
    this.sock.on('close', () => {
      this.closed = true;
      if (this.pending) {
        const p = this.pending;
        this.pending = null;
        p.done(0);
      }
    });
  }

  send(bytes, done) {
    this.pending = { done };
    this.sock.write(bytes);
  }

  _data(d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buf.subarray(0, end).toString('latin1');
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const len = m ? Number(m[1]) : 0;
      if (this.buf.length < end + 4 + len) return;
      const status = Number(head.slice(9, 12));
      this.buf = this.buf.subarray(end + 4 + len);
      const p = this.pending;
      this.pending = null;
      if (p) p.done(status);
      this.onFree(this);
    }
  }
}

/**
 * runFixedRate({ host, port, path, headers, rate, durationS, warmupS, connections })
 * -> { target, achieved, sent, completed, non2xx, errors, p50, p90, p99, p999, max } (ms)
 */
export async function runFixedRate({ host = '127.0.0.1', port, path, headers = {}, rate, durationS = 10, warmupS = 0, connections = 64 }) {
  const lines = [`GET ${path} HTTP/1.1`, `Host: ${host}:${port}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  const bytes = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  const idle = [];
  const conns = [];
  for (let i = 0; i < connections; i++) {
    const c = new Conn(host, port, (cc) => idle.push(cc));
    conns.push(c);
  }
  await Promise.all(conns.map((c) => c.ready));
  idle.push(...conns);

  const lat = [];
  let sent = 0, completed = 0, non2xx = 0, errors = 0;
  // The first warmupS seconds run at the rate on the same connections but
  // are not counted (as wrk2 calibrates, and as h2load's --warm-up-time):
  // the counted requests start on warm connections and a warm generator.
  const skip = Math.round(rate * warmupS);
  const total = skip + Math.round(rate * durationS);
  const interval = 1000 / rate;
  const t0 = now() + 5;
  let next = 0; // index of the next due request
  let done = 0; // answered or failed, counted or not

  await new Promise((resolve) => {
    const tick = () => {
      const t = now();
      while (next < total && t0 + next * interval <= t) {
        const c = idle.pop();
        if (!c) break; // all busy: the due requests wait (their latency grows)
        if (c.closed) continue;
        const due = t0 + next * interval;
        const counted = next >= skip;
        next++;
        if (counted) sent++;
        c.send(bytes, (status) => {
          done++;
          if (counted && status === 0) errors++;
          else if (counted) {
            completed++;
            if (status < 200 || status > 299) non2xx++;
            lat.push(now() - due);
          }
          if (done >= total) resolve();
        });
      }
      if (next < total) setTimeout(tick, 1);
      else if (done >= total) resolve();
    };
    tick();
    // Give up on stragglers well after the end.
    setTimeout(resolve, (warmupS + durationS) * 1000 + 15000).unref();
  });
  const elapsed = (now() - t0) / 1000 - warmupS;
  for (const c of conns) c.sock.destroy();
  lat.sort((a, b) => a - b);
  return {
    target: rate,
    achieved: Math.round(completed / elapsed),
    sent, completed, non2xx, errors,
    p50: percentile(lat, 50), p90: percentile(lat, 90), p99: percentile(lat, 99),
    p999: percentile(lat, 99.9), max: lat.length ? lat[lat.length - 1] : NaN,
  };
}
