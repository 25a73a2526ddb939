// What the dashboard's Chromium suites share: Debian's Chromium driven by
// playwright-core, a Relay in this process with an hour of seeded history,
// logging in, and the screenshots for docs/screenshots (RELAY_UI_SCREENSHOTS=1).
//
// CI (.ci/run) installs Chromium, and there a missing browser fails the
// suites; elsewhere they are skipped with a notice.

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { openStore } from '../../src/queue/index.js';
import type { PlannedDelivery } from '../../src/queue/store.js';
import type { Relay } from '../../src/relay.js';
import { tempDir } from '../helpers/config.js';
import { startInProcess } from '../helpers/in-process.js';
import { startReceiver, type Receiver, type Reply } from '../helpers/receivers.js';
import { postArchivus } from '../helpers/relay-process.js';

export const CHROMIUM = process.env.RELAY_CHROMIUM ?? '/usr/bin/chromium';
// No network here: nothing in the browser may try to reach one.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
export const TOKEN = 'e2e-admin-token-0123456789abcdef';
export const PHONE = { width: 390, height: 844 } as const;
export const DESKTOP = { width: 1280, height: 860 } as const;
const SHOTS = process.env.RELAY_UI_SCREENSHOTS === '1' ? fileURLToPath(new URL('../../docs/screenshots/', import.meta.url)) : undefined;

export const chromiumAvailable = existsSync(CHROMIUM);
if (!chromiumAvailable && !process.env.CI) console.warn(`Chromium not found at ${CHROMIUM} (apt-get install chromium): skipping the dashboard end-to-end tests`);
/** Run the suite when Chromium is here, and always in CI (where its absence then fails). */
export const runE2e = chromiumAvailable || Boolean(process.env.CI);

export async function launch(): Promise<Browser> {
  // In CI a missing browser is a failure, not a skip.
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is missing at ${CHROMIUM}: .ci/run installs Debian's chromium package`);
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

/** Logs the page's context in through the form, and waits for the overview. */
export async function logIn(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/ui/login`);
  await page.fill('#token', TOKEN);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/ui`);
}

/** Writes docs/screenshots/<name>.png when RELAY_UI_SCREENSHOTS=1. */
export async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}

export const docEvent = (id: string, tags: string[], type = 'document.processed') =>
  JSON.stringify({ id, type, timestamp: new Date().toISOString(), data: { document_id: `doc_${id}`, document: { filename: `${id}.pdf`, ai_tags: tags, pages: 12 } } });

/**
 * An hour of history written straight to the store before Relay starts, so
 * the charts have something to show: both sources, attempts spread over the
 * hour, a few retries and two old dead letters.
 */
export async function seedHistory(dbPath: string, targetUrl: string): Promise<void> {
  const store = await openStore({ driver: 'sqlite', path: dbPath, sync: 'normal' });
  const now = Date.now();
  const legal: PlannedDelivery = { rule: 'contracts', action: 'legal', target: new URL(targetUrl).origin };
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
    await store.finish(d, { startedAt, durationMs: 40 + (d.id % 5) * 30, outcome: dead ? 'dead' : retry ? 'retry' : 'delivered', ...(dead || retry ? { status: 503, error: 'HTTP 503' } : { status: 200 }) }, dead ? { status: 'dead' } : { status: 'delivered' });
  }
  await store.close();
}

/** WCAG contrast ratio of two CSS rgb()/rgba() colours (the second opaque). */
export function contrast(fg: string, bg: string): number {
  const parse = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
  const lum = ([r, g, b]: number[]) => {
    const ch = (v: number) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * ch(r!) + 0.7152 * ch(g!) + 0.0722 * ch(b!);
  };
  const [a, b] = [lum(parse(fg)), lum(parse(bg))].sort((x, y) => y - x) as [number, number];
  return (a + 0.05) / (b + 0.05);
}

/** The page's own width is the viewport's: nothing makes it scroll sideways. */
export async function expectNoSidewaysScroll(page: Page): Promise<void> {
  const { scroll, client } = await page.evaluate<{ scroll: number; client: number }>('({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })');
  expect(scroll).toBeLessThanOrEqual(client);
}

export const SECRET = 'e2e-archivus-secret';

const yaml = (dir: string, target: string, flaky: string) => `
storage: { path: ${join(dir, 'relay.db')} }
delivery: { retry: { attempts: 2, initialDelay: 50ms, maxDelay: 100ms } }
sources:
  archivus: { path: /webhooks/archivus, verify: { scheme: archivus, secret: ${SECRET} } }
  github: { path: /webhooks/github, verify: { scheme: github, secret: github-secret } }
actions:
  legal:
    use: forward
    with: { url: "${target}/legal", headers: { authorization: "Bearer legal-token-123" } }
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
  - name: big-reviews
    on: [pull_request.opened, pull_request.reopened]
    source: github
    when:
      all:
        - { path: $.pull_request.additions, gt: 500 }
        - any:
            - { path: $.repository.full_name, startsWith: "acme/" }
            - not: { path: $.pull_request.draft, equals: true }
    actions: [{ use: log }]
  - name: alerts
    on: alert.raised
    actions: [{ use: forward, with: { url: "${flaky}/alerts" } }]
`;

export interface Dashboard {
  relay: Relay;
  /** Answers 200, or 503 to /legal while `failing` is set. */
  target: Receiver;
  /** Always 503: its circuit opens. */
  flaky: Receiver;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  setFailing(on: boolean): void;
  /** Posts a signed Archivus event. */
  post(body: string, secret?: string): Promise<{ status: number }>;
  deliveryStatus(id: string): Promise<string | undefined>;
  close(): Promise<void>;
}

/** A Relay with an hour of seeded history, its receivers, and a logged-in Chromium page. */
export async function startDashboard(options: { seed?: boolean; viewport?: { width: number; height: number } } = {}): Promise<Dashboard> {
  let failing = false;
  const target = await startReceiver((req): Reply =>
    failing && req.url === '/legal'
      ? { status: 503, headers: { 'retry-after': '1', 'x-receiver': 'legal' }, body: 'down for maintenance' }
      : { status: 200, headers: { 'x-receiver': 'legal' }, body: 'ok' },
  );
  const flaky = await startReceiver({ status: 503, body: 'always down' });
  const dir = tempDir('relay-ui-e2e-');
  if (options.seed !== false) await seedHistory(join(dir, 'relay.db'), target.url);
  const relay = await startInProcess(yaml(dir, target.url, flaky.url), { RELAY_ADMIN_TOKEN: TOKEN });
  const browser = await launch();
  const context = await browser.newContext({ viewport: options.viewport ?? DESKTOP, permissions: ['clipboard-read', 'clipboard-write'] });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
  return {
    relay,
    target,
    flaky,
    browser,
    context,
    page,
    setFailing: (on) => (failing = on),
    post: (body, secret = SECRET) => postArchivus(`${relay.url}/webhooks/archivus`, body, secret),
    deliveryStatus: async (id) => (await relay.store.getEvent(id))?.deliveries[0]?.status,
    async close() {
      await browser.close();
      await relay.stop();
      await target.close();
      await flaky.close();
    },
  };
}
