import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { dryRun, DryRunError } from '../../src/dry-run.js';
import { format } from '../../src/cli/test-event.js';

const shipped = () => loadConfig('relay.config.yaml', { env: { ARCHIVUS_WEBHOOK_SECRET: 'x' } });
const example = (name: string) => readFileSync(`config/examples/${name}.json`);

describe('dry run (relay test)', () => {
  it('lists matching rules with rendered actions, and why the others do not match', async () => {
    const result = await dryRun(await shipped(), { body: example('document.processed') });
    expect(result.event).toEqual({ id: 'event_abc123', type: 'document.processed' });
    const byName = Object.fromEntries(result.rules.map((r) => [r.rule, r]));
    expect(byName['processed-to-slack']).toMatchObject({
      matched: true,
      actions: [
        { action: 'team-slack', plugin: 'slack', enabled: false, rendered: { text: expect.stringContaining('*contract.pdf*') } },
        { action: expect.stringMatching(/^log~[0-9a-f]{8}$/), plugin: 'log', enabled: true, rendered: { message: 'Document doc_abc123 processed: contract.pdf' } },
      ],
    });
    expect(byName['contracts-to-legal']?.matched).toBe(true);
    expect(byName['failures-to-email']).toMatchObject({ matched: false, reason: expect.stringContaining('document.failed') });
  });

  it('names the first failed condition', async () => {
    const body = Buffer.from(example('chat.message.created').toString().replace('"assistant"', '"user"'));
    const result = await dryRun(await shipped(), { body });
    const rule = result.rules.find((r) => r.rule === 'assistant-messages')!;
    expect(rule.matched).toBe(false);
    expect(rule.reason).toMatch(/\$\.data\.role/);
    expect(rule.reason).toMatch(/user/);
  });

  it('does not print credentials: only templated fields are shown', async () => {
    const result = await dryRun(await shipped(), { body: example('document.failed') });
    const rendered = JSON.stringify(result.rules.find((r) => r.rule === 'failures-to-email')!.actions);
    expect(rendered).toContain('Archivus: document doc_def456 failed');
    expect(rendered).not.toContain('smtp');
  });

  it('formats a readable report', async () => {
    const text = format(await dryRun(await shipped(), { body: example('document.processed') }));
    expect(text).toMatch(/✓ processed-to-slack/);
    expect(text).toMatch(/✗ failures-to-email: /);
    expect(text).toMatch(/2 of 5 rule\(s\) match/);
  });

  it('explains bad input', async () => {
    const config = await shipped();
    await expect(dryRun(config, { body: Buffer.from('nope') })).rejects.toThrow(DryRunError);
    await expect(dryRun(config, { body: Buffer.from('{}') })).rejects.toThrow(/event type not found/);
    await expect(dryRun(config, { source: 'github', body: Buffer.from('{}') })).rejects.toThrow(/unknown source "github"/);
  });
});
