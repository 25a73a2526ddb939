// @ts-check
// Events: filters (source, type or type glob, status, time range) kept in
// the URL, search by id, keyset paging with `before` (the store never counts
// the table), and live updates while the newest page is shown.

import { firstEventHint } from '../hints.js';
import { api, badge, every, h, mount, scrollBox, when } from '../lib.js';

const STATUSES = ['pending', 'delivered', 'failed', 'dead', 'unmatched', 'off'];
const RANGES = [['', 'any time'], ['15m', 'last 15 minutes'], ['1h', 'last hour'], ['24h', 'last 24 hours'], ['7d', 'last 7 days'], ['custom', 'between…']];
const FILTERS = ['source', 'type', 'status', 'since', 'until'];
const AGE = /^\d+[smhdw]$/;

export default async function events() {
  const params = new URLSearchParams(location.search);
  const config = await api('/config');
  const query = new URLSearchParams();
  for (const k of [...FILTERS, 'before']) {
    const v = params.get(k);
    if (v) query.set(k, v);
  }
  const first = !params.has('before');
  /** The highest seq shown so far: rows above it are new, and flash once. @type {number | undefined} */
  let newest;
  const table = h('tbody');
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const empty = h('div');
  const filtered = FILTERS.some((k) => query.has(k));
  mount(h('h1', null, 'Events'), searchForm(), filterForm(params, config.sources), scrollBox(h('table', { class: 'list', id: 'events' }, head(), table)), empty, pager);

  let hinted = false;
  const render = async () => {
    const page = await api(`/events?${query}`);
    const seen = newest;
    newest = Math.max(newest ?? 0, page.events[0]?.seq ?? 0);
    table.replaceChildren(
      ...(page.events.length === 0 ? [h('tr', null, h('td', { colspan: COLUMNS.length, class: 'muted' }, filtered || !first ? 'No events match these filters.' : 'No events yet.'))] : []),
      ...page.events.map((/** @type {any} */ e) => row(e, seen !== undefined && e.seq > seen)),
    );
    // A store with no events at all: say how to send the first one.
    if (page.events.length === 0 && first && !filtered && !hinted) {
      hinted = true;
      empty.replaceChildren(await firstEventHint(config.sources));
    } else if (page.events.length > 0 && hinted) {
      hinted = false;
      empty.replaceChildren();
    }
    const older = new URLSearchParams(query);
    if (page.next !== null) older.set('before', String(page.next));
    const latest = new URLSearchParams(query);
    latest.delete('before');
    pager.replaceChildren(
      first ? h('span', { class: 'muted' }, 'Newest first; updates live.') : h('a', { href: `/ui/events?${latest}`, class: 'button' }, '← Newest'),
      page.next !== null ? h('a', { href: `/ui/events?${older}`, rel: 'next', class: 'button' }, 'Older →') : h('span', { class: 'muted' }, 'End of the list.'),
    );
  };
  if (first) every(render, 3000);
  else await render();
}

const COLUMNS = ['Received', 'Source', 'Type', 'Id', 'Status', 'Matched rules', 'Deliveries'];

function head() {
  return h('thead', null, h('tr', null, COLUMNS.map((t) => h('th', null, t))));
}

/** @param {any} e @param {boolean} fresh */
function row(e, fresh) {
  const href = `/ui/events/${encodeURIComponent(e.id)}`;
  return h(
    'tr',
    { class: fresh ? 'fresh' : null, 'data-id': e.id },
    h('td', null, when(e.receivedAt)),
    h('td', null, e.source),
    h('td', null, h('code', null, e.type)),
    h('td', null, h('a', { href }, e.id)),
    h('td', null, badge(e.status)),
    h('td', { class: 'matched' }, e.matched.length ? e.matched.map((/** @type {string} */ r) => h('a', { class: 'chip', href: `/ui/rules#rule-${encodeURIComponent(r)}` }, r)) : h('span', { class: 'muted' }, 'none')),
    h('td', { class: 'num' }, String(e.deliveries)),
  );
}

function searchForm() {
  const input = h('input', { name: 'id', type: 'search', placeholder: 'Event id or seq', 'aria-label': 'Event id or seq', required: true });
  return h(
    'form',
    {
      class: 'search',
      role: 'search',
      onsubmit: (/** @type {Event} */ ev) => {
        ev.preventDefault();
        const id = /** @type {HTMLInputElement} */ (input).value.trim();
        if (id) location.assign(`/ui/events/${encodeURIComponent(id)}`);
      },
    },
    input,
    h('button', { type: 'submit' }, 'Open'),
  );
}

/** @param {URLSearchParams} params @param {Array<{ name: string }>} sources */
function filterForm(params, sources) {
  const since = params.get('since') ?? '';
  const custom = since !== '' && !AGE.test(since);
  const range = custom ? 'custom' : RANGES.some(([v]) => v === since) ? since : '';
  const from = h('input', { type: 'datetime-local', name: 'from', 'aria-label': 'From', value: custom ? local(since) : '' });
  const until = h('input', { type: 'datetime-local', name: 'until', 'aria-label': 'Until', value: params.get('until') ? local(params.get('until') ?? '') : '' });
  const between = h('span', { class: 'between', hidden: range !== 'custom' }, from, ' – ', until);
  const select = (/** @type {string} */ name, /** @type {string[][]} */ options, /** @type {string} */ value) =>
    h('select', { name, 'aria-label': name, value }, options.map(([v, label]) => h('option', { value: v }, label)));
  const rangeSelect = select('range', RANGES, range);
  rangeSelect.addEventListener('change', () => (between.hidden = /** @type {HTMLSelectElement} */ (rangeSelect).value !== 'custom'));

  return h(
    'form',
    {
      class: 'filters',
      onsubmit: (/** @type {SubmitEvent} */ ev) => {
        ev.preventDefault();
        const data = new FormData(/** @type {HTMLFormElement} */ (ev.currentTarget));
        const q = new URLSearchParams();
        for (const k of ['source', 'type', 'status']) {
          const v = String(data.get(k) ?? '').trim();
          if (v) q.set(k, v);
        }
        const r = String(data.get('range') ?? '');
        if (r === 'custom') {
          // datetime-local is the browser's local time: send ISO so the server reads the same instant.
          const f = String(data.get('from') ?? '');
          const u = String(data.get('until') ?? '');
          if (f) q.set('since', new Date(f).toISOString());
          if (u) q.set('until', new Date(u).toISOString());
        } else if (r) q.set('since', r);
        location.assign(`/ui/events${q.size ? `?${q}` : ''}`);
      },
    },
    h('label', null, 'Source ', select('source', [['', 'all'], ...sources.map((s) => [s.name, s.name])], params.get('source') ?? '')),
    h('label', { title: 'An exact type, or a glob as in a rule’s on: * stays within a dot-separated segment, ** crosses them' }, 'Type ', h('input', { name: 'type', value: params.get('type') ?? '', placeholder: 'document.* or an exact type', size: 22 })),
    h('label', null, 'Status ', select('status', [['', 'any'], ...STATUSES.map((s) => [s, s])], params.get('status') ?? '')),
    h('label', null, 'Received ', rangeSelect),
    between,
    h('button', { type: 'submit' }, 'Filter'),
    h('a', { href: '/ui/events', class: 'reset' }, 'Clear'),
  );
}

/** An ISO time as a datetime-local value. @param {string} iso */
function local(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
