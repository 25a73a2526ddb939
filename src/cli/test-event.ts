import { readFile } from 'node:fs/promises';
import { loadConfig } from '../config/load.js';
import { dryRun, type DryRunResult } from '../dry-run.js';
import { parseHeaders } from './send.js';

export interface TestEventOptions {
  config: string;
  source?: string;
  header: string[];
  json?: boolean;
}

/** `relay test EVENT.json`: the dry run, printed. */
export async function testEvent(file: string, opts: TestEventOptions): Promise<void> {
  const config = await loadConfig(opts.config, { secrets: 'optional' });
  const headers = { 'content-type': 'application/json', ...parseHeaders(opts.header) };
  const result = dryRun(config, { source: opts.source, headers, body: await readFile(file) });
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
