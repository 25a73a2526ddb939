// @ts-check
// One delivery's attempts as a timeline: each with what the destination
// answered (status line, headers, the start of the body) and what was sent,
// as a curl command to copy. And, for a delivery that is due but not
// running, why it waits (its target's circuit is open, or the workers are busy).

import { ago, duration, h, time, when } from '../lib.js';

/** Wider than this, a recorded request body was cut (src/deliver/exchange.ts keeps 16 KiB). */
const REQUEST_BODY_KEPT = 16_384;

/**
 * @param {any[]} attempts @param {any} event (its body view, for a request that sent the event's own bytes)
 * @param {number} deliveryId keys each attempt, so a redraw can keep it unfolded
 */
export function timeline(attempts, event, deliveryId) {
  if (attempts.length === 0) return h('p', { class: 'muted' }, 'No attempt yet.');
  return h(
    'ol',
    { class: 'timeline' },
    attempts.map((/** @type {any} */ a) =>
      h(
        'li',
        { class: a.outcome },
        h(
          'div',
          { class: 'line' },
          h('span', { class: 'n' }, `#${a.n}`),
          when(a.startedAt),
          h('span', { class: `outcome ${a.outcome}` }, a.outcome),
          a.status !== undefined ? h('span', { class: 'http' }, statusLine(a.response ?? { status: a.status })) : null,
          h('span', { class: 'dur' }, duration(a.durationMs)),
          a.error ? h('span', { class: 'err' }, a.error) : null,
        ),
        a.response || a.request ? exchange(a, event, `${deliveryId}:${a.n}:${a.startedAt}`) : null,
      ),
    ),
  );
}

/** @param {{ status: number, statusText?: string }} r */
function statusLine(r) {
  return `HTTP ${r.status}${r.statusText ? ` ${r.statusText}` : ''}`;
}

/** The recorded response and request of one attempt, folded. @param {any} a @param {any} event @param {string} key */
function exchange(a, event, key) {
  const r = a.response;
  const curl = a.request ? curlCommand(a.request, event.body) : undefined;
  const copy = h('button', { type: 'button', class: 'small copy-curl' }, 'Copy as curl');
  const copied = h('span', { class: 'note ok', role: 'status' });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(curl?.text ?? '');
      copied.textContent = 'Copied.';
    } catch {
      // No clipboard (plain HTTP on another host): select the text for a manual copy.
      const pre = copy.closest('details')?.querySelector('pre.curl');
      if (pre) getSelection()?.selectAllChildren(pre);
      copied.textContent = 'Selected: copy it with Ctrl+C.';
    }
  });
  return h(
    'details',
    { class: 'exchange', 'data-key': key },
    h('summary', null, r ? `Response ${statusLine(r)}` : 'Request', r?.body ? ` · ${r.body.length} characters of body` : ''),
    r
      ? h(
          'div',
          { class: 'response' },
          h('p', { class: 'status-line' }, h('code', null, statusLine(r))),
          headerTable(r.headers ?? {}),
          r.body ? h('pre', { class: 'body-excerpt' }, r.body) : h('p', { class: 'muted' }, 'No body recorded.'),
        )
      : null,
    curl
      ? h(
          'div',
          { class: 'request' },
          h('p', null, h('b', null, 'Request '), copy, copied),
          h('pre', { class: 'curl' }, curl.text),
          curl.notes.map((n) => h('p', { class: 'muted' }, n)),
        )
      : null,
  );
}

/** @param {Record<string, string>} headers */
function headerTable(headers) {
  const names = Object.keys(headers).sort();
  if (names.length === 0) return null;
  return h('table', { class: 'kv' }, h('tbody', null, names.map((n) => h('tr', null, h('th', null, n), h('td', null, h('code', { class: headers[n]?.includes('[masked]') ? 'masked' : null }, headers[n] ?? ''))))));
}

/** A POSIX shell word. @param {string} s */
const quote = (s) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * The request as a curl command. The body is the one recorded, or else the
 * event's own bytes: as stored text, or decoded from base64 for binary.
 * @param {{ method: string, url: string, headers?: Record<string, string>, body?: string }} req
 * @param {any} body the event's body view
 * @returns {{ text: string, notes: string[] }}
 */
export function curlCommand(req, body) {
  const notes = [];
  const parts = [`curl -X ${req.method} ${quote(req.url)}`];
  const headers = req.headers ?? {};
  for (const name of Object.keys(headers).sort()) parts.push(`-H ${quote(`${name}: ${headers[name]}`)}`);
  if (Object.values(headers).some((v) => v.includes('[masked]')) || req.url.includes('%5Bmasked%5D')) {
    notes.push('Credentials are masked ([masked]): put the real values in before running it.');
  }
  let prefix = '';
  if (req.body !== undefined) {
    parts.push(`--data-binary ${quote(req.body)}`);
    if (req.body.length > REQUEST_BODY_KEPT) notes.push('The body was cut at 16 KiB when it was recorded.');
  } else if (body.format === 'base64') {
    prefix = `printf %s ${quote(body.base64)} | base64 -d | `;
    parts.push('--data-binary @-');
  } else {
    parts.push(`--data-binary ${quote(body.format === 'text' ? body.text : JSON.stringify(body.json))}`);
    if (body.format === 'json') notes.push('The event’s JSON body, re-serialized: the same data, possibly not the same bytes.');
  }
  return { text: prefix + parts.join(' \\\n  '), notes };
}

/**
 * Why a queued delivery whose time has come is not running: its target's
 * circuit (from /admin/targets), else the workers. Null when it is not overdue.
 * @param {any} d @param {any[] | undefined} targets
 */
export function waitReason(d, targets) {
  if ((d.status !== 'pending' && d.status !== 'failed') || !d.nextAt) return null;
  if (typeof d.waitingBehind === 'number') {
    return h(
      'p',
      { class: 'held', role: 'status' },
      h('b', null, 'Waiting: '),
      `the action delivers in order (ordering: fifo), and delivery #${d.waitingBehind} to `,
      h('code', null, d.target),
      ' is ahead of this one. It goes once that one is delivered or dead.',
    );
  }
  const due = new Date(d.nextAt).getTime();
  if (due > Date.now()) return h('p', { class: 'muted next' }, 'Next attempt ', when(d.nextAt), ` (in ${Math.max(1, Math.round((due - Date.now()) / 1000))} s).`);
  const circuit = targets?.find((t) => t.target === d.target)?.circuit;
  if (circuit?.state === 'open') {
    return h(
      'p',
      { class: 'held', role: 'status' },
      h('b', null, 'Held: '),
      `the circuit for `,
      h('code', null, d.target),
      ` is open after ${circuit.failures} failures in a row, until ${circuit.reopensAt ? time(circuit.reopensAt) : 'its cool-down ends'}`,
      circuit.reopensAt ? ` (${ago(circuit.reopensAt)})` : '',
      '. Then one trial delivery goes through; when it succeeds, the rest follow.',
    );
  }
  if (circuit?.state === 'half-open') {
    return h('p', { class: 'held', role: 'status' }, h('b', null, 'Held: '), 'the circuit for ', h('code', null, d.target), ' is half-open: one trial delivery is under way, and the rest wait for its outcome.');
  }
  return h('p', { class: 'muted next' }, 'Due since ', when(d.nextAt), ': waiting for a free worker (the action’s concurrency, or a busy queue).');
}
