// @ts-check
// Stacked bar charts as plain SVG: a few dozen lines instead of a charting
// library. Bars carry <title>s, which browsers show as tooltips.

import { clock, h, s } from './lib.js';

export const PALETTE = ['#2563eb', '#0d9488', '#9333ea', '#ea580c', '#db2777', '#65a30d', '#0891b2', '#ca8a04'];
export const OUTCOME_COLORS = { delivered: '#16a34a', retry: '#f59e0b', dead: '#dc2626' };

/**
 * @typedef {{ name: string, values: number[], color: string }} Series
 * @param {{ buckets: string[], series: Series[], width?: number, height?: number, scale?: number, unit?: string, label?: string }} options
 *   width, height: the size it is shown at, in CSS pixels, so labels keep their size;
 *   scale: multiplies values for display (e.g. 1/15 for per-minute rates of 15-minute buckets).
 */
export function barChart({ buckets, series, width = 640, height = 140, scale = 1, unit = '', label = '' }) {
  const W = Math.round(width);
  const pad = { left: 36, right: 6, top: 8, bottom: 18 };
  const plotW = W - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const totals = buckets.map((_, i) => series.reduce((n, se) => n + (se.values[i] ?? 0), 0) * scale);
  const max = niceMax(Math.max(0, ...totals));
  const step = plotW / Math.max(1, buckets.length);
  const y = (/** @type {number} */ v) => pad.top + plotH - (v / max) * plotH;

  const grid = [0, max / 2, max].map((v) =>
    s('g', { class: 'tick' }, s('line', { x1: pad.left, x2: W - pad.right, y1: y(v), y2: y(v) }), s('text', { x: pad.left - 4, y: y(v) + 3, 'text-anchor': 'end' }, fmt(v))),
  );
  const bars = [];
  for (let i = 0; i < buckets.length; i++) {
    let base = 0;
    for (const se of series) {
      const v = (se.values[i] ?? 0) * scale;
      if (v <= 0) continue;
      const x = pad.left + i * step + step * 0.1;
      bars.push(
        s(
          'rect',
          { x, y: y(base + v), width: Math.max(1, step * 0.8), height: Math.max(0.5, y(base) - y(base + v)), fill: se.color, class: 'bar' },
          s('title', {}, `${clock(/** @type {string} */ (buckets[i]))} · ${se.name}: ${fmt(v)}${unit}`),
        ),
      );
      base += v;
    }
  }
  // Time labels at the start, middle and end.
  const marks = [0, Math.floor(buckets.length / 2), buckets.length - 1].filter((i, k, all) => i >= 0 && all.indexOf(i) === k);
  const labels = marks.map((i) =>
    s('text', { x: pad.left + i * step + step / 2, y: height - 4, 'text-anchor': i === 0 ? 'start' : i === buckets.length - 1 ? 'end' : 'middle' }, clock(/** @type {string} */ (buckets[i]))),
  );
  const svg = s('svg', { viewBox: `0 0 ${W} ${height}`, class: 'chart', role: 'img', 'aria-label': label }, grid, bars, s('g', { class: 'axis' }, labels));
  return h('figure', { class: 'chart-box' }, svg, legend(series, scale, unit));
}

/** Names with their totals over the window. @param {Series[]} series @param {number} scale @param {string} unit */
function legend(series, scale, unit) {
  if (series.length === 0) return h('figcaption', { class: 'muted' }, 'Nothing in this window.');
  return h(
    'figcaption',
    { class: 'legend' },
    series.map((se) => {
      const total = se.values.reduce((n, v) => n + v, 0);
      // An SVG swatch: fill is an attribute, where a coloured <span> would need an inline style the CSP refuses.
      const swatch = s('svg', { class: 'swatch', viewBox: '0 0 10 10', 'aria-hidden': 'true' }, s('rect', { width: 10, height: 10, rx: 2, fill: se.color }));
      return h('span', { class: 'key' }, swatch, `${se.name} `, h('b', null, String(total)));
    }),
    unit && scale !== 1 ? h('span', { class: 'muted' }, ' (totals; bars show the average rate)') : null,
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
