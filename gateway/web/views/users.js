// Tekniker > Användare: search users and (hq) create one.

import { api, newRequestId, rememberUser, session } from '../api.js';
import { formatTime, t } from '../i18n.js';
import { badge, busyButton, clear, debounce, dialog, field, h, notice, pager } from '../ui.js';

let lastQuery = '';

export function renderUsers(root) {
  const input = h('input.input.grow', { type: 'search', value: lastQuery, placeholder: t('pickUser.search'), 'aria-label': t('pickUser.search'), 'data-testid': 'users-search' });
  const tbody = h('tbody');
  const list = pager({
    tbody,
    colspan: 6,
    emptyText: t('pickUser.none'),
    fetchPage: async (pageToken, signal) => {
      const r = await api.listUsers({ query: lastQuery, pageSize: 50, pageToken, includeInactive: true }, signal);
      (r.users || []).forEach(rememberUser);
      return { items: r.users || [], nextPageToken: r.nextPageToken };
    },
    render: (u) =>
      h(
        'tr',
        { 'data-testid': 'user-row', dataset: { userId: u.id, email: u.email || '' } },
        h('td', h('strong', u.displayName || '')),
        h('td', u.email || ''),
        h('td', u.employeeNumber || ''),
        h('td', t(`role.${u.role || 'USER_ROLE_TECHNICIAN'}`)),
        h('td', u.active === false ? badge(t('users.inactive'), 'cancelled') : badge(t('users.active'), 'active')),
        h('td', formatTime(u.createTime)),
      ),
  });
  input.addEventListener(
    'input',
    debounce(() => {
      lastQuery = input.value.trim();
      list.reload();
    }, 250),
  );
  const me = session.user;
  const isHq = !me || !me.role || me.role === 'USER_ROLE_HQ';
  const createBtn = isHq ? h('button.btn.primary', { type: 'button', 'data-testid': 'create-user' }, '+ ', t('users.create')) : null;
  createBtn?.addEventListener('click', () => createUserDialog(() => list.reload()));

  clear(
    root,
    h('div.page-head', h('div', h('div.crumbs', t('nav.technicians')), h('h1', t('users.title'))), createBtn),
    h('section.card', h('div.toolbar', input)),
    h(
      'section.card',
      h(
        'div.table-wrap',
        h(
          'table.table',
          { 'data-testid': 'users-table' },
          h(
            'thead',
            h('tr', h('th', t('users.name')), h('th', t('users.email')), h('th', t('users.employeeNumber')), h('th', t('users.role')), h('th', t('users.active')), h('th', t('order.created'))),
          ),
          tbody,
        ),
      ),
      list.el,
    ),
  );
  list.reload();
}

function createUserDialog(done) {
  const d = dialog({ title: t('users.create'), testid: 'create-user-dialog' });
  const name = h('input.input', { required: true, maxlength: 200, 'data-testid': 'new-user-name' });
  const email = h('input.input', { type: 'email', required: true, 'data-testid': 'new-user-email' });
  const emp = h('input.input', { maxlength: 64, 'data-testid': 'new-user-employee' });
  const role = h(
    'select.input',
    { 'data-testid': 'new-user-role' },
    h('option', { value: 'USER_ROLE_TECHNICIAN' }, t('role.USER_ROLE_TECHNICIAN')),
    h('option', { value: 'USER_ROLE_HQ' }, t('role.USER_ROLE_HQ')),
  );
  const pw = h('input.input', { type: 'password', minlength: 10, required: true, autocomplete: 'new-password', 'data-testid': 'new-user-password' });
  const err = h('div', { hidden: true });
  const submit = h('button.btn.primary', { type: 'submit', 'data-testid': 'new-user-submit' }, t('users.create'));
  // One key per attempt of the form; edited fields make a new attempt.
  let key = null;
  const form = h(
    'form.form',
    { oninput: () => (key = null) },
    field(t('users.name'), name),
    field(t('users.email'), email),
    field(t('users.employeeNumber'), emp),
    field(t('users.role'), role),
    field(t('users.password'), pw),
    err,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!form.reportValidity()) return;
    if (!key) key = newRequestId();
    const body = { displayName: name.value.trim(), email: email.value.trim(), role: role.value, password: pw.value };
    if (emp.value.trim()) body.employeeNumber = emp.value.trim();
    busyButton(
      submit,
      async () => {
        const u = await api.createUser(body, key);
        rememberUser(u);
        notice(t('users.created', { name: u.displayName || body.displayName }));
        d.close();
        done();
      },
      err,
    );
  });
  submit.setAttribute('form', (form.id = `f-${Math.random().toString(36).slice(2)}`));
  d.body.append(form);
  d.footer.append(h('button.btn', { type: 'button', onclick: () => d.close() }, t('common.cancel')), submit);
  name.focus();
}
