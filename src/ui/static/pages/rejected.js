// @ts-check
// Rejected: the requests this instance's sources turned away lately (bad
// signature, unreadable body, no type, too large, not on the allowlist, rate
// limited, backlog full), newest first. Kept in memory only and never with
// their bodies: the admin API's ring of the last few hundred.

import { api, every, h, mount, scrollBox, when } from '../lib.js';

const REASONS = {
  signature: 'bad or missing signature',
  body: 'unreadable body',
  type: 'no event type, or one over limits',
  id: 'event id over limits',
  too_large: 'body too large',
  allowlist: 'client not on the allowlist',
  rate_limit: 'rate limited',
  backlog: 'backlog full',
};

export default async function rejected() {
  const totals = h('p', { class: 'muted', id: 'rejection-totals' });
  const list = h('div');
  mount(
    h('h1', null, 'Rejected requests'),
    h('p', { class: 'muted' }, 'Requests a source refused, as this instance saw them (each instance keeps its own). Bodies are never kept. For counts over time, the metric relay_events_received_total has the refusals by source.'),
    totals,
    list,
  );
  every(async () => {
    const r = await api('/rejections');
    const counts = Object.entries(r.totals);
    totals.textContent = counts.length
      ? `Since ${new Date(r.since).toLocaleString()}: ${counts.map(([k, n]) => `${n} ${REASONS[/** @type {keyof typeof REASONS} */ (k)] ?? k}`).join(', ')}. The last ${r.kept} are listed.`
      : `None since ${new Date(r.since).toLocaleString()}.`;
    list.replaceChildren(r.rejections.length ? rejectionTable(r.rejections) : h('p', { class: 'muted' }, 'Nothing has been rejected. A sender whose signature is wrong, or who is rate limited, shows up here.'));
  }, 5000);
}

/** @param {any[]} rows */
export function rejectionTable(rows) {
  return scrollBox(
    h(
      'table',
      { class: 'list rejections' },
      h('thead', null, h('tr', null, ['When', 'Source', 'Answer', 'Reason', 'Told the sender', 'Client'].map((t) => h('th', null, t)))),
      h(
        'tbody',
        null,
        rows.map((/** @type {any} */ r) =>
          h(
            'tr',
            { 'data-reason': r.reason },
            h('td', null, when(r.at)),
            h('td', null, r.source),
            h('td', null, h('span', { class: 'badge rejected' }, String(r.status))),
            h('td', null, REASONS[/** @type {keyof typeof REASONS} */ (r.reason)] ?? r.reason),
            h('td', { class: 'err' }, r.message),
            h('td', null, h('code', null, r.ip)),
          ),
        ),
      ),
    ),
  );
}
