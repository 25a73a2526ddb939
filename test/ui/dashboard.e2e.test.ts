// The dashboard's event flows end to end in real headless Chromium (Debian's
// package, driven by playwright-core): log in (and fail to), watch signed
// events arrive, filter them by a type glob and page back, read an event's
// rules and its attempts with what the receiver answered and the request as
// curl, see why a queued delivery waits for its circuit, and replay dead
// deliveries in bulk and one by one. The other pages: pages.e2e.test.ts;
// phone widths and empty states: phone.e2e.test.ts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/relay-process.js';
import { contrast, docEvent, runE2e, screenshot, startDashboard, TOKEN, type Dashboard } from './e2e-harness.js';

describe.runIf(runE2e)('dashboard events in headless Chromium', () => {
  let d: Dashboard;

  beforeAll(async () => {
    d = await startDashboard();
  }, 60_000);
  afterAll(() => d?.close());

  it('protects pages: no session and a forged cookie both land on the login form', async () => {
    const anonymous = await d.browser.newContext();
    try {
      const p = await anonymous.newPage();
      await p.goto(`${d.relay.url}/ui/events`);
      expect(new URL(p.url()).pathname).toBe('/ui/login');
      await anonymous.addCookies([{ name: 'relay_session', value: `AAAAAAAAAAAAAAAAAAAAAA.${Date.now() + 60_000}.${'A'.repeat(43)}`, url: d.relay.url }]);
      await p.goto(`${d.relay.url}/ui/rules`);
      expect(new URL(p.url()).pathname).toBe('/ui/login');
      expect(await p.locator('#main, main').first().textContent()).not.toContain('contracts');
    } finally {
      await anonymous.close();
    }
  });

  it('refuses a wrong token, then logs in with a strict session cookie', async () => {
    const { page, context, relay } = d;
    await page.goto(`${relay.url}/ui`);
    expect(new URL(page.url()).pathname).toBe('/ui/login');
    await page.fill('#token', 'not-the-admin-token');
    await page.click('button[type=submit]');
    await page.getByText('That is not the admin token.').waitFor();
    expect(await context.cookies()).toEqual([]);

    await page.fill('#token', TOKEN);
    await page.click('button[type=submit]');
    await page.waitForURL(`${relay.url}/ui`);
    await page.locator('#events-chart svg rect.bar').first().waitFor();
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: 'relay_session', httpOnly: true, sameSite: 'Strict', path: '/' });
  });

  it('shows signed events as they arrive, with the rules each matched', async () => {
    const { page, relay } = d;
    await page.goto(`${relay.url}/ui/events`);
    await page.locator('#events tbody tr').first().waitFor();
    expect(await page.locator('tr[data-id="evt_live_1"]').count()).toBe(0);
    expect((await d.post(docEvent('evt_live_1', ['contract', 'nda']))).status).toBe(202);
    expect((await d.post(docEvent('evt_live_2', ['invoice']))).status).toBe(202);
    // The list polls: both appear without a reload.
    await page.locator('tr[data-id="evt_live_1"]').waitFor({ timeout: 10_000 });
    await page.locator('tr[data-id="evt_live_2"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('tr[data-id="evt_live_1"] td.matched').textContent()).toBe('contracts');
    expect(await page.locator('tr[data-id="evt_live_2"] td.matched').textContent()).toBe('none');
    expect(await page.locator('tr[data-id="gh_159"] td.matched').textContent()).toBe('pull-requests');
  });

  it('filters by a type glob with the semantics of a rule’s on:, and pages back with a visible pager', async () => {
    const { page, relay } = d;
    expect((await d.post(docEvent('evt_nested', [], 'document.page.added'))).status).toBe(202);
    await page.goto(`${relay.url}/ui/events`);
    await page.fill('form.filters input[name=type]', 'document.*');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL(/type=document\.\*/);
    await page.locator('#events tbody tr[data-id]').first().waitFor();
    const types = await page.locator('#events tbody tr[data-id] td:nth-child(3)').allTextContents();
    expect(types.length).toBe(50);
    expect(new Set(types)).toEqual(new Set(['document.processed']));
    // `*` stays within one segment, as in a rule: document.page.added is not listed.
    expect(await page.locator('tr[data-id="evt_nested"]').count()).toBe(0);

    const older = page.getByRole('link', { name: 'Older →' });
    await older.waitFor();
    // The link's colour against the first opaque background behind it.
    const colours = await older.evaluate((a) => {
      const view = a.ownerDocument.defaultView!;
      let bg = 'rgba(0, 0, 0, 0)';
      for (let el: typeof a | null = a; el && /rgba\(.*, 0\)|transparent/.test(bg); el = el.parentElement) bg = view.getComputedStyle(el).backgroundColor;
      return { fg: view.getComputedStyle(a).color, bg };
    });
    expect(contrast(colours.fg, colours.bg)).toBeGreaterThanOrEqual(4.5);
    await screenshot(page, 'events');
    await older.click();
    await page.waitForURL(/before=\d+/);
    await page.locator('#events tbody tr[data-id]').first().waitFor();
    expect(new Set(await page.locator('#events tbody tr[data-id] td:nth-child(3)').allTextContents())).toEqual(new Set(['document.processed']));
    await page.getByRole('link', { name: '← Newest' }).waitFor();
  });

  it('opens an event: rule outcomes, and each attempt with the receiver’s answer and the request as curl', async () => {
    const { page, relay, target } = d;
    await waitFor(async () => (await d.deliveryStatus('evt_live_1')) === 'delivered', 'evt_live_1 delivered');
    await page.goto(`${relay.url}/ui/events`);
    await page.click('tr[data-id="evt_live_1"] a');
    await page.waitForURL(/\/ui\/events\/evt_live_1$/);
    await page.locator('#rules li[data-rule="contracts"].matched').waitFor();
    expect(await page.locator('#rules li[data-rule="failures"] .reason').textContent()).toContain('is not in on');
    expect(await page.locator('#rules li[data-rule="pull-requests"] .reason').textContent()).toContain('is not in on: ["pull_request.*"]');
    const attempt = page.locator('article.delivery ol.timeline li.delivered').first();
    await attempt.waitFor();
    expect(await attempt.locator('.line').textContent()).toMatch(/#1.*delivered.*HTTP 200 OK/);
    expect(await page.locator('#payload').textContent()).toContain('"ai_tags"');
    expect(await page.locator('#headers').textContent()).toContain('x-archivus-signature[masked]');

    await attempt.locator('details.exchange summary').click();
    const response = attempt.locator('details.exchange .response');
    expect(await response.locator('.status-line').textContent()).toBe('HTTP 200 OK');
    expect(await response.locator('table.kv').textContent()).toContain('x-receiverlegal');
    // forward keeps the body of failures only (below): a 2xx answer's body is drained unread.
    expect(await response.textContent()).toContain('No body recorded.');
    const curl = (await attempt.locator('pre.curl').textContent())!;
    expect(curl).toContain(`curl -X POST '${target.url}/legal'`);
    expect(curl).toContain(`-H 'authorization: Bearer [masked]'`);
    expect(curl).toContain(`-H 'x-relay-event-id: evt_live_1'`);
    expect(curl).toContain('--data-binary \'{"id":"evt_live_1"');
    expect(curl).not.toContain('legal-token-123');
    await attempt.getByRole('button', { name: 'Copy as curl' }).click();
    await attempt.getByText('Copied.').waitFor();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(curl);

    // An event that matched no rule says why.
    await page.goto(`${relay.url}/ui/events/evt_live_2`);
    expect(await page.locator('#rules li[data-rule="contracts"] .reason').textContent()).toContain('$.data.document.ai_tags[*]');
  });

  it('says why a delivery whose time has come waits: its target’s circuit is open, until when', async () => {
    const { page, relay, flaky } = d;
    const origin = new URL(flaky.url).origin;
    const open = () => relay.deliverer.circuits().find((c) => c.target === origin && c.state === 'open');
    for (let i = 0; !open(); i++) {
      expect(i).toBeLessThan(10);
      expect((await d.post(docEvent(`alert_${i}`, [], 'alert.raised'))).status).toBe(202);
      await waitFor(async () => open() || (await d.deliveryStatus(`alert_${i}`)) === 'dead', `alert_${i} dead, or the circuit open`);
    }
    expect((await d.post(docEvent('alert_held', [], 'alert.raised'))).status).toBe(202);
    await page.goto(`${relay.url}/ui/events/alert_held`);
    const held = page.locator('article.delivery p.held');
    await held.waitFor();
    expect(await held.textContent()).toMatch(new RegExp(`Held: the circuit for ${origin.replace(/[.]/g, '\\.')} is open after \\d+ failures in a row, until \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d`));
  });

  it('replays dead deliveries in bulk: replayed rows follow their delivery instead of staying dead', async () => {
    const { page, relay } = d;
    d.setFailing(true);
    for (const id of ['evt_dead_1', 'evt_dead_2']) expect((await d.post(docEvent(id, ['contract']))).status).toBe(202);
    await waitFor(async () => (await d.deliveryStatus('evt_dead_1')) === 'dead' && (await d.deliveryStatus('evt_dead_2')) === 'dead', 'both deliveries dead');
    d.setFailing(false);

    await page.goto(`${relay.url}/ui/dead`);
    const row = page.locator('#dead tbody tr', { has: page.locator('a', { hasText: /^evt_dead_1$/ }) });
    await row.waitFor();
    expect(await row.textContent()).toContain('HTTP 503');
    await row.locator('input[type=checkbox]').check();
    await page.click('#replay-selected');
    await page.getByText('Done: 1 of 1 queued again.').waitFor();
    // At once, and until it settles, the row shows its new state only: never "dead" beside "queued".
    expect(await row.locator('.badge').allTextContents()).not.toContain('dead');
    await row.locator('.badge.delivered').waitFor({ timeout: 15_000 });
    expect(await row.locator('.badge').allTextContents()).toEqual(['delivered']);
    expect(await row.locator('input[type=checkbox]').isDisabled()).toBe(true);
    expect(await d.deliveryStatus('evt_dead_1')).toBe('delivered');
    expect(await d.deliveryStatus('evt_dead_2')).toBe('dead'); // not selected, not replayed
    const other = page.locator('#dead tbody tr', { has: page.locator('a', { hasText: /^evt_dead_2$/ }) });
    expect(await other.locator('.badge').allTextContents()).toEqual(['dead']);

    // One delivery, from the event's page, which follows it to delivered.
    await page.goto(`${relay.url}/ui/events/evt_dead_2`);
    await page.locator('article.delivery.dead').waitFor();
    await page.click('article.delivery header button');
    await page.getByText('Queued again: 1 delivery.').waitFor();
    await page.locator('article.delivery.delivered').waitFor({ timeout: 10_000 });
    expect(await page.locator('#event-status').textContent()).toBe('delivered');
    // The history stays: the two failed attempts, then the replay's.
    expect(await page.locator('article.delivery ol.timeline > li').evaluateAll((lis) => lis.map((li) => li.className))).toEqual(['retry', 'dead', 'delivered']);
    const failed = page.locator('article.delivery ol.timeline > li.dead');
    await failed.locator('details.exchange summary').click();
    expect(await failed.locator('.status-line').textContent()).toBe('HTTP 503 Service Unavailable');
    expect(await failed.locator('.response table.kv').textContent()).toContain('retry-after1');
    expect(await failed.locator('pre.body-excerpt').textContent()).toBe('down for maintenance');
    await screenshot(page, 'event-detail', true);
  });
});
