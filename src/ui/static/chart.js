// @ts-check
// Stacked bar charts as plain SVG: a few dozen lines instead of a charting
// library. Bars carry <title>s, which browsers show as tooltips, and their
// bucket and count as data attributes.

import { clock, h, s } from './lib.js';

export const PALETTE = ['#2563eb', '#0d9488', '#9333ea', '#ea580c', '#db2777', '#65a30d', '#0891b2', '#ca8a04'];
export const OUTCOME_COLORS = { delivered: '#16a34a', retry: '#f59e0b', dead: '#dc2626' };

/**
 * Counts per time bucket as stacked bars on a time axis. A bar spans its
 * bucket (from its start to the next one's) and shows the bucket's count,
 * so the bars add up to the legend's totals; axis labels sit at the times
 * they name.
 * @typedef {{ name: string, values: number[], color: string }} Series
 * @param {{ buckets: string[], bucketMs: number, series: Series[], width?: number, height?: number, per?: string, label?: string }} options
 *   buckets: each bucket's start (ISO), oldest first; width, height: the size shown, in CSS pixels, so labels keep their size;
 *   per: what one bucket is, for tooltips (e.g. "minute", "15 minutes").
 */
export function barChart({ buckets, bucketMs, series, width = 640, height = 140, per = '', label = '' }) {
  const W = Math.round(width);
  const pad = { left: 36, right: 10, top: 8, bottom: 18 };
  const plotW = W - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const start = new Date(buckets[0] ?? Date.now()).getTime();
  const span = Math.max(1, buckets.length) * bucketMs;
  const x = (/** @type {number} */ t) => pad.left + ((t - start) / span) * plotW;
  const step = plotW / Math.max(1, buckets.length);
  const totals = buckets.map((_, i) => series.reduce((n, se) => n + (se.values[i] ?? 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const y = (/** @type {number} */ v) => pad.top + plotH - (v / max) * plotH;

  const grid = [0, max / 2, max].map((v) =>
    s('g', { class: 'tick' }, s('line', { x1: pad.left, x2: W - pad.right, y1: y(v), y2: y(v) }), s('text', { x: pad.left - 4, y: y(v) + 3, 'text-anchor': 'end' }, fmt(v))),
  );
  const bars = [];
  for (let i = 0; i < buckets.length; i++) {
    const at = /** @type {string} */ (buckets[i]);
    let base = 0;
    for (const se of series) {
      const v = se.values[i] ?? 0;
      if (v <= 0) continue;
      bars.push(
        s(
          'rect',
          { x: x(new Date(at).getTime()) + step * 0.1, y: y(base + v), width: Math.max(1, step * 0.8), height: Math.max(0.5, y(base) - y(base + v)), fill: se.color, class: 'bar', 'data-series': se.name, 'data-start': at, 'data-value': v },
          s('title', {}, `${clock(at)}${per ? ` (${per})` : ''} · ${se.name}: ${v}`),
        ),
      );
      base += v;
    }
  }
  const axis = ticks(start, start + span, bucketMs).map((t) =>
    s('g', { class: 'mark', 'data-time': new Date(t).toISOString() }, s('line', { x1: x(t), x2: x(t), y1: pad.top + plotH, y2: pad.top + plotH + 3 }), s('text', { x: x(t), y: height - 4, 'text-anchor': 'middle' }, clock(t))),
  );
  const svg = s('svg', { viewBox: `0 0 ${W} ${height}`, class: 'chart', role: 'img', 'aria-label': label }, grid, bars, s('g', { class: 'axis' }, axis));
  return h('figure', { class: 'chart-box' }, svg, legend(series));
}

/** Round times inside [from, to] for axis labels: every 15 minutes for an hour, every 6 hours for a day. @param {number} from @param {number} to @param {number} bucketMs */
function ticks(from, to, bucketMs) {
  const every = bucketMs >= 15 * 60_000 ? 6 * 3600_000 : 15 * 60_000;
  const out = [];
  // Local round times (the labels are local), found by stepping through the window.
  const offset = new Date(from).getTimezoneOffset() * 60_000;
  for (let t = Math.ceil((from - offset) / every) * every + offset; t <= to; t += every) out.push(t);
  return out;
}

/** Names with their totals over the window: the sum of their bars. @param {Series[]} series */
function legend(series) {
  if (series.length === 0) return h('figcaption', { class: 'muted' }, 'Nothing in this window.');
  return h(
    'figcaption',
    { class: 'legend' },
    series.map((se) => {
      const total = se.values.reduce((n, v) => n + v, 0);
      // An SVG swatch: fill is an attribute, where a coloured <span> would need an inline style the CSP refuses.
      const swatch = s('svg', { class: 'swatch', viewBox: '0 0 10 10', 'aria-hidden': 'true' }, s('rect', { width: 10, height: 10, rx: 2, fill: se.color }));
      return h('span', { class: 'key', 'data-series': se.name }, swatch, `${se.name} `, h('b', null, String(total)));
    }),
  );
}

/** A tiny chart for a table cell. @param {number[]} values @param {string} title */
export function sparkline(values, title) {
  const W = 96;
  const H = 20;
  const max = Math.max(1, ...values);
  const step = W / Math.max(1, values.length);
  return s(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, class: 'spark', role: 'img', 'aria-label': title },
    s('title', {}, title),
    values.map((v, i) => (v > 0 ? s('rect', { x: i * step + 0.5, y: H - (v / max) * H, width: Math.max(1, step - 1), height: Math.max(1, (v / max) * H), fill: PALETTE[0] ?? '#2563eb' }) : null)),
  );
}

/** @param {number} max */
function niceMax(max) {
  if (max <= 0) return 1;
  const mag = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= max) return m * mag;
  return 10 * mag;
}

/** @param {number} v */
function fmt(v) {
  return Number.isInteger(v) ? String(v) : v < 100 ? String(Number(v.toFixed(1))) : String(Math.round(v));
}
