// The schemas whose validators the build writes as standalone code
// (scripts/build-validators.mjs): every schema Relay validates with that does
// not depend on a config's custom plugins. Imported by the build and the
// tests only, never at run time.

import { builtins } from '../../plugins/index.js';
import type { ActionPlugin, JsonSchema } from '../plugin.js';
import { schemes } from '../verify/index.js';
import { buildConfigSchema, structuralSchema } from './schema.js';
import { testFileSchema } from './tests.js';

export function precompiledSchemas(): JsonSchema[] {
  const plugins = new Map<string, ActionPlugin>(builtins.map((p) => [p.name, p]));
  // The structural pass leaves `with:` to each plugin's own schema, so it is
  // the same whatever plugins a config loads.
  return [structuralSchema(buildConfigSchema(schemes, plugins)), ...builtins.map((p) => p.options), testFileSchema];
}
