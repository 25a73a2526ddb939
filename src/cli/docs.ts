import { builtins } from '../../plugins/index.js';
import type { AnyPlugin } from '../config/plugins.js';
import { pluginsMarkdown } from '../docs/plugins.js';

/** `relay docs plugins`: the built-in plugins' reference, from their specs. */
export function docs(topic: string): void {
  if (topic !== 'plugins') throw new Error(`unknown docs topic "${topic}" (known: plugins)`);
  process.stdout.write(pluginsMarkdown(builtins as unknown as AnyPlugin[]));
}
