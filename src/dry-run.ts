// What would happen to an event, without sending anything: which rules
// match, why the others do not, and each action's rendered fields. Shared by
// `relay test`, config tests and the admin API.

import type { LoadedConfig } from './config/load.js';
import type { RelayEvent } from './event.js';
import { parsePayload } from './ingest/body.js';
import type { CompiledSource } from './ingest/source.js';
import { identityHeaders, typeHint } from './ingest/identity.js';

export interface DryRunInput {
  /** Source name; optional when the config has one source. */
  source?: string;
  headers?: Record<string, string>;
  body: Buffer;
}

export interface DryRunRule {
  rule: string;
  matched: boolean;
  /** Why it did not match: the first failed check. */
  reason?: string;
  actions?: Array<{ action: string; plugin: string; enabled: boolean; rendered: Record<string, unknown> }>;
}

export interface DryRunResult {
  source: string;
  event: { id: string; type: string };
  rules: DryRunRule[];
}

export class DryRunError extends Error {}

export function dryRun(config: LoadedConfig, input: DryRunInput): DryRunResult {
  const source = pickSource(config, input.source);
  const headers: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(input.headers ?? {})) headers[k.toLowerCase()] = [v];
  const parsed = parsePayload(input.body, headers['content-type']?.[0]);
  if (!parsed.ok) throw new DryRunError(parsed.reason);
  const req = { headers, rawBody: input.body, now: Date.now() };
  const type = source.typeOf(req, parsed.payload);
  if (!type) {
    const header = identityHeaders(config, source).type;
    // The dashboard's Try it and the API have no --type: name the header to send.
    throw new DryRunError(header ? typeHint(source, header, false) : `event type not found (looked in ${source.typeFrom})`);
  }
  const event: RelayEvent = {
    id: source.idOf(req, parsed.payload) ?? '',
    type,
    source: source.name,
    receivedAt: req.now,
    headers: input.headers ?? {},
    rawBody: input.body,
    payload: parsed.payload,
  };

  const rules = config.rules.explain(event).map(({ rule, matched, reason }): DryRunRule => {
    if (!matched) return { rule: rule.name, matched, ...(reason !== undefined && { reason }) };
    const actions = (config.actions.byRule.get(rule.name) ?? []).map((a) => {
      const plugin = config.plugins.get(a.plugin);
      const all = a.render([event]);
      const rendered: Record<string, unknown> = {};
      // Only templated fields: the rest is configuration, and may hold credentials.
      for (const field of plugin?.templates ?? []) if (all[field] !== undefined) rendered[field] = all[field];
      return { action: a.action, plugin: a.plugin, enabled: a.enabled, rendered };
    });
    return { rule: rule.name, matched, actions };
  });
  return { source: source.name, event: { id: event.id, type: event.type }, rules };
}

/** The named source, or the only one; shared by the dry run and `relay send`. */
export function pickSource(config: LoadedConfig, name: string | undefined): CompiledSource {
  const all = [...config.sources.values()];
  if (name) {
    const found = all.find((s) => s.name === name);
    if (!found) throw new DryRunError(`unknown source "${name}" (known: ${all.map((s) => s.name).join(', ')})`);
    return found;
  }
  if (all.length === 1) return all[0]!;
  throw new DryRunError(`this config has several sources; pick one with --source (${all.map((s) => s.name).join(', ')})`);
}
