// @ts-check
// Rules: the loaded rules in order, with their types, sources, conditions in
// full and actions, and how often each matched over the last day (from the
// stored events, so every instance's traffic counts).

import { api, h, mount, scrollBox, time } from '../lib.js';
import { sparkline } from '../chart.js';

export default async function rules() {
  const [view, config] = await Promise.all([api('/rules'), api('/config')]);
  mount(
    h('h1', null, 'Rules'),
    h('p', { class: 'muted' }, `${view.rules.length} rules, evaluated in this order. Config `, h('code', { title: config.hash }, config.hash.slice(0, 12)), ` loaded ${time(config.loadedAt)}.`),
    scrollBox(h(
      'table',
      { class: 'list', id: 'rules' },
      h('thead', null, h('tr', null, ['Rule', 'On', 'Sources', 'Conditions', 'Actions', 'Matched (24 h)'].map((t) => h('th', null, t)))),
      h(
        'tbody',
        null,
        view.rules.map((/** @type {any} */ r) =>
          h(
            'tr',
            { 'data-rule': r.name, id: `rule-${r.name}` },
            h('td', null, h('b', null, r.name), r.stop ? h('span', { class: 'chip', title: 'stop: true — later rules are not evaluated after a match' }, 'stop') : null),
            h('td', null, r.on.map((/** @type {string} */ t) => h('code', { class: 'chip' }, t))),
            h('td', null, r.sources ? r.sources.map((/** @type {string} */ s) => h('span', { class: 'chip' }, s)) : h('span', { class: 'muted' }, 'all')),
            h('td', { class: 'conditions' }, r.when ? condition(r.when) : h('span', { class: 'muted' }, 'none')),
            h(
              'td',
              null,
              h('ul', { class: 'actions' }, r.actions.map((/** @type {any} */ a) => h('li', { class: a.enabled ? null : 'disabled' }, h('b', null, a.name), ` (${a.plugin}) → `, h('code', { class: 'target' }, a.target), a.enabled ? null : ' — off'))),
            ),
            h('td', { class: 'num' }, h('span', { class: 'count' }, String(r.matches.total)), ' ', sparkline(r.matches.hourly, `${r.name}: matches per hour since ${time(view.since)}`)),
          ),
        ),
      ),
    )),
  );
}

/**
 * A rule's `when:` as written: all/any/not as nested groups, each leaf as
 * path, operator and value. A list is an implicit all.
 * @param {any} c
 * @returns {HTMLElement}
 */
function condition(c) {
  if (Array.isArray(c)) return group('all of', c);
  if (Array.isArray(c.all)) return group('all of', c.all);
  if (Array.isArray(c.any)) return group('any of', c.any);
  if (c.not !== undefined) return h('div', { class: 'cond not' }, h('span', { class: 'op' }, 'not'), condition(c.not));
  const op = Object.keys(c).find((k) => k !== 'path') ?? '?';
  return h('div', { class: 'cond leaf' }, h('code', { class: 'path' }, c.path), ' ', h('span', { class: 'op' }, op), ' ', h('code', { class: 'value' }, JSON.stringify(c[op])));
}

/** @param {string} label @param {any[]} list */
function group(label, list) {
  return h('div', { class: 'cond group' }, h('span', { class: 'op' }, label), h('ul', null, list.map((x) => h('li', null, condition(x)))));
}
