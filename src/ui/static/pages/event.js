// @ts-check
// One event: its payload (collapsible) and headers (secrets masked by the
// API), which rules matched and why the others did not (a dry run against
// the current config), and each delivery's attempts as a timeline, with
// replay for the event or for one delivery.

import { api, ApiError, badge, errorBox, foldAll, h, jsonTree, mount, note, problem, when } from '../lib.js';
import { timeline, waitReason } from './attempts.js';

export default async function event() {
  const id = decodeURIComponent(location.pathname.replace(/^\/ui\/events\//, '').replace(/\/$/, ''));
  let e;
  try {
    e = await api(`/events/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return mount(h('h1', null, 'Event not found'), h('p', null, `No event has the id or seq “${id}”. `, h('a', { href: '/ui/events' }, 'Back to the events')));
    throw err;
  }
  const status = h('span', { id: 'event-status' }, badge(e.status));
  const deliveries = h('div', { id: 'deliveries' });
  const replayNote = h('span');
  /** Until when to keep polling after a replay (ms). */
  let watchUntil = 0;

  /** Redraws the deliveries, keeping the attempts the reader unfolded open. @param {any} event */
  const draw = async (event) => {
    const open = new Set([...deliveries.querySelectorAll('details.exchange[open]')].map((d) => d.getAttribute('data-key')));
    const targets = event.deliveries.some(overdue) ? (await api('/targets')).targets : undefined;
    deliveries.replaceChildren(...event.deliveries.map((/** @type {any} */ d) => delivery(event, d, replayOne, targets)));
    for (const d of deliveries.querySelectorAll('details.exchange')) if (open.has(d.getAttribute('data-key'))) d.setAttribute('open', '');
  };
  const refresh = async () => {
    const fresh = await api(`/events/${encodeURIComponent(e.id)}`);
    status.replaceChildren(badge(fresh.status));
    await draw(fresh);
    return fresh.deliveries.some((/** @type {any} */ d) => d.status === 'pending' || d.status === 'failed');
  };
  // Poll while something is queued or a replay was just asked for; stop when it settles.
  let timer = 0;
  const watch = () => {
    clearTimeout(timer);
    timer = window.setTimeout(async () => {
      try {
        const busy = await refresh();
        problem(null);
        if (busy || Date.now() < watchUntil) watch();
      } catch (err) {
        problem(err);
        watch();
      }
    }, 1500);
  };
  const replayed = () => {
    watchUntil = Date.now() + 30_000;
    watch();
  };

  const replayAll = h('button', { type: 'button', id: 'replay-event', onclick: () => replay({ ids: [e.id] }, replayAll, replayNote, replayed) }, 'Replay event');
  // The note lives in the toolbar: the deliveries are redrawn while they are followed.
  const replayOne = (/** @type {Record<string, unknown>} */ body, /** @type {HTMLElement} */ button) => replay(body, button, replayNote, replayed);
  mount(
    h('p', { class: 'crumbs' }, h('a', { href: '/ui/events' }, 'Events'), ' / ', e.id),
    h('h1', null, h('code', null, e.id), ' ', status),
    h(
      'dl',
      { class: 'meta' },
      h('dt', null, 'Source'), h('dd', null, e.source),
      h('dt', null, 'Type'), h('dd', null, h('code', null, e.type)),
      h('dt', null, 'Received'), h('dd', null, when(e.receivedAt)),
      h('dt', null, 'Seq'), h('dd', null, String(e.seq)),
    ),
    h('div', { class: 'toolbar' }, replayAll, replayNote),
    h('section', { class: 'panel', id: 'rules' }, h('h2', null, 'Rules'), await rules(e)),
    h('section', { class: 'panel' }, h('h2', null, 'Deliveries'), e.deliveries.length === 0 ? h('p', { class: 'muted' }, e.matched.length > 0 ? `Matched ${e.matched.join(', ')}, but every action of ${e.matched.length > 1 ? 'those rules' : 'that rule'} is off (enabled: false), so nothing was queued.` : 'No rule matched, so nothing was queued.') : deliveries),
    payload(e.body),
    headers(e.headers),
  );
  await draw(e);
  if (e.deliveries.some((/** @type {any} */ d) => d.status === 'pending' || d.status === 'failed')) watch();
}

/** @param {any} e */
async function rules(e) {
  let explained;
  try {
    explained = await api(`/events/${encodeURIComponent(e.id)}/explain`);
  } catch (err) {
    return h('div', null, matchedAtArrival(e.matched), errorBox(err));
  }
  return h(
    'div',
    null,
    matchedAtArrival(e.matched),
    h(
      'ul',
      { class: 'rules' },
      explained.rules.map((/** @type {any} */ r) =>
        h('li', { class: r.matched ? 'matched' : 'unmatched', 'data-rule': r.rule }, h('span', { class: 'mark', 'aria-hidden': 'true' }, r.matched ? '✓' : '✗'), h('b', null, r.rule), r.matched ? ' matches' : [' — ', h('span', { class: 'reason' }, r.reason ?? 'does not match')]),
      ),
    ),
    h('p', { class: 'muted' }, 'Evaluated now against the current config ', h('code', { title: explained.configHash }, explained.configHash.slice(0, 12)), ', which may differ from the one the event arrived under.'),
  );
}

/** @param {string[]} matched */
function matchedAtArrival(matched) {
  return h('p', null, 'At arrival it matched: ', matched.length ? matched.map((m, i) => [i ? ', ' : '', h('b', null, m)]) : h('span', { class: 'muted' }, 'no rule'), '.');
}

/** Queued, and its time has come. @param {any} d */
const overdue = (d) => (d.status === 'pending' || d.status === 'failed') && d.nextAt !== null && new Date(d.nextAt).getTime() <= Date.now();

/**
 * @param {any} e @param {any} d @param {(body: Record<string, unknown>, button: HTMLElement) => void} onReplay
 * @param {any[] | undefined} targets the admin API's targets, when some delivery is overdue
 */
function delivery(e, d, onReplay, targets) {
  const button = h('button', { type: 'button', class: 'small', onclick: () => onReplay({ ids: [e.id], rule: d.rule, action: d.action }, button) }, 'Replay this delivery');
  return h(
    'article',
    { class: `delivery ${d.status}`, 'data-delivery': String(d.id) },
    h(
      'header',
      null,
      h('b', null, d.rule), ' → ', h('b', null, d.action), ' ', h('code', { class: 'target' }, d.target), ' ', badge(d.status),
      h('span', { class: 'spacer' }),
      button,
    ),
    waitReason(d, targets),
    timeline(d.attempts, e, d.id),
  );
}

/**
 * @param {Record<string, unknown>} body @param {HTMLElement} button @param {HTMLElement} out @param {() => void} done
 */
async function replay(body, button, out, done) {
  button.setAttribute('disabled', '');
  out.replaceChildren(note('Replaying…'));
  try {
    const r = await api('/replay', { method: 'POST', body });
    out.replaceChildren(note(r.deliveries ? `Queued again: ${r.deliveries} ${r.deliveries === 1 ? 'delivery' : 'deliveries'}.` : 'Nothing to replay (being delivered right now?).'));
    done();
  } catch (err) {
    out.replaceChildren(note(err instanceof Error ? err.message : String(err), 'error'));
  } finally {
    button.removeAttribute('disabled');
  }
}

/** @param {any} body */
function payload(body) {
  const view =
    body.format === 'json' ? jsonTree(body.json) : h('pre', { class: 'raw' }, body.format === 'text' ? body.text : body.base64);
  const box = h('div', { class: 'json' }, view);
  return h(
    'section',
    { class: 'panel', id: 'payload' },
    h(
      'h2',
      null,
      'Payload ',
      h('small', null, `${body.bytes} bytes, ${body.format}`),
      body.format === 'json' ? h('span', { class: 'tools' }, h('button', { type: 'button', class: 'small', onclick: () => foldAll(box, true) }, 'Expand all'), h('button', { type: 'button', class: 'small', onclick: () => foldAll(box, false) }, 'Collapse all')) : null,
    ),
    box,
  );
}

/** @param {Record<string, string>} headers */
function headers(headers) {
  const names = Object.keys(headers).sort();
  return h(
    'section',
    { class: 'panel', id: 'headers' },
    h('h2', null, 'Headers ', h('small', null, 'signatures and credentials masked')),
    h('table', { class: 'kv' }, h('tbody', null, names.map((n) => h('tr', null, h('th', null, n), h('td', null, h('code', { class: headers[n] === '[masked]' ? 'masked' : null }, headers[n] ?? '')))))),
  );
}
