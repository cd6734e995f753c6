// The gateway's HTTP/JSON API (SPEC §6), same origin. Every call carries the
// session's bearer token; errors become ApiError with the gRPC code so that
// the views can say in plain words what went wrong.

import { t } from './i18n.js';

const TOKEN_KEY = 'kn.token';
const USER_KEY = 'kn.user';
const EXPIRES_KEY = 'kn.expiresAt';

export class ApiError extends Error {
  constructor(code, message, httpStatus, details) {
    super(message || '');
    this.code = code; // gRPC code number, or 'network'
    this.httpStatus = httpStatus;
    this.details = details || [];
  }

  // The sentence shown to the person: a plain explanation of the code, then
  // the server's own message (it names the field for bad input).
  plain() {
    if (this.code === 'network') return t('err.network');
    const base = t(`err.${this.code}`) !== `err.${this.code}` ? t(`err.${this.code}`) : t('err.other');
    return base;
  }

  detailText() {
    if (this.code === 'network' || !this.message) return '';
    // The message repeats the base sentence for some codes; skip it then.
    return t('err.details', { message: this.message });
  }
}

// Map from HTTP status to gRPC code, for error bodies that lack "code".
const HTTP_TO_GRPC = { 400: 3, 401: 16, 403: 7, 404: 5, 409: 10, 412: 10, 413: 3, 422: 3, 429: 8, 503: 14, 504: 4 };

export const session = {
  get token() {
    const tok = sessionStorage.getItem(TOKEN_KEY);
    const exp = sessionStorage.getItem(EXPIRES_KEY);
    if (tok && exp && Date.parse(exp) <= Date.now()) return null;
    return tok;
  },
  get user() {
    try {
      return JSON.parse(sessionStorage.getItem(USER_KEY) || 'null');
    } catch {
      return null;
    }
  },
  save({ token, expiresAt, user }) {
    sessionStorage.setItem(TOKEN_KEY, token);
    if (expiresAt) sessionStorage.setItem(EXPIRES_KEY, expiresAt);
    else sessionStorage.removeItem(EXPIRES_KEY);
    sessionStorage.setItem(USER_KEY, JSON.stringify(user || null));
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USER_KEY);
    sessionStorage.removeItem(EXPIRES_KEY);
  },
};

let onUnauthenticated = () => {};
export function setUnauthenticatedHandler(fn) {
  onUnauthenticated = fn;
}

// Requests in flight, for the global progress bar.
let inflight = 0;
const busyListeners = new Set();
export function onBusyChange(fn) {
  busyListeners.add(fn);
}
function busy(delta) {
  inflight += delta;
  for (const fn of busyListeners) fn(inflight > 0);
}

export function newRequestId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// request('GET', '/v1/orders', {query, body, headers, signal, auth})
// resolves {data, headers}; rejects with ApiError.
export async function request(method, path, opts = {}) {
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  if (opts.auth !== false) {
    const tok = session.token;
    if (tok) headers.Authorization = `Bearer ${tok}`;
  }
  let body;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  busy(1);
  let resp;
  try {
    resp = await fetch(path + query(opts.query), { method, headers, body, signal: opts.signal, cache: 'no-store' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError('network', e.message, 0);
  } finally {
    busy(-1);
  }
  const text = await resp.text().catch(() => '');
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!resp.ok) {
    const code = data && typeof data.code === 'number' ? data.code : HTTP_TO_GRPC[resp.status] ?? 2;
    const err = new ApiError(code, (data && data.message) || resp.statusText, resp.status, data && data.details);
    if (code === 16 && opts.auth !== false) onUnauthenticated(err);
    throw err;
  }
  return { data: data || {}, headers: resp.headers };
}

const get = async (path, q, signal) => (await request('GET', path, { query: q, signal })).data;
const post = async (path, body, headers) => (await request('POST', path, { body: body || {}, headers })).data;
const enc = encodeURIComponent;
const ifMatch = (etag) => (etag ? { 'If-Match': etag } : {});

export const api = {
  login: async (tenant, email, password) =>
    (await request('POST', '/v1/login', { body: { tenant, email, password }, auth: false })).data,

  listOrders: (q, signal) => get('/v1/orders', q, signal),
  getOrder: async (id) => {
    const r = await request('GET', `/v1/orders/${enc(id)}`);
    const order = r.data;
    // ETag header is authoritative for If-Match; fall back to the body's etag.
    order.__etag = r.headers.get('ETag') || (order.etag ? `"${order.etag}"` : '');
    return order;
  },
  createOrder: (body, requestId) => post('/v1/orders', body, { 'Idempotency-Key': requestId }),
  updateOrderIdentifier: async (id, identifier, etag) =>
    (await request('PATCH', `/v1/orders/${enc(id)}`, { body: { identifier }, headers: ifMatch(etag) })).data,
  // The etag of the order as the person saw it: a change made meanwhile by
  // someone else answers 412 (ABORTED) instead of acting on a stale view.
  cancelOrder: (id, etag) => post(`/v1/orders/${enc(id)}:cancel`, {}, ifMatch(etag)),
  assignOrder: (id, userId) => post(`/v1/orders/${enc(id)}:assign`, { userId }),
  unassignOrder: (id) => post(`/v1/orders/${enc(id)}:unassign`, {}),
  addPackages: (id, packageIds, etag) => post(`/v1/orders/${enc(id)}/packages:add`, { packageIds }, ifMatch(etag)),
  removePackages: (id, packageIds, etag) => post(`/v1/orders/${enc(id)}/packages:remove`, { packageIds }, ifMatch(etag)),
  orderHistory: (id, q) => get(`/v1/orders/${enc(id)}/history`, q),

  listUsers: (q, signal) => get('/v1/users', q, signal),
  getUser: (id) => get(`/v1/users/${enc(id)}`),
  createUser: (body, requestId) => post('/v1/users', body, { 'Idempotency-Key': requestId }),

  listLocations: (q, signal) => get('/v1/locations', q, signal),
  getLocation: (id) => get(`/v1/locations/${enc(id)}`),
  listDoors: (locationId, q, signal) => get(`/v1/locations/${enc(locationId)}/doors`, q, signal),
  doorContents: (locationId, doorId) => get(`/v1/locations/${enc(locationId)}/doors/${enc(doorId)}/contents`),

  listPackages: (q, signal) => get('/v1/packages', q, signal),
  getPackage: (id) => get(`/v1/packages/${enc(id)}`),
  assignPackage: (id, userId) => post(`/v1/packages/${enc(id)}:assign`, { userId }),
  unassignPackage: (id) => post(`/v1/packages/${enc(id)}:unassign`, {}),

  searchActivity: (q, signal) => get('/v1/activity', q, signal),
};

// Small caches for names shown beside ids (users, locations, doors). A miss
// costs one GET; failures show the id instead of breaking the page.
const userCache = new Map();
const locationCache = new Map();
const doorCache = new Map(); // locationId -> Promise<Map(doorId -> door)>

export function rememberUser(u) {
  if (u && u.id) userCache.set(u.id, Promise.resolve(u));
}
export function userById(id) {
  if (!id) return Promise.resolve(null);
  if (!userCache.has(id)) {
    const p = api.getUser(id).catch(() => {
      userCache.delete(id);
      return { id, displayName: id.slice(0, 8) };
    });
    userCache.set(id, p);
  }
  return userCache.get(id);
}

export function rememberLocation(l) {
  if (l && l.id) locationCache.set(l.id, Promise.resolve(l));
}
export function locationById(id) {
  if (!id) return Promise.resolve(null);
  if (!locationCache.has(id)) {
    const p = api.getLocation(id).catch(() => {
      locationCache.delete(id);
      return { id, name: id.slice(0, 8) };
    });
    locationCache.set(id, p);
  }
  return locationCache.get(id);
}

// All locations (for the filter and the create form); pages through them.
let allLocations = null;
export function allLocationsList() {
  if (!allLocations) {
    allLocations = (async () => {
      const out = [];
      let pageToken = '';
      do {
        const r = await api.listLocations({ pageSize: 500, pageToken });
        for (const l of r.locations || []) {
          rememberLocation(l);
          out.push(l);
        }
        pageToken = r.nextPageToken || '';
      } while (pageToken && out.length < 5000);
      return out;
    })().catch((e) => {
      allLocations = null;
      throw e;
    });
  }
  return allLocations;
}

export function doorsOf(locationId) {
  if (!doorCache.has(locationId)) {
    const p = (async () => {
      const m = new Map();
      let pageToken = '';
      do {
        const r = await api.listDoors(locationId, { pageSize: 500, pageToken });
        for (const d of r.doors || []) m.set(d.id, d);
        pageToken = r.nextPageToken || '';
      } while (pageToken && m.size < 5000);
      return m;
    })().catch((e) => {
      doorCache.delete(locationId);
      throw e;
    });
    doorCache.set(locationId, p);
  }
  return doorCache.get(locationId);
}

export function clearCaches() {
  userCache.clear();
  locationCache.clear();
  doorCache.clear();
  allLocations = null;
}
