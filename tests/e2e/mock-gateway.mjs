// An in-memory stand-in for the gateway's HTTP API (SPEC §6), only the routes
// the HQ page uses, plus the static files of gateway/web. It lets the browser
// tests run (KN_E2E_MOCK=1) and the page be developed while the real cluster
// is not there; the tests' default is the real cluster.
//
//   node tests/e2e/mock-gateway.mjs [port]   # serves with demo data

import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const WEB = path.resolve(here, '../../gateway/web');
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };

export function createMock() {
  const tenant = { id: randomUUID(), code: 'demo', name: 'Demo' };
  const db = { users: [], locations: [], doors: [], packages: [], orders: [], history: [], activity: [], idem: new Map(), tokens: new Map(), seq: 0 };
  const now = () => new Date().toISOString();
  const err = (status, code, message) => Object.assign(new Error(message), { status, code });
  const notFound = () => err(404, 5, 'not found');

  function act(kind, pkg, extra = {}) {
    const loc = db.locations.find((l) => l.id === pkg.locationId);
    const door = db.doors.find((d) => d.id === pkg.doorId);
    const order = db.orders.find((o) => o.id === (extra.orderId ?? pkg.orderId));
    db.activity.push({
      id: randomUUID(), time: now(), kind, actorUserId: extra.actor || '', locationId: pkg.locationId, doorId: pkg.doorId || '',
      packageId: pkg.id, orderId: order ? order.id : '', barcode: pkg.barcode, trackingNumber: pkg.trackingNumber,
      detail: extra.detail || '', orderIdentifier: order ? order.identifier : '', doorLabel: door ? door.label : '', locationName: loc ? loc.name : '',
    });
  }
  function hist(order, kind, actor, detail) {
    db.history.push({ id: randomUUID(), orderId: order.id, time: now(), actorUserId: actor, kind, detail: detail || '' });
  }
  function touch(o) {
    o.updateTime = now();
    o.etag = randomUUID().slice(0, 8);
  }
  function setPkgAssignee(ids, userId, actor) {
    for (const id of ids) {
      const p = db.packages.find((x) => x.id === id);
      p.assigneeUserId = userId;
      p.updateTime = now();
      act(userId ? 'ACTIVITY_KIND_ASSIGNED' : 'ACTIVITY_KIND_UNASSIGNED', p, { actor });
    }
  }
  function page(list, q, max = 500) {
    const size = Math.min(Number(q.pageSize) || 50, max);
    const start = Number(q.pageToken || 0);
    const items = list.slice(start, start + size);
    const next = start + size < list.length ? String(start + size) : '';
    return { items, next };
  }
  const strip = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== '' && v !== undefined && !(Array.isArray(v) && !v.length)));
  const publicUser = ({ password, ...u }) => strip(u);
  const enumOf = (v, prefix) => (!v ? '' : v.startsWith(prefix) ? v : prefix + v);

  const api = {
    addUser(u) {
      const user = { id: randomUUID(), tenantId: tenant.id, displayName: u.displayName, email: u.email, employeeNumber: u.employeeNumber || '', role: u.role || 'USER_ROLE_TECHNICIAN', active: true, createTime: now(), password: u.password || 'password123' };
      if (db.users.some((x) => x.email === user.email)) throw err(409, 6, 'email already exists');
      db.users.push(user);
      return user;
    },
    addLocation(l) {
      const loc = { id: randomUUID(), tenantId: tenant.id, name: l.name, code: l.code || '', address: l.address || '', timeZone: l.timeZone || 'UTC', createTime: now() };
      db.locations.push(loc);
      return loc;
    },
    addDoor(locationId, d) {
      const door = { id: randomUUID(), locationId, tenantId: tenant.id, label: d.label, size: d.size || 'DOOR_SIZE_M', state: 'DOOR_STATE_EMPTY', multiItem: !!d.multiItem, createTime: now() };
      db.doors.push(door);
      return door;
    },
    addPackage(p) {
      const pkg = { id: randomUUID(), tenantId: tenant.id, barcode: p.barcode, trackingNumber: p.trackingNumber || '', carrier: p.carrier || '', description: p.description || '', locationId: p.locationId, doorId: '', state: 'PACKAGE_STATE_EXPECTED', assigneeUserId: '', orderId: '', createTime: now(), updateTime: now() };
      db.packages.push(pkg);
      act('ACTIVITY_KIND_PACKAGE_REGISTERED', pkg);
      if (p.doorId) api.deliver(pkg.id, p.doorId);
      return pkg;
    },
    deliver(id, doorId) {
      const pkg = db.packages.find((x) => x.id === id);
      pkg.doorId = doorId;
      pkg.state = 'PACKAGE_STATE_IN_LOCKER';
      db.doors.find((d) => d.id === doorId).state = 'DOOR_STATE_OCCUPIED';
      act('ACTIVITY_KIND_DELIVERED', pkg);
      return pkg;
    },
    createOrder(body, actor) {
      const loc = db.locations.find((l) => l.id === body.locationId);
      if (!loc) throw err(400, 3, 'location_id: unknown location');
      const ids = body.packageIds || [];
      if (!ids.length) throw err(400, 3, 'package_ids: at least one package');
      for (const id of ids) {
        const p = db.packages.find((x) => x.id === id);
        if (!p) throw err(400, 3, `package_ids: unknown package ${id}`);
        if (p.orderId) throw err(400, 9, `package ${p.barcode} is in another order`);
        if (p.locationId !== loc.id) throw err(400, 9, `package ${p.barcode} is at another location`);
      }
      db.seq += 1;
      const o = { id: randomUUID(), tenantId: tenant.id, type: body.type || 'ORDER_TYPE_JOB', identifier: body.identifier || `JO-${String(db.seq).padStart(6, '0')}`, status: 'ORDER_STATUS_ACTIVE', locationId: loc.id, packageIds: [...ids], stockLines: [], assigneeUserId: '', createTime: now() };
      if (db.orders.some((x) => x.identifier === o.identifier)) throw err(409, 6, 'identifier already exists');
      touch(o);
      db.orders.push(o);
      for (const id of ids) {
        const p = db.packages.find((x) => x.id === id);
        p.orderId = o.id;
        act('ACTIVITY_KIND_ADDED_TO_ORDER', p, { actor });
      }
      hist(o, 'ORDER_HISTORY_KIND_CREATED', actor);
      if (body.assigneeUserId) api.assignOrder(o, body.assigneeUserId, actor);
      return o;
    },
    assignOrder(o, userId, actor) {
      if (o.status !== 'ORDER_STATUS_ACTIVE') throw err(400, 9, 'order is not active');
      const u = db.users.find((x) => x.id === userId);
      if (!u) throw err(404, 5, 'user not found');
      o.assigneeUserId = userId;
      touch(o);
      setPkgAssignee(o.packageIds, userId, actor);
      hist(o, 'ORDER_HISTORY_KIND_ASSIGNED', actor, u.displayName);
    },
    db,
    tenant,
  };

  async function handle(method, url, headers, body) {
    const auth = (headers.authorization || '').replace(/^Bearer /, '');
    const me = db.tokens.get(auth);
    const p = url.pathname;
    const q = Object.fromEntries(url.searchParams);
    let m;
    if (method === 'POST' && p === '/v1/login') {
      const u = db.users.find((x) => x.email === body.email && x.password === body.password && body.tenant === tenant.code);
      if (!u) throw err(401, 16, 'login failed');
      const token = randomUUID();
      db.tokens.set(token, u);
      return { token, expiresAt: new Date(Date.now() + 3600e3).toISOString(), user: publicUser(u) };
    }
    if (!me) throw err(401, 16, 'missing or bad token');
    const actor = me.id;

    if (method === 'GET' && p === '/v1/orders') {
      let list = [...db.orders].reverse();
      const st = enumOf(q.status, 'ORDER_STATUS_');
      if (st) list = list.filter((o) => o.status === st);
      const as = enumOf(q.assignment, 'ASSIGNMENT_FILTER_');
      if (as === 'ASSIGNMENT_FILTER_ASSIGNED') list = list.filter((o) => o.assigneeUserId);
      if (as === 'ASSIGNMENT_FILTER_UNASSIGNED') list = list.filter((o) => !o.assigneeUserId);
      if (q.locationId) list = list.filter((o) => o.locationId === q.locationId);
      if (q.type) list = list.filter((o) => o.type === enumOf(q.type, 'ORDER_TYPE_'));
      if (q.startDate) list = list.filter((o) => o.createTime.slice(0, 10) >= q.startDate);
      if (q.endDate) list = list.filter((o) => o.createTime.slice(0, 10) <= q.endDate);
      const r = page(list, q);
      return { orders: r.items.map(strip), nextPageToken: r.next };
    }
    if (method === 'POST' && p === '/v1/orders') {
      const key = headers['idempotency-key'];
      if (key && db.idem.has(key)) return strip(db.idem.get(key));
      const o = api.createOrder(body, actor);
      if (key) db.idem.set(key, o);
      return strip(o);
    }
    if ((m = p.match(/^\/v1\/orders\/([^/:]+)(?::(\w+))?$/))) {
      const o = db.orders.find((x) => x.id === m[1]);
      if (!o) throw notFound();
      const verb = m[2];
      if (!verb && method === 'GET') return { __etag: `"${o.etag}"`, ...strip(o) };
      if (!verb && method === 'PATCH') {
        if ((headers['if-match'] || '').replace(/"/g, '') !== o.etag) throw err(412, 10, 'etag is stale');
        if (!body.identifier) throw err(400, 3, 'identifier: must not be empty');
        if (db.orders.some((x) => x !== o && x.identifier === body.identifier)) throw err(409, 6, 'identifier already exists');
        if (o.status !== 'ORDER_STATUS_ACTIVE') throw err(400, 9, 'order is not active');
        const before = o.identifier;
        o.identifier = body.identifier;
        touch(o);
        hist(o, 'ORDER_HISTORY_KIND_IDENTIFIER_CHANGED', actor, `${before} → ${o.identifier}`);
        return strip(o);
      }
      if (method === 'POST' && verb === 'assign') {
        api.assignOrder(o, body.userId, actor);
        return { orderId: o.id, afterUserId: body.userId, state: 'ASSIGNMENT_STATE_DONE' };
      }
      if (method === 'POST' && verb === 'unassign') {
        if (o.status !== 'ORDER_STATUS_ACTIVE') throw err(400, 9, 'order is not active');
        o.assigneeUserId = '';
        touch(o);
        setPkgAssignee(o.packageIds, '', actor);
        hist(o, 'ORDER_HISTORY_KIND_UNASSIGNED', actor);
        return { orderId: o.id, state: 'ASSIGNMENT_STATE_DONE' };
      }
      if (method === 'POST' && verb === 'cancel') {
        if (headers['if-match'] && headers['if-match'].replace(/"/g, '') !== o.etag) throw err(412, 10, 'etag is stale');
        if (o.status !== 'ORDER_STATUS_ACTIVE') throw err(400, 9, 'order is not active');
        o.status = 'ORDER_STATUS_CANCELLED';
        o.cancelTime = now();
        touch(o);
        for (const id of o.packageIds) {
          const pk = db.packages.find((x) => x.id === id);
          pk.orderId = '';
          act('ACTIVITY_KIND_REMOVED_FROM_ORDER', pk, { actor, orderId: o.id });
        }
        hist(o, 'ORDER_HISTORY_KIND_CANCELLED', actor);
        return strip(o);
      }
    }
    if ((m = p.match(/^\/v1\/orders\/([^/]+)\/packages:(add|remove)$/)) && method === 'POST') {
      const o = db.orders.find((x) => x.id === m[1]);
      if (!o) throw notFound();
      if (headers['if-match'] && headers['if-match'].replace(/"/g, '') !== o.etag) throw err(412, 10, 'etag is stale');
      if (o.status !== 'ORDER_STATUS_ACTIVE') throw err(400, 9, 'order is not active');
      const ids = body.packageIds || [];
      if (m[2] === 'add') {
        for (const id of ids) {
          const pk = db.packages.find((x) => x.id === id);
          if (!pk || pk.orderId || pk.locationId !== o.locationId) throw err(400, 9, 'package cannot be added');
        }
        for (const id of ids) {
          const pk = db.packages.find((x) => x.id === id);
          pk.orderId = o.id;
          o.packageIds.push(id);
          act('ACTIVITY_KIND_ADDED_TO_ORDER', pk, { actor });
        }
        if (o.assigneeUserId) setPkgAssignee(ids, o.assigneeUserId, actor);
        hist(o, 'ORDER_HISTORY_KIND_PACKAGES_ADDED', actor, `${ids.length}`);
      } else {
        if (ids.length >= o.packageIds.length) throw err(400, 9, 'an order keeps at least one package');
        for (const id of ids) {
          const pk = db.packages.find((x) => x.id === id);
          pk.orderId = '';
          pk.assigneeUserId = '';
          act('ACTIVITY_KIND_REMOVED_FROM_ORDER', pk, { actor, orderId: o.id });
        }
        o.packageIds = o.packageIds.filter((x) => !ids.includes(x));
        hist(o, 'ORDER_HISTORY_KIND_PACKAGES_REMOVED', actor, `${ids.length}`);
      }
      touch(o);
      return strip(o);
    }
    if ((m = p.match(/^\/v1\/orders\/([^/]+)\/history$/)) && method === 'GET') {
      const r = page([...db.history.filter((x) => x.orderId === m[1])].reverse(), q);
      return { entries: r.items.map(strip), nextPageToken: r.next };
    }
    if (p === '/v1/users' && method === 'GET') {
      const s = (q.query || '').toLowerCase();
      let list = db.users.filter((u) => !s || [u.displayName, u.email, u.employeeNumber].some((f) => (f || '').toLowerCase().includes(s)));
      if (q.role) list = list.filter((u) => u.role === enumOf(q.role, 'USER_ROLE_'));
      const r = page(list, q);
      return { users: r.items.map(publicUser), nextPageToken: r.next };
    }
    if (p === '/v1/users' && method === 'POST') {
      if (!body.displayName) throw err(400, 3, 'display_name: must not be empty');
      if (!body.password || body.password.length < 10) throw err(400, 3, 'password: at least 10 characters');
      return publicUser(api.addUser(body));
    }
    if ((m = p.match(/^\/v1\/users\/([^/]+)$/)) && method === 'GET') {
      const u = db.users.find((x) => x.id === m[1]);
      if (!u) throw notFound();
      return publicUser(u);
    }
    if (p === '/v1/locations' && method === 'GET') {
      const s = (q.query || '').toLowerCase();
      const r = page(db.locations.filter((l) => !s || l.name.toLowerCase().includes(s) || l.code.toLowerCase().includes(s)), q);
      return { locations: r.items.map(strip), nextPageToken: r.next };
    }
    if (p === '/v1/locations' && method === 'POST') return strip(api.addLocation(body));
    if ((m = p.match(/^\/v1\/locations\/([^/]+)\/doors$/)) && method === 'POST') {
      if (!db.locations.find((x) => x.id === m[1])) throw notFound();
      return strip(api.addDoor(m[1], body));
    }
    if (p === '/v1/packages' && method === 'POST') {
      if (!db.locations.find((x) => x.id === body.locationId)) throw err(400, 3, 'location_id: unknown location');
      return strip(api.addPackage(body));
    }
    if ((m = p.match(/^\/v1\/locations\/([^/]+)$/)) && method === 'GET') {
      const l = db.locations.find((x) => x.id === m[1]);
      if (!l) throw notFound();
      return strip(l);
    }
    if ((m = p.match(/^\/v1\/locations\/([^/]+)\/doors$/)) && method === 'GET') {
      const r = page(db.doors.filter((d) => d.locationId === m[1]), q);
      return { doors: r.items.map(strip), nextPageToken: r.next };
    }
    if ((m = p.match(/^\/v1\/locations\/([^/]+)\/doors\/([^/]+)\/contents$/)) && method === 'GET') {
      const d = db.doors.find((x) => x.id === m[2] && x.locationId === m[1]);
      if (!d) throw notFound();
      return { door: strip(d), packages: db.packages.filter((x) => x.doorId === d.id && x.state === 'PACKAGE_STATE_IN_LOCKER').map(strip) };
    }
    if (p === '/v1/packages' && method === 'GET') {
      const s = (q.query || '').toLowerCase();
      let list = db.packages;
      if (q.locationId) list = list.filter((x) => x.locationId === q.locationId);
      if (q.orderId) list = list.filter((x) => x.orderId === q.orderId);
      if (q.state) list = list.filter((x) => x.state === enumOf(q.state, 'PACKAGE_STATE_'));
      if (s) list = list.filter((x) => [x.barcode, x.trackingNumber, x.carrier, x.description].some((f) => (f || '').toLowerCase().includes(s)));
      const r = page(list, q);
      return { packages: r.items.map(strip), nextPageToken: r.next };
    }
    if ((m = p.match(/^\/v1\/packages\/([^/:]+)(?::(\w+))?$/))) {
      const pk = db.packages.find((x) => x.id === m[1]);
      if (!pk) throw notFound();
      if (!m[2] && method === 'GET') return strip(pk);
      if (m[2] === 'deliver' && method === 'POST') return strip(api.deliver(pk.id, body.doorId));
      if (m[2] === 'assign' && method === 'POST') {
        if (!db.users.find((x) => x.id === body.userId)) throw err(404, 5, 'user not found');
        setPkgAssignee([pk.id], body.userId, actor);
        return { packageId: pk.id, afterUserId: body.userId, state: 'ASSIGNMENT_STATE_DONE' };
      }
      if (m[2] === 'unassign' && method === 'POST') {
        setPkgAssignee([pk.id], '', actor);
        return { packageId: pk.id, state: 'ASSIGNMENT_STATE_DONE' };
      }
    }
    if (p === '/v1/activity' && method === 'GET') {
      const s = (q.query || '').toLowerCase();
      const list = [...db.activity]
        .reverse()
        .filter((a) => !s || [a.barcode, a.trackingNumber, a.orderIdentifier, a.doorLabel, a.locationName].some((f) => (f || '').toLowerCase().includes(s)));
      const r = page(list, q);
      return { activities: r.items.map(strip), nextPageToken: r.next };
    }
    throw err(404, 5, `no route ${method} ${p}`);
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    try {
      if (!url.pathname.startsWith('/v1/')) {
        const rel = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
        const file = path.resolve(WEB, rel);
        if (!file.startsWith(WEB)) throw err(404, 5, 'not found');
        const data = await readFile(file);
        res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-cache' });
        res.end(data);
        return;
      }
      let raw = '';
      for await (const chunk of req) raw += chunk;
      const body = raw ? JSON.parse(raw) : {};
      if (server.delayMs) await new Promise((r) => setTimeout(r, server.delayMs));
      const out = await handle(req.method, url, req.headers, body);
      const hdr = { 'Content-Type': 'application/json' };
      if (out && out.__etag) {
        hdr.ETag = out.__etag;
        delete out.__etag;
      }
      res.writeHead(200, hdr);
      res.end(JSON.stringify(out));
    } catch (e) {
      const status = e.status || (e.code === 'ENOENT' ? 404 : 500);
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ code: e.code && typeof e.code === 'number' ? e.code : status === 404 ? 5 : 13, message: e.message, details: [] }));
    }
  });

  return {
    api,
    server,
    async listen(port = 0) {
      await new Promise((r) => server.listen(port, '127.0.0.1', r));
      return `http://127.0.0.1:${server.address().port}`;
    },
    close: () => new Promise((r) => server.close(r)),
  };
}

// Demo data for looking at the page by hand.
export function seedDemo(api) {
  const hq = api.addUser({ displayName: 'Hanna HQ', email: 'hq@demo.test', role: 'USER_ROLE_HQ', password: 'password123' });
  const techs = ['Anna Andersson', 'Björn Berg', 'Cecilia Carlsson'].map((n, i) =>
    api.addUser({ displayName: n, email: `tech${i + 1}@demo.test`, employeeNumber: `E${100 + i}`, password: 'password123' }),
  );
  const locs = [
    api.addLocation({ name: 'Stockholm Central', code: 'STO1', address: 'Vasagatan 1', timeZone: 'Europe/Stockholm' }),
    api.addLocation({ name: 'Göteborg Hamn', code: 'GOT1', address: 'Hamngatan 5', timeZone: 'Europe/Stockholm' }),
  ];
  for (const loc of locs) {
    for (let d = 1; d <= 6; d++) {
      const door = api.addDoor(loc.id, { label: `A${d}`, size: d % 2 ? 'DOOR_SIZE_M' : 'DOOR_SIZE_L' });
      api.addPackage({ barcode: `${loc.code}-PKG-${d}`, trackingNumber: `1Z${loc.code}${1000 + d}`, carrier: 'DHL', description: `Part ${d}`, locationId: loc.id, doorId: door.id });
    }
    api.addPackage({ barcode: `${loc.code}-EXP-1`, trackingNumber: `1Z${loc.code}9999`, carrier: 'UPS', description: 'Expected part', locationId: loc.id });
  }
  const pk = api.db.packages;
  const o1 = api.createOrder({ locationId: locs[0].id, packageIds: [pk[0].id, pk[1].id] }, hq.id);
  api.assignOrder(o1, techs[0].id, hq.id);
  api.createOrder({ locationId: locs[0].id, packageIds: [pk[2].id] }, hq.id);
  return { hq, techs, locs };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const mock = createMock();
  seedDemo(mock.api);
  const url = await mock.listen(Number(process.argv[2] || 0));
  console.log(`mock gateway at ${url}  (tenant demo, hq@demo.test / password123)`);
}
