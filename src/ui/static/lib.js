// @ts-check
// Shared by the dashboard's pages: DOM building (text only, never HTML
// strings, so nothing from an event can inject markup), the admin API client,
// and formatting.

/** @typedef {string | number | Node | null | undefined | false | ReadonlyArray<unknown>} Child */

/**
 * An element with properties and children. `on*` functions become listeners;
 * `class`, `for` and other strings become attributes; booleans toggle them.
 * @param {string} tag
 * @param {Record<string, unknown> | null} [props]
 * @param {...Child} children
 * @returns {HTMLElement}
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false || k === 'value') continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  // After the children: a <select> takes a value only once it has its options.
  if (props?.value !== undefined && props.value !== null) /** @type {HTMLInputElement} */ (el).value = String(props.value);
  return el;
}

/**
 * An SVG element (charts).
 * @param {string} tag
 * @param {Record<string, string | number>} [attrs]
 * @param {...Child} children
 * @returns {SVGElement}
 */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

/** @param {Element} el @param {Child[]} children */
function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/** A table that scrolls sideways inside its box when it is wider than the screen. @param {HTMLElement} table */
export function scrollBox(table) {
  return h('div', { class: 'table-scroll' }, table);
}

/** Replaces the page's content. @param {...Child} children */
export function mount(...children) {
  const main = /** @type {HTMLElement} */ (document.getElementById('main'));
  main.replaceChildren();
  append(main, children);
}

export class ApiError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * Calls the admin API with the session cookie. Changes carry X-Relay-UI,
 * which the API requires of cookie sessions (a cross-site form cannot send it).
 * An expired session goes back to the login form.
 * @param {string} path under /admin
 * @param {{ method?: string, body?: unknown }} [options]
 * @returns {Promise<any>}
 */
export async function api(path, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json', 'x-relay-ui': '1' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`/admin${path}`, {
    method: options.method ?? 'GET',
    headers,
    credentials: 'same-origin',
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (res.status === 401) {
    location.assign(`/ui/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError(401, 'the session has ended');
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, data.detail ?? data.error ?? `HTTP ${res.status}`);
  return data;
}

/**
 * Runs `task` now and every `ms` while the tab is visible; returns a stop. A
 * failure shows above the page and the polling goes on.
 * @param {() => Promise<void>} task @param {number} ms
 */
export function every(task, ms) {
  let running = false;
  const tick = async () => {
    if (running || document.hidden) return;
    running = true;
    try {
      await task();
      problem(null);
    } catch (err) {
      problem(err);
    } finally {
      running = false;
    }
  };
  void tick();
  const timer = setInterval(tick, ms);
  return () => clearInterval(timer);
}

// --- formatting ---------------------------------------------------------------

const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');

/** Local time, to the second. @param {string | number | null | undefined} t */
export function time(t) {
  if (t === null || t === undefined) return '—';
  const d = new Date(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** @param {string | number} t */
export function clock(t) {
  const d = new Date(t);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** How long ago, or for a future time how long until. @param {string | number} t */
export function ago(t) {
  const s = Math.round((Date.now() - new Date(t).getTime()) / 1000);
  if (Math.abs(s) < 5) return 'just now';
  return s < 0 ? `in ${span(-s)}` : `${span(s)} ago`;
}

/** @param {number} s seconds */
function span(s) {
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 129600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/** @param {number} ms */
export function duration(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** A time with its age as a tooltip. @param {string} t */
export function when(t) {
  return h('time', { datetime: t, title: ago(t) }, time(t));
}

/** @param {string} status */
export function badge(status) {
  // `off` alone would read as a fault; say what it means.
  return h('span', { class: `badge ${status}`, ...(status === 'off' && { title: 'matched, but every action is off' }) }, status === 'off' ? 'actions off' : status);
}

/** Shows (or, with null, clears) a failure above the page's content. @param {unknown} err */
export function problem(err) {
  let box = document.getElementById('problem');
  if (err === null) return box?.remove();
  if (!box) {
    box = h('div', { id: 'problem', class: 'error', role: 'alert' });
    document.getElementById('main')?.before(box);
  }
  box.textContent = err instanceof Error ? err.message : String(err);
}

/** @param {unknown} err */
export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err));
}

/** A short-lived note next to an action's button. @param {string} text @param {'ok' | 'error'} [kind] */
export function note(text, kind = 'ok') {
  return h('span', { class: `note ${kind}`, role: 'status' }, text);
}

/**
 * JSON as a collapsible tree: nested <details>, so folding needs no script.
 * @param {unknown} value
 * @param {number} [depth]
 * @returns {HTMLElement}
 */
export function jsonTree(value, depth = 0) {
  if (value === null || typeof value !== 'object') {
    return h('span', { class: `j-${value === null ? 'null' : typeof value}` }, JSON.stringify(value));
  }
  const list = Array.isArray(value);
  const entries = list ? value.map((v, i) => /** @type {[string, unknown]} */ ([String(i), v])) : Object.entries(value);
  const [open, close] = list ? ['[', ']'] : ['{', '}'];
  if (entries.length === 0) return h('span', { class: 'j-punct' }, open + close);
  const count = `${entries.length} ${list ? (entries.length === 1 ? 'item' : 'items') : entries.length === 1 ? 'key' : 'keys'}`;
  return h(
    'details',
    { class: `j-node ${list ? 'j-arr' : 'j-obj'}`, open: depth < 3 },
    h('summary', null, h('span', { class: 'j-punct' }, open), h('span', { class: 'j-count' }, count)),
    h('div', { class: 'j-body' }, entries.map(([k, v]) => h('div', { class: 'j-row' }, list ? null : [h('span', { class: 'j-key' }, JSON.stringify(k)), ': '], jsonTree(v, depth + 1)))),
    h('span', { class: 'j-punct' }, close),
  );
}

/** Opens or folds every node of a tree. @param {Element} root @param {boolean} open */
export function foldAll(root, open) {
  for (const d of root.querySelectorAll('details.j-node')) /** @type {HTMLDetailsElement} */ (d).open = open;
}
