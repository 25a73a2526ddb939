// @ts-check
// Overview: backlog, dead letters, open circuits, rejected requests and the
// active config, then traffic over the last hour or day. Refreshes every 5
// seconds. An empty store gets a hint on how to send a first event.

import { OUTCOME_COLORS, PALETTE, barChart } from '../chart.js';
import { firstEventHint } from '../hints.js';
import { api, ago, every, h, mount, time } from '../lib.js';
import { rejectionTable } from './rejected.js';

/** @type {'1h' | '24h'} */
let windowName = '1h';

export default async function overview() {
  every(render, 5000);
}

/** Built once: the hint does not change while the store stays empty. @type {HTMLElement | null} */
let hint = null;

async function render() {
  const [o, stats, rejected, latest] = await Promise.all([api('/overview'), api(`/stats?window=${windowName}`), api('/rejections?limit=5'), api('/events?limit=1')]);
  const minutes = stats.bucketMs / 60_000;
  const per = minutes === 1 ? 'minute' : `${minutes} minutes`;
  if (latest.events.length > 0) hint = null;
  else hint ??= await firstEventHint((await api('/config')).sources);
  const refused = Object.values(rejected.totals).reduce((n, c) => n + Number(c), 0);
  // Drawn at the size shown: main's width less its padding and the panel's.
  const main = document.getElementById('main');
  const style = main ? getComputedStyle(main) : null;
  const inner = (main?.clientWidth ?? 1200) - (style ? parseFloat(style.paddingLeft) + parseFloat(style.paddingRight) : 48);
  const full = Math.max(280, inner - 34);
  const half = full < 720 ? full : (full - 14) / 2;
  mount(
    h('h1', null, 'Overview'),
    h(
      'section',
      { class: 'cards' },
      card('Backlog', o.backlog, 'deliveries queued or retrying'),
      card('Dead letters', h('a', { href: '/ui/dead' }, String(o.deadLetters)), 'events with a dead delivery', o.deadLetters > 0 ? 'bad' : ''),
      card(
        'Open circuits',
        o.openCircuits.length,
        o.openCircuits.length ? o.openCircuits.map((/** @type {any} */ c) => `${c.target} (${c.state})`).join(', ') : 'every target closed',
        o.openCircuits.length ? 'bad' : '',
      ),
      card('Rejected', h('a', { href: '/ui/rejected' }, String(refused)), `requests refused since ${time(rejected.since)} (this instance)`, refused > 0 ? 'warn' : ''),
      card('Config', h('code', { title: o.config.hash }, o.config.hash.slice(0, 12)), `loaded ${time(o.config.loadedAt)} (${ago(o.config.loadedAt)}) · ${o.config.rules} rules, ${o.config.sources} sources`),
    ),
    hint ? h('section', { class: 'panel', id: 'first-event' }, hint) : null,
    h(
      'div',
      { class: 'toolbar', role: 'group', 'aria-label': 'Window' },
      ['1h', '24h'].map((w) =>
        h('button', { type: 'button', class: w === windowName ? 'tab active' : 'tab', 'aria-pressed': String(w === windowName), onclick: () => { windowName = /** @type {'1h' | '24h'} */ (w); void render(); } }, w === '1h' ? 'Last hour' : 'Last 24 hours'),
      ),
    ),
    h(
      'section',
      { class: 'panel', id: 'events-chart' },
      h('h2', null, `Events per ${per}, by source`, h('small', null, ' (totals over the window in the legend)')),
      barChart({
        buckets: stats.buckets,
        bucketMs: stats.bucketMs,
        series: stats.events.map((/** @type {any} */ e, /** @type {number} */ i) => ({ name: e.source, values: e.counts, color: PALETTE[i % PALETTE.length] })),
        width: full,
        per,
        label: `events per ${per} by source`,
      }),
    ),
    h(
      'section',
      { class: 'panel', id: 'delivery-charts' },
      h('h2', null, 'Delivery attempts per action', h('small', null, ` (per ${per}: delivered, retried, dead)`)),
      stats.deliveries.length === 0
        ? h('p', { class: 'muted' }, 'No delivery attempts in this window.')
        : h(
            'div',
            { class: 'multiples' },
            stats.deliveries.map((/** @type {any} */ d) =>
              h(
                'div',
                { class: 'multiple' },
                h('h3', null, d.action),
                barChart({
                  buckets: stats.buckets,
                  bucketMs: stats.bucketMs,
                  per,
                  width: half,
                  height: 100,
                  label: `delivery attempts of ${d.action}`,
                  series: [
                    { name: 'delivered', values: d.delivered, color: OUTCOME_COLORS.delivered },
                    { name: 'retry', values: d.retry, color: OUTCOME_COLORS.retry },
                    { name: 'dead', values: d.dead, color: OUTCOME_COLORS.dead },
                  ],
                }),
              ),
            ),
          ),
    ),
    h(
      'section',
      { class: 'panel', id: 'rejected' },
      h('h2', null, 'Recently rejected requests ', h('small', null, h('a', { href: '/ui/rejected' }, 'all'))),
      rejected.rejections.length === 0 ? h('p', { class: 'muted' }, 'None since this instance started.') : rejectionTable(rejected.rejections),
    ),
  );
}

/** @param {string} title @param {import('../lib.js').Child} value @param {string} detail @param {string} [tone] */
function card(title, value, detail, tone = '') {
  return h('div', { class: `card ${tone}` }, h('h2', null, title), h('p', { class: 'value' }, value), h('p', { class: 'muted' }, detail));
}
