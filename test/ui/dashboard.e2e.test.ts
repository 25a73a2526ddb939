// The dashboard end to end in real headless Chromium (Debian's package,
// driven by playwright-core): log in (and fail to), watch signed events
// arrive, read one's rules and attempts, let a receiver fail until a
// delivery is dead and replay it from the UI, and dry-run an event in Try it.
// With RELAY_UI_SCREENSHOTS=1 it also writes docs/screenshots/*.png.
//
// CI (.ci/run) installs Chromium, and there a missing browser fails the
// suite; elsewhere the suite is skipped with a notice.

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/queue/index.js';
import type { PlannedDelivery } from '../../src/queue/store.js';
import type { Relay } from '../../src/relay.js';
import { tempDir } from '../helpers/config.js';
import { startInProcess } from '../helpers/in-process.js';
import { startReceiver, type Receiver } from '../helpers/receivers.js';
import { postArchivus, waitFor } from '../helpers/relay-process.js';

const CHROMIUM = process.env.RELAY_CHROMIUM ?? '/usr/bin/chromium';
// No network here: nothing in the browser may try to reach one.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const TOKEN = 'e2e-admin-token-0123456789abcdef';
const SECRET = 'e2e-archivus-secret';
const SHOTS = process.env.RELAY_UI_SCREENSHOTS === '1' ? fileURLToPath(new URL('../../docs/screenshots/', import.meta.url)) : undefined;

const yaml = (dir: string, target: Receiver) => `
storage: { path: ${join(dir, 'relay.db')} }
delivery: { retry: { attempts: 2, initialDelay: 50ms, maxDelay: 100ms } }
sources:
  archivus:
    path: /webhooks/archivus
    verify: { scheme: archivus, secret: ${SECRET} }
  github:
    path: /webhooks/github
    verify: { scheme: github, secret: github-secret }
actions:
  legal:
    use: forward
    with: { url: "${target.url}/legal" }
rules:
  - name: contracts
    on: document.processed
    when: { path: "$.data.document.ai_tags[*]", equals: contract }
    actions: [{ use: legal }]
  - name: failures
    on: document.failed
    actions: [{ use: log }]
  - name: pull-requests
    on: pull_request.*
    source: github
    actions: [{ use: log }]
`;

const docEvent = (id: string, tags: string[], type = 'document.processed') =>
  JSON.stringify({ id, type, timestamp: new Date().toISOString(), data: { document_id: `doc_${id}`, document: { filename: `${id}.pdf`, ai_tags: tags, pages: 12 } } });

/**
 * An hour of history written straight to the store before Relay starts, so
 * the charts have something to show: both sources, attempts spread over the
 * hour, a few retries and two old dead letters.
 */
async function seedHistory(dir: string, target: Receiver): Promise<void> {
  const store = await openStore({ driver: 'sqlite', path: join(dir, 'relay.db'), sync: 'normal' });
  const now = Date.now();
  const legal: PlannedDelivery = { rule: 'contracts', action: 'legal', target: new URL(target.url).host };
  for (let i = 0; i < 160; i++) {
    const receivedAt = now - 3_540_000 + i * 22_000 + (i % 7) * 1500;
    const github = i % 3 === 0;
    await store.ingest(
      github
        ? { id: `gh_${i}`, source: 'github', type: 'pull_request.opened', receivedAt, headers: { 'x-github-event': 'pull_request', 'content-type': 'application/json' }, rawBody: Buffer.from(JSON.stringify({ action: 'opened', number: i })), matched: ['pull-requests'] }
        : { id: `hist_${i}`, source: 'archivus', type: 'document.processed', receivedAt, headers: { 'content-type': 'application/json' }, rawBody: Buffer.from(docEvent(`hist_${i}`, ['contract'])), matched: ['contracts'] },
      [github ? { rule: 'pull-requests', action: '#0', target: 'log:#0' } : legal],
    );
  }
  for (const d of await store.claim({ worker: 'seed', limit: 1000, now, leaseMs: 60_000 })) {
    const startedAt = d.events[0]!.receivedAt + 150;
    const dead = d.events[0]!.id === 'hist_40' || d.events[0]!.id === 'hist_100';
    const retry = !dead && d.id % 9 === 0;
    await store.finish(d.id, { startedAt, durationMs: 40 + (d.id % 5) * 30, outcome: dead ? 'dead' : retry ? 'retry' : 'delivered', ...(dead || retry ? { status: 503, error: 'HTTP 503' } : { status: 200 }) }, dead ? { status: 'dead' } : { status: 'delivered' });
  }
  await store.close();
}

const available = existsSync(CHROMIUM);
if (!available && !process.env.CI) console.warn(`Chromium not found at ${CHROMIUM} (apt-get install chromium): skipping the dashboard end-to-end tests`);

describe.runIf(available || process.env.CI)('dashboard in headless Chromium', () => {
  let relay: Relay;
  let target: Receiver;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let failing = false;

  const post = (body: string) => postArchivus(`${relay.url}/webhooks/archivus`, body, SECRET);
  const deliveryStatus = async (id: string) => (await relay.store.getEvent(id))?.deliveries[0]?.status;

  beforeAll(async () => {
    // In CI a missing browser is a failure, not a skip.
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium is missing at ${CHROMIUM}: .ci/run installs Debian's chromium package`);
    target = await startReceiver((req) => (failing && req.url === '/legal' ? { status: 503, body: 'down for maintenance' } : { status: 200, body: 'ok' }));
    const dir = tempDir('relay-ui-e2e-');
    await seedHistory(dir, target);
    relay = await startInProcess(yaml(dir, target), { RELAY_ADMIN_TOKEN: TOKEN });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
    page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await relay?.stop();
    await target?.close();
  });

  it('protects pages: no session and a forged cookie both land on the login form', async () => {
    const anonymous = await browser.newContext();
    try {
      const p = await anonymous.newPage();
      await p.goto(`${relay.url}/ui/events`);
      expect(new URL(p.url()).pathname).toBe('/ui/login');
      await anonymous.addCookies([{ name: 'relay_session', value: `AAAAAAAAAAAAAAAAAAAAAA.${Date.now() + 60_000}.${'A'.repeat(43)}`, url: relay.url }]);
      await p.goto(`${relay.url}/ui/rules`);
      expect(new URL(p.url()).pathname).toBe('/ui/login');
      expect(await p.locator('#main, main').first().textContent()).not.toContain('contracts');
    } finally {
      await anonymous.close();
    }
  });

  it('refuses a wrong token, then logs in with a strict session cookie', async () => {
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

  it('shows signed events as they arrive, and opens one with its rules and attempts', async () => {
    await page.goto(`${relay.url}/ui/events`);
    await page.locator('#events tbody tr').first().waitFor();
    expect(await page.locator('tr[data-id="evt_live_1"]').count()).toBe(0);
    expect((await post(docEvent('evt_live_1', ['contract', 'nda']))).status).toBe(202);
    expect((await post(docEvent('evt_live_2', ['invoice']))).status).toBe(202);
    // The list polls: both appear without a reload.
    await page.locator('tr[data-id="evt_live_1"]').waitFor({ timeout: 10_000 });
    await page.locator('tr[data-id="evt_live_2"]').waitFor({ timeout: 10_000 });
    await waitFor(async () => (await deliveryStatus('evt_live_1')) === 'delivered', 'evt_live_1 delivered');

    await page.click('tr[data-id="evt_live_1"] a');
    await page.waitForURL(/\/ui\/events\/evt_live_1$/);
    await page.locator('#rules li[data-rule="contracts"].matched').waitFor();
    expect(await page.locator('#rules li[data-rule="failures"] .reason').textContent()).toContain('is not in on');
    expect(await page.locator('#rules li[data-rule="pull-requests"] .reason').textContent()).toContain('is not in on: ["pull_request.*"]');
    const attempt = page.locator('article.delivery ol.timeline li.delivered').first();
    await attempt.waitFor();
    expect(await attempt.textContent()).toMatch(/#1.*delivered.*HTTP 200/);
    expect(await page.locator('#payload').textContent()).toContain('"ai_tags"');
    expect(await page.locator('#headers').textContent()).toContain('x-archivus-signature[masked]');

    // An event that matched no rule says why.
    await page.goto(`${relay.url}/ui/events/evt_live_2`);
    expect(await page.locator('#rules li[data-rule="contracts"] .reason').textContent()).toContain('$.data.document.ai_tags[*]');
  });

  it('replays dead deliveries from the dead letters page and from an event, and sees them delivered', async () => {
    failing = true;
    for (const id of ['evt_dead_1', 'evt_dead_2']) expect((await post(docEvent(id, ['contract']))).status).toBe(202);
    await waitFor(async () => (await deliveryStatus('evt_dead_1')) === 'dead' && (await deliveryStatus('evt_dead_2')) === 'dead', 'both deliveries dead');
    failing = false;

    // Bulk: select one on the dead letters page and replay it, with progress.
    await page.goto(`${relay.url}/ui/dead`);
    const row = page.locator('#dead tbody tr', { has: page.locator('a', { hasText: /^evt_dead_1$/ }) });
    await row.waitFor();
    expect(await row.textContent()).toContain('HTTP 503');
    await row.locator('input[type=checkbox]').check();
    await page.click('#replay-selected');
    await page.getByText('Done: 1 of 1 queued again.').waitFor();
    await waitFor(async () => (await deliveryStatus('evt_dead_1')) === 'delivered', 'evt_dead_1 delivered after the replay');
    expect(await deliveryStatus('evt_dead_2')).toBe('dead'); // not selected, not replayed

    // One delivery, from the event's page, which follows it to delivered.
    await page.goto(`${relay.url}/ui/events/evt_dead_2`);
    await page.locator('article.delivery.dead').waitFor();
    await page.click('article.delivery button');
    await page.getByText('Queued again: 1 delivery.').waitFor();
    await page.locator('article.delivery.delivered').waitFor({ timeout: 10_000 });
    expect(await page.locator('#event-status').textContent()).toBe('delivered');
    // The history stays: the two failed attempts, then the replay's.
    expect(await page.locator('article.delivery ol.timeline li').evaluateAll((lis) => lis.map((li) => li.className))).toEqual(['retry', 'dead', 'delivered']);
    if (SHOTS) {
      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: join(SHOTS, 'event-detail.png') });
    }
  });

  it('dry-runs a pasted event in Try it without sending anything', async () => {
    const requests = target.requests.length;
    await page.goto(`${relay.url}/ui/try`);
    await page.selectOption('#try-source', 'archivus');
    await page.fill('#try-body', docEvent('evt_try', ['contract']));
    await page.click('#try-run');
    await page.getByText('1 of 3 rules match').waitFor();
    expect(await page.locator('#result li[data-rule="contracts"].matched').textContent()).toContain('legal (forward)');
    expect(await page.locator('#result li[data-rule="failures"] .reason').textContent()).toContain('is not in on');
    await page.fill('#try-body', '{"type": ');
    await page.click('#try-run');
    await page.locator('#result .error').waitFor();
    expect(target.requests.length).toBe(requests);
    expect(await relay.store.getEvent('evt_try')).toBeNull();
  });

  it('shows the overview: traffic charts, dead letters and the active config', async () => {
    await page.goto(`${relay.url}/ui`);
    await page.locator('#delivery-charts svg rect.bar').first().waitFor();
    expect(await page.locator('#events-chart figcaption').textContent()).toMatch(/archivus \d+.*github \d+/);
    expect(await page.locator('.card', { hasText: 'Config' }).textContent()).toContain(relay.activeConfig.hash.slice(0, 12));
    expect(await page.locator('.card', { hasText: 'Dead letters' }).locator('.value').textContent()).toBe('2'); // the seeded ones
    await page.click('button:has-text("Last 24 hours")');
    await page.getByText('15-minute averages').waitFor();
    await page.click('button:has-text("Last hour")');
    await page.locator('#events-chart svg rect.bar').first().waitFor();
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'overview.png') });
  });

  it('lists the rules with how often each matched', async () => {
    await page.goto(`${relay.url}/ui/rules`);
    const contracts = page.locator('#rules tr[data-rule="contracts"]');
    await contracts.waitFor();
    expect(Number(await contracts.locator('.count').textContent())).toBeGreaterThanOrEqual(106 + 3);
    expect(await page.locator('#rules tr[data-rule="pull-requests"]').textContent()).toContain('github');
  });
});
