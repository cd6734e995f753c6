// Tekniker > Ordrar: the list of orders with the help page's filters.

import { allLocationsList, api, locationById, userById } from '../api.js';
import { formatTime, t } from '../i18n.js';
import { arrowLink, badge, clear, h, pager, showError, statusKind } from '../ui.js';

// Kept across visits so that going back to the list keeps the filters.
const filters = { status: '', assignment: '', locationId: '', startDate: '', endDate: '', type: 'ORDER_TYPE_JOB' };

export function renderOrders(root) {
  const tbody = h('tbody');
  const count = h('span.muted', { 'data-testid': 'orders-count' });
  const list = pager({
    tbody,
    colspan: 7,
    emptyText: t('orders.empty'),
    fetchPage: async (pageToken, signal) => {
      const r = await api.listOrders(
        {
          status: filters.status,
          assignment: filters.assignment,
          locationId: filters.locationId,
          startDate: filters.startDate,
          endDate: filters.endDate,
          type: filters.type,
          pageSize: 50,
          pageToken,
        },
        signal,
      );
      return { items: r.orders || [], nextPageToken: r.nextPageToken };
    },
    render: orderRow,
    onCount: (n) => (count.textContent = t('orders.count', { n })),
  });

  // Status: one or none (a radio group with "All").
  const statusOpts = [
    ['', t('orders.filter.statusAny')],
    ['ORDER_STATUS_ACTIVE', t('orders.filter.active')],
    ['ORDER_STATUS_COLLECTED', t('orders.filter.completed')],
    ['ORDER_STATUS_CANCELLED', t('orders.filter.cancelled')],
  ];
  const statusGroup = h(
    'div.segmented',
    { role: 'radiogroup', 'aria-label': t('orders.filter.status'), 'data-testid': 'filter-status' },
    statusOpts.map(([v, label]) =>
      h(
        'label.seg',
        h('input', {
          type: 'radio',
          name: 'status',
          value: v,
          checked: filters.status === v,
          onchange: () => {
            filters.status = v;
            list.reload();
          },
        }),
        h('span', label),
      ),
    ),
  );

  const select = (key, opts, testid, label) => {
    const s = h(
      'select.input',
      { 'data-testid': testid, 'aria-label': label, onchange: () => ((filters[key] = s.value), list.reload()) },
      opts.map(([v, l]) => h('option', { value: v, selected: filters[key] === v }, l)),
    );
    return s;
  };
  const assignment = select(
    'assignment',
    [
      ['', t('orders.filter.assignmentAny')],
      ['ASSIGNMENT_FILTER_ASSIGNED', t('orders.filter.assigned')],
      ['ASSIGNMENT_FILTER_UNASSIGNED', t('orders.filter.unassigned')],
    ],
    'filter-assignment',
    t('orders.filter.assignment'),
  );
  const type = select(
    'type',
    [
      ['ORDER_TYPE_JOB', t('orders.type.job')],
      ['ORDER_TYPE_STOCK', t('orders.type.stock')],
      ['', t('common.all')],
    ],
    'filter-type',
    t('orders.filter.type'),
  );
  const location = select('locationId', [['', t('orders.filter.locationAny')]], 'filter-location', t('orders.filter.location'));
  const locErr = h('div', { hidden: true });
  allLocationsList()
    .then((locs) => {
      for (const l of locs) location.append(h('option', { value: l.id, selected: filters.locationId === l.id }, l.name || l.code || l.id));
    })
    .catch((e) => showError(e, locErr));

  const date = (key, testid, label) => {
    const i = h('input.input', {
      type: 'date',
      value: filters[key],
      'data-testid': testid,
      'aria-label': label,
      onchange: () => {
        filters[key] = i.value;
        list.reload();
      },
    });
    return i;
  };
  const start = date('startDate', 'filter-start', t('orders.filter.startDate'));
  const end = date('endDate', 'filter-end', t('orders.filter.endDate'));

  const clearBtn = h(
    'button.btn.link',
    {
      type: 'button',
      'data-testid': 'filter-clear',
      onclick: () => {
        Object.assign(filters, { status: '', assignment: '', locationId: '', startDate: '', endDate: '', type: 'ORDER_TYPE_JOB' });
        renderOrders(root);
      },
    },
    t('orders.filter.clear'),
  );

  clear(
    root,
    h(
      'div.page-head',
      h('div', h('div.crumbs', `${t('nav.technicians')} › ${t('nav.orders')}`), h('h1', t('orders.title'))),
      h('a.btn.primary', { href: '#/orders/new', 'data-testid': 'create-order' }, '+ ', t('orders.create')),
    ),
    h(
      'section.card.filters',
      h('div.filter-row', h('div.field', h('span.label', t('orders.filter.status')), statusGroup)),
      h(
        'div.filter-row.grid',
        h('div.field', h('span.label', t('orders.filter.assignment')), assignment),
        h('div.field', h('span.label', t('orders.filter.location')), location),
        h('div.field', h('span.label', t('orders.filter.startDate')), start),
        h('div.field', h('span.label', t('orders.filter.endDate')), end),
        h('div.field', h('span.label', t('orders.filter.type')), type),
        h('div.field.end', clearBtn),
      ),
      locErr,
    ),
    h(
      'section.card',
      h(
        'div.table-wrap',
        h(
          'table.table.orders',
          { 'data-testid': 'orders-table' },
          h(
            'thead',
            h(
              'tr',
              h('th', t('orders.col.identifier')),
              h('th', t('orders.col.status')),
              h('th', t('orders.col.location')),
              h('th', t('orders.col.user')),
              h('th.num', t('orders.col.packages')),
              h('th', t('orders.col.created')),
              h('th'),
            ),
          ),
          tbody,
        ),
      ),
      h('div.table-foot', count, list.el),
    ),
  );
  list.reload();
}

function nameCell(promise, pick) {
  const cell = h('td');
  promise.then((x) => (cell.textContent = x ? pick(x) : '')).catch(() => {});
  return cell;
}

function orderRow(o) {
  const status = o.status || 'ORDER_STATUS_UNSPECIFIED';
  const user = o.assigneeUserId ? nameCell(userById(o.assigneeUserId), (u) => u.displayName || u.email || u.id) : h('td.muted', t('order.unassigned'));
  return h(
    'tr',
    { dataset: { orderId: o.id, identifier: o.identifier || '' }, 'data-testid': 'order-row' },
    h('td', h('a.strong', { href: `#/orders/${o.id}` }, o.identifier || o.id)),
    h('td', badge(t(`status.${status}`), statusKind(status))),
    nameCell(locationById(o.locationId), (l) => l.name || l.code),
    user,
    h('td.num', String((o.packageIds || []).length || (o.stockLines || []).length)),
    h('td', formatTime(o.createTime)),
    h('td.actions', arrowLink(t('common.open'), `#/orders/${o.id}`, 'open-order')),
  );
}
