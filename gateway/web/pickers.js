// The two picking dialogs of the help page: "Tilldela användare" (search or
// browse users, pick with the blue arrow or tick and confirm) and
// "Tilldela paket" (tick free packages at the order's location).

import { api, doorsOf, rememberUser } from './api.js';
import { t } from './i18n.js';
import { arrowButton, badge, debounce, dialog, h, pager } from './ui.js';

// Resolves the chosen user, or null when the dialog is closed.
export function pickUser({ title } = {}) {
  return new Promise((resolve) => {
    let chosen = null;
    let ticked = null;
    const d = dialog({ title: title || t('pickUser.title'), wide: true, testid: 'user-picker', onClose: () => resolve(chosen) });
    const search = h('input.input', { type: 'search', placeholder: t('pickUser.search'), 'aria-label': t('pickUser.search'), 'data-testid': 'user-search' });
    const tbody = h('tbody');
    const submit = h('button.btn.primary', { type: 'button', disabled: true, 'data-testid': 'user-picker-submit' }, t('pickUser.submit'));

    const finish = (u) => {
      chosen = u;
      d.close();
    };
    const p = pager({
      tbody,
      colspan: 5,
      emptyText: t('pickUser.none'),
      fetchPage: async (pageToken, signal) => {
        const r = await api.listUsers({ query: search.value.trim(), role: 'USER_ROLE_TECHNICIAN', pageSize: 25, pageToken }, signal);
        const items = (r.users || []).filter((u) => u.active !== false);
        items.forEach(rememberUser);
        return { items, nextPageToken: r.nextPageToken };
      },
      render: (u) => {
        const radio = h('input', {
          type: 'radio',
          name: 'pick-user',
          'aria-label': u.displayName,
          onchange: () => {
            ticked = u;
            submit.disabled = false;
          },
        });
        const row = h(
          'tr',
          { dataset: { userId: u.id }, 'data-testid': 'user-row' },
          h('td.check', radio),
          h('td', h('strong', u.displayName || '')),
          h('td', u.email || ''),
          h('td', u.employeeNumber || ''),
          h('td.actions', arrowButton(t('pickUser.pick', { name: u.displayName }), () => finish(u), 'pick-user')),
        );
        row.addEventListener('click', (ev) => {
          if (ev.target.closest('button')) return;
          radio.checked = true;
          radio.dispatchEvent(new Event('change'));
        });
        return row;
      },
    });
    search.addEventListener('input', debounce(() => p.reload(), 250));
    search.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        p.reload();
      }
    });
    submit.addEventListener('click', () => ticked && finish(ticked));

    d.body.append(
      h('p.hint', t('pickUser.hint')),
      h('div.toolbar', search),
      h(
        'div.table-wrap.scroll',
        h('table.table', h('thead', h('tr', h('th.check'), h('th', t('users.name')), h('th', t('users.email')), h('th', t('users.employeeNumber')), h('th'))), tbody),
      ),
      p.el,
    );
    d.footer.append(h('button.btn', { type: 'button', onclick: () => d.close() }, t('common.cancel')), submit);
    p.reload();
    search.focus();
  });
}

// Packages that can go into an order: at the location, not collected or
// returned, and in no order. ListPackages has no "no order" filter, so the
// page filters; a page may then show fewer rows than asked, and Load more
// fetches the next.
function free(pkg) {
  return (pkg.state === 'PACKAGE_STATE_IN_LOCKER' || pkg.state === 'PACKAGE_STATE_EXPECTED') && !pkg.orderId;
}

// Resolves an array of chosen packages, or null when closed.
export function pickPackages({ locationId, locationName, exclude }) {
  return new Promise((resolve) => {
    let chosen = null;
    const picked = new Map();
    const d = dialog({ title: t('pickPkg.title'), wide: true, testid: 'package-picker', onClose: () => resolve(chosen) });
    const search = h('input.input', { type: 'search', placeholder: t('pickPkg.search'), 'aria-label': t('pickPkg.search'), 'data-testid': 'package-search' });
    const tbody = h('tbody');
    const submit = h('button.btn.primary', { type: 'button', disabled: true, 'data-testid': 'package-picker-submit' }, t('pickPkg.submit'));
    const updateSubmit = () => {
      submit.disabled = picked.size === 0;
      submit.textContent = picked.size ? `${t('pickPkg.submit')} (${picked.size})` : t('pickPkg.submit');
    };
    let doors = new Map();
    doorsOf(locationId)
      .then((m) => (doors = m))
      .catch(() => {});

    const p = pager({
      tbody,
      colspan: 6,
      emptyText: t('pickPkg.none'),
      fetchPage: async (pageToken, signal) => {
        const r = await api.listPackages({ locationId, query: search.value.trim(), pageSize: 100, pageToken }, signal);
        doors = await doorsOf(locationId).catch(() => doors);
        const items = (r.packages || []).filter((x) => free(x) && !(exclude && exclude.has(x.id)));
        return { items, nextPageToken: r.nextPageToken };
      },
      render: (pkg) => {
        const box = h('input', {
          type: 'checkbox',
          checked: picked.has(pkg.id),
          'aria-label': pkg.barcode || pkg.id,
          onchange: () => {
            if (box.checked) picked.set(pkg.id, pkg);
            else picked.delete(pkg.id);
            updateSubmit();
          },
        });
        const door = doors.get(pkg.doorId);
        const row = h(
          'tr',
          { dataset: { packageId: pkg.id, barcode: pkg.barcode || '' }, 'data-testid': 'package-row' },
          h('td.check', box),
          h('td', h('strong', pkg.barcode || '')),
          h('td', pkg.trackingNumber || ''),
          h('td', pkg.description || pkg.carrier || ''),
          h('td', door ? door.label : ''),
          h('td', badge(t(`pkgstate.${pkg.state || 'PACKAGE_STATE_UNSPECIFIED'}`))),
        );
        row.addEventListener('click', (ev) => {
          if (ev.target === box) return;
          box.checked = !box.checked;
          box.dispatchEvent(new Event('change'));
        });
        return row;
      },
    });
    search.addEventListener('input', debounce(() => p.reload(), 250));
    submit.addEventListener('click', () => {
      chosen = [...picked.values()];
      d.close();
    });

    d.body.append(
      h('p.hint', t('pickPkg.hint', { location: locationName || '' })),
      h('div.toolbar', search),
      h(
        'div.table-wrap.scroll',
        h(
          'table.table',
          h('thead', h('tr', h('th.check'), h('th', t('pkg.barcode')), h('th', t('pkg.tracking')), h('th', t('pkg.description')), h('th', t('pkg.door')), h('th', t('pkg.state')))),
          tbody,
        ),
      ),
      p.el,
    );
    d.footer.append(h('button.btn', { type: 'button', onclick: () => d.close() }, t('common.cancel')), submit);
    p.reload();
    search.focus();
  });
}
