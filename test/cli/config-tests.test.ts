// Config tests: `relay test --all`, `relay test FILE.test.yaml`, and the
// EVENT.json dry run that shares the command.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { testCommand, type TestCommandOptions } from '../../src/cli/config-tests.js';
import type { Io } from '../../src/cli/format.js';
import { minimal, tempDir, writeConfig } from '../helpers/config.js';

function capture(): Io & { text: () => string } {
  const printed: string[] = [];
  return { text: () => printed.join('\n'), out: (t) => void printed.push(t), err: (t) => void printed.push(t), tty: false };
}

async function run(files: string[], opts: Partial<TestCommandOptions> = {}) {
  const io = capture();
  await testCommand(files, { config: 'relay.config.yaml', header: [], ...opts }, io);
  const code = process.exitCode ?? 0;
  process.exitCode = undefined;
  return { code, out: io.text() };
}

/** The shipped test file, moved to a temp dir (paths made absolute) with `edit` applied. */
function shippedCopy(edit: (text: string) => string, dir = tempDir('relay-ct-')): string {
  const text = readFileSync('config/tests/archivus.test.yaml', 'utf8')
    .replace('config: ../../relay.config.yaml', `config: ${resolve('relay.config.yaml')}`)
    .replaceAll('../examples/', `${resolve('config/examples')}/`);
  writeFileSync(join(dir, 'archivus.test.yaml'), edit(text));
  return dir;
}

afterEach(() => {
  process.exitCode = undefined;
});

describe('relay test --all', () => {
  it('passes on the shipped tests, which cover all four Archivus event types', async () => {
    const { code, out } = await run([], { all: true });
    expect(out).toMatch(/^config\/tests\/archivus\.test\.yaml → relay\.config\.yaml$/m);
    expect(out).not.toContain('✗');
    expect(out).toMatch(/^7 passed, 0 failed \(1 file\(s\)\)$/m);
    expect(code).toBe(0);
    const shipped = readFileSync('config/tests/archivus.test.yaml', 'utf8');
    for (const type of ['processed', 'failed', 'uploaded']) expect(shipped).toContain(`../examples/document.${type}.json`);
    expect(shipped).toContain('../examples/chat.message.created.json');
  });

  it('fails on a changed expectation, with expected and actual per field', async () => {
    const dir = shippedCopy((t) =>
      t.replace('match: [uploads-logged]', 'match: [uploads-logged, processed-to-slack]').replace('"Document doc_abc123 uploaded"', '"Document doc_abc123 was uploaded"'),
    );
    const { code, out } = await run([], { all: dir });
    expect(code).toBe(1);
    expect(out).toContain(
      [
        '  ✗ an upload is logged',
        '      match',
        '        expected: ["uploads-logged","processed-to-slack"]',
        '        actual:   ["uploads-logged"]',
        '        missing: processed-to-slack',
        '      uploads-logged/#0 message',
        '        expected: "Document doc_abc123 was uploaded"',
        '        actual:   "Document doc_abc123 uploaded"',
        '        first difference at character 21',
      ].join('\n'),
    );
    expect(out).toMatch(/^6 passed, 1 failed \(1 file\(s\)\)$/m);
  });

  it('says when rules match in another order, or an expected action is not there', async () => {
    const dir = shippedCopy((t) =>
      t.replace('match: [processed-to-slack, contracts-to-legal]', 'match: [contracts-to-legal, processed-to-slack]').replace('contracts-to-legal/legal-system: {}', 'contracts-to-legal/legal: {}'),
    );
    const { code, out } = await run([join(dir, 'archivus.test.yaml')]);
    expect(code).toBe(1);
    expect(out).toContain('same rules, in another order');
    expect(out).toContain('contracts-to-legal/legal\n        expected: "action \\"legal\\""\n        actual:   "no such action (actions: legal-system)"');
  });

  it('reports a mistyped test file at its line and column, and a config that does not load', async () => {
    const dir = tempDir('relay-ct-');
    writeFileSync(join(dir, 'a.test.yaml'), 'cases:\n  - name: typo\n    body: {}\n    expect: { mach: [] }\n');
    writeFileSync(join(dir, 'b.test.yaml'), 'cases:\n  - name: both\n    body: {}\n    bodyFile: x.json\n    expect: {}\n');
    writeFileSync(join(dir, 'c.test.yaml'), `config: ${resolve('relay.config.yaml')}\nenv: { PORT: "not-a-port" }\ncases:\n  - { name: n, body: {}, expect: {} }\n`);
    const { code, out } = await run([], { all: dir });
    expect(code).toBe(1);
    expect(out).toMatch(/a\.test\.yaml:4:15 cases\[0\]\.expect\.mach: unknown key "mach"/);
    expect(out).toMatch(/b\.test\.yaml:2:\d+ cases\[0\]: give exactly one of body and bodyFile/);
    // Secrets may be unset for config tests (issue 14 item 1); a bad PORT still stops them.
    expect(out).toMatch(/config does not load:\n.*PORT=not-a-port is not a port number/);
    expect(out).toMatch(/0 passed, 0 failed, 3 file\(s\) with errors \(3 file\(s\)\)/);
  });

  it('uses the -c config by default, and sends the headers a case gives', async () => {
    const config = writeConfig(`
sources:
  gh: { path: /gh, verify: { scheme: github, secret: s } }
  other: { path: /o, verify: { scheme: archivus, secret: s } }
rules:
  - { name: prs, on: pull_request.*, source: gh, actions: [{ use: log, with: { message: "PR {{ payload.number }} {{ headers['x-github-event'] }}" } }] }
`);
    const dir = tempDir('relay-ct-');
    writeFileSync(
      join(dir, 'gh.test.yaml'),
      'cases:\n  - name: pr\n    source: gh\n    headers: { X-GitHub-Event: pull_request, X-GitHub-Delivery: 42 }\n' +
        '    body: { action: opened, number: 7 }\n    expect: { type: pull_request.opened, match: [prs], actions: { "prs/#0": { message: PR 7 pull_request } } }\n',
    );
    const { code, out } = await run([join(dir, 'gh.test.yaml')], { config });
    expect(out).toContain('✓ pr');
    expect(code).toBe(0);
  });

  it('prints JSON with --json', async () => {
    const { out } = await run(['config/tests/archivus.test.yaml'], { json: true });
    const results = JSON.parse(out) as Array<{ cases: Array<{ passed: boolean }> }>;
    expect(results[0]!.cases).toHaveLength(7);
    expect(results[0]!.cases.every((c) => c.passed)).toBe(true);
  });

  it('fails when there is nothing to run', async () => {
    await expect(run([], { all: tempDir('relay-ct-') })).rejects.toThrow(/no \*\.test\.yaml files under/);
    await expect(run([], { all: '/no/such/dir' })).rejects.toThrow(/does not exist/);
    await expect(run([])).rejects.toThrow(/one EVENT\.json/);
  });
});

describe('relay test EVENT.json', () => {
  it('is still the dry run', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const prev = process.env.ARCHIVUS_WEBHOOK_SECRET;
      process.env.ARCHIVUS_WEBHOOK_SECRET = 'x';
      await run(['config/examples/document.failed.json']).finally(() => {
        if (prev === undefined) delete process.env.ARCHIVUS_WEBHOOK_SECRET;
        else process.env.ARCHIVUS_WEBHOOK_SECRET = prev;
      });
      expect(String(log.mock.calls[0]?.[0])).toMatch(/✓ failures-to-email/);
    } finally {
      log.mockRestore();
    }
  });

  it('a lone minimal config still dry-runs any event', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const dir = tempDir('relay-ct-');
      const config = writeConfig(minimal, dir);
      writeFileSync(join(dir, 'e.json'), '{"id":"1","type":"x"}');
      await run([join(dir, 'e.json')], { config });
      expect(String(log.mock.calls[0]?.[0])).toMatch(/✓ all/);
    } finally {
      log.mockRestore();
    }
  });
});
