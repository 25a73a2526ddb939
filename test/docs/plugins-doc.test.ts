import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { builtins } from '../../plugins/index.js';
import type { AnyPlugin } from '../../src/config/plugins.js';
import { pluginsMarkdown } from '../../src/docs/plugins.js';

describe('docs/plugins.md', () => {
  it('is what the plugin specs generate (run `npx relay docs plugins > docs/plugins.md`)', () => {
    const generated = pluginsMarkdown(builtins as unknown as AnyPlugin[]);
    expect(readFileSync('docs/plugins.md', 'utf8')).toBe(generated);
  });

  it('documents every option of every built-in plugin', () => {
    const text = readFileSync('docs/plugins.md', 'utf8');
    for (const plugin of builtins as unknown as AnyPlugin[]) {
      expect(text).toContain(`## \`${plugin.name}\``);
      for (const option of Object.keys((plugin.options.properties ?? {}) as object)) expect(text).toContain(`| \`${option}\``);
    }
  });
});
