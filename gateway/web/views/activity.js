// Aktivitet: free-text search over the activity log. A result opens the
// package's door page (Dörrar/profil) where Innehåll lists the contents and
// Tilldela till användare assigns a package.

import { api } from '../api.js';
import { formatTime, t } from '../i18n.js';
import { arrowLink, clear, h, pager } from '../ui.js';

let lastQuery = '';

export function renderActivity(root, params) {
  if (params.get('q') !== null) lastQuery = params.get('q');
  const input = h('input.input.grow', { type: 'search', value: lastQuery, placeholder: t('activity.search'), 'aria-label': t('activity.search'), 'data-testid': 'activity-search' });
  const submit = h('button.btn.primary', { type: 'submit', 'data-testid': 'activity-submit' }, t('common.search'));
  const tbody = h('tbody');
  const list = pager({
    tbody,
    colspan: 8,
    emptyText: t('activity.empty'),
    fetchPage: async (pageToken, signal) => {
      const r = await api.searchActivity({ query: lastQuery, pageSize: 50, pageToken }, signal);
      return { items: r.activities || [], nextPageToken: r.nextPageToken };
    },
    render: activityRow,
  });
  const form = h('form.toolbar.search-bar', input, submit);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    lastQuery = input.value.trim();
    list.reload();
  });
  clear(
    root,
    h('div.page-head', h('div', h('div.crumbs', t('nav.main')), h('h1', t('activity.title')))),
    h('section.card', form),
    h(
      'section.card',
      h(
        'div.table-wrap',
        h(
          'table.table',
          { 'data-testid': 'activity-table' },
          h(
            'thead',
            h(
              'tr',
              h('th', t('activity.time')),
              h('th', t('activity.event')),
              h('th', t('pkg.barcode')),
              h('th', t('pkg.tracking')),
              h('th', t('activity.order')),
              h('th', t('activity.location')),
              h('th', t('activity.door')),
              h('th'),
            ),
          ),
          tbody,
        ),
      ),
      list.el,
    ),
  );
  list.reload();
  input.focus();
}

function target(a) {
  if (a.locationId && a.doorId) {
    const pkg = a.packageId ? `&package=${encodeURIComponent(a.packageId)}` : '';
    return `#/locations/${a.locationId}/doors/${a.doorId}?tab=profile${pkg}`;
  }
  if (a.packageId) return `#/packages/${a.packageId}`;
  if (a.orderId) return `#/orders/${a.orderId}`;
  return null;
}

function activityRow(a) {
  const href = target(a);
  return h(
    'tr',
    { 'data-testid': 'activity-row', dataset: { packageId: a.packageId || '', barcode: a.barcode || '' } },
    h('td.nowrap', formatTime(a.time)),
    h('td', t(`act.${a.kind || 'ACTIVITY_KIND_UNSPECIFIED'}`)),
    h('td', h('strong', a.barcode || '')),
    h('td', a.trackingNumber || ''),
    h('td', a.orderId ? h('a', { href: `#/orders/${a.orderId}` }, a.orderIdentifier || t('activity.order')) : ''),
    h('td', a.locationName || ''),
    h('td', a.doorLabel || ''),
    h('td.actions', href ? arrowLink(t('activity.openDoor'), href, 'open-activity') : null),
  );
}
