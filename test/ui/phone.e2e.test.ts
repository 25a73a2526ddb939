// The dashboard at a phone's width (390×844) and with nothing stored yet, in
// headless Chromium: the navigation wraps instead of overflowing, tables
// scroll sideways inside their box instead of being clipped, and empty pages
// say how to send a first event.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docEvent, expectNoSidewaysScroll, logIn, PHONE, runE2e, screenshot, startDashboard, type Dashboard } from './e2e-harness.js';

const PAGES = ['/ui', '/ui/events', '/ui/dead', '/ui/rules', '/ui/rejected', '/ui/try'];

describe.runIf(runE2e)('dashboard on a phone, starting empty', () => {
  let d: Dashboard;

  beforeAll(async () => {
    d = await startDashboard({ seed: false, viewport: PHONE });
    await logIn(d.page, d.relay.url);
  }, 60_000);
  afterAll(() => d?.close());

  it('an empty relay says how to send a first event, on the overview and the events list', async () => {
    const { page, relay } = d;
    await page.goto(`${relay.url}/ui`);
    const hint = page.locator('#first-event');
    await hint.locator('pre.commands').waitFor();
    const commands = (await hint.locator('pre.commands').textContent())!.split('\n');
    // GitHub reads its type from a header, so its command passes one; Archivus reads it from the body.
    expect(commands).toEqual(['npx relay send event.json --source archivus', 'npx relay send event.json --source github --type pull_request.opened']);
    await hint.getByRole('link', { name: 'Try it' }).waitFor();

    await page.goto(`${relay.url}/ui/events`);
    await page.locator('#events tbody td', { hasText: 'No events yet.' }).waitFor();
    expect(await page.locator('.empty-hint pre.commands').textContent()).toContain('--source archivus');
    // Filters that match nothing are not an empty store.
    await page.goto(`${relay.url}/ui/events?status=dead`);
    await page.locator('#events tbody td', { hasText: 'No events match these filters.' }).waitFor();
    expect(await page.locator('.empty-hint').count()).toBe(0);
    await page.goto(`${relay.url}/ui/dead`);
    await page.getByText('No dead letters').waitFor();
  });

  it('the navigation wraps: every link, Try it included, is on screen on every page, and nothing scrolls sideways', async () => {
    const { page, relay } = d;
    for (const path of PAGES) {
      await page.goto(`${relay.url}${path}`);
      await page.locator('#main > :not(.muted)').first().waitFor();
      const nav = page.getByRole('navigation', { name: 'Dashboard' });
      for (const name of ['Overview', 'Events', 'Dead letters', 'Rules', 'Rejected', 'Try it']) {
        const box = (await nav.getByRole('link', { name }).boundingBox())!;
        expect(box.x, `${name} on ${path}`).toBeGreaterThanOrEqual(0);
        expect(box.x + box.width, `${name} on ${path}`).toBeLessThanOrEqual(PHONE.width);
      }
      await expectNoSidewaysScroll(page);
    }
  });

  it('tables scroll sideways inside their box instead of being clipped', async () => {
    const { page, relay } = d;
    for (const id of ['evt_phone_1', 'evt_phone_2']) expect((await d.post(docEvent(id, ['contract']))).status).toBe(202);
    await page.goto(`${relay.url}/ui/events`);
    await page.locator('tr[data-id="evt_phone_2"]').waitFor();
    await expectNoSidewaysScroll(page);
    const box = page.locator('.table-scroll').first();
    const widths = await box.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
    expect(widths.scroll).toBeGreaterThan(widths.client);
    // The last column is there, reached by scrolling the box.
    const last = page.locator('#events thead th').last();
    expect(await last.textContent()).toBe('Deliveries');
    expect((await last.boundingBox())!.x).toBeGreaterThan(PHONE.width);
    await box.evaluate((el) => el.scrollTo({ left: el.scrollWidth }));
    const shown = (await last.boundingBox())!;
    expect(shown.x + shown.width).toBeLessThanOrEqual(PHONE.width);
    await box.evaluate((el) => el.scrollTo({ left: 0 }));
    await screenshot(page, 'events-phone');
    await page.goto(`${relay.url}/ui`);
    await page.locator('#events-chart svg rect.bar').first().waitFor();
    await screenshot(page, 'overview-phone');
  });
});
