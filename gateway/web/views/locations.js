// Huvudfunktioner > Platser: locations, a location's doors, and a door's page
// with the tabs Profil and Innehåll. In Innehåll, Tilldela till användare
// beside a package picks a user, and Skicka sends the assignment.

import { api, doorsOf, locationById, rememberLocation, userById } from '../api.js';
import { formatTime, t } from '../i18n.js';
import { pickUser } from '../pickers.js';
import { arrowLink, badge, busyButton, clear, debounce, errorBox, h, notice, pager, showError, spinner } from '../ui.js';

export function renderLocations(root) {
  const input = h('input.input.grow', { type: 'search', placeholder: t('locations.search'), 'aria-label': t('locations.search'), 'data-testid': 'locations-search' });
  const tbody = h('tbody');
  const list = pager({
    tbody,
    colspan: 5,
    fetchPage: async (pageToken, signal) => {
      const r = await api.listLocations({ query: input.value.trim(), pageSize: 50, pageToken }, signal);
      (r.locations || []).forEach(rememberLocation);
      return { items: r.locations || [], nextPageToken: r.nextPageToken };
    },
    render: (l) =>
      h(
        'tr',
        { 'data-testid': 'location-row', dataset: { locationId: l.id, name: l.name || '' } },
        h('td', h('a.strong', { href: `#/locations/${l.id}` }, l.name || l.id)),
        h('td', l.code || ''),
        h('td', l.address || ''),
        h('td', l.timeZone || 'UTC'),
        h('td.actions', arrowLink(t('common.open'), `#/locations/${l.id}`, 'open-location')),
      ),
  });
  input.addEventListener('input', debounce(() => list.reload(), 250));
  clear(
    root,
    h('div.page-head', h('div', h('div.crumbs', t('nav.main')), h('h1', t('locations.title')))),
    h('section.card', h('div.toolbar', input)),
    h(
      'section.card',
      h(
        'div.table-wrap',
        h(
          'table.table',
          { 'data-testid': 'locations-table' },
          h('thead', h('tr', h('th', t('locations.name')), h('th', t('locations.code')), h('th', t('locations.address')), h('th', t('locations.timeZone')), h('th'))),
          tbody,
        ),
      ),
      list.el,
    ),
  );
  list.reload();
}

export async function renderLocation(root, id) {
  clear(root, h('div.page-loading', spinner(), ' ', t('common.loading')));
  let loc;
  try {
    loc = await api.getLocation(id);
    rememberLocation(loc);
  } catch (e) {
    clear(root, h('a.back', { href: '#/locations' }, '‹ ', t('locations.title')), errorBox(e));
    return;
  }
  const tbody = h('tbody');
  const list = pager({
    tbody,
    colspan: 5,
    fetchPage: async (pageToken, signal) => {
      const r = await api.listDoors(id, { pageSize: 100, pageToken }, signal);
      return { items: r.doors || [], nextPageToken: r.nextPageToken };
    },
    render: (d) =>
      h(
        'tr',
        { 'data-testid': 'door-row', dataset: { doorId: d.id, label: d.label || '' } },
        h('td', h('a.strong', { href: `#/locations/${id}/doors/${d.id}` }, d.label || d.id)),
        h('td', (d.size || '').replace('DOOR_SIZE_', '')),
        h('td', badge(t(`doorstate.${d.state || 'DOOR_STATE_UNSPECIFIED'}`), doorKind(d.state))),
        h('td', d.multiItem ? t('common.yes') : t('common.no')),
        h('td.actions', arrowLink(t('common.open'), `#/locations/${id}/doors/${d.id}`, 'open-door')),
      ),
  });
  clear(
    root,
    h('div.page-head', h('div', h('div.crumbs', h('a', { href: '#/locations' }, `${t('nav.main')} › ${t('locations.title')}`)), h('h1', loc.name || loc.code || loc.id))),
    h(
      'section.card',
      h(
        'dl.props',
        h('dt', t('locations.code')),
        h('dd', loc.code || ''),
        h('dt', t('locations.address')),
        h('dd', loc.address || ''),
        h('dt', t('locations.timeZone')),
        h('dd', loc.timeZone || 'UTC'),
      ),
    ),
    h(
      'section.card',
      h('h2', t('locations.doors')),
      h(
        'div.table-wrap',
        h(
          'table.table',
          { 'data-testid': 'doors-table' },
          h('thead', h('tr', h('th', t('door.label')), h('th', t('door.size')), h('th', t('door.state')), h('th', t('door.multi')), h('th'))),
          tbody,
        ),
      ),
      list.el,
    ),
  );
  list.reload();
}

function doorKind(state) {
  return { DOOR_STATE_EMPTY: 'neutral', DOOR_STATE_OCCUPIED: 'active', DOOR_STATE_OPEN: 'collected', DOOR_STATE_OUT_OF_SERVICE: 'cancelled' }[state] || 'neutral';
}

// The door page (Dörrar/profil) with the tabs Profil and Innehåll.
export async function renderDoor(root, locationId, doorId, params) {
  clear(root, h('div.page-loading', spinner(), ' ', t('common.loading')));
  let contents;
  let loc;
  try {
    [contents, loc] = await Promise.all([api.doorContents(locationId, doorId), locationById(locationId)]);
  } catch (e) {
    clear(root, h('a.back', { href: `#/locations/${locationId}` }, '‹ ', t('locations.title')), errorBox(e));
    return;
  }
  const door = contents.door || (await doorsOf(locationId).catch(() => new Map())).get(doorId) || { id: doorId };
  const highlight = params.get('package') || '';
  // Package id -> the user chosen for it and not yet sent (contentRow).
  const pending = new Map();
  let tab = params.get('tab') === 'contents' ? 'contents' : 'profile';

  const tabProfile = h('button.tab', { type: 'button', role: 'tab', 'data-testid': 'tab-profile' }, t('door.profile'));
  const tabContents = h('button.tab', { type: 'button', role: 'tab', 'data-testid': 'tab-contents' }, t('door.contents'));
  const panel = h('div.tab-panel', { role: 'tabpanel' });

  function show(which) {
    tab = which;
    tabProfile.classList.toggle('selected', tab === 'profile');
    tabContents.classList.toggle('selected', tab === 'contents');
    tabProfile.setAttribute('aria-selected', String(tab === 'profile'));
    tabContents.setAttribute('aria-selected', String(tab === 'contents'));
    // Keep the tab in the address so that reload and back stay on it.
    const q = new URLSearchParams(params);
    q.set('tab', tab);
    history.replaceState(null, '', `#/locations/${locationId}/doors/${doorId}?${q}`);
    if (tab === 'profile') drawProfile();
    else drawContents(contents);
  }
  tabProfile.addEventListener('click', () => show('profile'));
  tabContents.addEventListener('click', async () => {
    // Contents change; fetch them fresh when the tab is chosen.
    show('contents');
    try {
      contents = await api.doorContents(locationId, doorId);
      if (tab === 'contents') drawContents(contents);
    } catch (e) {
      showError(e, panel);
    }
  });

  function drawProfile() {
    clear(
      panel,
      h(
        'dl.props',
        { 'data-testid': 'door-profile' },
        h('dt', t('door.label')),
        h('dd', door.label || ''),
        h('dt', t('pkg.location')),
        h('dd', loc ? loc.name || loc.code : ''),
        h('dt', t('door.size')),
        h('dd', (door.size || '').replace('DOOR_SIZE_', '')),
        h('dt', t('door.state')),
        h('dd', badge(t(`doorstate.${door.state || 'DOOR_STATE_UNSPECIFIED'}`), doorKind(door.state))),
        h('dt', t('door.multi')),
        h('dd', door.multiItem ? t('common.yes') : t('common.no')),
        h('dt', t('door.contents')),
        h('dd', String((contents.packages || []).length)),
      ),
    );
  }

  function drawContents(c) {
    const pkgs = c.packages || [];
    if (!pkgs.length) {
      clear(panel, h('p.muted', { 'data-testid': 'door-empty' }, t('door.empty')));
      return;
    }
    const tbody = h('tbody');
    for (const p of pkgs) tbody.append(contentRow(p));
    clear(
      panel,
      h(
        'div.table-wrap',
        h(
          'table.table',
          { 'data-testid': 'door-contents' },
          h(
            'thead',
            h('tr', h('th', t('pkg.barcode')), h('th', t('pkg.tracking')), h('th', t('pkg.description')), h('th', t('pkg.state')), h('th', t('pkg.order')), h('th', t('pkg.user')), h('th')),
          ),
          tbody,
        ),
      ),
    );
  }

  async function reloadContents(msg) {
    try {
      contents = await api.doorContents(locationId, doorId);
      drawContents(contents);
      if (msg) notice(msg);
    } catch (e) {
      showError(e);
    }
  }

  function contentRow(p) {
    const user = h('td', { 'data-testid': 'package-user' });
    if (p.assigneeUserId) userById(p.assigneeUserId).then((u) => (user.textContent = u.displayName || u.id));
    else user.append(h('span.muted', t('order.unassigned')));
    const actions = h('td.actions.nowrap');
    const err = h('div', { hidden: true });
    const row = h(
      'tr',
      { 'data-testid': 'content-row', class: p.id === highlight ? 'highlight' : '', dataset: { packageId: p.id, barcode: p.barcode || '' } },
      h('td', h('strong', p.barcode || p.id), err),
      h('td', p.trackingNumber || ''),
      h('td', p.description || ''),
      h('td', badge(t(`pkgstate.${p.state || 'PACKAGE_STATE_UNSPECIFIED'}`))),
      h('td', p.orderId ? h('a', { href: `#/orders/${p.orderId}` }, t('pkg.order')) : ''),
      user,
      actions,
    );
    // The help page's step: the chosen user waits beside the package until
    // Skicka sends it. The choice lives in `pending`, not in this row: the
    // table is redrawn when fresh contents arrive (the Contents tab draws
    // what it has, then what it fetched), and the choice must survive that.
    function drawPending(u) {
      const send = h('button.btn.primary.small', { type: 'button', 'data-testid': 'send-assignment' }, t('door.send'));
      const cancel = h('button.btn.small', { type: 'button' }, t('common.cancel'));
      cancel.addEventListener('click', () => {
        pending.delete(p.id);
        drawActions();
      });
      send.addEventListener('click', () =>
        busyButton(
          send,
          async () => {
            await api.assignPackage(p.id, u.id);
            pending.delete(p.id);
            await reloadContents(t('door.assigned', { barcode: p.barcode || '', name: u.displayName }));
          },
          err,
        ),
      );
      clear(actions, h('span.pending', { 'data-testid': 'pending-assignment' }, t('door.pending', { barcode: p.barcode || '', name: u.displayName })), ' ', send, ' ', cancel);
      return send;
    }
    function drawActions() {
      if (pending.has(p.id)) {
        drawPending(pending.get(p.id));
        return;
      }
      const assign = h('button.btn.primary.small', { type: 'button', 'data-testid': 'assign-to-user' }, t('door.assignToUser'));
      assign.addEventListener('click', async () => {
        const u = await pickUser({ title: t('door.assignToUser') });
        if (!u) return;
        pending.set(p.id, u);
        // This row may have been replaced while the picker was open.
        if (actions.isConnected) drawPending(u).focus();
        else drawContents(contents);
      });
      clear(actions, assign);
      if (p.assigneeUserId && !p.orderId) {
        const un = h('button.btn.small', { type: 'button', 'data-testid': 'unassign-package' }, t('door.unassign'));
        un.addEventListener('click', () =>
          busyButton(
            un,
            async () => {
              await api.unassignPackage(p.id);
              await reloadContents(t('door.unassigned', { barcode: p.barcode || '' }));
            },
            err,
          ),
        );
        actions.append(' ', un);
      }
    }
    drawActions();
    return row;
  }

  clear(
    root,
    h(
      'div.page-head',
      h(
        'div',
        h(
          'div.crumbs',
          h('a', { href: '#/locations' }, `${t('nav.main')} › ${t('locations.title')}`),
          ' › ',
          h('a', { href: `#/locations/${locationId}` }, loc ? loc.name || loc.code : ''),
        ),
        h('h1', t('door.title', { label: door.label || '' })),
      ),
    ),
    h('section.card', h('div.tabs', { role: 'tablist' }, tabProfile, tabContents), panel),
  );
  show(tab);
}

// A package without a door (expected, not yet delivered): its own page.
export async function renderPackage(root, id) {
  clear(root, h('div.page-loading', spinner(), ' ', t('common.loading')));
  let p;
  try {
    p = await api.getPackage(id);
  } catch (e) {
    clear(root, errorBox(e));
    return;
  }
  if (p.doorId && p.locationId) {
    location.replace(`#/locations/${p.locationId}/doors/${p.doorId}?tab=profile&package=${encodeURIComponent(p.id)}`);
    return;
  }
  const loc = await locationById(p.locationId);
  const user = h('dd', { 'data-testid': 'package-user' }, p.assigneeUserId ? '' : t('order.unassigned'));
  if (p.assigneeUserId) userById(p.assigneeUserId).then((u) => (user.textContent = u.displayName || u.id));
  const err = h('div', { hidden: true });
  const assign = h('button.btn.primary', { type: 'button', 'data-testid': 'assign-to-user' }, t('door.assignToUser'));
  assign.addEventListener('click', async () => {
    const u = await pickUser({ title: t('door.assignToUser') });
    if (!u) return;
    busyButton(
      assign,
      async () => {
        await api.assignPackage(p.id, u.id);
        notice(t('door.assigned', { barcode: p.barcode || '', name: u.displayName }));
        renderPackage(root, id);
      },
      err,
    );
  });
  clear(
    root,
    h('div.page-head', h('div', h('div.crumbs', t('nav.main')), h('h1', `${t('pkg.title')} ${p.barcode || ''}`))),
    h(
      'section.card',
      h(
        'dl.props',
        h('dt', t('pkg.barcode')),
        h('dd', p.barcode || ''),
        h('dt', t('pkg.tracking')),
        h('dd', p.trackingNumber || ''),
        h('dt', t('pkg.carrier')),
        h('dd', p.carrier || ''),
        h('dt', t('pkg.description')),
        h('dd', p.description || ''),
        h('dt', t('pkg.location')),
        h('dd', loc ? loc.name : ''),
        h('dt', t('pkg.state')),
        h('dd', badge(t(`pkgstate.${p.state || 'PACKAGE_STATE_UNSPECIFIED'}`))),
        h('dt', t('pkg.order')),
        h('dd', p.orderId ? h('a', { href: `#/orders/${p.orderId}` }, t('common.open')) : ''),
        h('dt', t('pkg.user')),
        user,
        h('dt', t('order.updated')),
        h('dd', formatTime(p.updateTime)),
      ),
      err,
      h('div.actions-row', assign),
    ),
  );
}
