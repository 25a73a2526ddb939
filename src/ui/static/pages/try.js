// @ts-check
// Try it: pick a source and a type, start from an example shaped like that
// source's provider (from the admin API, with the type put where the source
// reads it: a header or the payload), edit it, and see what the current
// config would do: which rules match, why the others do not, and each
// action's rendered fields. A dry run: nothing is sent and nothing is stored.

import { api, errorBox, h, jsonTree, mount } from '../lib.js';

export default async function tryIt() {
  const config = await api('/config');
  const result = h('section', { id: 'result', 'aria-live': 'polite' });
  const source = /** @type {HTMLSelectElement} */ (h('select', { name: 'source', id: 'try-source' }, config.sources.map((/** @type {any} */ s) => h('option', { value: s.name }, `${s.name} (${s.scheme}, ${s.path})`))));
  const type = /** @type {HTMLInputElement} */ (h('input', { name: 'type', id: 'try-type', list: 'try-types', size: 28, autocomplete: 'off', spellcheck: 'false' }));
  const types = h('datalist', { id: 'try-types' });
  const where = h('small', { class: 'muted', id: 'try-type-from' });
  const headers = /** @type {HTMLTextAreaElement} */ (h('textarea', { name: 'headers', id: 'try-headers', rows: 4, spellcheck: 'false', placeholder: 'content-type: application/json' }));
  const body = /** @type {HTMLTextAreaElement} */ (h('textarea', { name: 'body', id: 'try-body', rows: 16, spellcheck: 'false', required: true }));
  /** The example last put in the form: while the body is still that, a new choice may replace it. @type {any} */
  let shown = null;

  /** Loads the example for the chosen source and type; keeps a body the user edited, but still moves the type header. @param {boolean} force */
  const load = async (force) => {
    const ex = await api(`/examples/${encodeURIComponent(source.value)}${type.value.trim() ? `?type=${encodeURIComponent(type.value.trim())}` : ''}`);
    const untouched = force || shown === null || body.value === shown.body || body.value.trim() === '';
    type.value = ex.type;
    types.replaceChildren(...ex.types.map((/** @type {string} */ t) => h('option', { value: t })));
    where.textContent = `This source reads the type from ${ex.typeFrom}.`;
    if (untouched) {
      headers.value = Object.entries(ex.headers).map(([k, v]) => `${k}: ${v}`).join('\n');
      body.value = ex.body;
    } else if (ex.typeHeader) {
      headers.value = withHeader(headers.value, ex.typeHeader, ex.headers[ex.typeHeader]);
    }
    shown = ex;
  };
  const reload = (/** @type {boolean} */ force) => load(force).catch((err) => result.replaceChildren(errorBox(err)));
  source.addEventListener('change', () => {
    type.value = '';
    void reload(false);
  });
  type.addEventListener('change', () => void reload(false));

  const run = async (/** @type {SubmitEvent} */ ev) => {
    ev.preventDefault();
    result.replaceChildren(h('p', { class: 'muted' }, 'Running…'));
    try {
      const parsed = parseHeaders(headers.value);
      const r = await api('/dry-run', { method: 'POST', body: { source: source.value, headers: parsed, body: body.value } });
      result.replaceChildren(...view(r));
    } catch (err) {
      result.replaceChildren(errorBox(err));
    }
  };

  mount(
    h('h1', null, 'Try it'),
    h('p', { class: 'muted' }, 'Start from an example for a source, or paste an event as the provider would send it, and see what the current config would do with it. Nothing is sent, nothing is stored, and signatures are not checked.'),
    h(
      'form',
      { class: 'try', onsubmit: run },
      h('label', { for: 'try-source' }, 'Source'),
      source,
      h('label', { for: 'try-type' }, 'Type ', where),
      h('div', { class: 'toolbar' }, type, types, h('button', { type: 'button', class: 'link', id: 'try-example', onclick: () => void reload(true) }, 'Load the example for this type')),
      h('label', { for: 'try-headers' }, 'Headers ', h('small', { class: 'muted' }, '(one “name: value” per line)')),
      headers,
      h('label', { for: 'try-body' }, 'Body'),
      body,
      h('div', { class: 'toolbar' }, h('button', { type: 'submit', id: 'try-run' }, 'Dry run')),
    ),
    result,
  );
  if (config.sources.length > 0) await reload(true);
}

/** The header lines with `name` set to `value` (replaced where present, else added). @param {string} text @param {string} name @param {string} value */
function withHeader(text, name, value) {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const i = lines.findIndex((l) => l.slice(0, l.indexOf(':')).trim().toLowerCase() === name);
  const line = `${name}: ${value}`;
  if (i >= 0) lines[i] = line;
  else lines.push(line);
  return lines.join('\n');
}

/** @param {string} text @returns {Record<string, string>} */
function parseHeaders(text) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const colon = line.indexOf(':');
    if (colon < 1) throw new Error(`a header line needs "name: value": ${line}`);
    out[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return out;
}

/** @param {any} r */
function view(r) {
  const matched = r.rules.filter((/** @type {any} */ x) => x.matched);
  return [
    h('h2', null, `${matched.length} of ${r.rules.length} rules match`),
    h('p', { class: 'muted' }, `Source ${r.source}, event `, h('code', null, r.event.id || '(no id)'), ' of type ', h('code', null, r.event.type), '.'),
    h(
      'ul',
      { class: 'rules' },
      r.rules.map((/** @type {any} */ x) =>
        h(
          'li',
          { class: x.matched ? 'matched' : 'unmatched', 'data-rule': x.rule },
          h('span', { class: 'mark', 'aria-hidden': 'true' }, x.matched ? '✓' : '✗'),
          h('b', null, x.rule),
          x.matched ? ' matches' : [' — ', h('span', { class: 'reason' }, x.reason ?? 'does not match')],
          x.matched
            ? h(
                'ul',
                { class: 'rendered' },
                (x.actions ?? []).map((/** @type {any} */ a) =>
                  h('li', null, h('b', null, a.action), ` (${a.plugin})`, a.enabled ? '' : ' — off, would not run', Object.keys(a.rendered).length ? h('div', { class: 'json' }, jsonTree(a.rendered)) : h('span', { class: 'muted' }, ' — no templated fields')),
                ),
              )
            : null,
        ),
      ),
    ),
  ];
}
