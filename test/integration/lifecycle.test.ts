// What a running Relay does around its config's life: prune at start-up, keep
// in-memory rate-limit counters across a reload, close what a refused config
// opened, and a shutdown grace below common stop timeouts.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Relay } from '../../src/relay.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { openStore } from '../../src/queue/index.js';
import { loadYaml, minimal, tempDir, writeConfig } from '../helpers/config.js';
import { startInProcess } from '../helpers/in-process.js';
import { postArchivus, waitFor } from '../helpers/relay-process.js';

const DAY = 24 * 60 * 60 * 1000;
const event = (id: string) => JSON.stringify({ id, type: 'x.y' });

describe('relay lifecycle', () => {
  let relay: Relay | undefined;
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
  });

  it('prunes at start-up, not only an hour later', async () => {
    const db = join(tempDir(), 'relay.db');
    const store = await openStore({ driver: 'sqlite', path: db, sync: 'normal' });
    await store.ingest({ id: 'ancient', source: 'a', type: 'x.y', receivedAt: Date.now() - 30 * DAY, headers: {}, rawBody: Buffer.from('{}'), matched: [] }, []);
    await store.close();

    relay = await startInProcess(`
storage: { path: ${db}, retention: 1d }
sources:
  a: { path: /a, verify: { scheme: archivus, secret: s } }
rules:
  - { name: r, on: "**", actions: [{ use: log }] }
`);
    const r = relay;
    await waitFor(async () => (await r.store.getEvent('ancient')) === null, 'the 30-day-old event to be pruned');
  });

  it('keeps in-memory rate-limit counters across a reload', async () => {
    relay = await startInProcess(`
sources:
  a: { path: /a, verify: { scheme: archivus, secret: s }, rateLimit: { rate: 2, per: 1h } }
rules:
  - { name: r, on: "**", actions: [{ use: log }] }
`);
    const r = relay;
    expect((await postArchivus(`${r.url}/a`, event('1'), 's')).status).toBe(202);
    expect((await postArchivus(`${r.url}/a`, event('2'), 's')).status).toBe(202);
    writeFileSync(r.activeConfig.file, `${readFileSync(r.activeConfig.file, 'utf8')}\n# edited\n`);
    const result = await r.reload();
    expect(result).toMatchObject({ ok: true, changed: true });
    // Still the same hour's window: a reload must not hand out a fresh one.
    expect((await postArchivus(`${r.url}/a`, event('3'), 's')).status).toBe(429);
  });

  it('a refused config closes the action runners it created', async () => {
    const dir = tempDir();
    const counter = `relayTestCloses${process.pid}`;
    writeFileSync(
      join(dir, 'closing.mjs'),
      `export default { name: "closing", description: "x", options: { type: "object" },
        create(_o, ctx) { globalThis.${counter} = (globalThis.${counter} ?? 0); ctx.onClose(() => { globalThis.${counter} += 1; }); return async () => {}; } };\n`,
    );
    const file = writeConfig(
      `plugins: [./closing.mjs]
sources:
  a: { path: /a, verify: { scheme: archivus, secret: s } }
rules:
  - { name: r, source: nowhere, on: "**", actions: [{ use: closing }] }
`,
      dir,
    );
    await expect(loadConfig(file, { env: {} })).rejects.toBeInstanceOf(ConfigError);
    expect((globalThis as Record<string, unknown>)[counter]).toBe(1);
  });

  it('shutdownGrace defaults below the 10 s a docker stop waits', async () => {
    const config = await loadYaml(minimal);
    expect(config.server.shutdownGraceMs).toBe(8_000);
  });
});
