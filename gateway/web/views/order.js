// The Jobborder page: status in the middle, details, the user with Byt
// användare / Ta bort tilldelning av användare, the packages with Ta bort
// valda / Tilldela paket, the history, and Avbryt order.

import { api, doorsOf, locationById, userById } from '../api.js';
import { formatTime, t } from '../i18n.js';
import { pickPackages, pickUser } from '../pickers.js';
import { badge, busyButton, clear, confirmDialog, errorBox, h, notice, pager, showError, spinner, statusKind } from '../ui.js';

export async function renderOrder(root, id) {
  clear(root, h('div.page-loading', spinner(), ' ', t('common.loading')));
  let order;
  try {
    order = await api.getOrder(id);
  } catch (e) {
    clear(root, backLink(), errorBox(e));
    return;
  }
  if (!root.isConnected) return;
  draw(root, order);
}

function backLink() {
  return h('a.back', { href: '#/orders' }, '‹ ', t('nav.orders'));
}

function draw(root, order) {
  const active = order.status === 'ORDER_STATUS_ACTIVE';
  const status = order.status || 'ORDER_STATUS_UNSPECIFIED';
  const errArea = h('div', { hidden: true, 'data-testid': 'order-error' });

  // Reload after a change (or after a conflict, so the person sees the
  // current state before trying again).
  async function refresh(msg) {
    try {
      const fresh = await api.getOrder(order.id);
      draw(root, fresh);
      if (msg) notice(msg);
    } catch (e) {
      showError(e, errArea);
    }
  }
  async function act(btn, fn, msg) {
    errArea.hidden = true;
    await busyButton(btn, async () => {
      try {
        await fn();
      } catch (e) {
        if (e.code === 10 || e.code === 9) await refresh();
        throw e;
      }
      await refresh(typeof msg === 'function' ? msg() : msg);
    }, errArea);
    // refresh() replaced the page; keep the error visible on the new one.
    if (!errArea.hidden) {
      const target = root.querySelector('[data-testid="order-error"]');
      if (target && target !== errArea) {
        target.replaceChildren(...errArea.childNodes);
        target.hidden = false;
      }
    }
  }

  const title = order.type === 'ORDER_TYPE_STOCK' ? t('order.titleStock') : t('order.title');

  // Header and the cancel action.
  const cancelBtn = active
    ? h('button.btn.danger', { type: 'button', 'data-testid': 'cancel-order' }, t('order.cancelOrder'))
    : null;
  cancelBtn?.addEventListener('click', async () => {
    if (!(await confirmDialog(t('order.cancelConfirm', { id: order.identifier }), { danger: true, okText: t('order.cancelOrder') }))) return;
    act(cancelBtn, () => api.cancelOrder(order.id, order.__etag), t('order.cancelled'));
  });

  // Identifier with Redigera.
  const identView = h('span.ident', { 'data-testid': 'order-identifier' }, order.identifier || '');
  const editBtn = active ? h('button.btn.small', { type: 'button', 'data-testid': 'edit-identifier' }, t('order.edit')) : null;
  const identCell = h('dd', identView, ' ', editBtn);
  editBtn?.addEventListener('click', () => {
    const input = h('input.input', { value: order.identifier || '', 'data-testid': 'identifier-input', 'aria-label': t('order.identifier'), maxlength: 64 });
    const save = h('button.btn.primary.small', { type: 'submit', 'data-testid': 'save-identifier' }, t('common.save'));
    const cancel = h('button.btn.small', { type: 'button', onclick: () => clear(identCell, identView, ' ', editBtn) }, t('common.cancel'));
    const form = h('form.inline-form', input, save, cancel);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      act(save, () => api.updateOrderIdentifier(order.id, input.value.trim(), order.__etag), t('order.identifierSaved'));
    });
    clear(identCell, form);
    input.focus();
    input.select();
  });

  const locName = h('span');
  locationById(order.locationId).then((l) => (locName.textContent = l ? l.name || l.code : ''));

  const details = h(
    'section.card',
    h('h2', t('order.details')),
    h(
      'dl.props',
      h('dt', t('order.identifier')),
      identCell,
      h('dt', t('order.type')),
      h('dd', t(`type.${order.type || 'ORDER_TYPE_JOB'}`)),
      h('dt', t('order.location')),
      h('dd', locName),
      h('dt', t('order.created')),
      h('dd', formatTime(order.createTime)),
      h('dt', t('order.updated')),
      h('dd', formatTime(order.updateTime)),
      order.collectTime ? [h('dt', t('order.collected')), h('dd', formatTime(order.collectTime))] : null,
      order.cancelTime ? [h('dt', t('order.cancelledAt')), h('dd', formatTime(order.cancelTime))] : null,
    ),
  );

  // The user card.
  const userName = h('div.user-name', { 'data-testid': 'order-user' }, order.assigneeUserId ? spinner(true) : t('order.unassigned'));
  const userMeta = h('div.muted');
  if (order.assigneeUserId) {
    userById(order.assigneeUserId).then((u) => {
      userName.textContent = u.displayName || u.email || u.id;
      userMeta.textContent = [u.email, u.employeeNumber].filter(Boolean).join(' · ');
    });
  } else {
    userName.classList.add('muted');
  }
  const avatar = h('div.avatar', { 'aria-hidden': 'true' }, '?');
  if (order.assigneeUserId) userById(order.assigneeUserId).then((u) => (avatar.textContent = initials(u.displayName || u.email)));
  const userActions = h('div.actions-row');
  if (active) {
    const change = h(
      'button.btn.primary',
      { type: 'button', 'data-testid': order.assigneeUserId ? 'change-user' : 'add-user' },
      order.assigneeUserId ? t('order.changeUser') : t('order.addUser'),
    );
    change.addEventListener('click', async () => {
      const u = await pickUser({ title: order.assigneeUserId ? t('order.changeUser') : t('order.addUser') });
      if (!u) return;
      act(change, () => api.assignOrder(order.id, u.id), () => t('order.assigned', { name: u.displayName }));
    });
    userActions.append(change);
    if (order.assigneeUserId) {
      const remove = h('button.btn', { type: 'button', 'data-testid': 'remove-assignment' }, t('order.removeAssignment'));
      remove.addEventListener('click', async () => {
        if (!(await confirmDialog(t('order.unassignConfirm')))) return;
        act(remove, () => api.unassignOrder(order.id), t('order.unassignedDone'));
      });
      userActions.append(remove);
    }
  }
  const userCard = h('section.card', h('h2', t('order.user')), h('div.user-box', avatar, h('div', userName, userMeta)), userActions);

  // Packages.
  const pkgBody = h('tbody');
  const selected = new Set();
  const removeBtn = h('button.btn', { type: 'button', disabled: true, 'data-testid': 'remove-selected' }, t('order.removeSelected'));
  const addBtn = h('button.btn.primary', { type: 'button', 'data-testid': 'assign-packages' }, t('order.assignPackages'));
  const updateRemove = () => {
    removeBtn.disabled = selected.size === 0;
    removeBtn.textContent = selected.size ? `${t('order.removeSelected')} (${selected.size})` : t('order.removeSelected');
  };
  removeBtn.addEventListener('click', async () => {
    if (selected.size >= (order.packageIds || []).length) {
      notice(t('order.lastPackage'), 'error');
      return;
    }
    if (!(await confirmDialog(t('order.removeConfirm', { n: selected.size })))) return;
    act(removeBtn, () => api.removePackages(order.id, [...selected], order.__etag), t('order.packagesRemoved'));
  });
  addBtn.addEventListener('click', async () => {
    const loc = await locationById(order.locationId);
    const picked = await pickPackages({ locationId: order.locationId, locationName: loc ? loc.name : '', exclude: new Set(order.packageIds || []) });
    if (!picked || !picked.length) return;
    act(addBtn, () => api.addPackages(order.id, picked.map((p) => p.id), order.__etag), t('order.packagesAdded'));
  });

  const pkgSection = h(
    'section.card',
    h('div.card-head', h('h2', t('order.packages')), active && order.type !== 'ORDER_TYPE_STOCK' ? h('div.actions-row', removeBtn, addBtn) : null),
    h(
      'div.table-wrap',
      h(
        'table.table',
        { 'data-testid': 'order-packages' },
        h(
          'thead',
          h(
            'tr',
            active ? h('th.check') : null,
            h('th', t('pkg.barcode')),
            h('th', t('pkg.tracking')),
            h('th', t('pkg.description')),
            h('th', t('pkg.door')),
            h('th', t('pkg.state')),
            h('th', t('pkg.user')),
          ),
        ),
        pkgBody,
      ),
    ),
  );
  const cols = active ? 7 : 6;
  if (order.type === 'ORDER_TYPE_STOCK' && (order.stockLines || []).length) {
    pkgSection.append(
      h('h3', t('order.stockLines')),
      h('table.table', h('tbody', (order.stockLines || []).map((l) => h('tr', h('td', l.sku), h('td.num', String(l.quantity || 0)))))),
    );
  }
  loadPackages(order, pkgBody, cols, active, selected, updateRemove);

  // History.
  const histBody = h('tbody');
  const hist = pager({
    tbody: histBody,
    colspan: 4,
    fetchPage: async (pageToken) => {
      const r = await api.orderHistory(order.id, { pageSize: 50, pageToken });
      return { items: r.entries || [], nextPageToken: r.nextPageToken };
    },
    render: historyRow,
  });
  const histSection = h(
    'section.card',
    h('h2', t('order.history')),
    h(
      'div.table-wrap',
      h('table.table', { 'data-testid': 'order-history' }, h('thead', h('tr', h('th', t('history.when')), h('th', t('history.what')), h('th', t('history.who')), h('th', t('history.detail')))), histBody),
    ),
    hist.el,
  );

  clear(
    root,
    h(
      'div.page-head',
      h('div', h('div.crumbs', h('a', { href: '#/orders' }, `${t('nav.technicians')} › ${t('nav.orders')}`)), h('h1', `${title} ${order.identifier || ''}`)),
      cancelBtn,
    ),
    h(
      'div.status-hero',
      { class: statusKind(status), 'data-testid': 'order-status', dataset: { status } },
      h('div.label', t('order.status')),
      h('div.value', t(`status.${status}`)),
    ),
    active ? null : h('div.alert.info', t('order.readonly', { status: t(`status.${status}`).toLowerCase() })),
    errArea,
    h('div.two-col', details, userCard),
    pkgSection,
    histSection,
  );
  hist.reload();
}

async function loadPackages(order, tbody, cols, active, selected, updateRemove) {
  const ids = order.packageIds || [];
  if (!ids.length) {
    clear(tbody, h('tr.empty-row', h('td', { colspan: cols }, t('order.noPackages'))));
    return;
  }
  clear(tbody, h('tr.loading-row', h('td', { colspan: cols }, spinner(true), ' ', t('common.loading'))));
  let pkgs;
  try {
    const got = [];
    let pageToken = '';
    do {
      const r = await api.listPackages({ orderId: order.id, pageSize: 500, pageToken });
      got.push(...(r.packages || []));
      pageToken = r.nextPageToken || '';
    } while (pageToken);
    // The order's own list is the truth; show ids the search did not return.
    const byId = new Map(got.map((p) => [p.id, p]));
    // A cancelled order's packages are released (no longer carry its id):
    // fetch those one by one.
    const missing = ids.filter((id) => !byId.has(id)).slice(0, 100);
    const fetched = await Promise.all(missing.map((id) => api.getPackage(id).catch(() => ({ id }))));
    for (const p of fetched) byId.set(p.id, p);
    pkgs = ids.map((id) => byId.get(id) || { id });
  } catch (e) {
    clear(tbody, h('tr', h('td', { colspan: cols }, errorBox(e))));
    return;
  }
  const doors = await doorsOf(order.locationId).catch(() => new Map());
  clear(tbody);
  for (const p of pkgs) {
    const user = h('td');
    if (p.assigneeUserId) userById(p.assigneeUserId).then((u) => (user.textContent = u.displayName || u.id));
    const box = active
      ? h('input', {
          type: 'checkbox',
          'aria-label': p.barcode || p.id,
          onchange: () => {
            if (box.checked) selected.add(p.id);
            else selected.delete(p.id);
            updateRemove();
          },
        })
      : null;
    const door = doors.get(p.doorId);
    tbody.append(
      h(
        'tr',
        { dataset: { packageId: p.id, barcode: p.barcode || '' }, 'data-testid': 'order-package-row' },
        active ? h('td.check', box) : null,
        h('td', h('strong', p.barcode || p.id)),
        h('td', p.trackingNumber || ''),
        h('td', p.description || ''),
        h('td', door ? h('a', { href: `#/locations/${order.locationId}/doors/${door.id}?tab=contents` }, door.label) : ''),
        h('td', p.state ? badge(t(`pkgstate.${p.state}`)) : ''),
        user,
      ),
    );
  }
}

export function initials(name) {
  return (name || '?')
    .split(/[\s@.]+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((w) => w[0].toUpperCase())
    .join('');
}

function historyRow(e) {
  const who = h('td', t('history.system'));
  if (e.actorUserId && e.actorUserId !== '00000000-0000-0000-0000-000000000000') {
    userById(e.actorUserId).then((u) => (who.textContent = u.displayName || u.email || u.id));
  }
  return h(
    'tr',
    { 'data-testid': 'history-row', dataset: { kind: e.kind || '' } },
    h('td.nowrap', formatTime(e.time)),
    h('td', t(`hist.${e.kind || 'ORDER_HISTORY_KIND_UNSPECIFIED'}`)),
    who,
    historyDetail(e),
  );
}

// before/after are JSON documents of the changed fields; say what changed
// in words, falling back to the server's detail text.
function historyDetail(e) {
  const cell = h('td.detail');
  let b = {};
  let a = {};
  try {
    b = e.before ? JSON.parse(e.before) : {};
    a = e.after ? JSON.parse(e.after) : {};
  } catch {
    /* not JSON: the detail text is all there is */
  }
  const count = (x) => (Array.isArray(x) ? x.length : 0);
  switch (e.kind) {
    case 'ORDER_HISTORY_KIND_CREATED':
      cell.textContent = a.identifier ? t('history.created', { identifier: a.identifier, n: count(a.package_ids) }) : e.detail || '';
      break;
    case 'ORDER_HISTORY_KIND_IDENTIFIER_CHANGED':
      cell.textContent = a.identifier ? `${b.identifier || '–'} → ${a.identifier}` : e.detail || '';
      break;
    case 'ORDER_HISTORY_KIND_PACKAGES_ADDED':
    case 'ORDER_HISTORY_KIND_PACKAGES_REMOVED':
      cell.textContent =
        'package_ids' in a
          ? t(e.kind === 'ORDER_HISTORY_KIND_PACKAGES_ADDED' ? 'history.pkgAdded' : 'history.pkgRemoved', { n: Math.abs(count(a.package_ids) - count(b.package_ids)) })
          : e.detail || '';
      break;
    case 'ORDER_HISTORY_KIND_ASSIGNED':
    case 'ORDER_HISTORY_KIND_UNASSIGNED': {
      const id = e.kind === 'ORDER_HISTORY_KIND_ASSIGNED' ? a.assignee_user_id : b.assignee_user_id;
      if (id) userById(id).then((u) => (cell.textContent = u.displayName || u.email || u.id));
      else cell.textContent = e.detail || '';
      break;
    }
    default:
      cell.textContent = e.detail || (a.status ? t(`status.${a.status}`) : '');
  }
  return cell;
}
