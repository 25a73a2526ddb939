// The rule set: which rules an event fires. Rules are compiled once at load
// and indexed by event type, so matching an event costs only the rules that
// can match its type, however many other rules the config has.

import { ConfigError, type ConfigIssue } from '../errors.js';
import { compileCondition, type CompiledCondition, type ConditionConfig } from './condition.js';
import { compileGlobs, isGlob } from './glob.js';

type KeyPath = (string | number)[];

export interface RuleConfig {
  name: string;
  /** Event types: exact names or globs (`document.*`, `**`). */
  on: string | string[];
  /** Only events received by these sources. */
  source?: string | string[];
  /** A list means all. */
  when?: ConditionConfig | ConditionConfig[];
  /** When this rule matches, later rules are not evaluated. */
  stop?: boolean;
}

export interface MatchInput {
  type: string;
  source: string;
  payload: unknown;
}

/** `R` is the loader's own rule type (with actions), handed back as `config`. */
export interface CompiledRule<R extends RuleConfig = RuleConfig> {
  readonly name: string;
  /** Position in the config: fan-out order, and the key into `rules[]`. */
  readonly index: number;
  readonly stop: boolean;
  readonly on: readonly string[];
  readonly sources?: ReadonlySet<string>;
  readonly condition?: CompiledCondition;
  readonly config: R;
  /** Whether `on:` covers this type; used by explain() and cache misses, not per event. */
  matchesType(type: string): boolean;
}

export interface RuleExplanation<R extends RuleConfig = RuleConfig> {
  rule: CompiledRule<R>;
  matched: boolean;
  /** Why it did not match; absent when it matched. */
  reason?: string;
  /** Key path of the condition that failed, when a condition did. */
  path?: KeyPath;
}

const EMPTY: readonly never[] = Object.freeze([]);

/**
 * Event types come from senders, so the per-type cache is bounded. Eviction
 * is oldest-inserted first: a miss only costs one pass over the glob rules.
 */
const CACHE_LIMIT = 1024;

const quoted = (xs: readonly string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;

function stringList(v: unknown, at: KeyPath, issues: ConfigIssue[]): string[] | undefined {
  const xs = typeof v === 'string' ? [v] : v;
  if (Array.isArray(xs) && xs.length > 0 && xs.every((x) => typeof x === 'string' && x !== '')) return xs as string[];
  issues.push({ path: at, message: 'expected a non-empty string or a non-empty list of non-empty strings' });
  return undefined;
}

export class RuleSet<R extends RuleConfig = RuleConfig> {
  readonly rules: readonly CompiledRule<R>[];
  /** Rules with at least one exact type, per type, in config order. */
  readonly #exact = new Map<string, CompiledRule<R>[]>();
  /** Rules with at least one glob, in config order. */
  readonly #globbed: CompiledRule<R>[] = [];
  readonly #cache = new Map<string, readonly CompiledRule<R>[]>();

  /** Compiles every rule; throws one ConfigError with all issues (paths under `basePath`). */
  constructor(rules: readonly R[], basePath: KeyPath = ['rules']) {
    const issues: ConfigIssue[] = [];
    const compiled: CompiledRule<R>[] = [];
    const names = new Map<string, number>();
    if (!Array.isArray(rules)) throw new ConfigError([{ path: basePath, message: 'expected a list of rules' }]);
    rules.forEach((config, index) => {
      const at = [...basePath, index];
      if (config === null || typeof config !== 'object') {
        issues.push({ path: at, message: 'expected a rule: {name, on, when?, source?, stop?}' });
        return;
      }
      const name = config.name;
      if (typeof name !== 'string' || name === '') {
        issues.push({ path: [...at, 'name'], message: 'expected a non-empty rule name' });
      } else if (names.has(name)) {
        issues.push({ path: [...at, 'name'], message: `duplicate rule name '${name}' (also rules[${names.get(name)}])` });
      } else {
        names.set(name, index);
      }
      const on = stringList(config.on, [...at, 'on'], issues) ?? [];
      const sources = config.source === undefined ? undefined : stringList(config.source, [...at, 'source'], issues);
      if (config.stop !== undefined && typeof config.stop !== 'boolean') {
        issues.push({ path: [...at, 'stop'], message: 'expected true or false' });
      }
      let condition: CompiledCondition | undefined;
      if (config.when !== undefined) {
        try {
          condition = compileCondition(config.when, [...at, 'when']);
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          issues.push(...err.issues);
        }
      }
      const exact = new Set(on.filter((t) => !isGlob(t)));
      const globs = on.filter(isGlob);
      const glob = globs.length > 0 ? compileGlobs(globs) : undefined;
      const rule: CompiledRule<R> = {
        name: String(name),
        index,
        stop: config.stop === true,
        on,
        ...(sources ? { sources: new Set(sources) } : {}),
        ...(condition ? { condition } : {}),
        config,
        matchesType: (type) => exact.has(type) || (glob !== undefined && glob(type)),
      };
      compiled.push(rule);
      for (const t of exact) {
        const bucket = this.#exact.get(t);
        if (bucket) bucket.push(rule);
        else this.#exact.set(t, [rule]);
      }
      if (glob) this.#globbed.push(rule);
    });
    if (issues.length > 0) throw new ConfigError(issues);
    this.rules = compiled;
  }

  /** The rules whose `on:` covers `type`, in config order. Exact types never scan other rules. */
  candidates(type: string): readonly CompiledRule<R>[] {
    const exact = this.#exact.get(type) ?? EMPTY;
    if (this.#globbed.length === 0) return exact;
    let hit = this.#cache.get(type);
    if (hit === undefined) {
      hit = mergeByIndex(exact, this.#globbed.filter((r) => r.matchesType(type)));
      if (this.#cache.size >= CACHE_LIMIT) this.#cache.delete(this.#cache.keys().next().value as string);
      this.#cache.set(type, hit);
    }
    return hit;
  }

  /** The rules the event fires, in config order, up to and including the first matching `stop`. */
  match(event: MatchInput): readonly CompiledRule<R>[] {
    const candidates = this.candidates(event.type);
    let out: CompiledRule<R>[] | undefined;
    for (let i = 0; i < candidates.length; i++) {
      const rule = candidates[i] as CompiledRule<R>;
      if (rule.sources !== undefined && !rule.sources.has(event.source)) continue;
      if (rule.condition !== undefined && !rule.condition.test(event.payload)) continue;
      (out ??= []).push(rule);
      if (rule.stop) break;
    }
    return out ?? EMPTY;
  }

  /** Dry run: every rule in config order, with why each one did not match. */
  explain(event: MatchInput): RuleExplanation<R>[] {
    let stoppedBy: string | undefined;
    return this.rules.map((rule): RuleExplanation<R> => {
      if (stoppedBy !== undefined) {
        return { rule, matched: false, reason: `not evaluated: rule '${stoppedBy}' before it has stop: true` };
      }
      if (!rule.matchesType(event.type)) {
        return { rule, matched: false, reason: `type ${JSON.stringify(event.type)} is not in on: ${quoted(rule.on)}` };
      }
      if (rule.sources !== undefined && !rule.sources.has(event.source)) {
        return { rule, matched: false, reason: `source ${JSON.stringify(event.source)} is not in source: ${quoted([...rule.sources])}` };
      }
      const why = rule.condition?.explain(event.payload);
      if (why !== undefined && !why.ok) return { rule, matched: false, reason: why.reason, path: why.path };
      if (rule.stop) stoppedBy = rule.name;
      return { rule, matched: true };
    });
  }
}

/** Merges two lists sorted by index, dropping a rule listed in both (exact and glob `on:`). */
function mergeByIndex<T extends { index: number }>(a: readonly T[], b: readonly T[]): readonly T[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x.index < y.index)) out.push(a[i++] as T);
    else if (x === undefined || y.index < x.index) out.push(b[j++] as T);
    else (out.push(x), i++, j++);
  }
  return out;
}
