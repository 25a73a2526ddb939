// The steps after the schema pass: sources, rules and actions compiled from
// the raw config, each adding its issues. Run for real by the loader, and as
// a best effort when the schema pass already failed, so `relay validate`
// reports a bad JSONPath, an unknown plugin and a template error in the same
// run as a typo'd key.

import { resolve } from 'node:path';
import type { PluginLogger } from '../plugin.js';
import { schemes } from '../verify/index.js';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { RuleSet } from '../match/rules.js';
import { compileSource, type CompiledSource } from '../ingest/source.js';
import type { LimiterFactory } from '../ingest/rate-limit.js';
import type { StorageConfig } from '../queue/store.js';
import { compileActions, type CompiledActions } from './actions.js';
import type { MissingVariable } from './env.js';
import type { AnyPlugin } from './plugins.js';
import { didYouMean } from './suggest.js';
import { toMs } from './units.js';
import type { RawConfig } from './types.js';

const RESERVED = /^\/(healthz|readyz|metrics)\/?$|^\/(admin|ui)(\/|$)/;

export interface CompiledParts {
  /** By URL path. */
  sources: Map<string, CompiledSource>;
  rules: RuleSet | undefined;
  actions: CompiledActions;
}

export function storageOf(raw: RawConfig, dir: string): StorageConfig {
  const s = raw.storage;
  return s.driver === 'postgres'
    ? {
        driver: 'postgres',
        url: s.url ?? '',
        ...(s.schema && { schema: s.schema }),
        commitTimeoutMs: toMs(s.commitTimeout),
        connectTimeoutMs: toMs(s.connectTimeout),
        queryTimeoutMs: toMs(s.queryTimeout),
        idleTimeoutMs: toMs(s.idleTimeout),
        keepAliveMs: s.keepAlive === false ? false : toMs(s.keepAlive),
      }
    : { driver: 'sqlite', path: resolve(dir, s.path), sync: s.sync, commitTimeoutMs: toMs(s.commitTimeout) };
}

export async function compileParts(
  raw: RawConfig,
  plugins: ReadonlyMap<string, AnyPlugin>,
  ctx: { dir: string; issues: ConfigIssue[]; limiters?: LimiterFactory | undefined; logger: PluginLogger },
): Promise<CompiledParts> {
  const { issues } = ctx;
  const sources = new Map<string, CompiledSource>();
  for (const [name, cfg] of Object.entries(raw.sources)) {
    const source = compileSource(name, cfg, schemes, ctx.dir, issues, ctx.limiters, raw.limits);
    if (!source) continue;
    if (RESERVED.test(source.path)) {
      issues.push({ path: ['sources', name, 'path'], message: `${source.path} is reserved for Relay's own endpoints (/healthz, /readyz, /metrics, /admin, /ui)` });
    }
    if (sources.has(source.path)) {
      issues.push({ path: ['sources', name, 'path'], message: `path ${source.path} is already used by source "${sources.get(source.path)!.name}"` });
    }
    sources.set(source.path, source);
  }
  const names = Object.keys(raw.sources);
  for (const [r, rule] of raw.rules.entries()) {
    for (const s of [rule.source ?? []].flat()) {
      if (!raw.sources[s]) issues.push({ path: ['rules', r, 'source'], message: `unknown source "${s}"${didYouMean(s, names)} (known: ${names.join(', ')})` });
    }
  }

  let rules: RuleSet | undefined;
  try {
    rules = new RuleSet(raw.rules, ['rules']);
  } catch (err) {
    if (err instanceof ConfigError) issues.push(...err.issues);
    else throw err;
  }
  const actions = await compileActions(raw, plugins, ctx.logger);
  issues.push(...actions.issues);
  // `relay init` writes `enabled: ${FORWARD_ENABLED:-false}`: a rule can match and do nothing.
  for (const [r, rule] of raw.rules.entries()) {
    const list = actions.byRule.get(rule.name) ?? [];
    if (list.length > 0 && list.every((a) => !a.enabled)) {
      issues.push({
        path: ['rules', r, 'actions'],
        severity: 'warning',
        message: `every action of rule "${rule.name}" is off (enabled: false): its events are stored with status "off" and nothing is sent`,
      });
    }
  }
  return { sources, rules, actions };
}

const quiet: PluginLogger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * With a structural error the config cannot run, but the later steps still
 * find problems worth reporting in the same pass. Each step runs on its own
 * (a malformed part may make one throw), and a problem at, above or below a
 * path the schema pass already reported is left out: it is the same mistake.
 */
export async function bestEffortIssues(raw: RawConfig, plugins: ReadonlyMap<string, AnyPlugin>, dir: string, known: readonly ConfigIssue[]): Promise<ConfigIssue[]> {
  const found: ConfigIssue[] = [];
  const safe: RawConfig = {
    ...raw,
    sources: isRecord(raw.sources) ? raw.sources : {},
    rules: Array.isArray(raw.rules) ? raw.rules.filter((r) => isRecord(r) && Array.isArray(r.actions) && typeof r.name === 'string') : [],
    actions: isRecord(raw.actions) ? raw.actions : {},
    delivery: { concurrency: 1, timeout: '1s', lease: '60s', retry: {} },
  };
  const sources: Record<string, RawConfig['sources'][string]> = {};
  for (const [name, cfg] of Object.entries(safe.sources)) if (isRecord(cfg) && isRecord(cfg.verify)) sources[name] = cfg;
  try {
    const parts = await compileParts({ ...safe, sources }, plugins, { dir, issues: found, logger: quiet });
    await parts.actions.close();
  } catch {
    // A part too malformed to compile: the schema pass has said why.
  }
  const related = (a: readonly (string | number)[], b: readonly (string | number)[]) =>
    a.length > 0 && b.length > 0 && a.slice(0, Math.min(a.length, b.length)).every((p, i) => p === b[i]);
  const seen = new Set(known.map((i) => `${i.path.join('.')}|${i.message}`));
  return found.filter((i) => i.severity !== 'warning' && !seen.has(`${i.path.join('.')}|${i.message}`) && !known.some((k) => related(k.path, i.path)));
}

const isRecord = (v: unknown): v is Record<string, never> => typeof v === 'object' && v !== null && !Array.isArray(v);

const under = (path: ReadonlyArray<string | number>, prefix: ReadonlyArray<string | number>) =>
  prefix.length <= path.length && prefix.every((p, i) => path[i] === p);

/**
 * Without the environment, a value still reading `${VAR}` may fail its
 * schema (a URL pattern, a boolean) and a secret file may be absent: those
 * are what `serve` will need, not errors in the file. Other problems stay.
 */
export function demoteUnset(issues: ConfigIssue[], missing: readonly MissingVariable[]): void {
  const kept = issues
    .filter((i) => i.severity === 'warning' || !missing.some((m) => under(i.path, m.path)))
    .map((i): ConfigIssue =>
      i.severity !== 'warning' && i.path.at(-1) === 'secretFile' && i.message.startsWith('cannot read secret file')
        ? { ...i, severity: 'warning', message: `${i.message} (relay serve will need it)` }
        : i,
    );
  const seen = new Set(kept.map((i) => `${i.path.join('.')}|${i.message}`));
  for (const m of missing) {
    const issue: ConfigIssue = {
      path: m.path,
      severity: 'warning',
      message: `environment variable ${m.name} is not set; relay serve will need it (or a default: \${${m.name}:-value})`,
    };
    const key = `${issue.path.join('.')}|${issue.message}`;
    if (!seen.has(key)) kept.push(issue), seen.add(key);
  }
  issues.splice(0, issues.length, ...kept);
}

