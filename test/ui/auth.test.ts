// The dashboard's gate over real HTTP, on a running Relay: off without an
// admin token; every page checked without a session and with forged
// cookies; login, logout, cookie flags, open redirects; and the admin API
// taking the session cookie, with the CSRF header required on changes.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../src/relay.js';
import { createSessions } from '../../src/ui/session.js';
import { startInProcess } from '../helpers/in-process.js';
import { minimal } from '../helpers/config.js';

const TOKEN = 'ui-auth-admin-token-0123456789';
const YAML = `
server: { trustProxy: true }${minimal}`;
const PAGES = ['/ui', '/ui/', '/ui/events', '/ui/events/evt_1', '/ui/events/42', '/ui/dead', '/ui/rules', '/ui/try'];

interface Options {
  cookie?: string;
  method?: string;
  headers?: Record<string, string>;
  form?: Record<string, string>;
  json?: unknown;
}

function client(base: () => string) {
  return async (path: string, o: Options = {}) => {
    const headers: Record<string, string> = { accept: 'text/html', ...o.headers };
    if (o.cookie) headers.cookie = o.cookie;
    let body: string | undefined;
    if (o.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(o.form).toString();
    } else if (o.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(o.json);
    }
    const res = await fetch(`${base()}${path}`, { method: o.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
}

describe('without an admin token', () => {
  let relay: Relay;
  beforeAll(async () => {
    relay = await startInProcess(YAML);
  });
  afterAll(() => relay.stop());
  const call = client(() => relay.url);

  it('answers 404 on every /ui path, static files and login included', async () => {
    for (const path of [...PAGES, '/ui/login', '/ui/static/app.js', '/ui/static/style.css']) {
      expect((await call(path)).status, path).toBe(404);
    }
    expect((await call('/ui/login', { form: { token: 'anything-at-all-0123' } })).status).toBe(404);
  });
});

describe('with an admin token', () => {
  let relay: Relay;
  let session: string;
  beforeAll(async () => {
    relay = await startInProcess(YAML, { RELAY_ADMIN_TOKEN: TOKEN });
    const res = await call('/ui/login', { form: { token: TOKEN } });
    session = /^(relay_session=[^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1] ?? '';
    expect(session).not.toBe('');
  });
  afterAll(() => relay.stop());
  const call = client(() => relay.url);

  it('redirects every page to the login form without a session, keeping where it was going', async () => {
    for (const path of PAGES) {
      const res = await call(path);
      expect(res.status, path).toBe(303);
      expect(res.headers.get('location')).toBe(`/ui/login?next=${encodeURIComponent(path)}`);
      expect(res.text).not.toContain('app.js');
    }
    // Unknown pages too: nothing tells them apart from real ones before login.
    expect((await call('/ui/nope')).status).toBe(303);
    // A request that does not ask for HTML gets 401.
    expect(await call('/ui/events', { headers: { accept: 'application/json' } })).toMatchObject({ status: 401 });
  });

  it('refuses forged, tampered, foreign and expired cookies on every page', async () => {
    const value = session.slice('relay_session='.length);
    const [id, exp, sig] = value.split('.') as [string, string, string];
    const expired = createSessions(TOKEN, { ttlMs: 1 })!.login(TOKEN, Date.now() - 60_000)!;
    const foreign = createSessions('another-admin-token-0123456789')!.login('another-admin-token-0123456789')!;
    const forged = [
      'relay_session=admin',
      `relay_session=${TOKEN}`,
      `relay_session=${id}.${exp}.${'A'.repeat(43)}`,
      `relay_session=${id}.${Number(exp) - 1}.${sig}`,
      `relay_session=${expired}`,
      `relay_session=${foreign}`,
      `relay_sessionx=${value}`,
    ];
    for (const cookie of forged) {
      for (const path of PAGES) expect((await call(path, { cookie })).status, `${path} ${cookie}`).toBe(303);
      expect((await call('/admin/events', { cookie, headers: { accept: 'application/json' } })).status, cookie).toBe(401);
    }
  });

  it('serves every page with a session, with a strict CSP', async () => {
    for (const path of PAGES) {
      const res = await call(path, { cookie: session });
      expect(res.status, path).toBe(200);
      expect(res.text).toContain('<script type="module" src="/ui/static/app.js">');
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
    expect((await call('/ui/nope', { cookie: session })).status).toBe(404);
    expect((await call('/ui/events', { cookie: session, method: 'POST' })).status).toBe(405);
  });

  it('refuses a wrong token at login without a cookie, and accepts the right one with strict flags', async () => {
    for (const token of ['', 'wrong', TOKEN.slice(0, -1), `${TOKEN}x`]) {
      const res = await call('/ui/login', { form: { token, next: '/ui/rules' } });
      expect(res.status).toBe(401);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(res.text).toContain('That is not the admin token.');
      expect(res.text).toContain('value="/ui/rules"');
    }
    const ok = await call('/ui/login', { form: { token: TOKEN, next: '/ui/rules' } });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/ui/rules');
    const cookie = ok.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^relay_session=[\w-]+\.\d+\.[\w-]+; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict$/);
    // Behind a TLS proxy (trustProxy), the cookie is Secure.
    const tls = await call('/ui/login', { form: { token: TOKEN }, headers: { 'x-forwarded-proto': 'https' } });
    expect(tls.headers.get('set-cookie')).toMatch(/; Secure$/);
    // Already logged in: the form sends you on.
    expect(await call('/ui/login?next=/ui/dead', { cookie: session })).toMatchObject({ status: 302 });
  });

  it('never redirects outside the dashboard after login', async () => {
    for (const next of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', '/uix', 'javascript:alert(1)', '/admin/events']) {
      const res = await call('/ui/login', { form: { token: TOKEN, next } });
      expect(res.headers.get('location'), next).toBe('/ui');
    }
  });

  it('lets the session call the admin API; changes need X-Relay-UI (CSRF)', async () => {
    const json = { accept: 'application/json' };
    expect((await call('/admin/events', { cookie: session, headers: json })).status).toBe(200);
    const replay = { ids: ['nope'] };
    const refused = await call('/admin/replay', { cookie: session, json: replay });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.text)).toMatchObject({ status: 403, error: 'a session request that changes something needs the X-Relay-UI: 1 header' });
    expect((await call('/admin/reload', { cookie: session, method: 'POST' })).status).toBe(403);
    expect((await call('/admin/replay', { cookie: session, json: replay, headers: { 'x-relay-ui': '1' } })).status).toBe(200);
    // A wrong bearer token is not rescued by a valid cookie; the right one needs no CSRF header.
    expect((await call('/admin/events', { cookie: session, headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    expect((await call('/admin/replay', { json: replay, headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
  });

  it('logs out: the cookie is cleared and stops working', async () => {
    const res = await call('/ui/login', { form: { token: TOKEN } });
    const mine = /^(relay_session=[^;]+)/.exec(res.headers.get('set-cookie')!)![1]!;
    expect((await call('/ui', { cookie: mine })).status).toBe(200);
    expect((await call('/ui/logout', { cookie: mine })).status).toBe(405);
    const out = await call('/ui/logout', { cookie: mine, method: 'POST' });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/ui/login');
    expect(out.headers.get('set-cookie')).toMatch(/^relay_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict$/);
    expect((await call('/ui', { cookie: mine })).status).toBe(303);
    expect((await call('/admin/events', { cookie: mine, headers: { accept: 'application/json' } })).status).toBe(401);
    expect((await call('/ui', { cookie: session })).status).toBe(200); // other sessions live on
  });

  it('serves the static modules without a session (they hold no data), revalidated by ETag', async () => {
    const js = await call('/ui/static/app.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const etag = js.headers.get('etag')!;
    expect((await call('/ui/static/app.js', { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await call('/ui/static/pages/event.js')).status).toBe(200);
    expect((await call('/ui/static/style.css')).headers.get('content-type')).toBe('text/css; charset=utf-8');
    for (const path of ['/ui/static/nope.js', '/ui/static/', '/ui/static/pages']) expect((await call(path)).status, path).toBe(404);
    // Only the files read at start are served: no path reaches the file system.
    for (const path of ['/ui/static/../session.js', '/ui/static/%2e%2e/session.ts', '/ui/static/..%2fsession.ts', '/ui/static//etc/passwd']) {
      const res = await call(path);
      expect(res.status, path).not.toBe(200);
      expect(res.text).not.toMatch(/createHmac|root:/);
    }
  });
});
