// Skapa order: location, Tilldela paket, optionally Tilldela användare, then
// Skapa order. The Idempotency-Key belongs to one attempt of the form: a
// retry after a lost answer sends the same key (the gateway then returns the
// order it already made), and any change to the form makes a new key, since
// the same key with another body is refused.

import { allLocationsList, api, doorsOf, newRequestId } from '../api.js';
import { t } from '../i18n.js';
import { pickPackages, pickUser } from '../pickers.js';
import { initials } from './order.js';
import { badge, busyButton, clear, field, h, notice, showError } from '../ui.js';

export function renderCreateOrder(root) {
  const state = { locationId: '', identifier: '', packages: [], user: null, requestId: null };
  const changed = () => {
    state.requestId = null;
  };
  const errArea = h('div', { hidden: true, 'data-testid': 'create-error' });

  const locSelect = h('select.input', { 'data-testid': 'create-location', required: true }, h('option', { value: '' }, t('create.chooseLocation')));
  allLocationsList()
    .then((locs) => {
      for (const l of locs) locSelect.append(h('option', { value: l.id }, l.name || l.code || l.id));
    })
    .catch((e) => showError(e, errArea));
  locSelect.addEventListener('change', () => {
    // Packages belong to one location: a new location starts a new list.
    state.locationId = locSelect.value;
    state.packages = [];
    changed();
    drawPackages();
  });

  const ident = h('input.input', { 'data-testid': 'create-identifier', maxlength: 64, placeholder: 'JO-…' });
  ident.addEventListener('input', () => {
    state.identifier = ident.value.trim();
    changed();
  });

  const pkgBody = h('tbody');
  const assignPkgBtn = h('button.btn.primary', { type: 'button', 'data-testid': 'assign-packages' }, t('order.assignPackages'));
  assignPkgBtn.addEventListener('click', async () => {
    errArea.hidden = true;
    if (!state.locationId) {
      notice(t('create.needLocation'), 'error');
      locSelect.focus();
      return;
    }
    const picked = await pickPackages({
      locationId: state.locationId,
      locationName: locSelect.selectedOptions[0]?.textContent,
      exclude: new Set(state.packages.map((p) => p.id)),
    });
    if (!picked || !picked.length) return;
    state.packages.push(...picked);
    changed();
    drawPackages();
  });

  async function drawPackages() {
    if (!state.packages.length) {
      clear(pkgBody, h('tr.empty-row', h('td', { colspan: 6 }, t('create.noPackages'))));
      return;
    }
    const doors = await doorsOf(state.locationId).catch(() => new Map());
    clear(pkgBody);
    for (const p of state.packages) {
      const door = doors.get(p.doorId);
      pkgBody.append(
        h(
          'tr',
          { dataset: { packageId: p.id, barcode: p.barcode || '' }, 'data-testid': 'create-package-row' },
          h('td', h('strong', p.barcode || p.id)),
          h('td', p.trackingNumber || ''),
          h('td', p.description || ''),
          h('td', door ? door.label : ''),
          h('td', badge(t(`pkgstate.${p.state || 'PACKAGE_STATE_UNSPECIFIED'}`))),
          h(
            'td.actions',
            h(
              'button.btn.small.link',
              {
                type: 'button',
                onclick: () => {
                  state.packages = state.packages.filter((x) => x.id !== p.id);
                  changed();
                  drawPackages();
                },
              },
              t('create.removePackage'),
            ),
          ),
        ),
      );
    }
  }

  const userBox = h('div.user-box');
  const assignUserBtn = h('button.btn', { type: 'button', 'data-testid': 'assign-user' }, t('create.assignUser'));
  assignUserBtn.addEventListener('click', async () => {
    const u = await pickUser({ title: t('create.assignUser') });
    if (!u) return;
    state.user = u;
    changed();
    drawUser();
  });
  function drawUser() {
    if (!state.user) {
      clear(userBox, h('div.avatar', { 'aria-hidden': 'true' }, '?'), h('div.muted', { 'data-testid': 'create-user' }, t('create.noUser')));
      return;
    }
    clear(
      userBox,
      h('div.avatar', { 'aria-hidden': 'true' }, initials(state.user.displayName || state.user.email)),
      h('div', h('div.user-name', { 'data-testid': 'create-user' }, state.user.displayName), h('div.muted', state.user.email || '')),
      h(
        'button.btn.small.link',
        {
          type: 'button',
          onclick: () => {
            state.user = null;
            changed();
            drawUser();
          },
        },
        t('create.removeUser'),
      ),
    );
  }

  const submit = h('button.btn.primary.large', { type: 'submit', 'data-testid': 'create-submit' }, t('create.submit'));
  const form = h(
    'form.create-form',
    { novalidate: true },
    h(
      'section.card',
      h('div.grid-2', field(t('create.location'), locSelect), field(t('create.identifier'), ident, t('create.identifierHint'))),
    ),
    h(
      'section.card',
      h('div.card-head', h('h2', t('create.packages')), assignPkgBtn),
      h(
        'div.table-wrap',
        h(
          'table.table',
          { 'data-testid': 'create-packages' },
          h('thead', h('tr', h('th', t('pkg.barcode')), h('th', t('pkg.tracking')), h('th', t('pkg.description')), h('th', t('pkg.door')), h('th', t('pkg.state')), h('th'))),
          pkgBody,
        ),
      ),
    ),
    h('section.card', h('div.card-head', h('h2', t('create.user')), assignUserBtn), userBox),
    errArea,
    h('div.form-actions', h('a.btn', { href: '#/orders' }, t('common.cancel')), submit),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    errArea.hidden = true;
    if (!state.locationId) return notice(t('create.needLocation'), 'error');
    if (!state.packages.length) return notice(t('create.needPackages'), 'error');
    if (!state.requestId) state.requestId = newRequestId();
    const body = { type: 'ORDER_TYPE_JOB', locationId: state.locationId, packageIds: state.packages.map((p) => p.id) };
    if (state.identifier) body.identifier = state.identifier;
    if (state.user) body.assigneeUserId = state.user.id;
    const key = state.requestId;
    busyButton(
      submit,
      async () => {
        const order = await api.createOrder(body, key);
        notice(t('create.done', { id: order.identifier || '' }));
        location.hash = `#/orders/${order.id}`;
      },
      errArea,
    );
  });

  clear(
    root,
    h(
      'div.page-head',
      h('div', h('div.crumbs', h('a', { href: '#/orders' }, `${t('nav.technicians')} › ${t('nav.orders')}`)), h('h1', t('create.title'))),
    ),
    form,
  );
  drawPackages();
  drawUser();
}
