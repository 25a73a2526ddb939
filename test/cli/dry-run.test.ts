import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { dryRun, DryRunError } from '../../src/dry-run.js';
import { format, testEvent, type TestEventOptions } from '../../src/cli/test-event.js';
import { loadYaml, tempDir, writeConfig } from '../helpers/config.js';

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

// Issue 14 item 5: `relay test` takes --type and -H like `relay send`.
describe('relay test with a type in a header', () => {
  const github = `
sources:
  github:
    path: /webhooks/github
    verify: { scheme: github, secret: s3cret }
rules:
  - name: prs
    on: pull_request.opened
    actions:
      - use: log
`;
  async function run(opts: Partial<TestEventOptions>): Promise<string> {
    const dir = tempDir();
    const config = writeConfig(github, dir);
    const file = join(dir, 'pr.json');
    writeFileSync(file, JSON.stringify({ action: 'opened', number: 1 }));
    const out: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((t: string) => void out.push(t));
    try {
      await testEvent(file, { config, header: [], ...opts });
    } finally {
      log.mockRestore();
    }
    return out.join('\n');
  }

  it('--type fills in the header the source reads', async () => {
    expect(await run({ type: 'pull_request.opened' })).toMatch(/✓ prs/);
  });

  it('-H gives the header itself', async () => {
    expect(await run({ header: ['X-GitHub-Event: pull_request'] })).toMatch(/✓ prs/);
  });

  it('without either, says what to pass', async () => {
    await expect(run({})).rejects.toThrow('source "github" reads the event type from the x-github-event header: pass --type pull_request.opened or -H x-github-event:VALUE');
  });

  it('the dry run behind the API and Try it names the header to send', async () => {
    const config = await loadYaml(github);
    await expect(dryRun(config, { source: 'github', body: Buffer.from('{"action":"opened"}') })).rejects.toThrow(/reads the event type from the x-github-event header: send the x-github-event header/);
  });
});
