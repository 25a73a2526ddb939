// `relay schema [-c FILE]`: the JSON Schema of relay.config.yaml for editors
// (yaml-language-server reads config/relay.schema.json through the config's
// first line). With -c, the config's custom plugins' options are included.

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse } from '../config/yaml.js';
import { builtins } from '../../plugins/index.js';
import { interpolateTree } from '../config/env.js';
import { loadPlugins, type AnyPlugin } from '../config/plugins.js';
import { buildConfigSchema } from '../config/schema.js';
import type { JsonSchema } from '../plugin.js';
import { schemes } from '../verify/index.js';
import { processIo, type Io } from './format.js';

export async function schemaCommand(opts: { config?: string }, io: Io = processIo, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  io.out(JSON.stringify(await configSchema(opts.config, env), null, 2));
}

/**
 * The editor schema: built-in schemes and plugins, plus the custom plugins a
 * config lists. Only `plugins:` is read, so a config that does not load yet
 * (a secret unset, a rule half written) still gets its schema.
 */
export async function configSchema(configFile?: string, env: NodeJS.ProcessEnv = process.env): Promise<JsonSchema> {
  let plugins: ReadonlyMap<string, AnyPlugin> = new Map(builtins.map((p) => [p.name, p as unknown as AnyPlugin]));
  if (configFile !== undefined) {
    const raw: unknown = parse(await readFile(configFile, 'utf8'));
    const list = raw && typeof raw === 'object' && 'plugins' in raw ? (interpolateTree(raw.plugins, env).value as unknown) : [];
    const specs = Array.isArray(list) ? list.filter((s): s is string => typeof s === 'string') : [];
    const loaded = await loadPlugins(specs, dirname(resolve(configFile)));
    // A schema silently missing a plugin's options would be written to a file and trusted.
    if (loaded.issues.length) throw new Error(loaded.issues.map((i) => `plugins[${String(i.path[1])}]: ${i.message}`).join('\n'));
    plugins = loaded.plugins;
  }
  return tolerateEnvRefs(buildConfigSchema(schemes, plugins));
}

// Inlined, not a $ref: the condition schema has its own $id, against which
// `#/definitions/...` would resolve to the wrong document.
const ENV_REF = { type: 'string', pattern: '^\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}$' };
const DOC_KEYS = ['title', 'description', 'default', 'examples', 'x-expected'];
const SCALAR_TYPES = new Set(['boolean', 'integer', 'number', 'null']);

/**
 * Editors check the file as written, before `${VAR}` is filled in, so a typed
 * field (`enabled: ${SLACK_ENABLED:-false}`, `port: ${SMTP_PORT:-587}`, a URL
 * with a pattern) must also accept a whole `${VAR}` / `${VAR:-default}` string.
 * The loader still validates the interpolated values with the strict schema.
 */
export function tolerateEnvRefs(schema: JsonSchema): JsonSchema {
  return walk(schema) as JsonSchema;
}

// Keys whose values are subschemas (or maps / lists of them). `if` is left
// alone on purpose: its `const`s select a branch and must only match literals.
const SUBSCHEMA_MAPS = ['properties', 'definitions'];
const SUBSCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf'];
const SUBSCHEMAS = ['items', 'additionalProperties', 'then', 'else'];

function walk(node: unknown): unknown {
  if (!isSchema(node)) return node;
  if (isScalarLeaf(node)) {
    const docs = Object.fromEntries(DOC_KEYS.filter((k) => k in node).map((k) => [k, node[k]]));
    return { ...docs, anyOf: [node, ENV_REF] };
  }
  const list = node.anyOf;
  if (Array.isArray(list) && list.every((b) => isSchema(b) && (isScalarLeaf(b) || b.type === 'string'))) {
    return { ...node, anyOf: [...list, ENV_REF] };
  }
  const out: JsonSchema = { ...node };
  for (const key of SUBSCHEMA_MAPS) {
    const map = node[key];
    if (isSchema(map)) out[key] = Object.fromEntries(Object.entries(map).map(([k, v]) => [k, walk(v)]));
  }
  for (const key of SUBSCHEMA_LISTS) {
    const items = node[key];
    if (Array.isArray(items)) out[key] = items.map(walk);
  }
  for (const key of SUBSCHEMAS) if (key in node) out[key] = walk(node[key]);
  return out;
}

/** A value constraint a `${VAR}` string would fail: a non-string type, an enum or const, a string pattern. */
function isScalarLeaf(node: JsonSchema): boolean {
  if (['properties', 'items', 'additionalProperties', 'anyOf', 'oneOf', 'allOf', '$ref'].some((k) => k in node)) return false;
  const types = [node.type].flat();
  return 'enum' in node || 'const' in node || types.some((t) => typeof t === 'string' && SCALAR_TYPES.has(t)) || (node.type === 'string' && 'pattern' in node);
}

function isSchema(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
