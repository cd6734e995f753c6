// Small DOM helpers shared by the views: an element builder, buttons that
// disable themselves while their request runs, notices, dialogs and a
// "Load more" pager.

import { ApiError } from './api.js';
import { t } from './i18n.js';

// h('button.btn.primary#id', {onclick, type:'button'}, 'text', child...)
export function h(tag, attrs, ...children) {
  const [base, id] = tag.split('#');
  const [name, ...classes] = base.split('.');
  const el = document.createElement(name || 'div');
  if (id) el.id = id;
  if (classes.length) el.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className += (el.className ? ' ' : '') + v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function spinner(small) {
  return h(`span.spinner${small ? '.small' : ''}`, { role: 'status', 'aria-label': t('common.loading') });
}

export function loadingRow(colspan) {
  return h('tr.loading-row', h('td', { colspan }, spinner(true), ' ', t('common.loading')));
}

// Runs fn with the button disabled and a spinner in it; errors are shown in
// `errorTarget` (or as a notice) and resolved as undefined.
export async function busyButton(btn, fn, errorTarget) {
  if (btn.disabled) return undefined;
  btn.disabled = true;
  btn.classList.add('busy');
  const sp = spinner(true);
  btn.prepend(sp);
  btn.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } catch (e) {
    showError(e, errorTarget);
    return undefined;
  } finally {
    sp.remove();
    btn.classList.remove('busy');
    btn.removeAttribute('aria-busy');
    btn.disabled = false;
  }
}

// An error box with the plain sentence and the server's detail.
export function errorBox(e) {
  if (!(e instanceof ApiError)) {
    console.error(e);
    return h('div.alert.error', { role: 'alert' }, h('strong', t('err.other')));
  }
  const detail = e.detailText();
  return h('div.alert.error', { role: 'alert', dataset: { code: String(e.code) } }, h('strong', e.plain()), detail ? h('div.detail', detail) : null);
}

export function showError(e, target) {
  if (e && e.name === 'AbortError') return;
  if (target) {
    clear(target, errorBox(e));
    target.hidden = false;
  } else {
    notice(errorBox(e), 'error');
  }
}

let noticeArea;
export function notice(content, kind = 'ok') {
  if (!noticeArea) {
    noticeArea = h('div.notices', { 'aria-live': 'polite' });
    document.body.append(noticeArea);
  }
  const el =
    content instanceof Node
      ? h(`div.notice.${kind}`, content)
      : h(`div.notice.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, String(content));
  const close = h('button.icon-btn', { type: 'button', 'aria-label': t('common.close'), onclick: () => el.remove() }, '×');
  el.append(close);
  noticeArea.append(el);
  while (noticeArea.children.length > 3) noticeArea.firstChild.remove();
  setTimeout(() => el.remove(), kind === 'error' ? 12000 : 5000);
}

// A modal dialog. Returns {el, body, footer, close}; onClose runs once.
export function dialog({ title, wide, testid, onClose }) {
  const body = h('div.dialog-body');
  const footer = h('div.dialog-footer');
  const dlg = h(
    'dialog.dialog',
    { class: wide ? 'wide' : '', 'data-testid': testid, 'aria-label': title },
    h('header.dialog-header', h('h2', title), h('button.icon-btn', { type: 'button', 'aria-label': t('common.close'), onclick: () => close() }, '×')),
    body,
    footer,
  );
  let closed = false;
  function close() {
    if (closed) return;
    closed = true;
    dlg.close();
    dlg.remove();
    if (onClose) onClose();
  }
  dlg.addEventListener('cancel', (ev) => {
    ev.preventDefault();
    close();
  });
  document.body.append(dlg);
  dlg.showModal();
  return { el: dlg, body, footer, close };
}

export function confirmDialog(message, { okText, danger } = {}) {
  return new Promise((resolve) => {
    let result = false;
    const d = dialog({ title: t('common.confirm'), testid: 'confirm-dialog', onClose: () => resolve(result) });
    d.body.append(h('p', message));
    d.footer.append(
      h('button.btn', { type: 'button', onclick: () => d.close() }, t('common.cancel')),
      h(`button.btn.${danger ? 'danger' : 'primary'}`, {
        type: 'button',
        'data-testid': 'confirm-ok',
        onclick: () => {
          result = true;
          d.close();
        },
      }, okText || t('common.confirm')),
    );
  });
}

// The blue arrow that opens a row (the help page's "blå pilen").
export function arrowButton(label, onclick, testid) {
  return h('button.arrow-btn', { type: 'button', title: label, 'aria-label': label, 'data-testid': testid || 'open', onclick }, h('span', { 'aria-hidden': 'true' }, '➜'));
}

export function arrowLink(label, href, testid) {
  return h('a.arrow-btn', { href, title: label, 'aria-label': label, 'data-testid': testid || 'open' }, h('span', { 'aria-hidden': 'true' }, '➜'));
}

// Pages a list: fetchPage(pageToken, signal) → {items, nextPageToken};
// render(item) → <tr>. Returns {reload(), el} where el holds the Load more
// button. A newer reload discards an older one's answers.
export function pager({ tbody, colspan, fetchPage, render, emptyText, onCount }) {
  const more = h('button.btn', { type: 'button', 'data-testid': 'load-more', hidden: true }, t('common.loadMore'));
  const err = h('div', { hidden: true });
  const el = h('div.pager', err, more);
  let token = '';
  let gen = 0;
  let count = 0;
  let controller = null;

  async function load(first) {
    const my = first ? ++gen : gen;
    if (first) {
      if (controller) controller.abort();
      controller = new AbortController();
      token = '';
      count = 0;
      clear(tbody, loadingRow(colspan));
      more.hidden = true;
    }
    err.hidden = true;
    try {
      const r = await fetchPage(token, controller.signal);
      if (my !== gen) return;
      if (first) clear(tbody);
      for (const item of r.items) tbody.append(render(item));
      count += r.items.length;
      if (count === 0) tbody.append(h('tr.empty-row', h('td', { colspan }, emptyText || t('common.none'))));
      token = r.nextPageToken || '';
      more.hidden = !token;
      if (onCount) onCount(count, !!token);
    } catch (e) {
      if (e.name === 'AbortError' || my !== gen) return;
      if (first) clear(tbody);
      showError(e, err);
      more.hidden = !token && !first;
    }
  }

  more.addEventListener('click', () => busyButton(more, () => load(false)));
  return { el, reload: () => load(true) };
}

export function badge(text, kind) {
  return h(`span.badge.${kind || 'neutral'}`, text);
}

export function statusKind(status) {
  return { ORDER_STATUS_ACTIVE: 'active', ORDER_STATUS_COLLECTED: 'collected', ORDER_STATUS_CANCELLED: 'cancelled' }[status] || 'neutral';
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// A label + control pair for forms.
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h('div.field', h('label', { for: id }, label), control, hint ? h('div.hint', hint) : null);
}
