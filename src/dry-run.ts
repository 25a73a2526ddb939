// What would happen to an event, without sending anything: which rules
// match, why the others do not, and each action's rendered fields. Shared by
// `relay test`, config tests and the admin API.

import type { LoadedConfig } from './config/load.js';
import type { RelayEvent } from './event.js';
import { parsePayload } from './ingest/body.js';
import type { CompiledSource } from './ingest/source.js';
import { identify } from './ingest/handle.js';
import { DeliveryError } from './plugin.js';
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
  actions?: DryRunAction[];
}

export interface DryRunAction {
  action: string;
  plugin: string;
  enabled: boolean;
  /** Templated fields as rendered, and each transform's output (the body it would send). */
  rendered: Record<string, unknown>;
  /** A template or transform that fails for this event: what every attempt would fail with. */
  error?: string;
}

export interface DryRunResult {
  source: string;
  event: { id: string; type: string };
  rules: DryRunRule[];
}

export class DryRunError extends Error {}

/** Async because JSONata evaluates asynchronously; nothing is sent. */
export async function dryRun(config: LoadedConfig, input: DryRunInput): Promise<DryRunResult> {
  const source = pickSource(config, input.source);
  const headers: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(input.headers ?? {})) headers[k.toLowerCase()] = [v];
  const parsed = parsePayload(input.body, headers['content-type']?.[0], source.limits.depth);
  if (!parsed.ok) throw new DryRunError(parsed.reason);
  const req = { headers, rawBody: input.body, now: Date.now() };
  // The same checks as ingest: what a dry run accepts, the server accepts.
  const identity = identify(source, req, parsed.payload);
  if (!identity.ok) {
    const header = identity.reason === 'type' && !source.typeOf(req, parsed.payload) ? identityHeaders(config, source).type : undefined;
    // The dashboard's Try it and the API have no --type: name the header to send.
    throw new DryRunError(header ? typeHint(source, header, false) : identity.error);
  }
  const { type, id } = identity;
  const event: RelayEvent = {
    id,
    type,
    source: source.name,
    receivedAt: req.now,
    headers: input.headers ?? {},
    rawBody: input.body,
    payload: parsed.payload,
  };

  const rules = await Promise.all(
    config.rules.explain(event).map(async ({ rule, matched, reason }): Promise<DryRunRule> => {
      if (!matched) return { rule: rule.name, matched, ...(reason !== undefined && { reason }) };
      const actions = await Promise.all((config.actions.byRule.get(rule.name) ?? []).map((a) => renderAction(config, a, event)));
      return { rule: rule.name, matched, actions };
    }),
  );
  return { source: source.name, event: { id: event.id, type: event.type }, rules };
}

type Compiled = NonNullable<ReturnType<LoadedConfig['actions']['byRule']['get']>>[number];

async function renderAction(config: LoadedConfig, a: Compiled, event: RelayEvent): Promise<DryRunAction> {
  const out: DryRunAction = { action: a.action, plugin: a.plugin, enabled: a.enabled, rendered: {} };
  const plugin = config.plugins.get(a.plugin);
  try {
    const all = a.render([event]);
    // Only templated fields: the rest is configuration, and may hold credentials.
    for (const field of plugin?.templates ?? []) if (all[field] !== undefined) out.rendered[field] = all[field];
    Object.assign(out.rendered, await a.transform([event]));
  } catch (err) {
    if (!(err instanceof DeliveryError)) throw err;
    out.error = err.message;
  }
  return out;
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
