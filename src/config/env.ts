// `${VAR}` and `${VAR:-default}` in string values, filled in from the
// environment after parsing, so line and column numbers stay those of the file.

import { parse as parseYaml } from './yaml.js';
import type { ConfigIssue } from '../errors.js';

const WHOLE_REF = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;

const REF = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function interpolate(
  text: string,
  env: NodeJS.ProcessEnv,
  onMissing: (name: string) => void,
): string {
  return text.replace(REF, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$${') return '${';
    const value = env[name!];
    if (value !== undefined && value !== '') return value;
    if (fallback !== undefined) return fallback;
    onMissing(name!);
    return '';
  });
}

/** A `${VAR}` without default that the environment does not set, and where. */
export interface MissingVariable {
  name: string;
  path: ReadonlyArray<string | number>;
}

/**
 * Returns a copy with every string interpolated, and an issue per unset
 * variable without default. With `missing: 'keep'` (commands that only read
 * the store or parse the config) an unset variable is not an issue: the
 * `${VAR}` text stays as written and the variable is listed in `missing`.
 */
export function interpolateTree(
  value: unknown,
  env: NodeJS.ProcessEnv,
  path: (string | number)[] = [],
  issues: ConfigIssue[] = [],
  opts: { missing?: 'error' | 'keep' } = {},
): { value: unknown; issues: ConfigIssue[]; missing: MissingVariable[] } {
  const missing: MissingVariable[] = [];
  const walk = (node: unknown, at: (string | number)[]): unknown => {
    if (typeof node === 'string') {
      if (!node.includes('${')) return node;
      if (opts.missing === 'keep') {
        const unset: string[] = [];
        interpolate(node, env, (name) => unset.push(name));
        if (unset.length) {
          for (const name of unset) missing.push({ name, path: at });
          return node;
        }
      }
      const text = interpolate(node, env, (name) =>
        issues.push({
          path: at,
          message: `environment variable ${name} is not set (set it, or give a default with \${${name}:-value})`,
        }),
      );
      // `port: ${PORT:-8080}` should be the number 8080, as if written in the file.
      return WHOLE_REF.test(node) ? scalar(text) : text;
    }
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...at, i]));
    if (node && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(node)) out[key] = walk(item, [...at, key]);
      return out;
    }
    return node;
  };
  return { value: walk(value, path), issues, missing };
}

function scalar(text: string): unknown {
  try {
    const value: unknown = parseYaml(text);
    return typeof value === 'number' || typeof value === 'boolean' ? value : text;
  } catch {
    return text;
  }
}
