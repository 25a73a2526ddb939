import { readFile } from 'node:fs/promises';
import { loadConfig } from '../config/load.js';
import { dryRun, pickSource, type DryRunResult } from '../dry-run.js';
import { typeHeaders } from '../ingest/identity.js';
import { parseHeaders } from './send.js';

export interface TestEventOptions {
  config: string;
  source?: string;
  header: string[];
  /** The event type, for sources that read it from a header (as `relay send --type`). */
  type?: string;
  json?: boolean;
}

/** `relay test EVENT.json`: the dry run, printed. */
export async function testEvent(file: string, opts: TestEventOptions): Promise<void> {
  const config = await loadConfig(opts.config, { secrets: 'optional' });
  const given = parseHeaders(opts.header);
  const source = pickSource(config, opts.source);
  const headers = { 'content-type': 'application/json', ...typeHeaders(config, source, opts.type, given, { err: console.error }), ...given };
  const result = await dryRun(config, { source: source.name, headers, body: await readFile(file) });
  console.log(opts.json ? JSON.stringify(result, null, 2) : format(result));
}

export function format(result: DryRunResult): string {
  const lines = [`event ${result.event.type} ${result.event.id} from ${result.source}`];
  for (const r of result.rules) {
    if (!r.matched) {
      lines.push(`  ✗ ${r.rule}: ${r.reason ?? 'no match'}`);
      continue;
    }
    lines.push(`  ✓ ${r.rule}`);
    for (const a of r.actions ?? []) {
      lines.push(`      → ${a.action} (${a.plugin})${a.enabled ? '' : ' [disabled]'}`);
      if (a.error !== undefined) lines.push(`          ✗ ${a.error}`);
      for (const [field, value] of Object.entries(a.rendered)) {
        const text = typeof value === 'string' ? value : JSON.stringify(value);
        lines.push(`          ${field}: ${text.replace(/\n/g, '\n          ')}`);
      }
    }
  }
  const matched = result.rules.filter((r) => r.matched).length;
  lines.push(`${matched} of ${result.rules.length} rule(s) match`);
  return lines.join('\n');
}
