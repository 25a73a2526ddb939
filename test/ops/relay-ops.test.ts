// Health, metrics and the admin API on a real Relay started in process: the
// wiring in src/relay.ts (routes mounted, ingest and workers observed,
// reloads counted, readiness following shutdown).

import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Relay } from '../../src/relay.js';
import { startInProcess } from '../helpers/in-process.js';
import { postArchivus } from '../helpers/relay-process.js';
import { minimal } from '../helpers/config.js';

const TOKEN = 'in-process-admin-token-0123456789';
const YAML = `
server: { port: 0 }${minimal}`;

let relay: Relay | undefined;
afterEach(async () => {
  await relay?.stop();
  relay = undefined;
});

const bearer = { authorization: `Bearer ${TOKEN}` };

describe('a running Relay', () => {
  it('serves /healthz, /readyz and /metrics, and counts events, matches and deliveries', async () => {
    relay = await startInProcess(YAML);
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${relay.url}/readyz`)).json()).toEqual({ status: 'ok' });
    const body = JSON.stringify({ id: 'evt_1', type: 'document.processed' });
    expect((await postArchivus(`${relay.url}/webhooks/archivus`, body, 's3cret')).status).toBe(202);
    await vi.waitFor(async () => {
      const text = await (await fetch(`${relay!.url}/metrics`)).text();
      expect(text).toContain('relay_events_received_total{source="archivus",type="document.processed",outcome="accepted",reason=""} 1');
      expect(text).toContain('relay_rule_matches_total{rule="all"} 1');
      expect(text).toMatch(/relay_delivery_attempts_total\{rule="all",action="log~[0-9a-f]{8}",plugin="log",outcome="delivered"\} 1/);
      expect(text).toContain(`relay_config_info{hash="${relay!.activeConfig.hash}"} 1`);
    });
  });

  it('keeps /admin off without RELAY_ADMIN_TOKEN', async () => {
    relay = await startInProcess(YAML);
    expect((await fetch(`${relay.url}/admin/events`, { headers: bearer })).status).toBe(404);
  });

  it('serves /admin with the token, reloads through it and counts the reload', async () => {
    relay = await startInProcess(YAML, { RELAY_ADMIN_TOKEN: TOKEN });
    expect((await fetch(`${relay.url}/admin/events`)).status).toBe(401);
    const events = await fetch(`${relay.url}/admin/events`, { headers: bearer });
    expect(events.status).toBe(200);
    writeFileSync(relay.activeConfig.file, `${YAML}\n# changed\n`);
    const reload = await fetch(`${relay.url}/admin/reload`, { method: 'POST', headers: bearer });
    expect(reload.status).toBe(200);
    const hash = ((await reload.json()) as { hash: string }).hash;
    const config = (await (await fetch(`${relay.url}/admin/config`, { headers: bearer })).json()) as { hash: string };
    expect(config.hash).toBe(hash);
    const text = await (await fetch(`${relay.url}/metrics`)).text();
    expect(text).toMatch(/relay_config_reloads_total\{outcome="ok"\} [1-9]/);
    expect(text).toContain(`relay_config_info{hash="${hash}"} 1`);
  });

  it('is not ready once it starts draining', async () => {
    relay = await startInProcess(YAML);
    relay.draining = true; // what stop() sets first
    const res = await fetch(`${relay.url}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'unavailable', reason: 'draining' });
    relay.draining = false;
  });
});
