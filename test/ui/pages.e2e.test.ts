// The dashboard's other pages in headless Chromium: the overview's charts
// (bars that add up to the legend and sit on their axis, in both windows),
// rejected requests, the rules with their conditions in full, Try it with a
// provider-shaped example per source, and the 404 page.

import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/relay-process.js';
import { docEvent, logIn, runE2e, screenshot, startDashboard, type Dashboard } from './e2e-harness.js';

/** Each series' bar counts summed, and the legend's totals, for one chart. */
async function sums(chart: Locator): Promise<{ bars: Record<string, number>; legend: Record<string, number> }> {
  const bars: Record<string, number> = {};
  for (const [series, value] of await chart.locator('rect.bar').evaluateAll((rs) => rs.map((r) => [r.getAttribute('data-series')!, Number(r.getAttribute('data-value'))] as const))) {
    bars[series] = (bars[series] ?? 0) + value;
  }
  const legend: Record<string, number> = {};
  for (const key of await chart.locator('figcaption .key').all()) legend[(await key.getAttribute('data-series'))!] = Number(await key.locator('b').textContent());
  return { bars, legend };
}

/**
 * Every bar starts where the time axis puts its bucket's start: the axis
 * scale comes from two labelled ticks, each bar's x (less its 10 % inset)
 * from its data-start.
 */
async function barsOnAxis(chart: Locator): Promise<void> {
  const ticks = await chart.locator('g.axis g.mark').evaluateAll((gs) => gs.map((g) => ({ t: Date.parse(g.getAttribute('data-time')!), x: Number(g.querySelector('line')!.getAttribute('x1')) })));
  expect(ticks.length).toBeGreaterThanOrEqual(2);
  const [a, b] = [ticks[0]!, ticks.at(-1)!];
  const xOf = (t: number) => a.x + ((t - a.t) * (b.x - a.x)) / (b.t - a.t);
  const bars = await chart.locator('rect.bar').evaluateAll((rs) => rs.map((r) => ({ t: Date.parse(r.getAttribute('data-start')!), x: Number(r.getAttribute('x')), w: Number(r.getAttribute('width')) })));
  expect(bars.length).toBeGreaterThan(0);
  for (const bar of bars) expect(Math.abs(bar.x - bar.w / 8 - xOf(bar.t))).toBeLessThan(0.5);
}

describe.runIf(runE2e)('dashboard pages in headless Chromium', () => {
  let d: Dashboard;
  let page: Page;

  beforeAll(async () => {
    d = await startDashboard();
    page = d.page;
    await logIn(page, d.relay.url);
  }, 60_000);
  afterAll(() => d?.close());

  it('overview: bars add up to the legend and sit on the time axis, in both windows', async () => {
    await page.goto(`${d.relay.url}/ui`);
    const events = page.locator('#events-chart');
    await events.locator('svg rect.bar').first().waitFor();
    expect(await events.locator('h2').textContent()).toContain('Events per minute, by source');
    const hour = await sums(events);
    expect(hour.legend).toEqual(hour.bars);
    expect(Object.keys(hour.legend).sort()).toEqual(['archivus', 'github']);
    await barsOnAxis(events);
    expect(await page.locator('.card', { hasText: 'Config' }).textContent()).toContain(d.relay.activeConfig.hash.slice(0, 12));
    expect(await page.locator('.card', { hasText: 'Dead letters' }).locator('.value').textContent()).toBe('2'); // the seeded ones

    await page.click('button:has-text("Last 24 hours")');
    await events.locator('h2', { hasText: 'Events per 15 minutes, by source' }).waitFor();
    await events.locator('svg rect.bar').first().waitFor();
    const day = await sums(events);
    expect(day.legend).toEqual(day.bars);
    // The same events, bucketed by 15 minutes: the day's totals hold the hour's.
    expect(day.legend.archivus).toBeGreaterThanOrEqual(hour.legend.archivus!);
    await barsOnAxis(events);
    const attempts = page.locator('#delivery-charts .multiple').first();
    const delivery = await sums(attempts);
    expect(delivery.legend).toEqual(Object.fromEntries(Object.keys(delivery.legend).map((k) => [k, delivery.bars[k] ?? 0])));
    await page.click('button:has-text("Last hour")');
    await events.locator('h2', { hasText: 'Events per minute' }).waitFor();
  });

  it('shows rejected requests: a count on the overview, the latest there, and all on the Rejected page', async () => {
    expect((await d.post(docEvent('evt_forged', ['contract']), 'not-the-secret')).status).toBe(401);
    expect((await fetch(`${d.relay.url}/webhooks/archivus`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
    await page.goto(`${d.relay.url}/ui`);
    const card = page.locator('.card', { hasText: 'Rejected' });
    await card.locator('.value', { hasText: '2' }).waitFor();
    const latest = page.locator('#rejected table tbody tr');
    await latest.first().waitFor();
    expect(await latest.count()).toBe(2);
    expect(await latest.first().textContent()).toMatch(/archivus.*401.*bad or missing signature.*127\.0\.0\.1/);
    await screenshot(page, 'overview', true);

    await card.locator('a').click();
    await page.waitForURL(/\/ui\/rejected$/);
    const rows = page.locator('table.rejections tbody tr');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(2);
    expect(await page.locator('#rejection-totals').textContent()).toContain('2 bad or missing signature');
    expect(await page.locator('main').textContent()).not.toContain('evt_forged');
  });

  it('lists the rules with their conditions in full and how often each matched', async () => {
    await page.goto(`${d.relay.url}/ui/rules`);
    const contracts = page.locator('#rules tr[data-rule="contracts"]');
    await contracts.waitFor();
    expect(Number(await contracts.locator('.count').textContent())).toBeGreaterThanOrEqual(106);
    expect(await contracts.locator('td.conditions').textContent()).toBe('$.data.document.ai_tags[*] equals "contract"');
    const big = page.locator('#rules tr[data-rule="big-reviews"] td.conditions');
    expect(await big.locator('> .cond.group > .op').textContent()).toBe('all of');
    expect(await big.locator('.cond.leaf').allTextContents()).toEqual(['$.pull_request.additions gt 500', '$.repository.full_name startsWith "acme/"', '$.pull_request.draft equals true']);
    expect(await big.locator('.cond.group .cond.group > .op').textContent()).toBe('any of');
    expect(await big.locator('.cond.not').textContent()).toBe('not$.pull_request.draft equals true');
    expect(await page.locator('#rules tr[data-rule="failures"] td.conditions').textContent()).toBe('none');
    await screenshot(page, 'rules');
  });

  it('Try it: an example per source, the type put where the source reads it, and nothing sent', async () => {
    const requests = d.target.requests.length;
    await page.goto(`${d.relay.url}/ui/try`);
    // Archivus reads the type from the payload; its example is the first type a rule names.
    await waitFor(async () => (await page.inputValue('#try-body')).includes('document.processed'), '#try-body to hold document.processed');
    expect(await page.inputValue('#try-type')).toBe('document.processed');
    expect(await page.textContent('#try-type-from')).toContain('the payload at $.type');
    await page.click('#try-run');
    await page.getByText('1 of 5 rules match').waitFor();
    expect(await page.locator('#result li[data-rule="contracts"].matched').textContent()).toContain('legal (forward)');

    // GitHub reads it from X-GitHub-Event and the payload's action.
    await page.selectOption('#try-source', 'github');
    await waitFor(async () => (await page.inputValue('#try-headers')).includes('x-github-event: pull_request'), '#try-headers to hold x-github-event: pull_request');
    expect(await page.inputValue('#try-type')).toBe('pull_request.opened');
    expect(await page.inputValue('#try-body')).toContain('"action": "opened"');
    expect(await page.textContent('#try-type-from')).toContain('X-GitHub-Event');
    expect(await page.locator('#try-types option').evaluateAll((os) => os.map((o) => o.getAttribute('value')))).toContain('push');
    await page.click('#try-run');
    await page.getByText('1 of 5 rules match').waitFor();
    expect(await page.locator('#result li[data-rule="pull-requests"]').getAttribute('class')).toBe('matched');
    await screenshot(page, 'try');

    // Another type: the header follows.
    await page.fill('#try-type', 'push');
    await page.press('#try-type', 'Enter');
    await waitFor(async () => (await page.inputValue('#try-headers')).includes('x-github-event: push'), '#try-headers to hold x-github-event: push');
    await page.click('#try-run');
    await page.getByText('0 of 5 rules match').waitFor();
    expect(await page.locator('#result').textContent()).toContain('of type push');

    await page.fill('#try-body', '{"type": ');
    await page.click('#try-run');
    await page.locator('#result .error').waitFor();
    expect(d.target.requests.length).toBe(requests);
    expect(await d.relay.store.getEvent('event_try_1')).toBeNull();
  });

  it('answers an unknown page with a 404 that keeps the navigation and says where to go', async () => {
    const res = await page.goto(`${d.relay.url}/ui/no-such-page`);
    expect(res?.status()).toBe(404);
    expect(await page.title()).toBe('Not found · Relay');
    expect(await page.locator('main h1').textContent()).toBe('Page not found');
    expect(await page.locator('main').textContent()).toContain('There is no dashboard page at /ui/no-such-page');
    await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Try it' }).waitFor();
    await page.locator('main').getByRole('link', { name: 'Events' }).click();
    await page.waitForURL(/\/ui\/events$/);
  });
});
