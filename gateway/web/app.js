// The HQ page's shell: header, left navigation, hash routes, login state and
// the language switch. Views render into #view.

import { clearCaches, onBusyChange, session, setUnauthenticatedHandler } from './api.js';
import { getLang, onLangChange, setLang, t } from './i18n.js';
import { clear, h } from './ui.js';
import { renderActivity } from './views/activity.js';
import { renderCreateOrder } from './views/create-order.js';
import { renderDoor, renderLocation, renderLocations, renderPackage } from './views/locations.js';
import { renderLogin } from './views/login.js';
import { renderOrder } from './views/order.js';
import { renderOrders } from './views/orders.js';
import { renderUsers } from './views/users.js';

const routes = [
  [/^\/orders\/new$/, (root) => renderCreateOrder(root), 'orders'],
  [/^\/orders\/([^/]+)$/, (root, m) => renderOrder(root, m[1]), 'orders'],
  [/^\/orders$/, (root) => renderOrders(root), 'orders'],
  [/^\/users$/, (root) => renderUsers(root), 'users'],
  [/^\/activity$/, (root, m, q) => renderActivity(root, q), 'activity'],
  [/^\/locations$/, (root) => renderLocations(root), 'locations'],
  [/^\/locations\/([^/]+)$/, (root, m) => renderLocation(root, m[1]), 'locations'],
  [/^\/locations\/([^/]+)\/doors\/([^/]+)$/, (root, m, q) => renderDoor(root, m[1], m[2], q), 'locations'],
  [/^\/packages\/([^/]+)$/, (root, m) => renderPackage(root, m[1]), 'activity'],
];

const app = document.getElementById('app');
let loginMessage = '';

function parseHash() {
  const raw = decodeURIComponent(location.hash.replace(/^#/, '')) || '/orders';
  const [path, qs] = raw.split('?');
  return { path: path || '/orders', query: new URLSearchParams(qs || '') };
}

function navLink(key, href, label, current) {
  return h('a.nav-link', { href, class: current === key ? 'current' : '', 'data-testid': `nav-${key}`, 'aria-current': current === key ? 'page' : null }, label);
}

function langSwitch() {
  const make = (code) =>
    h(
      'button.lang',
      { type: 'button', class: getLang() === code ? 'selected' : '', 'aria-pressed': String(getLang() === code), 'data-testid': `lang-${code}`, onclick: () => setLang(code) },
      code.toUpperCase(),
    );
  return h('div.lang-switch', { role: 'group', 'aria-label': t('header.language') }, make('en'), make('sv'));
}

function header() {
  const user = session.user;
  const progress = h('div.progress', { 'data-testid': 'progress', hidden: true });
  onBusyChange((busy) => (progress.hidden = !busy));
  return h(
    'header.topbar',
    h('a.brand', { href: '#/orders' }, h('span.logo', 'K'), h('span', t('app.title'))),
    h('div.spacer'),
    langSwitch(),
    session.token
      ? h(
          'div.who',
          h('span.user-chip', { 'data-testid': 'current-user' }, user ? user.displayName || user.email : ''),
          h('button.btn.small.ghost', { type: 'button', 'data-testid': 'logout', onclick: logout }, t('header.logout')),
        )
      : null,
    progress,
  );
}

function logout() {
  session.clear();
  clearCaches();
  loginMessage = '';
  location.hash = '#/orders';
  render();
}

setUnauthenticatedHandler(() => {
  session.clear();
  clearCaches();
  loginMessage = t('login.expired');
  render();
});

function render() {
  document.title = t('app.title');
  if (!session.token) {
    clear(app, header(), h('main.login-main#view'));
    const msg = loginMessage;
    loginMessage = '';
    renderLogin(document.getElementById('view'), { message: msg, onDone: render });
    return;
  }
  const { path, query } = parseHash();
  const route = routes.find(([re]) => re.test(path));
  const current = route ? route[2] : '';
  const view = h('main.view#view', { tabindex: '-1' });
  clear(
    app,
    header(),
    h(
      'div.layout',
      h(
        'nav.sidebar',
        { 'aria-label': 'Konnect' },
        h('div.nav-group', t('nav.technicians')),
        navLink('orders', '#/orders', t('nav.orders'), current),
        navLink('users', '#/users', t('nav.users'), current),
        h('div.nav-group', t('nav.main')),
        navLink('activity', '#/activity', t('nav.activity'), current),
        navLink('locations', '#/locations', t('nav.locations'), current),
      ),
      view,
    ),
  );
  if (!route) {
    location.replace('#/orders');
    return;
  }
  route[1](view, path.match(route[0]), query);
}

window.addEventListener('hashchange', () => {
  // Dialogs belong to the page they were opened from.
  document.querySelectorAll('dialog').forEach((d) => d.remove());
  render();
});
onLangChange(render);
document.documentElement.lang = getLang();
render();
