// @ts-check
// Dead letters: each dead delivery with its last error; select some (or all)
// and replay them, one delivery per request so the progress bar moves and a
// delivery left unselected is never replayed along with its sibling. A
// replayed row then follows its delivery (queued, delivered, or dead again)
// rather than keep its old badge.

import { api, badge, h, mount, note, scrollBox, when } from '../lib.js';

const PAGE = 100;
const PARALLEL = 4;
const FOLLOW_MS = 1500;
const FOLLOW_FOR_MS = 60_000;

export default async function dead() {
  /** @type {Array<{ event: any, delivery: any }>} */
  let letters = [];
  const body = h('tbody');
  const all = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', 'aria-label': 'Select all', id: 'select-all' }));
  const count = h('span', { class: 'muted' });
  const replaySelected = h('button', { type: 'button', id: 'replay-selected', disabled: true }, 'Replay selected');
  const progress = /** @type {HTMLProgressElement} */ (h('progress', { max: 1, value: 0, hidden: true, id: 'replay-progress' }));
  const status = h('span', { id: 'replay-status', role: 'status' });
  const more = h('button', { type: 'button', class: 'small', hidden: true }, 'Load more');

  const boxes = () => /** @type {HTMLInputElement[]} */ ([...body.querySelectorAll('input[type=checkbox]:not([disabled])')]);
  const update = () => {
    const selectable = boxes();
    const picked = selectable.filter((b) => b.checked).length;
    const dead = body.querySelectorAll('.state .badge.dead').length;
    count.textContent = `${dead} dead ${dead === 1 ? 'delivery' : 'deliveries'}${picked ? `, ${picked} selected` : ''}`;
    replaySelected.toggleAttribute('disabled', picked === 0);
    all.checked = picked > 0 && picked === selectable.length;
    all.indeterminate = picked > 0 && picked < selectable.length;
  };
  all.addEventListener('change', () => {
    for (const b of boxes()) b.checked = all.checked;
    update();
  });

  /** @param {number | undefined} before */
  const load = async (before) => {
    const page = await api(`/dead-letters?limit=${PAGE}${before ? `&before=${before}` : ''}`);
    letters = before ? [...letters, ...page.deadLetters] : page.deadLetters;
    body.replaceChildren(...(letters.length ? letters.map((l, i) => row(l, i, update)) : [h('tr', null, h('td', { colspan: 8, class: 'muted' }, 'No dead letters: every delivery so far was delivered or is still being tried.'))]));
    const seqs = new Set(page.deadLetters.map((/** @type {any} */ l) => l.event.seq));
    more.hidden = seqs.size < PAGE;
    more.onclick = () => void load(Math.min(...letters.map((l) => l.event.seq)));
    update();
  };

  replaySelected.addEventListener('click', async () => {
    const picked = boxes().filter((b) => b.checked).map((b) => /** @type {{ event: any, delivery: any }} */ (letters[Number(b.dataset.index)]));
    replaySelected.setAttribute('disabled', '');
    progress.hidden = false;
    progress.max = picked.length;
    progress.value = 0;
    let done = 0;
    let failed = 0;
    const queue = [...picked];
    /** @type {Array<{ event: any, delivery: any }>} */
    const queued = [];
    const worker = async () => {
      for (let l = queue.shift(); l; l = queue.shift()) {
        const tr = body.querySelector(`tr[data-delivery="${l.delivery.id}"]`);
        const cell = tr?.querySelector('.result');
        try {
          const r = await api('/replay', { method: 'POST', body: { ids: [l.event.id], rule: l.delivery.rule, action: l.delivery.action, dead: true } });
          if (r.deliveries) {
            queued.push(l);
            show(tr, 'pending');
          }
          cell?.replaceChildren(note(r.deliveries ? 'queued' : 'not dead any more'));
        } catch (err) {
          failed++;
          cell?.replaceChildren(note(err instanceof Error ? err.message : String(err), 'error'));
        }
        progress.value = ++done;
        status.textContent = `${done} / ${picked.length} replayed${failed ? `, ${failed} failed` : ''}`;
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, picked.length) }, worker));
    status.textContent = `Done: ${done - failed} of ${picked.length} queued again${failed ? `, ${failed} failed` : ''}.`;
    update();
    follow(queued);
  });

  /** Shows a row's delivery in its new state; a row no longer dead cannot be selected again. @param {Element | null | undefined} tr @param {string} state */
  const show = (tr, state) => {
    tr?.querySelector('.state')?.replaceChildren(badge(state));
    const box = /** @type {HTMLInputElement | null | undefined} */ (tr?.querySelector('input[type=checkbox]'));
    if (box) {
      box.checked = false;
      box.disabled = state !== 'dead';
    }
    tr?.classList.toggle('replayed', state !== 'dead');
  };

  /** Polls the replayed deliveries until each is delivered or dead again (or a minute passes). @param {Array<{ event: any, delivery: any }>} rows */
  const follow = (rows) => {
    const until = Date.now() + FOLLOW_FOR_MS;
    let open = [...rows];
    const tick = async () => {
      const still = [];
      for (const l of open) {
        const tr = body.querySelector(`tr[data-delivery="${l.delivery.id}"]`);
        try {
          const e = await api(`/events/${encodeURIComponent(l.event.id)}`);
          const d = e.deliveries.find((/** @type {any} */ x) => x.id === l.delivery.id);
          const state = d?.status ?? 'pending';
          show(tr, state);
          tr?.querySelector('.result')?.replaceChildren(note(state === 'delivered' ? 'delivered' : state === 'dead' ? 'dead again' : 'queued', state === 'dead' ? 'error' : 'ok'));
          if (state === 'pending' || state === 'failed') still.push(l);
        } catch {
          still.push(l);
        }
      }
      open = still;
      update();
      if (open.length > 0 && Date.now() < until) setTimeout(() => void tick(), FOLLOW_MS);
    };
    if (open.length > 0) setTimeout(() => void tick(), FOLLOW_MS);
  };

  mount(
    h('h1', null, 'Dead letters'),
    h('p', { class: 'muted' }, 'Deliveries that used up their retries. Replaying one gives it a fresh retry budget.'),
    h('div', { class: 'toolbar' }, replaySelected, progress, status, h('span', { class: 'spacer' }), count),
    scrollBox(h('table', { class: 'list', id: 'dead' }, h('thead', null, h('tr', null, h('th', null, all), ['Event', 'Source · type', 'Rule → action', 'Target', 'Last error', 'Received', ''].map((t) => h('th', null, t)))), body)),
    more,
  );
  await load(undefined);
}

/** @param {{ event: any, delivery: any }} l @param {number} i @param {() => void} changed */
function row(l, i, changed) {
  const { event: e, delivery: d } = l;
  const last = d.attempts.at(-1);
  return h(
    'tr',
    { 'data-delivery': String(d.id) },
    h('td', null, h('input', { type: 'checkbox', 'data-index': String(i), 'aria-label': `Select ${e.id} ${d.rule} ${d.action}`, onchange: changed })),
    h('td', null, h('a', { href: `/ui/events/${encodeURIComponent(e.id)}` }, e.id)),
    h('td', null, e.source, ' · ', h('code', null, e.type)),
    h('td', null, d.rule, ' → ', d.action, ' ', h('span', { class: 'state' }, badge(d.status))),
    h('td', null, h('code', { class: 'target' }, d.target)),
    h('td', { class: 'err' }, d.lastError ?? last?.error ?? (last?.status ? `HTTP ${last.status}` : '')),
    h('td', null, when(e.receivedAt)),
    h('td', { class: 'result' }),
  );
}
