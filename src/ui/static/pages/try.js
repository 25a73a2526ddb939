// @ts-check
// Try it: paste an event (and headers), pick a source, and see what the
// current config would do: which rules match, why the others do not, and each
// action's rendered fields. A dry run: nothing is sent and nothing is stored.

import { api, errorBox, h, jsonTree, mount } from '../lib.js';

const EXAMPLE = JSON.stringify({ id: 'evt_try_1', type: 'document.processed', data: { document_id: 'doc_1', document: { filename: 'contract.pdf', ai_tags: ['contract'] } } }, null, 2);

export default async function tryIt() {
  const config = await api('/config');
  const result = h('section', { id: 'result', 'aria-live': 'polite' });
  const source = h('select', { name: 'source', id: 'try-source' }, config.sources.map((/** @type {any} */ s) => h('option', { value: s.name }, `${s.name} (${s.path})`)));
  const headers = h('textarea', { name: 'headers', id: 'try-headers', rows: 3, spellcheck: 'false', placeholder: 'content-type: application/json\nx-github-event: push' });
  const body = h('textarea', { name: 'body', id: 'try-body', rows: 14, spellcheck: 'false', required: true, placeholder: EXAMPLE });

  const run = async (/** @type {SubmitEvent} */ ev) => {
    ev.preventDefault();
    result.replaceChildren(h('p', { class: 'muted' }, 'Running…'));
    try {
      const parsed = parseHeaders(/** @type {HTMLTextAreaElement} */ (headers).value);
      const r = await api('/dry-run', { method: 'POST', body: { source: /** @type {HTMLSelectElement} */ (source).value, headers: parsed, body: /** @type {HTMLTextAreaElement} */ (body).value } });
      result.replaceChildren(...view(r));
    } catch (err) {
      result.replaceChildren(errorBox(err));
    }
  };

  mount(
    h('h1', null, 'Try it'),
    h('p', { class: 'muted' }, 'Paste an event as the provider would send it and see what the current config would do with it. Nothing is sent, nothing is stored, and signatures are not checked.'),
    h(
      'form',
      { class: 'try', onsubmit: run },
      h('label', { for: 'try-source' }, 'Source'),
      source,
      h('label', { for: 'try-headers' }, 'Headers ', h('small', { class: 'muted' }, '(optional, one “name: value” per line; some providers put the type in a header)')),
      headers,
      h('label', { for: 'try-body' }, 'Body'),
      body,
      h('div', { class: 'toolbar' }, h('button', { type: 'submit', id: 'try-run' }, 'Dry run'), h('button', { type: 'button', class: 'link', onclick: () => (/** @type {HTMLTextAreaElement} */ (body).value = EXAMPLE) }, 'Paste an example')),
    ),
    result,
  );
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
