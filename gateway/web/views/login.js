// The login form: company (tenant) code, email, password → POST /v1/login.

import { api, clearCaches, session } from '../api.js';
import { t } from '../i18n.js';
import { busyButton, clear, field, h } from '../ui.js';

export function renderLogin(root, { message, onDone }) {
  const tenant = h('input.input', { name: 'tenant', autocomplete: 'organization', required: true, value: localStorage.getItem('kn.tenant') || '', 'data-testid': 'login-tenant' });
  const email = h('input.input', { name: 'email', type: 'email', autocomplete: 'username', required: true, 'data-testid': 'login-email' });
  const password = h('input.input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'login-password' });
  const err = h('div', { hidden: !message, 'data-testid': 'login-error' }, message ? h('div.alert.info', message) : null);
  const submit = h('button.btn.primary.large.block', { type: 'submit', 'data-testid': 'login-submit' }, t('login.submit'));
  const form = h(
    'form.login-card',
    h('div.brand.big', h('span.logo', 'K'), h('span', t('app.title'))),
    h('h1', t('login.title')),
    err,
    field(t('login.tenant'), tenant),
    field(t('login.email'), email),
    field(t('login.password'), password),
    submit,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!form.reportValidity()) return;
    busyButton(
      submit,
      async () => {
        try {
          const r = await api.login(tenant.value.trim(), email.value.trim(), password.value);
          clearCaches();
          session.save(r);
          localStorage.setItem('kn.tenant', tenant.value.trim());
          onDone();
        } catch (e) {
          // Never say which part was wrong (the gateway does not either).
          if (e.code === 16 || e.code === 5 || e.code === 7) {
            clear(err, h('div.alert.error', { role: 'alert' }, t('login.failed')));
            err.hidden = false;
            password.value = '';
            password.focus();
            return;
          }
          throw e;
        }
      },
      err,
    );
  });
  clear(root, h('div.login-wrap', form));
  (tenant.value ? email : tenant).focus();
}
