// Issue 12 item 5: property-based tests (fast-check) of the config loader.
// Whatever the file holds, loading either yields a config or fails with a
// ConfigError whose issues each name a place; never another exception, which
// `relay validate` and a reload would report as a crash.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../helpers/config.js';

// Each load compiles the whole schema (~0.4 s on a busy machine): few runs, fixed seed.
const RUNS = { numRuns: 8, seed: 12 };
const dir = tempDir('relay-config-fuzz-');
let n = 0;

async function loads(text: string): Promise<void> {
  const file = join(dir, `c${n++}.yaml`);
  writeFileSync(file, text);
  try {
    const config = await loadConfig(file, { env: {} });
    await config.actions.close();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    for (const issue of (err as ConfigError).issues) expect(typeof issue.message).toBe('string');
  }
}

const scalar = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null), fc.constantFrom('${NOPE}', '1h', '-5', '1mb', '$.id', '**', 'log', 'forward'));
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 8 }), tie('v'), { maxKeys: 3 })),
})).v;

describe('config loader under arbitrary input', () => {
  it('arbitrary text', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 200 }), loads), RUNS);
  });

  it('a valid config with any one part replaced by an arbitrary value', async () => {
    const base = {
      storage: { path: join(dir, 'relay.db') },
      limits: { depth: 10 },
      sources: { a: { path: '/a', verify: { scheme: 'archivus', secret: 's' }, dedupWindow: '5m' } },
      actions: { fwd: { use: 'forward', with: { url: 'https://x.example/{{ payload.id }}' } } },
      rules: [{ name: 'r', on: '**', when: { path: '$.a', equals: 1 }, actions: [{ use: 'fwd' }, { use: 'log' }] }],
    };
    const where = fc.constantFrom(
      ['server'], ['limits'], ['limits', 'depth'], ['sources', 'a'], ['sources', 'a', 'verify'], ['sources', 'a', 'event'],
      ['sources', 'a', 'dedupWindow'], ['sources', 'a', 'path'], ['actions', 'fwd', 'with'], ['actions', 'fwd', 'with', 'url'],
      ['rules', 0, 'when'], ['rules', 0, 'on'], ['rules', 0, 'actions'], ['server', 'admin'], ['egress'],
    );
    await fc.assert(
      fc.asyncProperty(where, value, async (path, replacement) => {
        const config = structuredClone(base) as Record<string, unknown>;
        let node = config as Record<string | number, unknown>;
        for (const k of path.slice(0, -1)) node = (node[k] ??= {}) as Record<string | number, unknown>;
        node[path.at(-1)!] = replacement;
        await loads(stringify(config));
      }),
      RUNS,
    );
  });
});
