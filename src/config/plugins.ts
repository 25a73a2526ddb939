// Loads action plugins: the built-ins, then custom ones from paths (.ts or
// .js, relative to the config file) or npm package names. A broken plugin is
// a config error at start-up, never a crash at the first event.

import { linkPackageName } from './package-name.js';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ActionPlugin } from '../plugin.js';
import type { ConfigIssue } from '../errors.js';
import { builtins } from '../../plugins/index.js';

export type AnyPlugin = ActionPlugin<Record<string, unknown>>;

export interface LoadedPlugins {
  plugins: Map<string, AnyPlugin>;
  /** Files of custom plugins, for the reload watcher. */
  files: string[];
  issues: ConfigIssue[];
}

export async function loadPlugins(specs: readonly string[], baseDir: string): Promise<LoadedPlugins> {
  const plugins = new Map<string, AnyPlugin>();
  for (const p of builtins) plugins.set(p.name, p as unknown as AnyPlugin);
  const issues: ConfigIssue[] = [];
  const files: string[] = [];

  if (specs.length > 0) linkPackageName();
  for (const [i, spec] of specs.entries()) {
    const path = ['plugins', i];
    let file: string;
    try {
      file = resolveSpec(spec, baseDir);
    } catch (err) {
      issues.push({ path, message: `cannot find plugin "${spec}": ${(err as Error).message}` });
      continue;
    }
    let mod: unknown;
    try {
      mod = await importFile(file);
    } catch (err) {
      // A .ts/.js file compiled as CommonJS bypasses the ES resolve hook for relay-webhooks.
      const hint = /relay-webhooks/.test(firstLine(err))
        ? ' (a plugin outside the clone must be an ES module: name it .mts or .mjs, or put a package.json with "type": "module" beside it, as `relay init plugin NAME` does)'
        : '';
      issues.push({ path, message: `cannot load plugin "${spec}": ${firstLine(err)}${hint}` });
      continue;
    }
    const plugin = unwrap(mod);
    const problem = plugin ? shapeProblem(plugin) : 'it exports no plugin';
    if (problem || !plugin) {
      issues.push({
        path,
        message: `"${spec}" is not an action plugin: ${problem} (export default definePlugin({ name, description, options, create }))`,
      });
      continue;
    }
    if (plugins.has(plugin.name)) {
      issues.push({ path, message: `plugin name "${plugin.name}" is already taken` });
      continue;
    }
    plugins.set(plugin.name, plugin);
    files.push(file);
  }
  return { plugins, files, issues };
}

function resolveSpec(spec: string, baseDir: string): string {
  if (spec.startsWith('.') || isAbsolute(spec)) return isAbsolute(spec) ? spec : resolve(baseDir, spec);
  return createRequire(resolve(baseDir, 'relay.config.yaml')).resolve(spec);
}

async function importFile(file: string): Promise<unknown> {
  if (/\.[cm]?tsx?$/.test(file)) {
    // TypeScript plugins run without a build step; tsx compiles them on import.
    const { tsImport } = await import('tsx/esm/api');
    return tsImport(pathToFileURL(file).href, import.meta.url);
  }
  // The module cache would hand a reload the old code; the file's mtime in
  // the URL loads it again only when it changed.
  const { mtimeMs } = await stat(file);
  return import(`${pathToFileURL(file).href}?mtime=${Math.floor(mtimeMs)}`);
}

// Accepts `export default plugin`, `module.exports = plugin`, and `export const plugin`.
function unwrap(mod: unknown): AnyPlugin | undefined {
  let candidate: unknown = mod;
  for (let depth = 0; depth < 3 && candidate && typeof candidate === 'object'; depth++) {
    const obj = candidate as Record<string, unknown>;
    if (typeof obj.create === 'function') return obj as unknown as AnyPlugin;
    candidate = obj.default ?? obj.plugin;
  }
  return undefined;
}

function shapeProblem(p: AnyPlugin): string | undefined {
  if (typeof p.name !== 'string' || !/^[a-z][a-z0-9-]*$/.test(p.name)) return '`name` must be a lower-case string';
  if (!p.options || typeof p.options !== 'object') return '`options` must be a JSON Schema object';
  if (typeof p.create !== 'function') return '`create` must be a function';
  if (p.templates && !Array.isArray(p.templates)) return '`templates` must be a list of option names';
  return undefined;
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0] ?? 'unknown error';
}
