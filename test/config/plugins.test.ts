import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatIssue } from '../../src/errors.js';
import { loadConfig } from '../../src/config/load.js';
import { minimal, tempDir, writeConfig } from '../helpers/config.js';

const discord = fileURLToPath(new URL('../../plugins/discord/index.ts', import.meta.url));

async function load(yaml: string, dir: string) {
  return loadConfig(writeConfig(yaml, dir), { env: {} });
}

async function errorsOf(yaml: string, dir: string): Promise<string> {
  try {
    await load(yaml, dir);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map(formatIssue).join('\n');
    throw err;
  }
  throw new Error('expected a config error');
}

const withPlugin = (spec: string, use = 'log', options = '') =>
  `plugins: [${JSON.stringify(spec)}]\n` + minimal.replace('- use: log', `- use: ${use}${options}`);

describe('custom plugins', () => {
  it('loads the example Discord plugin from a .ts path and validates its options', async () => {
    const dir = tempDir();
    const config = await load(withPlugin(discord, 'discord', '\n        with: { url: "http://127.0.0.1:1/webhook", content: "{{ event.type }}" }'), dir);
    expect(config.plugins.has('discord')).toBe(true);
    expect(config.actions.byRule.get('all')![0]).toMatchObject({ plugin: 'discord' });
    expect(config.files).toContain(discord);

    const errors = await errorsOf(withPlugin(discord, 'discord', '\n        with: { content: hi }'), dir);
    expect(errors).toMatch(/rules\[0\]\.actions\[0\]\.with: missing required key "url"/);
  });

  it('a plugin file with a syntax error is a config error, not a crash', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'broken.ts'), 'export default { name: "broken", ');
    const errors = await errorsOf(withPlugin('./broken.ts'), dir);
    expect(errors).toMatch(/:1:\d+ plugins\[0\]: cannot load plugin "\.\/broken\.ts": /);
  });

  it('a module that exports no plugin says what is expected', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'empty.mjs'), 'export const x = 1;\n');
    const errors = await errorsOf(withPlugin('./empty.mjs'), dir);
    expect(errors).toMatch(/plugins\[0\]: "\.\/empty\.mjs" is not an action plugin: it exports no plugin/);
  });

  it('a plugin with a bad shape is rejected with the reason', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'shape.mjs'), 'export default { name: "Bad Name", options: {}, create() {} };\n');
    const errors = await errorsOf(withPlugin('./shape.mjs'), dir);
    expect(errors).toMatch(/`name` must be a lower-case string/);
  });

  it('a plugin whose create() throws is a config error at the action', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'picky.mjs'),
      'export default { name: "picky", description: "x", options: { type: "object" }, create() { throw new Error("no token configured"); } };\n',
    );
    const errors = await errorsOf(withPlugin('./picky.mjs', 'picky'), dir);
    expect(errors).toMatch(/rules\[0\]\.actions\[0\]\.with: picky rejected its options: no token configured/);
  });

  it('a missing plugin file is reported', async () => {
    const errors = await errorsOf(withPlugin('./nope.ts'), tempDir());
    expect(errors).toMatch(/plugins\[0\]: cannot load plugin "\.\/nope\.ts"/);
  });
});
